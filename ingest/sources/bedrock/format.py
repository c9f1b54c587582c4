"""Bedrock invocation-log records: the raw table and the bulk parser shared by its three sources.

``bedrock-s3``, ``bedrock-cloudwatch`` and ``bedrock-files`` all end in ``raw_bedrock`` keyed by
``request_id``. Their transports hand this module local files of any delivery shape (gzip or
plain, whatever their names; ``shapes.py`` recognises them and rewrites the ones that are not
JSON lines) and it parses whole files at once with DuckDB's ``read_ndjson`` and explicit
columns, so prompt and response bodies are never materialised, except that one number (the
1-hour cache-write count) is read out of the response body's ``usage`` where the record shows
it.

Vendor field names appear here and in ``models/staging/stg_bedrock.sql`` only.
"""

from __future__ import annotations

import functools
import itertools
import os
import shutil
import tempfile
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from ingest import bounds, lists
from ingest.source import Format, Page, Parsed, RawTable, SourceRun
from ingest.sources.bedrock import shapes
from ingest.sources.recovery import recover
from ingest.sources.shapes import MAX_LINE

SOURCE_FAMILY = "bedrock"
RAW_TABLE = "raw_bedrock"
NATURAL_KEY = ["request_id"]

RAW_TABLE_DDL = [
    f"""
    create table if not exists {RAW_TABLE} (
        request_id varchar not null,
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
        source_location varchar not null,
        latency_ms bigint                -- Bedrock's own invocation latency, where it logs one
    );
    -- a database made before latency_ms was read
    alter table {RAW_TABLE} add column if not exists latency_ms bigint
    """
]

RAW = RawTable(RAW_TABLE, RAW_TABLE_DDL[0], tuple(NATURAL_KEY))

# Only metadata and counts are declared; DuckDB skips everything else in the record. The response
# body is declared as JSON solely to read usage.cache_creation out of it inside the scan's
# projection; it is never stored, not even in a temp table.
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

PERMISSION_CHECK_MARKER = "amazon-bedrock-logs-permission-check"


def skip_reason(parts: Sequence[str], size: int) -> str | None:
    """Why an S3 object or local file is not a batch of invocation-log records, or None.

    ``parts`` are the key's or path's components below the listed prefix / walked folder.
    Bedrock writes bodies over 100 KB (and media) as separate objects under ``<HH>/data/``, and
    zero-byte ``amazon-bedrock-logs-permission-check`` markers under every prefix: neither is a
    record batch. Any other file is read, whatever its name: ``shapes.detect`` decides by
    content, and a file of no known shape is rejected by path.
    """
    name = parts[-1] if parts else ""
    if name == PERMISSION_CHECK_MARKER:
        return "permission-check marker"
    if size == 0:
        return "empty object"
    for parent, child in zip(parts[:-2], parts[1:-1], strict=True):
        if child == "data" and len(parent) == 2 and parent.isdigit():
            return "body object under data/"
    return None


_counter = itertools.count()
_GLOB_CHARS = frozenset("*?[]{}")
_DUPLICATE = "duplicate requestId"  # counted once, not a rejection
_NOT_A_RECORD = "not a ModelInvocationLog record"
_NO_FIELDS = "no record field"  # valid JSON without one Bedrock field: a record, or a file, kept


@dataclass
class ParsedBatch:
    """One batch of files parsed: a view of ``raw_bedrock`` rows plus the batch's rejections.

    ``table`` is a temp view in the connection with exactly raw_bedrock's columns, over a temp
    table of metadata only (bodies are never materialised). Hand it to ``Loader.write`` and then
    call ``drop``.
    """

    table: str
    rows: int
    rejected: list[tuple[str, str]] = field(default_factory=list)
    records_per_file: dict[str, int] = field(default_factory=dict)  # path -> good records
    duplicates: int = 0  # records whose requestId appeared earlier in the same batch

    def drop(self, con: duckdb.DuckDBPyConnection) -> None:
        con.execute(f"drop view if exists {self.table}")
        con.execute(f"drop table if exists {self.table}_scan")
        con.execute(f"drop table if exists {self.table}_files")
        con.execute(f"drop table if exists {self.table}_lines")


def _columns_sql() -> str:
    return "{" + ", ".join(f"'{k}': '{v}'" for k, v in RECORD_COLUMNS.items()) + "}"


