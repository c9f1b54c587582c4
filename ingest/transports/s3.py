"""S3 objects: the new objects under each partition's prefix, downloaded into the run's scratch.

A source names its bucket and hands in how its partitions are found (``partitions``: Delimiter
listings of its own layout), which keys are records (``accept``), and a listing delimiter that
rolls up folders it never reads. Each partition is listed with ``StartAfter`` at the dated
folder (``<prefix>YYYY/MM/DD/HH``) of --since, else of its cursor's hour less the overlap, and
stops at --until's; objects whose key and ETag are already in processed_objects are skipped.
The rest are downloaded in parallel, a page at a time, into the run's scratch folder; a page's
commit moves each partition's cursor (OBJECT_KEY) to the newest key it holds. An object
deleted between the listing and its download (a lifecycle rule) is skipped. A ``--shard K/N``
worker keeps only the objects whose account/region/day prefix it owns (``shard_unit``).
Errors from S3 become ``SourceUnavailable`` (or a usage error for a missing bucket) through
``aws.translate_errors``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import PurePosixPath
from typing import Any

from ingest import aws
from ingest.deadline import Deadline
from ingest.source import LocalFile, Page, SourceRun
from ingest.transports.files import batches

MAX_OBJECTS = 400  # objects per page (one parse, one transaction)
MAX_BYTES = 64 << 20  # compressed bytes per page, on local disk while it is parsed
DOWNLOAD_THREADS = 8


@dataclass(frozen=True)
class Partition:
    name: str  # the cursor's partition, e.g. "<account>/<region>"
    prefix: str  # the key prefix listed, ending in "/"
    # Keys below the prefix start with YYYY/MM/DD/HH: listings start at the window's hour. An
    # undated partition is listed whole each run (processed_objects skips what was read).
    dated: bool = True


@dataclass(frozen=True)
class S3Object:
    key: str
    etag: str
    size: int
    partition: Partition


_running = threading.local()


def uri(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def folders(s3: Any, bucket: str, prefix: str, guard: Deadline | None = None) -> list[str]:
    """The CommonPrefixes one level under ``prefix`` (a Delimiter listing, no objects)."""
    paginator = s3.get_paginator("list_objects_v2")
    found: list[str] = []
    listed = paginator.paginate(Bucket=bucket, Prefix=prefix, Delimiter="/")
    guard = guard or getattr(_running, "guard", None) or Deadline("s3")
    for page in aws.guarded_pages(listed, guard, _where(s3)):
        found.extend(str(cp["Prefix"]) for cp in page.get("CommonPrefixes", []))
    return found


def hour_key(partition: Partition, moment: datetime) -> str:
    """``<prefix>YYYY/MM/DD/HH``: sorts before every key of that hour's folder."""
    return f"{partition.prefix}{moment:%Y/%m/%d/%H}"


def pages(
    run: SourceRun,
    *,
    bucket: str,
    partitions: Callable[[Any], Sequence[Partition]],
    accept: Callable[[Sequence[str], int], bool] = lambda parts, size: True,
    delimiter: str | None = None,
    overlap: timedelta = timedelta(0),
    key_at: Callable[[Partition, datetime], str] = hour_key,
    max_objects: int = MAX_OBJECTS,
    max_bytes: int = MAX_BYTES,
    threads: int = DOWNLOAD_THREADS,
) -> Iterator[Page]:
    """Pages of the new objects of ``bucket`` (``run.client`` is an S3 client).

    ``partitions(client)`` lists the partitions to read; ``accept(parts, size)`` says whether
    an object is a record file (``parts``: its key's components below the partition's prefix);
    ``delimiter`` is sent with each listing (listed again without it if the store refuses it).
    """
    s3 = run.client
    guard = run.guard()
    _running.guard = guard  # for the source's partition listings (folders)
    missing = {"NoSuchBucket": f"bucket '{bucket}' does not exist; check --bucket (and --region)"}
    with aws.translate_errors(run.name, s3, what="S3", missing=missing):
        found = list(partitions(s3))
        seen: dict[str, str] = {}
        for p in found:
            seen.update(run.processed(uri(bucket, p.prefix)))
        listing = (
            obj
            for p in found
            for obj in _list(
                s3, bucket, p, *_bounds(run, p, overlap, key_at), delimiter, accept, guard
            )
            if seen.get(uri(bucket, obj.key)) != obj.etag
            and (run.shard is None or run.shard.owns(shard_unit(obj)))
        )
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="s3-get") as pool:
            chunks = batches(listing, max_items=max_objects, max_bytes=max_bytes, size=_size)
            for number, objs in enumerate(chunks):
                stems = [os.path.join(run.scratch, f"{number}-{i}") for i in range(len(objs))]
                got = list(pool.map(lambda o, s: _download(s3, bucket, o, s, guard), objs, stems))
                kept = [(obj, local) for obj, local in zip(objs, got, strict=True) if local]
                if kept:
                    yield _page(kept)


def shard_unit(obj: S3Object) -> str:
    """What a --shard worker owns: ``<partition>/YYYY/MM/DD`` (an account/region/day prefix),
    or the whole partition when its keys carry no date (an export task)."""
    partition = obj.partition
    if not partition.dated:
        return partition.name
    return "/".join([partition.name, *obj.key[len(partition.prefix) :].split("/")[:3]])


