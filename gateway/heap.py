"""Garbage collection around a command's start: one policy for every entry point.

Invariant: the cyclic garbage collector is off only while a command starts (imports, before
its work begins) and never longer than ``START_LIMIT`` seconds; from the moment the work
begins it is on, with everything alive at that moment moved out of its reach (``gc.freeze``).

Why: start-up creates some hundred thousand long-lived objects (modules, classes, functions)
and the collector, seeing them young, traverses them again and again: about 0.12 s of a
command's 0.7 s start, and during a 50,000-record sync three to five full collections over the
same objects, 0.3-0.6 s of about 3 s of main-thread CPU (measured for issue 14). Frozen, they
are never traversed again; objects created by the work are collected as usual. Freezing
happens once per process (a worker running many jobs freezes its start-up objects only).
"""

from __future__ import annotations

import gc
import threading

#: the collector comes back on by itself after this long, even if no work ever begins
START_LIMIT = 2.0

_frozen = False


def starting() -> None:
    """Called first by the command line: no collections while the command's code loads."""
    gc.disable()
    safety = threading.Timer(START_LIMIT, gc.enable)
    safety.daemon = True
    safety.start()


def working() -> None:
    """Called when a command's work begins (``open_gateway``, once its plugins and database
    are loaded): freeze what start-up made, collect from now on. Harmless anywhere else."""
    global _frozen
    if not _frozen:
        gc.freeze()
        _frozen = True
    gc.enable()
