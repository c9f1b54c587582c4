"""Source ``litellm``: a LiteLLM proxy's PostgreSQL tables (``litellm_files``: CSV dumps of them).

Reads ``"LiteLLM_SpendLogs"`` incrementally by ``"startTime"`` (a cursor per proxy, re-read from a
little before it because the proxy writes rows in batches and long streams land minutes after their
start) and snapshots the key, team and user tables (deleted and rotated keys included) for aliases,
owners, e-mails, TPM/RPM limits and budgets. Columns are read from ``information_schema`` first, so
an older or newer LiteLLM that lacks or adds columns still loads. ``messages``, ``response`` and
``proxy_server_request`` are never selected, and of ``metadata`` only the keys in
``litellm_parse.METADATA_KEYS`` leave the database.

Rows move in bulk: each page is one ``COPY (SELECT ...) TO STDOUT (FORMAT csv)`` streamed into a
temporary file, parsed whole by DuckDB (``litellm_parse``), and upserted on ``request_id`` with the
cursor in the same transaction. Pages follow the ``("startTime", request_id)`` order (keyset, not
OFFSET), so a busy table neither skips nor repeats rows between pages.
"""

from __future__ import annotations

import itertools
import os
import queue
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from ingest import store
from ingest.errors import ConfigError, SourceUnavailable
from ingest.litellm_parse import (
    METADATA_KEYS,
    RAW_SPEND_DDL,
    RAW_TABLE,
    SPLIT_COLUMNS,
    WIRE_COLUMNS,
    parse_spend,
)
from ingest.loader import Loader, LoadResult, PageWrite

NAME = "litellm"
FILES_NAME = "litellm-files"
NATURAL_KEY = ["request_id"]
KEYS_TABLE, TEAMS_TABLE, USERS_TABLE = "raw_litellm_keys", "raw_litellm_teams", "raw_litellm_users"
DEFAULT_DSN_ENV = "LITELLM_DATABASE_URL"
DEFAULT_OVERLAP_MINUTES = 30
DEFAULT_PAGE_ROWS = 100_000
CONNECT_ATTEMPTS = 3

