"""Bill fixtures built from the documented column names, usage types and SKU strings
(shared reference bills.md): AWS CUR 2.0 deliveries (Parquet or gzip CSV, with manifests) and
GCP Cloud Billing export rows (CSV, JSON lines, Parquet), plus the Bedrock logs they bill.

Used by tests/test_bills.py and the bill privacy feeds.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import zlib
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from moto_server import ACCOUNT, OTHER_ACCOUNT, ndjson, record

EXPORT = "acme-cur"
BUCKET = "acme-billing"
S3_PREFIX = "cur"
PERIOD = "2026-11"
MARKETPLACE_CODE = "bgwx8xq4m1k3sn2t6u0f1hq2s"
DEV_ARN = f"arn:aws:sts::{ACCOUNT}:assumed-role/Dev/dev@example.com"
OTHER_ARN = f"arn:aws:sts::{OTHER_ACCOUNT}:assumed-role/Dev/dev@example.com"
PROJECT = "acme-ml"

CUR_COLUMNS = (
    "bill_billing_entity",
    "billing_period",
    "line_item_product_code",
    "line_item_usage_type",
    "line_item_operation",
    "line_item_line_item_type",
    "line_item_line_item_description",
    "line_item_usage_start_date",
    "line_item_usage_end_date",
    "line_item_usage_account_id",
    "line_item_resource_id",
    "line_item_usage_amount",
    "line_item_unblended_rate",
    "line_item_unblended_cost",
    "line_item_net_unblended_cost",
    "pricing_unit",
    "pricing_public_on_demand_rate",
    "product_region_code",
    "product_servicecode",
    "product_usagetype",
    "product",
    "resource_tags",
    "tags",
    "line_item_iam_principal",
)


def cur_line(
    day: str,
    usage_type: str,
    amount: float,
    cost: str,
    *,
    unit: str = "1K tokens",
    account: str = ACCOUNT,
    line_type: str = "Usage",
    entity: str = "AWS",
    product_code: str = "AmazonBedrockService",
    product_name: str = "Amazon Bedrock Service",
    principal: str | None = DEV_ARN,
    tags: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One CUR 2.0 line (cost as a decimal string: CUR's cost columns are doubles, the test
    writes the double nearest it)."""
    return {
        "bill_billing_entity": entity,
        "billing_period": PERIOD,
        "line_item_product_code": product_code,
        "line_item_usage_type": usage_type,
        "line_item_operation": "InvokeModelInference",
        "line_item_line_item_type": line_type,
        "line_item_line_item_description": f"{product_name} {usage_type}",
        "line_item_usage_start_date": f"{day}T00:00:00Z",
        "line_item_usage_end_date": f"{day}T01:00:00Z",
        "line_item_usage_account_id": account,
        "line_item_resource_id": "",
        "line_item_usage_amount": amount,
        "line_item_unblended_rate": 0.0,
        "line_item_unblended_cost": float(cost),
        "line_item_net_unblended_cost": float(cost),
        "pricing_unit": unit,
        "pricing_public_on_demand_rate": 0.0,
        "product_region_code": "us-east-1",
        "product_servicecode": product_code,
        "product_usagetype": usage_type,
        "product": {"product_name": product_name, "region": "us-east-1"},
        "resource_tags": {},
        "tags": tags if tags is not None else {"iamPrincipal/team": "platform"},
        "line_item_iam_principal": principal,
    }


