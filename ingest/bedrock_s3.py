"""Bedrock invocation logs delivered to S3.

Layout (shared reference §2.1)::

    <prefix>/AWSLogs/<account>/BedrockModelInvocationLogs/<region>/YYYY/MM/DD/HH/<ts>_<hex>.json.gz
    <prefix>/AWSLogs/<account>/BedrockModelInvocationLogs/<region>/YYYY/MM/DD/HH/data/...  (bodies)
    .../amazon-bedrock-logs-permission-check                                     (zero-byte marker)

One cursor per account/region partition (found by Delimiter listings): the newest key
committed. A run lists each partition from ``overlap_hours`` (default 1) before its cursor's
hour with ``StartAfter``, so only new keys come back (Bedrock can deliver late into an earlier
hour), skips objects whose key and ETag are already in processed_objects, downloads the rest
in batches and parses each batch in one DuckDB scan. Each batch is one transaction: its rows,
rejections, objects and cursors.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
from collections.abc import Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb

from ingest import aws, progress, store
from ingest.context import AppContext
from ingest.errors import ConfigError
from ingest.loader import LoadResult
from ingest.sources.bedrock import format as bedrock

NAME = "bedrock-s3"
RAW_TABLE = bedrock.RAW_TABLE
NATURAL_KEY = bedrock.NATURAL_KEY
RAW_TABLE_DDL = bedrock.RAW_TABLE_DDL
CURSOR = "newest object key committed, per <account>/<region> partition"

DEFAULT_OVERLAP_HOURS = 1
BATCH_OBJECTS = 400  # objects per batch (one parse, one transaction)
BATCH_BYTES = 64 << 20  # compressed bytes per batch, on local disk while it is parsed
DOWNLOAD_THREADS = 8
LOGS_FOLDER = "BedrockModelInvocationLogs"
# Bodies over 100 KB sit under <HH>/data/: this delimiter rolls each hour's data/ folder into
# one CommonPrefix instead of listing every body object. (S3 accepts multi-character
# delimiters; if an S3-compatible store refuses it we list without one and skip data/ keys.)
DATA_DELIMITER = "/data/"


@dataclass(frozen=True)
class Partition:
    name: str  # "<account>/<region>", the cursor's partition
    prefix: str  # ".../AWSLogs/<account>/BedrockModelInvocationLogs/<region>/"


@dataclass(frozen=True)
class S3Object:
    key: str
    etag: str
    size: int
    partition: Partition


@dataclass
class Batch:
    files: list[bedrock.LocalFile]
    objects: list[S3Object]


def run(
    app: AppContext,
    con: duckdb.DuckDBPyConnection,
    options: dict[str, Any],
    *,
    since: date | None = None,
    until: date | None = None,
) -> LoadResult:
    bucket = str(options.get("bucket") or "")
    if not bucket:
        raise ConfigError("bedrock-s3 needs a bucket; pass --bucket NAME")
    s3 = aws.client("s3", region=options.get("region"), profile=options.get("profile"))
    return ingest(app, con, s3, options, since=since, until=until)


def ingest(
    app: AppContext,
    con: duckdb.DuckDBPyConnection,
    s3: Any,
    options: dict[str, Any],
    *,
    since: date | None = None,
    until: date | None = None,
) -> LoadResult:
    """Read every new object under the bucket/prefix into raw_bedrock (``s3`` is a client)."""
    bucket = str(options["bucket"])
    prefix = str(options.get("prefix") or "")
    overlap = timedelta(hours=int(options.get("overlap_hours", DEFAULT_OVERLAP_HOURS)))
    missing = {
        "NoSuchBucket": f"bucket '{bucket}' does not exist; check --bucket (and --region)",
    }
    scratch = tempfile.mkdtemp(prefix="llmledger-s3-")
    try:
        with (
            aws.translate_errors(NAME, s3, what="S3", missing=missing),
            progress.bar(app, f"{NAME} objects") as advance,
        ):
            partitions = discover_partitions(s3, bucket, prefix)
            if not partitions:
                app.log(
                    "no_partitions",
                    f"{NAME}: no Bedrock logs under s3://{bucket}/{_logs_root(prefix)}"
                    "<account>/BedrockModelInvocationLogs/<region>/ (check --prefix)",
                    source=NAME,
                    bucket=bucket,
                    prefix=prefix,
                )
            cursors = {p.name: store.get_cursor(con, NAME, p.name) or "" for p in partitions}
            plans = [
                (p, start_after(p, cursors[p.name], overlap, since), stop_at(p, until))
                for p in partitions
            ]
            seen = _processed(con, bucket, partitions)
            listing = (
                obj
                for p, after, stop in plans
                for obj in list_partition(s3, bucket, p, after, stop)
                if seen.get(_uri(bucket, obj.key)) != obj.etag
            )
            # closing(): a failed batch stops the downloads before the scratch folder goes.
            with closing(fetch(s3, bucket, listing, scratch)) as downloads:
                return bedrock.load_batches(
                    con, NAME, _batches(downloads, cursors, advance), source_kind="s3"
                )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _batches(
    downloads: Iterator[Batch], cursors: dict[str, str], advance: Any
) -> Iterator[bedrock.Batch]:
    """Each downloaded batch with the partition cursors its commit moves (never backwards)."""
    for batch in downloads:
        moved: dict[str, str] = {}
        for obj in batch.objects:  # keys ascend within a partition
            name = obj.partition.name
            moved[name] = max(moved.get(name) or cursors.get(name) or "", obj.key)
        cursors.update(moved)
        paths = [f.path for f in batch.files]
        yield bedrock.Batch(batch.files, cursors=moved, on_parsed=functools.partial(_remove, paths))
        advance(len(batch.files))


def _remove(paths: list[str]) -> None:
    for path in paths:
        os.unlink(path)


def _logs_root(prefix: str) -> str:
    parts = [p for p in prefix.strip("/").split("/") if p]
    if "AWSLogs" in parts:
        parts = parts[: parts.index("AWSLogs")]
    return "".join(f"{p}/" for p in parts) + "AWSLogs/"


def discover_partitions(s3: Any, bucket: str, prefix: str) -> list[Partition]:
    """Every <account>/<region> under the prefix, by Delimiter listings (no object listing).

    ``prefix`` is the logging configuration's key prefix; it may also go further down
    (``.../AWSLogs/<account>`` or ``.../BedrockModelInvocationLogs/<region>``) to narrow the run.
    """
    parts = [p for p in prefix.strip("/").split("/") if p]
    account = region = None
    if "AWSLogs" in parts:
        below = parts[parts.index("AWSLogs") + 1 :]
        account = below[0] if below else None
        region = below[2] if len(below) > 2 else None
    root = _logs_root(prefix)
    found = []
    for account_prefix in _folders(s3, bucket, root):
        name = account_prefix[len(root) :].rstrip("/")
        if account and name != account:
            continue
        logs = f"{account_prefix}{LOGS_FOLDER}/"
        for region_prefix in _folders(s3, bucket, logs):
            region_name = region_prefix[len(logs) :].rstrip("/")
            if region and region_name != region:
                continue
            found.append(Partition(f"{name}/{region_name}", region_prefix))
    return found


def _folders(s3: Any, bucket: str, prefix: str) -> list[str]:
    paginator = s3.get_paginator("list_objects_v2")
    folders: list[str] = []
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
        folders.extend(str(cp["Prefix"]) for cp in page.get("CommonPrefixes", []))
    return folders


def _hour_key(partition: Partition, moment: datetime) -> str:
    return f"{partition.prefix}{moment:%Y/%m/%d/%H}"


def start_after(
    partition: Partition, cursor: str | None, overlap: timedelta, since: date | None
) -> str | None:
    """StartAfter for a partition: --since's first hour, else the cursor's hour less overlap.

    ``<prefix>YYYY/MM/DD/HH`` sorts before every key of that hour, so the whole hour is listed.
    """
    if since is not None:
        return _hour_key(partition, datetime(since.year, since.month, since.day, tzinfo=UTC))
    if not cursor or not cursor.startswith(partition.prefix):
        return None
    hour = _key_hour(partition, cursor)
    if hour is None:
        return None  # an odd key: list the partition, processed_objects skips what was read
    return _hour_key(partition, hour - overlap)


def stop_at(partition: Partition, until: date | None) -> str | None:
    if until is None:
        return None
    return _hour_key(partition, datetime(until.year, until.month, until.day, tzinfo=UTC))


def _key_hour(partition: Partition, key: str) -> datetime | None:
    try:
        return datetime.strptime(key[len(partition.prefix) :][:13], "%Y/%m/%d/%H").replace(
            tzinfo=UTC
        )
    except ValueError:
        return None


def list_partition(
    s3: Any, bucket: str, partition: Partition, after: str | None, stop: str | None
) -> Iterator[S3Object]:
    """New record batches of one partition in key order (I/O only: a paginated listing)."""
    import botocore.exceptions

    paginator = s3.get_paginator("list_objects_v2")
    kwargs: dict[str, Any] = {
        "Bucket": bucket,
        "Prefix": partition.prefix,
        "Delimiter": DATA_DELIMITER,
    }
    if after:
        kwargs["StartAfter"] = after
    try:
        pages = iter(paginator.paginate(**kwargs))
        first = next(pages, None)
    except botocore.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "InvalidArgument":
            raise
        del kwargs["Delimiter"]
        pages = iter(paginator.paginate(**kwargs))
        first = next(pages, None)
    if first is None:
        return
    for page in _chain(first, pages):
        for item in page.get("Contents", []):
            key = str(item["Key"])
            if stop is not None and key >= stop:
                return
            parts = key[len(partition.prefix) :].split("/")
            if bedrock.skip_reason(parts, int(item.get("Size", 0))) is not None:
                continue
            etag = str(item.get("ETag", "")).strip('"')
            yield S3Object(key, etag, int(item.get("Size", 0)), partition)


def _chain(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    yield first
    yield from rest


def _uri(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def _processed(
    con: duckdb.DuckDBPyConnection, bucket: str, partitions: list[Partition]
) -> dict[str, str]:
    """s3 URI -> ETag of the objects already read under these partitions."""
    seen: dict[str, str] = {}
    for p in partitions:
        rows = con.execute(
            "select object_key, etag from processed_objects "
            "where source = ? and starts_with(object_key, ?)",
            [NAME, _uri(bucket, p.prefix)],
        ).fetchall()
        seen.update((str(k), str(e)) for k, e in rows)
    return seen


def batches(objects: Iterator[S3Object]) -> Iterator[list[S3Object]]:
    batch: list[S3Object] = []
    size = 0
    for obj in objects:
        batch.append(obj)
        size += obj.size
        if len(batch) >= BATCH_OBJECTS or size >= BATCH_BYTES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def fetch(
    s3: Any, bucket: str, objects: Iterator[S3Object], folder: str
) -> Generator[Batch, None, None]:
    """Download the objects in batches into ``folder`` (I/O only; the caller parses).

    Downloads run on a thread pool, and the next batch downloads while the caller parses the
    current one.
    """
    with ThreadPoolExecutor(max_workers=DOWNLOAD_THREADS, thread_name_prefix="s3-get") as pool:
        pending: tuple[list[S3Object], list[Future[bedrock.LocalFile | None]]] | None = None
        for number, objs in enumerate(batches(objects)):
            futures = [
                pool.submit(_download, s3, bucket, obj, os.path.join(folder, f"{number}-{i}"))
                for i, obj in enumerate(objs)
            ]
            if pending is not None:
                yield _collect(*pending)
            pending = (objs, futures)
        if pending is not None:
            yield _collect(*pending)


def _collect(objs: list[S3Object], futures: list[Future[bedrock.LocalFile | None]]) -> Batch:
    got = [(obj, f.result()) for obj, f in zip(objs, futures, strict=True)]
    kept = [(obj, local) for obj, local in got if local is not None]
    return Batch(files=[local for _, local in kept], objects=[obj for obj, _ in kept])


def _download(s3: Any, bucket: str, obj: S3Object, stem: str) -> bedrock.LocalFile | None:
    """Copy one object to ``stem`` + its suffix; None if it was deleted since the listing."""
    import botocore.exceptions

    name = obj.key.rsplit("/", 1)[-1]
    path = stem + ("".join(_suffixes(name)) or ".json.gz")
    try:
        response = s3.get_object(Bucket=bucket, Key=obj.key)
    except botocore.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchKey":
            return None  # expired by a lifecycle rule between listing and reading
        raise
    with open(path, "wb") as out:
        for chunk in response["Body"].iter_chunks(1 << 20):
            out.write(chunk)
    etag = str(response.get("ETag", obj.etag)).strip('"')
    return bedrock.LocalFile(path, _uri(bucket, obj.key), _uri(bucket, obj.key), etag)


def _suffixes(name: str) -> list[str]:
    lower = name.lower()
    for suffix in bedrock.RECORD_FILE_SUFFIXES:
        if lower.endswith(suffix):
            return [suffix]
    return []
