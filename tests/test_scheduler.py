"""The scheduled job (`llmledger run`): one run at a time, failures isolated, budget alerts once.

Sources here are fakes registered as extra source kinds (``fake_ok``, ``fake_down``, ...). The
ones that succeed write real Bedrock invocation-log records and load them through
``ingest.bedrock.parse_files`` and the ``Loader``, so the real build, publish and budget checks
run over real marts. Subprocess tests run the real CLI through a launcher that registers the
same fakes (``install_fake_sources``) before calling ``ingest.cli.main``.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import duckdb
import pytest
import tenacity

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
FAKE_KINDS = ("ok", "ok2", "down", "bug")
PEOPLE = (
    "email,name,team,cost_center\nalice@example.com,Alice,platform,CC-1\n"
    "sam@example.com,Sam,search,CC-2\n"
)


# --------------------------------------------------------------------------------------------
# fake sources


def _fake_pages(behaviour: str, run: Any) -> Any:
    """The fakes' transport: log start, wait, fail as told, else one page of records."""
    from ingest.errors import SourceUnavailable
    from ingest.source import LocalFile, Page

    name = f"fake-{behaviour}"
    options = run.options
    log = Path(options["log"])
    with log.open("a", encoding="utf-8") as fh:
        fh.write(f"{name} start {os.getpid()} {time.time():.3f}\n")
    time.sleep(float(options.get("sleep") or 0))
    if behaviour == "down":
        raise SourceUnavailable(name, "connection refused", "start the fake service")
    if behaviour == "bug":
        raise RuntimeError("boom")
    now = datetime.now(UTC)
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    at = options.get("at") or month_start.strftime("%Y-%m-%dT%H:%M:%SZ")  # this month, stable
    path = run.scratch / f"{name}.json.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        for i in range(int(options["records"])):
            developer = options.get("developer") or "alice@example.com"
            fh.write(json.dumps(_record(f"{name}-{i}", at, developer, options["input_tokens"])))
            fh.write("\n")
    yield Page(files=[LocalFile(str(path), str(log.parent / path.name))])  # a stable location
    with log.open("a", encoding="utf-8") as fh:
        fh.write(f"{name} end {os.getpid()} {time.time():.3f}\n")


def _record(request_id: str, at: str, developer: str, input_tokens: int) -> dict[str, Any]:
    # global Sonnet 4.5 at list price: 100,000 input + 10,000 output tokens = $0.45
    return {
        "schemaType": "ModelInvocationLog",
        "schemaVersion": "1.0",
        "timestamp": at,
        "accountId": "111122223333",
        "region": "us-east-1",
        "requestId": request_id,
        "identity": {
            "arn": "arn:aws:sts::111122223333:assumed-role/"
            f"AWSReservedSSO_Dev_0123456789abcdef/{developer}"
        },
        "operation": "InvokeModel",
        "modelId": "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "input": {
            "inputContentType": "application/json",
            "inputTokenCount": input_tokens,
            "cacheReadInputTokenCount": 0,
            "cacheWriteInputTokenCount": 0,
        },
        "output": {"outputContentType": "application/json", "outputTokenCount": 10000},
    }


def install_fake_sources() -> None:
    """Declare fake-<behaviour> sources in the registry, as a real source is declared (used
    in-process and by the subprocess launcher)."""
    import functools

    from ingest import sources
    from ingest.source import FILE_MTIME, Option, Source
    from ingest.sources.bedrock import format as bedrock

    options = (
        Option("log", required=True),
        Option("sleep", type=int, default=0),
        Option("records", type=int, default=1),
        Option("at"),
        Option("developer"),
        Option("input_tokens", type=int, default=100000),
    )
    for behaviour in FAKE_KINDS:
        name = f"fake-{behaviour}"
        sources.SOURCES[name] = Source(
            name=name,
            family="fake",
            summary="A fake source for the scheduler tests.",
            tables=(bedrock.RAW,),
            cursor=FILE_MTIME,
            transport=functools.partial(_fake_pages, behaviour),
            parse=bedrock.page_format("files"),
            options=options,
        )


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> None:
    from ingest import sources

    monkeypatch.setattr(sources, "SOURCES", dict(sources.SOURCES))
    install_fake_sources()


