"""Ingest -> build -> publish, shared by `ingest`, `run`, `demo` and the ad hoc source commands.

``ingest_one`` runs one declared source (``ingest/sources``) through the runner and records the
run; a source that is down or refuses credentials ends as ``SourceUnavailable`` (exit 3) with
its cursor where the last committed page left it.
"""

from __future__ import annotations

import shutil
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb

from ingest.context import AppContext
from ingest.errors import ConfigError, ExitCode, LedgerError
from ingest.loader import LoadResult, record_run
from ingest.source import Shard


@dataclass
class SourceOutcome:
    kind: str
    name: str
    result: LoadResult
    error: LedgerError | None = None
    seconds: float = 0.0


def ingest_one(
    app: AppContext,
    con: duckdb.DuckDBPyConnection,
    kind: str,
    options: dict[str, Any],
    *,
    since: date | None = None,
    until: date | None = None,
    shard: Shard | None = None,
) -> SourceOutcome:
    from ingest import runner, sources

    declared = sources.get(kind)
    if declared is None:
        raise ConfigError(f"no source called {kind!r}; see `llmledger ingest --help`")
    name = declared.name

    started = datetime.now(UTC)
    try:
        result = runner.run_source(
            app, con, declared, options, since=since, until=until, shard=shard
        )
    except LedgerError as exc:
        record_run(
            con,
            source=name,
            started_at=started,
            status="failed",
            result=LoadResult(),
            message=str(exc),
        )
        return SourceOutcome(
            kind, name, LoadResult(), exc, (datetime.now(UTC) - started).total_seconds()
        )
    skipped = result.skipped_note  # out-of-scope records: in the summary and the run log
    record_run(con, source=name, started_at=started, status="ok", result=result, message=skipped)
    seconds = (datetime.now(UTC) - started).total_seconds()
    app.log(
        "source_done",
        f"{name}: {result.new_rows} new, {result.updated_rows} updated, "
        f"{result.rejected_rows} rejected{f', {skipped}' if skipped else ''} in {seconds:.1f}s",
        source=name,
        new=result.new_rows,
        updated=result.updated_rows,
        rejected=result.rejected_rows,
        skipped=dict(result.skipped),
        seconds=round(seconds, 3),
    )
    return SourceOutcome(kind, name, result, None, seconds)


def configured_sources(app: AppContext) -> list[tuple[str, dict[str, Any]]]:
    """(source name, its config table) for every ``[[sources.<name>]]`` in the config."""
    from ingest import sources

    found: list[tuple[str, dict[str, Any]]] = []
    for name in sources.SOURCES:
        for options in app.config.sources(name):
            found.append((name, dict(options)))
    return found


def build(app: AppContext, con: duckdb.DuckDBPyConnection, *, full: bool = False) -> Any:
    """Load the reference data the config names, then rebuild staging views and marts: only
    the days ingested since the last build, unless ``full`` or something every day depends on
    changed (models.incremental), which the log announces.

    Returns models.runner.BuildResult. Unusable reference data (people CSV, a rule's regex, an
    override, the LiteLLM price file) is a ConfigError (exit 2).
    """
    from models import pricing, reference, runner

    cfg = app.config
    try:
        reference.load_all(
            con,
            people_csv=cfg.people_directory,
            identity=cfg.section("identity"),
            application_profiles=cfg.section("bedrock").get("application_profiles", {}),
            price_overrides=cfg.section("prices").get("overrides", []),
            quotas=cfg.raw.get("quotas", []),
            budgets=cfg.raw.get("budgets", []),
            gateway=cfg.section("gateway"),
        )
        litellm_file = cfg.section("prices").get("litellm_file")
        if litellm_file:
            runner.create_macros(con)
            pricing.import_litellm(con, cfg.resolve(litellm_file))
    except (reference.ReferenceDataError, pricing.PriceDataError) as exc:
        raise ConfigError(str(exc)) from None
    result = runner.build(con, incremental=not full, full_reason="--full" if full else "")
    if result.mode == "full":
        app.log("build_full", f"full rebuild: {result.reason}", reason=result.reason)
    else:
        days = [d.isoformat() for d in result.days]
        shown = ", ".join(days[:5]) + (f" and {len(days) - 5} more" if len(days) > 5 else "")
        app.log(
            "build_incremental",
            f"incremental build: {len(days)} day{'' if len(days) == 1 else 's'} rebuilt"
            + (f" ({shown})" if days else "")
            + (f"; {result.reason}: the marts over all days rebuilt" if result.reason else ""),
            days=days,
        )
    for warning in result.warnings:
        app.log("build_warning", f"warning: {warning}")
    return result


def publish(app: AppContext, con: duckdb.DuckDBPyConnection) -> None:
    from models import snapshot

    snapshot.publish(con, app.snapshot_path)
    app.log("published", f"snapshot published: {app.snapshot_path}", path=str(app.snapshot_path))


def finish(app: AppContext, con: duckdb.DuckDBPyConnection, outcomes: list[SourceOutcome]) -> int:
    """Report failures, then build and publish; return the exit code. The errors come first, so
    no "snapshot published" line ever follows a source's failure as if all went well."""
    report_failures(app, outcomes)
    build(app, con)
    publish(app, con)
    return worst(outcomes)


def report_failures(app: AppContext, outcomes: list[SourceOutcome]) -> int:
    """Log each source that failed; the exit code of the worst (0 when none did)."""
    for outcome in outcomes:
        if outcome.error is not None:
            app.log("source_failed", f"error: {outcome.error}", source=outcome.name)
    return worst(outcomes)


def worst(outcomes: list[SourceOutcome]) -> int:
    """The exit code of a set of source outcomes: the worst error's, else 0."""
    codes = [int(o.error.exit_code) for o in outcomes if o.error is not None]
    return max(codes, default=int(ExitCode.OK))


def new_files(app: AppContext) -> list[Path]:
    """The database's files that do not exist yet (call before the first connect): what a first
    run that loads nothing must not leave behind."""
    db, snap = app.db_path, app.snapshot_path
    candidates = [
        db,
        db.with_name(db.name + ".wal"),
        snap,
        snap.with_name(snap.name + ".wal"),
        app.scratch_dir,
    ]
    return [p for p in candidates if not p.exists()]


def nothing_to_keep(
    con: duckdb.DuckDBPyConnection, outcomes: list[SourceOutcome], created: list[Path], db: Path
) -> bool:
    """A first run (the database file is among ``created``) whose every source failed before
    loading a row or a reject: the new database holds nothing worth keeping."""
    if db not in created or not outcomes or any(o.error is None for o in outcomes):
        return False
    tables = [
        str(r[0])
        for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'main' "
            "and (table_name like 'raw\\_%' escape '\\' or table_name = 'rejected_records')"
        ).fetchall()
    ]
    return not any(con.execute(f'select 1 from "{t}" limit 1').fetchall() for t in tables)


def discard(app: AppContext, created: list[Path]) -> None:
    """Remove what a first run that loaded nothing created, so a later `report` does not find
    an empty database and answer "no data"."""
    for path in created:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    app.log(
        "database_discarded",
        f"nothing loaded: {app.db_path} not created (fix the error above and run again)",
        path=str(app.db_path),
    )


def ingest_sources(
    app: AppContext,
    sources: list[tuple[str, dict[str, Any]]],
    *,
    since: date | None = None,
    until: date | None = None,
) -> int:
    """Ingest ``sources`` in order, then build and publish; return the exit code. A first run
    against a new database whose sources all fail before loading anything leaves no file."""
    created = new_files(app)
    # closed here, not left to the garbage collector: a caller in the same process (a test,
    # a notebook) may open the database read-only right after the command returns
    with closing(app.connect()) as con:
        outcomes = [
            ingest_one(app, con, kind, options, since=since, until=until)
            for kind, options in sources
        ]
        empty = nothing_to_keep(con, outcomes, created, app.db_path)
        if not empty:
            return finish(app, con, outcomes)
        report_failures(app, outcomes)
    discard(app, created)
    return worst(outcomes)
