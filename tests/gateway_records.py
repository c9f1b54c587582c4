"""Gateway log records in each format's real shape, for tests/test_gateway.py and the privacy
feeds. ``body`` text is planted wherever the real log would carry a prompt or a response."""

from __future__ import annotations

import json
from typing import Any

EPOCH_2026_11_20_10 = 1_795_168_800_000  # 2026-11-20T10:00:00Z in epoch ms


def kong(
    request_id: str,
    *,
    started_at: int = EPOCH_2026_11_20_10,
    consumer: str | None = "dave",
    custom_id: str | None = None,
    model: str = "claude-sonnet-4-5-20250929",
    provider: str = "anthropic",
    prompt_tokens: int | str = 100,
    completion_tokens: int | str = 20,
    cached_tokens: int | None = None,
    status: int = 200,
    legacy_plugin: str | None = None,
    headers: dict[str, str] | None = None,
    response_headers: dict[str, str] | None = None,
    body: str | None = None,
    latencies: tuple[int, int, int] = (3400, 3310, 90),
) -> dict[str, Any]:
    """A Kong logging plugin's record (file-log, http-log, …) with AI Proxy statistics."""
    usage: dict[str, Any] = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": (
            prompt_tokens + completion_tokens
            if isinstance(prompt_tokens, int) and isinstance(completion_tokens, int)
            else None
        ),
        "cost": 0,
        "time_per_token": 38.94,
        "time_to_first_token": 2583,
        "prompt_tokens_details": {} if cached_tokens is None else {"cached_tokens": cached_tokens},
    }
    meta = {
        "request_model": model,
        "response_model": model,
        "llm_latency": latencies[1],
        "plugin_id": "6f2c6a44-0d1f-4a7e-9d4b-2f0d1c3b5a11",
        "request_mode": "stream",
        "provider_name": provider,
    }
    block: dict[str, Any] = {"usage": usage, "meta": meta}
    if body is not None:
        block["payload"] = {
            "request": json.dumps({"messages": [{"role": "user", "content": body}]}),
            "response": json.dumps({"content": [{"type": "text", "text": body}]}),
        }
    ai = {legacy_plugin: block} if legacy_plugin else {"proxy": block}
    record: dict[str, Any] = {
        "request": {
            "id": request_id,
            "method": "POST",
            "uri": "/v1/messages?beta=true",
            "url": "https://ai-gateway.acme.example:443/v1/messages?beta=true",
            "size": 48211,
            "headers": {
                "user-agent": "claude-cli/2.0.31 (external, cli)",
                "anthropic-version": "2023-06-01",
                "content-type": "application/json",
                "x-api-key": "REDACTED",
                **(headers or {}),
            },
            "querystring": {"beta": "true"},
        },
        "response": {
            "status": status,
            "size": 2304,
            "headers": {"content-type": "text/event-stream", **(response_headers or {})},
        },
        "latencies": {
            "request": latencies[0],
            "proxy": latencies[1],
            "kong": latencies[2],
            "receive": 0,
        },
        "route": {"id": "0b5b3a7e-7a55-4f53-9c1e-5c2b1fb7c0a2", "name": "claude-code"},
        "service": {"id": "c5d0a0b7-1d1b-4b4f-8f3d-6e2f9f0f3a19", "name": "anthropic"},
        "client_ip": "10.20.30.40",
        "started_at": started_at,
        "upstream_uri": "/v1/messages?beta=true",
        "tries": [{"ip": "160.79.104.10", "port": 443, "balancer_latency": 0}],
        "workspace": "0d1f4b5a-2c3e-4f5a-8b9c-0d1e2f3a4b5c",
        "ai": ai,
    }
    if consumer is not None or custom_id is not None:
        record["consumer"] = {
            "id": "8c2f5a3e-9b1d-4f7a-a3c2-1e5d7f9b0c4d",
            "username": consumer,
            "custom_id": custom_id,
            "created_at": 1790000000,
        }
        record["authenticated_entity"] = {"id": "3f1e2d4c-5b6a-4978-8a9b-0c1d2e3f4a5b"}
    return record


def sse(
    *,
    message_id: str = "msg_01XFDUDYJgAACzvnptvVoYEL",
    model: str = "claude-sonnet-4-5-20250929",
    input_tokens: int = 12,
    cache_read: int = 40000,
    cache_creation: int = 3000,
    cache_1h: int | None = None,
    outputs: tuple[int, ...] = (15, 180, 412),
    text: str = "Here is the refactored function.",
    stop: bool = True,
) -> str:
    """An Anthropic Messages SSE stream as a gateway logs it: message_start with the input side,
    text deltas, several cumulative message_delta events (the last is the total)."""
    usage: dict[str, Any] = {
        "input_tokens": input_tokens,
        "cache_creation_input_tokens": cache_creation,
        "cache_read_input_tokens": cache_read,
        "output_tokens": 1,
    }
    if cache_1h is not None:
        usage["cache_creation"] = {
            "ephemeral_5m_input_tokens": cache_creation - cache_1h,
            "ephemeral_1h_input_tokens": cache_1h,
        }
    start = {
        "type": "message_start",
        "message": {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": None,
            "usage": usage,
        },
    }
    events: list[tuple[str, dict[str, Any]]] = [
        ("message_start", start),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ),
        ("ping", {"type": "ping"}),
    ]
    for i, output in enumerate(outputs):
        events.append(
            (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": f"{text} (part {i})"},
                },
            )
        )
        events.append(
            (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": None if i < len(outputs) - 1 else "end_turn"},
                    "usage": {"output_tokens": output},
                },
            )
        )
    if stop:
        events.append(("content_block_stop", {"type": "content_block_stop", "index": 0}))
        events.append(("message_stop", {"type": "message_stop"}))
    stream = "".join(
        f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"
        for name, data in events
    )
    if not stop:
        stream += 'event: content_block_delta\ndata: {"type":"content_block_del'  # cut mid-event
    return stream


