"""Python lists into DuckDB as rows, without pyarrow.

Building a pyarrow array from Python objects imports pandas (pyarrow checks for pandas
objects), a second or so of a command's start-up that nothing else on the ingest path needs.
DuckDB binds a Python list as a LIST parameter natively; ``unnest`` of several equally long
lists side by side turns them into rows in one statement.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import duckdb


def select(columns: Mapping[str, tuple[str, Sequence[Any]]]) -> tuple[str, list[Any]]:
    """``select unnest(?::T[]) as name, ...`` and its parameters, for ``name -> (T, values)``
    (every list the same length)."""
    sql = ", ".join(f"unnest(?::{kind}[]) as {name}" for name, (kind, _) in columns.items())
    return f"select {sql}", [list(values) for _, values in columns.values()]


def temp_table(
    con: duckdb.DuckDBPyConnection, name: str, columns: Mapping[str, tuple[str, Sequence[Any]]]
) -> None:
    """(Re)create temp table ``name`` with one row per position of the lists."""
    sql, params = select(columns)
    con.execute(f"create or replace temp table {name} as {sql}", params)
