"""Privacy feed for Claude Code telemetry (``otel-files``): a Collector file-exporter file whose
prompt text (``OTEL_LOG_USER_PROMPTS=1``), tool parameters, tool input, log bodies and a
body-like attribute on the api_request event itself carry the sentinel. The collector would
have removed them; files from another collector may still hold them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from otel_records import api_request, event, logs_line

from privacy_feeds import SENTINEL, Feed, inputs


@pytest.fixture
def privacy_feed_otel_files(tmp_path: Path) -> Feed:
    at = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
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
            request_id="req_privacy_otel_1",
            extra={"gen_ai.prompt": SENTINEL, "response": SENTINEL, "body": SENTINEL},
        ),
    ]
    records[0]["body"] = {"stringValue": f"user said {SENTINEL}"}
    line = logs_line(records, {"team.id": "platform", "http.request.body": SENTINEL})
    path = inputs(tmp_path) / "otel" / "logs.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text(line + "\n", encoding="utf-8")
    return Feed(args=[str(path.parent)], landed="req_privacy_otel_1")
