"""The gateway log formats: each a SELECT over a page's records, in the standard columns.

A format is SQL over a relation ``(file_index, n, j)`` (``j``: one record as JSON, NULL when
the line is not a JSON object) that selects exactly these columns (text as logged; the shared
checks in ``format.py`` cast, validate and name what is wrong):

    file_index, n, not_json, problem (a reason to reject the record, or NULL),
    request_id, ts_text, occurred_at (timestamptz), provider, model_id, request_mode,
    consumer, consumer_id, key_id (the gateway key or credential), user_hint, team_hint, route,
    service, status_code, error_type,
    input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
    cache_write_5m_tokens, cache_write_1h_tokens, token_detail ('exact' / 'partial'),
    truncated, provider_request_id, reported_cost, total_ms, upstream_ms, gateway_ms

``input_tokens`` is uncached input only, as in the data contract. A body (Kong's
``ai.proxy.payload``, a logged Anthropic response or SSE stream) may be read inside a format's
statement to take numbers out of it; no body column is ever selected. Vendor field names
appear here and in ``models/staging/stg_gateway.sql`` only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ingest.errors import ConfigError

TOKEN_COLUMNS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
)

OUTPUT_COLUMNS = (
    "request_id",
    "ts_text",
    "occurred_at",
    "provider",
    "model_id",
    "request_mode",
    "consumer",
    "consumer_id",
    "key_id",
    "user_hint",
    "team_hint",
    "route",
    "service",
    "status_code",
    "error_type",
    *TOKEN_COLUMNS,
    "token_detail",
    "truncated",
    "provider_request_id",
    "reported_cost",
    "total_ms",
    "upstream_ms",
    "gateway_ms",
)


@dataclass(frozen=True)
class GatewayFormat:
    """One log format: its SQL, the field names its reasons use, and the required counts."""

    name: str
    select: Callable[[str, Mapping[str, Any]], str]  # (records relation, options) -> SQL
    labels: Mapping[str, str] = field(default_factory=dict)  # column -> field as logged
    required_tokens: tuple[str, ...] = ("input_tokens", "output_tokens")
    default_user_field: str = "x-user-email"
    default_team_field: str = "x-team"


def _path(*keys: str) -> str:
    """A JSON path literal: every key quoted, so dashes and dots in header names are safe."""
    inner = "".join('."' + k.replace('"', "") + '"' for k in keys)
    return "'$" + inner.replace("'", "''") + "'"


def text(doc: str, *keys: str) -> str:
    """The value at ``keys`` in ``doc`` as text (NULL when absent or JSON null)."""
    return f"json_extract_string({doc}, {_path(*keys)})"


def node(doc: str, *keys: str) -> str:
    return f"json_extract({doc}, {_path(*keys)})"


def timestamp(value: str) -> str:
    """An ISO timestamp, or epoch seconds / milliseconds / microseconds, as timestamptz."""
    number = f"try_cast({value} as double)"
    return (
        f"case when regexp_matches({value}, '^\\s*\\d+(\\.\\d+)?\\s*$') then "
        f"case when {number} >= 1e14 then try(to_timestamp({number} / 1e6)) "
        f"when {number} >= 1e11 then try(to_timestamp({number} / 1e3)) "
        f"else try(to_timestamp({number})) end "
        f"else try_cast({value} as timestamptz) end"
    )


def _integer_text(value: str) -> str:
    """A JSON number's text without a trailing ``.0`` some loggers write (``12.0``)."""
    return f"regexp_replace({value}, '^(-?\\d+)\\.0+$', '\\1')"


def _select(columns: Mapping[str, str], source: str) -> str:
    """The final SELECT of a format: exactly the standard columns (NULL where not given)."""
    out = [
        "file_index",
        "n",
        "j is null as not_json",
        f"{columns.get('problem', 'null')} as problem",
    ]
    for name in OUTPUT_COLUMNS:
        expr = columns.get(name)
        if expr is None:
            expr = "null::timestamptz" if name == "occurred_at" else "null"
            if name == "truncated":
                expr = "false"
        elif name in TOKEN_COLUMNS:
            expr = _integer_text(expr)
        out.append(f"{expr} as {name}")
    return "select " + ", ".join(out) + f" from {source}"


