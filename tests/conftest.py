"""Shared test configuration and the session-wide sample database (``sample_ledger``).

Tests that need a real local service carry ``@pytest.mark.service``. Off CI they may skip with a
clear reason when the service is absent; with CI=true such a skip is turned into a failure, so a
green CI run means every real-service test really ran.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI") == "true"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and item.get_closest_marker("service") is not None:
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = (
            f"real-service test skipped in CI (CI=true), which counts as a failure: {reason}"
        )


@pytest.fixture(autouse=True)
def _utc(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pin the time zone so exports and reports are byte-stable."""
    monkeypatch.setenv("TZ", "UTC")


@dataclass(frozen=True)
class SampleLedger:
    """sample_data through `llmledger demo --no-dashboard`: every source's real ingest path,
    the models and the publish. ``db`` is the main database, ``snapshot`` the published one;
    open either read-only (tests share it)."""

    db: Path
    snapshot: Path


@pytest.fixture(scope="session")
def sample_ledger(tmp_path_factory: pytest.TempPathFactory) -> SampleLedger:
    """The session's one sample database (each xdist worker builds its own, once)."""
    if not (REPO / "sample_data" / "manifest.json").is_file():
        pytest.skip("sample_data/ is not generated yet (run python sample_data/generate.py)")
    directory = tmp_path_factory.mktemp("sample-ledger")
    db = directory / "ledger.duckdb"
    subprocess.run(
        [sys.executable, "-c", "from ingest.cli import main; main()"]
        + ["--db", str(db), "demo", "--no-dashboard"],
        check=True,
        capture_output=True,
        cwd=REPO,
        env={**os.environ, "TZ": "UTC"},
        stdin=subprocess.DEVNULL,
    )
    return SampleLedger(db=db, snapshot=directory / "ledger.snapshot.duckdb")


@pytest.fixture(scope="session")
def sample_manifest() -> dict[str, Any]:
    """What sample_data/generate.py planted (counts, tokens, bad input)."""
    path = REPO / "sample_data" / "manifest.json"
    if not path.is_file():
        pytest.skip("sample_data/ is not generated yet (run python sample_data/generate.py)")
    manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return manifest
