"""Bad Bedrock input (ARCHITECTURE rule 9): the rest of the batch loads, each bad record is in
rejected_records with its location and a fixed reason, and nothing else is lost or doubled.

The same planted tree goes through the local-files source and through S3 (moto).
"""

# ruff: noqa: F811 - pytest fixtures imported from moto_server are redefined as arguments

from __future__ import annotations

import gzip
import json
import random
import zlib
from pathlib import Path
from typing import Any

import pytest
from moto_server import aws, gz, log_key, moto_endpoint, put_objects, record  # noqa: F401

from ingest.context import AppContext
from ingest.runner import run_source
from ingest.sources.bedrock import format as bedrock

BUCKET = "bad-input-logs"
HOUR = "2026/11/08/04"
ACCOUNT = "111122223333"


def _key(name: str) -> str:
    return log_key("logs", ACCOUNT, "us-east-1", HOUR, name)


def _truncated() -> tuple[bytes, int]:
    """A gzip of 10 good records cut at 60% of its bytes, and how many lines it still holds."""
    noise = random.Random(7)  # incompressible padding, so the cut falls mid-stream
    lines = [
        record(f"trunc-{i}", extra={"pad": f"{noise.getrandbits(256):064x}"}) for i in range(10)
    ]
    data = gzip.compress(b"".join(json.dumps(r).encode() + b"\n" for r in lines), mtime=0)
    cut = data[: int(len(data) * 0.6)]
    text = zlib.decompressobj(wbits=31).decompress(cut)
    return cut, text.count(b"\n")


BAD_LINES = [
    record("ok-1", one_hour=700, cache_write=1000),
    "{not json",
    '{"schemaType":"ModelInvocationLog","requestId":"cut-',
    record("x", drop=("requestId",)),
    record("no-timestamp", drop=("timestamp",)),
    record("no-model", drop=("modelId",)),
    record("bad-time", timestamp="yesterday"),
    record("tokens-text", input_tokens="many"),
    record("tokens-fraction", output_tokens=12.5),
    record("tokens-negative", cache_read=-3),
    record("other-schema", extra={"schemaType": "SomethingElse"}),
    record("x", extra={"requestId": {"id": 1}}),
    record("ok-1", one_hour=700, cache_write=1000),  # the same record again: counted once
    "[1, 2]",
    record(
        "ok-2",
        body=False,
        drop=("input.cacheReadInputTokenCount", "input.cacheWriteInputTokenCount"),
    ),
]
EXPECTED_LINE_REASONS = [
    (2, "malformed JSON"),
    (3, "malformed JSON"),
    (4, "missing field requestId"),
    (5, "missing field timestamp"),
    (6, "missing field modelId"),
    (7, "invalid timestamp"),
    (8, "wrong type for input.inputTokenCount: expected an integer"),
    (9, "wrong type for output.outputTokenCount: expected an integer"),
    (10, "negative input.cacheReadInputTokenCount"),
    (11, "not a ModelInvocationLog record"),
    (12, "wrong type for requestId: expected a string"),
    (14, "not a ModelInvocationLog record"),  # valid JSON (was labelled "malformed JSON")
]


def _tree() -> tuple[dict[str, bytes], int]:
    truncated, recovered = _truncated()
    tree = {
        _key("20261108T040000000Z_bad.json.gz"): gz(BAD_LINES),
        _key("20261108T041000000Z_dup.json.gz"): gz([record("ok-2"), record("ok-3")]),
        _key("20261108T042000000Z_trunc.json.gz"): truncated,
        _key("20261108T043000000Z_junk.json.gz"): b"this is not gzip\n",
        _key("20261108T044000000Z_empty.json.gz"): b"",
        _key("data/ok-1_input.json.gz"): gz([{"text": "LLMLEDGER-BODY-SENTINEL"}]),
        f"logs/AWSLogs/{ACCOUNT}/BedrockModelInvocationLogs/{bedrock.PERMISSION_CHECK_MARKER}": b"",
        f"logs/{bedrock.PERMISSION_CHECK_MARKER}": b"",
    }
    return tree, recovered


