"""``llmledger lake build``: the marts downstream of the events, built from the lake alone.

The lake holds the models' inputs (``models.lake.MODEL_INPUTS``: the staged events, Claude Code
telemetry's columns, the reference tables; with the published ``price_book`` and
``ref_people``). This runs the mart SQL files of ``LAKE_MARTS`` over them, in order, on one of
two engines, and writes each mart back into the lake in its layout (partitions by source and
day, only changed partitions rewritten, the manifest replaced last):

- ``duckdb``: the files as they are, over views of the lake's Parquet;
- ``spark``: the same files translated to Spark SQL at run time (``models.spark_sql``), on a
  SparkSession (``local[*]`` by default, any cluster through ``master`` or ``spark-submit``).
  Each mart is written by Spark as Parquet into a scratch folder beside the lake and read back
  for the next mart (as DuckDB materialises it as a table); then DuckDB lays the marts out in
  the lake, cast to the types the manifest records, so both engines write the same files.

The other marts (bills, Vertex audit attribution, LiteLLM limits, gateway latency, Claude Code
sessions) read intermediate models of one source's raw tables: they stay as exported.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from models import lake
from models.runner import EVENTS, MARTS_DIR, OPTIONAL_MARTS

ENGINES = ("duckdb", "spark")
# The marts a lake build writes, in build order (each reads only inputs and marts above it).
LAKE_MARTS = [
    "identity_map",
    "gateway_matches",
    "claude_code_attribution",
    "usage_events",
    "usage_minute",
    "usage_daily",
    "usage_minute_quota",
]
# The lake tables those marts read (int_events is the lake's stg_events).
LAKE_INPUTS = [*lake.MODEL_INPUTS, "price_book", "ref_people"]


@dataclass
class BuildSummary:
    engine: str
    marts: dict[str, int] = field(default_factory=dict)  # mart -> rows
    mart_seconds: dict[str, float] = field(default_factory=dict)  # mart -> seconds on the engine
    skipped: list[str] = field(default_factory=list)  # optional marts created empty
    events: int = 0  # rows of stg_events read
    engine_seconds: float = 0.0  # the marts, on the engine
    write_seconds: float = 0.0  # laying them out in the lake
    written: int = 0  # partitions rewritten
    kept: int = 0


def build(
    lake_dir: Path,
    engine: str = "duckdb",
    *,
    master: str | None = None,
    conf: dict[str, str] | None = None,
    memory_limit: str | None = None,
) -> BuildSummary:
    """Build ``LAKE_MARTS`` from the lake at ``lake_dir`` on ``engine`` and write them into it.
    Raises LakeError (not a lake, no model inputs, Spark or Java missing)."""
    lake_dir = Path(lake_dir).absolute()
    if engine not in ENGINES:
        raise lake.LakeError(f"--engine {engine}: choose one of {', '.join(ENGINES)}")
    if not lake_dir.is_dir():
        raise lake.LakeError(
            f"{lake_dir} is not a folder; pass the folder `llmledger lake export` wrote"
        )
    manifest = lake._read_manifest(lake_dir)
    if "stg_events" not in manifest["tables"]:
        raise lake.LakeError(
            f"{lake_dir} holds no model inputs (stg_events); export it again with "
            "`llmledger lake export` where the main database can be read"
        )
    summary = BuildSummary(engine=engine)
    summary.events = int(manifest["tables"]["stg_events"]["rows"])
    con = lake.open_lake(lake_dir, memory_limit=memory_limit)
    try:
        started = time.perf_counter()
        if engine == "duckdb":
            _build_duckdb(con, summary)
        else:
            scratch = lake_dir / f".build-{os.getpid()}"
            try:
                _build_spark(con, lake_dir, manifest, scratch, summary, master, conf or {})
                summary.engine_seconds = time.perf_counter() - started
                started = time.perf_counter()
                _read_back(con, manifest, scratch, summary)
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
        if engine == "duckdb":
            summary.engine_seconds = time.perf_counter() - started
            started = time.perf_counter()
        built = [m for m in LAKE_MARTS if m in summary.marts]
        written = lake.write_tables(con, lake_dir, lake.table_specs(con, "lake_build", built))
        summary.written, summary.kept = written.written, written.kept
        summary.write_seconds = time.perf_counter() - started
    finally:
        con.close()
    return summary


def mart_sql(name: str) -> str | None:
    """The mart's SQL file, or None for an optional mart whose inputs the lake lacks."""
    path = MARTS_DIR / f"{name}.sql"
    return path.read_text(encoding="utf-8") if path.is_file() else None


