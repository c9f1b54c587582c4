"""envoy-ai: Envoy AI Gateway's JSON access log with the genai_* fields and the operator's
header fields."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ingest.sources.gateway.formats.base import (
    GatewayFormat,
    option,
    select_columns,
    text,
    timestamp,
)


def _envoy_ai(recs: str, options: Mapping[str, Any]) -> str:
    user = option(options, "user_field", ENVOY_AI.default_user_field)
    team = option(options, "team_field", ENVOY_AI.default_team_field)
    tokens_in = text("j", "genai_tokens_input")
    cached = text("j", "genai_tokens_cached_input")
    creation = text("j", "genai_tokens_cache_creation_input")
    has_cache = f"({cached} is not null or {creation} is not null)"
    columns = {
        "request_id": f"coalesce({text('j', 'x-request-id')}, {text('j', 'request_id')})",
        "ts_text": text("j", "start_time"),
        "occurred_at": timestamp(text("j", "start_time")),
        "provider": text("j", "genai_backend_name"),
        "model_id": text("j", "genai_model_name"),
        "consumer": f"coalesce({text('j', user)}, {text('j', user.lower())})",
        "key_id": f"coalesce({text('j', 'x-api-key-id')}, {text('j', 'api_key_id')})",
        "user_hint": f"coalesce({text('j', user)}, {text('j', user.lower())})",
        "team_hint": f"coalesce({text('j', team)}, {text('j', team.lower())})",
        "route": text("j", "route_name"),
        "status_code": text("j", "response_code"),
        # Envoy's input count includes cache reads and writes: uncached input is what is left
        # once the cache fields (where the operator logs them) are taken out; without them the
        # split is unknown (partial) and the whole prompt is priced as uncached input
        "input_tokens": (
            f"case when {has_cache} then cast(try_cast({tokens_in} as bigint) "
            f"- coalesce(try_cast({cached} as bigint), 0) "
            f"- coalesce(try_cast({creation} as bigint), 0) as varchar) else {tokens_in} end"
        ),
        "output_tokens": text("j", "genai_tokens_output"),
        "cache_read_tokens": cached,
        "cache_write_tokens": creation,
        "token_detail": f"case when {has_cache} then 'exact' else 'partial' end",
        "total_ms": text("j", "duration"),
        "upstream_ms": text("j", "upstream_service_time"),
        "gateway_ms": (
            f"cast(try_cast({text('j', 'duration')} as double) "
            f"- try_cast({text('j', 'upstream_service_time')} as double) as varchar)"
        ),
    }
    return select_columns(columns, f"({recs})")


ENVOY_AI = GatewayFormat(
    "envoy-ai",
    _envoy_ai,
    labels={
        "request_id": "x-request-id",
        "occurred_at": "start_time",
        "model": "genai_model_name",
        "input_tokens": "genai_tokens_input",
        "output_tokens": "genai_tokens_output",
        "cache_read_tokens": "genai_tokens_cached_input",
        "cache_write_tokens": "genai_tokens_cache_creation_input",
    },
    default_team_field="x-tenant-id",
)
