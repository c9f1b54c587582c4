"""Reading one billing file (Parquet, CSV gzip or plain, JSON lines) into a DuckDB relation, by
content whatever its name, and typed column expressions over it that work the same whether a
column came typed (Parquet) or as text (CSV).

Shared by the CUR and the GCP billing formats; no vendor field names here.
"""

from __future__ import annotations

import gzip

import duckdb


def _quote(path: str) -> str:
    return "'" + path.replace("'", "''") + "'"


def kind_of(path: str) -> str:
    """``parquet``, ``json`` (JSON lines) or ``csv``, from the first bytes (gzip looked into)."""
    with open(path, "rb") as handle:
        head = handle.read(4)
    if head == b"PAR1":
        return "parquet"
    if head[:2] == b"\x1f\x8b":
        try:
            with gzip.open(path, "rb") as handle:
                head = handle.read(64)
        except (OSError, EOFError):
            return "csv"
    return "json" if head.lstrip()[:1] in (b"{", b"[") else "csv"


def scan_sql(path: str) -> str:
    """A FROM clause reading ``path`` whole, with a ``_row`` column (1-based record number)."""
    kind = kind_of(path)
    if kind == "parquet":
        return (
            f"(select * exclude (file_row_number), file_row_number + 1 as _row "
            f"from read_parquet({_quote(path)}, file_row_number = true))"
        )
    if kind == "json":
        return (
            f"(select *, row_number() over () as _row from read_json({_quote(path)}, "
            f"format = 'newline_delimited', maximum_object_size = 16777216, "
            f"sample_size = -1))"
        )
    return (
        f"(select *, row_number() over () as _row from read_csv({_quote(path)}, header = true, "
        "all_varchar = true, compression = 'auto', quote = '\"', escape = '\"', "
        f"strict_mode = false, null_padding = true))"
    )


def columns(con: duckdb.DuckDBPyConnection, scan: str) -> dict[str, str]:
    """Column name -> DuckDB type of a scan (raises duckdb.Error for an unreadable file)."""
    rows = con.execute(f"describe select * from {scan}").fetchall()
    return {str(r[0]): str(r[1]) for r in rows}


def col(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def text(expr: str) -> str:
    return f"nullif(trim(cast({expr} as varchar)), '')"


def decimal(expr: str, typ: str, scale: int = 12) -> str:
    """Exact decimal from a number or its text (doubles via their shortest text form)."""
    return f"try_cast({text(expr)} as decimal(38, {scale}))"


def timestamp(expr: str, typ: str) -> str:
    """A UTC TIMESTAMPTZ from a typed timestamp (naive = UTC) or ISO text."""
    upper = typ.upper()
    if upper.startswith("TIMESTAMP WITH TIME ZONE"):
        return expr
    if upper.startswith("TIMESTAMP") or upper == "DATE":
        return f"timezone('UTC', cast({expr} as timestamp))"
    stamp = text(expr)
    return (
        f"coalesce(try_cast({stamp} as timestamptz), "
        f"timezone('UTC', try_cast({stamp} as timestamp)))"
    )


def map_value(expr: str, typ: str, key: str) -> str:
    """``expr[key]`` of a MAP, a STRUCT or a JSON object in text."""
    upper = typ.upper()
    safe = key.replace("'", "''")
    if upper.startswith("MAP"):
        return f"cast(element_at({expr}, '{safe}')[1] as varchar)"
    if upper.startswith("STRUCT"):
        return f"cast(to_json({expr}) ->> '{safe}' as varchar)"
    return f"(try_cast({text(expr)} as json) ->> '{safe}')"


def as_json(expr: str, typ: str) -> str:
    """A MAP, STRUCT or JSON text as JSON (NULL when empty or unreadable)."""
    upper = typ.upper()
    if upper.startswith(("MAP", "STRUCT", "LIST")) or upper.endswith("[]"):
        return f"to_json({expr})"
    return f"try_cast({text(expr)} as json)"
