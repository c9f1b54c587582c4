"""Bedrock logs in every shape people hold them: each fixture's requests and cost exact, every
file of no known shape rejected by path with its reason (issue 9)."""

# ruff: noqa: F811 - pytest fixtures imported from moto_server are redefined as arguments

from __future__ import annotations

import csv
import gzip
import io
import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from moto_server import (  # noqa: F401 - fixtures
    ACCOUNT,
    aws,
    gz,
    log_key,
    moto_endpoint,
    ndjson,
    now_ms,
    put_events,
    put_objects,
    record,
)

from ingest import pipeline
from ingest.context import AppContext
from ingest.errors import DataError
from ingest.runner import run_source
from ingest.sources.bedrock import format as bedrock
from ingest.sources.bedrock import shapes

NO_RECORD = "not a Bedrock invocation log (no record found)"
BOM = "\ufeff"
# Claude Sonnet 4.5 on Bedrock: $3 / M input tokens, $15 / M output tokens, +10% through the
# us. (geographic) cross-region inference profile.
PER_REQUEST = (Decimal(1000) * 3 + Decimal(100) * 15) / 1_000_000 * Decimal("1.1")


def rec(request_id: str, **kw: Any) -> dict[str, Any]:
    """A priced record: 1,000 input and 100 output tokens (0.0045 USD)."""
    return record(request_id, input_tokens=1000, output_tokens=100, **kw)


def _pretty(records: list[Any], *, crlf: bool = False, bom: bool = False, indent: int = 2) -> bytes:
    text = "\n".join(json.dumps(r, indent=indent) for r in records) + "\n"
    return _text(text, crlf=crlf, bom=bom)


def _array(
    records: list[Any], *, crlf: bool = False, bom: bool = False, indent: int | None = 4
) -> bytes:
    return _text(json.dumps(records, indent=indent) + "\n", crlf=crlf, bom=bom)


def _text(text: str, *, crlf: bool = False, bom: bool = False) -> bytes:
    if crlf:
        text = text.replace("\n", "\r\n")
    return ((BOM if bom else "") + text).encode("utf-8")


def _export_lines(records: list[Any]) -> bytes:
    """CloudWatch Logs CreateExportTask: ``<ISO timestamp> <message>`` per line, gzip."""
    lines = [f"2026-11-20T10:00:{i:02d}.000Z {json.dumps(r)}" for i, r in enumerate(records)]
    return gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0)


def _insights_json(records: list[Any]) -> bytes:
    """A CloudWatch Logs Insights export (console "Export results > Download table (JSON)")."""
    rows = [
        {"@timestamp": f"2026-11-20 10:00:{i:02d}.000", "@message": json.dumps(r)}
        for i, r in enumerate(records)
    ]
    return json.dumps(rows, indent=2).encode()


def _insights_csv(records: list[Any]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["@timestamp", "@message"])
    for i, r in enumerate(records):
        writer.writerow([f"2026-11-20 10:00:{i:02d}.000", json.dumps(r)])
    return out.getvalue().encode()


_BR_FIRST = json.dumps(rec("br-1"), indent=2).count("\n") + 2  # the broken record's first line


@dataclass
class Case:
    name: str
    files: dict[str, bytes]
    requests: list[str]
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (location below root, reason)


def _pair(prefix: str) -> list[dict[str, Any]]:
    return [rec(f"{prefix}-1"), rec(f"{prefix}-2")]


