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

# Envoy AI Gateway has no fixed access-log record: the operator's EnvoyProxy resource maps
# names to %DYNAMIC_METADATA(io.envoy.ai_gateway:<key>)% values. Its docs show two naming
# conventions, both read here (envoyproxy/ai-gateway, site/docs/capabilities/observability/
# accesslogs.md; site/versioned_docs/version-0.4/.../accesslogs.md):
# 0.4: genai_model_name, genai_backend_name, genai_tokens_input/_output/_total;
# 0.5 on: gen_ai.request.model, gen_ai.response.model, gen_ai.provider.name,
# gen_ai.usage.input_tokens/output_tokens/total_tokens, and x-envoy-upstream-service-time.
# Neither example logs cache tokens; the metadata exists (llmRequestCosts types CachedInputToken
# and CacheCreationInputToken, api/v1beta1/shared_types.go), under the field name the operator
# picks: the OTel names the gateway's own traces use (gen_ai.usage.cache_read.input_tokens,
# gen_ai.usage.cache_creation.input_tokens; internal/tracing/otelgenai/otelgenai.go), the
# genai_tokens_* style, or the metadata keys of its examples (llm_cached_input_token,
# llm_cache_creation_input_token; api/v1beta1/ai_gateway_route.go). Its input count includes
# cache reads and writes (ExtractTokenUsageFromExplicitCaching, internal/metrics/metrics.go).
_MODEL = ("gen_ai.response.model", "gen_ai.request.model", "genai_model_name")
_PROVIDER = ("gen_ai.provider.name", "genai_backend_name")
_INPUT = ("gen_ai.usage.input_tokens", "genai_tokens_input")
_OUTPUT = ("gen_ai.usage.output_tokens", "genai_tokens_output")
_CACHE_READ = (
    "gen_ai.usage.cache_read.input_tokens",
    "genai_tokens_cached_input",
    "llm_cached_input_token",
)
_CACHE_CREATION = (
    "gen_ai.usage.cache_creation.input_tokens",
    "genai_tokens_cache_creation_input",
    "llm_cache_creation_input_token",
)
_UPSTREAM = ("x-envoy-upstream-service-time", "upstream_service_time")


def _first(*names: str) -> str:
    return f"coalesce({', '.join(text('j', n) for n in names)})"


def _envoy_ai(recs: str, options: Mapping[str, Any]) -> str:
    user = option(options, "user_field", ENVOY_AI.default_user_field)
    team = option(options, "team_field", ENVOY_AI.default_team_field)
    tokens_in = _first(*_INPUT)
    cached = _first(*_CACHE_READ)
    creation = _first(*_CACHE_CREATION)
    upstream = _first(*_UPSTREAM)
    has_cache = f"({cached} is not null or {creation} is not null)"
    columns = {
        "request_id": f"coalesce({text('j', 'x-request-id')}, {text('j', 'request_id')})",
        "ts_text": text("j", "start_time"),
        "occurred_at": timestamp(text("j", "start_time")),
        "provider": _first(*_PROVIDER),
        "model_id": _first(*_MODEL),
        "consumer": f"coalesce({text('j', user)}, {text('j', user.lower())})",
        "key_id": f"coalesce({text('j', 'x-api-key-id')}, {text('j', 'api_key_id')})",
        "user_hint": f"coalesce({text('j', user)}, {text('j', user.lower())})",
        "team_hint": f"coalesce({text('j', team)}, {text('j', team.lower())})",
        "route": text("j", "route_name"),
        "status_code": text("j", "response_code"),
        # uncached input is what is left once the cache fields (where the operator logs them)
        # are taken out; without them the split is unknown (partial) and the whole prompt is
        # priced as uncached input
        "input_tokens": (
            f"case when {has_cache} then cast(try_cast({tokens_in} as bigint) "
            f"- coalesce(try_cast({cached} as bigint), 0) "
            f"- coalesce(try_cast({creation} as bigint), 0) as varchar) else {tokens_in} end"
        ),
        "output_tokens": _first(*_OUTPUT),
        "cache_read_tokens": cached,
        "cache_write_tokens": creation,
        "token_detail": f"case when {has_cache} then 'exact' else 'partial' end",
        "total_ms": text("j", "duration"),
        "upstream_ms": upstream,
        "gateway_ms": (
            f"cast(try_cast({text('j', 'duration')} as double) "
            f"- try_cast({upstream} as double) as varchar)"
        ),
    }
    return select_columns(columns, f"({recs})")


ENVOY_AI = GatewayFormat(
    "envoy-ai",
    _envoy_ai,
    labels={
        "request_id": "x-request-id",
        "occurred_at": "start_time",
        "model": "gen_ai.response.model (or genai_model_name)",
        "input_tokens": "gen_ai.usage.input_tokens (or genai_tokens_input)",
        "output_tokens": "gen_ai.usage.output_tokens (or genai_tokens_output)",
        "cache_read_tokens": "gen_ai.usage.cache_read.input_tokens",
        "cache_write_tokens": "gen_ai.usage.cache_creation.input_tokens",
    },
    default_team_field="x-tenant-id",
)
