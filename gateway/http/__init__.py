"""The core's outbound HTTP layer: one ``httpx.AsyncClient`` per organization.

Adapters receive the client in their ``AdapterContext`` and just make requests; retries,
limits, timeouts, the circuit breaker and masked request logging all live here. What the layer
raises and what it returns to the adapter is documented in ``docs/http.md``.
"""

from gateway.http.breaker import BreakerState, CircuitBreaker
from gateway.http.classify import IDEMPOTENCY_HEADERS, OPERATION_EXTENSION, retry_after
from gateway.http.client import OrgClient, build_client, rate_limiter
from gateway.http.logline import path_template
from gateway.http.transport import RequestStats, ResilientTransport

__all__ = [
    "IDEMPOTENCY_HEADERS",
    "OPERATION_EXTENSION",
    "BreakerState",
    "CircuitBreaker",
    "OrgClient",
    "RequestStats",
    "ResilientTransport",
    "build_client",
    "path_template",
    "rate_limiter",
    "retry_after",
]
