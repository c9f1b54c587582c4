"""AWS CUR 2.0 (Data Exports) data files: the raw table and the parser.

Each page is one delivery of one billing period (``deliveries.py``): its Parquet or gzip CSV
data files. Only the LLM lines are kept — Bedrock's product codes and AWS Marketplace lines for
Claude — and other lines are counted as skipped (logged), not rejected. Rows are keyed by billing
period + delivery + file + row, so re-reading a delivery changes nothing and a new delivery of
the same month lands beside the earlier one; staging (``models/staging/stg_bill_aws.sql``) keeps
the latest delivery of each period only.

Vendor field names appear here and in ``models/staging/stg_bill_aws.sql`` only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import duckdb

from ingest.source import Page, Parsed, RawTable, SourceRun
from ingest.sources.bills import tabular

RAW_TABLE = "raw_aws_cur"
DDL = f"""
    create table if not exists {RAW_TABLE} (
        billing_period varchar not null,
        delivery_id varchar not null,
        delivered_at timestamptz not null,
        loaded_at timestamptz not null,
        file_key varchar not null,
        row_number bigint not null,
        bill_billing_entity varchar,
        product_code varchar,
        usage_type varchar,
        operation varchar,
        line_item_type varchar,
        description varchar,
        usage_start_at timestamptz not null,
        usage_end_at timestamptz,
        usage_account_id varchar,
        resource_id varchar,
        usage_amount decimal(38, 12),
        unblended_rate decimal(38, 12),
        unblended_cost_usd decimal(38, 12),
        net_unblended_cost_usd decimal(38, 12),
        pricing_unit varchar,
        public_on_demand_rate decimal(38, 12),
        region_code varchar,
        product_name varchar,
        iam_principal varchar,
        principal_tags json,
        source_location varchar not null
    )
"""
RAW = RawTable(RAW_TABLE, DDL, ("billing_period", "delivery_id", "file_key", "row_number"))

# One row per delivery read whole, even one with no LLM line: staging counts each period's
# latest delivery only, so a refresh that drops every LLM line still replaces the earlier one.
DELIVERIES_TABLE = "raw_aws_cur_deliveries"
DELIVERIES_DDL = f"""
    create table if not exists {DELIVERIES_TABLE} (
        billing_period varchar not null,
        delivery_id varchar not null,
        delivered_at timestamptz not null,
        loaded_at timestamptz not null,
        data_files bigint not null,
        llm_lines bigint not null,
        skipped_lines bigint not null,
        manifest_location varchar not null
    )
