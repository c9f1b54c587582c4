"""`llmledger lake export` and `--lake` on the sample ledger: layout, manifest, privacy,
reports and exports equal to the database's, incremental re-export, bad input."""

from __future__ import annotations

import json
import os
import shutil
from datetime import datetime
from importlib import metadata
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner
from moto_server import Aws, aws, moto_endpoint  # noqa: F401 - fixtures

from ingest.cli import cli
from models import lake
from models.snapshot import PUBLISHED

SENTINEL = "LLMLEDGER-BODY-SENTINEL"
EXPORTED = sorted(set(PUBLISHED) - {"ingest_cursors"} | set(lake.MODEL_INPUTS))


def run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args), catch_exceptions=False, env={"TZ": "UTC"})


@pytest.fixture(scope="module")
def sample_lake(sample_ledger, tmp_path_factory: pytest.TempPathFactory) -> Path:  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("lake") / "lake"
    result = run("--db", str(sample_ledger.db), "lake", "export", "--out", str(out))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    return out


def _snapshot(sample_ledger) -> duckdb.DuckDBPyConnection:  # type: ignore[no-untyped-def]
    return duckdb.connect(str(sample_ledger.snapshot), read_only=True)


def _files(root: Path) -> dict[str, tuple[int, int]]:
    """Every Parquet file under root: (inode, mtime in ns)."""
    return {
        p.relative_to(root).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in root.rglob("*.parquet")
    }


def test_layout_partitions_by_source_and_day(sample_lake: Path, sample_ledger) -> None:  # type: ignore[no-untyped-def]
    con = _snapshot(sample_ledger)
    for table, day in (
        ("usage_events", "(occurred_at at time zone 'UTC')::date"),
        ("usage_minute", "(minute_at at time zone 'UTC')::date"),
        ("usage_daily", "day"),
    ):
        expected = {
            f"{table}/source={s}/day={d}/data.parquet"
            for s, d in con.execute(f"select distinct source, {day} from {table}").fetchall()
        }
        found = {
            p.relative_to(sample_lake).as_posix() for p in (sample_lake / table).rglob("*.parquet")
        }
        assert found == expected
        # three sources x 30 days, the gateways' 11 days (from 2026-11-09, Kong's a Saturday
        # too) and the telemetry's 16 (from 2026-11-02, working days)
        assert len(expected) == 90 + 11 + 16
    # a table with a source but no day: by source; one with neither: one file
    assert sorted(p.name for p in (sample_lake / "identity_map").iterdir()) == [
        "source=bedrock",
        "source=claude_code",
        "source=gateway",
        "source=litellm",
        "source=vertex",
    ]
    assert sorted(os.listdir(sample_lake / "price_book")) == ["data.parquet"]
    # bill_check has a day and no source
    assert {p.parent.name for p in (sample_lake / "bill_check").rglob("*.parquet")} == {
        f"day=2026-11-{d:02d}" for d in range(1, 21)
    }
    # never a raw table, never a hidden leftover
    assert sorted(p.name for p in sample_lake.iterdir() if p.is_dir()) == [
        t for t in EXPORTED if (sample_lake / t).is_dir()
    ]
    assert not [p for p in sample_lake.rglob("*") if p.name.startswith(".")]


def test_manifest_counts_exact_rows(sample_lake: Path, sample_ledger) -> None:  # type: ignore[no-untyped-def]
    manifest = json.loads((sample_lake / "manifest.json").read_text())
    assert sorted(manifest["tables"]) == EXPORTED
    assert manifest["llmledger_version"] == metadata.version("llmledger")
    assert datetime.fromisoformat(manifest["exported_at"]).tzinfo is not None
    con, main = _snapshot(sample_ledger), duckdb.connect(str(sample_ledger.db), read_only=True)
    for name, table in manifest["tables"].items():
        # the model inputs come from the main database, the rest from the snapshot
        source = main if name in lake.MODEL_INPUTS else con
        ((rows,),) = source.execute(f"select count(*) from {name}").fetchall()
        assert table["rows"] == rows, name
        assert sum(p["rows"] for p in table["partitions"]) == rows, name
        assert all(p["hash"] for p in table["partitions"])
    events = manifest["tables"]["usage_events"]
    # 51,960 before the gateways (957 Kong + 554 body-proxy records) and 63 telemetry events
    assert events["rows"] == 53534
    assert events["partition_by"] == ["source", "day"]
    first = events["partitions"][0]
    assert first["path"] == "source=bedrock/day=2026-10-22"
    assert first["values"] == {"source": "bedrock", "day": "2026-10-22"}
    assert first["rows"] == 1804


