#!/usr/bin/env python3
"""Generate the API-gateway sample data (Kong and a body-logging proxy), deterministically.

    python sample_data/generate_gateways.py            # rewrites sample_data/gateway/
    python sample_data/generate_gateways.py --out DIR  # writes the same tree into DIR

Standard library only, no network, one fixed seed: two runs give byte-identical files (gzip
members carry mtime 0 and no name). Run it after generate.py: it reads the Bedrock sample.

Both gateways went live on 2026-11-09 (reference/gateways.md has the formats):

- ``gateway/kong/ai-requests-YYYY-MM-DD.json.gz``: Kong's file-log plugin, one JSON record per
  line, rotated daily, with AI Proxy statistics (``logging.log_statistics``; payload logging
  off). Two services: ``anthropic`` (api.anthropic.com) for three developers, each a Kong
  consumer whose custom_id is their email; ``bedrock``, whose AI Proxy signs with the shared
  Bedrock API key ``BedrockAPIKey-q9m4`` (account 444455556666, us-west-2). Every Converse
  request of that key in the Bedrock sample from 2026-11-09 on is a Kong request: Kong logs
  Bedrock's ``x-amzn-requestid``, so the pair is counted once, from Kong (its consumer), priced
  from Bedrock's exact counts. Kong logs no cache writes: its own records are ``partial``.
- ``gateway/body/claude-proxy-YYYY-MM-DD.jsonl``: an OpenResty proxy in front of
  api.anthropic.com that logs request metadata (``x-user-email`` set by the company's
  ``ANTHROPIC_CUSTOM_HEADERS``) beside the response body: the SSE stream as text, or the JSON
  message, or the error. Planted: streams cut before ``message_stop`` (partial), overloaded and
  rate-limit errors, 1-hour cache writes.

Every body (SSE text, request messages) carries LLMLEDGER-BODY-SENTINEL; finding it in the
database means a body was stored. Writes gateway.MANIFEST.md and gateway.manifest.json.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import random
import shutil
import textwrap
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

SEED = 20261203
FIRST_DAY = date(2026, 11, 9)  # both gateways went live that Monday
LAST_DAY = date(2026, 11, 20)  # inclusive, the last day of the Bedrock sample
SENTINEL = "LLMLEDGER-BODY-SENTINEL"
HERE = Path(__file__).resolve().parent
SHARED_KEY_ARN = "arn:aws:iam::444455556666:user/BedrockAPIKey-q9m4"
KONG_NAME, BODY_NAME = "kong", "body-proxy"
USER_AGENT = "claude-cli/2.0.42 (external, cli)"

# (model id, share) of Claude Code traffic to the Anthropic API
MODELS = {
    "claude-sonnet-4-5-20250929": 0.7,
    "claude-haiku-4-5-20251001": 0.2,
    "claude-opus-4-6": 0.1,
}
# list USD per million tokens at the Anthropic API (input, output, cache read, write 5m, 1h)
PRICES = {
    "claude-sonnet-4-5-20250929": ("3", "15", "0.30", "3.75", "6"),
    "claude-haiku-4-5-20251001": ("1", "5", "0.10", "1.25", "2"),
    "claude-opus-4-6": ("5", "25", "0.50", "6.25", "10"),
}
# developer, team, requests per workday
KONG_DEVELOPERS = [
    ("noah.kim@acme.example", "search", 34),
    ("fatima.zahra@acme.example", "search", 26),
    ("sofia.rossi@acme.example", "platform", 30),
]
BODY_DEVELOPERS = [
    ("laura.bianchi@acme.example", "security", 32),
    ("ethan.wright@acme.example", "security", 24),
]
# who sends the shared key's Converse requests through Kong's bedrock service
KONG_BEDROCK_CONSUMERS = {
    "yuki.tanaka@acme.example": 0.6,
    "tom.baker@acme.example": 0.4,
}
TEXTS = [
    "I'll update the retry loop and rerun the tests.",
    "The window function partitions by account only, so two regions are summed twice.",
    "Here is the refactored cursor module with type hints.",
    "The failing test expects UTC midnight; the fixture builds local time.",
]


def gzip_bytes(data: bytes) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", fileobj=buf, mode="wb", mtime=0) as f:
        f.write(data)
    return buf.getvalue()


def lines(records: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()


def epoch_ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def iso_ms(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def workdays() -> Iterator[date]:
    day = FIRST_DAY
    while day <= LAST_DAY:
        if day.weekday() < 5:
            yield day
        day += timedelta(days=1)


def bedrock_records(arn: str, sample: Path = HERE) -> list[dict[str, Any]]:
    """The Bedrock sample's valid records of one identity, in time order (request id ties)."""
    root = sample / "bedrock" / "s3"
    out = []
    for path in sorted(root.rglob("*.json.gz")):
        if "data" in path.parts:
            continue
        try:
            text = gzip.decompress(path.read_bytes()).decode()
        except (EOFError, OSError):
            continue  # the planted truncated gzip: none of its records are the shared key's
        for line in text.splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict) and record.get("identity", {}).get("arn") == arn:
                out.append(record)
    unique = {r["requestId"]: r for r in out}
    return sorted(unique.values(), key=lambda r: (r["timestamp"], r["requestId"]))


