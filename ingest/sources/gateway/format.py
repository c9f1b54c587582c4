"""Gateway log records: the raw table and the bulk parser every gateway format shares.

The gateway sources (``gateway-files``, ``gateway-s3``, ``gateway-cloudwatch``,
``gateway-logging``) hand this module local files: JSON lines (a CloudWatch or Cloud Logging
page, a logging plugin's file, an S3 object) or a JSON array export, gzip or plain whatever the
name. Each file becomes rows of
``(file_index, n, j)`` — the record as JSON, never stored — and the format named by
``--format`` (``formats.py``) turns them, in one DuckDB statement over the whole page, into the
standard columns below. This module then applies the checks every format shares (a request id,
a plausible timestamp, a model, integer token counts within bounds) and hands the loader
``raw_gateway`` rows: metadata and token counts only. Prompt and response bodies (Kong's
``ai.proxy.payload``, a logged Anthropic response or SSE stream) are read inside the statement
to take numbers out of them and never materialised.
"""

from __future__ import annotations

import itertools
import re
import shutil
import tempfile
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from ingest import bounds
from ingest.source import Format, Page, Parsed, RawTable, SourceRun
from ingest.sources.gateway import formats
from ingest.sources.recovery import INVALID_UTF8, recover
from ingest.sources.shapes import MAX_LINE

RAW_TABLE = "raw_gateway"
NATURAL_KEY = ("gateway_name", "request_id")

RAW_TABLE_DDL = f"""
    create table if not exists {RAW_TABLE} (
        gateway_name varchar not null,
        request_id varchar not null,
        format varchar not null,
        occurred_at timestamptz not null,
        provider varchar,
        region varchar,
        model_id varchar not null,
        request_mode varchar,
        consumer varchar,
        consumer_id varchar,
        key_id varchar,
        user_hint varchar,
        team_hint varchar,
        route varchar,
        service varchar,
        status_code integer,
        error_type varchar,
        input_tokens bigint not null,
        output_tokens bigint not null,
        cache_read_tokens bigint not null,
        cache_write_tokens bigint not null,
        cache_write_1h_tokens bigint,
        token_detail varchar not null,
        truncated boolean not null,
        provider_request_id varchar,
        reported_cost_usd decimal(38, 12),
        total_latency_ms double,
        upstream_latency_ms double,
        gateway_latency_ms double,
        source_kind varchar not null,
        source_location varchar not null
    )
"""
RAW = RawTable(RAW_TABLE, RAW_TABLE_DDL, NATURAL_KEY)

RAW_COLUMNS = (
    "gateway_name",
    "request_id",
    "format",
    "occurred_at",
    "provider",
    "region",
    "model_id",
    "request_mode",
    "consumer",
    "consumer_id",
    "key_id",
    "user_hint",
    "team_hint",
    "route",
    "service",
    "status_code",
    "error_type",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "token_detail",
    "truncated",
    "provider_request_id",
    "reported_cost_usd",
    "total_latency_ms",
    "upstream_latency_ms",
    "gateway_latency_ms",
    "source_kind",
    "source_location",
)

HEAD_BYTES = 64 << 10
BOM = b"\xef\xbb\xbf"
NO_RECORD = "no gateway log record found"
EMPTY_FILE = "empty file"
_MAX = f"max_line_size={MAX_LINE}, buffer_size={MAX_LINE}"  # see shapes.MAX_LINE
_counter = itertools.count()


@dataclass
class ParsedBatch:
    table: str
    rows: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)
    records_per_file: dict[str, int] = field(default_factory=dict)

    def drop(self, con: duckdb.DuckDBPyConnection) -> None:
        con.execute(f"drop table if exists {self.table}")