def _reject_reason_sql() -> str:
    """A CASE that names the first thing wrong with a parsed line, or NULL when it is fine."""
    checks = [
        # read_ndjson(ignore_errors) turns a line that is not a JSON object into all NULLs.
        (
            "requestId is null and timestamp is null and modelId is null and input is null "
            "and output is null and identity is null and schemaType is null",
            "'malformed JSON'",
        ),
        (
            "schemaType is not null and schemaType <> 'ModelInvocationLog'",
            "'not a ModelInvocationLog record'",
        ),
        ("requestId is null or trim(requestId) = ''", "'missing field requestId'"),
        ("left(requestId, 1) in ('{', '[')", "'wrong type for requestId: expected a string'"),
        ("timestamp is null", "'missing field timestamp'"),
        ("try_cast(timestamp as timestamptz) is null", "'invalid timestamp'"),
        *(
            (cond, f"'{reason}'")
            for cond, reason in bounds.timestamp_checks("try_cast(timestamp as timestamptz)")
        ),
        ("modelId is null or trim(modelId) = ''", "'missing field modelId'"),
        ("left(modelId, 1) in ('{', '[')", "'wrong type for modelId: expected a string'"),
    ]
    for path, expr in _TOKEN_FIELDS.items():
        # try_cast('12.5' as bigint) is 13 and '1e3' casts too: a fraction or an exponent is
        # as wrong as "many".
        checks.append(
            (
                f"{expr} is not null and (try_cast({expr} as bigint) is null "
                f"or contains({expr}, '.') or contains({expr}, 'e') or contains({expr}, 'E'))",
                f"'wrong type for {path}: expected an integer'",
            )
        )
        checks.append((f"try_cast({expr} as bigint) < 0", f"'negative {path}'"))
        checks.append(
            (bounds.too_many_tokens_sql(expr), f"'{bounds.too_many_tokens_reason(path)}'")
        )
    whens = " ".join(f"when {cond} then {reason}" for cond, reason in checks)
    return f"case {whens} else null end"


def _body_number_sql(name: str) -> str:
    """The integer value of the first ``"<name>":`` key followed by digits in the response
    body, or NULL.

    Text inside strings has its quotes escaped, so a key in the model's output cannot match.
    One RE2 pass over the body: a strpos to find the key and a second one to read after it
    cost about 1.0 s of a 200k-record scan where this costs 0.2 s (the latency keys sit at the
    end of a streamed body or nowhere, so each search reads all of it), and json_extract
    parses the body again.
    """
    body = "cast(output.outputBodyJson as varchar)"
    return f"try_cast(regexp_extract({body}, '\"{name}\":\\s*(\\d+)', 1) as bigint)"


def _one_hour_writes_sql() -> str:
    """The body's usage.cache_creation.ephemeral_1h_input_tokens, or NULL.

    Streaming bodies are a list of events whose first (message_start) carries usage; others
    are a dict with usage. Either way the first such key in the serialised body is that one.
    """
    return _body_number_sql("ephemeral_1h_input_tokens")


def _latency_sql() -> str:
    """Bedrock's own time for the request (ms), where the record carries one, else NULL.

    InvokeModelWithResponseStream: the last event's ``amazon-bedrock-invocationMetrics``
    ``invocationLatency``; Converse: ``metrics.latencyMs`` (reference/bedrock.md §1: missing
    for streaming Converse, and InvokeModel logs none). A gateway's hop is its own duration less
    this one (marts/gateway_daily.sql).
    """
    return f"coalesce({_body_number_sql('invocationLatency')}, {_body_number_sql('latencyMs')})"


