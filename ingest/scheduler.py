"""The scheduled job: ingest every configured source, build, publish, check budgets; one at a time.

``llmledger run --once`` does one run; ``llmledger run --every 15m`` repeats it, starting a run
every 15 minutes (the next starts at once if a run took longer; runs never overlap).

**One run at a time.** A run holds a lock file beside the database (``<db>.lock``) holding the
holder's pid, hostname and start time; the holder touches it every few seconds (a heartbeat).
A lock is *stale*, and the next run takes it over, when its holder is on this host and its pid is
dead, or when its heartbeat is older than ``run.lock_stale_minutes`` (default 30; the only rule
that applies across hosts). An overlapping start waits up to ``--lock-wait`` seconds (default 0)
for the lock, then exits 1 with one line naming the holder, so cron never piles up runs and a
source is never ingested twice at once. (DuckDB's own file lock is a second guard: one writer.)

**A failing source does not stop the others.** Each source runs on its own; its error is logged
and recorded in ``ingest_runs``; the others still load, the models still build and the snapshot
is still published. The exit code is the worst of the run: 3 when a source was unreachable or
refused credentials, 2 for a configuration error, 1 for any other failure (a bug in a source, a
failed build, a webhook that stayed down), else 0. The errors are logged before the build and
publish; a first run against a new database whose every source failed before loading anything
removes the database it created instead (``pipeline.discard``).

**Budget alerts.** After the build, each ``[[budgets]]`` team's spend this month (UTC; list cost,
counted requests, as ``report`` shows it) is compared with its monthly budget. Past 80%, past 100%,
or forecast to pass 100% by month end (``models.budgets.forecast``, the projection the dashboard
shows; after ``alerts.forecast_min_days`` days, default 3), one JSON message is POSTed to the
webhook: each threshold at most once per team per month, recorded in the table ``alerts_sent``
after the webhook accepted it, so a restart does not repeat it (a crash between the POST and the
record can repeat one message: at-least-once). The webhook URL comes from the environment variable
``alerts.webhook_url_env`` names, else ``alerts.webhook_url``; it is never logged. Transient
webhook failures (connection errors, timeouts, HTTP 429 and 5xx) are retried with exponential
backoff (tenacity). One POST, its answer included, takes at most ``alerts.request_timeout``
seconds (default 120) and all of a run's alerts at most ``alerts.run_timeout`` (default 300): a
webhook that trickles its answer cannot hold the lock. An alert not sent stays out of
``alerts_sent`` and is sent by the next run.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import duckdb
import tenacity

from ingest import deadline as deadlines
from ingest import pipeline, progress
from ingest.context import AppContext
from ingest.deadline import Deadline, Expired
from ingest.errors import ConfigError, DataError, ExitCode, LedgerError, disk_full
from ingest.loader import LoadResult, record_run
from models import budgets

DEFAULT_STALE_MINUTES = 30
DEFAULT_FORECAST_MIN_DAYS = 3
LOCK_POLL_SECONDS = 0.5
THRESHOLDS = ("80%", "100%", "forecast_100%")

ALERTS_DDL = """
create table if not exists alerts_sent (
    team varchar not null,
    month varchar not null,              -- YYYY-MM (UTC)
    threshold varchar not null,          -- '80%' | '100%' | 'forecast_100%'
    sent_at timestamptz not null,
    spend_usd decimal(38, 12),
    budget_usd decimal(18, 6),
    forecast_usd decimal(38, 12),
    primary key (team, month, threshold)
)
"""


# ---------------------------------------------------------------------------------------------
# the lock


class LockBusy(DataError):
    """Another run holds the lock (exit 1)."""


@dataclass
class LockInfo:
    pid: int | None
    hostname: str | None
    started_at: str | None
    token: str | None
    heartbeat: datetime  # the lock file's mtime

    def describe(self, now: datetime) -> str:
        age = int((now - self.heartbeat).total_seconds())
        if self.pid is None:
            return f"unreadable: being written, or left half-written; touched {age}s ago"
        return (
            f"pid {self.pid} on {self.hostname}, started {self.started_at}, "
            f"last heartbeat {age}s ago"
        )


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


class RunLock:
    """``<db>.lock``: created with O_EXCL; broken only when stale, under a directory flock."""

    def __init__(self, db_path: Path, stale_minutes: int = DEFAULT_STALE_MINUTES) -> None:
        self.path = Path(db_path).with_name(Path(db_path).name + ".lock")
        self.stale = timedelta(minutes=stale_minutes)
        self.token = uuid.uuid4().hex
        self.hostname = socket.gethostname()
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None

    # -- reading and judging

    def read(self) -> LockInfo | None:
        try:
            stat = self.path.stat()
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        heartbeat = datetime.fromtimestamp(stat.st_mtime, UTC)
        try:
            doc = json.loads(text)
            return LockInfo(
                int(doc["pid"]),
                str(doc["hostname"]),
                str(doc["started_at"]),
                str(doc["token"]),
                heartbeat,
            )
        except (ValueError, KeyError, TypeError):  # half-written by a holder that died
            return LockInfo(None, None, None, None, heartbeat)

    def is_stale(self, info: LockInfo, now: datetime | None = None) -> bool:
        now = now or datetime.now(UTC)
        if now - info.heartbeat > self.stale:
            return True
        if info.pid is None:  # unreadable: give its writer a few seconds to finish
            return now - info.heartbeat > timedelta(seconds=30)
        return info.hostname == self.hostname and not pid_alive(info.pid)

    # -- taking and giving back

    def acquire(self, wait_seconds: float = 0) -> None:
        deadline = time.monotonic() + max(0.0, wait_seconds)
        while True:
            if self._try_create():
                self._start_heartbeat()
                return
            info = self.read()
            if info is not None and self.is_stale(info):
                self._break_if_stale()
                continue
            if info is None:
                continue  # released between our attempt and the read
            if time.monotonic() >= deadline:
                raise LockBusy(
                    f"another run holds {self.path} ({info.describe(datetime.now(UTC))}); "
                    "not starting. Wait for it (run --lock-wait SECONDS), or if that run is "
                    f"gone, the lock is taken over once it is stale (holder's pid dead on this "
                    f"host, or no heartbeat for {int(self.stale.total_seconds() // 60)} min)"
                )
            time.sleep(LOCK_POLL_SECONDS)

    def release(self) -> None:
        self._stop.set()
        if self._heartbeat is not None:
            self._heartbeat.join(timeout=5)
        with self._guard():
            info = self.read()
            if info is not None and info.token == self.token:
                self.path.unlink(missing_ok=True)

    def _try_create(self) -> bool:
        """Create the lock whole or not at all: the document is written to a private file
        first and hard-linked into place (fails if the lock exists), so a run killed while
        taking the lock never leaves a half-written one that blocks the next run."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._remove_abandoned()
        doc = {
            "pid": os.getpid(),
            "hostname": self.hostname,
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "token": self.token,
        }
        draft = self.path.with_name(f".{self.path.name}.{os.getpid()}.{self.token[:8]}")
        try:
            with open(draft, "w", encoding="utf-8") as fh:
                fh.write(json.dumps(doc))
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(draft, self.path)
            except FileExistsError:
                return False
            except OSError:  # a filesystem without hard links: exclusive create, then write
                return self._create_in_place(doc)
        finally:
            draft.unlink(missing_ok=True)
        return True

    def _create_in_place(self, doc: dict[str, Any]) -> bool:
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(doc))
            fh.flush()
            os.fsync(fh.fileno())
        return True

    def _remove_abandoned(self) -> None:
        """Drafts of runs killed while taking the lock (their pid is gone)."""
        prefix = f".{self.path.name}."
        for left in self.path.parent.glob(prefix + "*"):
            pid = left.name[len(prefix) :].split(".", 1)[0]
            if pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid)):
                left.unlink(missing_ok=True)

    def _break_if_stale(self) -> None:
        # Every unlink of the lock happens under this guard, so the file judged stale here is
        # the file removed: a fresh lock created meanwhile can't be removed by mistake.
        with self._guard():
            info = self.read()
            if info is not None and self.is_stale(info):
                self.path.unlink(missing_ok=True)

    @contextmanager
    def _guard(self) -> Iterator[None]:
        fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _start_heartbeat(self) -> None:
        interval = max(1.0, min(30.0, self.stale.total_seconds() / 4))
        self._stop.clear()

        def beat() -> None:
            while not self._stop.wait(interval):
                try:
                    os.utime(self.path)
                except FileNotFoundError:
                    return

        self._heartbeat = threading.Thread(target=beat, name="llmledger-lock", daemon=True)
        self._heartbeat.start()


