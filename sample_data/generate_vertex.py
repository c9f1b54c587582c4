#!/usr/bin/env python3
"""Generate the Vertex AI sample data (Cloud Logging exports), deterministically.

    python sample_data/generate_vertex.py            # rewrites sample_data/vertex/
    python sample_data/generate_vertex.py --out DIR  # writes the same tree into DIR

Standard library only, no network, one fixed seed: two runs give byte-identical files. The tree
is a Cloud Storage log sink's layout, newline-delimited LogEntry JSON per log and hour
(reference/vertex.md §2.5):

    vertex/cloudaudit.googleapis.com/data_access/YYYY/MM/DD/HH:00:00_HH:59:59_S0.json
    vertex/claude-gateway/YYYY/MM/DD/HH:00:00_HH:59:59_S0.json      (a proxy's log)
    vertex/claude-code-usage/YYYY/MM/DD/HH:00:00_HH:59:59_S0.json   (a usage collector's log)

Two projects share the sink (an aggregated folder sink): acme-vertex-prod and acme-data-sandbox.

- Data Access audit entries for (Stream)RawPredict on publishers/anthropic/models/...: who called
  (user emails, service accounts, one impersonation chain), model@version, global or us-east5.
  No tokens, as in real audit logs.
- Token-bearing entries: the company gateway logs the Vertex Messages response under
  jsonPayload.response with the endpoint and X-Vertex-AI-Labels-style labels (developer alias,
  team); a usage collector logs the bare Messages response at the top of jsonPayload, with the
  region in resource.labels.location and no caller at all, so only the audit join attributes it.
- Planted cases: RESOURCE_EXHAUSTED (429) and other failed calls, count-tokens calls, an
  ambiguous concurrent pair, a token entry with no audit entry, an audit entry whose tokens were
  never logged, a duplicate entry in a second shard, a malformed line, an unknown entry kind,
  and entries out of scope (a Gemini call, a gateway's start-up line) that are skipped by kind.

Every response and request body carries LLMLEDGER-BODY-SENTINEL; finding it in the database
means a body was stored. The people are from people.csv (the same developers as Bedrock).
Writes vertex.MANIFEST.md and vertex.manifest.json beside the vertex/ folder (vertex-files reads
every file under it, dated folder or not).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import string
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

SEED = 20261105
FIRST_DAY = date(2026, 10, 22)
LAST_DAY = date(2026, 11, 20)  # inclusive, the same period as the Bedrock sample
SENTINEL = "LLMLEDGER-BODY-SENTINEL"
PROD, SANDBOX = "acme-vertex-prod", "acme-data-sandbox"
GATEWAY_SA = f"claude-gateway@{PROD}.iam.gserviceaccount.com"
CI_SA = f"claude-ci@{PROD}.iam.gserviceaccount.com"
BATCH_SA = f"claude-batch@{SANDBOX}.iam.gserviceaccount.com"
AUDIT_LOG, GATEWAY_LOG, COLLECTOR_LOG = (
    "cloudaudit.googleapis.com/data_access",
    "claude-gateway",
    "claude-code-usage",
)
MIN_GAP_SECONDS = 6.0  # calls on one (project, region, model) are at least this far apart...
MAX_SKEW_SECONDS = 0.8  # ...and a token entry is this close to its audit entry: joins are unique

# (Vertex model id in the URL, model in the response body)
MODELS = {
    "sonnet45": ("claude-sonnet-4-5@20250929", "claude-sonnet-4-5-20250929"),
    "opus46": ("claude-opus-4-6", "claude-opus-4-6"),
    "haiku45": ("claude-haiku-4-5@20251001", "claude-haiku-4-5-20251001"),
    "sonnet4": ("claude-sonnet-4@20250514", "claude-sonnet-4-20250514"),
}


@dataclass
class Caller:
    name: str  # email, or the gateway label value
    channel: str  # 'gateway' | 'direct'
    project: str
    per_workday: float
    models: dict[str, float]
    regions: dict[str, float]
    principal: str = ""  # audit principalEmail
    labels: dict[str, str] | None = None
    delegation: str | None = None  # impersonating user (serviceAccountDelegationInfo root)
    user_agent: str = "claude-cli/2.0.42 (external, cli)"
    nightly: bool = False


@dataclass
class Call:
    at: datetime
    caller: Caller
    model: str
    region: str
    method: str
    status: int = 0
    message: str | None = None
    count_tokens: bool = False
    usage: dict | None = None
    token_at: datetime | None = None
    audit: bool = True
    note: str = ""
    insert_ids: dict[str, str] = field(default_factory=dict)


def callers() -> list[Caller]:
    gw_models = {"sonnet45": 0.7, "opus46": 0.2, "haiku45": 0.1}
    gw = [
        ("imoreau", "search"),
        ("ytanaka", "search"),
        ("kwatanabe", "payments"),
        ("pnatarajan", "payments"),
        ("ikuznetsov", "security"),
        ("ext-rkim", "search"),
    ]
    out = [
        Caller(
            alias,
            "gateway",
            PROD,
            7.0,
            gw_models,
            {"global": 0.9, "us-east5": 0.1},
            principal=GATEWAY_SA,
            labels={"developer": alias, "team": team},
            user_agent="claude-gateway/1.8 anthropic-vertex-python/0.72",
        )
        for alias, team in gw
    ]
    out.append(
        Caller(
            "payments-bot",
            "gateway",
            PROD,
            3.0,
            {"haiku45": 1.0},
            {"global": 1.0},
            principal=GATEWAY_SA,
            labels={"team": "payments"},
            user_agent="claude-gateway/1.8 anthropic-vertex-python/0.72",
        )
    )
    direct = [
        ("wei.zhang", SANDBOX),
        ("ahmed.hassan", SANDBOX),
        ("olivia.brown", SANDBOX),
        ("sara.lindqvist", SANDBOX),
        ("jose.alvarez", PROD),
        ("mia.johansson", PROD),
        ("r.kim", PROD),
    ]
    for local, project in direct:
        domain = "partner.example" if local == "r.kim" else "acme.example"
        email = f"{local}@{domain}"
        regions = {"us-east5": 1.0} if project == SANDBOX else {"global": 0.6, "us-east5": 0.4}
        out.append(
            Caller(
                email,
                "direct",
                project,
                5.0,
                {"sonnet45": 0.65, "opus46": 0.15, "haiku45": 0.2},
                regions,
                principal=email,
            )
        )
    out.append(
        Caller(
            CI_SA,
            "direct",
            PROD,
            3.0,
            {"haiku45": 0.6, "sonnet45": 0.4},
            {"global": 1.0},
            principal=CI_SA,
            user_agent="claude-cli/2.0.42 (ci)",
            nightly=True,
        )
    )
    out.append(
        Caller(
            BATCH_SA,
            "direct",
            SANDBOX,
            3.0,
            {"sonnet4": 1.0},
            {"us-east5": 1.0},
            principal=BATCH_SA,
            delegation="daniel.cohen@acme.example",
            user_agent="python-requests/2.32",
        )
    )
    return out


def weighted(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def usage(rng: random.Random, model: str) -> dict:
    """An Anthropic usage block shaped like Claude Code traffic: big cache reads."""
    one_hour = rng.random() < 0.12
    read = rng.choice([0, rng.randint(8_000, 160_000), rng.randint(20_000, 90_000)])
    created = rng.choice([0, 0, rng.randint(200, 18_000)])
    five, hour = (0, created) if one_hour else (created, 0)
    output = rng.randint(40, 4_000) if model != "haiku45" else rng.randint(10, 800)
    return {
        "input_tokens": rng.randint(1, 60),
        "cache_creation_input_tokens": created,
        "cache_read_input_tokens": read,
        "cache_creation": {"ephemeral_5m_input_tokens": five, "ephemeral_1h_input_tokens": hour},
        "output_tokens": output,
        "service_tier": "standard",
    }


ALPHANUMERIC = string.ascii_letters + string.digits


def rand_id(rng: random.Random, n: int, alphabet: str = ALPHANUMERIC) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def ts(t: datetime, rng: random.Random | None = None) -> str:
    """RFC 3339 with nanoseconds, as Cloud Logging writes them."""
    nanos = f"{t.microsecond:06d}" + (f"{rng.randint(0, 999):03d}" if rng else "000")
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + nanos + "Z"


def key(call: Call) -> tuple[str, str, str]:
    return (call.caller.project, call.region, call.model)


def schedule(rng: random.Random) -> list[Call]:
    calls: list[Call] = []
    taken: dict[tuple[str, str, str], list[float]] = defaultdict(list)

    def free(k: tuple[str, str, str], at: datetime) -> bool:
        x = at.timestamp()
        return all(abs(x - y) >= MIN_GAP_SECONDS for y in taken[k])

    day = FIRST_DAY
    while day <= LAST_DAY:
        workday = day.weekday() < 5
        for caller in callers():
            if caller.nightly:
                n, hours = (round(caller.per_workday), (2, 3))
            else:
                n = sum(rng.random() < caller.per_workday / 20 for _ in range(20 if workday else 2))
                hours = (8, 18)
            for _ in range(n):
                model = weighted(rng, caller.models)
                region = weighted(rng, caller.regions)
                for _attempt in range(50):
                    at = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(
                        hours=rng.randint(*hours),
                        seconds=rng.randint(0, 3599),
                        microseconds=rng.randint(0, 999_999),
                    )
                    call = Call(
                        at,
                        caller,
                        model,
                        region,
                        rng.choice(["StreamRawPredict"] * 6 + ["RawPredict"]),
                    )
                    if free(key(call), at):
                        break
                else:
                    continue
                taken[key(call)].append(at.timestamp())
                calls.append(call)
                if (
                    caller.channel == "direct"
                    and caller.principal == caller.name
                    and "@acme" in caller.name
                    and rng.random() < 0.06
                ):
                    # Claude Code counts tokens before a big prompt: not billable, global only.
                    calls.append(
                        Call(
                            at - timedelta(milliseconds=rng.randint(300, 900)),
                            caller,
                            model,
                            "global",
                            "RawPredict",
                            count_tokens=True,
                        )
                    )
        day += timedelta(days=1)
    planted(rng, calls, taken)
    for call in calls:
        if call.status == 0 and not call.count_tokens:
            call.usage = usage(rng, call.model)
            if call.token_at is None:
                skew = (
                    rng.uniform(0.05, 0.3)
                    if call.caller.channel == "gateway"
                    else rng.uniform(-MAX_SKEW_SECONDS, MAX_SKEW_SECONDS)
                )
                call.token_at = call.at + timedelta(seconds=skew)
    calls.sort(key=lambda c: c.at)
    return calls


def planted(rng: random.Random, calls: list[Call], taken: dict) -> None:
    by_name = {c.name: c for c in callers()}
    wei, ahmed = by_name["wei.zhang@acme.example"], by_name["ahmed.hassan@acme.example"]
    olivia, jose = by_name["olivia.brown@acme.example"], by_name["jose.alvarez@acme.example"]

    def clear(k: tuple[str, str, str], at: datetime, seconds: float = 30) -> None:
        calls[:] = [
            c
            for c in calls
            if not (
                key(c) == k and abs((c.at - at).total_seconds()) < seconds and not c.count_tokens
            )
        ]

    # An ambiguous concurrent pair: two people, same model and region, 0.3 s apart.
    at = datetime(2026, 11, 5, 15, 17, 42, 104_000, tzinfo=UTC)
    clear((SANDBOX, "us-east5", "sonnet45"), at)
    calls.append(
        Call(
            at,
            wei,
            "sonnet45",
            "us-east5",
            "StreamRawPredict",
            token_at=at + timedelta(milliseconds=450),
            note="ambiguous pair",
        )
    )
    calls.append(
        Call(
            at + timedelta(milliseconds=300),
            ahmed,
            "sonnet45",
            "us-east5",
            "StreamRawPredict",
            token_at=at + timedelta(milliseconds=200),
            note="ambiguous pair",
        )
    )
    # Tokens logged but no audit entry (Data Access logging was briefly off for the project).
    at = datetime(2026, 11, 9, 10, 4, 11, 500_000, tzinfo=UTC)
    clear((SANDBOX, "us-east5", "haiku45"), at)
    calls.append(
        Call(at, olivia, "haiku45", "us-east5", "RawPredict", audit=False, note="no audit entry")
    )
    # An audit entry whose tokens never reached the collector.
    at = datetime(2026, 11, 10, 16, 40, 2, 250_000, tzinfo=UTC)
    clear((PROD, "global", "opus46"), at)
    calls.append(Call(at, jose, "opus46", "global", "StreamRawPredict", note="audit only"))
    # A quota burst: the data team on regional Sonnet 4.5, 2026-11-12 14:00 for 20 minutes.
    base = datetime(2026, 11, 12, 14, 0, tzinfo=UTC)
    clear((SANDBOX, "us-east5", "sonnet45"), base + timedelta(minutes=10), 700)
    data_team = [
        by_name[f"{n}@acme.example"]
        for n in ("wei.zhang", "ahmed.hassan", "olivia.brown", "sara.lindqvist")
    ]
    for i in range(60):
        at = base + timedelta(seconds=i * 20, milliseconds=rng.randint(0, 999))
        call = Call(
            at, data_team[i % 4], "sonnet45", "us-east5", "StreamRawPredict", note="quota burst"
        )
        if i % 3 == 1:
            call.status, call.message = (
                8,
                (
                    "Quota exceeded for aiplatform.googleapis.com/online_prediction_input_tokens_"
                    "per_minute_per_base_model with base model: anthropic-claude-sonnet-4-5. "
                    "Please submit a quota increase request."
                ),
            )
        calls.append(call)
    # Failed calls: a beta header Vertex rejects, and two UNAVAILABLE.
    for i in range(8):
        caller = [jose, by_name["mia.johansson@acme.example"]][i % 2]
        at = datetime(2026, 11, 2 + 2 * i, 11, 5 + i, 7, 300_000, tzinfo=UTC)
        call = Call(at, caller, "opus46", "us-east5", "StreamRawPredict", note="error")
        call.status, call.message = (
            (
                3,
                "Unexpected value(s) `interleaved-thinking-2025-05-14` "
                "for the `anthropic-beta` header.",
            )
            if i < 6
            else (14, "The service is currently unavailable.")
        )
        calls.append(call)


def resource_name(call: Call) -> str:
    model = "count-tokens" if call.count_tokens else MODELS[call.model][0]
    return (
        f"projects/{call.caller.project}/locations/{call.region}/publishers/anthropic/"
        f"models/{model}"
    )


def audit_entry(rng: random.Random, call: Call) -> dict:
    method = f"google.cloud.aiplatform.v1.PredictionService.{call.method}"
    name = resource_name(call)
    auth: dict = {"principalEmail": call.caller.principal}
    if call.caller.principal.endswith("gserviceaccount.com"):
        auth["principalSubject"] = f"serviceAccount:{call.caller.principal}"
    if call.caller.delegation:
        auth["serviceAccountDelegationInfo"] = [
            {"firstPartyPrincipal": {"principalEmail": call.caller.delegation}}
        ]
    payload: dict = {
        "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
        "status": ({"code": call.status, "message": call.message} if call.status else {}),
        "authenticationInfo": auth,
        "requestMetadata": {
            "callerIp": f"203.0.113.{rng.randint(2, 250)}",
            "callerSuppliedUserAgent": f"{call.caller.user_agent},gzip(gfe)",
            "requestAttributes": {"time": ts(call.at, rng), "auth": {}},
            "destinationAttributes": {},
        },
        "serviceName": "aiplatform.googleapis.com",
        "methodName": method,
        "authorizationInfo": [
            {
                "resource": name,
                "permission": "aiplatform.endpoints.predict",
                "granted": True,
                "resourceAttributes": {},
                "permissionType": "DATA_READ",
            }
        ],
        "resourceName": name,
        "request": {
            "@type": "type.googleapis.com/google.cloud.aiplatform.v1.RawPredictRequest",
            "endpoint": name,
        },
        "response": {"@type": "type.googleapis.com/google.api.HttpBody"},
    }
    insert_id = rand_id(rng, 12, string.ascii_lowercase + string.digits)
    call.insert_ids["audit"] = insert_id
    return {
        "protoPayload": payload,
        "insertId": insert_id,
        "resource": {
            "type": "audited_resource",
            "labels": {
                "method": method,
                "service": "aiplatform.googleapis.com",
                "project_id": call.caller.project,
            },
        },
        "timestamp": ts(call.at, rng),
        "severity": "ERROR" if call.status else "INFO",
        "logName": f"projects/{call.caller.project}/logs/cloudaudit.googleapis.com%2Fdata_access",
        "receiveTimestamp": ts(call.at + timedelta(milliseconds=rng.randint(300, 1500)), rng),
    }


def message(rng: random.Random, call: Call) -> dict:
    return {
        "id": "msg_vrtx_01" + rand_id(rng, 22),
        "type": "message",
        "role": "assistant",
        "model": MODELS[call.model][1],
        "content": [{"type": "text", "text": f"Here is the refactored function. [{SENTINEL}]"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": call.usage,
    }


def token_entry(rng: random.Random, call: Call) -> tuple[str, dict]:
    assert call.token_at is not None
    insert_id = rand_id(rng, 16, "0123456789abcdef")
    call.insert_ids["tokens"] = insert_id
    project = call.caller.project
    if call.caller.channel == "gateway":
        endpoint = resource_name(call)
        entry = {
            "insertId": insert_id,
            "jsonPayload": {
                "endpoint": endpoint,
                "method": call.method[0].lower() + call.method[1:],
                "latency_ms": rng.randint(900, 45_000),
                "request": {
                    "anthropic_version": "vertex-2023-10-16",
                    "max_tokens": 32000,
                    "messages": [{"role": "user", "content": f"Refactor this module [{SENTINEL}]"}],
                },
                "response": message(rng, call),
            },
            "resource": {
                "type": "cloud_run_revision",
                "labels": {
                    "project_id": project,
                    "service_name": "claude-gateway",
                    "revision_name": "claude-gateway-00042-xik",
                    "location": "us-central1",
                    "configuration_name": "claude-gateway",
                },
            },
            "timestamp": ts(call.token_at, rng),
            "severity": "INFO",
            "labels": dict(call.caller.labels or {}),
            "logName": f"projects/{project}/logs/{GATEWAY_LOG}",
            "receiveTimestamp": ts(call.token_at + timedelta(milliseconds=800), rng),
        }
        return GATEWAY_LOG, entry
    entry = {
        "insertId": insert_id,
        "jsonPayload": message(rng, call),
        "resource": {
            "type": "generic_task",
            "labels": {
                "project_id": project,
                "location": call.region,
                "namespace": "claude-code",
                "job": "usage-collector",
                "task_id": "collector-0",
            },
        },
        "timestamp": ts(call.token_at, rng),
        "severity": "INFO",
        "logName": f"projects/{project}/logs/{COLLECTOR_LOG}",
        "receiveTimestamp": ts(call.token_at + timedelta(seconds=2), rng),
    }
    return COLLECTOR_LOG, entry


def odd_entries(rng: random.Random) -> list[tuple[str, int, dict | str, str]]:
    """(log, shard, entry or raw line, what) planted lines that are not usage."""
    at = datetime(2026, 11, 3, 9, 0, 1, tzinfo=UTC)
    gemini = f"projects/{PROD}/locations/us-central1/publishers/google/models/gemini-2.5-flash"
    return [
        (
            GATEWAY_LOG,
            0,
            {
                "insertId": rand_id(rng, 16, "0123456789abcdef"),
                "textPayload": "claude-gateway 1.8 listening on :8080",
                "resource": {"type": "cloud_run_revision", "labels": {"project_id": PROD}},
                "timestamp": ts(at, rng),
                "severity": "INFO",
                "logName": f"projects/{PROD}/logs/{GATEWAY_LOG}",
            },
            "skipped: not Vertex AI",
        ),
        (
            GATEWAY_LOG,
            0,
            {
                "insertId": rand_id(rng, 16, "0123456789abcdef"),
                "jsonPayload": {
                    "endpoint": f"projects/{PROD}/locations/global/publishers/anthropic/models/"
                    "claude-opus-4-6",
                    "response": {
                        "type": "error",
                        "error": {"type": "overloaded_error", "message": "Overloaded"},
                        "request_id": "req_vrtx_011CV" + rand_id(rng, 18),
                    },
                },
                "resource": {"type": "cloud_run_revision", "labels": {"project_id": PROD}},
                "timestamp": ts(at + timedelta(minutes=7), rng),
                "severity": "WARNING",
                "labels": {"developer": "imoreau", "team": "search"},
                "logName": f"projects/{PROD}/logs/{GATEWAY_LOG}",
            },
            "unknown entry kind",
        ),
        (
            AUDIT_LOG,
            0,
            {
                "protoPayload": {
                    "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
                    "authenticationInfo": {"principalEmail": "noah.kim@acme.example"},
                    "serviceName": "aiplatform.googleapis.com",
                    "methodName": "google.cloud.aiplatform.v1.PredictionService.GenerateContent",
                    "resourceName": gemini,
                },
                "insertId": rand_id(rng, 12, string.ascii_lowercase + string.digits),
                "resource": {"type": "audited_resource", "labels": {"project_id": PROD}},
                "timestamp": ts(at + timedelta(minutes=12), rng),
                "severity": "INFO",
                "logName": f"projects/{PROD}/logs/cloudaudit.googleapis.com%2Fdata_access",
            },
            "skipped: gemini",
        ),
    ]


def hour_file(log: str, t: datetime, shard: int = 0) -> str:
    return f"{log}/{t:%Y/%m/%d}/{t:%H}:00:00_{t:%H}:59:59_S{shard}.json"


def generate(out: Path) -> dict:
    rng = random.Random(SEED)
    calls = schedule(rng)
    files: dict[str, list[tuple[str, str]]] = defaultdict(list)  # path -> (timestamp, line)

    def put(path: str, timestamp: str, entry: dict | str) -> None:
        text = (
            entry
            if isinstance(entry, str)
            else json.dumps(entry, separators=(",", ":"), ensure_ascii=False)
        )
        files[path].append((timestamp, text))

    counts: Counter[str] = Counter()
    tokens: Counter[str] = Counter()
    for call in calls:
        if call.audit:
            entry = audit_entry(rng, call)
            put(hour_file(AUDIT_LOG, call.at), entry["timestamp"], entry)
            counts["audit entries"] += 1
            counts[
                "count-tokens audit entries"
                if call.count_tokens
                else f"audit entries with status {call.status}"
            ] += 1
        if call.usage is not None and call.note != "audit only":
            log, entry = token_entry(rng, call)
            assert call.token_at is not None
            put(hour_file(log, call.token_at), entry["timestamp"], entry)
            counts[f"token entries ({log})"] += 1
            for k in (
                "input_tokens",
                "output_tokens",
                "cache_read_input_tokens",
                "cache_creation_input_tokens",
            ):
                tokens[k] += call.usage[k]
            for k, v in call.usage["cache_creation"].items():
                tokens[k] += v
    bad: list[dict[str, str]] = []
    for log, shard, entry, reason in odd_entries(rng):
        assert isinstance(entry, dict)
        path = hour_file(log, datetime.fromisoformat(entry["timestamp"][:19] + "+00:00"), shard)
        put(path, entry["timestamp"], entry)
        bad.append({"file": path, "timestamp": entry["timestamp"], "reason": reason})
    # A duplicate: one gateway entry written again into a second shard of its hour.
    dup = next(
        c
        for c in calls
        if c.caller.channel == "gateway" and c.usage and c.at.date() == date(2026, 11, 4)
    )
    assert dup.token_at is not None
    original = next(
        t for t in files[hour_file(GATEWAY_LOG, dup.token_at)] if dup.insert_ids["tokens"] in t[1]
    )
    put(hour_file(GATEWAY_LOG, dup.token_at, 1), original[0], original[1])
    # A malformed line: the collector was killed mid-write.
    cut_call = next(
        c
        for c in calls
        if c.caller.channel == "direct"
        and c.usage
        and c.at.date() == date(2026, 11, 6)
        and c.note == ""
    )
    assert cut_call.token_at is not None
    cut_path = hour_file(COLLECTOR_LOG, cut_call.token_at)
    cut_ts = ts(cut_call.token_at + timedelta(seconds=1))
    put(
        cut_path,
        cut_ts,
        '{"insertId":"'
        + rand_id(rng, 16, "0123456789abcdef")
        + '","jsonPayload":{"id":"msg_vrtx_01'
        + rand_id(rng, 22)
        + '","type":"mess',
    )
    bad.append({"file": cut_path, "timestamp": cut_ts, "reason": "malformed JSON"})

    target = out / "vertex"
    if target.exists():
        shutil.rmtree(target)
    for path, rows in sorted(files.items()):
        rows.sort(key=lambda r: r[0])
        file = target / path
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text("".join(line + "\n" for _t, line in rows), encoding="utf-8")
    for item in bad:  # line numbers after sorting
        rows = files[item["file"]]
        item["line"] = str(next(i for i, r in enumerate(rows, 1) if r[0] == item["timestamp"]))
    manifest = describe(calls, files, counts, tokens, bad, dup)
    (out / "vertex.manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    (out / "vertex.MANIFEST.md").write_text(markdown(manifest))
    return manifest


def describe(
    calls: list[Call],
    files: dict,
    counts: Counter,
    tokens: Counter,
    bad: list[dict[str, str]],
    dup: Call,
) -> dict:
    billable = [c for c in calls if c.usage is not None and c.note != "audit only"]
    by_note = Counter(c.note for c in calls if c.note)
    gateway = [c for c in billable if c.caller.channel == "gateway"]
    joined = [
        c
        for c in billable
        if c.caller.channel == "direct" and c.audit and c.note != "ambiguous pair"
    ]
    return {
        "period": [FIRST_DAY.isoformat(), LAST_DAY.isoformat()],
        "projects": [PROD, SANDBOX],
        "files": len(files),
        "lines": sum(len(v) for v in files.values()),
        "counts": dict(sorted(counts.items())),
        "token_requests": len(billable),
        "tokens": dict(sorted(tokens.items())),
        "gateway_token_entries_with_developer_label": sum(
            1 for c in gateway if (c.caller.labels or {}).get("developer")
        ),
        "gateway_token_entries_team_label_only": sum(
            1 for c in gateway if not (c.caller.labels or {}).get("developer")
        ),
        "collector_entries_attributed_by_join": len(joined),
        "ambiguous_pair": [c.insert_ids.get("tokens") for c in calls if c.note == "ambiguous pair"],
        "token_entry_without_audit": [
            c.insert_ids.get("tokens") for c in calls if c.note == "no audit entry"
        ],
        "audit_without_tokens": [
            c.insert_ids.get("audit") for c in calls if c.note == "audit only"
        ],
        "duplicate_insert_id": dup.insert_ids["tokens"],
        "throttled": sum(1 for c in calls if c.status == 8),
        "errors": sum(1 for c in calls if c.status not in (0, 8)),
        "count_tokens_calls": sum(1 for c in calls if c.count_tokens),
        "planted": dict(sorted(by_note.items())),
        "rejected": [
            {"location": f"vertex/{b['file']}:{b['line']}", "reason": b["reason"]}
            for b in bad
            if not b["reason"].startswith("skipped: ")
        ],
        "skipped": dict(
            sorted(
                Counter(
                    b["reason"].removeprefix("skipped: ")
                    for b in bad
                    if b["reason"].startswith("skipped: ")
                ).items()
            )
        ),
        "sentinel": SENTINEL,
    }


def markdown(m: dict) -> str:
    rows = "\n".join(f"| {k} | {v:,} |" for k, v in m["counts"].items())
    tok = "\n".join(f"| {k} | {v:,} |" for k, v in m["tokens"].items())
    rej = "\n".join(f"| `{r['location']}` | {r['reason']} |" for r in m["rejected"])
    return f"""# Vertex AI sample data

