"""Plausibility bounds (issue 11, items 1-3 and LiteLLM's spend): one absurd record is rejected
with a fixed reason by every format, a raw row stored past those bounds is quarantined by
staging instead of failing the build, and out-of-range dates give no traceback."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner
from moto_server import ndjson, record
from test_litellm import (  # noqa: F401  (pg_template: the fixture pg needs)
    PG,
    T0,
    cursor_of,
    pg,
    pg_template,
    run,
    run_files,
    spend_row,
)
from test_vertex import response

from ingest import store
from ingest.cli import cli
from ingest.context import AppContext, raw_table_ddl
from ingest.runner import run_source
from models import runner as model_runner
from models import snapshot, views

FUTURE = "timestamp in the future"
PAST = "timestamp before 2000"
# 1969 and 1970 (zero or negative epoch clocks), 0001 (an unset date), 2099 (a wrong clock)
OUT_OF_RANGE = {
    "r-2099": ("2099-01-01T00:00:00Z", FUTURE),
    "r-1969": ("1969-12-31T23:59:59Z", PAST),
    "r-1970": ("1970-01-01T00:00:00Z", PAST),
    "r-0001": ("0001-01-01T00:00:00Z", PAST),
}


def _app(tmp_path: Path) -> AppContext:
    return AppContext.create(str(tmp_path / "ledger.duckdb"), None, quiet=True)


def _rejected(con: duckdb.DuckDBPyConnection, source: str) -> list[tuple[str, str]]:
    return [
        (str(loc), str(reason))
        for loc, reason in con.execute(
            "select location, reason from rejected_records where source = ? order by 1, 2",
            [source],
        ).fetchall()
    ]


# --------------------------------------------------------------------------------------------
# Bedrock


def test_bedrock_rejects_timestamps_in_the_future_and_before_2000(tmp_path: Path) -> None:
    root = tmp_path / "logs"
    root.mkdir()
    lines = [record("r-ok")] + [record(rid, timestamp=ts) for rid, (ts, _) in OUT_OF_RANGE.items()]
    (root / "a.json").write_bytes(ndjson(lines))
    app = _app(tmp_path)
    con = app.connect()
    result = run_source(app, con, "bedrock-files", {"path": str(root)})
    assert (result.new_rows, result.rejected_rows) == (1, 4)
    assert _rejected(con, "bedrock-files") == [
        (f"{root / 'a.json'}:2", FUTURE),
        (f"{root / 'a.json'}:3", PAST),
        (f"{root / 'a.json'}:4", PAST),
        (f"{root / 'a.json'}:5", PAST),
    ]
    assert con.execute("select request_id from raw_bedrock").fetchall() == [("r-ok",)]
    # rejected records are not remembered as read: a fixed format reads them again
    again = run_source(app, con, "bedrock-files", {"path": str(root)})
    assert (again.new_rows, again.rejected_rows) == (0, 0)  # the file itself is unchanged


def test_bedrock_rejects_token_counts_above_ten_million(tmp_path: Path) -> None:
    root = tmp_path / "logs"
    root.mkdir()
    big = record("r-big-output")
    big["output"]["outputTokenCount"] = 4000000000000000000
    lines = [
        record("r-at-ceiling", input_tokens=10_000_000, cache_read=10_000_000),
        big,
        record("r-big-input", input_tokens=10_000_001),
        record("r-big-read", cache_read=123_456_789_012),
        record("r-big-write", cache_write=99_999_999),
    ]
    (root / "a.json").write_bytes(ndjson(lines))
    app = _app(tmp_path)
    con = app.connect()
    result = run_source(app, con, "bedrock-files", {"path": str(root)})
    assert (result.new_rows, result.rejected_rows) == (1, 4)
    path = root / "a.json"
    assert _rejected(con, "bedrock-files") == [
        (f"{path}:2", "implausible output.outputTokenCount: above 10,000,000 tokens"),
        (f"{path}:3", "implausible input.inputTokenCount: above 10,000,000 tokens"),
        (f"{path}:4", "implausible input.cacheReadInputTokenCount: above 10,000,000 tokens"),
        (f"{path}:5", "implausible input.cacheWriteInputTokenCount: above 10,000,000 tokens"),
    ]
    assert con.execute("select request_id, input_tokens from raw_bedrock").fetchall() == [
        ("r-at-ceiling", 10_000_000)
    ]


def _plant(con: duckdb.DuckDBPyConnection, request_id: str, column: str, value: str) -> None:
    """A copy of r1 with one column replaced, written straight into raw_bedrock."""
    columns = [str(r[0]) for r in con.execute("select * from raw_bedrock limit 0").description]
    picked = ", ".join(
        f"{value} as {c}" if c == column else f"'{request_id}'" if c == "request_id" else c
        for c in columns
    )
    con.execute(f"insert into raw_bedrock select {picked} from raw_bedrock where request_id = 'r1'")


@pytest.fixture
def poisoned(tmp_path: Path) -> Path:
    """Two good Bedrock records plus absurd rows written into raw_bedrock by hand (as if
    stored before the bounds existed): 4e18 output tokens, two of 5e18 input tokens, and
    dates 9999-12-31, 1969 and 0001."""
    root = tmp_path / "logs"
    root.mkdir()
    (root / "a.json").write_bytes(ndjson([record("r1"), record("r2", output_tokens=30)]))
    app = _app(tmp_path)
    con = app.connect()
    run_source(app, con, "bedrock-files", {"path": str(root)})
    _plant(con, "big-output", "output_tokens", "4000000000000000000")
    _plant(con, "big-input-1", "input_tokens", "5000000000000000000")
    _plant(con, "big-input-2", "input_tokens", "5000000000000000000")
    _plant(con, "y9999", "occurred_at", "timestamptz '9999-12-31 23:00:00+00'")
    _plant(con, "y1969", "occurred_at", "timestamptz '1969-12-31 23:59:59+00'")
    _plant(con, "y0001", "occurred_at", "timestamptz '0001-01-01 00:00:00+00'")
    assert con.execute("select count(*) from raw_bedrock").fetchone() == (8,)
    con.close()
    return tmp_path / "ledger.duckdb"


def test_absurd_raw_rows_are_quarantined_and_the_build_goes_on(poisoned: Path) -> None:
    result = CliRunner().invoke(cli, ["--db", str(poisoned), "build"])
    # the build publishes; the check naming the quarantined rows makes it exit 1 (data check)
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "check quarantined_bedrock: 6 bad rows" in result.output
    assert "Traceback" not in result.output
    con = duckdb.connect(str(poisoned), read_only=True)
    try:
        assert con.execute(
            "select count(*), sum(input_tokens), sum(output_tokens) from usage_events"
        ).fetchone() == (2, 20, 50)
        failing = {c.name: c.rows for c in model_runner.run_checks(con) if not c.ok}
        assert failing == {"quarantined_bedrock": 6}
    finally:
        con.close()


def test_out_of_range_dates_do_not_break_the_views_or_the_billing_export(poisoned: Path) -> None:
    CliRunner().invoke(cli, ["--db", str(poisoned), "build"])
    con = snapshot.open_snapshot(poisoned.with_suffix(".snapshot.duckdb"))
    try:
        options = views.filter_options(con)
        assert (options["first_day"], options["last_day"]) == (date(2026, 11, 20),) * 2
        # the dashboard's default view: the last 30 days up to the last day with data
        last = options["last_day"]
        default = views.Filters(since=max(options["first_day"], last - timedelta(29)), until=last)
        totals = views.overview_totals(con, default)
        assert totals["requests"] == 2
        assert (totals["input_tokens"], totals["output_tokens"]) == (20, 50)
    finally:
        con.close()
    result = CliRunner().invoke(
        cli, ["--db", str(poisoned), "export", "billing", "--month", "9999-12", "--out", "-"]
    )
    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "'9999-12': the year must be 2000 to 2999" in result.output
    assert "Traceback" not in result.output


# --------------------------------------------------------------------------------------------
# LiteLLM (PostgreSQL)


@pytest.fixture
def duck(tmp_path: Path) -> Any:
    con = store.connect(tmp_path / "ledger.duckdb")
    store.ensure_tables(con, raw_table_ddl())
    yield con
    con.close()


@pytest.mark.service
def test_litellm_rejects_start_times_in_the_future_and_before_2000(
    pg: PG,  # noqa: F811
    duck: duckdb.DuckDBPyConnection,
) -> None:
    rows = [spend_row("good", T0)]
    for rid, (ts, _) in OUT_OF_RANGE.items():
        rows.append(spend_row(rid, datetime.fromisoformat(ts.replace("Z", ""))))
    pg.insert("LiteLLM_SpendLogs", rows)
    result = run(duck)
    assert (result.new_rows, result.rejected_rows) == (1, 4)
    assert _rejected(duck, "litellm") == [
        ("LiteLLM_SpendLogs/r-0001", PAST),
        ("LiteLLM_SpendLogs/r-1969", PAST),
        ("LiteLLM_SpendLogs/r-1970", PAST),
        ("LiteLLM_SpendLogs/r-2099", FUTURE),
    ]
    # the 2099 row does not move the cursor: later rows are still read
    assert cursor_of(duck) == "2026-11-02T09:00:00.000000Z"
    pg.insert("LiteLLM_SpendLogs", [spend_row("later", T0 + timedelta(hours=1))])
    later = run(duck)
    assert later.new_rows == 1
    assert cursor_of(duck) == "2026-11-02T10:00:00.000000Z"


def _dump_edited(server: PG, tmp_path: Path, edits: dict[str, dict[str, str]]) -> Path:
    """LiteLLM_SpendLogs as PostgreSQL's COPY writes it, with some cells replaced (values its
    own column types cannot hold: a NULL spend, a count beyond INTEGER), for litellm-files."""
    cur = server.conn.cursor()
    chunks = []
    with cur.copy('copy "LiteLLM_SpendLogs" to stdout with (format csv, header true)') as copy:
        for chunk in copy:
            chunks.append(bytes(chunk))
    rows = list(csv.reader(io.StringIO(b"".join(chunks).decode())))
    header = rows[0]
    for row in rows[1:]:
        for column, value in edits.get(row[header.index("request_id")], {}).items():
            row[header.index(column)] = value
    dump = tmp_path / "dump"
    dump.mkdir()
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    (dump / "LiteLLM_SpendLogs.csv").write_text(out.getvalue(), encoding="utf-8")
    return dump


@pytest.mark.service
def test_litellm_rejects_token_counts_above_ten_million(
    pg: PG,  # noqa: F811
    duck: duckdb.DuckDBPyConnection,
    tmp_path: Path,
) -> None:
    pg.insert(
        "LiteLLM_SpendLogs",
        [
            spend_row(
                "at-ceiling",
                T0,
                prompt_tokens=10_000_000,
                completion_tokens=0,
                total_tokens=10_000_000,
            ),
            spend_row("big-completion", T0),
            spend_row("big-prompt", T0, prompt_tokens=10_000_001, total_tokens=10_000_011),
            spend_row(
                "big-cache-read",
                T0,
                meta={"usage_object": {"cache_read_input_tokens": 4000000000000000000}},
            ),
        ],
    )
    result = run(duck)  # big-completion is ordinary in PostgreSQL (its column is an INTEGER)
    assert (result.new_rows, result.rejected_rows) == (2, 2)
    assert _rejected(duck, "litellm") == [
        (
            "LiteLLM_SpendLogs/big-cache-read",
            "implausible cache_read_tokens: above 10,000,000 tokens",
        ),
        ("LiteLLM_SpendLogs/big-prompt", "implausible prompt_tokens: above 10,000,000 tokens"),
    ]
    big = "4000000000000000000"
    dump = _dump_edited(
        pg, tmp_path, {"big-completion": {"completion_tokens": big, "total_tokens": big}}
    )
    files = store.connect(tmp_path / "files.duckdb")
    store.ensure_tables(files, raw_table_ddl())
    result = run_files(files, dump)
    assert (result.new_rows, result.rejected_rows) == (1, 3)
    csv_path = dump / "LiteLLM_SpendLogs.csv"
    assert sorted(r for _, r in _rejected(files, "litellm-files")) == [
        "implausible cache_read_tokens: above 10,000,000 tokens",
        "implausible completion_tokens: above 10,000,000 tokens",
        "implausible prompt_tokens: above 10,000,000 tokens",
    ]
    assert all(loc.startswith(f"{csv_path}:") for loc, _ in _rejected(files, "litellm-files"))
    files.close()


@pytest.mark.service
def test_litellm_spend_null_stays_null_and_negative_spend_is_flagged(
    pg: PG,  # noqa: F811
    tmp_path: Path,
) -> None:
    pg.insert(
        "LiteLLM_SpendLogs",
        [
            spend_row("priced", T0, spend=0.25),
            spend_row("no-spend", T0),
            spend_row("refund", T0, spend=-0.5),
        ],
    )
    dump = _dump_edited(pg, tmp_path, {"no-spend": {"spend": ""}})  # COPY's NULL
    con = store.connect(tmp_path / "files.duckdb")
    store.ensure_tables(con, raw_table_ddl())
    result = run_files(con, dump)
    assert (result.new_rows, result.rejected_rows) == (3, 0)
    raw = dict(con.execute("select request_id, spend from raw_litellm_spend").fetchall())
    assert raw == {"priced": Decimal("0.25"), "no-spend": None, "refund": Decimal("-0.5")}
    model_runner.build(con)
    staged = dict(con.execute("select request_id, reported_cost_usd from stg_litellm").fetchall())
    assert staged == {"priced": Decimal("0.25"), "no-spend": None, "refund": Decimal("-0.5")}
    # the negative row is kept as reported and named by a data check
    checks = {c.name: c for c in model_runner.run_checks(con)}
    negative = checks["negative_reported_cost"]
    assert negative.rows == 1
    assert negative.sample == [("litellm:refund", "refund", Decimal("-0.5"))]
    con.close()


# --------------------------------------------------------------------------------------------
# Vertex (files)


def _entry(insert_id: str, timestamp: str, **usage: Any) -> dict[str, Any]:
    tokens = {"input_tokens": 10, "output_tokens": 20, **usage}
    entry = response(insert_id, datetime(2026, 11, 3, 9), f"msg_vrtx_{insert_id}", usage=tokens)
    entry["timestamp"] = timestamp
    return entry


def test_vertex_rejects_out_of_range_timestamps_and_token_counts(tmp_path: Path) -> None:
    root = tmp_path / "vertex"
    root.mkdir()
    ok = "2026-11-03T09:00:00.000000123Z"
    entries = [_entry("e-ok", ok)]
    entries += [_entry(rid, ts) for rid, (ts, _) in OUT_OF_RANGE.items()]
    entries += [
        _entry("e-big-output", ok, output_tokens=4000000000000000000),
        _entry("e-big-read", ok, cache_read_input_tokens=10_000_001),
        _entry("e-at-ceiling", ok, input_tokens=10_000_000),
    ]
    path = root / "claude-gateway" / "2026" / "11" / "03" / "09:00:00_09:59:59_S0.json"
    path.parent.mkdir(parents=True)
    path.write_text("".join(json.dumps(e) + "\n" for e in entries), encoding="utf-8")
    app = _app(tmp_path)
    con = app.connect()
    result = run_source(app, con, "vertex-files", {"path": str(root)})
    assert result.rejected_rows == 6
    assert [r for _, r in _rejected(con, "vertex-files")] == [
        FUTURE,
        PAST,
        PAST,
        PAST,
        "implausible usage.output_tokens: above 10,000,000 tokens",
        "implausible usage.cache_read_input_tokens: above 10,000,000 tokens",
    ]
    assert [loc.rsplit(":", 1)[1] for loc, _ in _rejected(con, "vertex-files")] == [
        "2",
        "3",
        "4",
        "5",
        "6",
        "7",
    ]
    assert sorted(
        r[0] for r in con.execute("select insert_id from raw_vertex_usage").fetchall()
    ) == [
        "e-at-ceiling",
        "e-ok",
    ]