def write_config(
    directory: Path, sources: list[tuple[str, dict[str, Any]]], extra: str = ""
) -> Path:
    (directory / "people.csv").write_text(PEOPLE, encoding="utf-8")
    lines = ['[people]\ndirectory = "people.csv"\n']
    for kind, options in sources:
        lines.append(f"[[sources.{kind}]]")
        options = {"log": str(directory / "calls.log"), **options}
        lines.extend(f"{k} = {json.dumps(v)}" for k, v in options.items())
        lines.append("")
    path = directory / "llmledger.toml"
    path.write_text("\n".join(lines) + extra, encoding="utf-8")
    return path


def launcher(directory: Path) -> Path:
    script = directory / "launch.py"
    script.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(TESTS)!r})\n"
        "import test_scheduler\n"
        "test_scheduler.install_fake_sources()\n"
        "from ingest.cli import main\n"
        "sys.argv[0] = 'llmledger'\n"
        "main()\n",
        encoding="utf-8",
    )
    return script


def cli_args(directory: Path, *args: str) -> list[str]:
    return [
        sys.executable,
        str(launcher(directory)),
        "--db",
        str(directory / "ledger.duckdb"),
        "--config",
        str(directory / "llmledger.toml"),
        *args,
    ]


def run_cli(
    directory: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cli_args(directory, *args),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env={**os.environ, **(env or {})},
    )


def calls(directory: Path) -> list[list[str]]:
    path = directory / "calls.log"
    return [line.split() for line in path.read_text().splitlines()] if path.exists() else []