@contextmanager
def run_lock(app: AppContext, wait_seconds: float = 0) -> Iterator[RunLock]:
    """Hold the run lock for the length of the block (``ingest`` can share it)."""
    lock = RunLock(app.db_path, stale_minutes(app))
    lock.acquire(wait_seconds)
    try:
        yield lock
    finally:
        lock.release()


def stale_minutes(app: AppContext) -> int:
    return int(app.config.section("run").get("lock_stale_minutes", DEFAULT_STALE_MINUTES))


# ---------------------------------------------------------------------------------------------
# one run


@dataclass
class RunReport:
    outcomes: list[pipeline.SourceOutcome] = field(default_factory=list)
    published: bool = False
    discarded: bool = False  # a first run that loaded nothing: the new database was removed
    build_error: str | None = None
    alerts_sent: int = 0
    alert_errors: list[str] = field(default_factory=list)
    exit_code: int = 0


def run_once(app: AppContext, *, lock_wait: float = 0, now: datetime | None = None) -> RunReport:
    """Take the lock, ingest every configured source, build, publish, alert; release the lock."""
    sources = pipeline.configured_sources(app)
    if not sources:
        raise ConfigError(
            "no sources configured; add [[sources.<kind>]] tables to the config file "
            "(--config FILE or LLMLEDGER_CONFIG)"
        )
    with run_lock(app, lock_wait):
        app.log("run_started", f"run started: {len(sources)} source(s)", sources=len(sources))
        created = pipeline.new_files(app)
        con = _connect(app)
        try:
            report = _run_locked(app, con, sources, now or datetime.now(UTC), created)
        finally:
            con.close()
        if report.discarded:
            pipeline.discard(app, created)
    _print_summary(app, report)
    return report


