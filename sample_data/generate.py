#!/usr/bin/env python3
"""Generate llmledger's sample data, deterministically.

    python sample_data/generate.py            # rewrites the files next to this script
    python sample_data/generate.py --out DIR  # writes (replaces) the same files in DIR

Standard library only, no network, one fixed seed: two runs produce byte-identical trees (gzip
members carry mtime 0 and no file name). What it writes (see MANIFEST.md, also generated):

- people.csv                       the people directory
- bedrock/s3/bedrock-logs/AWSLogs/  Bedrock invocation logs in S3's real key layout
                                   (json.gz, one record per line), with body objects under data/,
                                   permission-check markers, one hour folder of planted bad input
- bedrock/cloudwatch/              records to replay into a CloudWatch log group (ndjson)
- llmledger.toml                   the demo config (budgets sized from the generated spend)
- manifest.json, MANIFEST.md       counts, planted bad input, expected outcomes

Every body (inputBodyJson, outputBodyJson, data/ objects) contains the string
LLMLEDGER-BODY-SENTINEL so tests can prove no body text reaches the database.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
import json
import math
import random
import shutil
import subprocess
import sys
import time
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

SEED = 20261120
FIRST_DAY = date(2026, 10, 22)
LAST_DAY = date(2026, 11, 20)  # inclusive
BUDGET_MONTH = "2026-11"
SENTINEL = "LLMLEDGER-BODY-SENTINEL"
DOMAIN = "acme.example"
BUCKET = "acme-bedrock-logs"
KEY_PREFIX = "bedrock-logs"
ACCOUNTS = ("111122223333", "444455556666")
REGIONS = ("us-east-1", "us-west-2")
SSO_ROLE_SUFFIX = {"111122223333": "0123456789abcdef", "444455556666": "5f3e9a1c7b2d4e60"}
HUMAN_RECORDS = 36_000  # expected records from people (before the burst)
CLOUDWATCH_RECORDS = 2_000
CLOUDWATCH_ACCOUNT, CLOUDWATCH_REGION = "111122223333", "us-east-1"
# A week, so a replayer can shift it to "now" (moto keeps 14 days of events).
CLOUDWATCH_FIRST_DAY = date(2026, 11, 14)
# The one hour folder that holds the planted bad input and nothing else.
BAD_ACCOUNT, BAD_REGION = "111122223333", "us-east-1"
BAD_HOUR = datetime(2026, 11, 8, 4, tzinfo=UTC)
# A Wednesday afternoon burst against the us-east-1 Sonnet 4.5 geo quota (2M TPM).
BURST_START = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)
BURST_LOAD = (0.55, 0.70, 0.85, 0.95, 1.02, 0.98, 0.90, 0.75, 0.60, 0.45)  # share of 2M TPM
QUOTA_TPM = 2_000_000

# --------------------------------------------------------------------------------------------
# Models and prices
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Model:
    key: str
    model_id: str  # as logged
    canonical: str | None  # None: the price book does not know it
    family: str  # sonnet | opus | haiku
    scope: str  # global | geo | in_region
    api_model: str  # the model name inside the response body
    only_in: tuple[tuple[str, str], ...] = ()  # (account, region) where this id can appear
    from_day: date = FIRST_DAY


SONNET45 = "claude-sonnet-4-5-20250929"
MODELS = {
    m.key: m
    for m in [
        Model(
            "sonnet45_geo",
            f"us.anthropic.{SONNET45}-v1:0",
            "claude-sonnet-4-5",
            "sonnet",
            "geo",
            SONNET45,
        ),
        Model(
            "sonnet45_global",
            f"global.anthropic.{SONNET45}-v1:0",
            "claude-sonnet-4-5",
            "sonnet",
            "global",
            SONNET45,
        ),
        Model(
            "opus46_global",
            "global.anthropic.claude-opus-4-6-v1",
            "claude-opus-4-6",
            "opus",
            "global",
            "claude-opus-4-6",
        ),
        Model(
            "haiku45_geo",
            "us.anthropic.claude-haiku-4-5-20251001-v1:0",
            "claude-haiku-4-5",
            "haiku",
            "geo",
            "claude-haiku-4-5-20251001",
        ),
        Model(
            "sonnet4_in_region",
            "anthropic.claude-sonnet-4-20250514-v1:0",
            "claude-sonnet-4",
            "sonnet",
            "in_region",
            "claude-sonnet-4-20250514",
        ),
        Model(
            "opus41_geo",
            "us.anthropic.claude-opus-4-1-20250805-v1:0",
            "claude-opus-4-1",
            "opus",
            "geo",
            "claude-opus-4-1-20250805",
        ),
        Model(
            "sonnet45_profile_arn",
            f"arn:aws:bedrock:us-east-1:111122223333:inference-profile/us.anthropic.{SONNET45}-v1:0",
            "claude-sonnet-4-5",
            "sonnet",
            "geo",
            SONNET45,
            only_in=(("111122223333", "us-east-1"),),
        ),
        Model(
            "sonnet45_app_profile",
            "arn:aws:bedrock:us-west-2:444455556666:application-inference-profile/a1b2c3d4e5f6",
            "claude-sonnet-4-5",
            "sonnet",
            "geo",
            SONNET45,
            only_in=(("444455556666", "us-west-2"),),
        ),
        Model(
            "fable5_geo",
            "us.anthropic.claude-fable-5-20261101-v1:0",
            None,
            "sonnet",
            "geo",
            "claude-fable-5-20261101",
            from_day=date(2026, 11, 1),
        ),
    ]
}
APP_PROFILE_ARN = MODELS["sonnet45_app_profile"].model_id

# USD per million tokens: input, cache write 5m, cache write 1h, cache read, output (pricing.md).
PRICES = {
    "claude-sonnet-4-5": ("3", "3.75", "6", "0.30", "15"),
    "claude-sonnet-4": ("3", "3.75", "6", "0.30", "15"),
    "claude-opus-4-6": ("5", "6.25", "10", "0.50", "25"),
    "claude-opus-4-1": ("15", "18.75", "30", "1.50", "75"),
    "claude-haiku-4-5": ("1", "1.25", "2", "0.10", "5"),
}
GEO_PREMIUM = {"claude-sonnet-4-5", "claude-opus-4-6", "claude-haiku-4-5"}  # 1.1x off global
LONG_CONTEXT = {"claude-sonnet-4-5", "claude-sonnet-4"}  # >200k prompt: 2x input/cache, 1.5x out

# --------------------------------------------------------------------------------------------
# People
# --------------------------------------------------------------------------------------------

TEAMS = {  # team: (cost center, manager email local part)
    "platform": ("CC-1001", "dana.whitfield"),
    "payments": ("CC-1002", "marcus.bell"),
    "search": ("CC-1003", "ines.moreau"),
    "mobile": ("CC-1004", "sam.oconnor"),
    "data": ("CC-1005", "grace.liu"),
    "security": ("CC-1006", "rachel.stein"),
}
DIRECTOR = "cto"
# (local part, display name, team, aliases, how they sign in)
# sign-in forms: sso_email, sso_email_case (e-mail with capitals), sso_alias (an IAM Identity Center
# user name from aliases), sso_local (the e-mail's local part, not in aliases), oidc (Okta role,
# e-mail session), oidc_old (Okta with an old-domain e-mail from aliases), iam_user (an IAM user
# named in aliases), none (no Claude Code traffic)
PEOPLE = [
    ("cto", "Alex Morgan", "platform", "alex.morgan", "none"),
    ("dana.whitfield", "Dana Whitfield", "platform", "dwhitfield", "sso_email"),
    ("omar.haddad", "Omar Haddad", "platform", "", "sso_email"),
    ("jane.doe", "Jane Doe", "platform", "jdoe", "sso_alias"),
    ("li.wei", "Li Wei", "platform", "", "sso_email"),
    ("ben.carter", "Ben Carter", "platform", "bcarter", "sso_email"),
    ("sofia.rossi", "Sofia Rossi", "platform", "", "sso_email"),
    ("tom.baker", "Tom Baker", "platform", "", "sso_email"),
    ("ngozi.okafor", "Ngozi Okafor", "platform", "nokafor;dev-okafor", "iam_user"),
    ("marcus.bell", "Marcus Bell", "payments", "", "none"),
    ("priya.natarajan", "Priya Natarajan", "payments", "pnatarajan", "sso_alias"),
    ("lucas.martin", "Lucas Martin", "payments", "", "sso_email"),
    ("emma.schmidt", "Emma Schmidt", "payments", "", "sso_email"),
    ("kenji.watanabe", "Kenji Watanabe", "payments", "kwatanabe", "sso_email_case"),
    ("hannah.levi", "Hannah Levi", "payments", "", "sso_email"),
    ("diego.fernandez", "Diego Fernández", "payments", "", "sso_email"),
    ("aisha.khan", "Aisha Khan", "payments", "", "sso_email"),
    ("ines.moreau", "Inès Moreau", "search", "imoreau", "sso_email"),
    ("arjun.mehta", "Arjun Mehta", "search", "", "sso_local"),
    ("chloe.dubois", "Chloé Dubois", "search", "", "sso_email_case"),
    ("noah.kim", "Noah Kim", "search", "", "sso_email"),
    ("fatima.zahra", "Fatima Zahra", "search", "", "sso_email"),
    ("peter.novak", "Peter Novák", "search", "", "sso_email"),
    ("yuki.tanaka", "Yuki Tanaka", "search", "ytanaka", "sso_email"),
    ("sam.oconnor", "Sam O'Connor", "mobile", "", "oidc"),
    ("jose.alvarez", "José Álvarez", "mobile", "jalvarez", "sso_alias"),
    ("zoe.obrien", "Zoë O'Brien", "mobile", "", "oidc"),
    ("liam.walsh", "Liam Walsh", "mobile", "", "oidc"),
    ("mia.johansson", "Mia Johansson", "mobile", "", "oidc"),
    ("ravi.shankar", "Ravi Shankar", "mobile", "", "oidc"),
    ("ella.nguyen", "Ella Nguyen", "mobile", "", "oidc"),
    ("victor.petrov", "Victor Petrov", "mobile", "vpetrov", "oidc"),
    ("grace.liu", "Grace Liu", "data", "", "oidc"),
    ("maria.garcia", "María García", "data", "mgarcia;maria.garcia@acme-old.example", "oidc_old"),
    ("ahmed.hassan", "Ahmed Hassan", "data", "", "oidc"),
    ("olivia.brown", "Olivia Brown", "data", "", "oidc"),
    ("daniel.cohen", "Daniel Cohen", "data", "", "oidc"),
    ("sara.lindqvist", "Sara Lindqvist", "data", "", "oidc"),
    ("wei.zhang", "Wei Zhang", "data", "", "sso_local"),
    ("kofi.mensah", "Kofi Mensah", "data", "", "oidc"),
    ("rachel.stein", "Rachel Stein", "security", "", "none"),
    ("ivan.kuznetsov", "Ivan Kuznetsov", "security", "ikuznetsov", "sso_alias"),
    ("laura.bianchi", "Laura Bianchi", "security", "", "sso_email"),
    ("ethan.wright", "Ethan Wright", "security", "", "sso_email"),
    ("nadia.rahman", "Nadia Rahman", "security", "", "sso_email"),
    ("felix.wagner", "Felix Wagner", "security", "", "sso_email"),
]
HOME_ACCOUNT = {  # teams' main AWS account
    "platform": "111122223333",
    "data": "111122223333",
    "security": "111122223333",
    "payments": "444455556666",
    "search": "444455556666",
    "mobile": "444455556666",
}
CONTRACTORS = ["contractor.sam@partner.example", "ext.jordan@partner.example"]
MAPPED_API_KEY, UNMAPPED_API_KEY = "BedrockAPIKey-x7k2", "BedrockAPIKey-q9m4"
MAPPED_API_KEY_DEVELOPER = f"omar.haddad@{DOMAIN}"
CI_ARN_TAIL = "assumed-role/ci-runner/i-0abc123def4567890"
LITELLM_ARN = "arn:aws:sts::111122223333:assumed-role/litellm-proxy/litellm-session"
RANKER_ARN_TAIL = "assumed-role/ranker-batch/ranker-job-42"
UNATTRIBUTED = "unattributed"


def email(local: str) -> str:
    return f"{local}@{DOMAIN}"


# --------------------------------------------------------------------------------------------
# Callers: who sends traffic, from where, with which models and operations
# --------------------------------------------------------------------------------------------

Partition = tuple[str, str]  # (account, region)


def no_metadata(rng: random.Random) -> dict[str, str] | None:
    return None


@dataclass
class Caller:
    name: str  # for statistics
    kind: str  # person | contractor | api_key_mapped | api_key_unmapped | ci | gateway | batch
    weight: float  # expected records over the period
    profile: Callable[[datetime], float]  # relative traffic by hour
    partitions: list[tuple[Partition, float]]
    models: dict[str, float]
    operations: dict[str, float]
    arn: Callable[[random.Random, str], str]  # (rng, account) -> identity.arn
    developer: str  # who the config should resolve this caller to
    team: str
    metadata: Callable[[random.Random], dict[str, str] | None] = no_metadata
    sign_in: str = ""
    # Days on which the caller also works from another region or account (a region test, a
    # migration): their traffic there comes in bursts, not as a trickle through every hour.
    special_days: dict[date, list[tuple[Partition, float]]] = field(default_factory=dict)

    def partitions_on(self, day: date) -> list[tuple[Partition, float]]:
        return self.special_days.get(day, self.partitions)


CLAUDE_CODE_OPS = {"InvokeModelWithResponseStream": 0.86, "InvokeModel": 0.12, "Converse": 0.02}
DEFAULT_MODELS = {
    "sonnet45_geo": 0.40,
    "sonnet45_global": 0.12,
    "opus46_global": 0.14,
    "haiku45_geo": 0.13,
    "sonnet4_in_region": 0.06,
    "opus41_geo": 0.025,
    "sonnet45_profile_arn": 0.06,
    "sonnet45_app_profile": 0.06,
    "fable5_geo": 0.003,
}


def sometimes(
    tags: dict[str, str], share: float
) -> Callable[[random.Random], dict[str, str] | None]:
    """requestMetadata sent on a share of a caller's requests."""

    def pick(rng: random.Random) -> dict[str, str] | None:
        return dict(tags) if share >= 1 or rng.random() < share else None

    return pick


