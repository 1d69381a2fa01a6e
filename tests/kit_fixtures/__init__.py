"""Deliberately broken organization plugins: each is the plugin template with one mistake.

``tests/test_kit_broken.py`` runs the conformance kit on each and checks that the kit test for
that rule fails with a message telling the author what to fix. Importing this package puts the
template (``examples/plugin-template``) and its fake organization on ``sys.path``.
"""

from __future__ import annotations

import sys
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parents[2] / "examples" / "plugin-template"
for path in (TEMPLATE, TEMPLATE / "tests"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
