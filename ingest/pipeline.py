"""Ingest -> build -> publish, shared by `ingest`, `run`, `demo` and the ad hoc source commands.

``ingest_one`` runs one declared source (``ingest/sources``) through the runner and records the
run; a source that is down or refuses credentials ends as ``SourceUnavailable`` (exit 3) with
its cursor where the last committed page left it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
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
            + (f" ({shown})" if days else ""),
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
    """Build and publish after ingesting; report failures; return the exit code."""
    build(app, con)
    publish(app, con)
    return report_failures(app, outcomes)


def report_failures(app: AppContext, outcomes: list[SourceOutcome]) -> int:
    """Log each source that failed; the exit code of the worst (0 when none did)."""
    failed = [o for o in outcomes if o.error is not None]
    for outcome in failed:
        app.log("source_failed", f"error: {outcome.error}", source=outcome.name)
    if failed:
        return int(max(o.error.exit_code for o in failed if o.error))
    return int(ExitCode.OK)