@dataclass(frozen=True)
class _Input:
    """One file as the statement reads it: where it is, how, and where users see it."""

    index: int
    path: str  # the caller's path (records_per_file)
    read: str  # the path DuckDB opens (a recovered copy, or the file itself)
    array: bool
    gzip: bool
    location: str
    sep: str  # ":" line numbers, "#" array positions


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _head(path: str) -> tuple[bytes, bool]:
    """The first bytes of the file (decompressed), and whether it is gzip."""
    with open(path, "rb") as fh:
        raw = fh.read(HEAD_BYTES)
    if raw[:2] != b"\x1f\x8b":
        return raw, False
    try:
        return zlib.decompressobj(wbits=31).decompress(raw, HEAD_BYTES), True
    except zlib.error:
        return b"", True


def _reader(item: _Input) -> str:
    """A query of (file_index, n, text): each record of one file, numbered from 1."""
    compression = "'gzip'" if item.gzip else "'none'"
    src = _quote(item.read)
    if item.array:
        return (
            f"select {item.index} as file_index, ordinality as n, j::varchar as text "
            f"from read_json({src}, format='array', records='false', columns={{'j': 'JSON'}}, "
            f"compression={compression}, maximum_object_size=1073741824) with ordinality"
        )
    # One VARCHAR column per line (NUL never occurs in JSON text); blank lines keep their number.
    return (
        f"select {item.index} as file_index, ordinality as n, line as text "
        f"from read_csv({src}, columns={{'line': 'VARCHAR'}}, delim=chr(0), quote='', "
        f"escape='', header=false, auto_detect=false, strict_mode=false, {_MAX}, "
        f"compression={compression}) with ordinality"
    )


def _readable(con: duckdb.DuckDBPyConnection, item: _Input) -> bool:
    try:
        con.execute(f"select count(*) from ({_reader(item)})").fetchall()
        return True
    except duckdb.Error:
        return False


def _inputs(
    con: duckdb.DuckDBPyConnection,
    paths: Sequence[str],
    location_of: Callable[[str], str],
    scratch: str,
    batch: ParsedBatch,
    check: bool = True,
) -> list[_Input]:
    """Every file that can be read (or what can be read of it), rejecting the rest by path.

    Without ``check`` every file that is not empty is taken as readable whole (no scan here):
    the caller reads them all at once and comes back with ``check`` only if that failed.
    """
    found: list[_Input] = []
    for index, path in enumerate(paths):
        location = location_of(path)
        try:
            head, gz = _head(path)
        except OSError:
            batch.rejected.append((location, "unreadable file"))
            continue
        text = head.removeprefix(BOM).lstrip()
        if not text and not gz:
            batch.rejected.append((location, EMPTY_FILE))
            continue
        array = text.startswith(b"[")
        item = _Input(index, path, path, array, gz, location, "#" if array else ":")
        if not check or _readable(con, item):
            found.append(item)
            continue
        if array:
            batch.rejected.append((location, "malformed JSON array; the file was not read"))
            continue
        recovery = recover(path, scratch, blank_invalid_utf8=True)
        if recovery.reason is not None:
            batch.rejected.append((location, recovery.reason))
        batch.rejected.extend((f"{location}:{n}", INVALID_UTF8) for n in recovery.invalid_lines)
        if recovery.path is None:
            continue
        fixed = _Input(index, path, recovery.path, False, False, location, ":")
        if _readable(con, fixed):
            found.append(fixed)
        elif recovery.reason is None:
            batch.rejected.append((location, "unreadable file"))
    return found


def _integer_checks(column: str, label: str) -> list[tuple[str, str]]:
    value = column
    return [
        (
            # try_cast('12.5' as bigint) is 13 and '1e3' casts too: a fraction or an exponent
            # is as wrong as "many".
            f"{value} is not null and (try_cast({value} as bigint) is null "
            f"or contains({value}, '.') or contains(lower({value}), 'e'))",
            f"wrong type for {label}: expected an integer",
        ),
        (f"try_cast({value} as bigint) < 0", f"negative {label}"),
        (bounds.too_many_tokens_sql(value), bounds.too_many_tokens_reason(label)),
    ]


def _reason_sql(spec: formats.GatewayFormat) -> str:
    """A CASE naming the first thing wrong with a record, or NULL when it is fine."""
    label = spec.labels.get
    checks: list[tuple[str, str]] = [
        ("not_json", "'malformed JSON'"),
        ("problem is not null", "problem"),
        (
            "request_id is null or trim(request_id) = ''",
            f"'missing field {label('request_id', 'request_id')}'",
        ),
        ("ts_text is null", f"'missing field {label('occurred_at', 'timestamp')}'"),
        ("occurred_at is null", "'invalid timestamp'"),
        *((c, f"'{r}'") for c, r in bounds.timestamp_checks("occurred_at")),
        ("model_id is null or trim(model_id) = ''", f"'missing field {label('model', 'model')}'"),
    ]
    for column in formats.TOKEN_COLUMNS:
        name = label(column, column)
        if column in spec.required_tokens:
            checks.append((f"{column} is null", f"'missing field {name}'"))
        checks += [(c, "'" + r.replace("'", "''") + "'") for c, r in _integer_checks(column, name)]
    whens = " ".join(f"when {c} then {r}" for c, r in checks)
    return f"case {whens} else null end"


_RECORDS = "__gateway_records__"
_TEXT_AT = re.compile(r"json_extract_string\(j, ('(?:[^']|'')*')\)")
_NODE_AT = re.compile(r"json_extract\(j, ('(?:[^']|'')*')\)")


def _parsed_once(spec: formats.GatewayFormat, recs: str, options: Mapping[str, Any]) -> str:
    """The format's SQL with every path it reads from a record taken in one parse.

    DuckDB parses the JSON text again for each ``json_extract(j, path)``; a list of paths
    (``json_extract_string(j, [p1, p2, ...])``) parses it once, which is most of the cost of a
    page. Each ``json_extract_string(j, 'p')`` / ``json_extract(j, 'p')`` of the format's SQL
    becomes an element of one such list, computed beside the record. That parse also says
    whether the record is a JSON object (``not_json``): a text that starts with ``{`` and
    parses is one, so no separate validation pass reads it again. ``j`` (the record as JSON)
    is only cast where a format reads it whole.
    """
    sql = spec.select(_RECORDS, options)
    texts: dict[str, int] = {}
    nodes: dict[str, int] = {}

    def text_at(match: re.Match[str]) -> str:
        return f"jv[{texts.setdefault(match.group(1), len(texts) + 1)}]"

    def node_at(match: re.Match[str]) -> str:
        return f"jn[{nodes.setdefault(match.group(1), len(nodes) + 1)}]"

    sql = _NODE_AT.sub(node_at, _TEXT_AT.sub(text_at, sql))
    is_object = "starts_with(ltrim(text), '{')"
    if texts:
        parsed = (
            f"case when {is_object} then try(json_extract_string(text, [{', '.join(texts)}])) end"
        )
        columns = f"{parsed} as jv"
        ok = "jv is not null"
    elif nodes:
        columns = "null as jv"
        ok = None
    else:
        columns = "null as jv"
        ok = f"{is_object} and json_valid(text)"
    if nodes:
        node_list = f"json_extract(text, [{', '.join(nodes)}])"
        if ok is None:
            columns += f", case when {is_object} then try({node_list}) end as jn"
            ok = "jn is not null"
        else:
            columns += f", case when {ok} then {node_list} end as jn"
    checked = (
        f"select *, not coalesce({ok}, false) as not_json from (select *, {columns} from ({recs}))"
    )
    whole = f"select *, case when not not_json then text::json end as j from ({checked})"
    return sql.replace(_RECORDS, whole)


