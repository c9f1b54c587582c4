"""`llmledger merge`: combine scaled-out ingest workers' databases, then build and publish."""

from __future__ import annotations

import sys
from contextlib import closing
from pathlib import Path

import click

from ingest.cli.common import app_context


@click.command()
@click.argument("databases", nargs=-1, required=True, metavar="SHARD_DB...")
@click.pass_context
def merge(ctx: click.Context, databases: tuple[str, ...]) -> None:
    """Merge the databases of ingest workers (`ingest ... --shard K/N`, or one worker per
    source) into --db, then build the days they touched and publish.

    \b
    Raw rows are upserted on their natural keys, rejects and processed objects added,
    cursors moved forward; each worker file is opened read-only, after its worker ended.
    Merging a worker again adds nothing; N disjoint shards merged equal one unsharded run.

    \b
    Example:
      for k in 0 1 2; do
        llmledger --db shard-$k.duckdb ingest bedrock-s3 --bucket acme-logs --shard $k/3 &
      done; wait
      llmledger --db ledger.duckdb merge shard-0.duckdb shard-1.duckdb shard-2.duckdb
    """
    from ingest import merge as merging
    from ingest import pipeline
    from ingest.scheduler import run_lock

    app = app_context(ctx)
    with run_lock(app):  # one writer at a time, shared with `ingest`, `run` and `build`
        with closing(app.connect()) as con:
            merged = merging.merge(con, [Path(p) for p in databases])
            result = merged.result
            app.log(
                "merged",
                f"merged {merged.databases} database{'s' if merged.databases != 1 else ''}: "
                f"{result.new_rows} new, {result.updated_rows} updated, "
                f"{merged.cursors} cursor{'s' if merged.cursors != 1 else ''} moved",
                databases=merged.databases,
                new=result.new_rows,
                updated=result.updated_rows,
                cursors=merged.cursors,
            )
            code = pipeline.finish(app, con, [])
    sys.exit(code)