def _bounds(
    run: SourceRun,
    partition: Partition,
    overlap: timedelta,
    key_at: Callable[[Partition, datetime], str],
) -> tuple[str | None, str | None]:
    """(StartAfter, the first key not read) of one partition, from the runner's window."""
    if not partition.dated:
        return None, None
    window = run.window(partition.name, overlap=overlap)
    start = window.start
    if run.since is None and not (window.cursor or "").startswith(partition.prefix):
        start = None  # no cursor, or one from another prefix: list the whole partition
    after = key_at(partition, start) if start is not None else None
    stop = key_at(partition, window.end) if window.end is not None else None
    return after, stop


def _list(
    s3: Any,
    bucket: str,
    partition: Partition,
    after: str | None,
    stop: str | None,
    delimiter: str | None,
    accept: Callable[[Sequence[str], int], bool],
    guard: Deadline,
) -> Iterator[S3Object]:
    """The record objects of one partition in key order (a paginated listing)."""
    import botocore.exceptions

    paginator = s3.get_paginator("list_objects_v2")
    kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": partition.prefix}
    if delimiter:
        kwargs["Delimiter"] = delimiter
    if after:
        kwargs["StartAfter"] = after
    try:
        listed = aws.guarded_pages(paginator.paginate(**kwargs), guard, _where(s3))
        first = next(listed, None)
    except botocore.exceptions.ClientError as exc:
        if not delimiter or exc.response.get("Error", {}).get("Code") != "InvalidArgument":
            raise
        del kwargs["Delimiter"]  # an S3-compatible store refusing a multi-character delimiter
        listed = aws.guarded_pages(paginator.paginate(**kwargs), guard, _where(s3))
        first = next(listed, None)
    if first is None:
        return
    for page in _chain(first, listed):
        for item in page.get("Contents", []):
            key = str(item["Key"])
            if stop is not None and key >= stop:
                return
            size = int(item.get("Size", 0))
            if not accept(key[len(partition.prefix) :].split("/"), size):
                continue
            yield S3Object(key, str(item.get("ETag", "")).strip('"'), size, partition)


def _chain(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    yield first
    yield from rest


def _size(obj: S3Object) -> int:
    return obj.size


def _download(s3: Any, bucket: str, obj: S3Object, stem: str, guard: Deadline) -> LocalFile | None:
    """Copy one object to ``stem`` + its name's suffixes; None if it is gone since the listing.
    The whole download ends at the run's request_timeout (a body that trickles included)."""
    import botocore.exceptions

    path = stem + "".join(PurePosixPath(obj.key).suffixes[-2:])
    with guard.request(_where(s3)) as watch:
        try:
            response = s3.get_object(Bucket=bucket, Key=obj.key)
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "NoSuchKey":
                return None  # expired by a lifecycle rule between listing and reading
            raise
        raw = getattr(response["Body"], "_raw_stream", None)
        watch.add_socket(getattr(getattr(raw, "connection", None), "sock", None))
        with open(path, "wb") as out:
            for chunk in response["Body"].iter_chunks(1 << 20):
                out.write(chunk)
    etag = str(response.get("ETag", obj.etag)).strip('"')
    location = uri(bucket, obj.key)
    return LocalFile(path, location, key=location, fingerprint=etag, size=obj.size)


def _where(s3: Any) -> str:
    return f"S3 at {aws.endpoint_of(s3)}"


def _page(kept: list[tuple[S3Object, LocalFile]]) -> Page:
    cursors: dict[str, str] = {}
    for obj, _ in kept:
        name = obj.partition.name
        cursors[name] = max(cursors.get(name, ""), obj.key)
    files = [local for _, local in kept]

    def release() -> None:
        for local in files:
            try:
                os.unlink(local.path)
            except FileNotFoundError:
                pass

    return Page(files=files, cursors=cursors, release=release)


# ----------------------------------------------------------------------------------------------
# A whole listing and single downloads, for sources that pick their objects themselves (a
# manifest naming the files of one delivery).


@dataclass(frozen=True)
class Listed:
    key: str
    etag: str
    size: int
    last_modified: datetime


def errors(run: SourceRun, client: Any, bucket: str) -> Any:
    """``aws.translate_errors`` for S3 under this run (a missing bucket is a usage error)."""
    missing = {"NoSuchBucket": f"bucket '{bucket}' does not exist; check --bucket (and --region)"}
    return aws.translate_errors(run.name, client, what="S3", missing=missing)


def list_objects(
    client: Any, bucket: str, prefix: str, guard: Deadline | None = None
) -> Iterator[Listed]:
    """Every object under ``prefix`` (a paginated listing, no delimiter), each page within
    the run's request deadline."""
    paginator = client.get_paginator("list_objects_v2")
    pages = paginator.paginate(Bucket=bucket, Prefix=prefix)
    for page in aws.guarded_pages(pages, guard or Deadline("s3"), _where(client)):
        for item in page.get("Contents", []):
            yield Listed(
                key=str(item["Key"]),
                etag=str(item.get("ETag", "")).strip('"'),
                size=int(item.get("Size", 0)),
                last_modified=item["LastModified"],
            )


def download(
    client: Any, bucket: str, obj: Listed, stem: str, guard: Deadline | None = None
) -> LocalFile | None:
    """One object copied to ``stem`` + its suffixes; None if it is gone since the listing."""
    found = S3Object(obj.key, obj.etag, obj.size, Partition("", ""))
    return _download(client, bucket, found, stem, guard or Deadline("s3"))
