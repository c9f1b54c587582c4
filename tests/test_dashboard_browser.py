"""A real browser on a real server: `llmledger dashboard` on the sample snapshot, every page
opened in Debian's Chromium through Playwright.

Checks each page's title and headline figures, that no exception element appears, and saves a
screenshot of each page under the test's temporary directory. Needs /usr/bin/chromium (Debian's
package `chromium`; never `playwright install`): skipped without it off CI, a failure in CI.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fixtures_dashboard import llmledger

from dashboard import fmt

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
]
PAGES = [  # url path, title, headline metric labels that must show
    ("", "Overview", ["Total cost", "Requests", "Active developers", "Cache hit rate"]),
    ("teams", "Teams and developers", []),
    ("models", "Models and providers", ["Paid beyond global prices"]),
    ("rate-limits", "Rate limits", ["Peak tokens", "Peak requests", "Minutes at or above 80%"]),
    ("data-health", "Data health", []),
]

pytestmark = pytest.mark.service


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"llmledger dashboard exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                if resp.read().strip() == b"ok":
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"dashboard not healthy at {url} after {timeout}s")


@pytest.fixture(scope="module")
def sample(sample_ledger: Any) -> tuple[Path, Path]:
    return sample_ledger.db, sample_ledger.snapshot


@pytest.fixture(scope="module")
def server(sample: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db, _ = sample
    port = free_port()
    log = tmp_path_factory.mktemp("server") / "dashboard.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from ingest.cli import main; main()",
                "--db",
                str(db),
                "dashboard",
                "--port",
                str(port),
                "--address",
                "127.0.0.1",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "TZ": "UTC"},
            start_new_session=True,  # its own process group, so Streamlit stops with it
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is absent: install Debian's `chromium` package to run this test")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def metric_values(page) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return page.evaluate(
        """() => Object.fromEntries(
            [...document.querySelectorAll('[data-testid="stMetric"]')].map(m => [
                m.querySelector('[data-testid="stMetricLabel"]').innerText.trim(),
                m.querySelector('[data-testid="stMetricValue"]').innerText.trim()]))"""
    )


def wait_until_idle(page) -> None:  # type: ignore[no-untyped-def]
    """Until the script has finished (Streamlit's running indicator gone) and stays so."""
    page.wait_for_function(
        """() => !document.querySelector('[data-testid="stStatusWidget"]')
                  && document.querySelector('[data-testid="stMainBlockContainer"] h1')""",
        timeout=60_000,
    )
    page.wait_for_timeout(1000)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000
    )


def wait_for_metrics(page, labels: list[str]) -> None:  # type: ignore[no-untyped-def]
    """Until every labelled metric shows a value: the page title can render before its queries
    return, on a busy machine. A timeout is left to the caller's assertion to report."""
    try:
        page.wait_for_function(
            """labels => labels.every(label => [...document.querySelectorAll(
                   '[data-testid="stMetric"]')].some(m =>
                   m.querySelector('[data-testid="stMetricLabel"]')?.innerText.trim() === label
                   && m.querySelector('[data-testid="stMetricValue"]')?.innerText.trim()))""",
            arg=list(labels),
            timeout=60_000,
        )
    except Exception:  # noqa: BLE001 - playwright's TimeoutError; the assertion says what is missing
        pass


def test_every_page_in_chromium(
    server: str, browser, sample: tuple[Path, Path], tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    db, _ = sample
    days = json.loads(
        llmledger("--db", str(db), "report", "--by", "day", "--format", "json").stdout
    )
    first, last = days[0]["day"], days[-1]["day"]
    by_team = json.loads(
        llmledger("--db", str(db), "report", "--by", "team", "--format", "json").stdout
    )
    expected = {
        "Total cost": fmt.money(sum(Decimal(r["cost_usd"] or 0) for r in by_team)),
        "Requests": fmt.count(sum(r["requests"] for r in by_team)),
    }
    context = browser.new_context(viewport={"width": 1400, "height": 1000})  # type: ignore[attr-defined]
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    seen: dict[str, dict[str, str]] = {}
    for path, title, labels in PAGES:
        page.goto(f"{server}/{path}?from={first}&to={last}")
        wait_until_idle(page)
        assert page.title() == f"{title} · llmledger"
        assert page.locator("h1").first.inner_text().strip() == title
        assert page.locator('[data-testid="stException"]').count() == 0, path
        wait_for_metrics(page, labels)
        shown = metric_values(page)
        for label in labels:
            assert shown.get(label), f"{title}: no {label!r} in {shown}"
        seen[title] = shown
        if path == "rate-limits":  # the account quota's busiest minute, in absolute numbers
            card = page.locator('[data-testid="stMetric"]').first.inner_text()
            assert [line.strip() for line in card.split("\n") if line.strip()] == [
                "Peak tokens",
                "1.99M of 2.0M TPM",
                "at 2026-11-18 15:04 UTC",
            ]
        page.screenshot(path=str(tmp_path / f"{path or 'overview'}.png"), full_page=True)
    assert {k: seen["Overview"][k] for k in expected} == expected
    # the filters in the URL survive a page change through the sidebar
    page.goto(f"{server}/?from={first}&to={last}&team=data")
    wait_until_idle(page)
    team_cost = fmt.money(
        sum(
            Decimal(r["cost_usd"] or 0)
            for r in json.loads(
                llmledger(
                    "--db",
                    str(db),
                    "report",
                    "--by",
                    "developer",
                    "--team",
                    "data",
                    "--format",
                    "json",
                ).stdout
            )
        )
    )
    wait_for_metrics(page, ["Total cost"])
    assert metric_values(page)["Total cost"] == team_cost
    page.get_by_role("link", name="Teams and developers").click()
    wait_until_idle(page)
    assert "team=data" in page.url and f"from={first}" in page.url
    page.screenshot(path=str(tmp_path / "teams-data.png"), full_page=True)
    context.close()
    assert not errors, errors
    assert sorted(p.name for p in tmp_path.glob("*.png")) == sorted(
        [f"{p or 'overview'}.png" for p, _, _ in PAGES] + ["teams-data.png"]
    )
