#!/usr/bin/env python3
"""Generate the Claude Code telemetry sample (OTLP JSON lines), deterministically.

    python sample_data/generate_otel.py            # rewrites sample_data/otel/
    python sample_data/generate_otel.py --out DIR  # writes the same tree into DIR

Standard library only, no network, one fixed seed: two runs give byte-identical files. Run it
after generate.py: it reads the Bedrock sample (reference/otel.md has the event shapes).

The story: the shared Bedrock API key ``BedrockAPIKey-q9m4`` (account 444455556666, us-west-2)
names no one, so its requests are unattributed. Besides Kong's bedrock service (Converse,
generate_gateways.py), three developers use the key directly from Claude Code
(``AWS_BEARER_TOKEN_BEDROCK``: InvokeModel). From 2026-11-02 managed settings turn telemetry on
for them and export it to an OpenTelemetry Collector whose ``file`` exporter writes
``otel/claude-code-YYYY-MM-DD.jsonl``: one ExportLogsServiceRequest or ExportMetricsServiceRequest
per line. ``OTEL_RESOURCE_ATTRIBUTES`` carries ``user.email`` and ``team.id`` (Claude Code copies
every such key onto its events). Each ``claude_code.api_request`` has the Bedrock record's model
id and exact token counts, no request id (Bedrock answers with ``x-amzn-requestid``, which Claude
Code does not report) and is emitted when the response ends; llmledger matches it to the record
by model, tokens and time. Planted: requests of a fourth user without telemetry (they stay
unattributed), two events whose Bedrock log line is missing (unmatched), one record claimed by
two developers' events (ambiguous: attributed to no one), api_error events for failed records,
``user_prompt`` events (prompt text for the developer who turned ``OTEL_LOG_USER_PROMPTS`` on,
``<REDACTED>`` otherwise), and delta metrics (tokens, cost, active time) per session.

Prompt text carries LLMLEDGER-BODY-SENTINEL; finding it in the database means a body was stored.
Writes otel.MANIFEST.md and otel.manifest.json.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from generate_gateways import (
    HERE,
    SENTINEL,
    SHARED_KEY_ARN,
    bedrock_records,
    hex_id,
    markdown,
    tokens,
    uuid4,
    weighted,
    when,
)

SEED = 20261204
FIRST_DAY = date(2026, 11, 2)  # telemetry turned on that Monday
APP_VERSION = "2.0.42"
ORGANIZATION = "5b0e2c1d-7f3a-4e8b-9c6d-1a2b3c4d5e6f"
# developer, team, share of the key's InvokeModel requests, logs prompts
USERS = {
    "lucas.martin@acme.example": ("payments", 0.35, True),
    "hannah.levi@acme.example": ("payments", 0.3, False),
    "nadia.rahman@acme.example": ("security", 0.2, False),
    None: ("", 0.15, False),  # someone using the key without telemetry
}
# the client's own estimate, Anthropic list USD per million tokens (input, output, read, write):
# approximate, as Claude Code's is (no Bedrock premium)
CLIENT_PRICES = {
    "sonnet": (Decimal(3), Decimal(15), Decimal("0.3"), Decimal("3.75")),
    "haiku": (Decimal(1), Decimal(5), Decimal("0.1"), Decimal("1.25")),
}


def nanos(at: datetime) -> str:
    return str(int(at.timestamp()) * 1_000_000_000 + at.microsecond * 1000)


def iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def value(v: Any) -> dict[str, Any]:
    if isinstance(v, int):
        return {"intValue": str(v)}
    if isinstance(v, float):
        return {"doubleValue": v}
    return {"stringValue": str(v)}


def attributes(values: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": value(v)} for k, v in values.items() if v is not None]


def client_cost(model: str, t: dict[str, int]) -> float:
    p = CLIENT_PRICES["haiku" if "haiku" in model else "sonnet"]
    cost = t["input"] * p[0] + t["output"] * p[1] + t["cache_read"] * p[2] + t["cache_write"] * p[3]
    return float(round(cost / 1_000_000, 6))


class Session:
    """One Claude Code session: its resource, its events' sequence, its metric deltas."""

    def __init__(self, rng: random.Random, email: str, team: str, user_id: str) -> None:
        self.id = uuid4(rng)
        self.email, self.team, self.user_id = email, team, user_id
        self.sequence = 0
        self.lines: list[tuple[datetime, str]] = []
        self.metrics: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
        self.first: datetime | None = None

    def standard(self) -> dict[str, Any]:
        return {
            "user.id": self.user_id,
            "session.id": self.id,
            "organization.id": ORGANIZATION,
            "user.email": self.email,
            "team.id": self.team,
            "terminal.type": "vscode",
        }

    def resource(self) -> dict[str, Any]:
        return {
            "service.name": "claude-code",
            "service.version": APP_VERSION,
            "user.email": self.email,
            "team.id": self.team,
        }

    def event(self, at: datetime, name: str, **attrs: Any) -> dict[str, Any]:
        self.sequence += 1
        return {
            "timeUnixNano": nanos(at),
            "observedTimeUnixNano": nanos(at + timedelta(milliseconds=3)),
            "body": {"stringValue": f"claude_code.{name}"},
            "attributes": attributes(
                {
                    "event.name": name,
                    "event.timestamp": iso(at),
                    "event.sequence": self.sequence,
                    **self.standard(),
                    **attrs,
                }
            ),
        }

    def logs(self, at: datetime, records: list[dict[str, Any]]) -> None:
        """One flush of the logs exporter (every 5 s): one ExportLogsServiceRequest line."""
        line = {
            "resourceLogs": [
                {
                    "resource": {"attributes": attributes(self.resource())},
                    "scopeLogs": [
                        {
                            "scope": {
                                "name": "com.anthropic.claude_code.events",
                                "version": APP_VERSION,
                            },
                            "logRecords": records,
                        }
                    ],
                }
            ]
        }
        self.lines.append((at, json.dumps(line, separators=(",", ":"))))

    def flush_metrics(self, start: datetime, end: datetime) -> None:
        """The metrics exporter's delta points since the last flush (one line), then reset."""
        if not self.metrics:
            return
        metrics = []
        for (name, model, kind), amount in sorted(self.metrics.items()):
            attrs = {**self.standard(), "model": model or None, "type": kind or None}
            point: dict[str, Any] = {
                "attributes": attributes(attrs),
                "startTimeUnixNano": nanos(start),
                "timeUnixNano": nanos(end),
            }
            if name == "claude_code.token.usage":
                point["asInt"] = str(int(amount))
            else:
                point["asDouble"] = float(amount)
            unit = {"claude_code.token.usage": "tokens", "claude_code.cost.usage": "USD"}
            metrics.append(
                {
                    "name": name,
                    "unit": unit.get(name, "s"),
                    "sum": {
                        "dataPoints": [point],
                        "aggregationTemporality": 1,
                        "isMonotonic": True,
                    },
                }
            )
        line = {
            "resourceMetrics": [
                {
                    "resource": {"attributes": attributes(self.resource())},
                    "scopeMetrics": [
                        {
                            "scope": {"name": "com.anthropic.claude_code", "version": APP_VERSION},
                            "metrics": metrics,
                        }
                    ],
                }
            ]
        }
        self.lines.append((end, json.dumps(line, separators=(",", ":"))))
        self.metrics.clear()

    def request(self, rng: random.Random, record: dict[str, Any], facts: Counter[str]) -> None:
        """The user's prompt, then the api_request (or api_error) emitted when it ended."""
        started = when(record)
        model = record["modelId"]
        prompt_at = started - timedelta(milliseconds=rng.randint(40, 900))
        logs_prompt = USERS[self.email][2]
        prompt_id = uuid4(rng)
        prompt = f"Why does the ledger test fail on the last day? [{SENTINEL}]"
        records = [
            self.event(
                prompt_at,
                "user_prompt",
                **{"prompt.id": prompt_id},
                prompt_length=len(prompt),
                prompt=prompt if logs_prompt else "<REDACTED>",
            )
        ]
        duration = rng.randint(1500, 42000)
        ended = started + timedelta(milliseconds=duration)
        if record.get("errorCode"):
            status = "429" if record["errorCode"] == "ThrottlingException" else "400"
            records.append(
                self.event(
                    ended,
                    "api_error",
                    **{"prompt.id": prompt_id},
                    model=model,
                    error=record["errorCode"],
                    status_code=status,
                    duration_ms=duration,
                    attempt=1,
                )
            )
            facts["api_error"] += 1
        else:
            t = tokens(record)
            cost = client_cost(model, t)
            records.append(
                self.event(
                    ended,
                    "api_request",
                    **{"prompt.id": prompt_id},
                    model=model,
                    input_tokens=t["input"],
                    output_tokens=t["output"],
                    cache_read_tokens=t["cache_read"],
                    cache_creation_tokens=t["cache_write"],
                    cost_usd=cost,
                    cost_usd_micros=round(cost * 1_000_000),
                    duration_ms=duration,
                    speed="normal",
                    query_source="repl_main_thread",
                )
            )
            kinds = ("input", "output", "cacheRead", "cacheCreation")
            for kind, key in zip(
                kinds, ("input", "output", "cache_read", "cache_write"), strict=True
            ):
                self.metrics[("claude_code.token.usage", model, kind)] += t[key]
            self.metrics[("claude_code.cost.usage", model, "")] += Decimal(str(cost))
            facts["api_request"] += 1
        self.metrics[("claude_code.active_time.total", "", "user")] += Decimal(rng.randint(5, 40))
        self.metrics[("claude_code.active_time.total", "", "cli")] += Decimal(duration // 1000)
        facts["user_prompt"] += 1
        self.logs(ended + timedelta(seconds=rng.randint(1, 5)), records)
        self.first = self.first or prompt_at


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE, help="output folder (default: here)")
    out: Path = parser.parse_args().out
    rng = random.Random(SEED)
    facts: Counter[str] = Counter()
    shared = bedrock_records(SHARED_KEY_ARN)
    direct = [r for r in shared if r["operation"] == "InvokeModel" and when(r).date() >= FIRST_DAY]
    user_ids = {email: hex_id(rng, 64) for email in USERS if email}
    sessions: dict[tuple[str, date], Session] = {}
    matched: dict[str, list[str]] = defaultdict(list)
    for record in direct:
        email = weighted(rng, {e or "": share for e, (_, share, _) in USERS.items()}) or None
        if email is None:
            facts["records_without_telemetry"] += 1
            continue
        key = (email, when(record).date())
        if key not in sessions:
            sessions[key] = Session(rng, email, USERS[email][0], user_ids[email])
        sessions[key].request(rng, record, facts)
        matched[email].append(record["requestId"])

    planted = plant(rng, direct, matched, sessions, user_ids, facts)
    # the metrics exporter's delta points, flushed once when each session ends
    for session in sessions.values():
        last = max(at for at, _ in session.lines)
        session.flush_metrics(session.first or last, last + timedelta(seconds=60))
        facts["sessions"] += 1

    target = out / "otel"
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    by_day: dict[date, list[tuple[datetime, str]]] = defaultdict(list)
    for session in sessions.values():
        for at, line in session.lines:
            by_day[at.date()].append((at, line))
    files = []
    for day, day_lines in sorted(by_day.items()):
        path = target / f"claude-code-{day}.jsonl"
        path.write_text("".join(line + "\n" for _, line in sorted(day_lines)))
        files.append(path.relative_to(out).as_posix())
        facts["lines"] += len(day_lines)
    write_manifest(out, facts, direct, matched, planted, files)