def parse_files(
    con: duckdb.DuckDBPyConnection,
    paths: Sequence[str],
    *,
    source_kind: str,
    location_of: Callable[[str], str] = str,
    line_locations: Mapping[str, Sequence[str]] | None = None,
    scratch_dir: str | Path | None = None,
) -> ParsedBatch:
    """Parse local files of invocation-log records (any shape ``shapes.detect`` knows) in one scan.

    ``location_of`` turns a local path into the location users see (``s3://bucket/key``); a
    record's location is that plus ``:N``, its 1-based line (blank lines are not counted), or
    ``#N``, its 1-based position in a file of another shape (a JSON array, pretty-printed
    records, a CloudWatch export). A file of no known shape, or without one value holding a
    Bedrock field, is rejected once by its location alone. A record of an array or pretty-printed
    file that does not parse is rejected alone (``#N (lines A-B)``) and the others load. A
    truncated or corrupt gzip file does not fail the batch: its complete lines are recovered
    and the file itself is listed in ``rejected``. Records whose requestId already appeared
    earlier in the batch are dropped and counted in ``duplicates``.
    ``line_locations`` gives some files' locations line by line instead (a CloudWatch page:
    line N is event N's ``logs:<group>/<stream>/<eventId>``).
    """
    line_locations = line_locations or {}
    batch = ParsedBatch(table=f"_bedrock_parsed_{next(_counter)}", rows=0)
    scan = f"{batch.table}_scan"
    # Small files are concatenated here (bodies included) until the scan: the run's private
    # scratch folder, removed when the batch is parsed.
    scratch = tempfile.mkdtemp(prefix="parse-", dir=scratch_dir)
    original: dict[str, str] = {}  # path handed to DuckDB -> the caller's path
    by_record: set[str] = set()  # rewritten files: line N is record N ("#N" in locations)
    try:
        for i, path in enumerate(paths):
            own, gz = path, None
            if path not in line_locations:
                # UTF-16 (Windows PowerShell 5.1's `>` and Out-File): read a UTF-8 copy
                own = shapes.as_utf8(path, scratch, f"utf8-{i}") or path
                shape = shapes.detect(own)
                gz = shape.gzip if shape.gzip or not own.lower().endswith(".gz") else None
                if shape.kind == shapes.UNKNOWN:
                    batch.rejected.append((location_of(path), shapes.NO_RECORD))
                    continue
                if shape.kind != shapes.LINES:
                    text, own = own, os.path.join(scratch, f"shape-{i}.ndjson")
                    readable, rejects = shapes.rewrite(con, text, shape, own)
                    batch.rejected.extend((location_of(path) + w, r) for w, r in rejects)
                    if not readable:
                        continue
                    by_record.add(own)
                    gz = None
            named_gz = own.lower().endswith(".gz")
            if _GLOB_CHARS & set(own) or (gz is not None and gz != named_gz):
                # DuckDB would expand glob characters, and picks gzip by the name: a link whose
                # name says what the content is.
                gz = named_gz if gz is None else gz
                link = os.path.join(scratch, f"link-{i}.ndjson" + (".gz" if gz else ""))
                os.symlink(os.path.abspath(own), link)
                original[link] = path
                if own in by_record:
                    by_record.add(link)
            else:
                original[own] = path
        singles = [p for p in original if original[p] in line_locations]
        groups = _group_small_files(
            [p for p in original if original[p] not in line_locations], scratch
        )
        in_group = {member for members in groups.values() for member, _, _ in members}
        pending = singles + list(groups)
        pending += [p for p in original if p not in in_group and p not in singles]
        if not pending:
            con.execute(f"create temp table {scan} as {_project_sql(_empty_reader_sql())}")
        while pending:
            try:
                con.execute(f"create temp table {scan} as {_project_sql(_reader_sql(pending))}")
                break
            except duckdb.Error as exc:
                unreadable = _unreadable_files(con, pending, str(exc))
                if not unreadable:
                    raise
                for path in unreadable:
                    pending.remove(path)
                    if path in groups:  # never expected: read its members one by one
                        pending.extend(member for member, _, _ in groups.pop(path))
                        continue
                    recovery = recover(path, scratch)
                    batch.rejected.append((location_of(original[path]), str(recovery.reason)))
                    if recovery.path is not None:
                        original[recovery.path] = original[path]
                        pending.append(recovery.path)
                if not pending:
                    con.execute(f"create temp table {scan} as {_project_sql(_empty_reader_sql())}")
                    break
        _relabel_valid_json(con, scan, pending)
        segments = _segments(pending, original, groups, location_of, by_record)
        _finish(con, batch, segments, source_kind, line_locations)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return batch


def page_format(source_kind: str) -> Format:
    """The format of Bedrock invocation-log pages, for a transport recorded as ``source_kind``
    (``s3``, ``cloudwatch``, ``files``) in raw_bedrock."""

    def parse(con: duckdb.DuckDBPyConnection, page: Page, run: SourceRun) -> Parsed:
        locations = {f.path: f.location for f in page.files}
        by_line = {f.path: f.line_locations for f in page.files if f.line_locations is not None}
        batch = parse_files(
            con,
            [f.path for f in page.files],
            source_kind=source_kind,
            location_of=functools.partial(_location, locations),
            line_locations=by_line or None,
            scratch_dir=run.scratch,
        )
        return Parsed(
            rows={RAW_TABLE: batch.table},
            rejected=batch.rejected,
            records_per_file=batch.records_per_file,
            count=batch.rows,
            cleanup=batch.drop,
        )

    return parse


# DuckDB pays roughly a millisecond per file it opens, more than decompressing a small file
# costs here; Bedrock delivers many small files (a few dozen records an hour per partition is
# common), so small ones are decompressed and read as one file.
SMALL_FILE_BYTES = 64 << 10

Segment = tuple[str, int, int]  # (member path, first line in the group file, lines)


def _group_small_files(paths: list[str], scratch: str) -> dict[str, list[Segment]]:
    """Concatenate small, clean NDJSON files (plain or gzip) into one scratch file.

    A file qualifies when it decompresses completely and every line starts with ``{`` and ends
    with ``}`` (no blank lines, which DuckDB skips and would shift the line numbers). The rest
    are read on their own.
    """
    candidates = []
    for path in paths:
        try:
            if os.path.getsize(path) <= SMALL_FILE_BYTES:
                candidates.append(path)
        except OSError:
            continue
    if len(candidates) < 2:
        return {}
    group = os.path.join(scratch, "small-files.ndjson")
    members: list[Segment] = []
    line = 1
    with open(group, "wb") as out:
        for path in candidates:
            data = _plain_text(path)
            if data is None:
                continue
            lines = data.count(b"\n")
            out.write(data)
            members.append((path, line, lines))
            line += lines
    return {group: members} if len(members) >= 2 else {}


def _plain_text(path: str) -> bytes | None:
    """The file's text if it is one clean NDJSON stream, else None (read it on its own)."""
    try:
        raw = Path(path).read_bytes()
    except OSError:
        return None
    if raw[:2] == b"\x1f\x8b":
        data = bytearray()
        try:
            while raw:  # gzip files may hold several members
                decomp = zlib.decompressobj(wbits=31)
                data += decomp.decompress(raw)
                if not decomp.eof:
                    return None  # truncated: the usual path recovers and reports it
                raw = decomp.unused_data
        except zlib.error:
            return None
        text = bytes(data)
    elif path.lower().endswith(".gz"):
        return None
    else:
        text = raw
    if not text.endswith(b"\n"):
        text += b"\n"
    # One object per line, every line (a pretty-printed or odd file is read on its own).
    lines = text.count(b"\n")
    if not text.startswith(b"{") or text.count(b"\n{") != lines - 1:
        return None
    if text.count(b"}\n") != lines or b"\r" in text:
        return None
    return text


def _segments(
    scanned: list[str],
    original: dict[str, str],
    groups: dict[str, list[Segment]],
    location_of: Callable[[str], str],
    by_record: set[str],
) -> dict[str, tuple[str, list[Any]]]:
    """Where each scanned line came from: (file_index, first_line, last_line) -> caller's file.

    ``file_index`` is the position in ``scanned``, the list the batch's scan read.
    """
    order = {path: i for i, path in enumerate(original)}
    rows: list[tuple[int, int, int, str, str, int, str]] = []
    for index, path in enumerate(scanned):
        for member, first, lines in groups.get(path, [(path, 1, 2**62)]):
            caller = original[member]
            last = first + lines - 1 if path in groups else lines
            sep = "#" if member in by_record else ":"
            rows.append((index, first, last, caller, location_of(caller), order[member], sep))
    columns = {
        "file_index": "bigint",
        "first_line": "bigint",
        "last_line": "bigint",
        "caller": "varchar",
        "location": "varchar",
        "file_order": "bigint",
        "sep": "varchar",
    }
    return {name: (kind, [r[i] for r in rows]) for i, (name, kind) in enumerate(columns.items())}


def _quote_paths(paths: Sequence[str]) -> str:
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"


def _reader_sql(paths: Sequence[str], *, whole_documents: bool = False) -> str:
    options = (
        "format='auto'" if whole_documents else ("format='newline_delimited', ignore_errors=true")
    )
    return f"read_ndjson({_quote_paths(paths)}, columns={_columns_sql()}, {options})"