CASES = [
    Case("json lines", {"a.jsonl": ndjson(_pair("jl"))}, ["jl-1", "jl-2"]),
    Case("json lines gzip", {"a.json.gz": gz(_pair("jg"))}, ["jg-1", "jg-2"]),
    Case(
        "json lines with BOM and CRLF",
        {"a.json": _text(ndjson(_pair("jb")).decode(), crlf=True, bom=True)},
        ["jb-1", "jb-2"],
    ),
    Case("json array", {"a.json": _array(_pair("ar"), indent=None)}, ["ar-1", "ar-2"]),
    Case(
        "json array with BOM and CRLF (PowerShell ConvertTo-Json | Out-File)",
        {"a.json": _array(_pair("ps"), crlf=True, bom=True)},
        ["ps-1", "ps-2"],
    ),
    Case(
        "json array in UTF-16 (Windows PowerShell 5.1 `>` or Out-File)",
        {"a.json": _array(_pair("u16"), crlf=True).decode().encode("utf-16")},
        ["u16-1", "u16-2"],
    ),
    Case(
        "json array gzip",
        {"a.json.gz": gzip.compress(_array(_pair("ag")), mtime=0)},
        ["ag-1", "ag-2"],
    ),
    Case("pretty-printed", {"a.json": _pretty(_pair("pp"))}, ["pp-1", "pp-2"]),
    Case(
        "pretty-printed gzip with BOM and CRLF",
        {"a.json.gz": gzip.compress(_pretty(_pair("pg"), crlf=True, bom=True), mtime=0)},
        ["pg-1", "pg-2"],
    ),
    Case(
        "CloudWatch export-to-S3",
        {"exportedlogs/1a2b/us-east-1-stream/000000.gz": _export_lines(_pair("ex"))},
        ["ex-1", "ex-2"],
    ),
    Case(
        "CloudWatch Logs Insights JSON",
        {"logs-insights-results.json": _insights_json(_pair("ij"))},
        ["ij-1", "ij-2"],
    ),
    Case(
        "CloudWatch Logs Insights JSON, an indented message and one that is not JSON",
        {
            "results.json": json.dumps(
                [
                    {"@timestamp": "2026-11-20 10:00:00.000", "@message": "INIT_START x"},
                    {
                        "@timestamp": "2026-11-20 10:00:01.000",
                        "@message": json.dumps(rec("im-1"), indent=2),
                    },
                ]
            ).encode()
        },
        ["im-1"],
        [("results.json#1", "malformed JSON")],
    ),
    Case(
        "CloudWatch Logs Insights CSV",
        {"logs-insights-results.csv": _insights_csv(_pair("ic"))},
        ["ic-1", "ic-2"],
    ),
    Case(
        "unexpected extensions",
        {
            "bedrock.log": ndjson([rec("lg-1")]),
            "records.txt": _array([rec("tx-1")]),
            "noextension": gz([rec("ne-1")]),
        },
        ["lg-1", "ne-1", "tx-1"],
    ),
    Case(
        "files that are not logs, beside one that is",
        {
            "package.json": _pretty([{"name": "demo", "version": "1.0.0"}]),
            "settings.jsonl": ndjson([{"theme": "dark"}, [1, 2]]),
            "notes.txt": b"remember to export the logs\n",
            "empty-array.json": b"[]\n",
            "good.json": ndjson([rec("ok-1")]),
        },
        ["ok-1"],
        [
            ("empty-array.json", NO_RECORD),
            ("notes.txt", NO_RECORD),
            ("package.json", NO_RECORD),
            ("settings.jsonl", NO_RECORD),
        ],
    ),
    Case(
        "one bad pretty-printed record among good ones",
        {
            "a.json": _pretty(
                [
                    rec("bp-1"),
                    rec("bp-2", drop=("modelId",)),
                    rec("bp-3", extra={"schemaType": "SomethingElse"}),
                    {"unrelated": True},
                    rec("bp-5"),
                ]
            )
        },
        ["bp-1", "bp-5"],
        [
            ("a.json#2", "missing field modelId"),
            ("a.json#3", "not a ModelInvocationLog record"),
            ("a.json#4", "not a ModelInvocationLog record"),
        ],
    ),
    Case(
        "a pretty-printed file with one record that is not valid JSON",
        {
            "broken.json": _pretty([rec("br-1")])
            + b'{\n  "requestId": "br-2",\n  "modelId": \n}\n'
            + _pretty([rec("br-3")]),
            "fine.json": ndjson([rec("fi-1"), "{not json", {"x": 1}]),
        },
        ["br-1", "br-3", "fi-1"],
        [
            # one reject for the bad record, by index and lines, with the parser's reason
            (
                f"broken.json#2 (lines {_BR_FIRST}-{_BR_FIRST + 3})",
                f"malformed JSON at line {_BR_FIRST + 3}",
            ),
            ("fine.json:2", "malformed JSON"),
            ("fine.json:3", "not a ModelInvocationLog record"),
        ],
    ),
]


