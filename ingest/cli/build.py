"""`llmledger build`: re-run the models and the data checks, publish the snapshot."""

from __future__ import annotations

import sys

import click

from ingest.cli.common import app_context
from ingest.errors import ExitCode


@click.command()
@click.option(
    "--full",
    is_flag=True,
    help="Rebuild every day, not only the days ingested since the last build.",
)
@click.pass_context
def build(ctx: click.Context, full: bool) -> None:
    """Re-run the models (reference data, price book, staging, marts), run the data checks,
    publish the snapshot. Incremental: only the days ingested since the last build are rebuilt,
    unless --full or a change that touches every day (people directory, identity rules, prices,
    the model files), which the log names. Exit 1 when a data check finds bad rows, or when a
    run is busy (it holds the run lock, as `ingest` and `run` do; the build takes it too).

    \b
    Example:
      llmledger --db llmledger-demo.duckdb --config sample_data/llmledger.toml build
      llmledger --config llmledger.toml build --full
    """
    import duckdb

    from ingest import pipeline
    from ingest.scheduler import LockBusy, run_lock
    from models import runner

    app = app_context(ctx)
    busy = (
        f"busy: another run is writing {app.db_path}; run `llmledger build` again when it "
        "has finished"
    )
    try:
        # the run lock first: a build beside a run would fight it for DuckDB's one writer
        with run_lock(app):
            con = app.connect()
            try:
                result = pipeline.build(app, con, full=full)
                checks = runner.run_checks(con)
                pipeline.publish(app, con)
            finally:
                con.close()
    except LockBusy:
        raise LockBusy(busy) from None
    except duckdb.IOException as exc:  # a writer that does not take the run lock
        if "lock" not in str(exc).lower():
            raise
        raise LockBusy(busy) from None
    app.log(
        "built",
        f"built {len(result.staging)} staging views and {len(result.marts)} marts: "
        f"{result.events:,} usage events",
        events=result.events,
    )
    failed = [c for c in checks if not c.ok]
    for check in failed:
        app.log(
            "check_failed", f"check {check.name}: {check.rows} bad rows, e.g. {check.sample[:3]}"
        )
    if failed:
        sys.exit(int(ExitCode.DATA))
