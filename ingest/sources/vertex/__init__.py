"""Claude on Vertex AI: one format (``format.py``) over two transports.

``vertex`` reads Cloud Logging's ``entries.list`` (``transports/cloud_logging.py``) with the
Vertex filter clause; ``vertex-files`` reads files of entries (``transports/files.py``): a
Cloud Storage sink's exports or ``gcloud logging read --format=json`` output. Both land in
``raw_vertex_audit`` (who called) and ``raw_vertex_usage`` (the tokens), keyed by ``insertId``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

from ingest.errors import ConfigError
from ingest.source import (
    DEADLINES,
    FILE_MTIME,
    TIMESTAMP_ID,
    Option,
    Page,
    Source,
    SourceRun,
    path_argument,
)
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
# §2.5), but people also hold `gcloud logging read --format=json` output and copies renamed by
# hand: every file is read and recognised by content (ingest/sources/shapes.py), whatever its
# name or folder. The dated folders narrow --since/--until; a file outside them is read for the
# entries in the window (the cursor is the files' modification time: no dates in the path needed).
FILES_PER_PAGE = 200


def _sink_pages(run: SourceRun) -> Iterator[Page]:
    root = run.path("path")
    if not root.exists():
        raise ConfigError(
            f"vertex-files: {root} not found; fix sources.vertex_files.path or the PATH argument"
        )
    found = files.pages(
        run,
        root,
        accept=lambda f: f.size > 0,  # an empty file holds nothing (a sink never writes one)
        location=lambda f: "/".join((root.name, *f.parts)) if root.is_dir() else str(f.path),
        max_files=FILES_PER_PAGE,
    )
    if run.since is None and run.until is None:
        yield from found
        return
    # --since/--until: a file outside dated folders (gcloud output) is read for the entries in
    # the window only (by their own timestamps), and not remembered, so a later run reads the
    # rest of it.
    base = root.resolve()
    for page in found:
        undated = {
            f.path
            for f in page.files
            if files.time_in_path(Path(f.path).relative_to(base).parts if base.is_dir() else ())
            is None
        }
        yield dataclasses.replace(
            page,
            files=[
                dataclasses.replace(f, key="", fingerprint="") if f.path in undated else f
                for f in page.files
            ],
            meta={**page.meta, "windowed": sorted(undated)},
        )


VERTEX_FILES = Source(
    name="vertex-files",
    family="vertex",
    summary="Read Cloud Logging entries from files: a Cloud Storage sink or gcloud output.",
    description=(
        "PATH is a folder (or one file) of Cloud Logging entries: a Cloud Storage sink's JSON "
        "lines (`gcloud storage rsync gs://BUCKET DIR`), `gcloud logging read --format=json` "
        "output (a JSON array, with or without a byte-order mark), pretty-printed entries; "
        "gzip or plain, recognised by content whatever the file's name or folder. Gemini and "
        "other entries that are not Claude usage are counted as skipped, not rejected. Files "
        "already read (same size and mtime) are skipped on the next run."
    ),
    example=(
        "gcloud logging read 'protoPayload.serviceName=\"aiplatform.googleapis.com\"' \\\n"
        "    --project acme-ml --freshness 7d --format=json > entries.json\n"
        "llmledger --db ledger.duckdb ingest vertex-files entries.json\n"
        "llmledger --db ledger.duckdb ingest vertex-files ./vertex-logs"
    ),
    tables=(format.RAW_AUDIT, format.RAW_USAGE),
    cursor=FILE_MTIME,
    options=(path_argument("A folder (or one file) of Cloud Logging entries.", metavar="PATH"),),
    transport=_sink_pages,
    parse=format.page_format("files"),
    shards=files.SHARDS,
)
