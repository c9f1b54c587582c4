"""Bedrock invocation-log records: the raw table and the bulk parser shared by its three sources.

``bedrock_s3``, ``bedrock_cloudwatch`` and ``bedrock_files`` all end in ``raw_bedrock`` keyed by
``request_id``. They hand this module local newline-delimited JSON files (``.json.gz`` or plain)
and it parses whole files at once with DuckDB's ``read_ndjson`` and explicit columns, so prompt
and response bodies are never materialised, except that one number (the 1-hour cache-write
count) is read out of the response body's ``usage`` where the record shows it.

Vendor field names appear here and in ``models/staging/stg_bedrock.sql`` only.
"""

from __future__ import annotations

import gzip
import itertools
import os
import tempfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

SOURCE_FAMILY = "bedrock"
RAW_TABLE = "raw_bedrock"
NATURAL_KEY = ["request_id"]

RAW_TABLE_DDL = [
    f"""
    create table if not exists {RAW_TABLE} (
        request_id varchar primary key,
        occurred_at timestamptz not null,
        account_id varchar,
        region varchar,
        inference_region varchar,
        operation varchar,
        model_id varchar not null,
        principal_arn varchar,
        request_metadata json,
        input_tokens bigint not null,
        output_tokens bigint not null,
        cache_read_tokens bigint not null,
        cache_write_tokens bigint not null,
        cache_write_1h_tokens bigint,
        status varchar,
        error_code varchar,
        source_kind varchar not null,
        source_location varchar not null
    )
    """
]

# Only metadata and counts are declared; DuckDB skips everything else in the record. The response
# body is declared as JSON solely to read usage.cache_creation out of it in SQL below.
RECORD_COLUMNS = {
    "schemaType": "VARCHAR",
    "timestamp": "VARCHAR",
    "accountId": "VARCHAR",
    "region": "VARCHAR",
    "inferenceRegion": "VARCHAR",
    "requestId": "VARCHAR",
    "operation": "VARCHAR",
    "modelId": "VARCHAR",
    "identity": "STRUCT(arn VARCHAR)",
    "requestMetadata": "JSON",
    "input": "STRUCT(inputTokenCount VARCHAR, cacheReadInputTokenCount VARCHAR, "
    "cacheWriteInputTokenCount VARCHAR)",
    "output": "STRUCT(outputTokenCount VARCHAR, outputBodyJson JSON)",
    "errorCode": "VARCHAR",
    "status": "VARCHAR",
}

_TOKEN_FIELDS = {
    "input.inputTokenCount": "input.inputTokenCount",
    "input.cacheReadInputTokenCount": "input.cacheReadInputTokenCount",
    "input.cacheWriteInputTokenCount": "input.cacheWriteInputTokenCount",
    "output.outputTokenCount": "output.outputTokenCount",
}

_counter = itertools.count()


@dataclass
class ParsedBatch:
    """One batch of files parsed into a temp table of ``raw_bedrock`` rows plus rejections."""

    table: str  # temp table in the connection, columns exactly raw_bedrock's
    rows: int
    rejected: list[tuple[str, str]] = field(default_factory=list)
    records_per_file: dict[str, int] = field(default_factory=dict)  # local path -> good records


def _columns_sql() -> str:
    return "{" + ", ".join(f"'{k}': '{v}'" for k, v in RECORD_COLUMNS.items()) + "}"


