"""Which delivery shape a log file is, from its first bytes, and how to read the others.

Shared by the families that read local files of JSON records (Bedrock invocation logs, Cloud
Logging entries); each family says which shapes it takes and what a file of none of them is.

Files are recognised by content, never by name (a ``.log``, ``.txt`` or extension-less file is
read like a ``.json.gz``). Gzip is recognised by its magic bytes; a UTF-8 byte-order mark and
CRLF line ends are allowed in every shape.

- ``lines``: JSON lines, one record per line (Bedrock's own S3 delivery, a Cloud Storage log
  sink, ``aws s3 sync`` copies). Read in place by the batch scan.
- ``array``: a JSON array of records (``ConvertTo-Json``, ``jq -s``, ``gcloud logging read
  --format=json``), compact or indented.
- ``document``: pretty-printed records one after another (``jq .``).
- ``export``: CloudWatch Logs export-to-S3 (``CreateExportTask``): lines ``<ISO time> <record>``.
- ``insights-json`` / ``insights-csv``: a CloudWatch Logs Insights export, records as the
  ``@message`` field of a JSON array or a CSV with an ``@message`` column.
- ``unknown``: none of these; the file is rejected by path.

When DuckDB cannot read an array or a run of pretty-printed records as a whole (one record is
not valid JSON, or a gzip is cut short), ``salvage`` splits the text into records itself and
keeps the valid ones, naming each bad one by its index and lines.

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

HEAD_BYTES = 64 << 10
BOM = b"\xef\xbb\xbf"

_EXPORT_LINE = re.compile(rb"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})? \{")
_INSIGHTS_ARRAY = re.compile(rb'\[\s*\{\s*"@')
_INSIGHTS_HEADER = re.compile(rb'^"?@[a-zA-Z]+"?(,"?@?[a-zA-Z.]+"?)*\r?$')

# The longest line (one record) read as text; also read_csv's buffer, which otherwise is 16x
# this and, for gzip, allocated up front (a 16 GiB block for a 1 GiB limit).
MAX_LINE = 256 * 1024 * 1024


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
            if any(_is_record_line(line) for line in text.split(b"\n")[1:-1]):
                return Shape(LINES, gz)  # JSON lines whose first line was cut short
            return Shape(DOCUMENT, gz)  # pretty-printed: "{" alone on the first line
        return Shape(LINES, gz)
    if _EXPORT_LINE.match(text):
        return Shape(EXPORT, gz)
    if any(_is_record_line(line) for line in text.split(b"\n")[1:-1]):
        return Shape(LINES, gz)  # JSON lines after a first line that is not one (cut, or text)
    header = text.partition(b"\n")[0]
    if b"@message" in header and _INSIGHTS_HEADER.match(header):
        return Shape(INSIGHTS_CSV, gz)
    return Shape(UNKNOWN, gz)


def _is_record_line(line: bytes) -> bool:
    line = line.strip()
    return line.startswith(b"{") and line.endswith(b"}")


UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def as_utf8(path: str, scratch: str, name: str) -> str | None:
    """A UTF-8 copy (plain) under ``scratch`` of a UTF-16 file (what Windows PowerShell 5.1's
    ``>`` and ``Out-File`` write), gzip or not; None when the file is not UTF-16."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(512)  # a BOM is the first two bytes: no need to read more
        if raw[:2] == b"\x1f\x8b":
            raw = zlib.decompressobj(wbits=31).decompress(raw, 4)
    except (OSError, zlib.error):
        return None
    if raw[:2] not in UTF16_BOMS:
        return None
    import gzip

    try:
        with open(path, "rb") as fh:
            data = fh.read()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
    except (OSError, EOFError, zlib.error):
        return None  # read as it is: the scan reports what is wrong
    out = str(Path(scratch) / f"{name}.utf8")
    Path(out).write_text(data.decode("utf-16", errors="replace"), encoding="utf-8")
    return out


