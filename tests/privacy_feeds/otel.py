"""Privacy feed for Claude Code telemetry (``otel-files``): a Collector file-exporter file whose
prompt text (``OTEL_LOG_USER_PROMPTS=1``), tool parameters, tool input, log bodies and a
body-like attribute on the api_request event itself carry the sentinel. The collector would
have removed them; files from another collector may still hold them."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from moto_server import aws, moto_endpoint  # noqa: F401 - fixtures
from otel_records import api_request, event, logs_line

from privacy_feeds import SENTINEL, Feed, inputs


def _line(at: str, request_id: str) -> str:
    records = [
        event("user_prompt", at, prompt=f"fix the bug {SENTINEL}", prompt_length=31),
        event(
            "tool_result",
            at,
            tool_name="Bash",
            tool_parameters=f'{{"command": "cat {SENTINEL}"}}',
            tool_input=SENTINEL,
        ),
        api_request(
            at=at,
            email="dev@corp.example",
            request_id=request_id,
            extra={"gen_ai.prompt": SENTINEL, "response": SENTINEL, "body": SENTINEL},
        ),
    ]
    records[0]["body"] = {"stringValue": f"user said {SENTINEL}"}
    return logs_line(records, {"team.id": "platform", "http.request.body": SENTINEL})


def _yesterday() -> datetime:
    return datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)


@pytest.fixture
def privacy_feed_otel_files(tmp_path: Path) -> Feed:
    at = _yesterday().strftime("%Y-%m-%dT%H:%M:%SZ")
    path = inputs(tmp_path) / "otel" / "logs.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text(_line(at, "req_privacy_otel_1") + "\n", encoding="utf-8")
    return Feed(args=[str(path.parent)], landed="req_privacy_otel_1")


@pytest.fixture
def privacy_feed_otel_s3(aws: Any) -> Feed:  # noqa: F811 - the fixture
    moment = _yesterday()
    client = aws.client("s3")
    client.create_bucket(Bucket="privacy-telemetry")
    key = f"claude-code/{moment:%Y/%m/%d/%H/%M}/logs_1.json.gz"
    body = gzip.compress(_line(moment.strftime("%Y-%m-%dT%H:%M:%SZ"), "req_privacy_s3").encode())
    client.put_object(Bucket="privacy-telemetry", Key=key, Body=body)
    return Feed(
        args=["--bucket", "privacy-telemetry", "--prefix", "claude-code"], landed="req_privacy_s3"
    )
