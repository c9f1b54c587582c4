"""Bedrock invocation logs from local files: a copy of the S3 tree (``aws s3 sync``) or
exported ``.json`` / ``.json.gz`` files (one record per line, or one JSON array).

The folder is walked in name order with the S3 source's skip rules (``<HH>/data/`` bodies,
permission-check markers, empty files). Each file is remembered in processed_objects by its
absolute path and a size+mtime fingerprint, so a later run reads only new or changed files.
Files are parsed in batches, one DuckDB scan and one transaction per batch.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb

from ingest import bedrock, progress, store
from ingest.context import AppContext
from ingest.errors import ConfigError
from ingest.loader import LoadResult

NAME = "bedrock-files"
RAW_TABLE = bedrock.RAW_TABLE
NATURAL_KEY = bedrock.NATURAL_KEY
RAW_TABLE_DDL = bedrock.RAW_TABLE_DDL
CURSOR = "newest file modification time read (informational; processed_objects decides)"

BATCH_FILES = 500
BATCH_BYTES = 128 << 20  # compressed bytes per batch (one scan, one transaction)


def run(
    app: AppContext,
    con: duckdb.DuckDBPyConnection,
    options: dict[str, Any],
    *,
    since: date | None = None,
    until: date | None = None,
) -> LoadResult:
    raw = str(options.get("path") or "")
    if not raw:
        raise ConfigError("bedrock-files needs a folder; pass DIR (or path = ... in the config)")
    root = app.config.resolve(raw) if not Path(raw).is_absolute() else Path(raw)
    if not root.exists():
        raise ConfigError(f"bedrock-files: {root} does not exist; pass an existing folder")
    return ingest(app, con, root, since=since, until=until)


def ingest(
    app: AppContext,
    con: duckdb.DuckDBPyConnection,
    root: Path,
    *,
    since: date | None = None,
    until: date | None = None,
) -> LoadResult:
    root = root.resolve()
    seen = {
        str(k): str(e)
        for k, e in con.execute(
            "select object_key, etag from processed_objects "
            "where source = ? and starts_with(object_key, ?)",
            [NAME, str(root)],
        ).fetchall()
    }
    new = (f for f in walk(root, since=since, until=until) if seen.get(f.key) != f.fingerprint)
    cursor = store.get_cursor(con, NAME, str(root))
    newest = datetime.fromisoformat(cursor).timestamp() if cursor else 0.0
    with progress.bar(app, f"{NAME} files") as advance:
        return bedrock.load_batches(
            con, NAME, _batches(new, str(root), newest, advance), source_kind="files"
        )


def _batches(
    files: Iterator[bedrock.LocalFile], root: str, newest: float, advance: Any
) -> Iterator[bedrock.Batch]:
    """Each batch with the cursor its commit moves: the newest mtime read (never backwards)."""
    for batch in batches(files):
        newest = max([newest, *(int(f.fingerprint.split(":", 1)[1]) / 1e9 for f in batch)])
        yield bedrock.Batch(batch, cursors={root: datetime.fromtimestamp(newest, UTC).isoformat()})
        advance(len(batch))


def walk(
    root: Path, *, since: date | None = None, until: date | None = None
) -> Iterator[bedrock.LocalFile]:
    """Record files under ``root`` in name order (I/O only: directory listings and stat).

    With --since/--until, files in an S3-style ``YYYY/MM/DD/HH`` folder outside the window are
    left out; files outside such folders are always read.
    """
    if root.is_file():
        yield from _file(root, root.parent, since, until)
        return
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name, reverse=True)
        except OSError:
            continue
        files = []
        for entry in entries:
            if entry.is_dir(follow_symlinks=True):
                stack.append(Path(entry.path))
            else:
                files.append(Path(entry.path))
        for path in reversed(files):
            yield from _file(path, root, since, until)


def _file(
    path: Path, root: Path, since: date | None, until: date | None
) -> Iterator[bedrock.LocalFile]:
    try:
        st = path.stat()
    except OSError:
        return
    parts = path.relative_to(root).parts if path != root else (path.name,)
    if bedrock.skip_reason(parts, st.st_size) is not None:
        return
    if not _in_window(parts, since, until):
        return
    location = str(path)
    yield bedrock.LocalFile(location, location, location, f"{st.st_size}:{st.st_mtime_ns}")


def _in_window(parts: tuple[str, ...], since: date | None, until: date | None) -> bool:
    if since is None and until is None:
        return True
    hour = _path_hour(parts)
    if hour is None:
        return True
    if since is not None and hour < datetime(since.year, since.month, since.day, tzinfo=UTC):
        return False
    return not (
        until is not None and hour >= datetime(until.year, until.month, until.day, tzinfo=UTC)
    )


def _path_hour(parts: tuple[str, ...]) -> datetime | None:
    """The hour of an S3-style .../YYYY/MM/DD/HH/<file> path, else None."""
    if len(parts) < 5:
        return None
    try:
        return datetime.strptime("/".join(parts[-5:-1]), "%Y/%m/%d/%H").replace(tzinfo=UTC)
    except ValueError:
        return None


def batches(files: Iterator[bedrock.LocalFile]) -> Iterator[list[bedrock.LocalFile]]:
    batch: list[bedrock.LocalFile] = []
    size = 0
    for f in files:
        batch.append(f)
        size += int(f.fingerprint.split(":", 1)[0])
        if len(batch) >= BATCH_FILES or size >= BATCH_BYTES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch
