"""Bounded memory: every connection the tool opens sets memory_limit and temp_directory from
[database] (defaults: 50% of memory, a private folder in the scratch directory), and bad values
are one-line config errors (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from ingest import config
from ingest.cli import cli
from ingest.context import AppContext
from ingest.dashboard_server import dashboard_env
from models import snapshot


def settings(con) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    row = con.execute(
        "select current_setting('memory_limit'), current_setting('temp_directory')"
    ).fetchone()
    return str(row[0]), str(row[1])


def context(tmp_path: Path, text: str) -> AppContext:
    path = tmp_path / "llmledger.toml"
    path.write_text(text, encoding="utf-8")
    return AppContext.create(str(tmp_path / "ledger.duckdb"), str(path))


def test_configured_limits_apply_to_the_writer_and_to_readers(tmp_path: Path) -> None:
    app = context(tmp_path, '[database]\nmemory_limit = "512MiB"\ntemp_directory = "spill"\n')
    con = app.connect()
    try:
        assert settings(con) == ("512.0 MiB", str(tmp_path / "spill"))
        snapshot.publish(con, app.snapshot_path)  # the publish runs on this connection
    finally:
        con.close()
    assert (tmp_path / "spill").stat().st_mode & 0o777 == 0o700
    reader = snapshot.open_snapshot(
        app.snapshot_path, memory_limit=app.memory_limit, temp_directory=app.temp_directory
    )
    try:
        assert settings(reader) == ("512.0 MiB", str(tmp_path / "spill"))
    finally:
        reader.close()
    env = dashboard_env(
        app.snapshot_path, {}, memory_limit=app.memory_limit, temp_directory=app.temp_directory
    )
    assert env["LLMLEDGER_MEMORY_LIMIT"] == "512MiB"
    assert env["LLMLEDGER_TEMP_DIRECTORY"] == str(tmp_path / "spill")


def test_defaults_half_the_memory_and_the_scratch_folder(tmp_path: Path) -> None:
    app = AppContext.create(str(tmp_path / "ledger.duckdb"), None)
    assert app.memory_limit == "50%"
    assert app.temp_directory == tmp_path / ".ledger.duckdb.scratch" / "duckdb"
    con = app.connect()
    try:
        limit, temp = settings(con)
    finally:
        con.close()
    assert temp == str(tmp_path / ".ledger.duckdb.scratch" / "duckdb")
    # DuckDB shows the limit in bytes: half of this machine's memory (within rounding)
    import duckdb

    probe = duckdb.connect()
    try:
        probe.execute("set memory_limit = '50%'")
        assert limit == probe.execute("select current_setting('memory_limit')").fetchone()[0]
    finally:
        probe.close()


@pytest.mark.parametrize("value", ["lots", "0%", "150%", "12 parsecs", ""])
def test_bad_memory_limit_is_one_line_exit_2(tmp_path: Path, value: str) -> None:
    path = tmp_path / "llmledger.toml"
    path.write_text(f'[database]\nmemory_limit = "{value}"\n', encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["--db", str(tmp_path / "x.duckdb"), "--config", str(path), "report"]
    )
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: {path}: database.memory_limit = {value!r} is not a size; use e.g. '4GB', "
        "'512MiB' or '50%' (a share of the machine's memory)\n"
    )


def test_memory_limit_of_the_wrong_type(tmp_path: Path) -> None:
    path = tmp_path / "llmledger.toml"
    path.write_text("[database]\nmemory_limit = 4\n", encoding="utf-8")
    with pytest.raises(config.ConfigError, match="'database.memory_limit' must be a string"):
        config.load(path)


@pytest.mark.parametrize("value", ["4GB", "512MiB", "50%", "1.5 GB", "2000000000 bytes"])
def test_good_memory_limits_load(tmp_path: Path, value: str) -> None:
    path = tmp_path / "llmledger.toml"
    path.write_text(f'[database]\nmemory_limit = "{value}"\n', encoding="utf-8")
    assert config.load(path).section("database")["memory_limit"] == value