RAW_TABLE_DDL = [
    RAW_SPEND_DDL,
    f"""
    create table if not exists {KEYS_TABLE} (
        token varchar primary key,       -- SHA-256 of the virtual key; = spend logs' api_key
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
        team_id varchar primary key,
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
        user_id varchar primary key,
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
# Connecting
# --------------------------------------------------------------------------------------------


@dataclass
class Target:
    """Where a DSN points, for messages: never the password."""

    dsn: str
    host: str
    port: str
    dbname: str

    @property
    def label(self) -> str:
        return f"PostgreSQL at {self.host}:{self.port} (database {self.dbname})"


def target_from_env(options: dict[str, Any]) -> Target:
    from psycopg.conninfo import conninfo_to_dict

    env = options.get("dsn_env") or DEFAULT_DSN_ENV
    dsn = os.environ.get(env, "").strip()
    if not dsn:
        raise ConfigError(
            f"litellm: environment variable {env} is not set; export it with the proxy "
            "database's DSN (e.g. postgresql://reader@db:5432/litellm) or name another "
            "variable with --dsn-env / dsn_env"
        )
    try:
        parts = conninfo_to_dict(dsn)
    except Exception:  # noqa: BLE001 - psycopg.ProgrammingError; its text may echo the DSN
        raise ConfigError(
            f"litellm: {env} is not a valid PostgreSQL DSN; use postgresql://user@host:5432/db"
        ) from None
    return Target(
        dsn=dsn,
        host=str(parts.get("host") or "localhost"),
        port=str(parts.get("port") or "5432"),
        dbname=str(parts.get("dbname") or parts.get("user") or "postgres"),
    )


def _problem(exc: BaseException, target: Target) -> str:
    """The first line of a driver error, with anything DSN-like removed."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text.replace(target.dsn, "<dsn>")


def connect(target: Target, *, attempts: int = CONNECT_ATTEMPTS) -> Any:
    """A read-only, autocommit psycopg connection; retries with backoff, then SourceUnavailable."""
    import psycopg
    from tenacity import (
        RetryError,
        retry,
        retry_if_exception_type,
        stop_after_attempt,
        wait_exponential,
    )

    @retry(
        stop=stop_after_attempt(attempts),
        wait=wait_exponential(multiplier=0.25, max=4),
        retry=retry_if_exception_type(psycopg.OperationalError),
    )
    def _open() -> Any:
        return psycopg.connect(
            target.dsn, autocommit=True, connect_timeout=10, application_name="llmledger"
        )

    try:
        pg = _open()
    except RetryError as exc:
        cause = exc.last_attempt.exception() or exc
        raise SourceUnavailable(
            NAME,
            f"cannot connect to {target.label} after {attempts} attempts: "
            f"{_problem(cause, target)}",
            "Check that the database is up and reachable and that the DSN's user and password "
            "are right",
        ) from None
    pg.read_only = True
    pg.execute("set default_transaction_read_only = on")  # autocommit: read_only alone is moot
    pg.execute("set time zone 'UTC'")
    return pg


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
    """``metadata`` plus the keys split out of it (``litellm_parse.SPLIT_COLUMNS``).

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


def _require(layout: dict[str, dict[str, str]], target: Target) -> dict[str, str]:
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


# --------------------------------------------------------------------------------------------
# Fetching (I/O only): COPY pages into files
# --------------------------------------------------------------------------------------------


@dataclass
class SpendPage:
    path: Path
    rows: int


def copy_to_file(pg: Any, sql: str, params: list[Any], path: Path) -> int:
    """Stream ``COPY (sql) TO STDOUT`` as CSV with a header into ``path``; return the row count."""
    cur = pg.cursor()
    with (
        open(path, "wb", buffering=1 << 20) as out,
        cur.copy(f"copy ({sql}) to stdout with (format csv, header true)", params) as copy,
    ):
        for chunk in copy:
            out.write(chunk)
    return int(cur.rowcount)


def _pages(
    pg: Any,
    have: dict[str, str],
    *,
    start: str | None,
    until: str | None,
    page_rows: int,
    workdir: Path,
) -> Iterator[SpendPage]:
    """Pages of ``page_rows`` in ("startTime", request_id) order, each a key range: a cheap query
    finds where the page ends (the keyset, never OFFSET over the data), then COPY reads it."""
    import psycopg

    ts = f"s.{_quote('startTime')}"
    ts_text = _column("s", have, "startTime", "timestamp") + "::text"
    cast = "timestamptz" if have.get("startTime") == "timestamp with time zone" else "timestamp"
    after: tuple[str, str] | None = None
    for number in itertools.count():
        where, params = [], []
        if after is not None:
            where.append(
                f'{ts} >= %s::{cast} and ({ts} > %s::{cast} or s.request_id collate "C" > %s)'
            )
            params += [after[0], after[0], after[1]]
        elif start is not None:
            where.append(f"{ts} >= %s::{cast}")
            params.append(start)
        if until is not None:
            where.append(f"{ts} < %s::{cast}")
            params.append(until)
        cond = " and ".join(where) or "true"
        end = pg.execute(
            f"select {ts_text}, s.request_id from {SPEND_LOGS} s where {cond} "
            f'order by {ts}, s.request_id collate "C" offset {int(page_rows) - 1} limit 1',
            params,
        ).fetchone()
        bounded, bounded_params = cond, list(params)
        if end is not None:
            bounded += (
                f' and {ts} <= %s::{cast} and ({ts} < %s::{cast} or s.request_id collate "C" <= %s)'
            )
            bounded_params += [end[0], end[0], end[1]]
        path = workdir / f"spend-{number:05d}.csv"
        try:
            rows = copy_to_file(
                pg,
                f"select {spend_select(have)} from {spend_from(have)} where {bounded}",
                bounded_params,
                path,
            )
        except psycopg.DataError:
            # some metadata on this page is not an object (jsonb_to_record refuses it): read the
            # page again with the guarded query, which hands such rows on to be rejected
            rows = copy_to_file(
                pg,
                f"select {spend_select(have, guarded=True)} "
                f"from {spend_from(have, guarded=True)} where {bounded}",
                bounded_params,
                path,
            )
        if rows:
            yield SpendPage(path=path, rows=rows)
        else:
            path.unlink(missing_ok=True)
        if end is None:
            return
        after = (str(end[0]), str(end[1]))


_DONE = object()


def ahead(items: Iterator[Any], *, name: str, discard: Any = None) -> Iterator[Any]:
    """Run ``items`` in a background thread, one item ahead of the caller.

    The producer's errors are raised in the caller. When the caller stops early, the producer
    is told to stop and items it made but nobody took are passed to ``discard``.
    """
    handed: queue.Queue[Any] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def hand_over(item: Any) -> bool:
        while not stop.is_set():
            try:
                handed.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not hand_over(item):
                    if discard is not None:
                        discard(item)
                    return
            hand_over(_DONE)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the consuming thread
            hand_over(exc)
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name=name, daemon=True)
    worker.start()
    try:
        while True:
            item = handed.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()
        while not handed.empty():
            left = handed.get_nowait()
            if discard is not None and left is not _DONE and not isinstance(left, BaseException):
                discard(left)


def fetch_spend(
    pg: Any,
    have: dict[str, str],
    *,
    start: str | None,
    until: str | None,
    page_rows: int,
    workdir: Path,
) -> Iterator[SpendPage]:
    """Yield spend-log pages (CSV files) from ``start`` (inclusive); I/O only.

    A background thread reads one page ahead, so the database streams the next page while
    this one is parsed; at most three page files exist at once. The consumer deletes a page's
    file when it is done with it.
    """
    return ahead(
        _pages(pg, have, start=start, until=until, page_rows=page_rows, workdir=workdir),
        name="litellm-copy",
        discard=lambda page: page.path.unlink(missing_ok=True),
    )


@dataclass
class ParsedSpend:
    rows: Any  # pyarrow.Table of raw_litellm_spend rows
    count: int
    rejected: list[tuple[str, str]]
    max_start: str | None


def parse_pages(
    con: duckdb.DuckDBPyConnection, pages: Iterator[SpendPage], *, proxy: str
) -> Iterator[ParsedSpend]:
    """Parse each page file in DuckDB on ``con`` (its own connection) into an Arrow table, then
    delete the file. Run through ``ahead``, it parses the next page while the loader writes."""
    for page in pages:
        con.execute(
            "create or replace temp view _litellm_wire as select *, "
            "'LiteLLM_SpendLogs/' || coalesce(request_id, '?') as location "
            f"from {_csv_scan(page.path)}"
        )
        parsed = parse_spend(
            con,
            "_litellm_wire",
            proxy=proxy,
            source_kind="postgres",
            source_location='"LiteLLM_SpendLogs"',
            to_arrow=True,
        )
        page.path.unlink(missing_ok=True)
        yield ParsedSpend(parsed.arrow, parsed.rows, parsed.rejected, parsed.max_start)
    con.execute("drop view if exists _litellm_wire")


def _dimension_sql(layout: dict[str, dict[str, str]], kind: str) -> str | None:
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


# --------------------------------------------------------------------------------------------
# Parsing dimension snapshots (DuckDB, whole file)
# --------------------------------------------------------------------------------------------

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


def _csv_scan(path: Path) -> str:
    """read_csv over a CSV with a header (PostgreSQL's COPY csv format), every column VARCHAR."""
    p = str(path).replace("'", "''")
    return (
        f"read_csv('{p}', header=true, all_varchar=true, delim=',', quote='\"', escape='\"', "
        "allow_quoted_nulls=false, auto_detect=true, sample_size=-1)"
    )


def csv_columns(con: duckdb.DuckDBPyConnection, path: Path) -> list[str]:
    return [str(r[0]) for r in con.execute(f"describe select * from {_csv_scan(path)}").fetchall()]


def read_csv_wire(
    con: duckdb.DuckDBPyConnection, path: Path, name: str, columns: list[str] | None = None
) -> None:
    """Materialise a CSV (only ``columns`` of it, if given) as an all-VARCHAR temp table."""
    select = ", ".join(_dq(c) for c in columns) if columns else "*"
    con.execute(f"create or replace temp table {name} as select {select} from {_csv_scan(path)}")


def _dq(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# --------------------------------------------------------------------------------------------
# The source
# --------------------------------------------------------------------------------------------


@dataclass
class Window:
    start: str | None  # as a PostgreSQL timestamp literal, UTC
    until: str | None
    cursor: str | None = None
    partition: str = "default"


def read_window(
    con: duckdb.DuckDBPyConnection,
    source: str,
    partition: str,
    *,
    overlap_minutes: int,
    since: date | None,
    until: date | None,
) -> Window:
    """Where to start reading: --since if given, else the cursor minus the overlap, else all."""
    cursor = store.get_cursor(con, source, partition)
    start: str | None = None
    if since is not None:
        start = f"{since.isoformat()} 00:00:00"
    elif cursor is not None:
        at = datetime.fromisoformat(cursor.replace("Z", "+00:00")) - timedelta(
            minutes=overlap_minutes
        )
        start = at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    end = f"{until.isoformat()} 00:00:00" if until is not None else None
    return Window(start=start, until=end, cursor=cursor, partition=partition)


def later(a: str | None, b: str | None) -> str | None:
    """The later of two ISO UTC cursor values (a backfill never moves the cursor back)."""
    if a is None or b is None:
        return a or b
    pa = datetime.fromisoformat(a.replace("Z", "+00:00"))
    pb = datetime.fromisoformat(b.replace("Z", "+00:00"))
    return a if pa >= pb else b


def run(
    app: Any,
    con: duckdb.DuckDBPyConnection,
    options: dict[str, Any],
    *,
    since: date | None,
    until: date | None,
) -> LoadResult:
    import psycopg

    target = target_from_env(options)
    proxy = str(options.get("name") or "default")
    overlap = int(options.get("overlap_minutes", DEFAULT_OVERLAP_MINUTES))
    page_rows = int(options.get("page_rows", DEFAULT_PAGE_ROWS))
    window = read_window(con, NAME, proxy, overlap_minutes=overlap, since=since, until=until)
    total = LoadResult()
    pg = connect(target, attempts=int(options.get("connect_attempts", CONNECT_ATTEMPTS)))
    try:
        with tempfile.TemporaryDirectory(prefix="llmledger-litellm-") as tmp:
            workdir = Path(tmp)
            layout = read_layout(pg)
            have = _require(layout, target)
            total += _load_dimensions(con, pg, layout, workdir, proxy=proxy)
            loader = Loader(con, source=NAME, table=RAW_TABLE, key=NATURAL_KEY)
            cursor = window.cursor
            pages = fetch_spend(
                pg,
                have,
                start=window.start,
                until=window.until,
                page_rows=page_rows,
                workdir=workdir,
            )
            # three stages at once: PostgreSQL streams page n+2, DuckDB parses page n+1 (on a
            # second connection) and the loader writes page n with the cursor
            parser = con.cursor()
            try:
                for parsed in ahead(parse_pages(parser, pages, proxy=proxy), name="litellm-parse"):
                    cursor = later(cursor, parsed.max_start)
                    cursors = {window.partition: cursor} if cursor else {}
                    loader.write(
                        PageWrite(rows=parsed.rows, rejected=parsed.rejected, cursors=cursors)
                    )
                    if app is not None and getattr(app, "log", None):
                        app.log(
                            "page",
                            f"{NAME}: {parsed.count} rows up to {parsed.max_start}",
                            source=NAME,
                            rows=parsed.count,
                            rejected=len(parsed.rejected),
                        )
            finally:
                parser.close()
            total += loader.total
    except psycopg.errors.InsufficientPrivilege as exc:
        raise SourceUnavailable(
            NAME,
            f"{target.label} refused a read: {_problem(exc, target)}",
            'Grant the DSN\'s role SELECT on the "LiteLLM_*" tables',
        ) from None
    except psycopg.OperationalError as exc:
        raise SourceUnavailable(
            NAME,
            f"lost {target.label}: {_problem(exc, target)}",
            "Check the database and run again; rows already loaded are kept and the cursor "
            "only covers them",
        ) from None
    finally:
        pg.close()
    return total


def _load_dimensions(
    con: duckdb.DuckDBPyConnection,
    pg: Any,
    layout: dict[str, dict[str, str]],
    workdir: Path,
    *,
    proxy: str,
) -> LoadResult:
    result = LoadResult()
    for kind, table in (("keys", KEYS_TABLE), ("teams", TEAMS_TABLE), ("users", USERS_TABLE)):
        sql = _dimension_sql(layout, kind)
        if sql is None:
            continue
        path = workdir / f"{kind}.csv"
        if copy_to_file(pg, sql, [], path) == 0:
            continue
        read_csv_wire(con, path, "_litellm_dim")
        rel = dimension_relation(con, table, "_litellm_dim", proxy=proxy, source_kind="postgres")
        key = [rel.columns[0]]
        loader = Loader(con, source=NAME, table=table, key=key)
        result += loader.write(
            PageWrite(
                rows=rel,
                prefer="deleted, active_token nulls first" if table == KEYS_TABLE else None,
            )
        )
        con.execute("drop table if exists _litellm_dim")
    return result


# --------------------------------------------------------------------------------------------
# litellm_files: CSV dumps of the same tables (the demo, and proxies only reachable by export)
# --------------------------------------------------------------------------------------------

DUMP_TABLES = [
    "LiteLLM_SpendLogs",
    "LiteLLM_VerificationToken",
    "LiteLLM_DeletedVerificationToken",
    "LiteLLM_DeprecatedVerificationToken",
    "LiteLLM_TeamTable",
    "LiteLLM_DeletedTeamTable",
    "LiteLLM_UserTable",
]


def dump_file(folder: Path, table: str) -> Path | None:
    """``<table>.csv`` or ``<table>.csv.gz`` in ``folder``, if there is one."""
    for name in (f"{table}.csv", f"{table}.csv.gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def run_litellm_files(
    app: Any,
    con: duckdb.DuckDBPyConnection,
    options: dict[str, Any],
    *,
    since: date | None,
    until: date | None,
) -> LoadResult:
    """Load ``COPY "LiteLLM_<table>" TO ... (FORMAT csv, HEADER true)`` dumps from a folder.

    The dumped tables are loaded into an in-memory DuckDB stand-in of the proxy's database and
    read with the same SELECTs as the PostgreSQL source, so the same columns are kept and dropped.
    """
    folder = Path(options["path"])
    if app is not None and not folder.is_absolute():
        folder = app.config.resolve(str(folder))
    spend_file = dump_file(folder, "LiteLLM_SpendLogs")
    if spend_file is None:
        raise ConfigError(
            f"litellm_files: no LiteLLM_SpendLogs.csv (or .csv.gz) in {folder}; point path at "
            'a folder of dumps (COPY "LiteLLM_SpendLogs" TO STDOUT WITH CSV HEADER)'
        )
    proxy = str(options.get("name") or "default")
    total = LoadResult()
    # Dimension dumps: same columns as the tables, so reuse the PostgreSQL SELECT shapes in DuckDB.
    layout: dict[str, dict[str, str]] = {}
    for table in DUMP_TABLES[1:]:
        path = dump_file(folder, table)
        if path is None:
            continue
        cols = [c for c in csv_columns(con, path) if c != "password"]
        read_csv_wire(con, path, f'"_dump_{table}"', cols)
        layout[table] = {c: "text" for c in cols}
    for kind, table in (("keys", KEYS_TABLE), ("teams", TEAMS_TABLE), ("users", USERS_TABLE)):
        sql = _dimension_sql(layout, kind)
        if sql is None:
            continue
        sql = _duckdb_dialect(sql)
        con.execute(f"create or replace temp table _litellm_dim as {sql}")
        rel = dimension_relation(con, table, "_litellm_dim", proxy=proxy, source_kind="files")
        loader = Loader(con, source=FILES_NAME, table=table, key=[rel.columns[0]])
        total += loader.write(
            PageWrite(
                rows=rel,
                prefer="deleted, active_token nulls first" if table == KEYS_TABLE else None,
            )
        )
        con.execute("drop table if exists _litellm_dim")
    for table in layout:
        con.execute(f'drop table if exists "_dump_{table}"')

    etag = f"{spend_file.stat().st_size}-{spend_file.stat().st_mtime_ns}"
    if (
        since is None
        and until is None
        and store.processed_etags(con, FILES_NAME).get(str(spend_file)) == etag
    ):
        return total
    have = set(csv_columns(con, spend_file))
    exprs = []
    for wire, (column, _) in SPEND_COLUMNS.items():
        exprs.append(f"{_dq(column)} as {wire}" if column in have else f"null::varchar as {wire}")
    where = []
    if since is not None:
        where.append(f"try_cast(\"startTime\" as timestamptz) >= '{since.isoformat()}'")
    if until is not None:
        where.append(f"try_cast(\"startTime\" as timestamptz) < '{until.isoformat()}'")
    location = str(spend_file).replace("'", "''")
    con.execute(
        "create or replace temp table _litellm_wire_loc as select "
        + ", ".join(exprs)
        + f", '{location}:' || (row_number() over () + 1) as location from {_csv_scan(spend_file)}"
        + (" where " + " and ".join(where) if where else "")
    )
    parsed = parse_spend(
        con, "_litellm_wire_loc", proxy=proxy, source_kind="files", source_location=str(spend_file)
    )
    from ingest.loader import ProcessedObject

    loader = Loader(con, source=FILES_NAME, table=RAW_TABLE, key=NATURAL_KEY)
    loader.write(
        PageWrite(
            rows=parsed.table,
            rejected=parsed.rejected,
            processed=[ProcessedObject(str(spend_file), etag, parsed.rows)]
            if since is None and until is None
            else [],
        )
    )
    total += loader.total
    parsed.drop(con)
    con.execute("drop table if exists _litellm_wire_loc")
    return total


def _duckdb_dialect(sql: str) -> str:
    """The dimension SELECTs over the dump tables in DuckDB: dump names, JSON text operators."""
    for table in DUMP_TABLES[1:]:
        sql = sql.replace(f'"{table}"', f'"_dump_{table}"')
    return sql.replace("::jsonb -> ", "::json -> ").replace('collate "C"', "")