def scenario_lines() -> list[dict[str, Any]]:
    """November's bill: matches the logs of :func:`scenario_logs` except the planted
    differences (11-05 logging off, 11-07 an unpriced model, account B's 10% discount)."""
    g = "-cross-region-global"
    return [
        # 11-03: Sonnet 4.6 through the global profile, 1K-token units, cache read/write 5m/1h
        cur_line("2026-11-03", f"USE1-Claude4.6Sonnet-input-tokens{g}", 300, "0.9"),
        cur_line("2026-11-03", f"USE1-Claude4.6Sonnet-output-tokens{g}", 60, "0.9"),
        cur_line(
            "2026-11-03", f"USE1-Claude4.6Sonnet-cache-read-input-token-count{g}", 50, "0.015"
        ),
        cur_line(
            "2026-11-03", f"USE1-Claude4.6Sonnet-cache-write-input-token-count{g}", 6, "0.0225"
        ),
        cur_line(
            "2026-11-03", f"USE1-Claude4.6Sonnet-cache-write-1h-input-token-count{g}", 4, "0.024"
        ),
        cur_line(
            "2026-11-03",
            f"USE1-Claude4.6Sonnet-input-tokens{g}",
            0,
            "-0.5",
            line_type="Credit",
            principal=None,
        ),
        # 11-04: Opus 4.6 through a geographic profile, 1M-token units
        cur_line(
            "2026-11-04",
            "USE1-Claude4.6Opus-input-tokens-cross-region",
            0.2,
            "1.1",
            unit="1M tokens",
        ),
        cur_line(
            "2026-11-04",
            "USE1-Claude4.6Opus-output-tokens-cross-region",
            0.01,
            "0.275",
            unit="1M tokens",
        ),
        # 11-05: logging was off; the bill still has the day
        cur_line("2026-11-05", f"USE1-Claude4.6Sonnet-input-tokens{g}", 100, "0.3"),
        # 11-06: Claude 3 Haiku through AWS Marketplace, Units = 1M tokens
        *(
            cur_line(
                "2026-11-06",
                f"USE1-MP:USE1_{kind}TokenCount-Units",
                amount,
                cost,
                unit="Units",
                entity="AWS Marketplace",
                product_code=MARKETPLACE_CODE,
                product_name="Claude 3 Haiku (Amazon Bedrock Edition)",
            )
            for kind, amount, cost in (("Input", 0.4, "0.1"), ("Output", 0.04, "0.05"))
        ),
        # 11-07: a model the price book does not price
        cur_line("2026-11-07", "USE1-Claude9.9Sonnet-input-tokens-cross-region", 50, "0.2"),
        # 11-08: account B pays a contracted 10% below list on everything
        cur_line(
            "2026-11-08",
            f"USE1-Claude4.6Sonnet-input-tokens{g}",
            1000,
            "2.7",
            account=OTHER_ACCOUNT,
            principal=OTHER_ARN,
        ),
        cur_line(
            "2026-11-08",
            f"USE1-Claude4.6Sonnet-output-tokens{g}",
            100,
            "1.35",
            account=OTHER_ACCOUNT,
            principal=OTHER_ARN,
        ),
        cur_line(
            "2026-11-08",
            f"USE1-Claude4.5Haiku-input-tokens{g}",
            500,
            "0.45",
            account=OTHER_ACCOUNT,
            principal=OTHER_ARN,
        ),
        # other services' lines: skipped, not rejected
        cur_line(
            "2026-11-03",
            "USE1-BoxUsage:m7g.large",
            24,
            "1.9584",
            unit="Hrs",
            product_code="AmazonEC2",
            product_name="Amazon Elastic Compute Cloud",
        ),
    ]


def scenario_logs() -> list[dict[str, Any]]:
    """The Bedrock invocation logs behind the bill (bodies carry the privacy sentinel)."""
    sonnet = "global.anthropic.claude-sonnet-4-6"
    b_arn = OTHER_ARN
    return [
        *(
            record(
                f"req-03-{i}",
                timestamp=f"2026-11-03T10:0{i}:00Z",
                model_id=sonnet,
                arn=DEV_ARN,
                input_tokens=100000,
                output_tokens=20000,
                cache_read=50000 if i == 0 else 0,
                cache_write=10000 if i == 0 else 0,
                one_hour=4000 if i == 0 else None,
            )
            for i in range(3)
        ),
        record(
            "req-04",
            timestamp="2026-11-04T10:00:00Z",
            model_id="us.anthropic.claude-opus-4-6-v1",
            arn=DEV_ARN,
            input_tokens=200000,
            output_tokens=10000,
        ),
        record(
            "req-06",
            timestamp="2026-11-06T10:00:00Z",
            model_id="anthropic.claude-3-haiku-20240307-v1:0",
            arn=DEV_ARN,
            input_tokens=400000,
            output_tokens=40000,
        ),
        record(
            "req-07",
            timestamp="2026-11-07T10:00:00Z",
            model_id="us.anthropic.claude-sonnet-9-9-v1:0",
            arn=DEV_ARN,
            input_tokens=50000,
            output_tokens=0,
        ),
        record(
            "req-08-a",
            timestamp="2026-11-08T10:00:00Z",
            account=OTHER_ACCOUNT,
            model_id=sonnet,
            arn=b_arn,
            input_tokens=1000000,
            output_tokens=100000,
        ),
        record(
            "req-08-b",
            timestamp="2026-11-08T11:00:00Z",
            account=OTHER_ACCOUNT,
            model_id="global.anthropic.claude-haiku-4-5-20251001-v1:0",
            arn=b_arn,
            input_tokens=500000,
            output_tokens=0,
        ),
    ]


