"""The Vertex AI sources: the real google-cloud-logging client over HTTP against a local server
speaking entries:list (tests/vertex_server.py), the Cloud Storage sink files, and the models.

Server tests are marked ``service``; the server runs in-process, so they always run.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner
from vertex_server import FakeCloudLogging, parse_time

from ingest import store
from ingest.cli import cli
from ingest.config import Config
from ingest.context import AppContext
from ingest.errors import ConfigError, SourceUnavailable
from ingest.pipeline import build
from ingest.runner import run_source
from ingest.sources.vertex import VERTEX
from ingest.transports import cloud_logging
from models import vertex_health

PROJECT = "test-proj"
NOW = datetime(2026, 11, 3, 12, 0, tzinfo=UTC)
SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"
SONNET = "claude-sonnet-4-5@20250929"
AUDIT_LOG = f"projects/{PROJECT}/logs/cloudaudit.googleapis.com%2Fdata_access"
GATEWAY_LOG = f"projects/{PROJECT}/logs/claude-gateway"
PEOPLE = """email,name,team,cost_center,manager,aliases
ann.lee@corp.example,Ann Lee,search,CC-S,,alee
bo.chen@corp.example,Bo Chen,data,CC-D,,
"""


# --------------------------------------------------------------------------- helpers


def stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"  # nanoseconds, as Cloud Logging writes


def audit(
    insert_id: str,
    at: datetime,
    principal: str = "ann.lee@corp.example",
    *,
    model: str = SONNET,
    region: str = "global",
    status: int = 0,
    method: str = "StreamRawPredict",
    delegation: str | None = None,
) -> dict[str, Any]:
    name = f"projects/{PROJECT}/locations/{region}/publishers/anthropic/models/{model}"
    auth: dict[str, Any] = {"principalEmail": principal}
    if delegation:
        auth["serviceAccountDelegationInfo"] = [
            {"firstPartyPrincipal": {"principalEmail": delegation}}
        ]
    return {
        "insertId": insert_id,
        "logName": AUDIT_LOG,
        "timestamp": stamp(at),
        "severity": "ERROR" if status else "INFO",
        "resource": {
            "type": "audited_resource",
            "labels": {"project_id": PROJECT, "service": "aiplatform.googleapis.com"},
        },
        "protoPayload": {
            "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
            "serviceName": "aiplatform.googleapis.com",
            "methodName": f"google.cloud.aiplatform.v1.PredictionService.{method}",
            "resourceName": name,
            "authenticationInfo": auth,
            "status": {"code": status, "message": "Quota exceeded"} if status else {},
            "requestMetadata": {"callerSuppliedUserAgent": "claude-cli/2.0.42 (external, cli)"},
        },
    }


def response(
    insert_id: str,
    at: datetime,
    response_id: str,
    *,
    model: str = SONNET,
    region: str = "global",
    labels: dict[str, str] | None = None,
    usage: dict[str, Any] | None = None,
    response_model: str | None = None,
) -> dict[str, Any]:
    body = {
        "id": response_id,
        "type": "message",
        "role": "assistant",
        "model": response_model or model.replace("@", "-"),
        "content": [{"type": "text", "text": "LLMLEDGER-BODY-SENTINEL"}],
        "usage": usage if usage is not None else {"input_tokens": 10, "output_tokens": 20},
    }
    entry: dict[str, Any] = {
        "insertId": insert_id,
        "logName": GATEWAY_LOG,
        "timestamp": stamp(at),
        "resource": {"type": "cloud_run_revision", "labels": {"project_id": PROJECT}},
        "jsonPayload": {
            "endpoint": f"projects/{PROJECT}/locations/{region}/publishers/anthropic/models/"
            f"{model}",
            "request": {"messages": [{"role": "user", "content": "LLMLEDGER-BODY-SENTINEL"}]},
            "response": body,
        },
    }
    if labels:
        entry["labels"] = labels
    return entry


class FakeClock:
    """A monotonic clock that only moves when the rate limiter sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture(autouse=True)
def _fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cloud_logging, "RETRY_INITIAL", 0.001)
    monkeypatch.setattr(cloud_logging, "RETRY_MAXIMUM", 0.02)


@pytest.fixture
def server() -> Any:
    with FakeCloudLogging() as s:
        yield s


@pytest.fixture
def ledger(tmp_path: Path) -> tuple[AppContext, duckdb.DuckDBPyConnection]:
    people = tmp_path / "people.csv"
    people.write_text(PEOPLE, encoding="utf-8")
    config = tmp_path / "llmledger.toml"
    config.write_text('[people]\ndirectory = "people.csv"\n', encoding="utf-8")
    from ingest import config as config_mod

    app = AppContext(db_path=tmp_path / "ledger.duckdb", config=config_mod.load(config))
    con = app.connect()
    yield app, con
    con.close()


def ingest(
    app: AppContext,
    con: duckdb.DuckDBPyConnection,
    server: FakeCloudLogging,
    *,
    now: datetime = NOW,
    since: date | None = None,
    until: date | None = None,
    clock: FakeClock | None = None,
    **options: Any,
) -> Any:
    clock = clock or FakeClock()
    opts = {"project": PROJECT, "api_endpoint": server.url, "anonymous": True, **options}
    client = cloud_logging.make_client(
        PROJECT, api_endpoint=server.url, anonymous=True, name="vertex"
    )
    return run_source(
        app,
        con,
        "vertex",
        opts,
        since=since,
        until=until,
        client=client,
        now=now,
        clock=clock,
        sleep=clock.sleep,
    )


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list:
    return con.execute(sql, params or []).fetchall()


