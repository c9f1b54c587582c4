"""Synthetic Bedrock invocation logs of realistic size, for the ingest benchmark.

Records follow the shapes in shared reference §1.4: mostly Claude Code's
``InvokeModelWithResponseStream`` (a list of stream events as the response body), some
``InvokeModel`` and ``Converse`` (dict bodies), some with the prompt moved to S3
(``inputBodyS3Path``). Bodies are varied random text drawn from a Zipf-like vocabulary, so gzip
compresses them about as well as real prompts and code (not ``'x' * 2500``).
"""

from __future__ import annotations

import gzip
import json
import os
import random
import string
from datetime import UTC, datetime, timedelta
from multiprocessing import Pool
from pathlib import Path

ACCOUNTS = ["111122223333", "444455556666"]
REGIONS = ["us-east-1", "us-west-2", "eu-central-1"]
MODELS = [
    "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
    "global.anthropic.claude-opus-4-6-v1",
    "anthropic.claude-3-5-haiku-20241022-v1:0",
    "eu.anthropic.claude-sonnet-4-20250514-v1:0",
    "arn:aws:bedrock:us-west-2:111122223333:inference-profile/global.anthropic.claude-opus-4-7",
]
PEOPLE = [f"dev{i:03d}@example.com" for i in range(200)]


def _vocabulary(rng: random.Random, size: int = 6000) -> tuple[list[str], list[float]]:
    words = []
    code = [
        "def",
        "return",
        "self",
        "import",
        "{",
        "}",
        "(",
        ")",
        "=>",
        "const",
        "if",
        "for",
        "in",
        "None",
        "True",
        "print",
        "class",
        "await",
        "async",
        "\n",
        "\n    ",
        "  ",
    ]
    for _ in range(size):
        n = min(14, max(1, int(rng.expovariate(1 / 5.5))))
        words.append("".join(rng.choice(string.ascii_lowercase) for _ in range(n)))
    words = code + words
    cum, total = [], 0.0
    for rank in range(1, len(words) + 1):
        total += 1.0 / rank**1.05
        cum.append(total)
    return words, cum


class TextMaker:
    """Varied random text, fast: slices at random offsets of a few MB of Zipf-distributed words.

    A slice rarely repeats within gzip's 32 KB window, so compression sees text like prose or
    code, not repeated blocks.
    """

    _pool: str | None = None

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        if TextMaker._pool is None:
            words, cum = _vocabulary(random.Random(7))
            pool_rng = random.Random(11)
            TextMaker._pool = " ".join(pool_rng.choices(words, cum_weights=cum, k=700_000))
        self.pool = TextMaker._pool

    def text(self, n_words: int) -> str:
        length = n_words * 6  # about six characters per word with its space
        start = self.rng.randrange(0, len(self.pool) - length)
        return self.pool[start : start + length]


