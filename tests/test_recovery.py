"""Nothing lost from one bad record (issue 11, items 9, 10 and the AWS part of 11).

- vertex-files keeps the complete lines of a truncated gzip and the good lines of a file with a
  line that is not UTF-8, as Bedrock does (one recovery for both formats); a token count that is
  not an integer is rejected, in files and through the API, not rounded.
- a files source under a tree with a symlink loop reads each file once, warns and exits 0.
- ``AWS_REGION`` is honoured as ``AWS_DEFAULT_REGION`` is (AWS_REGION first, as the AWS CLI).
"""

from __future__ import annotations

import gzip
import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from moto_server import aws, moto_endpoint  # noqa: F401
from test_vertex import GATEWAY_LOG, T0, audit, response
from test_vertex import ingest as ingest_api
from vertex_server import FakeCloudLogging

from ingest.cli import cli
from ingest.config import Config
from ingest.context import AppContext
from ingest.runner import run_source
from ingest.sources.bedrock import format as bedrock
from ingest.transports import cloud_logging

WRONG_OUTPUT = "wrong type for usage.output_tokens: expected an integer"


def _lines(entries: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(e).encode() + b"\n" for e in entries)


def _usage(n: int, **usage: Any) -> dict[str, Any]:
    tokens = usage or {"input_tokens": 10, "output_tokens": 20}
    return response(f"u{n}", T0 + timedelta(seconds=n), f"msg_vrtx_{n}", usage=tokens)


def _truncated_gzip(complete: int) -> bytes:
    """A gzip of ``complete`` entries and half of one more, cut before its end (no trailer)."""
    text = _lines([_usage(i) for i in range(complete)]) + _lines([_usage(99)])[:40]
    return gzip.compress(text)[:-8]


def _sink(tmp_path: Path) -> Path:
    """A sink's day folder."""
    hour = tmp_path / "sink" / "claude-gateway" / "2026" / "11" / "02"
    hour.mkdir(parents=True)
    return hour


def _app(tmp_path: Path) -> tuple[AppContext, Any]:
    app = AppContext(db_path=tmp_path / "ledger.duckdb", config=Config(path=None), quiet=True)
    return app, app.connect()


def _rows(con: Any, sql: str) -> list[Any]:
    return con.execute(sql).fetchall()


# --------------------------------------------------------------------------- item 9


def test_vertex_files_recover_a_truncated_gzip_as_bedrock_does(tmp_path: Path) -> None:
    root = _sink(tmp_path)
    where = str(root.relative_to(tmp_path))
    (root / "cut.json.gz").write_bytes(_truncated_gzip(14))
    (root / "whole.json").write_bytes(_lines([_usage(50)]))
    reason = "truncated gzip: 14 complete lines recovered, the rest is unreadable"
    app, con = _app(tmp_path)
    result = run_source(app, con, "vertex-files", {"path": str(tmp_path / "sink")})
    assert _rows(con, "select location, reason from rejected_records") == [
        (f"{where}/cut.json.gz", reason)
    ]
    assert (result.new_rows, result.rejected_rows) == (15, 1)
    assert _rows(con, "select count(*) from raw_vertex_usage") == [(15,)]
    assert _rows(con, "select source_location from raw_vertex_usage where insert_id = 'u13'") == [
        (f"{where}/cut.json.gz:14",)
    ]
    again = run_source(app, con, "vertex-files", {"path": str(tmp_path / "sink")})
    assert (again.new_rows, again.rejected_rows) == (0, 0)
    # The same file through Bedrock's recovery names the same reason: one recovery for both.
    (tmp_path / "b").mkdir()
    lines = b"".join(json.dumps({"requestId": f"r{i}"}).encode() + b"\n" for i in range(14))
    (tmp_path / "b" / "cut.json.gz").write_bytes(gzip.compress(lines + b'{"requ')[:-8])
    parsed = bedrock.parse_files(con, [str(tmp_path / "b" / "cut.json.gz")], source_kind="files")
    assert (str(tmp_path / "b" / "cut.json.gz"), reason) in parsed.rejected
    parsed.drop(con)


def test_vertex_files_load_the_good_lines_beside_one_that_is_not_utf8(tmp_path: Path) -> None:
    root = _sink(tmp_path)
    where = str(root.relative_to(tmp_path))
    bad = json.dumps(audit("a-bad", T0)).encode().replace(b"StreamRawPredict", b"Stream\xff\xfe")
    (root / "mixed.json").write_bytes(_lines([_usage(1)]) + bad + b"\n" + _lines([_usage(2)]))
    (root / "mixed.json.gz").write_bytes(
        gzip.compress(_lines([_usage(3)]) + bad + b"\n" + _lines([_usage(4)]))
    )
    app, con = _app(tmp_path)
    result = run_source(app, con, "vertex-files", {"path": str(tmp_path / "sink")})
    assert sorted(_rows(con, "select location, reason from rejected_records")) == [
        (f"{where}/mixed.json.gz:2", "invalid UTF-8"),
        (f"{where}/mixed.json:2", "invalid UTF-8"),
    ]
    assert (result.new_rows, result.rejected_rows) == (4, 2)
    assert _rows(con, "select insert_id, source_location from raw_vertex_usage order by 1") == [
        ("u1", f"{where}/mixed.json:1"),
        ("u2", f"{where}/mixed.json:3"),
        ("u3", f"{where}/mixed.json.gz:1"),
        ("u4", f"{where}/mixed.json.gz:3"),
    ]


