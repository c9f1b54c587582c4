"""kong: any Kong logging plugin's record (file-log, http-log, tcp-log, ...) with the AI Proxy
statistics block."""

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


def _kong(recs: str, options: Mapping[str, Any]) -> str:
    user = option(options, "user_field", KONG.default_user_field).lower()
    team = option(options, "team_field", KONG.default_team_field).lower()
    # ai.proxy (3.8+): its fields are read in the record's one parse (format._parsed_once).
    # Older versions key the block by plugin name (ai.<name>): only for records without
    # ai.proxy is the ai block taken out of the record's text and searched for the first key
    # holding usage.
    has_proxy = (
        f"({text('j', 'ai', 'proxy', 'usage')} is not null "
        f"or {text('j', 'ai', 'proxy', 'meta')} is not null)"
    )
    legacy_ai = f"case when not {has_proxy} and not not_json then json_extract(text, '$.ai') end"
    plugin = (
        f"case when {has_proxy} then 'proxy' else list_filter(json_keys(legacy_ai), lambda k: "
        "json_exists(legacy_ai, '$.\"' || k || '\".usage'))[1] end"
    )
    legacy = "json_extract(legacy_ai, '$.\"' || plugin || '\".{}')"

    def u(*keys: str) -> str:
        return f"coalesce({text('j', 'ai', 'proxy', 'usage', *keys)}, {text('lu', *keys)})"

    def m(key: str) -> str:
        return f"coalesce({text('j', 'ai', 'proxy', 'meta', key)}, {text('lm', key)})"

    started = text("j", "started_at")
    model = f"coalesce({m('response_model')}, {m('request_model')})"
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
            f"case when lower({m('provider_name')}) = 'gemini' "
            f"and lower(coalesce({model}, '')) like '%claude%' then 'vertex' "
            f"else {m('provider_name')} end"
        ),
        "model_id": model,
        "request_mode": m("request_mode"),
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
        "input_tokens": u("prompt_tokens"),
        "output_tokens": u("completion_tokens"),
        "cache_read_tokens": u("prompt_tokens_details", "cached_tokens"),
        "token_detail": "'partial'",
        "provider_request_id": (
            f"coalesce({text('j', 'response', 'headers', 'x-amzn-requestid')}, "
            f"{text('j', 'response', 'headers', 'request-id')})"
        ),
        "reported_cost": f"nullif({u('cost')}, '0')",
        "total_ms": text("j", "latencies", "request"),
        "upstream_ms": f"coalesce({text('j', 'latencies', 'proxy')}, {m('llm_latency')})",
        "gateway_ms": text("j", "latencies", "kong"),
    }
    source = f"""(
        select *, case when plugin <> 'proxy' then {legacy.format("usage")} end as lu,
            case when plugin <> 'proxy' then {legacy.format("meta")} end as lm
        from (select *, {plugin} as plugin
              from (select *, {legacy_ai} as legacy_ai from ({recs})))
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
