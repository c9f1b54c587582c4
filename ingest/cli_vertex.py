"""Ad hoc Vertex AI ingest commands: `ingest vertex` (Cloud Logging API), `ingest vertex-files`."""

from __future__ import annotations

from pathlib import Path

import click

from ingest.cli_ingest import date_options, run_ad_hoc


@click.command("vertex")
@click.option(
    "--project",
    required=True,
    envvar="LLMLEDGER_VERTEX_PROJECT",
    metavar="P",
    help="Google Cloud project whose logs to read (env LLMLEDGER_VERTEX_PROJECT).",
)
@click.option(
    "--api-endpoint",
    metavar="URL",
    help="Cloud Logging endpoint (default https://logging.googleapis.com): a private "
    "endpoint or a local test server.",
)
@click.option(
    "--anonymous",
    is_flag=True,
    help="Send no credentials (for a local endpoint); otherwise google-auth's chain "
    "(ADC, GOOGLE_APPLICATION_CREDENTIALS, workload identity).",
)
@click.option(
    "--filter",
    "extra_filter",
    metavar="F",
    help="Extra Cloud Logging filter ANDed to the built-in one, e.g. "
    "'resource.labels.project_id=\"acme-ml\"'.",
)
@click.option(
    "--page-size",
    type=click.IntRange(1, 1000),
    default=None,
    metavar="N",
    help="Entries per entries.list call (1-1000, default 1000).",
)
@date_options
@click.pass_context
def vertex(
    ctx: click.Context,
    project: str,
    api_endpoint: str | None,
    anonymous: bool,
    extra_filter: str | None,
    page_size: int | None,
    since: object,
    until: object,
) -> None:
    """Read Claude usage on Vertex AI from Cloud Logging, then build and publish.

    Reads Data Access audit entries for RawPredict/StreamRawPredict on Anthropic models (who
    called) and entries holding Vertex Messages responses (the tokens). Paging keeps under
    60 entries.list calls a minute; the checkpoint per project is (timestamp, insertId).

    \b
    Example:
      llmledger --db ledger.duckdb ingest vertex --project acme-ml --since 2026-11-01
      llmledger ingest vertex --project test --api-endpoint http://127.0.0.1:8089 --anonymous
    """
    options: dict[str, object] = {"project": project}
    if api_endpoint:
        options["api_endpoint"] = api_endpoint
    if anonymous:
        options["anonymous"] = True
    if extra_filter:
        options["filter"] = extra_filter
    if page_size:
        options["page_size"] = page_size
    run_ad_hoc(ctx, "vertex", options, since, until)


@click.command("vertex-files")
@click.argument("directory", type=click.Path(file_okay=False, exists=True))
@date_options
@click.pass_context
def vertex_files(ctx: click.Context, directory: str, since: object, until: object) -> None:
    """Read Cloud Logging exports in a Cloud Storage sink's layout (JSON lines per hour).

    DIR holds `<log name>/YYYY/MM/DD/HH:00:00_HH:59:59_S<n>.json` files, e.g. a `gsutil rsync`
    of the sink's bucket. Files already read are skipped on the next run.

    \b
    Example:
      llmledger --db ledger.duckdb ingest vertex-files ./vertex-logs
    """
    run_ad_hoc(ctx, "vertex_files", {"path": str(Path(directory).resolve())}, since, until)


def register(group: click.Group) -> None:
    """Add this family's `ingest <source>` commands to the ingest group."""
    group.add_command(vertex)
    group.add_command(vertex_files)
