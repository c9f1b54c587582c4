"""`llmledger dashboard`: its one-line error, and what it hands Streamlit."""

from __future__ import annotations

import sys
from pathlib import Path

from click.testing import CliRunner

from ingest.cli import cli
from ingest.dashboard_server import app_script, dashboard_env, streamlit_command


def test_no_snapshot_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "ledger.duckdb"), "dashboard"])
    assert result.exit_code == 2
    assert result.output == (
        f"error: no snapshot at {tmp_path / 'ledger.snapshot.duckdb'}; "
        "run `llmledger ingest` (or `llmledger demo`) first\n"
    )


def test_help_has_an_example() -> None:
    result = CliRunner().invoke(cli, ["dashboard", "--help"])
    assert result.exit_code == 0
    assert "llmledger --db ledger.duckdb dashboard --port 8501" in result.output


def test_streamlit_runs_headless_on_the_packaged_app() -> None:
    script = app_script()
    assert script == Path(__file__).resolve().parent.parent / "dashboard" / "app.py"
    assert streamlit_command(script, 8600, "127.0.0.1") == [
        sys.executable, "-m", "streamlit", "run", str(script),
        "--server.headless", "true", "--server.port", "8600",
        "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
        "--client.toolbarMode", "viewer", "--server.address", "127.0.0.1",
    ]  # fmt: skip


def test_the_dashboard_reads_its_settings_from_the_environment(tmp_path: Path) -> None:
    snapshot = tmp_path / "s.duckdb"
    env = dashboard_env(snapshot, {"auth": True, "admins": ["a@x.example", "b@x.example"],
                                   "title": "Acme LLM spend"})  # fmt: skip
    assert (env["LLMLEDGER_SNAPSHOT"], env["LLMLEDGER_AUTH"], env["LLMLEDGER_ADMINS"],
            env["LLMLEDGER_TITLE"]) == (
        str(snapshot.resolve()), "1", "a@x.example,b@x.example", "Acme LLM spend")  # fmt: skip
    off = dashboard_env(snapshot, {})
    assert (off["LLMLEDGER_AUTH"], off["LLMLEDGER_ADMINS"]) == ("0", "")