def _reject_reason_sql() -> str:
    """A CASE that names the first thing wrong with a parsed line, or NULL when it is fine."""
    checks = [
        ("requestId is null and timestamp is null and modelId is null and input is null "
         "and output is null and identity is null", "'malformed JSON'"),
        ("schemaType is not null and schemaType <> 'ModelInvocationLog'",
         "'not a ModelInvocationLog record'"),
        ("requestId is null or trim(requestId) = ''", "'missing field requestId'"),
        ("timestamp is null", "'missing field timestamp'"),
        ("try_cast(timestamp as timestamptz) is null", "'invalid timestamp'"),
        ("modelId is null or trim(modelId) = ''", "'missing field modelId'"),
    ]
    for path, expr in _TOKEN_FIELDS.items():
        checks.append(
            (f"{expr} is not null and try_cast({expr} as bigint) is null",
             f"'wrong type for {path}: expected an integer'")
        )
        checks.append((f"try_cast({expr} as bigint) < 0", f"'negative {path}'"))
    whens = " ".join(f"when {cond} then {reason}" for cond, reason in checks)
    return f"case {whens} else null end"


def _one_hour_writes_sql() -> str:
    # Streaming bodies are a list of events (message_start carries usage); others are a dict.
    paths = [
        "$[0].message.usage.cache_creation.ephemeral_1h_input_tokens",
        "$.usage.cache_creation.ephemeral_1h_input_tokens",
    ]
    parts = [f"try_cast(json_extract(output.outputBodyJson, '{p}') as bigint)" for p in paths]
    return f"coalesce({', '.join(parts)})"


def parse_files(
    con: duckdb.DuckDBPyConnection,
    paths: Sequence[str],
    *,
    source_kind: str,
    location_of: Callable[[str], str] = str,
) -> ParsedBatch:
    """Parse local NDJSON (optionally gzip) files of invocation-log records in one scan.

    ``location_of`` turns a local path into the location users see (``s3://bucket/key``).
    A truncated or corrupt gzip file does not fail the batch: its complete lines are recovered
    and the file itself is listed in ``rejected``.
    """
    batch = ParsedBatch(table=f"_bedrock_parsed_{next(_counter)}", rows=0)
    readable: list[str] = []
    locations: dict[str, str] = {}
    scratch: list[str] = []
    recovered_from: dict[str, str] = {}  # original path -> scratch file holding its good lines
    try:
        try:
            _scan_into(con, batch.table, list(paths), create=True)
            readable = list(paths)
        except duckdb.Error:
            # Some file in the batch is unreadable as a whole; go file by file to find it.
            con.execute(f"drop table if exists {batch.table}")
            created = False
            for path in paths:
                try:
                    _scan_into(con, batch.table, [path], create=not created)
                    created = True
                    readable.append(path)
                except duckdb.Error:
                    recovered, reason = _recover(path)
                    batch.rejected.append((location_of(path), reason))
                    if recovered is not None:
                        scratch.append(recovered)
                        recovered_from[path] = recovered
                        locations[recovered] = location_of(path)
                        _scan_into(con, batch.table, [recovered], create=not created)
                        created = True
                        readable.append(recovered)
            if not created:
                con.execute(
                    f"create temp table {batch.table} as select * from "
                    f"({_empty_scan_sql()})"
                )
        for path in readable:
            locations.setdefault(path, location_of(path))
        _finish(con, batch, locations, source_kind)
        originals = {scratch_path: orig for orig, scratch_path in recovered_from.items()}
        batch.records_per_file = {
            originals.get(k, k): n for k, n in batch.records_per_file.items()
        }
    finally:
        for path in scratch:
            os.unlink(path)
    return batch


def _scan_sql(paths: list[str]) -> str:
    files = "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"
    return (
        f"select *, row_number() over (partition by filename) as line_no "
        f"from read_ndjson({files}, columns={_columns_sql()}, filename=true, "
        f"ignore_errors=true, format='newline_delimited')"
    )


def _empty_scan_sql() -> str:
    cols = ", ".join(f"null::{t} as \"{k}\"" for k, t in RECORD_COLUMNS.items())
    return f"select {cols}, null::varchar as filename, null::bigint as line_no where false"


def _scan_into(con: duckdb.DuckDBPyConnection, table: str, paths: list[str], *, create: bool) -> None:
    if create:
        con.execute(f"create temp table {table} as {_scan_sql(paths)}")
    else:
        con.execute(f"insert into {table} {_scan_sql(paths)}")