def cursor(con: duckdb.DuckDBPyConnection, partition: str = PROJECT) -> str | None:
    return store.get_cursor(con, "vertex", partition)


def filter_bounds(text: str) -> tuple[datetime, datetime]:
    lo = re.search(r'timestamp>="([^"]+)"', text)
    hi = re.search(r'timestamp<"([^"]+)"', text)
    assert lo and hi, text
    return parse_time(lo.group(1)), parse_time(hi.group(1))


T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


# --------------------------------------------------------------------------- the wire


@pytest.mark.service
def test_real_client_speaks_the_wire_contract(ledger, server) -> None:
    app, con = ledger
    server.add(audit("a1", T0), response("u1", T0 + timedelta(seconds=0.3), "msg_vrtx_01"))
    result = ingest(app, con, server, page_size=500)
    assert (result.new_rows, result.rejected_rows) == (2, 0)
    (call,) = server.list_calls
    assert call["query"] == "prettyPrint=false"
    assert "Authorization" not in call["headers"]  # --anonymous sends no credentials
    body = call["body"]
    assert body["resourceNames"] == [f"projects/{PROJECT}"]
    assert body["orderBy"] == "timestamp asc"
    assert body["pageSize"] == 500
    assert body["filter"] == (
        'timestamp>="2026-10-04T12:00:00.000000Z" AND timestamp<"2026-11-03T12:00:00.000000Z" '
        'AND ((protoPayload.serviceName="aiplatform.googleapis.com" AND '
        'protoPayload.methodName:"RawPredict" AND '
        'protoPayload.resourceName:"/publishers/anthropic/models/") OR '
        'jsonPayload.id:"msg_vrtx_" OR jsonPayload.response.id:"msg_vrtx_" OR '
        'jsonPayload.full_response.id:"msg_vrtx_")'
    )
    assert rows(
        con,
        "select insert_id, region, model_id, principal_email, status_code from raw_vertex_audit",
    ) == [("a1", "global", SONNET, "ann.lee@corp.example", 0)]
    assert rows(
        con,
        "select insert_id, shape, response_id, model_id, response_model, "
        "input_tokens, output_tokens from raw_vertex_usage",
    ) == [("u1", "gateway_response", "msg_vrtx_01", SONNET, "claude-sonnet-4-5-20250929", 10, 20)]
    assert cursor(con) == "2026-11-02T10:00:00.300000Z|u1"  # µs: the ns tail is in the overlap


@pytest.mark.service
def test_the_24_hour_trap_is_avoided(ledger, server) -> None:
    """Entries three days old: without an explicit time bound the client would silently
    restrict the query to the last 24 hours and this run would load nothing."""
    app, con = ledger
    server.require_time_window = False  # let the client's own default bound through
    old = datetime.now(UTC) - timedelta(days=3)
    server.add(audit("a-old", old), response("u-old", old, "msg_vrtx_old"))
    result = ingest(app, con, server, now=datetime.now(UTC))
    assert result.new_rows == 2
    lo, hi = filter_bounds(server.list_calls[0]["body"]["filter"])
    assert hi - lo == timedelta(days=cloud_logging.DEFAULT_LOOKBACK_DAYS)

    # What the trap looks like: a filter without "timestamp" gets the client's 24-hour bound.
    assert VERTEX.client is not None
    client = VERTEX.client({"project": PROJECT, "api_endpoint": server.url, "anonymous": True})
    assert list(client.list_entries(filter_='logName:"claude-gateway"')) == []
    sent = server.list_calls[-1]["body"]["filter"]
    assert sent.startswith('logName:"claude-gateway" AND timestamp>="')
    client_lo = parse_time(sent.split('timestamp>="')[1].rstrip('"'))
    assert abs((datetime.now(UTC) - client_lo) - timedelta(days=1)) < timedelta(minutes=5)


@pytest.mark.service
def test_every_filter_has_both_time_bounds_for_backfills(ledger, server) -> None:
    app, con = ledger
    server.add(audit("a1", T0), audit("a2", T0 + timedelta(days=3)))
    result = ingest(app, con, server, since=date(2026, 11, 1), until=date(2026, 11, 3))
    assert result.new_rows == 1
    assert filter_bounds(server.list_calls[0]["body"]["filter"]) == (
        datetime(2026, 11, 1, tzinfo=UTC),
        datetime(2026, 11, 3, tzinfo=UTC),
    )


# --------------------------------------------------------------------------- incremental