def _write(root: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_shape_loads_its_records_priced(case: Case, tmp_path: Path) -> None:
    root = tmp_path / "logs"
    _write(root, case.files)
    app = AppContext.create(str(tmp_path / "ledger.duckdb"), None, quiet=True)
    con = app.connect()
    result = run_source(app, con, "bedrock-files", {"path": str(root)})
    assert (result.new_rows, result.rejected_rows) == (len(case.requests), len(case.rejected))
    rejected = con.execute(
        "select location, reason from rejected_records where source = 'bedrock-files' "
        "order by location"
    ).fetchall()
    assert rejected == [(f"{root}/{where}", reason) for where, reason in case.rejected]
    pipeline.build(app, con)
    ids, cost = con.execute(
        "select list(request_id order by request_id), sum(cost_usd) from usage_events"
    ).fetchall()[0]
    assert ids == case.requests
    assert cost == PER_REQUEST * len(case.requests)
    # Read once: a second run reads nothing and rejects nothing again.
    again = run_source(app, con, "bedrock-files", {"path": str(root)})
    assert (again.new_rows, again.rejected_rows) == (0, 0)


@pytest.mark.parametrize(
    ("files", "what"),
    [
        ({}, "no file there"),
        (
            {
                bedrock.PERMISSION_CHECK_MARKER: b"",
                "2026/11/20/10/data/big_input.json.gz": gz([{"messages": "body"}]),
            },
            "2 files, none of them readable",
        ),
    ],
    ids=["empty folder", "only a marker and a body object"],
)
def test_a_path_with_nothing_readable_is_an_error(
    files: dict[str, bytes], what: str, tmp_path: Path
) -> None:
    from ingest.cli import cli

    root = tmp_path / "logs"
    root.mkdir()
    _write(root, files)
    app = AppContext.create(str(tmp_path / "ledger.duckdb"), None, quiet=True)
    with pytest.raises(DataError) as caught:
        run_source(app, app.connect(), "bedrock-files", {"path": str(root)})
    message = f"bedrock-files: nothing to read in {root}: {what}"
    assert str(caught.value) == message
    db = tmp_path / "cli.duckdb"
    result = CliRunner().invoke(cli, ["--db", str(db), "ingest", "bedrock-files", str(root)])
    assert result.exit_code == 1
    assert message in result.stderr


def test_cli_reads_a_log_file_by_content(tmp_path: Path) -> None:
    from ingest.cli import cli

    log = tmp_path / "bedrock.log"
    log.write_bytes(_array([rec("cli-1"), rec("cli-2")], bom=True, crlf=True))
    db = tmp_path / "cli.duckdb"
    result = CliRunner().invoke(cli, ["--db", str(db), "ingest", "bedrock-files", str(log)])
    assert result.exit_code == 0, result.output + result.stderr
    assert "bedrock-files: 2 new, 0 updated, 0 rejected" in result.stderr


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (ndjson([rec("a")]), shapes.LINES),
        (gz([rec("a")]), shapes.LINES),
        (_array([rec("a")], bom=True, crlf=True), shapes.ARRAY),
        (_pretty([rec("a")]), shapes.DOCUMENT),
        (_export_lines([rec("a")]), shapes.EXPORT),
        (_insights_json([rec("a")]), shapes.INSIGHTS_JSON),
        (_insights_csv([rec("a")]), shapes.INSIGHTS_CSV),
        (b"hello\n", shapes.UNKNOWN),
        (b"  \n", shapes.UNKNOWN),
    ],
)
def test_detect(data: bytes, kind: str, tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(data)
    assert shapes.detect(str(path)).kind == kind


@pytest.mark.service
def test_export_to_s3_objects_through_s3(aws: Any, tmp_path: Path) -> None:
    """Objects of any name and shape under the log prefix are read by content."""
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="shapes")
    hour = "2026/11/20/10"
    put_objects(
        s3,
        "shapes",
        {
            log_key("logs", ACCOUNT, "us-east-1", hour, "000000.gz"): _export_lines(_pair("s3x")),
            log_key("logs", ACCOUNT, "us-east-1", hour, "README.txt"): b"exported by hand\n",
        },
    )
    app = AppContext.create(str(tmp_path / "ledger.duckdb"), None, quiet=True)
    con = app.connect()
    result = run_source(app, con, "bedrock-s3", {"bucket": "shapes", "prefix": "logs"}, client=s3)
    assert (result.new_rows, result.rejected_rows) == (2, 1)
    assert con.execute("select location, reason from rejected_records").fetchall() == [
        (f"s3://shapes/{log_key('logs', ACCOUNT, 'us-east-1', hour, 'README.txt')}", NO_RECORD)
    ]
    assert con.execute(
        "select request_id, source_location from raw_bedrock order by 1"
    ).fetchall() == [
        (f"s3x-{i}", f"s3://shapes/{log_key('logs', ACCOUNT, 'us-east-1', hour, '000000.gz')}#{i}")
        for i in (1, 2)
    ]
    pipeline.build(app, con)
    assert con.execute("select sum(cost_usd) from usage_events").fetchone() == (PER_REQUEST * 2,)