Generated by `python sample_data/generate_vertex.py` (standard library only, seed {SEED}).
Do not edit by hand. Period {m["period"][0]} .. {m["period"][1]} UTC; projects
{", ".join(m["projects"])}; {m["files"]} files, {m["lines"]:,} lines, in a Cloud Storage sink's
layout (`<log>/YYYY/MM/DD/HH:00:00_HH:59:59_S<n>.json`). Read with
`llmledger ingest vertex-files sample_data/vertex`.

| entries | count |
|---|---:|
{rows}

Requests with tokens: {m["token_requests"]:,} (token totals below; the duplicate counts once).
Throttled (RESOURCE_EXHAUSTED) {m["throttled"]}, other errors {m["errors"]},
count-tokens calls {m["count_tokens_calls"]} (not billable).

| tokens | total |
|---|---:|
{tok}

Attribution: {m["gateway_token_entries_with_developer_label"]:,} gateway entries carry a
`developer` label (plus {m["gateway_token_entries_team_label_only"]} with only `team`);
{m["collector_entries_attributed_by_join"]:,} collector entries are attributed by joining
them to exactly one audit entry; the ambiguous concurrent pair
(`{"`, `".join(m["ambiguous_pair"])}`) stays unattributed; one token entry has no audit entry
(`{m["token_entry_without_audit"][0]}`); one audit entry has no token entry
(`{m["audit_without_tokens"][0]}`). The entry `{m["duplicate_insert_id"]}` is written twice
(shards S0 and S1).

Bad input that must end in `rejected_records`:

| location | reason |
|---|---|
{rej}

Valid entries out of scope, counted as skipped by kind (not rejected):
{", ".join(f"{n} {kind}" for kind, n in m["skipped"].items())}.

Every body contains `{m["sentinel"]}`.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args()
    m = generate(args.out)
    print(f"wrote {m['files']} files, {m['lines']} lines to {args.out / 'vertex'}")


if __name__ == "__main__":
    main()
