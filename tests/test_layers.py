"""The layering rules of docs/architecture.md, checked on the source: the core never imports
the simulators; no SQL in the command line; no command creates a database silently."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GATEWAY = ROOT / "gateway"
CLI = GATEWAY / "cli"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return found


def test_the_core_never_imports_the_simulators() -> None:
    allowed = {CLI / "demo.py"}  # `xgate demo` imports the demo's wiring when it runs
    offenders = [
        str(p.relative_to(ROOT))
        for p in GATEWAY.rglob("*.py")
        if p not in allowed and any(m.startswith("xgate_simulators") for m in _imports(p))
    ]
    assert offenders == []


def test_no_sql_in_the_command_line() -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for p in CLI.rglob("*.py")
        if any(
            m.startswith("sqlalchemy")
            or m.startswith("gateway.store.tables")
            or m == "gateway.store.tables"
            for m in _imports(p)
        )
    ]
    assert offenders == []


def test_no_command_creates_a_database_silently() -> None:
    """Commands open the gateway with ``state.open_existing()`` or ``create=False``."""
    offenders = []
    for path in CLI.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "open_gateway":
                create = [k for k in node.keywords if k.arg == "create"]
                if path.name != "state.py" and not (
                    create
                    and isinstance(create[0].value, ast.Constant)
                    and not create[0].value.value
                ):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []
