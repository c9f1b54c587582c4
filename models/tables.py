"""The read API's one result type: a query's answer as a ``pyarrow.Table``, and its rows.

``models.views``, ``models.reconcile`` and ``models.vertex_health`` answer with tables; the
dashboard turns them into frames, the CLI into dicts with :func:`rows`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb
import pyarrow as pa


def fetch_table(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> pa.Table:
    """Run ``sql`` and return its whole answer as a table (decimal money stays decimal).

    On its own cursor, so a caller's unfinished result on ``con`` is no obstacle."""
    cursor = con.cursor()
    try:
        relation = cursor.sql(sql, params=list(params))
        # DuckDB 2 names it to_arrow_table; 1.x fetch_arrow_table (pyproject allows >= 1.2).
        fetch = getattr(relation, "to_arrow_table", None) or relation.fetch_arrow_table
        table: pa.Table = fetch()
    finally:
        cursor.close()
    return table


def rows(table: pa.Table) -> list[dict[str, Any]]:
    """A table as one dict per row (``Decimal`` money, ``date``/``datetime`` times)."""
    return list(table.to_pylist())
