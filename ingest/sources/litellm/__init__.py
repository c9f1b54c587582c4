"""LiteLLM proxy records: one format (``format.py``) over three transports.

* ``litellm``: the proxy's PostgreSQL (``ingest/transports/postgres.py``: keyset COPY pages of
  ``"LiteLLM_SpendLogs"`` by ``("startTime", request_id)``, the SELECTs in ``queries.py``);
* ``litellm-files``: CSV dumps of the same tables (the demo, and proxies only reachable by
  export), read with the same SELECTs in DuckDB;
* ``litellm-api``: the proxy's REST API (``api.py`` over ``ingest/transports/http.py``).

Each run first snapshots the key, team and user tables (pages of kind ``keys``, ``teams``,
``users``), then reads spend logs into ``raw_litellm_spend`` keyed by ``request_id``. The cursor
is the newest ``"startTime"`` read, per proxy (``name``; the URL for the API), and a run re-reads
from ``overlap_minutes`` before it: the proxy writes rows in batches, and long streams land
minutes after their start.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from ingest.errors import ConfigError
from ingest.source import (
    DEADLINES,
    TIMESTAMP,
    LocalFile,
    Option,
    Page,
    Source,
    SourceRun,
    path_argument,
)
from ingest.sources.litellm import api, dumps, format, queries
from ingest.transports import postgres

DEFAULT_DSN_ENV = "LITELLM_DATABASE_URL"
DEFAULT_OVERLAP_MINUTES = 30
DEFAULT_PAGE_ROWS = 100_000
CONNECT_ATTEMPTS = 3
GRANT = 'Grant the DSN\'s role SELECT on the "LiteLLM_*" tables'

OVERLAP = Option(
    "overlap_minutes",
    type=int,
    default=DEFAULT_OVERLAP_MINUTES,
    minimum=0,
    help="Re-read this far before the cursor: the proxy writes rows late.",
)


# --------------------------------------------------------------------------------------------
# litellm: the proxy's PostgreSQL
# --------------------------------------------------------------------------------------------


def database(options: dict[str, Any]) -> postgres.Target:
    """Where the DSN in the variable ``dsn_env`` names points (the connection opens per run)."""
    env = options.get("dsn_env") or DEFAULT_DSN_ENV
    dsn = os.environ.get(env, "").strip()
    if not dsn:
        raise ConfigError(
            f"litellm: environment variable {env} is not set; export it with the proxy "
            "database's DSN (e.g. postgresql://reader@db:5432/litellm) or name another "
            "variable with --dsn-env / dsn_env"
        )
    try:
        return postgres.target(dsn)
    except ValueError:
        raise ConfigError(
            f"litellm: {env} is not a valid PostgreSQL DSN; use postgresql://user@host:5432/db"
        ) from None


def _stamp(run: SourceRun, partition: str, overlap: timedelta) -> tuple[str | None, str | None]:
    """The window as PostgreSQL timestamp literals (UTC)."""
    window = run.window(partition, overlap=overlap)
    fmt = "%Y-%m-%d %H:%M:%S.%f"
    start = window.start.strftime(fmt) if window.start is not None else None
    end = window.end.strftime(fmt) if window.end is not None else None
    return start, end


def _csv_page(path: Path, kind: str, rows: int) -> Page:
    return Page(
        files=[LocalFile(path=str(path), location=path.name)],
        kind=kind,
        release=lambda: path.unlink(missing_ok=True),
        units=rows,
    )


def _database_pages(run: SourceRun) -> Iterator[Page]:
    """The key/team/user snapshots, then spend-log pages from the window's start (I/O only)."""
    target: postgres.Target = run.client
    proxy = format.proxy_name(run)
    start, until = _stamp(run, proxy, timedelta(minutes=int(run.options["overlap_minutes"])))
    pg = postgres.connect(
        target,
        source=run.name,
        attempts=int(run.options["connect_attempts"]),
        request_timeout=run.options.get("request_timeout"),
    )
    guard = run.guard()

    def bounded() -> Any:
        return postgres.guarded(pg, guard, target)

    try:
        with postgres.translated(
            target,
            source=run.name,
            grant=GRANT,
            request_timeout=run.options.get("request_timeout"),
        ):
            with bounded():
                layout = queries.read_layout(pg)
            have = queries.require(layout, target)
            for kind in format.DIMENSIONS:
                sql = queries.dimension_sql(layout, kind)
                if sql is None:
                    continue
                path = run.scratch / f"{kind}.csv"
                with bounded():
                    rows = postgres.copy_to_file(pg, sql, [], path)
                if rows == 0:
                    path.unlink(missing_ok=True)
                    continue
                yield _csv_page(path, kind, 0)
            for page in postgres.keyset_pages(
                pg,
                queries.keyset(have),
                start=start,
                until=until,
                page_rows=int(run.options["page_rows"]),
                folder=run.scratch,
                prefix="spend",
                guard=bounded,
            ):
                yield _csv_page(page.path, "spend", page.rows)
    finally:
        pg.close()


