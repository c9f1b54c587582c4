"""An OTLP/HTTP receiver for Claude Code's telemetry: ``llmledger collect``.

Claude Code (or any OpenTelemetry SDK) posts ``ExportLogsServiceRequest`` and
``ExportMetricsServiceRequest`` messages to ``/v1/logs`` and ``/v1/metrics`` as ``http/protobuf``
or ``http/json``, gzip or not. Each accepted request is appended as one line of OTLP JSON to a
rotating file in the output folder, the shape the OpenTelemetry Collector's ``file`` exporter
writes, so ``llmledger ingest otel-files`` reads either.

Privacy: prompt text (the ``prompt`` attribute of ``user_prompt`` events), tool parameters and
any other body-like attribute or log body are removed *before* anything is written (see
``BODY_KEY``); the files never hold them.

Bounded: a request over ``max_request_bytes`` (compressed or not) is refused with 413 before
it is read; a request is decoded, scrubbed and written within the handler, one at a time per
file (a lock), so memory is a few requests' size. A bearer token, when set, is checked before
the body is read (401, nothing written). A body that does not decode is 400, nothing written.
"""

from __future__ import annotations

import base64
import hmac
import json
import os
import re
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from ingest.errors import ConfigError

DEFAULT_MAX_REQUEST_BYTES = 16 << 20  # 16 MiB, decompressed and on the wire
DEFAULT_ROTATE_BYTES = 64 << 20
DEFAULT_ROTATE_SECONDS = 60.0  # a file is finished (readable by ingest) at most this late
DEFAULT_MAX_CONCURRENT = 8  # requests decoded at once; memory ~ this x max_request_bytes x 4
BUSY_WAIT_SECONDS = 10.0  # a request waits this long for a slot, then gets 503 (clients retry)
TOKEN_ENV = "LLMLEDGER_COLLECT_TOKEN"

# An attribute whose key (or its last dotted/underscored part) names a body is dropped: prompt
# text, tool parameters/input/output, request/response bodies, message content. Ids and
# lengths of such things (``prompt.id``, ``prompt_length``) are kept.
BODY_KEY = re.compile(
    r"(^|[._])(prompts?|body|bodies|content|contents|messages?|response|completion|"
    r"parameters|tool_input|tool_output|tool_result|tool_response|input|output|arguments|args|"
    r"command|text|system|stdin|stdout|stderr|diff|old_string|new_string)$",
    re.IGNORECASE,
)
# A string value longer than this is not metadata: dropped whatever its key.
MAX_VALUE_CHARS = 2048
# A log body is kept only when it is a short name (Claude Code's body is the event name).
NAME_BODY = re.compile(r"^[A-Za-z0-9_.:/-]{1,128}$")


class BadRequest(Exception):
    """The request body cannot be decoded as the OTLP message its path expects."""


class TooLarge(Exception):
    """The request body (decompressed) is over the limit."""


# ----------------------------------------------------------------------------------------------
# Decoding and scrubbing (pure functions: the tests call them too)
# ----------------------------------------------------------------------------------------------


def _message_class(signal: str) -> Any:
    try:
        if signal == "logs":
            from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
                ExportLogsServiceRequest,
            )

            return ExportLogsServiceRequest
        from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
            ExportMetricsServiceRequest,
        )

        return ExportMetricsServiceRequest
    except ImportError as exc:  # pragma: no cover - the extra is missing
        raise ConfigError(
            "llmledger collect needs the opentelemetry-proto package: pip install 'llmledger[otel]'"
        ) from exc


def check_installed() -> None:
    """ConfigError (exit 2) when the OTLP classes are not installed."""
    _message_class("logs")


def decompress(body: bytes, encoding: str, limit: int) -> bytes:
    """The body without its ``Content-Encoding`` (gzip, deflate or none), at most ``limit``
    bytes (TooLarge beyond), BadRequest when it does not decompress."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "deflate"):
        raise BadRequest(f"unsupported Content-Encoding {encoding!r}")
    wbits = 31 if encoding == "gzip" else 15
    inflater = zlib.decompressobj(wbits=wbits)
    try:
        data = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise BadRequest(f"body is not valid {encoding}") from exc
    if len(data) > limit or inflater.unconsumed_tail:
        raise TooLarge()
    if not inflater.eof:
        raise BadRequest(f"body is truncated {encoding}")
    return data


def _hex_ids_to_base64(payload: Any) -> None:
    """OTLP/JSON writes trace and span ids as hex; protobuf's JSON mapping expects base64."""
    for resource in payload.get("resourceLogs") or []:
        for scope in (resource or {}).get("scopeLogs") or []:
            for record in (scope or {}).get("logRecords") or []:
                for key in ("traceId", "spanId"):
                    value = record.get(key) if isinstance(record, dict) else None
                    if isinstance(value, str) and value:
                        try:
                            record[key] = base64.b64encode(bytes.fromhex(value)).decode()
                        except ValueError as exc:
                            raise BadRequest(f"{key} is not hex") from exc


