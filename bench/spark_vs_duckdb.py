"""Benchmark: the same models on the same lake, DuckDB against Spark (`llmledger lake build`).

    python bench/spark_vs_duckdb.py                        # 1,000,000 events, Spark local[2]
    python bench/spark_vs_duckdb.py --events 2000000 --cores 2

A month of history is made with the generator of bench/incremental_run.py (raw Bedrock rows
over 30 days, built once with `llmledger build`) and exported with `llmledger lake export`.
Then `llmledger lake build DIR --engine duckdb` and `--engine spark --master local[C]` each run
in a child process on their own copy of the lake, and the two lakes' marts are compared row for
row (exact DECIMALs: to the cent and beyond). Printed per engine: the whole command's wall
time, the engine's time for the marts (from its log), events per second and per core.

On paper: the per-core rates measured here extrapolate both figures to 20M events, and give
the number of Spark cores at which Spark's time for the marts falls below DuckDB's on one
machine of M cores (DuckDB does not scale out; Spark adds machines). Spark's start-up (the
JVM and the session) is measured too and kept out of the per-core rate.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

from incremental_run import history, run  # noqa: E402  (the big-history generator)

TWENTY_MILLION = 20_000_000


def build(engine: str, lake: Path, cores: int, memory: str = "4g") -> dict[str, Any]:
    args = ["--log-json", "lake", "build", str(lake), "--engine", engine]
    if engine == "spark":
        args += [
            "--master",
            f"local[{cores}]",
            "--conf",
            f"spark.sql.shuffle.partitions={cores * 4}",
            "--conf",
            f"spark.driver.memory={memory}",  # local mode: the one JVM's heap (default 1g)
        ]
        args += ["--conf", "spark.ui.enabled=false"]
    result = run(REPO, args)
    for line in result["log"]:
        if line.startswith("{") and '"lake_built"' in line:
            result.update(json.loads(line))
            return result
    raise SystemExit(f"lake build --engine {engine} logged no result:\n" + "\n".join(result["log"]))


def spark_startup(cores: int) -> float:
    """Seconds to start the JVM and a SparkSession and run one trivial query."""
    from models.lake_build import spark_session

    started = time.perf_counter()
    spark = spark_session(f"local[{cores}]", {"spark.ui.enabled": "false"})
    spark.sql("select 1").collect()
    seconds = time.perf_counter() - started
    spark.stop()
    return seconds


def compare(duck: Path, spark: Path) -> dict[str, tuple[int, int]]:
    """Per mart: (rows, rows that differ either way) between the two lakes."""
    from models import lake
    from models.lake_build import LAKE_MARTS

    con = lake.open_lake(duck)
    other = lake._read_manifest(spark)["tables"]
    con.execute("create schema other")
    out = {}
    try:
        for mart in LAKE_MARTS:
            con.execute(f"create view other.{mart} as {lake._view_sql(spark, mart, other[mart])}")
            rows = con.execute(f"select count(*) from {mart}").fetchall()[0][0]
            differ = con.execute(
                f"select (select count(*) from (select * from {mart} except all "
                f"select * from other.{mart})) + (select count(*) from (select * from "
                f"other.{mart} except all select * from {mart}))"
            ).fetchall()[0][0]
            out[mart] = (int(rows), int(differ))
    finally:
        con.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--cores", type=int, default=min(os.cpu_count() or 2, 2))
    parser.add_argument(
        "--machine-cores",
        type=int,
        default=64,
        help="the one big DuckDB machine to compare Spark's cores against (on paper)",
    )
    parser.add_argument(
        "--spark-memory", default="4g", help="Spark's heap (local mode: spark.driver.memory)"
    )
    opts = parser.parse_args()
    n, cores = opts.events, opts.cores
    with tempfile.TemporaryDirectory(prefix="llmledger-spark-bench-") as tmp:
        work = Path(tmp)
        db = work / "history.duckdb"
        started = time.perf_counter()
        history(REPO, db, n)
        exported = run(REPO, ["--db", str(db), "lake", "export", "--out", str(work / "lake")])
        print(
            f"history: {n:,} events made, built and exported in "
            f"{time.perf_counter() - started:.1f}s (export {exported['seconds']:.1f}s)",
            file=sys.stderr,
        )
        lakes = {e: work / f"lake-{e}" for e in ("duckdb", "spark")}
        for lake_dir in lakes.values():
            shutil.copytree(work / "lake", lake_dir)
        results = {e: build(e, lakes[e], cores, opts.spark_memory) for e in lakes}
        print(
            json.dumps({e: {k: v for k, v in r.items() if k != "log"} for e, r in results.items()}),
            file=sys.stderr,
        )
        startup = spark_startup(cores)
        same = compare(lakes["duckdb"], lakes["spark"])
    print(f"llmledger lake build, {n:,} events, the same lake; DuckDB threads and Spark "
          f"local[{cores}] on {cores} cores")  # fmt: skip
    print(f"{'engine':<8}{'wall s':>9}{'marts s':>9}{'events/s':>11}{'per core':>10}{'peak GB':>9}")
    rates = {}
    for engine, r in results.items():
        marts = float(r["engine_seconds"])
        if engine == "spark":
            marts = max(marts - startup, 1e-9)  # the per-core rate leaves start-up out
        rates[engine] = n / marts / cores
        print(
            f"{engine:<8}{r['seconds']:>9.1f}{float(r['engine_seconds']):>9.1f}"
            f"{n / float(r['engine_seconds']):>11,.0f}{rates[engine]:>10,.0f}{r['peak_gb']:>9.2f}"
        )
    print(f"Spark start-up (JVM + session + one query): {startup:.1f}s")
    differ = sum(d for _, d in same.values())
    print(
        "marts equal row for row (exact DECIMALs): "
        + ("yes" if differ == 0 else f"NO, {differ} rows differ")
        + " — "
        + ", ".join(f"{m} {rows:,}" for m, (rows, _) in same.items())
    )
    duck_20m = TWENTY_MILLION / (rates["duckdb"] * cores)
    spark_20m = startup + TWENTY_MILLION / (rates["spark"] * cores)
    print(
        f"on paper at 20M events, {cores} cores: DuckDB {duck_20m:.0f}s, Spark {spark_20m:.0f}s "
        f"(per-core rates above; Spark with its start-up)"
    )
    for machine in sorted({cores, opts.machine_cores}):
        duck = TWENTY_MILLION / (rates["duckdb"] * machine)
        room = duck - startup
        if room <= 0:
            print(f"  DuckDB on {machine} cores: {duck:.0f}s; Spark's start-up alone is longer")
            continue
        needed = math.ceil(TWENTY_MILLION / (rates["spark"] * room))
        print(
            f"  DuckDB on one {machine}-core machine: {duck:.0f}s at 20M; Spark wins from "
            f"{needed} cores ({rates['duckdb'] / rates['spark']:.1f}x DuckDB's per-core rate "
            "to make up, assuming linear scaling)"
        )


if __name__ == "__main__":
    main()
