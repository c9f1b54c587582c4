"""Bulk parsing of LiteLLM spend-log pages in DuckDB, shared by the PostgreSQL, file and REST sources.

Every source first lands a page as a *wire* table: one VARCHAR column per field in ``WIRE_COLUMNS``
(PostgreSQL's COPY CSV, a CSV dump, or a REST page's JSON rows), plus ``location`` (where a
rejected row came from: a table/request id, a file:line, a page URL). ``parse_spend`` turns the
whole page into ``raw_litellm_spend`` rows in one SQL statement: casts, the fields we keep out of
``metadata`` (token details, key/team snapshots, error information), and one fixed rejection reason
per bad row. Only the fields listed here leave ``metadata``; ``proxy_server_request``, message and
response bodies, tracebacks and error messages never reach the database.

Vendor field names appear here, in ``ingest/litellm*.py`` and in ``models/staging/stg_litellm.sql``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import duckdb

RAW_TABLE = "raw_litellm_spend"

WIRE_COLUMNS = [
    "request_id",
    "call_type",
    "api_key",
    "spend",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "start_time",
    "end_time",
    "model",
    "model_id",
    "model_group",
    "custom_llm_provider",
    "api_base",
    "user_id",
    "team_id",
    "organization_id",
    "end_user",
    "session_id",
    "status",
    "cache_hit",
    "request_tags",
    "metadata",
]

RAW_SPEND_DDL = f"""
    create table if not exists {RAW_TABLE} (
        request_id varchar primary key,
        start_time timestamptz not null,
        end_time timestamptz,
        call_type varchar,
        api_key varchar,                 -- SHA-256 of the virtual key (LiteLLM_VerificationToken.token)
        spend decimal(38,12),            -- LiteLLM's own estimate, exact from its text form
        prompt_tokens bigint,            -- for Claude this INCLUDES cache read and cache creation
        completion_tokens bigint,
        total_tokens bigint,
        cache_read_tokens bigint,        -- metadata.usage_object; NULL when not reported
        cache_creation_tokens bigint,
        cache_write_5m_tokens bigint,
        cache_write_1h_tokens bigint,
        model varchar,
        model_group varchar,
        deployment_id varchar,           -- LiteLLM's model_id column: the deployment's id
        custom_llm_provider varchar,
        api_base varchar,
        user_id varchar,                 -- internal user owning the key (not end_user)
        team_id varchar,
        organization_id varchar,
        end_user varchar,                -- Claude Code fills it with a per-session blob: not a person
        session_id varchar,
        status varchar,
        cache_hit varchar,
        key_alias varchar,               -- request-time snapshots from metadata.user_api_key_*
        key_user_id varchar,
        key_user_email varchar,
        key_team_id varchar,
        key_team_alias varchar,
        key_project_alias varchar,
        error_code varchar,              -- metadata.error_information
        error_class varchar,
        error_llm_provider varchar,
        rate_limit_category varchar,
        rate_limit_type varchar,
        provider_request_id varchar,
        model_map_key varchar,
        internal_call_origin varchar,
        request_tags json,
        spend_logs_metadata json,
        proxy varchar not null,          -- the configured proxy name ('default' unless named)
        source_kind varchar not null,    -- 'postgres' | 'files' | 'api'
        source_location varchar not null
    )