def decode(signal: str, body: bytes, content_type: str) -> Any:
    """The OTLP request message for ``signal`` (``logs``/``metrics``) from a protobuf or JSON
    body; BadRequest when it is neither."""
    from google.protobuf import json_format
    from google.protobuf.message import DecodeError

    cls = _message_class(signal)
    message = cls()
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "application/json":
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest("body is not valid JSON") from exc
        if not isinstance(payload, dict):
            raise BadRequest("body is not a JSON object")
        try:
            _hex_ids_to_base64(payload)
            json_format.ParseDict(payload, message, ignore_unknown_fields=True)
        except (json_format.ParseError, ValueError, TypeError, AttributeError) as exc:
            raise BadRequest(f"body is not an OTLP {signal} request: {str(exc)[:200]}") from exc
        return message
    if kind in ("application/x-protobuf", "application/protobuf"):
        try:
            message.ParseFromString(body)
        except (DecodeError, ValueError) as exc:
            raise BadRequest("body is not a valid protobuf message") from exc
        return message
    raise BadRequest(
        f"unsupported Content-Type {kind or '(none)'!r}: use application/x-protobuf "
        "or application/json"
    )


def _scrub_attributes(attributes: Any) -> None:
    """Drop body-like keys and over-long strings from a repeated KeyValue field, recursively."""
    keep = []
    for kv in attributes:
        if BODY_KEY.search(kv.key):
            continue
        if not _scrub_value(kv.value):
            continue
        keep.append(kv)
    if len(keep) != len(attributes):
        kept = [type(kv)() for kv in keep]
        for new, old in zip(kept, keep, strict=True):
            new.CopyFrom(old)
        del attributes[:]
        attributes.extend(kept)


def _scrub_value(value: Any) -> bool:
    """Scrub an AnyValue in place; False when it must go altogether."""
    which = value.WhichOneof("value")
    if which == "string_value":
        return len(value.string_value) <= MAX_VALUE_CHARS
    if which == "bytes_value":
        return False
    if which == "kvlist_value":
        _scrub_attributes(value.kvlist_value.values)
    elif which == "array_value":
        items = [v for v in value.array_value.values if _scrub_value(v)]
        if len(items) != len(value.array_value.values):
            copies = [type(v)() for v in items]
            for new, old in zip(copies, items, strict=True):
                new.CopyFrom(old)
            del value.array_value.values[:]
            value.array_value.values.extend(copies)
    return True


def scrub(signal: str, message: Any) -> None:
    """Remove prompt text, tool parameters and bodies from an OTLP request, in place."""
    if signal == "logs":
        for resource in message.resource_logs:
            _scrub_attributes(resource.resource.attributes)
            for scope in resource.scope_logs:
                _scrub_attributes(scope.scope.attributes)
                for record in scope.log_records:
                    _scrub_attributes(record.attributes)
                    body = record.body
                    kind = body.WhichOneof("value")
                    if kind is not None and not (
                        kind == "string_value" and NAME_BODY.match(body.string_value)
                    ):
                        record.ClearField("body")
        return
    for resource in message.resource_metrics:
        _scrub_attributes(resource.resource.attributes)
        for scope in resource.scope_metrics:
            _scrub_attributes(scope.scope.attributes)
            for metric in scope.metrics:
                data = getattr(metric, metric.WhichOneof("data") or "", None)
                for point in getattr(data, "data_points", ()):
                    _scrub_attributes(point.attributes)
                    if hasattr(point, "exemplars"):
                        del point.exemplars[:]  # they carry trace ids and raw attributes


def to_json_line(message: Any) -> str:
    """The message as one line of OTLP JSON (camelCase keys, enums as integers, 64-bit integers
    as strings, trace/span ids as hex), as the Collector's file exporter writes it."""
    from google.protobuf import json_format

    payload = json_format.MessageToDict(message, use_integers_for_enums=True)
    for resource in payload.get("resourceLogs", []):
        for scope in resource.get("scopeLogs", []):
            for record in scope.get("logRecords", []):
                for key in ("traceId", "spanId"):
                    if key in record:
                        record[key] = base64.b64decode(record[key]).hex()
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def record_count(signal: str, message: Any) -> int:
    if signal == "logs":
        return sum(len(s.log_records) for r in message.resource_logs for s in r.scope_logs)
    return sum(len(s.metrics) for r in message.resource_metrics for s in r.scope_metrics)