def parse_files(
    con: duckdb.DuckDBPyConnection,
    paths: Sequence[str],
    *,
    spec: formats.GatewayFormat,
    options: Mapping[str, Any],
    gateway_name: str,
    source_kind: str,
    location_of: Callable[[str], str] = str,
    line_locations: Mapping[str, Sequence[str]] | None = None,
    scratch_dir: str | Path | None = None,
) -> ParsedBatch:
    """Parse local files of gateway log records in one statement.

    A record's location is ``<file>:<line>`` (JSON lines), ``<file>#<N>`` (the Nth element of
    a JSON array) or the location the transport gave its line (a CloudWatch event).
    """
    n = next(_counter)
    batch = ParsedBatch(table=f"_gateway_parsed_{n}")
    checked, locs = f"_gateway_checked_{n}", f"_gateway_locs_{n}"
    scratch = tempfile.mkdtemp(prefix="parse-", dir=scratch_dir)
    try:

        def check(inputs: list[_Input]) -> None:
            records = (
                " union all ".join(f"({_reader(i)})" for i in inputs)
                if inputs
                else "select 0 as file_index, 0::bigint as n, null::varchar as text where false"
            )
            # JSON objects only (not_json, j: _parsed_once); anything else is malformed
            recs = (
                f"select file_index, n, text from ({records}) where trim(coalesce(text, '')) <> ''"
            )
            con.execute(
                f"create temp table {checked} as "
                f"select *, {_reason_sql(spec)} as reject_reason "
                f"from ({_parsed_once(spec, recs, options)})"
            )

        # Read every file in one statement; only when that fails (invalid UTF-8, a truncated
        # gzip, a malformed array) is each file tried alone and what can be read recovered.
        known = len(batch.rejected)
        inputs = _inputs(con, paths, location_of, scratch, batch, check=False)
        try:
            check(inputs)
        except duckdb.Error:
            del batch.rejected[known:]
            con.execute(f"drop table if exists {checked}")
            inputs = _inputs(con, paths, location_of, scratch, batch)
            check(inputs)
        _locations(con, locs, inputs, line_locations or {})
        location = (
            "coalesce(ll.location, l.location || l.sep || c.n::varchar)"
            if line_locations
            else "l.location || l.sep || c.n::varchar"
        )
        joins = (
            f"{checked} c join {locs} l on l.file_index = c.file_index "
            f"left join {locs}_lines ll on ll.file_index = c.file_index and ll.n = c.n"
        )
        batch.rejected.extend(
            (str(loc), str(reason))
            for loc, reason in con.execute(
                f"select {location}, c.reject_reason from {joins} "
                "where c.reject_reason is not null order by c.file_index, c.n"
            ).fetchall()
        )
        seen = {
            int(i) for (i,) in con.execute(f"select distinct file_index from {checked}").fetchall()
        }
        for item in inputs:
            if item.index not in seen and (item.location, NO_RECORD) not in batch.rejected:
                batch.rejected.append((item.location, NO_RECORD))
        tokens = {c: f"coalesce(try_cast(c.{c} as bigint), 0)" for c in formats.TOKEN_COLUMNS}
        con.execute(
            f"""
            create temp table {batch.table} as
            select
                {_quote(gateway_name)} as gateway_name,
                c.request_id,
                {_quote(spec.name)} as format,
                c.occurred_at,
                lower(c.provider) as provider,
                lower(c.region) as region,
                c.model_id,
                c.request_mode,
                c.consumer,
                c.consumer_id,
                c.key_id,
                c.user_hint,
                c.team_hint,
                c.route,
                c.service,
                try_cast(c.status_code as integer) as status_code,
                c.error_type,
                {tokens["input_tokens"]} as input_tokens,
                {tokens["output_tokens"]} as output_tokens,
                {tokens["cache_read_tokens"]} as cache_read_tokens,
                coalesce(try_cast(c.cache_write_tokens as bigint),
                         try_cast(c.cache_write_5m_tokens as bigint)
                             + try_cast(c.cache_write_1h_tokens as bigint),
                         try_cast(c.cache_write_5m_tokens as bigint),
                         try_cast(c.cache_write_1h_tokens as bigint), 0) as cache_write_tokens,
                try_cast(c.cache_write_1h_tokens as bigint) as cache_write_1h_tokens,
                coalesce(c.token_detail, 'exact') as token_detail,
                coalesce(c.truncated, false) as truncated,
                c.provider_request_id,
                try_cast(c.reported_cost as decimal(38, 12)) as reported_cost_usd,
                try_cast(c.total_ms as double) as total_latency_ms,
                try_cast(c.upstream_ms as double) as upstream_latency_ms,
                try_cast(c.gateway_ms as double) as gateway_latency_ms,
                {_quote(source_kind)} as source_kind,
                {location} as source_location
            from {joins}
            where c.reject_reason is null
            -- the first of a request's records in the page (file order, then line order)
            qualify row_number() over (partition by c.request_id order by c.file_index, c.n) = 1
            """
        )
        by_file = dict(
            con.execute(
                f"select file_index, count(*) from {checked} "
                "where reject_reason is null group by file_index"
            ).fetchall()
        )
        batch.records_per_file = {i.path: int(by_file.get(i.index, 0)) for i in inputs}
        row = con.execute(f"select count(*) from {batch.table}").fetchone()
        batch.rows = int(row[0]) if row else 0
    finally:
        for table in (checked, locs, f"{locs}_lines"):
            con.execute(f"drop table if exists {table}")
        shutil.rmtree(scratch, ignore_errors=True)
    return batch


