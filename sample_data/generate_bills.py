#!/usr/bin/env python3
"""Generate the demo's AWS bill: a CUR 2.0 (Data Exports) delivery for 2026-11, deterministically.

    python sample_data/generate_bills.py            # rewrites sample_data/cur/
    python sample_data/generate_bills.py --out DIR  # writes the same tree into DIR

The bill is made from the demo's own Bedrock logs (sample_data/bedrock/s3, run through
llmledger's ingest and models in a temporary database, with the demo config's application
profile): one line per day x account x region x model x token kind x scope (x long-context
tier), tokens in `1K tokens` for Claude 4.x (first-party usage types such as
`USE1-Claude4.5Sonnet-input-tokens-cross-region`), in Marketplace `Units` (1M tokens) for Claude
3.x, costed at list price, so it matches the estimate except for what is planted:

- a gap: account 555566667777 billed Sonnet 4.5 in eu-west-1 on 2026-11-12..14, an account
  whose invocation logs are not ingested (nothing logged): `report --bill` says `logs_missing`;
- the unknown model `claude-fable-5` is billed like Sonnet 4.5 (`unpriced_model`);
- a credit line and an EC2 line (another service: skipped, not rejected).

Layout as Data Exports writes it: `cur/llm-cur/data/BILLING_PERIOD=2026-11/<executionId>/
llm-cur-00001.snappy.parquet` and `cur/llm-cur/metadata/BILLING_PERIOD=2026-11/
llm-cur-Manifest.json`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
EXPORT = "llm-cur"
PERIOD = "2026-11"
EXECUTION = "c4f1e2d0-5b7a-4e61-9a3f-2d8e6b0c1a77"
BUCKET = "acme-billing"
PREFIX = "cur"
PAYER = "111122223333"
GAP_ACCOUNT = "555566667777"  # an account whose logs are not ingested
GAP_DAYS = ("2026-11-12", "2026-11-13", "2026-11-14")
MARKETPLACE_CODE = "bgwx8xq4m1k3sn2t6u0f1hq2s"

KIND_FIRST_PARTY = {
    "input": "input-tokens",
    "output": "output-tokens",
    "cache_read": "cache-read-input-token-count",
    "cache_write_5m": "cache-write-input-token-count",
    "cache_write_1h": "cache-write-1h-input-token-count",
}
KIND_MARKETPLACE = {
    "input": "InputTokenCount",
    "output": "OutputTokenCount",
    "cache_read": "CacheReadInputTokenCount",
    "cache_write_5m": "CacheWriteInputTokenCount",
    "cache_write_1h": "CacheWrite1hInputTokenCount",
}
FAMILIES = ("opus", "sonnet", "haiku")


def region_code(region: str) -> str:
    """us-east-1 -> USE1, eu-west-1 -> EUW1, ap-northeast-1 -> APN1 (CUR's usage-type prefix)."""
    area, direction, number = region.split("-")
    return (area[:2] + direction[0] + number).upper()


def usage_type(model: str, kind: str, scope: str, region: str, tier: str) -> tuple[str, str, str]:
    """(usage type, pricing unit, product name) of a billed line for a canonical model."""
    code = region_code(region)
    parts = model.split("-")  # claude-<family>-<major>[-<minor>]
    family = parts[1] if len(parts) > 2 else ""
    if family in FAMILIES and parts[2] == "3":  # Claude 3.x: sold through AWS Marketplace
        version = ".".join(p for p in parts[2:4] if p.isdigit())
        second = " v2" if parts[-1] == "v2" else ""
        name = f"Claude {version} {family.capitalize()}{second} (Amazon Bedrock Edition)"
        suffix = "_Global" if scope == "global" else ""
        return f"{code}-MP:{code}_{KIND_MARKETPLACE[kind]}{suffix}-Units", "Units", name
    scope_suffix = {"global": "-cross-region-global", "geo": "-cross-region"}.get(scope, "")
    tier_suffix = "-long-context" if tier == "long_context" else ""
    if family in FAMILIES:
        version = ".".join(parts[2:4])
        name = f"Claude{version}{family.capitalize()}"
    else:  # a model id the newer usage types embed
        name = f"anthropic.{model}"
    return (
        f"{code}-{name}-{KIND_FIRST_PARTY[kind]}{scope_suffix}{tier_suffix}",
        "1K tokens",
        "Amazon Bedrock Service",
    )


def logged_usage(work: Path) -> list[dict[str, Any]]:
    """The demo's Bedrock logs through llmledger, per day x account x region x model x scope x
    tier x token kind: tokens and list cost (the price book's own rates)."""
    db = work / "bills.duckdb"
    subprocess.run(
        [sys.executable, "-c", "from ingest.cli import main; main()"]
        + ["--config", str(HERE / "llmledger.toml"), "--db", str(db), "-q"]
        + ["ingest", "bedrock-files", str(HERE / "bedrock" / "s3")],
        check=True,
        capture_output=True,
        env={**_env(), "TZ": "UTC"},
    )
    con = duckdb.connect(str(db), read_only=True)
    try:
        con.execute("set timezone = 'UTC'")
        rows = con.execute(
            f"""
            with e as (
                select cast(e.occurred_at as date) as day,
                    regexp_extract(e.principal, ':(sts|iam)::([0-9]{{12}}):', 2) as account,
                    e.region, coalesce(e.model, e.model_id) as model, e.pricing_scope as scope,
                    e.pricing_tier as tier, e.principal,
                    e.input_tokens, e.output_tokens, e.cache_read_tokens,
                    e.cache_write_5m_tokens, e.cache_write_1h_tokens,
                    p.input_usd_per_mtok, p.output_usd_per_mtok, p.cache_read_usd_per_mtok,
                    p.cache_write_5m_usd_per_mtok, p.cache_write_1h_usd_per_mtok
                from usage_events e left join price_book p on p.price_version = e.price_version
                where e.source = 'bedrock' and e.billable
                    and strftime(e.occurred_at, '%Y-%m') = '{PERIOD}'
            ),
            kinds as (
                {
                " union all ".join(
                    f"select day, account, region, model, scope, tier, principal, '{k}' as kind, "
                    f"{k}_tokens as tokens, {k}_usd_per_mtok as rate from e"
                    for k in KIND_FIRST_PARTY
                )
            }
            )
            select day::varchar, account, region, model, scope, tier, principal, kind,
                sum(tokens)::bigint as tokens,
                -- an unpriced model is billed like Sonnet 4.5 in the same scope
                sum(cost_of(tokens, coalesce(rate, case kind
                    when 'input' then 3.3 when 'output' then 16.5 when 'cache_read' then 0.33
                    when 'cache_write_5m' then 4.125 else 6.6 end)))::decimal(38, 12) as cost
            from kinds where tokens > 0
            group by all order by all
            """
        ).fetchall()
    finally:
        con.close()
    names = (
        "day",
        "account",
        "region",
        "model",
        "scope",
        "tier",
        "principal",
        "kind",
        "tokens",
        "cost",
    )
    return [dict(zip(names, r, strict=True)) for r in rows]


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k not in ("LLMLEDGER_DB", "LLMLEDGER_CONFIG")}


