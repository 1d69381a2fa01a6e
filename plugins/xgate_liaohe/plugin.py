"""Entry point (``xgate.plugins``: ``liaohe = "xgate_liaohe.plugin"``): contributes the
``liaohe`` organization type, exactly as a third-party plugin would."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway import Capability, OrganizationSpec, hookimpl
from xgate_liaohe import __version__
from xgate_liaohe.adapter import UPLOAD_OPERATION, LiaoheAdapter
from xgate_liaohe.settings import LiaoheSettings

SPEC = OrganizationSpec(
    name="liaohe",
    title="辽河职业技能评价平台 (Liaohe Vocational Skills Evaluation Platform)",
    version=__version__,
    capabilities=frozenset(
        {Capability.REGISTER, Capability.SCORES, Capability.CERTIFICATES, Capability.VERIFY}
    ),
    settings_model=LiaoheSettings,
    factory=LiaoheAdapter,
    batch_size=200,
    repeatable=frozenset({UPLOAD_OPERATION}),
    description="Signed app-key API, GB18030 file uploads with job polling, page-number "
    "listings read by high-water mark.",
)


@hookimpl
def xgate_register_organizations(register: Callable[[Any], None]) -> None:
    register(SPEC)