def write_logs(folder: Path, logs: Sequence[dict[str, Any]] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "invocations.json").write_bytes(ndjson(list(logs or scenario_logs())))
    return folder


# ----------------------------------------------------------------------------------------------
# CUR files


def _map_type() -> pa.DataType:
    return pa.map_(pa.string(), pa.string())


def parquet_bytes(lines: Sequence[dict[str, Any]], columns: Sequence[str] = CUR_COLUMNS) -> bytes:
    fields = []
    for name in columns:
        if name in ("product", "resource_tags", "tags"):
            fields.append(pa.field(name, _map_type()))
        elif name in (
            "line_item_usage_amount",
            "line_item_unblended_rate",
            "line_item_unblended_cost",
            "line_item_net_unblended_cost",
            "pricing_public_on_demand_rate",
        ):
            fields.append(pa.field(name, pa.float64()))
        elif name in ("line_item_usage_start_date", "line_item_usage_end_date"):
            fields.append(pa.field(name, pa.timestamp("ms")))
        else:
            fields.append(pa.field(name, pa.string()))
    data: dict[str, list[Any]] = {name: [] for name in columns}
    for line in lines:
        for name in columns:
            value = line.get(name)
            if name in ("product", "resource_tags", "tags"):
                value = list((value or {}).items())
            elif name in ("line_item_usage_start_date", "line_item_usage_end_date"):
                value = datetime.fromisoformat(str(value).replace("Z", "+00:00")).replace(
                    tzinfo=None
                )
            data[name].append(value)
    table = pa.table(data, schema=pa.schema(fields))
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="snappy")
    return buffer.getvalue()


def csv_gz_bytes(lines: Sequence[dict[str, Any]], columns: Sequence[str] = CUR_COLUMNS) -> bytes:
    """CUR 2.0 CSV: map columns as JSON text."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for line in lines:
        row = []
        for name in columns:
            value = line.get(name)
            if isinstance(value, dict):
                value = json.dumps(value)
            row.append("" if value is None else value)
        writer.writerow(row)
    return gzip.compress(out.getvalue().encode())


def deliver(
    root: Path,
    execution: str,
    files: Sequence[tuple[str, bytes]],
    *,
    export_name: str = EXPORT,
    period: str = PERIOD,
    missing: Sequence[str] = (),
    mtime: float | None = None,
) -> Path:
    """Write one delivery as Data Exports does: the data files under
    ``<export>/data/BILLING_PERIOD=…/<execution>/``, then the period's manifest naming them
    (``missing``: names the manifest lists that are not written: a half-written delivery)."""
    export = root / export_name
    data = export / "data" / f"BILLING_PERIOD={period}" / execution
    data.mkdir(parents=True, exist_ok=True)
    uris = []
    for name, content in files:
        (data / name).write_bytes(content)
        uris.append(
            f"s3://{BUCKET}/{S3_PREFIX}/{export_name}/data/BILLING_PERIOD={period}/{execution}/{name}"
        )
    for name in missing:
        uris.append(
            f"s3://{BUCKET}/{S3_PREFIX}/{export_name}/data/BILLING_PERIOD={period}/{execution}/{name}"
        )
    manifest = export / "metadata" / f"BILLING_PERIOD={period}" / f"{export_name}-Manifest.json"
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(
        json.dumps(
            {
                "executionId": execution,
                "exportArn": f"arn:aws:bcm-data-exports:us-east-1:{ACCOUNT}:export/{export_name}",
                "columns": [{"name": c, "type": "string"} for c in CUR_COLUMNS],
                "dataFiles": uris,
            }
        )
    )
    if mtime is not None:
        os.utime(manifest, (mtime, mtime))
    return manifest


def upload(client: Any, root: Path) -> None:
    """The local export tree into s3://BUCKET/S3_PREFIX/ (data files first, manifest last)."""
    client.create_bucket(Bucket=BUCKET)
    paths = sorted(p for p in root.rglob("*") if p.is_file())
    paths.sort(key=lambda p: p.name.endswith("Manifest.json"))
    for path in paths:
        key = f"{S3_PREFIX}/{path.relative_to(root).as_posix()}"
        client.put_object(Bucket=BUCKET, Key=key, Body=path.read_bytes())


