"""Incremental builds (models.incremental, models.daybuild) equal a from-scratch build, row for
row, whatever the order of ingests and reference changes; a run rebuilds only the days it
touched; a change every day depends on rebuilds everything and says why."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import hypothesis.strategies as st
import pyarrow as pa
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings

from ingest import store
from ingest.cli import cli
from ingest.context import raw_table_ddl
from ingest.loader import Loader, PageWrite
from models import reference, runner

MARTS = [
    "stg_events",
    "identity_map",
    "gateway_matches",
    "usage_events",
    "usage_minute",
    "usage_daily",
    "usage_minute_quota",
    "quota_limits",
    "vertex_attribution",
    "gateway_daily",
    "claude_code_attribution",
    "claude_code_sessions",
]
SSO = "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Users_0123/"
PROXY = "arn:aws:sts::111122223333:assumed-role/litellm-proxy/botocore-session-1"
PRINCIPALS = [SSO + "alice@corp.example", SSO + "bob@corp.example", PROXY, None]
MODELS = [
    "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
    "anthropic.claude-3-haiku-20240307-v1:0",
    "anthropic.claude-unknown-9-v1:0",  # unpriced
]
PEOPLE = [
    "email,name,team,cost_center,manager,aliases\n"
    "alice@corp.example,Alice,payments,CC-PAY,,\nbob@corp.example,Bob,platform,CC-PLAT,,\n",
    "email,name,team,cost_center,manager,aliases\nalice@corp.example,Alice,search,CC-SEARCH,,\n",
]
OVERRIDE = {
    "provider": "bedrock",
    "model": "claude-sonnet-4-5",
    "scope": "geo",
    "token_type": "input",
    "usd_per_mtok": "1.5",
    "valid_from": "2026-10-03",
}
GATEWAY = {"identities": ["assumed-role/litellm-proxy/"]}
KEYS = {
    "raw_bedrock": ["request_id"],
    "raw_gateway": ["gateway_name", "request_id"],
    "raw_litellm_spend": ["request_id"],
    "raw_litellm_teams": ["team_id"],
    "raw_claude_code": ["event_key"],
    "raw_claude_code_metrics": ["point_key"],
    "raw_gcp_billing": ["line_id"],
}
DAY0 = datetime(2026, 10, 1, tzinfo=UTC)


def new_db(path: Path) -> duckdb.DuckDBPyConnection:
    con = store.connect(path)
    store.ensure_tables(con, raw_table_ddl())
    return con


def columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    rows = con.execute(
        "select column_name from information_schema.columns where table_name = ? "
        "order by ordinal_position",
        [table],
    ).fetchall()
    return [r[0] for r in rows]


def page(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict[str, Any]]) -> pa.Table:
    names = columns(con, table)
    return pa.Table.from_pylist([{n: r.get(n) for n in names} for r in rows])


def write(con: duckdb.DuckDBPyConnection, source: str, table: str, rows: list[dict]) -> None:  # type: ignore[type-arg]
    if rows:
        key = KEYS.get(table, ["insert_id"])
        Loader(con, source=source, table=table, key=key).write(
            PageWrite(rows=page(con, table, rows))
        )


def at(day: int, second: int) -> datetime:
    return DAY0 + timedelta(days=day, seconds=second)


# Seconds of the day: most near midnight, where cross-day joins and moves happen.
SECONDS = st.sampled_from([0, 1, 3, 600, 43_200, 86_398, 86_399])


@st.composite
def bedrock(draw: Any) -> dict[str, Any]:
    tokens = draw(st.sampled_from([0, 10, 1000]))
    return {
        "request_id": f"b{draw(st.integers(0, 7))}",
        "occurred_at": at(draw(st.integers(0, 4)), draw(SECONDS)),
        "account_id": "111122223333",
        "region": "us-east-1",
        "operation": "InvokeModel",
        "model_id": draw(st.sampled_from(MODELS)),
        "principal_arn": draw(st.sampled_from(PRINCIPALS)),
        "input_tokens": tokens,
        "output_tokens": draw(st.sampled_from([0, 5, 50])),
        "cache_read_tokens": 0,
        "cache_write_tokens": draw(st.sampled_from([0, 100])),
        "error_code": draw(st.sampled_from([None, None, "ThrottlingException"])),
        "source_kind": "files",
        "source_location": "test",
    }


@st.composite
def litellm(draw: Any) -> dict[str, Any]:
    """A LiteLLM spend row for a Bedrock call: the gateway's copy of a proxy-role request."""
    return {
        "request_id": f"l{draw(st.integers(0, 5))}",
        "start_time": at(draw(st.integers(0, 4)), draw(SECONDS)),
        "prompt_tokens": draw(st.sampled_from([10, 1000, 1100])),
        "completion_tokens": draw(st.sampled_from([5, 50])),
        "cache_read_tokens": 0,
        "cache_creation_tokens": draw(st.sampled_from([0, 100])),
        "model": "bedrock/" + draw(st.sampled_from(MODELS[:2])),
        "custom_llm_provider": "bedrock",
        "key_alias": draw(st.sampled_from(["alice@corp.example", "bob-key"])),
        "provider_request_id": draw(st.sampled_from([None, "b1", "b2"])),
        "spend": "0.001",
        "status": "success",
        "proxy": "default",
        "source_kind": "files",
        "source_location": "test",
    }


