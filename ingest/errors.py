"""Exit codes and the errors that map onto them.

Every error a user can cause or fix is one of these, so the CLI prints one line and exits with the
right code instead of a traceback.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

from models.redact import redact


class ExitCode(IntEnum):
    OK = 0
    DATA = 1  # a data or check failure (rejected records do not count; a failed check does)
    USAGE = 2  # usage or configuration error
    SOURCE = 3  # a source unreachable or refusing credentials


class LedgerError(Exception):
    """An error with a one-line message meant for the user (a URL's ``user:pass@`` redacted:
    messages go to the terminal, logs and the run log)."""

    exit_code: ExitCode = ExitCode.DATA

    def __init__(self, *args: Any) -> None:
        super().__init__(*(redact(a) if isinstance(a, str) else a for a in args))


class ConfigError(LedgerError):
    exit_code = ExitCode.USAGE


class SourceUnavailable(LedgerError):
    """A source is down, times out or refuses credentials. The cursor has not moved."""

    exit_code = ExitCode.SOURCE

    def __init__(self, source: str, problem: str, fix: str) -> None:
        super().__init__(f"{source}: {problem}. {fix}")
        self.source = source


class DataError(LedgerError):
    exit_code = ExitCode.DATA


class DiskFull(DataError):
    """The disk filled up (exit 1): rows already committed stay, temp files are removed."""

    def __init__(self, path: str, needed_mb: int | None = None) -> None:
        need = f"; about {needed_mb} MB needed" if needed_mb else ""
        super().__init__(
            f"no space left on device at {path}{need}. Free some space (or point the database, "
            "snapshot or scratch elsewhere) and run again; the next run goes on from the cursor"
        )


def disk_full(exc: BaseException, where: str | None = None) -> DiskFull | None:
    """``exc`` as DiskFull if it (or its cause) is a full disk, else None. ``where`` names the
    path when the error does not (DuckDB's text names the file it could not write)."""
    import re

    from models.snapshot import NoSpace, no_space

    if not no_space(exc):
        return None
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, NoSpace):
            return DiskFull(seen.path, seen.needed_mb)
        if isinstance(seen, OSError) and seen.filename:
            return DiskFull(str(seen.filename))
        quoted = re.search(r'file "([^"]+)"', str(seen))
        if quoted:
            return DiskFull(quoted.group(1))
        seen = seen.__cause__ or seen.__context__
    return DiskFull(where or "the database's disk")