"""
DELIVERIES = RawTable(DELIVERIES_TABLE, DELIVERIES_DDL, ("billing_period", "delivery_id"))

BEDROCK_PRODUCT_CODES = ("AmazonBedrock", "AmazonBedrockService", "AmazonBedrockFoundationModels")
REQUIRED = (
    "line_item_product_code",
    "line_item_usage_type",
    "line_item_line_item_type",
    "line_item_usage_start_date",
    "line_item_usage_account_id",
    "line_item_usage_amount",
    "line_item_unblended_cost",
    "pricing_unit",
)
USAGE_LINE_TYPES = ("Usage", "DiscountedUsage", "SavingsPlanCoveredUsage")

# The FOCUS 1.2 with AWS columns table (FOCUS_1_2_AWS), read as the CUR columns it carries.
# SkuMeter is CUR's usage type (FOCUS 1.0's x_UsageType); FOCUS has no IAM principal.
FOCUS_TO_CUR = {
    "x_ServiceCode": "line_item_product_code",
    "x_Operation": "line_item_operation",
    "ChargeCategory": "line_item_line_item_type",
    "ChargeDescription": "line_item_line_item_description",
    "ChargePeriodStart": "line_item_usage_start_date",
    "ChargePeriodEnd": "line_item_usage_end_date",
    "SubAccountId": "line_item_usage_account_id",
    "ResourceId": "line_item_resource_id",
    "PricingQuantity": "line_item_usage_amount",
    "BilledCost": "line_item_unblended_cost",
    "PricingUnit": "pricing_unit",
    "ListUnitPrice": "pricing_public_on_demand_rate",
    "RegionId": "product_region_code",
    "ServiceName": "product_product_name",
    "Tags": "tags",
}
FOCUS_REQUIRED = (
    "BilledCost",
    "ChargeCategory",
    "ChargePeriodStart",
    "SubAccountId",
    "x_ServiceCode",
    "SkuMeter",
    "PricingQuantity",
    "PricingUnit",
)


def is_focus(cols: dict[str, str]) -> bool:
    return "BilledCost" in cols and "ChargePeriodStart" in cols


def focus_scan(scan: str, cols: dict[str, str]) -> tuple[str, list[str]]:
    """A FOCUS file as a scan with CUR's column names, and the FOCUS columns it lacks."""
    have = dict(cols)
    if "SkuMeter" not in have and "x_UsageType" in have:  # FOCUS 1.0 with AWS columns
        have["SkuMeter"] = have["x_UsageType"]
        usage = tabular.col("x_UsageType")
    else:
        usage = tabular.col("SkuMeter")
    missing = [c for c in FOCUS_REQUIRED if c not in have]
    if missing:
        return scan, missing
    renamed = [f"{tabular.col(f)} as {c}" for f, c in FOCUS_TO_CUR.items() if f in cols]
    publisher = (
        " || ' ' || ".join(
            f"coalesce({tabular.text(tabular.col(c))}, '')"
            for c in ("PublisherName", "InvoiceIssuerName")
            if c in cols
        )
        or "''"
    )
    service = tabular.text(tabular.col("ServiceName")) if "ServiceName" in cols else "''"
    entity = (
        f"case when ({publisher}) ilike '%marketplace%' or ({service} ilike '%claude%' and "
        f"not starts_with({tabular.text(tabular.col('x_ServiceCode'))}, 'AmazonBedrock')) "
        "then 'AWS Marketplace' else 'AWS' end"
    )
    return (
        f"(select {', '.join(renamed)}, {usage} as line_item_usage_type, "
        f"{entity} as bill_billing_entity, _row from {scan})",
        [],
    )


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _file_select(
    scan: str, cols: dict[str, str], *, page: Page, file_key: str, location: str, now: datetime
) -> str:
    def c(name: str) -> str:
        return tabular.col(name) if name in cols else "cast(null as varchar)"

    def typ(name: str) -> str:
        return cols.get(name, "VARCHAR")

    def txt(name: str) -> str:
        return tabular.text(c(name))

    def dec(name: str) -> str:
        return tabular.decimal(c(name), typ(name))

    product = (
        tabular.map_value(c("product"), typ("product"), "product_name")
        if "product" in cols
        else "cast(null as varchar)"
    )
    if "product_product_name" in cols:
        product = f"coalesce({product}, {txt('product_product_name')})"
    region = txt("product_region_code")
    if "product" in cols:
        region = f"coalesce({region}, {tabular.map_value(c('product'), typ('product'), 'region')})"
    tags = "cast(null as json)"
    if "tags" in cols:
        # only the IAM principal's tags (iamPrincipal/<key>): the caller's team, cost centre
        tags_json = tabular.as_json(c("tags"), typ("tags"))
        entries = f"map_entries(try_cast({tags_json} as map(varchar, varchar)))"
        tags = (
            "nullif(to_json(map_from_entries(list_filter("
            f"{entries}, lambda e: starts_with(e.key, 'iamPrincipal/')))), '{{}}')::json"
        )
    meta = page.meta
    return f"""
        select
            {_literal(str(meta["period"]))} as billing_period,
            {_literal(str(meta["delivery_id"]))} as delivery_id,
            cast({_literal(meta["delivered_at"].isoformat())} as timestamptz) as delivered_at,
            cast({_literal(now.isoformat())} as timestamptz) as loaded_at,
            {_literal(file_key)} as file_key,
            cast(_row as bigint) as row_number,
            {txt("bill_billing_entity")} as bill_billing_entity,
            {txt("line_item_product_code")} as product_code,
            {txt("line_item_usage_type")} as usage_type,
            {txt("line_item_operation")} as operation,
            {txt("line_item_line_item_type")} as line_item_type,
            {txt("line_item_line_item_description")} as description,
            {tabular.timestamp(c("line_item_usage_start_date"), typ("line_item_usage_start_date"))}
                as usage_start_at,
            {tabular.timestamp(c("line_item_usage_end_date"), typ("line_item_usage_end_date"))}
                as usage_end_at,
            {txt("line_item_usage_account_id")} as usage_account_id,
            {txt("line_item_resource_id")} as resource_id,
            {dec("line_item_usage_amount")} as usage_amount,
            {dec("line_item_unblended_rate")} as unblended_rate,
            {dec("line_item_unblended_cost")} as unblended_cost_usd,
            {dec("line_item_net_unblended_cost")} as net_unblended_cost_usd,
            {txt("pricing_unit")} as pricing_unit,
            {dec("pricing_public_on_demand_rate")} as public_on_demand_rate,
            {region} as region_code,
            {product} as product_name,
            {txt("line_item_iam_principal")} as iam_principal,
            {tags} as principal_tags,
            {_literal(location)} as source_location,
            {txt("line_item_usage_start_date")} as _start_text,
            {txt("line_item_usage_amount")} as _amount_text,
            {txt("line_item_unblended_cost")} as _cost_text
        from {scan}
    """


_LLM = (
    "product_code in ("
    + ", ".join(_literal(c) for c in BEDROCK_PRODUCT_CODES)
    + ") or (bill_billing_entity = 'AWS Marketplace' "
    "and (product_name ilike '%claude%' or description ilike '%claude%'))"
)
_REASON = f"""
    case
        when _start_text is null then 'missing line_item_usage_start_date'
        when usage_start_at is null then 'invalid line_item_usage_start_date'
        when _amount_text is not null and usage_amount is null
            then 'wrong type for line_item_usage_amount: expected a number'
        when _cost_text is not null and unblended_cost_usd is null
            then 'wrong type for line_item_unblended_cost: expected a number'
        when line_item_type in ({", ".join(_literal(t) for t in USAGE_LINE_TYPES)})
             and usage_amount < 0
            then 'negative line_item_usage_amount on a ' || line_item_type || ' line'
        when line_item_type = 'Credit' and unblended_cost_usd > 0
            then 'Credit line with a positive amount (credits are negative)'
    end
"""