def query(directory: Path, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(directory / "ledger.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


# --------------------------------------------------------------------------------------------
# one run at a time


def test_overlapping_start_exits_1_and_never_ingests_twice(tmp_path: Path) -> None:
    write_config(tmp_path, [("fake_ok", {"sleep": 4, "records": 2})])
    first = subprocess.Popen(
        cli_args(tmp_path, "run", "--once"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    lock = tmp_path / "ledger.duckdb.lock"
    deadline = time.monotonic() + 60
    while not (calls(tmp_path) and lock.exists()):
        assert time.monotonic() < deadline and first.poll() is None, first.communicate()
        time.sleep(0.05)
    holder = json.loads(lock.read_text())
    second = run_cli(tmp_path, "run", "--once")
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert second.returncode == 1
    assert second.stderr.startswith(
        f"error: another run holds {lock} (pid {holder['pid']} on {socket.gethostname()}, "
        f"started {holder['started_at']}, last heartbeat "
    )
    assert "not starting. Wait for it (run --lock-wait SECONDS)" in second.stderr
    assert [c[:2] for c in calls(tmp_path)] == [["fake-ok", "start"], ["fake-ok", "end"]]
    assert query(tmp_path, "select source, status, new_rows from ingest_runs") == [
        ("fake-ok", "ok", 2)
    ]
    assert not lock.exists()


def test_overlapping_start_with_lock_wait_runs_after_the_first(tmp_path: Path) -> None:
    write_config(tmp_path, [("fake_ok", {"sleep": 2, "records": 2})])
    first = subprocess.Popen(
        cli_args(tmp_path, "run", "--once"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    deadline = time.monotonic() + 60
    while not calls(tmp_path):
        assert time.monotonic() < deadline and first.poll() is None, first.communicate()
        time.sleep(0.05)
    second = run_cli(tmp_path, "run", "--once", "--lock-wait", "90")
    first.communicate(timeout=120)
    assert (first.returncode, second.returncode) == (0, 0), second.stderr
    log = calls(tmp_path)
    assert [c[1] for c in log] == ["start", "end", "start", "end"]
    assert float(log[2][3]) >= float(log[1][3])  # the second ingest began after the first ended
    # the second run found nothing new: the same records upserted, not duplicated
    assert query(tmp_path, "select new_rows, updated_rows from ingest_runs order by run_id") == [
        (2, 0),
        (0, 0),
    ]
    assert query(tmp_path, "select count(*) from raw_bedrock") == [(2,)]


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _plant_lock(lock: Path, holder: str, age_minutes: int) -> tuple[int, str]:
    host = socket.gethostname() if "this host" in holder else "elsewhere.example"
    pid = _dead_pid() if "dead" in holder else os.getpid()
    if holder.startswith("garbage"):
        lock.write_text('{"pid": 12', encoding="utf-8")
    else:
        lock.write_text(
            json.dumps({"pid": pid, "hostname": host, "started_at": "then", "token": "abc"}),
            encoding="utf-8",
        )
    stamp = time.time() - age_minutes * 60
    os.utime(lock, (stamp, stamp))
    return pid, host


def test_a_crashed_runs_lock_is_taken_over(tmp_path: Path) -> None:
    """End to end: a lock left by a run whose process died does not block the next run."""
    write_config(tmp_path, [("fake_ok", {})])
    lock = tmp_path / "ledger.duckdb.lock"
    _plant_lock(lock, "dead pid, this host", 0)
    result = run_cli(tmp_path, "run", "--once")
    assert result.returncode == 0, result.stderr
    assert not lock.exists()
    assert [c[:2] for c in calls(tmp_path)] == [["fake-ok", "start"], ["fake-ok", "end"]]


@pytest.mark.parametrize(
    "holder, age_minutes, taken_over",
    [
        ("dead pid, this host", 0, True),
        ("live pid, other host, old heartbeat", 45, True),
        ("garbage, old", 5, True),
        ("garbage, just written", 0, False),
        ("live pid, other host, fresh heartbeat", 29, False),
        ("live pid, this host, fresh heartbeat", 1, False),
    ],
)
def test_stale_lock_rule(tmp_path: Path, holder: str, age_minutes: int, taken_over: bool) -> None:
    from ingest.scheduler import LockBusy, RunLock

    lock_path = tmp_path / "ledger.duckdb.lock"
    pid, host = _plant_lock(lock_path, holder, age_minutes)
    lock = RunLock(tmp_path / "ledger.duckdb", stale_minutes=30)
    if taken_over:
        lock.acquire(0)
        assert json.loads(lock_path.read_text())["token"] == lock.token
        lock.release()
        assert not lock_path.exists()
        return
    with pytest.raises(LockBusy) as caught:
        lock.acquire(0)
    if holder.startswith("garbage"):
        assert str(caught.value).startswith(
            f"another run holds {lock_path} (unreadable: being written, or left half-written; "
            "touched 0s ago); not starting."
        )
    else:
        assert str(caught.value).startswith(
            f"another run holds {lock_path} (pid {pid} on {host}, started then, last heartbeat "
        )
    assert lock_path.read_text().startswith('{"pid": ')  # left alone


def test_run_lock_breaks_only_stale_locks_under_contention(tmp_path: Path) -> None:
    """Many takers of one stale lock: exactly one wins, the others see a live lock."""
    from ingest.scheduler import LockBusy, RunLock

    db = tmp_path / "ledger.duckdb"
    lock_path = tmp_path / "ledger.duckdb.lock"
    lock_path.write_text(
        json.dumps(
            {
                "pid": _dead_pid(),
                "hostname": socket.gethostname(),
                "started_at": "then",
                "token": "stale",
            }
        )
    )
    winners: list[RunLock] = []
    losers: list[str] = []
    barrier = threading.Barrier(8)

    def take() -> None:
        lock = RunLock(db)
        barrier.wait()
        try:
            lock.acquire(0)
            winners.append(lock)
        except LockBusy as exc:
            losers.append(str(exc))

    threads = [threading.Thread(target=take) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1 and len(losers) == 7
    assert json.loads(lock_path.read_text())["token"] == winners[0].token
    winners[0].release()
    assert not lock_path.exists()


# --------------------------------------------------------------------------------------------
# failures stay local


def test_a_failing_source_does_not_stop_the_others(tmp_path: Path) -> None:
    write_config(
        tmp_path,
        [
            ("fake_ok", {"records": 2}),
            ("fake_down", {}),
            ("fake_bug", {}),
            ("fake_ok2", {"records": 3}),
        ],
    )
    result = run_cli(tmp_path, "run", "--once")
    assert result.returncode == 3, result.stderr  # the worst: a source unreachable
    err = result.stderr
    assert "error: fake-down: connection refused. start the fake service" in err
    assert "error: fake-bug: failed unexpectedly (RuntimeError: boom)" in err
    assert "  fake-ok: ok, 2 new, 0 updated, 0 rejected, " in err
    assert "  fake-down: FAILED, 0 new, 0 updated, 0 rejected, " in err
    assert "  fake-ok2: ok, 3 new, 0 updated, 0 rejected, " in err
    assert (
        "run finished: 2 source(s) ok, 2 failed; snapshot published; 0 budget alert(s) "
        "sent; exit 3" in err
    )
    # sources run in registry order, each on its own
    assert query(tmp_path, "select source, status from ingest_runs order by run_id") == [
        ("fake-ok", "ok"),
        ("fake-ok2", "ok"),
        ("fake-down", "failed"),
        ("fake-bug", "failed"),
    ]
    snap = duckdb.connect(str(tmp_path / "ledger.snapshot.duckdb"), read_only=True)
    assert snap.execute("select count(*) from usage_events").fetchall() == [(5,)]
    snap.close()


def test_only_a_bug_exits_1_and_log_json_is_one_object_per_line(tmp_path: Path) -> None:
    write_config(tmp_path, [("fake_ok", {}), ("fake_bug", {})])
    args = cli_args(tmp_path, "run", "--once")
    args.insert(2, "--log-json")  # a root option, before --db
    result = subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=REPO)
    assert result.returncode == 1
    events = [json.loads(line) for line in result.stderr.splitlines()]
    by_event = {e["event"]: e for e in events}
    assert by_event["run_finished"]["exit_code"] == 1
    assert by_event["run_finished"]["published"] is True
    sources = [e for e in events if e["event"] == "run_source"]
    assert [(s["source"], s["status"], s["new"]) for s in sources] == [
        ("fake-ok", "ok", 1),
        ("fake-bug", "failed", 0),
    ]
    assert result.stdout == ""


def test_run_every_loops_until_sigterm(tmp_path: Path) -> None:
    write_config(tmp_path, [("fake_ok", {})])
    proc = subprocess.Popen(
        cli_args(tmp_path, "run", "--every", "1s"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    deadline = time.monotonic() + 90
    while len([c for c in calls(tmp_path) if c[1] == "end"]) < 2:
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode in (0, 128 + signal.SIGTERM), err
    assert not (tmp_path / "ledger.duckdb.lock").exists()
    assert "run finished: 1 source(s) ok, 0 failed; snapshot published" in err


def test_parse_every() -> None:
    from ingest.errors import ConfigError
    from ingest.scheduler import parse_every

    assert [parse_every(x) for x in ("15m", "1h", "90s", "1h30m", "600")] == [
        900,
        3600,
        90,
        5400,
        600,
    ]
    with pytest.raises(
        ConfigError,
        match=r"^--every 'soon' is not a duration like 15m, 1h, "
        r"90s or 1h30m$",
    ):
        parse_every("soon")


def test_run_without_every_or_sources(tmp_path: Path) -> None:
    write_config(tmp_path, [])
    result = run_cli(tmp_path, "run", "--once")
    assert result.returncode == 2
    assert result.stderr.startswith("error: no sources configured; add [[sources.<kind>]]")
    result = run_cli(tmp_path, "run")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: give --every DURATION (e.g. 15m) or --once, or set [run] every"
    )


# --------------------------------------------------------------------------------------------
# budget alerts


class Hook:
    """A local webhook: records each JSON body; answers with the queued statuses, then 200."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers["Content-Length"])
                body = json.loads(self.rfile.read(length))
                status = hook.statuses.pop(0) if hook.statuses else 200
                if status == 200:
                    hook.bodies.append(body)
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook/secret-token"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Any:
    server = Hook()
    yield server
    server.close()


BUDGETS = """
[[budgets]]
team = "platform"
monthly_usd = "1"

[[budgets]]
team = "search"
monthly_usd = "100"

[alerts]
webhook_url_env = "LLMLEDGER_TEST_WEBHOOK"
"""


def test_webhook_posted_once_per_threshold_across_runs(tmp_path: Path, hook: Hook) -> None:
    # platform: 3 requests x $0.45 = $1.35 of $1 -> 80% and 100%; search: $0.45 of $100 -> none
    write_config(
        tmp_path,
        [("fake_ok", {"records": 3}), ("fake_ok2", {"records": 1, "developer": "sam@example.com"})],
        extra=BUDGETS,
    )
    env = {"LLMLEDGER_TEST_WEBHOOK": hook.url}
    first = run_cli(tmp_path, "run", "--once", env=env)
    second = run_cli(tmp_path, "run", "--once", env=env)  # a restart: state is in the database
    assert (first.returncode, second.returncode) == (0, 0), first.stderr + second.stderr
    month = datetime.now(UTC).strftime("%Y-%m")
    assert [(b["team"], b["threshold"], b["month"]) for b in hook.bodies] == [
        ("platform", "80%", month),
        ("platform", "100%", month),
    ]
    body = hook.bodies[1]
    assert (body["event"], body["spend_usd"], body["budget_usd"], body["percent_of_budget"]) == (
        "budget_threshold",
        "1.35",
        "1",
        "135.0",
    )
    assert body["text"].startswith(
        f"llmledger: team platform passed 100% of its {month} budget: $1.35 spent of $1.00 (135.0%)"
    )
    assert "2 budget alert(s) sent" in first.stderr
    assert "0 budget alert(s) sent" in second.stderr
    assert hook.url not in first.stderr + second.stderr  # the URL may carry a secret
    assert query(tmp_path, "select team, threshold from alerts_sent order by all") == [
        ("platform", "100%"),
        ("platform", "80%"),
    ]


def _app(directory: Path) -> Any:
    from ingest.context import AppContext

    return AppContext.create(
        str(directory / "ledger.duckdb"), str(directory / "llmledger.toml"), quiet=True
    )


def test_forecast_alert_and_webhook_retries(
    tmp_path: Path, hook: Hook, fakes: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ingest import scheduler

    monkeypatch.setattr(scheduler, "WEBHOOK_WAIT", tenacity.wait_none())
    monkeypatch.setenv("LLMLEDGER_TEST_WEBHOOK", hook.url)
    # search spends $0.45 x 50 = $22.50 by Nov 5 noon of a $100 budget: 22.5% now, but on pace
    # for 22.5 x 30 / 4.5 = $150 by month end -> forecast alert only
    write_config(
        tmp_path,
        [
            (
                "fake_ok",
                {"records": 50, "developer": "sam@example.com", "at": "2026-11-03T08:00:00Z"},
            )
        ],
        extra=BUDGETS,
    )
    early = scheduler.run_once(_app(tmp_path), now=datetime(2026, 11, 2, 12, tzinfo=UTC))
    assert early.alerts_sent == 0  # under alerts.forecast_min_days (3) into the month
    hook.statuses = [503, 502]  # two transient failures, then accepted
    now = datetime(2026, 11, 5, 12, tzinfo=UTC)
    report = scheduler.run_once(_app(tmp_path), now=now)
    assert (report.exit_code, report.alerts_sent, report.alert_errors) == (0, 1, [])
    assert [(b["team"], b["threshold"], b["forecast_usd"]) for b in hook.bodies] == [
        ("search", "forecast_100%", "150")
    ]
    # sent once: the next run does not repeat it
    assert scheduler.run_once(_app(tmp_path), now=now + timedelta(hours=1)).alerts_sent == 0


def test_webhook_down_fails_the_run_and_retries_next_time(
    tmp_path: Path, hook: Hook, fakes: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ingest import scheduler

    monkeypatch.setattr(scheduler, "WEBHOOK_WAIT", tenacity.wait_none())
    monkeypatch.setenv("LLMLEDGER_TEST_WEBHOOK", hook.url)
    write_config(
        tmp_path, [("fake_ok", {"records": 3, "at": "2026-11-02T08:00:00Z"})], extra=BUDGETS
    )
    now = datetime(2026, 11, 2, 12, tzinfo=UTC)
    hook.statuses = [500] * 8  # 4 attempts for each of the two alerts
    report = scheduler.run_once(_app(tmp_path), now=now)
    assert report.exit_code == 1
    assert (
        report.alert_errors
        == [
            "the budget webhook did not answer after 4 attempts (HTTP 500); the alert will be "
            "retried on the next run"
        ]
        * 2
    )
    assert hook.bodies == []
    report = scheduler.run_once(_app(tmp_path), now=now)
    assert (report.exit_code, report.alerts_sent) == (0, 2)
    assert [b["threshold"] for b in hook.bodies] == ["80%", "100%"]
    hook.statuses = [400]
    con = duckdb.connect(str(tmp_path / "ledger.duckdb"))
    con.execute("delete from alerts_sent where threshold = '100%'")
    con.close()
    report = scheduler.run_once(_app(tmp_path), now=now)
    assert report.alert_errors == ["the budget webhook refused the message: HTTP 400"]


# --------------------------------------------------------------------------------------------
# what a run says (issue 10 item 11)


def _files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith((".ledger", "ledger")))


def test_a_first_run_that_loads_nothing_leaves_no_database(tmp_path: Path) -> None:
    write_config(tmp_path, [("fake_down", {})])
    db = tmp_path / "ledger.duckdb"
    error = "error: fake-down: connection refused. start the fake service\n"
    gone = f"nothing loaded: {db} not created (fix the error above and run again)\n"
    log = str(tmp_path / "calls.log")
    for args in (
        ("run", "--once"),
        ("ingest",),
        ("ingest", "fake-down", "--log", log),
        ("demo", "--no-dashboard"),
    ):
        result = run_cli(tmp_path, *args)
        assert result.returncode == 3, (args, result.stderr)
        assert "snapshot published" not in result.stderr, args
        assert error + gone in result.stderr, (args, result.stderr)
        assert _files(tmp_path) == [], args  # no database, WAL, snapshot, scratch or lock
        assert result.stdout == "", args  # demo prints no report of nothing


def test_source_errors_come_before_the_publish(tmp_path: Path) -> None:
    write_config(tmp_path, [("fake_ok", {}), ("fake_down", {})])
    for args in (("ingest",), ("run", "--once")):
        err = run_cli(tmp_path, *args).stderr.splitlines()
        failed = err.index("error: fake-down: connection refused. start the fake service")
        published = next(i for i, line in enumerate(err) if line.startswith("snapshot published"))
        assert failed < published, (args, err)
    assert (tmp_path / "ledger.duckdb").is_file()  # a run that loaded rows keeps its database


def _loud_app(directory: Path) -> Any:
    from ingest.context import AppContext

    return AppContext.create(str(directory / "ledger.duckdb"), str(directory / "llmledger.toml"))


def test_run_says_why_no_budget_alert_was_sent(
    tmp_path: Path,
    hook: Hook,
    fakes: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from ingest import scheduler

    monkeypatch.setattr(scheduler, "WEBHOOK_WAIT", tenacity.wait_none())
    monkeypatch.delenv("LLMLEDGER_TEST_WEBHOOK", raising=False)
    # platform spends 3 x $0.45 = $1.35 on Nov 2: past 80% and 100% of a $1 budget
    sources = [("fake_ok", {"records": 3, "at": "2026-11-02T08:00:00Z"})]
    nov, dec = datetime(2026, 11, 2, 12, tzinfo=UTC), datetime(2026, 12, 2, 12, tzinfo=UTC)

    def why(now: datetime) -> list[str]:
        capsys.readouterr()
        scheduler.run_once(_loud_app(tmp_path), now=now)
        return [x for x in capsys.readouterr().err.splitlines() if x.startswith("no budget")]

    write_config(tmp_path, sources)
    assert why(nov) == [
        "no budget alert sent: no budgets configured (add [[budgets]] to the config)"
    ]
    write_config(tmp_path, sources, extra=BUDGETS)
    assert why(nov) == [
        "no budget alert sent: no webhook configured (set [alerts] webhook_url_env or "
        "webhook_url); 2 due"
    ]
    monkeypatch.setenv("LLMLEDGER_TEST_WEBHOOK", hook.url)
    assert why(nov) == []  # sent: the run's summary counts them
    assert len(hook.bodies) == 2
    assert why(nov) == ["no budget alert sent: 2026-11: already sent (platform 80%, platform 100%)"]
    assert why(dec) == ["no budget alert sent: 2026-12: no spend yet"]
    write_config(tmp_path, sources, extra=BUDGETS.replace('monthly_usd = "1"', "monthly_usd = 50"))
    assert why(nov) == [
        "no budget alert sent: 2026-11: no team over its threshold (80%, 100%, forecast 100%)"
    ]


def test_a_new_database_with_rows_is_kept_even_if_its_sources_failed(
    tmp_path: Path, fakes: None
) -> None:
    from ingest import pipeline
    from ingest.errors import DataError
    from ingest.loader import LoadResult

    write_config(tmp_path, [("fake_ok", {})])
    app = _app(tmp_path)
    created = pipeline.new_files(app)
    assert app.db_path in created
    con = app.connect()
    try:
        failed = [pipeline.SourceOutcome("fake-ok", "fake-ok", LoadResult(), DataError("late"))]
        assert pipeline.nothing_to_keep(con, failed, created, app.db_path)
        loaded = pipeline.ingest_one(app, con, "fake-ok", {"log": str(tmp_path / "calls.log")})
        assert loaded.result.new_rows == 1
        # a source that committed rows before it failed: the database is kept
        assert not pipeline.nothing_to_keep(con, failed, created, app.db_path)
        assert not pipeline.nothing_to_keep(con, failed, [], app.db_path)  # not a new database
    finally:
        con.close()
