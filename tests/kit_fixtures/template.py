"""Not broken: the plugin template itself, the baseline the broken variants differ from."""

from __future__ import annotations

from fake_example_org import ExampleOrgSandbox
from xgate_example_org.plugin import SPEC

__all__ = ["SPEC", "sandbox"]


def sandbox() -> ExampleOrgSandbox:
    return ExampleOrgSandbox()