@st.composite
def gateway(draw: Any) -> dict[str, Any]:
    """A gateway's own log record (Kong): its copy of a proxy-role Bedrock request (by the
    provider's request id, or by counts and time), or a request of its own."""
    return {
        "gateway_name": "kong",
        "request_id": f"g{draw(st.integers(0, 5))}",
        "format": "kong",
        "occurred_at": at(draw(st.integers(0, 4)), draw(SECONDS)),
        "provider": "bedrock",
        "model_id": draw(st.sampled_from(MODELS[:2])),
        "consumer": draw(st.sampled_from(["alice@corp.example", "bob-key", None])),
        "status_code": draw(st.sampled_from([200, 200, 429])),
        "input_tokens": draw(st.sampled_from([10, 1000])),
        "output_tokens": draw(st.sampled_from([5, 50])),
        "cache_read_tokens": 0,
        "cache_write_tokens": draw(st.sampled_from([0, 100])),
        # partial: priced from the provider copy it matches, wherever that lies
        "token_detail": draw(st.sampled_from(["full", "partial"])),
        "truncated": False,
        "provider_request_id": draw(st.sampled_from([None, "b1", "b3"])),
        "total_latency_ms": 120.0,
        "upstream_latency_ms": draw(st.sampled_from([None, 100.0])),
        "source_kind": "files",
        "source_location": "test",
    }


@st.composite
def vertex(draw: Any) -> tuple[str, dict[str, Any]]:
    common = {
        "insert_id": f"v{draw(st.integers(0, 7))}",
        "occurred_at": at(draw(st.integers(0, 4)), draw(SECONDS)),
        "project_id": "proj",
        "region": "us-east5",
        "model_id": "claude-sonnet-4-5@20250929",
        "source_kind": "files",
        "source_location": "test",
    }
    if draw(st.booleans()):
        return "raw_vertex_audit", {
            **common,
            "principal_email": draw(
                st.sampled_from(["alice@corp.example", "ci@x.iam.gserviceaccount.com"])
            ),
            "status_code": draw(st.sampled_from([0, 0, 8])),
        }
    return "raw_vertex_usage", {
        **common,
        "shape": "messages",
        "response_id": f"r{draw(st.integers(0, 3))}",  # copies of one response
        "input_tokens": draw(st.sampled_from([10, 100])),
        "output_tokens": 5,
        "cache_read_tokens": 0,
        "cache_creation_tokens": 0,
        "labels": draw(st.sampled_from([None, '{"developer": "bob@corp.example"}'])),
    }


@st.composite
def telemetry(draw: Any) -> dict[str, Any]:
    """A Claude Code event (raw_claude_code): the client's copy of a Bedrock request (by the
    request id, or by model, counts and time, across midnight too), or of one no log holds."""
    name = draw(st.sampled_from(["api_request", "api_request", "api_error"]))
    return {
        "event_key": f"t{draw(st.integers(0, 5))}",
        "occurred_at": at(draw(st.integers(0, 4)), draw(SECONDS)),
        "event_name": name,
        "session_id": draw(st.sampled_from(["s1", "s2", None])),
        "request_id": draw(st.sampled_from([None, None, "b1"])),
        "model": draw(st.sampled_from(MODELS[:2])),
        "input_tokens": draw(st.sampled_from([0, 10, 1000])),
        "output_tokens": draw(st.sampled_from([0, 5, 50])),
        "cache_read_tokens": 0,
        "cache_creation_tokens": draw(st.sampled_from([0, 100])),
        "cost_usd": "0.001",
        "duration_ms": draw(st.sampled_from([0, 30_000])),
        "status_code": "429" if name == "api_error" else None,
        "user_email": draw(st.sampled_from(["alice@corp.example", "bob@corp.example", None])),
        "source_location": "test",
    }


@st.composite
def metric_point(draw: Any) -> dict[str, Any]:
    """A Claude Code active-time data point (raw_claude_code_metrics), delta or cumulative."""
    session = draw(st.sampled_from(["s1", "s2", None]))
    return {
        "point_key": f"p{draw(st.integers(0, 3))}",
        "metric_name": "claude_code.active_time.total",
        "temporality": draw(st.sampled_from(["delta", "cumulative"])),
        "start_at": draw(st.sampled_from([None, DAY0])),
        "occurred_at": at(draw(st.integers(0, 4)), draw(SECONDS)),
        "value": draw(st.sampled_from(["1", "5", "10"])),
        "session_id": session,
        "attributes": draw(st.sampled_from([None, f'{{"session.id": "{session}"}}'])),
        "source_location": "test",
    }