@pytest.mark.service
def test_a_cloudwatch_export_task_tree_through_s3(aws: Any, tmp_path: Path) -> None:
    """CreateExportTask writes <prefix>/<task id>/<log stream>/000000.gz, not the AWSLogs/...
    YYYY/MM/DD layout: `bedrock-s3 --prefix <destinationPrefix>` reads it (moto runs the real
    export: the gzip lines are "<ISO time> <record>")."""
    logs, s3 = aws.client("logs"), aws.client("s3")
    s3.create_bucket(Bucket="exports")
    logs.create_log_group(logGroupName="/aws/bedrock/modelinvocations")
    now = now_ms()
    records = [rec("cw-1"), rec("cw-2"), rec("cw-3")]
    put_events(
        logs,
        "/aws/bedrock/modelinvocations",
        "aws/bedrock/modelinvocations",
        [(now - 60_000 + i, json.dumps(r)) for i, r in enumerate(records)],
    )
    logs.create_export_task(
        logGroupName="/aws/bedrock/modelinvocations",
        fromTime=now - 3_600_000,
        to=now + 60_000,
        destination="exports",
        destinationPrefix="bedrock-export",
    )
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="exports")["Contents"]]
    (data_key,) = [k for k in keys if k.endswith("/000000.gz")]
    assert data_key.startswith("bedrock-export/") and "AWSLogs" not in data_key
    app = AppContext.create(str(tmp_path / "ledger.duckdb"), None, quiet=True)
    con = app.connect()
    options = {"bucket": "exports", "prefix": "bedrock-export"}
    result = run_source(app, con, "bedrock-s3", options, client=s3)
    assert (result.new_rows, result.rejected_rows) == (3, 0)
    assert con.execute(
        "select request_id, source_location from raw_bedrock order by 1"
    ).fetchall() == [(f"cw-{i}", f"s3://exports/{data_key}#{i}") for i in (1, 2, 3)]
    pipeline.build(app, con)
    assert con.execute("select sum(cost_usd) from usage_events").fetchone() == (PER_REQUEST * 3,)
    # The task's folder is its own partition; a second run reads nothing again.
    task = data_key.split("/")[1]
    assert con.execute("select partition from ingest_cursors").fetchall() == [(f"export/{task}",)]
    again = run_source(app, con, "bedrock-s3", options, client=s3)
    assert (again.new_rows, again.rejected_rows) == (0, 0)
    # --prefix may also name the task itself.
    fresh = AppContext.create(str(tmp_path / "task.duckdb"), None, quiet=True)
    one = run_source(
        fresh,
        fresh.connect(),
        "bedrock-s3",
        {"bucket": "exports", "prefix": f"bedrock-export/{task}"},
        client=s3,
    )
    assert one.new_rows == 3


def test_amazon_models_beside_claude_load_as_unpriced_events(tmp_path: Path) -> None:
    """Nova and Titan in the same log are events (flagged unpriced), not rejects nor skips."""
    root = tmp_path / "logs"
    root.mkdir()
    (root / "mixed.json").write_bytes(
        ndjson(
            [
                rec("claude-1"),
                rec("nova-1", model_id="us.amazon.nova-pro-v1:0"),
                rec("titan-1", model_id="amazon.titan-text-express-v1"),
            ]
        )
    )
    app = AppContext.create(str(tmp_path / "ledger.duckdb"), None, quiet=True)
    con = app.connect()
    result = run_source(app, con, "bedrock-files", {"path": str(root)})
    assert (result.new_rows, result.rejected_rows, result.skipped) == (3, 0, {})
    pipeline.build(app, con)
    assert con.execute(
        "select request_id, model, unpriced, cost_usd from usage_events order by 1"
    ).fetchall() == [
        ("claude-1", "claude-sonnet-4-5", False, PER_REQUEST),
        ("nova-1", "amazon.nova-pro", True, None),
        ("titan-1", "amazon.titan-text-express", True, None),
    ]
