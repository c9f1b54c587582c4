"""Every source that shards: N=3 `--shard K/N` workers merged equal one unsharded run, row for
row (raw tables, rejects, processed objects, cursors) and in the built marts' totals, on the
sample data through the real files transport and (otel-s3, gateway-s3) moto's real S3 server.
Sources that do not shard keep their one-line refusal."""

# ruff: noqa: F811 - pytest fixtures imported from moto_server are redefined as arguments

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from bills_fixtures import BUCKET, S3_PREFIX, cur_line, deliver, parquet_bytes, upload
from click.testing import CliRunner, Result
from moto_server import aws, moto_endpoint  # noqa: F401 - fixtures

from ingest import sources, store
from ingest.cli import cli
from ingest.context import AppContext
from ingest.errors import ConfigError
from ingest.runner import run_source
from ingest.source import Shard
from ingest.transports import files

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
SHARDS = 3

OBJECTS = "select source, object_key, etag, records from processed_objects order by all"
REJECTS = "select source, location, reason from rejected_records order by all"
CURSORS = "select source, partition, value from ingest_cursors order by all"
EVENTS = (
    "select source, provider, model, developer, team, status, counted, count(*), "
    "sum(input_tokens), sum(output_tokens), sum(cache_read_tokens), sum(cost_usd), "
    "count(*) filter (where cost_usd is null) from usage_events group by all order by all"
)
DAILY = (
    "select day, source, sum(requests), sum(input_tokens), sum(output_tokens), sum(cost_usd) "
    "from usage_daily group by all order by all"
)
MINUTES = "select count(*), sum(requests) from usage_minute"


def _llmledger(db: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--db", str(db), *args], catch_exceptions=False)


def _rows(db: Path, sql: str) -> list[Any]:
    con = store.connect(db)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _raw(table: str, exclude: tuple[str, ...] = ()) -> str:
    columns = f"* exclude ({', '.join(exclude)})" if exclude else "*"
    return f"select {columns} from {table} order by all"


@dataclass(frozen=True)
class Case:
    """One sharded source over sample data: its `ingest` arguments, and what one run loads."""

    source: str
    args: tuple[str, ...]
    raw_rows: dict[str, int]  # rows per raw table of one unsharded run
    objects: int  # processed objects
    marts: tuple[str, ...] = (EVENTS, DAILY, MINUTES)  # built marts compared (the first not empty)
    exclude: tuple[str, ...] = ()  # raw columns a run stamps with its own clock


def _compare(tmp_path: Path, case: Case) -> None:
    """The source ingested once (then built), and by 3 shards merged; both compared."""
    single = tmp_path / "single.duckdb"
    ran = _llmledger(single, "ingest", case.source, *case.args)
    assert ran.exit_code == 0, ran.output
    shards = [tmp_path / f"shard-{k}.duckdb" for k in range(SHARDS)]
    for k, db in enumerate(shards):
        ran = _llmledger(db, "ingest", case.source, *case.args, "--shard", f"{k}/{SHARDS}")
        assert ran.exit_code == 0, ran.output
        assert f"shard {k}/{SHARDS} of {case.source} loaded into {db}" in ran.stderr
    merged = tmp_path / "merged.duckdb"
    result = _llmledger(merged, "merge", *map(str, shards))
    assert result.exit_code == 0, result.output
    new = sum(case.raw_rows.values())
    assert f"merged {SHARDS} databases: {new} new, 0 updated" in result.stderr

    tables = [t.name for t in sources.SOURCES[case.source].tables]
    assert {t: _rows(single, f"select count(*) from {t}")[0][0] for t in tables} == case.raw_rows
    # Disjoint shards that together read every object, each of them some.
    owned = [{r[1] for r in _rows(db, OBJECTS)} for db in shards]
    assert all(owned), [len(o) for o in owned]
    assert sum(map(len, owned)) == len(set.union(*owned)) == case.objects
    compared = [*(_raw(t, case.exclude) for t in tables), OBJECTS, REJECTS, CURSORS, *case.marts]
    for sql in compared:
        assert _rows(merged, sql) == _rows(single, sql), sql
    assert _rows(merged, case.marts[0])


FILE_CASES = [
    # the S3 tree's day folders (accounts x regions x days) with malformed lines, a truncated
    # gzip and a record written byte for byte into two files of one hour: a unit per file would
    # split those two between workers, and the merged row would name the other copy
    Case(
        "bedrock-files",
        (str(SAMPLE / "bedrock" / "s3"),),
        {"raw_bedrock": 43053},
        1615,
    ),
    Case(
        "gateway-files",
        (str(SAMPLE / "gateway" / "kong"), "--format", "kong", "--name", "kong"),
        {"raw_gateway": 957},
        11,
    ),
    Case(
        "gateway-files",
        (str(SAMPLE / "gateway" / "body"), "--format", "anthropic-body", "--name", "body-proxy"),
        {"raw_gateway": 554},
        10,
    ),
    # a Cloud Storage sink's hour files, the entry written twice (shards S0 and S1 of an hour)
    Case(
        "vertex-files",
        (str(SAMPLE / "vertex"),),
        {"raw_vertex_audit": 2106, "raw_vertex_usage": 2031},
        938,
    ),
    Case(
        "otel-files",
        (str(SAMPLE / "otel"),),
        {"raw_claude_code": 63, "raw_claude_code_metrics": 282},
        16,
    ),
]


@pytest.mark.parametrize(
    "case", FILE_CASES, ids=["bedrock-files", "gateway-kong", "gateway-body", "vertex", "otel"]
)
def test_file_shards_merged_equal_one_unsharded_run(tmp_path: Path, case: Case) -> None:
    _compare(tmp_path, case)


def _upload(aws: Any, bucket: str, objects: dict[str, Path]) -> None:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=bucket)

    def put(item: tuple[str, Path]) -> None:
        s3.put_object(Bucket=bucket, Key=item[0], Body=item[1].read_bytes())

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, objects.items()))