def record(
    tm: TextMaker, i: int, at: datetime, account: str, region: str, sentinel: str = ""
) -> dict:
    rng = tm.rng
    op = rng.choices(["InvokeModelWithResponseStream", "InvokeModel", "Converse"], [70, 20, 10])[0]
    person = rng.choice(PEOPLE)
    arn = (
        f"arn:aws:sts::{account}:assumed-role/AWSReservedSSO_Developer_abc123/{person}"
        if rng.random() < 0.85
        else f"arn:aws:iam::{account}:user/BedrockAPIKey-{i % 7}"
    )
    # unique (i times an odd number is a bijection mod 2^32) and spread like a UUID's: an id
    # rising with i would let DuckDB's min/max of a row group answer a key check unread
    req = (
        f"{(i * 2654435761) % 2**32:08x}-{rng.getrandbits(16):04x}-4{rng.getrandbits(12):03x}-"
        f"{rng.getrandbits(16):04x}-{rng.getrandbits(48):012x}"
    )
    in_tok, out_tok = rng.randint(1, 40), rng.randint(20, 2000)
    cache_read, cache_write = rng.choice([0, rng.randint(1000, 180000)]), rng.randint(0, 30000)
    prompt = sentinel + tm.text(rng.randint(80, 340))
    answer = tm.text(rng.randint(40, 160))
    rec: dict = {
        "schemaType": "ModelInvocationLog",
        "schemaVersion": "1.0",
        "timestamp": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "accountId": account,
        "identity": {"arn": arn},
        "region": region,
        "requestId": req,
        "operation": op,
        "modelId": rng.choice(MODELS),
    }
    if rng.random() < 0.2:
        rec["requestMetadata"] = {
            "team": rng.choice(["platform", "payments", "search"]),
            "project": rng.choice(["alpha", "beta"]),
        }
    inp: dict = {"inputContentType": "application/json"}
    if rng.random() < 0.25:
        inp["inputBodyS3Path"] = (
            f"s3://bedrock-logs/AWSLogs/{account}/BedrockModelInvocationLogs/"
            f"{region}/{at:%Y/%m/%d/%H}/data/{req}_input.json.gz"
        )
    else:
        inp["inputBodyJson"] = {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 32000,
            "system": [{"type": "text", "text": tm.text(40)}],
            "messages": [{"role": "user", "content": [{"type": "text", "text": prompt}]}],
        }
    inp.update(
        inputTokenCount=in_tok,
        cacheReadInputTokenCount=cache_read,
        cacheWriteInputTokenCount=cache_write,
    )
    rec["input"] = inp
    usage = {
        "input_tokens": in_tok,
        "cache_read_input_tokens": cache_read,
        "cache_creation_input_tokens": cache_write,
        "cache_creation": {
            "ephemeral_5m_input_tokens": cache_write,
            "ephemeral_1h_input_tokens": 0,
        },
        "output_tokens": 1,
    }
    if op == "InvokeModelWithResponseStream":
        words = answer.split(" ")
        step = max(1, len(words) // rng.randint(8, 30))
        deltas = [
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": " ".join(words[k : k + step])},
            }
            for k in range(0, len(words), step)
        ]
        body: object = (
            [
                {
                    "type": "message_start",
                    "message": {
                        "id": f"msg_{rng.getrandbits(64):016x}",
                        "type": "message",
                        "role": "assistant",
                        "content": [],
                        "model": "claude",
                        "usage": usage,
                    },
                },
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": ""},
                },
            ]
            + deltas
            + [
                {"type": "content_block_stop", "index": 0},
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "end_turn"},
                    "usage": {"output_tokens": out_tok},
                },
                {
                    "type": "message_stop",
                    "amazon-bedrock-invocationMetrics": {
                        "inputTokenCount": in_tok,
                        "outputTokenCount": out_tok,
                        "invocationLatency": rng.randint(500, 30000),
                        "firstByteLatency": 400,
                    },
                },
            ]
        )
    elif op == "InvokeModel":
        body = {
            "id": f"msg_{rng.getrandbits(64):016x}",
            "type": "message",
            "role": "assistant",
            "content": [{"type": "text", "text": answer}],
            "stop_reason": "end_turn",
            "usage": usage | {"output_tokens": out_tok},
        }
    else:
        body = {
            "output": {"message": {"role": "assistant", "content": [{"text": answer}]}},
            "stopReason": "end_turn",
            "metrics": {"latencyMs": rng.randint(500, 9000)},
            "usage": {
                "inputTokens": in_tok,
                "outputTokens": out_tok,
                "cacheReadInputTokens": cache_read,
                "cacheWriteInputTokens": cache_write,
            },
        }
    rec["output"] = {
        "outputContentType": "application/json",
        "outputBodyJson": body,
        "outputTokenCount": out_tok,
    }
    if rng.random() < 0.6:
        rec["inferenceRegion"] = rng.choice(["us-east-1", "us-east-2", "us-west-2"])
    return rec


def _write_file(args: tuple[str, int, int, str, str, str, str]) -> int:
    path, start, count, account, region, iso, sentinel = args
    tm = TextMaker(start)
    at = datetime.fromisoformat(iso)
    lines = [
        json.dumps(
            record(tm, start + k, at + timedelta(seconds=k % 3600), account, region, sentinel),
            separators=(",", ":"),
        )
        for k in range(count)
    ]
    data = ("\n".join(lines) + "\n").encode()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(gzip.compress(data, compresslevel=6, mtime=0))
    return len(data)


def generate(
    root: Path,
    n_records: int,
    *,
    records_per_file: int = 1000,
    start: datetime | None = None,
    prefix: str = "bedrock-logs",
    sentinel: str = "",
    processes: int = 2,
) -> tuple[list[Path], int]:
    """Write ``n_records`` records as the S3 tree under ``root``; return (files, raw bytes)."""
    start = start or datetime(2026, 3, 2, tzinfo=UTC)
    jobs = []
    done, hour = 0, 0
    while done < n_records:
        account = ACCOUNTS[hour % len(ACCOUNTS)]
        region = REGIONS[(hour // len(ACCOUNTS)) % len(REGIONS)]
        at = start + timedelta(hours=hour)
        for part in range(4):  # a few delivery files per hour and partition
            count = min(records_per_file, n_records - done)
            if count <= 0:
                break
            ts = at + timedelta(minutes=part * 15)
            name = f"{ts:%Y%m%dT%H%M%S}{part:03d}Z_{(done * 2654435761) % 16**16:016x}.json.gz"
            path = (
                root
                / prefix
                / "AWSLogs"
                / account
                / "BedrockModelInvocationLogs"
                / region
                / f"{at:%Y/%m/%d/%H}"
                / name
            )
            jobs.append((str(path), done, count, account, region, ts.isoformat(), sentinel))
            done += count
        hour += 1
    with Pool(processes=max(1, processes)) as pool:
        raw = sum(pool.map(_write_file, jobs, chunksize=4))
    return [Path(j[0]) for j in jobs], raw


if __name__ == "__main__":  # pragma: no cover - manual use
    import sys

    files, raw = generate(Path(sys.argv[1]), int(sys.argv[2]))
    size = sum(os.path.getsize(f) for f in files)
    print(f"{len(files)} files, {raw / 1e6:.0f} MB raw, {size / 1e6:.0f} MB gzip")
