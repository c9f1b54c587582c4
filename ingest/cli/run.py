"""`llmledger run`: the scheduled job (ingest, build, publish, budgets), one run at a time."""

from __future__ import annotations

import sys

import click

from ingest.cli.common import app_context
from ingest.errors import ConfigError


@click.command("run")
@click.option(
    "--every",
    metavar="DURATION",
    help="Start a run this often: 15m, 1h, 90s (default: the config's run.every).",
)
@click.option("--once", is_flag=True, help="One run, then exit with its exit code (for cron).")
@click.option(
    "--lock-wait",
    type=click.FloatRange(min=0),
    default=0,
    show_default=True,
    metavar="SECONDS",
    help="If another run holds the lock, wait this long for it, then exit 1.",
)
@click.pass_context
def run(ctx: click.Context, every: str | None, once: bool, lock_wait: float) -> None:
    """Ingest every configured source, build, publish and check budgets, one run at a time.

    \b
    A lock file beside the database (<db>.lock) keeps runs from overlapping; a second start
    waits --lock-wait seconds, then exits 1 naming the holder. A lock whose process is gone
    (same host) or whose heartbeat is older than run.lock_stale_minutes (30) is taken over.
    A failing source does not stop the others; the exit code is the worst outcome
    (3 source unreachable, 2 configuration, 1 other failure, 0 ok). A run that sends no budget
    alert says why in one line (no budgets, no webhook, no spend yet, already sent, none due).

    \b
    Example:
      llmledger --config llmledger.toml run --once          # from cron or a systemd timer
      llmledger --config llmledger.toml run --every 15m     # a long-running service
    """
    from ingest import scheduler

    app = app_context(ctx)
    if once:
        scheduler.terminate_cleanly()
        report = scheduler.run_once(app, lock_wait=lock_wait)
        sys.exit(report.exit_code)
    every = every or app.config.section("run").get("every")
    if not every:
        raise ConfigError("give --every DURATION (e.g. 15m) or --once, or set [run] every")
    sys.exit(scheduler.run_forever(app, scheduler.parse_every(every), lock_wait=lock_wait))