def when(record: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(record["timestamp"].replace("Z", "+00:00"))


def tokens(record: dict[str, Any]) -> dict[str, int]:
    """A Bedrock record's counts (failed records carry none)."""
    inp, out = record.get("input", {}), record.get("output", {})
    return {
        "input": int(inp.get("inputTokenCount", 0)),
        "output": int(out.get("outputTokenCount", 0)),
        "cache_read": int(inp.get("cacheReadInputTokenCount", 0)),
        "cache_write": int(inp.get("cacheWriteInputTokenCount", 0)),
    }


def hex_id(rng: random.Random, n: int = 32) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


def uuid4(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def msg_id(rng: random.Random) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "msg_01" + "".join(rng.choice(alphabet) for _ in range(22))


def weighted(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def usage(rng: random.Random, model: str) -> dict[str, int]:
    """Claude Code's shape: a few uncached tokens, a large cached prefix, a small write."""
    haiku = "haiku" in model
    write = rng.randint(300, 2500) if haiku else rng.randint(800, 9000)
    one_hour = 0 if haiku or rng.random() > 0.15 else rng.randint(200, write)
    return {
        "input": rng.randint(1, 60),
        "cache_read": rng.randint(4000, 30000) if haiku else rng.randint(15000, 140000),
        "cache_write": write,
        "cache_write_1h": one_hour,
        "output": rng.randint(20, 400) if haiku else rng.randint(60, 2400),
    }


def list_cost(model: str, u: dict[str, int], *, cache_writes: bool = True) -> Decimal:
    p = [Decimal(x) for x in PRICES[model]]
    five = u["cache_write"] - u["cache_write_1h"]
    cost = u["input"] * p[0] + u["output"] * p[1] + u["cache_read"] * p[2]
    if cache_writes:
        cost += five * p[3] + u["cache_write_1h"] * p[4]
    return cost / 1_000_000


def request_times(rng: random.Random, day: date, per_day: int) -> list[datetime]:
    """Working hours, UTC 08:00-18:00, one developer: at least 20 s apart."""
    start = datetime(day.year, day.month, day.day, 8, tzinfo=UTC)
    n = max(1, int(per_day * rng.uniform(0.6, 1.3)))
    seconds = sorted(rng.sample(range(0, 10 * 3600, 20), n))
    return [start + timedelta(seconds=s, milliseconds=rng.randint(0, 999)) for s in seconds]


# ----------------------------------------------------------------------------------------------
# Kong


def kong_record(
    rng: random.Random,
    at: datetime,
    *,
    consumer: str,
    service: str,
    model: str,
    provider: str,
    prompt_tokens: int,
    completion_tokens: int,
    cached_tokens: int,
    status: int = 200,
    response_headers: dict[str, str] | None = None,
    upstream_ip: str = "160.79.104.10",
) -> dict[str, Any]:
    """A Kong file-log record with AI Proxy statistics (as tests/gateway_records.py kong())."""
    upstream_ms = rng.randint(1500, 45000) if status < 400 else rng.randint(80, 900)
    kong_ms = rng.randint(1, 9)
    local = consumer.split("@")[0]
    stream = status < 400
    uri = "/v1/messages?beta=true"
    return {
        "request": {
            "id": hex_id(rng),
            "method": "POST",
            "uri": uri,
            "url": f"https://ai-gateway.acme.example:443{uri}",
            "size": rng.randint(20000, 190000),
            "headers": {
                "user-agent": USER_AGENT,
                "anthropic-version": "2023-06-01",
                "content-type": "application/json",
                "x-api-key": "REDACTED",
                "host": "ai-gateway.acme.example",
            },
            "querystring": {"beta": "true"},
        },
        "response": {
            "status": status,
            "size": rng.randint(900, 30000) if stream else rng.randint(150, 400),
            "headers": {
                "content-type": "text/event-stream" if stream else "application/json",
                **(response_headers or {}),
            },
        },
        "latencies": {
            "request": upstream_ms + kong_ms,
            "proxy": upstream_ms,
            "kong": kong_ms,
            "receive": 0,
        },
        "route": {"id": "0b5b3a7e-7a55-4f53-9c1e-5c2b1fb7c0a2", "name": f"claude-code-{service}"},
        "service": {"id": "c5d0a0b7-1d1b-4b4f-8f3d-6e2f9f0f3a19", "name": service},
        "consumer": {
            "id": str(uuid.uuid5(uuid.NAMESPACE_DNS, consumer)),
            "username": local,
            "custom_id": consumer,
            "created_at": 1790000000,
        },
        "authenticated_entity": {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, consumer))},
        "client_ip": f"10.20.{rng.randint(1, 40)}.{rng.randint(2, 250)}",
        "started_at": epoch_ms(at),
        "upstream_uri": "/v1/messages" if service == "anthropic" else "/model/converse",
        "tries": [{"ip": upstream_ip, "port": 443, "balancer_latency": 0}],
        "workspace": "0d1f4b5a-2c3e-4f5a-8b9c-0d1e2f3a4b5c",
        "ai": {
            "proxy": {
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                    "cost": 0,
                    "time_per_token": round(upstream_ms / max(completion_tokens, 1), 2),
                    "time_to_first_token": min(upstream_ms, rng.randint(600, 3000)),
                    "prompt_tokens_details": {"cached_tokens": cached_tokens},
                },
                "meta": {
                    "request_model": model,
                    "response_model": model,
                    "llm_latency": upstream_ms,
                    "plugin_id": "6f2c6a44-0d1f-4a7e-9d4b-2f0d1c3b5a11",
                    "request_mode": "stream" if service == "anthropic" else "oneshot",
                    "provider_name": provider,
                },
            }
        },
    }


