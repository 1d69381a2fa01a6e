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

While working, the youngest generation is collected after ``WORK_THRESHOLD`` new container
objects instead of CPython's 700. What the work creates (a page's records, rows and results)
dies by reference counting when its transaction ends; at 700 the collector ran about 700 young,
64 middle and 5 full collections in a 50,000-record sync, traversing the pages in flight each
time: 0.22 s of 3.1 s (issue 14). Garbage in reference cycles waits longer for it, so the
threshold is kept where memory stays flat: at 50,000 a 1,000,000-record sync peaked at 176 MiB
against 155 MiB at 100,000 (ratio 1.13); at 10,000 at 144.0 against 142.8 MiB (1.008), as with
CPython's threshold. The big cycle, every HTTP response with its body, is broken where it is
made (``gateway.http.client.OrgClient.send``).
"""

from __future__ import annotations

import gc
import threading

#: the collector comes back on by itself after this long, even if no work ever begins
START_LIMIT = 2.0
#: new container objects between collections of the youngest generation while working
WORK_THRESHOLD = 10_000

_frozen = False


def starting() -> None:
    """Called first by the command line: no collections while the command's code loads."""
    gc.disable()
    safety = threading.Timer(START_LIMIT, gc.enable)
    safety.daemon = True
    safety.start()


def working() -> None:
    """Called when a command's work begins (``open_gateway``, once its plugins and database
    are loaded): freeze what start-up made, collect from now on, every ``WORK_THRESHOLD``
    new objects. Harmless anywhere else."""
    global _frozen
    if not _frozen:
        gc.freeze()
        _frozen = True
    _, middle, old = gc.get_threshold()
    gc.set_threshold(WORK_THRESHOLD, middle, old)
    gc.enable()
