"""Limits on JSON a stranger sends us, checked before any parser sees it.

Invariant: ``nesting_depth`` reads the bytes once, without recursion and without building
anything, so a body of a million ``[`` costs a linear scan, never a ``RecursionError`` deep in
``json.loads`` (which turned into a 500 with a traceback).
"""

from __future__ import annotations

MAX_DEPTH = 64
_OPEN = frozenset(b"[{")
_CLOSE = frozenset(b"]}")
_QUOTE = ord('"')
_BACKSLASH = ord("\\")


def nesting_depth(body: bytes, stop_at: int = MAX_DEPTH + 1) -> int:
    """The deepest nesting of arrays and objects (strings skipped), up to ``stop_at``."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == _BACKSLASH:
                escaped = True
            elif byte == _QUOTE:
                in_string = False
        elif byte == _QUOTE:
            in_string = True
        elif byte in _OPEN:
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest >= stop_at:
                    return deepest
        elif byte in _CLOSE:
            depth -= 1
    return deepest


def too_deep(body: bytes, limit: int = MAX_DEPTH) -> bool:
    return nesting_depth(body, limit + 1) > limit
