"""The providers' bills: AWS CUR 2.0 (files and S3 through moto's server) and the GCP billing
export (CSV, JSON lines, Parquet), the bill_lines mart, the bill_check mart, `report --bill`
and doctor. Fixtures are built from the documented columns and usage-type / SKU strings
(tests/bills_fixtures.py); every number is exact."""

# ruff: noqa: F811, E501 - moto fixtures are redefined as arguments; expected rows are one per line

from __future__ import annotations

import csv
import io
import json
import os
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from bills_fixtures import (
    BUCKET,
    DEV_ARN,
    EXPORT,
    PERIOD,
    PROJECT,
    csv_gz_bytes,
    cur_line,
    deliver,
    focus_line,
    focus_parquet_bytes,
    gcp_csv_gz_bytes,
    gcp_jsonl_bytes,
    gcp_parquet_bytes,
    gcp_row,
    gcp_rows,
    parquet_bytes,
    scenario_lines,
    upload,
    write_logs,
)
from click.testing import CliRunner
from moto_server import ACCOUNT, OTHER_ACCOUNT, aws, gz, moto_endpoint, record  # noqa: F401

from ingest.cli import cli
from models import focus

D = Decimal
DATA = f"{EXPORT}/data/BILLING_PERIOD={PERIOD}"


def _cli(db: Path, *args: str, code: int = 0) -> Any:
    result = CliRunner().invoke(cli, ["--db", str(db), *args], catch_exceptions=False)
    assert result.exit_code == code, result.output + result.stderr
    return result


def _query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(db.with_name(db.stem + ".snapshot.duckdb")), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _scenario(root: Path, execution: str = "exec-2", mtime: float | None = None) -> Path:
    """November's delivery: the first 9 lines as Parquet, the rest as gzip CSV."""
    lines = scenario_lines()
    return deliver(
        root,
        execution,
        [
            ("acme-cur-00001.snappy.parquet", parquet_bytes(lines[:9])),
            ("acme-cur-00002.csv.gz", csv_gz_bytes(lines[9:])),
        ],
        mtime=mtime,
    )


BILL_LINES = """
    select usage_day::varchar, account, model, token_kind, pricing_scope, pricing_tier, line_kind,
           billed_tokens, billed_cost_usd, credit_usd
    from bill_lines order by all
"""
EXPECTED_CUR_LINES = [
    ("2026-11-03", ACCOUNT, "claude-sonnet-4-6", "cache_read", "global", "standard", "usage", 50000, D("0.015"), D(0)),
    ("2026-11-03", ACCOUNT, "claude-sonnet-4-6", "cache_write_1h", "global", "standard", "usage", 4000, D("0.024"), D(0)),
    ("2026-11-03", ACCOUNT, "claude-sonnet-4-6", "cache_write_5m", "global", "standard", "usage", 6000, D("0.0225"), D(0)),
    ("2026-11-03", ACCOUNT, "claude-sonnet-4-6", "input", "global", "standard", "credit", 0, D(0), D("-0.5")),
    ("2026-11-03", ACCOUNT, "claude-sonnet-4-6", "input", "global", "standard", "usage", 300000, D("0.9"), D(0)),
    ("2026-11-03", ACCOUNT, "claude-sonnet-4-6", "output", "global", "standard", "usage", 60000, D("0.9"), D(0)),
    ("2026-11-04", ACCOUNT, "claude-opus-4-6", "input", "geo", "standard", "usage", 200000, D("1.1"), D(0)),
    ("2026-11-04", ACCOUNT, "claude-opus-4-6", "output", "geo", "standard", "usage", 10000, D("0.275"), D(0)),
    ("2026-11-05", ACCOUNT, "claude-sonnet-4-6", "input", "global", "standard", "usage", 100000, D("0.3"), D(0)),
    ("2026-11-06", ACCOUNT, "claude-haiku-3", "input", "in_region", "standard", "usage", 400000, D("0.1"), D(0)),
    ("2026-11-06", ACCOUNT, "claude-haiku-3", "output", "in_region", "standard", "usage", 40000, D("0.05"), D(0)),
    ("2026-11-07", ACCOUNT, "claude-sonnet-9-9", "input", "geo", "standard", "usage", 50000, D("0.2"), D(0)),
    ("2026-11-08", OTHER_ACCOUNT, "claude-haiku-4-5", "input", "global", "standard", "usage", 500000, D("0.45"), D(0)),
    ("2026-11-08", OTHER_ACCOUNT, "claude-sonnet-4-6", "input", "global", "standard", "usage", 1000000, D("2.7"), D(0)),
    ("2026-11-08", OTHER_ACCOUNT, "claude-sonnet-4-6", "output", "global", "standard", "usage", 100000, D("1.35"), D(0)),
]  # fmt: skip


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    """The scenario's Bedrock logs and its CUR delivery, ingested (bill_check built)."""
    db = tmp_path / "ledger.duckdb"
    _cli(db, "ingest", "bedrock-files", str(write_logs(tmp_path / "logs")))
    _scenario(tmp_path / "cur")
    result = _cli(db, "ingest", "aws-cur-files", str(tmp_path / "cur"))
    assert "1 line(s) of other services skipped" in result.stderr
    return db


