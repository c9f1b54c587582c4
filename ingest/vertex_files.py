"""Source ``vertex-files``: Cloud Logging exports in a Cloud Storage sink's layout.

A sink to a bucket writes newline-delimited ``LogEntry`` JSON, one batch per log and hour:
``<log name>/YYYY/MM/DD/HH:00:00_HH:59:59_S<shard>.json``, e.g.
``cloudaudit.googleapis.com/data_access/2026/11/02/10:00:00_10:59:59_S0.json``
(reference/vertex.md §2.5; the official wording of the layout is unconfirmed, so any ``.json``
or ``.jsonl`` file, gzip included, under a ``YYYY/MM/DD/`` folder is read; other files are not).
Used for backfills older than the API's retention, for sites that already export their logs, and
for the demo.

Same parser and raw tables as the ``vertex`` source. Incremental by file: a file already read
(same size and modification time) is skipped; ``--since/--until`` select files by the date in
their path.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from ingest import store
from ingest.context import AppContext
from ingest.errors import ConfigError
from ingest.loader import Loader, LoadResult, PageWrite, ProcessedObject, chunks
from ingest.vertex_parse import AUDIT_TABLE, NATURAL_KEY, USAGE_TABLE, parse_files

NAME = "vertex-files"
RAW_TABLE = USAGE_TABLE
FILES_PER_BATCH = 200
SUFFIXES = (".json", ".jsonl", ".json.gz", ".jsonl.gz")
_DATE_IN_PATH = re.compile(r"(?:^|/)(\d{4})/(\d{2})/(\d{2})/")


def file_date(relative: str) -> date | None:
    """The day a sink file covers, from ``…/YYYY/MM/DD/…`` in its path."""
    m = _DATE_IN_PATH.search(relative)
    if not m:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def fetch(
    root: Path, *, since: date | None, until: date | None, seen: dict[str, str]
) -> Iterator[list[tuple[Path, str, str]]]:
    """Yield batches of (path, relative name, fingerprint) of files not read yet (I/O only)."""
    found: list[tuple[Path, str, str]] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name.endswith(SUFFIXES)):
        relative = path.relative_to(root).as_posix()
        day = file_date(relative)
        if day is None:  # not in the sink's date folders (a README, a manifest): not a log file
            continue
        if (since and day < since) or (until and day >= until):
            continue
        stat = path.stat()
        fingerprint = f"{stat.st_size}:{stat.st_mtime_ns}"
        if seen.get(str(path)) == fingerprint:
            continue
        found.append((path, relative, fingerprint))
    yield from chunks(found, FILES_PER_BATCH)


def run(
    app: AppContext,
    con: duckdb.DuckDBPyConnection,
    options: dict[str, Any],
    *,
    since: date | None = None,
    until: date | None = None,
) -> LoadResult:
    root = app.config.resolve(str(options["path"]))
    if not root.is_dir():
        raise ConfigError(
            f"vertex-files: folder {root} not found; fix sources.vertex_files.path or the DIR "
            "argument"
        )
    audit = Loader(con, source=NAME, table=AUDIT_TABLE, key=NATURAL_KEY)
    usage = Loader(con, source=NAME, table=USAGE_TABLE, key=NATURAL_KEY)
    seen = store.processed_etags(con, NAME)
    for batch_files in fetch(root, since=since, until=until, seen=seen):
        names = {str(p): f"{root.name}/{rel}" for p, rel, _fp in batch_files}
        batch = parse_files(con, list(names), source_kind="files", location_of=names.__getitem__)
        try:
            audit.write(PageWrite(rows=batch.audit_table))
            usage.write(
                PageWrite(
                    rows=batch.usage_table,
                    rejected=batch.rejected,
                    processed=[
                        ProcessedObject(str(p), fp, batch.lines_per_file.get(str(p), 0))
                        for p, _rel, fp in batch_files
                    ],
                )
            )
        finally:
            batch.drop(con)
    total = LoadResult()
    total += audit.total
    total += usage.total
    return total
