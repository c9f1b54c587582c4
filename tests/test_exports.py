"""Billing exports (simple and FOCUS 1.2) and the usage detail export.

Two data sets:

* a small synthetic ``usage_events`` + ``price_book`` written straight into a snapshot file, built
  to exercise every rule (formula injection, discounts, unpriced and non-billable requests,
  uncounted duplicates, a second provider, months on either side); its golden files are
  reviewable by eye;
* the repository's sample data through the real ingest pipeline, for totals to the cent against
  ``usage_events`` and a golden simple export.

Golden files are compared byte for byte with TZ=UTC (conftest pins it). To regenerate after an
intended change: ``LLMLEDGER_UPDATE_GOLDEN=1 pytest tests/test_exports.py`` and review the diff.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner

from ingest.cli import cli
from models import exports, focus

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("LLMLEDGER_UPDATE_GOLDEN") == "1"
REPO = Path(__file__).resolve().parent.parent

USAGE_EVENTS_DDL = """
create table usage_events (
    event_id varchar, source varchar, provider varchar, request_id varchar,
    occurred_at timestamptz, developer varchar, team varchar, cost_center varchar,
    principal varchar, model varchar, model_id varchar, region varchar, pricing_scope varchar,
    input_tokens bigint, output_tokens bigint, cache_read_tokens bigint,
    cache_write_5m_tokens bigint, cache_write_1h_tokens bigint, cost_usd decimal(38, 12),
    reported_cost_usd decimal(38, 12), price_version varchar, status varchar, error_code varchar,
    counted boolean, unpriced boolean, pricing_tier varchar, project varchar,
    identity_status varchar, billable boolean)
"""
PRICE_BOOK_DDL = """
create table price_book (
    price_version varchar, provider varchar, model varchar, pricing_scope varchar,
    pricing_tier varchar, is_batch boolean, valid_from timestamptz,
    input_usd_per_mtok decimal(18, 6), output_usd_per_mtok decimal(18, 6),
    cache_write_5m_usd_per_mtok decimal(18, 6), cache_write_1h_usd_per_mtok decimal(18, 6),
    cache_read_usd_per_mtok decimal(18, 6))
"""
SONNET = "bedrock/claude-sonnet-4-5/geo/standard/2025-09-29"
SONNET_LC = "bedrock/claude-sonnet-4-5/geo/long_context/2025-09-29"
OPUS = "vertex/claude-opus-4-1/global/standard/2025-08-05"
PRICES = [
    (
        SONNET,
        "bedrock",
        "claude-sonnet-4-5",
        "geo",
        "standard",
        False,
        "2025-09-29",
        "3.3",
        "16.5",
        "4.125",
        "6.6",
        "0.33",
    ),
    (
        SONNET_LC,
        "bedrock",
        "claude-sonnet-4-5",
        "geo",
        "long_context",
        False,
        "2025-09-29",
        "6.6",
        "24.75",
        "8.25",
        "13.2",
        "0.66",
    ),
    (
        OPUS,
        "vertex",
        "claude-opus-4-1",
        "global",
        "standard",
        False,
        "2025-08-05",
        "15",
        "75",
        "18.75",
        "30",
        "1.5",
    ),
]
HYPERLINK = '=HYPERLINK("http://x","y")'
# (id, occurred_at, developer, team, cost_center, project, provider, model, region, version,
#  input, output, cache_read, cache_write_5m, cache_write_1h, counted, billable, status)
EVENTS = [
    (
        "b1",
        "2025-10-01 09:00:00",
        "alice@example.com",
        "platform",
        "CC-1",
        "atlas",
        "bedrock",
        "claude-sonnet-4-5",
        "us-east-1",
        SONNET,
        1200,
        350,
        40000,
        2000,
        0,
        True,
        True,
        "ok",
    ),
    (
        "b2",
        "2025-10-01 17:30:00",
        "alice@example.com",
        "platform",
        "CC-1",
        "atlas",
        "bedrock",
        "claude-sonnet-4-5",
        "us-east-1",
        SONNET,
        800,
        120,
        0,
        0,
        1500,
        True,
        True,
        "ok",
    ),
    (
        "b3",
        "2025-10-02 08:15:00",
        HYPERLINK,
        "@SUM(A1)",
        "-2+3",
        "-5",
        "bedrock",
        "claude-sonnet-4-5",
        "us-west-2",
        SONNET,
        2000,
        500,
        10000,
        0,
        0,
        True,
        True,
        "ok",
    ),
    (
        "b4",
        "2025-10-16 12:00:00",
        HYPERLINK,
        "@SUM(A1)",
        "-2+3",
        "-5",
        "bedrock",
        "claude-sonnet-4-5",
        "us-west-2",
        SONNET_LC,
        150000,
        4000,
        60000,
        1000,
        0,
        True,
        True,
        "ok",
    ),
    (
        "b5",
        "2025-10-16 12:05:00",
        'O\'Brien, "Pat"',
        "+1 data",
        "CC-2",
        None,
        "bedrock",
        "claude-sonnet-4-5",
        "us-east-1",
        SONNET,
        0,
        0,
        0,
        0,
        0,
        True,
        True,
        "throttled",
    ),
    (
        "b6",
        "2025-10-20 23:59:59.999",
        "zoë.ünïcode@example.com",
        "platform",
        "CC-1",
        None,
        "bedrock",
        "claude-fable-5",
        "us-east-1",
        None,
        500,
        60,
        0,
        0,
        0,
        True,
        True,
        "ok",
    ),
    (
        "b7",
        "2025-10-21 10:00:00",
        "unattributed",
        "unattributed",
        "unattributed",
        None,
        "bedrock",
        "claude-sonnet-4-5",
        "us-east-1",
        SONNET,
        100,
        10,
        0,
        0,
        0,
        False,
        True,
        "ok",
    ),  # a provider-side copy already counted from the gateway log
    (
        "v1",
        "2025-10-03 00:00:00",
        "alice@example.com",
        "platform",
        "CC-1",
        "atlas",
        "vertex",
        "claude-opus-4-1",
        "global",
        OPUS,
        3000,
        900,
        25000,
        4000,
        0,
        True,
        True,
        "ok",
    ),
    (
        "v2",
        "2025-10-03 00:00:01",
        "alice@example.com",
        "platform",
        "CC-1",
        "atlas",
        "vertex",
        "claude-opus-4-1",
        "global",
        "non_billable",
        3000,
        0,
        0,
        0,
        0,
        True,
        False,
        "ok",
    ),  # count-tokens: not a charge
    (
        "v3",
        "2025-10-31 23:59:59",
        "\tbob@example.com",
        "search",
        "CC-3",
        None,
        "vertex",
        "claude-opus-4-1",
        "global",
        OPUS,
        10,
        20,
        0,
        0,
        0,
        True,
        True,
        "ok",
    ),
    (
        "x1",
        "2025-09-30 23:59:59",
        "alice@example.com",
        "platform",
        "CC-1",
        None,
        "bedrock",
        "claude-sonnet-4-5",
        "us-east-1",
        SONNET,
        999,
        999,
        0,
        0,
        0,
        True,
        True,
        "ok",
    ),  # September: outside the month
    (
        "x2",
        "2025-11-01 00:00:00",
        "alice@example.com",
        "platform",
        "CC-1",
        None,
        "bedrock",
        "claude-sonnet-4-5",
        "us-east-1",
        SONNET,
        999,
        999,
        0,
        0,
        0,
        True,
        True,
        "ok",
    ),  # November
]
CONFIG = """
[[prices.discounts]]
provider = "bedrock"
discount_pct = 10