def _dated(prefix: str, folder: Path, pattern: str, tail: str) -> dict[str, Path]:
    """Each sample file (named by its day, ``...-2026-11-04...``) under ``prefix/YYYY/MM/DD/`` +
    ``tail``: the layout the Collector's awss3 exporter or Firehose writes."""
    found = {}
    for path in sorted(folder.glob(pattern)):
        year, month, day = path.name.split(".")[0].rsplit("-", 3)[1:]
        found[f"{prefix}{year}/{month}/{day}/{tail}{path.name}"] = path
    return found


@pytest.mark.service
def test_otel_s3_shards_by_day_prefix(aws: Any, tmp_path: Path) -> None:
    _upload(aws, "acme-telemetry", _dated("cc/", SAMPLE / "otel", "*.jsonl", "12/00/"))
    case = Case(
        "otel-s3",
        ("--bucket", "acme-telemetry", "--prefix", "cc"),
        {"raw_claude_code": 63, "raw_claude_code_metrics": 282},
        16,
    )
    _compare(tmp_path, case)


@pytest.mark.service
def test_gateway_s3_shards_by_day_prefix(aws: Any, tmp_path: Path) -> None:
    objects = _dated("kong/", SAMPLE / "gateway" / "kong", "*.json.gz", "00/")
    # one day's file at an undated key (a copy by hand): owned by its first levels below the prefix
    last = "kong/2026/11/20/00/ai-requests-2026-11-20.json.gz"
    objects["kong/manual/ai-requests-2026-11-20.json.gz"] = objects.pop(last)
    _upload(aws, "acme-gateway-logs", objects)
    case = Case(
        "gateway-s3",
        ("--bucket", "acme-gateway-logs", "--prefix", "kong/", "--format", "kong"),
        {"raw_gateway": 957},
        11,
    )
    _compare(tmp_path, case)


BILL = "select * from bill_lines order by all"


def _bills(root: Path) -> Path:
    """Two exports' deliveries of the same four billing periods: the latest delivery of a
    period is chosen across exports (by delivery time, then load time), so a worker owns a
    period with every export's manifest of it."""
    for export in ("acme-cur", "acme-cur-eu"):
        for month in ("2026-08", "2026-09", "2026-10", "2026-11"):
            lines = [
                {
                    **cur_line(f"{month}-0{day}", "USE1-Claude4.5Sonnet-input-tokens", n, cost),
                    "billing_period": month,
                }
                for day, n, cost in ((1, 120.0, "0.36"), (2, 80.0, "0.24"))
            ]
            files = [("part-00001.snappy.parquet", parquet_bytes(lines))]
            deliver(root, f"{export}-{month}-1", files, export_name=export, period=month)
    # acme-cur's November refreshed: its manifest names the second execution only (the first
    # one's data file is never read)
    lines = [
        {
            **cur_line("2026-11-03", "USE1-Claude4.5Sonnet-output-tokens", 10.0, "0.15"),
            "billing_period": "2026-11",
        }
    ]
    deliver(root, "acme-cur-2026-11-2", [("part-00001.snappy.parquet", parquet_bytes(lines))])
    return root


