"""Issue 11 item 7: a full disk during ingest or publish.

One line (``no space left on device at PATH; about N MB needed``), exit 1, no hidden
``.<snapshot>.<pid>.tmp`` (or its ``.wal``) and no scratch left, and the next run works once
space is back. Through a small tmpfs where this machine lets the test mount one (root), and
through the real DuckDB out-of-space error injected into publish and into a commit everywhere.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner

from ingest.cli import cli
from models import snapshot

REPO = Path(__file__).resolve().parents[1]
HOUR = REPO / "sample_data/bedrock/s3/bedrock-logs/AWSLogs/111122223333"
FIX = (
    "Free some space (or point the database, snapshot or scratch elsewhere) and run again; the "
    "next run goes on from the cursor"
)


def small_input(tmp_path: Path, files: int = 60) -> Path:
    """A few dozen real Bedrock log files (a copy of part of sample_data)."""
    folder = tmp_path / "logs"
    for i, path in enumerate(sorted(HOUR.rglob("*.json.gz"))[:files]):
        target = folder / path.relative_to(HOUR.parent)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
        if i >= files:
            break
    return folder


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and ".tmp" in p.name)


def errors_of(result: Any) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


def requests(db: Path) -> int:
    con = duckdb.connect(str(db), read_only=True)
    try:
        row = con.execute("select count(*) from raw_bedrock").fetchone()
        return int(row[0]) if row else 0
    finally:
        con.close()


# ---------------------------------------------------------------------------------------------
# a real full disk: the snapshot on a 2 MB tmpfs


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Any:
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], capture_output=True)


@pytest.mark.skipif(sys.platform != "linux", reason="tmpfs is Linux")
def test_publish_on_a_full_disk_is_one_line_and_the_next_run_publishes(
    tmp_path: Path, tiny_disk: Path
) -> None:
    db = tmp_path / "ledger.duckdb"
    config = tmp_path / "llmledger.toml"
    config.write_text(f'[database]\nsnapshot = "{tiny_disk / "ledger.snapshot.duckdb"}"\n')
    runner = CliRunner()
    args = ["--db", str(db), "--config", str(config)]
    full = runner.invoke(cli, [*args, "ingest", "bedrock-files", str(small_input(tmp_path))])
    assert full.exit_code == 1, full.output
    errors = errors_of(full)
    assert len(errors) == 1, full.stderr
    assert errors[0].startswith(f"error: no space left on device at {tiny_disk}; about ")
    assert errors[0].endswith(f" MB needed. {FIX}")
    assert "Traceback" not in full.output
    assert list(tiny_disk.iterdir()) == []  # no hidden .tmp, no .wal
    loaded = requests(db)
    assert loaded > 0  # the rows were committed before the publish failed
    # no file left in the scratch folder (DuckDB's empty temp_directory folder may stay)
    assert [p for p in (tmp_path / ".ledger.duckdb.scratch").rglob("*") if p.is_file()] == []
    subprocess.run(["mount", "-o", "remount,size=64m", str(tiny_disk)], check=True)
    again = runner.invoke(cli, [*args, "build"])
    assert again.exit_code == 0, again.output
    # the snapshot path links to the generation written (models.snapshot.generations)
    names = sorted(p.name for p in tiny_disk.iterdir())
    assert names == ["ledger.snapshot.duckdb", "ledger.snapshot.duckdb.a"]
    assert os.readlink(tiny_disk / "ledger.snapshot.duckdb") == "ledger.snapshot.duckdb.a"
    con = duckdb.connect(str(tiny_disk / "ledger.snapshot.duckdb"), read_only=True)
    assert con.execute("select count(*) from usage_events").fetchone() == (loaded,)
    con.close()


@pytest.mark.skipif(sys.platform != "linux", reason="tmpfs is Linux")
def test_a_publish_whose_checkpoint_fails_is_not_published_empty(
    tmp_path: Path, tiny_disk: Path
) -> None:
    # database and snapshot on a 3 MB disk: the snapshot's tables fit in its .wal but not in
    # the file, and DuckDB's checkpoint on detach fails silently; it used to publish an empty
    # snapshot with exit 0 and leave the .wal behind
    subprocess.run(["mount", "-o", "remount,size=3m", str(tiny_disk)], check=True)
    logs = tmp_path / "logs"
    day = HOUR / "BedrockModelInvocationLogs/us-west-2/2026/11/17"
    shutil.copytree(day, logs / "17")
    db = tiny_disk / "l.duckdb"
    runner = CliRunner()
    full = runner.invoke(cli, ["--db", str(db), "ingest", "bedrock-files", str(logs)])
    assert full.exit_code == 1, full.output
    errors = errors_of(full)
    assert len(errors) == 1 and errors[0].startswith(
        f"error: no space left on device at {tiny_disk}; about "
    )
    left = sorted(p.name for p in tiny_disk.iterdir())  # no hidden .tmp, no .tmp.wal
    assert left in (
        [".l.duckdb.scratch", "l.duckdb"],
        [".l.duckdb.scratch", "l.duckdb", "l.duckdb.wal"],
    )
    subprocess.run(["mount", "-o", "remount,size=64m", str(tiny_disk)], check=True)
    again = runner.invoke(cli, ["--db", str(db), "ingest", "bedrock-files", str(logs)])
    assert again.exit_code == 0, again.output
    loaded = requests(db)
    assert loaded == 191
    con = duckdb.connect(str(tiny_disk / "l.snapshot.duckdb"), read_only=True)
    assert con.execute("select count(*) from usage_events").fetchone() == (loaded,)
    con.close()


# ---------------------------------------------------------------------------------------------
# DuckDB's own out-of-space error, injected (no mount needed)


def out_of_space(path: Path) -> duckdb.IOException:
    return duckdb.IOException(f'IO Error: Could not write file "{path}": No space left on device')


def test_publish_failure_removes_the_hidden_file_and_its_wal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "ledger.duckdb"
    runner = CliRunner()
    ok = runner.invoke(
        cli, ["--db", str(db), "ingest", "bedrock-files", str(small_input(tmp_path))]
    )
    assert ok.exit_code == 0, ok.output
    published = (tmp_path / "ledger.snapshot.duckdb").read_bytes()
    copy = snapshot._copy_table
    copied: list[str] = []

    def fill_up(con: duckdb.DuckDBPyConnection, table: str) -> None:
        copy(con, table)  # the hidden file and its .wal really exist when the disk fills
        copied.append(table)
        if len(copied) == 2:
            raise out_of_space(tmp_path / f".ledger.snapshot.duckdb.{1}.tmp")

    monkeypatch.setattr(snapshot, "_copy_table", fill_up)
    full = runner.invoke(cli, ["--db", str(db), "build"])
    assert full.exit_code == 1
    size = -(-len(published) // (1 << 20))
    assert errors_of(full) == [
        f"error: no space left on device at {tmp_path}; about {size} MB needed. {FIX}"
    ]
    assert leftovers(tmp_path) == []
    assert (tmp_path / "ledger.snapshot.duckdb").read_bytes() == published  # still the old one
    monkeypatch.setattr(snapshot, "_copy_table", copy)
    again = runner.invoke(cli, ["--db", str(db), "build"])
    assert again.exit_code == 0, again.output
    assert leftovers(tmp_path) == []


def test_ingest_on_a_full_disk_is_one_line_and_the_rerun_loads_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ingest import loader

    logs = small_input(tmp_path)
    clean = tmp_path / "clean.duckdb"
    runner = CliRunner()
    assert (
        runner.invoke(cli, ["--db", str(clean), "ingest", "bedrock-files", str(logs)]).exit_code
        == 0
    )
    expected = requests(clean)
    db = tmp_path / "ledger.duckdb"
    write = loader.Loader.write
    wal = Path(str(db) + ".wal")

    def full_disk(self: Any, page: Any) -> Any:
        raise OSError(28, "No space left on device", str(wal))

    monkeypatch.setattr(loader.Loader, "write", full_disk)
    full = runner.invoke(cli, ["--db", str(db), "ingest", "bedrock-files", str(logs)])
    assert full.exit_code == 1
    assert errors_of(full) == [f"error: no space left on device at {wal}. {FIX}"]
    assert "Traceback" not in full.output
    # no file left in the scratch folder (DuckDB's empty temp_directory folder may stay)
    assert [p for p in (tmp_path / ".ledger.duckdb.scratch").rglob("*") if p.is_file()] == []
    monkeypatch.setattr(loader.Loader, "write", write)
    again = runner.invoke(cli, ["--db", str(db), "ingest", "bedrock-files", str(logs)])
    assert again.exit_code == 0, again.output
    assert requests(db) == expected


def test_run_reports_a_full_disk_in_one_line_and_releases_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ingest import scheduler
    from ingest.context import AppContext

    logs = small_input(tmp_path, files=10)
    config = tmp_path / "llmledger.toml"
    config.write_text(f'[[sources.bedrock-files]]\npath = "{logs}"\n')

    def fill_up(con: duckdb.DuckDBPyConnection, table: str) -> None:
        raise out_of_space(tmp_path / ".ledger.snapshot.duckdb.1.tmp")

    monkeypatch.setattr(snapshot, "_copy_table", fill_up)
    app = AppContext.create(str(tmp_path / "ledger.duckdb"), str(config), quiet=True)
    report = scheduler.run_once(app)
    assert report.exit_code == 1
    assert report.build_error is not None
    assert report.build_error.startswith(f"no space left on device at {tmp_path}; about ")
    assert report.build_error.endswith(FIX)
    assert leftovers(tmp_path) == []
    assert not (tmp_path / "ledger.duckdb.lock").exists()