LITELLM = Source(
    name="litellm",
    family="litellm",
    summary="Ingest a LiteLLM proxy's spend logs, keys, teams and users from its PostgreSQL.",
    description=(
        "A read-only role is enough. The DSN is read from $LITELLM_DATABASE_URL (or --dsn-env "
        "NAME), never from the command line or the config file."
    ),
    example=(
        "export LITELLM_DATABASE_URL=postgresql://reader@litellm-db:5432/litellm\n"
        "llmledger --db ledger.duckdb ingest litellm"
    ),
    tables=(format.SPEND, format.KEYS, format.TEAMS, format.USERS),
    cursor=TIMESTAMP,
    options=(
        Option(
            "dsn_env",
            default=DEFAULT_DSN_ENV,
            secret_env=True,
            metavar="NAME",
            help="Environment variable holding the proxy database's PostgreSQL DSN.",
        ),
        Option(
            "name",
            metavar="NAME",
            help="A name for this proxy (its cursor; several proxies can be ingested).",
        ),
        OVERLAP,
        Option(
            "page_rows",
            type=int,
            default=DEFAULT_PAGE_ROWS,
            minimum=1,
            cli=False,
            help="Spend-log rows per COPY page (one transaction each).",
        ),
        Option(
            "connect_attempts",
            type=int,
            default=CONNECT_ATTEMPTS,
            minimum=1,
            cli=False,
            help="Connection attempts before the database counts as down.",
        ),
        *DEADLINES,
    ),
    transport=_database_pages,
    parse=format.postgres_page,
    client=database,
    unit="rows",
)


# --------------------------------------------------------------------------------------------
# litellm-files: CSV dumps of the same tables
# --------------------------------------------------------------------------------------------

DUMP_TABLES = {
    "keys": (
        "LiteLLM_VerificationToken",
        "LiteLLM_DeletedVerificationToken",
        "LiteLLM_DeprecatedVerificationToken",
    ),
    "teams": ("LiteLLM_TeamTable", "LiteLLM_DeletedTeamTable"),
    "users": ("LiteLLM_UserTable",),
}


