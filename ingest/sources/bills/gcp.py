"""GCP Cloud Billing export rows, exported as files (``bq extract`` / ``EXPORT DATA``): CSV,
JSON lines or Parquet, gzip or plain. The raw table and the parser.

Nested columns arrive as structs (JSON lines, Parquet: ``service.description``) or flattened by
the export query (CSV: ``service.description`` or ``service_description`` headers); both are
read. Only the Claude services (each Claude model is its own service, ``Claude Sonnet 4.5``) are
kept; other lines are counted as skipped. The export has no line id, so a row is keyed by a hash
of the columns that identify it (account, project, service, SKU, usage window, location,
labels, transaction type): exporting the same rows again updates them, never adds.

Vendor field names appear here and in ``models/staging/stg_bill_gcp.sql`` only.
"""

from __future__ import annotations

from typing import Any

import duckdb

from ingest.source import Page, Parsed, RawTable, SourceRun
from ingest.sources.bills import tabular

RAW_TABLE = "raw_gcp_billing"
DDL = f"""
    create table if not exists {RAW_TABLE} (
        line_id varchar not null,
        billing_account_id varchar,
        service_id varchar,
        service_description varchar not null,
        sku_id varchar,
        sku_description varchar not null,
        usage_start_at timestamptz not null,
        usage_end_at timestamptz,
        project_id varchar,
        labels json,
        location_region varchar,
        cost decimal(38, 12) not null,
        currency varchar,
        usage_amount decimal(38, 12),
        usage_unit varchar,
        usage_amount_in_pricing_units decimal(38, 12),
        usage_pricing_unit varchar,
        credits decimal(38, 12),
        cost_at_list decimal(38, 12),
        transaction_type varchar,
        seller_name varchar,
        export_time timestamptz,
        source_location varchar not null
    )
"""
RAW = RawTable(RAW_TABLE, DDL, ("line_id",), prefer="export_time desc nulls last")

REQUIRED = ("service.description", "sku.description", "usage_start_time", "cost", "usage.amount")


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class _Columns:
    """A dotted field (``service.description``) as the file holds it: a struct member, a
    ``service.description`` column or a ``service_description`` one; None when absent."""

    def __init__(self, cols: dict[str, str]) -> None:
        self.cols = cols

    def find(self, field: str) -> tuple[str, str] | None:
        if field in self.cols:
            return tabular.col(field), self.cols[field]
        flat = field.replace(".", "_")
        if flat in self.cols:
            return tabular.col(flat), self.cols[flat]
        if "." in field:
            parent, child = field.split(".", 1)
            typ = self.cols.get(parent, "")
            if typ.upper().startswith("STRUCT"):
                return f"{tabular.col(parent)}.{tabular.col(child)}", "VARCHAR"
            if parent in self.cols:  # a JSON object in text
                return tabular.map_value(tabular.col(parent), typ, child), "VARCHAR"
        return None

    def text(self, field: str) -> str:
        got = self.find(field)
        return tabular.text(got[0]) if got else "cast(null as varchar)"

    def decimal(self, field: str) -> str:
        got = self.find(field)
        return tabular.decimal(got[0], got[1]) if got else "cast(null as decimal(38, 12))"

    def timestamp(self, field: str) -> str:
        got = self.find(field)
        return tabular.timestamp(got[0], got[1]) if got else "cast(null as timestamptz)"

    def json(self, field: str) -> str:
        got = self.find(field)
        return tabular.as_json(got[0], got[1]) if got else "cast(null as json)"

    def credits(self) -> str:
        """The sum of ``credits[].amount``: a list of structs, or its JSON text."""
        got = self.find("credits")
        if got is None:
            return "cast(null as decimal(38, 12))"
        expr, typ = got
        if typ.upper().endswith("[]") or typ.upper().startswith("LIST"):
            return (
                f"list_sum(list_transform({expr}, lambda x: try_cast(cast(x.amount as varchar) "
                "as decimal(38, 12))))"
            )
        return (
            f"list_sum(list_transform(cast(json_extract_string(try_cast({tabular.text(expr)} "
            "as json), '$[*].amount') as varchar[]), lambda x: try_cast(x as decimal(38, 12))))"
        )


