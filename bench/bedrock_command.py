"""Benchmark: the whole `llmledger ingest bedrock-files DIR` command against a bare DuckDB scan.

    python bench/bedrock_command.py                  # 200,000 records, 5 pairs
    python bench/bedrock_command.py --records 1000000 --pairs 3

What a user waits for is the whole command on a fresh database: start-up and imports, the
parse and load, the build of the models and the publish of the snapshot. It is timed from
outside, a child process from start to exit, against a baseline that is also a whole child
process: ``python -c`` that imports duckdb and runs a bare ``read_ndjson`` of the same
``json.gz`` files with the same columns our parser declares, each column built
(``count(column)``). The two run A B A B ... and the ratio is taken pair by pair, so a shared
machine's changing load moves both sides of a pair alike; the median pair ratio is the figure
(target: at most 1.5x). ``--before DIR`` times an older checkout's code too, in the same
rounds (PYTHONPATH=DIR; the interpreter and packages are this one's). The corpus is
bench/bedrock_corpus.py's (realistic records of a few KB, S3's key layout), generated once and
reused.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

TARGET_RATIO = 1.5

# the baseline child imports duckdb only: the query is written here
BASELINE = (
    "import sys, duckdb; con = duckdb.connect(); con.execute('set enable_progress_bar = false'); "
    "print(con.execute(sys.argv[1]).fetchall()[0][0])"
)


def baseline_sql(root: Path) -> str:
    from ingest.sources.bedrock import format as bedrock

    counts = ", ".join(f'count("{c}")' for c in bedrock.RECORD_COLUMNS)
    files = str(root).replace("'", "''") + "/**/*.json.gz"
    return (
        f"select count(*), {counts} from read_ndjson('{files}', columns={bedrock._columns_sql()})"
    )


def llmledger() -> list[str]:
    """The installed entry point beside this interpreter, else the module's main."""
    script = Path(sys.executable).parent / "llmledger"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from ingest.cli import main; main()"]


def timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, str, str, float]:
    """Seconds from start to exit, stdout, stderr, and the CPU seconds (user + system, every
    thread) the child used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    out = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, out.stdout, out.stderr, cpu


PHASE_EVENTS = {"source_done": "ingest", "build_full": "build", "published": "publish"}


def phases(started: float, log: str, total: float) -> dict[str, float]:
    """Seconds of each phase of the command from its ``--log-json`` events: start-up, parse and
    load up to the source's last event; the build up to its own; the publish up to its own;
    the exit after it."""
    at = {"start": started}
    for line in log.splitlines():
        if not line.startswith("{"):
            continue
        event = json.loads(line)
        if event.get("event") in PHASE_EVENTS:
            at[PHASE_EVENTS[event["event"]]] = datetime.fromisoformat(event["ts"]).timestamp()
    if set(at) != {"start", *PHASE_EVENTS.values()}:
        return {}
    return {
        "ingest": at["ingest"] - at["start"],
        "build": at["build"] - at["ingest"],
        "publish": at["publish"] - at["build"],
        "exit": started + total - at["publish"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=200_000, help="records (default 200,000)")
    parser.add_argument("--pairs", type=int, default=5, help="A/B pairs (default 5)")
    parser.add_argument("--dir", type=Path, help="corpus folder (kept and reused)")
    parser.add_argument(
        "--before",
        type=Path,
        metavar="DIR",
        help="also time the command with an older checkout's code (e.g. `git worktree add "
        "/tmp/before main`), in the same rounds: before, baseline, after",
    )
    args = parser.parse_args()
    import bedrock_ingest

    n = args.records
    root = args.dir or Path(tempfile.gettempdir()) / f"llmledger-bench-bedrock-{n}"
    files, size = bedrock_ingest._corpus(root, n, 1000)
    print(f"corpus: {n:,} records in {files:,} json.gz files, {size / 1e6:,.0f} MB gzip")
    work = Path(tempfile.mkdtemp(prefix="llmledger-bench-command-"))
    env = dict(os.environ, LLMLEDGER_CONFIG="", TZ="UTC")
    env.pop("LLMLEDGER_DB", None)
    command = llmledger()
    baseline = [sys.executable, "-c", BASELINE, baseline_sql(root)]
    sides = {"after": command}
    if args.before:
        sides = {"before": command, "after": command}
    ratios: dict[str, list[float]] = {side: [] for side in sides}
    seconds: dict[str, list[float]] = {side: [] for side in [*sides, "bare"]}
    cpu: dict[str, list[float]] = {side: [] for side in [*sides, "bare"]}
    split: dict[str, list[dict[str, float]]] = {side: [] for side in sides}
    try:
        for i in range(args.pairs):
            b, printed, _, b_cpu = timed(baseline, env)
            if printed.strip() != str(n):
                raise SystemExit(f"the baseline read {printed.strip()} records, not {n}")
            seconds["bare"].append(b)
            cpu["bare"].append(b_cpu)
            shown = [f"bare read_ndjson {b:7.2f}s (cpu {b_cpu:.2f}s)"]
            for side, cmd in sides.items():
                db = work / f"{side}-{i}.duckdb"
                run_env = env
                if side == "before":
                    run_env = dict(env, PYTHONPATH=str(args.before))
                started = time.time()
                a, _, log, a_cpu = timed(
                    [*cmd, "--log-json", "--db", str(db), "ingest", "bedrock-files", str(root)],
                    run_env,
                )
                if f"bedrock-files: {n} new" not in log:
                    raise SystemExit(f"the command did not load {n} records:\n{log}")
                seconds[side].append(a)
                cpu[side].append(a_cpu)
                ratios[side].append(a / b)
                parts = phases(started, log, a)
                if parts:
                    split[side].append({k: v / b for k, v in parts.items()})
                shown.append(
                    f"{side} {a:7.2f}s {a / b:5.2f}x (cpu {a_cpu:.2f}s)"
                    + (" (" + ", ".join(f"{k} {v:.2f}s" for k, v in parts.items()) + ")")
                    * bool(parts)
                )
            print(f"  round {i + 1}: " + "   ".join(shown), flush=True)
            for left in work.iterdir():
                if left.is_file():
                    left.unlink()
                else:
                    shutil.rmtree(left, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print()
    if "before" in seconds:
        change = [a / b for a, b in zip(seconds["after"], seconds["before"], strict=True)]
        print(
            f"after / before, median of {len(change)} rounds: {statistics.median(change):.2f}x "
            f"({min(change):.2f}-{max(change):.2f}x)"
        )
    for side, found in ratios.items():
        median = statistics.median(found)
        print(
            f"whole command ({side}) / bare read_ndjson, median of {len(found)} pairs: "
            f"{median:.2f}x (pairs {min(found):.2f}-{max(found):.2f}x; median seconds "
            f"{statistics.median(seconds[side]):.2f} vs {statistics.median(seconds['bare']):.2f})"
            f"   target <= {TARGET_RATIO:.1f}x {'ok' if median <= TARGET_RATIO else 'MISSED'}"
        )
        # the cores this process may use (a container's CPU set), not the machine's count
        cores = (
            len(os.sched_getaffinity(0))
            if hasattr(os, "sched_getaffinity")
            else os.cpu_count() or 1
        )
        cpu_ratio = statistics.median(c / b for c, b in zip(cpu[side], cpu["bare"], strict=True))
        floor = statistics.median(
            c / cores / b for c, b in zip(cpu[side], seconds["bare"], strict=True)
        )
        print(
            f"  CPU time (user + system, all threads): {cpu_ratio:.2f}x the bare scan's "
            f"(median seconds {statistics.median(cpu[side]):.2f} vs "
            f"{statistics.median(cpu['bare']):.2f}); spread perfectly over this machine's "
            f"{cores} core{'s' * (cores != 1)}, the command could take no less than "
            f"{floor:.2f}x the bare scan's time"
        )
        if split[side]:
            print(
                f"  of which, each as a ratio to the bare scan (median of {len(split[side])}): "
                + ", ".join(
                    f"{k} {statistics.median(p[k] for p in split[side]):.2f}x"
                    for k in ("ingest", "build", "publish", "exit")
                )
                + " (ingest: start-up, parse and load, up to the source's last log event)"
            )


if __name__ == "__main__":
    main()