def sso_arn(account: str, session: str) -> str:
    return (
        f"arn:aws:sts::{account}:assumed-role/AWSReservedSSO_ClaudeCodeUsers_"
        f"{SSO_ROLE_SUFFIX[account]}/{session}"
    )


def oidc_arn(account: str, session: str) -> str:
    return f"arn:aws:sts::{account}:assumed-role/BedrockOktaFederatedRole/{session}"


def person_arn(local: str, aliases: str, sign_in: str) -> Callable[[random.Random, str], str]:
    mail = email(local)
    alias_list = [a for a in aliases.split(";") if a]

    def arn(rng: random.Random, account: str) -> str:
        if rng.random() < 0.08:  # everyone sometimes signs in the plain way
            return sso_arn(account, mail)
        if sign_in == "sso_email":
            return sso_arn(account, mail)
        if sign_in == "sso_email_case":
            return sso_arn(
                account, ".".join(p.capitalize() for p in local.split(".")) + "@" + DOMAIN
            )
        if sign_in == "sso_alias":
            return sso_arn(account, alias_list[0])
        if sign_in == "sso_local":
            return sso_arn(account, local)
        if sign_in == "oidc":
            return oidc_arn(account, mail)
        if sign_in == "oidc_old":
            return oidc_arn(account, alias_list[1] if rng.random() < 0.5 else mail)
        if sign_in == "iam_user":
            return f"arn:aws:iam::{account}:user/{alias_list[1]}"
        raise ValueError(sign_in)

    return arn


def build_callers(rng: random.Random) -> list[Caller]:
    callers: list[Caller] = []
    weekdays = [
        FIRST_DAY + timedelta(days=i)
        for i in range((LAST_DAY - FIRST_DAY).days + 1)
        if (FIRST_DAY + timedelta(days=i)).weekday() < 5
    ]
    team_away_days = {team: sorted(rng.sample(weekdays, 3)) for team in TEAMS}
    for n, (local, _name, team, aliases, sign_in) in enumerate(PEOPLE):
        if sign_in == "none":
            continue
        home = HOME_ACCOUNT[team]
        other = ACCOUNTS[1] if home == ACCOUNTS[0] else ACCOUNTS[0]
        # Teams of the first account work from us-east-1, the others from us-west-2. On three
        # team days some traffic goes to the other region; every fourth person also spends a day
        # in the other account.
        home_region = REGIONS[0] if home == ACCOUNTS[0] else REGIONS[1]
        away_region = REGIONS[1] if home_region == REGIONS[0] else REGIONS[0]
        partitions = [((home, home_region), 1.0)]
        special = {
            d: [((home, home_region), 0.6), ((home, away_region), 0.4)]
            for d in team_away_days[team]
        }
        if n % 4 == 0 and sign_in != "iam_user":  # an IAM user lives in one account
            special[rng.choice(weekdays)] = [
                ((home, home_region), 0.5),
                ((other, home_region), 0.5),
            ]
        models = dict(DEFAULT_MODELS)
        taste = rng.random()
        if taste < 0.2:  # an Opus fan
            models["opus46_global"] *= 2.5
            models["opus41_geo"] *= 2
        elif taste < 0.35:  # cost-conscious
            models["haiku45_geo"] *= 2.5
            models["sonnet45_global"] *= 2
        is_manager = any(m == local for _, m in TEAMS.values())
        activity = rng.uniform(0.4, 1.6) * (0.35 if is_manager else 1.0)
        meta: Callable[[random.Random], dict[str, str] | None] = no_metadata
        if team == "search":
            meta = sometimes({"team": "search", "project": "ranker"}, 0.3)
        elif local in ("lucas.martin", "emma.schmidt"):
            meta = sometimes({"team": "payments", "project": "ledger-migration"}, 0.5)
        callers.append(
            Caller(
                name=email(local),
                kind="person",
                weight=activity,
                profile=human_profile,
                partitions=partitions,
                models=models,
                operations=CLAUDE_CODE_OPS,
                arn=person_arn(local, aliases, sign_in),
                developer=email(local),
                team=team,
                metadata=meta,
                sign_in=sign_in,
                special_days=special,
            )
        )

    callers.append(
        Caller(
            name=CONTRACTORS[0],
            kind="contractor",
            weight=0.6,
            profile=human_profile,
            partitions=[(("444455556666", "us-west-2"), 1.0)],
            models=DEFAULT_MODELS,
            operations=CLAUDE_CODE_OPS,
            arn=lambda rng, a: oidc_arn(a, CONTRACTORS[0]),
            developer=CONTRACTORS[0],
            team=UNATTRIBUTED,
            sign_in="oidc",
        )
    )
    callers.append(
        Caller(
            name=CONTRACTORS[1],
            kind="contractor",
            weight=0.4,
            profile=human_profile,
            partitions=[(("111122223333", "us-east-1"), 1.0)],
            models=DEFAULT_MODELS,
            operations=CLAUDE_CODE_OPS,
            arn=lambda rng, a: sso_arn(a, CONTRACTORS[1]),
            developer=CONTRACTORS[1],
            team=UNATTRIBUTED,
            sign_in="sso_email",
        )
    )

    scale = HUMAN_RECORDS / sum(c.weight for c in callers)
    for c in callers:
        c.weight *= scale
    callers += [
        Caller(
            name="litellm-proxy",
            kind="gateway",
            weight=4_500,
            profile=gateway_profile,
            partitions=[(("111122223333", "us-east-1"), 1.0)],
            models={"sonnet45_geo": 0.55, "opus46_global": 0.2, "haiku45_geo": 0.25},
            operations={
                "Converse": 0.35,
                "InvokeModelWithResponseStream": 0.45,
                "InvokeModel": 0.20,
            },
            arn=lambda rng, a: LITELLM_ARN,
            developer=UNATTRIBUTED,
            team=UNATTRIBUTED,
        ),
        Caller(
            name="ci-runner",
            kind="ci",
            weight=1_200,
            profile=ci_profile,
            partitions=[(("111122223333", "us-east-1"), 0.7), (("444455556666", "us-west-2"), 0.3)],
            models={"haiku45_geo": 0.5, "sonnet45_geo": 0.4, "sonnet45_global": 0.1},
            operations={"InvokeModel": 0.7, "InvokeModelWithResponseStream": 0.3},
            arn=lambda rng, a: f"arn:aws:sts::{a}:{CI_ARN_TAIL}",
            developer=UNATTRIBUTED,
            team="platform",
        ),
        Caller(
            name=MAPPED_API_KEY,
            kind="api_key_mapped",
            weight=400,
            profile=human_profile,
            partitions=[(("111122223333", "us-east-1"), 1.0)],
            models={"sonnet45_geo": 0.7, "sonnet45_global": 0.3},
            operations={"InvokeModel": 0.8, "InvokeModelWithResponseStream": 0.2},
            arn=lambda rng, a: f"arn:aws:iam::{a}:user/{MAPPED_API_KEY}",
            developer=MAPPED_API_KEY_DEVELOPER,
            team="platform",
        ),
        Caller(
            name=UNMAPPED_API_KEY,
            kind="api_key_unmapped",
            weight=250,
            profile=human_profile,
            partitions=[(("444455556666", "us-west-2"), 1.0)],
            models={"sonnet45_geo": 0.6, "haiku45_geo": 0.4},
            operations={"Converse": 0.6, "InvokeModel": 0.4},
            arn=lambda rng, a: f"arn:aws:iam::{a}:user/{UNMAPPED_API_KEY}",
            developer=UNATTRIBUTED,
            team=UNATTRIBUTED,
        ),
        Caller(
            name="ranker-batch",
            kind="batch",
            weight=250,
            profile=batch_profile,
            partitions=[(("444455556666", "us-west-2"), 1.0)],
            models={"haiku45_geo": 0.8, "sonnet45_app_profile": 0.2},
            operations={"Converse": 1.0},
            arn=lambda rng, a: f"arn:aws:sts::{a}:{RANKER_ARN_TAIL}",
            developer=UNATTRIBUTED,
            team="search",
            metadata=sometimes({"team": "search", "project": "ranker"}, 1.0),
        ),
    ]
    return callers


# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------

PROMPTS = [
    "Refactor the retry loop in payments/client.py so it backs off exponentially.",
    "Why does test_ledger_rollup fail on the last day of the month?",
    "Add type hints to the ingest cursor module and fix the mypy errors.",
    "Write a migration that adds a nullable cost_center column to the accounts table.",
    "Explain what this SQL window function does and whether it can double count.",
    "Run the unit tests and summarise the failures.",
    "Rename the flag --since to --from everywhere and update the docs.",
    "The Android build fails with a duplicate class error after the Gradle upgrade.",
    "Find where we log the full request body and remove it.",
    "Draft a README section on how to configure the search ranker service.",
    "Convert this callback-based function to async/await.",
    "Review this diff for race conditions around the cache invalidation.",
]
REPLIES = [
    "I'll start by reading the file to see how the retries are structured.",
    "The failure comes from comparing a naive date with a timezone-aware one.",
    "Here is the updated function; the tests pass locally.",
    "I found two places where the body is logged; both are removed below.",
    "Let me run the test suite first to see the current state.",
    "The window is partitioned by account only, so rows from two regions are summed twice.",
]
STOP_REASONS = ("tool_use", "tool_use", "end_turn")
SYSTEM_TEXT = "You are Claude Code, Anthropic's official CLI for Claude."
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
GEO_INFERENCE_REGIONS = ("us-east-1", "us-east-2", "us-west-2")
GLOBAL_INFERENCE_REGIONS = ("us-east-1", "us-east-2", "us-west-2", "eu-west-1", "ap-northeast-1")


@dataclass
class Tokens:
    input: int = 0
    cache_read: int = 0
    cache_write_5m: int = 0
    cache_write_1h: int = 0
    output: int = 0

    @property
    def cache_write(self) -> int:
        return self.cache_write_5m + self.cache_write_1h

    @property
    def prompt(self) -> int:
        return self.input + self.cache_read + self.cache_write

    @property
    def quota_burn(self) -> int:  # bedrock.md §4.2: input + cache write + 5 x output
        return self.input + self.cache_write + 5 * self.output


@dataclass
class Event:
    """One generated record plus what the generator knows about it (never written into it)."""

    record: dict
    caller: Caller
    model: Model
    tokens: Tokens
    status: str  # ok | throttled | error
    long_context: bool = False
    body_object: tuple[str, bytes] | None = None  # (S3 key, gzip) of a data/ body object
    tags: list[str] = field(default_factory=list)

    @property
    def at(self) -> datetime:
        return datetime.strptime(self.record["timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def request_id(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    variant = "89ab"[rng.getrandbits(2)]
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant}{h[17:20]}-{h[20:32]}"


def message_id(rng: random.Random) -> str:
    return "msg_bdrk_01" + "".join(rng.choice(BASE62) for _ in range(22))


def weighted(rng: random.Random, weights: dict[str, float]) -> str:
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


def sample_tokens(
    rng: random.Random, model: Model, *, one_hour: bool, long_context: bool
) -> Tokens:
    if model.family == "haiku":
        t = Tokens(
            input=int(rng.triangular(20, 3000, 300)),
            cache_read=0 if rng.random() < 0.5 else rng.randint(3_000, 30_000),
            cache_write_5m=rng.randint(200, 4_000) if rng.random() < 0.6 else 0,
            output=int(rng.triangular(20, 800, 150)),
        )
        return t
    r = rng.random()
    uncached = (
        rng.randint(1, 40)
        if r < 0.55
        else rng.randint(40, 2_000)
        if r < 0.9
        else rng.randint(2_000, 4_000)
    )
    if long_context:
        read, write = rng.randint(196_000, 420_000), rng.randint(5_000, 30_000)
    elif rng.random() < 0.08:  # a session's first request writes the cache
        read, write = rng.randint(0, 12_000), rng.randint(15_000, 40_000)
    else:
        read, write = (
            int(rng.triangular(15_000, 150_000, 60_000)),
            int(rng.triangular(100, 12_000, 1_500)),
        )
    # Prompts stay under 194k (4k + 150k + 40k) unless long context is meant, so no record
    # crosses the 200k long-context line by accident.
    t = Tokens(
        input=uncached,
        cache_read=read,
        cache_write_5m=write,
        output=int(rng.triangular(60, 4_000, 600)),
    )
    if one_hour:
        t.cache_write_1h = write if rng.random() < 0.5 else int(write * rng.uniform(0.3, 0.9))
        t.cache_write_5m = write - t.cache_write_1h
    return t


def prompt_text(rng: random.Random) -> str:
    return f"{rng.choice(PROMPTS)} {rng.choice(PROMPTS)} [{SENTINEL}]"


def input_body(
    rng: random.Random, model: Model, operation: str, *, one_hour: bool, long_context: bool
) -> dict:
    text = prompt_text(rng)
    if operation == "Converse":
        return {
            "messages": [{"role": "user", "content": [{"text": text}]}],
            "inferenceConfig": {"maxTokens": 4096, "temperature": 1.0},
        }
    cache = {"type": "ephemeral", "ttl": "1h"} if one_hour else {"type": "ephemeral"}
    beta = ["claude-code-20250219", "interleaved-thinking-2025-05-14"]
    if long_context:
        beta.append("context-1m-2025-08-07")
    return {
        "anthropic_version": "bedrock-2023-05-31",
        "anthropic_beta": beta,
        "max_tokens": 512 if model.family == "haiku" else 32000,
        "system": [{"type": "text", "text": SYSTEM_TEXT, "cache_control": cache}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": text, "cache_control": cache}]}
        ],
        "temperature": 1,
    }


def anthropic_usage(t: Tokens, output_tokens: int) -> dict:
    return {
        "input_tokens": t.input,
        "cache_creation_input_tokens": t.cache_write,
        "cache_read_input_tokens": t.cache_read,
        "cache_creation": {
            "ephemeral_5m_input_tokens": t.cache_write_5m,
            "ephemeral_1h_input_tokens": t.cache_write_1h,
        },
        "output_tokens": output_tokens,
    }


def output_body(rng: random.Random, model: Model, operation: str, t: Tokens) -> dict | list:
    reply = f"{rng.choice(REPLIES)} [{SENTINEL}]"
    stop = rng.choice(STOP_REASONS)
    latency = 800 + t.output * rng.randint(8, 25)
    if operation == "Converse":
        return {
            "output": {"message": {"role": "assistant", "content": [{"text": reply}]}},
            "stopReason": "end_turn" if stop == "tool_use" else stop,
            "metrics": {"latencyMs": latency},
            "usage": {
                "inputTokens": t.input,
                "cacheReadInputTokens": t.cache_read,
                "cacheWriteInputTokens": t.cache_write,
                "outputTokens": t.output,
                "totalTokens": t.prompt + t.output,
            },
        }
    if operation == "InvokeModel":
        return {
            "id": message_id(rng),
            "type": "message",
            "role": "assistant",
            "model": model.api_model,
            "content": [{"type": "text", "text": reply}],
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": anthropic_usage(t, t.output),
        }
    return [
        {
            "type": "message_start",
            "message": {
                "id": message_id(rng),
                "type": "message",
                "role": "assistant",
                "model": model.api_model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": anthropic_usage(t, 1),
            },
        },
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": reply}},
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop, "stop_sequence": None},
            "usage": {"output_tokens": t.output},
        },
        {
            "type": "message_stop",
            "amazon-bedrock-invocationMetrics": {
                "inputTokenCount": t.input,
                "outputTokenCount": t.output,
                "invocationLatency": latency,
                "firstByteLatency": rng.randint(300, 2500),
                "cacheReadInputTokenCount": t.cache_read,
                "cacheWriteInputTokenCount": t.cache_write,
            },
        },
    ]