def dump_file(folder: Path, table: str) -> Path | None:
    """``<table>.csv`` or ``<table>.csv.gz`` in ``folder``, if there is one."""
    for name in (f"{table}.csv", f"{table}.csv.gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def _dump_pages(run: SourceRun) -> Iterator[Page]:
    """A page per snapshot (its tables' dumps), then the spend-log dump unless already read."""
    folder = run.path("path")
    spend_file = dump_file(folder, "LiteLLM_SpendLogs")
    if spend_file is None:
        raise ConfigError(
            f"litellm_files: no LiteLLM_SpendLogs.csv (or .csv.gz) in {folder}; point path at "
            'a folder of dumps (COPY "LiteLLM_SpendLogs" TO STDOUT WITH CSV HEADER)'
        )
    for kind, tables in DUMP_TABLES.items():
        found = {table: dump_file(folder, table) for table in tables}
        if found[tables[0]] is None:
            continue
        dumps = {str(path): table for table, path in found.items() if path is not None}
        yield Page(
            files=[LocalFile(path=p, location=p) for p in dumps],
            kind=kind,
            units=0,
            meta={"tables": dumps},
        )
    st = spend_file.stat()
    etag = f"{st.st_size}-{st.st_mtime_ns}"
    whole = run.since is None and run.until is None  # a window is not the whole file: not kept
    if whole and run.processed(str(spend_file)).get(str(spend_file)) == etag:
        return
    yield Page(
        files=[
            LocalFile(
                path=str(spend_file),
                location=str(spend_file),
                key=str(spend_file) if whole else "",
                fingerprint=etag,
                size=st.st_size,
            )
        ],
        kind="spend",
        units=1,
    )


LITELLM_FILES = Source(
    name="litellm-files",
    family="litellm",
    summary="Ingest CSV dumps of a LiteLLM proxy's tables from a folder.",
    description=(
        "The folder holds LiteLLM_SpendLogs.csv and optionally LiteLLM_VerificationToken.csv, "
        "LiteLLM_TeamTable.csv, LiteLLM_UserTable.csv (and their Deleted/Deprecated tables), "
        'each as written by COPY "<table>" TO STDOUT WITH (FORMAT csv, HEADER true).'
    ),
    example="llmledger --db ledger.duckdb ingest litellm-files sample_data/litellm",
    tables=(format.SPEND, format.KEYS, format.TEAMS, format.USERS),
    cursor=TIMESTAMP,
    options=(
        path_argument("A folder of LiteLLM table dumps.", metavar="PATH"),
        Option(
            "name",
            cli=False,
            help="A name for this proxy (stored with every row).",
        ),
    ),
    transport=_dump_pages,
    parse=dumps.files_page,
)


# --------------------------------------------------------------------------------------------
# litellm-api: the proxy's REST API
# --------------------------------------------------------------------------------------------

LITELLM_API = Source(
    name="litellm-api",
    family="litellm",
    summary="Ingest a LiteLLM proxy's spend logs, keys, teams and users through its REST API.",
    description=(
        "For when the database is out of reach. Reads /spend/logs/v2 in narrow time slices (its "
        "totals are capped at 10,000 rows and its pages have no tie-breaker)."
    ),
    example=(
        "export LITELLM_MASTER_KEY=sk-...\n"
        "llmledger --db ledger.duckdb ingest litellm-api --url https://litellm.internal:4000"
    ),
    tables=(format.SPEND_API, format.KEYS_API, format.TEAMS, format.USERS),
    cursor=TIMESTAMP,
    options=(
        Option("url", required=True, metavar="URL", help="The proxy's base URL."),
        Option(
            "key_env",
            default=api.DEFAULT_KEY_ENV,
            secret_env=True,
            metavar="NAME",
            help="Environment variable holding the proxy's master key (or an admin key).",
        ),
        Option(
            "page_size",
            type=int,
            default=api.DEFAULT_PAGE_SIZE,
            minimum=1,
            maximum=1000,
            help="Rows per /spend/logs/v2 page (the API allows 1-1000).",
        ),
        OVERLAP,
        Option(
            "slice_minutes",
            type=int,
            default=api.DEFAULT_SLICE_MINUTES,
            minimum=1,
            cli=False,
            help="The first cut of the time range; a slice over one page is cut finer.",
        ),
        Option(
            "first_run_days",
            type=int,
            default=api.DEFAULT_FIRST_RUN_DAYS,
            minimum=0,
            cli=False,
            help="With no cursor and no --since, how far back the first run reads.",
        ),
        Option(
            "attempts",
            type=int,
            default=api.ATTEMPTS,
            minimum=1,
            cli=False,
            help="Tries per request before the proxy counts as down.",
        ),
        *DEADLINES,
    ),
    transport=api.pages,
    parse=format.api_page,
    client=api.make_client,
    unit="rows",
)
