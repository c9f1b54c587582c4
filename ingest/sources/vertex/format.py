"""Cloud Logging entries about Claude on Vertex AI: the raw tables, the filter and the parser.

Both Vertex sources (``vertex``: the Cloud Logging API; ``vertex-files``: a Cloud Storage sink's
hourly JSON-lines exports, ``gcloud logging read --format=json`` arrays, pretty-printed entries)
hand this module local files of ``LogEntry`` objects; the shapes that are not JSON lines are
rewritten one entry a line (``ingest/sources/shapes.py``), then whole files are parsed in one
DuckDB statement. Each line is read as text and decoded once with
``json_transform`` into a struct that declares only metadata and token counts, so prompt and
response text (``content``, request bodies) is never materialised, let alone stored.

Two entry kinds become rows (reference/vertex.md §1):

- Data Access audit entries for ``RawPredict``/``StreamRawPredict`` on
  ``publishers/anthropic/models/...``: who called, when, which model@version, where, and the
  status. No tokens. -> ``raw_vertex_audit``.
- token-bearing entries: an Anthropic Messages response (id ``msg_vrtx_…``) in ``jsonPayload``,
  in one of the shapes in ``TOKEN_SHAPES``. No caller, usually. -> ``raw_vertex_usage``.

Valid entries about something else (Gemini or another publisher's model, another service) are
counted as skipped by kind (``Parsed.skipped``), not rejected. Anything else goes to
``rejected_records`` with a short fixed reason, located by file and line or entry.
Vendor field names appear here and in ``models/staging/stg_vertex.sql`` only. Both raw tables of a
page are returned in one ``Parsed``, so they commit with the rejects and the cursor in one
transaction.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import duckdb

from ingest import bounds
from ingest.source import Format, Page, Parsed, RawTable, SourceRun
from ingest.sources import shapes
from ingest.sources.recovery import INVALID_UTF8, UNREADABLE, recover

AUDIT_TABLE = "raw_vertex_audit"
USAGE_TABLE = "raw_vertex_usage"
NATURAL_KEY = ("insert_id",)

_AUDIT_DDL, _USAGE_DDL = (
    f"""
    create table if not exists {AUDIT_TABLE} (
        insert_id varchar not null,
        occurred_at timestamptz not null,
        log_name varchar,
        project_id varchar,
        region varchar,
        method varchar,
        resource_name varchar,
        model_id varchar,
        principal_email varchar,
        principal_subject varchar,
        delegation_chain varchar[],
        user_agent varchar,
        status_code integer not null,
        status_message varchar,
        labels json,
        source_kind varchar not null,
        source_location varchar not null
    )
    """,
    f"""
    create table if not exists {USAGE_TABLE} (
        insert_id varchar not null,
        occurred_at timestamptz not null,
        log_name varchar,
        shape varchar not null,
        project_id varchar,
        region varchar,
        endpoint varchar,
        response_id varchar not null,
        model_id varchar,
        response_model varchar,
        principal varchar,
        input_tokens bigint not null,
        output_tokens bigint not null,
        cache_read_tokens bigint not null,
        cache_creation_tokens bigint not null,
        cache_write_5m_tokens bigint,
        cache_write_1h_tokens bigint,
        labels json,
        source_kind varchar not null,
        source_location varchar not null
    )
    """,
)
RAW_AUDIT = RawTable(AUDIT_TABLE, _AUDIT_DDL, NATURAL_KEY)
RAW_USAGE = RawTable(USAGE_TABLE, _USAGE_DDL, NATURAL_KEY)

NOT_ENTRY = "not a Vertex log entry: no logName"
NO_ENTRY = "not a Vertex log file (no log entry found)"


@dataclass(frozen=True)
class TokenShape:
    """Where one kind of token-bearing entry keeps each field (dotted paths in the LogEntry).

    ``endpoint`` paths are tried in order; the endpoint (a Vertex resource path or request URL)
    names the project, region and model@version. A new shape is one more ``TokenShape``.
    """

    name: str
    response_id: str
    model: str
    usage: str  # the Anthropic ``usage`` object
    endpoint: tuple[str, ...] = ()
    principal: str | None = None


def _messages_shape(name: str, root: str, endpoint: tuple[str, ...]) -> TokenShape:
    return TokenShape(name, f"{root}.id", f"{root}.model", f"{root}.usage", endpoint)


# The Messages response at the top of jsonPayload (collectors, Claude Code OTel-style exporters),
# under jsonPayload.response (gateways that log request metadata beside the response), and under
# jsonPayload.full_response (request-response logging rows re-exported to Cloud Logging; the
# column names are those of Vertex's BigQuery table, reference/vertex.md §1b).
# The inference request metadata log (§1c) is not here: its field names are unconfirmed (❌);
# once known it is one more entry.
TOKEN_SHAPES: tuple[TokenShape, ...] = (
    _messages_shape("message", "jsonPayload", ("jsonPayload.endpoint", "httpRequest.requestUrl")),
    _messages_shape(
        "gateway_response",
        "jsonPayload.response",
        ("jsonPayload.endpoint", "jsonPayload.request.endpoint", "httpRequest.requestUrl"),
    ),
    _messages_shape("request_response_row", "jsonPayload.full_response", ("jsonPayload.endpoint",)),
)

# The entries.list filter clause (the transport adds the time window and the user's clause):
# audit entries for Claude calls, or any entry holding a Vertex Messages response in one of the
# token shapes. Substring matches (":") because the method's version segment varies (v1,
# v1beta1, internal) and RawPredict also matches StreamRawPredict (reference/vertex.md §1a).
AUDIT_CLAUSE = (
    'protoPayload.serviceName="aiplatform.googleapis.com" '
    'AND protoPayload.methodName:"RawPredict" '
    'AND protoPayload.resourceName:"/publishers/anthropic/models/"'
)
KINDS_FILTER = " OR ".join(
    [f"({AUDIT_CLAUSE})"] + [f'{s.response_id}:"msg_vrtx_"' for s in TOKEN_SHAPES]
)

USAGE_FIELDS = {
    "input_tokens": "input_tokens",
    "output_tokens": "output_tokens",
    "cache_read_tokens": "cache_read_input_tokens",
    "cache_creation_tokens": "cache_creation_input_tokens",
    "cache_write_5m_tokens": "cache_creation.ephemeral_5m_input_tokens",
    "cache_write_1h_tokens": "cache_creation.ephemeral_1h_input_tokens",
}
REQUIRED_USAGE = ("input_tokens", "output_tokens")

# Audit entry fields (AuditLog in protoPayload).
AUDIT_PATHS = (
    "protoPayload.methodName",
    "protoPayload.resourceName",
    "protoPayload.status.code",
    "protoPayload.status.message",
    "protoPayload.authenticationInfo.principalEmail",
    "protoPayload.authenticationInfo.principalSubject",
    "protoPayload.requestMetadata.callerSuppliedUserAgent",
)
ENTRY_PATHS = (
    "insertId",
    "logName",
    "timestamp",
    "resource.labels.project_id",
    "resource.labels.location",
)
JSON_PATHS = ("labels", "protoPayload.authenticationInfo.serviceAccountDelegationInfo")

_counter = itertools.count()


def _shape_paths() -> list[str]:
    paths: list[str] = []
    for shape in TOKEN_SHAPES:
        paths += [shape.response_id, shape.model, *shape.endpoint]
        paths += [f"{shape.usage}.{f}" for f in USAGE_FIELDS.values()]
        if shape.principal:
            paths.append(shape.principal)
    return paths


def _structure() -> str:
    """The json_transform structure: every path we read as VARCHAR (JSON for a few), no more."""
    tree: dict[str, Any] = {}
    varchar = (*ENTRY_PATHS, *AUDIT_PATHS, *_shape_paths(), *MODEL_REFERENCES)
    leaves = [(p, "VARCHAR") for p in (*varchar, "protoPayload.serviceName")]
    leaves += [(p, "JSON") for p in JSON_PATHS]
    for path, leaf_type in leaves:
        node = tree
        *parents, leaf = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = leaf_type

    def render(node: dict[str, Any] | str) -> str:
        if isinstance(node, str):
            return f'"{node}"'
        return "{" + ",".join(f'"{k}":{render(v)}' for k, v in node.items()) + "}"

    return render(tree)


def _col(path: str) -> str:
    return "e." + ".".join(f'"{p}"' for p in path.split("."))


def _shape_case(pick: Callable[[TokenShape], str | None]) -> str:
    whens = []
    for s in TOKEN_SHAPES:
        expr = pick(s)
        whens.append(f"when '{s.name}' then {expr if expr else 'null'}")
    return f"case shape {' '.join(whens)} end"


def _usage_path(field_path: str) -> Callable[[TokenShape], str]:
    return lambda s: _col(f"{s.usage}.{field_path}")


def _endpoint_expr(s: TokenShape) -> str | None:
    if not s.endpoint:
        return None
    return "coalesce(" + ", ".join(_col(p) for p in s.endpoint) + ")"


# Where an entry names the model or service it is about, for telling out-of-scope entries
# (Gemini and other publishers' models in the same stream, other services' entries) from
# Claude entries whose shape is not known.
MODEL_REFERENCES = (
    "protoPayload.resourceName",
    "jsonPayload.endpoint",
    "jsonPayload.model",
    "jsonPayload.request.endpoint",
    "jsonPayload.response.model",
    "jsonPayload.full_response.model",
    "httpRequest.requestUrl",
)
GEMINI = "gemini"
OTHER_MODEL = "other model"
OTHER_METHOD = "other Vertex AI method"
NOT_VERTEX = "not Vertex AI"


def _skipped_sql() -> str:
    """The kind of a valid entry that is not about Claude on Vertex AI, or NULL.

    Such entries are counted by kind, not rejected: a Gemini call in a Data Access stream is
    not bad input. An entry that names Claude (or a Messages response) but has no shape we know
    stays a reject ("unknown entry kind").
    """
    claude = (
        "(model_refs like '%/publishers/anthropic/%' or model_refs like '%claude%' "
        "or contains(coalesce(response_id, ''), 'msg_vrtx_'))"
    )
    return f"""case
        when kind in ('audit', 'usage') then null
        when model_refs like '%/publishers/google/models/gemini%'
             or regexp_matches(model_refs, '(^|[ /])gemini-') then '{GEMINI}'
        when model_refs like '%/publishers/%' and not {claude} then '{OTHER_MODEL}'
        when service_name is not null and service_name <> 'aiplatform.googleapis.com'
            then '{NOT_VERTEX}'
        when kind = 'other_audit' and {claude} then '{OTHER_METHOD}'
        when kind = 'other_audit' then '{OTHER_MODEL}'
        when not {claude} and not contains(model_refs, 'aiplatform') then '{NOT_VERTEX}'
        end"""


def _classified_sql(lines_table: str) -> str:
    """One statement: text lines -> decoded entries -> kind, reason and the fields we keep."""
    shape_when = " ".join(
        f"when {_col(s.response_id)} like 'msg_vrtx_%' then '{s.name}'" for s in TOKEN_SHAPES
    )
    usage_cols = ",\n".join(
        f"{_shape_case(_usage_path(f))} as u_{name}" for name, f in USAGE_FIELDS.items()
    )
    checks = [
        ("not starts_with(ltrim(line), '{') and json_valid(line)", "'not a JSON object'"),
        ("e is null", "'malformed JSON'"),
        ("log_name is null", f"'{NOT_ENTRY}'"),
        ("insert_id is null or trim(insert_id) = ''", "'missing field insertId'"),
        ("ts_text is null", "'missing field timestamp'"),
        ("occurred_at is null", "'invalid timestamp'"),
        *((c, f"'{r}'") for c, r in bounds.timestamp_checks("occurred_at")),
        ("kind = 'unknown' and skipped is null", "'unknown entry kind'"),
    ]
    for name in USAGE_FIELDS:
        path = f"usage.{USAGE_FIELDS[name]}"
        if name in REQUIRED_USAGE:
            checks.append((f"kind = 'usage' and u_{name} is null", f"'missing field {path}'"))
        checks.append(
            (
                # try_cast('12.5' as bigint) is 13 and '1e3' casts too: a fraction or an
                # exponent is as wrong as "many" (as in Bedrock's records).
                f"kind = 'usage' and u_{name} is not null and "
                f"(try_cast(u_{name} as bigint) is null "
                f"or contains(u_{name}, '.') or contains(lower(u_{name}), 'e'))",
                f"'wrong type for {path}: expected an integer'",
            )
        )
        checks.append(
            (f"kind = 'usage' and try_cast(u_{name} as bigint) < 0", f"'negative {path}'")
        )
        checks.append(
            (
                f"kind = 'usage' and {bounds.too_many_tokens_sql(f'u_{name}')}",
                f"'{bounds.too_many_tokens_reason(path)}'",
            )
        )
    reason = "case " + " ".join(f"when {c} then {r}" for c, r in checks) + " else null end"
    return f"""
    with decoded as (
        select filename, line_no, line,
               try(json_transform(line, '{_structure()}')) as e
        from {lines_table}
        where line is not null and trim(line) <> ''
    ),
    shaped as (
        select filename, line_no, line, e,
            {_col("insertId")} as insert_id,
            {_col("logName")} as log_name,
            {_col("timestamp")} as ts_text,
            try_cast({_col("timestamp")} as timestamptz) as occurred_at,
            {_col("protoPayload.methodName")} as method,
            {_col("protoPayload.resourceName")} as resource_name,
            {_col("protoPayload.serviceName")} as service_name,
            lower(concat_ws(' ', {", ".join(_col(p) for p in MODEL_REFERENCES)})) as model_refs,
            case {shape_when} end as shape
        from decoded
    ),
    kinded as (
        select *,
            case
                when method is not null and lower(method) like '%rawpredict'
                     and resource_name like '%/publishers/anthropic/models/%' then 'audit'
                when method is not null and shape is null then 'other_audit'
                when shape is not null then 'usage'
                else 'unknown'
            end as kind,
            {_shape_case(lambda s: _col(s.response_id))} as response_id,
            {_shape_case(lambda s: _col(s.model))} as response_model,
            {_shape_case(_endpoint_expr)} as endpoint,
            {_shape_case(lambda s: _col(s.principal) if s.principal else None)} as principal,
            {usage_cols}
        from shaped
    ),
    scoped as (
        select *, {_skipped_sql()} as skipped from kinded
    )
    select filename, line_no, insert_id, log_name, occurred_at, kind, shape,
        {reason} as reject_reason,
        -- entry
        coalesce({_col("resource.labels.project_id")},
                 regexp_extract(coalesce(resource_name, endpoint, ''), 'projects/([^/]+)/', 1),
                 regexp_extract(coalesce(log_name, ''), '^projects/([^/]+)/', 1)) as project_id,
        {_col("labels")} as labels,
        -- audit
        method, resource_name,
        nullif(regexp_extract(coalesce(resource_name, endpoint, ''), '/locations/([^/]+)/', 1), '')
            as path_region,
        {_col("resource.labels.location")} as label_region,
        nullif(regexp_extract(coalesce(resource_name, endpoint, ''), '/models/([^/:?]+)', 1), '')
            as path_model_id,
        {_col("protoPayload.authenticationInfo.principalEmail")} as principal_email,
        {_col("protoPayload.authenticationInfo.principalSubject")} as principal_subject,
        cast(json_extract_string(
            {_col("protoPayload.authenticationInfo.serviceAccountDelegationInfo")},
            '$[*].firstPartyPrincipal.principalEmail') as varchar[]) as delegation_chain,
        {_col("protoPayload.requestMetadata.callerSuppliedUserAgent")} as user_agent,
        coalesce(try_cast({_col("protoPayload.status.code")} as integer), 0) as status_code,
        left({_col("protoPayload.status.message")}, 500) as status_message,
        -- usage
        response_id, response_model, endpoint, principal,
        {", ".join(f"try_cast(u_{n} as bigint) as {n}" for n in USAGE_FIELDS)},
        skipped
    from scoped
    """


@dataclass
class ParsedBatch:
    """Files parsed into two temp tables shaped like the raw tables, plus rejections."""

    audit_table: str
    usage_table: str
    audit_rows: int = 0
    usage_rows: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)
    lines_per_file: dict[str, int] = field(default_factory=dict)  # good entries per local path
    # The newest (occurred_at, insertId) read, as "ISO timestamp|insertId"; None when none.
    newest: str | None = None
    # Valid entries out of scope (another model, another service), by kind: not rejected.
    skipped: dict[str, int] = field(default_factory=dict)

    def drop(self, con: duckdb.DuckDBPyConnection) -> None:
        con.execute(f"drop table if exists {self.audit_table}")
        con.execute(f"drop table if exists {self.usage_table}")


def _lines_sql(paths: Sequence[str]) -> str:
    files = "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"
    # One VARCHAR column per line (a NUL delimiter never occurs in JSON text); `with ordinality`
    # numbers lines in file order, blank lines included, so locations are real line numbers.
    return (
        "select filename, ordinality - min(ordinality) over (partition by filename) + 1 "
        f"as line_no, line from read_csv({files}, columns={{'line': 'VARCHAR'}}, "
        "delim=chr(0), quote='', escape='', header=false, filename=true, auto_detect=false, "
        "strict_mode=false) with ordinality"
    )


def parse_files(
    con: duckdb.DuckDBPyConnection,
    paths: Sequence[str],
    *,
    source_kind: str,
    location_of: Callable[[str], str] = str,
    entry_locations: bool = False,
    scratch_dir: str | Path | None = None,
    window: tuple[datetime | None, datetime | None] = (None, None),
    windowed: Sequence[str] = (),
) -> ParsedBatch:
    """Parse local files of ``LogEntry`` objects, in any shape ``shapes.detect`` knows, in one scan.

    JSON lines (a sink's files, API pages) are read in place; a JSON array (``gcloud logging
    read --format=json``) or pretty-printed entries are rewritten one entry a line first. Gzip
    or plain, a byte-order mark and CRLF line ends are fine; the name does not matter.
    Locations are ``<location_of(path)>:<line>`` (JSON lines) or ``#<N>``, the entry's position
    in an array or pretty-printed file; with ``entry_locations`` (API pages, where a line number
    means nothing to a user) they are ``<logName>#<insertId>`` when the entry has both.
    A damaged file does not fail the batch: a truncated gzip keeps its complete lines (the file
    is rejected with their number), a line that is not UTF-8 text is rejected alone, an entry
    of a pretty-printed file that is not valid JSON is rejected alone by its index and lines,
    and a file with nothing readable, or no log entry at all, is rejected by its location.
    What is recovered is written under ``scratch_dir`` (the run's private scratch folder) and
    removed once read. Entries of the ``windowed`` files (no dated folder told what they hold)
    outside ``window`` ([start, end), --since/--until) are skipped by their own timestamps.
    """
    n = next(_counter)
    batch = ParsedBatch(audit_table=f"_vertex_audit_{n}", usage_table=f"_vertex_usage_{n}")
    lines, classified, locs = f"_vertex_lines_{n}", f"_vertex_classified_{n}", f"_vertex_locs_{n}"
    scratch = tempfile.mkdtemp(prefix="parse-", dir=scratch_dir)
    try:
        plan = _plan(con, paths, scratch, batch, location_of)
        original = {read: caller for read, caller, _sep in plan}

        def where(path: str) -> str:
            return location_of(original.get(path, path))

        reads = [read for read, _caller, _sep in plan]
        try:
            con.execute(
                f"create temp table {lines} as " + (_lines_sql(reads) if reads else _NO_LINES)
            )
        except duckdb.Error:
            # One file is unreadable as a whole (truncated gzip, a line that is not UTF-8,
            # binary): go file by file and keep what can be read of the damaged ones.
            con.execute(f"create temp table {lines} as {_NO_LINES}")
            for path in reads:
                _read_one(con, lines, path, scratch, batch, where)
        con.execute(
            f"create temp table {locs} (filename varchar, caller varchar, location varchar, "
            "sep varchar)"
        )
        con.executemany(
            f"insert into {locs} values (?, ?, ?, ?)",
            [(read, caller, location_of(caller), sep) for read, caller, sep in plan],
        )
        entry_loc = (
            "case when c.log_name is not null and c.insert_id is not null "
            "then c.log_name || '#' || c.insert_id end, "
            if entry_locations
            else ""
        )
        con.execute(
            f"""
            create temp table {classified} as
            select coalesce({entry_loc} coalesce(l.location, c.filename) || coalesce(l.sep, ':')
                            || c.line_no) as source_location,
                   coalesce(l.caller, c.filename) as caller, coalesce(l.location, c.filename)
                       as file_location, c.*
            from ({_classified_sql(lines)}) c left join {locs} l using (filename)
            """
        )
        _rejects(con, batch, classified)
        if windowed and window != (None, None):
            _skip_outside(con, classified, window, windowed)
        _split(con, batch, classified, source_kind)
    finally:
        for table in (lines, classified, locs):
            con.execute(f"drop table if exists {table}")
        shutil.rmtree(scratch, ignore_errors=True)
    return batch


OUTSIDE_WINDOW = "outside --since/--until"


def _skip_outside(
    con: duckdb.DuckDBPyConnection,
    classified: str,
    window: tuple[datetime | None, datetime | None],
    windowed: Sequence[str],
) -> None:
    start, end = window
    outside = []
    params: list[Any] = [list(windowed)]
    if start is not None:
        outside.append("occurred_at < ?")
        params.append(start)
    if end is not None:
        outside.append("occurred_at >= ?")
        params.append(end)
    con.execute(
        f"update {classified} set skipped = '{OUTSIDE_WINDOW}' where reject_reason is null "
        f"and list_contains(?, caller) and ({' or '.join(outside)})",
        params,
    )


_NO_LINES = (
    "select null::varchar as filename, null::bigint as line_no, null::varchar as line limit 0"
)


def _plan(
    con: duckdb.DuckDBPyConnection,
    paths: Sequence[str],
    scratch: str,
    batch: ParsedBatch,
    location_of: Callable[[str], str],
) -> list[tuple[str, str, str]]:
    """(path the scan reads, the caller's path, the location's separator) of each readable file;
    files of no Cloud Logging shape are rejected here by their location."""
    plan: list[tuple[str, str, str]] = []
    for i, path in enumerate(paths):
        text = shapes.as_utf8(path, scratch, f"utf8-{i}") or path  # UTF-16 (PowerShell 5.1)
        shape = shapes.detect(text)
        if shape.kind == shapes.LINES:
            plan.append((_named_for_duckdb(text, shape.gzip, scratch, i), path, ":"))
            continue
        if shape.kind not in (shapes.ARRAY, shapes.DOCUMENT):
            binary = shape.kind == shapes.UNKNOWN and not shapes.looks_like_text(text)
            batch.rejected.append((location_of(path), UNREADABLE if binary else NO_ENTRY))
            continue
        out = os.path.join(scratch, f"shape-{i}.ndjson")
        readable, rejects = shapes.rewrite(con, text, shape, out, empty=NO_ENTRY)
        batch.rejected.extend((location_of(path) + where, reason) for where, reason in rejects)
        if not readable:
            continue
        plan.append((out, path, "#"))
    return plan


_GLOB_CHARS = frozenset("*?[]{}")


def _named_for_duckdb(path: str, gzip: bool, scratch: str, i: int) -> str:
    """``path``, or a link to it whose name tells DuckDB what it is: DuckDB expands glob
    characters and picks gzip by the name, and a sink file may be gzip by any name."""
    named_gz = path.lower().endswith(".gz")
    if gzip == named_gz and not _GLOB_CHARS & set(path):
        return path
    link = os.path.join(scratch, f"link-{i}.ndjson" + (".gz" if gzip else ""))
    os.symlink(os.path.abspath(path), link)
    return link


def _rejects(con: duckdb.DuckDBPyConnection, batch: ParsedBatch, classified: str) -> None:
    """The page's rejects in file and line order; a file in which no line is a log entry (and
    some line is JSON that is not one) is rejected once, by its location."""
    batch.rejected.extend(
        (str(loc), str(reason))
        for loc, reason, _file, _line in con.execute(
            f"""
            with per_file as (
                select caller,
                       bool_and(reject_reason is not distinct from '{NOT_ENTRY}') as no_entry
                from {classified} group by caller
            )
            select source_location, reject_reason, filename, line_no
            from {classified} join per_file using (caller)
            where reject_reason is not null and not no_entry
            union all
            select any_value(file_location), '{NO_ENTRY}', any_value(filename), 0
            from {classified} join per_file using (caller)
            where no_entry group by caller
            order by 3, 4
            """
        ).fetchall()
    )


def _read_one(
    con: duckdb.DuckDBPyConnection,
    lines: str,
    path: str,
    scratch: str,
    batch: ParsedBatch,
    location_of: Callable[[str], str],
) -> None:
    """Add one file's lines to ``lines``, or what can be read of it when it is damaged
    (``location_of`` takes the path read: a scratch copy is named by its original)."""
    try:
        con.execute(f"insert into {lines} {_lines_sql([path])}")
        return
    except duckdb.Error:
        pass
    recovery = recover(path, scratch, blank_invalid_utf8=True)
    if recovery.reason is not None:
        batch.rejected.append((location_of(path), recovery.reason))
    if recovery.path is None:
        return
    try:
        # Lines keep the damaged file's name and numbers (blanked lines are not entries).
        con.execute(
            f"insert into {lines} select $1, line_no, line from ({_lines_sql([recovery.path])})",
            [path],
        )
    except duckdb.Error:
        if recovery.reason is None:
            batch.rejected.append((location_of(path), UNREADABLE))
        return
    batch.rejected.extend(
        (f"{location_of(path)}:{n}", INVALID_UTF8) for n in recovery.invalid_lines
    )


def _split(con: duckdb.DuckDBPyConnection, batch: ParsedBatch, classified: str, kind: str) -> None:
    good = f"from {classified} where reject_reason is null"
    con.execute(
        f"""
        create temp table {batch.audit_table} as
        select insert_id, occurred_at, log_name, project_id,
               coalesce(path_region, label_region) as region, method, resource_name,
               path_model_id as model_id, principal_email, principal_subject, delegation_chain,
               user_agent, status_code, status_message, labels,
               '{kind}' as source_kind, source_location
        {good} and kind = 'audit' and skipped is null
        """
    )
    con.execute(
        f"""
        create temp table {batch.usage_table} as
        select insert_id, occurred_at, log_name, shape, project_id,
               coalesce(path_region, label_region) as region, endpoint, response_id,
               coalesce(path_model_id, response_model) as model_id, response_model, principal,
               input_tokens, output_tokens,
               coalesce(cache_read_tokens, 0) as cache_read_tokens,
               coalesce(cache_creation_tokens,
                        cache_write_5m_tokens + coalesce(cache_write_1h_tokens, 0), 0)
                   as cache_creation_tokens,
               cache_write_5m_tokens, cache_write_1h_tokens, labels,
               '{kind}' as source_kind, source_location
        {good} and kind = 'usage' and skipped is null
        """
    )
    batch.audit_rows = _count(con, batch.audit_table)
    batch.usage_rows = _count(con, batch.usage_table)
    batch.lines_per_file = {
        str(f): int(c)
        for f, c in con.execute(
            f"select caller, count(*) {good} and skipped is null group by caller"
        ).fetchall()
    }
    batch.skipped = {
        str(kind): int(c)
        for kind, c in con.execute(
            f"select skipped, count(*) {good} and skipped is not null group by 1 order by 1"
        ).fetchall()
    }
    row = con.execute(
        f"select strftime(occurred_at, '%Y-%m-%dT%H:%M:%S.%fZ') || '|' || insert_id "
        f"from {classified} where occurred_at is not null and insert_id is not null "
        f"and reject_reason is distinct from '{bounds.FUTURE_REASON}' "
        "order by occurred_at desc, insert_id desc limit 1"
    ).fetchone()
    batch.newest = str(row[0]) if row else None


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    row = con.execute(f"select count(*) from {table}").fetchone()
    return int(row[0]) if row else 0


def _midnight(day: date | None) -> datetime | None:
    return None if day is None else datetime.combine(day, time(), UTC)


def page_format(source_kind: str, *, entry_locations: bool = False) -> Format:
    """The format of pages of ``LogEntry`` lines, for a transport recorded as ``source_kind``
    (``api``, ``files``) in the raw tables.

    With ``entry_locations`` (API pages) rejects are located by ``<logName>#<insertId>`` and the
    page's newest ``timestamp|insertId`` becomes the cursor of the partition the transport names
    in ``page.meta["partition"]`` (the project).
    """

    def parse(con: duckdb.DuckDBPyConnection, page: Page, run: SourceRun) -> Parsed:
        locations = {f.path: f.location for f in page.files}
        batch = parse_files(
            con,
            [f.path for f in page.files],
            source_kind=source_kind,
            location_of=lambda path: locations.get(path, path),
            entry_locations=entry_locations,
            scratch_dir=run.scratch,
            window=(_midnight(run.since), _midnight(run.until)),
            windowed=page.meta.get("windowed", ()),
        )
        partition = page.meta.get("partition")
        return Parsed(
            rows={AUDIT_TABLE: batch.audit_table, USAGE_TABLE: batch.usage_table},
            rejected=batch.rejected,
            records_per_file=batch.lines_per_file,
            cursors={str(partition): batch.newest} if partition and batch.newest else {},
            skipped=batch.skipped,
            count=batch.audit_rows + batch.usage_rows,
            cleanup=batch.drop,
        )

    return parse
