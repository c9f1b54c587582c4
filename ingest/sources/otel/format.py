"""OTLP JSON lines of Claude Code telemetry: the raw tables and the parser.

Each line is one ``ExportLogsServiceRequest`` or ``ExportMetricsServiceRequest`` in OTLP JSON
(``llmledger collect`` writes them; so does the OpenTelemetry Collector's ``file`` exporter).
A page's files are read as text lines and flattened in SQL (``json_transform`` + ``unnest``):
``resourceLogs[] -> scopeLogs[] -> logRecords[]`` and ``resourceMetrics[] -> scopeMetrics[] ->
metrics[] -> sum|gauge.dataPoints[]``. Attributes become a list of (key, value) text pairs,
record attributes before resource attributes, read by name (``_attr``).

Rows (reference/otel.md):

- ``claude_code.api_request`` and ``claude_code.api_error`` log events -> ``raw_claude_code``:
  model, the four token counts, the client's cost, duration, request id, session, the
  identity attributes (``user.email``, ``user.account_uuid``, ``user.id``, ``organization.id``)
  and ``team.id`` / ``cost_center``; ``attributes`` keeps the other short string attributes
  (never a body-like key: prompt text, tool parameters, bodies) for a configured identity key.
  Other events (``user_prompt``, ``tool_result``, ...) are not read.
- ``claude_code.*`` sum and gauge data points -> ``raw_claude_code_metrics`` with their
  temporality (delta or cumulative), attributes and value.

A line that is not JSON or not an OTLP export request, and an ``api_request`` missing its
model or token counts (or with impossible ones), goes to ``rejected_records``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import duckdb

from ingest import bounds
from ingest.source import Page, Parsed, RawTable, SourceRun

EVENTS_TABLE = "raw_claude_code"
METRICS_TABLE = "raw_claude_code_metrics"

_EVENTS_DDL = f"""
create table if not exists {EVENTS_TABLE} (
    event_key varchar not null,
    occurred_at timestamptz not null,
    event_name varchar not null,
    session_id varchar,
    prompt_id varchar,
    event_sequence bigint,
    request_id varchar,
    model varchar,
    input_tokens bigint,
    output_tokens bigint,
    cache_read_tokens bigint,
    cache_creation_tokens bigint,
    cost_usd decimal(38, 12),
    duration_ms bigint,
    query_source varchar,
    error varchar,
    status_code varchar,
    attempt integer,
    user_email varchar,
    user_account_uuid varchar,
    user_id varchar,
    organization_id varchar,
    team_id varchar,
    cost_center varchar,
    service_name varchar,
    app_version varchar,
    attributes json,
    source_location varchar not null
)
"""
_METRICS_DDL = f"""
create table if not exists {METRICS_TABLE} (
    point_key varchar not null,
    metric_name varchar not null,
    temporality varchar not null,
    start_at timestamptz,
    occurred_at timestamptz not null,
    value decimal(38, 12) not null,
    token_type varchar,
    model varchar,
    session_id varchar,
    user_email varchar,
    user_account_uuid varchar,
    user_id varchar,
    organization_id varchar,
    team_id varchar,
    cost_center varchar,
    attributes json,
    source_location varchar not null
)
"""
RAW_EVENTS = RawTable(EVENTS_TABLE, _EVENTS_DDL, ("event_key",))
RAW_METRICS = RawTable(METRICS_TABLE, _METRICS_DDL, ("point_key",))

EVENT_NAMES = ("api_request", "api_error")
# Attribute keys never kept in ``attributes`` (the collector drops them too; files written by
# another collector may still hold them): prompt text, tool parameters, bodies.
BODY_KEY_RE = (
    r"(?i)(^|[._])(prompts?|body|bodies|content|contents|messages?|response|completion|"
    r"parameters|tool_input|tool_output|tool_result|tool_response|input|output|arguments|args|"
    r"command|text|system|stdin|stdout|stderr|diff|old_string|new_string)$"
)
MAX_ATTRIBUTE_CHARS = 256
TOKEN_FIELDS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens")
TEMPORALITY = {
    "1": "delta",
    "2": "cumulative",
    "AGGREGATION_TEMPORALITY_DELTA": "delta",
    "AGGREGATION_TEMPORALITY_CUMULATIVE": "cumulative",
}

_counter = itertools.count()


def _lines_sql(paths: Sequence[str]) -> str:
    files = "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"
    # One VARCHAR per line (a NUL delimiter never occurs in JSON text), numbered in file order.
    return (
        "select filename, ordinality - min(ordinality) over (partition by filename) + 1 "
        f"as line_no, line from read_csv({files}, columns={{'line': 'VARCHAR'}}, "
        "delim=chr(0), quote='', escape='', header=false, filename=true, auto_detect=false, "
        "strict_mode=false, max_line_size=67108864, buffer_size=67108864) with ordinality"
    )


# One json_transform per line into exactly these fields (each line is parsed once more, not
# once per attribute); attribute values of any scalar type come out as text.
_ATTRS = (
    '[{"key":"VARCHAR","value":{"stringValue":"VARCHAR","intValue":"VARCHAR",'
    '"doubleValue":"VARCHAR","boolValue":"VARCHAR"}}]'
)
LOGS_STRUCTURE = (
    '{"resourceLogs":[{"resource":{"attributes":' + _ATTRS + '},"scopeLogs":[{"logRecords":['
    '{"timeUnixNano":"VARCHAR","observedTimeUnixNano":"VARCHAR","eventName":"VARCHAR",'
    '"body":{"stringValue":"VARCHAR"},"attributes":' + _ATTRS + "}]}]}]}"
)
_POINT = (
    '{"startTimeUnixNano":"VARCHAR","timeUnixNano":"VARCHAR","asInt":"VARCHAR",'
    '"asDouble":"VARCHAR","attributes":' + _ATTRS + "}"
)
METRICS_STRUCTURE = (
    '{"resourceMetrics":[{"resource":{"attributes":' + _ATTRS + '},"scopeMetrics":[{"metrics":['
    '{"name":"VARCHAR","sum":{"aggregationTemporality":"VARCHAR","dataPoints":[' + _POINT + "]},"
    '"gauge":{"dataPoints":[' + _POINT + "]}}]}]}]}"
)


def _attrs(list_expr: str) -> str:
    """A transformed ``attributes`` list as {k, v} text structs (scalar values only)."""
    return (
        f"list_transform(coalesce({list_expr}, []), lambda a: struct_pack(k := a.key, "
        "v := coalesce(a.value.stringValue, a.value.intValue, a.value.doubleValue, "
        "a.value.boolValue)))"
    )


def _attr(name: str) -> str:
    return f"list_filter(attrs, lambda a: a.k = '{name}')[1].v"


def _first_attr(*names: str) -> str:
    return "coalesce(" + ", ".join(_attr(n) for n in names) + ")"


def _kept_attributes() -> str:
    """Short string attributes that name no body, as a JSON object (first key wins)."""
    kept = (
        "list_filter(attrs, lambda a: a.k is not null and a.v is not null "
        f"and length(a.v) <= {MAX_ATTRIBUTE_CHARS} and not regexp_matches(a.k, '{BODY_KEY_RE}'))"
    )
    return (
        f"to_json(map_from_entries(list_transform(list_distinct(list_transform({kept}, "
        "lambda a: a.k)), lambda key: struct_pack(k := key, v := list_filter(attrs, "
        "lambda b: b.k = key and b.v is not null)[1].v))))"
    )


def _time(ns: str) -> str:
    return (
        f"case when try_cast({ns} as hugeint) > 0 "
        f"then timezone('UTC', make_timestamp(cast(try_cast({ns} as hugeint) // 1000 as bigint))) "
        "end"
    )


def _int_check(column: str, label: str) -> list[tuple[str, str]]:
    return [
        (
            f"{column} is not null and (try_cast({column} as bigint) is null "
            f"or contains({column}, '.') or contains(lower({column}), 'e'))",
            f"'wrong type for {label}: expected an integer'",
        ),
        (f"try_cast({column} as bigint) < 0", f"'negative {label}'"),
        (bounds.too_many_tokens_sql(column), f"'{bounds.too_many_tokens_reason(label)}'"),
    ]


def _events_sql(lines: str) -> str:
    """Line -> log record rows with their reject reason (NULL: good)."""
    checks: list[tuple[str, str]] = [
        ("occurred_at is null", "'missing field timeUnixNano'"),
        *((c, f"'{r}'") for c, r in bounds.timestamp_checks("occurred_at")),
        ("event_name = 'api_request' and model is null", "'missing attribute model'"),
        ("event_name = 'api_request' and t_input is null", "'missing attribute input_tokens'"),
        ("event_name = 'api_request' and t_output is null", "'missing attribute output_tokens'"),
    ]
    for name in TOKEN_FIELDS:
        checks += _int_check(f"t_{name.removesuffix('_tokens')}", name)
    checks.append(
        ("t_cost is not null and try_cast(t_cost as decimal(38, 12)) is null", "'invalid cost_usd'")
    )
    checks.append(("try_cast(t_cost as decimal(38, 12)) < 0", "'negative cost_usd'"))
    reason = "case " + " ".join(f"when {c} then {r}" for c, r in checks) + " else null end"
    return f"""
    with transformed as (
        select filename, line_no, try(json_transform(j, '{LOGS_STRUCTURE}')) as t
        from {lines}_decoded where j is not null and json_exists(j, '$.resourceLogs')
    ),
    resources as (
        select filename, line_no, unnest(t.resourceLogs) as r from transformed
    ),
    scopes as (
        select filename, line_no, {_attrs("r.resource.attributes")} as r_attrs,
               unnest(r.scopeLogs) as s
        from resources
    ),
    records as (
        select filename, line_no, r_attrs, unnest(s.logRecords) as rec from scopes
    ),
    attributed as (
        select *, row_number() over (partition by filename, line_no) as rec_no,
               list_concat({_attrs("rec.attributes")}, r_attrs) as attrs
        from records
    ),
    named as (
        select *,
            regexp_replace(coalesce(rec.eventName, {_attr("event.name")}, rec.body.stringValue),
                '^claude_code\\.', '')
                as event_name
        from attributed
    ),
    fields as (
        select filename, line_no, rec_no, event_name, attrs,
            coalesce({_time("rec.timeUnixNano")},
                     try_cast({_attr("event.timestamp")} as timestamptz),
                     {_time("rec.observedTimeUnixNano")})
                as occurred_at,
            rec.timeUnixNano as time_ns,
            {_attr("session.id")} as session_id,
            {_attr("prompt.id")} as prompt_id,
            try_cast({_attr("event.sequence")} as bigint) as event_sequence,
            {_first_attr("request_id", "request.id")} as request_id,
            {_attr("model")} as model,
            {_attr("input_tokens")} as t_input,
            {_attr("output_tokens")} as t_output,
            {_attr("cache_read_tokens")} as t_cache_read,
            {_attr("cache_creation_tokens")} as t_cache_creation,
            {_attr("cost_usd")} as t_cost,
            try_cast({_attr("duration_ms")} as double) as duration_ms,
            {_attr("query_source")} as query_source,
            left({_attr("error")}, 500) as error,
            {_attr("status_code")} as status_code,
            try_cast({_attr("attempt")} as integer) as attempt,
            {_attr("user.email")} as user_email,
            {_attr("user.account_uuid")} as user_account_uuid,
            {_attr("user.id")} as user_id,
            {_attr("organization.id")} as organization_id,
            {_first_attr("team.id", "team_id", "team")} as team_id,
            {_first_attr("cost_center", "cost.center", "cost_centre")} as cost_center,
            {_attr("service.name")} as service_name,
            {_first_attr("app.version", "service.version")} as app_version
        from named
        where event_name in ({", ".join(f"'{n}'" for n in EVENT_NAMES)})
    )
    select *, {reason} as reject_reason from fields
    """


def _metrics_sql(lines: str) -> str:
    value = (
        "coalesce(try_cast(p.asInt as decimal(38, 12)), try_cast(p.asDouble as decimal(38, 12)))"
    )
    return f"""
    with transformed as (
        select filename, line_no, try(json_transform(j, '{METRICS_STRUCTURE}')) as t
        from {lines}_decoded where j is not null and json_exists(j, '$.resourceMetrics')
    ),
    resources as (
        select filename, line_no, unnest(t.resourceMetrics) as r from transformed
    ),
    scopes as (
        select filename, line_no, {_attrs("r.resource.attributes")} as r_attrs,
               unnest(r.scopeMetrics) as s
        from resources
    ),
    metrics as (
        select filename, line_no, r_attrs, unnest(s.metrics) as m from scopes
    ),
    points as (
        select filename, line_no, r_attrs, m.name as metric_name,
            coalesce(m.sum.aggregationTemporality, '0') as temporality_code,
            unnest(coalesce(m.sum.dataPoints, m.gauge.dataPoints)) as p
        from metrics
        where m.name like 'claude\\_code.%' escape '\\'
    ),
    fields as (
        select filename, line_no, metric_name, temporality_code,
            list_concat({_attrs("p.attributes")}, r_attrs) as attrs,
            {_time("p.startTimeUnixNano")} as start_at,
            {_time("p.timeUnixNano")} as occurred_at,
            {value} as value,
            p
        from points
    )
    select *,
        case
            when occurred_at is null then 'missing field timeUnixNano'
            when value is null then 'missing value asInt or asDouble'
            {" ".join(f"when {c} then '{r}'" for c, r in bounds.timestamp_checks("occurred_at"))}
        end as reject_reason
    from fields
    """


def parse(con: duckdb.DuckDBPyConnection, page: Page, run: SourceRun) -> Parsed:
    """Parse a page of OTLP JSON-lines files into the two raw tables and the rejects."""
    n = next(_counter)
    lines, events, metrics = f"_otel_lines_{n}", f"_otel_events_{n}", f"_otel_metrics_{n}"
    locations = {f.path: f.location for f in page.files}
    rejected: list[tuple[str, str]] = []
    con.execute(f"create temp table {lines} (filename varchar, line_no bigint, line varchar)")
    for f in page.files:
        try:
            con.execute(f"insert into {lines} {_lines_sql([f.path])}")
        except duckdb.Error:
            rejected.append((f.location, "unreadable file (not UTF-8 JSON lines, or damaged gzip)"))
    con.execute(
        f"""
        create temp table {lines}_decoded as
        select filename, line_no, j,
            case
                when j is null then 'malformed JSON'
                when json_type(j) <> 'OBJECT' then 'not a JSON object'
                when json_extract(j, '$.resourceLogs') is null
                     and json_extract(j, '$.resourceMetrics') is null
                    then 'not an OTLP export request (no resourceLogs or resourceMetrics)'
            end as reject_reason
        from (select filename, line_no, try(json(line)) as j from {lines}
              where line is not null and trim(line) <> '')
        """
    )
    loc_rows = [(p, loc) for p, loc in locations.items()]
    con.execute(f"create temp table {lines}_locs (filename varchar, location varchar)")
    con.executemany(f"insert into {lines}_locs values (?, ?)", loc_rows)
    rejected += [
        (str(loc), str(reason))
        for loc, reason in con.execute(
            f"select coalesce(l.location, d.filename) || ':' || d.line_no, d.reject_reason "
            f"from {lines}_decoded d left join {lines}_locs l using (filename) "
            "where d.reject_reason is not null order by d.filename, d.line_no"
        ).fetchall()
    ]
    con.execute(
        f"""
        create temp table {events}_all as
        select coalesce(l.location, e.filename) || ':' || e.line_no || '#' || e.rec_no
            as source_location, e.*
        from ({_events_sql(lines)}) e left join {lines}_locs l using (filename)
        """
    )
    rejected += [
        (str(loc), str(reason))
        for loc, reason in con.execute(
            f"select source_location, reject_reason from {events}_all "
            "where reject_reason is not null order by filename, line_no, rec_no"
        ).fetchall()
    ]
    con.execute(
        f"""
        create temp table {events} as
        select
            md5(concat_ws('|', event_name, coalesce(time_ns, cast(occurred_at as varchar)),
                session_id, event_sequence, prompt_id, request_id, user_id, user_email,
                user_account_uuid, organization_id, model, t_input,
                t_output, t_cache_read, t_cache_creation, t_cost)) as event_key,
            occurred_at, event_name, session_id, prompt_id, event_sequence, request_id, model,
            cast(t_input as bigint) as input_tokens,
            cast(t_output as bigint) as output_tokens,
            cast(t_cache_read as bigint) as cache_read_tokens,
            cast(t_cache_creation as bigint) as cache_creation_tokens,
            cast(t_cost as decimal(38, 12)) as cost_usd,
            cast(round(duration_ms) as bigint) as duration_ms,
            query_source, error, status_code, attempt,
            user_email, user_account_uuid, user_id, organization_id, team_id, cost_center,
            service_name, app_version,
            {_kept_attributes()} as attributes,
            source_location
        from {events}_all
        where reject_reason is null
        """
    )
    con.execute(
        f"""
        create temp table {metrics}_all as
        select coalesce(l.location, m.filename) || ':' || m.line_no as source_location, m.*
        from ({_metrics_sql(lines)}) m left join {lines}_locs l using (filename)
        """
    )
    rejected += [
        (str(loc), str(reason))
        for loc, reason in con.execute(
            f"select source_location, reject_reason from {metrics}_all "
            "where reject_reason is not null order by filename, line_no"
        ).fetchall()
    ]
    temporality = " ".join(f"when '{k}' then '{v}'" for k, v in TEMPORALITY.items())
    con.execute(
        f"""
        create temp table {metrics} as
        select
            md5(concat_ws('|', metric_name, cast(start_at as varchar), cast(occurred_at as varchar),
                cast(to_json(attrs) as varchar))) as point_key,
            metric_name,
            case temporality_code {temporality} else 'gauge' end as temporality,
            start_at, occurred_at, value,
            {_attr("type")} as token_type,
            {_attr("model")} as model,
            {_attr("session.id")} as session_id,
            {_attr("user.email")} as user_email,
            {_attr("user.account_uuid")} as user_account_uuid,
            {_attr("user.id")} as user_id,
            {_attr("organization.id")} as organization_id,
            {_first_attr("team.id", "team_id", "team")} as team_id,
            {_first_attr("cost_center", "cost.center", "cost_centre")} as cost_center,
            {_kept_attributes()} as attributes,
            source_location
        from {metrics}_all
        where reject_reason is null
        """
    )
    per_file = {
        str(f): int(c)
        for f, c in con.execute(
            f"select filename, count(*) from {lines}_decoded where reject_reason is null "
            "group by filename"
        ).fetchall()
    }
    counts = [
        int(row[0]) if row else 0
        for row in (con.execute(f"select count(*) from {t}").fetchone() for t in (events, metrics))
    ]

    def cleanup(c: duckdb.DuckDBPyConnection) -> None:
        for table in (
            lines,
            f"{lines}_decoded",
            f"{lines}_locs",
            f"{events}_all",
            events,
            f"{metrics}_all",
            metrics,
        ):
            c.execute(f"drop table if exists {table}")

    return Parsed(
        rows={EVENTS_TABLE: events, METRICS_TABLE: metrics},
        rejected=rejected,
        records_per_file=per_file,
        count=sum(counts),
        cleanup=cleanup,
    )
