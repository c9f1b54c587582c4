"""cloudflare: AI Gateway logs as the logs API returns them, and Logpush ai_gateway_events."""

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


def _cloudflare(recs: str, options: Mapping[str, Any]) -> str:
    user = option(options, "user_field", CLOUDFLARE.default_user_field)
    team = option(options, "team_field", CLOUDFLARE.default_team_field)
    raw_meta = f"coalesce({node('j', 'metadata')}, {node('j', 'Metadata')})"
    # the logs API returns metadata as a JSON string, Logpush as an object
    meta = (
        f"case when json_type({raw_meta}) = 'VARCHAR' "
        f"and json_valid(json_extract_string({raw_meta}, '$')) "
        f"then json_extract_string({raw_meta}, '$')::json "
        f"when json_type({raw_meta}) = 'OBJECT' then {raw_meta} end"
    )
    stamp = f"coalesce({text('j', 'created_at')}, {text('j', 'Timestamp')})"
    logpush_id = (
        "'lp-' || md5(concat_ws('|', "
        + ", ".join(
            text("j", k)
            for k in ("Timestamp", "Gateway", "Endpoint", "Model", "Provider", "StatusCode")
        )
        + f", {node('j', 'Metadata')}::varchar, {node('j', 'Metrics')}::varchar))"
    )
    cached = f"coalesce({text('j', 'cached')}, {text('j', 'Cached')})"
    columns = {
        "request_id": (
            f"coalesce({text('j', 'id')}, {text('j', 'ID')}, "
            f"case when {text('j', 'Timestamp')} is not null then {logpush_id} end)"
        ),
        "ts_text": stamp,
        "occurred_at": timestamp(stamp),
        "provider": f"coalesce({text('j', 'provider')}, {text('j', 'Provider')})",
        "model_id": f"coalesce({text('j', 'model')}, {text('j', 'Model')})",
        # a response served from Cloudflare's cache never reached the provider
        "request_mode": f"case when {cached} = 'true' then 'cache_hit' end",
        "consumer": text("meta", user),
        "key_id": text("meta", "key_id"),
        "user_hint": text("meta", user),
        "team_hint": text("meta", team),
        "route": f"coalesce({text('j', 'path')}, {text('j', 'Endpoint')})",
        "service": text("j", "Gateway"),
        "status_code": f"coalesce({text('j', 'status_code')}, {text('j', 'StatusCode')})",
        # tokens_in is the provider's input count as Cloudflare reads it (for Anthropic,
        # usage.input_tokens: uncached only) with no cache split; Logpush carries no counts
        "input_tokens": (
            f"coalesce({text('j', 'tokens_in')}, {text('j', 'Metrics', 'tokensIn')}, '0')"
        ),
        "output_tokens": (
            f"coalesce({text('j', 'tokens_out')}, {text('j', 'Metrics', 'tokensOut')}, '0')"
        ),
        "token_detail": "'partial'",
        "reported_cost": f"coalesce({text('j', 'cost')}, {text('j', 'Metrics', 'cost')})",
        "total_ms": f"coalesce({text('j', 'duration')}, {text('j', 'Metrics', 'durationMs')})",
    }
    return select_columns(columns, f"(select *, {meta} as meta from ({recs}))")


CLOUDFLARE = GatewayFormat(
    "cloudflare",
    _cloudflare,
    labels={
        "request_id": "id",
        "occurred_at": "created_at",
        "model": "model",
        "input_tokens": "tokens_in",
        "output_tokens": "tokens_out",
    },
    required_tokens=(),
    default_user_field="user",
    default_team_field="team",
)
