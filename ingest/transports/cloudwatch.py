"""CloudWatch Logs: ``filter_log_events`` pages of one log group, written as local NDJSON files.

The cursor (EPOCH_MS, partition: the log group) is the newest event time committed; a run reads
from --since, else from the cursor less the overlap (events arrive late; re-read events are the
same records, which the raw table's key de-duplicates), up to --until. Each event's message
goes on one line of a page's file as it is, and line N's location is event N's
``logs:<group>/<stream>/<eventId>`` (``LocalFile.line_locations``). Pages end at
``filter_log_events`` page boundaries only, so a committed cursor covers whole pages. Errors
from CloudWatch Logs become ``SourceUnavailable`` (or a usage error for a missing log group)
through ``aws.translate_errors``.

No filter pattern is sent: moto ignores JSON patterns, and a format rejects what is not its
record anyway.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from ingest import aws
from ingest.source import LocalFile, Page, SourceRun

PAGE_EVENTS = 10_000  # filter_log_events' maximum limit
BATCH_EVENTS = 20_000  # events per page handed to the format (one parse, one transaction)
BATCH_BYTES = 64 << 20
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_ms(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def pages(
    run: SourceRun,
    *,
    group: str,
    overlap: timedelta = timedelta(0),
    page_events: int = PAGE_EVENTS,
    batch_events: int = BATCH_EVENTS,
    batch_bytes: int = BATCH_BYTES,
) -> Iterator[Page]:
    """Pages of the log group's events in the run's window (``run.client`` is a Logs client)."""
    logs = run.client
    window = run.window(group, overlap=overlap)
    kwargs: dict[str, Any] = {
        "logGroupName": group,
        "interleaved": True,  # AWS always interleaves; moto sorts across streams only with it
        "PaginationConfig": {"PageSize": page_events},
    }
    if window.start is not None:
        kwargs["startTime"] = max(0, epoch_ms(window.start))
    if window.end is not None:
        kwargs["endTime"] = epoch_ms(window.end) - 1
    region = getattr(getattr(logs, "meta", None), "region_name", None) or "this region"
    missing = {
        "ResourceNotFoundException": (
            f"log group '{group}' not found in {region}; check --log-group and --region"
        )
    }
    with aws.translate_errors(run.name, logs, what="CloudWatch Logs", missing=missing):
        writer: _PageFile | None = None
        number = 0
        try:
            listed = logs.get_paginator("filter_log_events").paginate(**kwargs)
            where = f"CloudWatch Logs at {aws.endpoint_of(logs)}"
            for response in aws.guarded_pages(listed, run.guard(), where):
                for event in response.get("events", []):
                    if writer is None:
                        writer = _PageFile(os.path.join(run.scratch, f"page-{number}.ndjson"))
                        number += 1
                    writer.add(group, event)
                if writer is not None and (
                    len(writer.locations) >= batch_events or writer.size >= batch_bytes
                ):
                    yield writer.page(group)
                    writer = None
            if writer is not None:
                yield writer.page(group)
                writer = None
        finally:
            if writer is not None:
                writer.out.close()


class _PageFile:
    """Events of one or more filter_log_events pages, written to one NDJSON file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.out: TextIO = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed in page()
        self.locations: list[str] = []
        self.size = 0
        self.newest_ms: int | None = None

    def add(self, group: str, event: dict[str, Any]) -> None:
        # Newlines inside a message are only whitespace between JSON tokens (JSON strings
        # cannot hold them); a blank line would shift the line numbers.
        message = str(event.get("message") or "").replace("\r", " ").replace("\n", " ")
        line = message.strip() or "{}"
        self.out.write(line + "\n")
        self.size += len(line) + 1
        self.locations.append(
            f"logs:{group}/{event.get('logStreamName', '')}/{event.get('eventId', '')}"
        )
        stamp = event.get("timestamp")
        if isinstance(stamp, int) and (self.newest_ms is None or stamp > self.newest_ms):
            self.newest_ms = stamp

    def page(self, group: str) -> Page:
        self.out.close()
        path = self.path
        return Page(
            files=[LocalFile(path, f"logs:{group}", line_locations=self.locations)],
            cursors={group: str(self.newest_ms)} if self.newest_ms is not None else {},
            release=lambda: _unlink(path),
            units=len(self.locations),
        )


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
