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
