"""The registrar's student roster (学籍): the denominator of every coverage figure.

``read_roster`` reads the registrar's export with the candidate-list reader (same header
aliases, encodings and problem messages); ``import_roster`` writes it all or nothing, matching
each row to a student by 学号 or by the keyed ID hash and recording every change.
"""

from __future__ import annotations

from gateway.roster.model import STATUS_LABELS, WAIVER_BASES, RosterRow
from gateway.roster.parse import ParsedRoster, read_roster
from gateway.roster.store import RosterImport, import_roster

__all__ = [
    "STATUS_LABELS",
    "WAIVER_BASES",
    "ParsedRoster",
    "RosterImport",
    "RosterRow",
    "import_roster",
    "read_roster",
]
