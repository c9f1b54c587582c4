"""The one runner every source goes through.

``run_source`` owns what each source used to re-implement: its options (declared once, checked,
defaults filled), the client (built by the source's factory unless one is handed in), a private
scratch folder, the progress bar, and the page loop::

    transport (a background thread, one page ahead)   ->  page k+2 is fetched
    format    (a second DuckDB connection)             ->  page k+1 is parsed
    loader    (a writer thread, pages in order)        ->  page k is committed: rows of every raw
                                                           table + rejects + cursors + processed
                                                           objects, in one transaction

so a run killed at any point loses and duplicates nothing. Cursors only move forward (the
source's ``CursorKind.newer``). A transport or SDK failure surfaces as ``SourceUnavailable``
(exit 3) from the source's own error translation; the cursor stays where the last committed
page put it. A source that declares ``request_timeout``/``run_timeout`` (``source.DEADLINES``)
gets a ``Deadline`` (``run.guard()``): its transport bounds each request with it, and the
runner stops the run between pages, or while waiting for the next one, at ``run_timeout``.
"""

from __future__ import annotations

import os
import queue
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb

from ingest import progress
from ingest.bounds import CURSOR_SKEW
from ingest.context import AppContext
from ingest.deadline import Deadline, run_expired
from ingest.errors import ConfigError
from ingest.loader import Loader, LoadResult, PageWrite, ProcessedObject
from ingest.source import Page, Parsed, Shard, Source, SourceRun

# A cursor never moves past now plus CURSOR_SKEW (clocks differ a little; a year 2099 record must
# not hide every later one); formats reject records later than that (ingest.bounds).


def run_source(
    app: AppContext,
    con: duckdb.DuckDBPyConnection,
    source: Source | str,
    options: Mapping[str, Any],
    *,
    since: date | None = None,
    until: date | None = None,
    client: Any = None,
    now: datetime | None = None,
    clock: Callable[[], float] | None = None,
    sleep: Callable[[float], None] | None = None,
    configured: bool = False,
    shard: Shard | None = None,
) -> LoadResult:
    """Read ``source`` with ``options`` (a config table or flags) into its raw tables.

    ``client`` replaces the one the source's factory would build (tests: a client pointed at a
    local server); ``now``, ``clock`` and ``sleep`` replace the wall clock and the monotonic one
    a transport paces itself by (tests). ``configured`` says the options are already checked
    (``configure``'s output). ``shard`` (``--shard K/N``) reads only the units that worker owns,
    for a source that declares ``shards``.
    Raises ConfigError (exit 2) for bad options and SourceUnavailable (exit 3) for a source that
    is down or refuses credentials.
    """
    if isinstance(source, str):
        from ingest import sources

        found = sources.get(source)
        if found is None:
            raise ConfigError(f"no source called {source!r}; see `llmledger ingest --help`")
        source = found
    opts = (
        dict(options)
        if configured
        else source.configure(options, base_dir=app.config.base_dir, where=source.name)
    )
    if shard is not None and not source.shards:
        raise ConfigError(
            f"{source.name} does not shard; run one worker per source (each with its own --db) "
            "and combine them with `llmledger merge`"
        )
    if client is None and source.client is not None:
        client = source.client(opts)
    scratch = make_scratch(app.scratch_dir, source.name)
    reader = con.cursor()
    try:
        with progress.bar(app, f"{source.name} {source.unit}") as advance:
            run = SourceRun(
                app=app,
                con=con,
                source=source,
                options=opts,
                since=since,
                until=until,
                client=client,
                scratch=scratch,
                now=now or datetime.now(UTC),
                progress=advance,
                reader=reader,
                clock=clock or time.monotonic,
                sleep=sleep or time.sleep,
                deadline=Deadline.of(source.name, opts),
                shard=shard,
            )
            return _load(run)
    finally:
        reader.close()
        shutil.rmtree(scratch, ignore_errors=True)