def _check(con: Any, result: Any, where: str, recovered: int) -> None:
    """``where`` is the location prefix of the hour folder (a path or an s3:// URI)."""
    bad = f"{where}/20261108T040000000Z_bad.json.gz"
    expected = {(f"{bad}:{line}", reason) for line, reason in EXPECTED_LINE_REASONS}
    expected |= {
        (
            f"{where}/20261108T042000000Z_trunc.json.gz",
            f"truncated gzip: {recovered} complete lines recovered, the rest is unreadable",
        ),
        (f"{where}/20261108T043000000Z_junk.json.gz", "not a gzip file"),
    }
    rejected = set(con.execute("select location, reason from rejected_records").fetchall())
    assert rejected == expected
    assert result.rejected_rows == len(expected) == 14
    ids = [r[0] for r in con.execute("select request_id from raw_bedrock order by 1").fetchall()]
    assert ids == ["ok-1", "ok-2", "ok-3"] + [f"trunc-{i}" for i in range(recovered)]
    assert result.new_rows == 3 + recovered
    # The duplicate keeps its first occurrence; optional fields missing load as zeros.
    ok1 = con.execute(
        "select source_location, cache_write_tokens, cache_write_1h_tokens from raw_bedrock "
        "where request_id = 'ok-1'"
    ).fetchall()
    assert ok1 == [(f"{bad}:1", 1000, 700)]
    ok2 = con.execute(
        "select cache_read_tokens, cache_write_tokens, cache_write_1h_tokens from raw_bedrock "
        "where request_id = 'ok-2'"
    ).fetchall()
    assert ok2 == [(0, 0, None)]
    # Skipped, not rejected and not remembered: the empty file, data/ bodies, markers.
    keys = [
        r[0] for r in con.execute("select object_key from processed_objects order by 1").fetchall()
    ]
    assert [k.rsplit("/", 1)[-1] for k in keys] == [
        "20261108T040000000Z_bad.json.gz",
        "20261108T041000000Z_dup.json.gz",
        "20261108T042000000Z_trunc.json.gz",
        "20261108T043000000Z_junk.json.gz",
    ]


def test_bad_input_through_local_files(tmp_path: Path) -> None:
    tree, recovered = _tree()
    root = tmp_path / "tree"
    for key, data in tree.items():
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_bytes(data)
    app = AppContext.create(str(tmp_path / "ledger.duckdb"), None, quiet=True)
    con = app.connect()
    result = run_source(app, con, "bedrock-files", {"path": str(root)})
    _check(con, result, str(root / _key("x").rsplit("/", 1)[0]), recovered)
    # Nothing changes on a second run, and the rejections are not recorded twice.
    again = run_source(app, con, "bedrock-files", {"path": str(root)})
    assert (again.new_rows, again.updated_rows, again.rejected_rows) == (0, 0, 0)


@pytest.mark.service
def test_bad_input_through_s3(aws: Any, tmp_path: Path) -> None:
    tree, recovered = _tree()
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    put_objects(s3, BUCKET, tree)
    app = AppContext.create(str(tmp_path / "ledger.duckdb"), None, quiet=True)
    con = app.connect()
    result = run_source(app, con, "bedrock-s3", {"bucket": BUCKET, "prefix": "logs"})
    _check(con, result, f"s3://{BUCKET}/" + _key("x").rsplit("/", 1)[0], recovered)


def test_a_batch_of_only_unreadable_files(tmp_path: Path) -> None:
    (tmp_path / "a.json.gz").write_bytes(b"plain text, not gzip")
    (tmp_path / "b.json.gz").write_bytes(gzip.compress(b'{"requestId": "cut')[:12])
    con = AppContext.create(str(tmp_path / "l.duckdb"), None, quiet=True).connect()
    parsed = bedrock.parse_files(
        con, [str(tmp_path / "a.json.gz"), str(tmp_path / "b.json.gz")], source_kind="files"
    )
    assert parsed.rows == 0
    assert sorted(parsed.rejected) == [
        (str(tmp_path / "a.json.gz"), "not a gzip file"),
        (str(tmp_path / "b.json.gz"), "truncated gzip: no complete line"),
    ]
    assert con.execute(f"select count(*) from {parsed.table}").fetchall() == [(0,)]
    parsed.drop(con)
