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
    raw_meta = f"coalesce({node('r', 'metadata')}, {node('r', 'Metadata')})"
    # the logs API returns metadata as a JSON string, Logpush as an object
    meta = (
        f"case when json_type({raw_meta}) = 'VARCHAR' "
        f"and json_valid(json_extract_string({raw_meta}, '$')) "
        f"then json_extract_string({raw_meta}, '$')::json "
        f"when json_type({raw_meta}) = 'OBJECT' then {raw_meta} end"
    )
    stamp = f"coalesce({text('r', 'created_at')}, {text('r', 'Timestamp')})"
    logpush_id = (
        "'lp-' || md5(concat_ws('|', "
        + ", ".join(
            text("r", k)
            for k in ("Timestamp", "Gateway", "Endpoint", "Model", "Provider", "StatusCode")
        )
        + f", {node('r', 'Metadata')}::varchar, {node('r', 'Metrics')}::varchar))"
    )
    cached = f"coalesce({text('r', 'cached')}, {text('r', 'Cached')})"
    columns = {
        "request_id": (
            f"coalesce({text('r', 'id')}, {text('r', 'ID')}, "
            f"case when {text('r', 'Timestamp')} is not null then {logpush_id} end)"
        ),
        "ts_text": stamp,
        "occurred_at": timestamp(stamp),
        "provider": f"coalesce({text('r', 'provider')}, {text('r', 'Provider')})",
        "model_id": f"coalesce({text('r', 'model')}, {text('r', 'Model')})",
        # a response served from Cloudflare's cache never reached the provider
        "request_mode": f"case when {cached} = 'true' then 'cache_hit' end",
        "consumer": text("meta", user),
        "key_id": text("meta", "key_id"),
        "user_hint": text("meta", user),
        "team_hint": text("meta", team),
        "route": f"coalesce({text('r', 'path')}, {text('r', 'Endpoint')})",
        "service": text("r", "Gateway"),
        "status_code": f"coalesce({text('r', 'status_code')}, {text('r', 'StatusCode')})",
        # tokens_in is the provider's input count as Cloudflare reads it (for Anthropic,
        # usage.input_tokens: uncached only) with no cache split; Logpush carries no counts
        "input_tokens": (
            f"coalesce({text('r', 'tokens_in')}, {text('r', 'Metrics', 'tokensIn')}, '0')"
        ),
        "output_tokens": (
            f"coalesce({text('r', 'tokens_out')}, {text('r', 'Metrics', 'tokensOut')}, '0')"
        ),
        "token_detail": "'partial'",
        "reported_cost": f"coalesce({text('r', 'cost')}, {text('r', 'Metrics', 'cost')})",
        "total_ms": f"coalesce({text('r', 'duration')}, {text('r', 'Metrics', 'durationMs')})",
    }
    # a saved logs API response ({"result": [...], "success": true, ...}) holds many records
    # (all at the response's location); any other line is one record
    records = (
        "select * exclude (rec_list), unnest(rec_list) as r from (select *, case "
        "when json_type(j, '$.result') = 'ARRAY' "
        "then cast(json_extract(j::json, '$.result[*]') as json[]) else [j] end as rec_list "
        f"from ({recs}))"
    )
    return select_columns(columns, f"(select *, {meta} as meta from ({records}))")


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
