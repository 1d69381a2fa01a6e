"""Names a package re-exports, loaded on first use (PEP 562): one implementation for every
package that does it (``gateway``, ``gateway.roster``).

Invariant: ``import package`` imports none of the modules behind its names; the first
``package.Name`` (or ``from package import Name``) imports that one module, and the value is
then stored in the package, so later look-ups are plain attribute reads. An unknown name is the
usual ``AttributeError``. Standard library only: ``gateway`` uses it, and ``xgate --version``
imports ``gateway``.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any


def lazy_getattr(package: str, module_of: dict[str, str]) -> Callable[[str], Any]:
    """The module ``__getattr__`` for ``package``, whose names live in ``module_of``."""

    def __getattr__(name: str) -> Any:
        module = module_of.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
