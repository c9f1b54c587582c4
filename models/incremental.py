"""Incremental builds: what changed since the last build, and whether a full one is needed.

A run costs what it ingests (ARCHITECTURE rule 11). The loader marks, in the same transaction
as the rows it writes, the UTC days its new or changed rows fall on, and the days of the old
versions an upsert replaced (``mark_dirty``), in ``build_dirty_days``. A build then rebuilds
``stg_events`` and the day-partitioned marts only for those days (``models.runner``).

A full rebuild happens instead when something that touches every day changed, announced with
the reason: the first build; ``llmledger build --full``; the reference inputs (people directory,
identity rules and settings, gateway identities, application profiles, the price book with its
overrides, ...), the model SQL files or the set of raw tables (a fingerprint of each, stored in
``build_state``); a raw table that is not partitioned by day and reaches the events (LiteLLM
keys, users, teams: any new or changed row); or a raw table whose row count changed with no
mark (written by hand). A raw table that reaches no event and no day-partitioned mart (the
bills, Claude Code's metrics: ``models.runner.side_tables``) rebuilds only the marts over all
history.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb

# Raw tables partitioned by UTC day, with the column staging takes ``occurred_at`` from. A raw
# table of any other source is taken as touching every day (a full rebuild when it changes):
# correct, but slow; a new event source adds its table here.
DAY_COLUMNS = {
    "raw_bedrock": "occurred_at",
    "raw_vertex_usage": "occurred_at",
    "raw_vertex_audit": "occurred_at",
    "raw_litellm_spend": "start_time",
    "raw_gateway": "occurred_at",
    "raw_claude_code": "occurred_at",
}
# Raw tables only whole-history marts read (``models.runner.side_tables``) whose rows still
# fall on a day, with its column: a change marks its days, and the marts built from it rebuild
# what those days touch (Claude Code's metric points: the sessions they belong to).
SIDE_DAY_COLUMNS = {"raw_claude_code_metrics": "occurred_at"}
# Raw tables whose staging keeps one row per group across days (the same Vertex response logged
# twice): rebuilding a day reads every copy of the groups it holds.
GROUP_KEYS = {"raw_vertex_usage": "response_id"}

# Reference inputs every day depends on, by the name the log gives them. Any other ref_* table
# a model reads is fingerprinted too, under its own name.
REFERENCE_LABELS = {
    "ref_people": "people directory",
    "ref_identity_rules": "identity rules",
    "ref_identity_settings": "identity settings",
    "ref_gateway_identities": "gateway identities",
    "ref_gateway_settings": "gateway settings",
    "ref_model_aliases": "application profiles",
    "price_book": "price book",
}
# build_state keys a publish writes (a build keeps them)
PUBLISH_KEYS = ("published_snapshot_id", "previous_snapshot_id", "published_days")
# Bump when the way a build stores its results changes (a full rebuild follows).
STATE_VERSION = "1"

STATE_DDL = [
    # day NULL: a change that touches every day (a table not partitioned by day)
    "create table if not exists build_dirty_days (raw_table varchar not null, day date)",
    "create table if not exists build_state (key varchar primary key, value varchar not null)",
    # days rebuilt since the last publish; NULL: everything (models.snapshot.publish)
    "create table if not exists publish_pending (day date)",
]


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    for ddl in STATE_DDL:
        con.execute(ddl)


def day_of(column: str) -> str:
    return f"cast(timezone('UTC', {column}) as date)"


def mark_dirty(con: duckdb.DuckDBPyConnection, table: str, rows: str) -> None:
    """Record the days that ``rows`` (a table or view with ``table``'s columns: the new
    versions, or the old ones being replaced) fall on. Inside the loader's transaction."""
    column = DAY_COLUMNS.get(table) or SIDE_DAY_COLUMNS.get(table)
    if column is None:
        con.execute(
            "insert into build_dirty_days select ?, null from (select 1 from "
            f"{rows} limit 1) as any_row",
            [table],
        )
        return
    con.execute(
        f"insert into build_dirty_days select distinct ?, {day_of(column)} from {rows} "
        f"where {column} is not null",
        [table],
    )