# ----------------------------------------------------------------------------------------------
# AWS CUR 2.0


def test_cur_lines_normalised_from_parquet_and_gzip_csv(ledger: Path) -> None:
    assert _query(ledger, BILL_LINES) == EXPECTED_CUR_LINES
    assert _query(ledger, "select count(*) from rejected_records") == [(0,)]
    # the EC2 line is skipped, not stored; principal and its tags are kept where the bill has them
    assert _query(ledger, "select count(*) from bill_lines where model_name like '%Box%'") == [(0,)]
    assert _query(
        ledger,
        "select distinct principal, principal_tags::varchar from bill_lines "
        "where line_kind = 'usage' and account = '111122223333'",
    ) == [(DEV_ARN, '{"iamPrincipal/team":"platform"}')]
    # bills are not requests: usage_events holds the 8 logged requests only
    assert _query(ledger, "select count(*), count(distinct source) from usage_events") == [(8, 1)]


def test_check_finds_each_planted_difference(ledger: Path) -> None:
    rows = _query(
        ledger,
        """
        select day::varchar, account, model, token_kind, our_tokens, billed_tokens,
               our_cost_usd, billed_cost_usd, difference_usd, difference_pct, reason
        from bill_check order by all
        """,
    )
    assert rows == [
        ("2026-11-03", ACCOUNT, "claude-sonnet-4-6", "cache_read", 50000, 50000, D("0.015"), D("0.015"), D(0), D(0), None),
        ("2026-11-03", ACCOUNT, "claude-sonnet-4-6", "cache_write_1h", 4000, 4000, D("0.024"), D("0.024"), D(0), D(0), None),
        ("2026-11-03", ACCOUNT, "claude-sonnet-4-6", "cache_write_5m", 6000, 6000, D("0.0225"), D("0.0225"), D(0), D(0), None),
        ("2026-11-03", ACCOUNT, "claude-sonnet-4-6", "input", 300000, 300000, D("0.9"), D("0.9"), D(0), D(0), None),
        ("2026-11-03", ACCOUNT, "claude-sonnet-4-6", "output", 60000, 60000, D("0.9"), D("0.9"), D(0), D(0), None),
        ("2026-11-04", ACCOUNT, "claude-opus-4-6", "input", 200000, 200000, D("1.1"), D("1.1"), D(0), D(0), None),
        ("2026-11-04", ACCOUNT, "claude-opus-4-6", "output", 10000, 10000, D("0.275"), D("0.275"), D(0), D(0), None),
        ("2026-11-05", ACCOUNT, "claude-sonnet-4-6", "input", 0, 100000, D(0), D("0.3"), D("0.3"), None, "logs_missing"),
        ("2026-11-06", ACCOUNT, "claude-haiku-3", "input", 400000, 400000, D("0.1"), D("0.1"), D(0), D(0), None),
        ("2026-11-06", ACCOUNT, "claude-haiku-3", "output", 40000, 40000, D("0.05"), D("0.05"), D(0), D(0), None),
        ("2026-11-07", ACCOUNT, "claude-sonnet-9-9", "input", 50000, 50000, None, D("0.2"), None, None, "unpriced_model"),
        ("2026-11-08", OTHER_ACCOUNT, "claude-haiku-4-5", "input", 500000, 500000, D("0.5"), D("0.45"), D("-0.05"), D("-10"), "contracted_discount"),
        ("2026-11-08", OTHER_ACCOUNT, "claude-sonnet-4-6", "input", 1000000, 1000000, D("3"), D("2.7"), D("-0.3"), D("-10"), "contracted_discount"),
        ("2026-11-08", OTHER_ACCOUNT, "claude-sonnet-4-6", "output", 100000, 100000, D("1.5"), D("1.35"), D("-0.15"), D("-10"), "contracted_discount"),
    ]  # fmt: skip


def test_report_bill_by_day_json_and_exit_code(ledger: Path) -> None:
    result = _cli(
        ledger, "report", "--bill", "--month", "2026-11", "--by", "day", "--format", "json", code=1
    )
    rows = {r["day"]: r for r in json.loads(result.stdout)}
    assert list(rows) == [f"2026-11-0{d}" for d in (3, 4, 5, 6, 7, 8)]
    assert rows["2026-11-03"] == {
        "day": "2026-11-03",
        "our_cost_usd": "1.861500000000",
        "billed_cost_usd": "1.861500000000",
        "difference_usd": "0.000000000000",
        "difference_pct": "0.0000",
        "our_input_tokens": 300000,
        "billed_input_tokens": 300000,
        "our_output_tokens": 60000,
        "billed_output_tokens": 60000,
        "our_cache_read_tokens": 50000,
        "billed_cache_read_tokens": 50000,
        "our_cache_write_5m_tokens": 6000,
        "billed_cache_write_5m_tokens": 6000,
        "our_cache_write_1h_tokens": 4000,
        "billed_cache_write_1h_tokens": 4000,
        "credits_usd": "-0.500000000000",
        "reason": None,
        "suggested_override": None,
    }
    summary = {
        day: (r["our_cost_usd"], r["billed_cost_usd"], r["difference_pct"], r["reason"])
        for day, r in rows.items()
    }
    assert summary == {
        "2026-11-03": ("1.861500000000", "1.861500000000", "0.0000", None),
        "2026-11-04": ("1.375000000000", "1.375000000000", "0.0000", None),
        "2026-11-05": ("0.000000000000", "0.300000000000", None, "logs_missing"),
        "2026-11-06": ("0.150000000000", "0.150000000000", "0.0000", None),
        "2026-11-07": (None, "0.200000000000", None, "unpriced_model"),
        "2026-11-08": ("5.000000000000", "4.500000000000", "-10.0000", "contracted_discount"),
    }
    assert "3 group(s) differ from the bill by more than 2%" in result.stderr
    # the discount alone passes a looser tolerance; logs missing and unpriced still fail
    loose = _cli(ledger, "report", "--bill", "--month", "2026-11", "--tolerance-pct", "15", code=1)
    assert "2 group(s) differ from the bill by more than 15%" in loose.stderr


