"""Bedrock's use of the shared shape detector (``ingest/sources/shapes.py``): every shape it
knows is a Bedrock delivery shape, and a file of none of them is not an invocation log."""

from __future__ import annotations

import duckdb

from ingest.sources.shapes import (
    ARRAY,
    BOM,
    DOCUMENT,
    EXPORT,
    INSIGHTS_CSV,
    INSIGHTS_JSON,
    LINES,
    UNKNOWN,
    Shape,
    as_utf8,
    detect,
)
from ingest.sources.shapes import rewrite as _rewrite
from ingest.sources.shapes import to_lines as _to_lines

NO_RECORD = "not a Bedrock invocation log (no record found)"

__all__ = [
    "ARRAY",
    "BOM",
    "DOCUMENT",
    "EXPORT",
    "INSIGHTS_CSV",
    "INSIGHTS_JSON",
    "LINES",
    "NO_RECORD",
    "UNKNOWN",
    "Shape",
    "as_utf8",
    "detect",
    "rewrite",
    "to_lines",
]


def to_lines(con: duckdb.DuckDBPyConnection, path: str, shape: Shape, out: str) -> str | None:
    """The file's records as JSON lines in ``out``; None, or why the file can't be read."""
    return _to_lines(con, path, shape, out, empty=NO_RECORD)


def rewrite(
    con: duckdb.DuckDBPyConnection, path: str, shape: Shape, out: str
) -> tuple[bool, list[tuple[str, str]]]:
    """``to_lines``, salvaging the good records of an array or pretty-printed file DuckDB
    refuses whole; (whether ``out`` holds records, rejects as (location suffix, reason))."""
    return _rewrite(con, path, shape, out, empty=NO_RECORD)