def hour_folder(account: str, region: str, hour: datetime) -> str:
    return f"{KEY_PREFIX}/AWSLogs/{account}/BedrockModelInvocationLogs/{region}/{hour:%Y/%m/%d/%H}"


def make_event(
    rng: random.Random,
    at: datetime,
    account: str,
    region: str,
    caller: Caller,
    model: Model,
    operation: str,
    *,
    status: str = "ok",
    error_code: str | None = None,
    tokens: Tokens | None = None,
    long_context: bool = False,
    one_hour: bool = False,
    body_to_s3: bool = False,
) -> Event:
    rid = request_id(rng)
    if status != "ok":
        tokens = Tokens()
    elif tokens is None:
        tokens = sample_tokens(rng, model, one_hour=one_hour, long_context=long_context)
    record: dict = {
        "schemaType": "ModelInvocationLog",
        "schemaVersion": "1.0",
        "timestamp": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "accountId": account,
        "identity": {"arn": caller.arn(rng, account)},
        "region": region,
        "requestId": rid,
        "operation": operation,
        "modelId": model.model_id,
    }
    metadata = caller.metadata(rng)
    if metadata:
        record["requestMetadata"] = metadata
    body_in = input_body(rng, model, operation, one_hour=one_hour, long_context=long_context)
    inp: dict = {"inputContentType": "application/json"}
    body_object = None
    if body_to_s3:
        folder = hour_folder(account, region, at.replace(minute=0, second=0))
        key = f"{folder}/data/{rid}_input.json.gz"
        inp["inputBodyS3Path"] = f"s3://{BUCKET}/{key}"
        # The real object is > 100 KB; a few KB of conversation keeps the sample small.
        body_in["messages"] = [
            {
                "role": "user" if i % 2 == 0 else "assistant",
                "content": [{"type": "text", "text": prompt_text(rng)}],
            }
            for i in range(24)
        ]
        body_object = (key, gz(json.dumps(body_in, separators=(",", ":")).encode()))
    else:
        inp["inputBodyJson"] = body_in
    inp["inputTokenCount"] = tokens.input
    inp["cacheReadInputTokenCount"] = tokens.cache_read
    inp["cacheWriteInputTokenCount"] = tokens.cache_write
    record["input"] = inp
    if status == "ok":
        record["output"] = {
            "outputContentType": "application/json",
            "outputBodyJson": output_body(rng, model, operation, tokens),
            "outputTokenCount": tokens.output,
        }
    else:
        record["output"] = {"outputTokenCount": 0}
    if status == "ok" or error_code == "ModelErrorException":
        if model.scope == "in_region":
            record["inferenceRegion"] = region
        else:
            pool = GLOBAL_INFERENCE_REGIONS if model.scope == "global" else GEO_INFERENCE_REGIONS
            record["inferenceRegion"] = region if rng.random() < 0.6 else rng.choice(pool)
    if error_code:
        record["errorCode"] = error_code
    ev = Event(
        record, caller, model, tokens, status, long_context=long_context, body_object=body_object
    )
    if one_hour and status == "ok":
        ev.tags.append("cache_write_1h")
    if long_context:
        ev.tags.append("long_context")
    return ev


def pick_model(rng: random.Random, caller: Caller, account: str, region: str, day: date) -> Model:
    weights = {
        k: w
        for k, w in caller.models.items()
        if (not MODELS[k].only_in or (account, region) in MODELS[k].only_in)
        and day >= MODELS[k].from_day
    }
    return MODELS[weighted(rng, weights)]


def random_event(
    rng: random.Random,
    at: datetime,
    caller: Caller,
    *,
    busy: bool,
    partition: Partition | None = None,
) -> Event:
    if partition is None:
        parts = caller.partitions_on(at.date())
        partition = rng.choices([p for p, _ in parts], weights=[w for _, w in parts])[0]
    account, region = partition
    model = pick_model(rng, caller, account, region, at.date())
    operation = weighted(rng, caller.operations)
    r = rng.random()
    throttle_rate = 0.012 if busy else 0.004
    if r < throttle_rate:
        return make_event(
            rng,
            at,
            account,
            region,
            caller,
            model,
            operation,
            status="throttled",
            error_code="ThrottlingException",
        )
    if r < throttle_rate + 0.003:
        code = rng.choice(
            [
                "ValidationException",
                "ValidationException",
                "ModelErrorException",
                "ServiceUnavailableException",
            ]
        )
        return make_event(
            rng, at, account, region, caller, model, operation, status="error", error_code=code
        )
    sonnet_priced = model.canonical in LONG_CONTEXT
    long_context = sonnet_priced and rng.random() < 0.012
    one_hour = model.family == "sonnet" and operation == "InvokeModel" and rng.random() < 0.25
    body_to_s3 = rng.random() < 0.0008
    return make_event(
        rng,
        at,
        account,
        region,
        caller,
        model,
        operation,
        long_context=long_context,
        one_hour=one_hour,
        body_to_s3=body_to_s3,
    )


# --------------------------------------------------------------------------------------------
# Time
# --------------------------------------------------------------------------------------------


def hours(first: date, last: date) -> list[datetime]:
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    n = ((last - first).days + 1) * 24
    return [start + timedelta(hours=i) for i in range(n)]


def human_profile(h: datetime) -> float:
    """Working hours (weekdays 08-19 UTC) carry most of the traffic; weekends are light."""
    if h.weekday() < 5:
        return 10.0 if 8 <= h.hour <= 19 else 2.5 if h.hour in (6, 7, 20, 21) else 0.15
    return 1.0 if 9 <= h.hour <= 18 else 0.05


def gateway_profile(h: datetime) -> float:  # people behind the proxy, plus steady automation
    return 0.6 * human_profile(h) + 0.5


def ci_profile(h: datetime) -> float:  # CI runs on pushes
    if h.weekday() < 5:
        return 3.0 if 8 <= h.hour <= 19 else 0.4
    return 0.2


def batch_profile(h: datetime) -> float:  # a nightly job
    return 1.0 if h.hour in (2, 3) else 0.0


def poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


# --------------------------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------------------------


def gz(data: bytes) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", fileobj=buf, mode="wb", mtime=0) as f:
        f.write(data)
    return buf.getvalue()


def line(record: dict) -> str:
    return json.dumps(record, separators=(",", ":"))


def pick_caller(rng: random.Random, callers: list[Caller]) -> Caller:
    return rng.choices(callers, weights=[c.weight for c in callers])[0]


def generate_s3_events(rng: random.Random, callers: list[Caller]) -> list[Event]:
    all_hours = hours(FIRST_DAY, LAST_DAY)
    per_hour = [c.weight / sum(c.profile(h) for h in all_hours) for c in callers]
    events: list[Event] = []
    for h in all_hours:
        busy = h.weekday() < 5 and 8 <= h.hour <= 19
        for caller, rate in zip(callers, per_hour, strict=True):
            for _ in range(poisson(rng, rate * caller.profile(h))):
                at = h + timedelta(seconds=rng.randint(0, 3599))
                ev = random_event(rng, at, caller, busy=busy)
                if (ev.record["accountId"], ev.record["region"]) == (
                    BAD_ACCOUNT,
                    BAD_REGION,
                ) and h == BAD_HOUR:
                    continue  # that hour folder holds only the planted bad input
                events.append(ev)
    events += burst_events(rng, callers)
    events += edge_events(rng, callers)
    return events


def burst_events(rng: random.Random, callers: list[Caller]) -> list[Event]:
    """Ten minutes of a data-team agent fan-out that runs the us-east-1 geo Sonnet 4.5 quota hot."""
    crew = [c for c in callers if c.team == "data" and c.kind == "person"]
    model = MODELS["sonnet45_geo"]
    out: list[Event] = []
    for minute, load in enumerate(BURST_LOAD):
        start = BURST_START + timedelta(minutes=minute)
        burned = 0
        while burned < load * QUOTA_TPM * 0.97:
            t = Tokens(
                input=rng.randint(500, 3_000),
                cache_read=rng.randint(20_000, 120_000),
                cache_write_5m=rng.randint(15_000, 35_000),
                output=rng.randint(800, 2_500),
            )
            burned += t.quota_burn
            at = start + timedelta(seconds=rng.randint(0, 59))
            ev = make_event(
                rng,
                at,
                "111122223333",
                "us-east-1",
                rng.choice(crew),
                model,
                "InvokeModelWithResponseStream",
                tokens=t,
            )
            ev.tags.append("burst")
            out.append(ev)
        if load >= 0.95:
            for _ in range(rng.randint(8, 16)):
                at = start + timedelta(seconds=rng.randint(0, 59))
                ev = make_event(
                    rng,
                    at,
                    "111122223333",
                    "us-east-1",
                    rng.choice(crew),
                    model,
                    "InvokeModelWithResponseStream",
                    status="throttled",
                    error_code="ThrottlingException",
                )
                ev.tags.append("burst")
                out.append(ev)
    return out


