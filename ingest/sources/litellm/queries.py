"""The SELECTs of the LiteLLM proxy's tables (PostgreSQL, and DuckDB over CSV dumps of them).

Reads ``"LiteLLM_SpendLogs"`` by ``"startTime"`` and snapshots the key, team and user tables
(deleted and rotated keys included) for aliases, owners, e-mails, TPM/RPM limits and budgets.
Columns are read from ``information_schema`` first, so an older or newer LiteLLM that lacks or
adds columns still loads. ``messages``, ``response`` and ``proxy_server_request`` are never
selected, and of ``metadata`` only the keys in ``format.METADATA_KEYS`` leave the database.
"""

from __future__ import annotations

from typing import Any

from ingest.errors import ConfigError
from ingest.sources.litellm.format import METADATA_KEYS, SPLIT_COLUMNS, WIRE_COLUMNS
from ingest.transports.postgres import Keyset, Target

SPEND_LOGS = '"LiteLLM_SpendLogs"'
# Body columns: never selected, whatever else changes (ARCHITECTURE rule 2).
BODY_COLUMNS = frozenset({"messages", "response", "proxy_server_request"})

# wire column -> (LiteLLM column, SQL type for a NULL stand-in when the column is missing)
SPEND_COLUMNS: dict[str, tuple[str, str]] = {
    "request_id": ("request_id", "text"),
    "call_type": ("call_type", "text"),
    "api_key": ("api_key", "text"),
    "spend": ("spend", "float8"),
    "prompt_tokens": ("prompt_tokens", "int"),
    "completion_tokens": ("completion_tokens", "int"),
    "total_tokens": ("total_tokens", "int"),
    "start_time": ("startTime", "timestamp"),
    "end_time": ("endTime", "timestamp"),
    "model": ("model", "text"),
    "model_id": ("model_id", "text"),
    "model_group": ("model_group", "text"),
    "custom_llm_provider": ("custom_llm_provider", "text"),
    "api_base": ("api_base", "text"),
    "user_id": ("user", "text"),
    "team_id": ("team_id", "text"),
    "organization_id": ("organization_id", "text"),
    "session_id": ("session_id", "text"),
    "status": ("status", "text"),
    "cache_hit": ("cache_hit", "text"),
    "request_tags": ("request_tags", "jsonb"),
    "metadata": ("metadata", "jsonb"),
}
assert list(SPEND_COLUMNS) == WIRE_COLUMNS

KEY_COLUMNS: dict[str, tuple[str, str]] = {
    "token": ("token", "text"),
    "key_alias": ("key_alias", "text"),
    "key_name": ("key_name", "text"),
    "user_id": ("user_id", "text"),
    "team_id": ("team_id", "text"),
    "organization_id": ("organization_id", "text"),
    "tpm_limit": ("tpm_limit", "bigint"),
    "rpm_limit": ("rpm_limit", "bigint"),
    "tpd_limit": ("tpd_limit", "bigint"),
    "max_parallel_requests": ("max_parallel_requests", "int"),
    "max_budget": ("max_budget", "float8"),
    "budget_duration": ("budget_duration", "text"),
    "blocked": ("blocked", "boolean"),
    "expires_at": ("expires", "timestamp"),
    "created_at": ("created_at", "timestamp"),
}
TEAM_COLUMNS: dict[str, tuple[str, str]] = {
    "team_id": ("team_id", "text"),
    "team_alias": ("team_alias", "text"),
    "organization_id": ("organization_id", "text"),
    "tpm_limit": ("tpm_limit", "bigint"),
    "rpm_limit": ("rpm_limit", "bigint"),
    "tpd_limit": ("tpd_limit", "bigint"),
    "max_parallel_requests": ("max_parallel_requests", "int"),
    "max_budget": ("max_budget", "float8"),
    "budget_duration": ("budget_duration", "text"),
    "blocked": ("blocked", "boolean"),
}
USER_COLUMNS: dict[str, tuple[str, str]] = {  # never "password"
    "user_id": ("user_id", "text"),
    "user_alias": ("user_alias", "text"),
    "user_email": ("user_email", "text"),
    "team_id": ("team_id", "text"),
    "user_role": ("user_role", "text"),
    "tpm_limit": ("tpm_limit", "bigint"),
    "rpm_limit": ("rpm_limit", "bigint"),
    "max_parallel_requests": ("max_parallel_requests", "int"),
    "max_budget": ("max_budget", "float8"),
    "budget_duration": ("budget_duration", "text"),
}


# --------------------------------------------------------------------------------------------
# Reading the layout (tolerate missing and extra columns)
# --------------------------------------------------------------------------------------------


