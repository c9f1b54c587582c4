"""AWS Data Exports deliveries: which data files make up each billing period's current delivery.

Data Exports writes ``<prefix>/<export>/data/BILLING_PERIOD=YYYY-MM/[<execution id>/]<export>-
<n>.<ext>`` and, once every data file of an execution is written, the period's manifest
``<prefix>/<export>/metadata/BILLING_PERIOD=YYYY-MM/<export>-Manifest.json`` naming them
(``executionId``, ``dataFiles``: full S3 URIs, ``columns``). A refresh writes a new execution
and replaces the manifest, so the manifest is the current delivery: data files it does not name
are an earlier delivery's, never read. A manifest naming files that are not there is a delivery
still being written (or half copied): it is rejected with the reason, not read, and not
remembered, so a later run reads it once it is whole.

Each delivery is one page: its data files plus ``meta`` (billing period, delivery id, delivery
time); the format keys every row by period + delivery, and staging keeps each period's latest
delivery only, so a re-delivered month replaces the earlier one instead of adding to it.
A ``--shard K/N`` worker reads only the billing periods it owns (``SHARDS``): every export's
manifest of the period, with the data files it names. Nothing is decided across periods; within
one, staging picks the latest delivery by delivery time and then by load time, so all of a
period's deliveries stay with one worker, read in the order one unsharded run reads them.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ingest.errors import ConfigError, DataError
from ingest.source import LocalFile, Page, SourceRun
from ingest.transports import files, s3

# What a --shard worker owns (Source.shards, shown in `--help`)
SHARDS = "billing periods (every export's BILLING_PERIOD=YYYY-MM manifest and its data files)"
_PERIOD = re.compile(r"^BILLING_PERIOD=(\d{4}-\d{2})$")
MANIFEST_SUFFIX = "Manifest.json"


@dataclass(frozen=True)
class Delivery:
    """One manifest read: the period, the execution, and its data files relative to the export
    root (``data/BILLING_PERIOD=…/…``)."""

    period: str
    delivery_id: str
    delivered_at: datetime
    data_files: tuple[str, ...]
    manifest_location: str


def period_of(parts: Sequence[str]) -> str | None:
    """The billing period a manifest's path is filed under (``metadata/BILLING_PERIOD=…/``)."""
    if len(parts) < 3 or parts[-3] != "metadata" or not parts[-1].endswith(MANIFEST_SUFFIX):
        return None
    match = _PERIOD.match(parts[-2])
    return match.group(1) if match else None


def relative_data_key(uri: str) -> str | None:
    """``data/BILLING_PERIOD=…/…`` of a data file's S3 URI (the part below the export root)."""
    at = uri.rfind("/data/BILLING_PERIOD=")
    return uri[at + 1 :] if at >= 0 else None


def read_manifest(text: str, period: str, delivered_at: datetime, location: str) -> Delivery | str:
    """The delivery a manifest describes, or why it cannot be read."""
    try:
        doc = json.loads(text)
    except ValueError:
        return "manifest is not JSON"
    if not isinstance(doc, dict):
        return "manifest is not a JSON object"
    execution = doc.get("executionId")
    data_files = doc.get("dataFiles")
    if not isinstance(execution, str) or not execution:
        return "manifest has no executionId"
    if not isinstance(data_files, list) or not all(isinstance(f, str) for f in data_files):
        return "manifest has no dataFiles list"
    keys = []
    for uri in data_files:
        key = relative_data_key(uri)
        if key is None:
            return f"manifest lists {uri}, not under data/BILLING_PERIOD=…/"
        keys.append(key)
    return Delivery(period, execution, delivered_at, tuple(keys), location)


def _half_written(delivery: Delivery, missing: list[str]) -> str:
    return (
        f"half-written delivery {delivery.delivery_id} for {delivery.period}: the manifest "
        f"lists {len(delivery.data_files)} data file(s), {len(missing)} missing "
        f"(first: {missing[0]}); not read"
    )


def _rejected(location: str, reason: str) -> Page:
    # key="" : not remembered in processed_objects, so a later run reads it once it is whole
    return Page(
        files=[LocalFile("", location)],
        meta={"reject": reason, "location": location},
        units=1,
    )


def _delivery_page(delivery: Delivery, data: list[LocalFile], manifest: LocalFile) -> Page:
    keys = {f.path: key for f, key in zip(data, delivery.data_files, strict=True)}
    return Page(
        files=[*data, manifest],
        cursors={delivery.period: delivery.delivered_at.isoformat()},
        meta={
            "period": delivery.period,
            "delivery_id": delivery.delivery_id,
            "delivered_at": delivery.delivered_at,
            "keys": keys,
            "manifest": manifest.path,
            "manifest_location": manifest.location,
        },
        units=len(data),
    )


