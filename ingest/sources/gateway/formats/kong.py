"""kong: any Kong logging plugin's record (file-log, http-log, tcp-log, ...) with the AI Proxy
statistics block."""

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


def _kong(recs: str, options: Mapping[str, Any]) -> str:
    user = option(options, "user_field", KONG.default_user_field).lower()
    team = option(options, "team_field", KONG.default_team_field).lower()
    # ai.proxy (3.8+) or, in older versions, ai.<plugin name>: the first key holding usage/meta
    plugin = (
        "case when json_exists(ai, '$.proxy.usage') or json_exists(ai, '$.proxy.meta') "
        "then 'proxy' else list_filter(json_keys(ai), lambda k: "
        "json_exists(ai, '$.\"' || k || '\".usage'))[1] end"
    )
    usage = "json_extract(ai, '$.\"' || plugin || '\".usage')"
    meta = "json_extract(ai, '$.\"' || plugin || '\".meta')"
    started = text("j", "started_at")
    model = f"coalesce({text('m', 'response_model')}, {text('m', 'request_model')})"
    columns = {
        "problem": (
            "case when plugin is null then "
            "'no AI Proxy statistics (ai.proxy.usage): enable logging.log_statistics' end"
        ),
        "request_id": (
            f"coalesce({text('j', 'request', 'id')}, "
            f"{text('j', 'request', 'headers', 'x-kong-request-id')}, "
            f"{text('j', 'response', 'headers', 'x-kong-request-id')})"
        ),
        "ts_text": started,
        "occurred_at": timestamp(started),
        # meta.provider_name is the plugin's model.provider, one of openai, azure, anthropic,
        # cohere, mistral, llama2, gemini, bedrock, huggingface (Kong/kong:
        # kong/llm/plugin/shared-filters/serialize-analytics.lua, kong/llm/schemas/init.lua).
        # Vertex AI is "gemini" with options.gemini.{api_endpoint, project_id, location_id}
        # (kong/llm/drivers/gemini.lua), the same name as Google's public Gemini API: only a
        # Claude model behind "gemini" says Vertex (the public API serves no Claude).
        "provider": (
            f"case when lower({text('m', 'provider_name')}) = 'gemini' "
            f"and lower(coalesce({model}, '')) like '%claude%' then 'vertex' "
            f"else {text('m', 'provider_name')} end"
        ),
        "model_id": model,
        "request_mode": text("m", "request_mode"),
        "consumer": (
            f"coalesce({text('j', 'consumer', 'username')}, {text('j', 'consumer', 'custom_id')}, "
            f"{text('j', 'authenticated_entity', 'id')})"
        ),
        "consumer_id": (
            f"coalesce({text('j', 'consumer', 'id')}, "
            f"{text('j', 'authenticated_entity', 'consumer_id')})"
        ),
        # the credential Kong authenticated (key-auth's key id), else the consumer's
        "key_id": (
            f"coalesce({text('j', 'authenticated_entity', 'id')}, {text('j', 'consumer', 'id')})"
        ),
        "user_hint": (
            f"coalesce({text('j', 'request', 'headers', user)}, "
            f"case when {text('j', 'consumer', 'custom_id')} like '%@%' "
            f"then {text('j', 'consumer', 'custom_id')} end)"
        ),
        "team_hint": text("j", "request", "headers", team),
        "route": f"coalesce({text('j', 'route', 'name')}, {text('j', 'route', 'id')})",
        "service": f"coalesce({text('j', 'service', 'name')}, {text('j', 'service', 'id')})",
        "status_code": text("j", "response", "status"),
        "error_type": text("j", "response", "headers", "x-amzn-errortype"),
        # prompt_tokens is uncached input for Claude (cache reads, where logged, are in
        # prompt_tokens_details.cached_tokens); Kong logs no cache writes: partial.
        "input_tokens": text("u", "prompt_tokens"),
        "output_tokens": text("u", "completion_tokens"),
        "cache_read_tokens": text("u", "prompt_tokens_details", "cached_tokens"),
        "token_detail": "'partial'",
        "provider_request_id": (
            f"coalesce({text('j', 'response', 'headers', 'x-amzn-requestid')}, "
            f"{text('j', 'response', 'headers', 'request-id')})"
        ),
        "reported_cost": f"nullif({text('u', 'cost')}, '0')",
        "total_ms": text("j", "latencies", "request"),
        "upstream_ms": f"coalesce({text('j', 'latencies', 'proxy')}, {text('m', 'llm_latency')})",
        "gateway_ms": text("j", "latencies", "kong"),
    }
    source = f"""(
        select *, {usage} as u, {meta} as m
        from (select *, {plugin} as plugin
              from (select *, {node("j", "ai")} as ai from ({recs})))
    )"""
    return select_columns(columns, source)


KONG = GatewayFormat(
    "kong",
    _kong,
    labels={
        "request_id": "request.id",
        "occurred_at": "started_at",
        "model": "ai.proxy.meta.response_model",
        "input_tokens": "ai.proxy.usage.prompt_tokens",
        "output_tokens": "ai.proxy.usage.completion_tokens",
        "cache_read_tokens": "ai.proxy.usage.prompt_tokens_details.cached_tokens",
    },
)
