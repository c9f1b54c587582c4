"""Dashboard speed in a real browser: each page's first meaningful content, and page switches.

    python bench/dashboard_pages.py                       # the demo database (built in a temp dir)
    python bench/dashboard_pages.py --db ledger.duckdb    # an existing database and its snapshot
    python bench/dashboard_pages.py --events 5000000      # a generated history of N events

Starts `llmledger dashboard` on the database's snapshot, drives Debian's Chromium
(/usr/bin/chromium, never `playwright install`) with Playwright, and measures:

- load: a new tab opens the page's URL (a new Streamlit session; the browser's HTTP cache is
  warm after the first load, as for a returning manager, or cold with ``--cold``); the time
  from navigation start until the page's headline is on screen (its headline metric shows a
  value, or its first table is drawn, in the current run: not a stale element of an earlier
  one). ``--loads`` times per page. "first" is the very first load of each page.
- switch: from a click on another page's link in the sidebar navigation until that page's
  headline is on screen, round the pages ``--loads`` times.

Prints p50/p95 per page and writes them as JSON (``--out``). The bar (issue 10): first
meaningful content within 1.5 s at p95, a page switch within 500 ms.

``--events N`` generates the history with bench/dashboard_queries.py's generator (the real
mart SQL over synthetic ``usage_events``) and publishes its snapshot; ``--dir`` keeps it for a
later ``--db DIR/bench.duckdb``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
]
VIEWPORT = {"width": 1400, "height": 1000}
LOAD_BAR_MS = 1500.0
SWITCH_BAR_MS = 500.0


@dataclass(frozen=True)
class Page:
    url_path: str
    title: str
    headline: str  # "metric:<label prefix>" or "table"


PAGES = [
    Page("", "Overview", "metric:Total cost"),
    Page("teams", "Teams and developers", "table"),
    Page("models", "Models and providers", "table"),
    Page("rate-limits", "Rate limits", "metric:"),  # its first card, whatever it is called
    Page("data-health", "Data health", "table"),
    Page("bill-check", "Bill check", "metric:"),
]

# True once the page titled `title` shows its headline from the current script run, or the
# message that stands in for it on a page with no data (the bill check without a bill). Stale
# elements (data-stale="true") are the previous run's, still on screen while the next runs.
READY_JS = """([title, headline]) => {
    const fresh = el => !el.closest('[data-stale="true"]');
    const h1 = [...document.querySelectorAll('[data-testid="stMainBlockContainer"] h1')]
        .find(fresh);
    if (!h1 || h1.innerText.trim() !== title) return false;
    let ok;
    if (headline === 'table') {
        ok = [...document.querySelectorAll('[data-testid="stDataFrame"] canvas,'
                + ' [data-testid="stDataFrame"] [role="grid"]')].some(fresh);
    } else {
        const prefix = headline.slice('metric:'.length);
        ok = [...document.querySelectorAll('[data-testid="stMetric"]')].some(m => fresh(m)
            && (m.querySelector('[data-testid="stMetricLabel"]')?.innerText.trim() || '')
                .startsWith(prefix)
            && (m.querySelector('[data-testid="stMetricValue"]')?.innerText.trim() || ''));
    }
    // a page with nothing to show says why (st.info under its title): that is its content
    ok = ok || [...document.querySelectorAll('[data-testid="stAlert"]')].some(a => fresh(a)
        && (h1.compareDocumentPosition(a) & Node.DOCUMENT_POSITION_FOLLOWING));
    return ok ? performance.now() - (window.__benchStart || 0) : false;
}"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def llmledger(*args: str, cwd: Path | None = None) -> list[str]:
    return [sys.executable, "-c", "from ingest.cli import main; main()", *args]