@pytest.mark.service
def test_incremental_runs_read_from_the_checkpoint(ledger, server) -> None:
    app, con = ledger
    server.add(*(audit(f"a{i}", T0 + timedelta(minutes=10 * i)) for i in range(5)))
    assert ingest(app, con, server).new_rows == 5
    assert cursor(con) == "2026-11-02T10:40:00.000000Z|a4"

    # Nothing new: re-reading the overlap window (a3, a4) changes nothing.
    again = ingest(app, con, server, now=NOW + timedelta(hours=1))
    assert (again.new_rows, again.updated_rows, again.unchanged_rows) == (0, 0, 2)
    lo, _hi = filter_bounds(server.list_calls[-1]["body"]["filter"])
    assert lo == datetime(2026, 11, 2, 10, 40, tzinfo=UTC) - timedelta(minutes=15)

    # New entries, and a late one that lands inside the overlap window.
    server.add(audit("a5", T0 + timedelta(hours=3)), audit("late", T0 + timedelta(minutes=35)))
    third = ingest(app, con, server, now=NOW + timedelta(hours=2))
    assert third.new_rows == 2
    assert cursor(con) == "2026-11-02T13:00:00.000000Z|a5"
    assert rows(con, "select count(*) from raw_vertex_audit") == [(7,)]


@pytest.mark.service
def test_duplicates_across_overlapping_windows_count_once(ledger, server) -> None:
    app, con = ledger
    server.add(audit("a1", T0), response("u1", T0, "msg_vrtx_1"))
    ingest(app, con, server, since=date(2026, 11, 2), until=date(2026, 11, 3))
    # The same entries again in a wider backfill, plus the same entry served twice.
    server.add(response("u1", T0, "msg_vrtx_1"))
    again = ingest(app, con, server, since=date(2026, 11, 1), until=date(2026, 11, 4))
    assert again.new_rows == 0
    assert rows(con, "select count(*) from raw_vertex_usage") == [(1,)]
    assert rows(con, "select count(*) from raw_vertex_audit") == [(1,)]


@pytest.mark.service
def test_paging_follows_page_tokens_and_an_empty_first_page(ledger, server) -> None:
    app, con = ledger
    server.empty_first_page = True
    server.add(*(audit(f"a{i:02}", T0 + timedelta(seconds=i)) for i in range(7)))
    result = ingest(app, con, server, page_size=3)
    assert result.new_rows == 7
    tokens = [c["body"].get("pageToken") for c in server.list_calls]
    assert len(tokens) == 4 and tokens[0] is None and all(tokens[1:])  # empty, 3, 3, 1
    assert [c["body"]["pageSize"] for c in server.list_calls] == [3] * 4


# --------------------------------------------------------------------------- rate limit, retries


def test_token_bucket_keeps_any_minute_under_the_quota() -> None:
    clock = FakeClock()
    bucket = cloud_logging.TokenBucket(60, clock=clock, sleep=clock.sleep)
    times = []
    for _ in range(150):
        bucket.acquire()
        times.append(clock())
    assert max(sum(1 for u in times if t <= u <= t + 60) for t in times) == 60
    assert times[9] == times[0]  # a burst of 10 first...
    assert times[-1] - times[0] == pytest.approx((150 - 10) / (50 / 60))  # ...then 50 a minute


@pytest.mark.service
def test_paging_respects_the_read_quota(ledger, server) -> None:
    app, con = ledger
    server.add(*(audit(f"a{i:02}", T0 + timedelta(seconds=i)) for i in range(20)))
    clock = FakeClock()
    seen: list[float] = []
    original = cloud_logging.TokenBucket.acquire

    def acquire(self: cloud_logging.TokenBucket) -> None:
        original(self)
        seen.append(self.clock())

    cloud_logging.TokenBucket.acquire = acquire  # type: ignore[method-assign]
    try:
        result = ingest(app, con, server, page_size=1, calls_per_minute=6, clock=clock)
    finally:
        cloud_logging.TokenBucket.acquire = original  # type: ignore[method-assign]
    assert result.new_rows == 20
    assert len(server.list_calls) == len(seen) == 20
    assert max(sum(1 for u in seen if t <= u <= t + 60) for t in seen) == 6
    assert sum(clock.sleeps) == pytest.approx((20 - 1) * 12.0)  # burst 1, then one per 12 s


@pytest.mark.service
def test_429_and_503_are_retried_until_the_server_recovers(ledger, server, capsys) -> None:
    app, con = ledger
    server.add(audit("a1", T0), audit("a2", T0 + timedelta(seconds=1)))
    server.fail_next(429, 503, 429)
    result = ingest(app, con, server, page_size=1)
    assert result.new_rows == 2
    assert [c["status"] for c in server.list_calls] == [429, 503, 429, 200, 200]
    err = capsys.readouterr().err
    assert err.count("vertex: HTTP 429 Too Many Requests from") == 2
    assert err.count("vertex: HTTP 503 Service Unavailable from") == 1


@pytest.mark.service
def test_failure_mid_run_keeps_the_checkpoint_of_the_last_loaded_page(ledger, server) -> None:
    app, con = ledger
    entries = [audit(f"a{i}", T0 + timedelta(minutes=i)) for i in range(6)]
    server.add(*entries)
    server.down_after = 1
    with pytest.raises(SourceUnavailable):
        ingest(app, con, server, page_size=2, retry_deadline_seconds=1)
    assert cursor(con) == "2026-11-02T10:01:00.000000Z|a1"
    assert rows(con, "select insert_id from raw_vertex_audit order by 1") == [("a0",), ("a1",)]
    server.down_after = None
    assert ingest(app, con, server, page_size=2).new_rows == 4
    assert rows(con, "select count(*) from raw_vertex_audit") == [(6,)]


