"""Vertex entries in every shape people hold them (issue 9): `gcloud logging read --format=json`
arrays (with and without a byte-order mark), pretty-printed entries, a sink's JSON lines, gzip
or plain, CRLF, any file name, inside a sink's dated folders or not. Each fixture's requests and
cost are exact; Gemini and other out-of-scope entries are skipped by kind, never rejected; a bad
record is rejected once, by file and record, with the real reason."""

from __future__ import annotations

import gzip
import json
import zlib
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner
from test_vertex import PROJECT, T0, audit, response
from test_vertex import ingest as ingest_api
from vertex_server import FakeCloudLogging

from ingest import pipeline
from ingest.cli import cli
from ingest.context import AppContext
from ingest.errors import DataError
from ingest.runner import run_source
from ingest.sources.vertex import format as vertex
from ingest.transports import cloud_logging

BOM = "\ufeff"
NO_ENTRY = "not a Vertex log file (no log entry found)"
NOT_ENTRY = "not a Vertex log entry: no logName"
USAGE = {"input_tokens": 1000, "output_tokens": 100}
# Claude Sonnet 4.5 on Vertex's global endpoint: $3 / M input tokens, $15 / M output tokens.
PER_REQUEST = Decimal("0.004500000000")
SINK_HOUR = "claude-gateway/2026/11/02/10:00:00_10:59:59_S0.json"


def use(n: int | str) -> dict[str, Any]:
    """A token entry (the gateway's Messages response) of 1,000 input and 100 output tokens."""
    at = T0 + timedelta(seconds=int(n) if str(n).isdigit() else 0)
    return response(f"u-{n}", at, f"msg_vrtx_{n}", usage=dict(USAGE))


def gemini_audit(n: int) -> dict[str, Any]:
    entry = audit(f"g-{n}", T0 + timedelta(seconds=n), model="gemini-2.5-flash")
    payload = entry["protoPayload"]
    payload["methodName"] = "google.cloud.aiplatform.v1.PredictionService.GenerateContent"
    payload["resourceName"] = payload["resourceName"].replace("/anthropic/", "/google/")
    return entry


def gemini_response_row(n: int) -> dict[str, Any]:
    """A request-response logging row for Gemini re-exported to Cloud Logging."""
    return {
        "insertId": f"gr-{n}",
        "logName": f"projects/{PROJECT}/logs/vertex-requests",
        "timestamp": "2026-11-02T10:00:00.000000Z",
        "jsonPayload": {
            "model": "publishers/google/models/gemini-2.5-pro",
            "api_method": "GenerateContent",
            "full_response": {"usageMetadata": {"promptTokenCount": 5}},
        },
    }


def gcloud(entries: list[Any], *, bom: bool = False, crlf: bool = False) -> bytes:
    """What `gcloud logging read --format=json` writes: an indented array, keys sorted."""
    return _text(json.dumps(entries, indent=2, sort_keys=True) + "\n", bom=bom, crlf=crlf)


def pretty(entries: list[Any]) -> bytes:
    """`jq .` output: indented entries one after another."""
    return _text("".join(json.dumps(e, indent=2) + "\n" for e in entries))


def lines(entries: list[Any], *, crlf: bool = False, bom: bool = False) -> bytes:
    """A Cloud Storage sink's hourly file: one entry per line."""
    return _text("".join(json.dumps(e) + "\n" for e in entries), crlf=crlf, bom=bom)