def test_report_bill_by_account_shows_the_override(ledger: Path) -> None:
    result = _cli(
        ledger, "report", "--bill", "--month", "2026-11", "--by", "account", "--format", "json",
        code=1,
    )  # fmt: skip
    rows = {r["account"]: r for r in json.loads(result.stdout)}
    other = rows[OTHER_ACCOUNT]
    assert (other["our_cost_usd"], other["billed_cost_usd"], other["difference_usd"]) == (
        "5.000000000000",
        "4.500000000000",
        "-0.500000000000",
    )
    assert other["difference_pct"] == "-10.0000"
    assert other["reason"] == "contracted_discount"
    assert other["suggested_override"] == (
        '[[prices.overrides]]\nprovider = "bedrock"\nmodel = "claude-haiku-4-5"\n'
        'discount_pct = 10\nvalid_from = "2026-11-01"\n\n'
        '[[prices.overrides]]\nprovider = "bedrock"\nmodel = "claude-sonnet-4-6"\n'
        'discount_pct = 10\nvalid_from = "2026-11-01"'
    )
    assert rows[ACCOUNT]["reason"] == "logs_missing, unpriced_model"
    table = _cli(ledger, "report", "--bill", "--month", "2026-11", "--by", "account", code=1)
    assert 'model = "claude-sonnet-4-6"\ndiscount_pct = 10' in table.output


def test_report_bill_by_model_csv(ledger: Path) -> None:
    result = _cli(
        ledger, "report", "--bill", "--month", "2026-11", "--by", "model", "--format", "csv", code=1
    )
    lines = list(csv.reader(io.StringIO(result.stdout)))
    assert lines[0][:6] == [
        "provider", "model", "our_cost_usd", "billed_cost_usd", "difference_usd", "difference_pct"
    ]  # fmt: skip
    by_model = {line[1]: line[2:6] for line in lines[1:]}
    assert by_model["claude-opus-4-6"] == [
        "1.375000000000",
        "1.375000000000",
        "0.000000000000",
        "0.0000",
    ]
    assert by_model["claude-sonnet-9-9"] == ["", "0.200000000000", "", ""]  # fmt: skip


def test_report_bill_by_principal(ledger: Path) -> None:
    result = _cli(
        ledger, "report", "--bill", "--month", "2026-11", "--by", "principal", "--format", "json",
        code=1,
    )  # fmt: skip
    rows = {r["principal"]: r for r in json.loads(result.stdout)}
    dev = rows[DEV_ARN]
    # the bill's own per-principal split: its lines with a principal (11-05 billed, not logged)
    # our priced part beside the bill; the unpriced model's tokens are flagged, not $0
    assert (dev["our_cost_usd"], dev["billed_cost_usd"]) == ("3.386500000000", "3.886500000000")
    other = rows[f"arn:aws:sts::{OTHER_ACCOUNT}:assumed-role/Dev/dev@example.com"]
    assert (other["our_cost_usd"], other["billed_cost_usd"]) == ("5.000000000000", "4.500000000000")
    assert dev["developer"] == "dev@example.com"
    assert dev["reason"] == "unpriced_model"
    # the credit line carries no principal
    assert rows["(no principal in the bill)"]["credits_usd"] == "-0.500000000000"


def test_doctor_reports_the_failed_month(ledger: Path) -> None:
    result = _cli(ledger, "doctor")
    assert (
        # the month's total matches by chance (-$0.50 discount, +$0.30 and +$0.20 unexplained):
        # a month fails on its rows, never on totals that cancel out
        "bill check failed for 2026-11 bedrock: estimated $8.39, billed $8.39 (+0.0000%); "
        "reasons: contracted_discount, logs_missing, unpriced_model; "
        "see `llmledger report --bill --month 2026-11`"
    ) in result.output


def test_report_bill_usage_errors(ledger: Path) -> None:
    no_month = _cli(ledger, "report", "--bill", code=2)
    assert "--bill needs --month YYYY-MM" in no_month.output + no_month.stderr
    bad_by = _cli(ledger, "report", "--bill", "--month", "2026-11", "--by", "team", code=2)
    assert "--bill groups by day, model, account, principal, not team" in bad_by.stderr
    stray = _cli(ledger, "report", "--by", "principal", code=2)
    assert "--by principal goes with --bill" in stray.stderr


