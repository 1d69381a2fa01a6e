"""An organization's streams read in a process of its own (``sync_reader = "process"``).

Invariant: the child only reads. It builds its own adapter and HTTP client for the
organization, from the same plugin and settings the gateway loaded, fetches and maps the pages
of the stream it is asked for, and sends each page, pickled, to the gateway's process. There
they are applied exactly as pages read in-process (``gateway.sync``): transactions, cursors,
credit, counters and the failure policy's decisions all stay in the process that owns the
database. The child never opens the database and never uses the keys.

Why: at tens of thousands of records a sync is two halves of about one core each, reading
(HTTP, JSON, the wire mapping, model validation) and storing (SQL, the driver, credit). In one
Python process they add up, whatever the threads (the interpreter's lock serializes them);
in two processes they overlap (issue 14, docs/benchmarks.md).

The gateway's switch interval: while reader processes run, the gateway's threads hand over
the interpreter lock every 0.5 ms instead of 5 ms (``_prefer_short_switches``). The database
thread (aiosqlite) releases the lock for each step of a statement and must win it back to go
on; with the reader's pages being unpickled on the event loop meanwhile, it waited up to 5 ms
each time. Measured (alternating, 50,000 records into SQLite): 2.47 -> 2.24 s min, 2.97 ->
2.38 s median; 200,000: 11.82 -> 10.71 s. Inline reading gained nothing from it (issue 14), so
only a gateway that starts a reader changes it, and never raises an interval set lower.

Lifetime: one child per organization, forked when its first stream is read and kept while the
gateway is open, so the organization's token is fetched once per gateway, as in-process. The
gateway's ``aclose`` stops it. It dies with the gateway's process (Linux: the parent-death
signal; elsewhere at its next write to the closed pipe). A read the gateway abandons (a failed
transaction, a cancelled run) kills the child, since it may be in the middle of a page: the
next read forks a fresh one. A child that dies is a transient failure of the read
(``ReaderGone``): the failure policy retries it like a dropped connection.

What a child's failure looks like in the gateway: the same exception type with the same
message and attributes (rebuilt without calling its ``__init__``, see ``_rebuild``), so
``gateway.failures.decide`` classifies it as it would in-process. Its counters (requests,
retries, failures, backoff) are added to the organization's client after every message, so
run reports count what the child did. Not shared: the child's rate limiter and circuit
breaker are its own, as in another worker process.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import importlib
import logging
import multiprocessing
import os
import pickle
import signal
import struct
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, fields
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from gateway.contract import ClosableAdapter, Page
from gateway.errors import TransientError
from gateway.http.transport import RequestStats
from gateway.plugins import LoadedSpec
from gateway.settings import OrganizationSettings

log = logging.getLogger("xgate.reader")

#: Linux ``prctl`` option: the signal a process gets when the thread that forked it ends
_PR_SET_PDEATHSIG = 1


class ReaderGone(TransientError):
    """The reader process ended without finishing the read (killed, crashed)."""


@dataclass(frozen=True)
class _Read:
    stream: str
    cursor: str | None


@dataclass(frozen=True)
class _Failure:
    """An exception as state: importable class, ``args`` and the picklable attributes."""

    module: str
    qualname: str
    args: tuple[Any, ...]
    attributes: dict[str, Any]


@dataclass(frozen=True)
class _Message:
    kind: str  # page, end, error
    payload: Page[Any] | _Failure | None
    stats: RequestStats  # the child's client's counters so far


def _state(exc: BaseException) -> _Failure:
    """What rebuilds ``exc`` in the gateway: attributes that do not pickle are left out."""
    attributes: dict[str, Any] = {}
    for key, value in vars(exc).items():
        try:
            pickle.dumps(value)
        except Exception:
            continue
        attributes[key] = value
    args: tuple[Any, ...] = ()
    with contextlib.suppress(Exception):
        pickle.dumps(exc.args)
        args = exc.args
    cls = type(exc)
    return _Failure(cls.__module__, cls.__qualname__, args, attributes)


def _rebuild(failure: _Failure) -> BaseException:
    """The child's exception, without calling its ``__init__`` (an exception whose constructor
    takes keyword-only arguments does not unpickle). A class that cannot be found is reported
    as a ``ReaderGone`` naming it."""
    try:
        found: Any = importlib.import_module(failure.module)
        for part in failure.qualname.split("."):
            found = getattr(found, part)
        if not (isinstance(found, type) and issubclass(found, BaseException)):
            raise TypeError(failure.qualname)
        exc = found.__new__(found)
        exc.args = failure.args
        vars(exc).update(failure.attributes)
        return exc
    except Exception:
        text = str(failure.args[0]) if failure.args else failure.qualname
        return ReaderGone(f"the reader failed: {failure.qualname}: {text}")


class ReaderProcess:
    """The gateway's side of one organization's reader process."""

    def __init__(self, name: str, loaded: LoadedSpec, settings: OrganizationSettings) -> None:
        self.name = name
        self._loaded = loaded
        self._settings = settings
        self._process: BaseProcess | None = None
        self._requests: Connection | None = None  # to the child: what to read
        self._pages: _Pages | None = None  # from the child: its messages
        self._seen = RequestStats()

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs."""
        process = self._process
        return process.pid if process is not None and process.is_alive() else None

    async def read(
        self, stream: str, cursor: str | None, into: RequestStats
    ) -> AsyncIterator[Page[Any]]:
        """The stream's pages after ``cursor``, read by the child; its counters go to ``into``."""
        requests, pages = await self._start()
        finished = False
        try:
            requests.send_bytes(pickle.dumps(_Read(stream, cursor)))
            while True:
                data = await pages.receive()
                if data is None:
                    raise ReaderGone(
                        f"{self.name}: the reader process of {stream} ended mid-read",
                        organization=self.name,
                    )
                message: _Message = pickle.loads(data)
                self._count(message.stats, into)
                if message.kind == "page":
                    assert isinstance(message.payload, Page)
                    yield message.payload
                elif message.kind == "end":
                    finished = True
                    return
                else:
                    assert isinstance(message.payload, _Failure)
                    finished = True
                    raise _rebuild(message.payload)
        finally:
            if not finished:  # the child may be mid-page, its pages unread: start afresh
                self.stop(kill=True)

    def _count(self, stats: RequestStats, into: RequestStats) -> None:
        """Add what the child did since its last message to ``into``."""
        seen, self._seen = self._seen, stats
        for counter in fields(RequestStats):
            name = counter.name
            setattr(into, name, getattr(into, name) + getattr(stats, name) - getattr(seen, name))

    async def _start(self) -> tuple[Connection, _Pages]:
        process, requests, pages = self._process, self._requests, self._pages
        if (
            requests is not None
            and pages is not None
            and process is not None
            and process.is_alive()
        ):
            return requests, pages
        self.stop(kill=True)
        _prefer_short_switches()
        fork = multiprocessing.get_context("fork")
        requests_in, requests_out = fork.Pipe(duplex=False)
        pages_in, pages_out = fork.Pipe(duplex=False)
        _widen(pages_out)
        process = fork.Process(
            target=_child,
            args=(requests_in, pages_out, self.name, self._loaded, self._settings, os.getpid()),
            name=f"xgate-reader-{self.name}",
            daemon=True,
        )
        process.start()
        requests_in.close()
        pages_out.close()
        pages = await _Pages.open(pages_in)
        self._process, self._requests, self._pages = process, requests_out, pages
        self._seen = RequestStats()
        log.debug("%s: reader process %s started", self.name, process.pid)
        return requests_out, pages

    def stop(self, *, kill: bool = False) -> None:
        """End the child: asked to (it closes its client), or killed."""
        process, requests, pages = self._process, self._requests, self._pages
        self._process = self._requests = self._pages = None
        if requests is not None:
            if not kill:
                with contextlib.suppress(OSError):
                    requests.send_bytes(pickle.dumps(None))
            requests.close()
        if pages is not None:
            pages.close()
        if process is not None:
            if kill:
                process.kill()
            process.join(5)
            if process.is_alive():
                process.kill()
                process.join()


