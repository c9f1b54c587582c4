"""anthropic-body: request metadata beside the Anthropic Messages response a proxy logged (the
JSON message, its text, the SSE stream or its events). Numbers only are taken from the body."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ingest.sources.gateway.formats.base import (
    GatewayFormat,
    node,
    option,
    read_once,
    select_columns,
    text,
    timestamp,
)

_BODY_PATHS = (("response_body",), ("response", "body"), ("body",))


def _events_sql() -> str:
    """The SSE stream's ``data:`` payloads (a body logged as text), or the elements of a body
    logged as a JSON array of events, as JSON text; NULL for a message body."""
    lines = "string_split(replace(body_text, chr(13), ''), chr(10))"
    data = (
        f"list_transform(list_filter({lines}, lambda x: starts_with(ltrim(x), 'data:')), "
        "lambda x: trim(substr(ltrim(x), 6)))"
    )
    return (
        "case when starts_with(body_start, '[') "
        "then try(cast(json_extract(body_text, '$[*]') as varchar[])) "
        f"when msg is null then {data} end"
    )


def _client_account_sql() -> str:
    """The account in Claude Code's ``metadata.user_id`` of the logged request: older builds
    ``user_<hex>_account_<uuid>_session_<uuid>``, newer a JSON string with ``account_uuid``.
    Only that field is read from the request (a string or an object)."""
    paths = (("request_body",), ("request", "body"))
    # a request logged as an object: the field comes out of the record's one parse (the prompt
    # is never copied out); one logged as JSON text is read only for the records that have one
    in_object = "coalesce(" + ", ".join(text("j", *p, "metadata", "user_id") for p in paths) + ")"
    as_text = " ".join(
        f"when contains(text, '\"{p[-1]}\"') "
        f'and regexp_matches(text, \'"{p[-1]}"\\s*:\\s*"\') then try(json_extract_string('
        f"json_extract_string(text, '$.{'.'.join(p)}'), '$.metadata.user_id'))"
        for p in paths
    )
    user_id = f"coalesce({in_object}, case when not not_json then case {as_text} end end)"
    return (
        f"nullif(coalesce(case when json_valid({user_id}) "
        f"then json_extract_string({user_id}, '$.account_uuid') end, "
        f"regexp_extract({user_id}, '_account_([0-9a-fA-F-]+)_session_', 1)), '')"
    )


def _first_of_type(kind: str) -> str:
    return f"events[list_position(types, '{kind}')]"


def _anthropic_body(recs: str, options: Mapping[str, Any]) -> str:
    user = option(options, "user_field", ANTHROPIC_BODY.default_user_field).lower()
    team = option(options, "team_field", ANTHROPIC_BODY.default_team_field).lower()
    # The body's text comes out of the record's one parse: a string (an SSE stream, a message
    # logged as text) unquoted, an object or array as JSON text; a JSON null is no body.
    body_text = "coalesce(" + ", ".join(text("j", *p) for p in _BODY_PATHS) + ")"
    msg = "case when starts_with(body_start, '{') then try_cast(body_text as json) end"
    started = _first_of_type("message_start")
    # message_delta usage is cumulative: the last one is the total
    last_delta = "events[len(types) + 1 - list_position(list_reverse(types), 'message_delta')]"
    error_event = _first_of_type("error")
    stopped = "list_contains(types, 'message_stop')"
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
            "case when body_text is null then 'missing field response_body' "
            f"when not {is_error} and msg is null "
            "and coalesce(len(list_filter(types, lambda t: t is not null)), 0) = 0 then "
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
        # the endpoint's region: bedrock-runtime.<region>.amazonaws.com,
        # <region>-aiplatform.googleapis.com (aiplatform.googleapis.com alone: global)
        "region": (
            f"case when {upstream} like '%bedrock-runtime%' then nullif(regexp_extract("
            f"{upstream}, 'bedrock-runtime(-fips)?\\.([a-z0-9-]+)\\.', 2), '') "
            f"when {upstream} like '%aiplatform.googleapis.com%' then coalesce(nullif("
            f"regexp_extract({upstream}, '([a-z0-9-]+)-aiplatform\\.googleapis', 1), ''), "
            "'global') end"
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
                -- each event's type in one parse of it
                select *, list_transform(events, lambda e: try(json_extract_string(e, '$.type')))
                    as types
                from (
                    select *, {_events_sql()} as events, {_client_account_sql()} as client_account
                    from (select *, {msg} as msg
                          from (select *, left(ltrim(body_text), 1) as body_start
                                from (select *, {body_text} as body_text from ({recs}))))
                )
            )
        )
    )"""
    # msg, the stream's events and their usage: each parsed once for every field read from it
    sql, lists = read_once(
        select_columns(columns, _SOURCE),
        ("msg", "started", "start_usage", "last_delta", "error_event"),
    )
    return sql.replace(_SOURCE, f"(select *, {lists} from {source})" if lists else source)


_SOURCE = "__anthropic_body_source__"

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
