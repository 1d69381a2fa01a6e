"""The core's outbound HTTP layer: one ``httpx.AsyncClient`` per organization.

Adapters receive the client in their ``AdapterContext`` and just make requests; retries,
limits, timeouts, the circuit breaker and masked request logging all live here.
"""

from gateway.http.client import OrgClient, RequestStats, build_client

__all__ = ["OrgClient", "RequestStats", "build_client"]