def _finish(
    con: duckdb.DuckDBPyConnection,
    batch: ParsedBatch,
    locations: dict[str, str],
    source_kind: str,
) -> None:
    """Split the scanned lines into good rows (raw_bedrock shape) and rejections."""
    scanned = batch.table
    con.execute(f"alter table {scanned} rename to {scanned}_scan")
    loc_rows = list(locations.items())
    con.execute("create or replace temp table _bedrock_locations (filename varchar, location varchar)")
    if loc_rows:
        con.executemany("insert into _bedrock_locations values (?, ?)", loc_rows)
    con.execute(
        f"""
        create temp table {scanned}_checked as
        select s.*, coalesce(l.location, s.filename) || ':' || s.line_no as record_location,
               {_reject_reason_sql()} as reject_reason
        from {scanned}_scan s left join _bedrock_locations l using (filename)
        """
    )
    batch.rejected.extend(
        (str(loc), str(reason))
        for loc, reason in con.execute(
            f"select record_location, reject_reason from {scanned}_checked where reject_reason is not null "
            "order by record_location"
        ).fetchall()
    )
    con.execute(
        f"""
        create temp table {scanned} as
        select
            requestId as request_id,
            cast(timestamp as timestamptz) as occurred_at,
            accountId as account_id,
            region,
            inferenceRegion as inference_region,
            operation,
            modelId as model_id,
            identity.arn as principal_arn,
            requestMetadata as request_metadata,
            coalesce(cast(input.inputTokenCount as bigint), 0) as input_tokens,
            coalesce(cast(output.outputTokenCount as bigint), 0) as output_tokens,
            coalesce(cast(input.cacheReadInputTokenCount as bigint), 0) as cache_read_tokens,
            coalesce(cast(input.cacheWriteInputTokenCount as bigint), 0) as cache_write_tokens,
            {_one_hour_writes_sql()} as cache_write_1h_tokens,
            status,
            errorCode as error_code,
            '{source_kind}' as source_kind,
            record_location as source_location
        from {scanned}_checked
        where reject_reason is null
        """
    )
    batch.rows = int(con.execute(f"select count(*) from {scanned}").fetchone()[0])  # type: ignore[index]
    per_file = con.execute(
        f"select filename, count(*) from {scanned}_checked where reject_reason is null "
        "group by filename"
    ).fetchall()
    batch.records_per_file = {str(f): int(n) for f, n in per_file}
    con.execute(f"drop table {scanned}_scan")
    con.execute(f"drop table {scanned}_checked")


def _recover(path: str) -> tuple[str | None, str]:
    """Read what can be read of a damaged file; return a scratch NDJSON file and the reason."""
    raw = Path(path).read_bytes()
    if raw[:2] != b"\x1f\x8b":
        if path.endswith(".gz"):
            return None, "not a gzip file"
        return None, "unreadable file"
    decomp = zlib.decompressobj(wbits=31)
    try:
        data = decomp.decompress(raw)
        truncated = not decomp.eof
    except zlib.error:
        data, truncated = _decompress_until_error(raw), True
    if not truncated:
        return None, "unreadable file"
    complete, _, _partial = data.rpartition(b"\n")
    lines = complete.count(b"\n") + (1 if complete else 0)
    fd, scratch = tempfile.mkstemp(suffix=".ndjson", prefix="llmledger-recovered-")
    with os.fdopen(fd, "wb") as out:
        out.write(complete + b"\n" if complete else b"")
    return scratch, f"truncated gzip: {lines} complete lines recovered, the rest is unreadable"


def _decompress_until_error(raw: bytes) -> bytes:
    out = bytearray()
    with gzip.GzipFile(fileobj=__import__("io").BytesIO(raw)) as fh:
        try:
            while chunk := fh.read(1 << 16):
                out += chunk
        except (EOFError, OSError, zlib.error):
            pass
    return bytes(out)