def _connect(app: AppContext) -> duckdb.DuckDBPyConnection:
    try:
        return app.connect()
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise LockBusy(
                f"the database {app.db_path} is open for writing in another process "
                "(DuckDB allows one writer); stop that process or wait for it"
            ) from None
        raise


def _run_locked(
    app: AppContext,
    con: duckdb.DuckDBPyConnection,
    sources: list[tuple[str, dict[str, Any]]],
    now: datetime,
    created: list[Path],
) -> RunReport:
    report = RunReport()
    with progress.bar(app, "sources", total=len(sources)) as task:
        for kind, options in sources:
            task.describe(f"ingesting {kind}")
            report.outcomes.append(_ingest_safely(app, con, kind, options))
            task(1)
    codes = _source_codes(report)
    if pipeline.nothing_to_keep(con, report.outcomes, created, app.db_path):
        pipeline.report_failures(app, report.outcomes)
        report.discarded = True  # a first run that loaded nothing: no build, no empty file
        report.exit_code = max(codes)
        return report
    try:
        codes.append(pipeline.finish(app, con, report.outcomes))
        report.published = True
    except LedgerError as exc:
        report.build_error = str(exc)
        codes.append(int(exc.exit_code))
    except Exception as exc:  # noqa: BLE001 - report it, keep the exit code honest
        full = disk_full(exc)
        report.build_error = str(full) if full else f"{type(exc).__name__}: {exc}"
        codes.append(int(ExitCode.DATA))
    if report.build_error is not None:
        app.log(
            "build_failed",
            f"error: build or publish failed: {report.build_error}",
            error=report.build_error,
        )
    if report.published:
        sent, errors = check_budgets(app, con, now)
        report.alerts_sent, report.alert_errors = sent, errors
        if errors:
            codes.append(int(ExitCode.DATA))
    report.exit_code = max(codes, default=0)
    return report


