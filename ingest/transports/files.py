"""Local files: any tree (``aws s3 sync`` copies, sink exports, dumps), ``.gz`` or plain.

Walks in name order, following symbolic links once (a link back up the tree is skipped with a
warning, not followed forever). A file already read is remembered in processed_objects by its
absolute path and a ``size:mtime_ns`` fingerprint, so a later run reads only new or changed
files. With --since/--until, files in a dated folder (``YYYY/MM/DD`` or ``YYYY/MM/DD/HH``)
outside the window are left out. A ``--shard K/N`` worker reads only the files it owns: a
dated folder's files by the day folder they sit in (``.../YYYY/MM/DD/``, the unit an S3 worker
owns too), any other file by its own path below the walked root (``shard_unit``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time
from pathlib import Path
from typing import TypeVar

from ingest.errors import DataError
from ingest.source import LocalFile, Page, SourceRun

T = TypeVar("T")


@dataclass(frozen=True)
class Found:
    path: Path
    parts: tuple[str, ...]  # components below the walked root
    size: int
    mtime_ns: int

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.size, self.mtime_ns)


def fingerprint(size: int, mtime_ns: int) -> str:
    """How a local file is remembered in processed_objects: a change of either re-reads it."""
    return f"{size}:{mtime_ns}"


def walk(root: Path, *, warn: Callable[[str], None] | None = None) -> Iterator[Found]:
    """Every file under ``root`` (or ``root`` itself), in name order; I/O only."""
    if not root.is_dir():
        try:
            st = root.stat()
        except OSError:
            return
        yield Found(root, (root.name,), st.st_size, st.st_mtime_ns)
        return
    seen: set[tuple[int, int]] = set()
    stack: list[tuple[Path, tuple[str, ...]]] = [(root, ())]
    while stack:
        folder, parts = stack.pop()
        try:
            st = folder.stat()
            entries = sorted(os.scandir(folder), key=lambda e: e.name, reverse=True)
        except OSError as exc:
            if warn is not None:
                warn(f"cannot read folder {folder}: {exc.strerror or exc}; skipped")
            continue
        if (st.st_dev, st.st_ino) in seen:
            if warn is not None:
                warn(f"{folder} links back to a folder already read; skipped")
            continue
        seen.add((st.st_dev, st.st_ino))
        files = []
        for entry in entries:
            try:
                is_dir = entry.is_dir(follow_symlinks=True)
            except OSError:
                is_dir = False
            if is_dir:
                stack.append((Path(entry.path), (*parts, entry.name)))
            else:
                files.append(entry)
        for entry in reversed(files):
            try:
                st = entry.stat(follow_symlinks=True)
            except OSError:
                continue  # a dangling link, or removed since the listing
            yield Found(Path(entry.path), (*parts, entry.name), st.st_size, st.st_mtime_ns)


def time_in_path(parts: Sequence[str]) -> datetime | None:
    """The hour (``.../YYYY/MM/DD/HH/file``) or day (``.../YYYY/MM/DD/...``) a path is filed
    under, the deepest such folder; None for a file outside dated folders."""
    folders = list(parts[:-1])
    for i in range(len(folders) - 3, -1, -1):
        try:
            day = datetime.strptime("/".join(folders[i : i + 3]), "%Y/%m/%d").replace(tzinfo=UTC)
        except ValueError:
            continue
        if i + 3 < len(folders):
            hour = folders[i + 3]
            if len(hour) == 2 and hour.isdigit() and int(hour) < 24:
                return day.replace(hour=int(hour))
        return day
    return None


# What a --shard worker owns of a files source (Source.shards, shown in `--help`)
SHARDS = "day folders (.../YYYY/MM/DD/) and undated files"


def shard_unit(parts: Sequence[str]) -> str:
    """What a --shard worker owns of a file (``parts``: its path below the walked root): the
    path down to the deepest ``YYYY/MM/DD`` folder it is filed under, so every file of one day
    folder (a sink's S0/S1 files of an hour, a delivery written twice within the day) belongs
    to one worker, as an S3 worker owns a day prefix; a file outside dated folders is a unit
    of its own."""
    folders = list(parts[:-1])
    for i in range(len(folders) - 3, -1, -1):
        try:
            datetime.strptime("/".join(folders[i : i + 3]), "%Y/%m/%d")
        except ValueError:
            continue
        return "/".join(folders[: i + 3])
    return "/".join(parts)


def in_window(run: SourceRun, at: datetime | None) -> bool:
    """Whether a file filed at ``at`` falls in --since/--until (undated files always do)."""
    if at is None:
        return True
    if run.since is not None and at < datetime.combine(run.since, time(), UTC):
        return False
    return not (run.until is not None and at >= datetime.combine(run.until, time(), UTC))


def batches(
    items: Iterable[T], *, max_items: int, max_bytes: int, size: Callable[[T], int]
) -> Iterator[list[T]]:
    """Consecutive batches of at most ``max_items`` items or ``max_bytes`` bytes (one over)."""
    batch: list[T] = []
    total = 0
    for item in items:
        batch.append(item)
        total += size(item)
        if len(batch) >= max_items or total >= max_bytes:
            yield batch
            batch, total = [], 0
    if batch:
        yield batch


def pages(
    run: SourceRun,
    root: Path,
    *,
    accept: Callable[[Found], bool],
    location: Callable[[Found], str] = lambda f: str(f.path),
    max_files: int = 500,
    max_bytes: int = 128 << 20,
) -> Iterator[Page]:
    """Pages of the new or changed files under ``root`` that ``accept`` takes.

    Files outside dated folders are read too (a user's export need not sit in a sink's
    layout); the window narrows dated files only. Each page's commit moves the cursor
    (partition: the root) to the newest modification time read. A path with no file that
    ``accept`` takes (read before or not) is an error (DataError, exit 1): the user named it
    to be read, so reading nothing is never a quiet success.
    """
    root = root.resolve()
    seen = run.processed(str(root))
    newest: str | None = None
    found_files = readable = 0

    def wanted() -> Iterator[Found]:
        nonlocal found_files, readable
        for found in walk(root, warn=lambda text: run.log("files_warning", f"warning: {text}")):
            found_files += 1
            at = time_in_path(found.parts)
            if not accept(found):
                continue
            readable += 1
            if not in_window(run, at):
                continue
            if seen.get(str(found.path)) == found.fingerprint:
                continue
            if run.shard is not None and not run.shard.owns(shard_unit(found.parts)):
                continue  # another --shard worker's file
            yield found

    for batch in batches(wanted(), max_items=max_files, max_bytes=max_bytes, size=_size):
        stamp = max(f.mtime_ns for f in batch)
        newest = datetime.fromtimestamp(stamp / 1e9, UTC).isoformat()
        yield Page(
            files=[
                LocalFile(
                    str(f.path),
                    location(f),
                    key=str(f.path),
                    fingerprint=f.fingerprint,
                    size=f.size,
                )
                for f in batch
            ],
            cursors={str(root): newest},
        )
    if not readable:
        what = (
            "no file there"
            if not found_files
            else f"{found_files} file{'s' if found_files != 1 else ''}, none of them readable"
        )
        raise DataError(f"{run.name}: nothing to read in {root}: {what}")


def _size(found: Found) -> int:
    return found.size