# ----------------------------------------------------------------------------------------------
# local copies (aws s3 sync)


def local_pages(run: SourceRun) -> Iterator[Page]:
    """Each new or changed manifest under PATH as one page of its delivery's data files."""
    root = run.path("path")
    if not root.exists():
        raise ConfigError(f"{run.name}: {root} does not exist; pass an existing folder")
    root = root.resolve()
    seen = run.processed(str(root))
    manifests = 0
    for found in files.walk(root, warn=lambda t: run.log("files_warning", f"warning: {t}")):
        period = period_of(found.parts)
        if period is None:
            continue
        manifests += 1
        if seen.get(str(found.path)) == found.fingerprint:
            continue
        if run.shard is not None and not run.shard.owns(period):
            continue  # another --shard worker's billing period
        export_root = found.path.parents[2]  # <export>/metadata/BILLING_PERIOD=…/<manifest>
        delivered_at = datetime.fromtimestamp(found.mtime_ns / 1e9, UTC)
        read = read_manifest(
            found.path.read_text(encoding="utf-8", errors="replace"),
            period,
            delivered_at,
            str(found.path),
        )
        if isinstance(read, str):
            yield _rejected(str(found.path), read)
            continue
        data: list[LocalFile] = []
        missing: list[str] = []
        for key in read.data_files:
            path = export_root / key
            try:
                st = path.stat()
            except OSError:
                missing.append(key)
                continue
            data.append(
                LocalFile(
                    str(path),
                    str(path),
                    key=str(path),
                    fingerprint=files.fingerprint(st.st_size, st.st_mtime_ns),
                    size=st.st_size,
                )
            )
        if missing:
            yield _rejected(str(found.path), _half_written(read, missing))
            continue
        manifest = LocalFile(
            str(found.path), str(found.path), key=str(found.path), fingerprint=found.fingerprint
        )
        yield _delivery_page(read, data, manifest)
    if not manifests:
        raise DataError(
            f"{run.name}: nothing to read in {root}: no <export>/metadata/BILLING_PERIOD=YYYY-MM/"
            f"*-{MANIFEST_SUFFIX} (copy the whole export folder, data/ and metadata/)"
        )


# ----------------------------------------------------------------------------------------------
# S3


def s3_pages(run: SourceRun) -> Iterator[Page]:
    """Each new or changed manifest under s3://BUCKET/PREFIX as one page of its data files."""
    bucket = str(run.options["bucket"])
    prefix = str(run.options["prefix"] or "")
    client: Any = run.client
    with s3.errors(run, client, bucket):
        listed = {o.key: o for o in s3.list_objects(client, bucket, prefix, run.guard())}
        seen = run.processed(s3.uri(bucket, prefix))
        manifests = [o for o in listed.values() if period_of(o.key.split("/"))]
        if not manifests:
            run.log(
                "no_manifests",
                f"no <export>/metadata/BILLING_PERIOD=YYYY-MM/*-{MANIFEST_SUFFIX} under "
                f"s3://{bucket}/{prefix} (check --prefix)",
            )
        for number, obj in enumerate(sorted(manifests, key=lambda o: o.key)):
            location = s3.uri(bucket, obj.key)
            if seen.get(location) == obj.etag:
                continue
            period = period_of(obj.key.split("/")) or ""
            if run.shard is not None and not run.shard.owns(period):
                continue  # another --shard worker's billing period
            stem = os.path.join(run.scratch, f"manifest-{number}")
            manifest = s3.download(client, bucket, obj, stem, run.guard())
            if manifest is None:
                continue
            read = read_manifest(
                Path(manifest.path).read_text(encoding="utf-8", errors="replace"),
                period,
                obj.last_modified,
                location,
            )
            if isinstance(read, str):
                yield _rejected(location, read)
                continue
            export_root = obj.key.rsplit("/", 3)[0]
            keys = [f"{export_root}/{k}" if export_root else k for k in read.data_files]
            missing = [
                k for k, full in zip(read.data_files, keys, strict=True) if full not in listed
            ]
            if missing:
                yield _rejected(location, _half_written(read, missing))
                continue
            data: list[LocalFile] = []
            for i, full in enumerate(keys):
                got = s3.download(client, bucket, listed[full], f"{stem}-{i}", run.guard())
                if got is None:
                    missing.append(full)
                else:
                    data.append(got)
            if missing:
                yield _rejected(location, _half_written(read, missing))
                continue
            page = _delivery_page(read, data, manifest)
            page.release = _remover([f.path for f in page.files])
            yield page


def _remover(paths: list[str]) -> Any:
    def release() -> None:
        for path in paths:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass

    return release