def _source_codes(report: RunReport) -> list[int]:
    return [int(o.error.exit_code) for o in report.outcomes if o.error is not None]


def _ingest_safely(
    app: AppContext, con: duckdb.DuckDBPyConnection, kind: str, options: dict[str, Any]
) -> pipeline.SourceOutcome:
    """pipeline.ingest_one, but an unexpected error fails this source only, not the run."""
    started = datetime.now(UTC)
    try:
        return pipeline.ingest_one(app, con, kind, options)
    except Exception as exc:  # noqa: BLE001 - one source's bug must not stop the others
        _rollback(con)
        name = _source_name(kind)
        error = disk_full(exc) or DataError(
            f"{name}: failed unexpectedly ({type(exc).__name__}: {exc})"
        )
        try:
            record_run(
                con,
                source=name,
                started_at=started,
                status="failed",
                result=LoadResult(),
                message=str(error),
            )
        except duckdb.Error:
            pass
        app.log("source_failed", f"error: {error}", source=name)
        return pipeline.SourceOutcome(
            kind, name, LoadResult(), error, (datetime.now(UTC) - started).total_seconds()
        )


def _source_name(kind: str) -> str:
    from ingest import sources

    declared = sources.get(kind)
    return declared.name if declared is not None else kind


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    try:
        con.execute("rollback")
    except duckdb.Error:
        pass  # no transaction was open


def _print_summary(app: AppContext, report: RunReport) -> None:
    """The closing summary: a table on a terminal, else one log line (or JSON) per source."""
    if app.interactive:
        progress.console_print(app, _summary_table(app, report))
    else:
        for o in report.outcomes:
            app.log(
                "run_source",
                f"  {o.name}: {'FAILED' if o.error else 'ok'}, {o.result.new_rows} new, "
                f"{o.result.updated_rows} updated, {o.result.rejected_rows} rejected, "
                f"{o.seconds:.1f}s",
                source=o.name,
                status="failed" if o.error else "ok",
                new=o.result.new_rows,
                updated=o.result.updated_rows,
                rejected=o.result.rejected_rows,
                seconds=round(o.seconds, 3),
                error=str(o.error) if o.error else None,
            )
    failed = sum(1 for o in report.outcomes if o.error)
    app.log(
        "run_finished",
        f"run finished: {len(report.outcomes) - failed} source(s) ok, {failed} failed; snapshot "
        + ("published" if report.published else "NOT published")
        + f"; {report.alerts_sent} budget alert(s) sent; exit {report.exit_code}",
        ok=len(report.outcomes) - failed,
        failed=failed,
        published=report.published,
        alerts_sent=report.alerts_sent,
        exit_code=report.exit_code,
    )


def _summary_table(app: AppContext, report: RunReport) -> Any:
    from rich.table import Table

    table = Table(title="llmledger run", title_justify="left")
    for column in ("source", "status", "new", "updated", "rejected", "time"):
        table.add_column(
            column, justify="right" if column in ("new", "updated", "rejected", "time") else "left"
        )
    for o in report.outcomes:
        table.add_row(
            o.name,
            "[red]failed[/red]" if o.error else "[green]ok[/green]",
            str(o.result.new_rows),
            str(o.result.updated_rows),
            str(o.result.rejected_rows),
            f"{o.seconds:.1f}s",
        )
    published = f"published: {app.snapshot_path}" if report.published else "NOT published"
    table.caption = f"snapshot {published}"
    return table


# ---------------------------------------------------------------------------------------------
# the loop


