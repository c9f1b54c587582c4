"""Claude Code telemetry: `llmledger collect` through the OpenTelemetry SDK's own OTLP/HTTP
exporters, bad requests, `ingest otel-files` over Collector file-exporter output, and the
attribution join that names the developer behind a shared Bedrock role."""

from __future__ import annotations

import gzip
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner
from fixtures_models import PEOPLE_CSV, add_bedrock, build, new_ledger
from moto_server import aws, moto_endpoint  # noqa: F401 - fixtures
from otel_records import api_request, event, logs_line, metrics_line

from ingest import store
from ingest.cli import cli
from ingest.collector import CollectorServer, CollectorSettings, RotatingWriter, serve
from ingest.sources.bedrock import format as bedrock
from models import runner, views
from models.doctor import data_findings
from models.views import Scope

pytest.importorskip("opentelemetry.proto")

TOKEN = "t0ken-for-tests"
SHARED_ROLE = "arn:aws:sts::111122223333:assumed-role/BedrockShared/botocore-session-1700000000"
PEOPLE = PEOPLE_CSV + "dana@corp.example,Dana D,search,CC-SEARCH,boss@corp.example,dd-laptop\n"
ALICE_ID = "a" * 64


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[CollectorServer]:
    server = serve(
        "127.0.0.1",
        0,
        CollectorSettings(
            out=tmp_path / "otel", token=TOKEN, max_request_bytes=64 * 1024, rotate_seconds=0
        ),
    )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def _files(server: CollectorServer) -> list[Path]:
    return sorted(server.settings.out.iterdir())


def _lines(server: CollectorServer) -> list[dict[str, Any]]:
    return [json.loads(line) for p in _files(server) for line in p.read_text().splitlines()]