def _option(options: Mapping[str, Any], key: str, default: str) -> str:
    value = options.get(key)
    return str(value) if value else default


# ----------------------------------------------------------------------------------------------
# kong: any Kong logging plugin's record with the AI Proxy statistics block


def _kong(recs: str, options: Mapping[str, Any]) -> str:
    user = _option(options, "user_field", KONG.default_user_field).lower()
    team = _option(options, "team_field", KONG.default_team_field).lower()
    # ai.proxy (3.8+) or, in older versions, ai.<plugin name>: the first key holding usage/meta
    plugin = (
        "case when json_exists(ai, '$.proxy.usage') or json_exists(ai, '$.proxy.meta') "
        "then 'proxy' else list_filter(json_keys(ai), lambda k: "
        "json_exists(ai, '$.\"' || k || '\".usage'))[1] end"
    )
    usage = "json_extract(ai, '$.\"' || plugin || '\".usage')"
    meta = "json_extract(ai, '$.\"' || plugin || '\".meta')"
    started = text("j", "started_at")
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
        "provider": text("m", "provider_name"),
        "model_id": f"coalesce({text('m', 'response_model')}, {text('m', 'request_model')})",
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
    return _select(columns, source)


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


# ----------------------------------------------------------------------------------------------
# anthropic-body: request metadata beside the Anthropic Messages response (JSON or SSE text)

_BODY_PATHS = (("response_body",), ("response", "body"), ("body",))


def _events_sql() -> str:
    """The SSE stream's ``data:`` events as JSON (a body logged as text), or the elements of a
    body logged as a JSON array of events."""
    lines = "string_split(replace(body_text, chr(13), ''), chr(10))"
    data = (
        f"list_transform(list_filter({lines}, lambda x: starts_with(ltrim(x), 'data:') "
        "and json_valid(trim(substr(ltrim(x), 6)))), lambda x: trim(substr(ltrim(x), 6))::json)"
    )
    return (
        "case when json_type(body) = 'ARRAY' then cast(json_extract(body, '$[*]') as json[]) "
        f"when msg is null and body_text is not null then {data} end"
    )


def _client_account_sql() -> str:
    """The account in Claude Code's ``metadata.user_id`` of the logged request: older builds
    ``user_<hex>_account_<uuid>_session_<uuid>``, newer a JSON string with ``account_uuid``.
    Only that field is read from the request (a string or an object)."""
    request = (
        "coalesce("
        + ", ".join(node("j", *p) for p in (("request_body",), ("request", "body")))
        + ")"
    )
    user_id = (
        f"case when json_type({request}) = 'OBJECT' "
        f"then json_extract_string({request}, '$.metadata.user_id') "
        f"when json_type({request}) = 'VARCHAR' "
        f"and json_valid(json_extract_string({request}, '$')) "
        f"then json_extract_string(json_extract_string({request}, '$'), '$.metadata.user_id') end"
    )
    return (
        f"nullif(coalesce(case when json_valid({user_id}) "
        f"then json_extract_string({user_id}, '$.account_uuid') end, "
        f"regexp_extract({user_id}, '_account_([0-9a-fA-F-]+)_session_', 1)), '')"
    )


def _of_type(kind: str) -> str:
    return f"list_filter(events, lambda e: json_extract_string(e, '$.type') = '{kind}')"