def edge_events(rng: random.Random, callers: list[Caller]) -> list[Event]:
    """Prompts of exactly 200,000 and 200,001 tokens: only the second is long context."""
    omar = next(c for c in callers if c.developer == email("omar.haddad") and c.kind == "person")
    model = MODELS["sonnet45_geo"]
    out = []
    for minute, uncached in ((14, 1_000), (16, 1_001)):
        t = Tokens(input=uncached, cache_read=180_000, cache_write_5m=19_000, output=500)
        at = datetime(2026, 11, 10, 14, minute, 7, tzinfo=UTC)
        ev = make_event(
            rng,
            at,
            "111122223333",
            "us-east-1",
            omar,
            model,
            "InvokeModelWithResponseStream",
            tokens=t,
            long_context=t.prompt > 200_000,
        )
        ev.tags.append(f"prompt_{t.prompt}")
        out.append(ev)
    return out


def batch_name(rng: random.Random, hour: datetime, events: list[Event]) -> str:
    last = max((e.at for e in events), default=hour)
    delivered = min(last + timedelta(seconds=rng.randint(20, 90)), hour + timedelta(seconds=3599))
    return f"{delivered:%Y%m%dT%H%M%S}{rng.randint(0, 999):03d}Z_{rng.getrandbits(64):016x}.json.gz"


def write_s3_tree(rng: random.Random, out: Path, events: list[Event]) -> list[str]:
    """One batch file per account/region/hour with traffic; returns their paths."""
    by_file: dict[tuple[str, str, datetime], list[Event]] = defaultdict(list)
    for ev in events:
        hour = ev.at.replace(minute=0, second=0)
        by_file[(ev.record["accountId"], ev.record["region"], hour)].append(ev)
    written = []
    for account, region, hour in sorted(by_file):
        evs = sorted(
            by_file[(account, region, hour)],
            key=lambda e: (e.record["timestamp"], e.record["requestId"]),
        )
        folder = hour_folder(account, region, hour)
        rel = f"bedrock/s3/{folder}/{batch_name(rng, hour, evs)}"
        write_bytes(out / rel, gz("".join(line(e.record) + "\n" for e in evs).encode()))
        for e in evs:
            if e.body_object is not None:
                write_bytes(out / "bedrock/s3" / e.body_object[0], e.body_object[1])
        written.append(rel)
    for account in ACCOUNTS:  # zero-byte markers Bedrock writes when logging is configured
        write_bytes(
            out / f"bedrock/s3/{KEY_PREFIX}/AWSLogs/{account}/BedrockModelInvocationLogs/"
            "amazon-bedrock-logs-permission-check",
            b"",
        )
    write_bytes(out / f"bedrock/s3/{KEY_PREFIX}/amazon-bedrock-logs-permission-check", b"")
    return written


def write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


# --------------------------------------------------------------------------------------------
# Planted bad input
# --------------------------------------------------------------------------------------------


@dataclass
class BadLine:
    file: str
    line: int
    reason: str
    request_id: str | None = None


@dataclass
class BadInput:
    lines: list[BadLine] = field(default_factory=list)
    good_events: list[Event] = field(default_factory=list)  # valid records in the bad folder
    duplicate_request_id: str = ""
    duplicate_files: list[str] = field(default_factory=list)
    truncated_file: str = ""
    truncated_records: int = 0  # records written before cutting
    truncated_recoverable: int = 0  # complete lines a streaming reader gets before the cut
    truncated_request_ids: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


