"""The demo's gateways and Claude Code telemetry (sample_data/generate_gateways.py and
generate_otel.py) through `llmledger demo`: what each gateway counts, the Bedrock-fronted Kong
service counted once, and what the telemetry attributes. The numbers are the session's sample
database's; the manifests (gateway.manifest.json, otel.manifest.json) say where they come from."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner

from ingest import config
from ingest.cli import cli
from ingest.cli.demo import print_demo_report
from ingest.context import AppContext
from models import views

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "sample_data"
SHARED_KEY = "arn:aws:iam::444455556666:user/BedrockAPIKey-q9m4"


@pytest.fixture(scope="module")
def con(sample_ledger: Any) -> Any:
    connection = duckdb.connect(str(sample_ledger.snapshot), read_only=True)
    yield connection
    connection.close()


def rows(con: Any, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in con.execute(sql).fetchall()]


def test_each_gateway_requests_and_cost(con: Any) -> None:
    health = [
        (r["gateway"], int(r["requests"]), int(r["errors"]), int(r["throttled"]), r["cost_usd"],
         r["partial_cost_usd"])
        for r in views.rows(views.gateway_health(con))
    ]  # fmt: skip
    assert health == [
        ("body-proxy", 554, 3, 4, Decimal("29.139406250000"), Decimal("0.199731450000")),
        ("kong", 957, 0, 10, Decimal("35.243254080000"), Decimal("32.286030800000")),
        # the LiteLLM proxy is a gateway too (its exact spend logs: nothing partial)
        ("litellm", 6801, 28, 181, Decimal("459.135571860000"), Decimal("0E-12")),
    ]
    manifest = json.loads((SAMPLE / "gateway.manifest.json").read_text())
    assert manifest["kong"]["records"] == 957
    assert manifest["body_proxy"]["records"] == 554
    # per gateway and provider: Kong's Anthropic requests are priced on the counts Kong logs
    # (no cache writes: partial), its bedrock service's from Bedrock's own records
    assert rows(
        con,
        "select gateway_name, provider, token_detail, count(*), sum(cost_usd) from usage_events "
        "where source = 'gateway' and counted group by all order by all",
    ) == [
        ("body-proxy", "anthropic", "exact", 547, Decimal("28.939674800000")),
        ("body-proxy", "anthropic", "partial", 7, Decimal("0.199731450000")),  # cut streams
        ("kong", "anthropic", "partial", 891, Decimal("32.286030800000")),
        ("kong", "bedrock", "exact", 66, Decimal("2.957223280000")),
    ]
    # the generator's own list-price arithmetic over what Kong logs agrees to the cent
    kong_anthropic = manifest["kong"]["anthropic"]["approx_cost_usd_by_developer"]
    assert rows(
        con,
        "select developer, sum(cost_usd) from usage_events "
        "where gateway_name = 'kong' and provider = 'anthropic' group by 1 order by 1",
    ) == sorted((d, Decimal(c).quantize(Decimal("1e-12"))) for d, c in kong_anthropic.items())


def test_kong_in_front_of_bedrock_is_counted_once(con: Any) -> None:
    # every Kong bedrock record names the Bedrock request it forwarded (x-amzn-requestid)
    assert rows(
        con,
        "select gateway_name, match_method, count(*) from gateway_matches "
        "where gateway_name = 'kong' group by all",
    ) == [("kong", "provider_request_id", 66)]
    assert rows(
        con,
        "select p.counted, g.counted, count(*), sum(p.cost_usd) = sum(g.cost_usd), "
        "bool_and(g.developer in ('yuki.tanaka@acme.example', 'tom.baker@acme.example')), "
        "bool_and(p.principal = '" + SHARED_KEY + "') "
        "from gateway_matches as m "
        "join usage_events as p on p.event_id = m.event_id "
        "join usage_events as g on g.event_id = m.gateway_event_id "
        "where m.gateway_name = 'kong' group by all",
    ) == [(False, True, 66, True, True, True)]
    # the shared key's other requests (before Kong, or InvokeModel from Claude Code) stay counted
    assert rows(
        con,
        f"select counted, count(*) from usage_events where principal = '{SHARED_KEY}' "
        "group by 1 order by 1",
    ) == [(False, 66), (True, 173)]


def test_reconcile_shows_the_kong_pairs(sample_ledger: Any) -> None:
    result = CliRunner().invoke(
        cli, ["--db", str(sample_ledger.db), "report", "--reconcile", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    matched = [
        (r["group"], r["provider"], r["requests"])
        for r in json.loads(result.stdout)
        if r["section"] == "requests" and r["group"] == "matched (kong)"
    ]
    assert matched == [("matched (kong)", "bedrock", 66)]


def test_telemetry_attributes_the_shared_key(con: Any) -> None:
    assert rows(
        con,
        "select match_method, count(*) from claude_code_attribution group by 1 order by 1",
    ) == [("ambiguous", 2), ("model_tokens_time", 58), ("unmatched", 2)]
    assert rows(
        con,
        "select developer, team, count(*) from usage_events "
        "where identity_status = 'telemetry' group by all order by all",
    ) == [
        ("hannah.levi@acme.example", "payments", 23),
        ("lucas.martin@acme.example", "payments", 19),  # 20 records, one claimed twice
        ("nadia.rahman@acme.example", "security", 16),
    ]
    manifest = json.loads((SAMPLE / "otel.manifest.json").read_text())
    assert manifest["records_attributed"] == 58
    # the record two developers' events both fit stays unattributed
    ambiguous = manifest["planted"]["ambiguous_request_id"]
    assert rows(
        con,
        f"select developer, identity_status, counted from usage_events "
        f"where request_id = '{ambiguous}' and source = 'bedrock'",
    ) == [("unattributed", "unattributed", True)]
    # telemetry adds no spend beside the provider logs, and its api_error events are the
    # provider's failed records, not requests of their own
    assert rows(
        con,
        "select billable, count(*), sum(counted::int) from usage_events "
        "where source = 'claude_code' group by 1 order by 1",
    ) == [(False, 1, 0), (True, 62, 0)]


def test_unattributed_share_before_and_after(con: Any) -> None:
    """Before the two new sources the demo's totals were $3,562.030819170 with $79.003812 (2.2%)
    in 2,002 requests unattributed: the shared key's 66 Kong-forwarded and 58 telemetry-matched
    requests now name their developer; the gateways' Anthropic traffic is new spend."""
    after = views.totals(con)
    assert (after["cost_usd"], after["unattributed_cost_usd"], after["unattributed_requests"]) == (
        Decimal("3623.456256220000"),
        Decimal("72.662231535000"),
        1878,
    )
    ((telemetry_cost, telemetry_requests),) = rows(
        con,
        "select sum(cost_usd), count(*) from usage_events where identity_status = 'telemetry'",
    )
    ((kong_cost, kong_requests),) = rows(
        con,
        "select sum(g.cost_usd), count(*) from gateway_matches as m join usage_events as g "
        "on g.event_id = m.gateway_event_id where m.gateway_name = 'kong'",
    )
    ((anthropic_cost,),) = rows(
        con, "select sum(cost_usd) from usage_events where source = 'gateway' and counted "
        "and provider = 'anthropic'"
    )  # fmt: skip
    before_total = after["cost_usd"] - anthropic_cost
    before_unattributed = after["unattributed_cost_usd"] + telemetry_cost + kong_cost
    assert before_total == Decimal("3562.030819170000")
    assert before_unattributed == Decimal("79.003812000000")
    assert after["unattributed_requests"] + telemetry_requests + kong_requests == 2002
    share = lambda part, whole: (part / whole * 100).quantize(Decimal("0.1"))  # noqa: E731
    assert (share(before_unattributed, before_total), share(after["unattributed_cost_usd"],
            after["cost_usd"])) == (Decimal("2.2"), Decimal("2.0"))  # fmt: skip