#: the gateway's switch interval while reader processes run (see the module docstring)
SWITCH_INTERVAL = 0.0005


def _prefer_short_switches() -> None:
    if sys.getswitchinterval() > SWITCH_INTERVAL:
        sys.setswitchinterval(SWITCH_INTERVAL)


def _widen(conn: Connection) -> None:
    """Linux: a pipe that holds a whole page (1 MiB instead of 64 KiB), so the child writes a
    page at once and the gateway's event loop reads it in one or two wake-ups, not one per
    64 KiB that the child waits on (8% of a 50,000-record sync's wall time, measured)."""
    import fcntl  # POSIX only, like the rest of this module's use (Linux, see runtime)

    setter = getattr(fcntl, "F_SETPIPE_SZ", None)
    if setter is not None:
        with contextlib.suppress(OSError):  # above /proc/sys/fs/pipe-max-size: keep the default
            fcntl.fcntl(conn.fileno(), setter, _PIPE_SIZE)


#: the pages pipe's capacity (Linux's default maximum for an unprivileged process)
_PIPE_SIZE = 1 << 20


class _Pages:
    """The child's messages, read by the event loop: no thread waits on the pipe (a pool of
    them would queue one organization's pages behind another's silence), and a cancelled
    read leaves nothing blocked. The framing is ``multiprocessing.Connection``'s, which the
    child writes with: a 4-byte signed big-endian length, or -1 and an 8-byte one."""

    def __init__(self, reader: asyncio.StreamReader, transport: asyncio.ReadTransport) -> None:
        self._reader = reader
        self._transport = transport

    @classmethod
    async def open(cls, conn: Connection) -> _Pages:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=_READ_LIMIT)
        pipe = os.fdopen(os.dup(conn.fileno()), "rb", buffering=0)  # the transport closes it
        conn.close()
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), pipe
        )
        return cls(reader, transport)

    async def receive(self) -> bytes | None:
        """The next message, or None when the child is gone (the pipe closed mid-message
        or before one)."""
        try:
            (size,) = struct.unpack("!i", await self._reader.readexactly(4))
            if size == -1:
                (size,) = struct.unpack("!Q", await self._reader.readexactly(8))
            return await self._reader.readexactly(size)
        except (asyncio.IncompleteReadError, ConnectionError):
            return None

    def close(self) -> None:
        self._transport.close()