def _locations(
    con: duckdb.DuckDBPyConnection,
    locs: str,
    inputs: Sequence[_Input],
    line_locations: Mapping[str, Sequence[str]],
) -> None:
    # Python lists as LIST parameters, unnested: no Arrow registration (which imports pandas,
    # a second of a small page's time)
    lines = [
        (i.index, n + 1, loc)
        for i in inputs
        for n, loc in enumerate(line_locations.get(i.path, ()))
    ]
    con.execute(
        f"create temp table {locs} as select unnest(?::bigint[]) as file_index, "
        "unnest(?::varchar[]) as location, unnest(?::varchar[]) as sep",
        [[i.index for i in inputs], [i.location for i in inputs], [i.sep for i in inputs]],
    )
    con.execute(
        f"create temp table {locs}_lines as select unnest(?::bigint[]) as file_index, "
        "unnest(?::bigint[]) as n, unnest(?::varchar[]) as location",
        [[r[0] for r in lines], [r[1] for r in lines], [r[2] for r in lines]],
    )


def page_format(source_kind: str) -> Format:
    """The gateway format of a page, for a transport recorded as ``source_kind``."""

    def parse(con: duckdb.DuckDBPyConnection, page: Page, run: SourceRun) -> Parsed:
        spec = formats.get(str(run.options["format"]), run.options)
        locations = {f.path: f.location for f in page.files}
        by_line = {f.path: f.line_locations for f in page.files if f.line_locations is not None}
        batch = parse_files(
            con,
            [f.path for f in page.files],
            spec=spec,
            options=run.options,
            gateway_name=gateway_name(run.options),
            source_kind=source_kind,
            location_of=lambda path: locations.get(path, path),
            line_locations=by_line or None,
            scratch_dir=run.scratch,
        )
        partition = page.meta.get("partition")
        newest = _newest_entry(con, [f.path for f in page.files]) if partition else None
        return Parsed(
            rows={RAW_TABLE: batch.table},
            rejected=batch.rejected,
            records_per_file=batch.records_per_file,
            cursors={str(partition): newest} if partition and newest else {},
            count=batch.rows,
            cleanup=batch.drop,
        )

    return parse


def _newest_entry(con: duckdb.DuckDBPyConnection, paths: Sequence[str]) -> str | None:
    """The newest ``timestamp|insertId`` of a page of Cloud Logging entries (its cursor); only
    those two fields are read."""
    files = "[" + ", ".join(_quote(p) for p in paths) + "]"
    row = con.execute(
        f"""
        select strftime(ts, '%Y-%m-%dT%H:%M:%S.%fZ') || '|' || insert_id
        from (select try_cast("timestamp" as timestamptz) as ts, "insertId" as insert_id
              from read_ndjson({files}, columns={{'timestamp': 'VARCHAR', 'insertId': 'VARCHAR'}},
                               ignore_errors=true))
        where ts is not null and insert_id is not null and not ({bounds.too_late_sql("ts")})
        order by ts desc, insert_id desc
        limit 1
        """
    ).fetchone()
    return str(row[0]) if row else None


def gateway_name(options: Mapping[str, Any]) -> str:
    """The gateway's name in reports: the configured ``name``, else the format."""
    return str(options.get("name") or options["format"])
