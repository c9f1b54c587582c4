"""Bedrock local-files source: a copy of the S3 tree or exported JSON / JSON.gz files."""

from __future__ import annotations

import gzip
import json
import os
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from moto_server import gz, log_key, ndjson, record

from ingest.context import AppContext
from ingest.errors import ConfigError
from ingest.runner import run_source
from ingest.sources.bedrock import format as bedrock

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
TRUNCATED = "20261108T045611615Z_4f056ccf8c39f2e2.json.gz"
MALFORMED = "20261108T041035782Z_0b5eb7e81b5a4d4e.json.gz"


def _app(tmp_path: Path, name: str = "ledger.duckdb") -> AppContext:
    return AppContext.create(str(tmp_path / name), None, quiet=True)


def _write(root: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def test_sample_tree(tmp_path: Path) -> None:
    manifest = json.loads((SAMPLE / "manifest.json").read_text())["bedrock_s3"]
    root = SAMPLE / "bedrock" / "s3"
    app = _app(tmp_path)
    con = app.connect()
    result = run_source(app, con, "bedrock-files", {"path": str(root)})
    assert result.new_rows == manifest["valid_unique_records"] + 24 == 43053
    assert result.rejected_rows == 6
    # The manifest's totals leave out the truncated file's 24 recovered records.
    totals = con.execute(
        """
        select count(*), sum(input_tokens), sum(output_tokens), sum(cache_read_tokens),
               sum(cache_write_tokens), sum(cache_write_1h_tokens)
        from raw_bedrock where source_location not like ?
        """,
        [f"%{TRUNCATED}%"],
    ).fetchall()[0]
    assert totals == (
        43029,
        31_945_126,
        56_162_004,
        2_528_778_907,
        234_595_656 + 5_101_542,
        5_101_542,
    )
    hour = (
        root
        / "bedrock-logs/AWSLogs/111122223333/BedrockModelInvocationLogs/us-east-1/2026/11/08/04"
    )
    rejected = con.execute(
        "select location, reason from rejected_records where source = 'bedrock-files'"
    ).fetchall()
    assert sorted(rejected) == sorted(
        [
            (f"{hour}/{MALFORMED}:3", "malformed JSON"),
            (f"{hour}/{MALFORMED}:5", "malformed JSON"),
            (f"{hour}/{MALFORMED}:7", "missing field requestId"),
            (f"{hour}/{MALFORMED}:9", "wrong type for input.inputTokenCount: expected an integer"),
            (f"{hour}/{MALFORMED}:11", "missing field modelId"),
            (
                f"{hour}/{TRUNCATED}",
                "truncated gzip: 24 complete lines recovered, the rest is unreadable",
            ),
        ]
    )
    dup = "dadecc07-96d5-471a-8f69-5d52d9b04ac2"
    assert con.execute(
        "select count(*) from raw_bedrock where request_id = ?", [dup]
    ).fetchall() == [(1,)]
    processed = con.execute(
        "select count(*), count(*) filter (where object_key like '%/data/%' "
        "or object_key like '%permission-check') from processed_objects"
    ).fetchall()
    assert processed == [(manifest["batch_files"], 0)]
    again = run_source(app, con, "bedrock-files", {"path": str(root)})
    assert (again.new_rows, again.updated_rows, again.unchanged_rows, again.rejected_rows) == (
        0,
        0,
        0,
        0,
    )


def test_only_new_or_changed_files_are_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "logs"
    first = log_key("", "111122223333", "us-east-1", "2026/11/20/09", "a.json.gz")
    _write(root, {first: gz([record("r-1"), record("r-2")])})
    app = _app(tmp_path)
    con = app.connect()
    run_source(app, con, "bedrock-files", {"path": str(root)})

    parsed: list[str] = []
    real_parse = bedrock.parse_files

    def spy(con: Any, paths: Any, **kw: Any) -> Any:
        parsed.extend(paths)
        return real_parse(con, paths, **kw)

    monkeypatch.setattr(bedrock, "parse_files", spy)
    second = log_key("", "111122223333", "us-east-1", "2026/11/20/10", "b.json.gz")
    _write(root, {second: gz([record("r-3")])})
    result = run_source(app, con, "bedrock-files", {"path": str(root)})
    assert result.new_rows == 1
    assert parsed == [str(root / second)]

    parsed.clear()
    assert run_source(app, con, "bedrock-files", {"path": str(root)}).new_rows == 0
    assert parsed == []

    # A file rewritten in place (aws s3 sync of a re-delivered object) is read again.
    _write(root, {first: gz([record("r-1", output_tokens=99), record("r-2"), record("r-4")])})
    os.utime(root / first, ns=(1, 1))
    result = run_source(app, con, "bedrock-files", {"path": str(root)})
    assert (result.new_rows, result.updated_rows, result.unchanged_rows) == (1, 1, 1)
    assert parsed == [str(root / first)]


def test_exported_json_files_of_every_shape(tmp_path: Path) -> None:
    root = tmp_path / "export"
    array = json.dumps([record("arr-1"), record("arr-2")]).encode()
    pretty = b"\n".join(json.dumps(record(f"p-{i}"), indent=2).encode() for i in range(2))
    _write(
        root,
        {
            "plain.json": ndjson([record("plain-1"), record("plain-2")]),
            "lines.jsonl": ndjson([record("jsonl-1")]),
            "array.json": array,
            "array.json.gz": gzip.compress(json.dumps([record("arrgz-1")]).encode()),
            "pretty.json": pretty,
            "notes.txt": b"not a log file",
        },
    )
    app = _app(tmp_path)
    con = app.connect()
    result = run_source(app, con, "bedrock-files", {"path": str(root)})
    ids = [r[0] for r in con.execute("select request_id from raw_bedrock order by 1").fetchall()]
    assert ids == ["arr-1", "arr-2", "arrgz-1", "jsonl-1", "p-0", "p-1", "plain-1", "plain-2"]
    # notes.txt used to be skipped without a word; files are now read by content and a file of
    # no known shape is rejected by path. A record of a JSON document is named "#N" (its index).
    assert result.rejected_rows == 1
    assert con.execute("select location, reason from rejected_records").fetchall() == [
        (str(root / "notes.txt"), "not a Bedrock invocation log (no record found)")
    ]
    assert con.execute(
        "select source_location from raw_bedrock where request_id = 'arr-2'"
    ).fetchall() == [(f"{root / 'array.json'}#2",)]


def test_numbers_read_out_of_the_response_body(tmp_path: Path) -> None:
    """The 1-hour cache writes and Bedrock's latency are the first such key followed by digits;
    the same text inside the model's output is escaped and never matches."""
    quoted = 'the log says \\"ephemeral_1h_input_tokens\\": 999 and \\"latencyMs\\": 7'
    streamed = record("stream", one_hour=40)
    streamed["output"]["outputBodyJson"][1]["delta"]["text"] = quoted
    streamed["output"]["outputBodyJson"].append(
        {"amazon-bedrock-invocationMetrics": {"invocationLatency": 3848, "firstByteLatency": 9}}
    )
    converse = record("converse", operation="Converse")
    converse["output"]["outputBodyJson"] = {
        "output": {"message": {"content": [{"text": quoted}]}},
        "metrics": {"latencyMs": 2435},
        "usage": {"cacheWriteInputTokens": 0},
    }
    spaced = record("spaced", one_hour=0)
    spaced["output"]["outputBodyJson"] = {"usage": {"cache_creation": "x"}}
    lines = [json.dumps(r) for r in (streamed, converse)]
    # whitespace after the colon, as a pretty-printing writer leaves it
    lines.append(json.dumps(spaced).replace('"x"', '{"ephemeral_1h_input_tokens":   12}'))
    lines.append(json.dumps(record("plain", body=False)))
    root = tmp_path / "logs"
    _write(root, {"a.json.gz": gzip.compress(("\n".join(lines) + "\n").encode())})
    app = _app(tmp_path)
    con = app.connect()
    run_source(app, con, "bedrock-files", {"path": str(root)})
    assert con.execute(
        "select request_id, cache_write_1h_tokens, latency_ms from raw_bedrock order by 1"
    ).fetchall() == [
        ("converse", None, 2435),
        ("plain", None, None),
        ("spaced", 12, None),
        ("stream", 40, 3848),
    ]


def test_single_file_and_paths_with_glob_characters(tmp_path: Path) -> None:
    odd = tmp_path / "exports [old]" / "bedrock*2026?.json.gz"
    odd.parent.mkdir()
    odd.write_bytes(gz([record("odd-1"), "{broken"]))
    app = _app(tmp_path)
    con = app.connect()
    result = run_source(app, con, "bedrock-files", {"path": str(odd)})
    assert (result.new_rows, result.rejected_rows) == (1, 1)
    assert con.execute("select location from rejected_records").fetchall() == [(f"{odd}:2",)]


def test_since_until_use_the_hour_folders(tmp_path: Path) -> None:
    root = tmp_path / "logs"
    _write(
        root,
        {
            log_key("p", "111122223333", "us-east-1", f"2026/11/{d}/05", f"{d}.json.gz"): gz(
                [record(f"day-{d}")]
            )
            for d in ("18", "19", "20")
        }
        | {"loose-export.json": ndjson([record("loose")])},
    )
    app = _app(tmp_path)
    con = app.connect()
    run_source(
        app,
        con,
        "bedrock-files",
        {"path": str(root)},
        since=date(2026, 11, 19),
        until=date(2026, 11, 20),
    )
    ids = sorted(r[0] for r in con.execute("select request_id from raw_bedrock").fetchall())
    assert ids == ["day-19", "loose"]


def test_missing_folder_is_a_usage_error(tmp_path: Path) -> None:
    app = _app(tmp_path)
    con = app.connect()
    with pytest.raises(ConfigError) as err:
        run_source(app, con, "bedrock-files", {"path": str(tmp_path / "nope")})
    assert (
        str(err.value)
        == f"bedrock-files: {tmp_path / 'nope'} does not exist; pass an existing folder"
    )


def test_cli_ingests_builds_and_publishes(tmp_path: Path) -> None:
    from ingest.cli import cli

    root = tmp_path / "logs"
    _write(
        root,
        {
            log_key("", "111122223333", "us-east-1", "2026/11/20/09", "a.json.gz"): gz(
                [record("cli-1"), record("cli-2")]
            )
        },
    )
    db = tmp_path / "cli.duckdb"
    result = CliRunner().invoke(cli, ["--db", str(db), "ingest", "bedrock-files", str(root)])
    assert result.exit_code == 0, result.output + result.stderr
    assert "bedrock-files: 2 new, 0 updated, 0 rejected" in result.stderr
    assert (tmp_path / "cli.snapshot.duckdb").is_file()
    help_text = CliRunner().invoke(cli, ["ingest", "bedrock-files", "--help"]).output
    assert "llmledger --db ledger.duckdb ingest bedrock-files ./bedrock-logs" in help_text


def test_small_files_read_together_keep_their_own_locations(tmp_path: Path) -> None:
    # Small clean files are decompressed into one scan; each record keeps its file and line.
    files = {f"f{i}.json.gz": gz([record(f"r-{i}-{j}") for j in range(3)]) for i in range(4)}
    files["plain.json"] = ndjson([record("plain-1"), record("r-0-1")])  # r-0-1 again
    files["odd.json"] = ndjson([record("odd-1"), "{oops"])  # read on its own
    _write(tmp_path / "x", files)
    paths = [str(tmp_path / "x" / name) for name in files]
    (scratch := tmp_path / "scratch").mkdir()
    groups = bedrock._group_small_files(paths, str(scratch))
    assert [member for members in groups.values() for member, _, _ in members] == paths[:5]
    con = _app(tmp_path).connect()
    parsed = bedrock.parse_files(
        con, paths, source_kind="files", location_of=lambda p: Path(p).name
    )
    rows = con.execute(
        f"select request_id, source_location from {parsed.table} order by 1"
    ).fetchall()
    assert rows == [
        ("odd-1", "odd.json:1"),
        ("plain-1", "plain.json:1"),
        *[(f"r-{i}-{j}", f"f{i}.json.gz:{j + 1}") for i in range(4) for j in range(3)],
    ]
    assert parsed.rejected == [("odd.json:2", "malformed JSON")]
    assert parsed.duplicates == 1
    assert parsed.records_per_file == {
        **{p: 3 for p in paths[:4]},
        paths[4]: 1,
        paths[5]: 1,
    }
    parsed.drop(con)