def _anthropic_body(recs: str, options: Mapping[str, Any]) -> str:
    user = _option(options, "user_field", ANTHROPIC_BODY.default_user_field).lower()
    team = _option(options, "team_field", ANTHROPIC_BODY.default_team_field).lower()
    # a body logged as JSON null is no body
    body = (
        "coalesce("
        + ", ".join(
            f"case when json_type({node('j', *p)}) <> 'NULL' then {node('j', *p)} end"
            for p in _BODY_PATHS
        )
        + ")"
    )
    body_text = (
        "case when json_type(body) = 'VARCHAR' then json_extract_string(body, '$') "
        "when json_type(body) in ('OBJECT', 'ARRAY') then body::varchar end"
    )
    msg = (
        "case when json_type(body) = 'OBJECT' then body "
        "when json_type(body) = 'VARCHAR' and starts_with(ltrim(body_text), '{') "
        "and json_valid(body_text) then body_text::json end"
    )
    started = f"{_of_type('message_start')}[1]"
    last_delta = f"{_of_type('message_delta')}[-1]"
    error_event = f"{_of_type('error')}[1]"
    stopped = f"len({_of_type('message_stop')}) > 0"
    header = lambda where, key: text("j", where, key)  # noqa: E731
    ts = (
        f"coalesce({text('j', 'timestamp')}, {text('j', 'time')}, {text('j', 'start_time')}, "
        f"{text('j', '@timestamp')})"
    )
    status = (
        f"coalesce({text('j', 'status')}, {text('j', 'status_code')}, "
        f"{text('j', 'response', 'status')})"
    )
    upstream = (
        f"lower(coalesce({text('j', 'upstream')}, {text('j', 'upstream_host')}, "
        f"{text('j', 'upstream_addr')}, {text('j', 'upstream_url')}, ''))"
    )
    message_id = f"coalesce({text('msg', 'id')}, {text('started', 'message', 'id')})"
    err_message = (
        f"coalesce({text('msg', 'error', 'message')}, {text('error_event', 'error', 'message')})"
    )

    def count(key: str) -> str:
        # the last message_delta's usage is cumulative: it wins over message_start's, never
        # added to it
        return f"coalesce({text('last_delta', 'usage', key)}, {text('start_usage', key)})"

    is_error = (
        f"(coalesce({text('msg', 'type')}, '') = 'error' or error_event is not null "
        f"or try_cast({status} as integer) >= 400)"
    )
    tokens = {
        "input_tokens": count("input_tokens"),
        "output_tokens": count("output_tokens"),
        "cache_read_tokens": count("cache_read_input_tokens"),
        "cache_write_tokens": count("cache_creation_input_tokens"),
        "cache_write_5m_tokens": text("start_usage", "cache_creation", "ephemeral_5m_input_tokens"),
        "cache_write_1h_tokens": text("start_usage", "cache_creation", "ephemeral_1h_input_tokens"),
    }
    # an error response carries no usage: nothing was billed
    for key in ("input_tokens", "output_tokens"):
        tokens[key] = (
            f"case when {is_error} and start_usage is null then '0' else {tokens[key]} end"
        )
    columns = {
        "problem": (
            "case when body is null then 'missing field response_body' "
            f"when not {is_error} and msg is null and coalesce(len(events), 0) = 0 then "
            "'response body is neither an Anthropic message nor an SSE stream' "
            f"when not {is_error} and msg is null and started is null then "
            "'stream without message_start' end"
        ),
        "request_id": (
            f"coalesce({text('j', 'request_id')}, {text('j', 'id')}, "
            f"{text('j', 'request', 'id')}, {message_id})"
        ),
        "ts_text": ts,
        "occurred_at": timestamp(ts),
        "provider": (
            f"coalesce({text('j', 'provider')}, case "
            f"when {upstream} like '%bedrock%' or {message_id} like 'msg_bdrk_%' then 'bedrock' "
            f"when {upstream} like '%aiplatform.googleapis.com%' "
            f"or {message_id} like 'msg_vrtx_%' then 'vertex' "
            "else 'anthropic' end)"
        ),
        "model_id": (
            f"coalesce({text('msg', 'model')}, {text('started', 'message', 'model')}, "
            f"{text('j', 'model')})"
        ),
        "request_mode": "case when msg is not null then 'oneshot' else 'stream' end",
        # Claude Code's metadata.user_id names an account, not a person: a weak hint, the
        # principal only when nothing better is logged (an identity rule can map it)
        "consumer": (
            f"coalesce({text('j', 'user')}, {text('j', 'consumer')}, "
            f"{header('request_headers', user)}, {header('headers', user)}, "
            "'claude-code-account:' || client_account)"
        ),
        "key_id": (
            f"coalesce({text('j', 'key_id')}, {text('j', 'api_key_id')}, "
            f"{header('request_headers', 'x-api-key-id')}, {header('headers', 'x-api-key-id')})"
        ),
        "user_hint": (
            f"coalesce({header('request_headers', user)}, {header('headers', user)}, "
            f"case when {text('j', 'user')} like '%@%' then {text('j', 'user')} end)"
        ),
        "team_hint": (
            f"coalesce({text('j', 'team')}, {header('request_headers', team)}, "
            f"{header('headers', team)})"
        ),
        "route": f"coalesce({text('j', 'route')}, {text('j', 'path')}, {text('j', 'uri')})",
        "service": text("j", "service"),
        "status_code": status,
        # the error's type, and which stripped header it blames (the message text itself is
        # never kept)
        "error_type": (
            f"coalesce({text('msg', 'error', 'type')}, {text('error_event', 'error', 'type')}) "
            f"|| coalesce(case "
            f"when {err_message} ilike '%anthropic-version%' then ': anthropic-version header' "
            f"when {err_message} ilike '%x-api-key%' then ': x-api-key header' "
            f"when {err_message} ilike '%content-type%' then ': content-type header' end, '')"
        ),
        **tokens,
        "token_detail": "case when truncated then 'partial' else 'exact' end",
        "truncated": "truncated",
        "provider_request_id": (
            f"coalesce({header('response_headers', 'x-amzn-requestid')}, "
            f"{header('response_headers', 'request-id')}, {message_id})"
        ),
        "total_ms": (
            f"coalesce({text('j', 'duration_ms')}, "
            f"(try_cast({text('j', 'request_time')} as double) * 1000)::varchar)"
        ),
        "upstream_ms": (
            f"coalesce({text('j', 'upstream_ms')}, "
            f"(try_cast({text('j', 'upstream_response_time')} as double) * 1000)::varchar)"
        ),
        "gateway_ms": (
            f"coalesce(try_cast({text('j', 'duration_ms')} as double), "
            f"try_cast({text('j', 'request_time')} as double) * 1000) - coalesce("
            f"try_cast({text('j', 'upstream_ms')} as double), "
            f"try_cast({text('j', 'upstream_response_time')} as double) * 1000)"
        ),
    }
    source = f"""(
        select *,
            coalesce({node("msg", "usage")},
                     {node("started", "message", "usage")}) as start_usage,
            -- a stream that never reached message_stop was cut off (the gateway's log buffer,
            -- a client that went away): what it shows is a lower bound
            events is not null and not {stopped} and msg is null as truncated
        from (
            select *, {started} as started, {last_delta} as last_delta,
                {error_event} as error_event
            from (
                select *, {_events_sql()} as events, {_client_account_sql()} as client_account
                from (select *, {msg} as msg
                      from (select *, {body_text} as body_text
                            from (select *, {body} as body from ({recs}))))
            )
        )
    )"""
    return _select(columns, source)


