"""Claude Code's own telemetry (OpenTelemetry): one format (``format.py``) over local files.

``otel-files`` reads OTLP JSON lines: what ``llmledger collect`` writes, or the OpenTelemetry
Collector's ``file`` exporter output. Rows land in ``raw_claude_code`` (``api_request`` and
``api_error`` events) and ``raw_claude_code_metrics`` (``claude_code.*`` data points); staging
(``models/staging/stg_claude_code.sql``) makes the events source ``claude_code``, and
``models/marts/claude_code_attribution.sql`` names the developer behind provider records.
"""

from __future__ import annotations

from collections.abc import Iterator

from ingest.errors import ConfigError
from ingest.source import FILE_MTIME, Option, Page, Source, SourceRun
from ingest.sources.otel import format
from ingest.transports import files

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
    options=(
        Option(
            "path",
            argument=True,
            required=True,
            path=True,
            metavar="PATH",
            help="A file or folder of OTLP JSON lines.",
        ),
    ),
    transport=_pages,
    parse=format.parse,
)
