"""The SQL macros every model needs (``macros.sql``: ``canonical_model`` and friends).

A module of its own so both ``models.runner`` and ``models.pricing`` can create them without
importing each other.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from models import reference

MACROS_FILE = Path(__file__).parent / "macros.sql"


def create_macros(con: duckdb.DuckDBPyConnection) -> None:
    """The reference tables (empty if absent) and the macros that read them."""
    reference.ensure_tables(con)
    con.execute(MACROS_FILE.read_text(encoding="utf-8"))