ANTHROPIC_BODY = GatewayFormat(
    "anthropic-body",
    _anthropic_body,
    labels={
        "occurred_at": "timestamp",
        "model": "model",
        "input_tokens": "usage.input_tokens",
        "output_tokens": "usage.output_tokens",
        "cache_read_tokens": "usage.cache_read_input_tokens",
        "cache_write_tokens": "usage.cache_creation_input_tokens",
        "cache_write_5m_tokens": "usage.cache_creation.ephemeral_5m_input_tokens",
        "cache_write_1h_tokens": "usage.cache_creation.ephemeral_1h_input_tokens",
    },
)


# ----------------------------------------------------------------------------------------------
# envoy-ai: Envoy AI Gateway's JSON access log with the genai_* fields


def _envoy_ai(recs: str, options: Mapping[str, Any]) -> str:
    user = _option(options, "user_field", ENVOY_AI.default_user_field)
    team = _option(options, "team_field", ENVOY_AI.default_team_field)
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
    return _select(columns, f"({recs})")


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


# ----------------------------------------------------------------------------------------------
# cloudflare: AI Gateway logs as the logs API returns them, and Logpush ai_gateway_events


def _cloudflare(recs: str, options: Mapping[str, Any]) -> str:
    user = _option(options, "user_field", CLOUDFLARE.default_user_field)
    team = _option(options, "team_field", CLOUDFLARE.default_team_field)
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
    return _select(columns, f"(select *, {meta} as meta from ({recs}))")


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


# ----------------------------------------------------------------------------------------------
# apigee: MessageLogging records (the LLM-gateway samples' shape), bare or as Cloud Logging entries


def _apigee(recs: str, options: Mapping[str, Any]) -> str:
    team = _option(options, "team_field", APIGEE.default_team_field)
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
    return _select(columns, f"(select *, {payload} as p from ({recs}))")


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


# ----------------------------------------------------------------------------------------------
# mapping: a format declared in the config, one JSON path per contract field

