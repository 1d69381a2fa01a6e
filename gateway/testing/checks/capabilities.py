"""Capabilities: what the spec declares is exactly what the adapter implements, in the right
shape.

The core calls only what is declared, so an implemented but undeclared method is dead code
(and usually a forgotten declaration), and a declared but missing one fails at the first
nightly run. Load-time checks see classes only; this check sees the adapter the factory really
returns.
"""

from __future__ import annotations

import inspect

from gateway.contract import CAPABILITY_METHODS, Capability, api_compatible, missing_methods
from gateway.contract import PLUGIN_API_VERSION as CORE_API
from gateway.testing.harness import KitFailure, Session

#: Methods awaited by the core (streams are async iterators instead).
AWAITED = ("register", "lookup_registration", "issue", "verify", "parse_webhook")
STREAMS = ("scores", "certificates")


async def declared_capabilities_are_implemented(session: Session) -> None:
    spec = session.spec
    if not api_compatible(spec.api_version):
        raise KitFailure(
            f"the spec is built for plugin API {spec.api_version}, this xgate provides {CORE_API}",
            fix=f'set OrganizationSpec(api_version="{CORE_API}") after adapting to it',
            see="versioning",
        )
    adapter = session.adapter()
    declared = spec.capabilities
    problems: list[str] = []
    missing = missing_methods(adapter, declared)
    if missing:
        problems.append(
            "declared but not implemented: "
            + ", ".join(missing)
            + " (the core would fail at the first call)"
        )
    for capability in sorted(set(Capability) - declared):
        present = [m for m in CAPABILITY_METHODS[capability] if callable(getattr(adapter, m, None))]
        if present and len(present) == len(CAPABILITY_METHODS[capability]):
            problems.append(
                f"implements {', '.join(present)} but does not declare Capability."
                f"{capability.name} (the core never calls undeclared methods)"
            )
    for method in AWAITED:
        fn = getattr(adapter, method, None)
        if callable(fn) and not inspect.iscoroutinefunction(fn):
            problems.append(f"{method} must be `async def` (the core awaits it)")
    for method in STREAMS:
        fn = getattr(adapter, method, None)
        if callable(fn) and inspect.iscoroutinefunction(fn):
            problems.append(
                f"{method} is a coroutine; it must return an async iterator of Page "
                "(an `async def` that yields, or a function returning one)"
            )
    since = getattr(adapter, "cursor_since", None)
    if since is not None and inspect.iscoroutinefunction(since):
        problems.append("cursor_since must be a plain function returning a cursor string")
    if problems:
        raise KitFailure(
            f"adapter {type(adapter).__name__} does not match the capabilities its spec "
            f"declares ({', '.join(sorted(c.value for c in declared))}):\n    - "
            + "\n    - ".join(problems),
            fix="make OrganizationSpec.capabilities list exactly what the adapter implements, "
            "with the methods of gateway.contract.CAPABILITY_METHODS",
            see="capabilities",
        )