[[prices.discounts]]
provider = "bedrock"
model = "claude-sonnet-4-5"
discount_pct = "12.5"
valid_from = "2025-10-15"

[[export.billing_accounts]]
provider = "bedrock"
id = "111122223333"
name = "Acme AWS payer"
"""


def write_synthetic(path: Path, events: list[tuple] = EVENTS) -> None:  # type: ignore[type-arg]
    """A snapshot file with usage_events priced from price_book exactly as the marts price."""
    con = duckdb.connect(str(path))
    con.execute("set timezone = 'UTC'")
    con.execute(USAGE_EVENTS_DDL)
    con.execute(PRICE_BOOK_DDL)
    con.executemany("insert into price_book values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", PRICES)
    for e in events:
        (
            eid,
            at,
            dev,
            team,
            cc,
            project,
            provider,
            model,
            region,
            version,
            inp,
            out,
            cr,
            cw5,
            cw1,
            counted,
            billable,
            status,
        ) = e
        con.execute(
            """
            insert into usage_events
            select ?, ?, ?, ?, cast(? || '+00' as timestamptz), ?, ?, ?, ?, ?, ?, ?, 'geo',
                ?, ?, ?, ?, ?, null, null, ?, ?, null, ?, null,
                case when ? like '%long_context%' then 'long_context' else 'standard' end,
                ?, 'directory', ?
            """,
            [
                f"{provider}:{eid}",
                provider,
                provider,
                eid,
                at,
                dev,
                team,
                cc,
                f"principal-{dev}",
                model,
                f"id-{model}",
                region,
                inp,
                out,
                cr,
                cw5,
                cw1,
                version,
                status,
                counted,
                version or "",
                project,
                billable,
            ],
        )
    # cost = sum over token types of tokens x usd_per_mtok x 0.000001 (models/macros.sql cost_of)
    con.execute("create macro cost(tokens, usd) as cast(tokens as decimal(38, 0)) * usd * 0.000001")
    con.execute(
        """
        update usage_events u set cost_usd = case
            when not u.billable then 0
            else (select cast(cost(u.input_tokens, p.input_usd_per_mtok)
                    + cost(u.output_tokens, p.output_usd_per_mtok)
                    + cost(u.cache_read_tokens, p.cache_read_usd_per_mtok)
                    + cost(u.cache_write_5m_tokens, p.cache_write_5m_usd_per_mtok)
                    + cost(u.cache_write_1h_tokens, p.cache_write_1h_usd_per_mtok)
                    as decimal(38, 12))
                  from price_book p where p.price_version = u.price_version) end
        """
    )
    con.execute("update usage_events set unpriced = billable and cost_usd is null")
    con.close()


@pytest.fixture
def synthetic(tmp_path: Path) -> dict[str, Path]:
    db = tmp_path / "ledger.duckdb"
    write_synthetic(tmp_path / "ledger.snapshot.duckdb")
    config = tmp_path / "llmledger.toml"
    config.write_text(CONFIG, encoding="utf-8")
    return {"db": db, "config": config, "dir": tmp_path}


def invoke(paths: dict[str, Path], *args: str) -> tuple[int, bytes, str]:
    result = CliRunner().invoke(
        cli, ["--db", str(paths["db"]), "--config", str(paths["config"]), *args]
    )
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout_bytes, result.stderr


def export_file(paths: dict[str, Path], name: str, *args: str) -> bytes:
    out = paths["dir"] / name
    code, _, err = invoke(paths, "export", *args, "--out", str(out))
    assert code == 0, err
    return out.read_bytes()


def check_golden(name: str, data: bytes) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
    assert path.is_file(), f"golden file {path} missing; run with LLMLEDGER_UPDATE_GOLDEN=1"
    assert data == path.read_bytes(), f"{name} differs from its golden file"


def parse(data: bytes) -> tuple[list[str], list[dict[str, str]]]:
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    return rows[0], [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


def dec(value: str) -> Decimal:
    return Decimal(value) if value else Decimal(0)


def counted_cost(con: duckdb.DuckDBPyConnection, start: str, end: str) -> Decimal:
    (total,) = con.execute(
        "select coalesce(sum(cost_usd), 0) from usage_events where counted "
        "and occurred_at >= cast(? as timestamptz) and occurred_at < cast(? as timestamptz)",
        [start, end],
    ).fetchall()[0]
    return Decimal(total)


# --------------------------------------------------------------------------------------------
# golden files (synthetic)


def test_billing_simple_golden(synthetic: dict[str, Path]) -> None:
    data = export_file(synthetic, "simple.csv", "billing", "--month", "2025-10")
    check_golden("billing_simple_synthetic.csv", data)


def test_billing_focus_golden(synthetic: dict[str, Path]) -> None:
    data = export_file(synthetic, "focus.csv", "billing", "--month", "2025-10", "--format", "focus")
    check_golden("billing_focus_synthetic.csv", data)


def test_usage_golden_on_stdout(synthetic: dict[str, Path]) -> None:
    code, out, err = invoke(
        synthetic, "export", "usage", "--since", "2025-10-01", "--until", "2025-11-01", "--out", "-"
    )
    assert code == 0, err
    check_golden("usage_synthetic.csv", out)
    _, rows = parse(out)
    assert [r["event_id"] for r in rows] == [
        "bedrock:b1",
        "bedrock:b2",
        "bedrock:b3",
        "vertex:v1",
        "vertex:v2",
        "bedrock:b4",
        "bedrock:b5",
        "bedrock:b6",
        "bedrock:b7",
        "vertex:v3",
    ]  # by time; September's and November's requests are outside [since, until)
    assert "usage: 10 rows to stdout" in err


def test_same_data_same_bytes_whatever_the_insert_order(
    tmp_path: Path, synthetic: dict[str, Path]
) -> None:
    reordered = {
        "db": tmp_path / "r" / "ledger.duckdb",
        "config": synthetic["config"],
        "dir": tmp_path / "r",
    }
    reordered["dir"].mkdir()
    write_synthetic(reordered["dir"] / "ledger.snapshot.duckdb", list(reversed(EVENTS)))
    for fmt in ("simple", "focus"):
        args = ("billing", "--month", "2025-10", "--format", fmt)
        assert export_file(synthetic, f"{fmt}.csv", *args) == export_file(
            reordered, f"{fmt}.csv", *args
        )


# --------------------------------------------------------------------------------------------
# CSV shape and safety


def test_csv_is_rfc4180_utf8_crlf(synthetic: dict[str, Path]) -> None:
    data = export_file(synthetic, "simple.csv", "billing", "--month", "2025-10")
    assert not data.startswith(b"\xef\xbb\xbf")  # no byte-order mark
    text = data.decode("utf-8")
    assert text.endswith("\r\n")
    assert "\n" not in text.replace("\r\n", "")
    assert '"O\'Brien, ""Pat"""' in text  # comma and quotes: quoted, quotes doubled
    assert "zoë.ünïcode@example.com" in text
    header, rows = parse(data)
    assert "total" not in " ".join(r["developer"] for r in rows).lower()  # no totals row


