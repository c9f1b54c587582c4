"""The ``llmledger`` command line: one click group, one entry point.

stdout carries data; logs and progress go to stderr. Exit codes: 0 ok, 1 data/check failure,
2 usage/config error, 3 a source unreachable or refusing credentials.
"""

from __future__ import annotations

import sys

import click
import duckdb

# One module per command; they import ingest.cli.common, never this package, so no cycle.
from ingest.cli import (
    build,
    collect,
    dashboard,
    demo,
    doctor,
    export,
    ingest,
    lake,
    merge,
    prices,
    report,
    run,
)
from ingest.cli.common import LazyContext, app_context
from ingest.errors import ExitCode, LedgerError, disk_full

EPILOG = """\b
Exit codes: 0 ok, 1 data or check failure, 2 usage or configuration error,
3 a source unreachable or refusing credentials.

\b
Example:
  llmledger demo --no-dashboard   # writes ./llmledger-demo.duckdb
  llmledger --db llmledger-demo.duckdb report --by team
  llmledger --db ledger.duckdb ingest bedrock-s3 --bucket my-logs --prefix bedrock
"""


class LedgerGroup(click.Group):
    """Turns a LedgerError into one line on stderr and its exit code, never a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except LedgerError as exc:
            shown = disk_full(exc) or exc  # a full disk met while handling another error
            click.echo(f"error: {shown}", err=True)
            sys.exit(int(shown.exit_code))
        except (OSError, duckdb.Error) as exc:
            full = disk_full(exc)
            if full is None:
                raise
            click.echo(f"error: {full}", err=True)
            sys.exit(int(full.exit_code))


@click.group(
    cls=LedgerGroup, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.option(
    "--db",
    envvar="LLMLEDGER_DB",
    metavar="PATH",
    help="DuckDB database file (env LLMLEDGER_DB; else the config's; else ./llmledger.duckdb).",
)
@click.option(
    "--config",
    "config_path",
    envvar="LLMLEDGER_CONFIG",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="TOML configuration file (env LLMLEDGER_CONFIG).",
)
@click.option("--log-json", is_flag=True, help="Log one JSON object per event on stderr.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr.")
@click.version_option(package_name="llmledger")
@click.pass_context
def cli(
    ctx: click.Context, db: str | None, config_path: str | None, log_json: bool, quiet: bool
) -> None:
    """llmledger: what your developers' LLM traffic costs, per developer, team and model."""
    ctx.obj = LazyContext(db, config_path, log_json, quiet)


# Register every command (each module imports ingest.cli.common, never this package).
for _command in (
    build.build,
    collect.collect,
    dashboard.dashboard,
    demo.demo,
    doctor.doctor,
    export.export,
    ingest.ingest,
    lake.lake,
    merge.merge,
    prices.prices,
    report.report,
    run.run,
):
    cli.add_command(_command)


def main() -> None:
    try:
        cli.main(standalone_mode=True)
    except LedgerError as exc:  # raised outside a command's invoke (e.g. while parsing)
        click.echo(f"error: {exc}", err=True)
        sys.exit(int(exc.exit_code))


__all__ = ["cli", "main", "app_context", "ExitCode", "LedgerGroup", "EPILOG"]
