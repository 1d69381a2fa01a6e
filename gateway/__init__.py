"""xgate: the gateway core.

The public surface for plugin authors is re-exported here (the rest is private to the core):
``hookimpl``, ``OrganizationSpec``, ``Capability``, ``Page``, ``Invalid``, ``AdapterContext``,
``PLUGIN_API_VERSION``, the canonical models, the typed errors, and ``mask_text``/``mask_id``
for anything a plugin writes into a message.
"""

from gateway._version import __version__
from gateway.contract import (
    PLUGIN_API_VERSION,
    AdapterContext,
    Capability,
    Invalid,
    OrganizationSpec,
    Page,
)
from gateway.errors import (
    AuthError,
    ContractError,
    OutcomeUnknown,
    RateLimitedError,
    RejectedError,
    TransientError,
)
from gateway.hookspecs import hookimpl
from gateway.incremental import HighWaterMark, PageNumbers
from gateway.masking import mask_id, mask_text
from gateway.models import (
    Candidate,
    CertificateRecord,
    CertificateStatus,
    ExamPlan,
    IdType,
    IssueOutcome,
    IssueRequest,
    Level,
    RegistrationOutcome,
    RegistrationRequest,
    RegistrationStatus,
    ScoreRecord,
    Verification,
)

__all__ = [
    "PLUGIN_API_VERSION",
    "AdapterContext",
    "AuthError",
    "Candidate",
    "Capability",
    "CertificateRecord",
    "CertificateStatus",
    "ContractError",
    "ExamPlan",
    "HighWaterMark",
    "IdType",
    "Invalid",
    "IssueOutcome",
    "IssueRequest",
    "Level",
    "OrganizationSpec",
    "OutcomeUnknown",
    "Page",
    "PageNumbers",
    "RateLimitedError",
    "RegistrationOutcome",
    "RegistrationRequest",
    "RegistrationStatus",
    "RejectedError",
    "ScoreRecord",
    "TransientError",
    "Verification",
    "__version__",
    "hookimpl",
    "mask_id",
    "mask_text",
]