STEP = st.one_of(
    st.tuples(
        st.just("ingest"),
        st.lists(bedrock(), max_size=6),
        st.lists(litellm(), max_size=3),
        st.lists(vertex(), max_size=4),
        st.lists(gateway(), max_size=3),
        st.lists(telemetry(), max_size=3),
        st.lists(metric_point(), max_size=2),
    ),
    st.tuples(st.just("people"), st.integers(0, 1)),
    st.tuples(st.just("override"), st.booleans()),
)


def load_refs(con: duckdb.DuckDBPyConnection, tmp: Path, people: int, override: bool) -> None:
    csv = tmp / f"people{people}.csv"
    csv.write_text(PEOPLE[people], encoding="utf-8")
    reference.load_all(
        con, people_csv=csv, price_overrides=[OVERRIDE] if override else [], gateway=GATEWAY
    )


RAW = [
    "raw_bedrock",
    "raw_litellm_spend",
    "raw_vertex_usage",
    "raw_vertex_audit",
    "raw_gateway",
    "raw_claude_code",
    "raw_claude_code_metrics",
]


def build_from_scratch(con: duckdb.DuckDBPyConnection, scratch: duckdb.DuckDBPyConnection) -> None:
    """``scratch`` gets ``con``'s raw rows and a full build."""
    for table in RAW:
        rows = con.sql(f"select * from {table}").to_arrow_table()
        scratch.execute(f"delete from {table}")
        scratch.register("copied", rows)
        scratch.execute(f"insert into {table} select * from copied")
        scratch.unregister("copied")
    runner.build(scratch)


def assert_same_marts(con: duckdb.DuckDBPyConnection, scratch: duckdb.DuckDBPyConnection) -> None:
    for table in MARTS:
        scratch.register("built", con.sql(f"select * from {table}").to_arrow_table())
        try:
            for a, b in (("built", table), (table, "built")):
                extra = scratch.execute(
                    f"select * from {a} except all select * from {b}"
                ).fetchall()
                assert extra == [], f"{table}: rows only in {a}: {extra[:3]}"
        finally:
            scratch.unregister("built")


def assert_equals_a_full_build(
    con: duckdb.DuckDBPyConnection,
    scratch: duckdb.DuckDBPyConnection,
    tmp: Path,
    people: int = 0,
    override: bool = False,
) -> None:
    """Every mart of ``con`` equals a full build of its raw rows in ``scratch``."""
    load_refs(scratch, tmp, people, override)
    build_from_scratch(con, scratch)
    assert_same_marts(con, scratch)


@pytest.fixture(scope="module")
def scratch() -> Any:
    con = new_db(":memory:")
    yield con
    con.close()


