"""An ingest runs while the dashboard answers queries, and neither sees an error.

The ingest (`llmledger ingest`, its own process: DuckDB allows one writer process) loads new
files, rebuilds the models and publishes a new snapshot by atomic rename. Meanwhile this process
answers the dashboard's queries over and over, through the dashboard's own data path (a fresh
read-only open of the snapshot per query) and by running the app under AppTest. Every answer must
be the old snapshot's or the new one's, never an error or a mix; once the new snapshot is
published the dashboard shows it (its cache is keyed on the snapshot's version).
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest
from fixtures_dashboard import REPO, SAMPLE_S3, llmledger, sample_log_files
from streamlit.testing.v1 import AppTest

from dashboard import data, fmt
from models import snapshot
from models.views import Filters

APP = REPO / "dashboard" / "app.py"
EVERYTHING = Filters(since=date(2026, 1, 1), until=date(2026, 12, 31))
PAGE_QUERIES = [  # one query of each page, as the pages call them
    ("overview_totals", (EVERYTHING,)),
    ("team_table", (EVERYTHING,)),
    ("provider_table", (EVERYTHING,)),
    ("quota_summary", (EVERYTHING,)),
    ("source_health", ()),
]


def copy_files(files: list[Path], tree: Path) -> None:
    for path in files:
        target = tree / path.relative_to(SAMPLE_S3)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)


def write_config(path: Path, tree: Path) -> Path:
    sample = REPO / "sample_data"
    quotas = (sample / "llmledger.toml").read_text().split("[[quotas]]", 1)[1]
    path.write_text(
        f'[people]\ndirectory = "{sample / "people.csv"}"\n\n'
        f'[[sources.bedrock-files]]\npath = "{tree}"\n\n[[quotas]]{quotas}'
    )
    return path


def test_ingest_while_the_dashboard_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = sample_log_files()
    n = len(files)  # 40% of the sample keeps this test short: 20% first, then 10% and 10%
    first, rest = files[: n // 5], files[n // 5 : 2 * n // 5]
    tree = tmp_path / "s3"
    copy_files(first, tree)
    config = write_config(tmp_path / "ledger.toml", tree)
    db = tmp_path / "ledger.duckdb"
    snapshot = tmp_path / "ledger.snapshot.duckdb"
    llmledger("--config", str(config), "--db", str(db), "ingest")
    before = data.run_view(str(snapshot), "overview_totals", EVERYTHING)["requests"]

    # the ingest side: two more ingests (so two new snapshots are published while we read)
    halves = [rest[: len(rest) // 2], rest[len(rest) // 2 :]]
    runs: list[subprocess.CompletedProcess[str]] = []
    publishes: list[int] = []

    def ingest_twice() -> None:
        for half in halves:
            copy_files(half, tree)
            runs.append(llmledger("--config", str(config), "--db", str(db), "ingest", check=False))
            publishes.append(
                int(data.run_view(str(snapshot), "overview_totals", EVERYTHING)["requests"])
            )

    writer = threading.Thread(target=ingest_twice, daemon=True)
    writer.start()

    seen: list[int] = []
    errors: list[BaseException] = []
    reads = 0

    def reader() -> None:
        nonlocal reads
        while writer.is_alive():
            try:
                for name, args in PAGE_QUERIES:
                    result = data.run_view(str(snapshot), name, *args)
                    if name == "overview_totals":
                        seen.append(int(result["requests"]))
                reads += 1
            except BaseException as exc:  # noqa: BLE001 - any error is the failure we look for
                errors.append(exc)
                return

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    monkeypatch.setenv("LLMLEDGER_SNAPSHOT", str(snapshot))
    monkeypatch.delenv("LLMLEDGER_AUTH", raising=False)
    shown: list[str] = []
    app_runs = 0
    reports = 0
    while writer.is_alive():
        at = AppTest.from_file(str(APP), default_timeout=60)
        at.query_params["from"], at.query_params["to"] = "2026-01-01", "2026-12-31"
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        shown.append(next(m.value for m in at.metric if m.label == "Requests"))
        app_runs += 1
        if reports == 0:  # `llmledger report` reads the snapshot during the ingest too
            llmledger("--db", str(db), "report", "--by", "team", "--format", "json")
            reports += 1
        time.sleep(0.05)
    writer.join()
    thread.join(timeout=60)

    for run in runs:
        assert run.returncode == 0, run.stderr
        assert "error" not in run.stderr.lower(), run.stderr
    assert not errors, errors
    middle, after = publishes
    assert before < middle < after
    assert reads >= 3 and app_runs >= 2, (reads, app_runs)
    print(
        f"during the ingests: {reads} rounds of page queries, {app_runs} app runs; "
        f"published {before}, {middle}, {after}; seen {sorted(set(seen))}"
    )
    # every answer is one published snapshot's, never a mix, and the dashboard moved on to
    # the middle snapshot while the second ingest ran
    assert set(seen) <= {before, middle, after}, (before, middle, after, sorted(set(seen)))
    assert {before, middle} <= set(seen), (before, middle, sorted(set(seen)))
    assert set(shown) <= {fmt.count(n) for n in (before, middle, after)}, shown
    # and the dashboard shows the new snapshot once it is published
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params["from"], at.query_params["to"] = "2026-01-01", "2026-12-31"
    at.run()
    assert next(m.value for m in at.metric if m.label == "Requests") == fmt.count(after)


def test_a_publish_during_one_page_run_is_never_mixed_into_it(
    sample_ledger: Any, tmp_path: Path
) -> None:
    """Regression: the filters' date range came from one snapshot and the totals from the
    next, so the Overview showed a request count no snapshot ever had. A script run pins the
    snapshot it read first; a query that finds the file replaced raises SnapshotMoved (the
    entry script reruns on the new snapshot) instead of answering from it."""
    path = tmp_path / "ledger.snapshot.duckdb"
    shutil.copy2(sample_ledger.snapshot, path)
    con = snapshot.open_snapshot(path)
    first = snapshot.identity(con)
    con.close()
    assert len(first) == 36  # a uuid written at publish time

    answered = data.run_view(str(path), "overview_totals", EVERYTHING, expect=first)
    assert answered["requests"] > 0

    shutil.copy2(sample_ledger.db, tmp_path / "ledger.duckdb")
    writer = duckdb.connect(str(tmp_path / "ledger.duckdb"))
    try:
        snapshot.publish(writer, path)  # a new snapshot of the same data replaces the file
    finally:
        writer.close()
    con = snapshot.open_snapshot(path)
    second = snapshot.identity(con)
    con.close()
    assert second != first
    with pytest.raises(data.SnapshotMoved):
        data.run_view(str(path), "overview_totals", EVERYTHING, expect=first)
    again = data.run_view(str(path), "overview_totals", EVERYTHING, expect=second)
    assert again["requests"] == answered["requests"]
