"""Ingest scaled out: `ingest bedrock-s3 --shard K/N` workers, each into its own database, then
`llmledger merge`, against moto's real S3 server, equal one unsharded run row for row."""

# ruff: noqa: F811 - pytest fixtures imported from moto_server are redefined as arguments

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from moto_server import aws, moto_endpoint  # noqa: F401 - fixtures

from ingest import store
from ingest.cli import cli
from ingest.context import AppContext
from ingest.errors import ConfigError
from ingest.runner import run_source
from ingest.source import Shard

pytestmark = pytest.mark.service

BUCKET = "acme-bedrock-logs"
SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "bedrock" / "s3"
# Two days of the sample tree: 6 account/region/day prefixes, 109 batch files and a data/ body,
# the malformed records and the truncated gzip among them.
DAYS = ("2026/11/08/", "2026/11/09/")


def _upload(aws: Any) -> int:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    files = [p for p in SAMPLE.rglob("*") if p.is_file() and any(d in p.as_posix() for d in DAYS)]

    def put(path: Path) -> None:
        key = path.relative_to(SAMPLE).as_posix()
        s3.put_object(Bucket=BUCKET, Key=key, Body=path.read_bytes())

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, files))
    return len(files)


def _llmledger(db: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--db", str(db), *args], catch_exceptions=False)


def _ingest(db: Path, *args: str) -> Result:
    return _llmledger(
        db, "ingest", "bedrock-s3", "--bucket", BUCKET, "--prefix", "bedrock-logs", *args
    )


def _rows(db: Path, sql: str) -> list[Any]:
    con = store.connect(db)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


RAW = "select * from raw_bedrock order by request_id"
OBJECTS = "select source, object_key, etag, records from processed_objects order by all"
REJECTS = "select source, location, reason from rejected_records order by all"
CURSORS = "select source, partition, value from ingest_cursors order by all"
TOTALS = (
    "select count(*), sum(input_tokens), sum(output_tokens), sum(cost_usd), "
    "count(*) filter (where cost_usd is null) from usage_events"
)


def test_three_shards_merged_equal_one_unsharded_run(aws: Any, tmp_path: Path) -> None:
    assert _upload(aws) == 110
    single = AppContext.create(str(tmp_path / "single.duckdb"), None, quiet=True)
    with closing(single.connect()) as con:
        run_source(single, con, "bedrock-s3", {"bucket": BUCKET, "prefix": "bedrock-logs"})
    shards = [tmp_path / f"shard-{k}.duckdb" for k in range(3)]
    for k, db in enumerate(shards):
        ran = _ingest(db, "--shard", f"{k}/3")
        assert ran.exit_code == 0, ran.output
        assert f"shard {k}/3 of bedrock-s3 loaded into {db}" in ran.stderr
        # a worker loads its raw rows only: the build and publish wait for the merge
        tables = "select count(*) from duckdb_tables() where table_name = 'usage_events'"
        assert _rows(db, tables) == [(0,)]
        assert not (tmp_path / f"shard-{k}.snapshot.duckdb").exists()
    merged = tmp_path / "merged.duckdb"
    result = _llmledger(merged, "merge", *map(str, shards))
    assert result.exit_code == 0, result.output
    assert "merged 3 databases: 2098 new, 0 updated, 5 cursors moved" in result.stderr

    # Disjoint shards that cover every object: each of them owns some account/region/days.
    owned = [{r[1] for r in _rows(db, OBJECTS)} for db in shards]
    assert [len(keys) for keys in owned] == [69, 24, 16]
    assert set.union(*owned) == {r[1] for r in _rows(single.db_path, OBJECTS)}
    assert sum(map(len, owned)) == 109  # the 110th is a data/ body, never read
    # Row for row what one worker loads (so the same bill: the build is deterministic; the
    # totals are those of the unsharded run built).
    for sql in (RAW, OBJECTS, REJECTS, CURSORS):
        assert _rows(merged, sql) == _rows(single.db_path, sql), sql
    assert [tuple(map(str, r)) for r in _rows(merged, TOTALS)] == [
        ("2098", "1503228", "2713551", "155.467716490000", "42"),
    ]

    # A shard run again reads nothing; merged again, it changes nothing.
    before = [_rows(merged, sql) for sql in (RAW, OBJECTS, REJECTS, CURSORS, TOTALS)]
    again = _ingest(shards[1], "--shard", "1/3")
    assert again.exit_code == 0
    assert "bedrock-s3: 0 new, 0 updated, 0 rejected" in again.stderr
    remerged = _llmledger(merged, "merge", str(shards[1]))
    assert "merged 1 database: 0 new, 0 updated, 0 cursors moved" in remerged.stderr
    assert "incremental build: 0 days rebuilt" in remerged.stderr
    assert [_rows(merged, sql) for sql in (RAW, OBJECTS, REJECTS, CURSORS, TOTALS)] == before


def test_shard_and_merge_refuse_what_they_cannot_do(aws: Any, tmp_path: Path) -> None:
    db = tmp_path / "ledger.duckdb"
    bad = _ingest(db, "--shard", "3/3")
    assert bad.exit_code == 2
    assert bad.stderr.strip().splitlines()[-1] == (
        "error: --shard must be K/N with 0 <= K < N (K counts from 0, e.g. 0/3), got '3/3'"
    )
    no_shard = _llmledger(db, "ingest", "bedrock-cloudwatch", "--log-group", "g", "--shard", "0/2")
    assert no_shard.exit_code == 2
    assert "Error: No such option '--shard'." in no_shard.stderr
    missing = _llmledger(db, "merge", str(tmp_path / "nowhere.duckdb"))
    assert missing.exit_code == 2
    assert missing.stderr.strip().splitlines()[-1] == (
        f"error: merge: no database at {tmp_path / 'nowhere.duckdb'}; pass the --db of each worker"
    )
    app = AppContext.create(str(db), None, quiet=True)
    con = app.connect()
    with pytest.raises(ConfigError) as err:
        run_source(app, con, "bedrock-cloudwatch", {"log_group": "g"}, shard=Shard(0, 2))
    assert str(err.value) == (
        "bedrock-cloudwatch does not shard; run one worker per source (each with its own --db) "
        "and combine them with `llmledger merge`"
    )


def test_files_shards_split_a_folder_by_day_folder(tmp_path: Path) -> None:
    root = (
        SAMPLE
        / "bedrock-logs"
        / "AWSLogs"
        / "444455556666"
        / "BedrockModelInvocationLogs"
        / "us-east-1"
    )
    found: list[set[str]] = []
    for k in range(2):
        app = AppContext.create(str(tmp_path / f"shard-{k}.duckdb"), None, quiet=True)
        con = app.connect()
        run_source(app, con, "bedrock-files", {"path": str(root)}, shard=Shard(k, 2))
        found.append(
            {r[0] for r in con.execute("select object_key from processed_objects").fetchall()}
        )
        con.close()
    assert not found[0] & found[1]
    assert len(found[0] | found[1]) == sum(1 for p in root.rglob("*.json.gz"))
    assert [len(f) for f in found] == [16, 110]
    # a worker owns whole day folders (YYYY/MM/DD/, every hour of it), as an S3 worker a prefix
    days = [{str(Path(key).relative_to(root).parent.parent) for key in f} for f in found]
    assert not days[0] & days[1]
    assert [len(d) for d in days] == [1, 7]
