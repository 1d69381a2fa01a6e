"""Broken on purpose (the sandbox, not the plugin): ``change()`` only adds records, so the
resumption check could not tell a cursor that sees corrections from one that does not."""

from __future__ import annotations

from fake_example_org import ExampleOrgSandbox
from xgate_example_org.plugin import SPEC

__all__ = ["SPEC", "sandbox"]


class AddOnlySandbox(ExampleOrgSandbox):
    async def change(self) -> None:
        self.org.seed(self.candidates(2))


def sandbox() -> ExampleOrgSandbox:
    return AddOnlySandbox()