def message(
    *,
    message_id: str = "msg_01AbCdEfGhIjKlMnOpQrStUv",
    model: str = "claude-haiku-4-5-20251001",
    input_tokens: int = 250,
    output_tokens: int = 40,
    cache_read: int = 0,
    cache_creation: int = 0,
    text: str = "OK.",
) -> dict[str, Any]:
    """A non-streaming Anthropic Messages response."""
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "usage": {
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cache_read_input_tokens": cache_read,
            "cache_creation_input_tokens": cache_creation,
        },
    }


def body_log(
    request_id: str,
    body: str | dict[str, Any] | None,
    *,
    timestamp: str = "2026-11-20T10:00:00.000Z",
    status: int = 200,
    user: str | None = "erin@acme.example",
    upstream: str = "api.anthropic.com:443",
    request_body: str | None = None,
    request_time: float = 4.215,
    upstream_time: float = 4.160,
    model: str | None = None,
) -> dict[str, Any]:
    """What an OpenResty/njs (or a company's own) proxy logs: request metadata, the response."""
    record: dict[str, Any] = {
        "timestamp": timestamp,
        "request_id": request_id,
        "method": "POST",
        "uri": "/v1/messages",
        "status": status,
        "upstream": upstream,
        "request_time": request_time,
        "upstream_response_time": upstream_time,
        "request_headers": {
            "user-agent": "claude-cli/2.0.31 (external, cli)",
            "anthropic-version": "2023-06-01",
            **({"x-user-email": user} if user else {}),
        },
        "response_body": body,
    }
    if request_body is not None:
        record["request_body"] = request_body
    if model is not None:
        record["model"] = model
    return record


def envoy(
    request_id: str,
    *,
    model: str = "claude-sonnet-4-5-20250929",
    backend: str = "anthropic",
    tokens_in: int = 1200,
    tokens_out: int = 80,
    cached: int | None = None,
    creation: int | None = None,
    status: int = 200,
    user: str | None = "frank@acme.example",
    tenant: str | None = "search",
) -> dict[str, Any]:
    """An Envoy AI Gateway access log line (JSON format) with operator-added headers."""
    record: dict[str, Any] = {
        "start_time": "2026-11-20T10:00:00.123Z",
        "method": "POST",
        "x-envoy-origin-path": "/anthropic/v1/messages",
        "protocol": "HTTP/1.1",
        "response_code": status,
        "response_flags": "-",
        "bytes_received": 51200,
        "bytes_sent": 3300,
        "duration": 2400,
        "upstream_service_time": "2330",
        "x-forwarded-for": "10.1.2.3",
        "user-agent": "claude-cli/2.0.31 (external, cli)",
        "x-request-id": request_id,
        "authority": "ai-gateway.acme.example",
        "upstream_host": "160.79.104.10:443",
        "genai_model_name": model,
        "genai_backend_name": backend,
        "genai_tokens_input": tokens_in,
        "genai_tokens_output": tokens_out,
        "genai_tokens_total": tokens_in + tokens_out,
    }
    if cached is not None:
        record["genai_tokens_cached_input"] = cached
    if creation is not None:
        record["genai_tokens_cache_creation_input"] = creation
    if user:
        record["x-user-email"] = user
    if tenant:
        record["x-tenant-id"] = tenant
    return record


def cloudflare_api(
    log_id: str,
    *,
    tokens_in: int = 300,
    tokens_out: int = 50,
    cached: bool = False,
    user: str = "gina@acme.example",
) -> dict[str, Any]:
    """A record as the AI Gateway logs API returns it (metadata is a JSON string)."""
    return {
        "id": log_id,
        "created_at": "2026-11-20T10:00:00.000Z",
        "provider": "anthropic",
        "model": "claude-sonnet-4-5-20250929",
        "model_type": "chat",
        "path": "v1/messages",
        "request_content_type": "application/json",
        "request_type": "stream",
        "response_content_type": "text/event-stream",
        "tokens_in": tokens_in,
        "tokens_out": tokens_out,
        "cost": 0.00165,
        "cached": cached,
        "custom_cost": False,
        "metadata": json.dumps({"user": user, "team": "data"}),
        "status_code": 200,
        "success": True,
        "duration": 2810,
        "step": 0,
    }


def cloudflare_logpush(*, user: str = "gina@acme.example", body: str = "") -> dict[str, Any]:
    """A Logpush ai_gateway_events record (bodies encrypted; no token counts)."""
    return {
        "Cached": False,
        "Endpoint": "v1/messages",
        "Gateway": "claude-code",
        "Metadata": {"user": user, "team": "data"},
        "Metrics": {"cost": 0.0042, "durationMs": 1234},
        "Model": "claude-sonnet-4-5-20250929",
        "RequestedModel": "claude-sonnet-4-5-20250929",
        "Provider": "anthropic",
        "RateLimited": False,
        "RequestBody": {"type": "encrypted", "data": body},
        "ResponseBody": {"type": "encrypted", "data": body},
        "StatusCode": 200,
        "Timestamp": "2026-11-20T10:05:00Z",
    }
