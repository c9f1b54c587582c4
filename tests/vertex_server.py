"""A small in-process HTTP server speaking Cloud Logging's ``POST /v2/entries:list``.

google-cloud-logging has no emulator (reference/vertex.md §2.3). With ``_use_grpc=False``,
anonymous credentials and ``client_options={"api_endpoint": server.url}`` the real client sends
``POST {url}/v2/entries:list?prettyPrint=false`` with a JSON body (resourceNames, filter, orderBy,
pageSize, pageToken) and reads ``{"entries": [...], "nextPageToken": "..."}`` (§2.2).

This server evaluates the filter (a subset of the Logging query language: AND / OR / NOT,
parentheses, ``=``, ``!=``, ``:``, ``<``, ``<=``, ``>``, ``>=`` on dotted fields, timestamps
compared as times) and answers 400 INVALID_ARGUMENT for what it cannot parse, so a filter the
real service would reject fails here too. It pages with opaque page tokens bound to the filter,
and can be told to answer 429 / 503 (or to stay down) before recovering.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}
MESSAGES = {
    429: "Quota exceeded for quota metric 'Read requests' and limit 'Read requests per minute' "
    "of service 'logging.googleapis.com'.",
    503: "The service is currently unavailable.",
}


class FilterError(ValueError):
    pass


# --------------------------------------------------------------------------- filter language

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<lp>\()|(?P<rp>\))|
        (?P<kw>AND|OR|NOT)(?=[\s()]|$)|
        (?P<field>[A-Za-z_][\w.@/%-]*)\s*(?P<op>>=|<=|!=|=|:|<|>)\s*
        (?P<value>"(?:[^"\\]|\\.)*"|[^\s()"]+)
    )""",
    re.VERBOSE,
)


