"""Privacy feeds for the Bedrock sources: records whose prompt and streamed response carry the
sentinel, plus a ``data/`` body object, through local files, S3 (moto) and CloudWatch (moto)."""

# ruff: noqa: F811 - pytest fixtures imported from moto_server are redefined as arguments

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from moto_server import (  # noqa: F401 - fixtures
    aws,
    gz,
    log_key,
    moto_endpoint,
    now_ms,
    put_events,
    put_objects,
    record,
)

from privacy_feeds import SENTINEL, Feed, inputs

GROUP = "/aws/bedrock/modelinvocations"


def _records(prefix: str, n: int) -> list[dict[str, Any]]:
    return [
        record(
            f"{prefix}-{i}",
            timestamp=f"2026-11-{10 + i % 10:02d}T12:00:00Z",
            extra={"requestMetadata": {"team": "search", "project": "ranker"}},
        )
        for i in range(n)
    ]


def _body_object() -> bytes:
    return gz([{"messages": [{"content": SENTINEL}]}])


@pytest.fixture
def privacy_feed_bedrock_files(tmp_path: Path) -> Feed:
    tree = inputs(tmp_path) / "tree"
    batch = tree / log_key("logs", "111122223333", "us-east-1", "2026/11/20/10", "a.json.gz")
    batch.parent.mkdir(parents=True)
    batch.write_bytes(gz(_records("file", 10)))
    (batch.parent / "data").mkdir()
    (batch.parent / "data" / "file-0_input.json.gz").write_bytes(_body_object())
    return Feed(args=[str(tree)], landed="file-3")


@pytest.fixture
def privacy_feed_bedrock_s3(aws: Any) -> Feed:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="privacy-logs")
    key = log_key("logs", "444455556666", "us-west-2", "2026/11/20/11", "b.json.gz")
    data_key = key.rsplit("/", 1)[0] + "/data/s3-0_input.json.gz"
    put_objects(s3, "privacy-logs", {key: gz(_records("s3", 10)), data_key: _body_object()})
    return Feed(args=["--bucket", "privacy-logs", "--prefix", "logs"], landed="s3-3")


@pytest.fixture
def privacy_feed_bedrock_cloudwatch(aws: Any) -> Feed:
    logs = aws.client("logs")
    logs.create_log_group(logGroupName=GROUP)
    start = now_ms() - 3_600_000
    events = [(start + i * 1000, json.dumps(r)) for i, r in enumerate(_records("cw", 10))]
    put_events(logs, GROUP, "aws/bedrock/modelinvocations", events)
    return Feed(args=["--log-group", GROUP], landed="cw-3")
