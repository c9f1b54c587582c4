"""The key index: a 64-bit hash of every stored row's natural key, per raw table.

Raw tables carry no PRIMARY KEY (``ingest/loader.py``), so whether a page's keys are stored
already was a semi join over the table's key columns: every stored key read, decompressed and
hashed, on every page. With random ids (Bedrock's request ids are UUIDs) that is 0.3-0.5 s a page
at 20M stored rows and grows with the history, so a run's cost grew with what came before it.

Each raw table now has a table of its keys' hashes, ``llmledger_keys.hashes_<raw table>`` (one
row per stored row; 8 bytes each), written by the loader in the page's transaction. A page whose key
hashes match none stored (new records: nearly every page of a scheduled run) has no stored key,
and is checked without reading a stored key. Only a page with a match (a re-delivery; a 64-bit
hash collision is about one page in 10^9 at 100M rows) reads the keys themselves, as before.

Before each page is written, the table's index is checked and rebuilt from the table when it
cannot be trusted: a different row count (a database made before the index, or rows written by
hand), or a different hash of fixed values (``CANARY``: a DuckDB release may change
``hash()``). A published snapshot does not carry the index (``models/snapshot.py`` drops the
schema from its copy).
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

from ingest import store

SCHEMA = "llmledger_keys"
# hash() of these values, stored when the index is built: another value means another hash
# function. One of each type a raw table's key has (VARCHAR, BIGINT), and a few more, combined
# as hash() combines a key's columns.
CANARY = (
    "'llmledger key index', cast(20261204 as bigint), cast(7 as integer), "
    "timestamptz '2026-12-04 00:00:00+00', date '2026-12-04', cast(1.5 as double), true"
)
_CANARY_TABLE = f"{SCHEMA}._hash_function"


def hash_sql(keys: Sequence[str], alias: str) -> str:
    """The key's hash as an expression over ``alias``'s key columns."""
    return "hash(" + ", ".join(f"{alias}.{k}" for k in keys) + ")"


def name(table: str) -> str:
    """``llmledger_keys.hashes_<raw table>``: not the raw table's own name, which a lookup by
    table name alone (``information_schema.columns where table_name = ...``) would then find
    twice."""
    return f"{SCHEMA}.hashes_{table}"


def ensure(con: duckdb.DuckDBPyConnection, table: str, keys: Sequence[str]) -> str:
    """``table``'s key index, in step with it (built or rebuilt here if not); its name.

    Call inside the transaction that then writes the table and the index."""
    con.execute(f"create schema if not exists {SCHEMA}")
    con.execute(f"create table if not exists {_CANARY_TABLE} (canary ubigint)")
    current = store.scalar(con, f"select hash({CANARY})")
    stored = con.execute(f"select canary from {_CANARY_TABLE}").fetchall()
    if [r[0] for r in stored] != [current]:
        # built with another hash function (or never): no index can be trusted
        for (old,) in con.execute(
            "select table_name from duckdb_tables() where database_name = current_database() "
            "and schema_name = ? and table_name <> '_hash_function'",
            [SCHEMA],
        ).fetchall():
            con.execute(f'drop table {SCHEMA}."{old}"')
        con.execute(f"delete from {_CANARY_TABLE}")
        con.execute(f"insert into {_CANARY_TABLE} values (?)", [current])
    index = name(table)
    con.execute(f"create table if not exists {index} (h ubigint not null)")
    if store.scalar(con, f"select count(*) from {index}") != store.scalar(
        con, f"select count(*) from {table}"
    ):
        con.execute(
            f"create or replace table {index} as "
            f"select cast({hash_sql(keys, 't')} as ubigint) as h from {table} t"
        )
    return index