def test_formula_injection_is_neutralised(synthetic: dict[str, Path]) -> None:
    simple = parse(export_file(synthetic, "s.csv", "billing", "--month", "2025-10"))[1]
    focus_rows = parse(
        export_file(synthetic, "f.csv", "billing", "--month", "2025-10", "--format", "focus")
    )[1]
    usage = parse(export_file(synthetic, "u.csv", "usage"))[1]
    row = next(r for r in simple if "HYPERLINK" in r["developer"])
    assert row["developer"] == "'" + HYPERLINK
    assert row["team"] == "'@SUM(A1)"
    assert row["cost_center"] == "'-2+3"
    assert any(r["team"] == "'+1 data" for r in simple)
    assert any(r["developer"] == "'\tbob@example.com" for r in simple)
    frow = next(r for r in focus_rows if "HYPERLINK" in r["x_Developer"])
    assert (frow["x_Developer"], frow["x_Team"], frow["x_CostCenter"], frow["x_Project"]) == (
        "'" + HYPERLINK,
        "'@SUM(A1)",
        "'-2+3",
        "-5",  # -5 is a number: left alone
    )
    assert frow["Tags"].startswith("{")  # JSON keeps the raw values; the cell starts with {
    assert any(r["developer"] == "'\tbob@example.com" for r in usage)
    for rows in (simple, focus_rows, usage):
        for r in rows:
            for value in r.values():
                if value[:1] in ("=", "+", "-", "@", "\t", "\r"):
                    float(value)  # only numbers may start like a formula


def test_totals_equal_usage_events_to_the_cent(synthetic: dict[str, Path]) -> None:
    con = duckdb.connect(str(synthetic["dir"] / "ledger.snapshot.duckdb"), read_only=True)
    expected = counted_cost(con, "2025-10-01 00:00:00+00", "2025-11-01 00:00:00+00")
    con.close()
    # per request, tokens x USD/MTok: b1 31185, b2 14520, b3 18150, b4 (long context) 1136850,
    # v1 225000, v3 1650 (x 0.000001); b5 has no tokens, b6 is unpriced, v2 is not billable,
    # b7 is not counted
    assert expected == Decimal("1.427355000000")
    simple = parse(export_file(synthetic, "s.csv", "billing", "--month", "2025-10"))[1]
    focus_rows = parse(
        export_file(synthetic, "f.csv", "billing", "--month", "2025-10", "--format", "focus")
    )[1]
    usage = parse(
        export_file(synthetic, "u.csv", "usage", "--since", "2025-10-01", "--until", "2025-11-01")
    )[1]
    assert sum(dec(r["list_cost_usd"]) for r in simple) == expected
    assert sum(dec(r["ListCost"]) for r in focus_rows) == expected
    assert sum(dec(r["cost_usd"]) for r in usage if r["counted"] == "true") == expected
    contracted = sum(dec(r["contracted_cost_usd"]) for r in simple)
    assert contracted == sum(dec(r["ContractedCost"]) for r in focus_rows)
    assert contracted == sum(dec(r["BilledCost"]) for r in focus_rows)
    assert contracted == sum(dec(r["contracted_cost_usd"]) for r in usage if r["counted"] == "true")


