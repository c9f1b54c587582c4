"""Builds the SQL models in order: macros, price book, staging, intermediate, marts; runs checks.

No dbt, no Jinja: each ``.sql`` file is one ``select`` (import CTEs, ``select * from final``)
whose first line is a comment stating its grain.

Order:

1. reference tables (created empty when ``models.reference.load_all`` has not run);
2. ``macros.sql``;
3. ``price_book`` (``models.pricing.build_price_book``);
4. ``staging/stg_<source>.sql`` (sorted) as views: one per source, rename and cast, no joins.
   Each selects the ``STAGED_COLUMNS`` first, in order, and may add source-specific columns
   after them for its intermediate models. A source whose raw tables are not in this database
   is skipped;
5. ``intermediate/int_*.sql`` in ``INTERMEDIATE_ORDER`` (then any others, sorted) as views:
   joins and attribution. They read staging, raw tables and each other; one whose inputs were
   not built (its source is absent) is skipped. ``int_<source>_events``, when built, replaces
   ``stg_<source>`` in the events union;
6. ``int_events``: the union of every source's events, ``STAGED_COLUMNS`` only (a view of the
   table ``stg_events``, which holds it: identity_map, gateway_matches and usage_events all
   read it, and the views are not free to recompute);
7. marts in ``MART_ORDER`` as tables, then any others sorted by name (they may read every mart
   above). Marts read staging, intermediate and reference tables, never ``raw_*``. A mart not
   in ``MART_ORDER`` whose inputs were not built is skipped with a warning. A mart in
   ``OPTIONAL_MARTS`` without a file is created empty with the given columns, so
   ``usage_events`` can always join it: ``gateway_matches`` (one row per provider-side
   ``event_id`` already counted from a gateway's log, with the ``gateway_event_id`` counted
   instead; ``usage_events.counted`` is false for those).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from models import pricing
from models.macros import create_macros  # also runner.create_macros, as before

MODELS_DIR = Path(__file__).parent
STAGING_DIR = MODELS_DIR / "staging"
INTERMEDIATE_DIR = MODELS_DIR / "intermediate"
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
    # Counted once: a gateway's own record names its gateway (else NULL), with the provider's
    # request id where it kept one; a provider's record under a configured gateway identity has
    # gateway_role (marts/gateway_matches.sql matches the two).
    "gateway_name",
    "provider_request_id",
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
    "latency_ms": "double",
}

# Columns a staging view may add after the staged ones; int_events gives every source's events
# the column, with this default where the source's view does not stage it (most sources' token
# counts are exact; a gateway that cannot split cached tokens stages 'partial').
# latency_ms: the request's duration as the source logged it (a gateway's whole time, a
# provider's own invocation latency), NULL where it logs none (marts/gateway_daily.sql).
OPTIONAL_STAGED_COLUMNS = {"token_detail": "'exact'", "latency_ms": "null"}

# Explicit build order: each model reads only models above it.
INTERMEDIATE_ORDER = [
    "int_vertex_responses",
    "int_vertex_audit_successes",
    "int_vertex_audit_candidates",
    "int_vertex_audit_callers",
    "int_vertex_events",
    "int_litellm_events",
    "int_litellm_limits",
    "int_claude_code_metric_deltas",
    "int_bill_lines",
    "int_gateway_events",
]
EVENTS = "int_events"
# Staging views of the providers' bills (stg_bill_*): not requests, never in the events union.
BILL_STAGING_PREFIX = "stg_bill_"
MART_ORDER = [
    "identity_map",
    "gateway_matches",
    "claude_code_attribution",
    "usage_events",
    "usage_minute",
    "usage_daily",
]
OPTIONAL_MARTS = {
    "gateway_matches": "event_id varchar, gateway_event_id varchar, "
    "occurred_at timestamp with time zone",
    # Claude Code telemetry matched to provider records (empty without the otel source)
    "claude_code_attribution": "telemetry_event_id varchar, provider_event_id varchar, "
    "match_method varchar, candidates bigint, counts_spend boolean, developer varchar, "
    "team varchar, cost_center varchar, reported_cost_usd decimal(38, 12)",
}


@dataclass
class BuildResult:
    staging: list[str] = field(default_factory=list)
    skipped_staging: dict[str, str] = field(default_factory=dict)  # name -> why
    intermediate: list[str] = field(default_factory=list)
    marts: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    events: int = 0
    mode: str = "full"  # or "incremental"
    reason: str = ""  # why a full rebuild
    days: list[date] = field(default_factory=list)  # the days an incremental build rebuilt


@dataclass
class CheckResult:
    name: str
    rows: int
    sample: list[tuple[Any, ...]]

    @property
    def ok(self) -> bool:
        return self.rows == 0


def build(
    con: duckdb.DuckDBPyConnection, *, incremental: bool = False, full_reason: str = ""
) -> BuildResult:
    """Rebuild the price book, the staging and intermediate views and the marts in one
    transaction.

    With ``incremental``, only the days the loader marked since the last build are rebuilt
    (``models.incremental``, ``models.daybuild``), unless something every day depends on
    changed; ``result.mode``/``result.reason``/``result.days`` say what was done. Otherwise
    (``full_reason``, else "full build requested") everything is rebuilt.
    """
    from models import daybuild
    from models import incremental as state

    result = BuildResult()
    con.execute("set timezone = 'UTC'")
    con.execute("begin transaction")
    try:
        create_macros(con)
        result.warnings += pricing.build_price_book(con)
        force = None if incremental else (full_reason or "full build requested")
        files = model_files()
        plan = state.plan(con, files, force=force, side=side_tables(files))
        result.reason = plan.reason
        if plan.full:
            daybuild.drop_scratch(
                con, sys.modules[__name__]
            )  # int_events may be an incremental build's view
            built = _build_staging(con, result)
            built |= _build_intermediate(con, result, built)
            _build_events(con, result)
            _build_marts(con, result, built | {EVENTS})
        else:
            result.mode = "incremental"
            daybuild.build_days(
                con,
                result,
                plan.days,
                sys.modules[__name__],
                refresh=plan.refresh,
                side_days=plan.side_days,
            )
        build_quarantine(con)
        state.save(con, plan.fingerprint, None if plan.full else result.days)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    row = con.execute("select count(*) from usage_events").fetchall()[0]
    result.events = int(row[0]) if row else 0
    return result


def model_files() -> list[Path]:
    """Every SQL file a build reads: a change to any of them rebuilds everything."""
    return [MODELS_DIR / "macros.sql"] + [
        p for d in (STAGING_DIR, INTERMEDIATE_DIR, MARTS_DIR) for p in sorted(d.glob("*.sql"))
    ]


def side_tables(files: Iterable[Path]) -> set[str]:
    """The raw tables no event and no day-partitioned mart reads, directly or through other
    models (the bills, Claude Code's metrics), from the model files: a change to one rebuilds
    the marts over all history only, not a day of events."""
    from models import daybuild

    paths = list(files)
    stems = {p.stem for p in paths}
    reads: dict[str, set[str]] = {}
    for path in paths:
        code = re.sub(r"--[^\n]*", "", path.read_text(encoding="utf-8"))
        words = set(re.findall(r"\b[a-z_][a-z0-9_]*\b", code))
        reads[path.stem] = {w for w in words if w.startswith("raw_") or w in stems} - {path.stem}
    raw = {w for names in reads.values() for w in names if w.startswith("raw_")}
    staging = sorted(n for n in reads if n.startswith("stg_"))
    intermediate = sorted(n for n in reads if n.startswith("int_"))
    reads[EVENTS] = set(event_members(staging, intermediate))
    todo = [*daybuild.DAY_MARTS, *daybuild.KEYED_MARTS, *daybuild.MATCH_MARTS, EVENTS]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += sorted(reads.get(name, set()))
    return raw - seen


def _inputs(sql: str) -> tuple[set[str], set[str]]:
    """The raw tables and the models (stg_*, int_*) a model's SQL reads (comments ignored)."""
    code = re.sub(r"--[^\n]*", "", sql)
    raw = set(re.findall(r"\braw_[a-z0-9_]+\b", code))
    models = set(re.findall(r"\b(?:stg|int)_[a-z0-9_]+\b", code))
    return raw, models


def _missing(sql: str, tables: set[str], built: set[str]) -> list[str]:
    raw, models = _inputs(sql)
    return sorted((raw - tables) | (models - built))


def _build_staging(con: duckdb.DuckDBPyConnection, result: BuildResult) -> set[str]:
    tables = _tables(con)
    for path in sorted(STAGING_DIR.glob("stg_*.sql")):
        name = path.stem
        sql = path.read_text(encoding="utf-8")
        missing = _missing(sql, tables, set())
        if missing:
            # A source family whose raw table is not in this database (its module is not
            # installed): nothing to stage from it.
            result.skipped_staging[name] = f"missing {', '.join(missing)}"
            continue
        con.execute(f"create or replace view {name} as {sql}")
        if not name.startswith(BILL_STAGING_PREFIX):
            _check_staged_columns(con, name, f"models/staging/{path.name}")
        result.staging.append(name)
    return set(result.staging)


def _check_staged_columns(con: duckdb.DuckDBPyConnection, name: str, where: str) -> None:
    columns = [r[0] for r in con.execute(f"describe {name}").fetchall()]
    if columns[: len(STAGED_COLUMNS)] != STAGED_COLUMNS:
        raise ValueError(
            f"{where} must select the staged columns first, in order: "
            f"{', '.join(STAGED_COLUMNS)} (it selects {', '.join(columns)})"
        )


def _build_intermediate(
    con: duckdb.DuckDBPyConnection, result: BuildResult, built: set[str]
) -> set[str]:
    tables = _tables(con)
    listed = [n for n in INTERMEDIATE_ORDER if (INTERMEDIATE_DIR / f"{n}.sql").is_file()]
    extra = sorted(p.stem for p in INTERMEDIATE_DIR.glob("int_*.sql") if p.stem not in listed)
    done: set[str] = set()
    for name in listed + extra:
        sql = (INTERMEDIATE_DIR / f"{name}.sql").read_text(encoding="utf-8")
        if _missing(sql, tables, built | done):
            continue  # its source is not in this database
        con.execute(f"create or replace view {name} as {sql}")
        if name.endswith("_events"):
            _check_staged_columns(con, name, f"models/intermediate/{name}.sql")
        done.add(name)
        result.intermediate.append(name)
    return done


def event_members(staging: list[str], intermediate: list[str]) -> list[str]:
    """The models whose rows make ``int_events``: per staged source (bills are not requests),
    its ``int_<source>_events`` where that was built, else its staging view. The full and the
    incremental build both take the union of these."""
    members = []
    for name in staging:
        if name.startswith(BILL_STAGING_PREFIX):
            continue
        events = "int_" + name.removeprefix("stg_") + "_events"
        members.append(events if events in intermediate else name)
    return members


def event_columns(con: duckdb.DuckDBPyConnection, relation: str) -> str:
    """The union's select list for one member: the staged columns, typed, then the optional
    ones (OPTIONAL_STAGED_COLUMNS) from the member or their default."""
    has = {str(r[0]) for r in con.execute(f"describe {relation}").fetchall()}
    optional = [
        f"cast({c if c in has else default} as {STAGED_TYPES.get(c, 'varchar')}) as {c}"
        for c, default in OPTIONAL_STAGED_COLUMNS.items()
    ]
    return ", ".join([_typed(c) for c in STAGED_COLUMNS] + optional)


def _build_events(con: duckdb.DuckDBPyConnection, result: BuildResult) -> None:
    """``int_events``: each staged source's events, from ``int_<source>_events`` where that
    intermediate model was built (it adds what the source's own log lacks), else its staging
    view."""
    members = event_members(result.staging, result.intermediate)
    parts = [f"select {event_columns(con, name)} from {name}" for name in members]
    if not parts:  # no source at all: an empty union with the right columns
        parts = [
            "select "
            + ", ".join(
                f"cast(null as {STAGED_TYPES.get(c, 'varchar')}) as {c}"
                for c in [*STAGED_COLUMNS, *OPTIONAL_STAGED_COLUMNS]
            )
            + " where false"
        ]
    stale_view = con.execute(
        "select count(*) from information_schema.tables where table_name = 'stg_events' "
        "and table_type = 'VIEW'"
    ).fetchone()
    if stale_view and stale_view[0]:  # the union's name in older versions (a view)
        con.execute("drop view stg_events")
    # written once, as stg_events (what incremental builds replace day by day); int_events is
    # a view of it, as in an incremental build (a temp table then a copy wrote it twice)
    con.execute("create or replace table stg_events as " + "\nunion all\n".join(parts))
    con.execute(f"create or replace temp view {EVENTS} as select * from stg_events")


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(
        "select table_name from information_schema.tables where table_schema = 'main'"
    ).fetchall()
    return {str(r[0]) for r in rows}


def _typed(column: str) -> str:
    return f"cast({column} as {STAGED_TYPES.get(column, 'varchar')}) as {column}"


def _build_marts(con: duckdb.DuckDBPyConnection, result: BuildResult, built: set[str]) -> None:
    listed = set(MART_ORDER)
    extra = sorted(p.stem for p in MARTS_DIR.glob("*.sql") if p.stem not in listed)
    for name in MART_ORDER + extra:
        path = MARTS_DIR / f"{name}.sql"
        sql = path.read_text(encoding="utf-8") if path.is_file() else ""
        missing = _missing(sql, _tables(con), built)
        if missing and name not in OPTIONAL_MARTS and name not in listed:
            # an extra mart over a source family that is not in this database
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


QUARANTINE_TABLE = "quarantined_rows"


def build_quarantine(con: duckdb.DuckDBPyConnection) -> None:
    """``quarantined_rows``: one row per raw row staging leaves out (the ``quarantined_*``
    checks), with its family, key (the check's first column) and location (its last), so the
    published snapshot can show what no total includes."""
    parts = []
    tables = _tables(con)
    for name in check_names():
        if not name.startswith("quarantined_"):
            continue
        sql = (CHECKS_DIR / f"{name}.sql").read_text(encoding="utf-8")
        raw, models = _inputs(sql)
        if (raw | models) - tables:
            continue
        columns = [d[0] for d in con.execute(f"select * from ({sql}) limit 0").description]
        family = name.removeprefix("quarantined_")
        parts.append(
            f"select '{family}' as source, cast(\"{columns[0]}\" as varchar) as record_key, "
            f'cast("{columns[-1]}" as varchar) as location from ({sql})'
        )
    body = " union all ".join(parts) or (
        "select null::varchar as source, null::varchar as record_key, "
        "null::varchar as location where false"
    )
    con.execute(f"create or replace table {QUARANTINE_TABLE} as {body}")


def run_checks(con: duckdb.DuckDBPyConnection, *, sample: int = 5) -> list[CheckResult]:
    """Run every models/checks/*.sql; each returns the offending rows (none is a pass).

    A check over a staging or intermediate model that this database lacks (its source is
    absent, or a published snapshot, which holds marts only) is not run."""
    results = []
    tables = _tables(con)
    for name in check_names():
        sql = (CHECKS_DIR / f"{name}.sql").read_text(encoding="utf-8")
        raw, models = _inputs(sql)
        if (raw | models) - tables:
            continue
        # only a sample reaches Python (a bad load can offend by millions of rows); the rest
        # is counted in SQL, when there is a rest
        rows = con.execute(f"select * from ({sql}) as offending limit {sample + 1}").fetchall()
        count = len(rows)
        if count > sample:
            counted = con.execute(f"select count(*) from ({sql}) as offending").fetchone()
            count = int(counted[0]) if counted else count
        results.append(CheckResult(name=name, rows=count, sample=rows[:sample]))
    return results