def _cli(tmp_path: Path, *args: str) -> Any:
    return CliRunner().invoke(
        cli, ["--db", str(tmp_path / "cli.duckdb"), *args], catch_exceptions=False
    )


@pytest.mark.service
@pytest.mark.parametrize("down", ["503", "refused"])
def test_endpoint_down_is_one_line_exit_3_and_the_checkpoint_stays(
    tmp_path, server, monkeypatch, down
) -> None:
    monkeypatch.setattr(cloud_logging, "DEFAULT_RETRY_DEADLINE_SECONDS", 0.3)
    server.add(audit("a1", T0))
    ok = _cli(
        tmp_path,
        "ingest",
        "vertex",
        "--project",
        PROJECT,
        "--api-endpoint",
        server.url,
        "--anonymous",
        "--since",
        "2026-11-01",
    )
    assert ok.exit_code == 0, ok.output
    con = duckdb.connect(str(tmp_path / "cli.duckdb"))
    before = cursor(con)
    con.close()
    assert before == "2026-11-02T10:00:00.000000Z|a1"

    if down == "503":
        server.down_status = 503
        url = server.url
        problem = "kept answering HTTP 503 Service Unavailable"
    else:
        url = "http://127.0.0.1:9"  # discard port: nothing listens
        problem = "could not connect"
    failed = _cli(
        tmp_path, "ingest", "vertex", "--project", PROJECT, "--api-endpoint", url, "--anonymous"
    )
    assert failed.exit_code == 3
    errors = [line for line in failed.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: vertex: Cloud Logging at {url} {problem} for 0.3s of retries. Check the "
        f"endpoint and the network, or try again later; the checkpoint for project {PROJECT} "
        "was kept"
    ]
    assert "Traceback" not in failed.output
    con = duckdb.connect(str(tmp_path / "cli.duckdb"))
    assert cursor(con) == before
    assert rows(con, "select count(*) from raw_vertex_audit") == [(1,)]
    assert rows(con, "select status from ingest_runs order by run_id") == [("ok",), ("failed",)]
    con.close()


@pytest.mark.service
def test_a_filter_the_service_rejects_is_a_config_error(ledger, server) -> None:
    app, con = ledger
    with pytest.raises(ConfigError) as exc:
        ingest(app, con, server, filter='labels.team="search" AND (')
    assert str(exc.value) == (
        f"vertex: Cloud Logging rejected the filter for project {PROJECT} (POST "
        f"{server.url}/v2/entries:list?prettyPrint=false: Unparseable filter: unexpected )); "
        "fix the extra filter (--filter or sources.vertex.filter)"
    )


@pytest.mark.service
def test_extra_filter_narrows_the_listing(tmp_path, server) -> None:
    server.add(
        response("u1", T0, "msg_vrtx_1", labels={"team": "search"}),
        response("u2", T0, "msg_vrtx_2", labels={"team": "data"}),
    )
    result = _cli(
        tmp_path,
        "ingest",
        "vertex",
        "--project",
        PROJECT,
        "--api-endpoint",
        server.url,
        "--anonymous",
        "--filter",
        'labels.team="search"',
        "--page-size",
        "50",
        "--since",
        "2026-11-01",
        "--until",
        "2026-11-05",
    )
    assert result.exit_code == 0, result.output
    assert server.list_calls[0]["body"]["filter"].endswith(' AND (labels.team="search")')
    con = duckdb.connect(str(tmp_path / "cli.duckdb"))
    assert rows(con, "select response_id from raw_vertex_usage") == [("msg_vrtx_1",)]
    con.close()


# --------------------------------------------------------------------------- bad entries


@pytest.mark.service
def test_malformed_and_unknown_entries_are_rejected_and_the_rest_loads(ledger, server) -> None:
    app, con = ledger
    good = response("u-good", T0, "msg_vrtx_good")
    bad_type = response(
        "u-type", T0, "msg_vrtx_type", usage={"input_tokens": "lots", "output_tokens": 2}
    )
    negative = response("u-neg", T0, "msg_vrtx_neg", usage={"input_tokens": 1, "output_tokens": -5})
    no_usage = response("u-none", T0, "msg_vrtx_none", usage={})
    not_vertex = response("u-evt", T0, "evt_msg_vrtx_7")  # matches the filter's substring test
    server.add(good, bad_type, negative, no_usage, not_vertex)
    # what the client itself cannot parse: the listing resumes with the next page
    server.unfiltered = [dict(audit("a-badtime", T0), timestamp="yesterday-ish")]
    result = ingest(app, con, server, page_size=2)
    assert result.new_rows == 1
    assert rows(con, "select reason, location from rejected_records order by reason, location") == [
        ("invalid timestamp", f"{AUDIT_LOG}#a-badtime"),
        ("missing field usage.input_tokens", f"{GATEWAY_LOG}#u-none"),
        ("negative usage.output_tokens", f"{GATEWAY_LOG}#u-neg"),
        ("unknown entry kind", f"{GATEWAY_LOG}#u-evt"),
        ("wrong type for usage.input_tokens: expected an integer", f"{GATEWAY_LOG}#u-type"),
    ]
    assert rows(con, "select insert_id from raw_vertex_usage") == [("u-good",)]


