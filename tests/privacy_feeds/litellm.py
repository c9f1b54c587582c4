"""Privacy feeds for the LiteLLM sources: spend rows whose ``messages``, ``response``,
``proxy_server_request`` and error metadata carry the sentinel, through the proxy's real
PostgreSQL tables, its REST API (a local fake) and CSV dumps (the demo's sample)."""

# ruff: noqa: F811 - pytest fixtures imported from the LiteLLM test modules are redefined

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from test_litellm import PG, pg, pg_template, spend_row  # noqa: F401 - fixtures
from test_litellm_api import FakeProxy, api_row, proxy  # noqa: F401 - fixtures

from privacy_feeds import SENTINEL, Feed

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "litellm"
BODIES: dict[str, Any] = {
    "messages": [{"role": "user", "content": SENTINEL}],
    "response": {"content": [{"type": "text", "text": SENTINEL}]},
    "proxy_server_request": {"body": {"messages": [{"content": SENTINEL}]}},
}


@pytest.fixture
def privacy_feed_litellm(pg: PG) -> Feed:
    start = datetime(2026, 11, 12, 9, 0)
    rows = [
        spend_row("pg-1", start, **BODIES),
        spend_row(
            "pg-2",
            start + timedelta(minutes=1),
            status="failure",
            meta={"error_information": {"error_message": SENTINEL, "traceback": SENTINEL}},
            **BODIES,
        ),
    ]
    pg.insert("LiteLLM_SpendLogs", rows)
    return Feed(args=["--dsn-env", "LITELLM_DATABASE_URL"], landed="pg-1")


@pytest.fixture
def privacy_feed_litellm_api(proxy: FakeProxy) -> Feed:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    proxy.rows.append(api_row("api-1", start, **BODIES))
    return Feed(args=["--url", proxy.url], landed="api-1")  # type: ignore[attr-defined]


@pytest.fixture
def privacy_feed_litellm_files() -> Feed:
    # The demo's dumps: every body column of every row carries the sentinel.
    return Feed(args=[str(SAMPLE)], landed="msg_bdrk_01ogKdAsmRtgHnamm0Fq6tGj")