def test_redelivered_month_replaces_the_earlier_delivery(tmp_path: Path) -> None:
    db = tmp_path / "ledger.duckdb"
    root = tmp_path / "cur"
    first = [
        cur_line("2026-11-03", "USE1-Claude4.6Sonnet-input-tokens-cross-region-global", 200, "0.6")
    ]
    deliver(
        root,
        "exec-1",
        [("acme-cur-00001.snappy.parquet", parquet_bytes(first))],
        mtime=time.time() - 3600,
    )
    _cli(db, "ingest", "aws-cur-files", str(root))
    assert _query(db, "select sum(billed_cost_usd), count(*) from bill_lines") == [(D("0.6"), 1)]
    _scenario(root, "exec-2")  # the refresh: a new execution and a new manifest
    _cli(db, "ingest", "aws-cur-files", str(root))
    assert _query(db, "select sum(billed_cost_usd), count(*) from bill_lines") == [
        (D("8.3865"), 15)
    ]
    # the earlier delivery's rows are kept in raw but never counted
    again = _cli(db, "ingest", "aws-cur-files", str(root))
    assert "0 new, 0 updated" in again.stderr
    assert _query(db, "select sum(billed_cost_usd), count(*) from bill_lines") == [(D("8.3865"), 15)]  # fmt: skip


def test_half_written_delivery_is_rejected_then_read_once_whole(tmp_path: Path) -> None:
    db = tmp_path / "ledger.duckdb"
    root = tmp_path / "cur"
    lines = scenario_lines()
    manifest = deliver(
        root,
        "exec-3",
        [("acme-cur-00001.snappy.parquet", parquet_bytes(lines[:9]))],
        missing=["acme-cur-00002.csv.gz"],
    )
    result = _cli(db, "ingest", "aws-cur-files", str(root))
    assert "1 rejected" in result.stderr
    assert _query(db, "select location, reason from rejected_records") == [
        (
            str(manifest),
            "half-written delivery exec-3 for 2026-11: the manifest lists 2 data file(s), 1 "
            "missing (first: data/BILLING_PERIOD=2026-11/exec-3/acme-cur-00002.csv.gz); not read",
        )
    ]
    assert _query(db, "select count(*) from bill_lines") == [(0,)]
    data = root / DATA / "exec-3"
    (data / "acme-cur-00002.csv.gz").write_bytes(csv_gz_bytes(lines[9:]))
    _cli(db, "ingest", "aws-cur-files", str(root))
    assert _query(db, "select count(*), sum(billed_cost_usd) from bill_lines") == [
        (15, D("8.3865"))
    ]


def test_bad_cur_input(tmp_path: Path) -> None:
    db = tmp_path / "ledger.duckdb"
    root = tmp_path / "cur"
    good = cur_line(
        "2026-11-03", "USE1-Claude4.6Sonnet-input-tokens-cross-region-global", 100, "0.3"
    )
    positive_credit = cur_line(
        "2026-11-03", "USE1-Claude4.6Sonnet-input-tokens-cross-region-global", 0, "0.5",
        line_type="Credit",
    )  # fmt: skip
    negative_usage = cur_line(
        "2026-11-04", "USE1-Claude4.6Sonnet-output-tokens-cross-region-global", -3, "-0.045"
    )
    columns = [c for c in scenario_lines()[0] if c not in ("pricing_unit", "line_item_usage_type")]
    deliver(
        root,
        "exec-4",
        [
            ("acme-cur-00001.snappy.parquet", parquet_bytes([good, positive_credit, negative_usage])),
            ("acme-cur-00002.snappy.parquet", parquet_bytes([good], columns=columns)),
            ("acme-cur-00003.csv.gz", gz([record("req-1")])),  # Bedrock's invocation log
        ],
    )  # fmt: skip
    _cli(db, "ingest", "aws-cur-files", str(root))
    data = root / DATA / "exec-4"
    manifest = root / EXPORT / "metadata" / f"BILLING_PERIOD={PERIOD}" / f"{EXPORT}-Manifest.json"
    assert _query(db, "select location, reason from rejected_records order by location") == [
        (
            f"{data}/acme-cur-00001.snappy.parquet#row=2",
            "Credit line with a positive amount (credits are negative)",
        ),
        (
            f"{data}/acme-cur-00001.snappy.parquet#row=3",
            "negative line_item_usage_amount on a Usage line",
        ),
        (
            f"{data}/acme-cur-00002.snappy.parquet",
            "not a CUR 2.0 data file: missing column(s) line_item_usage_type, pricing_unit",
        ),
        (
            f"{data}/acme-cur-00003.csv.gz",
            "not a CUR 2.0 data file: missing column(s) line_item_product_code, "
            "line_item_usage_type, line_item_line_item_type, line_item_usage_start_date, "
            "line_item_usage_account_id, line_item_usage_amount, line_item_unblended_cost, "
            "pricing_unit",
        ),
        (
            str(manifest),
            "delivery exec-4 for 2026-11 not counted: 2 of its 3 data file(s) rejected",
        ),
    ]
    # rejected files make the delivery incomplete: none of it counts
    assert _query(db, "select count(*) from bill_lines") == [(0,)]