@pytest.mark.service
def test_a_page_commits_audit_usage_rejects_and_cursor_in_one_write(
    ledger, server, monkeypatch
) -> None:
    from ingest.loader import Loader

    app, con = ledger
    server.add(
        audit("a1", T0),
        response("u1", T0 + timedelta(seconds=1), "msg_vrtx_1"),
        response("u-none", T0 + timedelta(seconds=2), "msg_vrtx_none", usage={}),
    )
    writes: list[Any] = []
    real_write = Loader.write

    def write(self: Loader, page: Any) -> Any:
        writes.append(page)
        return real_write(self, page)

    monkeypatch.setattr(Loader, "write", write)
    result = ingest(app, con, server, since=date(2026, 11, 2), until=date(2026, 11, 3))
    assert (result.new_rows, result.rejected_rows) == (2, 1)
    (page,) = writes
    assert sorted(page.rows) == ["raw_vertex_audit", "raw_vertex_usage"]
    assert [reason for _location, reason in page.rejected] == ["missing field usage.input_tokens"]
    assert dict(page.cursors) == {PROJECT: "2026-11-02T10:00:02.000000Z|u-none"}


@pytest.mark.service
def test_an_entry_without_an_insert_id_is_located_by_response_and_line(ledger, server) -> None:
    app, con = ledger
    server.empty_first_page = True  # response 1 is empty: the entries arrive in response 2
    anonymous = audit("unused", T0 + timedelta(seconds=1))
    del anonymous["insertId"]
    server.add(audit("a1", T0), anonymous)
    result = ingest(app, con, server, since=date(2026, 11, 2), until=date(2026, 11, 3))
    assert (result.new_rows, result.rejected_rows) == (1, 1)
    assert rows(con, "select reason, location from rejected_records") == [
        ("missing field insertId", f"projects/{PROJECT} entries.list page 2 line:2")
    ]


# --------------------------------------------------------------------------- models


def _events(con: duckdb.DuckDBPyConnection, where: str = "true") -> list[dict[str, Any]]:
    cur = con.execute(
        f"select * from usage_events where source = 'vertex' and {where} "
        "order by occurred_at, event_id"
    )
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


@pytest.mark.service
def test_costs_exact_for_global_regional_and_the_one_hour_cache_write(ledger, server) -> None:
    app, con = ledger
    split = {
        "input_tokens": 1000,
        "output_tokens": 2000,
        "cache_read_input_tokens": 10_000,
        "cache_creation_input_tokens": 7000,
        "cache_creation": {"ephemeral_5m_input_tokens": 3000, "ephemeral_1h_input_tokens": 4000},
    }
    server.add(
        response("g", T0, "msg_vrtx_global", usage=split),
        response(
            "r", T0 + timedelta(minutes=1), "msg_vrtx_regional", region="us-east5", usage=split
        ),
        # Sonnet 4 predates the regional premium: one price everywhere
        response(
            "old",
            T0 + timedelta(minutes=2),
            "msg_vrtx_old",
            model="claude-sonnet-4@20250514",
            region="us-east5",
            usage=split,
        ),
        # Opus 4.6, bare id, Anthropic-API model in the body, only 1-hour writes
        response(
            "opus",
            T0 + timedelta(minutes=3),
            "msg_vrtx_opus",
            model="claude-opus-4-6",
            usage={
                "input_tokens": 3,
                "output_tokens": 7,
                "cache_creation_input_tokens": 123_457,
                "cache_creation": {
                    "ephemeral_5m_input_tokens": 0,
                    "ephemeral_1h_input_tokens": 123_457,
                },
            },
        ),
        # no 5m/1h split: every write is a 5-minute write
        response(
            "nosplit",
            T0 + timedelta(minutes=4),
            "msg_vrtx_nosplit",
            region="europe-west1",
            response_model="claude-sonnet-4-5-20250929",
            usage={"input_tokens": 0, "output_tokens": 0, "cache_creation_input_tokens": 1000},
        ),
        audit("throttled", T0 + timedelta(minutes=5), status=8),
        audit("count", T0 + timedelta(minutes=6), model="count-tokens", method="RawPredict"),
    )
    ingest(app, con, server, since=date(2026, 11, 2), until=date(2026, 11, 3))
    build(app, con)
    got = {e["request_id"]: e for e in _events(con)}
    # Sonnet 4.5 global: 1000x3 + 2000x15 + 10000x0.30 + 3000x3.75 + 4000x6 = 71,250 / 1e6
    assert got["msg_vrtx_global"]["cost_usd"] == Decimal("0.071250000000")
    assert got["msg_vrtx_global"]["pricing_scope"] == "global"
    # regional: every rate +10% (3.30, 16.50, 0.33, 4.125, 6.60) = 78,375 / 1e6
    assert got["msg_vrtx_regional"]["cost_usd"] == Decimal("0.078375000000")
    assert got["msg_vrtx_regional"]["pricing_scope"] == "regional"
    assert got["msg_vrtx_old"]["cost_usd"] == Decimal("0.071250000000")
    assert got["msg_vrtx_old"]["model"] == "claude-sonnet-4"
    # Opus 4.6 1-hour write at $10/MTok: 123,457 x 10 = 1.23457; + 3x5 + 7x25 = 190 / 1e6
    assert got["msg_vrtx_opus"]["cost_usd"] == Decimal("1.234760000000")
    assert (
        got["msg_vrtx_opus"]["cache_write_1h_tokens"],
        got["msg_vrtx_opus"]["cache_write_5m_tokens"],
    ) == (123_457, 0)
    # europe-west1 is regional: 1000 x 4.125
    assert got["msg_vrtx_nosplit"]["cost_usd"] == Decimal("0.004125000000")
    assert got["msg_vrtx_nosplit"]["cache_write_5m_tokens"] == 1000
    audit_rows = {e["request_id"]: e for e in _events(con, "request_id in ('throttled', 'count')")}
    assert (
        audit_rows["throttled"]["status"],
        audit_rows["throttled"]["error_code"],
        audit_rows["throttled"]["cost_usd"],
    ) == ("throttled", "RESOURCE_EXHAUSTED", Decimal("0E-12"))
    assert (
        audit_rows["count"]["model"],
        audit_rows["count"]["billable"],
        audit_rows["count"]["price_version"],
    ) == ("count-tokens", False, "non_billable")
    assert all(not e["unpriced"] for e in got.values())
    # bodies never enter the database (the responses and requests carry a sentinel)
    con.execute("checkpoint")
    assert b"LLMLEDGER-BODY-SENTINEL" not in app.db_path.read_bytes()


