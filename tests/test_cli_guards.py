"""A user's mistake or a busy database is one line and an exit code, never a traceback (issue 11,
item 11): `build` while a run holds the lock, `export --out` a folder, an unwritable path, the
database or the snapshot.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from test_exports import CONFIG, write_synthetic

from ingest.cli import cli
from ingest.scheduler import RunLock


def invoke(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args))
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), result.exception
    return result


def busy(db: Path) -> str:
    return (
        f"error: busy: another run is writing {db}; run `llmledger build` again when it has "
        "finished\n"
    )


def test_build_while_a_run_holds_the_lock_says_busy(tmp_path: Path) -> None:
    db = tmp_path / "ledger.duckdb"
    lock = RunLock(db)
    lock.acquire()
    try:
        result = invoke("--db", str(db), "build")
    finally:
        lock.release()
    assert (result.exit_code, result.stderr) == (1, busy(db))
    assert not db.with_name("ledger.snapshot.duckdb").exists()
    assert invoke("--db", str(db), "build").exit_code == 0  # once the run is over


def test_build_while_another_process_writes_the_database_says_busy(tmp_path: Path) -> None:
    db = tmp_path / "ledger.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); print('ready', "
            "flush=True); time.sleep(120)",
            str(db),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "ready\n"
        result = invoke("--db", str(db), "build")
    finally:
        holder.kill()
        holder.wait()
    assert (result.exit_code, result.stderr) == (1, busy(db))
    assert not db.with_name("ledger.duckdb.lock").exists()  # the lock was given back


@pytest.fixture
def ledger(tmp_path: Path) -> dict[str, Path]:
    write_synthetic(tmp_path / "ledger.snapshot.duckdb")
    config = tmp_path / "llmledger.toml"
    config.write_text(CONFIG, encoding="utf-8")
    return {
        "db": tmp_path / "ledger.duckdb",
        "snapshot": tmp_path / "ledger.snapshot.duckdb",
        "config": config,
    }


def export(paths: dict[str, Path], out: Path | str) -> Result:
    return invoke(
        "--db",
        str(paths["db"]),
        "--config",
        str(paths["config"]),
        "export",
        "billing",
        "--month",
        "2025-10",
        "--out",
        str(out),
    )


def test_export_out_a_directory(ledger: dict[str, Path], tmp_path: Path) -> None:
    result = export(ledger, tmp_path)
    assert (result.exit_code, result.stderr) == (
        2,
        f"error: --out {tmp_path} is a directory; name a file, e.g. --out {tmp_path / 'x.csv'}\n",
    )


def test_export_out_an_unwritable_path(
    ledger: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    if os.geteuid() == 0:  # root writes anywhere: fail the way a read-only folder does

        def refuse(*_args: object, **_kwargs: object) -> tuple[int, str]:
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr(tempfile, "mkstemp", refuse)
    else:
        folder.chmod(0o500)
    try:
        result = export(ledger, folder / "june.csv")
    finally:
        folder.chmod(0o700)
    assert (result.exit_code, result.stderr) == (
        2,
        f"error: --out {folder / 'june.csv'}: cannot write there (Permission denied); "
        "choose a path you can write to\n",
    )
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize(
    ("name", "what"),
    [
        ("ledger.snapshot.duckdb", "snapshot"),
        ("ledger.duckdb", "database"),
        ("ledger.duckdb.wal", "database's write-ahead log"),
    ],
)
def test_export_never_overwrites_the_snapshot_or_the_database(
    ledger: dict[str, Path], name: str, what: str
) -> None:
    out = ledger["db"].parent / name
    before = ledger["snapshot"].read_bytes()
    result = export(ledger, out)
    assert (result.exit_code, result.stderr) == (
        2,
        f"error: --out {out} is the {what} ({out}); choose another file\n",
    )
    # also through another spelling of the same path
    other = ledger["db"].parent / "." / name
    assert export(ledger, other).exit_code == 2
    assert ledger["snapshot"].read_bytes() == before
