"""Issue 11 item 1: `doctor` and the dashboard's Data health page show the rows the bounds keep
out of every total: raw rows quarantined by staging (absurd token counts or times) and records
rejected for a timestamp in the future."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from moto_server import ndjson, record
from streamlit.testing.v1 import AppTest
from test_bounds import FUTURE, _app, poisoned  # noqa: F401

from ingest.cli import cli
from ingest.runner import run_source
from models import snapshot, views

APP = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"


def test_doctor_lists_quarantined_rows_and_future_rejections(
    poisoned: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    late = tmp_path / "late"
    late.mkdir()
    (late / "b.json").write_bytes(ndjson([record("r-2099", timestamp="2099-01-01T00:00:00Z")]))
    app = _app(tmp_path)
    con = app.connect()
    assert run_source(app, con, "bedrock-files", {"path": str(late)}).rejected_rows == 1
    con.close()
    runner = CliRunner()
    runner.invoke(cli, ["--db", str(poisoned), "build"])
    result = runner.invoke(cli, ["--db", str(poisoned), "doctor"])
    lines = [line.strip() for line in result.output.splitlines()]
    logs = tmp_path / "logs" / "a.json"
    at = lines.index(
        "FAIL     data check quarantined_bedrock: 6 bad rows: bedrock raw rows quarantined (a "
        "token count above 10,000,000 or a time before 2000 or in the future), left out of every "
        "total; fix or delete them at the source and re-ingest"
    )
    planted = {"big-output", "big-input-1", "big-input-2", "y9999", "y1969", "y0001"}
    shown = lines[at + 1 : at + 6]  # up to five examples, each the record's key and location
    assert len(set(shown)) == 5
    assert set(shown) <= {f"{rid} at {logs}:1" for rid in planted}
    assert "warning  1 rejected record(s)" in lines
    assert f"bedrock-files: {FUTURE}: 1" in lines
    assert result.exit_code == 1


def test_data_health_lists_quarantined_rows(
    poisoned: Path,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    CliRunner().invoke(cli, ["--db", str(poisoned), "build"])
    published = poisoned.with_suffix(".snapshot.duckdb")
    con = snapshot.open_snapshot(published)
    try:
        (row,) = views.rows(views.read(views.EVERYONE, con, "quarantined_rows"))
        with pytest.raises(views.NotAllowed, match="company-wide: for admins only"):
            views.read(views.Scope(teams=("payments",), admin=False), con, "quarantined_rows")
    finally:
        con.close()
    logs = tmp_path / "logs" / "a.json"
    assert row == {
        "source": "bedrock",
        "records": 6,
        "example_record": "big-input-1",
        "example_location": f"{logs}:1",
    }
    monkeypatch.setenv("LLMLEDGER_SNAPSHOT", str(published))
    monkeypatch.delenv("LLMLEDGER_AUTH", raising=False)
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at.switch_page("app_pages/data_health.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Quarantined rows" in [h.value for h in at.subheader]
    (shown,) = [d.value for d in at.dataframe if "example_record" in d.value.columns]
    assert list(shown["records"]) == [6]


# --------------------------------------------------------------------------------------------
# Issue 10 item 6: a source whose newest record is old is named, by doctor and Data health.
# The sample data's newest records: bedrock 2026-11-20 23:45:33, litellm 21:52:21, vertex
# 18:46:25 (UTC).

STALE = (
    "is older than {hours} hours; check that its ingest is scheduled and that the source still logs"
)


def _stale(source: str, newest: str, hours: int = 36) -> str:
    return f"source {source}: newest record {newest} " + STALE.format(hours=hours)


def test_doctor_names_the_stale_source_only(sample_ledger: Any) -> None:
    from datetime import UTC, datetime

    import duckdb

    from models.doctor import data_findings

    con = duckdb.connect(str(sample_ledger.db), read_only=True)
    try:
        now = datetime(2026, 11, 21, 8, tzinfo=UTC)  # 12 hours back is 2026-11-20 20:00
        found = data_findings(con, "sample", stale_after_hours=12, now=now)
        off = data_findings(con, "sample", stale_after_hours=0, now=now)
    finally:
        con.close()
    stale = [f.message for f in found if f.level == "warn" and f.area == "sources"]
    assert stale == [
        _stale("gateway-files", "2026-11-20 17:57:20Z", 12),
        _stale("otel-files", "2026-11-20 14:55:57Z", 12),  # its records: source claude_code
        _stale("vertex-files", "2026-11-20 18:46:25Z", 12),
    ]
    assert not [f for f in off if f.level == "warn" and f.area == "sources"]


def test_doctor_stale_after_flag_and_config(sample_ledger: Any, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["--db", str(sample_ledger.db), "doctor"])
    assert result.exit_code == 0, result.output  # a warning, not a failure
    lines = result.stdout.splitlines()
    at = next(i for i, x in enumerate(lines) if x.startswith("ok       source bedrock-files:"))
    assert lines[at + 1] == "warning  " + _stale("bedrock-files", "2026-11-20 23:45:33Z")
    assert "warning  " + _stale("litellm-files", "2026-11-20 21:52:21Z") in lines
    assert "warning  " + _stale("vertex-files", "2026-11-20 18:46:25Z") in lines
    assert not [x for x in lines if "aws-cur-files: newest record" in x]  # no records: not late
    config = tmp_path / "llmledger.toml"
    config.write_text("[doctor]\nstale_after_hours = 0\n")
    quiet = runner.invoke(cli, ["--db", str(sample_ledger.db), "--config", str(config), "doctor"])
    assert quiet.exit_code == 0, quiet.output
    assert "is older than" not in quiet.stdout
    flag = runner.invoke(
        cli,
        ["--db", str(sample_ledger.db), "--config", str(config), "doctor", "--stale-after", "24"],
    )
    assert "warning  " + _stale("vertex-files", "2026-11-20 18:46:25Z", 24) in flag.stdout
    config.write_text("[doctor]\nstale_after_hours = -1\n")
    bad = runner.invoke(cli, ["--db", str(sample_ledger.db), "--config", str(config), "doctor"])
    assert bad.exit_code == 2
    assert bad.stderr == (
        f"error: {config}: doctor.stale_after_hours = -1 is negative; give hours, or 0 for never\n"
    )


def test_data_health_warns_about_stale_sources(
    sample_ledger: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMLEDGER_SNAPSHOT", str(sample_ledger.snapshot))
    monkeypatch.delenv("LLMLEDGER_AUTH", raising=False)
    monkeypatch.delenv("LLMLEDGER_STALE_AFTER_HOURS", raising=False)
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at.switch_page("app_pages/data_health.py").run()
    assert not at.exception, [e.value for e in at.exception]
    # to the minute, as the page's table shows the newest record
    assert [w.value for w in at.warning if w.value.startswith("source ")] == [
        _stale("bedrock-files", "2026-11-20 23:45:00Z"),
        _stale("gateway-files", "2026-11-20 17:57:00Z"),
        _stale("litellm-files", "2026-11-20 21:52:00Z"),
        _stale("otel-files", "2026-11-20 14:55:00Z"),
        _stale("vertex-files", "2026-11-20 18:46:00Z"),
    ]
    monkeypatch.setenv("LLMLEDGER_STALE_AFTER_HOURS", "0")
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at.switch_page("app_pages/data_health.py").run()
    assert not [w.value for w in at.warning if w.value.startswith("source ")]
