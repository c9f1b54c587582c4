"""`llmledger demo`: the sample data through the real ingest paths, a report, the dashboard."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ingest import config as config_mod
from ingest import pipeline
from ingest.cli.common import (
    app_context,
    money_cents,
    open_for_read,
    print_summary,
    require_tables,
)
from ingest.cli.report import print_report_table
from ingest.context import AppContext
from ingest.errors import ConfigError

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "sample_data"
DEFAULT_DEMO_DB = "llmledger-demo.duckdb"


@click.command()
@click.option(
    "--no-dashboard", is_flag=True, help="Print the report and stop; do not start the dashboard."
)
@click.option("--port", type=int, default=8501, show_default=True, help="Dashboard port.")
@click.option(
    "--address",
    metavar="A",
    help="Address the dashboard binds, e.g. 0.0.0.0 [default: 127.0.0.1].",
)
@click.option(
    "--sample-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=SAMPLE_DIR,
    show_default=False,
    help="Where the sample data lives (default: the repository's sample_data/).",
)
@click.pass_context
def demo(
    ctx: click.Context, no_dashboard: bool, port: int, address: str | None, sample_dir: Path
) -> None:
    """Load the sample data through the real ingest paths, print a report, start the dashboard.

    The database is --db (or LLMLEDGER_DB), else ./llmledger-demo.duckdb (run from the
    repository root, as the README does, that is the database sample_data/llmledger.toml names,
    so `--config sample_data/llmledger.toml` finds it later); the demo configuration is
    sample_data/llmledger.toml unless --config is given. The dashboard runs in the
    foreground on http://localhost:8501 (this machine only); Ctrl-C stops it.

    \b
    Example:
      llmledger --db /tmp/demo.duckdb demo --no-dashboard
    """
    root = ctx.find_root().params
    config_file = root.get("config_path") or str(sample_dir / "llmledger.toml")
    if not Path(config_file).is_file():
        raise ConfigError(
            f"demo config {config_file} not found; run from a clone of the repository "
            "or pass --sample-dir DIR"
        )
    base = app_context(ctx) if root.get("config_path") else None
    cfg = base.config if base else config_mod.load(config_file)
    db = Path(root["db"]) if root.get("db") else Path(DEFAULT_DEMO_DB)
    app = AppContext(
        db_path=db, config=cfg, log_json=bool(root.get("log_json")), quiet=bool(root.get("quiet"))
    )
    app.log("demo", f"demo database: {db}")
    code = pipeline.ingest_sources(app, pipeline.configured_sources(app))
    if not app.snapshot_path.is_file():  # every source failed on a new database: no report
        sys.exit(code)
    print_demo_report(app)
    if code != 0:
        sys.exit(code)
    if no_dashboard:
        return
    from ingest.dashboard_server import serve

    serve(app, port=port, address=address)


def print_demo_report(app: AppContext) -> None:
    """The demo's closing report: cost by team, as a table on stdout, then a line per API
    gateway and one on what Claude Code telemetry attributed."""
    from models import claude_code_health, views

    with open_for_read(app) as (con, where):
        require_tables(con, where, "usage_daily")
        rows = views.rows(views.report(con, "team"))
        total = views.totals(con)
        span = views.filter_options(con)
        gateways = views.rows(views.gateway_health(con))
        telemetry = views.rows(claude_code_health.attribution_summary(con))
    # the same table as `llmledger report --by team`: name, cost and share first
    title = f"cost by team, all data: {span['first_day']} to {span['last_day']} (UTC)"
    print_report_table(rows, "team", total["cost_usd"], title=title, wide=False)
    print_summary(total)
    for row in gateways:
        click.echo(
            f"gateway {row['gateway']}: {row['requests']:,} requests, "
            f"{money_cents(row['cost_usd'])} (`llmledger report --by gateway`)"
        )
    if telemetry:
        events = {row["match_method"]: row["events"] for row in telemetry}
        matched = events.get("request_id", 0) + events.get("model_tokens_time", 0)
        others = ", ".join(
            f"{events[m]:,} {m.replace('_', ' ')}"
            for m in claude_code_health.ORDER[2:]
            if m in events
        )
        click.echo(
            f"claude code telemetry: {matched:,} events matched to their provider record"
            + (f" ({others})" if others else "")
            + " (`llmledger report --by session`)"
        )
