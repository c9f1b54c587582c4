"""Benchmark: `llmledger build --full` over Vertex AI calls in bursts against the same spread out.

    python bench/vertex_burst.py                       # 200,000 calls, 50 a second, 3 rounds
    python bench/vertex_burst.py --calls 50000 --rate 20 --before /tmp/before

A Vertex response names no caller; the build attributes it through the audit entry of the same
project, region and model within the match window (2 s), when exactly one candidate exists on
each side. A busy project puts many calls of one model in every window: at 50 calls a second
each response has ~200 candidates. Two histories of N responses and N successful audit entries,
one project and one model: *spread*, a call every 5 s (each response has exactly one candidate
and is attributed), and *burst*, RATE calls a second (none is). The raw rows are written
straight into the raw tables (the ingest is not what is measured), then the whole
`llmledger build --full` command (models, checks, publish) runs as a child process on a copy of
each, alternating; the figure is burst / spread per round (median). The build should cost what
the calls cost, not their density: a pairing of every response with every audit entry in its
window grows with the square of the rate. ``--before DIR`` times an older checkout's code too
(PYTHONPATH=DIR), in the same rounds.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

MODEL = "claude-sonnet-4-5@20250929"
START = "2026-11-02 09:00:00+00"


def make_history(path: Path, calls: int, interval_us: int) -> None:
    """N responses and N successful audit entries, one every ``interval_us``, each audit entry
    300 ms after its response."""
    from ingest.config import Config
    from ingest.context import AppContext

    con = AppContext(db_path=path, config=Config(path=None)).connect()
    con.execute(
        f"""insert into raw_vertex_usage select 'u' || i,
            timestamptz '{START}' + to_microseconds(i * {interval_us}),
            'projects/acme-ml/logs/claude-gateway', 'messages', 'acme-ml', 'us-east5', 'e',
            'msg_' || i, '{MODEL}', null, null, 1000 + i % 7, 200 + i % 13, 0, 0, null, null,
            null, 'bench', 'bench'
            from range({calls}) as t(i)"""
    )
    con.execute(
        f"""insert into raw_vertex_audit select 'a' || i,
            timestamptz '{START}' + to_microseconds(i * {interval_us} + 300000),
            'projects/acme-ml/logs/cloudaudit.googleapis.com%2Fdata_access', 'acme-ml',
            'us-east5', 'google.cloud.aiplatform.v1.PredictionService.StreamRawPredict',
            'projects/acme-ml/locations/us-east5/publishers/anthropic/models/{MODEL}', '{MODEL}',
            'dev' || (i % 500) || '@acme.example', null, [], 'claude-cli', 0, null, null,
            'bench', 'bench'
            from range({calls}) as t(i)"""
    )
    con.execute("checkpoint")
    con.close()


def build(command: list[str], db: Path, env: dict[str, str]) -> tuple[float, float]:
    """Seconds of the whole command, and the peak memory of its process in GB."""
    with tempfile.TemporaryFile() as log:
        started = time.perf_counter()
        child = subprocess.Popen(
            [*command, "-q", "--db", str(db), "build", "--full"],
            stdout=subprocess.DEVNULL,
            stderr=log,
            env=env,
        )
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            log.seek(0)
            raise SystemExit(f"build failed ({child.returncode}):\n{log.read().decode()}")
    return seconds, usage.ru_maxrss / 1e6  # KB on Linux


def attributed(db: Path) -> tuple[int, int]:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        row = con.execute(
            "select count(*) filter (where attribution = 'audit_join'), count(*) "
            "from vertex_attribution where event_id is not null"
        ).fetchall()[0]
    finally:
        con.close()
    return int(row[0]), int(row[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200_000, help="calls (default 200,000)")
    parser.add_argument("--rate", type=float, default=50, help="burst calls a second (50)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (default 3)")
    parser.add_argument("--before", type=Path, metavar="DIR", help="an older checkout's code")
    args = parser.parse_args()
    script = Path(sys.executable).parent / "llmledger"
    command = (
        [str(script)]
        if script.is_file()
        else [sys.executable, "-c", "from ingest.cli import main; main()"]
    )
    env = dict(os.environ, LLMLEDGER_CONFIG="", TZ="UTC")
    env.pop("LLMLEDGER_DB", None)
    work = Path(tempfile.mkdtemp(prefix="llmledger-bench-vertex-"))
    try:
        histories = {
            "spread": work / "spread.duckdb",
            "burst": work / "burst.duckdb",
        }
        started = time.perf_counter()
        make_history(histories["spread"], args.calls, 5_000_000)
        make_history(histories["burst"], args.calls, round(1e6 / args.rate))
        print(
            f"histories: {args.calls:,} responses and {args.calls:,} audit entries each, "
            f"spread (one call every 5 s) and burst ({args.rate:g} a second), "
            f"made in {time.perf_counter() - started:.1f}s"
        )
        sides = {"after": env}
        if args.before:
            sides = {"before": dict(env, PYTHONPATH=str(args.before)), "after": env}
        seconds: dict[tuple[str, str], list[float]] = {}
        peaks: dict[tuple[str, str], list[float]] = {}
        for i in range(args.rounds):
            shown = []
            for side, side_env in sides.items():
                for kind, template in histories.items():
                    db = work / f"{side}-{kind}.duckdb"
                    shutil.copyfile(template, db)
                    took, peak = build(command, db, side_env)
                    seconds.setdefault((side, kind), []).append(took)
                    peaks.setdefault((side, kind), []).append(peak)
                    if i == 0:
                        joined, responses = attributed(db)
                        print(f"  {side} {kind}: {joined:,} of {responses:,} responses attributed")
                    for left in work.glob(f"{side}-{kind}*"):
                        if left.is_dir():
                            shutil.rmtree(left, ignore_errors=True)
                        else:
                            left.unlink()
                burst, spread = seconds[(side, "burst")][-1], seconds[(side, "spread")][-1]
                shown.append(
                    f"{side}: spread {spread:6.2f}s burst {burst:6.2f}s {burst / spread:5.2f}x"
                )
            print(f"  round {i + 1}: " + "   ".join(shown), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print()
    for side in sides:
        ratios = [
            b / s for b, s in zip(seconds[(side, "burst")], seconds[(side, "spread")], strict=True)
        ]
        print(
            f"build --full ({side}), burst / spread, median of {len(ratios)} rounds: "
            f"{statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f}x; median "
            f"seconds {statistics.median(seconds[(side, 'burst')]):.2f} vs "
            f"{statistics.median(seconds[(side, 'spread')]):.2f}); peak memory burst "
            f"{max(peaks[(side, 'burst')]):.2f} GB, spread {max(peaks[(side, 'spread')]):.2f} GB"
        )


if __name__ == "__main__":
    main()