# ----------------------------------------------------------------------------------------------
# FOCUS 1.2 with AWS columns (the Data Exports table FOCUS_1_2_AWS)


def focus_line(
    day: str,
    sku_meter: str,
    quantity: float,
    cost: str,
    *,
    unit: str = "1K tokens",
    account: str = ACCOUNT,
    category: str = "Usage",
    service_code: str = "AmazonBedrockService",
    service_name: str = "Amazon Bedrock Service",
    publisher: str = "Amazon Web Services, Inc.",
) -> dict[str, Any]:
    start = datetime.fromisoformat(day)
    return {
        "BilledCost": float(cost),
        "EffectiveCost": float(cost),
        "ListCost": float(cost),
        "BillingAccountId": ACCOUNT,
        "BillingCurrency": "USD",
        "ChargeCategory": category,
        "ChargeDescription": f"{service_name} {sku_meter}",
        "ChargePeriodStart": start,
        "ChargePeriodEnd": start.replace(hour=23),
        "ConsumedQuantity": float(quantity),
        "ConsumedUnit": unit,
        "PricingQuantity": float(quantity),
        "PricingUnit": unit,
        "ListUnitPrice": 0.0,
        "ProviderName": "AWS",
        "PublisherName": publisher,
        "InvoiceIssuerName": "Amazon Web Services, Inc.",
        "RegionId": "us-east-1",
        "ResourceId": None,
        "ServiceName": service_name,
        "SkuMeter": sku_meter,
        "SkuPriceDetails": None,
        "SubAccountId": account,
        "Tags": [("user:team", "platform")],
        "x_Discounts": [],
        "x_Operation": "InvokeModelInference",
        "x_ServiceCode": service_code,
    }


def focus_parquet_bytes(lines: Sequence[dict[str, Any]]) -> bytes:
    text = pa.string()
    fields = []
    for name, value in lines[0].items():
        if name in ("Tags", "x_Discounts"):
            fields.append(pa.field(name, pa.map_(text, text)))
        elif isinstance(value, float):
            fields.append(pa.field(name, pa.float64()))
        elif isinstance(value, datetime):
            fields.append(pa.field(name, pa.timestamp("ms")))
        else:
            fields.append(pa.field(name, text))
    table = pa.Table.from_pylist(list(lines), schema=pa.schema(fields))
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


# ----------------------------------------------------------------------------------------------
# GCP billing export rows