@settings(
    max_examples=int(os.environ.get("LLMLEDGER_PROPERTY_EXAMPLES", "8")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(STEP, min_size=1, max_size=4))
def test_incremental_equals_a_full_build(  # type: ignore[no-untyped-def]
    tmp_path_factory: pytest.TempPathFactory, scratch, steps
) -> None:
    """Random ingests (new days, late rows for old days, re-delivered and updated records,
    duplicates in a page, rows moving across midnight, Vertex response copies and audit entries,
    LiteLLM's and a gateway's copies of proxy-role Bedrock calls, Claude Code events matching
    Bedrock records or not, across midnight too) and reference changes (people
    directory, a price override), each followed by an incremental build: every mart equals a
    full build of the same raw rows."""
    tmp = tmp_path_factory.mktemp("incremental")
    con = new_db(":memory:")
    people, override = 0, False
    try:
        for step in steps:
            if step[0] == "ingest":
                _, bedrock_rows, litellm_rows, vertex_rows, gateway_rows, telemetry_rows = step[:6]
                write(con, "otel", "raw_claude_code_metrics", step[6])
                write(con, "bedrock", "raw_bedrock", bedrock_rows)
                write(con, "gateway", "raw_gateway", gateway_rows)
                write(con, "otel", "raw_claude_code", telemetry_rows)
                write(con, "litellm", "raw_litellm_spend", litellm_rows)
                for table in ("raw_vertex_usage", "raw_vertex_audit"):
                    write(con, "vertex", table, [r for t, r in vertex_rows if t == table])
            elif step[0] == "people":
                people = step[1]
            else:
                override = step[1]
            load_refs(con, tmp, people, override)
            runner.build(con, incremental=True)
            assert_equals_a_full_build(con, scratch, tmp, people, override)
    finally:
        con.close()


def test_a_gateway_record_rebuilds_its_day_and_the_day_of_the_provider_copy_it_matches(  # type: ignore[no-untyped-def]
    tmp_path: Path, scratch
) -> None:
    """A gateway log is partitioned by day: its records rebuild their own day, not all of
    history, and the day of the proxy-role Bedrock record one matches (counted once, from the
    gateway), with the marts equal to a full build."""
    con = new_db(":memory:")
    try:
        load_refs(con, tmp_path, 0, False)
        proxied = {**bedrock_row("b1", at(0, 86_399)), "principal_arn": PROXY}
        write(con, "bedrock", "raw_bedrock", [proxied, bedrock_row("b2", at(3, 600))])
        assert runner.build(con, incremental=True).mode == "full"
        # the gateway logs it after midnight
        record = kong_row("g1", at(1, 1), tokens=10, provider_request_id="b1")
        write(con, "gateway", "raw_gateway", [record])
        result = runner.build(con, incremental=True)
        assert (result.mode, result.days) == ("incremental", [DAY0.date(), at(1, 0).date()])
        assert con.execute(
            "select event_id, counted, developer from usage_events order by event_id"
        ).fetchall() == [
            ("bedrock:b1", False, "unattributed"),  # the proxy's role: counted from kong
            ("bedrock:b2", True, "alice@corp.example"),
            ("gateway:kong:g1", True, "alice@corp.example"),
        ]
        assert_equals_a_full_build(con, scratch, tmp_path)
    finally:
        con.close()


def test_a_partial_gateway_record_keeps_the_price_of_its_copy_of_the_next_day(  # type: ignore[no-untyped-def]
    tmp_path: Path, scratch
) -> None:
    """A gateway record that cannot split its tokens is priced from the provider copy it
    matches; a later run rebuilding only the gateway record's day still finds the copy on the
    next day. A run on a day far from the match leaves its row as it was."""
    con = new_db(":memory:")
    try:
        load_refs(con, tmp_path, 0, False)
        # the copy after midnight, 1,000 tokens in with 100 written to the cache
        proxied = {
            **bedrock_row("b1", at(1, 20), tokens=1000),
            "principal_arn": PROXY,
            "cache_write_tokens": 100,
        }
        # 50 s before: matched by counts and time; its input is the whole prompt, no cache split
        record = kong_row("g1", at(0, 86_370), tokens=1100, token_detail="partial")
        write(con, "bedrock", "raw_bedrock", [proxied])
        write(con, "gateway", "raw_gateway", [record])
        assert runner.build(con, incremental=True).mode == "full"
        priced = (
            "select event_id, counted, input_tokens, cache_write_5m_tokens, token_detail "
            "from usage_events order by event_id"
        )
        expected = [
            ("bedrock:b1", False, 1000, 100, "exact"),
            ("gateway:kong:g1", True, 1000, 100, "exact"),
        ]
        assert con.execute(priced).fetchall() == expected
        # a new record on the gateway record's day only
        write(con, "bedrock", "raw_bedrock", [bedrock_row("b2", at(0, 600))])
        result = runner.build(con, incremental=True)
        assert (result.mode, result.days) == ("incremental", [DAY0.date()])
        assert [r for r in con.execute(priced).fetchall() if r[0] != "bedrock:b2"] == expected
        assert_equals_a_full_build(con, scratch, tmp_path)
        # a day three days on: the match's row stays as it was
        con.execute("create temp table before_match as select * from gateway_matches")
        write(con, "bedrock", "raw_bedrock", [bedrock_row("b3", at(4, 600))])
        assert runner.build(con, incremental=True).days == [at(4, 0).date()]
        assert con.execute(
            "select count(*) from (select * from gateway_matches except select * from before_match)"
        ).fetchall() == [(0,)]
        assert_equals_a_full_build(con, scratch, tmp_path)
    finally:
        con.close()


def test_a_copy_delivered_again_with_other_counts_reprices_its_gateway_record(  # type: ignore[no-untyped-def]
    tmp_path: Path, scratch
) -> None:
    """The match (by the request id the gateway kept) stays the same when the provider copy is
    delivered again with other counts; the gateway record priced from the copy is on the day
    before, and that day is rebuilt too."""
    con = new_db(":memory:")
    try:
        load_refs(con, tmp_path, 0, False)
        copy = {**bedrock_row("b1", at(1, 20), tokens=1000), "principal_arn": PROXY}
        record = kong_row(
            "g1", at(0, 86_390), tokens=1100, token_detail="partial", provider_request_id="b1"
        )
        write(con, "bedrock", "raw_bedrock", [copy])
        write(con, "gateway", "raw_gateway", [record])
        assert runner.build(con, incremental=True).mode == "full"
        write(con, "bedrock", "raw_bedrock", [{**copy, "cache_write_tokens": 100}])
        result = runner.build(con, incremental=True)
        assert (result.mode, result.days) == ("incremental", [DAY0.date(), at(1, 0).date()])
        assert con.execute(
            "select event_id, input_tokens, cache_write_5m_tokens from usage_events "
            "order by event_id"
        ).fetchall() == [("bedrock:b1", 1000, 100), ("gateway:kong:g1", 1000, 100)]
        assert_equals_a_full_build(con, scratch, tmp_path)
    finally:
        con.close()


def kong_row(
    request_id: str,
    when: datetime,
    *,
    tokens: int,
    token_detail: str = "full",
    provider_request_id: str | None = None,
) -> dict[str, Any]:
    """Kong's record of alice's request to Bedrock (5 tokens out, no cache counts)."""
    return {
        "gateway_name": "kong",
        "request_id": request_id,
        "format": "kong",
        "occurred_at": when,
        "provider": "bedrock",
        "model_id": MODELS[0],
        "consumer": "alice@corp.example",
        "status_code": 200,
        "input_tokens": tokens,
        "output_tokens": 5,
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
        "token_detail": token_detail,
        "truncated": False,
        "provider_request_id": provider_request_id,
        "source_kind": "files",
        "source_location": "test",
    }


def bedrock_row(request_id: str, when: datetime, tokens: int = 10) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "occurred_at": when,
        "account_id": "111122223333",
        "region": "us-east-1",
        "operation": "InvokeModel",
        "model_id": MODELS[0],
        "principal_arn": PRINCIPALS[0],
        "input_tokens": tokens,
        "output_tokens": 5,
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
        "source_kind": "files",
        "source_location": "test",
    }


