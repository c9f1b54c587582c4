#!/usr/bin/env python3
"""Load the LiteLLM sample into a PostgreSQL database, in LiteLLM's own table layout.

    python sample_data/litellm/load.py postgresql://postgres@127.0.0.1:5432/litellm_demo
    python sample_data/litellm/load.py            # the DSN in $LITELLM_DATABASE_URL

Creates the tables as LiteLLM's Prisma migrations do (tests/litellm_schema.sql: quoted CamelCase
names, timestamp(3) without time zone, jsonb) and COPYs the CSV dumps next to this script into
them. ``--create-database`` creates the database first (connecting to ``postgres`` on the same
server); ``--replace`` drops the tables first. Then:

    LITELLM_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/litellm_demo llmledger ingest litellm
"""

from __future__ import annotations

import argparse
import gzip
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCHEMA = HERE.parent.parent / "tests" / "litellm_schema.sql"
TABLES = [
    "LiteLLM_UserTable",
    "LiteLLM_TeamTable",
    "LiteLLM_VerificationToken",
    "LiteLLM_DeletedVerificationToken",
    "LiteLLM_DeprecatedVerificationToken",
    "LiteLLM_SpendLogs",
]


def _open(path: Path):  # type: ignore[no-untyped-def]
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def load(dsn: str, folder: Path = HERE, *, replace: bool = False) -> dict[str, int]:
    """Create the tables in ``dsn`` and load every dump found in ``folder``; rows per table."""
    import psycopg

    loaded: dict[str, int] = {}
    with psycopg.connect(dsn, autocommit=False) as conn:
        if replace:
            for table in reversed(TABLES):
                conn.execute(f'drop table if exists "{table}"')
        conn.execute(SCHEMA.read_text())
        for table in TABLES:
            path = next(
                (p for p in (folder / f"{table}.csv", folder / f"{table}.csv.gz") if p.is_file()),
                None,
            )
            if path is None:
                continue
            with _open(path) as f:
                header = f.readline().decode("utf-8").strip()
                columns = ", ".join(f'"{c}"' for c in header.split(","))
                cur = conn.cursor()
                with cur.copy(f'copy "{table}" ({columns}) from stdin with (format csv)') as copy:
                    while chunk := f.read(1 << 20):
                        copy.write(chunk)
                loaded[table] = cur.rowcount
        conn.commit()
    return loaded


def create_database(dsn: str) -> None:
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    name = conninfo_to_dict(dsn).get("dbname")
    if not name:
        raise SystemExit("load.py: the DSN names no database")
    with psycopg.connect(make_conninfo(dsn, dbname="postgres"), autocommit=True) as admin:
        exists = admin.execute("select 1 from pg_database where datname = %s", [name]).fetchone()
        if not exists:
            admin.execute(sql.SQL("create database {}").format(sql.Identifier(str(name))))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "dsn",
        nargs="?",
        default=os.environ.get("LITELLM_DATABASE_URL"),
        help="PostgreSQL DSN (default: $LITELLM_DATABASE_URL)",
    )
    parser.add_argument(
        "--create-database",
        action="store_true",
        help="create the DSN's database first if it does not exist",
    )
    parser.add_argument("--replace", action="store_true", help="drop the tables first")
    args = parser.parse_args(argv)
    if not args.dsn:
        parser.error("give a DSN or set LITELLM_DATABASE_URL")
    try:
        if args.create_database:
            create_database(args.dsn)
        loaded = load(args.dsn, replace=args.replace)
    except Exception as exc:  # noqa: BLE001 - one line for a script user
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"load.py: {first}", file=sys.stderr)
        return 1
    for table, rows in loaded.items():
        print(f"{table}: {rows} rows")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