def looks_like_text(path: str) -> bool:
    """Whether the file's first bytes are UTF-8 text (else it is binary: "unreadable file")."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    if head[:2] == b"\x1f\x8b":
        try:
            head = zlib.decompressobj(wbits=31).decompress(head, 4096)
        except zlib.error:
            return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start > len(head) - 4  # a character cut by the 4 KB boundary
    return b"\x00" not in head


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
            f"all_varchar=true, compression={compression}, "
            f"max_line_size={MAX_LINE}, buffer_size={MAX_LINE})) "
            "where m is not null"
        )
    if shape.kind == EXPORT:
        # A line is "<timestamp> <message>": the record is everything after the first space.
        # \x01 cannot occur in JSON, so each line is one column.
        return (
            f"select substr(line, strpos(line, ' ') + 1) from read_csv({src}, "
            "columns={'line': 'VARCHAR'}, delim=chr(1), quote='', escape='', header=false, "
            f"auto_detect=false, compression={compression}, "
            f"max_line_size={MAX_LINE}, buffer_size={MAX_LINE}) "
            "where line is not null and trim(line) <> ''"
        )
    raise ValueError(shape.kind)


def to_lines(
    con: duckdb.DuckDBPyConnection, path: str, shape: Shape, out: str, *, empty: str
) -> str | None:
    """Write the file's records to ``out`` as JSON lines; None, or why the file can't be read
    (``empty`` when it holds no record)."""
    try:
        con.execute(
            f"copy ({_records_sql(path, shape)}) to {_quote(out)} "
            "(format csv, header false, quote '', escape '', delim chr(1))"
        )
    except duckdb.Error as exc:
        return _failure(str(exc), shape)
    if not Path(out).exists() or Path(out).stat().st_size == 0:
        return empty
    return None


def rewrite(
    con: duckdb.DuckDBPyConnection, path: str, shape: Shape, out: str, *, empty: str
) -> tuple[bool, list[tuple[str, str]]]:
    """``to_lines``, and ``salvage`` when DuckDB refuses an array or pretty-printed file whole.

    Returns whether ``out`` holds records to read, and the rejects as (location suffix,
    reason): ``""`` names the file, ``#N (lines A-B)`` one record of it.
    """
    failure = to_lines(con, path, shape, out, empty=empty)
    if failure is None:
        return True, []
    if failure == empty or shape.kind not in (ARRAY, DOCUMENT):
        return False, [("", failure)]
    try:
        got = salvage(path, shape, out)
    except (OSError, ValueError):
        return False, [("", failure)]
    rejects = [("", got.file_reason)] if got.file_reason else []
    rejects += [(bad.where, bad.reason) for bad in got.bad]
    if not got.records and not rejects:
        rejects = [("", empty)]
    return got.records > 0, rejects


_DETAIL = re.compile(r"in record/value \d+: ([^.]*)")


def _failure(message: str, shape: Shape) -> str:
    if shape.kind == INSIGHTS_CSV:
        return "malformed CSV (a CloudWatch Logs Insights export); the file was not read"
    found = _DETAIL.search(message)
    detail = f" ({found.group(1).strip()})" if found else ""
    return f"malformed JSON{detail}; the file was not read"


# ----------------------------------------------------------------------------------------------
# Salvage: a file DuckDB cannot read as a whole, split into records here


@dataclass(frozen=True)
class BadRecord:
    index: int  # 1-based position among the file's records
    first_line: int
    last_line: int
    reason: str

    @property
    def where(self) -> str:
        """``#N`` with its lines, for a location."""
        lines = (
            f"line {self.first_line}"
            if self.first_line == self.last_line
            else f"lines {self.first_line}-{self.last_line}"
        )
        return f"#{self.index} ({lines})"


@dataclass(frozen=True)
class Salvage:
    """What ``salvage`` made of a file: the good records written (record N on line N of the
    output, a bad one's line left blank), the bad records, and why the file itself is rejected
    (a gzip cut short), if it is."""

    records: int
    bad: tuple[BadRecord, ...] = ()
    file_reason: str | None = None


# A JSON string (never spans a line: raw newlines are not allowed in one) or a bracket.
_TOKENS = re.compile(r'"(?:[^"\\\n]|\\.)*"?|[{}\[\]]')


def salvage(path: str, shape: Shape, out: str) -> Salvage:
    """Split an array or a run of pretty-printed records into records by bracket depth, write the
    valid ones to ``out`` as JSON lines and name the others (index, lines, the parser's reason).

    For files DuckDB refused whole: one bad record costs itself only, not the file. A record
    whose brackets never close runs to the end of the file (one reject, not one per line).
    """
    import json

    from ingest.sources.recovery import decompress_until_error

    raw = Path(path).read_bytes()
    file_reason = None
    if shape.gzip:
        decomp = zlib.decompressobj(wbits=31)
        try:
            data = decomp.decompress(raw)
            truncated = not decomp.eof
        except zlib.error:
            data, truncated = decompress_until_error(raw), True
    else:
        data, truncated = raw, False
    text = data.decode("utf-8", errors="replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    newlines = [m.start() for m in re.finditer("\n", text)]

    def line_of(pos: int) -> int:
        import bisect

        return bisect.bisect_left(newlines, pos) + 1

    base = 0
    start_at = 0
    if shape.kind == ARRAY:
        start_at = text.index("[") + 1
        base = 1
    spans: list[tuple[int, int]] = []  # (start, end) of each top-level value
    depth, start = base, -1
    last_end = start_at
    indent: int | None = None  # the column records open at, when each opens its own line
    for match in _TOKENS.finditer(text, start_at):
        token = match.group()
        if token in "{[":
            line_start = text.rfind("\n", 0, match.start()) + 1
            column = (
                match.start() - line_start if not text[line_start : match.start()].strip() else -1
            )
            if depth == base:
                junk = text[last_end : match.start()].strip().strip(",").strip()
                if junk:
                    spans.append((last_end + text[last_end:].index(junk[0]), match.start()))
                start = match.start()
                if indent is None and column >= 0:
                    indent = column
            elif token == "{" and column == indent and start >= 0:
                # A record opening where records open (pretty-printed, nested values are
                # indented deeper): the one before never closed. Cut it here.
                spans.append((start, match.start()))
                start, depth = match.start(), base
            depth += 1
        elif token in "}]":
            depth -= 1
            if depth == base and start >= 0:
                spans.append((start, match.end()))
                start, last_end = -1, match.end()
            elif depth < base:
                break  # the array's own closing bracket
    if depth > base and start >= 0:
        spans.append((start, len(text)))  # never closed: to the end
    cut = truncated and depth > base
    if cut:
        spans.pop()  # the record the gzip was cut in
    bad: list[BadRecord] = []
    good = 0
    with open(out, "w", encoding="utf-8") as fh:
        for index, (begin, end) in enumerate(spans, 1):
            record = text[begin:end]
            first, last = line_of(begin), line_of(max(begin, end - 1))
            try:
                json.loads(record)
            except ValueError as exc:
                at = first + getattr(exc, "lineno", 1) - 1
                reason = (
                    f"malformed JSON at line {at}"
                    if at <= last
                    else f"malformed JSON at line {last}: the record is not closed"
                )
                bad.append(BadRecord(index, first, last, reason))
                fh.write("\n")
                continue
            fh.write(record.replace("\r", " ").replace("\n", " ") + "\n")
            good += 1
    if truncated:
        file_reason = f"truncated gzip: {good} complete records recovered, the rest is unreadable"
    return Salvage(good, tuple(bad), file_reason)