def test_cents_to_book_add_up_to_the_rounded_total(synthetic: dict[str, Path]) -> None:
    """Finance books cents: each row's charge is its exact cost rounded so that the rows add up
    to the month's exact total rounded to the cent, and the remainder is shown beside it."""
    _, simple = parse(export_file(synthetic, "s.csv", "billing", "--month", "2025-10"))
    priced = [r for r in simple if r["contracted_cost_usd"]]
    exact = sum(dec(r["contracted_cost_usd"]) for r in priced)
    assert exact == Decimal("1.27886325")  # list 1.427355 after the configured discounts
    assert sum(dec(r["charge_usd"]) for r in priced) == Decimal("1.28")
    assert all(len(r["charge_usd"].split(".")[1]) == 2 for r in priced)
    for r in priced:
        assert dec(r["charge_usd"]) - dec(r["contracted_cost_usd"]) == dec(r["rounding_usd"])
        assert abs(dec(r["rounding_usd"])) < Decimal("0.01")
    unpriced = [r for r in simple if not r["contracted_cost_usd"]]
    assert unpriced and all(r["charge_usd"] == r["rounding_usd"] == "" for r in unpriced)
    assert {(r["period_start"], r["period_end"]) for r in simple} == {("2025-10-01", "2025-10-31")}


def test_focus_request_counts_sum_to_the_requests(synthetic: dict[str, Path]) -> None:
    """x_Requests sits on one row per request group (0 on its other token-type rows), so it
    sums to the requests; x_TokenTypeRequests keeps how many requests had each token type."""
    _, simple = parse(export_file(synthetic, "s.csv", "billing", "--month", "2025-10"))
    _, rows = parse(
        export_file(synthetic, "f.csv", "billing", "--month", "2025-10", "--format", "focus")
    )
    # FOCUS leaves unpriced requests out; b5, which used no tokens, is on a zero input row
    priced_requests = sum(int(r["requests"]) - int(r["unpriced_requests"]) for r in simple)
    assert sum(int(r["x_Requests"]) for r in rows) == priced_requests
    assert sum(int(r["x_TokenTypeRequests"]) for r in rows) > priced_requests


def test_discounts_per_provider_and_model_from_a_date(synthetic: dict[str, Path]) -> None:
    usage = {r["event_id"]: r for r in parse(export_file(synthetic, "u.csv", "usage"))[1]}
    # b1 (Oct 1): only the provider-wide 10% applies; b4 (Oct 16): the model's 12.5% wins.
    b1 = (
        Decimal("1200") * Decimal("3.3")
        + 350 * Decimal("16.5")
        + 40000 * Decimal("0.33")
        + 2000 * Decimal("4.125")
    )
    assert dec(usage["bedrock:b1"]["cost_usd"]) == b1 / 1_000_000
    assert dec(usage["bedrock:b1"]["contracted_cost_usd"]) == b1 / 1_000_000 * Decimal("0.9")
    b4 = (
        150000 * Decimal("6.6")
        + 4000 * Decimal("24.75")
        + 60000 * Decimal("0.66")
        + 1000 * Decimal("8.25")
    )
    assert dec(usage["bedrock:b4"]["cost_usd"]) == b4 / 1_000_000
    assert dec(usage["bedrock:b4"]["contracted_cost_usd"]) == b4 / 1_000_000 * Decimal("0.875")
    # Vertex has no discount: contracted = list.
    assert usage["vertex:v1"]["contracted_cost_usd"] == usage["vertex:v1"]["cost_usd"]
    focus_rows = parse(
        export_file(synthetic, "f.csv", "billing", "--month", "2025-10", "--format", "focus")
    )[1]
    lc = next(r for r in focus_rows if r["SkuPriceId"] == SONNET_LC + ":input")
    assert (lc["ListUnitPrice"], lc["ContractedUnitPrice"], lc["x_DiscountPct"]) == (
        "6.6",
        "5.775",
        "12.5",
    )
    assert (lc["PricingQuantity"], lc["ConsumedQuantity"], lc["ListCost"]) == (
        "0.15",
        "150000",
        "0.99",
    )


def test_unpriced_uncounted_and_non_billable(synthetic: dict[str, Path]) -> None:
    simple = parse(export_file(synthetic, "s.csv", "billing", "--month", "2025-10"))[1]
    fable = next(r for r in simple if r["model"] == "claude-fable-5")
    assert (fable["list_cost_usd"], fable["contracted_cost_usd"], fable["unpriced_requests"]) == (
        "",
        "",
        "1",
    )  # never a silent $0
    # the uncounted copy (b7) and the count-tokens call (v2) are not charges
    assert sum(int(r["requests"]) for r in simple) == 8
    focus_rows = parse(
        export_file(synthetic, "f.csv", "billing", "--month", "2025-10", "--format", "focus")
    )[1]
    # FOCUS costs cannot be empty and an unpriced request is never $0: it is left out
    assert [r for r in focus_rows if r["x_Model"] == "claude-fable-5"] == []
    assert {r["x_CostSource"] for r in focus_rows} == {"estimated"}
    _, _, err = invoke(
        synthetic,
        "export",
        "billing",
        "--month",
        "2025-10",
        "--out",
        str(synthetic["dir"] / "x.csv"),
    )
    assert "warning: 1 request(s) have no price (claude-fable-5)" in err


def test_price_versions_are_recorded(synthetic: dict[str, Path]) -> None:
    simple = parse(export_file(synthetic, "s.csv", "billing", "--month", "2025-10"))[1]
    row = next(r for r in simple if "HYPERLINK" in r["developer"])
    assert row["price_versions"] == f"{SONNET_LC};{SONNET}"
    focus_rows = parse(
        export_file(synthetic, "f.csv", "billing", "--month", "2025-10", "--format", "focus")
    )[1]
    assert {r["x_PriceBookVersion"] for r in focus_rows} == {SONNET, SONNET_LC, OPUS}


# --------------------------------------------------------------------------------------------
# FOCUS conformance