ERROR_TYPE = {"ThrottlingException": 429, "ValidationException": 400}


def kong_anthropic(rng: random.Random, facts: Counter[str]) -> list[dict[str, Any]]:
    out = []
    for day in workdays():
        for developer, _team, per_day in KONG_DEVELOPERS:
            for at in request_times(rng, day, per_day):
                model = weighted(rng, MODELS)
                u = usage(rng, model)
                status = 429 if rng.random() < 0.01 else 200
                if status == 429:
                    u = dict.fromkeys(u, 0)
                    facts["kong_anthropic_rate_limited"] += 1
                facts["kong_anthropic_requests"] += 1
                for key in ("input", "output", "cache_read"):
                    facts[f"kong_anthropic_{key}_tokens"] += u[key]
                facts["kong_anthropic_unlogged_cache_write_tokens"] += u["cache_write"]
                facts[f"kong_anthropic_cost_micro_{developer}"] += int(
                    list_cost(model, u, cache_writes=False) * 1_000_000_000
                )
                out.append(
                    kong_record(
                        rng,
                        at,
                        consumer=developer,
                        service="anthropic",
                        model=model,
                        provider="anthropic",
                        prompt_tokens=u["input"],
                        completion_tokens=u["output"],
                        cached_tokens=u["cache_read"],
                        status=status,
                        response_headers={"request-id": "req_011C" + hex_id(rng, 20)},
                    )
                )
    return out