def test_vertex_files_still_reject_a_file_with_nothing_readable(tmp_path: Path) -> None:
    root = _sink(tmp_path)
    where = str(root.relative_to(tmp_path))
    (root / "binary.json").write_bytes(bytes(range(128, 256)) * 4)
    (root / "good.json").write_bytes(_lines([_usage(1)]))
    app, con = _app(tmp_path)
    result = run_source(app, con, "vertex-files", {"path": str(tmp_path / "sink")})
    assert _rows(con, "select location, reason from rejected_records") == [
        (f"{where}/binary.json", "unreadable file")
    ]
    assert (result.new_rows, result.rejected_rows) == (1, 1)


def test_vertex_files_reject_token_counts_that_are_not_integers(tmp_path: Path) -> None:
    root = _sink(tmp_path)
    where = str(root.relative_to(tmp_path))
    (root / "counts.json").write_bytes(
        _lines(
            [
                _usage(1, input_tokens=10, output_tokens=12.5),
                _usage(2, input_tokens=10, output_tokens=1e3),
                _usage(3, input_tokens=10, output_tokens=13),
            ]
        )
    )
    app, con = _app(tmp_path)
    result = run_source(app, con, "vertex-files", {"path": str(tmp_path / "sink")})
    assert _rows(con, "select location, reason from rejected_records order by 1") == [
        (f"{where}/counts.json:1", WRONG_OUTPUT),
        (f"{where}/counts.json:2", WRONG_OUTPUT),
    ]
    assert (result.new_rows, result.rejected_rows) == (1, 2)
    assert _rows(con, "select insert_id, output_tokens from raw_vertex_usage") == [("u3", 13)]


@pytest.mark.service
def test_vertex_api_rejects_token_counts_that_are_not_integers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cloud_logging, "RETRY_INITIAL", 0.001)
    monkeypatch.setattr(cloud_logging, "RETRY_MAXIMUM", 0.02)
    app, con = _app(tmp_path)
    with FakeCloudLogging() as server:
        server.add(
            _usage(1, input_tokens=10, output_tokens=12.5),
            _usage(2, input_tokens=4, output_tokens=5),
        )
        result = ingest_api(app, con, server)
    assert _rows(con, "select location, reason from rejected_records") == [
        (f"{GATEWAY_LOG}#u1", WRONG_OUTPUT)
    ]
    assert (result.new_rows, result.rejected_rows) == (1, 1)
    assert _rows(con, "select insert_id, output_tokens from raw_vertex_usage") == [("u2", 5)]


# --------------------------------------------------------------------------- item 10


def test_a_symlink_loop_is_read_once_with_a_warning(tmp_path: Path) -> None:
    root = _sink(tmp_path)
    where = str(root.relative_to(tmp_path))
    (root / "a").mkdir()
    (root / "a" / "x.json").write_bytes(_lines([_usage(1), _usage(2)]))
    os.symlink("..", root / "a" / "loop")  # ln -s .. loop
    os.symlink(tmp_path / "nowhere", root / "dangling.json")
    db = tmp_path / "ledger.duckdb"
    result = CliRunner().invoke(
        cli, ["--db", str(db), "ingest", "vertex-files", str(tmp_path / "sink")]
    )
    assert result.exit_code == 0, result.output
    assert f"warning: {root.resolve()}/a/loop links back to a folder already read; skipped" in (
        result.stderr
    )
    app, con = _app(tmp_path)
    assert _rows(con, "select source_location from raw_vertex_usage order by 1") == [
        (f"{where}/a/x.json:1",),
        (f"{where}/a/x.json:2",),
    ]
    assert _rows(con, "select count(*) from rejected_records") == [(0,)]
    assert _rows(con, "select object_key from processed_objects") == [
        (str(root.resolve() / "a" / "x.json"),)
    ]


# --------------------------------------------------------------------------- item 11 (AWS)


@pytest.mark.service
def test_aws_region_is_honoured_like_aws_default_region(
    aws: Any,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ingest import aws as aws_mod

    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    logs = aws_mod.client("logs")
    assert logs.meta.region_name == "eu-west-1"
    logs.create_log_group(logGroupName="g")  # a real call to moto, signed for that region
    assert logs.describe_log_groups()["logGroups"][0]["arn"].startswith("arn:aws:logs:eu-west-1:")
    # Both set: AWS_REGION first, as the AWS CLI; an explicit region beats both.
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    assert aws_mod.client("s3").meta.region_name == "eu-west-1"
    assert aws_mod.client("s3", region="ap-south-1").meta.region_name == "ap-south-1"
