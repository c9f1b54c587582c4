"""Issue 11 item 1: `doctor` and the dashboard's Data health page show the rows the bounds keep
out of every total: raw rows quarantined by staging (absurd token counts or times) and records
rejected for a timestamp in the future."""

from __future__ import annotations

from pathlib import Path

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