@pytest.fixture
def ledger(tmp_path: Path) -> Any:
    """A database with three days of Bedrock rows, and a CLI `build` on it with a config naming
    a people directory; ``build(*args)`` returns the build's stderr lines."""
    db = tmp_path / "ledger.duckdb"
    people = tmp_path / "people.csv"
    people.write_text(PEOPLE[0], encoding="utf-8")
    config = tmp_path / "llmledger.toml"
    config.write_text('[people]\ndirectory = "people.csv"\n', encoding="utf-8")
    con = new_db(db)
    write(con, "bedrock", "raw_bedrock", [bedrock_row(f"b{d}", at(d, 600)) for d in range(3)])
    con.close()

    def build(*args: str) -> list[str]:
        result = CliRunner().invoke(cli, ["--db", str(db), "--config", str(config), "build", *args])
        assert result.exit_code == 0, result.output
        return result.stderr.splitlines()

    def ingest(rows: list[dict[str, Any]], table: str = "raw_bedrock") -> None:
        con = store.connect(db)
        try:
            write(con, "bedrock", table, rows)
        finally:
            con.close()

    return build, ingest, people, db


def test_first_build_is_full_then_only_the_touched_day(ledger) -> None:  # type: ignore[no-untyped-def]
    build, ingest, _, _ = ledger
    assert build()[0] == "full rebuild: first build"
    assert build()[0] == "incremental build: 0 days rebuilt"
    ingest([bedrock_row("new", at(1, 700))])
    assert build()[0] == "incremental build: 1 day rebuilt (2026-10-02)"
    # an updated record moving to another day: the old day and the new one
    ingest([bedrock_row("new", at(2, 700), tokens=99)])
    assert build()[0] == "incremental build: 2 days rebuilt (2026-10-02, 2026-10-03)"
    # a re-delivered record that did not change: nothing
    ingest([bedrock_row("new", at(2, 700), tokens=99)])
    assert build()[0] == "incremental build: 0 days rebuilt"


def test_reference_changes_rebuild_everything_and_say_why(ledger) -> None:  # type: ignore[no-untyped-def]
    build, _, people, _ = ledger
    build()
    people.write_text(PEOPLE[1], encoding="utf-8")
    assert build()[0] == "full rebuild: people directory changed"
    assert build()[0] == "incremental build: 0 days rebuilt"
    assert build("--full")[0] == "full rebuild: --full"


def test_rows_written_outside_the_loader_rebuild_everything(ledger) -> None:  # type: ignore[no-untyped-def]
    build, _, _, db = ledger
    build()
    con = store.connect(db)
    con.execute(
        "insert into raw_bedrock select * replace ('hand' as request_id) from raw_bedrock limit 1"
    )
    con.close()
    assert build()[0] == "full rebuild: raw_bedrock changed outside ingest"


def test_a_table_not_partitioned_by_day_rebuilds_everything(ledger) -> None:  # type: ignore[no-untyped-def]
    build, ingest, _, _ = ledger
    build()
    con_rows = [
        {
            "team_id": "t1",
            "team_alias": "payments",
            "deleted": False,
            "proxy": "default",
            "source_kind": "files",
        }
    ]
    ingest(con_rows, "raw_litellm_teams")
    assert build()[0] == "full rebuild: raw_litellm_teams changed (not partitioned by day)"


