"""Source `litellm` against a real PostgreSQL with LiteLLM's own table layout.

Each test gets its own database, copied from a session template that holds
tests/litellm_schema.sql (quoted CamelCase tables, timestamp(3) without time zone, jsonb). The
server is 127.0.0.1:5432 unless LLMLEDGER_TEST_PG_ADMIN names another admin DSN; without it the
tests skip off CI and fail with CI=true (tests/conftest.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner

from ingest import store
from ingest.cli import cli
from ingest.config import Config
from ingest.context import AppContext, raw_table_ddl
from ingest.runner import run_source

psycopg = pytest.importorskip("psycopg", reason="psycopg is not installed (pip install -e .[dev])")
from psycopg.conninfo import make_conninfo  # noqa: E402
from psycopg.types.json import Jsonb  # noqa: E402

pytestmark = pytest.mark.service

ADMIN_DSN = os.environ.get("LLMLEDGER_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/test")
SCHEMA = Path(__file__).with_name("litellm_schema.sql")
SENTINEL = "LLMLEDGER-BODY-SENTINEL"


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


KEY_ALICE, KEY_ALICE_OLD = key_hash("sk-alice"), key_hash("sk-alice-before-rotation")
KEY_BOB, KEY_SVC, KEY_GONE = key_hash("sk-bob"), key_hash("sk-ranker"), key_hash("sk-gone")
T0 = datetime(2026, 11, 2, 9, 0, 0)


# ---------------------------------------------------------------------------------------------
# PostgreSQL fixtures


@dataclass
class PG:
    conn: Any
    dsn: str
    name: str

    def execute(self, sql: str, params: Any = None) -> Any:
        return self.conn.execute(sql, params)

    def insert(self, table: str, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            cols = ", ".join(f'"{c}"' for c in row)
            marks = ", ".join(["%s"] * len(row))
            values = [Jsonb(v) if isinstance(v, (dict, list)) else v for v in row.values()]
            self.conn.execute(f'insert into "{table}" ({cols}) values ({marks})', values)


def dsn_for(dbname: str) -> str:
    return make_conninfo(ADMIN_DSN, dbname=dbname)


@pytest.fixture(scope="session")
def pg_template():
    try:
        admin = psycopg.connect(ADMIN_DSN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        pytest.skip(f"PostgreSQL not reachable at {ADMIN_DSN}: {first}")
    name = f"llmledger_test_tpl_{secrets.token_hex(4)}"
    admin.execute(f'create database "{name}"')
    with psycopg.connect(dsn_for(name), autocommit=True) as conn:
        conn.execute(SCHEMA.read_text())
    yield admin, name
    admin.execute(f'drop database if exists "{name}" with (force)')
    admin.close()


@pytest.fixture
def pg(pg_template, monkeypatch):
    admin, template = pg_template
    name = f"llmledger_test_{secrets.token_hex(4)}"
    admin.execute(f'create database "{name}" template "{template}"')
    dsn = dsn_for(name)
    monkeypatch.setenv("LITELLM_DATABASE_URL", dsn)
    conn = psycopg.connect(dsn, autocommit=True)
    yield PG(conn, dsn, name)
    conn.close()
    admin.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture
def duck(tmp_path):
    con = store.connect(tmp_path / "ledger.duckdb")
    store.ensure_tables(con, raw_table_ddl())
    yield con
    con.close()


# ---------------------------------------------------------------------------------------------
# Rows as the proxy writes them


def usage(
    prompt: int, completion: int, read: int = 0, creation: int = 0, one_hour: int | None = None
) -> dict[str, Any]:
    details: dict[str, Any] = {"cached_tokens": read, "cache_creation_tokens": creation}
    if one_hour is not None:
        details["cache_creation_token_details"] = {
            "ephemeral_5m_input_tokens": creation - one_hour,
            "ephemeral_1h_input_tokens": one_hour,
        }
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": details,
        "cache_read_input_tokens": read,
        "cache_creation_input_tokens": creation,
    }


def spend_row(request_id: str, start: datetime, **kw: Any) -> dict[str, Any]:
    u = kw.pop("usage_object", None)
    meta = kw.pop("meta", {})
    row: dict[str, Any] = {
        "request_id": request_id,
        "call_type": "anthropic_messages",
        "api_key": KEY_ALICE,
        "spend": 0.01,
        "prompt_tokens": u["prompt_tokens"] if u else 100,
        "completion_tokens": u["completion_tokens"] if u else 10,
        "total_tokens": u["total_tokens"] if u else 110,
        "startTime": start,
        "endTime": start + timedelta(seconds=7),
        "model": "anthropic/claude-sonnet-4-5-20250929",
        "model_group": "claude-sonnet-4-5",
        "custom_llm_provider": "anthropic",
        "api_base": "https://api.anthropic.com/v1/messages",
        "user": "u-alice",
        "team_id": "t-platform",
        "status": "success",
        "request_tags": ["User-Agent: claude-cli", "User-Agent: claude-cli/2.0.14 (external, cli)"],
        "end_user": "user_4f1c_account__session_9a8b",  # Claude Code's per-session blob
        "session_id": "9a8b0000-0000-4000-8000-000000000000",
        "metadata": {"usage_object": u, **meta} if u else {**meta},
    }
    row.update(kw)
    return row


def seed_dimensions(pg: PG) -> None:
    pg.insert(
        "LiteLLM_UserTable",
        [
            {"user_id": "u-alice", "user_email": "alice@acme.example", "password": "hunter2"},
            {"user_id": "u-bob", "user_email": "bob@acme.example", "user_alias": "Bob"},
        ],
    )
    pg.insert(
        "LiteLLM_TeamTable",
        [
            {
                "team_id": "t-platform",
                "team_alias": "platform",
                "tpm_limit": 1_000_000,
                "rpm_limit": 500,
            },
            {"team_id": "t-payments", "team_alias": "payments"},
            {
                "team_id": "t-search",
                "team_alias": "search",
                "tpm_limit": 300_000,
                "metadata": {"model_rpm_limit": {"claude-haiku-4-5": 100}},
            },
        ],
    )
    pg.insert(
        "LiteLLM_VerificationToken",
        [
            {
                "token": KEY_ALICE,
                "key_alias": "alice-laptop",
                "key_name": "sk-...lice",
                "user_id": "u-alice",
                "team_id": "t-platform",
                "tpm_limit": 200_000,
                "rpm_limit": 60,
                "max_budget": 250.5,
                "budget_duration": "30d",
                "metadata": {"model_tpm_limit": {"claude-opus-4-6": 50_000}},
            },
            {"token": KEY_BOB, "key_alias": "bob-key", "user_id": "u-bob", "team_id": "t-payments"},
            {
                "token": KEY_SVC,
                "key_alias": "search-ranker-svc",
                "team_id": "t-search",
                "rpm_limit": 30,
            },
        ],
    )
    pg.insert(
        "LiteLLM_DeletedVerificationToken",
        [
            {
                "id": "d1",
                "token": KEY_GONE,
                "key_alias": "old-laptop",
                "user_id": "u-alice",
                "tpm_limit": 5,
                "deleted_at": T0,
            },
        ],
    )
    pg.insert(
        "LiteLLM_DeprecatedVerificationToken",
        [
            {
                "id": "r1",
                "token": KEY_ALICE_OLD,
                "active_token_id": KEY_ALICE,
                "revoke_at": T0 + timedelta(days=1),
            },
        ],
    )


def staged(con: duckdb.DuckDBPyConnection, request_id: str) -> dict[str, Any]:
    """The row as the events union takes it: stg_litellm with the key/user/team snapshots."""
    rel = con.execute("select * from int_litellm_events where request_id = ?", [request_id])
    cols = [d[0] for d in rel.description]
    row = rel.fetchone()
    assert row is not None, request_id
    return dict(zip(cols, row, strict=True))


def build(con: duckdb.DuckDBPyConnection, **reference: Any) -> None:
    from models import reference as ref
    from models import runner

    ref.load_all(con, **reference)
    runner.build(con)


APP = AppContext(db_path=Path("unused.duckdb"), config=Config(path=None), quiet=True)


def run(con: duckdb.DuckDBPyConnection, *, since: Any = None, **options: Any) -> Any:
    return run_source(APP, con, "litellm", {"connect_attempts": 1, **options}, since=since)


def run_files(con: duckdb.DuckDBPyConnection, path: Path) -> Any:
    return run_source(APP, con, "litellm-files", {"path": str(path)})


def cursor_of(con: duckdb.DuckDBPyConnection, partition: str = "default") -> str | None:
    return store.get_cursor(con, "litellm", partition)


# ---------------------------------------------------------------------------------------------
# Tests


@dataclass
class Staged:
    con: duckdb.DuckDBPyConnection
    result: Any  # the LoadResult of the ingest


@pytest.fixture
def staged_rows(pg: PG, duck: duckdb.DuckDBPyConnection) -> Staged:
    """Seven spend rows of every kind a proxy writes, with its keys, teams and users, ingested
    from PostgreSQL and built."""
    seed_dimensions(pg)
    secret_meta = {
        "proxy_server_request": {"messages": [{"content": SENTINEL}]},
        "model_map_information": {
            "model_map_key": "us.anthropic.claude-sonnet-4-5",
            "model_map_value": {"note": SENTINEL},
        },
    }
    pg.insert(
        "LiteLLM_SpendLogs",
        [
            # Claude Code through /v1/messages on a Bedrock deployment, 1h cache writes reported
            spend_row(
                "msg_bdrk_01claudecode",
                T0,
                model="bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0",
                custom_llm_provider="bedrock",
                spend=0.0577896,
                api_base="https://bedrock-runtime.us-east-1.amazonaws.com",
                usage_object=usage(104_012, 500, read=100_000, creation=4_000, one_hour=3_000),
                meta={
                    "user_api_key_alias": "alice-laptop",
                    "user_api_key_user_email": "alice@acme.example",
                    "user_api_key_team_alias": "platform",
                    **secret_meta,
                },
                messages={"content": SENTINEL},
                response={"content": SENTINEL},
                proxy_server_request={"body": SENTINEL},
            ),
            # /anthropic pass-through, old rotated key hash, no key snapshot in metadata
            spend_row(
                "msg_01passthrough",
                T0 + timedelta(seconds=1),
                call_type="pass_through_endpoint",
                api_key=KEY_ALICE_OLD,
                model="claude-sonnet-4-5-20250929",
                model_group="",
                user="",
                team_id="",
                usage_object=usage(2_100, 40, read=2_000),
            ),
            # Vertex-backed deployment, regional endpoint
            spend_row(
                "msg_vrtx_01vertex",
                T0 + timedelta(seconds=2),
                api_key=KEY_BOB,
                model="vertex_ai/claude-opus-4-6",
                custom_llm_provider="vertex_ai",
                api_base="https://us-east5-aiplatform.googleapis.com/v1/projects/acme/locations/"
                "us-east5/publishers/anthropic/models/claude-opus-4-6:rawPredict",
                user="u-bob",
                team_id="t-payments",
                usage_object=usage(1_500, 200, creation=1_000),
            ),
            # LiteLLM's own rate limit: rejected before routing
            spend_row(
                "litellm-429-own",
                T0 + timedelta(seconds=3),
                status="failure",
                spend=0,
                model="",
                custom_llm_provider="",
                api_base="",
                prompt_tokens=0,
                completion_tokens=0,
                total_tokens=0,
                meta={
                    "error_information": {
                        "error_code": "429",
                        "error_class": "ProxyRateLimitError",
                        "error_rate_limit_category": "litellm_rate_limit",
                        "error_rate_limit_type": "requests",
                        "error_message": f"Rate limit exceeded {SENTINEL}",
                        "traceback": f"Traceback {SENTINEL}",
                    }
                },
            ),
            # the provider throttled (Bedrock ThrottlingException seen through LiteLLM)
            spend_row(
                "litellm-429-vendor",
                T0 + timedelta(seconds=4),
                status="failure",
                spend=0,
                model="bedrock/us.anthropic.claude-haiku-4-5-20251001-v1:0",
                custom_llm_provider="bedrock",
                prompt_tokens=0,
                completion_tokens=0,
                total_tokens=0,
                meta={
                    "error_information": {
                        "error_code": "429",
                        "error_class": "RateLimitError",
                        "llm_provider": "bedrock",
                        "error_rate_limit_category": "vendor_rate_limit",
                        "error_provider_request_id": "8c1f2a7e-0000-4000-8000-000000000001",
                    }
                },
            ),
            # a model LiteLLM could not price: spend 0, tokens real
            spend_row(
                "msg_01unpriced",
                T0 + timedelta(seconds=5),
                spend=0,
                model="anthropic/claude-sonnet-4-20250514",
                usage_object=usage(1_000, 100),
            ),
            # master-key traffic, old row without status
            spend_row(
                "chatcmpl-master",
                T0 + timedelta(seconds=6),
                call_type="acompletion",
                api_key="",
                user="",
                team_id="",
                status=None,
                meta={"user_api_key_alias": "litellm_proxy_master_key"},
            ),
        ],
    )
    result = run(duck)
    build(duck)
    return Staged(duck, result)


def test_rows_load_with_their_key_team_and_user_snapshots(staged_rows: Staged) -> None:
    result = staged_rows.result
    assert (result.new_rows, result.rejected_rows) == (
        7 + 3 + 2 + 5,
        0,
    )  # spend, teams, users, keys


def test_claude_code_on_a_bedrock_deployment_is_staged_exactly(staged_rows: Staged) -> None:
    duck = staged_rows.con
    bedrock = staged(duck, "msg_bdrk_01claudecode")
    assert {
        k: bedrock[k]
        for k in (
            "event_id",
            "source",
            "provider",
            "principal",
            "person_hint",
            "team_hint",
            "model_id",
            "model",
            "region",
            "pricing_scope",
            "input_tokens",
            "output_tokens",
            "cache_read_tokens",
            "cache_write_5m_tokens",
            "cache_write_1h_tokens",
            "reported_cost_usd",
            "status",
            "error_code",
            "billable",
            "gateway_role",
        )
    } == {
        "event_id": "litellm:msg_bdrk_01claudecode",
        "source": "litellm",
        "provider": "bedrock",
        "principal": "alice-laptop",
        "person_hint": "alice@acme.example",
        "team_hint": "platform",
        "model_id": "bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "model": "claude-sonnet-4-5",
        "region": "us-east-1",
        "pricing_scope": "geo",
        "input_tokens": 12,
        "output_tokens": 500,
        "cache_read_tokens": 100_000,
        "cache_write_5m_tokens": 1_000,
        "cache_write_1h_tokens": 3_000,
        "reported_cost_usd": Decimal("0.057789600000"),
        "status": "ok",
        "error_code": None,
        "billable": True,
        "gateway_role": False,
    }


def test_a_pass_through_row_takes_its_rotated_keys_owner(staged_rows: Staged) -> None:
    duck = staged_rows.con
    passthrough = staged(duck, "msg_01passthrough")
    assert (
        passthrough["principal"],
        passthrough["person_hint"],
        passthrough["team_hint"],
        passthrough["provider"],
        passthrough["model"],
        passthrough["pricing_scope"],
        passthrough["region"],
        passthrough["input_tokens"],
        passthrough["cache_read_tokens"],
    ) == (
        "alice-laptop",
        "alice@acme.example",
        "platform",
        "anthropic",
        "claude-sonnet-4-5",
        "global",
        None,
        100,
        2_000,
    )


def test_a_vertex_backed_row_is_regional(staged_rows: Staged) -> None:
    duck = staged_rows.con
    vertex = staged(duck, "msg_vrtx_01vertex")
    assert (
        vertex["provider"],
        vertex["model"],
        vertex["region"],
        vertex["pricing_scope"],
        vertex["person_hint"],
        vertex["team_hint"],
        vertex["input_tokens"],
        vertex["cache_write_5m_tokens"],
        vertex["cache_write_1h_tokens"],
    ) == (
        "vertex",
        "claude-opus-4-6",
        "us-east5",
        "regional",
        "bob@acme.example",
        "payments",
        500,
        1_000,
        0,
    )


def test_own_and_provider_429s_are_throttled(staged_rows: Staged) -> None:
    duck = staged_rows.con
    own = staged(duck, "litellm-429-own")
    vendor = staged(duck, "litellm-429-vendor")
    assert (own["status"], own["error_code"], own["model"]) == (
        "throttled",
        "429:litellm_rate_limit:requests",
        "claude-sonnet-4-5",
    )
    assert (vendor["status"], vendor["error_code"]) == ("throttled", "429:provider_rate_limit")


def test_unpriced_and_master_key_rows(staged_rows: Staged) -> None:
    duck = staged_rows.con
    unpriced = staged(duck, "msg_01unpriced")
    assert (unpriced["model"], unpriced["reported_cost_usd"]) == ("claude-sonnet-4", Decimal(0))
    master = staged(duck, "chatcmpl-master")
    assert (master["principal"], master["person_hint"], master["status"]) == (
        "litellm_proxy_master_key",
        None,
        "ok",
    )


def test_costs_come_from_our_price_book(staged_rows: Staged) -> None:
    duck = staged_rows.con
    events = dict(
        duck.execute(
            "select request_id, cost_usd from usage_events where source = 'litellm'"
        ).fetchall()
    )
    # our price book: us. Sonnet 4.5 at +10%, the 1h writes at 2x input
    assert events["msg_bdrk_01claudecode"] == Decimal("0.065214600000")
    assert events["msg_01unpriced"] == Decimal("0.004500000000")  # priced by us, $0 by LiteLLM


def test_no_body_text_of_any_row_reaches_the_database(staged_rows: Staged) -> None:
    assert_no_body_text(staged_rows.con)


def assert_no_body_text(con: duckdb.DuckDBPyConnection) -> None:
    """No column of any table holds the sentinel from messages/response/metadata bodies."""
    tables = [
        r[0]
        for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'main' "
            "and table_type = 'BASE TABLE'"
        ).fetchall()
    ]
    for table in tables:
        cols = [r[0] for r in con.execute(f"describe {table}").fetchall()]
        if not cols:
            continue
        concat = " || ".join(f"coalesce(cast({c} as varchar), '')" for c in cols)
        hits = con.execute(
            f"select count(*) from {table} where ({concat}) like '%{SENTINEL}%' "
            f"or ({concat}) like '%hunter2%'"
        ).fetchone()
        assert hits == (0,), f"body text reached {table}"


def test_incremental_late_rows_and_dedupe(pg: PG, duck: duckdb.DuckDBPyConnection) -> None:
    pg.insert(
        "LiteLLM_SpendLogs", [spend_row(f"r{i}", T0 + timedelta(minutes=i)) for i in range(5)]
    )
    first = run(duck)
    assert (first.new_rows, first.updated_rows) == (5, 0)
    assert cursor_of(duck) == "2026-11-02T09:04:00.000000Z"

    pg.insert(
        "LiteLLM_SpendLogs",
        [
            # written late: started 20 minutes before the cursor, inside the 30-minute overlap
            spend_row("late-inside", T0 + timedelta(minutes=4) - timedelta(minutes=20)),
            # started 2 hours before the cursor: outside the overlap, not read incrementally
            spend_row("late-outside", T0 - timedelta(hours=2)),
            spend_row("new", T0 + timedelta(minutes=10)),
        ],
    )
    pg.execute("""update "LiteLLM_SpendLogs" set spend = 0.5 where request_id = 'r3'""")
    second = run(duck)
    assert (second.new_rows, second.updated_rows, second.unchanged_rows) == (2, 1, 4)
    assert cursor_of(duck) == "2026-11-02T09:10:00.000000Z"
    ids = {r[0] for r in duck.execute("select request_id from raw_litellm_spend").fetchall()}
    assert ids == {"r0", "r1", "r2", "r3", "r4", "late-inside", "new"}
    assert duck.execute(
        "select spend from raw_litellm_spend where request_id = 'r3'"
    ).fetchone() == (Decimal("0.500000000000"),)

    again = run(duck)
    assert (again.new_rows, again.updated_rows) == (0, 0)
    assert duck.execute("select count(*) from raw_litellm_spend").fetchone() == (7,)

    # a backfill from --since reads what the overlap missed, and never moves the cursor back
    backfill = run(duck, since=(T0 - timedelta(days=1)).date())
    assert backfill.new_rows == 1
    assert cursor_of(duck) == "2026-11-02T09:10:00.000000Z"


def test_pages_split_inside_equal_start_times(pg: PG, duck: duckdb.DuckDBPyConnection) -> None:
    # 7 rows share one "startTime"; pages of 3 must neither skip nor repeat any of them
    rows = [spend_row(f"same-{i}", T0) for i in (5, 1, 3, 0, 6, 2, 4)]
    rows += [spend_row("Z-upper", T0), spend_row("a-lower", T0)]  # "C" order: Z before a
    rows += [spend_row(f"later-{i}", T0 + timedelta(seconds=i)) for i in range(1, 4)]
    pg.insert("LiteLLM_SpendLogs", rows)
    result = run(duck, page_rows=3)
    assert (result.new_rows, result.updated_rows, result.unchanged_rows) == (12, 0, 0)
    assert duck.execute("select count(distinct request_id) from raw_litellm_spend").fetchone() == (
        12,
    )


def test_older_and_newer_schemas(pg: PG, duck: duckdb.DuckDBPyConnection) -> None:
    # an older proxy: no session_id/status/custom_llm_provider/api_base/model_group/cache_hit,
    # "startTime" as timestamptz, keys without tpd_limit; a newer one's unknown extra column
    pg.execute("""alter table "LiteLLM_SpendLogs" drop column session_id, drop column status,
        drop column custom_llm_provider, drop column api_base, drop column model_group,
        drop column cache_hit, drop column organization_id, drop column request_duration_ms,
        add column future_column text default 'x',
        alter column "startTime" type timestamptz using "startTime" at time zone 'UTC' """)
    pg.execute('alter table "LiteLLM_VerificationToken" drop column tpd_limit')
    pg.execute(
        'drop table "LiteLLM_DeletedVerificationToken", "LiteLLM_DeprecatedVerificationToken"'
    )
    pg.execute("set time zone 'America/New_York'")
    row = spend_row(
        "old-1",
        T0,
        model="bedrock/global.anthropic.claude-opus-4-6-v1",
        usage_object=usage(5_000, 50, read=4_000, creation=900),
    )
    for gone in ("session_id", "status", "custom_llm_provider", "api_base", "model_group"):
        row.pop(gone)
    row["startTime"] = "2026-11-02 09:00:00.250+00"
    pg.insert("LiteLLM_SpendLogs", [row])
    pg.insert(
        "LiteLLM_VerificationToken",
        [{"token": KEY_ALICE, "key_alias": "alice-laptop", "tpm_limit": 10}],
    )
    result = run(duck)
    assert (result.new_rows, result.rejected_rows) == (2, 0)
    build(duck)
    s = staged(duck, "old-1")
    assert (
        s["occurred_at"].isoformat(),
        s["provider"],
        s["model"],
        s["pricing_scope"],
        s["status"],
        s["input_tokens"],
        s["cache_write_5m_tokens"],
    ) == (
        "2026-11-02T09:00:00.250000+00:00",
        "bedrock",
        "claude-opus-4-6",
        "global",
        "ok",
        100,
        900,
    )
    assert cursor_of(duck) == "2026-11-02T09:00:00.250000Z"


def test_malformed_metadata_rejected_rest_loads(pg: PG, duck: duckdb.DuckDBPyConnection) -> None:
    pg.insert(
        "LiteLLM_SpendLogs",
        [
            spend_row("good-1", T0),
            spend_row("bad-string", T0, metadata=Jsonb('{"usage_object": {truncated')),
            spend_row("bad-array", T0, metadata=[1, 2]),
            spend_row("bad-usage", T0, metadata={"usage_object": "n/a"}),
            spend_row(
                "bad-count", T0, metadata={"usage_object": {"cache_read_input_tokens": "lots"}}
            ),
            spend_row(
                "bad-float", T0, metadata={"usage_object": {"cache_read_input_tokens": 12.5}}
            ),
            # an older writer's JSON-encoded string holding a good object is unwrapped, not rejected
            spend_row(
                "double-encoded", T0, metadata=Jsonb(json.dumps({"user_api_key_alias": "bob-key"}))
            ),
            spend_row("good-2", T0 + timedelta(seconds=1)),
        ],
    )
    result = run(duck)
    assert (result.new_rows, result.rejected_rows) == (3, 5)
    rejected = duck.execute(
        "select location, reason from rejected_records where source = 'litellm' order by 1"
    ).fetchall()
    assert rejected == [
        ("LiteLLM_SpendLogs/bad-array", "malformed metadata: not a JSON object"),
        ("LiteLLM_SpendLogs/bad-count", "malformed metadata: token count is not an integer"),
        ("LiteLLM_SpendLogs/bad-float", "malformed metadata: token count is not an integer"),
        ("LiteLLM_SpendLogs/bad-string", "malformed metadata: invalid JSON"),
        ("LiteLLM_SpendLogs/bad-usage", "malformed metadata: usage_object is not an object"),
    ]
    assert duck.execute(
        "select key_alias from raw_litellm_spend where request_id = 'double-encoded'"
    ).fetchone() == ("bob-key",)
    assert cursor_of(duck) == "2026-11-02T09:00:01.000000Z"
    again = run(duck)  # re-reading the overlap records nothing twice
    assert (again.new_rows, again.rejected_rows) == (0, 5)
    assert duck.execute("select count(*) from rejected_records").fetchone() == (5,)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_database_down_one_line_exit_3_cursor_kept(
    pg: PG, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pg.insert("LiteLLM_SpendLogs", [spend_row("r1", T0)])
    db = tmp_path / "ledger.duckdb"
    runner = CliRunner()
    ok = runner.invoke(cli, ["--db", str(db), "ingest", "litellm"])
    assert ok.exit_code == 0, ok.output
    port = free_port()
    monkeypatch.setenv(
        "LITELLM_DATABASE_URL", f"postgresql://reader:s3cret-pw@127.0.0.1:{port}/litellm"
    )
    down = runner.invoke(cli, ["--db", str(db), "ingest", "litellm"])
    assert down.exit_code == 3
    errors = [line for line in down.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert errors[0].startswith(
        f"error: litellm: cannot connect to PostgreSQL at 127.0.0.1:{port} (database litellm) "
        "after 3 attempts: "
    )
    assert errors[0].endswith(
        "Check that the database is up and reachable and that the DSN's user and password are right"
    )
    assert "Traceback" not in down.output and "s3cret-pw" not in down.output
    con = duckdb.connect(str(db))  # the in-process CLI's database instance is still open
    assert con.execute("select value from ingest_cursors where source = 'litellm'").fetchall() == [
        ("2026-11-02T09:00:00.000000Z",)
    ]
    assert con.execute("select status from ingest_runs order by run_id").fetchall() == [
        ("ok",),
        ("failed",),
    ]
    con.close()


def test_missing_dsn_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MY_LITELLM_DSN", raising=False)
    result = CliRunner().invoke(
        cli,
        ["--db", str(tmp_path / "x.duckdb"), "ingest", "litellm", "--dsn-env", "MY_LITELLM_DSN"],
    )
    assert result.exit_code == 2
    assert (
        "error: litellm: environment variable MY_LITELLM_DSN is not set; export it with "
        "the proxy database's DSN (e.g. postgresql://reader@db:5432/litellm) or name "
        "another variable with --dsn-env / dsn_env"
    ) in result.stderr


def test_keys_teams_users_and_limits(pg: PG, duck: duckdb.DuckDBPyConnection) -> None:
    seed_dimensions(pg)
    pg.insert(
        "LiteLLM_SpendLogs",
        [
            spend_row("k1", T0),
            spend_row("k2", T0, api_key=KEY_GONE, user="", team_id="", meta={}),
            spend_row("k3", T0, api_key=KEY_SVC, user="", team_id="t-search"),
        ],
    )
    run(duck)
    keys = duck.execute(
        "select token, key_alias, deleted, active_token, tpm_limit, rpm_limit, "
        "max_budget from raw_litellm_keys order by key_alias, active_token nulls first"
    ).fetchall()
    assert keys == [
        (KEY_ALICE, "alice-laptop", False, None, 200_000, 60, Decimal("250.500000000000")),
        (KEY_ALICE_OLD, "alice-laptop", False, KEY_ALICE, 200_000, 60, Decimal("250.500000000000")),
        (KEY_BOB, "bob-key", False, None, None, None, None),
        (KEY_GONE, "old-laptop", True, None, 5, None, None),
        (KEY_SVC, "search-ranker-svc", False, None, None, 30, None),
    ]
    assert duck.execute(
        "select user_id, user_email from raw_litellm_users order by 1"
    ).fetchall() == [("u-alice", "alice@acme.example"), ("u-bob", "bob@acme.example")]
    build(duck)
    # a deleted key's traffic still names its owner
    assert staged(duck, "k2")["person_hint"] == "alice@acme.example"
    limits = duck.execute(
        "select limit_kind, subject, model, tokens_per_minute, requests_per_minute, developer, "
        "team from quota_limits where source = 'litellm' order by limit_kind, subject"
    ).fetchall()
    assert limits == [
        ("litellm_key", "alice-laptop", None, 200_000, 60, "alice@acme.example", "platform"),
        ("litellm_key", "search-ranker-svc", None, None, 30, "search-ranker-svc", "search"),
        (
            "litellm_key_model",
            "alice-laptop",
            "claude-opus-4-6",
            50_000,
            None,
            "alice@acme.example",
            "platform",
        ),
        ("litellm_team", "platform", None, 1_000_000, 500, None, "platform"),
        ("litellm_team", "search", None, 300_000, None, None, "search"),
        ("litellm_team_model", "search", "claude-haiku-4-5", None, 100, None, "search"),
    ]


def test_files_source_matches_postgres(
    pg: PG, duck: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    seed_dimensions(pg)
    pg.insert(
        "LiteLLM_SpendLogs",
        [
            spend_row(
                "f1",
                T0,
                usage_object=usage(104_012, 500, read=100_000, creation=4_000, one_hour=3_000),
                messages={"content": SENTINEL},
            ),
            spend_row("f2", T0, metadata=[1]),
            spend_row("f3", T0 + timedelta(seconds=1), api_key=KEY_ALICE_OLD),
        ],
    )
    run(duck)
    dump = tmp_path / "dump"
    dump.mkdir()
    for table in (
        "LiteLLM_SpendLogs",
        "LiteLLM_VerificationToken",
        "LiteLLM_UserTable",
        "LiteLLM_TeamTable",
        "LiteLLM_DeletedVerificationToken",
        "LiteLLM_DeprecatedVerificationToken",
    ):
        cur = pg.conn.cursor()
        with (
            open(dump / f"{table}.csv", "wb") as out,
            cur.copy(f'copy "{table}" to stdout with (format csv, header true)') as copy,
        ):
            for chunk in copy:
                out.write(chunk)
    other = store.connect(tmp_path / "files.duckdb")
    store.ensure_tables(other, raw_table_ddl())
    result = run_files(other, dump)
    assert (result.new_rows, result.rejected_rows) == (2 + 5 + 2 + 3, 1)
    for table in (
        "raw_litellm_spend",
        "raw_litellm_keys",
        "raw_litellm_users",
        "raw_litellm_teams",
    ):
        drop = "source_kind, source_location" if table == "raw_litellm_spend" else "source_kind"
        sql = f"select * exclude ({drop}) from {table} order by all"
        assert duck.execute(sql).fetchall() == other.execute(sql).fetchall(), table
    assert other.execute("select location, reason from rejected_records").fetchall() == [
        (f"{dump / 'LiteLLM_SpendLogs.csv'}:3", "malformed metadata: not a JSON object")
    ]
    again = run_files(other, dump)
    assert (again.new_rows, again.updated_rows) == (0, 0)
    assert_no_body_text(other)
    other.close()


def test_cli_ingest_then_report(pg: PG, tmp_path: Path) -> None:
    seed_dimensions(pg)
    pg.insert(
        "LiteLLM_SpendLogs",
        [
            spend_row("c1", T0, usage_object=usage(1_000_000 // 100, 1_000)),
            spend_row(
                "c2",
                T0,
                api_key=KEY_BOB,
                user="u-bob",
                team_id="t-payments",
                usage_object=usage(2_000, 100),
            ),
        ],
    )
    db = tmp_path / "ledger.duckdb"
    result = CliRunner().invoke(cli, ["--db", str(db), "ingest", "litellm"])
    assert result.exit_code == 0, result.output
    from models import snapshot, views

    con = snapshot.open_snapshot(tmp_path / "ledger.snapshot.duckdb")
    rows = {r["developer"]: r["cost_usd"] for r in views.rows(views.report(con, "developer"))}
    con.close()
    assert rows == {
        "alice@acme.example": Decimal("0.045000000000"),
        "bob@acme.example": Decimal("0.007500000000"),
    }


# ---------------------------------------------------------------------------------------------
# Counted once: LiteLLM rows against Bedrock records of the proxy's role

PROXY_ARN = "arn:aws:sts::111122223333:assumed-role/litellm-proxy/litellm-session"
SONNET_GEO = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
HAIKU_GEO = "us.anthropic.claude-haiku-4-5-20251001-v1:0"


def bedrock_record(
    request_id: str,
    at: datetime,
    *,
    model: str = SONNET_GEO,
    arn: str = PROXY_ARN,
    tokens: tuple[int, int, int, int] = (12, 100_000, 4_000, 500),
    one_hour: int = 0,
    error: str | None = None,
) -> dict[str, Any]:
    uncached, read, write, out = tokens
    record: dict[str, Any] = {
        "schemaType": "ModelInvocationLog",
        "schemaVersion": "1.0",
        "timestamp": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "accountId": "111122223333",
        "identity": {"arn": arn},
        "region": "us-east-1",
        "requestId": request_id,
        "operation": "InvokeModel",
        "modelId": model,
        "input": {
            "inputContentType": "application/json",
            "inputTokenCount": uncached,
            "cacheReadInputTokenCount": read,
            "cacheWriteInputTokenCount": write,
            "inputBodyJson": {"messages": [{"content": SENTINEL}]},
        },
        "output": {
            "outputTokenCount": out,
            "outputBodyJson": {
                "id": "msg_bdrk_01x",
                "content": [{"text": SENTINEL}],
                "usage": {
                    "input_tokens": uncached,
                    "cache_read_input_tokens": read,
                    "cache_creation_input_tokens": write,
                    "output_tokens": out,
                    "cache_creation": {
                        "ephemeral_5m_input_tokens": write - one_hour,
                        "ephemeral_1h_input_tokens": one_hour,
                    },
                },
            },
        },
    }
    if error:
        record["errorCode"] = error
        record["input"].update(
            inputTokenCount=0, cacheReadInputTokenCount=0, cacheWriteInputTokenCount=0
        )
        record["output"] = {"outputTokenCount": 0}
    return record


def load_bedrock(con: duckdb.DuckDBPyConnection, path: Path, records: list[dict[str, Any]]) -> None:
    from ingest.loader import Loader, PageWrite
    from ingest.sources.bedrock import format as bedrock

    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    batch = bedrock.parse_files(con, [str(path)], source_kind="files")
    assert not batch.rejected
    Loader(con, source="bedrock-files", table="raw_bedrock", key=["request_id"]).write(
        PageWrite(rows=batch.table)
    )
    batch.drop(con)


@pytest.fixture
def proxy_role_ledger(
    pg: PG, duck: duckdb.DuckDBPyConnection, tmp_path: Path
) -> duckdb.DuckDBPyConnection:
    """LiteLLM spend rows and the Bedrock records of the proxy's own role for the same
    requests (matched by id, by tokens and time, and some only on one side), built."""

    bedrock_model = f"bedrock/{SONNET_GEO}"
    cc = usage(104_012, 500, read=100_000, creation=4_000, one_hour=3_000)
    pg.insert(
        "LiteLLM_SpendLogs",
        [
            # the same request as Bedrock's b-match, 0.6 s earlier (LiteLLM logs the start)
            spend_row(
                "msg_bdrk_match",
                T0 + timedelta(milliseconds=400),
                model=bedrock_model,
                custom_llm_provider="bedrock",
                spend=0.0577896,
                usage_object=cc,
            ),
            # Bedrock throttled it; LiteLLM kept Bedrock's request id in error_information
            spend_row(
                "litellm-throttled",
                T0 + timedelta(seconds=119),
                model=bedrock_model,
                custom_llm_provider="bedrock",
                status="failure",
                spend=0,
                prompt_tokens=0,
                completion_tokens=0,
                total_tokens=0,
                meta={
                    "error_information": {
                        "error_code": "429",
                        "error_class": "RateLimitError",
                        "error_rate_limit_category": "vendor_rate_limit",
                        "error_provider_request_id": "b-throttled",
                    }
                },
            ),
            # forwarded to Bedrock, but Bedrock's log for it is not here
            spend_row(
                "msg_bdrk_only_litellm",
                T0 + timedelta(seconds=200),
                model=bedrock_model,
                custom_llm_provider="bedrock",
                spend=0.01,
                usage_object=usage(1_000, 100),
            ),
            # same tokens as b-far, but ten minutes apart: not the same request
            spend_row(
                "msg_bdrk_far",
                T0 + timedelta(minutes=20),
                model=bedrock_model,
                custom_llm_provider="bedrock",
                spend=0.001,
                usage_object=usage(77, 7),
            ),
            # two LiteLLM rows with b-twin's tokens: the nearer one is its copy
            spend_row(
                "msg_bdrk_twin_near",
                T0 + timedelta(minutes=40, seconds=1),
                model=bedrock_model,
                custom_llm_provider="bedrock",
                spend=0.002,
                usage_object=usage(500, 50),
            ),
            spend_row(
                "msg_bdrk_twin_far",
                T0 + timedelta(minutes=40, seconds=30),
                model=bedrock_model,
                custom_llm_provider="bedrock",
                spend=0.002,
                usage_object=usage(500, 50),
            ),
            # Anthropic direct: nothing to match
            spend_row("msg_direct", T0, usage_object=usage(10_000, 1_000), spend=0.045),
        ],
    )
    run(duck)
    load_bedrock(
        duck,
        tmp_path / "bedrock.ndjson",
        [
            bedrock_record("b-match", T0 + timedelta(seconds=1), one_hour=3_000),
            bedrock_record(
                "b-only-provider",
                T0 + timedelta(seconds=60),
                model=HAIKU_GEO,
                tokens=(300, 0, 0, 100),
            ),
            bedrock_record("b-throttled", T0 + timedelta(seconds=120), error="ThrottlingException"),
            # a person's own role with msg_bdrk_only_litellm's tokens: not the proxy's copy
            bedrock_record(
                "b-person",
                T0 + timedelta(seconds=200),
                tokens=(1_000, 0, 0, 100),
                arn="arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Dev_1/"
                "alice@acme.example",
            ),
            bedrock_record("b-far", T0 + timedelta(minutes=10), tokens=(77, 0, 0, 7)),
            bedrock_record("b-twin", T0 + timedelta(minutes=40), tokens=(500, 0, 0, 50)),
        ],
    )
    build(
        duck,
        gateway={
            "identities": [r"^arn:aws:sts::\d+:assumed-role/litellm-proxy/"],
            "match_window_seconds": 120,
        },
    )

    return duck


def test_the_provider_copy_of_a_proxied_request_is_matched(
    proxy_role_ledger: duckdb.DuckDBPyConnection,
) -> None:
    duck = proxy_role_ledger
    matches = duck.execute(
        "select event_id, gateway_event_id, match_method, seconds_apart from gateway_matches "
        "order by event_id"
    ).fetchall()
    assert matches == [
        ("bedrock:b-match", "litellm:msg_bdrk_match", "time_model_tokens", Decimal("0.600")),
        (
            "bedrock:b-throttled",
            "litellm:litellm-throttled",
            "provider_request_id",
            Decimal("1.000"),
        ),
        ("bedrock:b-twin", "litellm:msg_bdrk_twin_near", "time_model_tokens", Decimal("1.000")),
    ]


def test_each_proxied_request_is_counted_once(
    proxy_role_ledger: duckdb.DuckDBPyConnection,
) -> None:
    duck = proxy_role_ledger
    counted = dict(duck.execute("select event_id, counted from usage_events").fetchall())
    assert {k for k, v in counted.items() if not v} == {
        "bedrock:b-match",
        "bedrock:b-throttled",
        "bedrock:b-twin",
    }
    assert len(counted) == 13


def test_reconciliation_names_each_difference(
    proxy_role_ledger: duckdb.DuckDBPyConnection,
) -> None:
    from models import reconcile

    duck = proxy_role_ledger
    summary = {(r["category"], r["provider"]): r for r in reconcile.summary(duck).to_pylist()}
    assert set(summary) == {
        ("matched", "bedrock"),
        ("only_in_litellm", "bedrock"),
        ("only_in_provider", "bedrock"),
    }
    assert (
        summary["matched", "bedrock"]["requests"],
        summary["matched", "bedrock"]["reported_cost_usd"],
        summary["matched", "bedrock"]["litellm_cost_usd"],
        summary["matched", "bedrock"]["provider_cost_usd"],
    ) == (3, Decimal("0.059789600000"), Decimal("0.067689600000"), Decimal("0.067689600000"))
    assert summary["only_in_litellm", "bedrock"]["requests"] == 3  # only, far, twin_far
    assert summary["only_in_provider", "bedrock"]["requests"] == 2  # only-provider, far
    causes = {r["cause"]: r["requests"] for r in reconcile.differences(duck).to_pylist()}
    assert causes["cache priced differently"] == 1  # 1h writes priced as 5m by LiteLLM
    assert sum(causes.values()) == 6


def test_report_reconcile_prints_the_same_figures(
    proxy_role_ledger: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    duck = proxy_role_ledger
    from models import snapshot

    snapshot.publish(duck, tmp_path / "ledger.snapshot.duckdb")  # reports read the snapshot
    result = CliRunner().invoke(
        cli, ["--db", str(tmp_path / "ledger.duckdb"), "report", "--reconcile", "--format", "csv"]
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "section,group,provider,requests,reported_cost_usd,litellm_cost_usd,"
        "provider_cost_usd,cost_usd,difference_usd"
    )
    assert lines[1] == ("requests,matched,bedrock,3,0.059789600000,0.067689600000,0.067689600000,,")


# ---------------------------------------------------------------------------------------------
# The sample data: LiteLLM's layout, loaded by its loader, read by both paths, reconciled

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"


def proxy_role_records(path: Path) -> int:
    """The Bedrock sample's records of the proxy's role, as one NDJSON file (a fast subset)."""
    import gzip
    import zlib

    manifest = json.loads((SAMPLE / "manifest.json").read_text())
    bad = (SAMPLE / manifest["bad_input"]["folder"]).resolve()
    lines = []
    for gz in sorted((SAMPLE / "bedrock" / "s3").rglob("*.json.gz")):
        if "/data/" in str(gz) or gz.resolve().parent == bad:
            continue
        try:
            text = gzip.decompress(gz.read_bytes()).decode()
        except (OSError, EOFError, zlib.error):
            continue
        lines += [line for line in text.splitlines() if PROXY_ARN in line]
    path.write_text("\n".join(lines) + "\n")
    return len(lines)


def test_sample_data_loads_and_reconciles(
    pg: PG, duck: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    import importlib.util

    from models import reconcile

    manifest = json.loads((SAMPLE / "litellm" / "manifest.json").read_text())
    spec = importlib.util.spec_from_file_location("litellm_load", SAMPLE / "litellm" / "load.py")
    assert spec and spec.loader
    loader = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loader)
    loaded = loader.load(pg.dsn, replace=True)
    assert loaded["LiteLLM_SpendLogs"] == manifest["spend_log_rows"]
    assert loaded["LiteLLM_VerificationToken"] == manifest["keys"]
    # the columns are LiteLLM's own
    assert pg.execute(
        "select data_type from information_schema.columns where table_name = "
        "'LiteLLM_SpendLogs' and column_name in ('startTime', 'metadata') order by column_name"
    ).fetchall() == [("jsonb",), ("timestamp without time zone",)]

    result = run(duck)
    assert result.rejected_rows == 2
    assert duck.execute("select count(*) from raw_litellm_spend").fetchone() == (
        manifest["rows_loaded"],
    )
    assert sorted(
        r[0]
        for r in duck.execute(
            "select location from rejected_records where source = 'litellm'"
        ).fetchall()
    ) == sorted(f"LiteLLM_SpendLogs/{r['request_id']}" for r in manifest["rejected"])

    files = store.connect(tmp_path / "files.duckdb")
    store.ensure_tables(files, raw_table_ddl())
    run_files(files, SAMPLE / "litellm")
    sql = "select * exclude (source_kind, source_location) from raw_litellm_spend order by all"
    assert duck.execute(sql).fetchall() == files.execute(sql).fetchall()
    files.close()

    assert proxy_role_records(tmp_path / "proxy.ndjson") > 4_000
    from ingest.loader import Loader, PageWrite
    from ingest.sources.bedrock import format as bedrock

    batch = bedrock.parse_files(duck, [str(tmp_path / "proxy.ndjson")], source_kind="files")
    Loader(duck, source="bedrock-files", table="raw_bedrock", key=["request_id"]).write(
        PageWrite(rows=batch.table)
    )
    batch.drop(duck)
    build(
        duck,
        people_csv=SAMPLE / "people.csv",
        gateway={"identities": [r"^arn:aws:sts::\d+:assumed-role/litellm-proxy/"]},
    )
    expected = manifest["expected_reconciliation"]
    summary = {
        (r["category"], r["provider"]): r["requests"] for r in reconcile.summary(duck).to_pylist()
    }
    assert summary[("matched", "bedrock")] == expected["matched"]
    assert summary[("only_in_litellm", "bedrock")] == expected["only_in_litellm_ok"]
    assert summary[("only_in_provider", "bedrock")] == expected["only_in_provider_ok"]
    assert duck.execute(
        "select count(*) from gateway_matches where match_method = 'provider_request_id'"
    ).fetchone() == (expected["matched_by_provider_request_id"],)
    causes = {r["cause"] for r in reconcile.differences(duck).to_pylist()}
    assert {
        "unpriced in LiteLLM",
        "long-context tier",
        "regional premium",
        "cache priced differently",
        "agrees",
    } <= causes
    assert_no_body_text(duck)