def demo_database(workdir: Path) -> Path:
    db = workdir / "demo.duckdb"
    subprocess.run(
        llmledger("--db", str(db), "demo", "--no-dashboard"),
        cwd=workdir,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return db


def generated_database(workdir: Path, events: int, days: int, developers: int) -> Path:
    """N synthetic events with bench/dashboard_queries.py's generator, rollups by the real mart
    SQL, published where `llmledger --db DIR/bench.duckdb dashboard` looks for the snapshot."""
    import duckdb

    sys.path.insert(0, str(ROOT / "bench"))
    import dashboard_queries as gen  # noqa: PLC0415 - a sibling script, not a package

    from models import snapshot

    db = workdir / "bench.duckdb"
    snap = workdir / "bench.snapshot.duckdb"
    if snap.exists():
        con = duckdb.connect(str(snap), read_only=True)
        (have,) = con.execute("select count(*) from usage_events").fetchall()[0]
        con.close()
        if have == events:
            print(f"# reusing {snap} ({events:,} events)", file=sys.stderr)
            return db
    for path in (db, snap):
        path.unlink(missing_ok=True)
    started = time.perf_counter()
    con = duckdb.connect(str(db))
    con.execute("set timezone = 'UTC'")
    gen.generate_events(con, events, days, developers)
    gen.build_rollups(con)
    gen.reference_tables(con, developers, events)
    snapshot.publish(con, snap)
    con.close()
    print(
        f"# generated {events:,} events and published in {time.perf_counter() - started:.0f}s",
        file=sys.stderr,
    )
    return db


@contextmanager
def dashboard(db: Path, log: Path) -> Iterator[str]:
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            llmledger("--db", str(db), "dashboard", "--port", str(port), "--address", "127.0.0.1"),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "TZ": "UTC"},
            start_new_session=True,  # its own process group, so Streamlit stops with it
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"llmledger dashboard exited with {proc.returncode}; see {log}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                    if resp.read().strip() == b"ok":
                        break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit(f"dashboard not healthy at {url}; see {log}") from None
                time.sleep(0.3)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def wait_ready(page: Any, p: Page, timeout_ms: float = 60_000) -> float:
    """ms from the start mark (navigation start, or the click) until ``p``'s headline shows."""
    handle = page.wait_for_function(
        READY_JS, arg=[p.title, p.headline], polling="raf", timeout=timeout_ms
    )
    return float(handle.json_value())


def measure_loads(
    browser: Any, url: str, pages: list[Page], loads: int, query: str, *, cold: bool
) -> dict:
    """Each page opened ``loads`` times, each time in a new tab: a new Streamlit session. The
    tabs share one browser profile, whose HTTP cache holds Streamlit's scripts after the first
    load (a returning manager); with ``cold`` each load gets a fresh profile (a first visit)."""
    out: dict[str, list[float]] = {p.title: [] for p in pages}
    shared = None if cold else browser.new_context(viewport=VIEWPORT)
    for _ in range(loads):
        for p in pages:
            context = shared or browser.new_context(viewport=VIEWPORT)
            tab = context.new_page()
            tab.goto(f"{url}/{p.url_path}{query}", wait_until="commit")
            out[p.title].append(wait_ready(tab, p))
            tab.close()
            if context is not shared:
                context.close()
    if shared is not None:
        shared.close()
    return out


