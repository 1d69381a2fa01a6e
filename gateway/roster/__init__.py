"""The registrar's student roster (学籍): the denominator of every coverage figure.

``read_roster`` reads the registrar's export with the candidate-list reader (same header
aliases, encodings and problem messages); ``import_roster`` writes it all or nothing, matching
each row to a student by 学号 or by the keyed ID hash and recording every change.

The names below are loaded on first use (PEP 562), as ``gateway``'s own are: the reports
need only ``gateway.roster.model``, and importing this package must not bring in the file
reader (openpyxl) with it (a report's start, issue 14).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway._exports import lazy_getattr

if TYPE_CHECKING:
    from gateway.roster.model import STATUS_LABELS, WAIVER_BASES, RosterRow
    from gateway.roster.parse import ParsedRoster, read_roster
    from gateway.roster.store import RosterImport, import_roster

_MODULE_OF = {
    "STATUS_LABELS": "gateway.roster.model",
    "WAIVER_BASES": "gateway.roster.model",
    "RosterRow": "gateway.roster.model",
    "ParsedRoster": "gateway.roster.parse",
    "read_roster": "gateway.roster.parse",
    "RosterImport": "gateway.roster.store",
    "import_roster": "gateway.roster.store",
}


__getattr__ = lazy_getattr(__name__, _MODULE_OF)


__all__ = [
    "STATUS_LABELS",
    "WAIVER_BASES",
    "ParsedRoster",
    "RosterImport",
    "RosterRow",
    "import_roster",
    "read_roster",
]