def test_demo_report_names_the_gateways_and_the_telemetry(
    sample_ledger: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    app = AppContext(
        db_path=sample_ledger.db,
        config=config.load(str(SAMPLE / "llmledger.toml")),
        log_json=False,
        quiet=True,
    )
    print_demo_report(app)
    lines = capsys.readouterr().out.splitlines()
    assert lines[-7:] == [
        "unattributed (no developer): $72.66 (2.0%), 1,878 requests",
        "unpriced: 66 requests have no price and are not in the costs (see `llmledger prices "
        "check`)",
        "prompt caching saved: $9,590.01",
        "gateway body-proxy: 554 requests, $29.14 (`llmledger report --by gateway`)",
        "gateway kong: 957 requests, $35.24 (`llmledger report --by gateway`)",
        "gateway litellm: 6,801 requests, $459.14 (`llmledger report --by gateway`)",
        "claude code telemetry: 58 events matched to their provider record (2 ambiguous, "
        "2 unmatched) (`llmledger report --by session`)",
    ]


def test_sessions_and_gateway_days(sample_ledger: Any) -> None:
    result = CliRunner().invoke(cli, ["--db", str(sample_ledger.db), "report", "--by", "session",
                                      "--format", "json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    sessions = json.loads(result.stdout)
    assert len(sessions) == 31
    assert {s["developer"] for s in sessions} == {
        "hannah.levi@acme.example",
        "lucas.martin@acme.example",
        "nadia.rahman@acme.example",
    }
    result = CliRunner().invoke(cli, ["--db", str(sample_ledger.db), "report", "--by", "gateway",
                                      "--format", "json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    days = json.loads(result.stdout)
    assert [(d["gateway"], d["day"]) for d in days][:2] == [
        ("body-proxy", "2026-11-09"),
        ("body-proxy", "2026-11-10"),
    ]
    assert sum(d["requests"] for d in days if d["gateway"] == "kong") == 957


def test_no_body_or_prompt_text_from_the_new_samples(sample_ledger: Any) -> None:
    """The gateway bodies, SSE streams and logged prompts carry the sentinel; none of it lands."""
    sentinel = json.loads((SAMPLE / "gateway.manifest.json").read_text())["sentinel"]
    assert sentinel in (SAMPLE / "gateway" / "body" / "claude-proxy-2026-11-09.jsonl").read_text()
    assert any(sentinel in p.read_text() for p in (SAMPLE / "otel").glob("*.jsonl"))
    connection = duckdb.connect(str(sample_ledger.db), read_only=True)
    try:
        for table in ("raw_gateway", "raw_claude_code", "raw_claude_code_metrics"):
            columns = [r[0] for r in connection.execute(
                "select column_name from information_schema.columns where table_name = ?", [table]
            ).fetchall()]  # fmt: skip
            found = [
                c for c in columns
                if connection.execute(
                    f'select count(*) from "{table}" where contains(cast("{c}" as varchar), ?)',
                    [sentinel],
                ).fetchone()[0]
            ]  # fmt: skip
            assert (table, len(columns) > 3, found) == (table, True, [])
    finally:
        connection.close()