def line(
    day: str,
    account: str,
    region: str,
    utype: str,
    unit: str,
    product_name: str,
    amount: float,
    cost: Decimal,
    *,
    principal: str | None,
    line_type: str = "Usage",
    product_code: str | None = None,
) -> dict[str, Any]:
    marketplace = unit == "Units"
    code = product_code or (MARKETPLACE_CODE if marketplace else "AmazonBedrockService")
    start = datetime.fromisoformat(day)
    return {
        "bill_billing_entity": "AWS Marketplace" if marketplace else "AWS",
        "bill_payer_account_id": PAYER,
        "billing_period": PERIOD,
        "line_item_product_code": code,
        "line_item_usage_type": utype,
        "line_item_operation": "InvokeModelInference",
        "line_item_line_item_type": line_type,
        "line_item_line_item_description": f"{product_name} {utype}",
        "line_item_usage_start_date": start,
        "line_item_usage_end_date": start.replace(hour=23, minute=59, second=59),
        "line_item_usage_account_id": account,
        "line_item_resource_id": "",
        "line_item_usage_amount": amount,
        "line_item_unblended_rate": 0.0,
        "line_item_unblended_cost": float(cost),
        "line_item_net_unblended_cost": float(cost),
        "pricing_unit": unit,
        "pricing_public_on_demand_rate": 0.0,
        "product_region_code": region,
        "product_servicecode": code,
        "product_usagetype": utype,
        "product": [("product_name", product_name), ("region", region)],
        "resource_tags": [],
        "tags": [],
        "line_item_iam_principal": principal,
    }


