"""Benchmark: Bedrock ingest against a bare DuckDB scan of the same json.gz files.

    python bench/bedrock_ingest.py            # 1,000,000 records (a few minutes on 2 cores)
    python bench/bedrock_ingest.py --quick    # 100,000 records
    python bench/bedrock_ingest.py --n 300000 --s3 20000

Generates N records of realistic size (a few KB, varied random-text bodies, gzip ratio like
real prompts; bench/bedrock_corpus.py) in S3's key layout, then, in the same run and each in
its own child process (so peak memory is that process's ru_maxrss):

- ``read_json``: ``select count(*) from read_json(files)`` with auto-detection;
- ``read_ndjson``: the explicit columns our parser declares, every one of them built;
- ``ingest``: ``llmledger ingest bedrock-files`` into a fresh database (parse, reject checks,
  upsert, processed objects, cursors, commit per batch);
- ``incremental``: the same ingest again with nothing new.

Targets (ARCHITECTURE rule 1): ingest at most 2.0x the bare scan at 1M records, peak memory
under 2 GB, an incremental run with nothing new under 2% of the first run. The machine is
shared, so every measurement is repeated (--repeat) and the fastest of each is compared.
``--s3 N`` also times the S3 source against moto's server on N records (no target: moto is a
single Python process and dominates the time).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import ingest_runs  # noqa: E402

TARGET_RATIO = 2.0
TARGET_MEMORY_GB = 2.0
TARGET_INCREMENTAL = 0.02


def _files(root: Path) -> list[str]:
    return sorted(str(p) for p in root.rglob("*.json.gz") if "/data/" not in str(p))


def child(kind: str, root: Path, db: Path) -> dict[str, Any]:
    """One measurement, in this (child) process."""
    import duckdb

    from ingest.sources.bedrock import format as bedrock

    started = time.perf_counter()
    detail: dict[str, Any] = {}
    if kind == "read_json":
        con = duckdb.connect()
        files = bedrock._quote_paths(_files(root))
        detail["rows"] = con.execute(f"select count(*) from read_json({files})").fetchall()[0][0]
    elif kind == "read_ndjson":
        con = duckdb.connect()
        files = bedrock._quote_paths(_files(root))
        # count(column) of every declared column makes DuckDB build each one (no projection
        # pushdown skips them) without holding 1M rows of bodies in memory.
        counts = ", ".join(f'count("{c}")' for c in bedrock.RECORD_COLUMNS)
        detail["rows"] = con.execute(
            f"select count(*), {counts} from read_ndjson({files}, columns={bedrock._columns_sql()})"
        ).fetchall()[0][0]
    elif kind in ("ingest", "incremental"):
        detail = ingest_runs.run_source(db, "bedrock-files", {"path": str(root)})
    elif kind == "s3":
        options = {"bucket": "bench-logs", "prefix": "bedrock-logs"}
        detail = ingest_runs.run_source(db, "bedrock-s3", options)
    else:
        raise SystemExit(f"unknown measurement {kind}")
    return ingest_runs.finish(detail, started)


def measure(kind: str, root: Path, db: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--dir", str(root), "--db", str(db)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _corpus(root: Path, n: int, per_file: int) -> tuple[int, int]:
    """Generate (or reuse) the corpus; return (files, compressed bytes)."""
    import bedrock_corpus

    marker = root / f".corpus-{n}-{per_file}"
    if not marker.exists():
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        started = time.perf_counter()
        _, raw = bedrock_corpus.generate(root, n, records_per_file=per_file)
        marker.write_text(str(raw))
        print(f"generated {n:,} records in {time.perf_counter() - started:.0f}s", file=sys.stderr)
    files = _files(root)
    return len(files), sum(os.path.getsize(f) for f in files)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="records (default 1,000,000)")
    parser.add_argument("--quick", action="store_true", help="100,000 records")
    parser.add_argument("--records-per-file", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=2, help="runs of each measurement")
    parser.add_argument("--dir", type=Path, help="corpus folder (kept and reused)")
    parser.add_argument("--s3", type=int, default=0, metavar="N", help="also time S3 on N records")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.dir, args.db)))
        return
    n = 100_000 if args.quick else args.n
    root = args.dir or Path(tempfile.gettempdir()) / f"llmledger-bench-bedrock-{n}"
    files, size = _corpus(root, n, args.records_per_file)
    raw = int(next(root.glob(".corpus-*")).read_text())
    print(
        f"corpus: {n:,} records in {files:,} json.gz files, {size / 1e6:,.0f} MB gzip, "
        f"{raw / 1e6:,.0f} MB JSON ({raw / n / 1000:.1f} KB/record, gzip {raw / size:.1f}x)"
    )
    work = Path(tempfile.mkdtemp(prefix="llmledger-bench-"))
    runs: dict[str, list[dict[str, Any]]] = {
        "read_json": [],
        "read_ndjson": [],
        "ingest": [],
        "incremental": [],
    }
    try:
        for i in range(args.repeat):
            for kind in ("read_json", "read_ndjson"):
                runs[kind].append(measure(kind, root, work / "unused.duckdb"))
            db = work / f"ingest-{i}.duckdb"
            runs["ingest"].append(measure("ingest", root, db))
            runs["incremental"].append(measure("incremental", root, db))
            for kind, results in runs.items():
                r = results[-1]
                print(
                    f"  run {i + 1}: {kind:12s} {r['seconds']:8.2f}s  cpu {r['cpu_seconds']:8.2f}s"
                    f"  peak {r['maxrss_mb']:7.0f} MB",
                    file=sys.stderr,
                )
        best = {k: min(v, key=lambda r: r["seconds"]) for k, v in runs.items()}
        _report(n, best, runs)
        if args.s3:
            _s3(args.s3, work, args.records_per_file)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _report(n: int, best: dict[str, dict[str, Any]], runs: dict[str, list[Any]]) -> None:
    ours = best["ingest"]
    assert ours["new"] == n, ours
    print(f"\n{'measurement':<34}{'seconds':>9}{'cpu s':>9}{'records/s':>12}{'peak MB':>9}")
    labels = {
        "read_json": "bare read_json (auto-detect)",
        "read_ndjson": "bare read_ndjson (our columns)",
        "ingest": "llmledger ingest bedrock-files",
        "incremental": "  again, nothing new",
    }
    for kind, label in labels.items():
        r = best[kind]
        cpu = min(x["cpu_seconds"] for x in runs[kind])
        rate = f"{n / r['seconds']:,.0f}" if kind != "incremental" else "-"
        print(f"{label:<34}{r['seconds']:>9.2f}{cpu:>9.2f}{rate:>12}{r['maxrss_mb']:>9.0f}")
    cpu_ratio = {
        k: min(x["cpu_seconds"] for x in runs["ingest"]) / min(x["cpu_seconds"] for x in runs[k])
        for k in ("read_json", "read_ndjson")
    }
    peak = max(r["maxrss_mb"] for r in runs["ingest"] + runs["incremental"]) / 1024
    checks = [
        ("ingest / read_json", ours["seconds"] / best["read_json"]["seconds"], TARGET_RATIO, "x"),
        (
            "ingest / read_ndjson",
            ours["seconds"] / best["read_ndjson"]["seconds"],
            TARGET_RATIO,
            "x",
        ),
        ("peak memory of ingest (GB)", peak, TARGET_MEMORY_GB, ""),
        (
            "incremental / first run",
            best["incremental"]["seconds"] / ours["seconds"],
            TARGET_INCREMENTAL,
            "%",
        ),
    ]
    print(
        "(targets are judged on wall time, fastest run of each; CPU time ratios: "
        f"{cpu_ratio['read_json']:.2f}x read_json, {cpu_ratio['read_ndjson']:.2f}x read_ndjson)"
    )
    print()
    for label, value, target, unit in checks:
        shown = f"{value * 100:.2f}%" if unit == "%" else f"{value:.2f}{unit}"
        limit = f"{target * 100:.0f}%" if unit == "%" else f"{target:.1f}{unit}"
        verdict = "ok" if value <= target else "MISSED"
        print(f"{label:<34}{shown:>10}   target <= {limit:<6} {verdict}")


def _s3(n: int, work: Path, per_file: int) -> None:
    """The S3 source against moto's server on a smaller corpus (an informational figure)."""
    import logging

    from moto.server import ThreadedMotoServer

    root = work / "s3-corpus"
    files, size = _corpus(root, n, per_file)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    host, port = server.get_host_and_port()
    env = dict(
        os.environ,
        AWS_ENDPOINT_URL=f"http://{host}:{port}",
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
    )
    os.environ.update(env)
    try:
        from ingest import aws

        s3 = aws.client("s3")
        s3.create_bucket(Bucket="bench-logs")
        for path in _files(root):
            s3.put_object(
                Bucket="bench-logs",
                Key=str(Path(path).relative_to(root)),
                Body=Path(path).read_bytes(),
            )
        # moto serves from this process, so the S3 ingest runs in a thread here, not a child.
        started = time.perf_counter()
        result = child("s3", root, work / "s3.duckdb")
        bare = child("read_json", root, work / "unused.duckdb")
        print(
            f"\nS3 via moto, {n:,} records in {files} objects ({size / 1e6:.0f} MB): "
            f"ingest {result['seconds']:.2f}s vs bare read_json of local copies "
            f"{bare['seconds']:.2f}s ({time.perf_counter() - started:.0f}s total)"
        )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