def test_cur_path_without_a_manifest(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = _cli(tmp_path / "l.duckdb", "ingest", "aws-cur-files", str(tmp_path / "empty"), code=1)
    assert (
        f"aws-cur-files: nothing to read in {tmp_path / 'empty'}: no "
        "<export>/metadata/BILLING_PERIOD=YYYY-MM/*-Manifest.json"
    ) in result.stderr


def test_cur_from_s3_through_moto(aws: Any, tmp_path: Path) -> None:
    s3 = aws.client("s3")
    _scenario(tmp_path / "cur")
    upload(s3, tmp_path / "cur")
    db = tmp_path / "ledger.duckdb"
    _cli(db, "ingest", "bedrock-files", str(write_logs(tmp_path / "logs")))
    _cli(db, "ingest", "aws-cur-s3", "--bucket", BUCKET, "--prefix", "cur/")
    assert _query(db, BILL_LINES) == EXPECTED_CUR_LINES
    again = _cli(db, "ingest", "aws-cur-s3", "--bucket", BUCKET, "--prefix", "cur/")
    assert "0 new, 0 updated" in again.stderr
    # a re-delivery through S3 replaces the month
    first = [
        cur_line("2026-11-03", "USE1-Claude4.6Sonnet-input-tokens-cross-region-global", 1, "0.003")
    ]
    deliver(tmp_path / "cur2", "exec-9", [("acme-cur-00001.snappy.parquet", parquet_bytes(first))])
    for path in sorted((tmp_path / "cur2").rglob("*")):
        if path.is_file():
            key = f"cur/{path.relative_to(tmp_path / 'cur2').as_posix()}"
            s3.put_object(Bucket=BUCKET, Key=key, Body=path.read_bytes())
    _cli(db, "ingest", "aws-cur-s3", "--bucket", BUCKET, "--prefix", "cur/")
    assert _query(db, "select count(*), sum(billed_cost_usd) from bill_lines") == [(1, D("0.003"))]  # fmt: skip


def test_cur_s3_half_written_and_missing_bucket(aws: Any, tmp_path: Path) -> None:
    s3 = aws.client("s3")
    lines = scenario_lines()
    deliver(
        tmp_path / "cur",
        "exec-5",
        [("acme-cur-00001.snappy.parquet", parquet_bytes(lines[:3]))],
        missing=["acme-cur-00002.snappy.parquet"],
    )
    upload(s3, tmp_path / "cur")
    db = tmp_path / "ledger.duckdb"
    _cli(db, "ingest", "aws-cur-s3", "--bucket", BUCKET, "--prefix", "cur/")
    assert _query(db, "select location, reason from rejected_records") == [
        (
            f"s3://{BUCKET}/cur/{EXPORT}/metadata/BILLING_PERIOD=2026-11/{EXPORT}-Manifest.json",
            "half-written delivery exec-5 for 2026-11: the manifest lists 2 data file(s), 1 "
            "missing (first: data/BILLING_PERIOD=2026-11/exec-5/acme-cur-00002.snappy.parquet); "
            "not read",
        )
    ]
    missing = _cli(db, "ingest", "aws-cur-s3", "--bucket", "no-such-bucket", code=2)
    assert "bucket 'no-such-bucket' does not exist; check --bucket (and --region)" in missing.stderr


def test_focus_1_2_with_aws_columns(tmp_path: Path) -> None:
    g = "-cross-region-global"
    lines = [
        focus_line("2026-11-03", f"USE1-Claude4.6Sonnet-input-tokens{g}", 300, "0.9"),
        focus_line("2026-11-03", f"USE1-Claude4.6Sonnet-cache-write-1h-input-token-count{g}", 4, "0.024"),
        focus_line("2026-11-03", f"USE1-Claude4.6Sonnet-input-tokens{g}", 0, "-0.5", category="Credit"),
        focus_line(
            "2026-11-06", "USE1-MP:USE1_InputTokenCount_Global-Units", 0.4, "0.1", unit="Units",
            service_code="bgwx8xq4m1k3sn2t6u0f1hq2s",
            service_name="Claude 3 Haiku (Amazon Bedrock Edition)", publisher="Anthropic",
        ),
        focus_line(
            "2026-11-03", "USE1-BoxUsage:m7g.large", 24, "1.9584", unit="Hrs",
            service_code="AmazonEC2", service_name="Amazon Elastic Compute Cloud",
        ),
    ]  # fmt: skip
    root = tmp_path / "focus"
    deliver(
        root, "exec-f1", [("acme-focus-00001.snappy.parquet", focus_parquet_bytes(lines))],
        export_name="acme-focus",
    )  # fmt: skip
    db = tmp_path / "ledger.duckdb"
    result = _cli(db, "ingest", "aws-cur-files", str(root))
    assert "1 line(s) of other services skipped" in result.stderr
    assert _query(db, BILL_LINES) == [
        ("2026-11-03", ACCOUNT, "claude-sonnet-4-6", "cache_write_1h", "global", "standard", "usage", 4000, D("0.024"), D(0)),
        ("2026-11-03", ACCOUNT, "claude-sonnet-4-6", "input", "global", "standard", "credit", 0, D(0), D("-0.5")),
        ("2026-11-03", ACCOUNT, "claude-sonnet-4-6", "input", "global", "standard", "usage", 300000, D("0.9"), D(0)),
        ("2026-11-06", ACCOUNT, "claude-haiku-3", "input", "global", "standard", "usage", 400000, D("0.1"), D(0)),
    ]  # fmt: skip
    # a FOCUS file without its usage-type column names what it lacks
    bad = [{k: v for k, v in line.items() if k != "SkuMeter"} for line in lines[:1]]
    deliver(
        root, "exec-f2", [("acme-focus-00001.snappy.parquet", focus_parquet_bytes(bad))],
        export_name="acme-focus",
    )  # fmt: skip
    _cli(db, "ingest", "aws-cur-files", str(root))
    assert _query(db, "select reason from rejected_records where location like '%exec-f2%'") == [
        ("not a FOCUS 1.2 with AWS columns file: missing column(s) SkuMeter",)
    ]


# ----------------------------------------------------------------------------------------------
# GCP billing export

GCP_LINES = """
    select usage_day::varchar, account, region, model, token_kind, pricing_scope, pricing_tier,
           billed_tokens, billed_cost_usd, credit_usd
    from bill_lines order by all
"""
EXPECTED_GCP_LINES = [
    ("2026-11-10", PROJECT, "global", "claude-sonnet-4-6", "cache_read", "global", "standard", 1000000, D("0.3"), D(0)),
    ("2026-11-10", PROJECT, "global", "claude-sonnet-4-6", "cache_write_1h", "global", "standard", 100000, D("0.6"), D(0)),
    ("2026-11-10", PROJECT, "global", "claude-sonnet-4-6", "cache_write_5m", "global", "standard", 100000, D("0.375"), D(0)),
    ("2026-11-10", PROJECT, "global", "claude-sonnet-4-6", "input", "global", "standard", 1000000, D("3"), D("-0.5")),
    ("2026-11-10", PROJECT, "us-east5", "claude-haiku-4-5", "output", "regional", "standard", 200000, D("1.1"), D(0)),
    ("2026-11-11", PROJECT, "global", "claude-haiku-4-5", "other", "global", "standard", 10, D("0.1"), D(0)),
    ("2026-11-11", PROJECT, "global", "claude-sonnet-4-5", "input", "global", "long_context", 500000, D("3"), D(0)),
    ("2026-11-11", PROJECT, "us-east5", "claude-haiku-3", "input", "regional", "standard", 4000000, D("1"), D(0)),
]  # fmt: skip


@pytest.mark.parametrize(
    "name,content",
    [
        ("bill-000.json", gcp_jsonl_bytes(gcp_rows())),
        ("bill-000.json.gz", __import__("gzip").compress(gcp_jsonl_bytes(gcp_rows()))),
        ("bill-000.parquet", gcp_parquet_bytes(gcp_rows())),
        ("bill-000.csv.gz", gcp_csv_gz_bytes(gcp_rows())),
    ],
    ids=["jsonl", "jsonl-gz", "parquet", "csv-gz"],
)
def test_gcp_billing_files(tmp_path: Path, name: str, content: bytes) -> None:
    folder = tmp_path / "gcp"
    folder.mkdir()
    (folder / name).write_bytes(content)
    db = tmp_path / "ledger.duckdb"
    result = _cli(db, "ingest", "gcp-billing-files", str(folder))
    assert "1 line(s) of other services skipped" in result.stderr
    assert _query(db, GCP_LINES) == EXPECTED_GCP_LINES
    # the same rows exported again under another name update, never add
    (folder / ("again-" + name)).write_bytes(content)
    again = _cli(db, "ingest", "gcp-billing-files", str(folder))
    assert "0 new" in again.stderr
    assert _query(db, "select count(*) from bill_lines") == [(8,)]
    # no Vertex logs: every billed token row is logs_missing (the web search line is not tokens)
    assert _query(
        db, "select distinct reason, sum(billed_cost_usd) from bill_check group by 1"
    ) == [("logs_missing", D("9.375"))]


def test_bad_gcp_input(tmp_path: Path) -> None:
    folder = tmp_path / "gcp"
    folder.mkdir()
    sku = "Claude Sonnet 4.6 — Input Tokens — global — Context Window Size from 0 to 200000 Tokens"
    rows = [
        gcp_row("2026-11-10", "Claude Sonnet 4.6", sku, 1000, "0.003"),
        gcp_row("2026-11-10", "Claude Sonnet 4.6", sku, 2000, "0.006", credits=[("Oops", "0.1")]),
        gcp_row("2026-11-10", "Claude Sonnet 4.6", sku, 3000, "0.008", currency="EUR"),
    ]
    (folder / "a.json").write_bytes(gcp_jsonl_bytes(rows))
    (folder / "b.parquet").write_bytes(parquet_bytes(scenario_lines()[:1]))  # a CUR file
    db = tmp_path / "ledger.duckdb"
    _cli(db, "ingest", "gcp-billing-files", str(folder))
    assert _query(db, "select location, reason from rejected_records order by all") == [
        (f"{folder}/a.json#row=2", "credit with a positive amount (credits are negative)"),
        (f"{folder}/a.json#row=3", "currency EUR: only USD bills are compared"),
        (
            f"{folder}/b.parquet",
            "not a Cloud Billing export file: missing column(s) service.description, "
            "sku.description, usage_start_time, cost, usage.amount",
        ),
    ]
    assert _query(db, "select billed_tokens from bill_lines") == [(1000,)]


def test_bill_marts_are_published_and_empty_without_a_bill(tmp_path: Path) -> None:
    db = tmp_path / "ledger.duckdb"
    _cli(db, "ingest", "bedrock-files", str(write_logs(tmp_path / "logs")))
    assert _query(db, "select count(*) from bill_lines") == [(0,)]
    assert _query(db, "select count(*) from bill_check") == [(0,)]
    result = _cli(db, "report", "--bill", "--month", "2026-11")
    assert "no bill loaded for 2026-11" in result.stderr
    assert os.path.exists(db)


# ----------------------------------------------------------------------------------------------
# The dashboard's Bill check page


def test_dashboard_bill_check_page(ledger: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("LLMLEDGER_SNAPSHOT", str(ledger.with_name("ledger.snapshot.duckdb")))
    monkeypatch.delenv("LLMLEDGER_AUTH", raising=False)
    monkeypatch.delenv("LLMLEDGER_ADMINS", raising=False)
    app = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"
    at = AppTest.from_file(str(app), default_timeout=60)
    at.run()
    at.switch_page("app_pages/bill_check.py").run()
    assert not at.exception
    assert {m.label: m.value for m in at.metric} == {
        "Estimated (bedrock)": "$8.39",  # the priced part (the unpriced model's tokens are flagged)
        "Billed": "$8.39",
        "Difference": "$0.00",
        "Coverage": "96.4%",
    }
    assert [t.value for t in at.code] == [
        '[[prices.overrides]]\nprovider = "bedrock"\nmodel = "claude-haiku-4-5"\n'
        'discount_pct = 10\nvalid_from = "2026-11-01"\n\n'
        '[[prices.overrides]]\nprovider = "bedrock"\nmodel = "claude-sonnet-4-6"\n'
        'discount_pct = 10\nvalid_from = "2026-11-01"'
    ]
    differences = at.dataframe[0].value
    assert list(differences["reason"]) == [  # the reason codes in words, as every page shows
        "Unpriced model",  # an unknown estimate first, then by the size of the difference
        "Logs missing",
        "Contracted discount",
        "Contracted discount",
        "Contracted discount",
    ]


# ----------------------------------------------------------------------------------------------
# The demo's bill (sample_data/cur, generate_bills.py)


def test_demo_bill_matches_its_logs_except_the_planted_gap(sample_ledger: Any) -> None:
    con = duckdb.connect(str(sample_ledger.snapshot), read_only=True)
    try:
        gap = con.execute(
            "select account, min(day)::varchar, max(day)::varchar, sum(billed_cost_usd), "
            "sum(our_tokens), string_agg(distinct reason, ', ') from bill_check "
            "where reason = 'logs_missing' group by account"
        ).fetchall()
        others = con.execute(
            "select distinct reason from bill_check "
            "where account <> '555566667777' and reason is not null"
        ).fetchall()
        unpriced = con.execute(
            "select distinct model from bill_check where reason = 'unpriced_model'"
        ).fetchall()
    finally:
        con.close()
    assert gap == [("555566667777", "2026-11-12", "2026-11-14", D("32.67"), 0, "logs_missing")]
    assert others == [("unpriced_model",)]
    assert unpriced == [("claude-fable-5",)]


def test_redelivery_without_llm_lines_still_replaces(tmp_path: Path) -> None:
    db = tmp_path / "ledger.duckdb"
    root = tmp_path / "cur"
    _scenario(root, "exec-1", mtime=time.time() - 3600)
    _cli(db, "ingest", "aws-cur-files", str(root))
    assert _query(db, "select count(*) from bill_lines") == [(15,)]
    ec2_only = [line for line in scenario_lines() if line["line_item_product_code"] == "AmazonEC2"]
    deliver(root, "exec-2", [("acme-cur-00001.snappy.parquet", parquet_bytes(ec2_only))])
    _cli(db, "ingest", "aws-cur-files", str(root))
    assert _query(db, "select count(*) from bill_lines") == [(0,)]


# ----------------------------------------------------------------------------------------------
# GCP billing export table through the real google-cloud-bigquery client (local jobs.query)

TABLE = "acme-billing.billing.gcp_billing_export_v1_0A1B2C_3D4E5F_6A7B8C"


def test_gcp_billing_from_bigquery(tmp_path: Path) -> None:
    pytest.importorskip("google.cloud.bigquery")
    from bigquery_server import FakeBigQuery

    with FakeBigQuery() as server:
        server.rows = [*gcp_rows(), gcp_row(
            "2026-10-30", "Claude Sonnet 4.6",
            "Claude Sonnet 4.6 — Input Tokens — global — Context Window Size from 0 to 200000 Tokens",
            5, "0.000015",
        )]  # fmt: skip
        db = tmp_path / "ledger.duckdb"
        args = ["ingest", "gcp-billing", "--table", TABLE, "--api-endpoint", server.url]
        window = ["--anonymous", "--since", "2026-11-01", "--until", "2026-12-01"]
        _cli(db, *args, *window)
        assert _query(db, GCP_LINES) == EXPECTED_GCP_LINES  # October's row is outside the bound
        sent = server.requests[0]["body"]
        assert f"from `{TABLE}` where usage_start_time >= @start" in sent["query"]
        assert {p["name"]: p["parameterValue"]["value"][:10] for p in sent["queryParameters"]} == {
            "start": "2026-11-01",
            "end": "2026-12-01",
        }
        again = _cli(db, *args, *window)
        assert "0 new" in again.stderr
        assert _query(db, "select count(*) from bill_lines") == [(8,)]
        server.fail_with = 404
        missing = _cli(db, *args, *window, code=2)
        assert "gcp-billing: BigQuery at " in missing.stderr
        assert "check --table" in missing.stderr
    bad = _cli(db, "ingest", "gcp-billing", "--table", "nodots", "--anonymous", code=2)
    assert "gcp-billing: --table must be PROJECT.DATASET.TABLE, got 'nodots'" in bad.stderr


def test_report_bill_by_principal_names_a_shared_role_left_unattributed(tmp_path: Path) -> None:
    role = f"arn:aws:sts::{ACCOUNT}:assumed-role/ci-runner/build-42"
    logs = [
        record(
            "req-ci",
            timestamp="2026-11-03T10:00:00Z",
            model_id="global.anthropic.claude-sonnet-4-6",
            arn=role,
            input_tokens=100000,
            output_tokens=0,
        )
    ]
    db = tmp_path / "ledger.duckdb"
    _cli(db, "ingest", "bedrock-files", str(write_logs(tmp_path / "logs", logs)))
    line = cur_line(
        "2026-11-03", "USE1-Claude4.6Sonnet-input-tokens-cross-region-global", 100, "0.3",
        principal=role,
    )  # fmt: skip
    deliver(tmp_path / "cur", "exec-1", [("acme-cur-00001.snappy.parquet", parquet_bytes([line]))])
    _cli(db, "ingest", "aws-cur-files", str(tmp_path / "cur"))
    result = _cli(
        db, "report", "--bill", "--month", "2026-11", "--by", "principal", "--format", "json"
    )
    [row] = json.loads(result.stdout)
    assert (row["principal"], row["developer"], row["reason"]) == (
        role,
        "unattributed",
        "shared_role_unattributed",
    )
    assert (row["our_cost_usd"], row["billed_cost_usd"]) == ("0.300000000000", "0.300000000000")


# ----------------------------------------------------------------------------------------------
# export billing --as-billed


def test_export_billing_as_billed_scales_to_the_invoice(ledger: Path, tmp_path: Path) -> None:
    """The bill (8.3865 USD of token lines, the credit apart) against an estimate with a 12.5%
    contracted discount on Sonnet (7.5913125 USD): every row is scaled by 8.3865 / 7.5913125,
    exactly, to 12 places; the left-over units and cents go to the largest remainders."""
    config = tmp_path / "llmledger.toml"
    config.write_text(
        '[[prices.discounts]]\nprovider = "bedrock"\nmodel = "claude-sonnet-4-6"\n'
        'discount_pct = "12.5"\n',
        encoding="utf-8",
    )
    out = tmp_path / "as-billed.csv"
    args = ("--config", str(config), "export", "billing", "--month", "2026-11", "--as-billed")
    result = _cli(ledger, *args, "--out", str(out))
    assert "as billed: bedrock estimate 7.5913125 USD scaled to its invoice 8.3865 USD" in (
        result.stderr
    )
    assert (
        "warning: unpriced requests cannot be scaled to the bill (bedrock/claude-sonnet-9-9)"
        in (result.stderr)
    )
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"), newline="")))
    got = [
        (r["model"], r["contracted_cost_usd"], r["billed_cost_usd"], r["billed_charge_usd"])
        for r in rows
    ]
    assert got == [
        ("claude-haiku-3", "0.15", "0.16571245091", "0.17"),
        ("claude-haiku-4-5", "0.5", "0.552374836367", "0.55"),
        ("claude-opus-4-6", "1.375", "1.51903080001", "1.52"),
        ("claude-sonnet-4-6", "5.5663125", "6.149381912713", "6.15"),
        ("claude-sonnet-9-9", "", "", ""),
    ]
    assert sum(D(b) for _, _, b, _ in got if b) == D("8.3865")
    assert sum(D(c) for _, _, _, c in got if c) == D("8.39")
    # FOCUS: BilledCost and EffectiveCost scaled, marked billed, and still FOCUS 1.2
    focus_out = tmp_path / "as-billed-focus.csv"
    _cli(ledger, *args, "--format", "focus", "--out", str(focus_out))
    header, focus_rows = focus.read_rows(focus_out)
    assert focus.validate(header, focus_rows) == []
    assert {r["x_CostSource"] for r in focus_rows} == {"billed"}
    assert sum(D(r["BilledCost"]) for r in focus_rows) == D("8.3865")
    assert sum(D(r["EffectiveCost"]) for r in focus_rows) == D("8.3865")
    assert sum(D(r["ContractedCost"]) for r in focus_rows) == D("7.5913125")
