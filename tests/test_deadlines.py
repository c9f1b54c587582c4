"""Issue 11 item 4: every network read has a deadline, not just a connect timeout.

A server that answers 200 and then sends a byte at a time, a PostgreSQL link that stops
mid-COPY, a webhook that trickles: each ends at ``request_timeout`` (or ``run_timeout``) with one
line and exit 3 (sources; the cursor stays) or a failed alert left for the next run (webhook; the
lock released). Deadlines are small here (1-2 s) so the tests run fast.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest
import tenacity
from click.testing import CliRunner
from psycopg.conninfo import make_conninfo
from stall_servers import StallingProxy, TricklingServer
from test_litellm import PG, T0, pg, pg_template, spend_row  # noqa: F401
from test_litellm_api import MASTER_KEY, api_row
from test_litellm_api import T0 as API_T0
from test_scheduler import BUDGETS, Hook, _app, fakes, write_config  # noqa: F401

from ingest.cli import cli

DIMENSIONS = {
    "/key/list": json.dumps({"keys": [], "total_pages": 1}).encode(),
    "/team/list": b"[]",
    "/user/list": json.dumps({"users": [], "total_pages": 1}).encode(),
}


def errors_of(result: Any) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


def cursors(db: Path) -> list[tuple[Any, ...]]:
    if not db.exists():  # a first run that loaded nothing leaves no database (issue 10)
        return []
    con = duckdb.connect(str(db))
    try:
        return con.execute("select source, partition, value from ingest_cursors").fetchall()
    finally:
        con.close()


# ---------------------------------------------------------------------------------------------
# litellm-api: a proxy that trickles its answer


def spend_answer(*rows: dict[str, Any]) -> bytes:
    return json.dumps(
        {"data": list(rows), "total": len(rows), "page": 1, "page_size": 1000, "total_pages": 1}
    ).encode()


def api_ingest(db: Path, url: str, *extra: str) -> Any:
    args = ["--db", str(db), "ingest", "litellm-api", "--url", url, "--since", "2026-11-02"]
    return CliRunner().invoke(cli, [*args, "--until", "2026-11-03", *extra])


def test_litellm_api_body_that_never_finishes_ends_at_request_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LITELLM_MASTER_KEY", MASTER_KEY)
    db = tmp_path / "l.duckdb"
    answers = {**DIMENSIONS, "/spend/logs/v2": spend_answer(api_row("r1", API_T0))}
    with TricklingServer(answers, trickle=()) as server:
        ok = api_ingest(db, server.url)
        assert ok.exit_code == 0, ok.output
        before = cursors(db)
        assert before == [("litellm-api", server.url, "2026-11-02T09:00:00.000000Z")]
        del server.answers["/spend/logs/v2"]
        server.trickle = {"/spend/logs/v2"}
        started = time.monotonic()
        stuck = api_ingest(db, server.url, "--request-timeout", "1")
        took = time.monotonic() - started
    assert stuck.exit_code == 3
    assert errors_of(stuck) == [
        f"error: litellm-api: {server.url} did not finish a request within 1s (request_timeout). "
        "Check that it is up and answering, or raise request_timeout; the cursor was kept"
    ]
    assert took < 30  # not hanging (the server trickles for ever); build and publish included
    assert cursors(db) == before


def test_litellm_api_run_ends_at_run_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LITELLM_MASTER_KEY", MASTER_KEY)
    db = tmp_path / "l.duckdb"
    with TricklingServer(DIMENSIONS, trickle=["/spend/logs/v2"]) as server:
        started = time.monotonic()
        stuck = api_ingest(db, server.url, "--run-timeout", "2")
        took = time.monotonic() - started
    assert stuck.exit_code == 3
    assert errors_of(stuck) == [
        "error: litellm-api: the run did not finish within 2s (run_timeout). Raise run_timeout, "
        "or read a shorter range with --since/--until; pages already loaded are kept and the "
        "next run goes on from them"
    ]
    assert took < 30  # not hanging (the server trickles for ever); build and publish included
    assert cursors(db) == []


# ---------------------------------------------------------------------------------------------
# vertex: Cloud Logging that trickles (the real google-cloud-logging client)


def test_vertex_body_that_never_finishes_ends_at_request_timeout(tmp_path: Path) -> None:
    db = tmp_path / "v.duckdb"
    with TricklingServer() as server:
        started = time.monotonic()
        stuck = CliRunner().invoke(
            cli,
            [
                "--db",
                str(db),
                "ingest",
                "vertex",
                "--project",
                "acme-ml",
                "--api-endpoint",
                server.url,
                "--anonymous",
                "--request-timeout",
                "1",
            ],
        )
        took = time.monotonic() - started
    assert stuck.exit_code == 3, stuck.output
    assert errors_of(stuck) == [
        f"error: vertex: Cloud Logging at {server.url} did not finish a request within 1s "
        "(request_timeout). Check that it is up and answering, or raise request_timeout; the "
        "cursor was kept"
    ]
    assert took < 30  # not hanging (the server trickles for ever); build and publish included
    assert server.requests == [("POST", "/v2/entries:list")]  # not retried
    assert cursors(db) == []


# ---------------------------------------------------------------------------------------------
# bedrock-s3: an S3 endpoint that trickles its listing (the real boto3 client)


def test_bedrock_s3_listing_that_never_finishes_ends_at_run_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    db = tmp_path / "b.duckdb"
    with TricklingServer() as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL", server.url)
        started = time.monotonic()
        stuck = CliRunner().invoke(
            cli,
            [
                "--db",
                str(db),
                "ingest",
                "bedrock-s3",
                "--bucket",
                "logs",
                "--region",
                "us-east-1",
                "--run-timeout",
                "2",
            ],
        )
        took = time.monotonic() - started
    assert stuck.exit_code == 3, stuck.output
    assert errors_of(stuck) == [
        "error: bedrock-s3: the run did not finish within 2s (run_timeout). Raise run_timeout, "
        "or read a shorter range with --since/--until; pages already loaded are kept and the "
        "next run goes on from them"
    ]
    assert took < 30  # not hanging (the server trickles for ever); build and publish included
    assert cursors(db) == []


@pytest.mark.parametrize(
    ("name", "args", "where"),
    [
        ("bedrock-s3", ["--bucket", "logs"], "S3"),
        ("bedrock-cloudwatch", ["--log-group", "/aws/bedrock/invocations"], "CloudWatch Logs"),
    ],
)
def test_aws_answer_that_never_finishes_ends_at_request_timeout(
    name: str, args: list[str], where: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    db = tmp_path / "b.duckdb"
    with TricklingServer() as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL", server.url)
        started = time.monotonic()
        stuck = CliRunner().invoke(
            cli,
            ["--db", str(db), "ingest", name, *args, "--region", "us-east-1"]
            + ["--request-timeout", "1"],
        )
        took = time.monotonic() - started
    assert stuck.exit_code == 3, stuck.output
    assert errors_of(stuck) == [
        f"error: {name}: {where} at {server.url} did not finish a request within 1s "
        "(request_timeout). Check that it is up and answering, or raise request_timeout; the "
        "cursor was kept"
    ]
    assert took < 30  # not hanging (the server trickles for ever); build and publish included
    assert cursors(db) == []


# ---------------------------------------------------------------------------------------------
# litellm: a PostgreSQL link that stops forwarding mid-COPY


@pytest.mark.service
def test_litellm_postgres_stalling_mid_copy_ends_at_request_timeout(
    pg: PG,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pg.insert("LiteLLM_SpendLogs", [spend_row("r1", T0)])
    db = tmp_path / "ledger.duckdb"
    runner = CliRunner()
    ok = runner.invoke(cli, ["--db", str(db), "ingest", "litellm"])
    assert ok.exit_code == 0, ok.output
    before = cursors(db)
    assert before == [("litellm", "default", "2026-11-02T09:00:00.000000Z")]
    later = T0.replace(hour=10)
    pg.insert("LiteLLM_SpendLogs", [spend_row(f"s{i}", later) for i in range(50)])
    with StallingProxy(("127.0.0.1", 5432), stall_when=[b"copy (", b"spendlogs"], then=300) as px:
        monkeypatch.setenv(
            "LITELLM_DATABASE_URL", make_conninfo(pg.dsn, host="127.0.0.1", port=str(px.port))
        )
        started = time.monotonic()
        stuck = runner.invoke(cli, ["--db", str(db), "ingest", "litellm", "--request-timeout", "2"])
        took = time.monotonic() - started
        assert px.stalled.is_set()
    assert stuck.exit_code == 3, stuck.output
    assert errors_of(stuck) == [
        "error: litellm: PostgreSQL at 127.0.0.1:" + str(px.port) + f" (database {pg.name}) "
        "did not finish a request within 2s (request_timeout). Check that it is up and "
        "answering, or raise request_timeout; the cursor was kept"
    ]
    assert took < 30  # not hanging (the server trickles for ever); build and publish included
    assert cursors(db) == before
    con = duckdb.connect(str(db))
    assert con.execute("select count(*) from raw_litellm_spend").fetchone() == (1,)
    con.close()


@pytest.mark.service
def test_litellm_query_blocked_on_the_server_ends_at_request_timeout(
    pg: PG,  # noqa: F811
    tmp_path: Path,
) -> None:
    # another session holds the table: the server cancels the statement (statement_timeout)
    pg.insert("LiteLLM_SpendLogs", [spend_row("r1", T0)])
    db = tmp_path / "ledger.duckdb"
    locker = psycopg.connect(pg.dsn)
    try:
        locker.execute('lock table "LiteLLM_SpendLogs" in access exclusive mode')
        started = time.monotonic()
        stuck = CliRunner().invoke(
            cli, ["--db", str(db), "ingest", "litellm", "--request-timeout", "1"]
        )
        took = time.monotonic() - started
    finally:
        locker.rollback()
        locker.close()
    assert stuck.exit_code == 3, stuck.output
    assert errors_of(stuck) == [
        f"error: litellm: PostgreSQL at 127.0.0.1:5432 (database {pg.name}) did not finish a "
        "request within 1s (request_timeout). Check that it is up and answering, or raise "
        "request_timeout; the cursor was kept"
    ]
    assert took < 30
    assert cursors(db) == []


# ---------------------------------------------------------------------------------------------
# the budget webhook: a trickling answer must not hold the run (and its lock)


def test_webhook_that_trickles_is_left_for_the_next_run_lock_released(
    tmp_path: Path,
    fakes: None,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ingest import scheduler

    monkeypatch.setattr(scheduler, "WEBHOOK_WAIT", tenacity.wait_none())
    write_config(
        tmp_path,
        [("fake_ok", {"records": 3, "at": "2026-11-02T08:00:00Z"})],
        extra=BUDGETS + "request_timeout = 1\n",
    )
    now = datetime(2026, 11, 2, 12, tzinfo=UTC)
    with TricklingServer() as slow:
        monkeypatch.setenv("LLMLEDGER_TEST_WEBHOOK", slow.url + "/hook")
        started = time.monotonic()
        report = scheduler.run_once(_app(tmp_path), now=now)
        took = time.monotonic() - started
    assert report.exit_code == 1
    assert (
        report.alert_errors
        == [
            "the budget webhook did not answer within 1s (alerts.request_timeout); the alert will "
            "be retried on the next run"
        ]
        * 2
    )
    assert took < 30
    assert not (tmp_path / "ledger.duckdb.lock").exists()
    con = duckdb.connect(str(tmp_path / "ledger.duckdb"))
    assert con.execute("select count(*) from alerts_sent").fetchone() == (0,)
    con.close()
    hook = Hook()
    try:
        monkeypatch.setenv("LLMLEDGER_TEST_WEBHOOK", hook.url)
        again = scheduler.run_once(_app(tmp_path), now=now)
    finally:
        hook.close()
    assert (again.exit_code, again.alerts_sent) == (0, 2)
    assert [b["threshold"] for b in hook.bodies] == ["80%", "100%"]


def test_webhook_run_timeout_bounds_all_alerts(
    tmp_path: Path,
    fakes: None,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ingest import scheduler

    write_config(
        tmp_path,
        [("fake_ok", {"records": 3, "at": "2026-11-02T08:00:00Z"})],
        extra=BUDGETS + "request_timeout = 60\nrun_timeout = 1\n",
    )
    with TricklingServer() as slow:
        monkeypatch.setenv("LLMLEDGER_TEST_WEBHOOK", slow.url + "/hook")
        started = time.monotonic()
        report = scheduler.run_once(_app(tmp_path), now=datetime(2026, 11, 2, 12, tzinfo=UTC))
        took = time.monotonic() - started
    assert (
        report.alert_errors
        == [
            "the budget webhook did not answer within 1s (alerts.run_timeout); the alert will be "
            "retried on the next run"
        ]
        * 2
    )
    assert took < 30


def test_deadline_options_are_declared_by_every_network_source() -> None:
    from ingest import sources

    for name in ("litellm", "litellm-api", "vertex", "bedrock-s3", "bedrock-cloudwatch"):
        source = sources.SOURCES[name]
        assert source.option("request_timeout").default == 120, name
        assert source.option("run_timeout").default == 1800, name
