"""Bounded memory for every DuckDB connection the tool opens (ARCHITECTURE rule 11).

A build that does not fit in ``memory_limit`` spills to ``temp_directory`` instead of being
killed. ``[database] memory_limit`` (a DuckDB size such as ``4GB`` / ``512MiB``, or a share of
the machine's memory such as ``50%``; default ``50%``) and ``[database] temp_directory``
(default: a private folder in the scratch directory beside the database) configure them.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

DEFAULT_MEMORY_LIMIT = "50%"
# DuckDB's own spelling of a size: a number and a unit, or a percentage of the machine's memory
MEMORY_LIMIT = re.compile(r"\d+(\.\d+)?\s*([KMGT]i?B|B|bytes|%)", re.IGNORECASE)


def valid_memory_limit(value: str) -> bool:
    text = value.strip()
    if not MEMORY_LIMIT.fullmatch(text):
        return False
    return not (text.endswith("%") and not 0 < float(text.rstrip("% ")) <= 100)


def apply(
    con: duckdb.DuckDBPyConnection,
    *,
    memory_limit: str | None = None,
    temp_directory: Path | None = None,
) -> None:
    """Set the memory limit (default ``DEFAULT_MEMORY_LIMIT``) and, when given, the spill
    folder (created private, 0700: spilled pages can hold anything a query reads)."""
    limit = (memory_limit or DEFAULT_MEMORY_LIMIT).strip()
    con.execute(f"set memory_limit = '{_quote(limit)}'")
    if temp_directory is not None:
        try:
            Path(temp_directory).mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError:
            return  # a reader on a read-only mount: DuckDB's default place, if it needs one
        con.execute(f"set temp_directory = '{_quote(str(temp_directory))}'")


def _quote(value: str) -> str:
    return value.replace("'", "''")