def _reads_missing(sql: str, have: set[str]) -> bool:
    """Whether the SQL reads a staging or intermediate model the lake does not hold."""
    code = re.sub(r"--[^\n]*", "", sql)
    wanted = set(re.findall(r"\b(?:stg|int)_[a-z0-9_]+\b", code)) - {EVENTS}
    return bool(wanted - have)


def _lake_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute("select table_name from information_schema.tables").fetchall()
    return {str(r[0]) for r in rows}


def _build_duckdb(con: duckdb.DuckDBPyConnection, summary: BuildSummary) -> None:
    """The mart files as they are, over the lake's views; each mart a table of ``lake_build``."""
    from models.macros import create_macros

    have = _lake_tables(con)
    con.execute("attach ':memory:' as lake_build")
    con.execute(f"create or replace view {EVENTS} as select * from stg_events")
    create_macros(con)  # the reference tables the lake lacks (staging's) are created empty
    for name in LAKE_MARTS:
        sql = mart_sql(name)
        con.execute(f"drop view if exists main.{name}")
        started = time.perf_counter()
        if sql is None or _reads_missing(sql, have):
            _empty_optional(con, name, summary)
        else:
            con.execute(f"create table lake_build.{name} as {sql}")
        summary.mart_seconds[name] = round(time.perf_counter() - started, 3)
        con.execute(f"create view main.{name} as select * from lake_build.{name}")
        summary.marts[name] = _rows(con, name)


def _empty_optional(con: duckdb.DuckDBPyConnection, name: str, summary: BuildSummary) -> None:
    if name not in OPTIONAL_MARTS:
        raise lake.LakeError(f"the lake lacks an input of models/marts/{name}.sql")
    con.execute(f"create table lake_build.{name} ({OPTIONAL_MARTS[name]})")
    summary.skipped.append(name)


def _rows(con: duckdb.DuckDBPyConnection, name: str) -> int:
    row = con.execute(f"select count(*) from lake_build.{name}").fetchone()
    return int(row[0]) if row else 0


# ---------------------------------------------------------------------------------------------
# Spark


def spark_session(master: str | None = None, conf: dict[str, str] | None = None) -> Any:
    """A SparkSession with the settings the translated models need (``SPARK_CONF``): ``master``
    (default: the one spark-submit set, else ``local[*]``) and ``conf`` on top. Raises
    LakeError when pyspark or Java is missing."""
    from models.spark_sql import SPARK_CONF

    try:
        from pyspark import SparkConf
        from pyspark.sql import SparkSession
    except ImportError:
        raise lake.LakeError(
            "--engine spark needs pyspark: pip install 'llmledger[spark]' (and Java 17)"
        ) from None
    if not shutil.which("java") and not os.environ.get("JAVA_HOME"):
        raise lake.LakeError(
            "--engine spark needs Java 17 (e.g. apt-get install openjdk-17-jre-headless)"
        )
    builder = SparkSession.builder.appName("llmledger lake build")
    if master or not SparkConf().contains("spark.master"):  # spark-submit sets it
        builder = builder.master(master or "local[*]")
        if (master or "local").startswith("local"):
            # a local Spark talks to itself on loopback only, whatever the host name resolves to
            builder = builder.config("spark.driver.bindAddress", "127.0.0.1").config(
                "spark.driver.host", "127.0.0.1"
            )
    for key, value in {**SPARK_CONF, **(conf or {})}.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def _build_spark(
    con: duckdb.DuckDBPyConnection,
    lake_dir: Path,
    manifest: dict[str, Any],
    scratch: Path,
    summary: BuildSummary,
    master: str | None,
    conf: dict[str, str],
) -> None:
    from models.spark_sql import translate

    spark = spark_session(master, conf)
    have = set(manifest["tables"])
    columns: dict[str, list[str]] = {}  # every view the models may read, for translate
    for name in LAKE_INPUTS:
        if name in manifest["tables"]:
            columns[name] = _register(spark, lake_dir, name, manifest["tables"][name])
    spark.sql("select * from stg_events").createOrReplaceTempView(EVENTS)
    columns[EVENTS] = columns["stg_events"]
    for name in LAKE_MARTS:
        sql = mart_sql(name)
        if sql is None or _reads_missing(sql, have):
            if name not in OPTIONAL_MARTS:
                raise lake.LakeError(f"the lake lacks an input of models/marts/{name}.sql")
            frame = spark.sql(_empty_select(OPTIONAL_MARTS[name]))
            summary.skipped.append(name)
        else:
            frame = spark.sql(translate(sql, columns))
        out = scratch / name
        started = time.perf_counter()
        frame.write.mode("overwrite").parquet(str(out))
        summary.mart_seconds[name] = round(time.perf_counter() - started, 3)
        spark.read.parquet(str(out)).createOrReplaceTempView(name)
        columns[name] = list(frame.columns)