def test_no_body_text_in_the_lake(sample_lake: Path) -> None:
    assert [
        p for p in sample_lake.rglob("*") if p.is_file() and SENTINEL.encode() in p.read_bytes()
    ] == []
    con = lake.open_lake(sample_lake)
    for table in EXPORTED:
        ((hits,),) = con.execute(
            f"select count(*) from {table} x where cast(x as varchar) like '%{SENTINEL}%'"
        ).fetchall()
        assert hits == 0, table


def test_views_keep_the_database_types(sample_lake: Path, sample_ledger) -> None:  # type: ignore[no-untyped-def]
    con = _snapshot(sample_ledger)
    main = duckdb.connect(str(sample_ledger.db), read_only=True)
    read = lake.open_lake(sample_lake)
    for table in EXPORTED:
        source = main if table in lake.MODEL_INPUTS else con
        width = 2 if table in lake.MODEL_INPUTS else 6  # a reference table's NOT NULL stays home
        assert [r[:width] for r in read.execute(f"describe {table}").fetchall()] == [
            r[:width] for r in source.execute(f"describe select * from {table}").fetchall()
        ], table
    assert read.execute("select sum(cost_usd)::varchar from usage_events").fetchall() == (
        con.execute("select sum(cost_usd)::varchar from usage_events").fetchall()
    )


@pytest.mark.parametrize(
    "args",
    [
        ["--by", "developer"],
        ["--by", "team", "--since", "2026-11-01", "--until", "2026-11-15"],
        ["--by", "model"],
        ["--by", "day", "--source", "vertex"],
        ["--reconcile"],
        ["--bill", "--month", "2026-11", "--by", "model"],
    ],
)
def test_report_from_the_lake_equals_the_database(
    sample_lake: Path,
    sample_ledger,  # type: ignore[no-untyped-def]
    args: list[str],
) -> None:
    from_db = run("--db", str(sample_ledger.db), "report", *args, "--format", "json")
    from_lake = run(
        "--db",
        str(sample_ledger.db),
        "report",
        "--lake",
        str(sample_lake),
        *args,
        "--format",
        "json",
    )
    assert from_db.exit_code == (1 if "--bill" in args else 0), from_db.stderr  # 1: a group off
    assert (from_lake.exit_code, from_lake.stderr) == (from_db.exit_code, from_db.stderr)
    assert json.loads(from_db.stdout)  # not an empty report
    assert from_lake.stdout == from_db.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["billing", "--month", "2026-11"],
        ["billing", "--month", "2026-11", "--format", "focus"],
        ["usage", "--since", "2026-11-10", "--until", "2026-11-12"],
    ],
)
def test_export_from_the_lake_equals_the_database(
    sample_lake: Path,
    sample_ledger,  # type: ignore[no-untyped-def]
    args: list[str],
) -> None:
    from_db = run("--db", str(sample_ledger.db), "export", *args)
    from_lake = run("--db", str(sample_ledger.db), "export", *args, "--lake", str(sample_lake))
    assert from_db.exit_code == 0, from_db.stderr
    assert from_lake.exit_code == 0, from_lake.stderr
    assert len(from_db.stdout_bytes) > 10_000
    assert from_lake.stdout_bytes == from_db.stdout_bytes