def test_focus_export_conforms_to_focus_1_2(synthetic: dict[str, Path]) -> None:
    data = export_file(synthetic, "f.csv", "billing", "--month", "2025-10", "--format", "focus")
    header, rows = focus.read_rows(synthetic["dir"] / "f.csv")
    assert focus.validate(header, rows) == []
    assert set(focus.MANDATORY) <= set(header)
    assert len(focus.MANDATORY) == 21
    assert all(c.startswith("x_") for c in header[len(focus.FOCUS_EXPORT_COLUMNS) :])
    first = rows[0]
    assert (first["BillingAccountId"], first["BillingAccountName"]) == (
        "111122223333",
        "Acme AWS payer",
    )
    assert (first["ServiceName"], first["ProviderName"], first["PublisherName"]) == (
        "Amazon Bedrock",
        "AWS",
        "Anthropic",
    )
    assert first["SkuId"] == "claude-sonnet-4-5:input"
    assert (first["ChargePeriodStart"], first["ChargePeriodEnd"]) == (
        "2025-10-01T00:00:00Z",
        "2025-10-02T00:00:00Z",
    )
    vertex = next(r for r in rows if r["x_Source"] == "vertex")
    # no [[export.billing_accounts]] entry for Vertex: the provider names the account
    assert (vertex["BillingAccountId"], vertex["BillingAccountName"]) == ("vertex", "vertex")
    assert vertex["ServiceName"] == "Vertex AI"
    assert len(data) > 0


def test_focus_validator_finds_each_kind_of_problem(synthetic: dict[str, Path]) -> None:
    export_file(synthetic, "f.csv", "billing", "--month", "2025-10", "--format", "focus")
    header, rows = focus.read_rows(synthetic["dir"] / "f.csv")
    bad = dict(rows[0])
    bad.update(
        ChargeCategory="Usages",
        BilledCost=None,
        ChargePeriodStart="2025-10-01 00:00:00",
        ListCost="1,000",
        Tags='{"a": [1]}',
        ServiceSubcategory="Bots and more",
        ContractedCost="999",
    )
    problems = focus.validate(header + ["Extra"], [bad])
    assert problems == [
        "column Extra is neither a FOCUS 1.2 column nor x_-prefixed",
        "row 1: ChargePeriodStart = '2025-10-01 00:00:00' is not YYYY-MM-DDTHH:mm:ssZ",
        "row 1: ChargeCategory = 'Usages' is not an allowed value",
        "row 1: ServiceSubcategory = 'Bots and more' is not an allowed value",
        "row 1: ListCost = '1,000' is not in NumericFormat",
        "row 1: BilledCost is null",
        "row 1: Tags.a is an object or array",
        "row 1: ContractedUnitPrice x PricingQuantity = 0.00594 but ContractedCost = 999",
        "row 1: the charge period lies outside the billing period",
        "row 1: ServiceSubcategory 'Bots and more' is not under ServiceCategory "
        "'AI and Machine Learning'",
    ]
    missing = focus.validate([c for c in header if c != "BilledCost"], rows[:1])
    assert missing == ["missing Mandatory column BilledCost"]


# --------------------------------------------------------------------------------------------
# errors and streaming


def test_bad_month_and_missing_snapshot(synthetic: dict[str, Path], tmp_path: Path) -> None:
    code, _, err = invoke(synthetic, "export", "billing", "--month", "2025-13")
    assert code == 2
    assert "Invalid value for '--month': '2025-13': the month must be 01 to 12" in err
    code, _, err = invoke(synthetic, "export", "billing", "--month", "October")
    assert code == 2
    assert "'October' is not YYYY-MM (e.g. 2025-06)" in err
    nowhere = {"db": tmp_path / "none.duckdb", "config": synthetic["config"], "dir": tmp_path}
    code, _, err = invoke(nowhere, "export", "billing", "--month", "2025-10")
    assert code == 2
    assert err.strip() == (
        f"error: no published snapshot at {tmp_path / 'none.snapshot.duckdb'}; run `llmledger "
        "ingest` (or `llmledger run --once`) first, or pass the --db the ingest used"
    )


def test_bad_discount_is_a_config_error(synthetic: dict[str, Path]) -> None:
    synthetic["config"].write_text(
        '[[prices.discounts]]\nprovider = "bedrock"\ndiscount_pct = 120\n', encoding="utf-8"
    )
    code, _, err = invoke(synthetic, "export", "billing", "--month", "2025-10")
    assert code == 2
    assert err.strip().endswith("prices.discounts[0].discount_pct = 120 must be 0 to 100")


def test_inconsistent_price_book_stops_the_focus_export(synthetic: dict[str, Path]) -> None:
    snap = synthetic["dir"] / "ledger.snapshot.duckdb"
    con = duckdb.connect(str(snap))
    con.execute("update price_book set output_usd_per_mtok = 17 where price_version = ?", [SONNET])
    con.close()
    out = synthetic["dir"] / "focus.csv"
    code, _, err = invoke(
        synthetic, "export", "billing", "--month", "2025-10", "--format", "focus", "--out", str(out)
    )
    assert code == 1
    assert "the price book and usage_events disagree" in err
    assert not out.exists()  # nothing half-written
    assert list(synthetic["dir"].glob(".focus.csv.*")) == []


