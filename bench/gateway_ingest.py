"""Benchmark: gateway ingest (kong, anthropic-body) against a bare DuckDB scan of the same files.

    python bench/gateway_ingest.py                   # kong, 50,000 records in 10 files
    python bench/gateway_ingest.py --format anthropic-body --n 20000
    python bench/gateway_ingest.py --repeat 3

Generates N records (tests/gateway_records.py: a Kong logging plugin's record with the AI Proxy
block, or a body logger's record holding an Anthropic SSE stream) as JSON lines, then, in the
same run and each in its own child process:

- ``read_ndjson``: a bare ``read_ndjson`` of the files with explicit columns, the same fields
  the format reads (every one built);
- ``ingest``: ``ingest.runner.run_source('gateway-files')`` into a fresh database (parse,
  checks, upsert, cursors);
- ``command``: the whole ``llmledger ingest gateway-files DIR --format F`` on a fresh database
  (interpreter start, parse and load, the model build, the snapshot).

It prints each one's best time of ``--repeat`` runs (the machine is shared) and the ratios to
the bare scan. The aim elsewhere (ARCHITECTURE rule 1) is an ingest within 2x the bare scan.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(HERE))

import ingest_runs  # noqa: E402

# The fields each format reads, as read_ndjson columns: what a bare scan must build too.
_HEADERS = 'STRUCT("x-user-email" VARCHAR, "x-team" VARCHAR, "x-kong-request-id" VARCHAR)'
BARE_COLUMNS = {
    "kong": {
        "started_at": "VARCHAR",
        "request": f"STRUCT(id VARCHAR, headers {_HEADERS})",
        "response": 'STRUCT(status VARCHAR, headers STRUCT("x-amzn-requestid" VARCHAR, '
        '"request-id" VARCHAR, "x-amzn-errortype" VARCHAR))',
        "latencies": "STRUCT(request VARCHAR, proxy VARCHAR, kong VARCHAR)",
        "route": "STRUCT(id VARCHAR, name VARCHAR)",
        "service": "STRUCT(id VARCHAR, name VARCHAR)",
        "consumer": "STRUCT(id VARCHAR, username VARCHAR, custom_id VARCHAR)",
        "authenticated_entity": "STRUCT(id VARCHAR, consumer_id VARCHAR)",
        "ai": "STRUCT(proxy STRUCT(usage STRUCT(prompt_tokens VARCHAR, completion_tokens VARCHAR, "
        "cost VARCHAR, prompt_tokens_details STRUCT(cached_tokens VARCHAR)), meta STRUCT("
        "provider_name VARCHAR, request_model VARCHAR, response_model VARCHAR, "
        "request_mode VARCHAR, llm_latency VARCHAR)))",
    },
    "anthropic-body": {
        "timestamp": "VARCHAR",
        "request_id": "VARCHAR",
        "status": "VARCHAR",
        "upstream": "VARCHAR",
        "request_time": "VARCHAR",
        "upstream_response_time": "VARCHAR",
        "request_headers": 'STRUCT("x-user-email" VARCHAR, "x-team" VARCHAR)',
        "response_body": "VARCHAR",
    },
}


def generate(root: Path, fmt: str, n: int, files: int) -> None:
    import gateway_records as g

    root.mkdir(parents=True, exist_ok=True)
    per_file = -(-n // files)
    start_ms = 1_795_168_800_000  # 2026-11-20T10:00:00Z
    for f in range(files):
        with open(root / f"{fmt}-{f:03d}.log", "w") as out:
            for i in range(f * per_file, min(n, (f + 1) * per_file)):
                if fmt == "kong":
                    rec = g.kong(
                        f"req-{i:08d}",
                        started_at=start_ms + i * 700,
                        prompt_tokens=10 + i % 900,
                        completion_tokens=20 + i % 4000,
                        cached_tokens=i % 50_000,
                        headers={"x-user-email": f"dev{i % 300}@acme.example"},
                        latencies=(3000 + i % 900, 2900 + i % 800, 40 + i % 100),
                    )
                else:
                    stamp = time.strftime(
                        "%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(start_ms / 1000 + i * 0.7)
                    )
                    rec = g.body_log(
                        f"req-{i:08d}",
                        g.sse(
                            message_id=f"msg_{i:024d}",
                            input_tokens=5 + i % 50,
                            cache_read=i % 90_000,
                            cache_creation=i % 5_000,
                            outputs=(15, 180, 400 + i % 3000),
                        ),
                        timestamp=stamp,
                        user=f"dev{i % 300}@acme.example",
                    )
                out.write(json.dumps(rec) + "\n")


def child(kind: str, root: Path, fmt: str, db: Path) -> dict[str, Any]:
    import duckdb

    started = time.perf_counter()
    detail: dict[str, Any] = {}
    files = sorted(str(p) for p in root.glob("*.log"))
    if kind == "read_ndjson":
        con = duckdb.connect()
        columns = BARE_COLUMNS[fmt]
        spec = "{" + ", ".join(f"'{k}': '{v}'" for k, v in columns.items()) + "}"
        counts = ", ".join(f'count("{c}")' for c in columns)
        detail["rows"] = con.execute(
            f"select count(*), {counts} from read_ndjson({files}, columns={spec})"
        ).fetchall()[0][0]
    elif kind == "ingest":
        detail = ingest_runs.run_source(db, "gateway-files", {"path": str(root), "format": fmt})
    else:
        raise SystemExit(f"unknown measurement {kind}")
    return ingest_runs.finish(detail, started)


def timed(kind: str, root: Path, fmt: str, db: Path) -> dict[str, Any]:
    if kind == "command":
        started = time.perf_counter()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        # this checkout's code (cwd first on sys.path), whatever the environment installed
        command = "from ingest.cli import cli; cli(prog_name='llmledger')"
        subprocess.run(
            [
                sys.executable,
                "-c",
                command,
                "--db",
                str(db),
                "ingest",
                "gateway-files",
                str(root),
                "--format",
                fmt,
            ],  # fmt: skip
            check=True,
            capture_output=True,
            cwd=ROOT,
        )
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        return {"seconds": time.perf_counter() - started, "cpu_seconds": cpu}
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            kind,
            "--dir",
            str(root),
            "--format",
            fmt,
            "--db",
            str(db),
        ],  # fmt: skip
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--format", default="kong", choices=sorted(BARE_COLUMNS))
    parser.add_argument("--n", type=int, default=50_000, help="records (default 50,000)")
    parser.add_argument("--files", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=2, help="runs of each measurement")
    parser.add_argument("--dir", type=Path, help="corpus folder (kept and reused)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.dir, args.format, args.db)))
        return
    root = args.dir or Path(tempfile.gettempdir()) / f"llmledger-bench-{args.format}-{args.n}"
    marker = root / f".corpus-{args.n}-{args.files}"
    if not marker.exists():
        shutil.rmtree(root, ignore_errors=True)
        generate(root, args.format, args.n, args.files)
        marker.write_text("")
    size = sum(p.stat().st_size for p in root.glob("*.log"))
    print(f"corpus: {args.n:,} {args.format} records in {args.files} files, {size / 1e6:.0f} MB")
    work = Path(tempfile.mkdtemp(prefix="llmledger-bench-"))
    runs: dict[str, list[dict[str, Any]]] = {"read_ndjson": [], "ingest": [], "command": []}
    try:
        for i in range(args.repeat):
            for kind in runs:
                runs[kind].append(timed(kind, root, args.format, work / f"{kind}-{i}.duckdb"))
                print(f"  run {i + 1}: {kind:12s} {runs[kind][-1]['seconds']:7.2f}s",
                      file=sys.stderr)  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ingested = runs["ingest"][-1]
    assert ingested["new"] == args.n and not ingested["rejected"], ingested
    # the machine is shared: CPU seconds (every thread of the process) move less with load
    print(f"{'measurement':<40}{'seconds':>9}{'ratio':>7}{'cpu s':>9}{'ratio':>7}")
    labels = {
        "read_ndjson": "bare read_ndjson (the same fields)",
        "ingest": "ingest (run_source: parse and load)",
        "command": "llmledger ingest gateway-files (all)",
    }
    wall = {k: min(r["seconds"] for r in v) for k, v in runs.items()}
    cpu = {k: min(r["cpu_seconds"] for r in v) for k, v in runs.items()}
    for kind, label in labels.items():
        print(
            f"{label:<40}{wall[kind]:>9.2f}{wall[kind] / wall['read_ndjson']:>6.1f}x"
            f"{cpu[kind]:>9.2f}{cpu[kind] / cpu['read_ndjson']:>6.1f}x"
        )


if __name__ == "__main__":
    main()