def _tokens(text: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise FilterError(f"Unparseable filter: unexpected text at position {pos}")
        pos = m.end()
        if m.group("lp"):
            out.append(("(", None))
        elif m.group("rp"):
            out.append((")", None))
        elif m.group("kw"):
            out.append((m.group("kw"), None))
        else:
            value = m.group("value")
            if value.startswith('"'):
                value = json.loads(value)
            out.append(("cmp", (m.group("field"), m.group("op"), value)))
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


Predicate = Callable[[dict[str, Any]], bool]


class _Parser:
    def __init__(self, tokens: list[tuple[str, Any]]) -> None:
        self.tokens = tokens
        self.i = 0
        self.comparisons: list[tuple[str, str, str]] = []

    def peek(self) -> str | None:
        return self.tokens[self.i][0] if self.i < len(self.tokens) else None

    def expr(self) -> Predicate:
        terms = [self.term()]
        while self.peek() == "OR":
            self.i += 1
            terms.append(self.term())
        return lambda e: any(t(e) for t in terms)

    def term(self) -> Predicate:
        factors = [self.factor()]
        while self.peek() in ("AND", "(", "NOT", "cmp"):  # juxtaposition is an implicit AND
            if self.peek() == "AND":
                self.i += 1
            factors.append(self.factor())
        return lambda e: all(f(e) for f in factors)

    def factor(self) -> Predicate:
        kind = self.peek()
        if kind == "NOT":
            self.i += 1
            inner = self.factor()
            return lambda e: not inner(e)
        if kind == "(":
            self.i += 1
            inner = self.expr()
            if self.peek() != ")":
                raise FilterError("Unparseable filter: missing ')'")
            self.i += 1
            return inner
        if kind == "cmp":
            field, op, value = self.tokens[self.i][1]
            self.i += 1
            self.comparisons.append((field, op, value))
            return _comparison(field, op, value)
        raise FilterError(f"Unparseable filter: unexpected {kind or 'end of filter'}")


def _lookup(entry: dict[str, Any], path: str) -> Any:
    node: Any = entry
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def parse_time(text: str) -> datetime:
    text = text.strip()
    m = re.fullmatch(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:?\d{2})", text)
    if not m:
        raise FilterError(f"Invalid timestamp {text!r}")
    frac = (m.group(2) or ".0")[1:7].ljust(6, "0")
    tz = "+00:00" if m.group(3) == "Z" else m.group(3)[:3] + ":" + m.group(3)[-2:]
    return datetime.fromisoformat(f"{m.group(1)}.{frac}{tz}").astimezone(UTC)


def _comparison(field: str, op: str, value: str) -> Predicate:
    if field == "timestamp":
        if op not in (">=", ">", "<=", "<", "="):
            raise FilterError(f"Unsupported operator {op} on timestamp")
        bound = parse_time(value)

        def on_time(e: dict[str, Any]) -> bool:
            t = parse_time(str(e.get("timestamp")))
            return {
                ">=": t >= bound,
                ">": t > bound,
                "<=": t <= bound,
                "<": t < bound,
                "=": t == bound,
            }[op]

        return on_time

    def on_field(e: dict[str, Any]) -> bool:
        actual = _lookup(e, field)
        if op == ":":
            if actual is None:
                return False
            if value == "*":
                return True
            hay = actual if isinstance(actual, str) else json.dumps(actual)
            return str(value).lower() in hay.lower()
        if actual is None:
            return op == "!="
        text = actual if isinstance(actual, str) else json.dumps(actual)
        if op == "=":
            return text == value
        if op == "!=":
            return text != value
        return {">=": text >= value, ">": text > value, "<=": text <= value, "<": text < value}[op]

    return on_field


def compile_filter(text: str) -> tuple[Predicate, list[tuple[str, str, str]]]:
    parser = _Parser(_tokens(text))
    predicate = parser.expr()
    if parser.i != len(parser.tokens):
        raise FilterError("Unparseable filter: trailing text")
    return predicate, parser.comparisons


# --------------------------------------------------------------------------- the server


class FakeCloudLogging:
    """``with FakeCloudLogging() as server: ...``; ``server.url`` is the api_endpoint."""

    def __init__(self, *, require_time_window: bool = True) -> None:
        self.entries: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []  # every call: body, headers, status
        self.failures: list[int] = []  # statuses to answer next, one per call
        self.down_status: int | None = None  # answer this to every call while set
        self.empty_first_page = False  # answer an empty page with a token first (the API does)
        self.down_after: int | None = None  # answer 503 to every call after this many
        self.unfiltered: list[dict[str, Any]] = []  # sent on the first page whatever the filter
        self.require_time_window = require_time_window
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # lifecycle
    def __enter__(self) -> FakeCloudLogging:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def add(self, *entries: dict[str, Any]) -> None:
        with self._lock:
            self.entries.extend(entries)

    def fail_next(self, *statuses: int) -> None:
        with self._lock:
            self.failures.extend(statuses)

    @property
    def list_calls(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"] == "/v2/entries:list"]

    # the API
    def answer(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            if self.down_after is not None and len(self.list_calls) >= self.down_after:
                return _error(503)
            if self.down_status is not None:
                return _error(self.down_status)
            if self.failures:
                return _error(self.failures.pop(0))
            entries = list(self.entries)
        try:
            return 200, self._list(body, entries)
        except FilterError as exc:
            return _error(400, str(exc))

    def _list(self, body: dict[str, Any], entries: list[dict[str, Any]]) -> dict[str, Any]:
        names = body.get("resourceNames") or []
        if not names or not all(re.fullmatch(r"projects/[a-z][-a-z0-9]*", n) for n in names):
            raise FilterError("resourceNames must name at least one project: projects/PROJECT_ID")
        filter_text = body.get("filter") or ""
        predicate, comparisons = (
            compile_filter(filter_text) if filter_text else (lambda e: True, [])
        )
        if self.require_time_window:
            ops = {op for field, op, _v in comparisons if field == "timestamp"}
            if not ops & {">=", ">"} or not ops & {"<", "<="}:
                raise FilterError(
                    "this test server requires an explicit timestamp window (both bounds)"
                )
        order = body.get("orderBy", "timestamp asc")
        if order not in ("timestamp asc", "timestamp desc"):
            raise FilterError(f"Invalid orderBy {order!r}")
        size = int(body.get("pageSize", 50))
        if size <= 0 or size > 1000:
            raise FilterError(f"pageSize {size} must be between 1 and 1000")
        prefixes = tuple(n + "/" for n in names)
        matched = [
            e for e in entries if str(e.get("logName", "")).startswith(prefixes) and predicate(e)
        ]
        matched.sort(
            key=lambda e: (parse_time(str(e["timestamp"])), str(e.get("insertId"))),
            reverse=order == "timestamp desc",
        )
        digest = hashlib.sha256(json.dumps([names, filter_text, order]).encode()).hexdigest()[:16]
        offset = 0
        token = body.get("pageToken")
        if token:
            try:
                state = json.loads(base64.urlsafe_b64decode(token.encode()))
            except ValueError:
                raise FilterError("Invalid page token") from None
            if state.get("q") != digest:
                raise FilterError("The page token does not match the request's filter")
            offset = int(state["o"])
            if state.get("empty"):
                offset = 0
        elif self.empty_first_page:
            return {"entries": [], "nextPageToken": _token(digest, 0, empty=True)}
        page = matched[offset : offset + size]
        if offset == 0:
            page = list(self.unfiltered) + page
        out: dict[str, Any] = {"entries": page}
        if offset + size < len(matched):
            out["nextPageToken"] = _token(digest, offset + size)
        return out

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                path = self.path.split("?", 1)[0]
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = None
                if path != "/v2/entries:list":
                    status, payload = _error(404, f"no such method {path}")
                elif not isinstance(body, dict):
                    status, payload = _error(400, "request body is not JSON")
                else:
                    status, payload = fake.answer(body)
                fake.requests.append(
                    {
                        "path": path,
                        "query": self.path.partition("?")[2],
                        "body": body,
                        "headers": dict(self.headers.items()),
                        "status": status,
                    }
                )
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


def _token(digest: str, offset: int, *, empty: bool = False) -> str:
    state = {"q": digest, "o": offset, **({"empty": True} if empty else {})}
    return base64.urlsafe_b64encode(json.dumps(state).encode()).decode()


def _error(status: int, message: str | None = None) -> tuple[int, dict[str, Any]]:
    return status, {
        "error": {
            "code": status,
            "message": message or MESSAGES.get(status, "error"),
            "status": STATUS_NAMES.get(status, "UNKNOWN"),
        }
    }