def parse_every(text: str) -> float:
    """``15m``, ``1h``, ``90s``, ``1h30m`` or plain seconds, as seconds (at least 1)."""
    value = str(text).strip().lower()
    if re.fullmatch(r"\d+", value):
        seconds = float(value)
    else:
        parts = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", value)
        if not value or parts is None:
            raise ConfigError(f"--every {text!r} is not a duration like 15m, 1h, 90s or 1h30m")
        h, m, s = (int(p or 0) for p in parts.groups())
        seconds = float(h * 3600 + m * 60 + s)
    if seconds < 1:
        raise ConfigError(f"--every {text!r} must be at least 1s")
    return seconds


def run_forever(app: AppContext, every_seconds: float, *, lock_wait: float = 0) -> int:
    """Start a run every ``every_seconds`` until SIGTERM/SIGINT; returns the exit code.

    A run that finds the lock held is skipped (logged); the loop goes on. Stopping while waiting
    exits 0; a signal during a run ends it cleanly (transactions roll back, the lock is freed).
    """
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        if stop.is_set():
            return
        stop.set()
        if running.is_set():
            raise SystemExit(128 + signum)

    running = threading.Event()
    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        while not stop.is_set():
            started = time.monotonic()
            running.set()
            try:
                run_once(app, lock_wait=lock_wait)
            except LockBusy as exc:
                app.log("run_skipped", f"skipped: {exc}")
            except LedgerError as exc:
                if exc.exit_code == ExitCode.USAGE:
                    raise
                app.log("run_failed", f"error: {exc}")
            finally:
                running.clear()
            delay = max(0.0, every_seconds - (time.monotonic() - started))
            if delay and not stop.is_set():
                app.log("run_waiting", f"next run in {int(delay)}s", seconds=int(delay))
            stop.wait(delay)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return int(ExitCode.OK)


def terminate_cleanly() -> None:
    """For ``run --once``: SIGTERM ends the run through SystemExit, so the lock is released."""
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))


# ---------------------------------------------------------------------------------------------
# budget alerts


@dataclass
class Alert:
    team: str
    month: str
    threshold: str
    spend_usd: Decimal
    budget_usd: Decimal
    forecast_usd: Decimal | None

    def payload(self, now: datetime) -> dict[str, Any]:
        percent = (self.spend_usd * 100 / self.budget_usd).quantize(Decimal("0.1"))
        what = {
            "80%": "passed 80% of",
            "100%": "passed 100% of",
            "forecast_100%": "is forecast to pass 100% of",
        }[self.threshold]
        text = (
            f"llmledger: team {self.team} {what} its {self.month} budget: "
            f"${_cents(self.spend_usd)} spent of ${_cents(self.budget_usd)} ({percent}%)"
        )
        if self.forecast_usd is not None:
            text += f", forecast ${_cents(self.forecast_usd)} by month end"
        return {
            "text": text,
            "event": "budget_threshold",
            "team": self.team,
            "month": self.month,
            "threshold": self.threshold,
            "spend_usd": _plain(self.spend_usd),
            "budget_usd": _plain(self.budget_usd),
            "percent_of_budget": str(percent),
            "forecast_usd": _plain(self.forecast_usd) if self.forecast_usd is not None else None,
            "sent_at": now.isoformat(timespec="seconds"),
        }


def _cents(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,}"