def test_usage_export_streams_in_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    snap = tmp_path / "big.snapshot.duckdb"
    write_synthetic(snap, [])
    con = duckdb.connect(str(snap))
    con.execute(
        f"""insert into usage_events select 'bedrock:' || i, 'bedrock', 'bedrock', 'r' || i,
            timestamptz '2025-10-01 00:00:00+00' + i * interval 1 second, 'dev' || (i % 7),
            'team', 'cc', 'p', 'claude-sonnet-4-5', 'm', 'us-east-1', 'geo', 10, 1, 0, 0, 0,
            0.000049500000, null, '{SONNET}', 'ok', null, true, false, 'standard', null,
            'directory', true from range(25000) t(i)"""
    )
    con.close()
    monkeypatch.setattr(exports, "BATCH_ROWS", 1000)

    class Recorder(io.BytesIO):
        """Counts the lines of each write: one write per Arrow batch, never the whole result."""

        def __init__(self) -> None:
            super().__init__()
            self.sizes: list[int] = []

        def write(self, data):  # type: ignore[no-untyped-def,override]
            self.sizes.append(bytes(data).count(b"\r\n"))
            return super().write(data)

    out = Recorder()
    con = duckdb.connect(str(snap), read_only=True)
    summary = exports.usage_detail(con, None, None, out)
    con.close()
    sizes = out.sizes[1:]  # after the header
    assert summary.rows == 25000
    assert max(sizes) <= 1000 and len(sizes) >= 25
    assert summary.list_cost_usd == Decimal("1.2375")
    assert out.getvalue().count(b"\r\n") == 25001


# --------------------------------------------------------------------------------------------
# the sample data through the real pipeline


