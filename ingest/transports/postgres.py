"""PostgreSQL: keyset pages of a table as ``COPY (SELECT ...) TO STDOUT`` CSV files (I/O only).

A source declares what to read (the SELECT, the keyset columns, how to read a page again when
the fast query refuses a row); this module connects (read-only, autocommit, retried), streams
each page into a CSV file with a header in the run's scratch folder, and turns driver failures
into ``SourceUnavailable``. Pages follow the ``(time, tie-breaker)`` order: a cheap query finds
where a page ends (a keyset bound, never OFFSET over the data), then COPY reads exactly that
range, so a busy table neither skips nor repeats rows between pages.

Every query and COPY runs under the run's deadline (``guarded``): the server ends a statement
at ``statement_timeout``, and for a link that stalls (where the server cannot even say so) a
watchdog shuts the connection's socket down at ``request_timeout``; TCP keepalives and
``tcp_user_timeout`` drop a dead peer.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.deadline import Deadline, request_expired
from ingest.errors import SourceUnavailable


@dataclass
class Target:
    """Where a DSN points, for messages: never the password."""

    dsn: str
    host: str
    port: str
    dbname: str

    @property
    def label(self) -> str:
        return f"PostgreSQL at {self.host}:{self.port} (database {self.dbname})"


def target(dsn: str) -> Target:
    """The parts of ``dsn`` (a URL or key=value conninfo); ValueError when it is not one."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        parts = conninfo_to_dict(dsn)
    except Exception:  # noqa: BLE001 - psycopg.ProgrammingError; its text may echo the DSN
        raise ValueError("not a PostgreSQL DSN") from None
    return Target(
        dsn=dsn,
        host=str(parts.get("host") or "localhost"),
        port=str(parts.get("port") or "5432"),
        dbname=str(parts.get("dbname") or parts.get("user") or "postgres"),
    )


