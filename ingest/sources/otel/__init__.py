"""Claude Code's own telemetry (OpenTelemetry): one format (``format.py``), two transports.

``otel-files`` reads OTLP JSON lines: what ``llmledger collect`` writes, or the OpenTelemetry
Collector's ``file`` exporter output. ``otel-s3`` reads the same from S3: the Collector's
``awss3`` exporter (``marshaler: otlp_json``) or ``collect``'s files copied there. Rows land in
``raw_claude_code`` (``api_request`` and ``api_error`` events) and ``raw_claude_code_metrics``
(``claude_code.*`` data points); staging (``models/staging/stg_claude_code.sql``) makes the
events source ``claude_code``, and ``models/marts/claude_code_attribution.sql`` names the
developer behind provider records.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta

from ingest import aws
from ingest.errors import ConfigError
from ingest.source import FILE_MTIME, OBJECT_KEY, Option, Page, Source, SourceRun, path_argument
from ingest.sources.otel import format
from ingest.transports import files, s3

SUFFIXES = (".json", ".jsonl", ".ndjson", ".json.gz", ".jsonl.gz", ".ndjson.gz")
FILES_PER_PAGE = 200


def _pages(run: SourceRun) -> Iterator[Page]:
    root = run.path("path")
    if not root.exists():
        raise ConfigError(
            f"otel-files: {root} not found; fix sources.otel-files.path or the PATH argument"
        )
    base = root if root.is_dir() else root.parent
    yield from files.pages(
        run,
        root,
        accept=lambda f: f.path.name.endswith(SUFFIXES),
        location=lambda f: "/".join((base.name, *f.parts)),
        max_files=FILES_PER_PAGE,
    )


OTEL_FILES = Source(
    name="otel-files",
    family="otel",
    summary="Read Claude Code telemetry: OTLP JSON lines from `llmledger collect` or a "
    "Collector's file exporter.",
    description=(
        "PATH is a file or a folder of .json/.jsonl files (gzip too), one OTLP "
        "ExportLogsServiceRequest or ExportMetricsServiceRequest per line. claude_code.api_request "
        "and api_error events and claude_code.* metrics are read; prompt text, tool parameters "
        "and bodies never are. Files already read are skipped on the next run."
    ),
    example="llmledger --db ledger.duckdb ingest otel-files ./otel",
    tables=(format.RAW_EVENTS, format.RAW_METRICS),
    cursor=FILE_MTIME,
    options=(path_argument("A file or folder of OTLP JSON lines.", metavar="PATH"),),
    transport=_pages,
    parse=format.parse,
    shards=files.SHARDS,
)


# ----------------------------------------------------------------------------------------------
# otel-s3: the Collector's awss3 exporter, with s3_partition_format "%Y/%m/%d/%H/%M"


def _hour_key(partition: s3.Partition, moment: datetime) -> str:
    return f"{partition.prefix}{moment:%Y/%m/%d/%H}"


def _s3_pages(run: SourceRun) -> Iterator[Page]:
    bucket = str(run.options["bucket"])
    prefix = str(run.options["prefix"] or "").strip("/")
    root = f"{prefix}/" if prefix else ""

    def accept(parts: Sequence[str], size: int) -> bool:
        return size > 0 and parts[-1].endswith(SUFFIXES)

    yield from s3.pages(
        run,
        bucket=bucket,
        partitions=lambda client: [s3.Partition(name=root or "/", prefix=root)],
        accept=accept,
        overlap=timedelta(hours=int(run.options["overlap_hours"])),
        key_at=_hour_key,
    )


OTEL_S3 = Source(
    name="otel-s3",
    family="otel",
    summary="Read Claude Code telemetry from S3: OTLP JSON objects under PREFIX/YYYY/MM/DD/HH/.",
    description=(
        "Objects written by the OpenTelemetry Collector's awss3 exporter with marshaler: "
        "otlp_json and s3_partition_format: '%Y/%m/%d/%H/%M' (or `llmledger collect` files "
        "copied into such folders): .json/.jsonl, gzip too. Lists only keys newer than the "
        "cursor's hour (less the overlap) and skips objects already read (key + ETag)."
    ),
    example=(
        "llmledger --db ledger.duckdb ingest otel-s3 --bucket acme-telemetry --prefix claude-code"
    ),
    credentials=aws.CREDENTIALS,
    tables=(format.RAW_EVENTS, format.RAW_METRICS),
    cursor=OBJECT_KEY,
    options=(
        Option("bucket", required=True, metavar="NAME", help="Bucket the telemetry is in."),
        Option("prefix", default="", metavar="P", help="Key prefix above the YYYY/ folders."),
        *aws.options("Bucket"),
        Option(
            "overlap_hours",
            type=int,
            default=1,
            minimum=0,
            help="Hours re-listed before the cursor, for late objects.",
        ),
    ),
    client=aws.client_factory("s3"),
    transport=_s3_pages,
    parse=format.parse,
    unit="objects",
    shards="day prefixes (PREFIX/YYYY/MM/DD/)",
)