def assert_snapshot_is_the_database(db: Path) -> None:
    from models.snapshot import PUBLISHED

    con = duckdb.connect(str(db), read_only=True)
    try:
        con.execute(f"attach '{db.with_name('ledger.snapshot.duckdb')}' as snap (read_only)")
        tables = {
            r[0]
            for r in con.execute(
                "select table_name from duckdb_tables() where database_name = 'snap'"
            ).fetchall()
        }
        for table in PUBLISHED:
            if table in ("ingest_runs", "ingest_cursors"):
                continue  # the run log gains the publish's own line after it
            assert table in tables
            for a, b in (("main", "snap"), ("snap", "main")):
                extra = con.execute(
                    f"select * from {a}.{table} except all select * from {b}.{table}"
                ).fetchall()
                assert extra == [], f"{table}: rows only in {a}: {extra[:3]}"
    finally:
        con.close()


def snapshot_id(db: Path) -> str:
    con = duckdb.connect(str(db.with_name("ledger.snapshot.duckdb")), read_only=True)
    try:
        return str(con.execute("select snapshot_id from snapshot_info").fetchall()[0][0])
    finally:
        con.close()


def test_publish_replaces_only_the_rebuilt_days_and_equals_the_database(ledger) -> None:  # type: ignore[no-untyped-def]
    build, ingest, people, db = ledger
    build()
    first = snapshot_id(db)
    assert_snapshot_is_the_database(db)
    ingest([bedrock_row("new", at(1, 700)), bedrock_row("b0", at(4, 10), tokens=7)])
    assert build()[0] == "incremental build: 3 days rebuilt (2026-10-01, 2026-10-02, 2026-10-05)"
    second = snapshot_id(db)
    assert second != first
    assert_snapshot_is_the_database(db)
    assert build()[0] == "incremental build: 0 days rebuilt"
    assert snapshot_id(db) != second  # a fresh id on every publish
    assert_snapshot_is_the_database(db)
    people.write_text(PEOPLE[1], encoding="utf-8")
    build()
    assert_snapshot_is_the_database(db)
    # a snapshot that is not the one last published (gone, or another file): a whole new one
    ingest([bedrock_row("late", at(0, 5))])
    db.with_name("ledger.snapshot.duckdb").write_bytes(b"not a database")
    assert build()[0] == "incremental build: 1 day rebuilt (2026-10-01)"
    assert_snapshot_is_the_database(db)
    ingest([bedrock_row("later", at(2, 5))])
    db.with_name("ledger.snapshot.duckdb").unlink()
    build()
    assert_snapshot_is_the_database(db)


def snapshot_objects(db: Path) -> dict[str, Any]:
    """What the published snapshot holds besides its tables' rows."""
    con = duckdb.connect(str(db.with_name("ledger.snapshot.duckdb")), read_only=True)
    try:
        one = lambda sql: sorted(r[0] for r in con.execute(sql).fetchall())  # noqa: E731
        return {
            "tables": one("select table_name from duckdb_tables()"),
            "views": one("select view_name from duckdb_views() where not internal"),
            "macros": one(
                "select distinct function_name from duckdb_functions() where not internal "
                "and database_name = current_database()"
            ),
            "sequences": one("select sequence_name from duckdb_sequences()"),
            "constrained": one("select distinct table_name from duckdb_constraints()"),
            "defaults": one(
                "select distinct table_name from duckdb_columns() where column_default is not null"
            ),
        }
    finally:
        con.close()


