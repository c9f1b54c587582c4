#!/usr/bin/env python3
"""Generate the LiteLLM proxy sample: CSV dumps of its PostgreSQL tables, deterministically.

    python sample_data/litellm/generate.py      # after sample_data/generate.py (reads its output)
    python sample_data/litellm/generate.py --sample DIR --out DIR/litellm

Standard library only, one fixed seed. Writes, next to this script, one CSV per table in the exact
format of ``COPY "<table>" TO STDOUT WITH (FORMAT csv, HEADER true)`` for the tables of
tests/litellm_schema.sql (LiteLLM 1.110.2's layout), plus manifest.json and MANIFEST.md with the
counts and the outcomes the ingest and reconciliation must produce. ``load.py`` loads the CSVs
into a PostgreSQL database; ``llmledger ingest litellm-files sample_data/litellm`` reads them
directly.

The proxy (virtual keys per developer, teams with TPM/RPM limits) fronts three providers:

* Bedrock, in account 111122223333 under the role
  ``arn:aws:sts::111122223333:assumed-role/litellm-proxy/litellm-session``: every request of that
  role in the Bedrock sample (../bedrock/s3) gets its LiteLLM row (same time within a second,
  model, tokens; failures carry Bedrock's request id), except during a spend-log outage and a
  few lost writes (only in Bedrock); a us-west-2 deployment whose Bedrock logs are not in the
  sample is only in LiteLLM.
* Anthropic directly: Claude Code through ``/v1/messages`` (``anthropic_messages``) and the
  ``/anthropic`` pass-through (``pass_through_endpoint``), including a model LiteLLM cannot
  price (``claude-sonnet-4-20250514``: spend 0) and long-context requests.
* Vertex AI: the global endpoint and the regional us-east5 endpoint.

LiteLLM's ``spend`` is simulated as this proxy's version computes it, with its known faults
(reference/litellm.md 4.3): 1-hour cache writes priced at the 5-minute rate, streamed
pass-through cache reads priced as input, no long-context tier for the Anthropic API, no
regional uplift for Vertex us-east5, and $0 for the unmapped model.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
import json
import random
import re
import uuid
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SCHEMA = HERE.parent.parent / "tests" / "litellm_schema.sql"
SAMPLE = HERE.parent  # where the Bedrock sample and people.csv are read (--sample)
OUT = HERE  # where the dumps are written (--out)
SEED = 20261121
FIRST_DAY, LAST_DAY = date(2026, 10, 22), date(2026, 11, 20)
SENTINEL = "LLMLEDGER-BODY-SENTINEL"
PROXY_ARN = "arn:aws:sts::111122223333:assumed-role/litellm-proxy/litellm-session"
OUTAGE = (datetime(2026, 11, 12, 13, tzinfo=UTC), datetime(2026, 11, 12, 17, tzinfo=UTC))
LOST_WRITE_SHARE = 0.015
CLAUDE_CLI_TAGS = ["User-Agent: claude-cli", "User-Agent: claude-cli/2.0.14 (external, cli)"]
PROXY_TEAMS = ("platform", "payments", "search", "data", "security")
NAMESPACE = uuid.UUID("6c1d1f3e-8f5e-4a57-9a51-2b0b7c1e0f11")

# USD per million tokens: input, cache write 5m, cache write 1h, cache read, output
LIST = {
    "claude-sonnet-4-5": (3, 3.75, 6, 0.30, 15),
    "claude-sonnet-4": (3, 3.75, 6, 0.30, 15),
    "claude-opus-4-6": (5, 6.25, 10, 0.50, 25),
    "claude-haiku-4-5": (1, 1.25, 2, 0.10, 5),
}
BEDROCK_IDS = {  # Bedrock model id -> (canonical, geo profile)
    "us.anthropic.claude-sonnet-4-5-20250929-v1:0": ("claude-sonnet-4-5", True),
    "global.anthropic.claude-opus-4-6-v1": ("claude-opus-4-6", False),
    "us.anthropic.claude-haiku-4-5-20251001-v1:0": ("claude-haiku-4-5", True),
}
BEDROCK_GROUP = {
    "claude-sonnet-4-5": "claude-sonnet-4-5",
    "claude-opus-4-6": "claude-opus-4-6",
    "claude-haiku-4-5": "claude-haiku-4-5",
}


def uid(*parts: Any) -> str:
    return str(uuid.uuid5(NAMESPACE, "/".join(str(p) for p in parts)))


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def ts(at: datetime) -> str:
    """timestamp(3) without time zone, as PostgreSQL prints it."""
    text = at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    return text[:-4] if text.endswith(".000") else text.rstrip("0")


# --------------------------------------------------------------------------------------------
# People, teams, users and keys
# --------------------------------------------------------------------------------------------


@dataclass
class Dev:
    email: str
    team: str
    user_id: str | None
    key_alias: str
    key: str  # SHA-256 of the virtual key
    weight: float
    in_directory: bool = True


def read_people() -> list[dict[str, str]]:
    with open(SAMPLE / "people.csv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def build_directory(rng: random.Random) -> tuple[list[Dev], dict[str, Any]]:
    # The proxy serves platform, payments, search, data and security; mobile goes to Bedrock
    # directly (which keeps the demo's budget picture: payments over, mobile near its budget).
    people = [p for p in read_people() if p["manager"] and p["team"] in PROXY_TEAMS]
    chosen = sorted(rng.sample(people, 22), key=lambda p: p["email"])
    teams = sorted({p["team"] for p in read_people()})
    team_ids = {t: uid("team", t) for t in teams}
    devs: list[Dev] = []
    alias_only = {p["email"] for p in chosen if p["aliases"]}
    alias_only = set(sorted(alias_only)[:2])  # two keys named only by a directory alias
    for p in chosen:
        local = p["email"].split("@")[0]
        if p["email"] in alias_only:
            alias = p["aliases"].split(";")[-1]
            devs.append(
                Dev(p["email"], p["team"], None, alias, sha(f"sk-{alias}"), rng.uniform(0.4, 1.6))
            )
        else:
            devs.append(
                Dev(
                    p["email"],
                    p["team"],
                    uid("user", p["email"]),
                    f"{local}-claude-code",
                    sha(f"sk-{local}"),
                    rng.uniform(0.4, 1.6),
                )
            )
    contractor = "riley.ext@partner.example"
    devs.append(
        Dev(
            contractor,
            "search",
            uid("user", contractor),
            "riley-contractor",
            sha("sk-riley"),
            0.5,
            in_directory=False,
        )
    )
    return devs, {"team_ids": team_ids, "teams": teams}


# --------------------------------------------------------------------------------------------
# Tokens and LiteLLM's spend
# --------------------------------------------------------------------------------------------


@dataclass
class Tokens:
    input: int = 0
    read: int = 0
    write_5m: int = 0
    write_1h: int = 0
    output: int = 0

    @property
    def write(self) -> int:
        return self.write_5m + self.write_1h

    @property
    def prompt(self) -> int:
        return self.input + self.read + self.write


def sample_tokens(rng: random.Random, model: str, *, long_context: bool = False) -> Tokens:
    if model == "claude-haiku-4-5":
        return Tokens(
            int(rng.triangular(20, 3000, 300)),
            rng.choice([0, rng.randint(3000, 30000)]),
            rng.randint(200, 4000) if rng.random() < 0.6 else 0,
            0,
            int(rng.triangular(20, 800, 150)),
        )
    if long_context:
        read, write = rng.randint(196_000, 400_000), rng.randint(5_000, 30_000)
    else:
        read = int(rng.triangular(15_000, 150_000, 60_000))
        write = int(rng.triangular(100, 12_000, 1_500))
    one_hour = int(write * rng.uniform(0.3, 1.0)) if rng.random() < 0.35 else 0
    return Tokens(
        rng.randint(1, 2000), read, write - one_hour, one_hour, int(rng.triangular(60, 4000, 600))
    )


def litellm_spend(
    model: str | None,
    t: Tokens,
    *,
    uplift: float = 1.0,
    long_context_rates: bool = True,
    reads_as_input: bool = False,
) -> float:
    """What this proxy's LiteLLM logs as spend (float arithmetic, its faults included)."""
    if model is None:
        return 0.0  # not in LiteLLM's price map: spend 0, no error
    i, w5, _w1, r, o = (x * uplift / 1e6 for x in LIST[model])
    if (
        long_context_rates
        and t.prompt > 200_000
        and model in ("claude-sonnet-4-5", "claude-sonnet-4")
    ):
        i, w5, r, o = i * 2, w5 * 2, r * 2, o * 1.5
    read_rate = i if reads_as_input else r
    # every cache write at the 5-minute rate, whatever its TTL
    return t.input * i + t.read * read_rate + t.write * w5 + t.output * o