def _register(spark: Any, lake_dir: Path, name: str, table: dict[str, Any]) -> list[str]:
    """A lake table as a Spark temp view, named and typed as in the manifest; its columns.
    The table's folder is read whole (Spark discovers the partitions in one listing; the
    hidden staging folders of an export are not read)."""
    from models.spark_sql import spark_type

    columns = [(c["name"], c["type"]) for c in table["columns"]]
    if not table["partitions"]:
        nulls = ", ".join(f"cast(null as {spark_type(t)}) as `{c}`" for c, t in columns)
        spark.sql(f"select {nulls} where false").createOrReplaceTempView(name)
        return [c for c, _ in columns]
    cells = ", ".join(f"cast(`{c}` as {spark_type(t)}) as `{c}`" for c, t in columns)
    spark.read.parquet(str(lake_dir / name)).createOrReplaceTempView(f"{name}__lake")
    spark.sql(f"select {cells} from {name}__lake").createOrReplaceTempView(name)
    return [c for c, _ in columns]


def _empty_select(columns: str) -> str:
    from models.spark_sql import spark_type

    cells = []
    for column in columns.split(","):
        name, kind = column.strip().split(" ", 1)
        cells.append(f"cast(null as {spark_type(kind)}) as `{name}`")
    return f"select {', '.join(cells)} where false"


def _read_back(
    con: duckdb.DuckDBPyConnection,
    manifest: dict[str, Any],
    scratch: Path,
    summary: BuildSummary,
) -> None:
    """Spark's marts into DuckDB tables, typed as the lake's manifest records them (the types
    DuckDB's build gives them), for the lake writer."""
    con.execute("attach ':memory:' as lake_build")
    for name in LAKE_MARTS:
        files = f"{lake._quote(str(scratch / name))}/*.parquet"
        known = manifest["tables"].get(name)
        if known:
            cells = ", ".join(
                f"cast({lake._ident(c['name'])} as {c['type']}) as {lake._ident(c['name'])}"
                for c in known["columns"]
            )
        else:
            cells = "*"
        con.execute(
            f"create table lake_build.{name} as select {cells} from read_parquet('{files}')"
        )
        summary.marts[name] = _rows(con, name)


def main(argv: list[str]) -> int:
    """``spark-submit .../models/lake_build.py DIR``: the Spark build under spark-submit's
    master and settings."""
    if len(argv) != 1:
        print("usage: spark-submit [options] lake_build.py DIR", flush=True)
        return 2
    try:
        summary = build(Path(argv[0]), "spark")
    except lake.LakeError as exc:
        print(f"error: {exc}", flush=True)
        return 2
    print(f"{len(summary.marts)} marts built on spark from {summary.events} events", flush=True)
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
