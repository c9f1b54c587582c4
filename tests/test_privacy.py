"""Bodies never enter the database (ARCHITECTURE rule 2).

Every prompt and response body in the fixtures carries a sentinel string. After ingesting the
three Bedrock sources through the real CLI (which also builds the models and publishes the
snapshot) and exporting, the sentinel must not occur in the bytes of the database, its WAL,
the snapshot, or any export.
"""

# ruff: noqa: F811 - pytest fixtures imported from moto_server are redefined as arguments

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner
from moto_server import (  # noqa: F401 - fixtures
    SENTINEL,
    aws,
    gz,
    log_key,
    moto_endpoint,
    now_ms,
    put_events,
    put_objects,
    record,
)

from ingest.cli import cli

pytestmark = pytest.mark.service

GROUP = "/aws/bedrock/modelinvocations"


def _records(prefix: str, n: int) -> list[dict[str, Any]]:
    return [
        record(
            f"{prefix}-{i}",
            timestamp=f"2026-11-{10 + i % 10:02d}T12:00:00Z",
            extra={"requestMetadata": {"team": "search", "project": "ranker"}},
        )
        for i in range(n)
    ]


def _invoke(args: list[str]) -> Any:
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output + result.stderr
    return result


def _files_with(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


def test_no_body_text_in_database_snapshot_or_exports(aws: Any, tmp_path: Path) -> None:
    # Local files: a batch file with bodies and a data/ body object.
    tree = tmp_path / "tree"
    batch = tree / log_key("logs", "111122223333", "us-east-1", "2026/11/20/10", "a.json.gz")
    batch.parent.mkdir(parents=True)
    batch.write_bytes(gz(_records("file", 10)))
    body = batch.parent / "data" / "file-0_input.json.gz"
    body.parent.mkdir()
    body.write_bytes(gz([{"messages": [{"content": SENTINEL}]}]))
    assert SENTINEL.encode() in gzip.decompress(batch.read_bytes())  # the control

    # S3: the same shape in moto.
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="privacy-logs")
    key = log_key("logs", "444455556666", "us-west-2", "2026/11/20/11", "b.json.gz")
    put_objects(
        s3,
        "privacy-logs",
        {
            key: gz(_records("s3", 10)),
            key.rsplit("/", 1)[0] + "/data/s3-0_input.json.gz": body.read_bytes(),
        },
    )

    # CloudWatch: one event per record, timestamps relative to now.
    logs = aws.client("logs")
    logs.create_log_group(logGroupName=GROUP)
    start = now_ms() - 3_600_000
    put_events(
        logs,
        GROUP,
        "aws/bedrock/modelinvocations",
        [(start + i * 1000, json.dumps(r)) for i, r in enumerate(_records("cw", 10))],
    )

    db = tmp_path / "ledger.duckdb"
    _invoke(["--db", str(db), "ingest", "bedrock-files", str(tree)])
    _invoke(
        ["--db", str(db), "ingest", "bedrock-s3", "--bucket", "privacy-logs", "--prefix", "logs"]
    )
    _invoke(["--db", str(db), "ingest", "bedrock-cloudwatch", "--log-group", GROUP])

    exports = tmp_path / "exports"
    exports.mkdir()
    _invoke(
        [
            "--db",
            str(db),
            "export",
            "billing",
            "--month",
            "2026-11",
            "--out",
            str(exports / "billing.csv"),
        ]
    )
    _invoke(
        [
            "--db",
            str(db),
            "export",
            "billing",
            "--month",
            "2026-11",
            "--format",
            "focus",
            "--out",
            str(exports / "focus.csv"),
        ]
    )
    _invoke(["--db", str(db), "export", "usage", "--out", str(exports / "usage.csv")])
    report = _invoke(["--db", str(db), "report", "--by", "developer", "--format", "json"])
    (exports / "report.json").write_text(report.output)

    usage = (exports / "usage.csv").read_text()
    for request_id in ("file-3", "s3-3", "cw-3"):
        assert request_id in usage  # every source really landed
    snapshot = tmp_path / "ledger.snapshot.duckdb"
    assert snapshot.is_file()
    searched = [p for p in tmp_path.glob("ledger*") if p.is_file()] + _files_with(exports)
    assert {p.name for p in searched} >= {"ledger.duckdb", "ledger.snapshot.duckdb", "usage.csv"}
    leaks = [p.name for p in searched if SENTINEL.encode() in p.read_bytes()]
    assert leaks == []
    # Bytes can hide a compressed string, so also ask DuckDB: every column of every table.
    for path in (db, snapshot):
        con = duckdb.connect(str(path))
        try:
            assert _cells_containing(con, SENTINEL) == []
            assert _cells_containing(con, "ranker") != []  # the control: tags are kept
        finally:
            con.close()


def _cells_containing(con: Any, text: str) -> list[str]:
    found = []
    columns = con.execute(
        "select table_name, column_name from information_schema.columns where table_schema = 'main'"
    ).fetchall()
    for table, column in columns:
        hits = con.execute(
            f'select count(*) from "{table}" where contains(cast("{column}" as varchar), ?)',
            [text],
        ).fetchall()[0][0]
        if hits:
            found.append(f"{table}.{column}")
    return found