@pytest.mark.service
def test_attribution_labels_then_principal_then_a_unique_join(ledger, server) -> None:
    app, con = ledger
    t1, t2, t3, t4 = (T0 + timedelta(minutes=m) for m in (0, 10, 20, 30))
    server.add(
        # labels win (the audit entry is the gateway's service account)
        audit("a-gw", t1, "gw@test-proj.iam.gserviceaccount.com"),
        response(
            "u-gw",
            t1 + timedelta(seconds=0.2),
            "msg_vrtx_gw",
            labels={"developer": "alee", "team": "search"},
        ),
        # no labels: the one audit entry within the window names the caller
        audit("a-bo", t2, "bo.chen@corp.example"),
        response("u-bo", t2 - timedelta(seconds=0.5), "msg_vrtx_bo"),
        # impersonation: the root of the delegation chain
        audit(
            "a-imp",
            t3,
            "batch@test-proj.iam.gserviceaccount.com",
            delegation="ann.lee@corp.example",
        ),
        response("u-imp", t3 + timedelta(seconds=1), "msg_vrtx_imp"),
        # an ambiguous concurrent pair: two callers, same model and region, 0.3 s apart
        audit("a-x", t4, "ann.lee@corp.example"),
        audit("a-y", t4 + timedelta(seconds=0.3), "bo.chen@corp.example"),
        response("u-x", t4 + timedelta(seconds=0.45), "msg_vrtx_x"),
        response("u-y", t4 + timedelta(seconds=0.2), "msg_vrtx_y"),
        # the same model in another region does not join
        response("u-far", t4, "msg_vrtx_far", region="us-east5"),
    )
    ingest(app, con, server, since=date(2026, 11, 2), until=date(2026, 11, 3))
    build(app, con)
    got = {
        e["request_id"]: (e["developer"], e["team"], e["principal"], e["identity_status"])
        for e in _events(con)
    }
    assert got == {
        "msg_vrtx_gw": (
            "ann.lee@corp.example",
            "search",
            "gw@test-proj.iam.gserviceaccount.com",
            "directory",
        ),
        "msg_vrtx_bo": ("bo.chen@corp.example", "data", "bo.chen@corp.example", "directory"),
        "msg_vrtx_imp": (
            "ann.lee@corp.example",
            "search",
            "batch@test-proj.iam.gserviceaccount.com",
            "directory",
        ),
        "msg_vrtx_x": ("unattributed", "unattributed", None, "unattributed"),
        "msg_vrtx_y": ("unattributed", "unattributed", None, "unattributed"),
        "msg_vrtx_far": ("unattributed", "unattributed", None, "unattributed"),
    }
    assert rows(
        con, "select attribution, count(*) from vertex_attribution group by 1 order by 1"
    ) == [("ambiguous", 2), ("audit_join", 2), ("label", 1), ("no_audit_entry", 1)]
    assert rows(con, "select candidates from vertex_attribution where insert_id = 'u-x'") == [(2,)]