"""

_counter = itertools.count()

# The metadata keys that leave the proxy's database (see ingest.litellm); nothing else does.
METADATA_KEYS = [
    "usage_object",
    "additional_usage_values",
    "user_api_key_alias",
    "user_api_key_user_id",
    "user_api_key_user_email",
    "user_api_key_team_id",
    "user_api_key_team_alias",
    "user_api_key_project_alias",
    "status",
    "internal_call_origin",
    "spend_logs_metadata",
    "model_map_information",
    "error_information",
]
JSON_KEYS = {"usage_object", "additional_usage_values", "spend_logs_metadata",
             "error_information"}
# A wire may carry these keys already split out of metadata (the PostgreSQL source does: it reads
# them with one jsonb_to_record); otherwise they are split out of the metadata JSON here.
SPLIT_COLUMNS = {
    f"meta_{key}" if key != "model_map_information" else "meta_model_map_key": key
    for key in METADATA_KEYS
}
_TOP_SHAPE = "{" + ", ".join(
    f'"{key}": ' + ('"JSON"' if key in JSON_KEYS else
                    '{"model_map_key": "VARCHAR"}' if key == "model_map_information" else
                    '"VARCHAR"')
    for key in METADATA_KEYS
) + "}"
_USAGE_SHAPE = (
    '{"cache_read_input_tokens": "JSON", "cache_creation_input_tokens": "JSON",'
    ' "cache_creation": {"ephemeral_5m_input_tokens": "JSON", "ephemeral_1h_input_tokens": "JSON"},'
    ' "prompt_tokens_details": {"cached_tokens": "JSON", "cache_creation_tokens": "JSON",'
    ' "cache_write_tokens": "JSON", "cache_creation_token_details":'
    ' {"ephemeral_5m_input_tokens": "JSON", "ephemeral_1h_input_tokens": "JSON"}}}'
)
_ERROR_SHAPE = (
    '{"error_code": "VARCHAR", "error_class": "VARCHAR", "llm_provider": "VARCHAR",'
    ' "error_provider_request_id": "VARCHAR", "error_rate_limit_category": "VARCHAR",'
    ' "error_rate_limit_type": "VARCHAR"}'
)

_TOKEN_PATHS = {  # raw column -> metadata paths, first present wins
    "cache_read_tokens": [
        "usage_object.cache_read_input_tokens",
        "usage_object.prompt_tokens_details.cached_tokens",
        "additional_usage_values.cache_read_input_tokens",
        "additional_usage_values.prompt_tokens_details.cached_tokens",
    ],
    "cache_creation_tokens": [
        "usage_object.cache_creation_input_tokens",
        "usage_object.prompt_tokens_details.cache_creation_tokens",
        "usage_object.prompt_tokens_details.cache_write_tokens",
        "additional_usage_values.cache_creation_input_tokens",
        "additional_usage_values.prompt_tokens_details.cache_creation_tokens",
        "additional_usage_values.prompt_tokens_details.cache_write_tokens",
    ],
    "cache_write_5m_tokens": [
        "usage_object.prompt_tokens_details.cache_creation_token_details.ephemeral_5m_input_tokens",
        "usage_object.cache_creation.ephemeral_5m_input_tokens",
        "additional_usage_values.prompt_tokens_details.cache_creation_token_details"
        ".ephemeral_5m_input_tokens",
        "additional_usage_values.cache_creation.ephemeral_5m_input_tokens",
    ],
    "cache_write_1h_tokens": [
        "usage_object.prompt_tokens_details.cache_creation_token_details.ephemeral_1h_input_tokens",
        "usage_object.cache_creation.ephemeral_1h_input_tokens",
        "additional_usage_values.prompt_tokens_details.cache_creation_token_details"
        ".ephemeral_1h_input_tokens",
        "additional_usage_values.cache_creation.ephemeral_1h_input_tokens",
    ],
}
_INT_COLUMNS = ["prompt_tokens", "completion_tokens", "total_tokens"]
_ALL_TOKEN_PATHS = [p for paths in _TOKEN_PATHS.values() for p in paths]


@dataclass
class ParsedPage:
    table: str  # temp table with exactly raw_litellm_spend's columns
    rows: int
    rejected: list[tuple[str, str]] = field(default_factory=list)
    max_start: str | None = None  # ISO UTC of the latest good "startTime"
    last_key: tuple[str, str] | None = None  # (start_time as sent, request_id) of the last row


def _json_int(path: str) -> str:
    return f"try_cast({path} as bigint)"


def _reject_sql() -> str:
    """A CASE naming the first thing wrong with a row, NULL when it is fine. Fixed texts only."""
    checks = [
        ("request_id is null or trim(request_id) = ''", "missing field request_id"),
        ("start_time is null or try_cast(start_time as timestamptz) is null",
         "missing or invalid startTime"),
        ("spend is not null and try_cast(spend as decimal(38,12)) is null",
         "wrong type for spend: expected a number"),
    ]
    for col in _INT_COLUMNS:
        # the cast back also rejects 12.5 and 1e3 (try_cast('12.5' as bigint) is 13)
        checks.append((f"{col} is not null and coalesce(cast(try_cast({col} as bigint) as "
                       f"varchar) <> trim({col}), true)",
                       f"wrong type for {col}: expected an integer"))
        checks.append((f"try_cast({col} as bigint) < 0", f"negative {col}"))
    checks += [
        ("metadata is not null and meta_json is null", "malformed metadata: invalid JSON"),
        ("metadata is not null and meta_type <> 'OBJECT'", "malformed metadata: not a JSON object"),
        ("usage_type is not null and usage_type not in ('OBJECT', 'NULL')",
         "malformed metadata: usage_object is not an object"),
    ]
    bad = " or ".join(
        f"({p} is not null and json_type({p}) not in ('NULL', 'UBIGINT', "
        f"'BIGINT'))" for p in _ALL_TOKEN_PATHS
    )
    checks.append((bad, "malformed metadata: token count is not an integer"))
    negative = " or ".join(f"{_json_int(p)} < 0" for p in _ALL_TOKEN_PATHS)
    checks.append((negative, "malformed metadata: negative token count"))
    whens = " ".join(f"when {cond} then '{reason}'" for cond, reason in checks)
    return f"case {whens} else null end"


def _coalesce_tokens(column: str) -> str:
    return "coalesce(" + ", ".join(_json_int(p) for p in _TOKEN_PATHS[column]) + ")"


def parse_spend(
    con: duckdb.DuckDBPyConnection,
    wire: str,
    *,
    proxy: str,
    source_kind: str,
) -> ParsedPage:
    """Parse the wire table ``wire`` (VARCHAR columns + location) into raw rows and rejections."""
    name = f"_litellm_page_{next(_counter)}"
    have = {str(r[0]) for r in con.execute(f"select column_name from (describe {wire})")
            .fetchall()}
    split = []
    for column, key in SPLIT_COLUMNS.items():
        from_meta = ("t.m.model_map_information.model_map_key" if key == "model_map_information"
                     else f"t.m.{key}")
        given = f"t.{column}" if column in have else "null"
        kind = "json" if key in JSON_KEYS else "varchar"
        split.append(f"coalesce(try_cast({given} as {kind}), {from_meta}) as {column}")
    con.execute(
        f"""
        create temp table {name}_checked as
        with prepared as (
            select w.*,
                   try_cast(w.metadata as json) as meta_first
            from {wire} w
        ),
        unwrapped as (
            -- Older writers stored metadata as a JSON-encoded string: unwrap one level.
            select p.*,
                   case when json_type(p.meta_first) = 'VARCHAR'
                        then try_cast(json_extract_string(p.meta_first, '$') as json)
                        else p.meta_first end as meta_json
            from prepared p
        ),
        typed as (
            select u.*, json_type(u.meta_json) as meta_type
            from unwrapped u
        ),
        split as (
            select t.* exclude ({', '.join(['m'] + [c for c in SPLIT_COLUMNS if c in have])}),
                   {', '.join(split)}
            from (
                select *, case when meta_type = 'OBJECT'
                               then json_transform(meta_json, '{_TOP_SHAPE}') end as m
                from typed
            ) as t
        ),
        parsed as (
            select *,
                   json_type(meta_usage_object) as usage_type,
                   json_transform(meta_usage_object, '{_USAGE_SHAPE}') as usage_object,
                   json_transform(meta_additional_usage_values, '{_USAGE_SHAPE}')
                       as additional_usage_values,
                   case when json_type(meta_error_information) = 'OBJECT'
                        then json_transform(meta_error_information, '{_ERROR_SHAPE}') end
                       as error_information
            from split
        )
        select *, {_reject_sql()} as reject_reason
        from parsed
        """
    )
    rejected = [
        (str(loc), str(reason))
        for loc, reason in con.execute(
            f"select location, reject_reason from {name}_checked "
            "where reject_reason is not null order by location"
        ).fetchall()
    ]
    tokens = {col: _coalesce_tokens(col) for col in _TOKEN_PATHS}
    con.execute(
        f"""
        create temp table {name} as
        select
            request_id,
            cast(start_time as timestamptz) as start_time,
            try_cast(end_time as timestamptz) as end_time,
            nullif(call_type, '') as call_type,
            nullif(api_key, '') as api_key,
            coalesce(try_cast(spend as decimal(38,12)), 0) as spend,
            coalesce(try_cast(prompt_tokens as bigint), 0) as prompt_tokens,
            coalesce(try_cast(completion_tokens as bigint), 0) as completion_tokens,
            coalesce(try_cast(total_tokens as bigint), 0) as total_tokens,
            {tokens['cache_read_tokens']} as cache_read_tokens,
            {tokens['cache_creation_tokens']} as cache_creation_tokens,
            {tokens['cache_write_5m_tokens']} as cache_write_5m_tokens,
            {tokens['cache_write_1h_tokens']} as cache_write_1h_tokens,
            nullif(model, '') as model,
            nullif(model_group, '') as model_group,
            nullif(model_id, '') as deployment_id,
            nullif(custom_llm_provider, '') as custom_llm_provider,
            nullif(api_base, '') as api_base,
            nullif(user_id, '') as user_id,
            nullif(team_id, '') as team_id,
            nullif(organization_id, '') as organization_id,
            nullif(end_user, '') as end_user,
            nullif(session_id, '') as session_id,
            coalesce(nullif(status, ''), meta_status) as status,
            nullif(cache_hit, '') as cache_hit,
            nullif(meta_user_api_key_alias, '') as key_alias,
            nullif(meta_user_api_key_user_id, '') as key_user_id,
            nullif(meta_user_api_key_user_email, '') as key_user_email,
            nullif(meta_user_api_key_team_id, '') as key_team_id,
            nullif(meta_user_api_key_team_alias, '') as key_team_alias,
            nullif(meta_user_api_key_project_alias, '') as key_project_alias,
            nullif(error_information.error_code, '') as error_code,
            nullif(error_information.error_class, '') as error_class,
            nullif(error_information.llm_provider, '') as error_llm_provider,
            nullif(error_information.error_rate_limit_category, '') as rate_limit_category,
            nullif(error_information.error_rate_limit_type, '') as rate_limit_type,
            nullif(error_information.error_provider_request_id, '') as provider_request_id,
            nullif(meta_model_map_key, '') as model_map_key,
            nullif(meta_internal_call_origin, '') as internal_call_origin,
            case when json_type(try_cast(request_tags as json)) = 'ARRAY'
                 then json(request_tags) end as request_tags,
            case when json_type(meta_spend_logs_metadata) = 'OBJECT'
                 then json(meta_spend_logs_metadata) end as spend_logs_metadata,
            '{_sql_str(proxy)}' as proxy,
            '{_sql_str(source_kind)}' as source_kind,
            location as source_location
        from {name}_checked
        where reject_reason is null
        """
    )
    # The cursor covers rejected rows too (they are recorded; re-reading them changes nothing).
    stats = con.execute(
        f"""
        select (select count(*) from {name}),
               strftime(max(try_cast(start_time as timestamptz)), '%Y-%m-%dT%H:%M:%S.%fZ')
        from {name}_checked
        """
    ).fetchone()
    assert stats is not None
    last = con.execute(
        f"select start_time, request_id from {name}_checked "
        "where start_time is not null and request_id is not null "
        "order by try_cast(start_time as timestamptz) desc, request_id desc limit 1"
    ).fetchone()
    con.execute(f"drop table {name}_checked")
    return ParsedPage(
        table=name,
        rows=int(stats[0]),
        rejected=rejected,
        max_start=stats[1],
        last_key=(str(last[0]), str(last[1])) if last else None,
    )


def _sql_str(value: str) -> str:
    return value.replace("'", "''")
