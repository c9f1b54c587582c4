"""Every Anthropic model id Bedrock, Vertex, the Anthropic API and LiteLLM log -> one canonical
name that keeps the generation and version (models/prices/README.md, "Model names")."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pytest

from models import macros

# logged id -> canonical model
MODEL_IDS = [
    # Claude Instant 1.x
    ("anthropic.claude-instant-v1", "claude-instant-1-2"),
    ("anthropic.claude-instant-v1:2:100k", "claude-instant-1-2"),
    ("claude-instant-1.2", "claude-instant-1-2"),
    ("claude-instant-1", "claude-instant-1-2"),
    ("claude-instant-1.1-100k", "claude-instant-1-1"),
    ("bedrock/anthropic.claude-instant-v1", "claude-instant-1-2"),
    # Claude 1.3, 2.0, 2.1
    ("anthropic.claude-v1", "claude-1-3"),
    ("claude-1.3-100k", "claude-1-3"),
    ("anthropic.claude-v2", "claude-2-0"),
    ("anthropic.claude-v2:0:18k", "claude-2-0"),
    ("claude-2.0", "claude-2-0"),
    ("anthropic.claude-v2:1", "claude-2-1"),
    ("anthropic.claude-v2:1:200k", "claude-2-1"),
    ("claude-2.1", "claude-2-1"),
    ("claude-2", "claude-2-1"),
    ("bedrock/anthropic.claude-v2:1", "claude-2-1"),
    ("anthropic/claude-2.1", "claude-2-1"),
    # Claude 3 Haiku / Sonnet / Opus
    ("anthropic.claude-3-haiku-20240307-v1:0", "claude-haiku-3"),
    ("anthropic.claude-3-haiku-20240307-v1:0:48k", "claude-haiku-3"),
    ("us.anthropic.claude-3-haiku-20240307-v1:0", "claude-haiku-3"),
    ("claude-3-haiku@20240307", "claude-haiku-3"),
    ("claude-3-haiku-20240307", "claude-haiku-3"),
    ("anthropic/claude-3-haiku-20240307", "claude-haiku-3"),
    ("anthropic.claude-3-sonnet-20240229-v1:0", "claude-sonnet-3"),
    ("anthropic.claude-3-sonnet-20240229-v1:0:28k", "claude-sonnet-3"),
    ("claude-3-sonnet@20240229", "claude-sonnet-3"),
    ("anthropic.claude-3-opus-20240229-v1:0", "claude-opus-3"),
    ("us.anthropic.claude-3-opus-20240229-v1:0", "claude-opus-3"),
    ("claude-3-opus@20240229", "claude-opus-3"),
    ("claude-3-opus-latest", "claude-opus-3"),
    ("vertex_ai/claude-3-opus@20240229", "claude-opus-3"),
    # Claude 3.5 Sonnet: the first version (20240620) ...
    ("anthropic.claude-3-5-sonnet-20240620-v1:0", "claude-sonnet-3-5"),
    ("eu.anthropic.claude-3-5-sonnet-20240620-v1:0", "claude-sonnet-3-5"),
    ("claude-3-5-sonnet@20240620", "claude-sonnet-3-5"),
    ("claude-3-5-sonnet-20240620", "claude-sonnet-3-5"),
    # ... and the second (20241022)
    ("anthropic.claude-3-5-sonnet-20241022-v2:0", "claude-sonnet-3-5-v2"),
    ("us.anthropic.claude-3-5-sonnet-20241022-v2:0", "claude-sonnet-3-5-v2"),
    ("apac.anthropic.claude-3-5-sonnet-20241022-v2:0", "claude-sonnet-3-5-v2"),
    ("claude-3-5-sonnet-v2@20241022", "claude-sonnet-3-5-v2"),
    ("claude-3-5-sonnet-20241022", "claude-sonnet-3-5-v2"),
    ("claude-3-5-sonnet-latest", "claude-sonnet-3-5-v2"),
    (
        "projects/p/locations/us-east5/publishers/anthropic/models/"
        "claude-3-5-sonnet-v2@20241022:streamRawPredict",
        "claude-sonnet-3-5-v2",
    ),
    (
        "arn:aws:bedrock:us-east-1:111122223333:inference-profile/"
        "us.anthropic.claude-3-5-sonnet-20241022-v2:0",
        "claude-sonnet-3-5-v2",
    ),
    # Claude 3.5 Haiku, 3.7 Sonnet
    ("anthropic.claude-3-5-haiku-20241022-v1:0", "claude-haiku-3-5"),
    ("bedrock/converse/us.anthropic.claude-3-5-haiku-20241022-v1:0", "claude-haiku-3-5"),
    ("claude-3-5-haiku@20241022", "claude-haiku-3-5"),
    ("claude-3-5-haiku-latest", "claude-haiku-3-5"),
    ("us.anthropic.claude-3-7-sonnet-20250219-v1:0", "claude-sonnet-3-7"),
    ("claude-3-7-sonnet@20250219", "claude-sonnet-3-7"),
    ("claude-3-7-sonnet-latest", "claude-sonnet-3-7"),
    (
        "projects/p/locations/global/publishers/anthropic/models/claude-3-7-sonnet",
        "claude-sonnet-3-7",
    ),
    # Claude 4, 4.1, 4.5, 4.6 (names unchanged) and later ones by pattern
    ("anthropic.claude-sonnet-4-20250514-v1:0", "claude-sonnet-4"),
    ("claude-sonnet-4@20250514", "claude-sonnet-4"),
    ("claude-opus-4-0", "claude-opus-4"),
    ("claude-opus-4-1@20250805", "claude-opus-4-1"),
    ("jp.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5"),
    ("au.anthropic.claude-haiku-4-5-20251001-v1:0", "claude-haiku-4-5"),
    ("global.anthropic.claude-opus-4-6-v1", "claude-opus-4-6"),
    ("claude-sonnet-4-6@default", "claude-sonnet-4-6"),
    ("claude-sonnet-4-5[1m]", "claude-sonnet-4-5"),
    ("claude-opus-5", "claude-opus-5"),
    ("claude-sonnet-4-7", "claude-sonnet-4-7"),
    ("global.anthropic.claude-opus-5-20270101-v1:0", "claude-opus-5"),
    ("claude-haiku-5-1@20270301", "claude-haiku-5-1"),
    # other vendors keep their own name (unpriced unless imported)
    ("amazon.nova-pro-v1:0", "amazon.nova-pro"),
    ("us.amazon.nova-lite-v1:0", "amazon.nova-lite"),
    ("amazon.titan-text-express-v1", "amazon.titan-text-express"),
    ("meta.llama3-70b-instruct-v1:0", "meta.llama3-70b-instruct"),
    ("count-tokens", "count-tokens"),
]


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    c = duckdb.connect()
    macros.create_macros(c)
    yield c
    c.close()


@pytest.mark.parametrize(("model_id", "model"), MODEL_IDS)
def test_canonical_model(con: duckdb.DuckDBPyConnection, model_id: str, model: str) -> None:
    assert con.execute("select canonical_model(?)", [model_id]).fetchone() == (model,)


def test_the_table_is_large_and_covers_every_generation() -> None:
    models = {m for _, m in MODEL_IDS}
    assert len(MODEL_IDS) >= 40
    assert {
        "claude-instant-1-2",
        "claude-2-0",
        "claude-2-1",
        "claude-haiku-3",
        "claude-sonnet-3",
        "claude-opus-3",
        "claude-sonnet-3-5",
        "claude-sonnet-3-5-v2",
        "claude-haiku-3-5",
        "claude-sonnet-3-7",
    } <= models