def _plain(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def webhook_url(app: AppContext) -> str | None:
    alerts = app.config.section("alerts")
    env_name = alerts.get("webhook_url_env")
    if env_name and os.environ.get(env_name):
        return os.environ[env_name]
    return alerts.get("webhook_url") or None


def _month(now: datetime) -> str:
    now = now.astimezone(UTC)
    return f"{now.year:04d}-{now.month:02d}"


def _budget_rows(
    con: duckdb.DuckDBPyConnection, now: datetime
) -> list[tuple[str, Decimal, Decimal]]:
    """(team, monthly budget, counted list spend so far this UTC month) per budgeted team."""
    start, end = budgets.month_bounds(now.astimezone(UTC))
    rows = con.execute(
        """
        with spend as (
            select team, sum(cost_usd) as spend_usd
            from usage_events
            where counted and occurred_at >= ? and occurred_at < ?
            group by team
        )
        select b.team, sum(b.monthly_usd) as budget_usd, coalesce(any_value(s.spend_usd), 0)
        from ref_budgets b left join spend s on s.team = b.team
        where b.monthly_usd > 0
        group by b.team
        order by b.team
        """,
        [start, end],
    ).fetchall()
    return [(str(team), Decimal(budget), Decimal(spend)) for team, budget, spend in rows]


def crossed_alerts(
    con: duckdb.DuckDBPyConnection, now: datetime, forecast_min_days: int
) -> list[Alert]:
    """Every threshold crossed this month by each budgeted team, sent or not."""
    now = now.astimezone(UTC)
    alerts: list[Alert] = []
    for team, budget, spend in _budget_rows(con, now):
        forecast = None
        if budgets.elapsed_seconds(now) >= forecast_min_days * 86400:
            forecast = budgets.forecast(spend, now)  # the dashboard's projection too
        crossed = []
        if spend * 100 >= budget * 80:
            crossed.append("80%")
        if spend >= budget:
            crossed.append("100%")
        elif forecast is not None and forecast >= budget:
            crossed.append("forecast_100%")
        alerts += [Alert(team, _month(now), t, spend, budget, forecast) for t in crossed]
    return alerts


def _sent(con: duckdb.DuckDBPyConnection, month: str) -> set[tuple[str, str]]:
    return {
        (str(t), str(th))
        for t, th in con.execute(
            "select team, threshold from alerts_sent where month = ?", [month]
        ).fetchall()
    }


def due_alerts(
    con: duckdb.DuckDBPyConnection, now: datetime, forecast_min_days: int
) -> list[Alert]:
    """Thresholds crossed this month by each budgeted team and not yet sent."""
    sent = _sent(con, _month(now))
    return [
        a for a in crossed_alerts(con, now, forecast_min_days) if (a.team, a.threshold) not in sent
    ]


def why_no_alert(
    con: duckdb.DuckDBPyConnection, now: datetime, forecast_min_days: int, has_webhook: bool
) -> str:
    """Why a run sent no budget alert, as the line ``run`` prints."""
    month = _month(now)
    rows = _budget_rows(con, now)
    if not rows:
        return "no budget alert sent: no budgets configured (add [[budgets]] to the config)"
    if not has_webhook:
        due = len(due_alerts(con, now, forecast_min_days))
        return (
            "no budget alert sent: no webhook configured (set [alerts] webhook_url_env or "
            f"webhook_url); {due} due"
        )
    if all(spend == 0 for _, _, spend in rows):
        return f"no budget alert sent: {month}: no spend yet"
    crossed = crossed_alerts(con, now, forecast_min_days)
    if crossed:
        shown = ", ".join(f"{a.team} {a.threshold}" for a in crossed)
        return f"no budget alert sent: {month}: already sent ({shown})"
    return f"no budget alert sent: {month}: no team over its threshold (80%, 100%, forecast 100%)"


# Retry transient webhook failures: 4 attempts, 1s, 2s, 4s apart (tests shorten WEBHOOK_WAIT).
WEBHOOK_ATTEMPTS = 4
WEBHOOK_WAIT: Any = tenacity.wait_exponential(multiplier=1, min=1, max=8)
WEBHOOK_TIMEOUT_SECONDS = 10  # one connect or one read
WEBHOOK_REQUEST_TIMEOUT = 120  # one POST, its whole answer included (alerts.request_timeout)
WEBHOOK_RUN_TIMEOUT = 300  # every alert of one run (alerts.run_timeout)


class _Transient(Exception):
    pass


def post_webhook(url: str, payload: dict[str, Any], guard: Deadline | None = None) -> None:
    """POST one JSON message; retry connection errors, timeouts, 429 and 5xx; raise on failure.
    ``guard`` bounds each POST as a whole (a webhook that trickles its answer) and all of them."""
    body = json.dumps(payload).encode("utf-8")
    guard = guard or Deadline("alerts", request_seconds=WEBHOOK_REQUEST_TIMEOUT)

    @tenacity.retry(
        stop=tenacity.stop_after_attempt(WEBHOOK_ATTEMPTS),
        wait=WEBHOOK_WAIT,
        retry=tenacity.retry_if_exception_type(_Transient),
        reraise=True,
    )
    def attempt() -> None:
        request = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "User-Agent": "llmledger"},
        )
        try:
            with (
                guard.request("the budget webhook"),
                deadlines.urlopen(request, timeout=guard.timeout(WEBHOOK_TIMEOUT_SECONDS)) as resp,
            ):
                deadlines.read_all(resp)
        except urllib.error.HTTPError as exc:
            if exc.code == 429 or exc.code >= 500:
                raise _Transient(f"HTTP {exc.code}") from None
            raise DataError(f"the budget webhook refused the message: HTTP {exc.code}") from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            raise _Transient(f"{type(reason).__name__}") from None

    try:
        attempt()
    except Expired as exc:
        which = "alerts.run_timeout" if "run_timeout" in str(exc) else "alerts.request_timeout"
        seconds = guard.run_seconds if which == "alerts.run_timeout" else guard.request_seconds
        raise DataError(
            f"the budget webhook did not answer within {float(seconds or 0):g}s ({which}); "
            "the alert will be retried on the next run"
        ) from None
    except _Transient as exc:
        raise DataError(
            f"the budget webhook did not answer after {WEBHOOK_ATTEMPTS} attempts ({exc}); "
            "the alert will be retried on the next run"
        ) from None


