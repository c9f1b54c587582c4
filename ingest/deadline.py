"""Deadlines: no network request and no run goes on for ever.

A connect or read timeout only bounds one wait: a server that answers 200 and then sends a byte
every 20 s, or a database behind a link that stops forwarding mid-COPY, keeps a run (and the
run lock) forever. So every source that reads over the network declares two options:

* ``request_timeout`` (default 120 s): the most one request may take, headers and the whole body;
* ``run_timeout`` (default 30 min): the most one run of the source may take.

``Deadline.request(where)`` guards one request: a timer fires at the deadline and shuts down
the sockets the request uses (registered by the connection classes below, or handed in), so
the blocked read returns at once and the request ends as ``Expired`` (a ``SourceUnavailable``,
exit 3). The runner commits page by page, so what was loaded before stays and the cursor covers
exactly that. ``Deadline.check()`` ends a run past its ``run_timeout`` between requests and pages.
"""

from __future__ import annotations

import http.client
import os
import socket
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ingest.errors import SourceUnavailable

DEFAULT_REQUEST_TIMEOUT = 120
DEFAULT_RUN_TIMEOUT = 1800

# the options every network source declares: ingest.source.DEADLINES


class Expired(SourceUnavailable):
    """A request or a run passed its deadline. The cursor covers only what was committed."""


def request_expired(source: str, where: str, seconds: float) -> Expired:
    return Expired(
        source,
        f"{where} did not finish a request within {seconds:g}s (request_timeout)",
        "Check that it is up and answering, or raise request_timeout; the cursor was kept",
    )


def run_expired(source: str, seconds: float) -> Expired:
    return Expired(
        source,
        f"the run did not finish within {seconds:g}s (run_timeout)",
        "Raise run_timeout, or read a shorter range with --since/--until; pages already loaded "
        "are kept and the next run goes on from them",
    )


def shutdown(sock: Any) -> None:
    """Wake every read blocked on ``sock`` (another thread's): shut the connection down through
    a duplicate descriptor, which leaves the socket object (and any TLS state) untouched."""
    try:
        fd = sock if isinstance(sock, int) else sock.fileno()
        if fd < 0:
            return
        with socket.socket(fileno=os.dup(fd)) as dup:
            dup.shutdown(socket.SHUT_RDWR)
    except (OSError, ValueError):
        pass


class Watch:
    """One guarded request: the sockets it reads, and whether its deadline fired."""

    def __init__(self) -> None:
        self.fired = False
        self._lock = threading.Lock()
        self._sockets: list[Any] = []
        self._closers: list[Callable[[], None]] = []

    def add_socket(self, sock: Any) -> None:
        if sock is None:
            return
        with self._lock:
            self._sockets.append(sock)
            fired = self.fired
        if fired:
            shutdown(sock)

    def on_fire(self, close: Callable[[], None]) -> None:
        with self._lock:
            self._closers.append(close)

    def fire(self) -> None:
        with self._lock:
            self.fired = True
            sockets, closers = list(self._sockets), list(self._closers)
        for sock in sockets:
            shutdown(sock)
        for close in closers:
            try:
                close()
            except Exception:  # noqa: BLE001, S110 - best effort: the read is being abandoned
                pass


_current = threading.local()


def watch_socket(sock: Any) -> None:
    """Register ``sock`` with the request this thread is running under a deadline, if any."""
    watch = getattr(_current, "watch", None)
    if watch is not None and sock is not None:
        watch.add_socket(sock)


