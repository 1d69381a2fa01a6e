"""``xgate plugins new NAME``: start an organization plugin from the template, renamed.

The template (``examples/plugin-template``; in a wheel, ``gateway/plugin_template``) is a
complete plugin with a fake organization and the conformance kit wired in, so a new plugin
starts green: ``pip install -e . && pytest`` passes before the first edit. Renaming is plain
text substitution of the template's names, in file contents and in paths.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Annotated

import typer

import gateway
from gateway.cli.output import EXIT_INPUT, console, fail, print_json
from gateway.errors import InputError

NAME = re.compile(r"^[a-z][a-z0-9]*(?:[_-][a-z0-9]+)*$")
SKIP = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", "build", "dist"}


def template_dir() -> Path:
    """The packaged template, or the one in a source checkout."""
    here = Path(gateway.__file__).resolve().parent
    for candidate in (here / "plugin_template", here.parent / "examples" / "plugin-template"):
        if (candidate / "pyproject.toml").is_file():
            return candidate
    raise InputError("the plugin template is not installed with this xgate")


def replacements(name: str) -> list[tuple[str, str]]:
    """The template's names and the new plugin's, longest first."""
    if not NAME.match(name) or len(name) > 40:
        raise InputError(
            f"plugin name {name!r}: use lower-case letters, digits, '_' or '-', starting with a "
            "letter (at most 40), e.g. huadong or huadong_cnc"
        )
    words = re.split(r"[_-]", name)
    snake, kebab = "_".join(words), "-".join(words)
    camel = "".join(w.capitalize() for w in words)
    return [
        ("xgate_example_org", f"xgate_{snake}"),
        ("xgate-example-org", f"xgate-{kebab}"),
        ("ExampleOrg", camel),
        ("Example Org", " ".join(w.capitalize() for w in words)),
        ("example_org", snake),
        ("example-org", kebab),
    ]


def _rename(text: str, pairs: list[tuple[str, str]]) -> str:
    for old, new in pairs:
        text = text.replace(old, new)
    return text


def scaffold(name: str, parent: Path, template: Path | None = None) -> Path:
    """Copy the template into ``parent/xgate-NAME`` with every name substituted."""
    pairs = replacements(name)
    source = template or template_dir()
    target = parent / _rename("xgate-example-org", pairs)
    if target.exists():
        raise InputError(f"{target} already exists; choose another name or --dir")
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if any(part in SKIP or part.endswith(".egg-info") for part in relative.parts):
            continue
        if path.suffix in (".pyc", ".pyo"):
            continue
        destination = target / _rename(str(relative), pairs)
        if path.is_dir():
            destination.mkdir(parents=True, exist_ok=True)
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            destination.write_text(
                _rename(path.read_text(encoding="utf-8"), pairs), encoding="utf-8"
            )
        except UnicodeDecodeError:
            shutil.copy2(path, destination)
    return target


def new(
    name: Annotated[str, typer.Argument(help="organization plugin name, e.g. huadong")],
    directory: Annotated[
        Path, typer.Option("--dir", help="where to create xgate-NAME/ (default: here)")
    ] = Path("."),
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON document")] = False,
) -> None:
    """Create a new organization plugin from the template (tests and fake organization
    included); then: cd xgate-NAME && pip install -e . && pytest."""
    try:
        target = scaffold(name, directory)
    except InputError as exc:
        fail(str(exc), EXIT_INPUT)
    if as_json:
        package = "xgate_" + "_".join(re.split("[_-]", name))
        print_json({"created": str(target), "package": package})
        return
    for line in (
        f"created {target}",
        f"next: cd {target} && pip install -e '.[test]' && pytest",
        "then: make tests/fake_*.py behave like your organization, and adapt wire.py and "
        "adapter.py to its API (docs/plugins.md)",
    ):
        console.print(line, markup=False, highlight=False)
