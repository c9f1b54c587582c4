"""`llmledger report`, `prices`, `doctor` and `build` through the real CLI, with exact output."""

from __future__ import annotations

import json
import random
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner
from fixtures_models import (
    PEOPLE_CSV,
    SSO,
    add_bedrock,
    build,
    new_ledger,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.cli import cli
from models import snapshot, views

ROLE = "arn:aws:sts::111122223333:assumed-role/"
IAM = "arn:aws:iam::111122223333:user/"
IDENTITY = {
    "match_local_part": True,
    "rules": [{"match": "assumed-role/ci-runner/", "team": "platform"}],
}


def make_ledger(tmp_path: Path) -> Path:
    """Five requests whose costs are worked out by hand; built and published."""
    db = tmp_path / "ledger.duckdb"
    con = new_ledger(db)
    # a: alice (payments), us. Sonnet 4.5: 1,000 x 3.30 + 1,000 x 16.50 = 19,800 micro-dollars
    add_bedrock(
        con,
        "a",
        at="2026-11-01T10:00:00Z",
        principal=SSO + "alice@corp.example",
        input_tokens=1000,
        output_tokens=1000,
    )
    # b: bob (platform), global. Opus 4.6: 2,000 x 5 + 100 x 25 = 12,500
    add_bedrock(
        con,
        "b",
        at="2026-11-02T12:00:00Z",
        model_id="global.anthropic.claude-opus-4-6-v1",
        principal=ROLE + "BedrockOktaFederatedRole/bob@corp.example",
        input_tokens=2000,
        output_tokens=100,
    )
    # c: the CI role (team platform by rule), us. Haiku 4.5: 10,000 x 1.10 = 11,000
    add_bedrock(
        con,
        "c",
        at="2026-11-02T13:00:00Z",
        model_id="us.anthropic.claude-haiku-4-5-20251001-v1:0",
        principal=ROLE + "ci-runner/i-0abc",
        input_tokens=10000,
    )
    # d: alice, an unknown model: no cost
    add_bedrock(
        con,
        "d",
        at="2026-11-03T09:00:00Z",
        model_id="us.anthropic.claude-fable-5-20261101-v1:0",
        principal=SSO + "alice@corp.example",
        input_tokens=5,
    )
    # e: an unmapped API key, Sonnet 4 in-Region: 1,000 output x 15 = 15,000
    add_bedrock(
        con,
        "e",
        at="2026-11-03T23:59:59Z",
        model_id="anthropic.claude-sonnet-4-20250514-v1:0",
        principal=IAM + "BedrockAPIKey-q9m4",
        output_tokens=1000,
    )
    build(con, tmp_path, people=PEOPLE_CSV, identity=IDENTITY)
    snapshot.publish(con, snapshot_path(db))
    con.close()
    return db


def snapshot_path(db: Path) -> Path:
    return db.with_name(db.stem + ".snapshot.duckdb")


@pytest.fixture
def ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("LLMLEDGER_CONFIG", raising=False)
    monkeypatch.delenv("LLMLEDGER_DB", raising=False)
    return make_ledger(tmp_path)


def run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_report_by_team_json(ledger: Path) -> None:
    result = run("--db", str(ledger), "report", "--by", "team", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == [
        {
            "team": "platform",
            "requests": 2,
            "input_tokens": 12000,
            "output_tokens": 100,
            "cache_read_tokens": 0,
            "cache_write_5m_tokens": 0,
            "cache_write_1h_tokens": 0,
            "cost_usd": "0.023500000000",
        },
        {
            "team": "payments",
            "requests": 2,
            "input_tokens": 1005,
            "output_tokens": 1000,
            "cache_read_tokens": 0,
            "cache_write_5m_tokens": 0,
            "cache_write_1h_tokens": 0,
            "cost_usd": "0.019800000000",
        },
        {
            "team": "unattributed",
            "requests": 1,
            "input_tokens": 0,
            "output_tokens": 1000,
            "cache_read_tokens": 0,
            "cache_write_5m_tokens": 0,
            "cache_write_1h_tokens": 0,
            "cost_usd": "0.015000000000",
        },
    ]


def test_report_by_day_csv_is_exact(ledger: Path) -> None:
    result = run("--db", str(ledger), "report", "--by", "day", "--format", "csv")
    assert result.exit_code == 0
    assert result.stdout == (
        "day,requests,input_tokens,output_tokens,cache_read_tokens,cache_write_5m_tokens,"
        "cache_write_1h_tokens,cost_usd\n"
        "2026-11-01,1,1000,1000,0,0,0,0.019800000000\n"
        "2026-11-02,2,12000,100,0,0,0,0.023500000000\n"
        "2026-11-03,2,5,1000,0,0,0,0.015000000000\n"
    )


def test_report_by_model_with_an_unpriced_group(ledger: Path) -> None:
    result = run("--db", str(ledger), "report", "--by", "model", "--format", "json")
    rows = {r["model"]: r for r in json.loads(result.stdout)}
    assert rows["claude-fable-5"]["cost_usd"] is None
    assert rows["claude-fable-5"]["requests"] == 1
    assert rows["claude-sonnet-4-5"]["cost_usd"] == "0.019800000000"
    # highest cost first, the unpriced group last
    assert list(rows) == [
        "claude-sonnet-4-5",
        "claude-sonnet-4",
        "claude-opus-4-6",
        "claude-haiku-4-5",
        "claude-fable-5",
    ]


def test_report_since_until_and_filters(ledger: Path) -> None:
    # --until is exclusive: 2026-11-02 only
    result = run(
        "--db",
        str(ledger),
        "report",
        "--by",
        "developer",
        "--since",
        "2026-11-02",
        "--until",
        "2026-11-03",
        "--format",
        "json",
    )
    assert [(r["developer"], r["cost_usd"]) for r in json.loads(result.stdout)] == [
        ("bob@corp.example", "0.012500000000"),
        ("unattributed", "0.011000000000"),
    ]
    result = run(
        "--db",
        str(ledger),
        "report",
        "--by",
        "developer",
        "--team",
        "payments",
        "--model",
        "claude-sonnet-4-5",
        "--provider",
        "bedrock",
        "--source",
        "bedrock",
        "--format",
        "csv",
    )
    assert result.stdout.splitlines()[1:] == [
        "alice@corp.example,payments,1,1000,1000,0,0,0,0.019800000000"
    ]
    # an unknown team is an error that names the teams there are (exit 1), unless --allow-empty
    result = run("--db", str(ledger), "report", "--team", "nobody", "--format", "json")
    assert result.exit_code == 1
    assert result.stderr == (
        "error: no team 'nobody' in the data; teams: payments, platform, unattributed\n"
    )
    assert result.stdout == ""
    result = run(
        "--db", str(ledger), "report", "--team", "nobody", "--format", "json", "--allow-empty"
    )
    assert (result.exit_code, json.loads(result.stdout)) == (0, [])
    # a period with no requests says what the data covers
    result = run("--db", str(ledger), "report", "--since", "2020-01-01", "--until", "2020-02-01")
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "error: no counted requests match these filters between 2020-01-01 and 2020-02-01 "
        "(exclusive); the data covers 2026-"
    )


def test_report_table_rounds_to_cents_and_shows_shares(ledger: Path) -> None:
    result = run("--db", str(ledger), "report", "--by", "team")
    assert result.exit_code == 0
    out = result.stdout
    assert "platform" in out and "$0.02" in out
    assert "total: $0.06 over 5 requests" in out
    assert (
        "unattributed (no developer): $0.03 (44.6%), 2 requests" in out
    )  # (11,000 + 15,000) / 58,300
    assert "unpriced: 1 requests have no price" in out


def test_report_reads_the_snapshot(ledger: Path) -> None:
    # the main database changes after publishing; reports keep reading the published snapshot
    con = duckdb.connect(str(ledger))
    con.execute("delete from usage_daily")
    con.close()
    result = run("--db", str(ledger), "report", "--by", "team", "--format", "json")
    assert len(json.loads(result.stdout)) == 3
    # without a snapshot, the main database (read-only)
    snapshot_path(ledger).unlink()
    result = run("--db", str(ledger), "report", "--by", "team", "--format", "json")
    assert (result.exit_code, result.stderr) == (
        1,
        "error: the database holds no requests yet; run `llmledger ingest` first\n",
    )


def test_report_usage_errors(tmp_path: Path, ledger: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the hint lists the databases in the working folder too: run from an empty one, not from
    # wherever pytest was started (a clone in which the demo ran holds llmledger-demo.duckdb)
    empty = tmp_path / "cwd"
    empty.mkdir()
    monkeypatch.chdir(empty)
    missing = tmp_path / "nothing.duckdb"
    result = run("--db", str(missing), "report")
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: no database at {missing}; run `llmledger ingest` (or `llmledger demo`) first, "
        f"or pass --db PATH; databases here: {ledger}\n"
    )
    not_duckdb = tmp_path / "notes.duckdb"
    not_duckdb.write_text("hello")
    result = run("--db", str(not_duckdb), "report")
    assert (result.exit_code, result.stderr) == (
        2,
        f"error: {not_duckdb} is not a DuckDB database; pass the database `llmledger ingest` "
        "wrote with --db PATH\n",
    )
    result = run("--db", str(ledger), "report", "--since", "2026-11-03", "--until", "2026-11-03")
    assert result.exit_code == 2
    assert "--since must be before --until" in result.stderr
    result = run("--db", str(ledger), "report", "--by", "fortnight")
    assert result.exit_code == 2


def test_prices_check_lists_unpriced_models(ledger: Path) -> None:
    result = run("--db", str(ledger), "prices", "check", "--format", "json")
    assert result.exit_code == 1
    rows = json.loads(result.stdout)
    assert [
        (r["provider"], r["model"], r["pricing_scope"], r["requests"], r["model_ids"]) for r in rows
    ] == [("bedrock", "claude-fable-5", "geo", 1, "us.anthropic.claude-fable-5-20261101-v1:0")]
    assert "1 unpriced model(s)" in result.stderr


def test_prices_list(ledger: Path) -> None:
    result = run(
        "--db",
        str(ledger),
        "prices",
        "list",
        "--provider",
        "bedrock",
        "--model",
        "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "--at",
        "2026-11-01",
        "--format",
        "json",
    )
    assert result.exit_code == 0
    rows = {(r["pricing_scope"], r["pricing_tier"]): r for r in json.loads(result.stdout)}
    geo = rows[("geo", "standard")]
    assert (
        geo["input_usd_per_mtok"],
        geo["output_usd_per_mtok"],
        geo["cache_write_5m_usd_per_mtok"],
        geo["cache_write_1h_usd_per_mtok"],
        geo["cache_read_usd_per_mtok"],
    ) == ("3.300000", "16.500000", "4.125000", "6.600000", "0.330000")
    assert geo["price_version"] == "bedrock/claude-sonnet-4-5/geo/standard/2025-09-29"
    assert set(rows) == {
        (s, t) for s in ("global", "geo", "in_region") for t in ("standard", "long_context")
    }
    table = run("--db", str(ledger), "prices", "list", "--model", "claude-haiku-4-5")
    assert "claude-haiku-4-5" in table.stdout and "1.1" in table.stdout


def test_prices_list_applies_config_overrides(tmp_path: Path) -> None:
    config = tmp_path / "llmledger.toml"
    config.write_text(
        '[[prices.overrides]]\nprovider = "bedrock"\nmodel = "claude-haiku-4-5"\n'
        'discount_pct = "50"\nvalid_from = "2026-01-01"\n'
    )
    result = run(
        "--db",
        str(tmp_path / "none.duckdb"),
        "--config",
        str(config),
        "prices",
        "list",
        "--provider",
        "bedrock",
        "--model",
        "claude-haiku-4-5",
        "--at",
        "2026-11-01",
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.stderr
    geo = [
        r
        for r in json.loads(result.stdout)
        if r["pricing_scope"] == "geo" and r["pricing_tier"] == "standard"
    ][0]
    assert geo["input_usd_per_mtok"] == "0.550000"


def test_import_litellm_then_build_prices_the_model(ledger: Path, tmp_path: Path) -> None:
    prices = tmp_path / "model_prices_and_context_window.json"
    prices.write_text(
        json.dumps(
            {
                "sample_spec": {"input_cost_per_token": 0},
                "us.anthropic.claude-fable-5-20261101-v1:0": {
                    "input_cost_per_token": 2e-06,
                    "output_cost_per_token": 1e-05,
                    "litellm_provider": "bedrock_converse",
                    "mode": "chat",
                },
            }
        )
    )
    result = run("--db", str(ledger), "prices", "import-litellm", str(prices))
    assert result.exit_code == 0, result.stderr
    assert "imported 1 price rows for 1 models" in result.stderr
    result = run("--db", str(ledger), "prices", "check")
    assert result.exit_code == 0
    assert result.stdout == "every model in the usage data has a price\n"
    # d: 5 input x $2 = 10 micro-dollars, now in the published snapshot's report
    result = run(
        "--db",
        str(ledger),
        "report",
        "--by",
        "model",
        "--model",
        "claude-fable-5",
        "--format",
        "csv",
    )
    assert result.stdout.splitlines()[1] == "claude-fable-5,1,5,0,0,0,0,0.000010000000"


def test_import_litellm_bad_file(ledger: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    result = run("--db", str(ledger), "prices", "import-litellm", str(bad))
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: {bad} is not LiteLLM's model_prices_and_context_window.json (expected an "
        "object keyed by model id)\n"
    )


def test_doctor(ledger: Path) -> None:
    result = run("--db", str(ledger), "doctor")
    assert result.exit_code == 0, result.stdout
    out = result.stdout
    assert "ok       config: none given (defaults)" in out
    assert f"ok       reachable: database {ledger}" in out
    assert "warning  1 unpriced model(s) (cost NULL); see `llmledger prices check`" in out
    assert "         bedrock claude-fable-5 (geo): 1 requests" in out
    assert "warning  2 principal(s) resolve to developer 'unattributed' (2 requests)" in out
    assert f"         bedrock {IAM}BedrockAPIKey-q9m4 (team unattributed): 1 requests" in out
    assert "ok       no rejected records" in out
    assert out.rstrip().endswith("0 failed, 2 warnings")


def test_doctor_without_database_fails(tmp_path: Path) -> None:
    result = run("--db", str(tmp_path / "none.duckdb"), "doctor")
    assert result.exit_code == 1
    assert "FAIL     database: no database at" in result.stdout


def test_build_command(ledger: Path) -> None:
    snapshot_path(ledger).unlink()
    result = run("--db", str(ledger), "build")
    assert result.exit_code == 0, result.stderr
    assert "usage events" in result.stderr
    assert snapshot_path(ledger).is_file()


# --- property: the total does not depend on how the time range is split ------------------------

START = date(2026, 11, 1)


@pytest.fixture(scope="module")
def random_ledger(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    rng = random.Random(7)
    con = new_ledger()
    models = [
        "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "global.anthropic.claude-opus-4-6-v1",
        "us.anthropic.claude-haiku-4-5-20251001-v1:0",
        "anthropic.claude-sonnet-4-20250514-v1:0",
        "us.anthropic.claude-fable-5-20261101-v1:0",
    ]
    people = [
        SSO + "alice@corp.example",
        SSO + "bob@corp.example",
        ROLE + "ci-runner/x",
        IAM + "BedrockAPIKey-q9m4",
    ]
    for i in range(400):
        day = START + timedelta(days=rng.randrange(30))
        moment = f"{day}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:00Z"
        write = rng.choice([0, rng.randrange(300_000)])
        add_bedrock(
            con,
            f"r{i}",
            at=moment,
            model_id=rng.choice(models),
            principal=rng.choice(people),
            input_tokens=rng.randrange(5000),
            output_tokens=rng.randrange(3000),
            cache_read=rng.randrange(150_000),
            cache_write=write,
            cache_write_1h=rng.choice([None, write // 3]),
        )
    build(con, tmp_path_factory.mktemp("people"), people=PEOPLE_CSV, identity=IDENTITY)
    yield con
    con.close()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    by=st.sampled_from(["developer", "team", "model", "day"]),
    days=st.lists(st.integers(min_value=0, max_value=31), min_size=3, max_size=3),
)
def test_total_cost_does_not_depend_on_the_split(random_ledger, by: str, days: list[int]) -> None:  # type: ignore[no-untyped-def]
    a, m, b = (START + timedelta(days=d) for d in sorted(days))

    def totals(since: date, until: date) -> dict[str, tuple[int, Decimal]]:
        rows = views.rows(views.report(random_ledger, by, since, until))
        return {r[by]: (r["requests"], r["cost_usd"] or Decimal(0)) for r in rows}

    whole = totals(a, b)
    left, right = totals(a, m), totals(m, b)
    combined: dict[str, tuple[int, Decimal]] = {}
    for part in (left, right):
        for key, (n, c) in part.items():
            n0, c0 = combined.get(key, (0, Decimal(0)))
            combined[key] = (n0 + n, c0 + c)
    assert combined == whole
    event_total = random_ledger.execute(
        "select coalesce(sum(cost_usd), 0) from usage_events where counted "
        "and occurred_at >= ? and occurred_at < ?",
        [a, b],
    ).fetchone()[0]
    assert sum((c for _, c in whole.values()), Decimal(0)) == event_total


# --- over sample_data ---------------------------------------------------------------------------


def test_report_over_sample_data(sample_ledger: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    db = sample_ledger.db
    monkeypatch.delenv("LLMLEDGER_CONFIG", raising=False)
    result = run("--db", str(db), "report", "--by", "team", "--format", "json")
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    con = duckdb.connect(str(db), read_only=True)
    try:
        expected = dict(
            con.execute(
                "select team, sum(cost_usd) from usage_events where counted group by 1"
            ).fetchall()
        )
        requests = con.execute("select count(*) from usage_events where counted").fetchone()[0]
    finally:
        con.close()
    assert {r["team"]: Decimal(r["cost_usd"]) for r in rows} == expected
    assert sum(r["requests"] for r in rows) == requests
    assert "unattributed" in {r["team"] for r in rows}


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("0.000266200000", "$0.0002662"),
        ("0.004999", "$0.004999"),
        ("0.005", "$0.01"),
        ("0.0000123456", "$0.00001235"),
        ("-0.0001", "$-0.0001"),
        ("0", "$0.00"),
        ("0.000000000000", "$0.00"),
        ("1234.565", "$1,234.57"),
    ],
)
def test_money_in_tables_never_reads_zero(value: str, shown: str) -> None:
    from ingest.cli.common import money_cents

    assert money_cents(Decimal(value)) == shown


def test_report_shows_a_sub_cent_cost(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LLMLEDGER_CONFIG", raising=False)
    monkeypatch.delenv("LLMLEDGER_DB", raising=False)
    db = tmp_path / "ledger.duckdb"
    con = new_ledger(db)
    # us. Haiku 4.5: 242 input tokens x $1.10 per million = $0.0002662
    add_bedrock(
        con,
        "tiny",
        at="2026-11-01T10:00:00Z",
        model_id="us.anthropic.claude-haiku-4-5-20251001-v1:0",
        principal=SSO + "alice@corp.example",
        input_tokens=242,
    )
    build(con, tmp_path, people=PEOPLE_CSV, identity=IDENTITY)
    snapshot.publish(con, snapshot_path(db))
    con.close()
    table = run("--db", str(db), "report", "--by", "developer").stdout
    row = next(line for line in table.splitlines() if "alice@corp.example" in line)
    assert row.split("│")[3].strip() == "$0.0002662"  # developer, team, cost_usd
    assert "total: $0.0002662 over 1 requests" in table
    exact = json.loads(
        run("--db", str(db), "report", "--by", "developer", "--format", "json").stdout
    )
    assert exact[0]["cost_usd"] == "0.000266200000"
    csv_rows = run("--db", str(db), "report", "--by", "developer", "--format", "csv").stdout
    assert csv_rows.splitlines()[1].endswith(",0.000266200000")


def test_prices_check_lists_other_vendors_and_litellm_fills_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LLMLEDGER_CONFIG", raising=False)
    monkeypatch.delenv("LLMLEDGER_DB", raising=False)
    db = tmp_path / "ledger.duckdb"
    con = new_ledger(db)
    add_bedrock(con, "nova", model_id="us.amazon.nova-pro-v1:0", input_tokens=1000)
    add_bedrock(con, "titan", model_id="amazon.titan-text-express-v1", input_tokens=10)
    add_bedrock(con, "claude-2", model_id="anthropic.claude-v2:1", input_tokens=1000)
    build(con, tmp_path, people=PEOPLE_CSV, identity=IDENTITY)
    snapshot.publish(con, snapshot_path(db))
    con.close()
    result = run("--db", str(db), "prices", "check", "--format", "json")
    assert result.exit_code == 1
    assert [
        (r["provider"], r["model"], r["pricing_scope"], r["model_ids"])
        for r in json.loads(result.stdout)
    ] == [
        ("bedrock", "amazon.nova-pro", "geo", "us.amazon.nova-pro-v1:0"),
        ("bedrock", "amazon.titan-text-express", "in_region", "amazon.titan-text-express-v1"),
    ]
    prices = tmp_path / "model_prices_and_context_window.json"
    prices.write_text(
        json.dumps(
            {
                "us.amazon.nova-pro-v1:0": {
                    "input_cost_per_token": 8e-07,
                    "output_cost_per_token": 3.2e-06,
                    "litellm_provider": "bedrock_converse",
                    "mode": "chat",
                },
            }
        )
    )
    assert run("--db", str(db), "prices", "import-litellm", str(prices)).exit_code == 0
    result = run("--db", str(db), "prices", "check", "--format", "json")
    assert [r["model"] for r in json.loads(result.stdout)] == ["amazon.titan-text-express"]
    # nova: 1,000 input x $0.80 = 800 micro-dollars
    result = run("--db", str(db), "report", "--by", "model", "--format", "csv")
    assert "amazon.nova-pro,1,1000,0,0,0,0,0.000800000000" in result.stdout.splitlines()
    # claude-2-1 (Nov 2026 is after the 2023 price): 1,000 x $8
    assert "claude-2-1,1,1000,0,0,0,0,0.008000000000" in result.stdout.splitlines()


def test_report_fits_80_columns_without_cutting_a_name_or_number(sample_ledger: Any) -> None:
    base = ["--db", str(sample_ledger.db), "report", "--by", "developer"]
    narrow = CliRunner().invoke(cli, base, env={"COLUMNS": "80"}, catch_exceptions=False)
    assert narrow.exit_code == 0, narrow.stderr
    lines = narrow.stdout.splitlines()
    assert lines[0].rstrip() == "cost by developer, all data: 2026-10-22 to 2026-11-20 (UTC)"
    table = [line for line in lines if line.startswith(("┃", "│"))]
    assert all(len(line) <= 80 for line in table)
    assert "…" not in narrow.stdout
    header = [c.strip() for c in table[0].strip("┃").split("┃")]
    assert header == ["developer", "team", "cost_usd", "share", "requests"]
    first = [c.strip() for c in table[1].strip("│").split("│")]
    # 34 of yuki's requests are Kong's bedrock service's (sample_data/gateway.MANIFEST.md)
    assert first == ["yuki.tanaka@acme.example", "search", "$166.74", "4.6%", "1,915"]
    assert "(token columns hidden to fit 80 columns; --wide shows them)" in lines
    wide = CliRunner().invoke(cli, [*base, "--wide"], env={"COLUMNS": "80"})
    assert "┃ cache_write_1h_tokens ┃" in wide.stdout and "…" not in wide.stdout
    assert "--wide shows them" not in wide.stdout


def test_report_by_periods_and_more_groups(sample_ledger: Any) -> None:
    def rows(*args: str) -> list[dict[str, Any]]:
        result = run("--db", str(sample_ledger.db), "report", *args, "--format", "json")
        assert result.exit_code == 0, result.stderr
        return list(json.loads(result.stdout))

    months = rows("--by", "month")
    assert [(r["month"], r["cost_usd"]) for r in months] == [
        ("2026-10", "1123.737864130000"),
        # November with the gateways' Anthropic traffic (body-proxy $29.139406250, Kong
        # $32.286030800; Kong's bedrock requests were already counted from Bedrock)
        ("2026-11", "2499.718392090000"),
    ]
    weeks = rows("--by", "week")
    assert weeks[0]["week"] == "2026-10-19"  # a Monday
    assert sum(Decimal(r["cost_usd"]) for r in weeks) == Decimal("3623.456256220000")
    assert sum(r["requests"] for r in rows("--by", "provider")) == sum(
        r["requests"] for r in months
    )
    assert {r["cost_center"] for r in rows("--by", "cost_center")} >= {"CC-1001", "CC-1005"}
    developers = rows("--by", "developer")
    assert (developers[0]["developer"], developers[0]["team"]) == (
        "yuki.tanaka@acme.example",
        "search",
    )