class Deadline:
    """The deadlines of one run of ``source`` (None: unbounded)."""

    def __init__(
        self,
        source: str,
        *,
        request_seconds: float | None = None,
        run_seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.source = source
        self.request_seconds = request_seconds
        self.run_seconds = run_seconds
        self.clock = clock
        self.run_at = clock() + run_seconds if run_seconds else None

    @classmethod
    def of(cls, source: str, options: dict[str, Any]) -> Deadline:
        return cls(
            source,
            request_seconds=options.get("request_timeout"),
            run_seconds=options.get("run_timeout"),
        )

    def remaining(self) -> float | None:
        return None if self.run_at is None else self.run_at - self.clock()

    def check(self) -> None:
        """Expired when the run is past its run_timeout."""
        left = self.remaining()
        if left is not None and left <= 0:
            raise run_expired(self.source, float(self.run_seconds or 0))

    def limit(self) -> tuple[float | None, bool]:
        """Seconds the next request may take, and whether the run's deadline is what limits it."""
        left = self.remaining()
        if left is not None and (self.request_seconds is None or left < self.request_seconds):
            return max(left, 0.0), True
        return self.request_seconds, False

    def timeout(self, cap: float) -> float:
        """A socket timeout (connect, one read) no longer than ``cap`` or the time left."""
        seconds, _ = self.limit()
        return max(0.05, min(cap, seconds)) if seconds is not None else cap

    @contextmanager
    def request(self, where: str) -> Iterator[Watch]:
        """Guard one request to ``where``: past the deadline its sockets are shut down and the
        request ends as Expired, whatever the read in progress raised or returned."""
        self.check()
        seconds, by_run = self.limit()
        watch = Watch()
        timer = None
        if seconds is not None:
            timer = threading.Timer(seconds, watch.fire)
            timer.daemon = True
            timer.start()
        previous = getattr(_current, "watch", None)
        _current.watch = watch
        try:
            yield watch
        except BaseException:
            if watch.fired:
                raise self._expired(where, by_run) from None
            raise
        finally:
            _current.watch = previous
            if timer is not None:
                timer.cancel()
        if watch.fired:  # the read ended early, without an error: the body is cut short
            raise self._expired(where, by_run)

    def _expired(self, where: str, by_run: bool) -> Expired:
        if by_run:
            return run_expired(self.source, float(self.run_seconds or 0))
        return request_expired(self.source, where, float(self.request_seconds or 0))


# ----------------------------------------------------------------------------------------------
# urllib: connections that register their socket with the running request's Watch
# ----------------------------------------------------------------------------------------------


class _HTTPConnection(http.client.HTTPConnection):
    def connect(self) -> None:
        super().connect()
        watch_socket(self.sock)


class _HTTPSConnection(http.client.HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        watch_socket(self.sock)


class _HTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req: Any) -> Any:
        return self.do_open(_HTTPConnection, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req: Any) -> Any:
        return self.do_open(_HTTPSConnection, req, context=getattr(self, "_context", None))


def urlopen(request: urllib.request.Request, *, timeout: float) -> Any:
    """``urllib.request.urlopen`` whose connection a ``Deadline.request`` can cut (proxies from
    the environment still apply)."""
    opener = urllib.request.build_opener(_HTTPHandler, _HTTPSHandler)
    return opener.open(request, timeout=timeout)


def read_all(response: Any) -> bytes:
    """The whole body, read as it arrives (so a cut connection ends the read at once)."""
    parts: list[bytes] = []
    while True:
        chunk = response.read1(1 << 16) if hasattr(response, "read1") else response.read(1 << 16)
        if not chunk:
            return b"".join(parts)
        parts.append(bytes(chunk))


# ----------------------------------------------------------------------------------------------
# requests (google-cloud-logging's HTTP session): the same, through an adapter
# ----------------------------------------------------------------------------------------------


def watch_requests_session(session: Any) -> None:
    """Mount an adapter on a requests ``session`` whose connections register their socket with
    the running request's Watch (idempotent)."""
    import requests.adapters
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    if getattr(session, "_llmledger_watched", False):
        return

    class WatchedHTTP(HTTPConnection):
        def request(self, *args: Any, **kwargs: Any) -> None:
            super().request(*args, **kwargs)
            watch_socket(self.sock)

    class WatchedHTTPS(HTTPSConnection):
        def request(self, *args: Any, **kwargs: Any) -> None:
            super().request(*args, **kwargs)
            watch_socket(self.sock)

    class HTTPPool(HTTPConnectionPool):
        ConnectionCls = WatchedHTTP

    class HTTPSPool(HTTPSConnectionPool):
        ConnectionCls = WatchedHTTPS

    class Adapter(requests.adapters.HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {"http": HTTPPool, "https": HTTPSPool}

    adapter = Adapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session._llmledger_watched = True
