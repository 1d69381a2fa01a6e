"""xgate: the gateway core.

The public surface for plugin authors is re-exported here (the rest is private to the core):
``hookimpl``, ``OrganizationSpec``, ``Capability``, ``Page``, ``Invalid``, ``AdapterContext``,
``PLUGIN_API_VERSION``, the canonical models, the typed errors, ``OPERATION_EXTENSION`` (name
a request's operation for ``OrganizationSpec.repeatable``), the incremental helpers
``HighWaterMark`` and ``PageNumbers`` (API 1.1), and ``mask_text``/``mask_id`` for anything a
plugin writes into a message.

Nothing is imported until it is used (PEP 562): ``import gateway.anything`` runs this file
first, and ``xgate --version`` must not pay for pydantic models or SQLAlchemy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway._exports import lazy_getattr
from gateway._version import __version__

if TYPE_CHECKING:
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
        CircuitOpenError,
        ContractError,
        OrganizationError,
        OutcomeUnknown,
        RateLimitedError,
        RejectedError,
        TransientError,
    )
    from gateway.hookspecs import hookimpl
    from gateway.http.classify import OPERATION_EXTENSION
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

_WHERE = {
    "gateway.contract": (
        "PLUGIN_API_VERSION AdapterContext Capability Invalid OrganizationSpec Page"
    ),
    "gateway.errors": (
        "AuthError CircuitOpenError ContractError OrganizationError OutcomeUnknown "
        "RateLimitedError RejectedError TransientError"
    ),
    "gateway.hookspecs": "hookimpl",
    "gateway.http.classify": "OPERATION_EXTENSION",
    "gateway.incremental": "HighWaterMark PageNumbers",
    "gateway.masking": "mask_id mask_text",
    "gateway.models": (
        "Candidate CertificateRecord CertificateStatus ExamPlan IdType IssueOutcome "
        "IssueRequest Level RegistrationOutcome RegistrationRequest RegistrationStatus "
        "ScoreRecord Verification"
    ),
}
_MODULE_OF = {name: module for module, names in _WHERE.items() for name in names.split()}


__getattr__ = lazy_getattr(__name__, _MODULE_OF)


__all__ = [
    "OPERATION_EXTENSION",
    "PLUGIN_API_VERSION",
    "AdapterContext",
    "AuthError",
    "Candidate",
    "Capability",
    "CertificateRecord",
    "CertificateStatus",
    "CircuitOpenError",
    "ContractError",
    "ExamPlan",
    "HighWaterMark",
    "IdType",
    "Invalid",
    "IssueOutcome",
    "IssueRequest",
    "Level",
    "OrganizationError",
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
