"""Plausibility bounds every format applies to a record before it reaches a raw table.

A record outside them is rejected (it stays re-readable: a later fix can read it again) rather
than stored, so one absurd value can neither move a cursor past all later data nor break a
build. The checks are SQL expressions evaluated over a whole page, never per record in Python.
"""

from __future__ import annotations

from datetime import timedelta

# Cursors never move past now + this skew (the runner), and records later than it are rejected.
CURSOR_SKEW = timedelta(minutes=5)
# Records before this are rejected: it covers 1970 and 0001 (zero or unset clocks) and 1969.
TIMESTAMP_FLOOR = "2000-01-01"
# One request cannot carry more tokens than this in any one count.
TOKEN_CEILING = 10_000_000

FUTURE_REASON = "timestamp in the future"
PAST_REASON = "timestamp before 2000"


def too_late_sql(ts: str) -> str:
    """True when the timestamptz expression ``ts`` is later than now + the cursor skew."""
    seconds = int(CURSOR_SKEW.total_seconds())
    return f"{ts} > current_timestamp + interval {seconds} second"


def too_early_sql(ts: str) -> str:
    """True when the timestamptz expression ``ts`` is before the floor."""
    return f"{ts} < timestamptz '{TIMESTAMP_FLOOR} 00:00:00+00'"


def timestamp_checks(ts: str) -> list[tuple[str, str]]:
    """(condition, reason) pairs for a timestamptz expression, reasons unquoted."""
    return [(too_late_sql(ts), FUTURE_REASON), (too_early_sql(ts), PAST_REASON)]


def too_many_tokens_sql(value: str) -> str:
    """True when ``value`` (text or a number) is an integer above the token ceiling."""
    return f"try_cast({value} as hugeint) > {TOKEN_CEILING}"


def too_many_tokens_reason(field: str) -> str:
    return f"implausible {field}: above {TOKEN_CEILING:,} tokens"