def make_scratch(root: Path, name: str) -> Path:
    """A private (0700) folder for one run's local copies, under ``root`` (beside the database
    unless configured), never the shared temp directory: pages can hold prompt text until they
    are parsed. Folders left by runs that died (their process is gone) are removed first."""
    root.mkdir(parents=True, exist_ok=True)
    for left in root.iterdir():
        pid = left.name.split(".")[1] if left.name.count(".") >= 2 else ""
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(left, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{name}.{os.getpid()}.", dir=root))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _load(run: SourceRun) -> LoadResult:
    """Parse each page on a second connection while the previous one commits on the first.

    DuckDB writes into an indexed table on one core, so parsing page k+1 beside the commit of
    page k keeps both cores busy; commits still happen one at a time, in page order.
    """
    con = run.con
    second = con.cursor()
    second.execute("set timezone = 'UTC'")
    connections = [con, second]
    tables = {t.name: t.key for t in run.source.tables}
    prefer = {t.name: t.prefer for t in run.source.tables if t.prefer}
    loaders = [Loader(c, source=run.name, tables=tables, prefer=prefer) for c in connections]
    cursors: dict[str, str | None] = {}
    total = LoadResult()
    writing: Future[LoadResult] | None = None
    deadline = run.guard()
    pages = ahead(
        run.source.transport(run), name=f"{run.name}-fetch", discard=_release, deadline=deadline
    )
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{run.name}-write") as pool:
            for number, page in enumerate(pages):
                try:
                    deadline.check()  # run_timeout: pages committed so far stay
                except BaseException:
                    _release(page)
                    raise
                side = number % 2
                try:
                    parsed = run.source.parse(connections[side], page, run)
                finally:
                    _release(page)
                moved = _moved_cursors(run, cursors, page, parsed)
                if writing is not None:
                    try:
                        total += writing.result()  # the previous page is committed first
                    except BaseException:
                        parsed.drop(connections[side])
                        raise
                    writing = None
                writing = pool.submit(
                    _commit, connections[side], loaders[side], parsed, page, moved
                )
                if run.progress is not None:
                    run.progress(page.units if page.units is not None else len(page.files))
            if writing is not None:
                total += writing.result()
                writing = None
    finally:
        if writing is not None:  # stopped early: let the running commit end, keep its error
            writing.exception()
        pages.close()
        second.close()
    return total


def _moved_cursors(
    run: SourceRun, cursors: dict[str, str | None], page: Page, parsed: Parsed
) -> dict[str, str]:
    """The partitions whose cursor this page moves forward, and to what."""
    kind = run.source.cursor
    moved: dict[str, str] = {}
    latest = run.now + CURSOR_SKEW
    for values in (page.cursors, parsed.cursors):
        for partition, value in values.items():
            if partition not in cursors:
                cursors[partition] = run.cursor(partition)
            at = run.time_of(value) if value else None
            if at is not None and at > latest:
                # One far-future record must not move the cursor past every later one.
                run.log(
                    "cursor_in_future",
                    f"warning: {partition}: {value} is later than now; the cursor stays",
                    partition=partition,
                )
                continue
            newer = kind.newer(cursors[partition], value)
            if newer is not None and newer != cursors[partition]:
                cursors[partition] = newer
                moved[partition] = newer
    return moved


def _commit(
    con: duckdb.DuckDBPyConnection,
    loader: Loader,
    parsed: Parsed,
    page: Page,
    cursors: dict[str, str],
) -> LoadResult:
    """One transaction: the page's rows, rejections, processed objects and cursors."""
    try:
        processed = [
            ProcessedObject(f.key, f.fingerprint, int(parsed.records_per_file.get(f.path, 0)))
            for f in page.files
            if f.key
        ]
        result = loader.write(
            PageWrite(
                rows=dict(parsed.rows),
                rejected=list(parsed.rejected),
                cursors=cursors,
                processed=processed,
            )
        )
        result.skipped = dict(parsed.skipped)
        return result
    finally:
        parsed.drop(con)


def _release(page: Page) -> None:
    if page.release is not None:
        page.release()
        page.release = None


_DONE = object()


class ahead(Iterator[Any]):  # noqa: N801 - used like a generator function
    """Run ``items`` in a background thread, one item ahead of the caller.

    The producer's errors are raised in the caller. When the caller stops early (``close``),
    the producer is told to stop and items it made but nobody took go to ``discard``.
    """

    def __init__(
        self,
        items: Iterator[Any],
        *,
        name: str,
        discard: Any = None,
        deadline: Deadline | None = None,
    ) -> None:
        self._items = items
        self._deadline = deadline
        self._abandoned = False
        self._discard = discard
        self._handed: queue.Queue[Any] = queue.Queue(maxsize=1)
        self._stop = threading.Event()
        self._finished = False
        self._worker = threading.Thread(target=self._produce, name=name, daemon=True)
        self._worker.start()

    def _hand_over(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._handed.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self) -> None:
        try:
            for item in self._items:
                if not self._hand_over(item):
                    if self._discard is not None:
                        self._discard(item)
                    return
            self._hand_over(_DONE)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the consuming thread
            self._hand_over(exc)
        finally:
            close = getattr(self._items, "close", None)
            if close is not None:
                close()

    def __iter__(self) -> ahead:
        return self

    def __next__(self) -> Any:
        if self._finished:
            raise StopIteration
        left = self._deadline.remaining() if self._deadline is not None else None
        try:
            item = self._handed.get(timeout=max(left, 0.01) if left is not None else None)
        except queue.Empty:
            # run_timeout while the producer is still busy: stop waiting for it (its own
            # request deadlines end it soon; a daemon thread does not hold the process)
            assert self._deadline is not None
            self._abandoned = True
            self.close()
            raise run_expired(
                self._deadline.source, float(self._deadline.run_seconds or 0)
            ) from None
        if item is _DONE:
            self.close()
            raise StopIteration
        if isinstance(item, BaseException):
            self.close()
            raise item
        return item

    def close(self) -> None:
        if self._finished:
            return
        self._finished = True
        self._stop.set()
        self._worker.join(timeout=1 if self._abandoned else None)
        while not self._handed.empty():
            left = self._handed.get_nowait()
            if self._discard is not None and left is not _DONE:
                if not isinstance(left, BaseException):
                    self._discard(left)
