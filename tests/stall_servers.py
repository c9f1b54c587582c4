"""Servers that never finish: for testing that every network read has a deadline.

* ``TricklingServer``: a threaded HTTP server. Paths in ``answers`` are answered at once (GET or
  POST); paths in ``trickle`` (or every path when it holds ``"*"``) get ``200`` and headers that
  announce a long body, then one byte every ``interval`` seconds, for ever.
* ``StallingProxy``: a TCP proxy in front of a real server (PostgreSQL). Once the client sends a
  chunk holding every byte string in ``stall_when``, it forwards ``then`` more bytes of the
  answer and then nothing (the connection stays open and silent), as a link that dies mid-result.

Both are context managers; ``close`` ends every connection they hold.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlparse


class TricklingServer:
    def __init__(
        self,
        answers: dict[str, bytes] | None = None,
        *,
        trickle: Sequence[str] = ("*",),
        interval: float = 0.5,
    ) -> None:
        self.answers = dict(answers or {})
        self.trickle = set(trickle)
        self.interval = interval
        self.requests: list[tuple[str, str]] = []  # (method, path)
        self.stopping = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                path = urlparse(self.path).path
                owner.requests.append((self.command, path))
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                if path in owner.answers:
                    body = owner.answers[path]
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                if "*" not in owner.trickle and path not in owner.trickle:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(10**9))
                self.end_headers()
                self.wfile.flush()
                try:
                    while not owner.stopping.wait(owner.interval):
                        self.wfile.write(b" ")
                        self.wfile.flush()
                except OSError:
                    pass  # the client gave up: what a deadline should make it do
                self.close_connection = True

            do_GET = _answer  # noqa: N815
            do_POST = _answer  # noqa: N815

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> TricklingServer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class StallingProxy:
    def __init__(
        self,
        upstream: tuple[str, int],
        *,
        stall_when: Sequence[bytes] = (),
        then: int = 0,
    ) -> None:
        self.upstream = upstream
        self.stall_when = [m.lower() for m in stall_when]
        self.then = then
        self.stalled = threading.Event()  # set once a connection went silent
        self._sockets: list[socket.socket] = []
        self._closed = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            self._sockets += [client, server]
            state = {"stall": False, "budget": self.then}
            threading.Thread(
                target=self._pump_up, args=(client, server, state), daemon=True
            ).start()
            threading.Thread(
                target=self._pump_down, args=(server, client, state), daemon=True
            ).start()

    def _pump_up(self, client: socket.socket, server: socket.socket, state: dict[str, Any]) -> None:
        try:
            while data := client.recv(65536):
                lowered = data.lower()
                if self.stall_when and all(m in lowered for m in self.stall_when):
                    state["stall"] = True
                server.sendall(data)
        except OSError:
            pass

    def _pump_down(
        self, server: socket.socket, client: socket.socket, state: dict[str, Any]
    ) -> None:
        try:
            while data := server.recv(65536):
                if state["stall"]:
                    data = data[: state["budget"]]
                    state["budget"] -= len(data)
                    if data:
                        client.sendall(data)
                    if state["budget"] <= 0:
                        self.stalled.set()
                        while not self._closed.wait(0.5):  # silent, connection kept open
                            pass
                        return
                    continue
                client.sendall(data)
        except OSError:
            pass

    def close(self) -> None:
        self._closed.set()
        self.listener.close()
        for sock in self._sockets:
            try:
                sock.close()
            except OSError:
                pass

    def __enter__(self) -> StallingProxy:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def elapsed(since: float) -> float:
    return time.monotonic() - since