def gcp_row(
    day: str,
    service: str,
    sku: str,
    tokens: int,
    cost: str,
    *,
    region: str = "global",
    credits: Sequence[tuple[str, str]] = (),
    currency: str = "USD",
) -> dict[str, Any]:
    return {
        "billing_account_id": "0A1B2C-3D4E5F-6A7B8C",
        "service": {"id": "C7E2-9256-1C43", "description": service},
        "sku": {"id": f"5A1B-{zlib.crc32(sku.encode()) % 10000:04d}", "description": sku},
        "usage_start_time": f"{day}T00:00:00Z",
        "usage_end_time": f"{day}T01:00:00Z",
        "project": {"id": PROJECT, "labels": []},
        "labels": [],
        "location": {"region": region},
        "cost": float(cost),
        "currency": currency,
        "usage": {
            "amount": tokens,
            "unit": "count",
            "amount_in_pricing_units": tokens / 1_000_000,
            "pricing_unit": "count",
        },
        "credits": [{"name": n, "amount": float(a), "type": "PROMOTION"} for n, a in credits],
        "cost_at_list": float(cost),
        "transaction_type": "GOOGLE",
        "seller_name": None,
        "export_time": f"{day}T06:00:00Z",
    }


def gcp_rows() -> list[dict[str, Any]]:
    ctx = "Context Window Size from 0 to 200000 Tokens"
    long_ctx = "Context Window Size from 200000 to 1000000 Tokens"
    return [
        gcp_row(
            "2026-11-10",
            "Claude Sonnet 4.6",
            f"Claude Sonnet 4.6 — Input Tokens — global — {ctx}",
            1_000_000,
            "3",
            credits=[("FreeTrial", "-0.5")],
        ),
        gcp_row(
            "2026-11-10",
            "Claude Sonnet 4.6",
            f"Claude Sonnet 4.6 — Input Cache Read Tokens — global — {ctx}",
            1_000_000,
            "0.3",
        ),
        gcp_row(
            "2026-11-10",
            "Claude Sonnet 4.6",
            f"Claude Sonnet 4.6 — Input Cache Write Tokens (TTL 300 seconds) — global — {ctx}",
            100_000,
            "0.375",
        ),
        gcp_row(
            "2026-11-10",
            "Claude Sonnet 4.6",
            f"Claude Sonnet 4.6 — Input Cache Write Tokens (TTL 3600 seconds) — global — {ctx}",
            100_000,
            "0.6",
        ),
        gcp_row(
            "2026-11-10",
            "Claude Haiku 4 5",
            f"Claude Haiku 4 5 — Output Tokens — us-east5 — {ctx}",
            200_000,
            "1.1",
            region="us-east5",
        ),
        gcp_row(
            "2026-11-11",
            "Claude Sonnet 4.5",
            f"Claude Sonnet 4.5 — Input Tokens — global — {long_ctx}",
            500_000,
            "3",
        ),
        gcp_row(
            "2026-11-11",
            "Claude 3 Haiku",
            "Claude 3 Haiku Input Tokens",
            4_000_000,
            "1",
            region="us-east5",
        ),
        gcp_row(
            "2026-11-11",
            "Claude Haiku 4 5",
            "Claude Haiku 4 5 — Web Search Requests — global",
            10,
            "0.1",
        ),
        # another service: skipped
        gcp_row("2026-11-11", "Compute Engine", "N2 Instance Core running in Americas", 24, "0.8"),
    ]


def gcp_jsonl_bytes(rows: Sequence[dict[str, Any]]) -> bytes:
    return ("\n".join(json.dumps(r) for r in rows) + "\n").encode()


def gcp_parquet_bytes(rows: Sequence[dict[str, Any]]) -> bytes:
    table = pa.Table.from_pylist(
        [{**r, "labels": None, "project": {"id": r["project"]["id"]}} for r in rows]
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def gcp_csv_gz_bytes(rows: Sequence[dict[str, Any]]) -> bytes:
    """A flattening export query's CSV: ``service.description`` headers, credits as JSON."""
    columns = [
        "billing_account_id",
        "service.id",
        "service.description",
        "sku.id",
        "sku.description",
        "usage_start_time",
        "usage_end_time",
        "project.id",
        "location.region",
        "cost",
        "currency",
        "usage.amount",
        "usage.unit",
        "credits",
        "export_time",
    ]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for r in rows:
        values = []
        for c in columns:
            if "." in c:
                parent, child = c.split(".")
                values.append(r[parent][child])
            elif c == "credits":
                values.append(json.dumps(r["credits"]))
            else:
                values.append(r[c])
        writer.writerow(values)
    return gzip.compress(out.getvalue().encode())
