"""Claude on Vertex AI: one format (``format.py``) over two transports.

``vertex`` reads Cloud Logging's ``entries.list`` (``transports/cloud_logging.py``) with the
Vertex filter clause; ``vertex-files`` reads a Cloud Storage sink's exported files
(``transports/files.py``). Both land in ``raw_vertex_audit`` (who called) and
``raw_vertex_usage`` (the tokens), keyed by ``insertId``.
"""

from __future__ import annotations

from collections.abc import Iterator

from ingest.errors import ConfigError
from ingest.source import DEADLINES, FILE_MTIME, TIMESTAMP_ID, Option, Page, Source, SourceRun
from ingest.sources.vertex import format
from ingest.transports import cloud_logging, files

VERTEX = Source(
    name="vertex",
    family="vertex",
    summary="Read Claude usage on Vertex AI from Cloud Logging, then build and publish.",
    description=(
        "Reads Data Access audit entries for RawPredict/StreamRawPredict on Anthropic models (who "
        "called) and entries holding Vertex Messages responses (the tokens). Paging keeps under "
        "60 entries.list calls a minute; the checkpoint per project is (timestamp, insertId)."
    ),
    example=(
        "llmledger --db ledger.duckdb ingest vertex --project acme-ml --since 2026-11-01\n"
        "llmledger ingest vertex --project test --api-endpoint http://127.0.0.1:8089 --anonymous"
    ),
    tables=(format.RAW_AUDIT, format.RAW_USAGE),
    cursor=TIMESTAMP_ID,
    options=(
        Option(
            "project",
            required=True,
            envvar="LLMLEDGER_VERTEX_PROJECT",
            metavar="P",
            help="Google Cloud project whose logs to read.",
        ),
        Option(
            "api_endpoint",
            metavar="URL",
            help="Cloud Logging endpoint (default https://logging.googleapis.com): a private "
            "endpoint or a local test server.",
        ),
        Option(
            "anonymous",
            type=bool,
            help="Send no credentials (for a local endpoint); otherwise google-auth's chain "
            "(ADC, GOOGLE_APPLICATION_CREDENTIALS, workload identity).",
        ),
        Option(
            "filter",
            metavar="F",
            help="Extra Cloud Logging filter ANDed to the built-in one, e.g. "
            "'resource.labels.project_id=\"acme-ml\"'.",
        ),
        Option(
            "page_size",
            type=int,
            minimum=1,
            maximum=1000,
            metavar="N",
            help="Entries per entries.list call (1-1000, default 1000).",
        ),
        Option(
            "overlap_minutes",
            type=int,
            default=cloud_logging.DEFAULT_OVERLAP_MINUTES,
            minimum=0,
            cli=False,
            help="Minutes re-read before the checkpoint, for late entries.",
        ),
        Option(
            "calls_per_minute",
            type=int,
            minimum=1,
            cli=False,
            help="entries.list calls a minute at most (default 60, the API's read quota).",
        ),
        Option(
            "retry_deadline_seconds",
            type=int,
            cli=False,
            help="How long 429/5xx answers are retried before the run stops (default 120).",
        ),
        *DEADLINES,
    ),
    transport=cloud_logging.entries(format.KINDS_FILTER),
    parse=format.page_format("api", entry_locations=True),
    client=cloud_logging.client_factory("vertex"),
    unit="entries",
)

# A sink writes ``<log name>/YYYY/MM/DD/HH:00:00_HH:59:59_S<shard>.json`` (reference/vertex.md
# §2.5; the official wording of the layout is unconfirmed, so any .json or .jsonl file, gzip
# included, under a YYYY/MM/DD/ folder is read; other files, e.g. a README, are not).
SUFFIXES = (".json", ".jsonl", ".json.gz", ".jsonl.gz")
FILES_PER_PAGE = 200


def _sink_pages(run: SourceRun) -> Iterator[Page]:
    root = run.path("path")
    if not root.is_dir():
        raise ConfigError(
            f"vertex-files: folder {root} not found; fix sources.vertex_files.path or the DIR "
            "argument"
        )
    yield from files.pages(
        run,
        root,
        accept=lambda f: f.path.name.endswith(SUFFIXES),
        location=lambda f: "/".join((root.name, *f.parts)),
        dated_only=True,
        max_files=FILES_PER_PAGE,
    )


VERTEX_FILES = Source(
    name="vertex-files",
    family="vertex",
    summary="Read Cloud Logging exports in a Cloud Storage sink's layout (JSON lines per hour).",
    description=(
        "DIR holds `<log name>/YYYY/MM/DD/HH:00:00_HH:59:59_S<n>.json` files, e.g. a `gsutil "
        "rsync` of the sink's bucket. Files already read are skipped on the next run."
    ),
    example="llmledger --db ledger.duckdb ingest vertex-files ./vertex-logs",
    tables=(format.RAW_AUDIT, format.RAW_USAGE),
    cursor=FILE_MTIME,
    options=(
        Option(
            "path",
            argument=True,
            required=True,
            path=True,
            metavar="DIRECTORY",
            help="A folder of Cloud Logging sink exports.",
        ),
    ),
    transport=_sink_pages,
    parse=format.page_format("files"),
)