def _empty_reader_sql() -> str:
    cols = ", ".join(f'null::{t} as "{k}"' for k, t in RECORD_COLUMNS.items())
    return f"(select {cols}, null::ubigint as file_index where false)"


def _project_sql(reader: str) -> str:
    """Metadata and counts in raw_bedrock's terms, why a line is rejected, and its file.

    The scan's row order is the files' line order (DuckDB preserves insertion order), so a
    line's number is its rowid minus its file's first rowid: no window over the batch. The
    file is the reader's ``file_index`` virtual column (an integer: carrying each row's file
    name costs a tenth of the scan).
    """

    def tokens(path: str) -> str:
        return f"coalesce(try_cast({path} as bigint), 0)"

    return f"""
        select
            requestId as request_id,
            try_cast(timestamp as timestamptz) as occurred_at,
            accountId as account_id,
            region,
            inferenceRegion as inference_region,
            operation,
            modelId as model_id,
            identity.arn as principal_arn,
            requestMetadata as request_metadata,
            {tokens("input.inputTokenCount")} as input_tokens,
            {tokens("output.outputTokenCount")} as output_tokens,
            {tokens("input.cacheReadInputTokenCount")} as cache_read_tokens,
            {tokens("input.cacheWriteInputTokenCount")} as cache_write_tokens,
            {_one_hour_writes_sql()} as cache_write_1h_tokens,
            {_latency_sql()} as latency_ms,
            status,
            errorCode as error_code,
            {_reject_reason_sql()} as reject_reason,
            file_index
        from {reader}
    """


def _unreadable_files(con: duckdb.DuckDBPyConnection, paths: list[str], message: str) -> list[str]:
    """The files that made a whole-batch scan fail: named in the error, else found one by one."""
    named = [p for p in paths if p in message]
    # A path can be a prefix of another ("a.json" of "a.json.gz"): keep the longest match.
    named = [p for p in named if not any(q != p and p in q for q in named)]
    if named:
        return named
    failing = []
    for path in paths:
        try:
            con.execute(f"select count(*) from {_reader_sql([path])}").fetchall()
        except duckdb.Error:
            failing.append(path)
    return failing


def _relabel_valid_json(con: duckdb.DuckDBPyConnection, scan: str, scanned: list[str]) -> None:
    """Lines the scan could not map to a record are valid JSON or not: say which.

    ``read_ndjson(ignore_errors)`` makes a line that is not JSON and a JSON value without one
    record field look the same (all NULLs). Only the few files holding such lines are read
    again, as text, to tell them apart.
    """
    suspects = con.execute(
        f"select distinct file_index from {scan} where reject_reason = 'malformed JSON'"
    ).fetchall()
    for (index,) in suspects:
        path = scanned[int(index)]
        try:
            with open(path, "rb") as fh:
                gz = fh.read(2) == b"\x1f\x8b"
        except OSError:
            continue
        text = f"{scan}_text"
        try:
            con.execute(
                f"create temp table {text} as select json_valid(line) as ok from read_csv("
                + "'"
                + path.replace("'", "''")
                + "', columns={'line': 'VARCHAR'}, delim=chr(1), "
                f"quote='', escape='', header=false, auto_detect=false, "
                f"compression='{'gzip' if gz else 'none'}', "
                f"max_line_size={MAX_LINE}, buffer_size={MAX_LINE}) "
                "where line is not null and trim(line) <> ''"
            )
            con.execute(
                f"""
                update {scan} set reject_reason = '{_NO_FIELDS}' where rowid in (
                    select s.rowid
                    from {scan} s,
                        (select min(rowid) as first_row from {scan} where file_index = $1) f,
                        (select rowid + 1 as n, ok from {text}) t
                    where s.file_index = $1 and s.reject_reason = 'malformed JSON'
                        and t.n = s.rowid - f.first_row + 1 and t.ok
                )
                """,
                [int(index)],
            )
        except duckdb.Error:
            continue  # keep "malformed JSON"
        finally:
            con.execute(f"drop table if exists {text}")


