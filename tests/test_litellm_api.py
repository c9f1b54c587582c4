"""Source `litellm-api` against a local HTTP server speaking LiteLLM's REST shapes.

The server answers ``/spend/logs/v2`` like the proxy does: ``start_date``/``end_date`` required
and inclusive, ``page`` >= 1, ``page_size`` 1-1000, ``{"data", "total", "page", "page_size",
"total_pages", "total_is_capped"}`` with ``total`` capped at 10,000, OFFSET pages sorted by
``startTime`` only (rows sharing a start time come back in a different order on every request,
as with no tie-breaker), and rows without ``messages``/``response``/``proxy_server_request``.
Also ``/key/list`` (size <= 100), ``/team/list`` and ``/user/list``.
"""

from __future__ import annotations

import hashlib
import json
import random
import socket
import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import duckdb
import pytest
from click.testing import CliRunner

from ingest import store
from ingest.cli import cli
from ingest.config import Config
from ingest.context import AppContext, raw_table_ddl
from ingest.runner import run_source

MASTER_KEY = "sk-test-master-1234"
T0 = datetime(2026, 11, 2, 9, 0, 0, tzinfo=UTC)
DAY = T0.date()


def iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def api_row(request_id: str, start: datetime, **kw: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "request_id": request_id,
        "call_type": "anthropic_messages",
        "api_key": hashlib.sha256(b"sk-alice").hexdigest(),
        "spend": 0.0577896,
        "total_tokens": 104_512,
        "prompt_tokens": 104_012,
        "completion_tokens": 500,
        "startTime": iso(start),
        "endTime": iso(start + timedelta(seconds=9)),
        "completionStartTime": iso(start + timedelta(seconds=1)),
        "model": "bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "model_id": "bedrock-1",
        "model_group": "claude-sonnet-4-5",
        "custom_llm_provider": "bedrock",
        "api_base": "https://bedrock-runtime.us-east-1.amazonaws.com",
        "user": "u-alice",
        "team_id": "t-platform",
        "organization_id": None,
        "end_user": "user_x_session_y",
        "session_id": "s-1",
        "status": "success",
        "cache_hit": "None",
        "request_tags": ["User-Agent: claude-cli"],
        "metadata": {
            "user_api_key_alias": "alice-laptop",
            "user_api_key_user_email": "alice@acme.example",
            "user_api_key_team_alias": "platform",
            "usage_object": {
                "prompt_tokens": 104_012,
                "completion_tokens": 500,
                "cache_read_input_tokens": 100_000,
                "cache_creation_input_tokens": 4_000,
                "prompt_tokens_details": {
                    "cached_tokens": 100_000,
                    "cache_creation_tokens": 4_000,
                    "cache_creation_token_details": {
                        "ephemeral_5m_input_tokens": 1_000,
                        "ephemeral_1h_input_tokens": 3_000,
                    },
                },
            },
        },
    }
    row.update(kw)
    return row