@pytest.mark.service
def test_a_burst_is_counted_not_paired(ledger, server) -> None:
    """A busy project puts many calls of one model in every window: each entry's candidates are
    counted (one row per entry, never one per pair), exactly, to the microsecond of the window's
    edge, and only a one-to-one pair attributes."""
    app, con = ledger
    burst = T0 + timedelta(minutes=5)
    entries = []
    for i in range(40):  # 40 calls in 0.39 s: every entry of either side has 40 candidates
        at = burst + timedelta(milliseconds=10 * i)
        entries += [audit(f"a-burst-{i}", at), response(f"u-burst-{i}", at, f"msg_vrtx_burst_{i}")]
    edge = T0 + timedelta(minutes=10)
    far = T0 + timedelta(minutes=15)
    entries += [
        # exactly the 2 s window apart: a candidate, and the only one on both sides
        audit("a-edge", edge, "bo.chen@corp.example"),
        response("u-edge", edge + timedelta(seconds=2), "msg_vrtx_edge"),
        # a microsecond beyond it: none
        audit("a-far", far, "bo.chen@corp.example"),
        response("u-far", far + timedelta(seconds=2, microseconds=1), "msg_vrtx_far"),
    ]
    server.add(*entries)
    ingest(app, con, server, since=date(2026, 11, 2), until=date(2026, 11, 3))
    build(app, con)
    assert rows(
        con, "select side, count(*) from int_vertex_audit_candidates group by 1 order by 1"
    ) == [
        ("audit", 42),
        ("response", 42),
    ]
    assert rows(
        con,
        "select candidates, count(*) from int_vertex_audit_candidates "
        "where insert_id like '%-burst-%' group by 1",
    ) == [(40, 80)]
    assert rows(
        con,
        "select insert_id, attribution, candidates, matched_audit_insert_id "
        "from vertex_attribution where insert_id not like '%-burst-%' order by 1",
    ) == [
        ("a-far", "audit_without_response", 0, "a-far"),
        ("u-edge", "audit_join", 1, "a-edge"),
        ("u-far", "no_audit_entry", 0, None),
    ]
    assert rows(
        con,
        "select attribution, count(*), min(candidates), max(candidates) from vertex_attribution "
        "where insert_id like 'u-burst-%' group by 1",
    ) == [("ambiguous", 40, 40, 40)]
    got = {e["request_id"]: e["developer"] for e in _events(con)}
    assert got["msg_vrtx_edge"] == "bo.chen@corp.example"
    assert got["msg_vrtx_far"] == "unattributed"
    assert {got[f"msg_vrtx_burst_{i}"] for i in range(40)} == {"unattributed"}


@pytest.mark.service
def test_the_match_window_is_configurable(tmp_path, server) -> None:
    (tmp_path / "people.csv").write_text(PEOPLE, encoding="utf-8")
    config = tmp_path / "llmledger.toml"
    config.write_text(
        '[people]\ndirectory = "people.csv"\n[identity]\nvertex_match_window_seconds = 5\n',
        encoding="utf-8",
    )
    from ingest import config as config_mod

    app = AppContext(db_path=tmp_path / "w.duckdb", config=config_mod.load(config))
    con = app.connect()
    server.add(
        audit("a-bo", T0, "bo.chen@corp.example"),
        response("u-bo", T0 + timedelta(seconds=4), "msg_vrtx_bo"),
    )
    ingest(app, con, server, since=date(2026, 11, 2), until=date(2026, 11, 3))
    build(app, con)
    assert [e["developer"] for e in _events(con)] == ["bo.chen@corp.example"]
    app.config = Config(path=None)  # the default 2 s window: 4 s apart is no match
    build(app, con)
    assert [e["developer"] for e in _events(con)] == ["unattributed"]
    con.close()


# --------------------------------------------------------------------------- files mode


def test_sample_files_load_with_the_planted_bad_input(tmp_path) -> None:
    manifest = json.loads((SAMPLE / "vertex.manifest.json").read_text())
    app = AppContext.create(str(tmp_path / "files.duckdb"), str(SAMPLE / "llmledger.toml"))
    con = app.connect()
    first = run_source(app, con, "vertex-files", {"path": str(SAMPLE / "vertex")})
    assert first.rejected_rows == len(manifest["rejected"]) == 2
    # The Gemini call and the gateway's start-up line are valid entries, out of scope.
    assert first.skipped == manifest["skipped"] == {"gemini": 1, "not Vertex AI": 1}
    assert sorted(rows(con, "select location, reason from rejected_records")) == sorted(
        (r["location"], r["reason"]) for r in manifest["rejected"]
    )
    counts = manifest["counts"]
    assert rows(con, "select count(*) from raw_vertex_audit") == [(counts["audit entries"],)]
    assert rows(con, "select count(*) from raw_vertex_usage") == [(manifest["token_requests"],)]
    tokens = manifest["tokens"]
    assert rows(
        con,
        "select sum(input_tokens), sum(output_tokens), sum(cache_read_tokens), "
        "sum(cache_write_1h_tokens) from raw_vertex_usage",
    ) == [
        (
            tokens["input_tokens"],
            tokens["output_tokens"],
            tokens["cache_read_input_tokens"],
            tokens["ephemeral_1h_input_tokens"],
        )
    ]
    again = run_source(app, con, "vertex-files", {"path": str(SAMPLE / "vertex")})
    assert (again.new_rows, again.updated_rows, again.rejected_rows) == (0, 0, 0)

    build(app, con)
    stats = dict(rows(con, "select attribution, count(*) from vertex_attribution group by 1"))
    assert stats["ambiguous"] == 2
    assert stats["no_audit_entry"] == 1
    assert stats["audit_without_response"] == 1
    assert stats["label"] == manifest["gateway_token_entries_with_developer_label"]
    assert stats["audit_join"] == (
        manifest["collector_entries_attributed_by_join"]
        + manifest["gateway_token_entries_team_label_only"]
    )
    ambiguous = rows(
        con, "select insert_id from vertex_attribution where attribution = 'ambiguous' order by 1"
    )
    assert [r[0] for r in ambiguous] == sorted(manifest["ambiguous_pair"])
    assert rows(
        con, "select count(*) from usage_events where source = 'vertex' and status = 'throttled'"
    ) == [(manifest["throttled"],)]
    assert rows(
        con, "select count(*) from usage_events where source = 'vertex' and not billable"
    ) == [(manifest["count_tokens_calls"],)]
    assert rows(con, "select count(*) from usage_events where source = 'vertex' and unpriced") == [
        (0,)
    ]
    findings = vertex_health.doctor_findings(con)
    assert [level for level, _text in findings] == ["ok", "warn", "warn", "info"]
    assert findings[1][1].startswith(
        "vertex: 2 responses left unattributed because their audit join was ambiguous ($"
    )
    con.execute("checkpoint")
    con.close()
    assert b"LLMLEDGER-BODY-SENTINEL" not in (tmp_path / "files.duckdb").read_bytes()


