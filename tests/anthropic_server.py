"""A small fake of Anthropic's Messages API on 127.0.0.1, for the real Claude Code CLI.

Answers ``POST /v1/messages`` with one fixed reply and fixed usage, as server-sent events when the
request asks to stream (Claude Code always does) or as one JSON message otherwise, with a
``request-id`` header per call. ``HEAD``/``GET`` of anything else answer 200 with an empty JSON
object (the CLI probes the base URL). Requests are recorded (path, model, stream,
max_tokens) so a test can see what the client sent.
"""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class FakeUsage:
    input_tokens: int = 1234
    output_tokens: int = 56
    cache_read_input_tokens: int = 789
    cache_creation_input_tokens: int = 321


@dataclass
class FakeAnthropic:
    usage: FakeUsage = field(default_factory=FakeUsage)
    text: str = "Hi there."
    requests: list[dict[str, Any]] = field(default_factory=list)
    request_ids: list[str] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeAnthropic:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None):
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def do_HEAD(self) -> None:  # noqa: N802
                self._json(200, {})

            def do_GET(self) -> None:  # noqa: N802
                self._json(200, {})

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {}
                path = self.path.split("?", 1)[0]
                fake.requests.append(
                    {"path": path, **{k: body.get(k) for k in ("model", "stream", "max_tokens")}}
                )
                if path.endswith("/count_tokens"):
                    self._json(200, {"input_tokens": fake.usage.input_tokens})
                    return
                if not path.endswith("/v1/messages"):
                    self._json(404, {"type": "error", "error": {"type": "not_found_error"}})
                    return
                request_id = f"req_fake{next(fake._ids):06d}"
                fake.request_ids.append(request_id)
                model = body.get("model", "claude-sonnet-4-5-20250929")
                if body.get("stream"):
                    self._stream(request_id, model)
                else:
                    self._json(200, fake.message(request_id, model), {"request-id": request_id})

            def _stream(self, request_id: str, model: str) -> None:
                u = fake.usage
                start = fake.message(request_id, model)
                start["content"] = []
                start["stop_reason"] = None
                start["usage"] = {
                    "input_tokens": u.input_tokens,
                    "output_tokens": 1,
                    "cache_read_input_tokens": u.cache_read_input_tokens,
                    "cache_creation_input_tokens": u.cache_creation_input_tokens,
                }
                events = [
                    ("message_start", {"type": "message_start", "message": start}),
                    (
                        "content_block_start",
                        {
                            "type": "content_block_start",
                            "index": 0,
                            "content_block": {"type": "text", "text": ""},
                        },
                    ),
                    (
                        "content_block_delta",
                        {
                            "type": "content_block_delta",
                            "index": 0,
                            "delta": {"type": "text_delta", "text": fake.text},
                        },
                    ),
                    ("content_block_stop", {"type": "content_block_stop", "index": 0}),
                    (
                        "message_delta",
                        {
                            "type": "message_delta",
                            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                            "usage": {"output_tokens": u.output_tokens},
                        },
                    ),
                    ("message_stop", {"type": "message_stop"}),
                ]
                body = "".join(
                    f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("request-id", request_id)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def message(self, request_id: str, model: str) -> dict[str, Any]:
        u = self.usage
        return {
            "id": f"msg_{request_id.removeprefix('req_')}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": self.text}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {
                "input_tokens": u.input_tokens,
                "output_tokens": u.output_tokens,
                "cache_read_input_tokens": u.cache_read_input_tokens,
                "cache_creation_input_tokens": u.cache_creation_input_tokens,
            },
        }

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