def write_bad_input(rng: random.Random, out: Path, callers: list[Caller]) -> BadInput:
    people = [c for c in callers if c.kind == "person" and HOME_ACCOUNT[c.team] == BAD_ACCOUNT]
    folder = hour_folder(BAD_ACCOUNT, BAD_REGION, BAD_HOUR)
    bad = BadInput()
    slot = [0]  # records are spread 50 s apart through the hour

    def good(n: int) -> list[Event]:
        evs = []
        for _ in range(n):
            at = BAD_HOUR + timedelta(seconds=slot[0] * 50 + rng.randint(0, 40))
            slot[0] += 1
            evs.append(
                random_event(
                    rng, at, rng.choice(people), busy=False, partition=(BAD_ACCOUNT, BAD_REGION)
                )
            )
        return evs

    def name(evs: list[Event]) -> str:
        return f"bedrock/s3/{folder}/{batch_name(rng, BAD_HOUR, evs)}"

    # 1. Malformed lines among good records.
    evs = good(12)
    broken = [e.record for e in good(3)]
    path = name(evs)
    missing_id = dict(broken[0])
    del missing_id["requestId"]
    wrong_type = json.loads(line(broken[1]))
    wrong_type["input"]["inputTokenCount"] = "many"
    missing_model = dict(broken[2])
    del missing_model["modelId"]
    truncated_json = line(evs[0].record)  # a copy of a good record, cut mid-way
    truncated_json = truncated_json[: len(truncated_json) // 2]
    plan: list[tuple[str, str | None, str | None]] = (
        [  # (text, reason, request id)
            (line(evs[0].record), None, None),
            (line(evs[1].record), None, None),
            (truncated_json, "truncated JSON (line ends mid-record)", None),
            (line(evs[2].record), None, None),
            ("not json", "not JSON", None),
            (line(evs[3].record), None, None),
            (line(missing_id), "missing requestId", None),
            (line(evs[4].record), None, None),
            (
                line(wrong_type),
                'input.inputTokenCount is a string ("many"), not an integer',
                broken[1]["requestId"],
            ),
            (line(evs[5].record), None, None),
            (line(missing_model), "missing modelId", broken[2]["requestId"]),
        ]
        + [(line(e.record), None, None) for e in evs[6:]]
    )
    write_bytes(out / path, gz("".join(text + "\n" for text, _, _ in plan).encode()))
    for n, (_, reason, rid) in enumerate(plan, start=1):
        if reason:
            bad.lines.append(BadLine(path, n, reason, rid))
    bad.good_events += evs
    bad.files.append(path)

    # 2. The same record, byte for byte, in two files.
    dup = good(1)[0]
    bad.duplicate_request_id = dup.record["requestId"]
    for count in (6, 5):
        evs = good(count)
        path = name(evs + [dup])
        lines = [line(e.record) for e in evs]
        lines.insert(len(lines) // 2, line(dup.record))
        write_bytes(out / path, gz("".join(text + "\n" for text in lines).encode()))
        bad.good_events += evs
        bad.duplicate_files.append(path)
        bad.files.append(path)
    bad.good_events.append(dup)

    # 3. One gzip cut short: ~30% of its bytes missing.
    evs = good(40)
    path = name(evs)
    blob = gz("".join(line(e.record) + "\n" for e in evs).encode())
    cut = blob[: int(len(blob) * 0.7)]
    write_bytes(out / path, cut)
    recovered = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(cut)
    bad.truncated_file = path
    bad.truncated_records = len(evs)
    bad.truncated_recoverable = recovered.count(b"\n")
    bad.truncated_request_ids = [e.record["requestId"] for e in evs]
    bad.files.append(path)
    return bad


# --------------------------------------------------------------------------------------------
# CloudWatch export
# --------------------------------------------------------------------------------------------


def cloudwatch_events(rng: random.Random, callers: list[Caller]) -> list[Event]:
    local = [
        c
        for c in callers
        if any(p == (CLOUDWATCH_ACCOUNT, CLOUDWATCH_REGION) for p, _ in c.partitions)
        and c.profile is not batch_profile
    ]
    hs = hours(CLOUDWATCH_FIRST_DAY, LAST_DAY)
    weights = [human_profile(h) + 0.3 for h in hs]
    out = []
    for h in rng.choices(hs, weights=weights, k=CLOUDWATCH_RECORDS):
        at = h + timedelta(seconds=rng.randint(0, 3599))
        out.append(
            random_event(
                rng,
                at,
                pick_caller(rng, local),
                busy=False,
                partition=(CLOUDWATCH_ACCOUNT, CLOUDWATCH_REGION),
            )
        )
    out.sort(key=lambda e: (e.record["timestamp"], e.record["requestId"]))
    return out


def write_cloudwatch(
    rng: random.Random, out: Path, events: list[Event], callers: list[Caller]
) -> list[BadLine]:
    folder = out / "bedrock/cloudwatch"
    write_bytes(folder / "events.ndjson", "".join(line(e.record) + "\n" for e in events).encode())
    # A few bad log-event messages, in their own file so events.ndjson replays cleanly.
    people = [c for c in callers if c.kind == "person"]
    extra = [
        random_event(
            rng,
            datetime(2026, 11, 20, 10, m, 0, tzinfo=UTC),
            rng.choice(people),
            busy=False,
            partition=(CLOUDWATCH_ACCOUNT, CLOUDWATCH_REGION),
        )
        for m in (1, 2, 3, 4)
    ]
    no_id = json.loads(line(extra[2].record))
    del no_id["requestId"]
    rows = [
        (line(extra[0].record), None),
        ("not json", "not JSON"),
        (line(extra[1].record)[:200], "truncated JSON (message ends mid-record)"),
        (line(no_id), "missing requestId"),
        (line(extra[3].record), None),
    ]
    rel = "bedrock/cloudwatch/malformed_events.ndjson"
    write_bytes(out / rel, "".join(text + "\n" for text, _ in rows).encode())
    return [BadLine(rel, n, reason) for n, (_, reason) in enumerate(rows, 1) if reason]


# --------------------------------------------------------------------------------------------
# Costs (the generator's own estimate, only to size the demo budgets)
# --------------------------------------------------------------------------------------------

MTOK = Decimal(1_000_000)


def list_cost(ev: Event) -> Decimal | None:
    canonical = ev.model.canonical
    if canonical is None:
        return None
    rate_in, rate_w5, rate_w1, rate_read, rate_out = (Decimal(p) for p in PRICES[canonical])
    if ev.long_context and canonical in LONG_CONTEXT:
        rate_in, rate_w5, rate_w1, rate_read = (
            2 * r for r in (rate_in, rate_w5, rate_w1, rate_read)
        )
        rate_out *= Decimal("1.5")
    t = ev.tokens
    cost = (
        t.input * rate_in
        + t.cache_write_5m * rate_w5
        + t.cache_write_1h * rate_w1
        + t.cache_read * rate_read
        + t.output * rate_out
    ) / MTOK
    if canonical in GEO_PREMIUM and ev.model.scope != "global":
        cost *= Decimal("1.1")
    return cost


@dataclass
class Budget:
    monthly_usd: Decimal
    spend: Decimal  # November spend as the generator prices it, every identity resolved
    spend_plain: Decimal  # the same counting only plain e-mail sessions and the config's rules

    @property
    def ratio(self) -> Decimal:
        return self.spend / self.monthly_usd


def sized_budgets(events: list[Event]) -> dict[str, Budget]:
    """One team above 100% of its budget, one between 80% and 100%, the rest well below.

    The margins hold whether or not identity resolution handles aliases, capitals, local parts
    and old-domain e-mails (spend_plain), and survive small differences in the price book.
    """
    spend: dict[str, Decimal] = defaultdict(Decimal)
    plain: dict[str, Decimal] = defaultdict(Decimal)
    for ev in events:
        cost = list_cost(ev)
        if cost is None or ev.at.strftime("%Y-%m") != BUDGET_MONTH:
            continue
        spend[ev.caller.team] += cost
        if ev.caller.kind != "person" or ev.record["identity"]["arn"].endswith(
            "/" + ev.caller.developer
        ):
            plain[ev.caller.team] += cost

    def tens(x: Decimal) -> Decimal:
        return max((x / 10).quantize(Decimal(1)) * 10, Decimal(10))

    budgets = {}
    for team in TEAMS:
        if team == "payments":  # over budget even with plain identities only
            budget = tens(plain[team] / Decimal("1.08"))
        elif team == "mobile":  # between 80% and 100% either way
            budget = tens(spend[team] / Decimal("0.93"))
        else:
            budget = tens(
                spend[team]
                / {
                    "platform": Decimal("0.55"),
                    "search": Decimal("0.45"),
                    "data": Decimal("0.62"),
                    "security": Decimal("0.40"),
                }[team]
            )
        budgets[team] = Budget(budget, spend[team], plain[team])
    pay, near = budgets["payments"], budgets["mobile"]
    assert pay.spend_plain / pay.monthly_usd > Decimal("1.04"), pay
    assert near.spend / near.monthly_usd < Decimal("0.97"), near
    assert near.spend_plain / near.monthly_usd > Decimal("0.82"), near
    assert all(
        b.ratio < Decimal("0.7") for t, b in budgets.items() if t not in ("payments", "mobile")
    )
    return budgets


# --------------------------------------------------------------------------------------------
# Config, directory, manifest
# --------------------------------------------------------------------------------------------


def write_people(out: Path) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["email", "name", "team", "cost_center", "manager", "aliases"])
    for local, name, team, aliases, _ in PEOPLE:
        cost_center, manager = TEAMS[team]
        if local == DIRECTOR:
            boss = ""
        elif local == manager:
            boss = email(DIRECTOR)
        else:
            boss = email(manager)
        if team == "mobile" and local in ("liam.walsh", "ravi.shankar", "ella.nguyen"):
            cost_center = "CC-1014"  # the Android group is charged separately
        w.writerow([email(local), name, team, cost_center, boss, aliases])
    write_bytes(out / "people.csv", buf.getvalue().encode())


def write_config(out: Path, budgets: dict[str, Budget]) -> str:
    budget_blocks = "\n".join(
        f'[[budgets]]\nteam = "{team}"\nmonthly_usd = "{budget}"\n'
        for team, budget in ((t, b.monthly_usd) for t, b in budgets.items())
    )
    text = f"""# llmledger demo config: this folder's sample data through the real ingest paths.
# Generated by generate.py (budgets are sized from the generated November spend).

[database]
path = "../llmledger-demo.duckdb"       # relative to this file: the repository root, where
                                        # `llmledger demo` run from there writes it

[people]
directory = "people.csv"

[identity]
request_metadata_team_key = "team"
request_metadata_project_key = "project"
match_local_part = true

[[identity.rules]]
match = '^arn:aws:iam::\\d+:user/{MAPPED_API_KEY}$'
developer = "{MAPPED_API_KEY_DEVELOPER}"

[[identity.rules]]
match = '^arn:aws:sts::\\d+:assumed-role/ci-runner/'
team = "platform"       # a shared role: team known, developer stays unattributed

[bedrock.application_profiles]
"{APP_PROFILE_ARN}" = "us.anthropic.{SONNET45}-v1:0"

[[sources.bedrock-files]]
path = "bedrock/s3"

[[sources.vertex-files]]
path = "vertex"          # Cloud Logging sink export (generate_vertex.py)

[[sources.litellm-files]]
path = "litellm"         # the proxy's tables as COPY ... CSV dumps (litellm/generate.py);
                         # `ingest litellm` reads the same rows from PostgreSQL (litellm/load.py)

[[sources.aws-cur-files]]
path = "cur"             # the AWS bill for 2026-11: a CUR 2.0 delivery (generate_bills.py)

[[sources.gateway-files]]
path = "gateway/kong"    # Kong's file-log with AI Proxy statistics (generate_gateways.py)
format = "kong"
name = "kong"

[[sources.gateway-files]]
path = "gateway/body"    # an OpenResty proxy that logs Anthropic response bodies
format = "anthropic-body"
name = "body-proxy"

[[sources.otel-files]]
path = "otel"            # Claude Code telemetry, the Collector's file exporter (generate_otel.py)

[gateway]                # identities of gateways at Bedrock: the LiteLLM proxy's role (its
                         # records are the proxy's spend logs) and the shared key Kong's bedrock
                         # service signs with; a request both logged is counted once
identities = [
    '^arn:aws:sts::\\d+:assumed-role/litellm-proxy/',
    '^arn:aws:iam::\\d+:user/{UNMAPPED_API_KEY}$',
]

# Monthly budgets per team, USD as decimal strings. For {BUDGET_MONTH}: payments is over 100%,
# mobile is over 80%, the rest are well under.
{budget_blocks}
[[quotas]]
provider = "bedrock"
region = "us-east-1"
model = "claude-sonnet-4-5"
scope = "geo"
tokens_per_minute = {QUOTA_TPM}
requests_per_minute = 400

[[quotas]]
provider = "bedrock"
region = "us-west-2"
model = "claude-sonnet-4-5"
scope = "global"
tokens_per_minute = 4000000
requests_per_minute = 2000

[[quotas]]
provider = "bedrock"
region = "us-east-1"
model = "claude-opus-4-6"
scope = "global"
tokens_per_minute = 3000000
requests_per_minute = 1000
"""
    write_bytes(out / "llmledger.toml", text.encode())
    return text


def summarise(
    s3_events: list[Event],
    files: list[str],
    bad: BadInput,
    cw: list[Event],
    cw_bad: list[BadLine],
    budgets: dict[str, Budget],
    out: Path,
) -> dict:
    valid = s3_events + bad.good_events  # every valid unique record outside the truncated file
    by_part_model: Counter[tuple[str, str, str]] = Counter()
    ops: Counter[str] = Counter()
    status: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    teams_expected: Counter[str] = Counter()
    devs_expected: Counter[str] = Counter()
    tokens: Counter[str] = Counter()
    for ev in valid:
        r = ev.record
        by_part_model[(r["accountId"], r["region"], r["modelId"])] += 1
        ops[r["operation"]] += 1
        status[ev.status] += 1
        if "errorCode" in r:
            errors[r["errorCode"]] += 1
        kinds[ev.caller.kind] += 1
        teams_expected[ev.caller.team] += 1
        devs_expected[ev.caller.developer] += 1
        tokens["input"] += ev.tokens.input
        tokens["output"] += ev.tokens.output
        tokens["cache_read"] += ev.tokens.cache_read
        tokens["cache_write_5m"] += ev.tokens.cache_write_5m
        tokens["cache_write_1h"] += ev.tokens.cache_write_1h
    costs = [list_cost(e) for e in valid]
    body_objects = sorted(f"bedrock/s3/{e.body_object[0]}" for e in valid if e.body_object)
    sizes = {
        p.relative_to(out).as_posix(): p.stat().st_size
        for p in sorted(out.rglob("*"))
        if p.is_file() and p.relative_to(out).parts[0] in GENERATED
    }
    edge = {
        tag: e.record["requestId"] for e in valid for tag in e.tags if tag.startswith("prompt_")
    }
    return {
        "generator": "python sample_data/generate.py",
        "seed": SEED,
        "period": {"first_day": FIRST_DAY.isoformat(), "last_day": LAST_DAY.isoformat()},
        "sentinel": SENTINEL,
        "bedrock_s3": {
            "root": "bedrock/s3",
            "batch_files": len(files) + len(bad.files),
            "batch_files_normal": len(files),
            "body_objects": body_objects,
            "permission_check_markers": [
                f"bedrock/s3/{KEY_PREFIX}/AWSLogs/{a}/BedrockModelInvocationLogs/"
                "amazon-bedrock-logs-permission-check"
                for a in ACCOUNTS
            ]
            + [f"bedrock/s3/{KEY_PREFIX}/amazon-bedrock-logs-permission-check"],
            "valid_unique_records": len(valid),
            "valid_record_lines": len(valid) + 1,  # the duplicate appears twice
            "records_by_account_region_model": [
                {"account": a, "region": reg, "model_id": m, "records": n}
                for (a, reg, m), n in sorted(by_part_model.items())
            ],
            "records_by_operation": dict(sorted(ops.items())),
            "records_by_status": dict(sorted(status.items())),
            "records_by_error_code": dict(sorted(errors.items())),
            "records_by_caller_kind": dict(sorted(kinds.items())),
            "records_by_intended_team": dict(sorted(teams_expected.items())),
            "records_by_intended_developer": dict(sorted(devs_expected.items())),
            "tokens": dict(tokens),
            "long_context_records": sum(1 for e in valid if e.long_context),
            "cache_write_1h_records": sum(1 for e in valid if "cache_write_1h" in e.tags),
            "unpriced_records": sum(1 for e in valid if e.model.canonical is None),
            "burst": {
                "start": BURST_START.isoformat(),
                "minutes": len(BURST_LOAD),
                "records": sum(1 for e in valid if "burst" in e.tags),
                "throttled": sum(1 for e in valid if "burst" in e.tags and e.status == "throttled"),
            },
            "prompt_threshold_request_ids": edge,
            "approx_list_cost_usd": str(
                sum((c for c in costs if c is not None), Decimal(0)).quantize(Decimal("0.01"))
            ),
        },
        "bad_input": {
            "folder": f"bedrock/s3/{hour_folder(BAD_ACCOUNT, BAD_REGION, BAD_HOUR)}",
            "bad_lines": [vars(b) for b in bad.lines],
            "duplicate": {"request_id": bad.duplicate_request_id, "files": bad.duplicate_files},
            "truncated_gzip": {
                "file": bad.truncated_file,
                "records_before_cut": bad.truncated_records,
                "complete_lines_recoverable": bad.truncated_recoverable,
                "request_ids": bad.truncated_request_ids,
            },
            "good_records_in_folder": len(bad.good_events),
        },
        "cloudwatch": {
            "file": "bedrock/cloudwatch/events.ndjson",
            "records": len(cw),
            "account": CLOUDWATCH_ACCOUNT,
            "region": CLOUDWATCH_REGION,
            "first_timestamp": cw[0].record["timestamp"],
            "last_timestamp": cw[-1].record["timestamp"],
            "records_by_status": dict(sorted(Counter(e.status for e in cw).items())),
            "malformed_file": "bedrock/cloudwatch/malformed_events.ndjson",
            "malformed_lines": [vars(b) for b in cw_bad],
        },
        "budgets": {
            team: {
                "monthly_usd": str(b.monthly_usd),
                "approx_spend_usd": str(b.spend.quantize(Decimal("0.01"))),
                "approx_ratio": str(b.ratio.quantize(Decimal("0.001"))),
                "approx_spend_plain_identities_usd": str(b.spend_plain.quantize(Decimal("0.01"))),
            }
            for team, b in budgets.items()
        },
        "total_bytes": sum(sizes.values()),
    }


def md_table(header: list[str], rows: list[list[str]], right: tuple[int, ...] = ()) -> str:
    rule = ["---:" if i in right else "---" for i in range(len(header))]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in [header, rule, *rows])


