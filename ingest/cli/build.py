"""`llmledger build`: re-run the models and the data checks, publish the snapshot."""

from __future__ import annotations

import sys

import click

from ingest.cli.common import app_context
from ingest.errors import ExitCode


@click.command()
@click.pass_context
def build(ctx: click.Context) -> None:
    """Re-run the models (reference data, price book, staging, marts), run the data checks,
    publish the snapshot. Exit 1 when a data check finds bad rows.

    \b
    Example:
      llmledger --config llmledger.toml build
    """
    from ingest import pipeline
    from models import runner

    app = app_context(ctx)
    con = app.connect()
    try:
        result = pipeline.build(app, con)
        checks = runner.run_checks(con)
        pipeline.publish(app, con)
    finally:
        con.close()
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
