"""The format of ``litellm-files`` pages: CSV dumps of the proxy's tables, read in DuckDB with
the PostgreSQL source's SELECTs (``queries.py``) and parsed like its COPY pages (``format.py``)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from ingest.source import Page, Parsed, SourceRun
from ingest.sources.litellm import queries
from ingest.sources.litellm.format import (
    csv_columns,
    csv_scan,
    dimension_parsed,
    dropping_statements,
    proxy_name,
    quote_name,
    read_csv_wire,
    spend_parsed,
    temp_name,
)


def files_page(con: duckdb.DuckDBPyConnection, page: Page, run: SourceRun) -> Parsed:
    """A page of CSV dumps: the spend-log dump, or the dumps of one snapshot's tables, loaded
    into a DuckDB stand-in of the proxy's database and read with the PostgreSQL SELECTs, so the
    same columns are kept and dropped."""
    proxy = proxy_name(run)
    if page.kind != "spend":
        layout: dict[str, dict[str, str]] = {}
        drops = []
        for file in page.files:
            table = str(page.meta["tables"][file.path])
            path = Path(file.path)
            cols = [c for c in csv_columns(con, path) if c != "password"]
            read_csv_wire(con, path, f'"_dump_{table}"', cols)
            layout[table] = {c: "text" for c in cols}
            drops.append(f'drop table if exists "_dump_{table}"')
        sql = queries.dimension_sql(layout, page.kind)
        if sql is None:
            dropping_statements(*drops)(con)
            return Parsed(rows={})
        wire = temp_name("_litellm_dim")
        con.execute(f"create temp table {wire} as {queries.duckdb_dialect(sql)}")
        dropping_statements(*drops)(con)
        return dimension_parsed(con, page.kind, wire, proxy=proxy, source_kind="files")
    spend_file = Path(page.files[0].path)
    have = set(csv_columns(con, spend_file))
    exprs = []
    for wire_column, (column, _) in queries.SPEND_COLUMNS.items():
        value = quote_name(column) if column in have else "null::varchar"
        exprs.append(f"{value} as {wire_column}")
    where = []
    if run.since is not None:
        where.append(f"try_cast(\"startTime\" as timestamptz) >= '{run.since.isoformat()}'")
    if run.until is not None:
        where.append(f"try_cast(\"startTime\" as timestamptz) < '{run.until.isoformat()}'")
    location = str(spend_file).replace("'", "''")
    wire = temp_name("_litellm_wire_loc")
    con.execute(
        f"create temp table {wire} as select "
        + ", ".join(exprs)
        + f", '{location}:' || (row_number() over () + 1) as location from {csv_scan(spend_file)}"
        + (" where " + " and ".join(where) if where else "")
    )
    parsed = spend_parsed(
        con,
        wire,
        proxy=proxy,
        partition=None,  # dumps are remembered in processed_objects, not by a cursor
        source_kind="files",
        source_location=str(spend_file),
        dropping=f"drop table if exists {wire}",
    )
    parsed.records_per_file = {page.files[0].path: parsed.count}
    return parsed