def parse(con: duckdb.DuckDBPyConnection, page: Page, run: SourceRun) -> Parsed:
    """One delivery's data files: LLM lines to raw_aws_cur, bad lines and files rejected."""
    import pyarrow as pa  # here, not at import: every command would load it at start-up

    if "reject" in page.meta:
        return Parsed(rows={}, rejected=[(str(page.meta["location"]), str(page.meta["reject"]))])
    rejected: list[tuple[str, str]] = []
    selects: list[str] = []
    keys: dict[str, str] = dict(page.meta["keys"])
    for f in page.files:
        if f.path == page.meta.get("manifest"):
            continue
        try:
            scan = tabular.scan_sql(f.path)
            cols = tabular.columns(con, scan)
        except (duckdb.Error, OSError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            rejected.append((f.location, f"unreadable: not Parquet or CSV ({first[:160]})"))
            continue
        if is_focus(cols):
            scan, missing = focus_scan(scan, cols)
            if missing:
                rejected.append(
                    (
                        f.location,
                        "not a FOCUS 1.2 with AWS columns file: missing column(s) "
                        + ", ".join(missing),
                    )
                )
                continue
            cols = tabular.columns(con, scan)
        missing = [name for name in REQUIRED if name not in cols]
        if missing:
            rejected.append(
                (
                    f.location,
                    "not a CUR 2.0 data file: missing column(s) " + ", ".join(missing),
                )
            )
            continue
        selects.append(
            _file_select(
                scan, cols, page=page, file_key=keys[f.path], location=f.location, now=run.now
            )
        )
    meta = page.meta
    delivery = pa.table(
        {
            "billing_period": [str(meta["period"])],
            "delivery_id": [str(meta["delivery_id"])],
            "delivered_at": pa.array([meta["delivered_at"]], pa.timestamp("us", tz="UTC")),
            "loaded_at": pa.array([run.now], pa.timestamp("us", tz="UTC")),
            "data_files": [len(keys)],
            "llm_lines": [0],
            "skipped_lines": [0],
            "manifest_location": [str(meta.get("manifest_location", ""))],
        }
    )
    if rejected:
        # a delivery with a file that cannot be read is not complete: none of it is counted
        # (its readable lines are kept in raw_aws_cur, unstaged), the earlier delivery stays
        rejected.append(
            (
                str(meta.get("manifest_location", "")),
                f"delivery {meta['delivery_id']} for {meta['period']} not counted: "
                f"{len(rejected)} of its {len(keys)} data file(s) rejected",
            )
        )
        delivery = delivery.slice(0, 0)
    if not selects:
        return Parsed(rows={DELIVERIES_TABLE: delivery}, rejected=rejected)
    name = f"_bill_cur_{id(page)}"
    con.execute(
        f"create or replace temp table {name} as select *, ({_LLM}) as _llm, {_REASON} as _reason "
        f"from ({' union all by name '.join(selects)})"
    )
    counts = con.execute(
        f"select count(*) filter (where _llm and _reason is null), "
        f"count(*) filter (where not coalesce(_llm, false)) from {name}"
    ).fetchone()
    good, skipped = (int(counts[0]), int(counts[1])) if counts else (0, 0)
    bad = con.execute(
        f"select source_location || '#row=' || row_number, _reason from {name} "
        f"where _llm and _reason is not null order by source_location, row_number"
    ).fetchall()
    rejected += [(str(loc), str(reason)) for loc, reason in bad]
    if skipped:
        run.log(
            "skipped_lines",
            f"{page.meta['period']}: {skipped} line(s) of other services skipped",
            skipped=skipped,
        )
    per_file = {
        str(path): int(n)
        for path, n in con.execute(
            f"select source_location, count(*) from {name} where _llm and _reason is null "
            "group by 1"
        ).fetchall()
    }
    columns = [
        r[0] for r in con.execute(f"describe {name}").fetchall() if not str(r[0]).startswith("_")
    ]
    view = f"{name}_rows"
    con.execute(
        f"create or replace temp view {view} as select {', '.join(columns)} from {name} "
        "where _llm and _reason is null"
    )

    def cleanup(c: Any) -> None:
        c.execute(f"drop view if exists {view}")
        c.execute(f"drop table if exists {name}")

    if delivery.num_rows:
        delivery = delivery.set_column(5, "llm_lines", pa.array([good], pa.int64()))
        delivery = delivery.set_column(6, "skipped_lines", pa.array([skipped], pa.int64()))
    return Parsed(
        rows={RAW_TABLE: view, DELIVERIES_TABLE: delivery},
        rejected=rejected,
        records_per_file={f.path: per_file.get(f.location, 0) for f in page.files},
        count=good,
        cleanup=cleanup,
    )