@dataclass
class Plan:
    """What a build does: ``full`` (with ``reason``) or the ``days`` whose rows changed."""

    full: bool
    reason: str = ""
    days: set[date] = field(default_factory=set)
    fingerprint: dict[str, str] = field(default_factory=dict)
    # side tables changed (``side_tables``): the whole-history marts are rebuilt, no day is
    refresh: bool = False
    # the days of the changed rows of side tables partitioned by day (SIDE_DAY_COLUMNS)
    side_days: set[date] = field(default_factory=set)


def plan(
    con: duckdb.DuckDBPyConnection,
    sql_files: Iterable[Path],
    *,
    force: str | None = None,
    side: Iterable[str] = (),
) -> Plan:
    """Decide the build (after the reference tables and the price book are loaded); ``side``:
    the raw tables only whole-history marts read (``models.runner.side_tables``)."""
    ensure_tables(con)
    files = sorted(sql_files)
    prints = fingerprint(con, files)
    state = dict(con.execute("select key, value from build_state").fetchall())
    if force:
        return Plan(True, force, fingerprint=prints)
    if not state or not _has_table(con, "stg_events"):
        return Plan(True, "first build", fingerprint=prints)
    for key, value in prints.items():
        if key.startswith("print:") and state.get(key) != value:
            return Plan(True, f"{key.removeprefix('print:')} changed", fingerprint=prints)
    marks = con.execute("select distinct raw_table, day from build_dirty_days").fetchall()
    marked = {str(t) for t, _ in marks}
    side = set(side)
    side_by_day = side & set(SIDE_DAY_COLUMNS)
    side_days = {d for t, d in marks if t in side_by_day and d is not None}
    marks = [(t, d) for t, d in marks if t not in side_by_day]
    whole = sorted({str(t) for t, d in marks if d is None})
    reaching = [t for t in whole if t not in side]
    if reaching:
        return Plan(
            True, f"{', '.join(reaching)} changed (not partitioned by day)", fingerprint=prints
        )
    for key, value in prints.items():
        table = key.removeprefix("rows:")
        if key.startswith("rows:") and state.get(key) != value and table not in marked:
            return Plan(True, f"{table} changed outside ingest", fingerprint=prints)
    return Plan(
        False,
        f"{', '.join(whole)} changed" if whole else "",
        days={d for _, d in marks if d is not None},
        fingerprint=prints,
        refresh=bool(whole),
        side_days=side_days,
    )


def save(
    con: duckdb.DuckDBPyConnection, prints: dict[str, str], rebuilt: Iterable[date] | None
) -> None:
    """After a build (inside its transaction): the marks it consumed are gone, the fingerprints
    and raw row counts are the ones it built from, and the days it rebuilt (None: all) wait for
    the next publish."""
    con.execute("delete from build_dirty_days")
    if rebuilt is None:
        con.execute("insert into publish_pending values (null)")
    elif rebuilt:
        con.executemany("insert into publish_pending values (?)", [[d] for d in set(rebuilt)])
    published = con.execute(
        "select key, value from build_state where key in ("
        + ", ".join(f"'{k}'" for k in PUBLISH_KEYS)
        + ")"
    ).fetchall()
    con.execute("delete from build_state")
    con.executemany("insert into build_state values (?, ?)", sorted(prints.items()))
    if published:
        con.executemany("insert into build_state values (?, ?)", [list(r) for r in published])


