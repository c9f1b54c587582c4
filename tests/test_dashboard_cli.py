"""`llmledger dashboard`: its one-line error, and what it hands Streamlit."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ingest import dashboard_server
from ingest.cli import cli
from ingest.dashboard_server import app_script, bind_address, dashboard_env, streamlit_command


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


def test_without_sign_in_it_listens_on_this_machine_only() -> None:
    assert bind_address(None, signed_in=False) == "127.0.0.1"
    assert bind_address(None, signed_in=True) == "0.0.0.0"
    assert bind_address("10.0.0.5", signed_in=False) == "10.0.0.5"


def test_a_busy_port_fails_in_one_line_before_any_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "ledger.snapshot.duckdb").write_bytes(b"")
    started: list[list[str]] = []
    monkeypatch.setattr(
        dashboard_server, "run_streamlit", lambda command, env: started.append(command) or 0
    )
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(
            cli, ["--db", str(tmp_path / "ledger.duckdb"), "dashboard", "--port", str(port)]
        )
    assert result.exit_code == 2
    assert result.output == (
        f"error: cannot serve the dashboard on 127.0.0.1:{port}: address already in use; "
        "pick another port with --port (or stop what is using it)\n"
    )
    assert started == []  # Streamlit never started, no URL printed

    # the port free again: the URL names this machine and Streamlit binds 127.0.0.1
    result = CliRunner().invoke(
        cli, ["--db", str(tmp_path / "ledger.duckdb"), "dashboard", "--port", str(port)]
    )
    assert result.exit_code == 0, result.output
    assert f"dashboard on http://localhost:{port} " in result.output
    assert started[0][-2:] == ["--server.address", "127.0.0.1"]
