"""Benchmark: what one scheduled run costs on a database with history, against an empty one.

    python bench/incremental_run.py                    # 1,000,000 events of history
    python bench/incremental_run.py --quick            # 100,000
    python bench/incremental_run.py --before main      # the same, with the code of git ref main

Times the whole command a schedule runs, ``llmledger ingest bedrock-files DIR`` (parse, load,
build, publish), each in its own child process (peak memory is that process's ru_maxrss):

- ``1,000 new``: a directory of 1,000 new records (one day after the history);
- ``nothing new``: the same command again.

on a database holding N events of history (raw_bedrock rows over 30 days, built once, then one
warm-up run adding a record on the new day, as the run before a scheduled one would), and on
an empty database (``--telemetry``: a history in which Claude Code reported every request too;
``--gateway``: one in which every request went through a Kong gateway in front of Bedrock, so
each has a gateway record and a Bedrock copy under the gateway's role, half of them linked by the
Bedrock request id the gateway kept, half matched by tokens and time);
the ratio history / empty is what the history costs a run (target: a run
costs what it ingests, not what came before). ``--before REF`` runs the code of a git ref
(extracted with ``git archive``), for a before/after comparison. Each measurement is repeated
(``--repeat``) from a copy of the same database, and the fastest is reported.
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
REPO = HERE.parent
sys.path.insert(0, str(HERE))

# Runs `llmledger ARGS` from CODE in this process; prints its peak memory as the last line.
WRAPPER = """
import json, resource, sys, time
code, args = sys.argv[1], sys.argv[2:]
sys.path.insert(0, code)
from ingest.cli import main
sys.argv = ["llmledger", *args]
started = time.perf_counter()
status = 0
try:
    main()
except SystemExit as exc:
    status = exc.code or 0
seconds = time.perf_counter() - started
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
print(json.dumps({"status": status, "seconds": seconds, "peak_gb": rss}), file=sys.stderr)
"""

HISTORY_SQL = """
insert into raw_bedrock
select
    -- a UUID's shape and spread, as Bedrock's request ids: ids in order ('hist-1', 'hist-2')
    -- would let DuckDB's min/max of each row group answer a run's key check without reading it
    substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-4' || substr(h, 14, 3) || '-'
        || substr(h, 17, 4) || '-' || substr(h, 21, 12),
    timestamptz '2026-01-31 00:00:00+00' + to_microseconds(cast(i * {step} as bigint)),
    '111122223333', 'us-east-1', null, 'InvokeModelWithResponseStream',
    ['us.anthropic.claude-sonnet-4-5-20250929-v1:0', 'global.anthropic.claude-opus-4-6-v1',
     'anthropic.claude-3-5-haiku-20241022-v1:0'][1 + i % 3],
    'arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_ClaudeCodeUsers_0123456789abcdef/'
        || 'dev' || lpad(cast(i % 200 as varchar), 3, '0') || '@example.com',
    null,
    (i * 7919) % 5000, i % 800, (i * 31) % 20000, (i * 17) % 3000, null,
    null, case when i % 97 = 0 then 'ThrottlingException' end,
    'files', 'bench-history', null
from (select i, md5('hist-' || i) as h from range({n}) as r(i)) as t
"""

# --telemetry: Claude Code reports every successful request of the history too (one api_request
# event per Bedrock record: the same model id, counts and time, a second later), as in a
# deployment where every developer runs with telemetry on.
TELEMETRY_SQL = """
insert into raw_claude_code (event_key, occurred_at, event_name, session_id, model, input_tokens,
    output_tokens, cache_read_tokens, cache_creation_tokens, duration_ms, user_email,
    source_location)
select
    'tel-' || request_id, occurred_at + interval 1 second, 'api_request',
    regexp_extract(principal_arn, '[^/]+$') || '-' || cast(cast(occurred_at as date) as varchar),
    model_id, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, 2000,
    regexp_extract(principal_arn, '[^/]+$'), 'bench-history'
from raw_bedrock
where source_location = 'bench-history' and error_code is null and occurred_at >= {low}
"""


# --gateway: every request of the history went through Kong in front of Bedrock (the Bedrock
# record is the gateway role's copy; half the Kong records kept Bedrock's request id).
GATEWAY_ROLE = "arn:aws:sts::111122223333:assumed-role/kong-gateway/i-0abc"
GATEWAY_SQL = """
insert into raw_gateway (gateway_name, request_id, format, occurred_at, provider, model_id,
    user_hint, status_code, error_type, input_tokens, output_tokens, cache_read_tokens,
    cache_write_tokens, token_detail, truncated, provider_request_id, source_kind,
    source_location)
select
    'kong', 'kong-' || request_id, 'kong', occurred_at + interval 1 second, 'bedrock', model_id,
    regexp_extract(principal_arn, '[^/]+$'), case when error_code is null then 200 else 429 end,
    error_code, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, 'full', false,
    case when hash(request_id) % 2 = 0 then request_id end, 'files', 'bench-history'