def test_files_since_until_select_by_the_date_in_the_path(tmp_path) -> None:
    app = AppContext.create(str(tmp_path / "days.duckdb"), None)
    con = app.connect()
    run_source(
        app,
        con,
        "vertex-files",
        {"path": str(SAMPLE / "vertex")},
        since=date(2026, 11, 5),
        until=date(2026, 11, 6),
    )
    assert rows(
        con, "select min(occurred_at)::date, max(occurred_at)::date from raw_vertex_audit"
    ) == [(date(2026, 11, 5), date(2026, 11, 5))]
    assert rows(
        con, "select count(*) from processed_objects where object_key not like '%/2026/11/05/%'"
    ) == [(0,)]


def test_vertex_files_cli(tmp_path) -> None:
    result = _cli(
        tmp_path,
        "ingest",
        "vertex-files",
        str(SAMPLE / "vertex"),
        "--since",
        "2026-11-05",
        "--until",
        "2026-11-06",
    )
    assert result.exit_code == 0, result.output
    assert "vertex-files:" in result.stderr
    missing = _cli(tmp_path, "ingest", "vertex-files", str(tmp_path / "nope"))
    assert missing.exit_code == 2


def test_help_has_examples() -> None:
    for command in ("vertex", "vertex-files"):
        out = CliRunner().invoke(cli, ["ingest", command, "--help"]).output
        assert "Example:" in out and "llmledger" in out


def test_the_old_config_spelling_vertex_files_still_reads(tmp_path) -> None:
    config = tmp_path / "llmledger.toml"
    config.write_text(f'[[sources.vertex_files]]\npath = "{SAMPLE / "vertex"}"\n', encoding="utf-8")
    result = _cli(
        tmp_path,
        "--config",
        str(config),
        "ingest",
        "--since",
        "2026-11-05",
        "--until",
        "2026-11-06",
    )
    assert result.exit_code == 0, result.output
    assert "vertex-files: " in result.stderr
    con = duckdb.connect(str(tmp_path / "cli.duckdb"))
    assert rows(con, "select count(*) > 0 from raw_vertex_audit") == [(True,)]
    assert rows(con, "select distinct source from ingest_runs") == [("vertex-files",)]
    con.close()


@pytest.mark.service
def test_configured_source_runs_from_the_config_file(tmp_path, server) -> None:
    server.add(*(audit(f"a{i}", T0 + timedelta(seconds=i)) for i in range(3)))
    config = tmp_path / "llmledger.toml"
    config.write_text(
        f'[[sources.vertex]]\nproject = "{PROJECT}"\napi_endpoint = "{server.url}"\n'
        "anonymous = true\npage_size = 1\ncalls_per_minute = 600\noverlap_minutes = 5\n"
        "retry_deadline_seconds = 10\n",
        encoding="utf-8",
    )
    result = _cli(tmp_path, "--config", str(config), "ingest", "--since", "2026-11-01")
    assert result.exit_code == 0, result.output
    assert "vertex: 3 new, 0 updated, 0 rejected" in result.stderr
    assert len(server.list_calls) == 3


@pytest.mark.service
def test_refused_credentials_are_exit_3_without_retrying(ledger, server) -> None:
    app, con = ledger
    server.fail_next(403)
    with pytest.raises(SourceUnavailable) as exc:
        ingest(app, con, server)
    assert str(exc.value) == (
        f"vertex: Cloud Logging refused the credentials for project {PROJECT} (HTTP 403 "
        "Forbidden). Grant the caller roles/logging.privateLogViewer on the project (Data "
        "Access audit logs need it) or check GOOGLE_APPLICATION_CREDENTIALS; the checkpoint for "
        f"project {PROJECT} was kept"
    )
    assert len(server.list_calls) == 1


def test_missing_google_credentials_name_the_fix(ledger, server, monkeypatch, tmp_path) -> None:
    app, con = ledger
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "no-such-key.json"))
    with pytest.raises(SourceUnavailable) as exc:
        run_source(app, con, "vertex", {"project": PROJECT, "api_endpoint": server.url})
    assert str(exc.value) == (
        "vertex: no Google credentials found. Run `gcloud auth application-default login`, set "
        "GOOGLE_APPLICATION_CREDENTIALS to a service-account key file, or pass --anonymous with "
        "a local --api-endpoint"
    )
    assert server.list_calls == []
