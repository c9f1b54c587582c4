"""`llmledger dashboard`: the Streamlit app on the published snapshot."""

from __future__ import annotations

import click

from ingest.cli.common import app_context
from ingest.dashboard_server import serve


@click.command()
@click.option(
    "--port",
    type=int,
    default=8501,
    show_default=True,
    envvar="LLMLEDGER_PORT",
    help="Port to serve on (env LLMLEDGER_PORT).",
)
@click.option(
    "--address",
    metavar="A",
    help="Address to bind, e.g. 0.0.0.0 [default: 127.0.0.1; all interfaces with sign-in on].",
)
@click.pass_context
def dashboard(ctx: click.Context, port: int, address: str | None) -> None:
    """Serve the managers' dashboard (Streamlit) on the published snapshot.

    It reads the snapshot that `llmledger ingest` publishes, read-only, so it keeps working
    while an ingest runs. Sign-in is off unless [dashboard] auth = true in the config; then
    managers sign in with OIDC (Streamlit's [auth] section in .streamlit/secrets.toml) and see
    the teams the people directory puts under them; [dashboard] admins see everything.

    \b
    Example:
      llmledger --db ledger.duckdb dashboard --port 8501
    """
    serve(app_context(ctx), port=port, address=address)