#: the stream reader's buffer bound (a page is read whole with ``readexactly`` regardless)
_READ_LIMIT = 1 << 20


def _die_with(parent: int) -> None:
    """Linux: SIGKILL this process when the gateway's process ends, even by ``kill -9``."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # it ended before the signal was asked for
        os._exit(1)


def _child(
    requests: Connection,
    pages: Connection,
    name: str,
    loaded: LoadedSpec,
    settings: OrganizationSettings,
    parent: int,
) -> None:
    """The reader process: serve reads until the gateway says stop or goes away."""
    _die_with(parent)
    gc.freeze()  # what was inherited is the gateway's: never traverse (and copy) it here
    with contextlib.suppress(ValueError):  # only the main thread may (it is, after a fork)
        # a signal here must not reach the gateway's event loop through its inherited
        # wake-up descriptor (asyncio's signal handlers write the signal number to it)
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the gateway's to handle
    asyncio.run(_serve(requests, pages, name, loaded, settings))


async def _serve(
    requests: Connection,
    pages: Connection,
    name: str,
    loaded: LoadedSpec,
    settings: OrganizationSettings,
) -> None:
    from gateway.runtime import build_organization

    org = build_organization(name, loaded, settings)
    try:
        while True:
            try:
                request: _Read | None = pickle.loads(requests.recv_bytes())
            except (EOFError, OSError):
                return
            if request is None:
                return
            await _serve_read(pages, org.reader(request.stream), request.cursor, org.client.stats)
    finally:
        if isinstance(org.adapter, ClosableAdapter):
            with contextlib.suppress(Exception):
                await org.adapter.aclose()
        await org.client.aclose()


async def _serve_read(
    conn: Connection, reader: Any, cursor: str | None, stats: RequestStats
) -> None:
    def send(kind: str, payload: Page[Any] | _Failure | None) -> None:
        message = _Message(kind, payload, stats)  # pickled now: a snapshot
        conn.send_bytes(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))

    pages = reader(cursor)
    try:
        async for page in pages:
            send("page", page)
    except Exception as exc:  # the gateway's failure policy decides, as in-process
        send("error", _state(exc))
        return
    finally:
        closer = getattr(pages, "aclose", None)
        if closer is not None:
            await closer()
    send("end", None)