def fingerprint(con: duckdb.DuckDBPyConnection, files: list[Path]) -> dict[str, str]:
    """One digest per input that every day depends on, plus each raw table's row count."""
    texts = [p.read_text(encoding="utf-8") for p in files]
    models = hashlib.sha256(STATE_VERSION.encode())
    for path, text in zip(files, texts, strict=True):
        models.update(f"\0{path.parent.name}/{path.name}\0{text}".encode())
    prints = {"print:model SQL files": models.hexdigest()}
    raw = raw_tables(con)
    prints["print:set of raw tables"] = ",".join(raw)
    read = set(re.findall(r"\bref_[a-z0-9_]+\b", "\n".join(texts))) | {"price_book"}
    have = _tables(con)
    for table in sorted(read & have):
        digest = con.execute(
            "select md5(coalesce(string_agg(r, '\n' order by r), '')) from "
            f"(select cast(t as varchar) as r from {table} as t)"
        ).fetchall()[0]
        prints[f"print:{REFERENCE_LABELS.get(table, table)}"] = str(digest[0] if digest else "")
    for table in raw:
        row = con.execute(f"select count(*) from {table}").fetchall()[0]
        prints[f"rows:{table}"] = str(row[0] if row else 0)
    return prints


def raw_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    return sorted(t for t in _tables(con) if t.startswith("raw_"))


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(
        "select table_name from information_schema.tables where table_schema = 'main' "
        "and table_type = 'BASE TABLE'"
    ).fetchall()
    return {str(r[0]) for r in rows}


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return name in _tables(con)


def pending_days(con: duckdb.DuckDBPyConnection, snapshot: Path) -> set[date] | None:
    """The days to publish into a copy of the current snapshot, or None for a whole new one:
    when anything was rebuilt in full since the last publish, or the snapshot file is not the
    one this database last published (missing, replaced, never published)."""
    tables = _tables(con)
    if not {"publish_pending", "build_state"} <= tables or not snapshot.is_file():
        return None
    rows = con.execute("select day from publish_pending").fetchall()
    if any(r[0] is None for r in rows):
        return None
    stored = con.execute(
        "select value from build_state where key = 'published_snapshot_id'"
    ).fetchall()
    if not stored:
        return None
    path = str(snapshot).replace("'", "''")
    try:
        con.execute(f"attach '{path}' as llmledger_published (read_only)")
    except duckdb.Error:
        return None  # not a database we can read: publish a whole new one
    try:
        found = con.execute("select snapshot_id from llmledger_published.snapshot_info").fetchall()
    except duckdb.Error:
        found = []
    finally:
        con.execute("detach llmledger_published")
    if not found or str(found[0][0]) != str(stored[0][0]):
        return None
    return {r[0] for r in rows}


def published(
    con: duckdb.DuckDBPyConnection,
    snapshot_id: str,
    previous_id: str | None = None,
    days: set[date] | None = None,
) -> None:
    """After the snapshot file was replaced: nothing is pending, and which snapshot it was;
    ``previous_id`` the snapshot it replaced (kept as the other generation) and ``days`` the
    days this publish changed relative to it (None: it was written whole), so the next publish
    can bring that older file up to date in place (models.snapshot)."""
    ensure_tables(con)
    con.execute("begin transaction")
    con.execute("delete from publish_pending")
    state = {
        "published_snapshot_id": snapshot_id,
        "previous_snapshot_id": previous_id or "",
        "published_days": "all" if days is None else ",".join(sorted(d.isoformat() for d in days)),
    }
    con.executemany("insert or replace into build_state values (?, ?)", list(state.items()))
    con.execute("commit")


def older_generation_days(con: duckdb.DuckDBPyConnection, older_id: str) -> set[date] | None:
    """The days the snapshot ``older_id`` (the generation the last publish replaced) lacks
    against the current one, when it is that one: the last publish's days. None: unknown, or
    the last publish wrote everything."""
    state = dict(
        con.execute(
            "select key, value from build_state where key in "
            "('previous_snapshot_id', 'published_days')"
        ).fetchall()
    )
    if not older_id or state.get("previous_snapshot_id") != older_id:
        return None
    listed = state.get("published_days")
    if listed is None or listed == "all":
        return None
    return {date.fromisoformat(d) for d in listed.split(",") if d}