MAPPING_FIELDS = {
    "request_id": "request_id",
    "occurred_at": "ts_text",
    "model": "model_id",
    "provider": "provider",
    "user": "user_hint",
    "consumer": "consumer",
    "key_id": "key_id",
    "team": "team_hint",
    "route": "route",
    "service": "service",
    "status": "status_code",
    "error_type": "error_type",
    "input_tokens": "input_tokens",
    "output_tokens": "output_tokens",
    "cache_read_tokens": "cache_read_tokens",
    "cache_write_tokens": "cache_write_tokens",
    "cache_write_5m_tokens": "cache_write_5m_tokens",
    "cache_write_1h_tokens": "cache_write_1h_tokens",
    "provider_request_id": "provider_request_id",
    "reported_cost_usd": "reported_cost",
    "total_ms": "total_ms",
    "upstream_ms": "upstream_ms",
    "gateway_ms": "gateway_ms",
}
MAPPING_REQUIRED = ("request_id", "occurred_at", "model", "input_tokens", "output_tokens")
_PATH_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.@[]$")


def parse_mapping(spec: str) -> dict[str, str]:
    """``"request_id=req.id; model=body.model"`` as {contract field: JSON path}; a ConfigError
    naming what is wrong."""
    mapping: dict[str, str] = {}
    for part in spec.replace(",", ";").split(";"):
        if not part.strip():
            continue
        key, sep, path = (p.strip() for p in part.partition("="))
        if not sep or not path:
            raise ConfigError(f"gateway mapping: '{part.strip()}' is not field=path")
        if key not in MAPPING_FIELDS:
            raise ConfigError(
                f"gateway mapping: unknown field '{key}'; fields: {', '.join(MAPPING_FIELDS)}"
            )
        if not set(path) <= _PATH_CHARS:
            raise ConfigError(f"gateway mapping: {key}: '{path}' is not a JSON path like a.b[0].c")
        mapping[key] = path.removeprefix("$").removeprefix(".")
    for key in MAPPING_REQUIRED:
        if key not in mapping:
            raise ConfigError(
                f"gateway mapping: no path for {key}; add {key}=<JSON path> to fields "
                "(--fields 'request_id=id; occurred_at=ts; model=model; "
                "input_tokens=usage.in; output_tokens=usage.out')"
            )
    return mapping


def _mapping_format(mapping: Mapping[str, str]) -> GatewayFormat:
    def value(path: str) -> str:
        return f"json_extract_string(j, '$.{path}')"

    def select(recs: str, options: Mapping[str, Any]) -> str:
        columns = {MAPPING_FIELDS[k]: value(p) for k, p in mapping.items()}
        columns["occurred_at"] = timestamp(value(mapping["occurred_at"]))
        has_cache = "cache_read_tokens" in mapping and any(
            k in mapping for k in ("cache_write_tokens", "cache_write_5m_tokens")
        )
        columns["token_detail"] = "'exact'" if has_cache else "'partial'"
        return _select(columns, f"({recs})")

    labels = {("model" if k == "model" else MAPPING_FIELDS[k]): p for k, p in mapping.items()}
    labels["occurred_at"] = mapping["occurred_at"]
    return GatewayFormat("mapping", select, labels=labels)


# ----------------------------------------------------------------------------------------------
# The registry of formats

FORMATS: dict[str, GatewayFormat] = {
    f.name: f for f in (KONG, ANTHROPIC_BODY, ENVOY_AI, CLOUDFLARE, APIGEE)
}


def names() -> list[str]:
    return sorted([*FORMATS, "mapping"])


def get(name: str, options: Mapping[str, Any] | None = None) -> GatewayFormat:
    """The format called ``name``; ``mapping`` is built from the options' ``fields``."""
    if name == "mapping":
        fields = (options or {}).get("fields")
        if not fields:
            raise ConfigError(
                "gateway format mapping needs fields: one JSON path per field, e.g. "
                "--fields 'request_id=id; occurred_at=ts; model=model; "
                "input_tokens=usage.in; output_tokens=usage.out'"
            )
        return _mapping_format(parse_mapping(str(fields)))
    found = FORMATS.get(name)
    if found is None:
        raise ConfigError(f"unknown gateway format '{name}'; use one of: {', '.join(names())}")
    return found
