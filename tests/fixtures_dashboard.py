"""A small hand-made snapshot for the dashboard's tests, with every number known in advance.

The tables carry the contract's mart columns (usage_daily, usage_minute, usage_events,
identity_map) plus the reference and bookkeeping tables the views read. The figures below are
the expectations the tests assert; the sample-data tests check the real pipeline separately.

Period under test: 2026-11-01 .. 2026-11-10; the previous period is 2026-10-22 .. 2026-10-31.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

REPO = Path(__file__).resolve().parent.parent

# fmt: off
PEOPLE = [
    # email, name, team, cost_center, manager
    ("boss@acme.example", "Boss", "data", "CC1", None),
    ("alice@acme.example", "Alice", "data", "CC1", "boss@acme.example"),
    ("bob@acme.example", "Bob", "data", "CC1", "boss@acme.example"),
    ("carol@acme.example", "Carol", "search", "CC2", "sam@acme.example"),
    ("dave@acme.example", "Dave", "search", "CC2", "sam@acme.example"),
    ("sam@acme.example", "Sam", "search", "CC2", "boss@acme.example"),
]

# day, source, provider, model, scope, developer, team, cost_center, status, counted, requests,
# input, output, cache_read, cache_write_5m, cache_write_1h, cost, reported, unpriced,
# uncached_cost
DAILY = [
    ("2026-11-01", "bedrock", "bedrock", "claude-sonnet-4-5", "geo", "alice@acme.example", "data",
     "CC1", "ok", True, 10, 1000, 2000, 5000, 1000, 0, "1.1", None, 0, "1.5"),
    ("2026-11-02", "bedrock", "bedrock", "claude-sonnet-4-5", "global", "bob@acme.example", "data",
     "CC1", "ok", True, 5, 500, 1000, 0, 0, 0, "0.5", None, 0, "0.5"),
    ("2026-11-02", "bedrock", "bedrock", "claude-opus-4-6", "global", "carol@acme.example",
     "search", "CC2", "ok", True, 4, 100, 400, 0, 0, 0, "2.0", None, 0, "2.0"),
    ("2026-11-03", "bedrock", "bedrock", "claude-sonnet-4-5", "geo", "alice@acme.example", "data",
     "CC1", "throttled", True, 3, 0, 0, 0, 0, 0, "0", None, 0, "0"),
    ("2026-11-03", "bedrock", "bedrock", "claude-sonnet-4-5", "geo", "alice@acme.example", "data",
     "CC1", "error", True, 1, 0, 0, 0, 0, 0, "0", None, 0, "0"),
    ("2026-11-04", "litellm", "bedrock", "claude-sonnet-4-5", "global", "dave@acme.example",
     "search", "CC2", "ok", True, 6, 600, 600, 0, 0, 0, "0.6", "0.65", 0, "0.6"),
    ("2026-11-04", "bedrock", "bedrock", "claude-sonnet-4-5", "global", "dave@acme.example",
     "search", "CC2", "ok", False, 6, 600, 600, 0, 0, 0, "0.6", None, 0, "0.6"),
    ("2026-11-04", "bedrock", "bedrock", "claude-sonnet-4-5", "global", "unattributed",
     "unattributed", None, "ok", True, 2, 200, 200, 0, 0, 0, "0.3", None, 0, "0.3"),
    ("2026-11-05", "bedrock", "bedrock", "claude-fable-5", "geo", "carol@acme.example", "search",
     "CC2", "ok", True, 2, 100, 100, 0, 0, 0, None, None, 2, None),
    ("2026-11-06", "vertex", "vertex", "claude-sonnet-4-5", "regional", "erin@contractor.example",
     "unattributed", None, "ok", True, 1, 100, 100, 0, 0, 0, "0.2", None, 0, "0.2"),
    # previous period
    ("2026-10-25", "bedrock", "bedrock", "claude-sonnet-4-5", "geo", "alice@acme.example", "data",
     "CC1", "ok", True, 8, 800, 800, 0, 0, 0, "0.8", None, 0, "0.8"),
    ("2026-10-28", "bedrock", "bedrock", "claude-opus-4-6", "global", "carol@acme.example",
     "search", "CC2", "ok", True, 2, 100, 100, 0, 0, 0, "4.0", None, 0, "4.0"),
]

# minute, source, provider, region, model, scope, developer, team, requests, throttled,
# errors, quota_tokens, input, output
MINUTE = [
    ("2026-11-01 10:00", "bedrock", "bedrock", "us-east-1", "claude-sonnet-4-5", "geo",
     "alice@acme.example", "data", 5, 0, 0, 9000, 0, 0),
    ("2026-11-01 10:01", "bedrock", "bedrock", "us-east-1", "claude-sonnet-4-5", "geo",
     "alice@acme.example", "data", 2, 0, 0, 4000, 0, 0),
    ("2026-11-01 10:01", "bedrock", "bedrock", "us-east-1", "claude-sonnet-4-5", "geo",
     "bob@acme.example", "data", 2, 0, 0, 4500, 0, 0),
    ("2026-11-01 11:00", "bedrock", "bedrock", "us-east-1", "claude-sonnet-4-5", "geo",
     "alice@acme.example", "data", 9, 0, 0, 1000, 0, 0),
    ("2026-11-03 09:00", "bedrock", "bedrock", "us-east-1", "claude-sonnet-4-5", "geo",
     "alice@acme.example", "data", 3, 3, 0, 2000, 0, 0),
    # another region: not under the us-east-1 quota
    ("2026-11-01 10:00", "bedrock", "bedrock", "us-west-2", "claude-sonnet-4-5", "geo",
     "carol@acme.example", "search", 50, 0, 0, 99000, 0, 0),
    ("2026-11-02 12:00", "bedrock", "bedrock", "us-east-1", "claude-opus-4-6", "global",
     "carol@acme.example", "search", 4, 0, 0, 2100, 0, 0),
    # through LiteLLM: under dave's key limit and the search team's limit (1,200 tokens)
    ("2026-11-04 09:00", "litellm", "bedrock", "us-east-1", "claude-sonnet-4-5", "global",
     "dave@acme.example", "search", 6, 0, 0, 3600, 600, 600),
]

PRICES = [  # provider, model, scope, standard input USD/Mtok (only the ratio matters here)
    ("bedrock", "claude-sonnet-4-5", "global", "3"),
    ("bedrock", "claude-sonnet-4-5", "geo", "3.75"),
    ("bedrock", "claude-opus-4-6", "global", "5"),
    ("vertex", "claude-sonnet-4-5", "global", "3"),
    ("vertex", "claude-sonnet-4-5", "regional", "3.75"),
]

QUOTAS = [
    # provider, region, model, scope, tpm, rpm, name
    ("bedrock", "us-east-1", "claude-sonnet-4-5", "geo", 10000, 10, "sonnet us-east-1 geo"),
    ("bedrock", "us-east-1", "claude-opus-4-6", "global", 7000, None, None),
]

LITELLM_LIMITS = [
    # limit_kind, tpm, rpm, name, developer, team
    ("litellm_key", 2000, 10, "LiteLLM key dave-key", "dave@acme.example", "search"),
    ("litellm_team", 1500, None, "LiteLLM team search", None, "search"),
]
# fmt: on

EXPECTED = {
    "cost": Decimal("4.7"),  # counted, 2026-11-01..10
    "requests": 34,
    "previous_cost": Decimal("4.8"),
    "data_cost": Decimal("1.6"),
    "search_cost": Decimal("2.6"),
    "unattributed_cost": Decimal("0.5"),
}


def _daily_ddl() -> str:
    return """
    create table usage_daily (
        day date, source varchar, provider varchar, model varchar, pricing_scope varchar,
        developer varchar, team varchar, cost_center varchar, status varchar, counted boolean,
        requests bigint, input_tokens bigint, output_tokens bigint, cache_read_tokens bigint,
        cache_write_5m_tokens bigint, cache_write_1h_tokens bigint,
        cost_usd decimal(38, 12), reported_cost_usd decimal(38, 12), unpriced_requests bigint,
        uncached_cost_usd decimal(38, 12)
    )"""


def build(
    path: Path, *, quota_limits: bool = True, extra_minutes: Sequence[tuple[Any, ...]] = ()
) -> Path:
    """Write the synthetic snapshot to ``path`` and return it. ``quota_limits=False`` leaves
    out the LiteLLM limits table (a snapshot from before the LiteLLM models);
    ``extra_minutes`` are usage_minute rows (as in MINUTE) added to the usual ones."""
    path = Path(path)
    if path.exists():
        path.unlink()
    con = duckdb.connect(str(path))
    con.execute("set timezone = 'UTC'")
    con.execute(_daily_ddl())
    con.executemany(f"insert into usage_daily values ({', '.join(['?'] * 20)})", DAILY)
    con.execute(
        """
        create table usage_minute (
            minute_at timestamptz, source varchar, provider varchar, region varchar,
            model varchar, pricing_scope varchar, developer varchar, team varchar,
            input_tokens bigint, output_tokens bigint, cache_read_tokens bigint,
            cache_write_5m_tokens bigint, cache_write_1h_tokens bigint,
            requests bigint, throttled_requests bigint, error_requests bigint,
            quota_tokens bigint
        )"""
    )
    con.executemany(
        "insert into usage_minute (minute_at, source, provider, region, model, pricing_scope, "
        "developer, team, requests, throttled_requests, error_requests, quota_tokens, "
        "input_tokens, output_tokens, cache_read_tokens, cache_write_5m_tokens, "
        "cache_write_1h_tokens) "
        "values (?::timestamptz, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, 0)",
        [(m + ":00+00", *rest) for m, *rest in [*MINUTE, *extra_minutes]],
    )
    con.execute(
        """
        create table usage_events as
        select * from (values
            ('bedrock:r1', 'bedrock', 'bedrock', 'r1', timestamptz '2026-11-04 10:00:00+00',
             'unattributed', 'unattributed', null, 'arn:aws:sts::1:assumed-role/shared/x',
             'claude-sonnet-4-5', 'global.anthropic.claude-sonnet-4-5-v1:0', 'us-east-1',
             'global', 100, 100, 0, 0, 0, 0.15::decimal(38, 12), null::decimal(38, 12),
             'v1', 'ok', null, true, false, 'standard', null, 'unattributed', true),
            ('bedrock:r2', 'bedrock', 'bedrock', 'r2', timestamptz '2026-11-04 11:00:00+00',
             'unattributed', 'unattributed', null, 'arn:aws:sts::1:assumed-role/shared/x',
             'claude-sonnet-4-5', 'global.anthropic.claude-sonnet-4-5-v1:0', 'us-east-1',
             'global', 100, 100, 0, 0, 0, 0.15::decimal(38, 12), null::decimal(38, 12),
             'v1', 'ok', null, true, false, 'standard', null, 'unattributed', true),
            ('vertex:r3', 'vertex', 'vertex', 'r3', timestamptz '2026-11-06 09:00:00+00',
             'erin@contractor.example', 'unattributed', null, 'erin@contractor.example',
             'claude-sonnet-4-5', 'claude-sonnet-4-5@20250929', 'us-east5', 'regional',
             100, 100, 0, 0, 0, 0.2::decimal(38, 12), null::decimal(38, 12), 'v1', 'ok', null,
             true, false, 'standard', null, 'named_not_in_directory', true),
            ('bedrock:r4', 'bedrock', 'bedrock', 'r4', timestamptz '2026-11-02 09:00:00+00',
             'bob@acme.example', 'data', 'CC1', 'arn:aws:sts::1:assumed-role/dev/bob',
             'claude-sonnet-4-5', 'global.anthropic.claude-sonnet-4-5-v1:0', 'us-east-1',
             'global', 500, 1000, 0, 0, 0, 0.5::decimal(38, 12), null::decimal(38, 12),
             'v1', 'ok', null, true, false, 'standard', null, 'directory', true),
            -- a request through LiteLLM (l1), and Bedrock's copy of it under the gateway's role
            -- (p1, matched, not counted); p2: a gateway-role request LiteLLM has no row for
            ('litellm:l1', 'litellm', 'bedrock', 'l1', timestamptz '2026-11-04 09:00:10+00',
             'dave@acme.example', 'search', 'CC2', 'dave-key', 'claude-sonnet-4-5',
             'bedrock/global.anthropic.claude-sonnet-4-5-v1:0', 'us-east-1', 'global',
             600, 600, 0, 0, 0, 0.6::decimal(38, 12), 0.65::decimal(38, 12), 'v1', 'ok', null,
             true, false, 'standard', null, 'directory', true),
            ('bedrock:p1', 'bedrock', 'bedrock', 'p1', timestamptz '2026-11-04 09:00:11+00',
             'unattributed', 'unattributed', null, 'arn:aws:sts::1:assumed-role/litellm/proxy',
             'claude-sonnet-4-5', 'global.anthropic.claude-sonnet-4-5-v1:0', 'us-east-1',
             'global', 600, 600, 0, 0, 0, 0.6::decimal(38, 12), null::decimal(38, 12), 'v1',
             'ok', null, false, false, 'standard', null, 'unattributed', true),
            ('bedrock:p2', 'bedrock', 'bedrock', 'p2', timestamptz '2026-11-05 09:00:00+00',
             'unattributed', 'unattributed', null, 'arn:aws:sts::1:assumed-role/litellm/proxy',
             'claude-sonnet-4-5', 'global.anthropic.claude-sonnet-4-5-v1:0', 'us-east-1',
             'global', 10, 10, 0, 0, 0, 0.01::decimal(38, 12), null::decimal(38, 12), 'v1',
             'ok', null, true, false, 'standard', null, 'unattributed', true)
        ) as t(event_id, source, provider, request_id, occurred_at, developer, team,
               cost_center, principal, model, model_id, region, pricing_scope, input_tokens,
               output_tokens, cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens,
               cost_usd, reported_cost_usd, price_version, status, error_code, counted,
               unpriced, pricing_tier, project, identity_status, billable)
        """
    )
    con.execute("alter table usage_events add column gateway_role boolean default false")
    con.execute("update usage_events set gateway_role = principal like '%role/litellm/%'")
    con.execute(
        "create table gateway_matches as select 'bedrock:p1' as event_id, "
        "'litellm:l1' as gateway_event_id"
    )
    con.execute(
        """
        create table identity_map as select * from (values
            ('bedrock', 'arn:aws:sts::1:assumed-role/dev/bob', null, null, 'bob@acme.example',
             'data', 'CC1', 'directory'),
            ('bedrock', 'arn:aws:sts::1:assumed-role/shared/x', null, null, 'unattributed',
             'unattributed', null, 'unattributed'),
            ('vertex', 'erin@contractor.example', 'erin@contractor.example', null,
             'erin@contractor.example', 'unattributed', null, 'named_not_in_directory')
        ) as t(source, principal, person_hint, team_hint, developer, team, cost_center,
               identity_status)
        """
    )
    con.execute(
        "create table ref_people (email varchar, name varchar, team varchar, "
        "cost_center varchar, manager varchar, aliases varchar[])"
    )
    con.executemany("insert into ref_people values (?, ?, ?, ?, ?, [])", PEOPLE)
    con.execute(
        "create table ref_quotas (provider varchar, region varchar, model varchar, "
        "scope varchar, tokens_per_minute bigint, requests_per_minute bigint, name varchar)"
    )
    con.executemany("insert into ref_quotas values (?, ?, ?, ?, ?, ?, ?)", QUOTAS)
    if quota_limits:  # as models/marts/quota_limits.sql shapes them
        con.execute(
            """
            create table quota_limits as
            select null::varchar as source, 'quota' as limit_kind, provider, region, model,
                   scope, tokens_per_minute, requests_per_minute, null::bigint as tokens_per_day,
                   name, null::varchar as subject, null::varchar as developer,
                   null::varchar as team, 'quota_tokens' as token_basis
            from ref_quotas
            """
        )
        con.executemany(
            "insert into quota_limits values ('litellm', ?, null, null, null, null, ?, ?, null, "
            "?, null, ?, ?, 'total_tokens')",
            LITELLM_LIMITS,
        )
    # the rate-limit rollup, with the real mart SQL
    mart = REPO / "models" / "marts" / "usage_minute_quota.sql"
    con.execute(f"create table usage_minute_quota as {mart.read_text()}")
    con.execute("create table ref_budgets (team varchar, monthly_usd decimal(18, 2))")
    con.executemany(
        "insert into ref_budgets values (?, ?)",
        [("data", "3.00"), ("search", "20.00"), ("mobile", "5.00")],
    )
    con.execute(
        "create table rejected_records (source varchar, location varchar, reason varchar, "
        "first_seen_at timestamptz)"
    )
    con.executemany(
        "insert into rejected_records values (?, ?, ?, timestamptz '2026-11-10 00:00:00+00')",
        [
            ("bedrock-files", "s3://b/k1.json.gz:3", "malformed JSON"),
            ("bedrock-files", "s3://b/k1.json.gz:9", "malformed JSON"),
            (
                "bedrock-files",
                "s3://b/k2.json.gz",
                "truncated gzip: 4 complete lines recovered, the rest is unreadable",
            ),
        ],
    )
    con.execute(
        "create table ingest_runs (run_id bigint, source varchar, started_at timestamptz, "
        "finished_at timestamptz, status varchar, new_rows bigint, updated_rows bigint, "
        "rejected_rows bigint, message varchar)"
    )
    con.executemany(
        "insert into ingest_runs values (?, ?, ?::timestamptz, ?::timestamptz, ?, ?, 0, ?, ?)",
        [
            (
                1,
                "bedrock-files",
                "2026-11-10 00:00:00+00",
                "2026-11-10 00:01:00+00",
                "ok",
                30,
                3,
                None,
            ),
            (
                2,
                "vertex",
                "2026-11-10 00:02:00+00",
                "2026-11-10 00:02:05+00",
                "failed",
                0,
                0,
                "vertex: permission denied. Run `gcloud auth application-default login`",
            ),
        ],
    )
    con.execute(
        "create table price_book (price_version varchar, provider varchar, model varchar, "
        "pricing_scope varchar, pricing_tier varchar, is_batch boolean, valid_from timestamptz, "
        "valid_to timestamptz, input_usd_per_mtok decimal(18, 6))"
    )
    con.executemany(
        "insert into price_book values (?, ?, ?, ?, 'standard', false, "
        "timestamptz '2025-01-01 00:00:00+00', null, ?)",
        [(f"{p}/{m}/{s}", p, m, s, rate) for p, m, s, rate in PRICES],
    )
    con.execute("create table snapshot_info as select current_timestamp as published_at")
    con.close()
    return path


# --------------------------------------------------------------------------- the sample data

SAMPLE_CONFIG = REPO / "sample_data" / "llmledger.toml"
SAMPLE_S3 = REPO / "sample_data" / "bedrock" / "s3"


def sample_log_files(root: Path = SAMPLE_S3) -> list[Path]:
    """The invocation-log batch files of the sample S3 tree (not data/ bodies, not markers)."""
    return sorted(
        p
        for p in root.rglob("*.json.gz")
        if "data" not in p.relative_to(root).parts and p.stat().st_size > 0
    )


def llmledger(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the `llmledger` CLI (this interpreter's) with the time zone pinned to UTC."""
    done = subprocess.run(
        [sys.executable, "-c", "from ingest.cli import main; main()", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "TZ": "UTC"},
        stdin=subprocess.DEVNULL,
    )
    if check:
        assert done.returncode == 0, f"llmledger {' '.join(args)} failed: {done.stderr}"
    return done