def kong_bedrock(rng: random.Random, shared: list[dict[str, Any]], facts: Counter[str]) -> list:
    """Kong's bedrock service: the shared key's Converse requests from FIRST_DAY on."""
    out = []
    for record in shared:
        if record["operation"] != "Converse" or when(record).date() < FIRST_DAY:
            continue
        t = tokens(record)
        error = record.get("errorCode")
        status = ERROR_TYPE.get(error, 500) if error else 200
        headers = {"x-amzn-requestid": record["requestId"]}
        if error:
            headers["x-amzn-errortype"] = (
                f"{error}:http://internal.amazon.com/coral/com.amazon.bedrock/"
            )
        consumer = weighted(rng, KONG_BEDROCK_CONSUMERS)
        facts["kong_bedrock_requests"] += 1
        facts[f"kong_bedrock_requests_{consumer}"] += 1
        facts["kong_bedrock_errors"] += bool(error)
        out.append(
            kong_record(
                rng,
                when(record) - timedelta(milliseconds=rng.randint(20, 400)),
                consumer=consumer,
                service="bedrock",
                model=record["modelId"],
                provider="bedrock",
                prompt_tokens=t["input"],
                completion_tokens=t["output"],
                cached_tokens=t["cache_read"],
                status=status,
                response_headers=headers,
                upstream_ip="52.94.133.131",
            )
        )
    return out


# ----------------------------------------------------------------------------------------------
# the body-logging proxy (anthropic-body)


def sse_stream(
    rng: random.Random, model: str, u: dict[str, int], message_id: str, *, cut: bool
) -> str:
    """An Anthropic Messages SSE stream: message_start with the input side, text deltas, a few
    cumulative message_delta events (the last is the total), message_stop unless cut."""
    start_usage: dict[str, Any] = {
        "input_tokens": u["input"],
        "cache_creation_input_tokens": u["cache_write"],
        "cache_read_input_tokens": u["cache_read"],
        "cache_creation": {
            "ephemeral_5m_input_tokens": u["cache_write"] - u["cache_write_1h"],
            "ephemeral_1h_input_tokens": u["cache_write_1h"],
        },
        "output_tokens": 1,
        "service_tier": "standard",
    }
    events: list[tuple[str, dict[str, Any]]] = [
        (
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": message_id,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": start_usage,
                },
            },
        ),
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
    steps = sorted(rng.sample(range(1, u["output"]), 2)) if u["output"] > 3 else []
    for i, output in enumerate([*steps, u["output"]]):
        text = f"{rng.choice(TEXTS)} [{SENTINEL}]"
        events.append(
            (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": text},
                },
            )
        )
        if cut and i == 1:
            break
        last = i == len(steps)
        events.append(
            (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "end_turn" if last else None, "stop_sequence": None},
                    "usage": {"output_tokens": output},
                },
            )
        )
    if not cut:
        events.append(("content_block_stop", {"type": "content_block_stop", "index": 0}))
        events.append(("message_stop", {"type": "message_stop"}))
    return "".join(
        f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"
        for name, data in events
    )


def message_body(model: str, u: dict[str, int], message_id: str) -> dict[str, Any]:
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": f"{TEXTS[0]} [{SENTINEL}]"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": u["input"],
            "cache_creation_input_tokens": u["cache_write"],
            "cache_read_input_tokens": u["cache_read"],
            "output_tokens": u["output"],
        },
    }