def base(path: str) -> str:
    return f"`{path.rsplit('/', 1)[1]}`"


def write_manifest(out: Path, m: dict, config: str) -> None:
    s3, bad, cw = m["bedrock_s3"], m["bad_input"], m["cloudwatch"]
    trunc, dup = bad["truncated_gzip"], bad["duplicate"]

    def kv(d: dict[str, int]) -> str:
        return ", ".join(f"{k} {v:,}" for k, v in d.items())

    def pct(x: str, y: str) -> str:
        return f"{Decimal(x) / Decimal(y) * 100:.0f}%"

    files = md_table(
        ["path", "what"],
        [
            [
                "`people.csv`",
                f"the people directory: {len(PEOPLE)} people, {len(TEAMS)} teams, "
                f"managers, the director `{email(DIRECTOR)}`",
            ],
            [
                f"`bedrock/s3/{KEY_PREFIX}/AWSLogs/<account>/BedrockModelInvocationLogs/<region>/"
                "YYYY/MM/DD/HH/*.json.gz`",
                f"{s3['batch_files']:,} batch files in S3's real key layout (one per "
                "account/region/hour with traffic, four in the bad-input hour), one record per "
                "line",
            ],
            [
                "`bedrock/s3/.../HH/data/<requestId>_input.json.gz`",
                f"{len(s3['body_objects'])} body objects for records whose `input.inputBodyS3Path` "
                "points at them (raw request bodies, not records: ingest must skip `data/`)",
            ],
            [
                "`.../amazon-bedrock-logs-permission-check`",
                "zero-byte markers (skip): "
                + ", ".join(f"`{p}`" for p in s3["permission_check_markers"]),
            ],
            [
                f"`{cw['file']}`",
                f"{cw['records']:,} records (account {cw['account']}, {cw['region']}, "
                f"{cw['first_timestamp']} .. {cw['last_timestamp']}), one per line in time order, "
                "to replay into a log group; replayers shift the timestamps to now (moto drops "
                "events older than 14 days). Request ids differ from the S3 tree.",
            ],
            [
                f"`{cw['malformed_file']}`",
                f"{len(cw['malformed_lines']) + 2} log-event messages, "
                f"{len(cw['malformed_lines'])} of them bad (below)",
            ],
            ["`llmledger.toml`", "the demo config"],
            [
                "`cur/llm-cur/{data,metadata}/BILLING_PERIOD=2026-11/…`",
                "the AWS bill for 2026-11, a CUR 2.0 delivery made from these logs by "
                "`generate_bills.py` (run it after this script): planted gap, account "
                "555566667777 billed in eu-west-1 on 2026-11-12..14 with nothing logged",
            ],
            [
                "`gateway/kong/*.json.gz`, `gateway/body/*.jsonl`",
                "two API gateways' logs from 2026-11-09 (Kong, an OpenResty proxy), made by "
                "`generate_gateways.py` (run it after this script; `gateway.MANIFEST.md`)",
            ],
            [
                "`otel/claude-code-*.jsonl`",
                "Claude Code telemetry for the shared API key's direct users, made by "
                "`generate_otel.py` (run it after this script; `otel.MANIFEST.md`)",
            ],
            [
                "`manifest.json`",
                "this manifest, machine-readable (counts, ids, bad input, budgets)",
            ],
        ],
    )
    models = md_table(
        ["account", "region", "modelId", "records"],
        [
            [r["account"], r["region"], f"`{r['model_id']}`", f"{r['records']:,}"]
            for r in s3["records_by_account_region_model"]
        ],
        right=(3,),
    )
    sso = f"AWSReservedSSO_ClaudeCodeUsers_{SSO_ROLE_SUFFIX[ACCOUNTS[0]]}"
    identities = md_table(
        ["identity.arn form", "example", "intended developer / team"],
        [
            [
                "IAM Identity Center, e-mail session",
                f"`.../{sso}/omar.haddad@{DOMAIN}`",
                "that person / their team",
            ],
            [
                "same, e-mail with capitals",
                f"`.../Chloe.Dubois@{DOMAIN}`, `.../Kenji.Watanabe@{DOMAIN}`",
                "that person (case-insensitive match)",
            ],
            [
                "same, user name from `aliases`",
                "`.../jdoe`, `.../pnatarajan`, `.../jalvarez`, `.../ikuznetsov`",
                "that person",
            ],
            [
                "same, e-mail local part (not in `aliases`)",
                "`.../arjun.mehta`, `.../wei.zhang`",
                "that person, via `match_local_part = true`",
            ],
            [
                "Okta federation",
                "`arn:aws:sts::<acct>:assumed-role/BedrockOktaFederatedRole/<email>`",
                "that person",
            ],
            [
                "Okta, old-domain e-mail from `aliases`",
                "`.../BedrockOktaFederatedRole/maria.garcia@acme-old.example`",
                f"maria.garcia@{DOMAIN} / data",
            ],
            [
                "IAM user named in `aliases`",
                f"`arn:aws:iam::{ACCOUNTS[0]}:user/dev-okafor`",
                f"ngozi.okafor@{DOMAIN} / platform",
            ],
            [
                "people not in the directory",
                f"`{CONTRACTORS[0]}` (Okta), `{CONTRACTORS[1]}` (SSO)",
                "that e-mail / `unattributed`",
            ],
            [
                "API key mapped by a rule",
                f"`arn:aws:iam::<acct>:user/{MAPPED_API_KEY}`",
                f"{MAPPED_API_KEY_DEVELOPER} / platform",
            ],
            [
                "API key, no rule",
                f"`arn:aws:iam::{ACCOUNTS[1]}:user/{UNMAPPED_API_KEY}`",
                "`unattributed` / `unattributed`; from 2026-11-09 Kong's Converse requests "
                "name their consumer (gateway.MANIFEST.md), and Claude Code telemetry names "
                "who sent some InvokeModel ones (otel.MANIFEST.md)",
            ],
            [
                "shared CI role, a rule names the team",
                f"`arn:aws:sts::<acct>:{CI_ARN_TAIL}`",
                "`unattributed` / platform",
            ],
            [
                "batch role with `requestMetadata`",
                f'`arn:aws:sts::{ACCOUNTS[1]}:{RANKER_ARN_TAIL}` + `{{"team": "search", ...}}`',
                "`unattributed` / search (from metadata)",
            ],
            [
                "LiteLLM proxy role",
                f"`{LITELLM_ARN}`",
                "`unattributed`; a later gateway rule marks these not counted",
            ],
        ],
    )
    bad_rows = [[base(b["file"]), str(b["line"]), b["reason"]] for b in bad["bad_lines"]]
    bad_rows.append(
        [
            base(trunc["file"]),
            "whole file",
            f"truncated gzip: a valid gzip of {trunc['records_before_cut']} good records with the "
            "last 30% of its bytes cut off (no gzip trailer). Its first "
            f"{trunc['complete_lines_recoverable']} lines decompress completely; whether a reader "
            "keeps them or rejects the whole file, the other files must load. None of its records "
            "appear anywhere else, and they are not in the totals.",
        ]
    )
    bad_table = md_table(["file", "line", "why it must be rejected"], bad_rows, right=(1,))
    cw_table = md_table(
        ["line", "why it must be rejected"],
        [[str(b["line"]), b["reason"]] for b in cw["malformed_lines"]],
        right=(0,),
    )
    budgets = md_table(
        ["team", "monthly_usd", "approx. spend", "ratio", "plain-identity spend", "ratio"],
        [
            [
                t,
                b["monthly_usd"],
                b["approx_spend_usd"],
                pct(b["approx_spend_usd"], b["monthly_usd"]),
                b["approx_spend_plain_identities_usd"],
                pct(b["approx_spend_plain_identities_usd"], b["monthly_usd"]),
            ]
            for t, b in m["budgets"].items()
        ],
        right=(1, 2, 3, 4, 5),
    )
    bad_paths = [bad["bad_lines"][0]["file"], *dup["files"], trunc["file"]]
    by_reason = {b["reason"]: b for b in bad["bad_lines"]}
    wrong_type = next(b for r, b in by_reason.items() if "many" in r)
    no_model = by_reason["missing modelId"]
    tokens = s3["tokens"]
    edges = s3["prompt_threshold_request_ids"]
    text = f"""# Sample data manifest

Generated by `{m["generator"]}` (standard library only, seed {m["seed"]}, no network;
byte-for-byte reproducible). Do not edit these files by hand: change the generator and run it
again. The same facts, machine-readable, are in `manifest.json`.

Period: {m["period"]["first_day"]} .. {m["period"]["last_day"]} UTC (30 days). Every body
(`inputBodyJson`, `outputBodyJson`, `data/` objects) contains `{m["sentinel"]}`; finding it in
the database means a body was stored.

## Files

{files}

Data files: {m["total_bytes"] / 1e6:.1f} MB apparent size (without the manifests); `du` reports
more because each of the ~{s3["batch_files"]:,} small batch files and their hour folders takes
whole filesystem blocks.

## Bedrock S3 tree

- Accounts {ACCOUNTS[0]} and {ACCOUNTS[1]}, regions {REGIONS[0]} and {REGIONS[1]}, key prefix
  `{KEY_PREFIX}`, body-object bucket in `inputBodyS3Path`: `s3://{BUCKET}/`.
- **Valid unique records: {s3["valid_unique_records"]:,}** (this excludes everything in the
  truncated gzip; the duplicate counts once; {s3["valid_record_lines"]:,} valid lines).
- Operations: {kv(s3["records_by_operation"])}.
- Status: {kv(s3["records_by_status"])}; error codes: {kv(s3["records_by_error_code"])}.
  Failed records carry top-level `errorCode`, token counts 0, no output body and
  (except `ModelErrorException`) no `inferenceRegion`.
- Tokens over valid records: input {tokens["input"]:,}; output {tokens["output"]:,};
  cache read {tokens["cache_read"]:,}; cache write 5m {tokens["cache_write_5m"]:,};
  cache write 1h {tokens["cache_write_1h"]:,} (`cacheWriteInputTokenCount` = 5m + 1h; the
  split is only in the body's `usage.cache_creation`).
- {s3["long_context_records"]} long-context records (Sonnet 4.5 / Sonnet 4, input + cache read +
  cache write > 200,000; their request body carries the `context-1m-2025-08-07` beta).
  Threshold pair on 2026-11-10 14:1x, `us.` Sonnet 4.5: prompt of exactly 200,000 tokens (NOT
  long context) `{edges.get("prompt_200000")}`, and 200,001 tokens (long context)
  `{edges.get("prompt_200001")}`.
- {s3["cache_write_1h_records"]} Sonnet `InvokeModel` records with 1-hour cache writes
  (`usage.cache_creation.ephemeral_1h_input_tokens` > 0; `cache_control.ttl = "1h"` in the
  request).
- {s3["unpriced_records"]} records of the unknown model `{MODELS["fable5_geo"].model_id}`
  (from 2026-11-01): cost must be NULL and flagged unpriced.
- Rate-limit burst: {s3["burst"]["start"]} for {s3["burst"]["minutes"]} minutes, account
  111122223333 us-east-1, `us.` Sonnet 4.5 (data team), {s3["burst"]["records"]} records of which
  {s3["burst"]["throttled"]} throttled; input + cache write + 5 x output per minute peaks at
  about 100% of the {QUOTA_TPM:,} TPM quota in `llmledger.toml`.
- Approximate list cost of the S3 tree (the generator's own arithmetic, for sizing budgets
  only; the price book is authoritative): ${s3["approx_list_cost_usd"]}.

### Records per account, region and modelId (valid records)

{models}

### Identities and what they should resolve to

{identities}

Everyone sometimes (8%) signs in with the plain SSO e-mail session. Search developers send
`requestMetadata` `{{"team": "search", "project": "ranker"}}` on ~30% of requests, two payments
developers `{{"team": "payments", "project": "ledger-migration"}}`; metadata never contradicts
the directory. The application inference profile is only used in {ACCOUNTS[1]}/us-west-2 and
the inference-profile ARN only in {ACCOUNTS[0]}/us-east-1.

Records by caller kind: {kv(s3["records_by_caller_kind"])}.
Records by intended team: {kv(s3["records_by_intended_team"])}.

## Planted bad input

All in one hour folder, `{bad["folder"]}/`, which holds nothing else
({bad["good_records_in_folder"]} valid records besides the bad ones, all counted in the totals
above). Other accounts/regions have ordinary files for the same hour.

{bad_table}

Line numbers are 1-based within the decompressed file. In the malformed-lines file the
truncated line is a prefix of a copy of line 1's record (the full record on line 1 is valid).
The `inputTokenCount: "many"` and missing-`modelId` lines have request ids
`{wrong_type["request_id"]}` and `{no_model["request_id"]}`; no valid record shares them.

Duplicate (not an error: load it once): request id `{dup["request_id"]}` appears byte for byte
in {base(dup["files"][0])} and {base(dup["files"][1])}.

Full paths:

{chr(10).join(f"- `{p}`" for p in bad_paths)}

### CloudWatch malformed messages (`{cw["malformed_file"]}`)

{cw_table}

The other lines are valid records.

## Budgets in `llmledger.toml` (November 2026, spend to 2026-11-20)

Spend is the generator's own list-price arithmetic over counted records (LiteLLM-proxy records
are unattributed either way). "Plain" counts only records whose session name is the directory
e-mail exactly, plus the config's rules: the over/near thresholds hold even if alias, capitals,
local-part or old-domain matching were missing.

{budgets}

## Demo config (`llmledger.toml`)

```toml
{config.strip()}
```
"""
    write_bytes(out / "MANIFEST.md", text.encode())