def test_cur_files_shard_by_billing_period(tmp_path: Path) -> None:
    root = _bills(tmp_path / "cur")
    case = Case(
        "aws-cur-files",
        (str(root),),
        {"raw_aws_cur": 15, "raw_aws_cur_deliveries": 8},
        16,
        marts=(BILL,),
        exclude=("loaded_at",),
    )
    _compare(tmp_path, case)


@pytest.mark.service
def test_cur_s3_shard_by_billing_period(aws: Any, tmp_path: Path) -> None:
    upload(aws.client("s3"), _bills(tmp_path / "cur"))
    case = Case(
        "aws-cur-s3",
        ("--bucket", BUCKET, "--prefix", f"{S3_PREFIX}/"),
        {"raw_aws_cur": 15, "raw_aws_cur_deliveries": 8},
        16,
        marts=(BILL,),
        exclude=("loaded_at",),
    )
    _compare(tmp_path, case)


SHARDED = {
    "bedrock-s3": "account/region/day prefixes (an export task's folder whole)",
    "bedrock-files": files.SHARDS,
    "gateway-files": files.SHARDS,
    "vertex-files": files.SHARDS,
    "otel-files": files.SHARDS,
    "otel-s3": "day prefixes (PREFIX/YYYY/MM/DD/)",
    "gateway-s3": "day prefixes (PREFIX/YYYY/MM/DD/; other keys by their first three levels "
    "below it)",
    "aws-cur-files": "billing periods (every export's BILLING_PERIOD=YYYY-MM manifest and its "
    "data files)",
    "aws-cur-s3": "billing periods (every export's BILLING_PERIOD=YYYY-MM manifest and its "
    "data files)",
}
UNSHARDED = {
    "bedrock-cloudwatch": {"log_group": "g"},
    "vertex": {"project": "acme-ml"},
    "litellm": {},
    "litellm-api": {"url": "http://127.0.0.1:1"},
    "litellm-files": {"path": str(SAMPLE / "litellm")},
    "gcp-billing": {"table": "p.d.t"},
    "gcp-billing-files": {"path": str(SAMPLE)},
    "gateway-cloudwatch": {"log_group": "g", "format": "kong"},
    "gateway-logging": {"project": "acme-apigee", "format": "apigee"},
}


def test_every_sharded_source_says_what_a_worker_owns() -> None:
    assert files.SHARDS == "day folders (.../YYYY/MM/DD/) and undated files"
    assert {n: s.shards for n, s in sources.SOURCES.items() if s.shards} == SHARDED
    assert set(sources.SOURCES) == set(SHARDED) | set(UNSHARDED)
    for name, unit in SHARDED.items():
        shown = CliRunner().invoke(cli, ["ingest", name, "--help"])
        assert shown.exit_code == 0
        assert (
            f"--shard K/N Be worker K of N (K from 0): read only the {unit} this worker owns, "
            "into this --db, without building;" in " ".join(shown.output.split())
        ), name


@pytest.mark.parametrize("name", sorted(UNSHARDED))
def test_sources_that_do_not_shard_refuse_in_one_line(tmp_path: Path, name: str) -> None:
    db = tmp_path / "ledger.duckdb"
    refused = _llmledger(db, "ingest", name, "--shard", "0/2")
    assert refused.exit_code == 2
    assert refused.stderr.strip().splitlines()[-1] == "Error: No such option '--shard'."
    app = AppContext.create(str(db), None, quiet=True)
    with closing(app.connect()) as con, pytest.raises(ConfigError) as err:
        run_source(app, con, name, UNSHARDED[name], shard=Shard(0, 2))
    assert str(err.value) == (
        f"{name} does not shard; run one worker per source (each with its own --db) "
        "and combine them with `llmledger merge`"
    )