def test_reexport_rewrites_only_the_new_day(sample_ledger, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "copy.duckdb"  # no snapshot beside it: the export reads this file
    shutil.copyfile(sample_ledger.snapshot, db)
    out = tmp_path / "lake"
    first = run("--db", str(db), "lake", "export", "--out", str(out))
    assert first.exit_code == 0, first.stderr
    again = run("--db", str(db), "lake", "export", "--out", str(out))
    assert (
        again.stderr
        == "lake " + str(out) + ": 20 tables; 0 partition(s) written, 631 unchanged, 0 removed\n"
    )
    before = _files(out)

    _add_a_day(db)
    con = duckdb.connect(str(db), read_only=True)
    ((added,),) = con.execute(
        "select count(*) from usage_events where occurred_at >= timestamptz '2026-11-30'"
    ).fetchall()
    con.close()

    result = run("--db", str(db), "lake", "export", "--out", str(out))
    assert result.exit_code == 0, result.stderr
    # the new day: one partition per source (the gateways and the telemetry too) in each of
    # the two tables
    assert (
        result.stderr
        == "lake " + str(out) + ": 20 tables; 10 partition(s) written, 631 unchanged, 0 removed\n"
    )
    after = _files(out)
    assert {k: v for k, v in after.items() if k in before} == before  # same inode, same mtime
    assert sorted(set(after) - set(before)) == [
        f"{t}/source={s}/day=2026-11-30/data.parquet"
        for t in ("usage_daily", "usage_events")
        for s in ("bedrock", "claude_code", "gateway", "litellm", "vertex")
    ]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["tables"]["usage_events"]["rows"] == 53534 + added
    from_db = run("--db", str(db), "report", "--by", "day", "--format", "json")
    from_lake = run(
        "--db", str(db), "report", "--by", "day", "--format", "json", "--lake", str(out)
    )
    assert from_lake.stdout == from_db.stdout
    assert '"day": "2026-11-30"' in from_lake.stdout


def test_out_is_a_file(sample_ledger, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "lake.txt"
    target.write_text("x")
    result = run("--db", str(sample_ledger.db), "lake", "export", "--out", str(target))
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: --out {target} is a file; name a folder for the lake (created if missing)\n"
    )
    assert target.read_text() == "x"


def test_lake_without_manifest(sample_ledger, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for command in (["report"], ["export", "billing", "--month", "2026-11"]):
        result = run("--db", str(sample_ledger.db), *command, "--lake", str(tmp_path))
        assert result.exit_code == 2
        assert result.stderr == (
            f"error: {tmp_path} has no manifest.json; it is not a lake "
            f"(write one with `llmledger lake export --out {tmp_path}`)\n"
        )
        assert result.stdout == ""


def _add_a_day(db: Path) -> None:
    """2026-11-30: a copy of 2026-11-20's events and daily rows, in every source."""
    con = duckdb.connect(str(db))
    con.execute("set timezone = 'UTC'")
    con.execute(
        "insert into usage_events select * replace (event_id || '-next' as event_id, "
        "occurred_at + interval 10 day as occurred_at) from usage_events "
        "where (occurred_at at time zone 'UTC')::date = date '2026-11-20'"
    )
    con.execute(
        "insert into usage_daily select * replace (day + 10 as day) from usage_daily "
        "where day = date '2026-11-20'"
    )
    con.close()


@pytest.mark.service
def test_s3_lake_through_moto(aws: Aws, sample_ledger, sample_lake: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="analytics")
    db = tmp_path / "copy.duckdb"
    shutil.copyfile(sample_ledger.snapshot, db)
    result = run("--db", str(db), "lake", "export", "--out", "s3://analytics/llm/lake")
    assert result.exit_code == 0, result.stderr

    def objects() -> dict[str, str]:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket="analytics", Prefix="llm/")
        return {o["Key"]: o["ETag"] for p in pages for o in p.get("Contents", [])}

    first = objects()
    # the published snapshot as the database: marts only, no model inputs
    local = {
        p.relative_to(sample_lake).as_posix()
        for p in sample_lake.rglob("*.parquet")
        if p.relative_to(sample_lake).parts[0] not in lake.MODEL_INPUTS
    }
    assert set(first) == {f"llm/lake/{k}" for k in local | {"manifest.json"}}
    manifest = json.loads(
        s3.get_object(Bucket="analytics", Key="llm/lake/manifest.json")["Body"].read()
    )
    assert manifest["tables"]["usage_events"]["rows"] == 53534

    _add_a_day(db)
    result = run("--db", str(db), "lake", "export", "--out", "s3://analytics/llm/lake")
    assert result.stderr.endswith("10 partition(s) written, 631 unchanged, 0 removed\n")
    second = objects()
    changed = {k for k in second if first.get(k) != second[k]}
    assert changed == {"llm/lake/manifest.json"} | {
        f"llm/lake/{t}/source={s}/day=2026-11-30/data.parquet"
        for t in ("usage_daily", "usage_events")
        for s in ("bedrock", "claude_code", "gateway", "litellm", "vertex")
    }
    # the lake in S3 read through a local copy answers as the database does
    copy = tmp_path / "downloaded"
    for key in second:
        target = copy / key.removeprefix("llm/lake/")
        target.parent.mkdir(parents=True, exist_ok=True)
        s3.download_file("analytics", key, str(target))
    from_db = run("--db", str(db), "report", "--by", "day", "--format", "json")
    from_lake = run(
        "--db", str(db), "report", "--by", "day", "--format", "json", "--lake", str(copy)
    )
    assert from_lake.stdout == from_db.stdout


@pytest.mark.service
def test_report_reads_an_s3_lake_through_a_local_copy(  # type: ignore[no-untyped-def]
    aws: Aws,  # noqa: F811
    sample_ledger,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="analytics")
    db = tmp_path / "copy.duckdb"
    shutil.copyfile(sample_ledger.snapshot, db)
    assert run("--db", str(db), "lake", "export", "--out", "s3://analytics/llm/lake").exit_code == 0
    url = "s3://analytics/llm/lake"
    cache = tmp_path / "cache" / "llmledger" / "lake" / "analytics" / "llm" / "lake"
    parquet = len(
        [
            o
            for p in s3.get_paginator("list_objects_v2").paginate(Bucket="analytics")
            for o in p.get("Contents", [])
            if o["Key"].endswith(".parquet")
        ]
    )
    from_db = run("--db", str(db), "report", "--by", "day", "--format", "json")

    first = run("--db", str(db), "report", "--by", "day", "--format", "json", "--lake", url)
    assert first.exit_code == 0, first.stderr
    assert first.stdout == from_db.stdout
    assert first.stderr == (
        f"lake {url}: {parquet} file(s) downloaded, 0 unchanged, 0 removed (local copy {cache})\n"
    )
    assert len(list(cache.rglob("*.parquet"))) == parquet

    # a file the lake does not hold (a partition an export removed) leaves the copy
    stray = cache / "usage_events" / "source=bedrock" / "day=2020-01-01" / "data.parquet"
    stray.parent.mkdir(parents=True)
    shutil.copyfile(next(cache.rglob("usage_events/*/*/data.parquet")), stray)
    again = run("--db", str(db), "report", "--by", "day", "--format", "json", "--lake", url)
    assert again.stdout == from_db.stdout
    assert again.stderr.startswith(
        f"lake {url}: 0 file(s) downloaded, {parquet} unchanged, 1 removed"
    )
    assert not stray.parent.exists()

    # a new day exported: only its partitions are downloaded
    _add_a_day(db)
    assert run("--db", str(db), "lake", "export", "--out", url).exit_code == 0
    from_db = run("--db", str(db), "report", "--by", "day", "--format", "json")
    third = run("--db", str(db), "report", "--by", "day", "--format", "json", "--lake", url)
    assert third.stdout == from_db.stdout
    assert '"day": "2026-11-30"' in third.stdout
    assert third.stderr.startswith(
        f"lake {url}: 10 file(s) downloaded, {parquet} unchanged, 0 removed"
    )


@pytest.mark.service
def test_s3_lake_read_errors(aws: Aws, sample_ledger, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    aws.client("s3").create_bucket(Bucket="empty")
    result = run("--db", str(sample_ledger.db), "report", "--lake", "s3://empty/lake")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: s3://empty/lake has no manifest.json; it is not a lake "
        "(write one with `llmledger lake export --out s3://empty/lake`)\n"
    )
    result = run("--db", str(sample_ledger.db), "report", "--lake", "s3://no-such-bucket/x")
    assert result.exit_code == 3
    assert result.stderr.startswith("error: lake: cannot read s3://no-such-bucket/x (")
    assert result.stderr.endswith("). Check the bucket exists and the credentials may read it\n")
    assert result.stdout == ""


@pytest.mark.service
def test_s3_lake_missing_bucket(aws: Aws, sample_ledger) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    result = run("--db", str(sample_ledger.db), "lake", "export", "--out", "s3://no-such-bucket/x")
    assert result.exit_code == 3
    assert result.stderr.startswith("error: lake export: cannot write s3://no-such-bucket/x (")
    assert result.stderr.endswith(
        "). Check the bucket exists and the credentials may write to it\n"
    )
    assert result.stderr.count("\n") == 1