def measure_switches(browser: Any, url: str, pages: list[Page], rounds: int, query: str) -> dict:
    """One session: click each page's sidebar link in turn, ``rounds`` times round."""
    out: dict[str, list[float]] = {p.title: [] for p in pages}
    context = browser.new_context(viewport=VIEWPORT)
    tab = context.new_page()
    tab.goto(f"{url}/{pages[0].url_path}{query}", wait_until="commit")
    wait_ready(tab, pages[0])
    order = pages[1:] + pages[:1]
    for _ in range(rounds):
        for p in order:
            link = tab.locator('[data-testid="stSidebarNav"] a', has_text=p.title).first
            tab.evaluate("() => { window.__benchStart = performance.now(); }")
            link.click()
            out[p.title].append(wait_ready(tab, p))
            tab.wait_for_timeout(100)  # let the run finish its charts before the next click
    context.close()
    return out


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def summary(times: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    return {
        page: {
            "n": len(v),
            "first_ms": round(v[0], 1),
            "p50_ms": round(statistics.median(v), 1),
            "p95_ms": round(p95(v), 1),
            "max_ms": round(max(v), 1),
        }
        for page, v in times.items()
        if v
    }


def data_range(db: Path) -> str:
    """``?from=…&to=…``: the whole history, as a manager would look at a month."""
    import duckdb

    snap = db.with_name(db.stem + ".snapshot.duckdb")
    con = duckdb.connect(str(snap), read_only=True)
    try:
        first, last = con.execute("select min(day), max(day) from usage_daily").fetchall()[0]
    finally:
        con.close()
    return f"?from={first}&to={last}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, help="a database with a published snapshot")
    parser.add_argument("--events", type=int, help="generate a history of N events instead")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--developers", type=int, default=600)
    parser.add_argument("--loads", type=int, default=20, help="loads and switch rounds per page")
    parser.add_argument("--dir", type=Path, help="work here and keep what is built")
    parser.add_argument("--out", type=Path, default=Path("dashboard_pages.json"))
    parser.add_argument("--label", default="", help="a note kept in the JSON, e.g. a git ref")
    parser.add_argument(
        "--cold", action="store_true", help="each load in a fresh browser profile (no HTTP cache)"
    )
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        parser.error(f"{CHROMIUM} is absent: install Debian's `chromium` package")

    workdir = args.dir or Path(tempfile.mkdtemp(prefix="llmledger-pages-"))
    workdir.mkdir(parents=True, exist_ok=True)
    if args.db:
        db, what = args.db, str(args.db)
    elif args.events:
        db = generated_database(workdir, args.events, args.days, args.developers)
        what = f"{args.events:,} generated events"
    else:
        db, what = demo_database(workdir), "the demo"
    query = data_range(db)

    from playwright.sync_api import sync_playwright

    with dashboard(db, workdir / "dashboard.log") as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            loads = summary(measure_loads(browser, url, PAGES, args.loads, query, cold=args.cold))
            switches = summary(measure_switches(browser, url, PAGES, args.loads, query))
        finally:
            browser.close()

    print(
        f"# {what}; {args.loads} loads ({'cold' if args.cold else 'warm'} browser cache) and "
        f"switches per page; {os.cpu_count()} cores; "
        "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())
    )
    print(
        f"{'page':<22} {'load first':>10} {'load p50':>9} {'load p95':>9}   "
        f"{'switch p50':>10} {'switch p95':>10}"
    )
    over = []
    for p in PAGES:
        ld, sw = loads.get(p.title), switches.get(p.title)
        if not ld or not sw:
            continue
        print(
            f"{p.title:<22} {ld['first_ms']:10.0f} {ld['p50_ms']:9.0f} {ld['p95_ms']:9.0f}   "
            f"{sw['p50_ms']:10.0f} {sw['p95_ms']:10.0f}"
        )
        if ld["p95_ms"] > LOAD_BAR_MS:
            over.append(f"{p.title} load")
        if sw["p95_ms"] > SWITCH_BAR_MS:
            over.append(f"{p.title} switch")
    print(
        f"bar: first content <= {LOAD_BAR_MS:.0f} ms p95, switch <= {SWITCH_BAR_MS:.0f} ms p95: "
        + ("all within" if not over else "OVER: " + ", ".join(over))
    )
    result = {
        "database": what,
        "label": args.label,
        "loads_per_page": args.loads,
        "browser_cache": "cold (a fresh profile per load)"
        if args.cold
        else "warm after the first load",
        "cores": os.cpu_count(),
        "load_average": os.getloadavg(),
        "first_content": loads,
        "switch": switches,
        "bar_ms": {"first_content_p95": LOAD_BAR_MS, "switch_p95": SWITCH_BAR_MS},
        "over": over,
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"# written {args.out}")
    return 1 if over else 0


if __name__ == "__main__":
    raise SystemExit(main())
