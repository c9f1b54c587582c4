"""The price book and cost arithmetic, against numbers worked out by hand (USD per MTok from
pricing.md; cost = tokens x rate / 1,000,000, exact decimals)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from fixtures_models import add_bedrock, build, cost, event, new_ledger

from models import pricing, runner

SONNET_45_US = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
SONNET_45_GLOBAL = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
SONNET_45_IN_REGION = "anthropic.claude-sonnet-4-5-20250929-v1:0"
SONNET_4_IN_REGION = "anthropic.claude-sonnet-4-20250514-v1:0"
SONNET_4_US = "us.anthropic.claude-sonnet-4-20250514-v1:0"
OPUS_46_GLOBAL = "global.anthropic.claude-opus-4-6-v1"
HAIKU_45_US = "us.anthropic.claude-haiku-4-5-20251001-v1:0"


@pytest.fixture
def con():  # type: ignore[no-untyped-def]
    c = new_ledger()
    yield c
    c.close()


# --- each token type, Sonnet 4 in-Region (an older model: one price, no regional premium) ---


@pytest.mark.parametrize(
    ("tokens", "expected"),
    [
        # 1,234 input x $3 = 3,702 micro-dollars
        ({"input_tokens": 1234}, "0.003702"),
        # 567 output x $15 = 8,505
        ({"output_tokens": 567}, "0.008505"),
        # 89,012 cache read x $0.30 = 26,703.6
        ({"cache_read": 89012}, "0.0267036"),
        # 3,456 cache write (5m: no 1h split in the record) x $3.75 = 12,960
        ({"cache_write": 3456}, "0.01296"),
        # 789 cache write, all of it 1h, x $6 = 4,734
        ({"cache_write": 789, "cache_write_1h": 789}, "0.004734"),
    ],
)
def test_each_token_type_in_region_older_model(con, tokens, expected) -> None:  # type: ignore[no-untyped-def]
    add_bedrock(con, "r", model_id=SONNET_4_IN_REGION, **tokens)
    build(con)
    row = event(con, "r")
    assert row["cost_usd"] == Decimal(expected)
    assert row["pricing_scope"] == "in_region"
    assert row["price_version"] == "bedrock/claude-sonnet-4/in_region/standard/2025-05-22"
    assert row["unpriced"] is False


def test_cost_is_an_exact_decimal_with_12_places(con) -> None:  # type: ignore[no-untyped-def]
    # 1 cache-read token on us. Haiku 4.5 = $0.11 / 1e6 = 0.00000011
    add_bedrock(con, "r", model_id=HAIKU_45_US, cache_read=1)
    build(con)
    value = cost(con, "r")
    assert isinstance(value, Decimal)
    assert value == Decimal("0.00000011")
    assert value.as_tuple().exponent == -12
    assert (
        con.execute("select typeof(cost_usd) from usage_events").fetchone()[0] == "DECIMAL(38,12)"
    )


# --- geographic premium vs global -------------------------------------------------------------

# 1,000 of each token class: 2,000 cache writes of which 1,000 are 1h.
ALL_CLASSES = {
    "input_tokens": 1000,
    "output_tokens": 1000,
    "cache_read": 1000,
    "cache_write": 2000,
    "cache_write_1h": 1000,
}


def test_global_profile_is_list_price(con) -> None:  # type: ignore[no-untyped-def]
    # 1000 x (3 + 15 + 0.30 + 3.75 + 6) = 28,050 micro-dollars
    add_bedrock(con, "r", model_id=SONNET_45_GLOBAL, **ALL_CLASSES)
    build(con)
    row = event(con, "r")
    assert row["cost_usd"] == Decimal("0.02805")
    assert row["pricing_scope"] == "global"
    assert row["price_version"] == "bedrock/claude-sonnet-4-5/global/standard/2025-09-29"


@pytest.mark.parametrize(
    ("model_id", "scope"),
    [
        (SONNET_45_US, "geo"),
        ("eu.anthropic.claude-sonnet-4-5-20250929-v1:0", "geo"),
        ("apac.anthropic.claude-sonnet-4-5-20250929-v1:0", "geo"),
        ("jp.anthropic.claude-sonnet-4-5-20250929-v1:0", "geo"),
        ("au.anthropic.claude-sonnet-4-5-20250929-v1:0", "geo"),
        ("arn:aws:bedrock:us-east-1:111122223333:inference-profile/" + SONNET_45_US, "geo"),
        (SONNET_45_IN_REGION, "in_region"),
    ],
)
def test_geo_profiles_and_in_region_cost_ten_percent_more(con, model_id, scope) -> None:  # type: ignore[no-untyped-def]
    # 1000 x (3.30 + 16.50 + 0.33 + 4.125 + 6.60) = 30,855 micro-dollars (= 1.1 x 28,050)
    add_bedrock(con, "r", model_id=model_id, **ALL_CLASSES)
    build(con)
    row = event(con, "r")
    assert row["cost_usd"] == Decimal("0.030855")
    assert row["pricing_scope"] == scope
    assert row["model"] == "claude-sonnet-4-5"
    assert row["price_version"] == f"bedrock/claude-sonnet-4-5/{scope}/standard/2025-09-29"


def test_haiku_45_geo_premium_and_opus_46_global(con) -> None:  # type: ignore[no-untyped-def]
    # us. Haiku 4.5: 1,000,000 input x $1.10 = $1.10; 1,000,000 output x $5.50 = $5.50
    add_bedrock(con, "haiku", model_id=HAIKU_45_US, input_tokens=1_000_000, output_tokens=1_000_000)
    # global. Opus 4.6: 1,000,000 input x $5 + 100,000 output x $25 = 5 + 2.5
    add_bedrock(con, "opus", model_id=OPUS_46_GLOBAL, input_tokens=1_000_000, output_tokens=100_000)
    build(con)
    assert cost(con, "haiku") == Decimal("6.60")
    assert cost(con, "opus") == Decimal("7.50")


def test_older_model_has_no_geo_premium(con) -> None:  # type: ignore[no-untyped-def]
    # us. Sonnet 4 costs what in-Region Sonnet 4 costs: 1,000 x 28.05 = 0.02805
    add_bedrock(con, "us", model_id=SONNET_4_US, **ALL_CLASSES)
    add_bedrock(con, "bare", model_id=SONNET_4_IN_REGION, **ALL_CLASSES)
    build(con)
    assert cost(con, "us") == Decimal("0.02805")
    assert cost(con, "bare") == Decimal("0.02805")
    assert event(con, "us")["pricing_scope"] == "geo"


# --- long context (> 200k prompt tokens, Sonnet 4 and 4.5 only) ---------------------------------


def test_long_context_tier_with_geo_premium(con) -> None:  # type: ignore[no-untyped-def]
    # us. Sonnet 4.5, prompt = 10 input + 150,000 cache read + 60,000 cache write = 210,010
    # > 200,000, so every token of the request is billed at the long-context geo rates
    # (6.60 input, 24.75 output, 8.25 cache write 5m, 0.66 cache read):
    #   10 x 6.60       =      66
    #   150,000 x 0.66  =  99,000
    #   60,000 x 8.25   = 495,000
    #   1,000 x 24.75   =  24,750
    #   total           = 618,816 micro-dollars = $0.618816
    add_bedrock(
        con,
        "r",
        model_id=SONNET_45_US,
        input_tokens=10,
        cache_read=150_000,
        cache_write=60_000,
        output_tokens=1000,
    )
    build(con)
    row = event(con, "r")
    assert row["cost_usd"] == Decimal("0.618816")
    assert row["pricing_tier"] == "long_context"
    assert row["price_version"] == "bedrock/claude-sonnet-4-5/geo/long_context/2025-09-29"


def test_long_context_threshold_is_strictly_above_200k(con) -> None:  # type: ignore[no-untyped-def]
    # exactly 200,000 prompt tokens: standard, 200,000 x 0.33 = 66,000
    add_bedrock(con, "at", model_id=SONNET_45_US, cache_read=200_000)
    # 200,001: long context, 200,001 x 0.66 = 132,000.66
    add_bedrock(con, "above", model_id=SONNET_45_US, cache_read=200_001)
    build(con)
    assert cost(con, "at") == Decimal("0.066")
    assert event(con, "at")["pricing_tier"] == "standard"
    assert cost(con, "above") == Decimal("0.13200066")
    assert event(con, "above")["pricing_tier"] == "long_context"


def test_long_context_global_and_older_sonnet_4(con) -> None:  # type: ignore[no-untyped-def]
    # global. Sonnet 4.5, 250,000 input x $6 = 1.5, 1,000 output x $22.50 = 0.0225
    add_bedrock(con, "g", model_id=SONNET_45_GLOBAL, input_tokens=250_000, output_tokens=1000)
    # Sonnet 4 in-Region: long-context rates with no premium: 250,000 cache read x 0.60 = 0.15
    add_bedrock(con, "s4", model_id=SONNET_4_IN_REGION, cache_read=250_000)
    build(con)
    assert cost(con, "g") == Decimal("1.5225")
    assert cost(con, "s4") == Decimal("0.15")
    assert event(con, "s4")["pricing_tier"] == "long_context"


def test_no_long_context_tier_for_opus_46(con) -> None:  # type: ignore[no-untyped-def]
    # Opus 4.6 has the 1M context at standard prices: 300,000 cache read x $0.50 = 0.15
    add_bedrock(con, "r", model_id=OPUS_46_GLOBAL, cache_read=300_000)
    build(con)
    assert cost(con, "r") == Decimal("0.15")
    assert event(con, "r")["pricing_tier"] == "standard"


# --- 1-hour cache writes ------------------------------------------------------------------------


def test_one_hour_cache_writes_use_their_rate(con) -> None:  # type: ignore[no-untyped-def]
    # us. Sonnet 4.5: 10,000 writes of which 4,000 are 1h:
    #   6,000 x 4.125 (5m) = 24,750; 4,000 x 6.60 (1h) = 26,400; total 51,150
    add_bedrock(con, "split", model_id=SONNET_45_US, cache_write=10_000, cache_write_1h=4000)
    # no split in the record: every write is a 5-minute write, 10,000 x 4.125 = 41,250
    add_bedrock(con, "nosplit", model_id=SONNET_45_US, cache_write=10_000)
    build(con)
    split = event(con, "split")
    assert (split["cache_write_5m_tokens"], split["cache_write_1h_tokens"]) == (6000, 4000)
    assert split["cost_usd"] == Decimal("0.05115")
    nosplit = event(con, "nosplit")
    assert (nosplit["cache_write_5m_tokens"], nosplit["cache_write_1h_tokens"]) == (10_000, 0)
    assert nosplit["cost_usd"] == Decimal("0.04125")


# --- unknown models -----------------------------------------------------------------------------


def test_unknown_model_has_null_cost_and_is_flagged(con) -> None:  # type: ignore[no-untyped-def]
    add_bedrock(
        con,
        "r",
        model_id="us.anthropic.claude-fable-5-20261101-v1:0",
        input_tokens=100,
        output_tokens=100,
    )
    add_bedrock(con, "early", model_id=OPUS_46_GLOBAL, at="2026-01-15T00:00:00Z", input_tokens=5)
    build(con)
    row = event(con, "r")
    assert row["model"] == "claude-fable-5"
    assert row["cost_usd"] is None
    assert row["unpriced"] is True
    assert row["price_version"] is None
    # before a model's first price (Opus 4.6 from 2026-02-05) there is no price either
    assert event(con, "early")["unpriced"] is True
    assert [(u["model"], u["requests"]) for u in pricing.unpriced_models(con)] == [
        ("claude-fable-5", 1),
        ("claude-opus-4-6", 1),
    ]
    assert all(c.ok for c in runner.run_checks(con))


def test_zero_tokens_of_an_unpriced_class_cost_zero(con) -> None:  # type: ignore[no-untyped-def]
    # a throttled request has no tokens: its cost is 0 at a known price, not NULL
    add_bedrock(con, "r", model_id=SONNET_45_US, error_code="ThrottlingException")
    build(con)
    row = event(con, "r")
    assert (row["status"], row["cost_usd"], row["unpriced"]) == ("throttled", Decimal(0), False)


# --- overrides from the config ------------------------------------------------------------------


def test_discount_override_splits_a_month(con) -> None:  # type: ignore[no-untyped-def]
    # 20% off us. Sonnet 4.5 from 2026-11-15 00:00 UTC: 100,000 input = $0.33 before (x 3.30),
    # $0.264 from then on (x 2.64)
    add_bedrock(
        con, "before", model_id=SONNET_45_US, at="2026-11-14T23:59:59Z", input_tokens=100_000
    )
    add_bedrock(con, "from", model_id=SONNET_45_US, at="2026-11-15T00:00:00Z", input_tokens=100_000)
    add_bedrock(
        con,
        "later",
        model_id=SONNET_45_US,
        at="2026-11-30T12:00:00Z",
        input_tokens=100_000,
        output_tokens=100_000,
    )
    build(
        con,
        price_overrides=[
            {
                "provider": "bedrock",
                "model": "claude-sonnet-4-5",
                "discount_pct": 20,
                "valid_from": "2026-11-15",
            },
        ],
    )
    assert cost(con, "before") == Decimal("0.33")
    assert (
        event(con, "before")["price_version"] == "bedrock/claude-sonnet-4-5/geo/standard/2025-09-29"
    )
    assert cost(con, "from") == Decimal("0.264")
    assert event(con, "from")["price_version"] == (
        "bedrock/claude-sonnet-4-5/geo/standard/2025-09-29"
        "+override/bedrock/claude-sonnet-4-5/all/all/2026-11-15"
    )
    # output too: 16.50 x 0.8 = 13.20 -> 100,000 x 13.20 = 1.32, plus 0.264 input
    assert cost(con, "later") == Decimal("1.584")
    # the month is the sum of both halves: 0.33 + 0.264 + 1.584
    total = con.execute(
        "select sum(cost_usd) from usage_daily where day >= '2026-11-01' and day < '2026-12-01'"
    ).fetchone()[0]
    assert total == Decimal("2.178")


def test_usd_override_for_one_token_type_and_scope(con) -> None:  # type: ignore[no-untyped-def]
    # input on global. Sonnet 4.5 at $2.50 from 2026-11-10; output keeps $15; geo untouched.
    add_bedrock(
        con,
        "g",
        model_id=SONNET_45_GLOBAL,
        at="2026-11-10T08:00:00Z",
        input_tokens=100_000,
        output_tokens=100_000,
    )
    add_bedrock(con, "us", model_id=SONNET_45_US, at="2026-11-10T08:00:00Z", input_tokens=100_000)
    # a later 10% discount on every token type is the latest override for input too:
    # from 2026-11-20 input is 3 x 0.9 = 2.70 and output 15 x 0.9 = 13.50
    add_bedrock(
        con,
        "g2",
        model_id=SONNET_45_GLOBAL,
        at="2026-11-21T08:00:00Z",
        input_tokens=100_000,
        output_tokens=100_000,
    )
    build(
        con,
        price_overrides=[
            {
                "provider": "bedrock",
                "model": "anthropic.claude-sonnet-4-5-20250929-v1:0",
                "scope": "global",
                "token_type": "input",
                "usd_per_mtok": "2.50",
                "valid_from": "2026-11-10",
            },
            {
                "provider": "bedrock",
                "model": "claude-sonnet-4-5",
                "scope": "global",
                "discount_pct": "10",
                "valid_from": "2026-11-20",
            },
        ],
    )
    assert cost(con, "g") == Decimal("1.75")  # 100,000 x 2.50 + 100,000 x 15
    assert cost(con, "us") == Decimal("0.33")  # 100,000 x 3.30
    assert cost(con, "g2") == Decimal("1.62")  # 100,000 x 2.70 + 100,000 x 13.50
    assert all(c.ok for c in runner.run_checks(con))


def test_override_prices_a_model_the_book_does_not_know(con) -> None:  # type: ignore[no-untyped-def]
    add_bedrock(
        con,
        "r",
        model_id="us.anthropic.claude-fable-5-20261101-v1:0",
        input_tokens=1_000_000,
        output_tokens=1_000_000,
    )
    add_bedrock(
        con,
        "cached",
        model_id="us.anthropic.claude-fable-5-20261101-v1:0",
        input_tokens=1_000_000,
        cache_read=10,
    )
    build(
        con,
        price_overrides=[
            {
                "provider": "bedrock",
                "model": "claude-fable-5",
                "token_type": t,
                "usd_per_mtok": v,
                "valid_from": "2026-11-01",
            }
            for t, v in (("input", "2"), ("output", "10"))
        ],
    )
    assert cost(con, "r") == Decimal("12")
    # a token class with no price: no silent $0, the whole request is unpriced
    assert event(con, "cached")["unpriced"] is True


def test_override_matching_nothing_is_a_warning(con) -> None:  # type: ignore[no-untyped-def]
    result = build(
        con,
        price_overrides=[
            {
                "provider": "bedrock",
                "model": "claude-nonexistent-1",
                "discount_pct": 5,
                "valid_from": "2026-01-01",
            },
        ],
    )
    assert [w for w in result.warnings if w.startswith("prices.")] == [
        "prices.overrides[0] (bedrock claude-nonexistent-1) matches no price-book entry; "
        "check provider, model and scope"
    ]


# --- the book itself ----------------------------------------------------------------------------


def test_price_book_rows(con) -> None:  # type: ignore[no-untyped-def]
    build(con)
    at = datetime(2026, 11, 1, tzinfo=UTC)
    rows = {
        (r["provider"], r["pricing_scope"], r["pricing_tier"], r["is_batch"]): r
        for r in pricing.list_prices(con, at=at, model="claude-sonnet-4-5")
    }
    us = rows[("bedrock", "geo", "standard", False)]
    assert [us[c] for c in pricing.RATE_COLUMNS] == [
        Decimal("3.3"),
        Decimal("16.5"),
        Decimal("4.125"),
        Decimal("6.6"),
        Decimal("0.33"),
    ]
    assert us["price_version"] == "bedrock/claude-sonnet-4-5/geo/standard/2025-09-29"
    batch = rows[("bedrock", "geo", "standard", True)]
    assert [batch[c] for c in pricing.RATE_COLUMNS] == [
        Decimal("1.65"),
        Decimal("8.25"),
        Decimal("2.0625"),
        Decimal("3.3"),
        Decimal("0.165"),
    ]
    assert rows[("vertex", "regional", "standard", False)]["input_usd_per_mtok"] == Decimal("3.3")
    assert rows[("vertex", "global", "long_context", False)]["output_usd_per_mtok"] == Decimal(
        "22.5"
    )
    assert rows[("anthropic", "global", "standard", False)]["cache_read_usd_per_mtok"] == Decimal(
        "0.3"
    )
    models = {r["model"] for r in pricing.list_prices(con, at=at)}
    assert {
        "claude-opus-4-6",
        "claude-opus-4-5",
        "claude-opus-4-1",
        "claude-opus-4",
        "claude-sonnet-4-6",
        "claude-sonnet-4-5",
        "claude-sonnet-4",
        "claude-sonnet-3-7",
        "claude-haiku-4-5",
        "claude-haiku-3-5",
    } <= models
    # long context only for Sonnet 4 and 4.5
    long_models = {
        r["model"] for r in pricing.list_prices(con, at=at) if r["pricing_tier"] == "long_context"
    }
    assert long_models == {"claude-sonnet-4", "claude-sonnet-4-5"}


def test_price_versions_are_unique_and_well_formed(con) -> None:  # type: ignore[no-untyped-def]
    pricing.load_builtin(con)
    rows = con.execute(
        "select price_version, provider, model, pricing_scope, valid_from from price_book_builtin"
    ).fetchall()
    assert len({r[0] for r in rows}) == len(rows)
    for version, provider, model, scope, valid_from in rows:
        parts = version.split("/")
        assert parts[:3] == [provider, model, scope]
        assert parts[3] in ("standard", "long_context", "batch", "batch_long_context")
        assert parts[4] == valid_from.date().isoformat()


# --- LiteLLM import -------------------------------------------------------------------------------

# Entries in the real format of model_prices_and_context_window.json (litellm.md 4.2): the first
# is verbatim from LiteLLM's table; the fable-5 ones are made up (the model is not in the book).
LITELLM_JSON = {
    "sample_spec": {"input_cost_per_token": 0, "litellm_provider": "one of ...", "mode": "chat"},
    "us.anthropic.claude-sonnet-4-5-20250929-v1:0": {
        "cache_creation_input_token_cost": 4.125e-06,
        "cache_creation_input_token_cost_above_1hr": 6.6e-06,
        "cache_read_input_token_cost": 3.3e-07,
        "input_cost_per_token": 3.3e-06,
        "input_cost_per_token_above_200k_tokens": 6.6e-06,
        "output_cost_per_token_above_200k_tokens": 2.475e-05,
        "cache_creation_input_token_cost_above_200k_tokens": 8.25e-06,
        "cache_creation_input_token_cost_above_1hr_above_200k_tokens": 1.32e-05,
        "cache_read_input_token_cost_above_200k_tokens": 6.6e-07,
        "deprecation_date": "2027-04-08",
        "litellm_provider": "bedrock_converse",
        "max_input_tokens": 200000,
        "max_output_tokens": 64000,
        "mode": "chat",
        "output_cost_per_token": 1.65e-05,
        "supports_prompt_caching": True,
        "prompt_cache_min_tokens": 1024,
        "input_cost_per_token_batches": 1.65e-06,
        "output_cost_per_token_batches": 8.25e-06,
        "source": "https://aws.amazon.com/bedrock/pricing/",
        "token_count_model": {
            "model": "anthropic.claude-sonnet-4-5-20250929-v1:0",
            "litellm_provider": "bedrock",
        },
    },
    "us.anthropic.claude-fable-5-20261101-v1:0": {
        "cache_creation_input_token_cost": 2.5e-06,
        "cache_creation_input_token_cost_above_1hr": 4e-06,
        "cache_read_input_token_cost": 2e-07,
        "input_cost_per_token": 2e-06,
        "litellm_provider": "bedrock_converse",
        "mode": "chat",
        "output_cost_per_token": 1e-05,
        "input_cost_per_token_batches": 1e-06,
        "output_cost_per_token_batches": 5e-06,
    },
    "bedrock/us-gov-west-1/anthropic.claude-fable-5-20261101-v1:0": {
        "input_cost_per_token": 9e-06,
        "output_cost_per_token": 9e-05,
        "litellm_provider": "bedrock",
        "mode": "chat",
    },
    "vertex_ai/claude-fable-5@20261101": {
        "input_cost_per_token": 2e-06,
        "output_cost_per_token": 1e-05,
        "cache_read_input_token_cost": 2e-07,
        "cache_creation_input_token_cost": 2.5e-06,
        "litellm_provider": "vertex_ai-anthropic_models",
        "mode": "chat",
        "regional_endpoint_uplift_multiplier": 1.1,
    },
    "claude-fable-5": {
        "input_cost_per_token": 2e-06,
        "output_cost_per_token": 1e-05,
        "litellm_provider": "anthropic",
        "mode": "chat",
    },
    "amazon.titan-embed-text-v2:0": {
        "input_cost_per_token": 2e-08,
        "output_cost_per_token": 0.0,
        "litellm_provider": "bedrock",
        "mode": "embedding",
    },
}


def test_import_litellm_prices_only_models_the_book_lacks(con, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "model_prices_and_context_window.json"
    path.write_text(json.dumps(LITELLM_JSON), encoding="utf-8")
    runner.create_macros(con)
    result = pricing.import_litellm(con, path, today=date(2026, 11, 21))
    assert (result.entries_read, result.skipped) == (7, 3)  # sample_spec, gov region, embedding
    assert result.models == [
        "anthropic/claude-fable-5",
        "bedrock/claude-fable-5",
        "bedrock/claude-sonnet-4-5",
        "vertex/claude-fable-5",
    ]
    imported = {
        (r[0], r[1], r[2], r[3]): r[4:]
        for r in con.execute(
            "select provider, model, pricing_scope, pricing_tier || case when is_batch then "
            "'+batch' else '' end, input_usd_per_mtok, output_usd_per_mtok, "
            "cache_write_5m_usd_per_mtok, cache_write_1h_usd_per_mtok, cache_read_usd_per_mtok "
            "from price_book_imported"
        ).fetchall()
    }
    assert imported[("bedrock", "claude-fable-5", "geo", "standard")] == (
        Decimal("2"),
        Decimal("10"),
        Decimal("2.5"),
        Decimal("4"),
        Decimal("0.2"),
    )
    assert imported[("bedrock", "claude-fable-5", "geo", "standard+batch")] == (
        Decimal("1"),
        Decimal("5"),
        Decimal("1.25"),
        Decimal("2"),
        Decimal("0.1"),
    )
    assert imported[("bedrock", "claude-sonnet-4-5", "geo", "long_context")] == (
        Decimal("6.6"),
        Decimal("24.75"),
        Decimal("8.25"),
        Decimal("13.2"),
        Decimal("0.66"),
    )
    assert imported[("vertex", "claude-fable-5", "regional", "standard")][:2] == (
        Decimal("2.2"),
        Decimal("11"),
    )

    # 1,000 input x $2 + 1,000 output x $10 = 12,000 micro-dollars, at the imported price
    add_bedrock(
        con,
        "fable",
        model_id="us.anthropic.claude-fable-5-20261101-v1:0",
        input_tokens=1000,
        output_tokens=1000,
    )
    # a model the built-in book knows keeps the built-in price
    add_bedrock(con, "sonnet", model_id=SONNET_45_US, input_tokens=1000)
    build(con)
    fable = event(con, "fable")
    assert fable["cost_usd"] == Decimal("0.012")
    assert fable["price_version"] == "litellm/bedrock/claude-fable-5/geo/standard/2026-11-21"
    assert (
        event(con, "sonnet")["price_version"] == "bedrock/claude-sonnet-4-5/geo/standard/2025-09-29"
    )

    # a new import replaces the previous one
    path.write_text(json.dumps({"sample_spec": {}}), encoding="utf-8")
    assert pricing.import_litellm(con, path).rows_imported == 0
    build(con)
    assert event(con, "fable")["unpriced"] is True


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[1, 2]",
            "is not LiteLLM's model_prices_and_context_window.json (expected an object "
            "keyed by model id)",
        ),
        ("{not json", "is not valid JSON"),
    ],
)
def test_import_litellm_rejects_other_files(con, tmp_path: Path, text: str, message: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "prices.json"
    path.write_text(text, encoding="utf-8")
    runner.create_macros(con)
    with pytest.raises(
        pricing.PriceDataError, match=message.replace("(", r"\(").replace(")", r"\)")
    ):
        pricing.import_litellm(con, path)


# --- every Claude generation (models/prices/README.md "Older generations") ------------------------

# Bedrock, through the real path: 12,345 input + 6,789 output tokens (no prompt caching on these
# models' Bedrock rows). id, when, expected cost (None: unpriced), worked out by hand in micro-$.
GENERATIONS_BEDROCK = [
    # Instant 1.2: 12,345 x 0.80 + 6,789 x 2.40 = 9,876 + 16,293.6
    ("anthropic.claude-instant-v1", "2024-05-01T00:00:00Z", "0.0261696"),
    # 2.0 and 2.1: 12,345 x 8 + 6,789 x 24 = 98,760 + 162,936
    ("anthropic.claude-v2", "2024-05-01T00:00:00Z", "0.261696"),
    ("anthropic.claude-v2:1", "2024-05-01T00:00:00Z", "0.261696"),
    ("anthropic.claude-v2:1:200k", "2023-11-21T00:00:00Z", "0.261696"),
    # before the Nov 2023 price cut: no price in the book (never a guess)
    ("anthropic.claude-v2:1", "2023-11-20T23:59:59Z", None),
    # 3 Haiku: 12,345 x 0.25 + 6,789 x 1.25 = 3,086.25 + 8,486.25
    ("anthropic.claude-3-haiku-20240307-v1:0", "2024-05-01T00:00:00Z", "0.0115725"),
    ("us.anthropic.claude-3-haiku-20240307-v1:0", "2024-05-01T00:00:00Z", "0.0115725"),
    # 3 Sonnet, 3.5 Sonnet (both), 3.7 Sonnet: 12,345 x 3 + 6,789 x 15 = 37,035 + 101,835
    ("anthropic.claude-3-sonnet-20240229-v1:0", "2024-05-01T00:00:00Z", "0.13887"),
    ("anthropic.claude-3-5-sonnet-20240620-v1:0", "2024-07-01T00:00:00Z", "0.13887"),
    ("us.anthropic.claude-3-5-sonnet-20241022-v2:0", "2024-11-01T00:00:00Z", "0.13887"),
    ("us.anthropic.claude-3-7-sonnet-20250219-v1:0", "2025-03-01T00:00:00Z", "0.13887"),
    # 3 Opus: 12,345 x 15 + 6,789 x 75 = 185,175 + 509,175
    ("us.anthropic.claude-3-opus-20240229-v1:0", "2024-05-01T00:00:00Z", "0.69435"),
    # 3.5 Haiku: 12,345 x 0.80 + 6,789 x 4 = 9,876 + 27,156
    ("anthropic.claude-3-5-haiku-20241022-v1:0", "2025-01-01T00:00:00Z", "0.037032"),
    # Amazon's own models stay unpriced unless imported
    ("amazon.nova-pro-v1:0", "2025-01-01T00:00:00Z", None),
    ("amazon.titan-text-express-v1", "2025-01-01T00:00:00Z", None),
]


@pytest.fixture(scope="module")
def generations():  # type: ignore[no-untyped-def]
    c = new_ledger()
    for n, (model_id, at, _) in enumerate(GENERATIONS_BEDROCK):
        add_bedrock(c, f"g{n}", model_id=model_id, at=at, input_tokens=12345, output_tokens=6789)
    # prompt caching on a model whose Bedrock row has no cache rate: unpriced, not $0
    add_bedrock(
        c,
        "haiku-3-cached",
        model_id="anthropic.claude-3-haiku-20240307-v1:0",
        at="2024-05-01T00:00:00Z",
        input_tokens=10,
        cache_read=1000,
    )
    build(c)
    yield c
    c.close()


@pytest.mark.parametrize(
    ("n", "model_id", "expected"),
    [(n, g[0], g[2]) for n, g in enumerate(GENERATIONS_BEDROCK)],
)
def test_every_generation_on_bedrock(
    generations, n: int, model_id: str, expected: str | None
) -> None:  # type: ignore[no-untyped-def]
    row = event(generations, f"g{n}")
    assert row["cost_usd"] == (None if expected is None else Decimal(expected)), model_id
    assert row["unpriced"] is (expected is None)


def test_cache_tokens_without_a_cache_rate_are_unpriced(generations) -> None:  # type: ignore[no-untyped-def]
    row = event(generations, "haiku-3-cached")
    assert (row["cost_usd"], row["unpriced"]) == (None, True)
    assert row["price_version"] == "bedrock/claude-haiku-3/in_region/standard/2024-03-13"


def test_every_generation_price_version(generations) -> None:  # type: ignore[no-untyped-def]
    versions = {
        event(generations, f"g{n}")["model"]: event(generations, f"g{n}")["price_version"]
        for n in range(len(GENERATIONS_BEDROCK))
        if GENERATIONS_BEDROCK[n][2] is not None
    }
    assert versions == {
        "claude-instant-1-2": "bedrock/claude-instant-1-2/in_region/standard/2023-11-21",
        "claude-2-0": "bedrock/claude-2-0/in_region/standard/2023-11-21",
        "claude-2-1": "bedrock/claude-2-1/in_region/standard/2023-11-21",
        "claude-haiku-3": "bedrock/claude-haiku-3/geo/standard/2024-03-13",
        "claude-sonnet-3": "bedrock/claude-sonnet-3/in_region/standard/2024-03-04",
        "claude-sonnet-3-5": "bedrock/claude-sonnet-3-5/in_region/standard/2024-06-20",
        "claude-sonnet-3-5-v2": "bedrock/claude-sonnet-3-5-v2/geo/standard/2024-10-22",
        "claude-sonnet-3-7": "bedrock/claude-sonnet-3-7/geo/standard/2025-02-24",
        "claude-opus-3": "bedrock/claude-opus-3/geo/standard/2024-03-04",
        "claude-haiku-3-5": "bedrock/claude-haiku-3-5/in_region/standard/2024-11-04",
    }


# Vertex and the Anthropic API, from the book by logged id: 12,345 input, 6,789 output, 100,000
# cache read, 10,000 cache write 5m, 1,000 cache write 1h. provider, scope, id, when, cost.
MIX = {
    "input_usd_per_mtok": 12345,
    "output_usd_per_mtok": 6789,
    "cache_read_usd_per_mtok": 100000,
    "cache_write_5m_usd_per_mtok": 10000,
    "cache_write_1h_usd_per_mtok": 1000,
}
GENERATIONS_BOOK = [
    # 3 Haiku: 11,572.5 + 100,000 x 0.03 + 10,000 x 0.30 + 1,000 x 0.50
    ("vertex", "regional", "claude-3-haiku@20240307", "2024-05-01", "0.0180725"),
    ("anthropic", "global", "claude-3-haiku-20240307", "2024-05-01", "0.0180725"),
    # 3 Opus: 694,350 + 100,000 x 1.50 + 10,000 x 18.75 + 1,000 x 30
    ("vertex", "regional", "claude-3-opus@20240229", "2024-05-01", "1.06185"),
    ("anthropic", "global", "claude-3-opus-latest", "2024-05-01", "1.06185"),
    # 3.5 Sonnet (both) and 3.7 Sonnet: 138,870 + 30,000 + 37,500 + 6,000
    ("vertex", "global", "claude-3-5-sonnet@20240620", "2024-07-01", "0.21237"),
    ("vertex", "regional", "claude-3-5-sonnet-v2@20241022", "2024-11-01", "0.21237"),
    ("anthropic", "global", "claude-3-5-sonnet-20241022", "2024-11-01", "0.21237"),
    ("vertex", "regional", "claude-3-7-sonnet@20250219", "2025-03-01", "0.21237"),
    # 3.5 Haiku: 37,032 + 100,000 x 0.08 + 10,000 x 1 + 1,000 x 1.6
    ("vertex", "regional", "claude-3-5-haiku@20241022", "2025-01-01", "0.056632"),
    ("anthropic", "global", "claude-3-5-haiku-latest", "2025-01-01", "0.056632"),
    # 3 Sonnet never had prompt caching: the cached mix is unpriced
    ("vertex", "regional", "claude-3-sonnet@20240229", "2024-05-01", None),
    ("anthropic", "global", "claude-3-sonnet-20240229", "2024-05-01", None),
    # Claude 2.x and Instant (Anthropic API only; no caching: unpriced with cache tokens)
    ("anthropic", "global", "claude-2.1", "2024-05-01", None),
    ("anthropic", "global", "claude-instant-1.2", "2024-05-01", None),
]


@pytest.fixture(scope="module")
def book():  # type: ignore[no-untyped-def]
    c = new_ledger()
    build(c)
    yield c
    c.close()


def _cost_from_book(con, provider: str, scope: str, model_id: str, at: str, mix) -> Decimal | None:  # type: ignore[no-untyped-def]
    rows = [
        r
        for r in pricing.list_prices(
            con,
            at=datetime.fromisoformat(at).replace(tzinfo=UTC),
            provider=provider,
            model=model_id,
        )
        if r["pricing_scope"] == scope and r["pricing_tier"] == "standard" and not r["is_batch"]
    ]
    assert len(rows) == 1, (provider, scope, model_id)
    total = Decimal(0)
    for column, tokens in mix.items():
        if tokens and rows[0][column] is None:
            return None
        total += Decimal(tokens) * (rows[0][column] or 0) / 1_000_000
    return total


@pytest.mark.parametrize(("provider", "scope", "model_id", "at", "expected"), GENERATIONS_BOOK)
def test_every_generation_on_vertex_and_the_api(  # type: ignore[no-untyped-def]
    book, provider: str, scope: str, model_id: str, at: str, expected: str | None
) -> None:
    got = _cost_from_book(book, provider, scope, model_id, at, MIX)
    assert got == (None if expected is None else Decimal(expected))


@pytest.mark.parametrize(
    ("model_id", "expected"),
    [
        ("claude-2.1", "0.261696"),  # 12,345 x 8 + 6,789 x 24
        ("claude-2.0", "0.261696"),
        ("claude-instant-1.2", "0.0261696"),  # 12,345 x 0.80 + 6,789 x 2.40
        ("claude-3-sonnet-20240229", "0.13887"),  # 12,345 x 3 + 6,789 x 15
    ],
)
def test_uncached_generations_on_the_api(book, model_id: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    mix = {"input_usd_per_mtok": 12345, "output_usd_per_mtok": 6789}
    assert _cost_from_book(book, "anthropic", "global", model_id, "2024-05-01", mix) == Decimal(
        expected
    )


def test_book_has_every_generation_per_provider(con) -> None:  # type: ignore[no-untyped-def]
    pricing.load_builtin(con)
    have = {
        (p, m)
        for p, m in con.execute(
            "select distinct provider, model from price_book_builtin"
        ).fetchall()
    }
    older = ["claude-haiku-3", "claude-sonnet-3", "claude-opus-3", "claude-sonnet-3-5"]
    older += ["claude-sonnet-3-5-v2", "claude-haiku-3-5", "claude-sonnet-3-7"]
    legacy = ["claude-instant-1-2", "claude-2-0", "claude-2-1"]
    for model in older:
        assert {("bedrock", model), ("vertex", model), ("anthropic", model)} <= have, model
    for model in legacy:  # never on Vertex
        assert {("bedrock", model), ("anthropic", model)} <= have, model
        assert ("vertex", model) not in have
