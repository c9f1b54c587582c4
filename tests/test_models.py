"""The SQL models: canonical model ids, pricing scope, staging contract, rollups, checks, and the
whole pipeline over sample_data against the manifest's numbers."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from fixtures_models import (
    add_bedrock,
    build,
    event,
    new_ledger,
)

from models import runner

CANONICAL = [
    # Bedrock bare ids, every profile prefix, ARNs
    ("anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5", "in_region"),
    ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5", "geo"),
    ("eu.anthropic.claude-haiku-4-5-20251001-v1:0", "claude-haiku-4-5", "geo"),
    ("apac.anthropic.claude-sonnet-4-20250514-v1:0", "claude-sonnet-4", "geo"),
    ("jp.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5", "geo"),
    ("au.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5", "geo"),
    ("global.anthropic.claude-opus-4-6-v1", "claude-opus-4-6", "global"),
    ("global.anthropic.claude-opus-4-7", "claude-opus-4-7", "global"),
    ("us.anthropic.claude-opus-4-1-20250805-v1:0", "claude-opus-4-1", "geo"),
    ("anthropic.claude-opus-4-20250514-v1:0", "claude-opus-4", "in_region"),
    ("anthropic.claude-3-7-sonnet-20250219-v1:0", "claude-sonnet-3-7", "in_region"),
    ("us.anthropic.claude-3-5-haiku-20241022-v1:0", "claude-haiku-3-5", "geo"),
    (
        "arn:aws:bedrock:us-west-2:565521294060:inference-profile/global.anthropic.claude-opus-4-7",
        "claude-opus-4-7",
        "global",
    ),
    (
        "arn:aws:bedrock:us-east-1:111122223333:inference-profile/"
        "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "claude-sonnet-4-5",
        "geo",
    ),
    # Anthropic API, Vertex, LiteLLM forms
    ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5", "in_region"),
    ("claude-sonnet-4-5", "claude-sonnet-4-5", "in_region"),
    ("claude-opus-4-0", "claude-opus-4", "in_region"),
    ("claude-sonnet-4-5@20250929", "claude-sonnet-4-5", "in_region"),
    ("claude-sonnet-4-6@default", "claude-sonnet-4-6", "in_region"),
    ("claude-3-5-sonnet-v2@20241022", "claude-sonnet-3-5-v2", "in_region"),
    (
        "projects/p/locations/global/publishers/anthropic/models/claude-sonnet-4-5@20250929"
        ":streamRawPredict",
        "claude-sonnet-4-5",
        "in_region",
    ),
    ("vertex_ai/claude-opus-4-6", "claude-opus-4-6", "in_region"),
    ("bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5", "geo"),
    ("anthropic/claude-haiku-4-5-20251001", "claude-haiku-4-5", "in_region"),
    ("claude-sonnet-4-5[1m]", "claude-sonnet-4-5", "in_region"),
    ("Claude-Sonnet-4-5", "claude-sonnet-4-5", "in_region"),
    ("count-tokens", "count-tokens", "in_region"),
]


@pytest.fixture
def con():  # type: ignore[no-untyped-def]
    c = new_ledger()
    yield c
    c.close()


def test_canonical_model_and_bedrock_scope(con) -> None:  # type: ignore[no-untyped-def]
    runner.create_macros(con)
    for model_id, model, scope in CANONICAL:
        got = con.execute(
            "select canonical_model(?), bedrock_pricing_scope(?)", [model_id, model_id]
        ).fetchone()
        assert got == (model, scope), model_id


def test_vertex_scope(con) -> None:  # type: ignore[no-untyped-def]
    runner.create_macros(con)
    got = con.execute(
        "select vertex_pricing_scope('global'), vertex_pricing_scope('us-east5'), "
        "vertex_pricing_scope('europe-west1')"
    ).fetchone()
    assert got == ("global", "regional", "regional")


def test_application_inference_profiles_map_through_config(con) -> None:  # type: ignore[no-untyped-def]
    aip = "arn:aws:bedrock:us-west-2:444455556666:application-inference-profile/"
    add_bedrock(con, "full", model_id=aip + "a1b2c3d4e5f6", input_tokens=1000)
    add_bedrock(con, "short", model_id=aip + "zz99", input_tokens=1000)
    add_bedrock(con, "unmapped", model_id=aip + "nope", input_tokens=1000)
    build(
        con,
        application_profiles={
            aip + "a1b2c3d4e5f6": "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "zz99": "global.anthropic.claude-haiku-4-5-20251001-v1:0",
        },
    )
    full = event(con, "full")
    # the profile's target keeps its pricing scope: 1,000 x 3.30 = 3,300 micro-dollars
    assert (full["model"], full["pricing_scope"], full["cost_usd"]) == (
        "claude-sonnet-4-5",
        "geo",
        Decimal("0.0033"),
    )
    assert full["model_id"] == aip + "a1b2c3d4e5f6"  # as logged
    short = event(con, "short")
    assert (short["model"], short["pricing_scope"], short["cost_usd"]) == (
        "claude-haiku-4-5",
        "global",
        Decimal("0.001"),
    )
    unmapped = event(con, "unmapped")
    assert (unmapped["model"], unmapped["unpriced"], unmapped["cost_usd"]) == (
        aip + "nope",
        True,
        None,
    )


@pytest.mark.parametrize(
    ("error_code", "status", "expected"),
    [
        (None, None, "ok"),
        (None, "Success", "ok"),
        ("ThrottlingException", None, "throttled"),
        ("TooManyRequestsException", None, "throttled"),
        ("ValidationException", None, "error"),
        ("ModelErrorException", "Failure", "error"),
        (None, "Failure", "error"),
    ],
)
def test_status_from_error_code(con, error_code, status, expected) -> None:  # type: ignore[no-untyped-def]
    add_bedrock(con, "r", error_code=error_code, status=status)
    build(con)
    row = event(con, "r")
    assert (row["status"], row["error_code"]) == (expected, error_code)


def test_staging_and_mart_columns(con) -> None:  # type: ignore[no-untyped-def]
    add_bedrock(con, "r", input_tokens=1)
    build(con)
    staged = [r[0] for r in con.execute("describe stg_bedrock").fetchall()]
    # then Bedrock's own latency (an optional staged column: marts/gateway_daily.sql)
    assert staged == [*runner.STAGED_COLUMNS, "latency_ms"]
    columns = [r[0] for r in con.execute("describe usage_events").fetchall()]
    assert columns[:24] == [
        "event_id",
        "source",
        "provider",
        "request_id",
        "occurred_at",
        "developer",
        "team",
        "cost_center",
        "principal",
        "model",
        "model_id",
        "region",
        "pricing_scope",
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_write_5m_tokens",
        "cache_write_1h_tokens",
        "cost_usd",
        "reported_cost_usd",
        "price_version",
        "status",
        "error_code",
        "counted",
    ]
    assert columns[24:29] == ["unpriced", "pricing_tier", "project", "identity_status", "billable"]
    row = event(con, "r")
    assert (row["event_id"], row["source"], row["provider"]) == ("bedrock:r", "bedrock", "bedrock")


def test_rollups(con) -> None:  # type: ignore[no-untyped-def]
    # two us. Sonnet 4.5 requests in one minute, one throttled; one Opus 4.6 the next day
    add_bedrock(
        con,
        "a",
        at="2026-11-02T10:00:05Z",
        input_tokens=100,
        output_tokens=10,
        cache_read=1000,
        cache_write=50,
    )
    add_bedrock(con, "b", at="2026-11-02T10:00:55Z", error_code="ThrottlingException")
    add_bedrock(
        con,
        "c",
        at="2026-11-03T00:00:00Z",
        model_id="global.anthropic.claude-opus-4-6-v1",
        input_tokens=1000,
        output_tokens=100,
    )
    build(con)
    minute = con.execute(
        "select requests, throttled_requests, error_requests, input_tokens, cache_read_tokens, "
        "quota_tokens from usage_minute where minute_at = '2026-11-02 10:00:00+00'"
    ).fetchall()
    # quota tokens: input 100 + cache write 50 + 5 x 10 output (burndown 5); cache reads free
    assert minute == [(2, 1, 0, 100, 1000, 200)]
    daily = con.execute(
        "select day::varchar, model, status, requests, cost_usd, uncached_cost_usd "
        "from usage_daily order by all"
    ).fetchall()
    # a: 100 x 3.30 + 10 x 16.50 + 1000 x 0.33 + 50 x 4.125 = 330 + 165 + 330 + 206.25 = 1,031.25
    #    uncached: 1,150 prompt x 3.30 + 165 = 3,795 + 165 = 3,960
    # c: 1000 x 5 + 100 x 25 = 7,500
    assert daily == [
        ("2026-11-02", "claude-sonnet-4-5", "ok", 1, Decimal("0.00103125"), Decimal("0.00396")),
        ("2026-11-02", "claude-sonnet-4-5", "throttled", 1, Decimal("0"), Decimal("0")),
        ("2026-11-03", "claude-opus-4-6", "ok", 1, Decimal("0.0075"), Decimal("0.0075")),
    ]


def test_checks_pass_and_catch_bad_rows(con) -> None:  # type: ignore[no-untyped-def]
    add_bedrock(con, "a", input_tokens=1)
    add_bedrock(con, "b", model_id="anthropic.claude-unknown-1", input_tokens=1)
    build(con)
    results = runner.run_checks(con)
    assert {r.name for r in results} >= {
        "duplicate_event_id",
        "null_event_id",
        "negative_tokens",
        "cost_null_while_priced",
        "cost_for_unpriced",
        "counted_without_identity",
    }
    assert [r.name for r in results if not r.ok] == []
    # plant one bad row of each kind directly in the mart
    con.execute("create temp table good as select * from usage_events")
    con.execute("insert into usage_events select * from good where request_id = 'a'")
    con.execute(
        "insert into usage_events select * replace ('bedrock:x' as event_id, -5 as input_tokens, "
        "null as developer) from good where request_id = 'a'"
    )
    con.execute(
        "insert into usage_events select * replace ('bedrock:y' as event_id, 0::decimal(38,12) "
        "as cost_usd) from good where request_id = 'b'"
    )
    con.execute(
        "insert into usage_events select * replace (null as event_id, null::decimal(38,12) "
        "as cost_usd) from good where request_id = 'a'"
    )
    failed = {r.name: r.rows for r in runner.run_checks(con) if not r.ok}
    assert failed == {
        "duplicate_event_id": 1,
        "negative_tokens": 1,
        "counted_without_identity": 1,
        "cost_for_unpriced": 1,
        "null_event_id": 1,
        "cost_null_while_priced": 1,
        "daily_matches_events": 1,
    }


def test_gateway_matches_hook_marks_events_not_counted(con, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    add_bedrock(con, "gw", principal="arn:aws:sts::1:assumed-role/litellm-proxy/s", input_tokens=1)
    add_bedrock(con, "own", input_tokens=1)
    build(con)
    assert con.execute("select count(*) from gateway_matches").fetchone()[0] == 0
    assert event(con, "gw")["counted"] is True
    marts = tmp_path / "marts"
    marts.mkdir()
    for name in ("identity_map", "usage_events", "usage_minute", "usage_daily"):
        shutil.copy(runner.MARTS_DIR / f"{name}.sql", marts / f"{name}.sql")
    (marts / "gateway_matches.sql").write_text(
        "-- grain: one provider-side event already counted from the gateway\n"
        "select event_id, null::varchar as gateway_event_id from int_events where gateway_role\n"
    )
    monkeypatch.setattr(runner, "MARTS_DIR", marts)
    build(con, gateway={"identities": ["assumed-role/litellm-proxy/"]})
    assert event(con, "gw")["counted"] is False
    assert event(con, "own")["counted"] is True
    daily = con.execute("select counted, requests from usage_daily order by all").fetchall()
    assert daily == [(False, 1), (True, 1)]


def test_build_is_idempotent(con) -> None:  # type: ignore[no-untyped-def]
    add_bedrock(con, "a", input_tokens=10, output_tokens=5)
    build(con)
    first = con.execute("select * from usage_events").fetchall()
    build(con)
    assert con.execute("select * from usage_events").fetchall() == first


def test_staging_without_raw_table_is_skipped() -> None:
    con = duckdb.connect()
    result = runner.build(con)  # no raw tables at all
    assert result.staging == []
    assert result.events == 0
    assert "stg_bedrock" in result.skipped_staging


# --- the whole pipeline over sample_data -------------------------------------------------------


@pytest.fixture(scope="module")
def sample(sample_ledger, sample_manifest):  # type: ignore[no-untyped-def]
    c = duckdb.connect(str(sample_ledger.db), read_only=True)
    c.execute("set timezone = 'UTC'")
    manifest = sample_manifest
    truncated = manifest["bad_input"]["truncated_gzip"]["request_ids"]
    # A reader may keep the complete lines of the truncated gzip; the manifest's totals do not
    # count them, so neither do these assertions.
    c.execute("create temp table truncated (request_id varchar)")
    c.executemany("insert into truncated values (?)", [[r] for r in truncated])
    c.execute(
        "create temp view ev as select * from usage_events where source = 'bedrock' "
        "and request_id not in (select request_id from truncated)"
    )
    yield c, manifest["bedrock_s3"]
    c.close()


def _counts(con: duckdb.DuckDBPyConnection, column: str) -> dict[str, int]:
    return {
        str(k): int(n)
        for k, n in con.execute(f"select {column}, count(*) from ev group by 1").fetchall()
    }


def test_sample_records_and_tokens(sample) -> None:  # type: ignore[no-untyped-def]
    con, m = sample
    assert con.execute("select count(*) from ev").fetchone()[0] == m["valid_unique_records"]
    tokens = con.execute(
        "select sum(input_tokens), sum(output_tokens), sum(cache_read_tokens), "
        "sum(cache_write_5m_tokens), sum(cache_write_1h_tokens) from ev"
    ).fetchone()
    t = m["tokens"]
    assert tokens == (
        t["input"],
        t["output"],
        t["cache_read"],
        t["cache_write_5m"],
        t["cache_write_1h"],
    )
    assert _counts(con, "status") == m["records_by_status"]
    assert _counts(con, "error_code") == {
        **m["records_by_error_code"],
        "None": m["records_by_status"]["ok"],
    }
    assert (
        con.execute("select count(*) from ev where cache_write_1h_tokens > 0").fetchone()[0]
        == m["cache_write_1h_records"]
    )


def test_sample_pricing(sample) -> None:  # type: ignore[no-untyped-def]
    con, m = sample
    assert (
        con.execute("select count(*) from ev where pricing_tier = 'long_context'").fetchone()[0]
        == m["long_context_records"]
    )
    unpriced = con.execute("select model, count(*) from ev where unpriced group by 1").fetchall()
    assert unpriced == [("claude-fable-5", m["unpriced_records"])]
    assert (
        con.execute("select count(*) from ev where unpriced and cost_usd is not null").fetchone()[0]
        == 0
    )
    threshold = m["prompt_threshold_request_ids"]
    tiers = dict(
        con.execute(
            "select request_id, pricing_tier from ev where request_id in (?, ?)",
            [threshold["prompt_200000"], threshold["prompt_200001"]],
        ).fetchall()
    )
    assert tiers == {
        threshold["prompt_200000"]: "standard",
        threshold["prompt_200001"]: "long_context",
    }
    # the generator's own arithmetic agrees with the price book to the cent
    total = con.execute("select sum(cost_usd) from ev").fetchone()[0]
    assert abs(total - Decimal(str(m["approx_list_cost_usd"]))) < Decimal("0.01")
    scopes = dict(
        con.execute("select model_id, any_value(pricing_scope) from ev group by 1").fetchall()
    )
    assert scopes["global.anthropic.claude-opus-4-6-v1"] == "global"
    assert scopes["anthropic.claude-sonnet-4-20250514-v1:0"] == "in_region"
    assert (
        scopes["arn:aws:bedrock:us-west-2:444455556666:application-inference-profile/a1b2c3d4e5f6"]
        == "geo"
    )


def test_sample_identities(sample) -> None:  # type: ignore[no-untyped-def]
    con, m = sample
    # the identity the Bedrock log names; 58 of the shared API key's records take their developer
    # from Claude Code telemetry instead (sample_data/otel.MANIFEST.md, test_demo_sources.py)
    con.execute(
        "create or replace temp view logged as select * replace ("
        "case when identity_status = 'telemetry' then 'unattributed' else developer end "
        "as developer, case when identity_status = 'telemetry' then 'unattributed' else team end "
        "as team) from ev"
    )
    for column, intended in (("developer", "developer"), ("team", "team")):
        logged = con.execute(f"select {column}, count(*) from logged group by 1").fetchall()
        assert {str(k): int(n) for k, n in logged} == m[f"records_by_intended_{intended}"]
    assert con.execute(
        "select count(*) from ev where identity_status = 'telemetry'"
    ).fetchall() == [(58,)]


def test_sample_checks_pass(sample_ledger) -> None:  # type: ignore[no-untyped-def]
    # every source of the demo: the staging key checks run on all three
    con = duckdb.connect(str(sample_ledger.db), read_only=True)
    try:
        assert [(r.name, r.sample) for r in runner.run_checks(con) if not r.ok] == []
    finally:
        con.close()


def test_every_staging_model_has_a_key_check() -> None:
    staged = {p.stem for p in runner.STAGING_DIR.glob("stg_*.sql")}
    checked = {n.removesuffix("_duplicate_key") for n in runner.check_names()}
    assert staged <= checked


def test_staging_key_check_catches_a_duplicate(con) -> None:  # type: ignore[no-untyped-def]
    add_bedrock(con, "a", input_tokens=1)
    build(con)
    assert [r.name for r in runner.run_checks(con) if not r.ok] == []
    sql = (runner.STAGING_DIR / "stg_bedrock.sql").read_text(encoding="utf-8")
    con.execute(f"create or replace view stg_bedrock as select * from ({sql}) union all ({sql})")
    failed = {r.name: r.sample for r in runner.run_checks(con) if not r.ok}
    assert failed == {"stg_bedrock_duplicate_key": [("bedrock:a", 2)]}


def test_a_new_gateway_source_is_counted_once_without_editing_the_mart(  # type: ignore[no-untyped-def]
    con, tmp_path: Path, monkeypatch
) -> None:
    # a gateway source only has to stage gateway_name (and provider_request_id where it logs it)
    staging = tmp_path / "staging"
    shutil.copytree(runner.STAGING_DIR, staging)
    (staging / "stg_kong.sql").write_text(
        "-- grain: one row per Kong AI gateway log line (request_id)\n"
        "select 'kong:' || request_id as event_id, 'kong' as source, 'bedrock' as provider,\n"
        "    request_id, occurred_at, 'alice@corp.example' as principal,\n"
        "    'alice@corp.example' as person_hint, null as team_hint, null as project,\n"
        "    model_id, canonical_model(model_id) as model, 'us-east-1' as region,\n"
        "    bedrock_pricing_scope(model_id) as pricing_scope, 5::bigint as input_tokens,\n"
        "    0::bigint as output_tokens, 0::bigint as cache_read_tokens,\n"
        "    0::bigint as cache_write_5m_tokens, 0::bigint as cache_write_1h_tokens,\n"
        "    false as is_batch, null::decimal(38, 12) as reported_cost_usd, 'ok' as status,\n"
        "    null as error_code, true as billable, false as gateway_role,\n"
        "    'kong' as gateway_name, upstream_id as provider_request_id\n"
        "from raw_kong\n"
    )
    con.execute(
        "create table raw_kong as select 'k1' as request_id, "
        "timestamptz '2026-11-02 10:00:00+00' as occurred_at, "
        "'us.anthropic.claude-sonnet-4-5-20250929-v1:0' as model_id, 'upstream-1' as upstream_id"
    )
    add_bedrock(con, "upstream-1", principal="arn:aws:sts::1:assumed-role/kong/s", input_tokens=5)
    monkeypatch.setattr(runner, "STAGING_DIR", staging)
    build(con, gateway={"identities": ["assumed-role/kong/"]})
    counted = dict(con.execute("select event_id, counted from usage_events").fetchall())
    assert counted == {"kong:k1": True, "bedrock:upstream-1": False}
    assert con.execute("select gateway_name, match_method from gateway_matches").fetchall() == [
        ("kong", "provider_request_id")
    ]


def test_marts_read_no_raw_tables_and_staging_reads_no_other_model() -> None:
    for path in sorted(runner.MARTS_DIR.glob("*.sql")):
        raw, _ = runner._inputs(path.read_text(encoding="utf-8"))
        assert raw == set(), f"marts/{path.name} reads {sorted(raw)}"
    for path in sorted(runner.STAGING_DIR.glob("stg_*.sql")):
        _, models = runner._inputs(path.read_text(encoding="utf-8"))
        assert models == set(), f"staging/{path.name} reads {sorted(models)}"
    for path in sorted(runner.INTERMEDIATE_DIR.glob("*.sql")):
        assert path.stem in runner.INTERMEDIATE_ORDER, f"{path.name} has no place in the order"
        assert path.read_text(encoding="utf-8").startswith("-- grain: ")
