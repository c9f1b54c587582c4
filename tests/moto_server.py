"""moto's real HTTP server for the Bedrock S3 / CloudWatch tests, plus record builders.

Test modules import the fixtures (``from moto_server import aws, moto_endpoint``). The clients
under test are the real boto3 clients built by ``ingest.aws.client``: they reach moto only
because AWS_ENDPOINT_URL is set, exactly as a user would point them at another endpoint.
"""

from __future__ import annotations

import gzip
import json
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

SENTINEL = "LLMLEDGER-BODY-SENTINEL"
ACCOUNT = "111122223333"
OTHER_ACCOUNT = "444455556666"


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """One moto server per test session (per xdist worker), on a free loopback port."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@dataclass
class Aws:
    endpoint: str

    def client(self, service: str) -> Any:
        from ingest import aws

        return aws.client(service)


@pytest.fixture
def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Aws:
    """Environment pointing boto3 at moto with dummy credentials; moto's state reset."""
    for name in (
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_REGION",
        "AWS_ENDPOINT_URL_S3",
        "AWS_ENDPOINT_URL_LOGS",
        "AWS_RETRY_MODE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    # Keep the machine's own ~/.aws files out of the tests.
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    request = urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    return Aws(moto_endpoint)


def record(
    request_id: str,
    *,
    timestamp: str = "2026-11-20T10:00:00Z",
    account: str = ACCOUNT,
    region: str = "us-east-1",
    model_id: str = "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
    arn: str | None = None,
    input_tokens: Any = 10,
    output_tokens: Any = 20,
    cache_read: Any = 0,
    cache_write: Any = 0,
    one_hour: int | None = None,
    operation: str = "InvokeModelWithResponseStream",
    body: bool = True,
    drop: tuple[str, ...] = (),
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One ModelInvocationLog record in the shape of shared reference §1.4 (bodies carry the
    privacy sentinel)."""
    usage: dict[str, Any] = {"input_tokens": input_tokens, "output_tokens": 1}
    if one_hour is not None:
        usage["cache_creation"] = {
            "ephemeral_5m_input_tokens": 0,
            "ephemeral_1h_input_tokens": one_hour,
        }
    rec: dict[str, Any] = {
        "schemaType": "ModelInvocationLog",
        "schemaVersion": "1.0",
        "timestamp": timestamp,
        "accountId": account,
        "identity": {"arn": arn or f"arn:aws:sts::{account}:assumed-role/Dev/dev@example.com"},
        "region": region,
        "requestId": request_id,
        "operation": operation,
        "modelId": model_id,
        "input": {
            "inputContentType": "application/json",
            "inputTokenCount": input_tokens,
            "cacheReadInputTokenCount": cache_read,
            "cacheWriteInputTokenCount": cache_write,
        },
        "output": {"outputContentType": "application/json", "outputTokenCount": output_tokens},
    }
    if body:
        rec["input"]["inputBodyJson"] = {
            "messages": [{"role": "user", "content": [{"type": "text", "text": f"{SENTINEL} fix"}]}]
        }
        rec["output"]["outputBodyJson"] = [
            {"type": "message_start", "message": {"usage": usage}},
            {"type": "content_block_delta", "delta": {"text": f"{SENTINEL} done"}},
            {"type": "message_stop"},
        ]
    for path in drop:
        target = rec
        *parents, leaf = path.split(".")
        for parent in parents:
            target = target[parent]
        target.pop(leaf, None)
    rec.update(extra or {})
    return rec


def ndjson(lines: list[Any]) -> bytes:
    """Records (dicts) and raw lines (str) as newline-delimited JSON bytes."""
    out = [line if isinstance(line, str) else json.dumps(line) for line in lines]
    return ("\n".join(out) + "\n").encode()


def gz(lines: list[Any]) -> bytes:
    return gzip.compress(ndjson(lines), mtime=0)


def log_key(prefix: str, account: str, region: str, hour: str, name: str) -> str:
    """``<prefix>/AWSLogs/<account>/BedrockModelInvocationLogs/<region>/<YYYY/MM/DD/HH>/<name>``"""
    root = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
    return f"{root}AWSLogs/{account}/BedrockModelInvocationLogs/{region}/{hour}/{name}"


def put_objects(s3: Any, bucket: str, objects: dict[str, bytes]) -> None:
    for key, data in objects.items():
        s3.put_object(Bucket=bucket, Key=key, Body=data)


def now_ms() -> int:
    return int(time.time() * 1000)


def put_events(logs: Any, group: str, stream: str, events: list[tuple[int, str]]) -> None:
    """(timestamp ms, message) events into a stream (created if missing), in time order."""
    try:
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    events = sorted(events)
    for start in range(0, len(events), 5000):
        chunk = events[start : start + 5000]
        response = logs.put_log_events(
            logGroupName=group,
            logStreamName=stream,
            logEvents=[{"timestamp": ts, "message": msg} for ts, msg in chunk],
        )
        assert "rejectedLogEventsInfo" not in response, response
