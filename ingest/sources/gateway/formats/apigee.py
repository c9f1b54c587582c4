"""apigee: MessageLogging records (the LLM-gateway samples' shape), bare or as Cloud Logging
entries."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ingest.sources.gateway.formats.base import (
    GatewayFormat,
    node,
    option,
    select_columns,
    text,
    timestamp,
)


def _apigee(recs: str, options: Mapping[str, Any]) -> str:
    team = option(options, "team_field", APIGEE.default_team_field)
    # a Cloud Logging entry (jsonPayload, or a JSON textPayload) or the record itself
    text_payload = text("j", "textPayload")
    payload = (
        f"coalesce(case when json_type({node('j', 'jsonPayload')}) = 'OBJECT' "
        f"then {node('j', 'jsonPayload')} end, "
        f"case when json_valid({text_payload}) and starts_with(ltrim({text_payload}), '{{') "
        f"then {text_payload}::json end, j)"
    )
    path = f"lower(coalesce({text('p', 'path')}, ''))"
    stamp = f"coalesce({text('p', 'timestamp')}, {text('j', 'timestamp')})"
    end_user = text("p", "endUser")
    columns = {
        "request_id": (
            f"coalesce({text('p', 'messageId')}, {text('p', 'requestId')}, "
            f"{text('p', 'request_id')}, {text('j', 'insertId')})"
        ),
        "ts_text": stamp,
        "occurred_at": timestamp(stamp),
        "provider": (
            f"coalesce({text('p', 'provider')}, case "
            f"when {path} like '%aiplatform%' or {path} like '%/publishers/anthropic/%' "
            f"then 'vertex' when {path} like '%bedrock%' then 'bedrock' else 'anthropic' end)"
        ),
        "model_id": text("p", "model"),
        "consumer": (
            f"coalesce({end_user}, {text('p', 'developerEmail')}, {text('p', 'developerApp')})"
        ),
        "consumer_id": text("p", "developerApp"),
        "key_id": f"coalesce({text('p', 'clientId')}, {text('p', 'client_id')})",
        "user_hint": (
            f"coalesce(case when {end_user} like '%@%' then {end_user} end, "
            f"{text('p', 'developerEmail')})"
        ),
        "team_hint": text("p", team),
        "route": text("p", "path"),
        "service": text("p", "apiProduct"),
        "status_code": text("p", "statusCode"),
        # promptTokens has no cache split: partial
        "input_tokens": text("p", "usage", "promptTokens"),
        "output_tokens": text("p", "usage", "completionTokens"),
        "token_detail": "'partial'",
        "total_ms": text("p", "totalLatencyMs"),
        "upstream_ms": text("p", "targetLatencyMs"),
        "gateway_ms": (
            f"cast(try_cast({text('p', 'totalLatencyMs')} as double) "
            f"- try_cast({text('p', 'targetLatencyMs')} as double) as varchar)"
        ),
    }
    return select_columns(columns, f"(select *, {payload} as p from ({recs}))")


APIGEE = GatewayFormat(
    "apigee",
    _apigee,
    labels={
        "request_id": "messageId",
        "occurred_at": "timestamp",
        "model": "model",
        "input_tokens": "usage.promptTokens",
        "output_tokens": "usage.completionTokens",
    },
    default_team_field="team",
)
