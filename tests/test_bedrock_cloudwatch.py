"""Bedrock CloudWatch Logs source against moto's real Logs server.

moto drops events older than 14 days, so every fixture's timestamps are relative to now.
"""

# ruff: noqa: F811 - pytest fixtures imported from moto_server are redefined as arguments

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from moto_server import aws, moto_endpoint, now_ms, put_events, record  # noqa: F401

from ingest import runner
from ingest.context import AppContext
from ingest.errors import ConfigError, SourceUnavailable
from ingest.runner import run_source

pytestmark = pytest.mark.service

GROUP = "/aws/bedrock/modelinvocations"
STREAM = "aws/bedrock/modelinvocations"
MINUTE = 60_000
SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "bedrock" / "cloudwatch"


def _app(tmp_path: Path, name: str = "ledger.duckdb") -> AppContext:
    return AppContext.create(str(tmp_path / name), None, quiet=True)


def _logs(aws: Any) -> Any:
    logs = aws.client("logs")
    logs.create_log_group(logGroupName=GROUP)
    return logs


def _message(request_id: str, **kw: Any) -> str:
    return json.dumps(record(request_id, **kw))


def _run(app: AppContext, con: Any, logs: Any, **options: Any) -> Any:
    since, until = options.pop("since", None), options.pop("until", None)
    opts = {"log_group": GROUP} | options
    return run_source(app, con, "bedrock-cloudwatch", opts, since=since, until=until, client=logs)


def _cursor(con: Any) -> str | None:
    row = con.execute(
        "select value from ingest_cursors where source = 'bedrock-cloudwatch' and partition = ?",
        [GROUP],
    ).fetchone()
    return None if row is None else str(row[0])


def test_reads_every_stream_and_moves_the_cursor(aws: Any, tmp_path: Path) -> None:
    logs = _logs(aws)
    base = now_ms() - 120 * MINUTE
    put_events(logs, GROUP, STREAM, [(base + i * MINUTE, _message(f"a-{i}")) for i in range(5)])
    put_events(
        logs, GROUP, "other", [(base + i * MINUTE + 30_000, _message(f"b-{i}")) for i in range(3)]
    )
    app = _app(tmp_path)
    con = app.connect()
    result = run_source(app, con, "bedrock-cloudwatch", {"log_group": GROUP, "region": "us-east-1"})
    assert (result.new_rows, result.updated_rows, result.rejected_rows) == (8, 0, 0)
    assert _cursor(con) == str(base + 4 * MINUTE)
    kinds = con.execute("select distinct source_kind from raw_bedrock").fetchall()
    assert kinds == [("cloudwatch",)]
    location = con.execute(
        "select source_location from raw_bedrock where request_id = 'b-2'"
    ).fetchone()[0]
    event_ids = {
        e["eventId"]
        for e in logs.filter_log_events(logGroupName=GROUP, logStreamNames=["other"])["events"]
    }
    stream_and_id = location.removeprefix(f"logs:{GROUP}/")
    assert stream_and_id.split("/", 1)[0] == "other"
    assert stream_and_id.split("/", 1)[1] in event_ids


def test_overlap_rereads_late_events_and_deduplicates(aws: Any, tmp_path: Path) -> None:
    logs = _logs(aws)
    base = now_ms() - 120 * MINUTE
    put_events(logs, GROUP, STREAM, [(base + i * MINUTE, _message(f"a-{i}")) for i in range(10)])
    app = _app(tmp_path)
    con = app.connect()
    _run(app, con, logs)
    cursor = int(_cursor(con) or 0)
    assert cursor == base + 9 * MINUTE
    # A late event (5 minutes before the cursor, on another stream) and a new one.
    put_events(
        logs,
        GROUP,
        "late",
        [(cursor - 5 * MINUTE, _message("late-1")), (cursor + MINUTE, _message("new-1"))],
    )
    result = _run(app, con, logs)
    # The read starts 15 minutes before the cursor: a-0..a-9 come back and change nothing.
    assert (result.new_rows, result.updated_rows, result.unchanged_rows) == (2, 0, 10)
    assert _cursor(con) == str(cursor + MINUTE)

    no_overlap = _run(app, con, logs, overlap_minutes=0)
    assert (no_overlap.new_rows, no_overlap.updated_rows, no_overlap.unchanged_rows) == (0, 0, 1)

    # Bedrock delivering the same record twice: one row.
    put_events(logs, GROUP, "late", [(cursor + 2 * MINUTE, _message("a-9"))])
    redelivered = _run(app, con, logs)
    assert redelivered.new_rows == 0
    assert con.execute("select count(*) from raw_bedrock").fetchone() == (12,)
    assert con.execute("select count(*) from raw_bedrock where request_id = 'a-9'").fetchone() == (
        1,
    )