def read_layout(pg: Any) -> dict[str, dict[str, str]]:
    """Table -> {column: data_type} for the LiteLLM tables in the connection's search path."""
    rows = pg.execute(
        """
        select c.table_name, c.column_name, c.data_type
        from information_schema.columns c
        where c.table_name like 'LiteLLM\\_%%'
          and c.table_schema = (
              select n.nspname from pg_namespace n
              join pg_class t on t.relnamespace = n.oid
              where t.relname = 'LiteLLM_SpendLogs' and pg_table_is_visible(t.oid)
              limit 1)
        order by c.table_name, c.ordinal_position
        """
    ).fetchall()
    layout: dict[str, dict[str, str]] = {}
    for table, column, data_type in rows:
        layout.setdefault(str(table), {})[str(column)] = str(data_type)
    return layout


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _column(alias: str, have: dict[str, str], column: str, null_type: str) -> str:
    """A column reference, a UTC-normalised timestamp, or a typed NULL when the column is absent."""
    if column in BODY_COLUMNS:
        raise ValueError(f"refusing to select body column {column}")
    if column not in have:
        return f"null::{null_type}"
    ref = f"{alias}.{_quote(column)}"
    if have[column] == "timestamp with time zone":
        return f"({ref} at time zone 'UTC')"
    return ref


# metadata keys read out in one jsonb_to_record call, which detoasts the value once (a
# "metadata -> 'key'" per key would decompress the whole value again for every key)
_JSON_KEYS = {
    "usage_object",
    "additional_usage_values",
    "spend_logs_metadata",
    "model_map_information",
    "error_information",
}
_RECORD_COLUMNS = ", ".join(
    f'"{key}" {"jsonb" if key in _JSON_KEYS else "text"}' for key in METADATA_KEYS
)


def _metadata_is_json(have: dict[str, str]) -> bool:
    return have.get("metadata") in ("jsonb", "json")


def spend_from(have: dict[str, str], *, guarded: bool = False) -> str:
    """FROM clause for spend logs. The fast form assumes every metadata is an object or NULL (it
    fails on any other JSON); ``guarded`` survives every shape at the price of a second detoast."""
    if not _metadata_is_json(have):
        return f"{SPEND_LOGS} s"
    value = "s.metadata::jsonb"
    if guarded:
        value = f"case when jsonb_typeof({value}) = 'object' then {value} end"
    return (
        f"{SPEND_LOGS} s left join lateral jsonb_to_record({value}) as m({_RECORD_COLUMNS}) on true"
    )


def _metadata_exprs(have: dict[str, str], *, guarded: bool) -> list[str]:
    """``metadata`` plus the keys split out of it (``format.SPLIT_COLUMNS``).

    The split keys come from one jsonb_to_record (``spend_from``); ``metadata`` itself only
    travels when it is not an object (guarded form), to be rejected downstream. Tracebacks and
    error messages stay behind, and of LiteLLM's copy of its price-map entry only the key leaves.
    """
    if "metadata" not in have:
        return ["null::text as metadata"]
    if not _metadata_is_json(have):
        return ["s.metadata::text as metadata"]  # an unexpected text column: parsed downstream
    if guarded:
        exprs = [
            "case when jsonb_typeof(s.metadata::jsonb) <> 'object' then s.metadata::text "
            "end as metadata"
        ]
    else:
        exprs = ["null::text as metadata"]
    for column, key in SPLIT_COLUMNS.items():
        value = f'm."{key}"'
        if key == "error_information":
            value = (
                f"case when jsonb_typeof({value}) = 'object' "
                f"then {value} - 'traceback' - 'error_message' else {value} end"
            )
        elif key == "model_map_information":
            value = f"{value} ->> 'model_map_key'"
        exprs.append(f"({value})::text as {column}")
    return exprs


def spend_select(have: dict[str, str], *, guarded: bool = False) -> str:
    """SELECT list for spend logs (FROM ``spend_from``): WIRE_COLUMNS, then the split metadata
    keys. The bench's bare COPY selects the same."""
    parts = []
    for wire, (column, null_type) in SPEND_COLUMNS.items():
        if wire == "metadata":
            continue
        if null_type == "timestamp" and column in have:
            expr = _column("s", have, column, null_type) + "::text"
        else:
            expr = _column("s", have, column, null_type)
        parts.append(f"{expr} as {wire}")
    return ", ".join(parts + _metadata_exprs(have, guarded=guarded))


def require(layout: dict[str, dict[str, str]], target: Target) -> dict[str, str]:
    have = layout.get("LiteLLM_SpendLogs")
    if not have:
        raise ConfigError(
            f'litellm: table "LiteLLM_SpendLogs" not found in {target.label}; point the DSN at '
            "the LiteLLM proxy's database (and schema, via search_path)"
        )
    missing = [c for c in ("request_id", "startTime") if c not in have]
    if missing:
        raise ConfigError(
            f'litellm: "LiteLLM_SpendLogs" in {target.label} has no column {missing[0]}; '
            "this is not a LiteLLM spend-log table"
        )
    return have