from raw_bedrock
where source_location = 'bench-history' and occurred_at >= {low}
"""
GATEWAY_ROLE_SQL = """
update raw_bedrock set principal_arn = '{role}'
where source_location = 'bench-history' and occurred_at >= {low}
"""
# the global options of every command (--gateway: a config naming the gateway's role)
GLOBAL: list[str] = []


def run(code: Path, args: list[str]) -> dict[str, Any]:
    args = [*GLOBAL, *args]
    out = subprocess.run(
        [sys.executable, "-c", WRAPPER, str(code), *args],
        capture_output=True,
        text=True,
        env={"TZ": "UTC", "PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"},
        cwd=code,
    )
    lines = out.stderr.strip().splitlines()
    result: dict[str, Any] = json.loads(lines[-1])
    if result["status"] not in (0, None):
        raise SystemExit(f"llmledger {' '.join(args)} failed:\n{out.stderr}")
    result["log"] = lines[:-1]
    return result


def history(
    code: Path,
    db: Path,
    n: int,
    chunk: int = 20_000_000,
    telemetry: bool = False,
    gateway: bool = False,
) -> dict[str, Any]:
    """A database with ``n`` raw events over 30 days, built (the build's measurement).

    Up to ``chunk`` events are inserted and built at once (one full build); a bigger history
    grows as a deployment's does, ``chunk`` events (a few days) at a time, each chunk's days
    marked as the loader marks them and built incrementally (``llmledger build``): a single
    full build of 100M events would need several times the memory a run is given. The figure
    returned is the last chunk's build (or the one full build)."""
    setup = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from ingest.context import AppContext;"
        "app = AppContext.create(sys.argv[2], None); con = app.connect();"
        "[con.execute(q) for q in sys.argv[3:]]; con.close()"
    )
    step = 30 * 86400 * 1_000_000 / max(n, 1)
    built: dict[str, Any] = {}
    for first in range(0, max(n, 1), chunk):
        rows = HISTORY_SQL.format(n=n, step=step).replace(
            f"range({n})", f"range({first}, {min(n, first + chunk)})"
        )
        queries = [rows]
        low = (
            "timestamptz '2026-01-31 00:00:00+00' + "
            f"to_microseconds(cast({first} * {step} as bigint))"
        )
        tables = ["raw_bedrock"]
        if telemetry:
            queries.append(TELEMETRY_SQL.format(low=low))
            tables.append("raw_claude_code")
        if gateway:
            queries.append(GATEWAY_SQL.format(low=low))
            queries.append(GATEWAY_ROLE_SQL.format(role=GATEWAY_ROLE, low=low))
            tables.append("raw_gateway")
        if first:  # the days the chunk wrote, as the loader marks them
            queries += [
                f"insert into build_dirty_days select distinct '{table}', "
                f"cast(timezone('UTC', occurred_at) as date) from {table} "
                f"where occurred_at >= {low}"
                for table in tables
            ]
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", setup, str(code), str(db), *queries],
            check=True,
            cwd=code,
            env={"TZ": "UTC", "PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"},
        )
        built = run(code, ["--db", str(db), "build"])
        if n > chunk:
            print(
                f"  history chunk {first:,}-{min(n, first + chunk):,}: inserted in "
                f"{time.perf_counter() - started - built['seconds']:.0f}s, built in "
                f"{built['seconds']:.0f}s (peak {built['peak_gb']:.1f} GB): "
                + next((line for line in built["log"] if "rebuil" in line), ""),
                file=sys.stderr,
                flush=True,
            )
    return built


def copy_snapshot(snapshot: Path, to: Path) -> None:
    """A copy of a published snapshot as it is: the link and both generation files (a copy
    of the linked file alone would make the next publish a first one)."""
    if not snapshot.is_symlink():
        shutil.copy(snapshot, to)
        return
    for suffix in (".a", ".b"):
        generation = snapshot.with_name(snapshot.name + suffix)
        if generation.is_file():
            shutil.copy(generation, to.with_name(to.name + suffix))
    os.symlink(to.name + Path(os.readlink(snapshot)).suffix, to)


def warm_up(code: Path, db: Path, work: Path) -> None:
    """The run before the measured one, as a schedule has: one record on the new day (so the
    measured run's publish re-applies that day, not the history's last chunk, to the older
    snapshot generation it updates in place)."""
    folder = work / "warm-up"
    folder.mkdir(exist_ok=True)
    record = {
        "schemaType": "ModelInvocationLog",
        "schemaVersion": "1.0",
        "timestamp": "2026-03-02T05:00:00Z",
        "accountId": "111122223333",
        "identity": {"arn": "arn:aws:iam::111122223333:user/warm-up"},
        "region": "us-east-1",
        "requestId": "warm-up-0001",
        "operation": "InvokeModel",
        "modelId": "anthropic.claude-3-5-haiku-20241022-v1:0",
        "input": {"inputTokenCount": 10},
        "output": {"outputTokenCount": 20},
    }
    (folder / "warm-up.json").write_text(json.dumps(record) + "\n", encoding="utf-8")
    result = run(code, ["--db", str(db), "ingest", "bedrock-files", str(folder)])
    if result["status"]:
        raise SystemExit("the warm-up run failed:\n" + "\n".join(result["log"]))


