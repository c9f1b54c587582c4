"""`llmledger lake export`: the events and every mart as Hive-partitioned Parquet (models.lake)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ingest.cli.common import app_context
from ingest.errors import ConfigError, SourceUnavailable


@click.group()
def lake() -> None:
    """The lake: events and marts as Parquet, partitioned by source and day, with a manifest.

    \b
    Athena, Trino, Spark or DuckDB read it without llmledger; `llmledger report --lake DIR`
    and `llmledger export ... --lake DIR` read it instead of the database.

    \b
    Example:
      llmledger --db llmledger-demo.duckdb lake export --out llm-lake
      llmledger report --lake llm-lake --by team
    """


@lake.command("export")
@click.option("--out", required=True, metavar="DIR", help="The lake folder (created if missing).")
@click.pass_context
def export_lake(ctx: click.Context, out: str) -> None:
    """Write the lake from the published snapshot (else the database), read-only.

    \b
    Incremental: only partitions whose rows changed since the last export are rewritten,
    each under a hidden name and renamed into place; manifest.json is replaced last.
    Raw tables and bodies are never exported.

    \b
    Example:
      llmledger --db llmledger-demo.duckdb lake export --out llm-lake
      llmledger lake export --out s3://analytics-lake/llmledger
    """
    from models import lake as lake_mod

    app = app_context(ctx)
    source = app.snapshot_path if app.snapshot_path.is_file() else app.db_path
    if not source.is_file():
        raise ConfigError(
            f"no database at {app.db_path}; run `llmledger ingest` (or `llmledger demo`) first, "
            "or pass --db PATH"
        )
    try:
        if out.startswith("s3://"):
            summary = _export_s3(source, out, app.memory_limit)
        else:
            summary = lake_mod.export(source, Path(out), memory_limit=app.memory_limit)
    except lake_mod.LakeError as exc:
        raise ConfigError(str(exc)) from None
    app.log(
        "lake_exported",
        f"lake {out}: {summary.tables} tables; {summary.written} partition(s) written, "
        f"{summary.kept} unchanged, {summary.removed} removed",
        tables=summary.tables,
        written=summary.written,
        kept=summary.kept,
        removed=summary.removed,
    )


def _export_s3(source: Path, url: str, memory_limit: str) -> Any:
    import botocore.exceptions

    from ingest import aws
    from models import lake as lake_mod

    try:
        return lake_mod.export_s3(source, url, aws.client("s3"), memory_limit=memory_limit)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        raise SourceUnavailable(
            "lake export",
            f"cannot write {url} ({str(exc).splitlines()[0]})",
            "Check the bucket exists and the credentials may write to it",
        ) from None