def plant(
    rng: random.Random,
    direct: list[dict[str, Any]],
    matched: dict[str, list[str]],
    sessions: dict[tuple[str, date], Session],
    user_ids: dict[str, str],
    facts: Counter[str],
) -> dict[str, Any]:
    """Two events whose Bedrock line is lost (unmatched) and one record two events claim."""
    lost = []
    for email, hour in (("hannah.levi@acme.example", 10), ("nadia.rahman@acme.example", 15)):
        day = date(2026, 11, 17)
        at = datetime(day.year, day.month, day.day, hour, 7, 31, tzinfo=UTC)
        record = {
            "requestId": f"lost-{hex_id(rng, 12)}",
            "timestamp": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "modelId": "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "input": {
                "inputTokenCount": 7,
                "cacheReadInputTokenCount": 52_000 + rng.randint(0, 9000),
                "cacheWriteInputTokenCount": rng.randint(800, 4000),
            },
            "output": {"outputTokenCount": rng.randint(200, 900)},
        }
        session = sessions.setdefault(
            (email, day), Session(rng, email, USERS[email][0], user_ids[email])
        )
        session.request(rng, record, facts)
        lost.append(record["timestamp"])
        facts["unmatched"] += 1
    # the ambiguous pair: a Sonnet record of Lucas's that Nadia's event fits just as well (same
    # model and counts, 9 s later: within the window)
    owner, other = "lucas.martin@acme.example", "nadia.rahman@acme.example"
    ids = set(matched[owner])
    candidates = [
        r for r in direct
        if r["requestId"] in ids and not r.get("errorCode") and "sonnet" in r["modelId"]
    ]  # fmt: skip
    record = candidates[len(candidates) // 2]
    later = (when(record) + timedelta(seconds=9)).strftime("%Y-%m-%dT%H:%M:%SZ")
    key = (other, when(record).date())
    session = sessions.setdefault(key, Session(rng, other, USERS[other][0], user_ids[other]))
    session.request(rng, {**record, "timestamp": later}, facts)
    return {
        "unmatched_at": lost,
        "ambiguous_request_id": record["requestId"],
        "claimed_by": [owner, other],
    }


def write_manifest(
    out: Path,
    facts: Counter[str],
    direct: list[dict[str, Any]],
    matched: dict[str, list[str]],
    planted: dict[str, Any],
    files: list[str],
) -> None:
    ok = {r["requestId"] for r in direct if not r.get("errorCode")}
    by_user = {
        email: {
            "records": len(ids),
            "api_request": sum(1 for i in ids if i in ok),
            "api_error": sum(1 for i in ids if i not in ok),
        }
        for email, ids in sorted(matched.items())
    }
    attributed = sum(u["api_request"] for u in by_user.values()) - 1  # the ambiguous record
    manifest = {
        "generator": "generate_otel.py",
        "seed": SEED,
        "telemetry_from": FIRST_DAY.isoformat(),
        "files": files,
        "lines": facts["lines"],
        "sessions": facts["sessions"],
        "events": {k: facts[k] for k in ("api_request", "api_error", "user_prompt")},
        "shared_key": SHARED_KEY_ARN,
        "shared_key_invoke_model_records": len(direct),
        "records_without_telemetry": facts["records_without_telemetry"],
        "by_developer": by_user,
        "records_attributed": attributed,
        "unmatched_events": facts["unmatched"],
        "planted": planted,
        "sentinel": SENTINEL,
    }
    (out / "otel.manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    rows = "\n".join(
        f"| `{e}` | {USERS[e][0]} | {u['records']} | {u['api_request']} | {u['api_error']} |"
        for e, u in by_user.items()
    )
    lost = ", ".join(t[11:16] for t in planted["unmatched_at"])
    claimers = ", ".join(f"`{e}`" for e in planted["claimed_by"])
    blocks = [
        "# Claude Code telemetry sample data",
        f"Generated by `python sample_data/generate_otel.py` (standard library only, seed {SEED}; "
        "run it after `generate.py`, whose Bedrock records it reads). Do not edit by hand. OTLP "
        "JSON lines as the OpenTelemetry Collector's `file` exporter writes them, one file per "
        f"day (`otel/claude-code-YYYY-MM-DD.jsonl`, {len(files)} files, {facts['lines']:,} "
        "lines: one ExportLogsServiceRequest per logs flush, one ExportMetricsServiceRequest per "
        "session with its delta token, cost and active-time points). The demo reads them with "
        "`[[sources.otel-files]]`:",
        "    llmledger ingest otel-files sample_data/otel",
        f"The shared Bedrock API key `{SHARED_KEY_ARN}` names no one. Three developers also use "
        f"it directly from Claude Code (InvokeModel); from {FIRST_DAY} their telemetry is on, "
        "with `user.email` and `team.id` from `OTEL_RESOURCE_ATTRIBUTES`. The key made "
        f"{len(direct)} InvokeModel requests from {FIRST_DAY} on; "
        f"{facts['records_without_telemetry']} of them came from a user without telemetry and "
        "stay unattributed.",
        "| developer | team | records | `api_request` | `api_error` |\n"
        "|---|---|---:|---:|---:|\n" + rows,
        f"Events: {facts['api_request']} `api_request`, {facts['api_error']} `api_error`, "
        f"{facts['user_prompt']} `user_prompt` in {facts['sessions']} sessions (one per "
        "developer and day). Each `api_request` carries the Bedrock record's model id and exact "
        "counts (input, output, cache read, cache creation = Bedrock's cache write) and no "
        "request id (Bedrock's `x-amzn-requestid` is not reported); it is emitted when the "
        "response ends (`duration_ms` after the record's time). So "
        f"{attributed} records are attributed by model + tokens + time. Planted:",
        f"- {facts['unmatched']} `api_request` events whose Bedrock log line is missing "
        f"(2026-11-17 {lost} UTC, Sonnet 4.5): unmatched, not counted.",
        f"- Bedrock record `{planted['ambiguous_request_id']}` is claimed by two events "
        f"({claimers}, the same model and counts 9 s apart): both ambiguous, the record stays "
        "unattributed.",
        "`user_prompt` events of `lucas.martin@acme.example` (`OTEL_LOG_USER_PROMPTS=1`) carry "
        f"the prompt text with `{SENTINEL}`; the others carry `<REDACTED>`. Finding the sentinel "
        "in the database means prompt text was stored.",
    ]
    text = markdown(blocks)
    (out / "otel.MANIFEST.md").write_text(text)


if __name__ == "__main__":
    main()
