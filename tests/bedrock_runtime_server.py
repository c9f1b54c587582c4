"""A small fake of the Bedrock runtime for the real Claude Code CLI (Bedrock mode).

``POST /model/<id>/invoke-with-response-stream`` answers with one fixed Messages reply and fixed
usage in AWS event-stream framing (each Anthropic stream event base64-encoded in a ``chunk``),
the last chunk carrying ``amazon-bedrock-invocationMetrics``; ``GET /inference-profiles`` lists
none. Each call gets an ``x-amzn-requestid``; the calls are recorded (path, request id, time) so a
test can write the invocation-log records Bedrock would have written for them.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import struct
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from anthropic_server import FakeUsage


def _header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    return (
        struct.pack("B", len(raw_name))
        + raw_name
        + b"\x07"
        + struct.pack(">H", len(raw_value))
        + raw_value
    )


def event_message(payload: bytes, event_type: str = "chunk") -> bytes:
    """One AWS event-stream message (prelude, CRCs, string headers)."""
    headers = (
        _header(":event-type", event_type)
        + _header(":content-type", "application/json")
        + _header(":message-type", "event")
    )
    total = 12 + len(headers) + len(payload) + 4
    prelude = struct.pack(">II", total, len(headers))
    prelude += struct.pack(">I", binascii.crc32(prelude))
    message = prelude + headers + payload
    return message + struct.pack(">I", binascii.crc32(message))


@dataclass
class FakeBedrock:
    usage: FakeUsage = field(default_factory=FakeUsage)
    text: str = "Hi there."
    calls: list[dict[str, str]] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def _events(self, model: str) -> list[dict[str, Any]]:
        u = self.usage
        return [
            {
                "type": "message_start",
                "message": {
                    "id": "msg_bdrk_01",
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {
                        "input_tokens": u.input_tokens,
                        "output_tokens": 1,
                        "cache_read_input_tokens": u.cache_read_input_tokens,
                        "cache_creation_input_tokens": u.cache_creation_input_tokens,
                    },
                },
            },
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": self.text},
            },
            {"type": "content_block_stop", "index": 0},
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": u.output_tokens},
            },
            {
                "type": "message_stop",
                "amazon-bedrock-invocationMetrics": {
                    "inputTokenCount": u.input_tokens,
                    "outputTokenCount": u.output_tokens,
                    "invocationLatency": 900,
                    "firstByteLatency": 300,
                    "cacheReadInputTokenCount": u.cache_read_input_tokens,
                    "cacheWriteInputTokenCount": u.cache_creation_input_tokens,
                },
            },
        ]

    def __enter__(self) -> FakeBedrock:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def _json(self, status: int, payload: Any) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802
                self._json(200, {"inferenceProfileSummaries": []})

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                path = self.path.split("?", 1)[0]
                request_id = f"bdrk-req-{next(fake._ids):04d}"
                at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
                fake.calls.append({"path": path, "request_id": request_id, "at": at})
                model = path.split("/")[2] if path.startswith("/model/") else ""
                if not path.endswith("/invoke-with-response-stream"):
                    self._json(400, {"message": f"unsupported {path}"})
                    return
                body = b"".join(
                    event_message(
                        json.dumps(
                            {"bytes": base64.b64encode(json.dumps(e).encode()).decode()}
                        ).encode()
                    )
                    for e in fake._events(model)
                )
                self.send_response(200)
                self.send_header("Content-Type", "application/vnd.amazon.eventstream")
                self.send_header("x-amzn-requestid", request_id)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()