def usage_object(t: Tokens, *, with_ttl: bool = True) -> dict[str, Any]:
    details: dict[str, Any] = {"cached_tokens": t.read, "cache_creation_tokens": t.write}
    if with_ttl:
        details["cache_creation_token_details"] = {
            "ephemeral_5m_input_tokens": t.write_5m,
            "ephemeral_1h_input_tokens": t.write_1h,
        }
    return {
        "completion_tokens": t.output,
        "prompt_tokens": t.prompt,
        "total_tokens": t.prompt + t.output,
        "prompt_tokens_details": details,
        "cache_read_input_tokens": t.read,
        "cache_creation_input_tokens": t.write,
    }


# --------------------------------------------------------------------------------------------
# Rows
# --------------------------------------------------------------------------------------------

SPEND_COLUMNS: list[str] = []  # filled from the schema


def table_columns(table: str) -> list[str]:
    text = SCHEMA.read_text()
    body = text.split(f'CREATE TABLE "{table}" (', 1)[1].split("CONSTRAINT", 1)[0]
    return re.findall(r'^\s+"([^"]+)"', body, flags=re.M)


def spend_row(
    rng: random.Random,
    dev: Dev | None,
    team_ids: dict[str, str],
    *,
    request_id: str,
    start: datetime,
    call_type: str,
    model: str,
    model_group: str,
    provider: str,
    api_base: str,
    deployment: str,
    t: Tokens,
    spend: float,
    status: str = "success",
    error: dict[str, Any] | None = None,
    with_ttl: bool = True,
    extra_meta: dict[str, Any] | None = None,
    alias: str | None = None,
    store_prompts: bool = False,
    claude_code: bool = True,
    provider_ms: int | None = None,
) -> dict[str, Any]:
    duration = (
        timedelta(milliseconds=800 + t.output * rng.randint(8, 25))
        if status == "success"
        else timedelta(milliseconds=rng.randint(40, 900))
    )
    hop_ms = None
    if provider_ms is not None:
        # the same request as a Bedrock record that logs its own time: the proxy's whole time is
        # that plus the hop (a proxy adds tens of milliseconds), drawn from the request id so
        # the draws of `rng` above, and every other row, stay as they were
        hop_ms = 20 + int(sha(request_id)[:8], 16) % 100
        duration = timedelta(milliseconds=provider_ms + hop_ms)
    end = start + duration
    key = dev.key if dev else ""
    key_alias = alias or (dev.key_alias if dev else None)
    team_id = team_ids.get(dev.team) if dev else None
    # the proxy drops model_map_value (spend_logs_metadata_fields: exclude) to keep rows small
    meta: dict[str, Any] = {
        "usage_object": usage_object(t, with_ttl=with_ttl) if status == "success" else None,
        "user_api_key": key or None,
        "user_api_key_alias": key_alias,
        "user_api_key_team_id": team_id,
        "user_api_key_user_id": dev.user_id if dev else None,
        "user_api_key_user_email": (dev.email if dev and dev.user_id else None),
        "user_api_key_team_alias": dev.team if dev else None,
        "requester_ip_address": f"10.20.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
        "user_agent": "claude-cli/2.0.14 (external, cli)" if claude_code else "python-httpx/0.28",
        "status": status,
        "error_information": error,
        "model_map_information": {"model_map_key": model},
        "litellm_overhead_time_ms": round(rng.uniform(2, 30), 3),
    }
    if store_prompts:  # a team once turned on store_prompts_in_spend_logs
        meta["proxy_server_request"] = json.dumps({"messages": [{"content": SENTINEL}]})
    meta.update(extra_meta or {})
    session = uid("session", dev.email if dev else "none", start.date(), start.hour // 3)
    return {
        "request_id": request_id,
        "call_type": call_type,
        "api_key": key,
        "spend": spend,
        "total_tokens": t.prompt + t.output if status == "success" else 0,
        "prompt_tokens": t.prompt if status == "success" else 0,
        "completion_tokens": t.output if status == "success" else 0,
        "startTime": ts(start),
        "endTime": ts(end),
        "request_duration_ms": int(duration.total_seconds() * 1000),
        "completionStartTime": ts(start + min(duration, timedelta(milliseconds=650))),
        "model": model_full(model, provider) if model else "",
        "model_id": deployment,
        "model_group": model_group,
        "custom_llm_provider": provider,
        "api_base": api_base,
        "user": (dev.user_id or "") if dev else "",
        "metadata": meta,
        "cache_hit": "None",
        "cache_key": "Cache OFF",
        "request_tags": CLAUDE_CLI_TAGS if claude_code else [],
        "team_id": team_id,
        "organization_id": None,
        "end_user": f"user_{sha(dev.email if dev else 'x')[:16]}_account__session_{session}"
        if claude_code
        else None,
        "requester_ip_address": meta["requester_ip_address"],
        "messages": {"messages": [{"role": "user", "content": SENTINEL}]} if store_prompts else {},
        "response": {"content": [{"text": SENTINEL}]} if store_prompts else {},
        "session_id": session,
        "status": status,
        "mcp_namespaced_tool_name": None,
        "billing_agent_id": None,
        "agent_id": None,
        "proxy_server_request": {"body": SENTINEL} if store_prompts else {},
        "litellm_call_id": uid("call", request_id),
        "created_at": ts(end + timedelta(seconds=rng.uniform(0.5, 15))),
        "updated_at": ts(end + timedelta(seconds=rng.uniform(0.5, 15))),
    }


def model_full(model: str, provider: str) -> str:
    return model if provider == "" or "/" in model else f"{provider}/{model}"


def failure(
    code: str,
    cls: str,
    provider: str | None,
    *,
    category: str | None = None,
    kind: str | None = None,
    provider_request_id: str | None = None,
    message: str = "",
) -> dict[str, Any]:
    return {
        "error_code": code,
        "error_class": cls,
        "llm_provider": provider,
        "traceback": f"Traceback (most recent call last): ... {SENTINEL}",
        "error_message": message,
        "error_provider_request_id": provider_request_id,
        "error_rate_limit_category": category,
        "error_rate_limit_type": kind,
    }


# --------------------------------------------------------------------------------------------
# The Bedrock sample's proxy records
# --------------------------------------------------------------------------------------------


@dataclass
class BedrockCall:
    request_id: str
    at: datetime
    operation: str
    model_id: str
    tokens: Tokens
    error: str | None
    message_id: str | None
    ttl_known: bool
    latency_ms: int | None = None  # Bedrock's own time, where its record logs one


def read_gz_lines(path: Path) -> list[str]:
    raw = path.read_bytes()
    d = zlib.decompressobj(wbits=31)
    try:
        data = d.decompress(raw)
    except zlib.error:
        return []
    if not d.eof:  # a truncated file: the Bedrock sample's planted bad input
        return []
    return data.decode("utf-8", errors="replace").splitlines()


def proxy_calls() -> list[BedrockCall]:
    root = SAMPLE / "bedrock" / "s3"
    manifest = json.loads((SAMPLE / "manifest.json").read_text())
    bad_folder = (SAMPLE / manifest["bad_input"]["folder"]).resolve()
    calls: dict[str, BedrockCall] = {}
    for path in sorted(root.rglob("*.json.gz")):
        if "/data/" in str(path) or path.resolve().parent == bad_folder:
            continue
        for line in read_gz_lines(path):
            try:
                r = json.loads(line)
            except ValueError:
                continue
            if r.get("identity", {}).get("arn") != PROXY_ARN:
                continue
            inp, out = r.get("input", {}), r.get("output", {})
            body = out.get("outputBodyJson")
            one_hour, message_id, ttl_known = 0, None, False
            usage, latency = None, None
            if isinstance(body, dict):
                usage = body.get("usage")
                message_id = body.get("id")
                latency = (body.get("metrics") or {}).get("latencyMs")  # Converse
            elif isinstance(body, list) and body and body[0].get("type") == "message_start":
                usage = body[0]["message"].get("usage")
                message_id = body[0]["message"].get("id")
                metrics = body[-1].get("amazon-bedrock-invocationMetrics") or {}
                latency = metrics.get("invocationLatency")  # a stream's last event
            if isinstance(usage, dict) and isinstance(usage.get("cache_creation"), dict):
                one_hour = int(usage["cache_creation"].get("ephemeral_1h_input_tokens") or 0)
                ttl_known = True
            write = int(inp.get("cacheWriteInputTokenCount") or 0)
            t = Tokens(
                int(inp.get("inputTokenCount") or 0),
                int(inp.get("cacheReadInputTokenCount") or 0),
                write - one_hour,
                one_hour,
                int(out.get("outputTokenCount") or 0),
            )
            at = datetime.strptime(r["timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
            calls[r["requestId"]] = BedrockCall(
                r["requestId"],
                at,
                r["operation"],
                r["modelId"],
                t,
                r.get("errorCode"),
                message_id,
                ttl_known,
                int(latency) if isinstance(latency, int | float) else None,
            )
    return sorted(calls.values(), key=lambda c: (c.at, c.request_id))


# --------------------------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------------------------


def working_time(rng: random.Random) -> datetime:
    while True:
        day = FIRST_DAY + timedelta(days=rng.randrange((LAST_DAY - FIRST_DAY).days + 1))
        weekday = day.weekday() < 5
        hour = int(rng.triangular(7, 20, 13)) if weekday or rng.random() < 0.3 else -1
        if hour >= 0:
            return datetime(
                day.year,
                day.month,
                day.day,
                hour,
                rng.randrange(60),
                rng.randrange(60),
                rng.randrange(1000) * 1000,
                tzinfo=UTC,
            )


def msg_id(rng: random.Random, prefix: str = "msg_01") -> str:
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    return prefix + "".join(rng.choice(alphabet) for _ in range(22))


def generate(rng: random.Random) -> tuple[list[dict[str, Any]], dict[str, Any], list[Dev]]:
    devs, org = build_directory(rng)
    team_ids = org["team_ids"]
    weights = [d.weight for d in devs]
    people = [d for d in devs if d.in_directory]

    def pick() -> Dev:
        return rng.choices(devs, weights=weights)[0]

    rows: list[dict[str, Any]] = []
    stats: Counter[str] = Counter()
    expected: dict[str, Any] = defaultdict(int)

    # 1. Bedrock through the proxy's role: the same requests as the Bedrock sample
    for call in proxy_calls():
        if OUTAGE[0] <= call.at < OUTAGE[1] or rng.random() < LOST_WRITE_SHARE:
            stats["bedrock_only_in_provider"] += 1
            if call.error is None:
                expected["only_in_provider_ok"] += 1
            continue
        dev = pick()
        canonical, geo = BEDROCK_IDS[call.model_id]
        start = call.at - timedelta(milliseconds=rng.randint(50, 900))
        converse = call.operation == "Converse"
        call_type = "acompletion" if converse else "anthropic_messages"
        base = "https://bedrock-runtime.us-east-1.amazonaws.com"
        if call.error:
            code, cls, category = {
                "ThrottlingException": ("429", "RateLimitError", "vendor_rate_limit"),
                "ValidationException": ("400", "BadRequestError", None),
                "ModelErrorException": ("424", "APIError", None),
                "ServiceUnavailableException": ("503", "ServiceUnavailableError", None),
            }[call.error]
            rows.append(
                spend_row(
                    rng,
                    dev,
                    team_ids,
                    request_id=uid("failed", call.request_id),
                    start=start,
                    call_type=call_type,
                    model=call.model_id,
                    model_group=BEDROCK_GROUP[canonical],
                    provider="bedrock",
                    api_base=base,
                    deployment="bedrock-us-east-1",
                    t=Tokens(),
                    spend=0.0,
                    status="failure",
                    error=failure(
                        code,
                        cls,
                        "bedrock",
                        category=category,
                        kind="requests" if category else None,
                        provider_request_id=call.request_id,
                        message=f"litellm.{cls}: BedrockException - {call.error}",
                    ),
                )
            )
            stats[f"bedrock_failure_{call.error}"] += 1
            expected["matched_by_provider_request_id"] += 1
            continue
        request_id = (
            call.message_id
            if (call.message_id and not converse)
            else f"chatcmpl-{uid('chat', call.request_id)}"
        )
        spend = litellm_spend(canonical, call.tokens, uplift=1.1 if geo else 1.0)
        rows.append(
            spend_row(
                rng,
                dev,
                team_ids,
                request_id=request_id,
                start=start,
                call_type=call_type,
                model=call.model_id,
                model_group=BEDROCK_GROUP[canonical],
                provider="bedrock",
                api_base=base,
                deployment="bedrock-us-east-1",
                t=call.tokens,
                spend=spend,
                with_ttl=call.ttl_known,
                store_prompts=rng.random() < 0.03,
                provider_ms=call.latency_ms,
            )
        )
        stats["bedrock_matched"] += 1
        expected["matched_by_time_model_tokens"] += 1

    # 2. A us-west-2 Bedrock deployment whose invocation logs are not in the sample
    for _ in range(200):
        dev, start = pick(), working_time(rng)
        model_id = rng.choice(
            [
                "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
                "us.anthropic.claude-haiku-4-5-20251001-v1:0",
            ]
        )
        canonical, geo = BEDROCK_IDS[model_id]
        t = sample_tokens(rng, canonical)
        rows.append(
            spend_row(
                rng,
                dev,
                team_ids,
                request_id=msg_id(rng, "msg_bdrk_01"),
                start=start,
                call_type="anthropic_messages",
                model=model_id,
                model_group=canonical,
                provider="bedrock",
                api_base="https://bedrock-runtime.us-west-2.amazonaws.com",
                deployment="bedrock-us-west-2",
                t=t,
                spend=litellm_spend(canonical, t, uplift=1.1),
            )
        )
        stats["bedrock_only_in_litellm"] += 1
        expected["only_in_litellm_ok"] += 1

    # 3. Anthropic directly: Claude Code via /v1/messages
    direct = {
        "claude-sonnet-4-5": 0.62,
        "claude-opus-4-6": 0.16,
        "claude-haiku-4-5": 0.16,
        "claude-sonnet-4": 0.06,
    }
    for _ in range(1_300):
        dev, start = pick(), working_time(rng)
        canonical = rng.choices(list(direct), weights=list(direct.values()))[0]
        long_context = canonical == "claude-sonnet-4-5" and rng.random() < 0.015
        t = sample_tokens(rng, canonical, long_context=long_context)
        logged = {
            "claude-sonnet-4-5": "claude-sonnet-4-5-20250929",
            "claude-opus-4-6": "claude-opus-4-6",
            "claude-haiku-4-5": "claude-haiku-4-5-20251001",
            "claude-sonnet-4": "claude-sonnet-4-20250514",
        }[canonical]
        priced = None if canonical == "claude-sonnet-4" else canonical  # not in LiteLLM's map
        spend = litellm_spend(priced, t, long_context_rates=False)
        rows.append(
            spend_row(
                rng,
                dev,
                team_ids,
                request_id=msg_id(rng),
                start=start,
                call_type="anthropic_messages",
                model=logged,
                model_group=canonical,
                provider="anthropic",
                api_base="https://api.anthropic.com/v1/messages",
                deployment=f"anthropic-{canonical}",
                t=t,
                spend=spend,
                extra_meta=project_meta(rng, dev),
                store_prompts=rng.random() < 0.03,
            )
        )
        stats["anthropic_messages"] += 1
        stats["unpriced_in_litellm" if priced is None else "priced_in_litellm"] += 1
        stats["long_context"] += long_context

    # 4. Anthropic through the /anthropic pass-through (streamed: cache reads billed as input)
    for _ in range(300):
        dev, start = pick(), working_time(rng)
        t = sample_tokens(rng, "claude-sonnet-4-5")
        rows.append(
            spend_row(
                rng,
                dev,
                team_ids,
                request_id=msg_id(rng),
                start=start,
                call_type="pass_through_endpoint",
                model="claude-sonnet-4-5-20250929",
                model_group="",
                provider="anthropic",
                api_base="https://api.anthropic.com/v1/messages",
                deployment="",
                t=t,
                spend=litellm_spend("claude-sonnet-4-5", t, reads_as_input=True),
            )
        )
        stats["pass_through_endpoint"] += 1

    # 5. Vertex AI: the global endpoint (Opus 4.6) and us-east5 (Sonnet 4.5, no uplift in LiteLLM)
    for _ in range(400):
        dev, start = pick(), working_time(rng)
        regional = rng.random() < 0.55
        canonical = "claude-sonnet-4-5" if regional else "claude-opus-4-6"
        vertex_id = "claude-sonnet-4-5@20250929" if regional else "claude-opus-4-6"
        location = "us-east5" if regional else "global"
        host = f"{location}-aiplatform.googleapis.com" if regional else "aiplatform.googleapis.com"
        t = sample_tokens(rng, canonical)
        rows.append(
            spend_row(
                rng,
                dev,
                team_ids,
                request_id=msg_id(rng, "msg_vrtx_01"),
                start=start,
                call_type="anthropic_messages",
                model=f"vertex_ai/{vertex_id}",
                model_group=canonical,
                provider="vertex_ai",
                api_base=f"https://{host}/v1/projects/acme-vertex-prod/locations/{location}/"
                f"publishers/anthropic/models/{vertex_id}:streamRawPredict",
                deployment=f"vertex-{location}",
                t=t,
                spend=litellm_spend(canonical, t),
            )
        )
        stats["vertex_" + location] += 1

    # 6. LiteLLM's own limits: a Wednesday burst over one key's RPM and one team's TPM
    limited = sorted(people, key=lambda d: d.email)[3]
    burst = datetime(2026, 11, 18, 15, 2, tzinfo=UTC)
    for i in range(150):
        dev = limited if i < 110 else next((d for d in people if d.team == "search"), limited)
        kind = "requests" if i < 110 else "tokens"
        limit = f"Limit type: {kind}. Current limit: {20 if i < 110 else 400000}"
        rows.append(
            spend_row(
                rng,
                dev,
                team_ids,
                request_id=uid("429", i),
                start=burst + timedelta(seconds=i * 0.7),
                call_type="anthropic_messages",
                model="",
                model_group="claude-sonnet-4-5",
                provider="",
                api_base="",
                deployment="",
                t=Tokens(),
                spend=0.0,
                status="failure",
                error=failure(
                    "429",
                    "ProxyRateLimitError",
                    None,
                    category="litellm_rate_limit",
                    kind=kind,
                    message=f"Rate limit exceeded. {limit}",
                ),
            )
        )
        stats["litellm_rate_limited"] += 1

    # 7. A contractor over the key's budget (422 in this LiteLLM version)
    contractor = next(d for d in devs if not d.in_directory)
    for i in range(12):
        rows.append(
            spend_row(
                rng,
                contractor,
                team_ids,
                request_id=uid("budget", i),
                start=datetime(2026, 11, 19, 10, tzinfo=UTC) + timedelta(minutes=7 * i),
                call_type="anthropic_messages",
                model="",
                model_group="claude-opus-4-6",
                provider="",
                api_base="",
                deployment="",
                t=Tokens(),
                spend=0.0,
                status="failure",
                error=failure(
                    "422",
                    "BudgetExceededError",
                    None,
                    kind="budget",
                    message="Budget has been exceeded! Current cost: 50.4, Max budget: 50",
                ),
            )
        )
        stats["budget_exceeded"] += 1

    # 8. Scripts run with the master key (no person)
    for _ in range(30):
        start = working_time(rng)
        t = sample_tokens(rng, "claude-haiku-4-5")
        rows.append(
            spend_row(
                rng,
                None,
                team_ids,
                request_id=f"chatcmpl-{uid('master', start)}",
                start=start,
                call_type="acompletion",
                model="claude-haiku-4-5-20251001",
                model_group="claude-haiku-4-5",
                provider="anthropic",
                api_base="https://api.anthropic.com/v1/messages",
                deployment="anthropic-haiku",
                t=t,
                spend=litellm_spend("claude-haiku-4-5", t),
                alias="litellm_proxy_master_key",
                claude_code=False,
            )
        )
        stats["master_key"] += 1

    rows.sort(key=lambda r: (r["startTime"], r["request_id"]))
    # 9. Planted bad metadata (rejected, the rest loads)
    direct_rows = [
        r
        for r in rows
        if r["call_type"] == "anthropic_messages" and r["custom_llm_provider"] == "anthropic"
    ]
    bad = [direct_rows[len(direct_rows) // 3], direct_rows[2 * len(direct_rows) // 3]]
    # an older writer's JSON-encoded string, cut short: valid jsonb, not a usable object
    bad[0]["metadata"] = json.dumps('{"usage_object": {"prompt_tokens": 1200, "completion_tok')
    bad[1]["metadata"]["usage_object"] = {"cache_read_input_tokens": "n/a"}
    planted = [(f"LiteLLM_SpendLogs.csv.gz:{rows.index(b) + 2}", b["request_id"]) for b in bad]
    for b in bad:
        b["_bad"] = True
    return (
        rows,
        {
            "stats": stats,
            "expected": dict(expected),
            "planted": planted,
            "team_ids": team_ids,
            "teams": org["teams"],
            "limited": limited,
        },
        devs,
    )


def project_meta(rng: random.Random, dev: Dev) -> dict[str, Any]:
    if dev.team == "payments" and rng.random() < 0.4:
        return {"spend_logs_metadata": {"project": "ledger-migration"}}
    return {}


# --------------------------------------------------------------------------------------------
# Dimension tables
# --------------------------------------------------------------------------------------------


def dimension_rows(devs: list[Dev], info: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    team_ids, limited = info["team_ids"], info["limited"]
    created = "2026-09-01 08:00:00"
    team_limits = {"search": (400_000, 300), "payments": (600_000, 400), "data": (500_000, None)}
    teams = [
        {
            "team_id": team_ids[t],
            "team_alias": t,
            "admins": "{}",
            "members": "{}",
            "members_with_roles": [],
            "metadata": ({"model_rpm_limit": {"claude-opus-4-6": 60}} if t == "search" else {}),
            "max_budget": {"payments": 400.0}.get(t),
            "spend": 0.0,
            "models": "{}",
            "tpm_limit": team_limits.get(t, (None, None))[0],
            "rpm_limit": team_limits.get(t, (None, None))[1],
            "budget_duration": "30d",
            "blocked": "f",
            "created_at": created,
            "updated_at": created,
            "model_spend": {},
            "model_max_budget": {},
            "router_settings": {},
        }
        for t in info["teams"]
    ]
    users = [
        {
            "user_id": d.user_id,
            "user_email": d.email,
            "user_role": "internal_user",
            "teams": "{" + team_ids[d.team] + "}",
            "team_id": team_ids[d.team],
            "password": None,
            "spend": 0.0,
            "models": "{}",
            "metadata": {},
            "model_spend": {},
            "model_max_budget": {},
            "created_at": created,
            "updated_at": created,
        }
        for d in devs
        if d.user_id
    ]
    keys, deleted, rotated = [], [], []
    for d in devs:
        row = {
            "token": d.key,
            "key_name": f"sk-...{d.key[-4:]}",
            "key_alias": d.key_alias,
            "spend": 0.0,
            "total_spend": 0.0,
            "models": "{}",
            "aliases": {},
            "config": {},
            "router_settings": {},
            "user_id": d.user_id,
            "team_id": team_ids[d.team],
            "permissions": {},
            "metadata": {},
            "model_spend": {},
            "model_max_budget": {},
            "budget_fallbacks": {},
            "created_at": created,
            "updated_at": created,
            "tpm_limit": None,
            "rpm_limit": None,
            "max_budget": None,
            "budget_duration": None,
        }
        if d is limited:
            row.update(
                rpm_limit=20,
                tpm_limit=150_000,
                metadata={"model_tpm_limit": {"claude-opus-4-6": 40_000}},
            )
        if not d.in_directory:
            row.update(max_budget=50.0, budget_duration="30d")
        keys.append(row)
    first = devs[0]  # rotated once: its old hash lives on in DeprecatedVerificationToken
    rotated.append(
        {
            "id": uid("rotated", first.key),
            "token": sha(f"sk-{first.key_alias}-v1"),
            "active_token_id": first.key,
            "revoke_at": "2026-10-29 00:00:00",
            "created_at": "2026-10-28 00:00:00",
        }
    )
    second = devs[1]  # an old laptop key, deleted
    deleted.append(
        {
            "id": uid("deleted", second.key),
            "token": sha(f"sk-{second.key_alias}-old"),
            "key_alias": f"{second.key_alias}-old-laptop",
            "user_id": second.user_id,
            "team_id": team_ids[second.team],
            "spend": 0.0,
            "models": "{}",
            "aliases": {},
            "config": {},
            "permissions": {},
            "metadata": {},
            "model_spend": {},
            "model_max_budget": {},
            "router_settings": {},
            "deleted_at": "2026-11-01 12:00:00",
            "deleted_by": "admin",
        }
    )
    return {
        "LiteLLM_TeamTable": teams,
        "LiteLLM_UserTable": users,
        "LiteLLM_VerificationToken": keys,
        "LiteLLM_DeletedVerificationToken": deleted,
        "LiteLLM_DeprecatedVerificationToken": rotated,
    }


def use_old_keys(
    rows: list[dict[str, Any]], devs: list[Dev], dims: dict[str, list[dict[str, Any]]]
) -> None:
    """Rows from before a key's rotation or deletion carry the old key's hash."""
    old_rotated = dims["LiteLLM_DeprecatedVerificationToken"][0]["token"]
    old_deleted = dims["LiteLLM_DeletedVerificationToken"][0]["token"]
    for row in rows:
        if row["api_key"] == devs[0].key and row["startTime"] < "2026-10-29":
            row["api_key"] = old_rotated
            if isinstance(row["metadata"], dict):
                row["metadata"]["user_api_key"] = old_rotated
        if row["api_key"] == devs[1].key and row["startTime"] < "2026-11-01 12":
            row["api_key"] = old_deleted
            if isinstance(row["metadata"], dict):
                row["metadata"].update(
                    user_api_key=old_deleted, user_api_key_alias=f"{devs[1].key_alias}-old-laptop"
                )


# --------------------------------------------------------------------------------------------
# Writing (PostgreSQL's COPY csv format)
# --------------------------------------------------------------------------------------------


def cell(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(", ", ": "))
    if isinstance(value, float):
        return repr(value)
    return str(value)


def write_csv(
    path: Path,
    columns: list[str],
    rows: list[dict[str, Any]],
    defaults: dict[str, Any],
    *,
    compress: bool = False,
) -> None:
    out = io.StringIO()
    out.write(",".join(columns) + "\n")
    for row in rows:
        fields = []
        for c in columns:
            value = cell(row.get(c, defaults.get(c)))
            if value is None:
                fields.append("")
            elif value == "" or any(ch in value for ch in ',"\n\r'):
                fields.append('"' + value.replace('"', '""') + '"')
            else:
                fields.append(value)
        out.write(",".join(fields) + "\n")
    data = out.getvalue().encode("utf-8")
    if compress:  # reproducible: no name, mtime 0
        buf = io.BytesIO()
        with gzip.GzipFile(filename="", fileobj=buf, mode="wb", mtime=0) as f:
            f.write(data)
        data = buf.getvalue()
    path.write_bytes(data)


def column_defaults(table: str) -> dict[str, Any]:
    """What PostgreSQL fills in for a column the generator leaves out."""
    text = SCHEMA.read_text().split(f'CREATE TABLE "{table}" (', 1)[1].split("CONSTRAINT", 1)[0]
    defaults: dict[str, Any] = {}
    for name, rest in re.findall(r'^\s+"([^"]+)"\s+(.*?),?$', text, flags=re.M):
        m = re.search(r"DEFAULT (.+)$", rest)
        if not m:
            continue
        d = m.group(1)
        if d.startswith("'") and d.endswith("'"):
            defaults[name] = d[1:-1]
        elif d == "ARRAY[]::TEXT[]":
            defaults[name] = "{}"
        elif d in ("true", "false"):
            defaults[name] = "t" if d == "true" else "f"
        elif d == "CURRENT_TIMESTAMP":
            defaults[name] = "2026-09-01 08:00:00"
        else:
            defaults[name] = d
    return defaults


def main(argv: list[str] | None = None) -> int:
    global SAMPLE, OUT
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sample",
        type=Path,
        default=SAMPLE,
        help="the sample_data folder to read (people.csv, bedrock/, manifest.json)",
    )
    parser.add_argument("--out", type=Path, default=OUT, help="where to write the dumps")
    args = parser.parse_args(argv)
    SAMPLE, OUT = args.sample.resolve(), args.out.resolve()
    OUT.mkdir(parents=True, exist_ok=True)
    rng = random.Random(SEED)
    rows, info, devs = generate(rng)
    dims = dimension_rows(devs, info)
    use_old_keys(rows, devs, dims)
    tables = {"LiteLLM_SpendLogs": rows, **dims}
    for table, table_rows in tables.items():
        big = table == "LiteLLM_SpendLogs"  # 14 MB as text, 2 MB gzipped
        write_csv(
            OUT / (f"{table}.csv.gz" if big else f"{table}.csv"),
            table_columns(table),
            [{k: v for k, v in r.items() if not k.startswith("_")} for r in table_rows],
            column_defaults(table),
            compress=big,
        )
    write_manifest(rows, info, devs, dims)
    print(
        f"wrote {len(rows)} spend-log rows and {sum(len(v) for v in dims.values())} "
        f"key/team/user rows to {OUT}"
    )
    return 0


def write_manifest(
    rows: list[dict[str, Any]],
    info: dict[str, Any],
    devs: list[Dev],
    dims: dict[str, list[dict[str, Any]]],
) -> None:
    stats = info["stats"]
    expected = info["expected"]
    good = [r for r in rows if not r.get("_bad")]
    manifest = {
        "generator": "python sample_data/litellm/generate.py",
        "seed": SEED,
        "proxy_role": PROXY_ARN,
        "spend_log_rows": len(rows),
        "rows_loaded": len(good),
        "rows_by_kind": dict(sorted(stats.items())),
        "rows_by_status": dict(sorted(Counter(r["status"] for r in rows).items())),
        "rejected": [{"location": loc, "request_id": rid} for loc, rid in info["planted"]],
        "bedrock_outage": [OUTAGE[0].isoformat(), OUTAGE[1].isoformat()],
        "expected_reconciliation": {
            "matched": expected.get("matched_by_time_model_tokens", 0)
            + expected.get("matched_by_provider_request_id", 0),
            "matched_by_provider_request_id": expected.get("matched_by_provider_request_id", 0),
            "only_in_litellm_ok": expected.get("only_in_litellm_ok", 0),
            "only_in_provider_ok": expected.get("only_in_provider_ok", 0),
        },
        "keys": len(dims["LiteLLM_VerificationToken"]),
        "deleted_keys": len(dims["LiteLLM_DeletedVerificationToken"]),
        "rotated_keys": len(dims["LiteLLM_DeprecatedVerificationToken"]),
        "developers_not_in_directory": sorted(d.email for d in devs if not d.in_directory),
        "rate_limited_key": info["limited"].key_alias,
        "zero_spend_model": "anthropic/claude-sonnet-4-20250514",
        "sentinel": SENTINEL,
    }
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    m = manifest
    r = m["expected_reconciliation"]
    kinds = "\n".join(f"| {k} | {v:,} |" for k, v in m["rows_by_kind"].items())
    outage = f"{OUTAGE[0]:%Y-%m-%d %H:%M}-{OUTAGE[1]:%H:%M}"
    text = f"""# LiteLLM proxy sample data

Generated by `python sample_data/litellm/generate.py` (standard library only, seed {SEED}) from
the Bedrock sample's records of the proxy's role. Do not edit by hand; run it again after
`sample_data/generate.py`. One CSV per table (the spend logs gzipped), in the format of
`COPY "<table>" TO STDOUT WITH (FORMAT csv, HEADER true)` for LiteLLM 1.110.2's layout
(`tests/litellm_schema.sql`).

    python sample_data/litellm/load.py postgresql://postgres@127.0.0.1:5432/litellm_demo
    LITELLM_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/litellm_demo llmledger ingest litellm
    llmledger ingest litellm-files sample_data/litellm     # the same rows without PostgreSQL

{m["spend_log_rows"]:,} spend-log rows ({m["rows_loaded"]:,} load; 2 are planted bad metadata),
{m["keys"]} keys (+{m["deleted_keys"]} deleted, +{m["rotated_keys"]} rotated), status:
{", ".join(f"{k} {v:,}" for k, v in m["rows_by_status"].items())}.

| rows | count |
|---|---:|
{kinds}

Counted once, with `[gateway] identities = ['^arn:aws:sts::\\\\d+:assumed-role/litellm-proxy/']`
beside the Bedrock sample (`report --reconcile`):

| | requests |
|---|---:|
| matched (the Bedrock copy is not counted) | {r["matched"]:,} |
| of which by Bedrock's request id (failures) | {r["matched_by_provider_request_id"]:,} |
| only in LiteLLM (us-west-2 deployment, successful) | {r["only_in_litellm_ok"]:,} |
| only in Bedrock (spend-log outage {outage} UTC and lost writes, successful) \
| {r["only_in_provider_ok"]:,} |

LiteLLM's spend differs from the price book by cause: 1-hour cache writes priced at the 5-minute
rate, pass-through cache reads priced as input, no long-context tier on the Anthropic API, no
regional uplift on Vertex us-east5, and $0 for `{m["zero_spend_model"]}`.

Rejected (`rejected_records`, source `litellm`):

| location | request_id |
|---|---|
{chr(10).join(f"| `{x['location']}` | `{x['request_id']}` |" for x in m["rejected"])}

Rate limits: key `{m["rate_limited_key"]}` (20 RPM) and team `search` (400k TPM) hit LiteLLM's own
limits on 2026-11-18 15:02 UTC (429, `ProxyRateLimitError`); Bedrock's throttling comes through as
429 `RateLimitError`. The contractor's key ({", ".join(m["developers_not_in_directory"])}, not in
the directory) runs over its budget (422). About 3% of rows were logged with
`store_prompts_in_spend_logs` on: their bodies contain `{SENTINEL}`, which must never reach the
database.
"""
    (OUT / "MANIFEST.md").write_text(text)


if __name__ == "__main__":
    raise SystemExit(main())