def test_malformed_messages_are_rejected_with_event_locations(
    aws: Any,
    tmp_path: Path,
) -> None:
    logs = _logs(aws)
    messages = (SAMPLE / "malformed_events.ndjson").read_text().splitlines()
    assert len(messages) == 5
    base = now_ms() - 30 * MINUTE
    put_events(logs, GROUP, STREAM, [(base + i * 1000, m) for i, m in enumerate(messages)])
    app = _app(tmp_path)
    con = app.connect()
    result = _run(app, con, logs)
    assert (result.new_rows, result.rejected_rows) == (2, 3)
    ids = [e["eventId"] for e in logs.filter_log_events(logGroupName=GROUP)["events"]]
    rejected = con.execute(
        "select location, reason from rejected_records where source = 'bedrock-cloudwatch' "
        "order by location"
    ).fetchall()
    assert sorted(rejected) == sorted(
        [
            (f"logs:{GROUP}/{STREAM}/{ids[1]}", "malformed JSON"),
            (f"logs:{GROUP}/{STREAM}/{ids[2]}", "malformed JSON"),
            (f"logs:{GROUP}/{STREAM}/{ids[3]}", "missing field requestId"),
        ]
    )
    # Running again re-reads the overlap but records each rejection once.
    _run(app, con, logs)
    assert con.execute("select count(*) from rejected_records").fetchone() == (3,)


def test_sample_events_replayed_relative_to_now(aws: Any, tmp_path: Path) -> None:
    from datetime import datetime

    logs = _logs(aws)
    lines = (SAMPLE / "events.ndjson").read_text().splitlines()
    stamps = [
        int(datetime.fromisoformat(json.loads(line)["timestamp"]).timestamp() * 1000)
        for line in lines
    ]
    shift = now_ms() - 60 * MINUTE - max(stamps)  # newest event an hour ago
    put_events(
        logs, GROUP, STREAM, [(ts + shift, line) for ts, line in zip(stamps, lines, strict=True)]
    )
    app = _app(tmp_path)
    con = app.connect()
    result = _run(app, con, logs)
    assert (result.new_rows, result.rejected_rows) == (2000, 0)
    assert _cursor(con) == str(max(stamps) + shift)
    again = _run(app, con, logs)
    assert (again.new_rows, again.updated_rows) == (0, 0)


def test_kill_between_pages_then_rerun_gives_one_clean_run(
    aws: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    logs = _logs(aws)
    base = now_ms() - 600 * MINUTE
    put_events(logs, GROUP, STREAM, [(base + i * MINUTE, _message(f"e-{i}")) for i in range(50)])
    small = {"page_events": 10, "batch_events": 10}
    clean_app = _app(tmp_path, "clean.duckdb")
    clean = clean_app.connect()
    _run(clean_app, clean, logs, **small)

    app = _app(tmp_path, "killed.duckdb")
    con = app.connect()
    real_write = runner._commit
    calls = {"n": 0}

    def dying_write(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("killed between pages")
        return real_write(*args, **kwargs)

    monkeypatch.setattr(runner, "_commit", dying_write)
    with pytest.raises(KeyboardInterrupt):
        _run(app, con, logs, **small)
    assert con.execute("select count(*) from raw_bedrock").fetchone() == (20,)
    assert _cursor(con) == str(base + 19 * MINUTE)
    monkeypatch.setattr(runner, "_commit", real_write)
    _run(app, con, logs, **small)
    query = "select * exclude (source_location) from raw_bedrock order by request_id"
    assert con.execute(query).fetchall() == clean.execute(query).fetchall()
    assert _cursor(con) == _cursor(clean) == str(base + 49 * MINUTE)


def test_since_until_bound_the_time_range(aws: Any, tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    logs = _logs(aws)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    day_ms = int(today.timestamp() * 1000)
    put_events(
        logs,
        GROUP,
        STREAM,
        [
            (day_ms - 2 * 24 * 60 * MINUTE + MINUTE, _message("two-days-ago")),
            (day_ms - 24 * 60 * MINUTE + MINUTE, _message("yesterday")),
            (day_ms - MINUTE, _message("late-yesterday")),
        ],
    )
    app = _app(tmp_path)
    con = app.connect()
    yesterday = (today - timedelta(days=1)).date()
    _run(app, con, logs, since=yesterday, until=today.date())
    got = con.execute("select request_id from raw_bedrock order by 1").fetchall()
    assert got == [("late-yesterday",), ("yesterday",)]


def test_missing_log_group_is_a_usage_error(aws: Any, tmp_path: Path) -> None:
    app = _app(tmp_path)
    con = app.connect()
    with pytest.raises(ConfigError) as err:
        run_source(app, con, "bedrock-cloudwatch", {"log_group": "/nope", "region": "eu-west-1"})
    assert str(err.value) == (
        "log group '/nope' not found in eu-west-1; check --log-group and --region"
    )


def test_unreachable_logs_endpoint_keeps_the_cursor(
    aws: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import socket

    logs = _logs(aws)
    put_events(logs, GROUP, STREAM, [(now_ms() - MINUTE, _message("x-1"))])
    app = _app(tmp_path)
    con = app.connect()
    _run(app, con, logs)
    before = _cursor(con)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    with pytest.raises(SourceUnavailable) as err:
        run_source(app, con, "bedrock-cloudwatch", {"log_group": GROUP})
    assert str(err.value) == (
        f"bedrock-cloudwatch: cannot reach CloudWatch Logs at http://127.0.0.1:{port} "
        "(EndpointConnectionError). check the network, the region and AWS_ENDPOINT_URL"
    )
    assert _cursor(con) == before
