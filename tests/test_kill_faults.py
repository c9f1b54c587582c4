"""Issue 11: kill ``llmledger ingest <source>`` at random points, run again, lose nothing.

For every source the privacy feeds drive cheaply (local files, S3 and CloudWatch through moto's
server, LiteLLM's PostgreSQL and REST API, Cloud Logging through tests/vertex_server.py), a
clean run gives the totals; then the same ingest runs as a subprocess killed with SIGKILL after
a seeded random delay (twice), then once to the end. The totals must equal the clean run's, and
no scratch file may survive: the ``.<db>.scratch`` folder, the system temp directory and hidden
snapshot files are empty once the last run is done.
"""

from __future__ import annotations

import os
import pkgutil
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest
from privacy_feeds import Feed

from ingest import sources

pytest_plugins = [
    f"privacy_feeds.{m.name}"
    for m in pkgutil.iter_modules([str(Path(__file__).parent / "privacy_feeds")])
]

pytestmark = pytest.mark.service

REPO = Path(__file__).resolve().parents[1]
KILLS = 2
SOURCES = [
    "bedrock-files",
    "bedrock-s3",
    "bedrock-cloudwatch",
    "litellm",
    "litellm-api",
    "litellm-files",
    "vertex",
    "vertex-files",
]


def ingest(db: Path, name: str, feed: Feed, temp: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, **feed.env, "TMPDIR": str(temp), "TZ": "UTC"}
    return subprocess.Popen(
        [sys.executable, "-c", "from ingest.cli import main; main()"]
        + ["--db", str(db), "-q", "ingest", name, *feed.args],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def finish(process: subprocess.Popen[bytes]) -> None:
    _, err = process.communicate(timeout=300)
    assert process.returncode == 0, err.decode()


def totals(db: Path, name: str) -> dict[str, Any]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        found: dict[str, Any] = {}
        for table in sources.SOURCES[name].tables:
            found[table.name] = con.execute(f"select count(*) from {table.name}").fetchone()
        found["usage_events"] = con.execute(
            "select count(*), sum(input_tokens), sum(output_tokens), sum(cost_usd) "
            "from usage_events"
        ).fetchone()
        return found
    finally:
        con.close()


@pytest.mark.parametrize("name", SOURCES)
def test_killed_at_random_points_then_rerun_equals_a_clean_run(
    name: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    feed = request.getfixturevalue("privacy_feed_" + name.replace("-", "_"))
    temp = tmp_path / "temp"
    temp.mkdir()
    clean = tmp_path / "clean" / "ledger.duckdb"
    clean.parent.mkdir()
    started = time.monotonic()
    finish(ingest(clean, name, feed, temp))
    took = time.monotonic() - started
    expected = totals(clean, name)
    assert expected["usage_events"][0] > 0

    db = tmp_path / "killed" / "ledger.duckdb"
    db.parent.mkdir()
    rng = random.Random(f"{name}-{os.environ.get('LLMLEDGER_KILL_SEED', '11')}")
    for _ in range(KILLS):
        process = ingest(db, name, feed, temp)
        time.sleep(rng.uniform(0.3, took))  # from start-up to the publish
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finish(ingest(db, name, feed, temp))

    assert totals(db, name) == expected
    scratch = db.parent / ".ledger.duckdb.scratch"
    # no file left (DuckDB's empty temp_directory folder may stay)
    assert [p for p in scratch.rglob("*") if p.is_file()] == []
    assert list(temp.iterdir()) == []
    # no hidden snapshot file of a killed publish, no lock or draft of a killed run's lock
    left = sorted(p.name for p in db.parent.iterdir() if p.name != scratch.name)
    # the snapshot path and the one or two generation files it links to (no .wal of either)
    generations = [n for n in left if n.startswith("ledger.snapshot.duckdb.")]
    assert set(generations) <= {"ledger.snapshot.duckdb.a", "ledger.snapshot.duckdb.b"}
    assert [n for n in left if n not in generations] == ["ledger.duckdb", "ledger.snapshot.duckdb"]


def test_a_run_killed_while_taking_the_lock_does_not_block_the_next(tmp_path: Path) -> None:
    from ingest.scheduler import RunLock

    db = tmp_path / "ledger.duckdb"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    # what a run killed between writing its draft and linking it leaves behind
    draft = tmp_path / f".ledger.duckdb.lock.{dead.pid}.0123abcd"
    draft.write_text("{")
    lock = RunLock(db)
    lock.acquire()
    try:
        assert not draft.exists()
        assert lock.read() is not None and lock.read().pid == os.getpid()  # type: ignore[union-attr]
    finally:
        lock.release()
    assert list(tmp_path.iterdir()) == []


def test_the_lock_without_hard_links(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ingest.scheduler import RunLock

    def no_links(*args: Any) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    lock = RunLock(tmp_path / "ledger.duckdb")
    lock.acquire()
    try:
        info = lock.read()
        assert info is not None and info.pid == os.getpid() and info.token == lock.token
        assert not RunLock(tmp_path / "ledger.duckdb")._try_create()  # held: a second fails
    finally:
        lock.release()
    assert list(tmp_path.iterdir()) == []