def bill_lines(usage: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for u in usage:
        utype, unit, name = usage_type(u["model"], u["kind"], u["scope"], u["region"], u["tier"])
        scale = 1_000_000 if unit == "Units" else 1000
        amount = float(Decimal(u["tokens"]) / scale)
        out.append(
            line(
                u["day"],
                u["account"],
                u["region"],
                utype,
                unit,
                name,
                amount,
                u["cost"],
                principal=u["principal"],
            )
        )
    # the gap: an account billed whose invocation logs nobody ingests
    gap_principal = f"arn:aws:sts::{GAP_ACCOUNT}:assumed-role/ml-batch/etl@acme.example"
    for day in GAP_DAYS:
        for kind, tokens, rate in (("input", 2_400_000, "3.3"), ("output", 180_000, "16.5")):
            utype, unit, name = usage_type(
                "claude-sonnet-4-5", kind, "geo", "eu-west-1", "standard"
            )
            cost = Decimal(tokens) * Decimal(rate) / Decimal(1_000_000)
            out.append(
                line(
                    day,
                    GAP_ACCOUNT,
                    "eu-west-1",
                    utype,
                    unit,
                    name,
                    tokens / 1000,
                    cost,
                    principal=gap_principal,
                )
            )
    out.append(
        line(
            "2026-11-01", PAYER, "us-east-1", "USE1-Claude4.5Sonnet-input-tokens-cross-region",
            "1K tokens", "Amazon Bedrock Service", 0.0, Decimal("-25"), principal=None,
            line_type="Credit",
        )
    )  # fmt: skip
    out.append(
        line(
            "2026-11-01", PAYER, "us-east-1", "USE1-BoxUsage:m7g.large", "Hrs",
            "Amazon Elastic Compute Cloud", 480.0, Decimal("39.168"), principal=None,
            product_code="AmazonEC2",
        )
    )  # fmt: skip
    return out


def write(out: Path, lines: list[dict[str, Any]]) -> dict[str, Any]:
    export = out / EXPORT
    if export.exists():
        shutil.rmtree(export)
    data = export / "data" / f"BILLING_PERIOD={PERIOD}" / EXECUTION
    data.mkdir(parents=True)
    strings = pa.string()
    text = pa.map_(strings, strings)
    schema = pa.schema(
        [
            (name, text if name in ("product", "resource_tags", "tags") else
             pa.timestamp("ms") if name.endswith(("_start_date", "_end_date")) else
             pa.float64() if name.endswith(("_amount", "_rate", "_cost")) else strings)
            for name in lines[0]
        ]
    )  # fmt: skip
    table = pa.Table.from_pylist(lines, schema=schema)
    name = f"{EXPORT}-00001.snappy.parquet"
    pq.write_table(table, data / name, compression="snappy")
    manifest = {
        "executionId": EXECUTION,
        "exportArn": f"arn:aws:bcm-data-exports:us-east-1:{PAYER}:export/{EXPORT}-7f3a",
        "columns": [
            {"name": n, "type": str(t)} for n, t in zip(schema.names, schema.types, strict=True)
        ],
        "dataFiles": [
            f"s3://{BUCKET}/{PREFIX}/{EXPORT}/data/BILLING_PERIOD={PERIOD}/{EXECUTION}/{name}"
        ],
    }
    meta = export / "metadata" / f"BILLING_PERIOD={PERIOD}"
    meta.mkdir(parents=True)
    (meta / f"{EXPORT}-Manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=HERE / "cur")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        usage = logged_usage(Path(work))
    lines = bill_lines(usage)
    write(args.out, lines)
    billed = sum(
        (
            Decimal(str(x["line_item_unblended_cost"]))
            for x in lines
            if x["line_item_line_item_type"] == "Usage"
            and x["line_item_product_code"] != "AmazonEC2"
        ),
        Decimal(0),
    )
    print(
        f"{len(lines)} CUR lines for {PERIOD} in {args.out / EXPORT}; "
        f"billed LLM usage ${billed:.2f}"
    )


if __name__ == "__main__":
    main()