# --------------------------------------------------------------------------------------------


GENERATED = ("bedrock", "people.csv", "llmledger.toml", "manifest.json", "MANIFEST.md")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent,
        help="output folder (default: the folder of this script)",
    )
    args = parser.parse_args(argv)
    out: Path = args.out
    started = time.monotonic()
    for name in GENERATED:  # only what this script writes
        target = out / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    out.mkdir(parents=True, exist_ok=True)

    rng = random.Random(SEED)
    callers = build_callers(rng)
    write_people(out)
    s3_events = generate_s3_events(rng, callers)
    files = write_s3_tree(rng, out, s3_events)
    bad = write_bad_input(rng, out, callers)
    cw = cloudwatch_events(rng, callers)
    cw_bad = write_cloudwatch(rng, out, cw, callers)

    ids = [e.record["requestId"] for e in s3_events + bad.good_events + cw]
    ids += bad.truncated_request_ids
    assert len(ids) == len(set(ids)), "request ids must be unique"
    budgets = sized_budgets(s3_events + bad.good_events)
    config = write_config(out, budgets)
    manifest = summarise(s3_events, files, bad, cw, cw_bad, budgets, out)
    write_bytes(out / "manifest.json", (json.dumps(manifest, indent=2) + "\n").encode())
    write_manifest(out, manifest, config)
    litellm = Path(__file__).resolve().parent / "litellm" / "generate.py"
    if litellm.is_file():  # the LiteLLM sample matches this Bedrock sample's proxy records
        subprocess.run(
            [sys.executable, str(litellm), "--sample", str(out), "--out", str(out / "litellm")],
            check=True,
            stdout=subprocess.DEVNULL,
        )

    s3 = manifest["bedrock_s3"]
    digest = hashlib.sha256()
    for p in sorted(out.rglob("*")):
        if p.is_file() and p.relative_to(out).parts[0] in GENERATED:
            digest.update(p.relative_to(out).as_posix().encode() + b"\0" + p.read_bytes())
    total = sum(
        p.stat().st_size
        for p in out.rglob("*")
        if p.is_file() and p.relative_to(out).parts[0] in GENERATED
    )
    print(f"people.csv: {len(PEOPLE)} people in {len(TEAMS)} teams")
    print(
        f"bedrock/s3: {s3['batch_files']} batch files, {s3['valid_unique_records']} valid unique "
        f"records, {len(s3['body_objects'])} body objects, "
        f"{len(bad.lines)} bad lines + 1 duplicate + 1 truncated gzip "
        f"({bad.truncated_records} records) in {manifest['bad_input']['folder']}"
    )
    print(
        f"  status {s3['records_by_status']}; long context {s3['long_context_records']}; "
        f"1h cache writes {s3['cache_write_1h_records']}; unpriced {s3['unpriced_records']}; "
        f"approx list cost ${s3['approx_list_cost_usd']}"
    )
    print(f"bedrock/cloudwatch: {len(cw)} records + {len(cw_bad)} malformed messages")
    print(
        "budgets: "
        + ", ".join(
            f"{t} {b['monthly_usd']} ({float(b['approx_ratio']):.0%})"
            for t, b in manifest["budgets"].items()
        )
    )
    print(
        f"total {total / 1e6:.1f} MB, sha256 {digest.hexdigest()}, "
        f"{time.monotonic() - started:.1f}s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
