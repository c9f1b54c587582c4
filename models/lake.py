"""The lake: normalised events and every mart as Hive-partitioned Parquet, and reading it back.

Layout under the lake folder (readable by Athena, Trino, Spark or DuckDB without llmledger)::

    manifest.json                                   tables, columns, partitions, rows, hashes
    usage_events/source=bedrock/day=2026-11-03/data.parquet
    usage_daily/source=vertex/day=2026-11-03/data.parquet
    price_book/data.parquet                         a table with neither column: one file

The lake also holds what the marts are built from (``MODEL_INPUTS``: the staged events and the
reference tables the marts read), taken from the main database, so ``llmledger lake build``
can run the marts downstream of the events from the lake alone, on DuckDB or on Spark
(``models.lake_build``).

A table is partitioned by ``source`` and ``day`` where it has them; the event-grain marts
(``DAY_OF``) get a ``day`` partition derived from their UTC timestamp, which is not one of
their columns. Partition columns live in the path, not in the files (the Hive convention).

Incremental: each partition's fingerprint (row count and the sum of a hash of every row) is
kept in the manifest; an export rewrites only the partitions whose fingerprint changed and
removes those that no longer hold rows. Each partition is one file, written under a hidden
name and renamed into place, so a reader never sees half a partition; the manifest is
replaced last.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import duckdb

from models import limits
from models.snapshot import PUBLISHED

MANIFEST = "manifest.json"
FORMAT_VERSION = 1
FILE = "data.parquet"
# Operational state of one machine's ingest (S3 keys, log cursors): not data for a lake reader.
NOT_EXPORTED = {"ingest_cursors"}
# What the marts downstream of the events read besides the published tables (price_book and
# ref_people are published): the staged events union (``stg_events``), Claude Code telemetry's
# own columns, and the reference tables. Read from the main database (a snapshot holds marts).
MODEL_INPUTS = [
    "stg_events",
    "stg_claude_code",
    "ref_identity_rules",
    "ref_identity_settings",
    "ref_gateway_settings",
]
# Tables without a ``day`` column whose partition day is the UTC day of this timestamp.
DAY_OF = {
    "usage_events": "occurred_at",
    "usage_minute": "minute_at",
    "usage_minute_quota": "minute_at",
    "vertex_attribution": "occurred_at",
    "claude_code_attribution": "occurred_at",
    "gateway_matches": "occurred_at",
    "stg_events": "occurred_at",
    "stg_claude_code": "occurred_at",
}
PARTITION_COLUMNS = ("source", "day")
NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"  # the Hive convention for a NULL value
# Column names a body could hide under: a table carrying one is refused, never exported.
BODY_COLUMNS = {"body", "messages", "response", "prompt", "inputbodyjson", "outputbodyjson"}


class LakeError(Exception):
    """A lake that cannot be written or read: the message says what is wrong and the fix."""


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: tuple[tuple[str, str], ...]  # (name, DuckDB type) as in the database
    partition_by: tuple[str, ...]  # a subset of ("source", "day"), in that order
    schema: str = "lake_src"  # the attached database it is read from

    def select(self, schema: str | None = None) -> str:
        """The rows as written: wide integers as DECIMAL(38,0) (Parquet has no 128-bit int),
        plus the derived ``day`` when the table has none."""
        cells = [
            f"cast({_ident(c)} as decimal(38,0)) as {_ident(c)}"
            if t.upper() in ("HUGEINT", "UHUGEINT")
            else _ident(c)
            for c, t in self.columns
        ]
        if "day" in self.partition_by and "day" not in dict(self.columns):
            cells.append(f"({_ident(DAY_OF[self.name])} at time zone 'UTC')::date as day")
        return f"select {', '.join(cells)} from {schema or self.schema}.{_ident(self.name)}"


@dataclass
class ExportSummary:
    tables: int = 0
    written: int = 0  # partitions (or whole-table files) rewritten
    kept: int = 0  # unchanged, left as they were
    removed: int = 0  # partitions that no longer hold rows
    written_files: list[str] = field(default_factory=list)  # relative to the lake
    removed_partitions: list[str] = field(default_factory=list)  # "table/source=x/day=y"


# ---------------------------------------------------------------------------------------------
# Export


def export(
    source_db: Path,
    out: Path,
    *,
    memory_limit: str | None = None,
    inputs_db: Path | None = None,
) -> ExportSummary:
    """Write (or bring up to date) the lake at ``out`` from the database file ``source_db``
    (the published snapshot, or the main database), read-only, with the model inputs
    (``MODEL_INPUTS``) from ``inputs_db`` (the main database; default ``source_db``). When the
    inputs cannot be read (the database is being written), the lake keeps the inputs it had.
    Raises LakeError."""
    out = lake_folder(out)
    con = duckdb.connect()
    try:
        con.execute("set timezone = 'UTC'")
        limits.apply(con, memory_limit=memory_limit)
        con.execute(f"attach '{_quote(str(source_db))}' as lake_src (read_only)")
        specs = table_specs(con, "lake_src")
        inputs = _attach_inputs(con, source_db, inputs_db)
        if inputs is not None:
            specs += table_specs(con, inputs, MODEL_INPUTS)
        return write_tables(
            con, out, specs, keep=set(MODEL_INPUTS) if inputs is None else set(), whole=True
        )
    finally:
        con.close()


def lake_folder(out: Path) -> Path:
    """``out`` as a lake folder, created if missing. Raises LakeError."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise LakeError(f"--out {out} is a file; name a folder for the lake (created if missing)")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LakeError(f"--out {out}: cannot create the folder ({exc.strerror or exc})") from None
    return out


