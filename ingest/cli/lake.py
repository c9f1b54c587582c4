"""`llmledger lake export`: the events and every mart as Hive-partitioned Parquet (models.lake)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ingest.cli.common import app_context, s3_unavailable
from ingest.errors import ConfigError


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
            summary = _export_s3(source, out, app.memory_limit, app.db_path)
        else:
            summary = lake_mod.export(
                source, Path(out), memory_limit=app.memory_limit, inputs_db=app.db_path
            )
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


def _export_s3(source: Path, url: str, memory_limit: str, inputs_db: Path) -> Any:
    from ingest import aws
    from models import lake as lake_mod

    with s3_unavailable(
        "lake export",
        f"cannot write {url}",
        "Check the bucket exists and the credentials may write to it",
    ):
        return lake_mod.export_s3(
            source, url, aws.client("s3"), memory_limit=memory_limit, inputs_db=inputs_db
        )


@lake.command("build")
@click.argument("lake_dir", metavar="DIR", type=click.Path(path_type=Path))
@click.option(
    "--engine",
    type=click.Choice(["duckdb", "spark"]),
    default="duckdb",
    show_default=True,
    help="Run the models on DuckDB, or on Apache Spark (pip install 'llmledger[spark]', Java 17).",
)
@click.option(
    "--master",
    metavar="URL",
    help="Spark master (local[4], spark://host:7077, yarn, k8s://...); default local[*], "
    "or the one spark-submit set.",
)
@click.option(
    "--conf",
    "confs",
    multiple=True,
    metavar="KEY=VALUE",
    help="A Spark setting, repeatable (spark.sql.shuffle.partitions=200).",
)
@click.pass_context
def build_lake(
    ctx: click.Context, lake_dir: Path, engine: str, master: str | None, confs: tuple[str, ...]
) -> None:
    """Build the marts downstream of the events from the lake alone and write them into it.

    \b
    The lake's model inputs (staged events, reference tables, price book) go through the
    same SQL files as `llmledger build`: identity_map, gateway_matches,
    claude_code_attribution, usage_events, usage_minute, usage_daily, usage_minute_quota.
    On Spark each file is translated from DuckDB SQL with sqlglot at run time.

    \b
    Example:
      llmledger lake build /srv/llm-lake --engine spark
      llmledger lake build /srv/llm-lake --engine spark --master spark://spark-head:7077
    """
    from models import lake as lake_mod
    from models import lake_build

    app = app_context(ctx)
    conf = {}
    for item in confs:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--conf {item}: give a Spark setting as KEY=VALUE")
        conf[key.strip()] = value.strip()
    try:
        summary = lake_build.build(
            lake_dir, engine, master=master, conf=conf, memory_limit=app.memory_limit
        )
    except lake_mod.LakeError as exc:
        raise ConfigError(str(exc)) from None
    skipped = f" ({', '.join(summary.skipped)} empty: no input)" if summary.skipped else ""
    app.log(
        "lake_built",
        f"lake {lake_dir}: {len(summary.marts)} marts built on {engine} from "
        f"{summary.events} events in {summary.engine_seconds:.1f}s{skipped}; "
        f"{summary.written} partition(s) written, {summary.kept} unchanged",
        engine=engine,
        events=summary.events,
        marts=summary.marts,
        engine_seconds=round(summary.engine_seconds, 3),
        mart_seconds=summary.mart_seconds,
        written=summary.written,
        kept=summary.kept,
    )