ERRORS = {
    529: {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
    429: {
        "type": "error",
        "error": {
            "type": "rate_limit_error",
            "message": "Number of request tokens has exceeded your per-minute rate limit",
        },
    },
}


def body_proxy(rng: random.Random, facts: Counter[str]) -> list[dict[str, Any]]:
    out = []
    devices = {dev: hex_id(rng, 64) for dev, _, _ in BODY_DEVELOPERS}
    for day in workdays():
        for developer, team, per_day in BODY_DEVELOPERS:
            session = uuid4(rng)
            for at in request_times(rng, day, per_day):
                model = weighted(rng, MODELS)
                u = usage(rng, model)
                roll = rng.random()
                message_id = msg_id(rng)
                status, kind = 200, "stream"
                if roll < 0.012:
                    status, kind = 529, "error"
                elif roll < 0.02:
                    status, kind = 429, "error"
                elif roll < 0.03:
                    kind = "cut"
                elif "haiku" in model and roll < 0.4:
                    kind = "message"
                    u["cache_write_1h"] = 0  # a one-shot haiku call: 5-minute writes only
                upstream_ms = rng.randint(1200, 60000) if status == 200 else rng.randint(90, 700)
                if kind == "stream" or kind == "cut":
                    body: Any = sse_stream(rng, model, u, message_id, cut=kind == "cut")
                elif kind == "message":
                    body = message_body(model, u, message_id)
                else:
                    body = ERRORS[status]
                    u = dict.fromkeys(u, 0)
                facts[f"body_{kind}"] += 1
                facts["body_requests"] += 1
                if kind in ("stream", "message"):
                    for key in ("input", "output", "cache_read", "cache_write", "cache_write_1h"):
                        facts[f"body_{key}_tokens"] += u[key]
                request = {
                    "model": model,
                    "max_tokens": 32000,
                    "stream": kind != "message",
                    "metadata": {
                        "user_id": json.dumps(
                            {
                                "device_id": devices[developer],
                                "account_uuid": "",
                                "session_id": session,
                            }
                        )
                    },
                    "messages": [
                        {"role": "user", "content": f"Fix the flaky ledger test. [{SENTINEL}]"}
                    ],
                }
                out.append(
                    {
                        "timestamp": iso_ms(at),
                        "request_id": hex_id(rng),
                        "method": "POST",
                        "uri": "/v1/messages",
                        "model": model,  # from the request: an error response names none
                        "status": status,
                        "upstream": "api.anthropic.com:443",
                        "request_time": round((upstream_ms + rng.randint(2, 15)) / 1000, 3),
                        "upstream_response_time": round(upstream_ms / 1000, 3),
                        "request_headers": {
                            "user-agent": USER_AGENT,
                            "anthropic-version": "2023-06-01",
                            "anthropic-beta": "claude-code-20250219",
                            "x-user-email": developer,
                            "x-team": team,
                        },
                        "request_body": json.dumps(request, separators=(",", ":")),
                        "response_headers": {"request-id": "req_011C" + hex_id(rng, 20)},
                        "response_body": body,
                    }
                )
    return out


# ----------------------------------------------------------------------------------------------
# files and manifest


def markdown(blocks: list[str]) -> str:
    """Paragraphs wrapped at 96 columns; an indented block (a command) is kept as it is."""
    out = []
    for block in blocks:
        if block.startswith(("    ", "#", "|")):
            out.append(block)
        else:
            indent = "  " if block.startswith("- ") else ""
            out.append(textwrap.fill(block, 96, subsequent_indent=indent, break_on_hyphens=False))
    text = out[0]
    for previous, block in zip(out, out[1:], strict=False):
        tight = previous.startswith("- ") and block.startswith("- ")
        text += ("\n" if tight else "\n\n") + block
    return text + "\n"


def by_day(records: list[dict[str, Any]], day_of: Any) -> dict[date, list[dict[str, Any]]]:
    days: dict[date, list[dict[str, Any]]] = {}
    for record in records:
        days.setdefault(day_of(record), []).append(record)
    return dict(sorted(days.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE, help="output folder (default: here)")
    args = parser.parse_args()
    out: Path = args.out
    rng = random.Random(SEED)
    facts: Counter[str] = Counter()
    shared = bedrock_records(SHARED_KEY_ARN)
    kong = kong_anthropic(rng, facts) + kong_bedrock(rng, shared, facts)
    kong.sort(key=lambda r: (r["started_at"], r["request"]["id"]))
    body = body_proxy(rng, facts)
    body.sort(key=lambda r: (r["timestamp"], r["request_id"]))

    target = out / "gateway"
    if target.exists():
        shutil.rmtree(target)
    files = []
    kong_days = by_day(kong, lambda r: datetime.fromtimestamp(r["started_at"] / 1000, UTC).date())
    for day, records in kong_days.items():
        path = target / "kong" / f"ai-requests-{day}.json.gz"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(gzip_bytes(lines(records)))
        files.append(path)
    for day, records in by_day(body, lambda r: date.fromisoformat(r["timestamp"][:10])).items():
        path = target / "body" / f"claude-proxy-{day}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(lines(records))
        files.append(path)
    write_manifest(out, facts, shared, [f.relative_to(out).as_posix() for f in files])


def write_manifest(
    out: Path, facts: Counter[str], shared: list[dict[str, Any]], files: list[str]
) -> None:
    converse = [r for r in shared if r["operation"] == "Converse"]
    before = sum(1 for r in converse if when(r).date() < FIRST_DAY)
    kong_cost = {
        dev: str(Decimal(facts[f"kong_anthropic_cost_micro_{dev}"]) / 1_000_000_000)
        for dev, _, _ in KONG_DEVELOPERS
    }
    manifest = {
        "generator": "generate_gateways.py",
        "seed": SEED,
        "period": [FIRST_DAY.isoformat(), LAST_DAY.isoformat()],
        "files": files,
        "kong": {
            "name": KONG_NAME,
            "records": facts["kong_anthropic_requests"] + facts["kong_bedrock_requests"],
            "anthropic": {
                "developers": [d for d, _, _ in KONG_DEVELOPERS],
                "requests": facts["kong_anthropic_requests"],
                "rate_limited": facts["kong_anthropic_rate_limited"],
                "input_tokens": facts["kong_anthropic_input_tokens"],
                "output_tokens": facts["kong_anthropic_output_tokens"],
                "cache_read_tokens": facts["kong_anthropic_cache_read_tokens"],
                "cache_write_tokens_not_logged": facts[
                    "kong_anthropic_unlogged_cache_write_tokens"
                ],
                "approx_cost_usd_by_developer": kong_cost,
            },
            "bedrock": {
                "shared_key": SHARED_KEY_ARN,
                "requests": facts["kong_bedrock_requests"],
                "errors": facts["kong_bedrock_errors"],
                "by_consumer": {
                    c: facts[f"kong_bedrock_requests_{c}"] for c in KONG_BEDROCK_CONSUMERS
                },
                "shared_key_converse_before_kong": before,
            },
        },
        "body_proxy": {
            "name": BODY_NAME,
            "developers": [d for d, _, _ in BODY_DEVELOPERS],
            "records": facts["body_requests"],
            "streams": facts["body_stream"],
            "cut_streams": facts["body_cut"],
            "messages": facts["body_message"],
            "errors": facts["body_error"],
            "tokens": {
                k: facts[f"body_{k}_tokens"]
                for k in ("input", "output", "cache_read", "cache_write", "cache_write_1h")
            },
        },
        "sentinel": SENTINEL,
    }
    (out / "gateway.manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    k, b = manifest["kong"], manifest["body_proxy"]
    ka, kb, bt = k["anthropic"], k["bedrock"], b["tokens"]
    names = lambda people: ", ".join(f"`{p}`" for p in people)  # noqa: E731
    blocks = [
        "# API gateway sample data",
        f"Generated by `python sample_data/generate_gateways.py` (standard library only, seed "
        f"{SEED}; run it after `generate.py`, whose Bedrock records it reads). Do not edit by "
        f"hand. Both gateways went live on {FIRST_DAY} (a Monday); records run to {LAST_DAY}, "
        "working days, 08:00-18:00 UTC. The demo reads them with `[[sources.gateway-files]]` "
        "(`llmledger.toml`):",
        "    llmledger ingest gateway-files sample_data/gateway/kong --format kong --name kong\n"
        "    llmledger ingest gateway-files sample_data/gateway/body --format anthropic-body "
        "--name body-proxy",
        "## `gateway/kong/ai-requests-YYYY-MM-DD.json.gz`: Kong file-log, AI Proxy statistics",
        f"{k['records']:,} records, one JSON record per line, a gzip per day. Consumers "
        "authenticate with key-auth; each consumer's `custom_id` is the developer's email (the "
        "identity llmledger reads).",
        f"- Service `anthropic` (api.anthropic.com): {ka['requests']:,} requests from "
        f"{names(ka['developers'])}; {ka['rate_limited']} rate-limited (429, no tokens). "
        f"`ai.proxy.usage`: prompt_tokens (uncached input) {ka['input_tokens']:,}, "
        f"completion_tokens {ka['output_tokens']:,}, `prompt_tokens_details.cached_tokens` "
        f"{ka['cache_read_tokens']:,}. Kong logs no cache writes "
        f"({ka['cache_write_tokens_not_logged']:,} tokens the requests really wrote): these "
        "records are `token_detail = 'partial'`, priced on what is logged.",
        f"- Service `bedrock`: Kong's AI Proxy signs with the shared Bedrock API key "
        f"`{SHARED_KEY_ARN}`. Every Converse request of that key in the Bedrock sample from "
        f"{FIRST_DAY} on ({kb['requests']} requests, {kb['errors']} failed) has a Kong record "
        "carrying Bedrock's `x-amzn-requestid` and the same counts; consumers: "
        + ", ".join(f"`{c}` {n}" for c, n in kb["by_consumer"].items())
        + ". The demo config lists the key under `[gateway] identities`, so each pair is "
        "counted once, from Kong (its consumer), priced from Bedrock's exact record. The key's "
        f"{kb['shared_key_converse_before_kong']} Converse requests before {FIRST_DAY} have no "
        "Kong record: only in the provider, still unattributed.",
        "## `gateway/body/claude-proxy-YYYY-MM-DD.jsonl`: an OpenResty proxy that logs bodies",
        f"{b['records']:,} records (JSON lines, one file per day) for {names(b['developers'])}, "
        "in front of api.anthropic.com: request metadata (`x-user-email`, `x-team`, the "
        "requested `model`), the request body (Claude Code's `metadata.user_id`, the prompt) and "
        f"the response body: {b['streams']:,} SSE streams as text, {b['messages']} JSON messages "
        f"(Haiku, non-streaming), {b['cut_streams']} streams cut before `message_stop` (a lower "
        f"bound, `partial`), {b['errors']} errors (529 `overloaded_error`, 429 "
        "`rate_limit_error`; no tokens). Tokens over the complete streams and messages: input "
        f"{bt['input']:,}, output {bt['output']:,}, cache read {bt['cache_read']:,}, cache write "
        f"{bt['cache_write']:,} (of which 1-hour {bt['cache_write_1h']:,}).",
        f"Every SSE text delta, JSON message text and request prompt carries `{SENTINEL}`; "
        "finding it in the database means a body was stored.",
    ]
    text = markdown(blocks)
    (out / "gateway.MANIFEST.md").write_text(text)


if __name__ == "__main__":
    main()
