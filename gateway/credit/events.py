"""Broadcasting credit changes to plugins, after the transaction that made them committed.

Observers (a provincial credit-bank bridge, a notifier) implement ``xgate_credit_converted`` and
``xgate_credit_reversed``; each call carries one account's entries (``account`` is the hashed
ID, never the number).
"""

from __future__ import annotations

from collections.abc import Sequence

from gateway.models import CreditEntry, CreditEntryKind
from gateway.plugins import PluginHost


def emit_credit(host: PluginHost, entries: Sequence[CreditEntry]) -> None:
    """One hook call per account and direction: credit added, or credit reversed."""
    groups: dict[tuple[str, str], list[CreditEntry]] = {}
    for entry in entries:
        hook = (
            "xgate_credit_reversed"
            if entry.kind is CreditEntryKind.REVERSAL
            else "xgate_credit_converted"
        )
        groups.setdefault((hook, entry.account), []).append(entry)
    for (hook, account), items in groups.items():
        host.emit(hook, account=account, entries=items)