def measure(
    code: Path, base: Path | None, work: Path, new: Path, repeat: int, in_place: bool = False
) -> dict[str, Any]:
    """The fastest of ``repeat`` runs of 1,000 new records, then nothing new, from ``base``
    (a copy of it each time; ``in_place``: once, on ``base`` itself, for a history too big to
    copy)."""
    best: dict[str, Any] = {}
    for _ in range(repeat):
        if in_place and base is not None:
            for kind in ("1,000 new", "nothing new"):
                best[kind] = run(code, ["--db", str(base), "ingest", "bedrock-files", str(new)])
            return best
        db = work / "run.duckdb"
        for leftover in work.glob("run*"):
            if leftover.is_dir():
                shutil.rmtree(leftover)
            else:
                leftover.unlink()
        if base is not None:
            # the database and the snapshot its last run published (a scheduled run's state)
            shutil.copy(base, db)
            copy_snapshot(base.with_suffix(".snapshot.duckdb"), db.with_suffix(".snapshot.duckdb"))
        for kind in ("1,000 new", "nothing new"):
            result = run(code, ["--db", str(db), "ingest", "bedrock-files", str(new)])
            if kind not in best or result["seconds"] < best[kind]["seconds"]:
                best[kind] = result
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="100,000 events of history")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--before", help="a git ref whose code to measure instead")
    parser.add_argument(
        "--chunk",
        type=int,
        default=20_000_000,
        help="build a bigger history this many events at a time (default 20M)",
    )
    parser.add_argument(
        "--in-place",
        action="store_true",
        help="measure once on the history itself instead of copies (for 100M: no disk for copies)",
    )
    parser.add_argument(
        "--telemetry",
        action="store_true",
        help="the history has Claude Code telemetry too: an api_request event per request",
    )
    parser.add_argument(
        "--gateway",
        action="store_true",
        help="the history went through a gateway in front of Bedrock: a Kong record and a "
        "Bedrock copy per request",
    )
    parser.add_argument("--dir", type=Path, help="work here (default: a temp dir)")
    opts = parser.parse_args()
    n = 100_000 if opts.quick else opts.events
    import bedrock_corpus

    with tempfile.TemporaryDirectory(prefix="llmledger-bench-", dir=opts.dir) as tmp:
        work = Path(tmp)
        code = REPO
        if opts.before:
            code = work / "code"
            code.mkdir()
            archive = subprocess.run(
                ["git", "-C", str(REPO), "archive", opts.before], check=True, capture_output=True
            ).stdout
            subprocess.run(["tar", "-x", "-C", str(code)], input=archive, check=True)
        new = work / "new"
        from datetime import UTC, datetime

        bedrock_corpus.generate(
            new, 1000, records_per_file=1000, start=datetime(2026, 3, 2, 6, tzinfo=UTC)
        )
        base = work / "history.duckdb"
        if opts.gateway:
            config = work / "llmledger.toml"
            config.write_text("[gateway]\nidentities = ['assumed-role/kong-gateway/']\n")
            GLOBAL.extend(["--config", str(config)])
        started = time.perf_counter()
        built = history(code, base, n, opts.chunk, opts.telemetry, opts.gateway)
        warm_up(code, base, work)
        print(
            f"history: {n:,} events, made and built in {time.perf_counter() - started:.1f}s "
            f"(the {'last' if n > opts.chunk else 'full'} build {built['seconds']:.1f}s)",
            file=sys.stderr,
        )
        with_history = measure(code, base, work, new, opts.repeat, opts.in_place)
        empty = measure(code, None, work, new, opts.repeat)
    label = f"code of {opts.before}" if opts.before else "this checkout"
    if opts.telemetry:
        label += ", history with Claude Code telemetry"
    if opts.gateway:
        label += ", history through a gateway in front of Bedrock"
    print(f"llmledger ingest bedrock-files (whole command), {label}, best of {opts.repeat}:")
    print(f"{'run':<14}{'history ' + format(n, ','):>18}{'empty':>10}{'ratio':>8}{'peak GB':>9}")
    for kind in ("1,000 new", "nothing new"):
        h, e = with_history[kind], empty[kind]
        ratio = h["seconds"] / e["seconds"]
        print(
            f"{kind:<14}{h['seconds']:>17.2f}s{e['seconds']:>9.2f}s{ratio:>7.1f}x"
            f"{h['peak_gb']:>9.2f}"
        )
    print(
        f"{'last chunk' if n > opts.chunk else 'full'} build of the history "
        f"(`llmledger build`, with its checks): "
        f"{built['seconds']:.2f}s, peak {built['peak_gb']:.2f} GB"
    )
    build_lines = [line for line in with_history["1,000 new"]["log"] if "rebuil" in line]
    if build_lines:
        print(f"the 1,000-record run's build: {build_lines[0]}")


if __name__ == "__main__":
    main()