def _post(
    server: CollectorServer,
    path: str,
    body: bytes,
    *,
    content_type: str = "application/json",
    token: str | None = TOKEN,
    encoding: str | None = None,
) -> int:
    headers = {"Content-Type": content_type}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if encoding:
        headers["Content-Encoding"] = encoding
    request = urllib.request.Request(server.url + path, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def _ingest(db: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--db", str(db), *args])
    assert result.exit_code == 0, result.output + (result.stderr or "")
    return result.output + (result.stderr or "")


def _rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


# ---------------------------------------------------------------------------------------------
# The collector, through the real OpenTelemetry SDK exporters


def _sdk_logs(server: CollectorServer, protocol: str) -> None:
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
    from opentelemetry.sdk.resources import Resource

    assert protocol == "http/protobuf"  # the Python SDK exporter speaks protobuf only
    provider = LoggerProvider(
        resource=Resource.create(
            {"service.name": "claude-code", "team.id": "platform", "cost_center": "eng-123"}
        )
    )
    exporter = OTLPLogExporter(
        endpoint=server.url + "/v1/logs",
        headers={"Authorization": f"Bearer {TOKEN}"},
        compression=Compression.Gzip,
    )
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    logger = provider.get_logger("com.anthropic.claude_code.events")
    logger.emit(
        timestamp=1_793_613_603_000_000_000,  # 2026-11-02T10:00:03Z
        body="claude_code.api_request",
        attributes={
            "event.name": "api_request",
            "session.id": "s-1",
            "event.sequence": 4,
            "user.email": "alice@corp.example",
            "user.id": ALICE_ID,
            "model": "claude-sonnet-4-5-20250929",
            "input_tokens": 1200,
            "output_tokens": 340,
            "cache_read_tokens": 5000,
            "cache_creation_tokens": 700,
            "cost_usd": 0.012345,
            "duration_ms": 2100,
            "request_id": "req_011CSDKexample",
        },
    )
    logger.emit(
        timestamp=1_793_613_601_000_000_000,
        body="the whole prompt: fix the PRIVATE bug",
        attributes={
            "event.name": "user_prompt",
            "prompt": "fix the PRIVATE bug",
            "prompt_length": 19,
            "prompt.id": "p-1",
        },
    )
    logger.emit(
        timestamp=1_793_613_602_000_000_000,
        body="claude_code.tool_result",
        attributes={
            "event.name": "tool_result",
            "tool_name": "Bash",
            "tool_parameters": '{"command": "cat PRIVATE"}',
            "success": True,
        },
    )
    provider.force_flush()
    provider.shutdown()


def test_collect_writes_sdk_logs_as_otlp_json_lines_without_prompts(
    collector: CollectorServer, tmp_path: Path
) -> None:
    _sdk_logs(collector, "http/protobuf")

    assert collector.counts == {200: 3}
    text = "".join(p.read_text() for p in _files(collector))
    assert "PRIVATE" not in text
    assert {p.name.split("-")[0] for p in _files(collector)} == {"logs"}
    lines = _lines(collector)
    records = [
        r
        for line in lines
        for rl in line["resourceLogs"]
        for sl in rl["scopeLogs"]
        for r in sl["logRecords"]
    ]
    keys = [sorted(a["key"] for a in r["attributes"]) for r in records]
    assert keys[1] == ["event.name", "prompt.id", "prompt_length"]  # prompt text gone
    assert keys[2] == ["event.name", "success", "tool_name"]  # tool parameters gone
    assert "body" not in records[1]  # a body that is not an event name is dropped
    assert records[0]["body"] == {"stringValue": "claude_code.api_request"}

    db = tmp_path / "ledger.duckdb"
    _ingest(db, "ingest", "otel-files", str(collector.settings.out))
    assert _rows(
        db,
        "select event_name, session_id, event_sequence, user_email, user_id, model, "
        "input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens, cost_usd, "
        "duration_ms, request_id, team_id, cost_center, occurred_at::varchar "
        "from raw_claude_code",
    ) == [
        (
            "api_request",
            "s-1",
            4,
            "alice@corp.example",
            ALICE_ID,
            "claude-sonnet-4-5-20250929",
            1200,
            340,
            5000,
            700,
            Decimal("0.012345000000"),
            2100,
            "req_011CSDKexample",
            "platform",
            "eng-123",
            "2026-11-02 10:00:03+00",
        )
    ]


def test_collect_writes_sdk_metrics_with_their_temporality(
    collector: CollectorServer, tmp_path: Path
) -> None:
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.sdk.metrics import Counter, MeterProvider
    from opentelemetry.sdk.metrics.export import (
        AggregationTemporality,
        PeriodicExportingMetricReader,
    )
    from opentelemetry.sdk.resources import Resource

    for temporality in (AggregationTemporality.DELTA, AggregationTemporality.CUMULATIVE):
        reader = PeriodicExportingMetricReader(
            OTLPMetricExporter(
                endpoint=collector.url + "/v1/metrics",
                headers={"Authorization": f"Bearer {TOKEN}"},
                preferred_temporality={Counter: temporality},
            ),
            export_interval_millis=3_600_000,
        )
        meters = MeterProvider(
            resource=Resource.create({"service.name": "claude-code", "user.id": ALICE_ID}),
            metric_readers=[reader],
        )
        counter = meters.get_meter("com.anthropic.claude_code").create_counter(
            "claude_code.token.usage"
        )
        counter.add(1200, {"type": "input", "model": "claude-sonnet-4-5-20250929"})
        counter.add(340, {"type": "output", "model": "claude-sonnet-4-5-20250929"})
        meters.shutdown()  # exports once

    db = tmp_path / "ledger.duckdb"
    _ingest(db, "ingest", "otel-files", str(collector.settings.out))
    assert _rows(
        db,
        "select metric_name, temporality, token_type, value, user_id "
        "from raw_claude_code_metrics order by temporality, token_type",
    ) == [
        ("claude_code.token.usage", "cumulative", "input", Decimal("1200"), ALICE_ID),
        ("claude_code.token.usage", "cumulative", "output", Decimal("340"), ALICE_ID),
        ("claude_code.token.usage", "delta", "input", Decimal("1200"), ALICE_ID),
        ("claude_code.token.usage", "delta", "output", Decimal("340"), ALICE_ID),
    ]


def test_collect_accepts_gzip_json(collector: CollectorServer) -> None:
    line = logs_line([api_request(email="dana@corp.example")])
    assert _post(collector, "/v1/logs", gzip.compress(line.encode()), encoding="gzip") == 200
    assert _post(collector, "/v1/metrics", metrics_line([]).encode()) == 200  # nothing to write
    assert [p.name.split("-")[0] for p in _files(collector)] == ["logs"]
    assert (
        _lines(collector)[0]["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]["timeUnixNano"]
        == api_request()["timeUnixNano"]
    )


@pytest.mark.parametrize(
    ("path", "body", "kwargs", "status"),
    [
        ("/v1/logs", b"\x0a\xff\xff", {"content_type": "application/x-protobuf"}, 400),
        ("/v1/logs", b"{broken", {}, 400),
        ("/v1/logs", b'{"resourceLogs": "x"}', {}, 400),
        ("/v1/metrics", b"[1, 2]", {}, 400),
        ("/v1/logs", b"not gzip", {"encoding": "gzip"}, 400),
        ("/v1/logs", b"{}", {"content_type": "text/plain"}, 400),
        ("/v1/logs", b"{}", {"token": "wrong"}, 401),
        ("/v1/logs", b"{}", {"token": None}, 401),
        ("/v1/traces", b"{}", {}, 404),
        ("/v1/logs", b" " * (64 * 1024 + 1), {}, 413),
        ("/v1/logs", gzip.compress(b" " * (1 << 20)), {"encoding": "gzip"}, 413),
    ],
    ids=[
        "bad-protobuf",
        "bad-json",
        "json-wrong-shape",
        "json-not-object",
        "bad-gzip",
        "content-type",
        "wrong-token",
        "missing-token",
        "unknown-path",
        "oversized",
        "gzip-bomb",
    ],
)
def test_collect_refuses_bad_requests_and_writes_nothing(
    collector: CollectorServer, path: str, body: bytes, kwargs: dict[str, Any], status: int
) -> None:
    assert _post(collector, path, body, **kwargs) == status
    assert _files(collector) == []
    # and the server still answers a good request afterwards
    assert _post(collector, "/v1/logs", logs_line([api_request()]).encode()) == 200


def test_collect_command_help_and_bad_port() -> None:
    text = CliRunner().invoke(cli, ["collect", "--help"]).output
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" in text and "--max-request-bytes" in text
    result = CliRunner().invoke(cli, ["collect", "--out", "x", "--port", "99999"])
    assert result.exit_code == 2
    assert "Invalid value for '--port'" in result.output + result.stderr


def test_collect_port_in_use_is_one_line(collector: CollectorServer, tmp_path: Path) -> None:
    port = str(collector.server_address[1])
    result = CliRunner().invoke(cli, ["collect", "--out", str(tmp_path / "o"), "--port", port])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: collect: cannot listen on 127.0.0.1:{port}: ")


# ---------------------------------------------------------------------------------------------
# otel-files over Collector file-exporter output


def test_otel_files_reads_collector_file_exporter_output(tmp_path: Path) -> None:
    folder = tmp_path / "collector"
    folder.mkdir()
    logs = [
        logs_line(
            [
                event("user_prompt", prompt_length=12),
                api_request(email="alice@corp.example", request_id="req_1", sequence=2),
                event("api_error", model="claude-sonnet-4-5", status_code="429", error="rate"),
            ],
            {"team.id": "payments", "cost_center": "CC-PAY"},
        ),
        "{broken",
        '{"something": 1}',
        logs_line([api_request(input_tokens=-1, sequence=3)]),
        logs_line([api_request(sequence=4, extra={"model": None})]),
    ]
    (folder / "logs.json").write_text("\n".join(logs) + "\n")
    metrics = metrics_line(
        [
            (
                "claude_code.cost.usage",
                {"model": "m"},
                0.5,
                "2026-11-02T10:00:00Z",
                "2026-11-02T10:01:00Z",
            ),
            (
                "claude_code.token.usage",
                {"type": "cacheRead"},
                900,
                "2026-11-02T10:00:00Z",
                "2026-11-02T10:01:00Z",
            ),
            ("other.metric", {}, 1, "2026-11-02T10:00:00Z", "2026-11-02T10:01:00Z"),
        ],
        temporality=2,
    )
    (folder / "metrics.jsonl.gz").write_bytes(gzip.compress((metrics + "\n").encode()))
    db = tmp_path / "ledger.duckdb"
    _ingest(db, "ingest", "otel-files", str(folder))

    assert _rows(
        db, "select event_name, request_id, status_code, team_id from raw_claude_code order by 1"
    ) == [("api_error", None, "429", "payments"), ("api_request", "req_1", None, "payments")]
    assert _rows(
        db,
        "select metric_name, temporality, token_type, value from raw_claude_code_metrics "
        "order by 1",
    ) == [
        ("claude_code.cost.usage", "cumulative", None, Decimal("0.5")),
        ("claude_code.token.usage", "cumulative", "cacheRead", Decimal("900")),
    ]
    assert _rows(db, "select location, reason from rejected_records order by 1") == [
        ("collector/logs.json:2", "malformed JSON"),
        (
            "collector/logs.json:3",
            "not an OTLP export request (no resourceLogs or resourceMetrics)",
        ),
        ("collector/logs.json:4#1", "negative input_tokens"),
        ("collector/logs.json:5#1", "missing attribute model"),
    ]
    # the api_error is an error, not spend; the api_request has no provider record here, so
    # it is counted, priced from the price book: 100 * $3.30 + 50 * $16.50 per million tokens
    assert _rows(
        db,
        "select status, error_code, billable, counted, cost_usd from usage_events "
        "where source = 'claude_code' order by status",
    ) == [
        ("ok", None, True, True, Decimal("0.001155000000")),
        ("throttled", "429", False, True, Decimal("0E-12")),
    ]

    # report --by session (the api_error carries no session.id here)
    out = _ingest(db, "report", "--by", "session", "--format", "json")
    assert json.loads(out[: out.rindex("]") + 1]) == [
        {
            "session_id": "11111111-1111-4111-8111-111111111111",
            "day": "2026-11-02",
            "developer": "alice@corp.example",
            "team": "payments",
            "requests": 1,
            "errors": 0,
            "input_tokens": 100,
            "output_tokens": 50,
            "cache_read_tokens": 0,
            "cache_write_tokens": 0,
            "cost_usd": "0.001155000000",
            "reported_cost_usd": "0.001050000000",
            "active_seconds": "0.000",
        }
    ]

    # reading again adds nothing
    _ingest(db, "ingest", "otel-files", str(folder))
    assert _rows(db, "select count(*) from raw_claude_code") == [(2,)]


# ---------------------------------------------------------------------------------------------
# The attribution join


def _ledger(tmp_path: Path, lines: list[str]) -> duckdb.DuckDBPyConnection:
    folder = tmp_path / "otel"
    folder.mkdir(exist_ok=True)
    (folder / "logs.jsonl").write_text("\n".join(lines) + "\n")
    db = tmp_path / "ledger.duckdb"
    _ingest(db, "ingest", "otel-files", str(folder))
    con = duckdb.connect(str(db))
    con.execute("set timezone = 'UTC'")
    store.ensure_tables(con, bedrock.RAW_TABLE_DDL)
    return con


def _by_developer(con: duckdb.DuckDBPyConnection) -> dict[str, Decimal]:
    return {
        str(d): Decimal(c)
        for d, c in con.execute(
            "select developer, sum(cost_usd) from usage_events where counted group by 1"
        ).fetchall()
    }


def _shared_role_traffic(con: duckdb.DuckDBPyConnection) -> None:
    # Sonnet 4.5 on a us. profile: $3.30 / $16.50 / $0.33 cache read / $4.125 cache write per
    # million tokens (the geo premium).
    add_bedrock(con, "br-1", principal=SHARED_ROLE, input_tokens=1000, output_tokens=100)
    add_bedrock(
        con,
        "br-2",
        principal=SHARED_ROLE,
        input_tokens=2000,
        output_tokens=200,
        cache_read=10_000,
        at="2026-11-02T10:05:00Z",
    )
    add_bedrock(
        con,
        "br-3",
        principal=SHARED_ROLE,
        input_tokens=500,
        output_tokens=50,
        at="2026-11-02T11:00:00Z",
    )


def test_shared_role_traffic_gets_exact_per_developer_costs(tmp_path: Path) -> None:
    lines = [
        logs_line(
            [
                api_request(
                    email="alice@corp.example",
                    input_tokens=1000,
                    output_tokens=100,
                    at="2026-11-02T10:00:04Z",
                    cost=0.0049,
                ),
            ]
        ),
        # no user.email: user.id is an alias of Dana's in the people directory
        logs_line(
            [
                api_request(
                    user_id="dd-laptop",
                    input_tokens=2000,
                    output_tokens=200,
                    cache_read=10_000,
                    at="2026-11-02T10:05:02Z",
                    cost=0.001,
                    sequence=2,
                )
            ],
            {"cost_center": "ignored-directory-wins"},
        ),
    ]
    con = _ledger(tmp_path, lines)
    _shared_role_traffic(con)

    # before: the same provider records with no telemetry are all unattributed
    before = new_ledger()
    _shared_role_traffic(before)
    build(before, tmp_path, people=PEOPLE)
    assert _by_developer(before) == {"unattributed": Decimal("0.020625000000")}

    build(con, tmp_path, people=PEOPLE)
    # br-1: 1000 * 3.30 + 100 * 16.50 = $0.00495; br-2: 2000 * 3.30 + 200 * 16.50 + 10000 * 0.33
    # = $0.0132; br-3 has no telemetry and stays unattributed: 500 * 3.30 + 50 * 16.50
    assert _by_developer(con) == {
        "alice@corp.example": Decimal("0.004950000000"),
        "dana@corp.example": Decimal("0.013200000000"),
        "unattributed": Decimal("0.002475000000"),
    }
    assert sum(_by_developer(con).values()) == Decimal("0.020625000000")
    assert [c.name for c in runner.run_checks(con) if not c.ok] == []
    rows = con.execute(
        "select request_id, developer, team, cost_center, identity_status, principal "
        "from usage_events where source = 'bedrock' order by request_id"
    ).fetchall()
    assert rows == [
        ("br-1", "alice@corp.example", "payments", "CC-PAY", "telemetry", SHARED_ROLE),
        ("br-2", "dana@corp.example", "search", "CC-SEARCH", "telemetry", SHARED_ROLE),
        ("br-3", "unattributed", "unattributed", "unattributed", "unattributed", SHARED_ROLE),
    ]
    # the telemetry rows are there, not counted, with the client's own cost
    assert con.execute(
        "select developer, counted, reported_cost_usd from usage_events "
        "where source = 'claude_code' order by developer"
    ).fetchall() == [
        ("alice@corp.example", False, Decimal("0.004900000000")),
        ("dana@corp.example", False, Decimal("0.001000000000")),
    ]
    assert con.execute(
        "select match_method, candidates from claude_code_attribution order by developer"
    ).fetchall() == [("model_tokens_time", 1), ("model_tokens_time", 1)]


def test_ambiguous_match_is_left_alone_and_never_adds_spend(tmp_path: Path) -> None:
    # two shared-role calls with the same model and tokens 10 s apart, and two developers'
    # telemetry that fits both: no guess
    lines = [
        logs_line([api_request(email="alice@corp.example", at="2026-11-02T10:00:03Z")]),
        logs_line([api_request(email="bob@corp.example", at="2026-11-02T10:00:12Z", sequence=2)]),
    ]
    con = _ledger(tmp_path, lines)
    add_bedrock(con, "amb-1", principal=SHARED_ROLE, input_tokens=100, output_tokens=50)
    add_bedrock(
        con,
        "amb-2",
        principal=SHARED_ROLE,
        input_tokens=100,
        output_tokens=50,
        at="2026-11-02T10:00:10Z",
    )
    build(con, tmp_path, people=PEOPLE)

    assert _by_developer(con) == {"unattributed": Decimal("0.002310000000")}
    assert con.execute(
        "select match_method, candidates, provider_event_id from claude_code_attribution"
    ).fetchall() == [("ambiguous", 2, None), ("ambiguous", 2, None)]
    assert con.execute(
        "select count(*) from usage_events where source = 'claude_code' and counted"
    ).fetchone() == (0,)
    # doctor and the data-health view say how many were left alone
    findings = [(f.level, f.message) for f in data_findings(con, "test") if f.area == "telemetry"]
    assert findings == [
        (
            "ok",
            "claude code telemetry: 0 events matched to their provider record "
            "(request id, or model + tokens + time)",
        ),
        (
            "warn",
            "claude code telemetry: 2 events left unattributed because more than one provider "
            "record fits (same model and tokens close in time); their records keep their own "
            "identity",
        ),
    ]
    health = views.read(Scope(admin=True), con, "claude_code_attribution").to_pylist()
    assert health == [
        {"match_method": "ambiguous", "events": 2, "reported_cost_usd": Decimal("0.002100000000")}
    ]


def test_request_id_match_wins_and_named_identities_keep_theirs(tmp_path: Path) -> None:
    sso = "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Dev_0123/bob@corp.example"
    lines = [
        # matched by request id although its tokens differ (the client counted differently)
        logs_line([api_request(email="alice@corp.example", request_id="rid-1", input_tokens=7)]),
        # a personal SSO identity is never overwritten by telemetry
        logs_line(
            [
                api_request(
                    email="alice@corp.example", input_tokens=300, output_tokens=30, sequence=2
                )
            ]
        ),
        # no provider record of its model that day (the Anthropic API): the only record, counted
        logs_line(
            [
                api_request(
                    email="alice@corp.example",
                    model="claude-opus-4-1-20250805",
                    input_tokens=9,
                    output_tokens=9,
                    at="2026-11-02T12:00:00Z",
                    sequence=3,
                )
            ]
        ),
    ]
    con = _ledger(tmp_path, lines)
    add_bedrock(con, "rid-1", principal=SHARED_ROLE, input_tokens=100, output_tokens=50)
    add_bedrock(con, "sso-1", principal=sso, input_tokens=300, output_tokens=30)
    build(con, tmp_path, people=PEOPLE)

    assert con.execute(
        "select request_id, developer, identity_status from usage_events "
        "where source = 'bedrock' order by 1"
    ).fetchall() == [
        ("rid-1", "alice@corp.example", "telemetry"),
        ("sso-1", "bob@corp.example", "directory"),
    ]
    assert con.execute(
        "select match_method, counted from claude_code_attribution a join usage_events u "
        "on u.event_id = a.telemetry_event_id order by a.occurred_at, match_method"
    ).fetchall() == [
        ("model_tokens_time", False),
        ("request_id", False),
        ("no_provider_record", True),
    ]


def test_a_request_id_matches_within_a_day_only(tmp_path: Path) -> None:
    # the same id on a record 20 hours before is the request (a clock far off); on a record
    # three days before it is an id used again: not a match
    lines = [
        logs_line(
            [
                api_request(
                    email="alice@corp.example",
                    request_id="rid-near",
                    input_tokens=7,
                    at="2026-11-03T06:00:00Z",
                ),
                api_request(
                    email="bob@corp.example",
                    request_id="rid-far",
                    input_tokens=8,
                    at="2026-11-05T10:00:00Z",
                    sequence=2,
                ),
            ]
        ),
    ]
    con = _ledger(tmp_path, lines)
    add_bedrock(con, "rid-near", principal=SHARED_ROLE, input_tokens=100, output_tokens=50)
    add_bedrock(con, "rid-far", principal=SHARED_ROLE, input_tokens=100, output_tokens=50)
    build(con, tmp_path, people=PEOPLE)
    assert con.execute(
        "select developer, match_method, provider_event_id from claude_code_attribution order by 1"
    ).fetchall() == [
        ("alice@corp.example", "request_id", "bedrock:rid-near"),
        ("bob@corp.example", "no_provider_record", None),
    ]
    assert con.execute(
        "select request_id, developer from usage_events where source = 'bedrock' order by 1"
    ).fetchall() == [("rid-far", "unattributed"), ("rid-near", "alice@corp.example")]


def test_developer_from_a_configured_resource_attribute(tmp_path: Path) -> None:
    # no user.email; the company sets OTEL_RESOURCE_ATTRIBUTES=developer=... centrally
    lines = [
        logs_line(
            [api_request(input_tokens=10, output_tokens=5)],
            {"developer": "truc.le@corp.example", "team.id": "ignored-directory-wins"},
        ),
        # an unknown user.id and nothing else: the telemetry names no one, attributes nothing
        logs_line([api_request(user_id="f" * 64, input_tokens=20, output_tokens=5, sequence=2)]),
    ]
    con = _ledger(tmp_path, lines)
    add_bedrock(con, "cfg-1", principal=SHARED_ROLE, input_tokens=10, output_tokens=5)
    add_bedrock(con, "cfg-2", principal=SHARED_ROLE, input_tokens=20, output_tokens=5)
    build(con, tmp_path, people=PEOPLE, identity={"otel_developer_attribute": "developer"})

    assert con.execute(
        "select request_id, developer, team, identity_status from usage_events "
        "where source = 'bedrock' order by 1"
    ).fetchall() == [
        ("cfg-1", "truc.le@corp.example", "data", "telemetry"),
        ("cfg-2", "unattributed", "unattributed", "unattributed"),
    ]


def test_config_accepts_otel_developer_attribute(tmp_path: Path) -> None:
    config = tmp_path / "llmledger.toml"
    config.write_text('[identity]\notel_developer_attribute = "developer"\n')
    result = CliRunner().invoke(
        cli, ["--db", str(tmp_path / "x.duckdb"), "--config", str(config), "build"]
    )
    assert result.exit_code == 0, result.output + (result.stderr or "")


def _raw_post(server: CollectorServer, head: str, body: bytes) -> bytes:
    import socket

    host, port = server.server_address[:2]
    with socket.create_connection((str(host), int(port)), timeout=10) as sock:
        sock.sendall(head.encode() + b"\r\n" + body)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def _chunked(data: bytes, size: int = 1000) -> bytes:
    parts = [data[i : i + size] for i in range(0, len(data), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


def test_collect_reads_chunked_bodies_and_limits_them(collector: CollectorServer) -> None:
    head = (
        "POST /v1/logs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {TOKEN}\r\nTransfer-Encoding: chunked\r\n"
    )
    good = logs_line([api_request(email="alice@corp.example")]).encode()
    assert _raw_post(collector, head, _chunked(good)).startswith(b"HTTP/1.1 200 ")
    assert len(_lines(collector)) == 1
    too_big = b" " * (64 * 1024 + 1)
    assert _raw_post(collector, head, _chunked(too_big, 8192)).startswith(b"HTTP/1.1 413 ")
    assert _raw_post(collector, head, b"zz\r\nnope").startswith(b"HTTP/1.1 400 ")
    no_length = head.replace("Transfer-Encoding: chunked\r\n", "")
    assert _raw_post(collector, no_length, b"").startswith(b"HTTP/1.1 411 ")
    assert len(_lines(collector)) == 1  # nothing else written


def test_sessions_count_requests_cost_and_active_time_from_either_temporality(
    tmp_path: Path,
) -> None:
    s1, s2 = "s1-alice", "s2-dana"
    lines = [
        logs_line(
            [
                api_request(
                    email="alice@corp.example",
                    session=s1,
                    input_tokens=1000,
                    output_tokens=100,
                    at="2026-11-02T10:00:04Z",
                    cost=0.004,
                ),
                api_request(
                    email="alice@corp.example",
                    session=s1,
                    input_tokens=7,
                    output_tokens=7,
                    at="2026-11-02T12:00:00Z",
                    sequence=2,
                    cost=0.0001,
                ),
                event(
                    "api_error",
                    "2026-11-02T12:01:00Z",
                    **{"session.id": s1, "status_code": "529", "model": "claude-sonnet-4-5"},
                ),
            ]
        ),
        logs_line(
            [
                api_request(
                    user_id="dd-laptop",
                    session=s2,
                    input_tokens=5,
                    output_tokens=5,
                    at="2026-11-03T09:00:00Z",
                    sequence=1,
                    cost=0.0002,
                )
            ]
        ),
        # cumulative: running totals 10 s then 25 s of one series; delta: 5 s + 7 s
        metrics_line(
            [
                (
                    "claude_code.active_time.total",
                    {"session.id": s1},
                    10.0,
                    "2026-11-02T10:00:00Z",
                    "2026-11-02T10:01:00Z",
                )
            ],
            temporality=2,
        ),
        metrics_line(
            [
                (
                    "claude_code.active_time.total",
                    {"session.id": s1},
                    25.0,
                    "2026-11-02T10:00:00Z",
                    "2026-11-02T10:02:00Z",
                )
            ],
            temporality=2,
        ),
        metrics_line(
            [
                (
                    "claude_code.active_time.total",
                    {"session.id": s2},
                    5.0,
                    "2026-11-03T09:00:00Z",
                    "2026-11-03T09:01:00Z",
                ),
                (
                    "claude_code.active_time.total",
                    {"session.id": s2},
                    7.0,
                    "2026-11-03T09:01:00Z",
                    "2026-11-03T09:02:00Z",
                ),
            ],
            temporality=1,
        ),
    ]
    con = _ledger(tmp_path, lines)
    add_bedrock(con, "ses-1", principal=SHARED_ROLE, input_tokens=1000, output_tokens=100)
    build(con, tmp_path, people=PEOPLE)

    # s1: ses-1's list cost ($0.00495); its 7/7 request matches no record although Bedrock has
    # that model that day, so it adds nothing; s2 (no Bedrock record on 11-03): priced from the
    # book, 5 * $3.30 + 5 * $16.50 per million = $0.000099
    assert con.execute(
        "select session_id, day::varchar, developer, requests, errors, input_tokens, "
        "cost_usd, reported_cost_usd, active_seconds from claude_code_sessions order by 1"
    ).fetchall() == [
        (
            "s1-alice",
            "2026-11-02",
            "alice@corp.example",
            2,
            1,
            1007,
            Decimal("0.004950000000"),
            Decimal("0.004100000000"),
            Decimal("25.000"),
        ),
        (
            "s2-dana",
            "2026-11-03",
            "dana@corp.example",
            1,
            0,
            5,
            Decimal("0.000099000000"),
            Decimal("0.000200000000"),
            Decimal("12.000"),
        ),
    ]
    dana = views.read(
        Scope(admin=False, teams=("search",)),
        con,
        "claude_code_sessions",
        views.Filters(since=date(2026, 11, 3), until=date(2026, 11, 3)),
    ).to_pylist()
    assert [(r["session_id"], r["developer"], r["active_seconds"]) for r in dana] == [
        ("s2-dana", "dana@corp.example", Decimal("12.000"))
    ]


def test_files_are_finished_before_ingest_reads_them(tmp_path: Path) -> None:
    folder = tmp_path / "otel"
    folder.mkdir()
    # a .part file a collector that died (pid 999999 is not running) left behind is finished
    (folder / "logs-20261102T100000-999999-0001.jsonl.part").write_text(
        logs_line([api_request(email="alice@corp.example")]) + "\n"
    )
    ticks = [0.0]
    writer = RotatingWriter(folder, rotate_seconds=30, monotonic=lambda: ticks[0])
    assert [p.name for p in folder.iterdir()] == ["logs-20261102T100000-999999-0001.jsonl"]

    open_file = writer.append("logs", logs_line([api_request(email="bob@corp.example")]))
    assert open_file.name.endswith(".jsonl.part")
    db = tmp_path / "ledger.duckdb"
    _ingest(db, "ingest", "otel-files", str(folder))  # the open file is not read yet
    assert _rows(db, "select user_email from raw_claude_code") == [("alice@corp.example",)]

    ticks[0] = 29.0
    writer.finish_idle()
    assert open_file.exists()
    ticks[0] = 30.0
    writer.finish_idle()
    assert not open_file.exists()
    _ingest(db, "ingest", "otel-files", str(folder))
    assert _rows(db, "select user_email from raw_claude_code order by 1") == [
        ("alice@corp.example",),
        ("bob@corp.example",),
    ]
    assert sorted(p.suffix for p in folder.iterdir()) == [".jsonl", ".jsonl"]


def test_a_long_request_matches_from_its_start(tmp_path: Path) -> None:
    # the event is emitted when a 5-minute response ends; Bedrock logged the request at start
    lines = [
        logs_line(
            [
                api_request(
                    email="alice@corp.example",
                    at="2026-11-02T10:05:03Z",
                    extra={"duration_ms": 300_000},
                )
            ]
        ),
        # without duration_ms the same gap is too wide: no match
        logs_line(
            [
                api_request(
                    email="bob@corp.example",
                    at="2026-11-02T11:05:03Z",
                    input_tokens=300,
                    sequence=2,
                    extra={"duration_ms": None},
                )
            ]
        ),
    ]
    con = _ledger(tmp_path, lines)
    add_bedrock(con, "long-1", principal=SHARED_ROLE, input_tokens=100, output_tokens=50)
    add_bedrock(
        con,
        "long-2",
        principal=SHARED_ROLE,
        input_tokens=300,
        output_tokens=50,
        at="2026-11-02T11:00:00Z",
    )
    build(con, tmp_path, people=PEOPLE)
    assert con.execute(
        "select request_id, developer from usage_events where source = 'bedrock' order by 1"
    ).fetchall() == [("long-1", "alice@corp.example"), ("long-2", "unattributed")]
    # bob's event matches nothing although Bedrock logged that model that day: not counted
    assert con.execute(
        "select developer, match_method, counts_spend from claude_code_attribution order by 1"
    ).fetchall() == [
        ("alice@corp.example", "model_tokens_time", False),
        ("bob@corp.example", "unmatched", False),
    ]
    assert con.execute(
        "select count(*) from usage_events where source = 'claude_code' and counted"
    ).fetchone() == (0,)


def test_repeated_token_counts_match_by_time_and_a_broken_duration_is_an_hour(
    tmp_path: Path,
) -> None:
    # Every Claude Code start sends the same one-token quota probe: identical counts all day,
    # every day. Each event matches the provider record of its own time, including one exactly
    # at the window's edge (120 s before the request started: a different time bucket), and a
    # record of the same counts 121 s before is not a candidate.
    probe = {"input_tokens": 8, "output_tokens": 1}
    lines = [
        logs_line(
            [
                api_request(email="alice@corp.example", at="2026-11-02T10:00:03Z", **probe),
                api_request(
                    email="bob@corp.example", at="2026-11-02T14:00:03Z", sequence=2, **probe
                ),
                api_request(
                    email="carol@corp.example", at="2026-11-03T10:00:03Z", sequence=3, **probe
                ),
                # a client clock error: a 30-day duration. The request is taken to have lasted
                # at most an hour, so of two same-count records only the one 30 minutes before
                # the event is a candidate (not the one 2 hours before): a unique match
                api_request(
                    email="dana@corp.example",
                    at="2026-11-04T12:00:00Z",
                    sequence=4,
                    extra={"duration_ms": 30 * 86_400_000},
                    **probe,
                ),
            ]
        ),
    ]
    con = _ledger(tmp_path, lines)
    probe_args = {"principal": SHARED_ROLE, "input_tokens": 8, "output_tokens": 1}
    # alice's request started at 10:00:00.9 (duration 2.1 s): 09:58:00.9 is the window's edge
    add_bedrock(con, "q-alice", at="2026-11-02T09:58:00.900Z", **probe_args)
    add_bedrock(con, "q-early", at="2026-11-02T09:57:59.900Z", **probe_args)
    add_bedrock(con, "q-bob", at="2026-11-02T14:00:01Z", **probe_args)
    add_bedrock(con, "q-carol", at="2026-11-03T10:00:01Z", **probe_args)
    add_bedrock(con, "q-dana", at="2026-11-04T11:30:00Z", **probe_args)
    add_bedrock(con, "q-dana-2h", at="2026-11-04T10:00:00Z", **probe_args)
    build(con, tmp_path, people=PEOPLE)
    assert con.execute(
        "select a.developer, a.match_method, a.candidates, u.request_id "
        "from claude_code_attribution as a join usage_events as u "
        "on u.event_id = a.provider_event_id order by 1"
    ).fetchall() == [
        ("alice@corp.example", "model_tokens_time", 1, "q-alice"),
        ("bob@corp.example", "model_tokens_time", 1, "q-bob"),
        ("carol@corp.example", "model_tokens_time", 1, "q-carol"),
        ("dana@corp.example", "model_tokens_time", 1, "q-dana"),
    ]
    assert con.execute(
        "select request_id, developer from usage_events where source = 'bedrock' "
        "and request_id in ('q-early', 'q-dana-2h') order by 1"
    ).fetchall() == [("q-dana-2h", "unattributed"), ("q-early", "unattributed")]


def test_end_to_end_shared_role_named_after_ingesting_telemetry(
    collector: CollectorServer, tmp_path: Path
) -> None:
    """bedrock-files, then telemetry through `collect` (the real SDK exporter) and
    `ingest otel-files`, with a config and a people directory: `report --by developer`."""
    from moto_server import gz, log_key, record

    tree = tmp_path / "bedrock"
    batch = tree / log_key("logs", "111122223333", "us-east-1", "2026/11/02/10", "a.json.gz")
    batch.parent.mkdir(parents=True)
    batch.write_bytes(
        gz(
            [
                record(
                    "e2e-1",
                    timestamp="2026-11-02T10:00:00Z",
                    arn=SHARED_ROLE,
                    input_tokens=1000,
                    output_tokens=100,
                ),
                record(
                    "e2e-2",
                    timestamp="2026-11-02T10:05:00Z",
                    arn=SHARED_ROLE,
                    input_tokens=2000,
                    output_tokens=200,
                    cache_read=10_000,
                ),
            ]
        )
    )
    (tmp_path / "people.csv").write_text(PEOPLE)
    config = tmp_path / "llmledger.toml"
    config.write_text(
        f'[database]\npath = "{tmp_path / "ledger.duckdb"}"\n[people]\ndirectory = "people.csv"\n'
    )
    base = ["--config", str(config)]

    def by_developer() -> dict[str, str]:
        out = _ingest(
            tmp_path / "ledger.duckdb", *base, "report", "--by", "developer", "--format", "json"
        )
        return {r["developer"]: r["cost_usd"] for r in json.loads(out[: out.rindex("]") + 1])}

    _ingest(tmp_path / "ledger.duckdb", *base, "ingest", "bedrock-files", str(tree))
    assert by_developer() == {"unattributed": "0.018150000000"}

    body = logs_line(
        [
            api_request(
                email="alice@corp.example",
                input_tokens=1000,
                output_tokens=100,
                at="2026-11-02T10:00:03Z",
            ),
            api_request(
                user_id="dd-laptop",
                input_tokens=2000,
                output_tokens=200,
                cache_read=10_000,
                at="2026-11-02T10:05:02Z",
                sequence=2,
            ),
        ]
    )
    assert _post(collector, "/v1/logs", gzip.compress(body.encode()), encoding="gzip") == 200
    _ingest(tmp_path / "ledger.duckdb", *base, "ingest", "otel-files", str(collector.settings.out))
    # e2e-1: 1000 * $3.30 + 100 * $16.50 per million; e2e-2: 2000 * 3.30 + 200 * 16.50
    # + 10000 * 0.33; the total is unchanged
    assert by_developer() == {
        "dana@corp.example": "0.013200000000",
        "alice@corp.example": "0.004950000000",
    }
    doctor = _ingest(tmp_path / "ledger.duckdb", *base, "doctor")
    assert (
        "claude code telemetry: 2 events matched to their provider record "
        "(request id, or model + tokens + time)"
    ) in doctor


@pytest.mark.service
def test_otel_s3_reads_the_awss3_exporter_layout_incrementally(
    aws: Any,  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    client = aws.client("s3")
    client.create_bucket(Bucket="telemetry")

    def put(key: str, lines: list[str]) -> None:
        body = gzip.compress(("\n".join(lines) + "\n").encode())
        client.put_object(Bucket="telemetry", Key=f"cc/{key}", Body=body)

    put(
        "2026/11/02/10/00/logs_a.json.gz",
        [logs_line([api_request(email="alice@corp.example", request_id="s3-1")])],
    )
    put("2026/11/02/10/05/logs_b.json.gz", ["{broken"])
    db = tmp_path / "ledger.duckdb"
    args = ["ingest", "otel-s3", "--bucket", "telemetry", "--prefix", "cc"]
    _ingest(db, *args)
    put(
        "2026/11/02/11/00/logs_c.json.gz",
        [logs_line([api_request(email="bob@corp.example", request_id="s3-2", sequence=2)])],
    )
    out = _ingest(db, *args)
    assert "otel-s3: 1 new" in out  # the second run read only the new object
    assert _rows(db, "select request_id, user_email from raw_claude_code order by 1") == [
        ("s3-1", "alice@corp.example"),
        ("s3-2", "bob@corp.example"),
    ]
    assert _rows(db, "select location, reason from rejected_records") == [
        ("s3://telemetry/cc/2026/11/02/10/05/logs_b.json.gz:1", "malformed JSON")
    ]
