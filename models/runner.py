"""Builds the SQL models in order: macros, price book, staging views, marts; runs the checks.

No dbt, no Jinja: each ``.sql`` file is one ``select`` (import CTEs, ``select * from final``)
whose first line is a comment stating its grain.

Order:

1. reference tables (created empty when ``models.reference.load_all`` has not run);
2. ``macros.sql``;
3. ``price_book`` (``models.pricing.build_price_book``);
4. ``staging/int_*.sql`` (sorted) as views: helpers that several models share (no fixed
   columns); then ``staging/stg_*.sql`` (sorted) as views, then ``stg_events``: their union
   (a temp table);
5. marts in ``MART_ORDER`` as tables. A mart in ``OPTIONAL_MARTS`` without a file is created
   empty with the given columns, so ``usage_events`` can always join it. ``gateway_matches``
   is one: one row per provider-side ``event_id`` already counted from a gateway's log
   (``usage_events.counted`` is false for those). The LiteLLM reconciliation replaces it with
   ``marts/gateway_matches.sql`` (which may read ``stg_events`` and ``identity_map``). Marts not
   listed in ``MART_ORDER`` are built after it, sorted by name, and may read every mart above.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from models import pricing
from models.macros import create_macros  # also runner.create_macros, as before

MODELS_DIR = Path(__file__).parent
STAGING_DIR = MODELS_DIR / "staging"
MARTS_DIR = MODELS_DIR / "marts"
CHECKS_DIR = MODELS_DIR / "checks"

# Columns every staging view has, in this order (the contract in notes/CONTRACT.md).
STAGED_COLUMNS = [
    "event_id",
    "source",
    "provider",
    "request_id",
    "occurred_at",
    "principal",
    "person_hint",
    "team_hint",
    "project",
    "model_id",
    "model",
    "region",
    "pricing_scope",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
    "is_batch",
    "reported_cost_usd",
    "status",
    "error_code",
    "billable",
    "gateway_role",
]
STAGED_TYPES = {
    "occurred_at": "timestamptz",
    "input_tokens": "bigint",
    "output_tokens": "bigint",
    "cache_read_tokens": "bigint",
    "cache_write_5m_tokens": "bigint",
    "cache_write_1h_tokens": "bigint",
    "is_batch": "boolean",
    "reported_cost_usd": "decimal(38, 12)",
    "billable": "boolean",
    "gateway_role": "boolean",
}

MART_ORDER = ["identity_map", "gateway_matches", "usage_events", "usage_minute", "usage_daily"]
OPTIONAL_MARTS = {"gateway_matches": "event_id varchar"}


@dataclass
class BuildResult:
    staging: list[str] = field(default_factory=list)
    skipped_staging: dict[str, str] = field(default_factory=dict)  # name -> why
    marts: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    events: int = 0


@dataclass
class CheckResult:
    name: str
    rows: int
    sample: list[tuple[Any, ...]]

    @property
    def ok(self) -> bool:
        return self.rows == 0


def build(con: duckdb.DuckDBPyConnection) -> BuildResult:
    """Rebuild the price book, the staging views and the marts in one transaction."""
    result = BuildResult()
    con.execute("set timezone = 'UTC'")
    con.execute("begin transaction")
    try:
        create_macros(con)
        result.warnings += pricing.build_price_book(con)
        _build_staging(con, result)
        _build_marts(con, result)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    row = con.execute("select count(*) from usage_events").fetchone()
    result.events = int(row[0]) if row else 0
    return result


def _build_staging(con: duckdb.DuckDBPyConnection, result: BuildResult) -> None:
    tables = _tables(con)
    for path in sorted(STAGING_DIR.glob("int_*.sql")):
        sql = path.read_text(encoding="utf-8")
        if not set(re.findall(r"\braw_[a-z0-9_]+\b", sql)) - tables:
            con.execute(f"create or replace view {path.stem} as {sql}")
            tables.add(path.stem)
    for path in sorted(STAGING_DIR.glob("stg_*.sql")):
        name = path.stem
        sql = path.read_text(encoding="utf-8")
        missing = sorted(set(re.findall(r"\braw_[a-z0-9_]+\b", sql)) - tables)
        if missing:
            # A source family whose raw table is not in this database (its module is not
            # installed): nothing to stage from it.
            result.skipped_staging[name] = f"missing {', '.join(missing)}"
            continue
        con.execute(f"create or replace view {name} as {sql}")
        columns = [r[0] for r in con.execute(f"describe {name}").fetchall()]
        if columns != STAGED_COLUMNS:
            raise ValueError(
                f"models/staging/{path.name} must select exactly the staged columns in order: "
                f"{', '.join(STAGED_COLUMNS)} (it selects {', '.join(columns)})"
            )
        result.staging.append(name)
    parts = [
        "select " + ", ".join(_typed(c) for c in STAGED_COLUMNS) + f" from {name}"
        for name in result.staging
    ]
    if not parts:  # no source at all: an empty union with the right columns
        parts = [
            "select "
            + ", ".join(
                f"cast(null as {STAGED_TYPES.get(c, 'varchar')}) as {c}" for c in STAGED_COLUMNS
            )
            + " where false"
        ]
    # Materialised once per build (a temp table): identity_map, gateway_matches and
    # usage_events all read it, and the staging views are not free to recompute.
    stale_view = con.execute(
        "select count(*) from information_schema.tables where table_name = 'stg_events' "
        "and table_type = 'VIEW'"
    ).fetchone()
    if stale_view and stale_view[0]:  # built by an older version as a view
        con.execute("drop view stg_events")
    con.execute("create or replace temp table stg_events as " + "\nunion all\n".join(parts))


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(
        "select table_name from information_schema.tables where table_schema = 'main'"
    ).fetchall()
    return {str(r[0]) for r in rows}


def _typed(column: str) -> str:
    return f"cast({column} as {STAGED_TYPES.get(column, 'varchar')}) as {column}"


def _build_marts(con: duckdb.DuckDBPyConnection, result: BuildResult) -> None:
    listed = set(MART_ORDER)
    extra = sorted(p.stem for p in MARTS_DIR.glob("*.sql") if p.stem not in listed)
    for name in MART_ORDER + extra:
        path = MARTS_DIR / f"{name}.sql"
        sql = path.read_text(encoding="utf-8") if path.is_file() else ""
        missing = sorted(set(re.findall(r"\braw_[a-z0-9_]+\b", sql)) - _tables(con))
        if missing and name not in OPTIONAL_MARTS and name not in listed:
            # an extra mart over a source family whose raw tables are not in this database
            result.warnings.append(f"mart {name} skipped: missing {', '.join(missing)}")
            continue
        if path.is_file() and not missing:
            con.execute(f"create or replace table {name} as {sql}")
        elif name in OPTIONAL_MARTS:
            con.execute(f"create or replace table {name} ({OPTIONAL_MARTS[name]})")
        else:
            raise FileNotFoundError(f"models/marts/{name}.sql is missing")
        result.marts.append(name)


def check_names() -> list[str]:
    return sorted(p.stem for p in CHECKS_DIR.glob("*.sql"))


def run_checks(con: duckdb.DuckDBPyConnection, *, sample: int = 5) -> list[CheckResult]:
    """Run every models/checks/*.sql; each returns the offending rows (none is a pass)."""
    results = []
    for name in check_names():
        sql = (CHECKS_DIR / f"{name}.sql").read_text(encoding="utf-8")
        rows = con.execute(f"select * from ({sql}) as offending").fetchall()
        results.append(CheckResult(name=name, rows=len(rows), sample=rows[:sample]))
    return results