def problem(exc: BaseException, target: Target) -> str:
    """The first line of a driver error, with anything DSN-like removed."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text.replace(target.dsn, "<dsn>")


def connect(
    target: Target, *, source: str, attempts: int, request_timeout: float | None = None
) -> Any:
    """A read-only, autocommit psycopg connection; retries with backoff, then SourceUnavailable.

    ``request_timeout`` (seconds) becomes the server's ``statement_timeout`` and the socket's
    ``tcp_user_timeout`` (unacknowledged data), with keepalives probing an idle peer."""
    import psycopg
    from tenacity import (
        RetryError,
        retry,
        retry_if_exception_type,
        stop_after_attempt,
        wait_exponential,
    )

    @retry(
        stop=stop_after_attempt(attempts),
        wait=wait_exponential(multiplier=0.25, max=4),
        retry=retry_if_exception_type(psycopg.OperationalError),
    )
    def _open() -> Any:
        bounds: dict[str, Any] = {}
        if request_timeout:
            ms = int(request_timeout * 1000)
            bounds = {
                "options": f"-c statement_timeout={ms}",
                "tcp_user_timeout": ms,
                "keepalives": 1,
                "keepalives_idle": 30,
                "keepalives_interval": 10,
                "keepalives_count": 3,
            }
        return psycopg.connect(
            target.dsn,
            autocommit=True,
            connect_timeout=10,
            application_name="llmledger",
            **bounds,
        )

    try:
        pg = _open()
    except RetryError as exc:
        cause = exc.last_attempt.exception() or exc
        raise SourceUnavailable(
            source,
            f"cannot connect to {target.label} after {attempts} attempts: {problem(cause, target)}",
            "Check that the database is up and reachable and that the DSN's user and password "
            "are right",
        ) from None
    pg.read_only = True
    pg.execute("set default_transaction_read_only = on")  # autocommit: read_only alone is moot
    pg.execute("set time zone 'UTC'")
    return pg


@contextmanager
def translated(
    target: Target, *, source: str, grant: str, request_timeout: float | None = None
) -> Iterator[None]:
    """Driver failures inside as SourceUnavailable (``grant``: how to fix a refused read; a
    statement the server cancelled at ``request_timeout`` as that deadline)."""
    import psycopg

    try:
        yield
    except psycopg.errors.InsufficientPrivilege as exc:
        raise SourceUnavailable(
            source, f"{target.label} refused a read: {problem(exc, target)}", grant
        ) from None
    except psycopg.OperationalError as exc:
        if isinstance(exc, psycopg.errors.QueryCanceled) and request_timeout:
            raise request_expired(source, target.label, float(request_timeout)) from None
        raise SourceUnavailable(
            source,
            f"lost {target.label}: {problem(exc, target)}",
            "Check the database and run again; rows already loaded are kept and the cursor "
            "only covers them",
        ) from None


@contextmanager
def guarded(pg: Any, guard: Deadline | None, target: Target) -> Iterator[None]:
    """One query or COPY under ``guard``'s deadline: past it, the connection's socket is shut
    down (the blocked read returns) and the call ends as ``Expired``."""
    if guard is None:
        yield
        return
    with guard.request(target.label) as watch:
        watch.add_socket(pg.pgconn.socket)
        yield


def copy_to_file(pg: Any, sql: str, params: list[Any], path: Path) -> int:
    """Stream ``COPY (sql) TO STDOUT`` as CSV with a header into ``path``; return the row count."""
    cur = pg.cursor()
    with (
        open(path, "wb", buffering=1 << 20) as out,
        cur.copy(f"copy ({sql}) to stdout with (format csv, header true)", params) as copy,
    ):
        for chunk in copy:
            out.write(chunk)
    return int(cur.rowcount)


@dataclass(frozen=True)
class Keyset:
    """How to page a table: ``table`` is the FROM of the bound query, ``time`` the ordering
    column (``time_text`` its value as text, ``time_type`` the parameters' SQL type), ``tie`` the
    tie-breaker expression (with its collation; ``tie_text`` its value). ``select(condition)``
    is the query a page is copied with; ``fallback(condition)``, if given, reads the page again
    when the first one fails with a data error."""

    table: str
    time: str
    time_text: str
    time_type: str
    tie: str
    tie_text: str
    select: Callable[[str], str]
    fallback: Callable[[str], str] | None = None


@dataclass
class CopiedPage:
    path: Path
    rows: int


def keyset_pages(
    pg: Any,
    keyset: Keyset,
    *,
    start: str | None,
    until: str | None,
    page_rows: int,
    folder: Path,
    prefix: str = "page",
    guard: Callable[[], Any] | None = None,
) -> Iterator[CopiedPage]:
    """CSV files of at most ``page_rows`` rows from ``start`` (inclusive) to ``until`` (exclusive),
    in ``(time, tie)`` order; empty pages are not yielded."""
    import psycopg

    ts, tie, cast = keyset.time, keyset.tie, keyset.time_type
    bounded_call = guard or _unguarded
    after: tuple[str, str] | None = None
    for number in itertools.count():
        where, params = [], []
        if after is not None:
            where.append(f"{ts} >= %s::{cast} and ({ts} > %s::{cast} or {tie} > %s)")
            params += [after[0], after[0], after[1]]
        elif start is not None:
            where.append(f"{ts} >= %s::{cast}")
            params.append(start)
        if until is not None:
            where.append(f"{ts} < %s::{cast}")
            params.append(until)
        cond = " and ".join(where) or "true"
        with bounded_call():
            end = pg.execute(
                f"select {keyset.time_text}, {keyset.tie_text} from {keyset.table} where {cond} "
                f"order by {ts}, {tie} offset {int(page_rows) - 1} limit 1",
                params,
            ).fetchone()
        bounded, bounded_params = cond, list(params)
        if end is not None:
            bounded += f" and {ts} <= %s::{cast} and ({ts} < %s::{cast} or {tie} <= %s)"
            bounded_params += [end[0], end[0], end[1]]
        path = folder / f"{prefix}-{number:05d}.csv"
        try:
            with bounded_call():
                rows = copy_to_file(pg, keyset.select(bounded), bounded_params, path)
        except psycopg.DataError:
            if keyset.fallback is None:
                raise
            with bounded_call():
                rows = copy_to_file(pg, keyset.fallback(bounded), bounded_params, path)
        if rows:
            yield CopiedPage(path, rows)
        else:
            path.unlink(missing_ok=True)
        if end is None:
            return
        after = (str(end[0]), str(end[1]))


@contextmanager
def _unguarded() -> Iterator[None]:
    yield
