"""Command-line options shared by several commands, defined once so they read the same."""

from __future__ import annotations

from typing import Annotated

import typer

JsonOpt = Annotated[bool, typer.Option("--json", help="print one JSON document")]
#: one organization, optional
OrgOpt = Annotated[str | None, typer.Option("--org", help="only this organization")]
#: organizations, repeatable
OrgsOpt = Annotated[
    list[str] | None, typer.Option("--org", help="only this organization (repeatable)")
]
PlanOpt = Annotated[str | None, typer.Option("--plan", help="only this exam plan")]