class FakeProxy:
    """The rows, keys, teams and users a proxy serves, and the requests it saw."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.keys = [
            {
                "token": hashlib.sha256(b"sk-alice").hexdigest(),
                "key_alias": "alice-laptop",
                "key_name": "sk-...lice",
                "user_id": "u-alice",
                "team_id": "t-platform",
                "tpm_limit": 200_000,
                "rpm_limit": 60,
                "max_budget": 100.0,
                "metadata": {"model_tpm_limit": {"claude-opus-4-6": 50_000}},
                "models": [],
                "blocked": None,
                "expires": None,
            },
        ] + [
            {
                "token": f"{i:064x}",
                "key_alias": f"key-{i:03d}",
                "user_id": None,
                "team_id": "t-platform",
                "metadata": {},
            }
            for i in range(1, 131)  # two /key/list pages of 100
        ]
        self.teams = [
            {
                "team_id": "t-platform",
                "team_alias": "platform",
                "tpm_limit": 1_000_000,
                "rpm_limit": 500,
                "metadata": {},
                "members_with_roles": [],
            }
        ]
        self.users = [
            {"user_id": "u-alice", "user_email": "alice@acme.example", "user_role": "internal_user"}
        ]
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.capped_answers = 0
        self.status: int | None = None  # force an HTTP status on every request
        self.rng = random.Random(7)


def _parse_when(text: str) -> datetime:
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            pass
    raise ValueError(text)


def _start(row: dict[str, Any]) -> datetime:
    cached = row.get("_start")
    if cached is None:
        cached = datetime.fromisoformat(row["startTime"].replace("Z", "+00:00"))
        row["_start"] = cached
    return cached  # type: ignore[no-any-return]


def _handler(proxy: FakeProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def _send(self, code: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802
            url = urlparse(self.path)
            q = {k: v[0] for k, v in parse_qs(url.query).items()}
            proxy.requests.append((url.path, q))
            if proxy.status is not None:
                return self._send(proxy.status, {"error": {"message": "forced"}})
            if self.headers.get("Authorization") != f"Bearer {MASTER_KEY}":
                return self._send(
                    401,
                    {
                        "error": {
                            "message": "Authentication Error, Invalid proxy server token passed.",
                            "code": "401",
                        }
                    },
                )
            if url.path == "/spend/logs/v2":
                return self._spend(q)
            if url.path == "/key/list":
                size, page = int(q.get("size", 10)), int(q.get("page", 1))
                if not 1 <= size <= 100:
                    return self._send(422, {"detail": "size must be <= 100"})
                chunk = proxy.keys[(page - 1) * size : page * size]
                return self._send(
                    200,
                    {
                        "keys": chunk,
                        "total_count": len(proxy.keys),
                        "current_page": page,
                        "total_pages": -(-len(proxy.keys) // size),
                    },
                )
            if url.path == "/team/list":
                return self._send(200, proxy.teams)
            if url.path == "/user/list":
                return self._send(
                    200,
                    {
                        "users": proxy.users,
                        "total": len(proxy.users),
                        "page": 1,
                        "page_size": 100,
                        "total_pages": 1,
                    },
                )
            return self._send(404, {"detail": "Not Found"})

        def _spend(self, q: dict[str, str]) -> None:
            if "start_date" not in q or "end_date" not in q:
                return self._send(
                    400, {"error": {"message": "Start date and end date are required"}}
                )
            page, size = int(q.get("page", 1)), int(q.get("page_size", 50))
            if page < 1 or not 1 <= size <= 1000:
                return self._send(422, {"detail": "invalid page or page_size"})
            lo, hi = _parse_when(q["start_date"]), _parse_when(q["end_date"])
            found = [r for r in proxy.rows if lo <= _start(r) <= hi]
            # ORDER BY "startTime" with no tie-breaker: ties in any order, request to request
            proxy.rng.shuffle(found)
            found.sort(key=lambda r: r["startTime"])
            total = min(len(found), 10_000)
            capped = len(found) > 10_000
            proxy.capped_answers += capped
            data = [
                {k: v for k, v in r.items() if k != "_start"}
                for r in found[(page - 1) * size : page * size]
            ]
            return self._send(
                200,
                {
                    "data": data,
                    "total": total,
                    "page": page,
                    "page_size": size,
                    "total_pages": -(-total // size),
                    "total_is_capped": capped,
                },
            )

    return Handler


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch):
    state = FakeProxy()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"  # type: ignore[attr-defined]
    monkeypatch.setenv("LITELLM_MASTER_KEY", MASTER_KEY)
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def duck(tmp_path: Path):
    con = store.connect(tmp_path / "ledger.duckdb")
    store.ensure_tables(con, raw_table_ddl())
    yield con
    con.close()


def ingest(
    con: duckdb.DuckDBPyConnection,
    proxy: FakeProxy,
    *,
    since: date | None = DAY,
    until: date | None = DAY + timedelta(days=1),
    **options: Any,
) -> Any:
    app = AppContext(db_path=Path("unused.duckdb"), config=Config(path=None), quiet=True)
    return run_source(
        app,
        con,
        "litellm-api",
        {"url": proxy.url, "attempts": 1, **options},  # type: ignore[attr-defined]
        since=since,
        until=until,
    )


def spend_requests(proxy: FakeProxy) -> list[dict[str, str]]:
    return [q for path, q in proxy.requests if path == "/spend/logs/v2"]


# ---------------------------------------------------------------------------------------------


def test_pages_slices_and_dimensions(proxy: FakeProxy, duck: duckdb.DuckDBPyConnection) -> None:
    proxy.rows = [api_row(f"r{i:05d}", T0 + timedelta(seconds=4 * i)) for i in range(2_600)]
    result = ingest(duck, proxy)
    assert (result.new_rows, result.rejected_rows) == (2_600 + 131 + 1 + 1, 0)
    assert duck.execute(
        "select count(*), count(distinct request_id) from raw_litellm_spend"
    ).fetchone() == (2_600, 2_600)
    row = duck.execute(
        "select spend, prompt_tokens, cache_read_tokens, cache_creation_tokens, "
        "cache_write_1h_tokens, key_alias, key_user_email, start_time, source_kind "
        "from raw_litellm_spend where request_id = 'r00001'"
    ).fetchone()
    assert row == (
        Decimal("0.057789600000"),
        104_012,
        100_000,
        4_000,
        3_000,
        "alice-laptop",
        "alice@acme.example",
        T0 + timedelta(seconds=4),
        "api",
    )
    # every request stayed within the endpoint's limits
    for q in spend_requests(proxy):
        assert int(q["page_size"]) <= 1000 and q["sort_by"] == "startTime"
    assert duck.execute("select count(*) from raw_litellm_keys").fetchone() == (131,)
    assert duck.execute(
        "select tpm_limit, model_tpm_limit from raw_litellm_keys where key_alias = 'alice-laptop'"
    ).fetchone() == (200_000, '{"claude-opus-4-6":50000}')
    assert duck.execute("select team_alias, tpm_limit from raw_litellm_teams").fetchall() == [
        ("platform", 1_000_000)
    ]
    assert duck.execute("select user_email from raw_litellm_users").fetchall() == [
        ("alice@acme.example",)
    ]
    assert store.get_cursor(duck, "litellm-api", proxy.url) == iso(  # type: ignore[attr-defined]
        T0 + timedelta(seconds=4 * 2_599)
    ).replace("Z", "000Z")


def test_capped_total_is_cut_into_smaller_slices(
    proxy: FakeProxy, duck: duckdb.DuckDBPyConnection
) -> None:
    # 12,500 rows in 25 minutes: the first answer's total is capped at 10,000
    proxy.rows = [api_row(f"c{i:05d}", T0 + timedelta(milliseconds=120 * i)) for i in range(12_500)]
    result = ingest(duck, proxy)
    assert result.new_rows - 133 == 12_500
    assert proxy.capped_answers >= 1
    assert duck.execute("select count(distinct request_id) from raw_litellm_spend").fetchone() == (
        12_500,
    )
    # no slice was paged with OFFSET: every read was a single page
    assert {q["page"] for q in spend_requests(proxy)} == {"1"}


def test_rows_sharing_a_second_are_all_read(
    proxy: FakeProxy, duck: duckdb.DuckDBPyConnection
) -> None:
    # 1,500 rows in one second (more than a page, and the API cannot cut a second finer); the
    # server orders them differently on every request
    proxy.rows = [
        api_row(f"t{i:04d}", T0 + timedelta(microseconds=500 * (i % 3))) for i in range(1_500)
    ]
    proxy.rows.append(api_row("after", T0 + timedelta(seconds=5)))
    result = ingest(duck, proxy, page_size=1000)
    assert result.new_rows - 133 == 1_501
    assert duck.execute("select count(distinct request_id) from raw_litellm_spend").fetchone() == (
        1_501,
    )
    assert any(q["page"] == "2" for q in spend_requests(proxy))


def test_incremental_with_overlap(proxy: FakeProxy, duck: duckdb.DuckDBPyConnection) -> None:
    proxy.rows = [api_row(f"r{i}", T0 + timedelta(minutes=i)) for i in range(10)]
    first = ingest(duck, proxy)
    assert first.new_rows - 133 == 10
    cursor = store.get_cursor(duck, "litellm-api", proxy.url)  # type: ignore[attr-defined]
    assert cursor == "2026-11-02T09:09:00.000000Z"
    proxy.rows += [
        api_row("late", T0 + timedelta(minutes=9) - timedelta(minutes=12)),
        api_row("new", T0 + timedelta(minutes=30)),
    ]
    proxy.requests.clear()
    second = ingest(duck, proxy, since=None, until=DAY + timedelta(days=1))
    assert (second.new_rows, second.updated_rows) == (2, 0)
    assert spend_requests(proxy)[0]["start_date"] == "2026-11-02 08:39:00"  # cursor - 30 min
    assert duck.execute("select count(*) from raw_litellm_spend").fetchone() == (12,)


def test_malformed_metadata_rejected(proxy: FakeProxy, duck: duckdb.DuckDBPyConnection) -> None:
    proxy.rows = [
        api_row("ok-1", T0),
        api_row("bad", T0 + timedelta(seconds=1), metadata="x"),
        api_row(
            "bad-usage",
            T0 + timedelta(seconds=2),
            metadata={"usage_object": {"cache_read_input_tokens": "many"}},
        ),
    ]
    result = ingest(duck, proxy)
    assert (result.new_rows - 133, result.rejected_rows) == (1, 2)
    assert duck.execute("select location, reason from rejected_records order by 1").fetchall() == [
        ("spend/logs/v2/bad", "malformed metadata: invalid JSON"),
        ("spend/logs/v2/bad-usage", "malformed metadata: token count is not an integer"),
    ]


def test_refused_key_is_one_line_exit_3(
    proxy: FakeProxy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LITELLM_MASTER_KEY", "sk-wrong")
    result = CliRunner().invoke(
        cli, ["--db", str(tmp_path / "l.duckdb"), "ingest", "litellm-api", "--url", proxy.url]
    )  # type: ignore[attr-defined]
    assert result.exit_code == 3
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: litellm-api: {proxy.url} refused the key (HTTP 401 on /key/list). Set the key "  # type: ignore[attr-defined]
        "environment variable (default LITELLM_MASTER_KEY) to the proxy's master key or an "
        "admin key"
    ]
    assert "sk-wrong" not in result.output


def test_proxy_down_exit_3_cursor_kept(proxy: FakeProxy, tmp_path: Path) -> None:
    proxy.rows = [api_row("r1", T0)]
    db = tmp_path / "l.duckdb"
    runner = CliRunner()
    ok = runner.invoke(
        cli,
        [
            "--db",
            str(db),
            "ingest",
            "litellm-api",
            "--url",
            proxy.url,  # type: ignore[attr-defined]
            "--since",
            "2026-11-02",
            "--until",
            "2026-11-03",
        ],
    )
    assert ok.exit_code == 0, ok.output
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    down = runner.invoke(
        cli, ["--db", str(db), "ingest", "litellm-api", "--url", f"http://127.0.0.1:{port}"]
    )
    assert down.exit_code == 3
    errors = [line for line in down.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(
        f"error: litellm-api: cannot reach http://127.0.0.1:{port} after 4 attempts: "
    )
    con = duckdb.connect(str(db))
    assert con.execute("select source, partition, value from ingest_cursors").fetchall() == [
        ("litellm-api", proxy.url, "2026-11-02T09:00:00.000000Z")
    ]  # type: ignore[attr-defined]