def test_a_whole_publish_copies_the_database_file_and_drops_the_rest(ledger, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # A whole publish (first build, full rebuild) copies the checkpointed database file and
    # drops what it does not publish: the marts' blocks are not read and written again. Where
    # the disk lacks room for the copy, the tables are copied one by one; either way the
    # snapshot holds the published tables only, as the database has them.
    from models import snapshot

    build, _, people, db = ledger
    copied: list[str] = []
    copy_table = snapshot._copy_table
    monkeypatch.setattr(
        snapshot, "_copy_table", lambda con, table: (copied.append(table), copy_table(con, table))
    )
    assert build()[0] == "full rebuild: first build"
    assert "usage_events" not in copied and "usage_minute" not in copied
    assert "ingest_runs" in copied  # keys and defaults in the database; none published
    assert_snapshot_is_the_database(db)
    published = snapshot_objects(db)
    assert published == {
        "tables": sorted([*snapshot.PUBLISHED, "snapshot_info"]),
        "views": [],
        "macros": [],
        "sequences": [],
        "constrained": [],
        "defaults": [],
    }
    assert not (db.parent / "ledger.snapshot.duckdb.a.wal").exists()
    copied.clear()
    monkeypatch.setattr(snapshot, "COPY_MARGIN", 1 << 60)  # no room: table by table
    people.write_text(PEOPLE[1], encoding="utf-8")
    assert build()[0].startswith("full rebuild: ")
    assert "usage_events" in copied and "usage_minute" in copied
    assert_snapshot_is_the_database(db)
    assert snapshot_objects(db) == published


def test_publish_copies_the_current_snapshot_when_the_older_one_lacks_a_large_share(ledger) -> None:  # type: ignore[no-untyped-def]
    # After a backfill (a large share of the events rebuilt by the last publish), bringing the
    # older generation up to date would write that backfill again: a copy of the current file
    # costs less (models.snapshot.IN_PLACE_SHARE), so the next publish writes a new file.
    from models.snapshot import IN_PLACE_SHARE, generations

    build, ingest, _, db = ledger
    snap = db.with_name("ledger.snapshot.duckdb")
    a, b = generations(snap)
    ingest([bedrock_row(f"h{i}", at(5, i)) for i in range(60)])  # 63 events
    build()
    ingest([bedrock_row("d1", at(1, 5))])
    build()  # into b (a copy of a)
    ingest([bedrock_row(f"backfill{i}", at(6, i)) for i in range(30)])  # 30 of 94 events
    inode = a.stat().st_ino
    build()  # a lacks only day 1 (2 of 94 events): in place
    assert os.readlink(snap) == a.name and a.stat().st_ino == inode
    assert 2 / 94 < IN_PLACE_SHARE < 30 / 95
    inode = b.stat().st_ino
    ingest([bedrock_row("d2", at(2, 5))])
    build()  # b lacks the backfill's day (30 of 95 events): a copy of a, renamed over b
    assert os.readlink(snap) == b.name and b.stat().st_ino != inode
    assert_snapshot_is_the_database(db)
    inode = a.stat().st_ino
    ingest([bedrock_row("d3", at(0, 5))])
    build()  # a lacks day 2 only (2 of 96): in place again
    assert os.readlink(snap) == a.name and a.stat().st_ino == inode
    assert_snapshot_is_the_database(db)


def test_publish_updates_the_older_generation_in_place_unless_a_reader_holds_it(ledger) -> None:  # type: ignore[no-untyped-def]
    from models.snapshot import generations

    build, ingest, _, db = ledger
    snap = db.with_name("ledger.snapshot.duckdb")
    a, b = generations(snap)
    # history, so that a day the older generation lacks is a small share of it (else a copy
    # is the cheaper publish: the next test)
    ingest([bedrock_row(f"h{i}", at(5, i)) for i in range(60)])
    build()  # a full build: written whole, into a
    assert os.readlink(snap) == a.name and not b.exists()
    ingest([bedrock_row("d1", at(1, 5))])
    build()  # b does not exist yet: a copy of a with the day replaced
    assert os.readlink(snap) == b.name
    assert_snapshot_is_the_database(db)
    inode = a.stat().st_ino
    ingest([bedrock_row("d2", at(2, 5))])
    build()
    # a is the snapshot b replaced: brought up to date in place (days 2 and 3), the same file
    assert os.readlink(snap) == a.name and a.stat().st_ino == inode
    assert_snapshot_is_the_database(db)

    # a reader (another process) still holding b: the next publish writes a new b instead
    reader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; con = duckdb.connect(sys.argv[1], read_only=True); "
            "print(con.execute('select snapshot_id from snapshot_info').fetchone()[0], "
            "flush=True); time.sleep(120)",
            str(b),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout is not None
        held_id = reader.stdout.readline().strip()
        inode = b.stat().st_ino
        ingest([bedrock_row("d3", at(0, 9))])
        build()
        assert os.readlink(snap) == b.name and b.stat().st_ino != inode
        assert snapshot_id(db) != held_id
        assert_snapshot_is_the_database(db)
    finally:
        reader.kill()
        reader.wait(timeout=30)
    # and the next one is in place again
    inode = a.stat().st_ino
    ingest([bedrock_row("d4", at(1, 9))])
    build()
    assert os.readlink(snap) == a.name and a.stat().st_ino == inode
    assert_snapshot_is_the_database(db)
    assert sorted(p.name for p in db.parent.iterdir() if p.name.startswith("ledger.snap")) == [
        "ledger.snapshot.duckdb",
        "ledger.snapshot.duckdb.a",
        "ledger.snapshot.duckdb.b",
    ]


def telemetry_row(key: str, when: datetime, duration_ms: int = 30_000) -> dict[str, Any]:
    """A Claude Code api_request event (raw_claude_code) for MODELS[0], 10 in / 5 out."""
    return {
        "event_key": key,
        "occurred_at": when,
        "event_name": "api_request",
        "session_id": "s1",
        "model": MODELS[0],
        "input_tokens": 10,
        "output_tokens": 5,
        "cache_read_tokens": 0,
        "cache_creation_tokens": 0,
        "cost_usd": "0.0001",
        "duration_ms": duration_ms,
        "user_email": "alice@corp.example",
        "source_location": "test",
    }


def test_a_provider_record_matching_telemetry_of_the_day_before_rebuilds_that_day(  # type: ignore[no-untyped-def]
    tmp_path: Path, scratch
) -> None:
    """A Bedrock record delivered after midnight that matches a Claude Code event of the day
    before (the event counted its own spend until then) rebuilds that day too: the event stops
    counting, so the day's spend is the provider's record, once, as in a full build."""
    con = new_db(":memory:")
    try:
        load_refs(con, tmp_path, 0, False)
        write(con, "otel", "raw_claude_code", [telemetry_row("t1", at(0, 86_390))])
        write(con, "bedrock", "raw_bedrock", [bedrock_row("b9", at(3, 600))])
        assert runner.build(con, incremental=True).mode == "full"
        assert con.execute(
            "select event_id, counted from usage_events order by event_id"
        ).fetchall() == [("bedrock:b9", True), ("claude_code:t1", True)]
        late = {**bedrock_row("b1", at(1, 5)), "principal_arn": PROXY}
        write(con, "bedrock", "raw_bedrock", [late])
        result = runner.build(con, incremental=True)
        assert (result.mode, result.days) == ("incremental", [DAY0.date(), at(1, 0).date()])
        assert con.execute(
            "select event_id, counted, developer from usage_events order by event_id"
        ).fetchall() == [
            ("bedrock:b1", True, "alice@corp.example"),  # the developer from the telemetry
            ("bedrock:b9", True, "alice@corp.example"),
            ("claude_code:t1", False, "alice@corp.example"),
        ]
        assert_equals_a_full_build(con, scratch, tmp_path)
    finally:
        con.close()


def test_telemetry_rebuilds_its_days_and_metrics_or_bills_only_whole_history_marts(ledger) -> None:  # type: ignore[no-untyped-def]
    """Claude Code events are partitioned by day like the provider logs. Its metric points and
    the bills reach no event: a new point rebuilds its session's row, not a day; a bill line
    rebuilds the whole-history marts, not a day, and says so."""
    build, ingest, _, db = ledger
    build()
    ingest([{**telemetry_row("t1", at(2, 700)), "request_id": "b2"}], "raw_claude_code")
    ingest([{**telemetry_row("t2", at(0, 700)), "session_id": "s2"}], "raw_claude_code")
    assert build()[0] == "incremental build: 2 days rebuilt (2026-10-01, 2026-10-03)"
    assert_snapshot_is_the_database(db)  # the matches published by day
    point = {
        "point_key": "p1",
        "metric_name": "claude_code.active_time.total",
        "temporality": "delta",
        "occurred_at": at(2, 760),
        "value": "42.5",
        "session_id": "s1",
        "source_location": "test",
    }
    ingest([point], "raw_claude_code_metrics")
    assert build()[0] == "incremental build: 0 days rebuilt"
    assert_snapshot_is_the_database(db)
    sessions = (
        "select session_id, developer, requests, cost_usd is not null, active_seconds "
        "from claude_code_sessions order by session_id"
    )
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute(sessions).fetchall() == [
            ("s1", "alice@corp.example", 1, True, Decimal("42.500")),
            ("s2", "alice@corp.example", 1, True, Decimal("0.000")),
        ]
        assert con.execute(
            "select telemetry_event_id, provider_event_id, match_method "
            "from claude_code_attribution order by 1"
        ).fetchall() == [
            ("claude_code:t1", "bedrock:b2", "request_id"),
            ("claude_code:t2", "bedrock:b0", "model_tokens_time"),
        ]
    finally:
        con.close()
    line = {
        "line_id": "g1",
        "service_description": "Claude Sonnet 4.5",
        "sku_description": "Claude Sonnet 4.5 Input Tokens",
        "usage_start_at": at(1, 0),
        "cost": "1.25",
        "source_location": "test",
    }
    ingest([line], "raw_gcp_billing")
    assert build()[0] == (
        "incremental build: 0 days rebuilt; raw_gcp_billing changed: the marts over all days "
        "rebuilt"
    )
    assert build()[0] == "incremental build: 0 days rebuilt"
    con = duckdb.connect(str(db), read_only=True)
    try:
        after = con.execute(sessions).fetchall()
    finally:
        con.close()
    assert build("--full")[0] == "full rebuild: --full"
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute(sessions).fetchall() == after  # as a full build makes them
    finally:
        con.close()


def test_the_side_tables_are_the_bills_and_the_telemetry_metrics() -> None:
    """Read off the model files: what no event and no day-partitioned mart reads."""
    assert runner.side_tables(runner.model_files()) == {
        "raw_aws_cur",
        "raw_aws_cur_deliveries",
        "raw_gcp_billing",
        "raw_claude_code_metrics",
    }