def _attach_inputs(
    con: duckdb.DuckDBPyConnection, source_db: Path, inputs_db: Path | None
) -> str | None:
    """The attached schema the model inputs are read from, or None when they cannot be read."""
    schema = "lake_src"
    if inputs_db is not None and Path(inputs_db).resolve() != Path(source_db).resolve():
        try:
            con.execute(f"attach '{_quote(str(inputs_db))}' as lake_in (read_only)")
        except duckdb.Error:
            return None  # locked by a writer, or absent: keep the lake's inputs as they were
        schema = "lake_in"
    have = con.execute(
        "select count(*) from information_schema.tables "
        "where table_catalog = ? and table_name = 'stg_events'",
        [schema],
    ).fetchall()
    return schema if have[0][0] else None


def write_tables(
    con: duckdb.DuckDBPyConnection,
    out: Path,
    specs: list[TableSpec],
    *,
    keep: set[str] | None = None,
    whole: bool = False,
) -> ExportSummary:
    """Write the tables of ``specs`` (each read from its attached ``schema``) into the lake at
    ``out``, rewriting only changed partitions, then replace the manifest. ``whole``: the lake
    is these tables (and ``keep``, as they were); others are removed. Otherwise every other
    table of the lake stays as it was (``llmledger lake build`` rewrites only its marts)."""
    old = _read_manifest(out) if (out / MANIFEST).is_file() else {"tables": {}}
    staging = out / f".staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    summary = ExportSummary()
    tables: dict[str, Any] = {
        name: table for name, table in old["tables"].items() if not whole or name in (keep or set())
    }
    try:
        for spec in specs:
            tables[spec.name] = _export_table(
                con, spec, out, staging, old["tables"].get(spec.name), summary
            )
            summary.tables += 1
        for gone in set(old["tables"]) - set(tables):
            shutil.rmtree(out / gone, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    manifest = {
        "format": FORMAT_VERSION,
        "llmledger_version": _version(),
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "tables": tables,
    }
    tmp = out / f".{MANIFEST}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, out / MANIFEST)
    return summary


def export_s3(
    source_db: Path,
    url: str,
    client: Any,
    *,
    memory_limit: str | None = None,
    inputs_db: Path | None = None,
) -> ExportSummary:
    """The same lake in S3 (``s3://bucket/prefix``) through a boto3 S3 ``client``: the changed
    partitions are written in a local folder, each uploaded as one object (a PUT replaces an
    object whole, so a reader never sees half a partition); removed partitions are deleted;
    manifest.json is uploaded last."""
    import tempfile

    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    if not url.startswith("s3://") or not bucket:
        raise LakeError(f"--out {url}: an S3 lake is named s3://bucket/prefix")
    prefix = prefix.strip("/")

    def key(relative: str) -> str:
        return f"{prefix}/{relative}" if prefix else relative

    with tempfile.TemporaryDirectory(prefix="llmledger-lake-") as tmp:
        local = Path(tmp) / "lake"
        local.mkdir()
        try:
            body = client.get_object(Bucket=bucket, Key=key(MANIFEST))["Body"].read()
            (local / MANIFEST).write_bytes(body)
        except client.exceptions.NoSuchKey:
            pass  # a new lake
        before = set(_read_manifest(local)["tables"]) if (local / MANIFEST).exists() else set()
        summary = export(source_db, local, memory_limit=memory_limit, inputs_db=inputs_db)
        for relative in summary.written_files:
            client.upload_file(str(local / relative), bucket, key(relative))
        for gone in summary.removed_partitions:
            _delete_prefix(client, bucket, key(gone) + "/")
        for table in before - set(_read_manifest(local)["tables"]):
            _delete_prefix(client, bucket, key(table) + "/")
        client.upload_file(str(local / MANIFEST), bucket, key(MANIFEST))
    return summary


def _delete_prefix(client: Any, bucket: str, prefix: str) -> None:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    for page in pages:
        objects = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if objects:
            client.delete_objects(Bucket=bucket, Delete={"Objects": objects})


def table_specs(
    con: duckdb.DuckDBPyConnection, schema: str, tables: list[str] | None = None
) -> list[TableSpec]:
    """The tables of ``tables`` (default PUBLISHED) present in ``schema``, in that order; never
    a raw table."""
    rows = con.execute(
        "select table_name, column_name, data_type from information_schema.columns "
        "where table_catalog = ? and table_schema = 'main' order by ordinal_position",
        [schema],
    ).fetchall()
    columns: dict[str, list[tuple[str, str]]] = {}
    for table, column, kind in rows:
        columns.setdefault(str(table), []).append((str(column), str(kind)))
    specs = []
    for name in PUBLISHED if tables is None else tables:
        if name not in columns or name in NOT_EXPORTED or name.startswith("raw_"):
            continue
        cols = tuple(columns[name])
        bodies = [c for c, _ in cols if c.lower() in BODY_COLUMNS]
        if bodies:
            raise LakeError(f"{name} has a body column ({bodies[0]}); it is never exported")
        names = {c for c, _ in cols}
        parts = tuple(p for p in PARTITION_COLUMNS if p in names or (p == "day" and name in DAY_OF))
        specs.append(TableSpec(name, cols, parts, schema))
    return specs


def _export_table(
    con: duckdb.DuckDBPyConnection,
    spec: TableSpec,
    out: Path,
    staging: Path,
    previous: dict[str, Any] | None,
    summary: ExportSummary,
) -> dict[str, Any]:
    select = spec.select()
    keys = ", ".join(_ident(p) for p in spec.partition_by)
    fingerprints = con.execute(
        f"select {keys + ', ' if keys else ''}count(*), coalesce(sum(hash(x)), 0)::varchar "
        f"from ({select}) x {'group by all' if keys else ''}"
    ).fetchall()
    n = len(spec.partition_by)
    current: dict[str, dict[str, Any]] = {}
    for row in fingerprints:
        if not row[n]:
            continue  # an empty table has no partition
        values = {
            p: (None if v is None else str(v))
            for p, v in zip(spec.partition_by, row[:n], strict=True)
        }
        path = "/".join(f"{p}={_hive_value(values[p])}" for p in spec.partition_by)
        current[path] = {"path": path, "values": values, "rows": int(row[n]), "hash": row[n + 1]}
    same_shape = previous is not None and (
        previous.get("columns") == _columns_json(spec)
        and previous.get("partition_by") == list(spec.partition_by)
    )
    before = {p["path"]: p for p in previous["partitions"]} if previous and same_shape else {}
    changed = [
        k
        for k, part in current.items()
        if k not in before or (before[k]["rows"], before[k]["hash"]) != (part["rows"], part["hash"])
    ]
    table_dir = out / spec.name
    if not same_shape:
        shutil.rmtree(table_dir, ignore_errors=True)
    if changed:
        written = _write(con, spec, select, [current[k] for k in changed], table_dir, staging)
        summary.written_files += [f"{spec.name}/{f}" for f in written]
    old_paths = {p["path"] for p in previous["partitions"]} if previous else set()
    for path in sorted(old_paths - set(current)):
        _remove_partition(table_dir, path)
        summary.removed_partitions.append(f"{spec.name}/{path}".rstrip("/"))
    summary.written += len(changed)
    summary.kept += len(current) - len(changed)
    summary.removed += len(old_paths - set(current))
    return {
        "columns": _columns_json(spec),
        "partition_by": list(spec.partition_by),
        "rows": sum(p["rows"] for p in current.values()),
        "partitions": [current[k] for k in sorted(current)],
    }


def _write(
    con: duckdb.DuckDBPyConnection,
    spec: TableSpec,
    select: str,
    parts: list[dict[str, Any]],
    table_dir: Path,
    staging: Path,
) -> list[str]:
    """Write ``parts`` into a hidden staging folder in one COPY, then rename each partition's
    file over the old one (an atomic replace per partition). Returns the files written,
    relative to ``table_dir``."""
    target = staging / spec.name
    target.parent.mkdir(parents=True, exist_ok=True)
    table_dir.mkdir(parents=True, exist_ok=True)
    if not spec.partition_by:
        con.execute(f"copy ({select}) to '{_quote(str(target))}.parquet' (format parquet)")
        os.replace(f"{target}.parquet", table_dir / FILE)
        return [FILE]
    keys = ", ".join(_ident(p) for p in spec.partition_by)
    con.execute(
        "create or replace temp table lake_changed ("
        + ", ".join(f"{_ident(p)} {'date' if p == 'day' else 'varchar'}" for p in spec.partition_by)
        + ")"
    )
    con.executemany(
        f"insert into lake_changed values ({', '.join('?' for _ in spec.partition_by)})",
        [[p["values"][c] for c in spec.partition_by] for p in parts],
    )
    matches = " and ".join(
        f"x.{_ident(p)} is not distinct from c.{_ident(p)}" for p in spec.partition_by
    )
    con.execute(
        f"copy (select x.* from ({select}) x semi join lake_changed c on {matches}) "
        f"to '{_quote(str(target))}' (format parquet, partition_by ({keys}))"
    )
    wanted = {p["path"] for p in parts}
    done: list[str] = []
    for folder, _dirs, files in os.walk(target):
        written = sorted(f for f in files if f.endswith(".parquet"))
        if not written:
            continue
        relative = Path(folder).relative_to(target).as_posix()
        path = "/".join(unquote(piece) for piece in relative.split("/"))
        if path not in wanted:
            raise LakeError(f"{spec.name}: DuckDB wrote an unexpected partition {relative}")
        final = table_dir / path
        final.mkdir(parents=True, exist_ok=True)
        names = [FILE] + [f"data_{i}.parquet" for i in range(1, len(written))]
        for name, staged in zip(names, written, strict=True):
            os.replace(Path(folder) / staged, final / name)
        for stale in final.glob("*.parquet"):
            if stale.name not in names:
                stale.unlink()
        done += [f"{path}/{name}" for name in names]
    return done


def _remove_partition(table_dir: Path, path: str) -> None:
    folder = table_dir / path
    shutil.rmtree(folder, ignore_errors=True)
    for parent in folder.parents:
        if parent == table_dir or not parent.is_relative_to(table_dir):
            break
        try:
            parent.rmdir()  # only when empty
        except OSError:
            break


SYNC_INDEX = ".llmledger-sync.json"  # the cached objects' ETags, beside the local copy


def default_cache(url: str) -> Path:
    """Where ``--lake s3://bucket/prefix`` keeps its local copy: $XDG_CACHE_HOME (else
    ~/.cache)/llmledger/lake/bucket/prefix."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    return base / "llmledger" / "lake" / bucket / prefix.strip("/")


@dataclass
class SyncSummary:
    downloaded: int = 0
    kept: int = 0
    removed: int = 0


def sync_s3(url: str, client: Any, cache: Path) -> SyncSummary:
    """Bring the S3 lake ``url`` (s3://bucket/prefix, as ``export_s3`` wrote it) into the local
    folder ``cache``, which ``open_lake`` then reads: only the Parquet objects the manifest's
    partitions hold, each downloaded only when its ETag changed since the last sync; local
    files the lake no longer holds are removed. The manifest is read first and written last,
    so an interrupted sync leaves the previous copy readable. Raises LakeError."""
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    if not url.startswith("s3://") or not bucket:
        raise LakeError(f"--lake {url}: an S3 lake is named s3://bucket/prefix")
    prefix = prefix.strip("/")
    root = f"{prefix}/" if prefix else ""
    try:
        body = client.get_object(Bucket=bucket, Key=root + MANIFEST)["Body"].read()
    except client.exceptions.NoSuchKey:
        raise LakeError(
            f"{url} has no {MANIFEST}; it is not a lake (write one with "
            f"`llmledger lake export --out {url}`)"
        ) from None
    cache.mkdir(parents=True, exist_ok=True)
    staged = cache / f".{MANIFEST}.{os.getpid()}.tmp"
    staged.write_bytes(body)
    try:
        manifest = _read_manifest_file(staged, url, f"{url.rstrip('/')}/{MANIFEST}")
        wanted = {
            f"{name}/{part['path']}".rstrip("/") + "/"
            for name, table in manifest["tables"].items()
            for part in table["partitions"]
        }
        listed: dict[str, str] = {}  # relative key -> ETag
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=root)
        for page in pages:
            for obj in page.get("Contents", []):
                relative = str(obj["Key"])[len(root) :]
                folder = relative.rsplit("/", 1)[0] + "/"
                if relative.endswith(".parquet") and folder in wanted:
                    listed[relative] = str(obj["ETag"])
        index_path = cache / SYNC_INDEX
        try:
            index: dict[str, str] = json.loads(index_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            index = {}
        summary = SyncSummary()
        for relative, etag in sorted(listed.items()):
            target = cache / relative
            if index.get(relative) == etag and target.is_file():
                summary.kept += 1
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            part = target.with_name(f".{target.name}.{os.getpid()}.part")
            client.download_file(bucket, root + relative, str(part))
            os.replace(part, target)
            index[relative] = etag
            summary.downloaded += 1
        for path in sorted(cache.rglob("*.parquet")):
            relative = path.relative_to(cache).as_posix()
            if relative not in listed:
                path.unlink()
                index.pop(relative, None)
                summary.removed += 1
        for directory in sorted((p for p in cache.rglob("*") if p.is_dir()), reverse=True):
            if not any(directory.iterdir()):
                directory.rmdir()
        index = {k: v for k, v in index.items() if k in listed}
        index_path.write_text(json.dumps(index, indent=1, sort_keys=True) + "\n", "utf-8")
        os.replace(staged, cache / MANIFEST)
    finally:
        staged.unlink(missing_ok=True)
    return summary


# ---------------------------------------------------------------------------------------------
# Reading


def open_lake(
    lake: Path, *, memory_limit: str | None = None, temp_directory: Path | None = None
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with one view per exported table, named and typed as in the
    database, so models.views and models.exports read it unchanged. Raises LakeError."""
    lake = Path(lake)
    if not lake.is_dir():
        raise LakeError(
            f"--lake {lake} is not a folder; pass the folder `llmledger lake export` wrote"
        )
    manifest = _read_manifest(lake)
    con = duckdb.connect()
    con.execute("set timezone = 'UTC'")
    limits.apply(con, memory_limit=memory_limit, temp_directory=temp_directory)
    for name, table in manifest["tables"].items():
        con.execute(f"create view {_ident(name)} as {_view_sql(lake, name, table)}")
    return con


def _view_sql(lake: Path, name: str, table: dict[str, Any]) -> str:
    columns = [(c["name"], c["type"]) for c in table["columns"]]
    files = [
        str(lake / name / p["path"] / f).replace("//", "/")
        for p in table["partitions"]
        for f in sorted(os.listdir(lake / name / p["path"]))
        if f.endswith(".parquet")
    ]
    if not files:
        cells = ", ".join(f"cast(null as {t}) as {_ident(c)}" for c, t in columns)
        return f"select {cells} where false"
    listed = ", ".join(f"'{_quote(f)}'" for f in files)
    cells = ", ".join(f"cast({_ident(c)} as {t}) as {_ident(c)}" for c, t in columns)
    hive = "true" if table["partition_by"] else "false"
    return f"select {cells} from read_parquet([{listed}], hive_partitioning = {hive})"


def _read_manifest(lake: Path) -> dict[str, Any]:
    return _read_manifest_file(lake / MANIFEST, str(lake))


def _read_manifest_file(path: Path, lake: str, shown: str | None = None) -> dict[str, Any]:
    """The manifest at ``path``, of the lake named ``lake``; ``shown`` names the file in
    errors (the S3 key of a downloaded one)."""
    shown = shown or str(path)
    try:
        manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LakeError(
            f"{lake} has no {MANIFEST}; it is not a lake (write one with "
            f"`llmledger lake export --out {lake}`)"
        ) from None
    except (OSError, ValueError) as exc:
        raise LakeError(f"{shown} cannot be read ({exc}); export the lake again") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_VERSION:
        raise LakeError(f"{shown} is not a manifest this llmledger reads; export the lake again")
    return manifest


def _hive_value(value: str | None) -> str:
    return NULL_PARTITION if value is None else value


def _columns_json(spec: TableSpec) -> list[dict[str, str]]:
    return [{"name": c, "type": t} for c, t in spec.columns]


def _version() -> str:
    try:
        return metadata.version("llmledger")
    except metadata.PackageNotFoundError:
        return "unknown"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quote(value: str) -> str:
    return value.replace("'", "''")