# ----------------------------------------------------------------------------------------------
# Rotating output
# ----------------------------------------------------------------------------------------------


PART = ".part"  # a file still being written; ``ingest otel-files`` reads only finished ones


@dataclass
class _Open:
    path: Path  # ends in .jsonl.part
    hour: str
    opened: float  # monotonic
    size: int = 0


@dataclass
class RotatingWriter:
    """Appends lines to ``<dir>/<signal>-<UTC stamp>-<pid>-<n>.jsonl.part`` and renames the file
    to ``.jsonl`` once it is finished: past ``rotate_bytes``, ``rotate_seconds`` old (0: one
    file per request), a new UTC hour, or the server stopping. A ``.jsonl`` file is never written
    again, so a reader (``ingest otel-files``, which skips ``.part`` files) takes it whole and
    never sees a half-written line. One lock per writer: lines never interleave. ``.part`` files
    a collector that died left behind are finished when a writer starts on the folder."""

    folder: Path
    rotate_bytes: int = DEFAULT_ROTATE_BYTES
    rotate_seconds: float = DEFAULT_ROTATE_SECONDS
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    monotonic: Callable[[], float] = time.monotonic
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _current: dict[str, _Open] = field(default_factory=dict)
    _serial: int = 0

    def __post_init__(self) -> None:
        for left in self.folder.glob(f"*.jsonl{PART}"):
            pid = left.name.split("-")[2] if left.name.count("-") >= 3 else ""
            if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
                left.rename(left.with_name(left.name.removesuffix(PART)))

    def append(self, signal: str, line: str) -> Path:
        data = (line + "\n").encode("utf-8")
        with self._lock:
            now = self.clock()
            hour = now.strftime("%Y%m%dT%H")
            current = self._current.get(signal)
            if current is not None and (
                current.hour != hour or current.size + len(data) > self.rotate_bytes
            ):
                self._finish(signal)
                current = None
            if current is None:
                self._serial += 1
                stamp = now.strftime("%Y%m%dT%H%M%S")
                name = f"{signal}-{stamp}-{os.getpid()}-{self._serial:04d}.jsonl{PART}"
                current = _Open(self.folder / name, hour, self.monotonic())
                self._current[signal] = current
            with open(current.path, "ab") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            current.size += len(data)
            if self.rotate_seconds <= 0:
                return self._finish(signal)
            return current.path

    def finish_idle(self) -> None:
        """Finish every file older than ``rotate_seconds`` (the server calls this often)."""
        with self._lock:
            for signal, current in list(self._current.items()):
                if self.monotonic() - current.opened >= self.rotate_seconds:
                    self._finish(signal)

    def close(self) -> None:
        with self._lock:
            for signal in list(self._current):
                self._finish(signal)

    def _finish(self, signal: str) -> Path:
        current = self._current.pop(signal)
        done = current.path.with_name(current.path.name.removesuffix(PART))
        current.path.rename(done)
        return done


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# ----------------------------------------------------------------------------------------------
# The HTTP server
# ----------------------------------------------------------------------------------------------

SIGNALS = {"/v1/logs": "logs", "/v1/metrics": "metrics"}


@dataclass
class CollectorSettings:
    out: Path
    token: str | None = None
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    rotate_bytes: int = DEFAULT_ROTATE_BYTES
    rotate_seconds: float = DEFAULT_ROTATE_SECONDS
    max_concurrent: int = DEFAULT_MAX_CONCURRENT
    log: Callable[[str], None] = lambda line: None