@pytest.fixture(scope="module")
def sample(sample_ledger: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The session's sample database; exports are written to a directory of this module's."""
    directory = tmp_path_factory.mktemp("sample-exports")
    config = directory / "empty.toml"
    config.write_text("", encoding="utf-8")
    return {
        "db": sample_ledger.db,
        "snapshot": sample_ledger.snapshot,
        "config": config,
        "dir": directory,
    }


def test_sample_billing_simple_golden_and_totals(sample: dict[str, Path]) -> None:
    data = export_file(sample, "simple-2026-11.csv", "billing", "--month", "2026-11")
    check_golden("billing_simple_sample_2026-11.csv", data)
    con = duckdb.connect(str(sample["snapshot"]), read_only=True)
    expected = counted_cost(con, "2026-11-01 00:00:00+00", "2026-12-01 00:00:00+00")
    (requests,) = con.execute(
        "select count(*) from usage_events where counted and billable "
        "and occurred_at >= timestamptz '2026-11-01 00:00:00+00'"
    ).fetchall()[0]
    con.close()
    _, rows = parse(data)
    assert sum(dec(r["list_cost_usd"]) for r in rows) == expected
    assert sum(int(r["requests"]) for r in rows) == requests
    assert expected.quantize(Decimal("0.01")) == sum(
        dec(r["list_cost_usd"]) for r in rows
    ).quantize(Decimal("0.01"))
    contracted = sum(dec(r["contracted_cost_usd"]) for r in rows if r["contracted_cost_usd"])
    booked = sum(dec(r["charge_usd"]) for r in rows if r["charge_usd"])
    assert booked == contracted.quantize(Decimal("0.01"))


def test_sample_focus_conforms_and_adds_up(sample: dict[str, Path]) -> None:
    data = export_file(
        sample, "focus-2026-10.csv", "billing", "--month", "2026-10", "--format", "focus"
    )
    header, rows = focus.read_rows(sample["dir"] / "focus-2026-10.csv")
    assert focus.validate(header, rows) == []
    con = duckdb.connect(str(sample["snapshot"]), read_only=True)
    expected = counted_cost(con, "2026-10-01 00:00:00+00", "2026-11-01 00:00:00+00")
    con.close()
    assert sum(dec(r["ListCost"]) for r in rows) == expected
    con = duckdb.connect(str(sample["snapshot"]), read_only=True)
    ((requests,),) = con.execute(
        "select count(*) from usage_events where counted and billable and cost_usd is not null "
        "and occurred_at >= timestamptz '2026-10-01 00:00:00+00' "
        "and occurred_at < timestamptz '2026-11-01 00:00:00+00'"
    ).fetchall()
    con.close()
    assert sum(int(r["x_Requests"]) for r in rows) == requests
    # byte for byte, as a digest: the file is several MB
    check_golden(
        "billing_focus_sample_2026-10.sha256", (hashlib.sha256(data).hexdigest() + "\n").encode()
    )


def test_sample_usage_export_adds_up(sample: dict[str, Path]) -> None:
    code, out, err = invoke(
        sample, "export", "usage", "--since", "2026-11-10", "--until", "2026-11-12", "--out", "-"
    )
    assert code == 0, err
    _, rows = parse(out)
    con = duckdb.connect(str(sample["snapshot"]), read_only=True)
    expected = counted_cost(con, "2026-11-10 00:00:00+00", "2026-11-12 00:00:00+00")
    (n,) = con.execute(
        "select count(*) from usage_events where occurred_at >= timestamptz "
        "'2026-11-10 00:00:00+00' and occurred_at < timestamptz '2026-11-12 00:00:00+00'"
    ).fetchall()[0]
    con.close()
    assert len(rows) == n > 0
    assert sum(dec(r["cost_usd"]) for r in rows if r["counted"] == "true") == expected


def test_usage_windows_do_not_change_the_bytes(
    synthetic: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    con = duckdb.connect(str(synthetic["dir"] / "ledger.snapshot.duckdb"), read_only=True)
    whole = io.BytesIO()
    exports.usage_detail(con, None, None, whole)
    monkeypatch.setattr(exports, "WINDOW_ROWS", 2)
    windows = exports.usage_windows(
        con, datetime(1970, 1, 1, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC)
    )
    windowed = io.BytesIO()
    exports.usage_detail(con, None, None, windowed)
    con.close()
    # requests per day: 09-30 1, 10-01 2, 10-02 1, 10-03 2, 10-16 2, 10-20 1, 10-21 1, 10-31 1,
    # 11-01 1; a window closes before the day that would take it past 2 requests
    assert [(str(a), str(b)) for a, b in windows] == [
        ("2025-09-30", "2025-10-01"),
        ("2025-10-01", "2025-10-02"),
        ("2025-10-02", "2025-10-03"),
        ("2025-10-03", "2025-10-16"),
        ("2025-10-16", "2025-10-20"),
        ("2025-10-20", "2025-10-31"),
        ("2025-10-31", "2025-11-02"),
    ]
    assert windowed.getvalue() == whole.getvalue()


# --------------------------------------------------------------------------------------------
# --as-billed: each provider's estimate scaled to its invoice

ESTIMATE_BEDROCK = Decimal("1.05221325")  # contracted, after the discounts
UNSCALED_WARNING = (
    "warning: unpriced requests cannot be scaled to the bill (bedrock/claude-fable-5): their "
    "cost stays empty and the invoice is spread over the priced rows"
)

BILL_LINES_DDL = """
create table bill_lines (
    provider varchar, usage_day date, line_kind varchar, token_kind varchar,
    billed_cost_usd decimal(38, 12), discount_usd decimal(38, 12), credit_usd decimal(38, 12)
)
"""


def load_bill(paths: dict[str, Path], lines: list[tuple[Any, ...]]) -> None:
    con = duckdb.connect(str(paths["dir"] / "ledger.snapshot.duckdb"))
    try:
        con.execute(BILL_LINES_DDL)
        con.executemany("insert into bill_lines values (?, ?, ?, ?, ?, ?, ?)", lines)
    finally:
        con.close()


# Bedrock's October bill: usage 1.234567 less a 0.1 discount = 1.134567 invoiced. The credit,
# the non-token line and September's line are not part of it.
BEDROCK_BILL = [
    ("bedrock", "2025-10-02", "usage", "input", "1.000000", "0", "0"),
    ("bedrock", "2025-10-20", "usage", "output", "0.234567", "0", "0"),
    ("bedrock", "2025-10-20", "discount", "output", "0", "-0.1", "0"),
    ("bedrock", "2025-10-21", "credit", "input", "0", "0", "-0.5"),
    ("bedrock", "2025-10-21", "usage", "other", "9.99", "0", "0"),
    ("bedrock", "2025-09-30", "usage", "input", "7", "0", "0"),
]


def test_billing_as_billed_adds_up_to_the_invoice(synthetic: dict[str, Path]) -> None:
    load_bill(synthetic, BEDROCK_BILL)
    out = synthetic["dir"] / "billed.csv"
    code, _, err = invoke(
        synthetic, "export", "billing", "--month", "2025-10", "--as-billed", "--out", str(out)
    )
    assert code == 0, err
    header, rows = parse(out.read_bytes())
    assert header == list(exports.BILLED_SIMPLE_COLUMNS)
    assert header[header.index("rounding_usd") + 1 : header.index("unpriced_requests")] == [
        "billed_cost_usd",
        "billed_charge_usd",
    ]
    bedrock = [r for r in rows if r["provider"] == "bedrock" and r["contracted_cost_usd"]]
    estimate = sum(dec(r["contracted_cost_usd"]) for r in bedrock)
    assert estimate == ESTIMATE_BEDROCK
    assert f"bedrock estimate {ESTIMATE_BEDROCK} USD scaled to its invoice 1.134567 USD" in err
    # the scaled rows add up to the invoice exactly, each within a unit of its exact share
    assert sum(dec(r["billed_cost_usd"]) for r in bedrock) == Decimal("1.134567")
    for r in bedrock:
        share = dec(r["contracted_cost_usd"]) * Decimal("1.134567") / estimate
        assert abs(dec(r["billed_cost_usd"]) - share) < Decimal("1e-12")
        assert -dec(r["billed_cost_usd"]).as_tuple().exponent <= 12  # type: ignore[operator]
    # cents add up to the invoice rounded to the cent
    assert sum(dec(r["billed_charge_usd"]) for r in bedrock) == Decimal("1.13")
    assert all(len(r["billed_charge_usd"].split(".")[1]) == 2 for r in bedrock)
    # vertex has no bill: unchanged, and named
    vertex = [r for r in rows if r["provider"] == "vertex" and r["contracted_cost_usd"]]
    assert vertex
    for r in vertex:
        assert dec(r["billed_cost_usd"]) == dec(r["contracted_cost_usd"])
    vertex_total = sum(dec(r["contracted_cost_usd"]) for r in vertex)
    assert sum(dec(r["billed_charge_usd"]) for r in vertex) == round(vertex_total, 2)
    assert "warning: no bill loaded for the month for vertex" in err
    # unpriced rows cannot be scaled: empty cells, and named
    unpriced = [r for r in rows if not r["contracted_cost_usd"]]
    assert unpriced and all(r["billed_cost_usd"] == r["billed_charge_usd"] == "" for r in unpriced)
    assert UNSCALED_WARNING in err
    # the default export is unchanged by a loaded bill (its golden file still matches)
    check_golden(
        "billing_simple_synthetic.csv",
        export_file(synthetic, "s.csv", "billing", "--month", "2025-10"),
    )


def test_billing_as_billed_focus(synthetic: dict[str, Path]) -> None:
    load_bill(synthetic, BEDROCK_BILL)
    export_file(
        synthetic, "f.csv", "billing", "--month", "2025-10", "--format", "focus", "--as-billed"
    )
    header, rows = focus.read_rows(synthetic["dir"] / "f.csv")
    assert focus.validate(header, rows) == []
    bedrock = [r for r in rows if r["ProviderName"] == "AWS"]
    assert {r["x_CostSource"] for r in bedrock} == {"billed"}
    assert sum(dec(r["BilledCost"]) for r in bedrock) == Decimal("1.134567")
    assert all(r["EffectiveCost"] == r["BilledCost"] for r in rows)
    assert sum(dec(r["ContractedCost"]) for r in bedrock) == ESTIMATE_BEDROCK
    vertex = [r for r in rows if r["ProviderName"] == "Google Cloud"]
    assert vertex and {r["x_CostSource"] for r in vertex} == {"estimated"}
    assert all(r["BilledCost"] == r["ContractedCost"] for r in vertex)


def test_billing_as_billed_without_any_bill(synthetic: dict[str, Path]) -> None:
    """No bill_lines table (an older snapshot) or no bill for the month: every provider keeps
    its estimate and is named."""
    _, rows = parse(export_file(synthetic, "b.csv", "billing", "--month", "2025-10", "--as-billed"))
    priced = [r for r in rows if r["contracted_cost_usd"]]
    assert all(r["billed_cost_usd"] == r["contracted_cost_usd"] for r in priced)
    code, _, err = invoke(synthetic, "export", "billing", "--month", "2025-10", "--as-billed")
    assert code == 0
    assert "warning: no bill loaded for the month for bedrock, vertex" in err


def test_billing_as_billed_nothing_to_scale(synthetic: dict[str, Path]) -> None:
    load_bill(synthetic, [("anthropic", "2025-10-03", "usage", "input", "2.5", "0", "0")])
    out = synthetic["dir"] / "x.csv"
    code, _, err = invoke(
        synthetic, "export", "billing", "--month", "2025-10", "--as-billed", "--out", str(out)
    )
    assert code == 1
    assert err.strip().splitlines()[-1] == (
        "error: --as-billed: anthropic billed 2.5 USD for 2025-10 but our estimate is 0 "
        "(no priced requests logged): nothing to scale; see `llmledger report --bill`"
    )
    assert not out.exists()


def test_as_billed_scaling_is_exact_with_ties_in_row_order() -> None:
    """Three equal rows sharing a 1 USD invoice: 0.333333333333 each, and the one unit left
    over goes to the first row in row order; a provider without a scale keeps its cost."""
    from models import as_billed

    con = duckdb.connect()
    as_billed.register(con)
    as_billed.register(con)  # once per connection, however often asked
    scale = as_billed.Scale("p", Decimal(1), Decimal("0.3"))
    rows = con.execute(
        f"""
        with {as_billed.scales_cte([scale])},
        costs as (
            select * from (values ('p', 'a', 0.1::decimal(38, 18)), ('p', 'c', 0.1),
                ('p', 'b', 0.1), ('q', 'a', 0.123456789012345678)) v(provider, k, cost)
        ),
        {as_billed.scaled_sql("costs", "cost", "k")}
        select provider, k, billed_cost_usd, scaled_flag from scaled order by provider, k
        """
    ).fetchall()
    assert rows == [
        ("p", "a", Decimal("0.333333333334"), True),
        ("p", "b", Decimal("0.333333333333"), True),
        ("p", "c", Decimal("0.333333333333"), True),
        ("q", "a", Decimal("0.123456789012345678"), False),
    ]


def test_sample_focus_day_grain_adds_up_to_the_detail(sample: dict[str, Path]) -> None:
    """--grain day: one row per day x developer x model x token type (x unit price); the same
    money to the last decimal, the same requests, each provider's cents its rounded total."""
    month = ("billing", "--month", "2026-10", "--format", "focus")
    detail = parse(export_file(sample, "focus-detail.csv", *month))[1]
    export_file(sample, "focus-day.csv", *month, "--grain", "day")
    header, rows = focus.read_rows(sample["dir"] / "focus-day.csv")
    assert focus.validate(header, rows) == []
    assert header[-2:] == ["x_ChargeUSD", "x_RoundingUSD"]
    for column in ("ListCost", "ContractedCost", "EffectiveCost", "BilledCost"):
        assert sum(dec(r[column] or "") for r in rows) == sum(dec(r[column]) for r in detail)
    typed = " union all ".join(
        f"select *, '{t}' as token_type from usage_events where {t}_tokens > 0"
        for t in ("input", "output", "cache_read", "cache_write_5m", "cache_write_1h")
    )
    window = (
        "counted and billable and cost_usd is not null "
        "and occurred_at >= timestamptz '2026-10-01 00:00:00+00' "
        "and occurred_at < timestamptz '2026-11-01 00:00:00+00'"
    )
    day = "cast(timezone('UTC', occurred_at) as date)"
    con = duckdb.connect(str(sample["snapshot"]), read_only=True)
    ((requests,),) = con.execute(f"select count(*) from usage_events where {window}").fetchall()
    ((day_developer_model,),) = con.execute(
        f"select count(*) from (select distinct {day}, developer, model from usage_events "
        f"where {window})"
    ).fetchall()
    keys = "developer, team, cost_center, provider, model, region, pricing_scope, pricing_tier"
    tokens = "+".join(f"{t}_tokens" for t in ("input", "output", "cache_read", "cache_write_5m"))
    ((splits,),) = con.execute(
        f"select count(*) from (select distinct {day}, {keys}, price_version, token_type "
        f"from ({typed}) where {window} union "
        # a group whose requests used no tokens at all still gets its (zero) input row
        f"select {day}, {keys}, price_version, 'input' from usage_events where {window} "
        f"group by all having sum({tokens} + cache_write_1h_tokens) = 0)"
    ).fetchall()
    con.close()
    assert sum(int(r["x_Requests"] or 0) for r in rows) == requests
    assert sum(int(r["x_Requests"]) for r in detail) == requests
    assert len(rows) == splits < len(detail)
    shown = {(r["ChargePeriodStart"], r["x_Developer"], r["x_Model"]) for r in rows}
    assert len(shown) == day_developer_model
    by_provider: dict[str, list[dict[str, str | None]]] = {}
    for r in rows:
        by_provider.setdefault(str(r["ProviderName"]), []).append(r)
    for provider_rows in by_provider.values():
        effective = sum(dec(r["EffectiveCost"] or "") for r in provider_rows)
        booked = sum(dec(r["x_ChargeUSD"] or "") for r in provider_rows)
        assert booked == effective.quantize(Decimal("0.01"))
        for r in provider_rows:
            rounding = dec(r["x_ChargeUSD"] or "") - dec(r["EffectiveCost"] or "")
            assert dec(r["x_RoundingUSD"] or "") == rounding


def test_grain_is_for_focus_only(synthetic: dict[str, Path]) -> None:
    code, _, err = invoke(synthetic, "export", "billing", "--month", "2026-11", "--grain", "day")
    assert code == 2
    assert err == "error: --grain day applies to --format focus; drop it or add that\n"
