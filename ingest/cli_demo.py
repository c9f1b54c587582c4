"""`llmledger demo`: the sample data through the real ingest paths, a report, the dashboard."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ingest import config as config_mod
from ingest import pipeline
from ingest.context import AppContext
from ingest.errors import ConfigError

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "sample_data"
DEFAULT_DEMO_DB = "llmledger-demo.duckdb"


@click.command()
@click.option(
    "--no-dashboard", is_flag=True, help="Print the report and stop; do not start the dashboard."
)
@click.option("--port", type=int, default=8501, show_default=True, help="Dashboard port.")
@click.option(
    "--sample-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=SAMPLE_DIR,
    show_default=False,
    help="Where the sample data lives (default: the repository's sample_data/).",
)
@click.pass_context
def demo(ctx: click.Context, no_dashboard: bool, port: int, sample_dir: Path) -> None:
    """Load the sample data through the real ingest paths, print a report, start the dashboard.

    The database is --db (or LLMLEDGER_DB), else ./llmledger-demo.duckdb; the demo configuration
    is sample_data/llmledger.toml unless --config is given.

    \b
    Example:
      llmledger --db /tmp/demo.duckdb demo --no-dashboard
    """
    from ingest.cli import app_context

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
    con = app.connect()
    outcomes = [
        pipeline.ingest_one(app, con, kind, options)
        for kind, options in pipeline.configured_sources(app)
    ]
    code = pipeline.finish(app, con, outcomes)
    con.close()
    from ingest.cli_reports import print_demo_report

    print_demo_report(app)
    if code != 0:
        sys.exit(code)
    if no_dashboard:
        return
    from ingest.cli_dashboard import serve

    serve(app, port=port)


COMMANDS: list[click.Command] = [demo]