def check_budgets(
    app: AppContext, con: duckdb.DuckDBPyConnection, now: datetime
) -> tuple[int, list[str]]:
    """Send what is due; return (messages sent, errors). Never raises for a webhook problem.
    When nothing is sent, one line says why (no budgets, no webhook, no spend yet, ...)."""
    con.execute(ALERTS_DDL)
    has_budgets = con.execute(
        "select count(*) from information_schema.tables where table_name = 'ref_budgets'"
    ).fetchall()[0][0]
    min_days = int(app.config.section("alerts").get("forecast_min_days", DEFAULT_FORECAST_MIN_DAYS))
    url = webhook_url(app)
    alerts = due_alerts(con, now, min_days) if has_budgets else []
    if not alerts or url is None:
        reason = (
            why_no_alert(con, now, min_days, url is not None)
            if has_budgets
            else "no budget alert sent: no budgets configured (add [[budgets]] to the config)"
        )
        app.log("alerts_unsent", reason, due=len(alerts))
        return 0, []
    section = app.config.section("alerts")
    guard = Deadline(
        "alerts",
        request_seconds=int(section.get("request_timeout", WEBHOOK_REQUEST_TIMEOUT)),
        run_seconds=int(section.get("run_timeout", WEBHOOK_RUN_TIMEOUT)),
    )
    sent, errors = 0, []
    for alert in alerts:
        payload = alert.payload(now)
        try:
            post_webhook(url, payload, guard)
        except LedgerError as exc:
            errors.append(str(exc))
            app.log(
                "alert_failed",
                f"error: budget alert for {alert.team} ({alert.threshold}): {exc}",
                team=alert.team,
                threshold=alert.threshold,
            )
            continue
        con.execute(
            "insert or ignore into alerts_sent values (?, ?, ?, ?, ?, ?, ?)",
            [
                alert.team,
                alert.month,
                alert.threshold,
                now,
                alert.spend_usd,
                alert.budget_usd,
                alert.forecast_usd,
            ],
        )
        sent += 1
        app.log(
            "alert_sent",
            payload["text"],
            team=alert.team,
            month=alert.month,
            threshold=alert.threshold,
        )
    return sent, errors
