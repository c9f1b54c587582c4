"""Privacy feeds for the gateway sources: Kong records with AI Proxy payload logging on, and
body-logging proxy records whose SSE stream, JSON response and request body carry the sentinel,
through local files, S3 (moto) and CloudWatch (moto)."""

# ruff: noqa: F811 - pytest fixtures imported from moto_server are redefined as arguments

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from gateway_records import body_log, kong, message, sse
from moto_server import (  # noqa: F401 - fixtures
    aws,
    moto_endpoint,
    now_ms,
    put_events,
    put_objects,
)
from vertex_server import FakeCloudLogging

from privacy_feeds import SENTINEL, Feed, inputs

GROUP = "/acme/ai-gateway"


def _body_records(prefix: str, n: int) -> list[dict[str, Any]]:
    request = json.dumps({"messages": [{"role": "user", "content": f"{SENTINEL} fix this"}]})
    records = []
    for i in range(n):
        stamp = f"2026-11-{10 + i % 10:02d}T12:00:00Z"
        body: Any = (
            sse(text=f"{SENTINEL} streamed", stop=i % 3 != 2)  # every third stream cut off
            if i % 2 == 0
            else message(text=f"{SENTINEL} answer")
        )
        records.append(body_log(f"{prefix}-{i}", body, timestamp=stamp, request_body=request))
    return records


def _lines(records: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


@pytest.fixture
def privacy_feed_gateway_files(tmp_path: Path) -> Feed:
    folder = inputs(tmp_path) / "gateway"
    folder.mkdir()
    (folder / "proxy.log").write_bytes(_lines(_body_records("file", 10)))
    (folder / "kong.json.gz").write_bytes(
        gzip.compress(_lines([kong(f"kong-file-{i}", body=SENTINEL) for i in range(3)]), mtime=0)
    )
    return Feed(args=[str(folder), "--format", "anthropic-body"], landed="file-3")


@pytest.fixture
def privacy_feed_gateway_s3(aws: Any) -> Feed:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="privacy-gateway")
    records = [kong(f"kong-s3-{i}", body=SENTINEL) for i in range(10)]
    put_objects(s3, "privacy-gateway", {"kong/2026/11/20/10/a.json.gz": gzip.compress(
        _lines(records), mtime=0)})  # fmt: skip
    return Feed(
        args=["--bucket", "privacy-gateway", "--prefix", "kong/", "--format", "kong"],
        landed="kong-s3-3",
    )


@pytest.fixture
def privacy_feed_gateway_cloudwatch(aws: Any) -> Feed:
    logs = aws.client("logs")
    logs.create_log_group(logGroupName=GROUP)
    start = now_ms() - 3_600_000
    events = [(start + i * 1000, json.dumps(r)) for i, r in enumerate(_body_records("cw", 10))]
    put_events(logs, GROUP, "proxy-1", events)
    return Feed(args=["--log-group", GROUP, "--format", "anthropic-body"], landed="cw-3")


@pytest.fixture
def privacy_gateway_logging_server() -> Iterator[FakeCloudLogging]:
    with FakeCloudLogging() as server:
        yield server


@pytest.fixture
def privacy_feed_gateway_logging(privacy_gateway_logging_server: FakeCloudLogging) -> Feed:
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)  # inside the first run
    entries = []
    for i in range(5):
        payload: dict[str, Any] = {
            "messageId": f"apigee-{i}",
            "developerEmail": "ivy@acme.example",
            "apiProduct": "llm-gateway-standard",
            "path": "/v1/projects/p/locations/us-east5/publishers/anthropic/models/x:rawPredict",
            "statusCode": 200,
            "model": "claude-sonnet-4-5@20250929",
            "usage": {"promptTokens": 10, "completionTokens": 5, "totalTokens": 15},
            # an operator who logs {request.content} / {response.content} too
            "requestBody": json.dumps({"messages": [{"content": SENTINEL}]}),
            "responseBody": json.dumps({"content": [{"text": SENTINEL}]}),
        }
        entries.append(
            {
                "insertId": f"ins-{i}",
                "logName": "projects/acme-apigee/logs/llm-gateway",
                "timestamp": (at + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "jsonPayload": payload,
            }
        )
    privacy_gateway_logging_server.add(*entries)
    return Feed(
        args=[
            "--project",
            "acme-apigee",
            "--api-endpoint",
            privacy_gateway_logging_server.url,
            "--anonymous",
            "--format",
            "apigee",
        ],  # fmt: skip
        landed="apigee-3",
    )
