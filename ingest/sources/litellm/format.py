"""Bulk parsing of LiteLLM spend-log pages in DuckDB, for the PostgreSQL, file and REST sources.

Every source first lands a page as a *wire* table: one VARCHAR column per field in ``WIRE_COLUMNS``
(PostgreSQL's COPY CSV, a CSV dump, or a REST page's JSON rows), plus ``location`` (where a
rejected row came from: a table/request id, a file:line, a page URL). ``parse_spend`` turns the
whole page into ``raw_litellm_spend`` rows in one SQL statement: casts, the fields we keep out of
``metadata`` (token details, key/team snapshots, error information), and one fixed rejection reason
per bad row. Only the fields listed here leave ``metadata``; ``proxy_server_request``, message and
response bodies, tracebacks and error messages never reach the database.

The key, team and user snapshots land the same way (``dimension_relation``). Vendor field
names appear here, in ``queries.py`` and ``api.py`` beside it and in
``models/staging/stg_litellm.sql``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from ingest import bounds
from ingest.source import Page, Parsed, RawTable, SourceRun

RAW_TABLE = "raw_litellm_spend"
KEYS_TABLE, TEAMS_TABLE, USERS_TABLE = "raw_litellm_keys", "raw_litellm_teams", "raw_litellm_users"
# Not read: messages/response/proxy_server_request (bodies), and end_user, which Claude Code fills
# with a per-session blob of its own ids (the key, its owner and team name the people).

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
    "session_id",
    "status",
    "cache_hit",
    "request_tags",
    "metadata",
]

RAW_SPEND_DDL = f"""
    create table if not exists {RAW_TABLE} (
        request_id varchar not null,
        start_time timestamptz not null,
        end_time timestamptz,
        call_type varchar,
        api_key varchar,                 -- SHA-256 of the virtual key (= its token column)
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

# The metadata keys that leave the proxy's database (see queries.py); nothing else does.
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
JSON_KEYS = {"usage_object", "additional_usage_values", "spend_logs_metadata", "error_information"}
# A wire may carry these keys already split out of metadata (the PostgreSQL source does: it reads
# them with one jsonb_to_record); otherwise they are split out of the metadata JSON here.
SPLIT_COLUMNS = {
    f"meta_{key}" if key != "model_map_information" else "meta_model_map_key": key
    for key in METADATA_KEYS
}
_TOP_SHAPE = (
    "{"
    + ", ".join(
        f'"{key}": '
        + (
            '"JSON"'
            if key in JSON_KEYS
            else '{"model_map_key": "VARCHAR"}'
            if key == "model_map_information"
            else '"VARCHAR"'
        )
        for key in METADATA_KEYS
    )
    + "}"
)
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


@dataclass
class ParsedPage:
    """A parsed page: ``table`` is a temp view with exactly raw_litellm_spend's columns (over a
    temp table of the parsed page). Hand it to ``Loader.write``, then call ``drop``."""

    table: str
    rows: int
    rejected: list[tuple[str, str]] = field(default_factory=list)
    max_start: str | None = None  # ISO UTC of the latest "startTime" on the page
    arrow: Any = None  # the rows as a pyarrow.Table, when parsed with to_arrow

    def drop(self, con: duckdb.DuckDBPyConnection) -> None:
        con.execute(f"drop view if exists {self.table}")
        con.execute(f"drop table if exists {self.table}_rows")
        con.execute(f"drop view if exists {self.table}_all")
        con.execute(f"drop view if exists {self.table}_checked")


def _reject_sql() -> str:
    """A CASE naming the first thing wrong with a row, NULL when it is fine. Fixed texts only."""
    checks = [
        ("request_id is null or trim(request_id) = ''", "missing field request_id"),
        (
            "start_time is null or try_cast(start_time as timestamptz) is null",
            "missing or invalid startTime",
        ),
        *bounds.timestamp_checks("try_cast(start_time as timestamptz)"),
        (
            "spend is not null and try_cast(spend as decimal(38,12)) is null",
            "wrong type for spend: expected a number",
        ),
    ]
    for col in _INT_COLUMNS:
        # a pattern, not try_cast: try_cast('12.5' as bigint) is 13
        checks.append(
            (
                f"{col} is not null and not regexp_full_match({col}, '\\s*-?[0-9]+\\s*')",
                f"wrong type for {col}: expected an integer",
            )
        )
        checks.append((f"starts_with(trim({col}), '-')", f"negative {col}"))
        checks.append((bounds.too_many_tokens_sql(col), bounds.too_many_tokens_reason(col)))
    checks += [
        ("metadata is not null and meta_json is null", "malformed metadata: invalid JSON"),
        ("metadata is not null and meta_type <> 'OBJECT'", "malformed metadata: not a JSON object"),
        (
            "meta_usage_object is not null and not usage_is_object "
            "and trim(meta_usage_object) <> 'null'",
            "malformed metadata: usage_object is not an object",
        ),
    ]
    # only the value each token column takes is checked (the first of its paths present)
    bad = " or ".join(
        f"json_type(tok_{col}) not in ('NULL', 'UBIGINT', 'BIGINT')" for col in _TOKEN_PATHS
    )
    checks.append((bad, "malformed metadata: token count is not an integer"))
    negative = " or ".join(f"json_type(tok_{col}) = 'BIGINT'" for col in _TOKEN_PATHS)
    checks.append((negative, "malformed metadata: negative token count"))
    checks += [
        (bounds.too_many_tokens_sql(f"tok_{col}"), bounds.too_many_tokens_reason(col))
        for col in _TOKEN_PATHS
    ]
    whens = " ".join(f"when {cond} then '{reason}'" for cond, reason in checks)
    return f"case {whens} else null end"


def _is_object(column: str) -> str:
    """JSON text that is an object (valid JSON is assumed: it comes from a JSON serialiser)."""
    return f"coalesce(starts_with(ltrim({column}), '{{'), false)"


def _first_present(column: str) -> str:
    return "coalesce(" + ", ".join(_TOKEN_PATHS[column]) + ")"


def parse_spend(
    con: duckdb.DuckDBPyConnection,
    wire: str,
    *,
    proxy: str,
    source_kind: str,
    source_location: str,
    to_arrow: bool = False,
) -> ParsedPage:
    """Parse the wire table or view ``wire`` (VARCHAR columns, ``location`` per row for
    rejections) into raw rows and rejections; ``source_location`` is stored with every row.

    The page is read once. With ``to_arrow`` the rows land in ``ParsedPage.arrow`` (for a loader
    on another connection) instead of a temp table on ``con``."""
    name = f"_litellm_page_{next(_counter)}"
    have = {str(r[0]) for r in con.execute(f"select column_name from (describe {wire})").fetchall()}
    split = []
    for column, key in SPLIT_COLUMNS.items():
        from_meta = (
            "t.m.model_map_information.model_map_key"
            if key == "model_map_information"
            else f"t.m.{key}"
        )
        given = f"t.{column}" if column in have else "null"
        split.append(f"coalesce({given}, cast({from_meta} as varchar)) as {column}")
    # JSON is parsed as few times as possible: the split-out keys are JSON text already (from
    # PostgreSQL's jsonb output or from the json_transform here), so an object is told by its
    # first character and parsed once, by json_transform.
    con.execute(
        f"""
        create temp view {name}_checked as
        with prepared as (
            select w.*,
                   case when w.metadata is not null then try_cast(w.metadata as json) end
                       as meta_first
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
            select t.* exclude ({", ".join(["m"] + [c for c in SPLIT_COLUMNS if c in have])}),
                   {", ".join(split)}
            from (
                select *, case when meta_type = 'OBJECT'
                               then json_transform(meta_json, '{_TOP_SHAPE}') end as m
                from typed
            ) as t
        ),
        parsed as (
            select *,
                   {_is_object("meta_usage_object")} as usage_is_object,
                   case when {_is_object("meta_usage_object")}
                        then json_transform(meta_usage_object, '{_USAGE_SHAPE}') end
                       as usage_object,
                   case when {_is_object("meta_additional_usage_values")}
                        then json_transform(meta_additional_usage_values, '{_USAGE_SHAPE}') end
                       as additional_usage_values,
                   case when {_is_object("meta_error_information")}
                        then json_transform(meta_error_information, '{_ERROR_SHAPE}') end
                       as error_information
            from split
        ),
        tokened as (
            select *, {", ".join(f"{_first_present(c)} as tok_{c}" for c in _TOKEN_PATHS)}
            from parsed
        )
        select *, {_reject_sql()} as reject_reason
        from tokened
        """
    )
    tokens = {col: f"try_cast(tok_{col} as bigint)" for col in _TOKEN_PATHS}
    con.execute(
        f"""
        create temp view {name}_all as
        select
            request_id,
            try_cast(start_time as timestamptz) as start_time,
            try_cast(end_time as timestamptz) as end_time,
            nullif(call_type, '') as call_type,
            nullif(api_key, '') as api_key,
            try_cast(spend as decimal(38,12)) as spend,
            coalesce(try_cast(prompt_tokens as bigint), 0) as prompt_tokens,
            coalesce(try_cast(completion_tokens as bigint), 0) as completion_tokens,
            coalesce(try_cast(total_tokens as bigint), 0) as total_tokens,
            {tokens["cache_read_tokens"]} as cache_read_tokens,
            {tokens["cache_creation_tokens"]} as cache_creation_tokens,
            {tokens["cache_write_5m_tokens"]} as cache_write_5m_tokens,
            {tokens["cache_write_1h_tokens"]} as cache_write_1h_tokens,
            nullif(model, '') as model,
            nullif(model_group, '') as model_group,
            nullif(model_id, '') as deployment_id,
            nullif(custom_llm_provider, '') as custom_llm_provider,
            nullif(api_base, '') as api_base,
            nullif(user_id, '') as user_id,
            nullif(team_id, '') as team_id,
            nullif(organization_id, '') as organization_id,
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
            case when starts_with(ltrim(request_tags), '[')
                 then json(try_cast(request_tags as json)) end as request_tags,
            case when {_is_object("meta_spend_logs_metadata")}
                 then json(try_cast(meta_spend_logs_metadata as json)) end as spend_logs_metadata,
            '{_sql_str(proxy)}' as proxy,
            '{_sql_str(source_kind)}' as source_kind,
            '{_sql_str(source_location)}' as source_location,
            reject_reason,
            case when reject_reason is not null then location end as reject_location
        from {name}_checked
        """
    )
    if to_arrow:
        import pyarrow.compute as pc

        every = con.sql(f"select * from {name}_all").to_arrow_table()
        con.execute(f"drop view {name}_all")
        con.execute(f"drop view {name}_checked")
        con.register(f"{name}_rows", every)
    else:
        con.execute(f"create temp table {name}_rows as select * from {name}_all")
    con.execute(
        f"create temp view {name} as select * exclude (reject_reason, reject_location) "
        f"from {name}_rows where reject_reason is null"
    )
    # Rejected rows are counted in the cursor too (they are recorded; re-reading them changes
    # nothing), except those dated in the future: they must not move it past later rows.
    stats = con.execute(
        f"""
        select count(*) filter (where reject_reason is null),
               strftime(max(start_time) filter (
                   where reject_reason is distinct from '{bounds.FUTURE_REASON}'),
                   '%Y-%m-%dT%H:%M:%S.%fZ'),
               list(struct_pack(location := reject_location, reason := reject_reason)
                    order by reject_location) filter (where reject_reason is not null)
        from {name}_rows
        """
    ).fetchall()[0]  # fetchall: no unfinished result is left on the connection
    rejected = [(str(r["location"]), str(r["reason"])) for r in (stats[2] or [])]
    page = ParsedPage(table=name, rows=int(stats[0]), rejected=rejected, max_start=stats[1])
    if to_arrow:
        good = every.filter(pc.is_null(every["reject_reason"])) if rejected else every
        page.arrow = good.drop_columns(["reject_reason", "reject_location"])
        con.execute(f"drop view {name}")
        con.unregister(f"{name}_rows")
    return page


def _sql_str(value: str) -> str:
    return value.replace("'", "''")


RAW_TABLE_DDL = [
    RAW_SPEND_DDL,
    f"""
    create table if not exists {KEYS_TABLE} (
        token varchar not null,          -- SHA-256 of the virtual key; = spend logs' api_key
        key_alias varchar,
        key_name varchar,                -- abbreviated display form (sk-...abcd)
        user_id varchar,
        team_id varchar,
        organization_id varchar,
        tpm_limit bigint,
        rpm_limit bigint,
        tpd_limit bigint,
        max_parallel_requests bigint,
        max_budget decimal(38,12),
        budget_duration varchar,
        model_tpm_limit json,            -- metadata.model_tpm_limit: {{model group: tokens/min}}
        model_rpm_limit json,
        blocked boolean,
        expires_at timestamptz,
        created_at timestamptz,
        deleted boolean not null,        -- from LiteLLM_DeletedVerificationToken
        active_token varchar,            -- a rotated key's old hash points at its new one
        proxy varchar not null,
        source_kind varchar not null
    )
    """,
    f"""
    create table if not exists {TEAMS_TABLE} (
        team_id varchar not null,
        team_alias varchar,
        organization_id varchar,
        tpm_limit bigint,
        rpm_limit bigint,
        tpd_limit bigint,
        max_parallel_requests bigint,
        max_budget decimal(38,12),
        budget_duration varchar,
        model_tpm_limit json,
        model_rpm_limit json,
        blocked boolean,
        deleted boolean not null,
        proxy varchar not null,
        source_kind varchar not null
    )
    """,
    f"""
    create table if not exists {USERS_TABLE} (
        user_id varchar not null,
        user_alias varchar,
        user_email varchar,
        team_id varchar,
        user_role varchar,
        tpm_limit bigint,
        rpm_limit bigint,
        max_parallel_requests bigint,
        max_budget decimal(38,12),
        budget_duration varchar,
        proxy varchar not null,
        source_kind varchar not null
    )
    """,
]


# wire column -> field of a /spend/logs/v2 row
API_FIELDS = {
    "request_id": "request_id",
    "call_type": "call_type",
    "api_key": "api_key",
    "spend": "spend",
    "prompt_tokens": "prompt_tokens",
    "completion_tokens": "completion_tokens",
    "total_tokens": "total_tokens",
    "start_time": "startTime",
    "end_time": "endTime",
    "model": "model",
    "model_id": "model_id",
    "model_group": "model_group",
    "custom_llm_provider": "custom_llm_provider",
    "api_base": "api_base",
    "user_id": "user",
    "team_id": "team_id",
    "organization_id": "organization_id",
    "session_id": "session_id",
    "status": "status",
    "cache_hit": "cache_hit",
    "request_tags": "request_tags",
    "metadata": "metadata",
}
assert list(API_FIELDS) == WIRE_COLUMNS
KEY_FIELDS = {  # raw_litellm_keys column -> JSON path in a /key/list full object
    "token": "$.token",
    "key_alias": "$.key_alias",
    "key_name": "$.key_name",
    "user_id": "$.user_id",
    "team_id": "$.team_id",
    "organization_id": "$.organization_id",
    "tpm_limit": "$.tpm_limit",
    "rpm_limit": "$.rpm_limit",
    "tpd_limit": "$.tpd_limit",
    "max_parallel_requests": "$.max_parallel_requests",
    "max_budget": "$.max_budget",
    "budget_duration": "$.budget_duration",
    "blocked": "$.blocked",
    "expires_at": "$.expires",
    "created_at": "$.created_at",
    "model_tpm_limit": "$.metadata.model_tpm_limit",
    "model_rpm_limit": "$.metadata.model_rpm_limit",
}
TEAM_FIELDS = {
    "team_id": "$.team_id",
    "team_alias": "$.team_alias",
    "organization_id": "$.organization_id",
    "tpm_limit": "$.tpm_limit",
    "rpm_limit": "$.rpm_limit",
    "tpd_limit": "$.tpd_limit",
    "max_parallel_requests": "$.max_parallel_requests",
    "max_budget": "$.max_budget",
    "budget_duration": "$.budget_duration",
    "blocked": "$.blocked",
    "model_tpm_limit": "$.metadata.model_tpm_limit",
    "model_rpm_limit": "$.metadata.model_rpm_limit",
}
USER_FIELDS = {
    "user_id": "$.user_id",
    "user_alias": "$.user_alias",
    "user_email": "$.user_email",
    "team_id": "$.team_id",
    "user_role": "$.user_role",
    "tpm_limit": "$.tpm_limit",
    "rpm_limit": "$.rpm_limit",
    "max_parallel_requests": "$.max_parallel_requests",
    "max_budget": "$.max_budget",
    "budget_duration": "$.budget_duration",
}


_DIM_TYPES = {
    KEYS_TABLE: {
        "tpm_limit": "bigint",
        "rpm_limit": "bigint",
        "tpd_limit": "bigint",
        "max_parallel_requests": "bigint",
        "max_budget": "decimal(38,12)",
        "blocked": "boolean",
        "expires_at": "timestamptz",
        "created_at": "timestamptz",
        "model_tpm_limit": "json",
        "model_rpm_limit": "json",
        "deleted": "boolean",
    },
    TEAMS_TABLE: {
        "tpm_limit": "bigint",
        "rpm_limit": "bigint",
        "tpd_limit": "bigint",
        "max_parallel_requests": "bigint",
        "max_budget": "decimal(38,12)",
        "blocked": "boolean",
        "model_tpm_limit": "json",
        "model_rpm_limit": "json",
        "deleted": "boolean",
    },
    USERS_TABLE: {
        "tpm_limit": "bigint",
        "rpm_limit": "bigint",
        "max_parallel_requests": "bigint",
        "max_budget": "decimal(38,12)",
    },
}


def dimension_relation(
    con: duckdb.DuckDBPyConnection,
    table: str,
    wire: str,
    *,
    proxy: str,
    source_kind: str,
) -> duckdb.DuckDBPyRelation:
    """Cast a VARCHAR wire table of key/team/user rows into ``table``'s columns."""
    target = [
        str(r[0])
        for r in con.execute(
            "select column_name from information_schema.columns where table_name = ? "
            "and table_schema = 'main' order by ordinal_position",
            [table],
        ).fetchall()
    ]
    have = {str(r[0]) for r in con.execute(f"select column_name from (describe {wire})").fetchall()}
    types = _DIM_TYPES[table]
    exprs = []
    for col in target:
        text = f"nullif(cast({col} as varchar), '')"
        if col in ("proxy", "source_kind"):
            value = proxy if col == "proxy" else source_kind
            exprs.append("'" + value.replace("'", "''") + f"' as {col}")
        elif col not in have:
            default = "false" if col == "deleted" else "null"
            exprs.append(f"{default}::{types.get(col, 'varchar')} as {col}")
        elif types.get(col) == "json":  # re-serialised, so every source stores the same text
            exprs.append(f"case when json_valid({text}) then json({text}) end as {col}")
        elif col in types:
            exprs.append(f"try_cast({text} as {types[col]}) as {col}")
        else:
            exprs.append(f"{text} as {col}")
    key = target[0]
    return con.sql(f"select {', '.join(exprs)} from {wire} where nullif({key}, '') is not null")


def csv_scan(path: Path) -> str:
    """read_csv over a CSV with a header (PostgreSQL's COPY csv format), every column VARCHAR."""
    p = str(path).replace("'", "''")
    return (
        f"read_csv('{p}', header=true, all_varchar=true, delim=',', quote='\"', escape='\"', "
        "allow_quoted_nulls=false, auto_detect=true, sample_size=-1)"
    )


def csv_columns(con: duckdb.DuckDBPyConnection, path: Path) -> list[str]:
    return [str(r[0]) for r in con.execute(f"describe select * from {csv_scan(path)}").fetchall()]


def read_csv_wire(
    con: duckdb.DuckDBPyConnection, path: Path, name: str, columns: list[str] | None = None
) -> None:
    """Materialise a CSV (only ``columns`` of it, if given) as an all-VARCHAR temp table."""
    select = ", ".join(quote_name(c) for c in columns) if columns else "*"
    con.execute(f"create or replace temp table {name} as select {select} from {csv_scan(path)}")


def quote_name(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _files_sql(paths: list[Path]) -> str:
    return "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths) + "]"


def spend_wire(con: duckdb.DuckDBPyConnection, pages: list[Path], name: str) -> None:
    """The rows of /spend/logs/v2 page files as a VARCHAR wire table (each row parsed once)."""
    shape = ", ".join(
        f'"{api_field}": "{"JSON" if wire in ("metadata", "request_tags") else "VARCHAR"}"'
        for wire, api_field in API_FIELDS.items()
    )
    exprs = []
    for wire, api_field in API_FIELDS.items():
        if wire in ("metadata", "request_tags"):  # objects / arrays stay JSON text
            exprs.append(f'cast(r."{api_field}" as varchar) as {wire}')
        else:
            exprs.append(f'r."{api_field}" as {wire}')
    con.execute(
        f"""
        create or replace temp table {name} as
        select {", ".join(exprs)},
               'spend/logs/v2/' || coalesce(r.request_id, page || '#' || ordinal) as location
        from (
            select json_transform(row, '{{{shape}}}') as r, page, ordinal
            from (
                select unnest(rows) as row, generate_subscripts(rows, 1) as ordinal,
                       regexp_extract(filename, '[^/]+$') as page
                from (
                    select from_json(json, '{{"data": ["JSON"]}}').data as rows, filename
                    from read_json_objects({_files_sql(pages)}, filename=true)
                )
            )
        )
        """
    )


def dimension_wire(con: duckdb.DuckDBPyConnection, pages: list[Path], kind: str, name: str) -> None:
    fields = {"keys": KEY_FIELDS, "teams": TEAM_FIELDS, "users": USER_FIELDS}[kind]
    # /key/list -> {"keys": [...]}, /user/list -> {"users": [...]}, /team/list -> [...]
    if kind == "teams":
        rows = f"select json as row from read_json_objects({_files_sql(pages)}, format='array')"
    else:
        rows = (
            f"select unnest(cast(json_extract(json, '$.{kind}') as json[])) as row "
            f"from read_json_objects({_files_sql(pages)})"
        )
    exprs = []
    for column, path in fields.items():
        if column.startswith("model_"):
            exprs.append(f"cast(json_extract(row, '{path}') as varchar) as {column}")
        else:
            exprs.append(f"json_extract_string(row, '{path}') as {column}")
    con.execute(
        f"create or replace temp table {name} as select {', '.join(exprs)} from ({rows})"
        " where json_type(row) = 'OBJECT'"
    )


# --------------------------------------------------------------------------------------------
# The raw tables, and the formats of the three transports' pages
# --------------------------------------------------------------------------------------------

SPEND_KEY = ("request_id",)
SPEND = RawTable(RAW_TABLE, RAW_TABLE_DDL[0], SPEND_KEY)
# The REST API's slices share their boundary second: a row read twice keeps its latest reading.
SPEND_API = RawTable(RAW_TABLE, RAW_TABLE_DDL[0], SPEND_KEY, prefer="start_time desc")
# A deleted key's row and a rotated key's both name an old token: the live reading wins.
KEYS = RawTable(
    KEYS_TABLE, RAW_TABLE_DDL[1], ("token",), prefer="deleted, active_token nulls first"
)
KEYS_API = RawTable(KEYS_TABLE, RAW_TABLE_DDL[1], ("token",))
TEAMS = RawTable(TEAMS_TABLE, RAW_TABLE_DDL[2], ("team_id",))
USERS = RawTable(USERS_TABLE, RAW_TABLE_DDL[3], ("user_id",))

DIMENSIONS = {"keys": KEYS_TABLE, "teams": TEAMS_TABLE, "users": USERS_TABLE}


def temp_name(stem: str) -> str:
    return f"{stem}_{next(_counter)}"


def dropping_statements(*statements: str) -> Callable[[duckdb.DuckDBPyConnection], None]:
    def drop(con: duckdb.DuckDBPyConnection) -> None:
        for statement in statements:
            con.execute(statement)

    return drop


def spend_parsed(
    con: duckdb.DuckDBPyConnection,
    wire: str,
    *,
    proxy: str,
    partition: str | None,
    source_kind: str,
    source_location: str,
    dropping: str,
    to_arrow: bool = False,
) -> Parsed:
    parsed = parse_spend(
        con,
        wire,
        proxy=proxy,
        source_kind=source_kind,
        source_location=source_location,
        to_arrow=to_arrow,
    )

    def cleanup(c: duckdb.DuckDBPyConnection) -> None:
        parsed.drop(c)
        c.execute(dropping)

    cursors = {partition: parsed.max_start} if partition is not None and parsed.max_start else {}
    return Parsed(
        rows={RAW_TABLE: parsed.arrow if to_arrow else parsed.table},
        rejected=parsed.rejected,
        cursors=cursors,
        count=parsed.rows,
        cleanup=cleanup,
    )


def dimension_parsed(
    con: duckdb.DuckDBPyConnection, kind: str, wire: str, *, proxy: str, source_kind: str
) -> Parsed:
    table = DIMENSIONS[kind]
    rel = dimension_relation(con, table, wire, proxy=proxy, source_kind=source_kind)
    return Parsed(rows={table: rel}, cleanup=dropping_statements(f"drop table if exists {wire}"))


def proxy_name(run: SourceRun) -> str:
    """The configured proxy name: the cursor's partition and every row's ``proxy``."""
    return str(run.options.get("name") or "default")


def postgres_page(con: duckdb.DuckDBPyConnection, page: Page, run: SourceRun) -> Parsed:
    """A COPY page of the proxy's database: spend logs, or a key/team/user snapshot."""
    proxy = proxy_name(run)
    path = Path(page.files[0].path)
    if page.kind != "spend":
        wire = temp_name("_litellm_dim")
        read_csv_wire(con, path, wire)
        return dimension_parsed(con, page.kind, wire, proxy=proxy, source_kind="postgres")
    wire = temp_name("_litellm_wire")
    con.execute(
        f"create temp view {wire} as select *, "
        "'LiteLLM_SpendLogs/' || coalesce(request_id, '?') as location "
        f"from {csv_scan(path)}"
    )
    parsed = spend_parsed(
        con,
        wire,
        proxy=proxy,
        partition=proxy,
        source_kind="postgres",
        source_location='"LiteLLM_SpendLogs"',
        dropping=f"drop view if exists {wire}",
        to_arrow=True,
    )
    run.log(
        "page",
        f"{parsed.count} rows up to {parsed.cursors.get(proxy)}",
        rows=parsed.count,
        rejected=len(parsed.rejected),
    )
    return parsed


def api_page(con: duckdb.DuckDBPyConnection, page: Page, run: SourceRun) -> Parsed:
    """Saved pages of the REST API: /spend/logs/v2 slices, or /key|team|user/list pages."""
    base_url = str(run.client.base_url)
    paths = [Path(f.path) for f in page.files]
    if page.kind != "spend":
        wire = temp_name("_litellm_api_dim")
        dimension_wire(con, paths, page.kind, wire)
        return dimension_parsed(con, page.kind, wire, proxy=base_url, source_kind="api")
    wire = temp_name("_litellm_api_wire")
    spend_wire(con, paths, wire)
    return spend_parsed(
        con,
        wire,
        proxy=base_url,
        partition=base_url,
        source_kind="api",
        source_location=f"{base_url}/spend/logs/v2",
        dropping=f"drop table if exists {wire}",
    )