def _finish(
    con: duckdb.DuckDBPyConnection,
    batch: ParsedBatch,
    segments: Mapping[str, tuple[str, Sequence[Any]]],
    source_kind: str,
    line_locations: Mapping[str, Sequence[str]],
) -> None:
    """Number the lines, drop in-batch duplicates, list rejections, define the rows view."""
    scan, files = f"{batch.table}_scan", f"{batch.table}_files"
    rows, params = lists.select(segments)
    con.execute(
        f"""
        create temp table {files} as
        select g.*, s.first_row
        from ({rows}) g
        join (select file_index, min(rowid) as first_row from {scan} group by file_index) s
            using (file_index)
        """,
        params,
    )
    file_line = "(s.rowid - f.first_row + 1)"
    joins = (
        f"{scan} s join {files} f on f.file_index = s.file_index "
        f"and {file_line} between f.first_line and f.last_line"
    )
    line = f"({file_line} - f.first_line + 1)"
    location = f"f.location || f.sep || {line}"
    total, distinct = con.execute(
        f"select count(*), count(distinct request_id) from {scan} where reject_reason is null"
    ).fetchall()[0]
    batch.duplicates = int(total) - int(distinct)
    if batch.duplicates:
        # Keep each requestId's first occurrence (file order, then line order).
        con.execute(
            f"""
            update {scan} set reject_reason = '{_DUPLICATE}' where rowid in (
                select s.rowid from {joins}
                where s.reject_reason is null
                qualify row_number() over (
                    partition by s.request_id order by f.file_order, s.rowid) > 1
            )
            """
        )
    by_line = [
        (caller, i + 1, loc)
        for caller, locs in line_locations.items()
        for i, loc in enumerate(locs)
    ]
    if by_line:
        lines = f"{batch.table}_lines"
        lists.temp_table(
            con,
            lines,
            {
                "caller": ("varchar", [r[0] for r in by_line]),
                "line": ("bigint", [r[1] for r in by_line]),
                "location": ("varchar", [r[2] for r in by_line]),
            },
        )
        location = f"coalesce(ll.location, {location})"
        joins += f" left join {lines} ll on ll.caller = f.caller and ll.line = {line}"
    # A file with no record and nothing but JSON without a record field is not a Bedrock log:
    # one rejection naming the file, not one per value.
    batch.rejected.extend(
        (str(loc), str(reason))
        for loc, reason in con.execute(
            f"""
            with per_file as (
                select f.caller,
                    count(*) filter (
                        where s.reject_reason is null or s.reject_reason = '{_DUPLICATE}'
                    ) as good,
                    count(*) filter (
                        where s.reject_reason not in ('{_NO_FIELDS}', '{_DUPLICATE}')
                    ) as other
                from {joins} group by f.caller
            ),
            rejected as (
                select {location} as loc,
                    case when s.reject_reason = '{_NO_FIELDS}' then '{_NOT_A_RECORD}'
                        else s.reject_reason end as reason,
                    f.file_order, {line} as line
                from {joins} join per_file p on p.caller = f.caller
                where s.reject_reason is not null and s.reject_reason <> '{_DUPLICATE}'
                    and (p.good > 0 or p.other > 0)
                union all
                select any_value(f.location), '{shapes.NO_RECORD}', min(f.file_order), 0
                from {joins} join per_file p on p.caller = f.caller
                where p.good = 0 and p.other = 0
                group by f.caller
            )
            select loc, reason from rejected order by file_order, line
            """
        ).fetchall()
    )
    kind = source_kind.replace("'", "''")
    con.execute(
        f"""
        create temp view {batch.table} as
        select
            s.request_id, s.occurred_at, s.account_id, s.region, s.inference_region,
            s.operation, s.model_id, s.principal_arn, s.request_metadata, s.input_tokens,
            s.output_tokens, s.cache_read_tokens, s.cache_write_tokens,
            s.cache_write_1h_tokens, s.latency_ms, s.status, s.error_code,
            '{kind}' as source_kind,
            {location} as source_location
        from {joins}
        where s.reject_reason is null
        """
    )
    per_file = con.execute(
        f"select f.caller, count(*) from {joins} where s.reject_reason is null group by f.caller"
    ).fetchall()
    batch.records_per_file = {str(caller): int(n) for caller, n in per_file}
    batch.rows = sum(batch.records_per_file.values())


def _location(locations: Mapping[str, str], path: str) -> str:
    return locations.get(path, path)