class _Handler(BaseHTTPRequestHandler):
    server: CollectorServer
    protocol_version = "HTTP/1.1"
    timeout = 30  # seconds a client may take to send its request

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib's name
        pass  # no per-request access log (it would name paths and clients on stderr)

    def _answer(self, status: int, payload: dict[str, Any] | None = None) -> None:
        body = json.dumps(payload or {}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if status >= 400:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, message: str) -> None:
        self.server.counts[status] = self.server.counts.get(status, 0) + 1
        self.server.settings.log(f"collect: {status} {self.path}: {message}")
        self._answer(status, {"code": status, "message": message})

    def _read_body(self, limit: int) -> bytes:
        """The request body, by Content-Length or chunked (Node's exporters send chunks);
        TooLarge past ``limit`` bytes, before reading them."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts: list[bytes] = []
            total = 0
            while True:
                size_line = self.rfile.readline(1024)
                try:
                    size = int(size_line.split(b";", 1)[0].strip() or b"x", 16)
                except ValueError as exc:
                    raise BadRequest("invalid chunked encoding") from exc
                if size == 0:
                    while self.rfile.readline(1024).strip():  # trailers
                        pass
                    return b"".join(parts)
                total += size
                if total > limit:
                    raise TooLarge()
                chunk = self.rfile.read(size)
                if len(chunk) != size or self.rfile.read(2) != b"\r\n":
                    raise BadRequest("request body shorter than its chunks")
                parts.append(chunk)
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            raise BadRequest("Content-Length required")
        try:
            length = int(length_header)
        except ValueError as exc:
            raise BadRequest("invalid Content-Length") from exc
        if length < 0:
            raise BadRequest("invalid Content-Length")
        if length > limit:
            raise TooLarge()
        body = self.rfile.read(length)
        if len(body) != length:
            raise BadRequest("request body shorter than its Content-Length")
        return body

    def do_GET(self) -> None:  # noqa: N802 - stdlib's name
        if self.path in ("/", "/health", "/healthz"):
            self._answer(200, {"status": "ok"})
        else:
            self._error(404, "not found: POST /v1/logs or /v1/metrics")

    def do_POST(self) -> None:  # noqa: N802 - stdlib's name
        settings = self.server.settings
        signal = SIGNALS.get(self.path.split("?", 1)[0])
        if signal is None:
            self._error(404, "not found: POST /v1/logs or /v1/metrics")
            return
        if settings.token is not None:
            given = self.headers.get("Authorization", "")
            expected = f"Bearer {settings.token}"
            if not hmac.compare_digest(given.encode(), expected.encode()):
                self._error(401, "missing or wrong bearer token")
                return
        if not self.server.slots.acquire(timeout=BUSY_WAIT_SECONDS):
            self._error(503, "busy: too many requests at once; retry")
            return
        try:
            self._receive(signal)
        finally:
            self.server.slots.release()

    def _receive(self, signal: str) -> None:
        """Read, decode, scrub and write one request (holding one of the server's slots)."""
        settings = self.server.settings
        try:
            body = self._read_body(settings.max_request_bytes)
        except TooLarge:
            self._error(413, f"request body over {settings.max_request_bytes} bytes")
            return
        except BadRequest as exc:
            self._error(400 if "Content-Length required" not in str(exc) else 411, str(exc))
            return
        try:
            data = decompress(
                body, self.headers.get("Content-Encoding", ""), settings.max_request_bytes
            )
            message = decode(signal, data, self.headers.get("Content-Type", ""))
        except TooLarge:
            self._error(413, f"request body over {settings.max_request_bytes} bytes decompressed")
            return
        except BadRequest as exc:
            self._error(400, str(exc))
            return
        del body, data
        scrub(signal, message)
        if record_count(signal, message):
            self.server.writer.append(signal, to_json_line(message))
        self.server.counts[200] = self.server.counts.get(200, 0) + 1
        # An empty ExportLogsServiceResponse / ExportMetricsServiceResponse, in the request's
        # encoding (the SDK exporters read neither, but a strict client may).
        if self.headers.get("Content-Type", "").startswith("application/json"):
            self._answer(200, {})
        else:
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()


class CollectorServer(ThreadingHTTPServer):
    """A threaded OTLP/HTTP server writing to a RotatingWriter."""

    daemon_threads = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], settings: CollectorSettings) -> None:
        check_installed()
        settings.out.mkdir(parents=True, exist_ok=True)
        self.settings = settings
        self.writer = RotatingWriter(
            settings.out,
            rotate_bytes=settings.rotate_bytes,
            rotate_seconds=settings.rotate_seconds,
        )
        self.slots = threading.BoundedSemaphore(max(1, settings.max_concurrent))
        self.counts: dict[int, int] = {}
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """One line, not a traceback, for a client that hung up or stalled (timeout)."""
        import sys

        error = sys.exc_info()[1]
        self.settings.log(f"collect: request from {client_address[0]} failed: {error!r}")

    def service_actions(self) -> None:
        """Called by ``serve_forever`` every poll: finish files that are old enough."""
        self.writer.finish_idle()

    def server_close(self) -> None:
        super().server_close()
        self.writer.close()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


def serve(address: str, port: int, settings: CollectorSettings) -> CollectorServer:
    """A bound server (not yet serving: call ``serve_forever``); ConfigError when the address
    cannot be bound."""
    try:
        return CollectorServer((address, port), settings)
    except (OSError, OverflowError) as exc:
        raise ConfigError(
            f"collect: cannot listen on {address}:{port}: "
            f"{getattr(exc, 'strerror', None) or exc}; "
            "choose another --port or --address"
        ) from exc


__all__ = [
    "BadRequest",
    "CollectorServer",
    "CollectorSettings",
    "RotatingWriter",
    "TOKEN_ENV",
    "decode",
    "decompress",
    "scrub",
    "serve",
    "to_json_line",
]
