"""Privacy feeds for the Vertex sources: entries whose request messages and response content
carry the sentinel, through the real google-cloud-logging client against the local
``entries:list`` server, and a Cloud Storage sink export (the demo's sample)."""

# ruff: noqa: F811 - the server fixture is redefined as an argument

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from test_vertex import PROJECT, audit, response
from vertex_server import FakeCloudLogging

from privacy_feeds import Feed

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "vertex"


@pytest.fixture
def privacy_vertex_server() -> Iterator[FakeCloudLogging]:
    with FakeCloudLogging() as server:
        yield server


@pytest.fixture
def privacy_feed_vertex(privacy_vertex_server: FakeCloudLogging) -> Feed:
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)  # inside the first run
    privacy_vertex_server.add(
        audit("audit-1", at),
        response("resp-1", at + timedelta(milliseconds=300), "msg_vrtx_privacy1"),
    )
    return Feed(
        args=["--project", PROJECT, "--api-endpoint", privacy_vertex_server.url, "--anonymous"],
        landed="msg_vrtx_privacy1",
    )


@pytest.fixture
def privacy_feed_vertex_files() -> Feed:
    # The demo's sink export: every request and response body carries the sentinel.
    return Feed(args=[str(SAMPLE)], landed="msg_vrtx_01S04ydJiTRpo7JVJpfWNWMU")