def keyset(have: dict[str, str]) -> Keyset:
    """Spend-log pages in ("startTime", request_id) order (request_ids compared as bytes)."""
    return Keyset(
        table=f"{SPEND_LOGS} s",
        time=f"s.{_quote('startTime')}",
        time_text=_column("s", have, "startTime", "timestamp") + "::text",
        time_type=(
            "timestamptz" if have.get("startTime") == "timestamp with time zone" else "timestamp"
        ),
        tie='s.request_id collate "C"',
        tie_text="s.request_id",
        select=lambda cond: f"select {spend_select(have)} from {spend_from(have)} where {cond}",
        # some metadata on a page is not an object (jsonb_to_record refuses it): read the page
        # again with the guarded query, which hands such rows on to be rejected
        fallback=lambda cond: (
            f"select {spend_select(have, guarded=True)} "
            f"from {spend_from(have, guarded=True)} where {cond}"
        ),
    )


def dimension_sql(layout: dict[str, dict[str, str]], kind: str) -> str | None:
    """SELECT of a key/team/user snapshot (NULL for absent columns); None without the table."""
    if kind == "keys":
        active = layout.get("LiteLLM_VerificationToken")
        if active is None:
            return None
        parts = [
            _dim_select("k", active, KEY_COLUMNS, extra_json=True)
            + ", false as deleted, null::text as active_token"
            + ' from "LiteLLM_VerificationToken" k'
        ]
        deleted = layout.get("LiteLLM_DeletedVerificationToken")
        if deleted and "token" in deleted:
            order = ", k.deleted_at desc" if "deleted_at" in deleted else ""
            parts.append(
                "select * from (select distinct on (k.token) "
                + _dim_select("k", deleted, KEY_COLUMNS, extra_json=True, prefix="")
                + ", true as deleted, null::text as active_token"
                + ' from "LiteLLM_DeletedVerificationToken" k where not exists (select 1 from'
                + ' "LiteLLM_VerificationToken" v where v.token = k.token)'
                + f" order by k.token{order}) d"
            )
        rotated = layout.get("LiteLLM_DeprecatedVerificationToken")
        if rotated and {"token", "active_token_id"} <= set(rotated):
            select = _dim_select("k", active, KEY_COLUMNS, extra_json=True)
            select = select.replace('k."token" as token', 'r."token" as token', 1)
            parts.append(
                select + ", false as deleted, r.active_token_id as active_token"
                ' from "LiteLLM_DeprecatedVerificationToken" r'
                ' join "LiteLLM_VerificationToken" k on k.token = r.active_token_id'
                ' where not exists (select 1 from "LiteLLM_VerificationToken" v'
                " where v.token = r.token)"
            )
        return " union all ".join(parts)
    if kind == "teams":
        teams = layout.get("LiteLLM_TeamTable")
        if teams is None:
            return None
        sql = (
            _dim_select("t", teams, TEAM_COLUMNS, extra_json=True)
            + ' , false as deleted from "LiteLLM_TeamTable" t'
        )
        deleted = layout.get("LiteLLM_DeletedTeamTable")
        if deleted and "team_id" in deleted:
            order = ", t.deleted_at desc" if "deleted_at" in deleted else ""
            sql += (
                " union all select * from (select distinct on (t.team_id) "
                + _dim_select("t", deleted, TEAM_COLUMNS, extra_json=True, prefix="")
                + ', true as deleted from "LiteLLM_DeletedTeamTable" t where not exists'
                ' (select 1 from "LiteLLM_TeamTable" a where a.team_id = t.team_id)'
                f" order by t.team_id{order}) d"
            )
        return sql
    users = layout.get("LiteLLM_UserTable")
    if users is None:
        return None
    return _dim_select("u", users, USER_COLUMNS, extra_json=False) + ' from "LiteLLM_UserTable" u'


def _dim_select(
    alias: str,
    have: dict[str, str],
    columns: dict[str, tuple[str, str]],
    *,
    extra_json: bool,
    prefix: str = "select ",
) -> str:
    parts = [f"{_column(alias, have, col, typ)} as {name}" for name, (col, typ) in columns.items()]
    if extra_json:  # per-model limits live in metadata, not in columns
        for name in ("model_tpm_limit", "model_rpm_limit"):
            if "metadata" in have:
                parts.append(f"({alias}.metadata::jsonb -> '{name}')::text as {name}")
            else:
                parts.append(f"null::text as {name}")
    return prefix + ", ".join(parts)


# The dimension SELECTs in DuckDB, over CSV dumps of the tables (litellm-files)
DUMP_TABLES = [
    "LiteLLM_SpendLogs",
    "LiteLLM_VerificationToken",
    "LiteLLM_DeletedVerificationToken",
    "LiteLLM_DeprecatedVerificationToken",
    "LiteLLM_TeamTable",
    "LiteLLM_DeletedTeamTable",
    "LiteLLM_UserTable",
]


def duckdb_dialect(sql: str) -> str:
    """The dimension SELECTs over the dump tables in DuckDB: dump names, JSON text operators."""
    for table in DUMP_TABLES[1:]:
        sql = sql.replace(f'"{table}"', f'"_dump_{table}"')
    return sql.replace("::jsonb -> ", "::json -> ").replace('collate "C"', "")
