"""Bedrock invocation logs delivered to a CloudWatch Logs log group.

Bedrock writes one JSON record per log event (stream ``aws/bedrock/modelinvocations``,
shared reference §2.2). The cursor, one per log group, is the newest event timestamp (ms)
committed; a run reads ``filter_log_events`` pages from ``overlap_minutes`` (default 15)
before it, because events can arrive late. Re-read events are the same requestIds, so the
upsert on request_id de-duplicates them. Pages are written to a local NDJSON file and parsed
by the same DuckDB scan as S3 batch files; a record's location is
``logs:<group>/<stream>/<eventId>``.

No filter pattern is sent: moto ignores JSON patterns and real log groups hold only these
records, so the parser itself rejects what is not an invocation record.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import duckdb

from ingest import aws, progress, store
from ingest.context import AppContext
from ingest.errors import ConfigError
from ingest.loader import LoadResult
from ingest.sources.bedrock import format as bedrock

NAME = "bedrock-cloudwatch"
RAW_TABLE = bedrock.RAW_TABLE
NATURAL_KEY = bedrock.NATURAL_KEY
RAW_TABLE_DDL = bedrock.RAW_TABLE_DDL
CURSOR = "newest event timestamp (epoch ms) committed, per log group"

DEFAULT_OVERLAP_MINUTES = 15
PAGE_EVENTS = 10_000  # filter_log_events' maximum limit
BATCH_EVENTS = 20_000  # events per parse and transaction
BATCH_BYTES = 64 << 20


@dataclass
class EventPage:
    """Events of one or more filter_log_events pages, written to one NDJSON file."""

    path: str
    locations: list[str] = field(default_factory=list)  # line N -> logs:<group>/<stream>/<id>
    newest_ms: int | None = None


def run(
    app: AppContext,
    con: duckdb.DuckDBPyConnection,
    options: dict[str, Any],
    *,
    since: date | None = None,
    until: date | None = None,
) -> LoadResult:
    group = str(options.get("log_group") or "")
    if not group:
        raise ConfigError("bedrock-cloudwatch needs a log group; pass --log-group NAME")
    logs = aws.client("logs", region=options.get("region"), profile=options.get("profile"))
    return ingest(app, con, logs, options, since=since, until=until)


def ingest(
    app: AppContext,
    con: duckdb.DuckDBPyConnection,
    logs: Any,
    options: dict[str, Any],
    *,
    since: date | None = None,
    until: date | None = None,
) -> LoadResult:
    """Read the log group's events since the cursor (less the overlap) into raw_bedrock."""
    group = str(options["log_group"])
    overlap_ms = int(options.get("overlap_minutes", DEFAULT_OVERLAP_MINUTES)) * 60_000
    cursor = store.get_cursor(con, NAME, group)
    start_ms = None
    if since is not None:
        start_ms = _epoch_ms(since)
    elif cursor is not None and cursor.isdigit():
        start_ms = max(0, int(cursor) - overlap_ms)
    end_ms = _epoch_ms(until) - 1 if until is not None else None
    region = getattr(getattr(logs, "meta", None), "region_name", None) or "this region"
    missing = {
        "ResourceNotFoundException": (
            f"log group '{group}' not found in {region}; check --log-group and --region"
        )
    }
    scratch = tempfile.mkdtemp(prefix="llmledger-logs-")
    newest = int(cursor) if cursor is not None and cursor.isdigit() else None
    try:
        with (
            aws.translate_errors(NAME, logs, what="CloudWatch Logs", missing=missing),
            progress.bar(app, f"{NAME} events") as advance,
        ):
            pages = fetch(logs, group, start_ms, end_ms, scratch)
            return bedrock.load_batches(
                con, NAME, _batches(pages, group, newest, advance), source_kind="cloudwatch"
            )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _batches(
    pages: Iterator[EventPage], group: str, newest: int | None, advance: Any
) -> Iterator[bedrock.Batch]:
    """Each page as a batch; its commit moves the cursor to the newest event it holds."""
    for page in pages:
        moved = {}
        if page.newest_ms is not None and (newest is None or page.newest_ms > newest):
            newest = page.newest_ms
            moved = {group: str(newest)}
        yield bedrock.Batch(
            [bedrock.LocalFile(page.path, f"logs:{group}")],
            cursors=moved,
            line_locations={page.path: page.locations},
            on_parsed=functools.partial(os.unlink, page.path),
        )
        advance(len(page.locations))


def _epoch_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


def fetch(
    logs: Any, group: str, start_ms: int | None, end_ms: int | None, folder: str
) -> Iterator[EventPage]:
    """filter_log_events pages (time-ordered, interleaved across streams) as NDJSON files.

    I/O only: each event's message goes on one line as it is (newlines inside a message are
    only whitespace between JSON tokens; JSON strings cannot hold them).
    """
    kwargs: dict[str, Any] = {
        "logGroupName": group,
        "interleaved": True,  # AWS always interleaves; moto sorts across streams only with it
        "PaginationConfig": {"PageSize": PAGE_EVENTS},
    }
    if start_ms is not None:
        kwargs["startTime"] = start_ms
    if end_ms is not None:
        kwargs["endTime"] = end_ms
    paginator = logs.get_paginator("filter_log_events")
    number = 0
    page: EventPage | None = None
    out: Any = None
    size = 0
    try:
        for response in paginator.paginate(**kwargs):
            for event in response.get("events", []):
                if page is None:
                    page = EventPage(os.path.join(folder, f"page-{number}.ndjson"))
                    out = open(page.path, "w", encoding="utf-8")  # noqa: SIM115
                    number += 1
                    size = 0
                message = str(event.get("message") or "").replace("\r", " ").replace("\n", " ")
                line = message.strip() or "{}"  # a blank line would shift the line numbers
                out.write(line + "\n")
                size += len(line) + 1
                page.locations.append(
                    f"logs:{group}/{event.get('logStreamName', '')}/{event.get('eventId', '')}"
                )
                stamp = event.get("timestamp")
                if isinstance(stamp, int) and (page.newest_ms is None or stamp > page.newest_ms):
                    page.newest_ms = stamp
            # Flush at page boundaries only, so a committed cursor covers whole pages.
            if page is not None and (len(page.locations) >= BATCH_EVENTS or size >= BATCH_BYTES):
                out.close()
                yield page
                page, out = None, None
        if page is not None:
            out.close()
            out = None
            yield page
    finally:
        if out is not None:
            out.close()
