"""What can be read of a damaged local file of JSON lines, shared by the formats that read them.

A format first reads its files in one scan; a file that makes that scan fail comes here. A
truncated or corrupt gzip keeps its complete lines (the file itself is rejected with the number
recovered); a file with lines that are not UTF-8 text can keep its other lines, the bad ones
blanked so that line numbers stay true. The readable part is written to the run's scratch
folder, never elsewhere, as plain text.
"""

from __future__ import annotations

import gzip
import io
import os
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

UNREADABLE = "unreadable file"
INVALID_UTF8 = "invalid UTF-8"


@dataclass(frozen=True)
class Recovery:
    """What ``recover`` made of a file.

    ``path`` is a scratch copy holding the readable lines (plain text), or None when nothing
    can be read. ``reason`` is why the file itself is rejected, or None when it is not (only
    some of its lines are). ``invalid_lines`` are the 1-based line numbers blanked in ``path``
    because they are not UTF-8 text.
    """

    path: str | None
    reason: str | None
    invalid_lines: tuple[int, ...] = ()


def recover(path: str, scratch: str, *, blank_invalid_utf8: bool = False) -> Recovery:
    """Read what can be read of ``path`` into a file under ``scratch``.

    Without ``blank_invalid_utf8`` only a damaged gzip is recovered (its complete lines); any
    other file is rejected whole. With it, lines that are not UTF-8 text are blanked too (in a
    plain file or in what a gzip decompresses to) and listed in ``invalid_lines``.
    """
    try:
        raw = Path(path).read_bytes()
    except OSError:
        return Recovery(None, UNREADABLE)
    if not raw:
        return Recovery(None, "empty file")
    reason: str | None = None
    if raw[:2] == b"\x1f\x8b":
        decomp = zlib.decompressobj(wbits=31)
        try:
            data = decomp.decompress(raw)
            truncated = not decomp.eof
        except zlib.error:
            data, truncated = decompress_until_error(raw), True
        if truncated:
            complete, _, _partial = data.rpartition(b"\n")
            if not complete:
                return Recovery(None, "truncated gzip: no complete line")
            lines = complete.count(b"\n") + 1
            data = complete + b"\n"
            reason = f"truncated gzip: {lines} complete lines recovered, the rest is unreadable"
        elif not blank_invalid_utf8:
            return Recovery(None, UNREADABLE)
    elif path.endswith(".gz"):
        return Recovery(None, "not a gzip file")
    elif not blank_invalid_utf8:
        return Recovery(None, UNREADABLE)
    else:
        data = raw
    invalid: tuple[int, ...] = ()
    if blank_invalid_utf8:
        data, invalid = _blank_invalid_utf8(data)
    if reason is None and (not invalid or not data.strip()):
        return Recovery(None, UNREADABLE)  # readable as a whole, or no line is text (binary)
    fd, recovered = tempfile.mkstemp(suffix=".ndjson", prefix="recovered-", dir=scratch)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    return Recovery(recovered, reason, invalid)


def decompress_until_error(raw: bytes) -> bytes:
    """Everything a corrupt gzip stream decompresses to before the damage."""
    out = bytearray()
    with gzip.GzipFile(fileobj=io.BytesIO(raw)) as fh:
        try:
            while chunk := fh.read(1 << 16):
                out += chunk
        except (EOFError, OSError, zlib.error):
            pass
    return bytes(out)


def _blank_invalid_utf8(data: bytes) -> tuple[bytes, tuple[int, ...]]:
    try:
        data.decode("utf-8")
        return data, ()
    except UnicodeDecodeError:
        pass
    lines = data.split(b"\n")
    invalid = []
    for i, line in enumerate(lines):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            lines[i] = b""
            invalid.append(i + 1)
    return b"\n".join(lines), tuple(invalid)