def _text(text: str, *, bom: bool = False, crlf: bool = False) -> bytes:
    if crlf:
        text = text.replace("\n", "\r\n")
    return ((BOM if bom else "") + text).encode()


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def cut(data: bytes) -> bytes:
    """A gzip stopped part-way (an interrupted download): no trailer, the last part missing."""
    whole = gzip.compress(data, mtime=0)
    return whole[: len(whole) * 3 // 4]


# A pretty-printed file with one entry that is not JSON (a value missing) between good ones.
_GOOD_1 = json.dumps(use(1), indent=2) + "\n"
_BROKEN = '{\n  "insertId": "u-2",\n  "logName": "projects/x/logs/y",\n  "timestamp": \n}\n'
_UNRELATED = json.dumps({"name": "llmledger", "version": "1.0"}, indent=2) + "\n"
_GOOD_4 = json.dumps(use(4), indent=2) + "\n"
_FIRST_BROKEN = _GOOD_1.count("\n") + 1  # the broken record's first line
_BROKEN_LAST = _FIRST_BROKEN + _BROKEN.count("\n") - 1


# The same, the broken entry missing its closing brace (the next entry opens at column 0).
_UNCLOSED = json.dumps(use(2), indent=2)[:-1]
_UNCLOSED_LAST = _FIRST_BROKEN + _UNCLOSED.count("\n") - 1
# A gcloud array whose second entry lost a value: the first and third load.
_BROKEN_ARRAY = gcloud([use(1), use(2), use(3)]).replace(b'"insertId": "u-2"', b'"insertId": ')
_ARRAY_LINES = _BROKEN_ARRAY.decode().split("\n")
_ARRAY_BAD = (
    next(i for i, t in enumerate(_ARRAY_LINES, 1) if t == "  },") + 1,  # after entry 1 closes
    [i for i, t in enumerate(_ARRAY_LINES, 1) if t == "  },"][1],
    next(i for i, t in enumerate(_ARRAY_LINES, 1) if t.strip() == '"insertId": ,'),
)


@dataclass
class Case:
    name: str
    files: dict[str, bytes]
    requests: list[str]
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (location below root, reason)
    skipped: dict[str, int] = field(default_factory=dict)


def _ids(*ns: int | str) -> list[str]:
    return sorted(f"msg_vrtx_{n}" for n in ns)


CASES = [
    Case("gcloud JSON array", {"entries.json": gcloud([use(1), use(2)])}, _ids(1, 2)),
    Case(
        "gcloud JSON array with BOM and CRLF (PowerShell Out-File)",
        {"entries.json": gcloud([use(1), use(2)], bom=True, crlf=True)},
        _ids(1, 2),
    ),
    Case(
        "gcloud JSON array in UTF-16 (Windows PowerShell 5.1 `>`)",
        {"entries.json": gcloud([use(1), use(2)], crlf=True).decode().encode("utf-16")},
        _ids(1, 2),
    ),
    Case(
        "JSON lines after a first line cut short",
        {SINK_HOUR: b'{"insertId": "cut-of\n' + lines([use(1), use(2)])},
        _ids(1, 2),
        [(f"{SINK_HOUR}:1", "malformed JSON")],
    ),
    Case("gcloud JSON array gzip", {"entries.json.gz": gz(gcloud([use(1), use(2)]))}, _ids(1, 2)),
    Case("pretty-printed entries", {"entries.json": pretty([use(1), use(2)])}, _ids(1, 2)),
    Case("sink JSON lines", {SINK_HOUR: lines([use(1), use(2)])}, _ids(1, 2)),
    Case("sink JSON lines gzip", {SINK_HOUR + ".gz": gz(lines([use(1), use(2)]))}, _ids(1, 2)),
    Case(
        "JSON lines with BOM and CRLF",
        {SINK_HOUR: lines([use(1), use(2)], crlf=True, bom=True)},
        _ids(1, 2),
    ),
    Case(
        "unexpected extensions",
        {
            "vertex.log": lines([use(1)]),
            "gcloud-output.txt": gcloud([use(2)]),
            "noextension": gz(lines([use(3)])),
            "named.gz": lines([use(4)]),  # named gzip but plain text
        },
        _ids(1, 2, 3, 4),
    ),
    Case(
        "a file outside date folders beside a sink's",
        {"loose/entries.jsonl": lines([use(1)]), SINK_HOUR: lines([use(2)])},
        _ids(1, 2),
    ),
    Case(
        "Gemini entries in the same stream are skipped, not rejected",
        {
            SINK_HOUR: lines([gemini_audit(1), use(2), gemini_response_row(3)]),
            "gcloud.json": gcloud([gemini_audit(4)]),
        },
        _ids(2),
        skipped={"gemini": 3},
    ),
    Case(
        "other services' and other publishers' entries are skipped",
        {
            SINK_HOUR: lines(
                [
                    {
                        "insertId": "t-1",
                        "logName": f"projects/{PROJECT}/logs/run.googleapis.com%2Fstdout",
                        "timestamp": "2026-11-02T10:00:00Z",
                        "textPayload": "listening on :8080",
                    },
                    {
                        **audit("s-1", T0),
                        "protoPayload": {
                            "serviceName": "storage.googleapis.com",
                            "methodName": "storage.objects.get",
                            "resourceName": "projects/_/buckets/b/objects/o",
                        },
                    },
                    {
                        **audit("m-1", T0),
                        "protoPayload": {
                            "serviceName": "aiplatform.googleapis.com",
                            "methodName": "google.cloud.aiplatform.v1.PredictionService.RawPredict",
                            "resourceName": f"projects/{PROJECT}/locations/us-central1/"
                            "publishers/mistralai/models/mistral-large-2411",
                        },
                    },
                    use(1),
                ]
            )
        },
        _ids(1),
        skipped={"not Vertex AI": 2, "other model": 1},
    ),
    Case(
        "JSON that is not a log entry",
        {
            SINK_HOUR: lines([use(1), {"name": "demo"}, [1, 2], use(4)]),
            "package.json": pretty([{"name": "demo", "version": "1.0.0"}]),
            "empty-array.json": b"[]\n",
            "notes.txt": b"remember to export the logs\n",
        },
        _ids(1, 4),
        [
            ("empty-array.json", NO_ENTRY),
            ("notes.txt", NO_ENTRY),
            ("package.json", NO_ENTRY),
            (f"{SINK_HOUR}:2", NOT_ENTRY),
            (f"{SINK_HOUR}:3", "not a JSON object"),
        ],
    ),
    Case(
        "one bad pretty-printed record among good ones",
        {"jq.json": (_GOOD_1 + _BROKEN + _UNRELATED + _GOOD_4).encode()},
        _ids(1, 4),
        [
            (
                f"jq.json#2 (lines {_FIRST_BROKEN}-{_BROKEN_LAST})",
                f"malformed JSON at line {_BROKEN_LAST}",
            ),
            ("jq.json#3", NOT_ENTRY),  # valid JSON, just not an entry
        ],
    ),
    Case(
        "a pretty-printed entry whose closing brace is missing",
        {"jq.json": (_GOOD_1 + _UNCLOSED + _GOOD_4).encode()},
        _ids(1, 4),
        [
            (
                f"jq.json#2 (lines {_FIRST_BROKEN}-{_UNCLOSED_LAST})",
                f"malformed JSON at line {_UNCLOSED_LAST}: the record is not closed",
            )
        ],
    ),
    Case(
        "a gcloud array with one entry that is not JSON",
        {"entries.json": _BROKEN_ARRAY},
        _ids(1, 3),
        [
            (
                f"entries.json#2 (lines {_ARRAY_BAD[0]}-{_ARRAY_BAD[1]})",
                f"malformed JSON at line {_ARRAY_BAD[2]}",
            )
        ],
    ),
    Case(
        "a valid pretty-printed object that is not an entry",
        {"jq.json": pretty([use(1), {"name": "demo"}, use(3)])},
        _ids(1, 3),
        [("jq.json#2", NOT_ENTRY)],
    ),
    Case(
        "truncated gzip of JSON lines",
        {SINK_HOUR + ".gz": cut(lines([use(n) for n in range(1, 41)]))},
        [],  # filled in by the test: the complete lines before the cut
    ),
    Case(
        "truncated gzip of a gcloud array",
        {"entries.json.gz": cut(gcloud([use(n) for n in range(1, 41)]))},
        [],
    ),
]


def _write(root: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def _app(tmp_path: Path) -> tuple[AppContext, duckdb.DuckDBPyConnection]:
    app = AppContext.create(str(tmp_path / "ledger.duckdb"), None, quiet=True)
    return app, app.connect()


def _truncated_expectation(case: Case) -> None:
    """The entries a cut gzip still holds whole, and the file's own reject."""
    ((name, data),) = case.files.items()
    got = zlib.decompressobj(wbits=31).decompress(data)
    if name.startswith("claude-gateway"):
        whole = got.rpartition(b"\n")[0].split(b"\n")
        case.requests = sorted(json.loads(line)["jsonPayload"]["response"]["id"] for line in whole)
        reason = f"truncated gzip: {len(whole)} complete lines recovered, the rest is unreadable"
    else:
        ids = sorted(f"msg_vrtx_{n}" for n in range(1, 41) if f'"msg_vrtx_{n}"'.encode() in got)
        # the entry the cut falls in is not complete: its id may be there, its closing brace not
        complete = [i for i in ids if got.index(f'"{i}"'.encode()) < got.rindex(b"\n  },")]
        case.requests = complete
        reason = (
            f"truncated gzip: {len(complete)} complete records recovered, the rest is unreadable"
        )
    case.rejected = [(name, reason)]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_shape_loads_its_entries_priced(case: Case, tmp_path: Path) -> None:
    if case.name.startswith("truncated"):
        _truncated_expectation(case)
        assert len(case.requests) > 10
    root = tmp_path / "logs"
    _write(root, case.files)
    app, con = _app(tmp_path)
    result = run_source(app, con, "vertex-files", {"path": str(root)})
    rejected = con.execute(
        "select location, reason from rejected_records where source = 'vertex-files' "
        "order by location"
    ).fetchall()
    assert rejected == sorted((f"logs/{where}", reason) for where, reason in case.rejected)
    assert (result.new_rows, result.rejected_rows) == (len(case.requests), len(case.rejected))
    assert result.skipped == case.skipped
    pipeline.build(app, con)
    ids, cost = con.execute(
        "select list(request_id order by request_id), sum(cost_usd) from usage_events"
    ).fetchall()[0]
    assert (ids or []) == case.requests
    assert cost == (PER_REQUEST * len(case.requests) if case.requests else None)
    # Read once: a second run reads nothing, rejects nothing and skips nothing again.
    again = run_source(app, con, "vertex-files", {"path": str(root)})
    assert (again.new_rows, again.rejected_rows, again.skipped) == (0, 0, {})


def test_a_json_array_entry_is_located_by_its_index(tmp_path: Path) -> None:
    root = tmp_path / "logs"
    _write(root, {"entries.json": gcloud([use(1), use(2)], bom=True)})
    app, con = _app(tmp_path)
    run_source(app, con, "vertex-files", {"path": str(root)})
    assert con.execute(
        "select response_id, source_location from raw_vertex_usage order by 1"
    ).fetchall() == [("msg_vrtx_1", "logs/entries.json#1"), ("msg_vrtx_2", "logs/entries.json#2")]


def test_one_file_is_read_by_its_own_path(tmp_path: Path) -> None:
    path = tmp_path / "entries.json"
    path.write_bytes(gcloud([use(1), {"name": "demo"}]))
    app, con = _app(tmp_path)
    result = run_source(app, con, "vertex-files", {"path": str(path)})
    assert result.new_rows == 1
    assert con.execute("select location, reason from rejected_records").fetchall() == [
        (f"{path}#2", NOT_ENTRY)
    ]


@pytest.mark.parametrize(
    ("files", "what"),
    [({}, "no file there"), ({"empty.json": b""}, "1 file, none of them readable")],
    ids=["empty folder", "an empty file"],
)
def test_a_path_with_nothing_readable_is_an_error(
    files: dict[str, bytes], what: str, tmp_path: Path
) -> None:
    root = tmp_path / "logs"
    root.mkdir()
    _write(root, files)
    app, con = _app(tmp_path)
    with pytest.raises(DataError) as caught:
        run_source(app, con, "vertex-files", {"path": str(root)})
    message = f"vertex-files: nothing to read in {root}: {what}"
    assert str(caught.value) == message
    db = tmp_path / "cli.duckdb"
    result = CliRunner().invoke(cli, ["--db", str(db), "ingest", "vertex-files", str(root)])
    assert result.exit_code == 1
    assert message in result.stderr


def test_the_summary_line_and_the_run_log_count_skipped_entries_by_kind(tmp_path: Path) -> None:
    root = tmp_path / "logs"
    _write(
        root,
        {"gcloud.json": gcloud([use(1), gemini_audit(2), gemini_response_row(3), use(4)])},
    )
    db = tmp_path / "cli.duckdb"
    result = CliRunner().invoke(cli, ["--db", str(db), "ingest", "vertex-files", str(root)])
    assert result.exit_code == 0, result.output + result.stderr
    assert (
        "vertex-files: 2 new, 0 updated, 0 rejected, 2 skipped (out of scope: 2 gemini) in"
        in result.stderr
    )
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("select status, rejected_rows, message from ingest_runs").fetchall() == [
        ("ok", 0, "2 skipped (out of scope: 2 gemini)")
    ]
    assert con.execute("select count(*) from rejected_records").fetchall() == [(0,)]
    con.close()


def test_help_names_the_shapes() -> None:
    out = CliRunner().invoke(cli, ["ingest", "vertex-files", "--help"]).output
    flat = " ".join(out.split())
    for shape in ("gcloud logging read --format=json", "JSON lines", "pretty-printed", "gzip"):
        assert shape in flat, shape


@pytest.mark.service
def test_gemini_entries_through_the_api_are_skipped_not_rejected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cloud_logging, "RETRY_INITIAL", 0.001)
    app, con = _app(tmp_path)
    with FakeCloudLogging() as server:
        server.add(use(1), audit("a-1", T0))
        # what a wider export or a project-level view hands back beside Claude's entries
        server.unfiltered = [gemini_audit(2), gemini_response_row(3)]
        result = ingest_api(app, con, server)
    assert (result.new_rows, result.rejected_rows) == (2, 0)
    assert result.skipped == {"gemini": 2}
    assert con.execute("select count(*) from rejected_records").fetchall() == [(0,)]
    assert con.execute("select insert_id from raw_vertex_audit").fetchall() == [("a-1",)]


def test_parse_files_names_what_it_skipped(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_bytes(lines([gemini_audit(1), use(2)]))
    con = duckdb.connect()
    batch = vertex.parse_files(con, [str(path)], source_kind="files")
    assert (batch.usage_rows, batch.skipped, batch.rejected) == (1, {"gemini": 1}, [])
    batch.drop(con)


def test_since_until_narrow_a_file_outside_date_folders_by_its_entries(tmp_path: Path) -> None:
    """gcloud output has no dated folder: --since/--until keep the entries in the window (by
    their own timestamps), skip the others, and leave the file to be read again later."""
    early = use(1)
    late = response("u-9", T0 + timedelta(days=3), "msg_vrtx_9", usage=dict(USAGE))
    path = tmp_path / "logs" / "entries.json"
    path.parent.mkdir()
    path.write_bytes(gcloud([late, early]))
    app, con = _app(tmp_path)
    since = date(2026, 11, 5)
    first = run_source(app, con, "vertex-files", {"path": str(path.parent)}, since=since)
    assert (first.new_rows, first.rejected_rows) == (1, 0)
    assert first.skipped == {"outside --since/--until": 1}
    assert con.execute("select response_id from raw_vertex_usage").fetchall() == [("msg_vrtx_9",)]
    assert con.execute("select count(*) from processed_objects").fetchall() == [(0,)]
    rest = run_source(app, con, "vertex-files", {"path": str(path.parent)})
    assert (rest.new_rows, rest.updated_rows, rest.skipped) == (1, 0, {})
    assert con.execute("select count(*) from processed_objects").fetchall() == [(1,)]
