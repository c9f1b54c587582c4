"""Which delivery shape a Bedrock log file is, from its first bytes, and how to read the others.

Files are recognised by content, never by name (a ``.log``, ``.txt`` or extension-less file is
read like a ``.json.gz``). Gzip is recognised by its magic bytes; a UTF-8 byte-order mark and
CRLF line ends are allowed in every shape.

- ``lines``: JSON lines, one record per line (Bedrock's own S3 delivery, ``aws s3 sync`` copies).
  Read in place by the batch scan.
- ``array``: a JSON array of records (``ConvertTo-Json``, ``jq -s``), compact or indented.
- ``document``: pretty-printed records one after another (``jq .``).
- ``export``: CloudWatch Logs export-to-S3 (``CreateExportTask``): lines ``<ISO time> <record>``.
- ``insights-json`` / ``insights-csv``: a CloudWatch Logs Insights export, records as the
  ``@message`` field of a JSON array or a CSV with an ``@message`` column.
- ``unknown``: none of these; the file is rejected by path.

Every shape but ``lines`` is rewritten by DuckDB, one statement per file, into a scratch JSON
lines file of its records (record N on line N), which the batch scan then reads with the rest.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import duckdb

LINES = "lines"
ARRAY = "array"
DOCUMENT = "document"
EXPORT = "export"
INSIGHTS_JSON = "insights-json"
INSIGHTS_CSV = "insights-csv"
UNKNOWN = "unknown"

NO_RECORD = "not a Bedrock invocation log (no record found)"
HEAD_BYTES = 64 << 10
BOM = b"\xef\xbb\xbf"

_EXPORT_LINE = re.compile(rb"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})? \{")
_INSIGHTS_ARRAY = re.compile(rb'\[\s*\{\s*"@')
_INSIGHTS_HEADER = re.compile(rb'^"?@[a-zA-Z]+"?(,"?@?[a-zA-Z.]+"?)*\r?$')


@dataclass(frozen=True)
class Shape:
    kind: str
    gzip: bool = False


def detect(path: str) -> Shape:
    """The file's shape, from at most its first 64 KB (decompressed)."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(HEAD_BYTES)
    except OSError:
        return Shape(LINES)  # the scan reports it as unreadable
    gz = raw[:2] == b"\x1f\x8b"
    if gz:
        try:
            head = zlib.decompressobj(wbits=31).decompress(raw, HEAD_BYTES)
        except zlib.error:
            return Shape(LINES, gzip=True)  # the scan recovers what it can and reports it
    elif path.lower().endswith(".gz"):
        return Shape(LINES)  # named gzip but not: the scan says "not a gzip file"
    else:
        head = raw
    if head.startswith(BOM):
        head = head[len(BOM) :]
    text = head.lstrip()
    if text.startswith(b"["):
        if _INSIGHTS_ARRAY.match(text):
            return Shape(INSIGHTS_JSON, gz)
        return Shape(ARRAY, gz)
    if text.startswith(b"{"):
        first, newline, _ = text.partition(b"\n")
        if newline and not first.rstrip().endswith(b"}"):
            return Shape(DOCUMENT, gz)  # pretty-printed: "{" alone on the first line
        return Shape(LINES, gz)
    if _EXPORT_LINE.match(text):
        return Shape(EXPORT, gz)
    header = text.partition(b"\n")[0]
    if b"@message" in header and _INSIGHTS_HEADER.match(header):
        return Shape(INSIGHTS_CSV, gz)
    return Shape(UNKNOWN, gz)


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


# A message as one line: JSON re-serialised compactly; text that is not JSON kept, on one line,
# to be rejected as malformed JSON.
_ONE_LINE = (
    "case when json_valid(m) then cast(json(m) as varchar) "
    "else replace(replace(m, chr(10), ' '), chr(13), ' ') end"
)


def _records_sql(path: str, shape: Shape) -> str:
    """A query of one VARCHAR column: each record of the file as compact JSON, in file order."""
    compression = "'gzip'" if shape.gzip else "'none'"
    src = _quote(path)
    if shape.kind in (ARRAY, DOCUMENT):
        layout = "array" if shape.kind == ARRAY else "unstructured"
        return (
            f"select j::varchar from read_json({src}, format='{layout}', records='false', "
            f"columns={{'j': 'JSON'}}, compression={compression}, maximum_object_size=1073741824)"
        )
    if shape.kind == INSIGHTS_JSON:
        # @message is the record as a JSON string; an exported string that is not JSON stays as
        # it is and is rejected as malformed JSON, record by record.
        return (
            f"select {_ONE_LINE} from read_json({src}, "
            f"format='array', columns={{'@message': 'VARCHAR'}}, compression={compression}, "
            "maximum_object_size=1073741824) t(m) where m is not null"
        )
    if shape.kind == INSIGHTS_CSV:
        return (
            f'select {_ONE_LINE} from (select "@message" as m from read_csv({src}, header=true, '
            f"all_varchar=true, compression={compression}, max_line_size=1073741824)) "
            "where m is not null"
        )
    if shape.kind == EXPORT:
        # A line is "<timestamp> <message>": the record is everything after the first space.
        # \x01 cannot occur in JSON, so each line is one column.
        return (
            f"select substr(line, strpos(line, ' ') + 1) from read_csv({src}, "
            "columns={'line': 'VARCHAR'}, delim=chr(1), quote='', escape='', header=false, "
            f"auto_detect=false, compression={compression}, max_line_size=1073741824) "
            "where line is not null and trim(line) <> ''"
        )
    raise ValueError(shape.kind)


def to_lines(con: duckdb.DuckDBPyConnection, path: str, shape: Shape, out: str) -> str | None:
    """Write the file's records to ``out`` as JSON lines; None, or why the file can't be read."""
    try:
        con.execute(
            f"copy ({_records_sql(path, shape)}) to {_quote(out)} "
            "(format csv, header false, quote '', escape '', delim chr(1))"
        )
    except duckdb.Error as exc:
        return _failure(str(exc), shape)
    if not Path(out).exists() or Path(out).stat().st_size == 0:
        return NO_RECORD
    return None


_DETAIL = re.compile(r"in record/value \d+: ([^.]*)")


def _failure(message: str, shape: Shape) -> str:
    if shape.kind == INSIGHTS_CSV:
        return "malformed CSV (a CloudWatch Logs Insights export); the file was not read"
    found = _DETAIL.search(message)
    detail = f" ({found.group(1).strip()})" if found else ""
    return f"malformed JSON{detail}; the file was not read"