def _file_select(scan: str, cols: dict[str, str], location: str) -> str:
    f = _Columns(cols)
    return f"""
        select
            {f.text("billing_account_id")} as billing_account_id,
            {f.text("service.id")} as service_id,
            {f.text("service.description")} as service_description,
            {f.text("sku.id")} as sku_id,
            {f.text("sku.description")} as sku_description,
            {f.timestamp("usage_start_time")} as usage_start_at,
            {f.timestamp("usage_end_time")} as usage_end_at,
            {f.text("project.id")} as project_id,
            {f.json("labels")} as labels,
            {f.text("location.region")} as location_region,
            {f.decimal("cost")} as cost,
            {f.text("currency")} as currency,
            {f.decimal("usage.amount")} as usage_amount,
            {f.text("usage.unit")} as usage_unit,
            {f.decimal("usage.amount_in_pricing_units")} as usage_amount_in_pricing_units,
            {f.text("usage.pricing_unit")} as usage_pricing_unit,
            {f.credits()} as credits,
            {f.decimal("cost_at_list")} as cost_at_list,
            {f.text("transaction_type")} as transaction_type,
            {f.text("seller_name")} as seller_name,
            {f.timestamp("export_time")} as export_time,
            {_literal(location)} as source_location,
            cast(_row as bigint) as _row,
            {f.text("usage_start_time")} as _start_text,
            {f.text("cost")} as _cost_text,
            {f.text("usage.amount")} as _amount_text
        from {scan}
    """


_REASON = """
    case
        when _start_text is null then 'missing usage_start_time'
        when usage_start_at is null then 'invalid usage_start_time'
        when sku_description is null then 'missing sku.description'
        when _cost_text is null then 'missing cost'
        when cost is null then 'wrong type for cost: expected a number'
        when _amount_text is not null and usage_amount is null
            then 'wrong type for usage.amount: expected a number'
        when usage_amount < 0 then 'negative usage.amount'
        when credits > 0 then 'credit with a positive amount (credits are negative)'
        when upper(coalesce(currency, 'USD')) <> 'USD'
            then 'currency ' || currency || ': only USD bills are compared'
    end
"""
_IDENTITY = (
    "billing_account_id, project_id, service_id, service_description, sku_id, sku_description, "
    "usage_start_at, usage_end_at, location_region, labels, transaction_type, seller_name"
)


def parse(con: duckdb.DuckDBPyConnection, page: Page, run: SourceRun) -> Parsed:
    """A page of exported billing files: Claude lines to raw_gcp_billing, bad ones rejected."""
    rejected: list[tuple[str, str]] = []
    selects: list[str] = []
    for f in page.files:
        try:
            scan = tabular.scan_sql(f.path)
            cols = tabular.columns(con, scan)
        except (duckdb.Error, OSError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            rejected.append(
                (f.location, f"unreadable: not CSV, JSON lines or Parquet ({first[:160]})")
            )
            continue
        finder = _Columns(cols)
        missing = [name for name in REQUIRED if finder.find(name) is None]
        if missing:
            rejected.append(
                (
                    f.location,
                    "not a Cloud Billing export file: missing column(s) " + ", ".join(missing),
                )
            )
            continue
        selects.append(_file_select(scan, cols, f.location))
    if not selects:
        return Parsed(rows={}, rejected=rejected)
    name = f"_bill_gcp_{id(page)}"
    con.execute(
        f"create or replace temp table {name} as select *, "
        f"coalesce(service_description like 'Claude%', false) as _llm, {_REASON} as _reason "
        f"from ({' union all by name '.join(selects)})"
    )
    skipped_row = con.execute(f"select count(*) from {name} where not _llm").fetchone()
    skipped = int(skipped_row[0]) if skipped_row else 0
    if skipped:
        run.log("skipped_lines", f"{skipped} line(s) of other services skipped", skipped=skipped)
    bad = con.execute(
        f"select source_location || '#row=' || _row, _reason from {name} "
        "where _llm and _reason is not null order by source_location, _row"
    ).fetchall()
    rejected += [(str(loc), str(reason)) for loc, reason in bad]
    per_file = dict(
        con.execute(
            f"select source_location, count(*) from {name} "
            "where _llm and _reason is null group by 1"
        ).fetchall()
    )
    view = f"{name}_rows"
    con.execute(
        f"create or replace temp view {view} as select md5(to_json(struct_pack({_IDENTITY}))) "
        f"as line_id, * exclude (_llm, _reason, _row, _start_text, _cost_text, _amount_text) "
        f"from {name} where _llm and _reason is null"
    )

    def cleanup(c: Any) -> None:
        c.execute(f"drop view if exists {view}")
        c.execute(f"drop table if exists {name}")

    return Parsed(
        rows={RAW_TABLE: view},
        rejected=rejected,
        records_per_file={f.path: int(per_file.get(f.location, 0)) for f in page.files},
        count=sum(int(v) for v in per_file.values()),
        cleanup=cleanup,
    )
