"""Custom API gateways: each format's real record shape through files, S3 and CloudWatch (moto),
exact requests, tokens and cost, the gateway in front of Bedrock counted once, bad input."""

# ruff: noqa: F811 - pytest fixtures imported from moto_server are redefined as arguments

from __future__ import annotations

import gzip
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner
from gateway_records import (
    EPOCH_2026_11_20_10,
    body_log,
    cloudflare_api,
    cloudflare_logpush,
    envoy,
    kong,
    message,
    sse,
)
from moto_server import (  # noqa: F401 - fixtures
    aws,
    moto_endpoint,
    now_ms,
    put_events,
    put_objects,
    record,
)
from vertex_server import FakeCloudLogging

from ingest.cli import cli


def _lines(records: list[Any]) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)


def _ingest(db: Path, *args: str, config: Path | None = None, code: int = 0) -> str:
    base = ["--db", str(db)] + (["--config", str(config)] if config else [])
    result = CliRunner().invoke(cli, [*base, "ingest", *args])
    assert result.exit_code == code, result.output + (result.stderr or "")
    return result.output + (result.stderr or "")


def _rows(db: Path, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


EVENT_COLUMNS = (
    "request_id, provider, developer, model, pricing_scope, input_tokens, output_tokens, "
    "cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens, cost_usd, status, "
    "counted, token_detail"
)


def _events(db: Path, where: str = "true") -> list[tuple[Any, ...]]:
    return _rows(db, f"select {EVENT_COLUMNS} from usage_events where {where} order by request_id")


def _rejects(db: Path) -> list[tuple[str, str]]:
    return [
        (str(loc), str(reason))
        for loc, reason in _rows(
            db, "select location, reason from rejected_records order by location"
        )
    ]


# ----------------------------------------------------------------------------------------------
# kong


def test_kong_records_tokens_partial_and_identity(tmp_path: Path) -> None:
    log = tmp_path / "kong" / "file-log.json"
    log.parent.mkdir()
    log.write_text(
        _lines(
            [
                # Kong 3.8+: ai.proxy; the user from the header Claude Code's
                # ANTHROPIC_CUSTOM_HEADERS adds; cache reads in prompt_tokens_details
                kong("k-1", cached_tokens=30, headers={"x-user-email": "Dave@Acme.example"}),
                # older Kong: the AI block keyed by the plugin's name; a consumer with an email
                kong(
                    "k-2",
                    legacy_plugin="ai-proxy-advanced",
                    consumer="erin@acme.example",
                    model="claude-haiku-4-5-20251001",
                    prompt_tokens=1000,
                    completion_tokens=100,
                ),
                # a consumer that names no one, throttled upstream
                kong("k-3", consumer="ci-bot", status=429, prompt_tokens=0, completion_tokens=0),
            ]
        )
    )
    db = tmp_path / "ledger.duckdb"
    out = _ingest(db, "gateway-files", str(log), "--format", "kong", "--name", "kong-prod")
    assert "3 new, 0 updated, 0 rejected" in out
    # Sonnet 4.5 at Anthropic's list price: 100 x $3 + 20 x $15 + 30 x $0.30 per million;
    # Haiku 4.5: 1000 x $1 + 100 x $5
    assert _events(db) == [
        ("k-1", "anthropic", "dave@acme.example", "claude-sonnet-4-5", "global", 100, 20, 30,
         0, 0, Decimal("0.000609"), "ok", True, "partial"),
        ("k-2", "anthropic", "erin@acme.example", "claude-haiku-4-5", "global", 1000, 100, 0,
         0, 0, Decimal("0.0015"), "ok", True, "partial"),
        ("k-3", "anthropic", "unattributed", "claude-sonnet-4-5", "global", 0, 0, 0, 0, 0,
         Decimal("0"), "throttled", True, "partial"),
    ]  # fmt: skip
    raw = _rows(
        db,
        "select request_id, gateway_name, consumer, route, service, status_code, "
        "total_latency_ms, upstream_latency_ms, gateway_latency_ms, source_location "
        "from raw_gateway order by request_id",
    )
    assert raw[0] == (
        "k-1", "kong-prod", "dave", "claude-code", "anthropic", 200, 3400.0, 3310.0, 90.0,
        f"{log}:1",
    )  # fmt: skip
    assert [r[2] for r in raw] == ["dave", "erin@acme.example", "ci-bot"]
    assert _rows(db, "select event_id from usage_events order by 1")[0] == (
        "gateway:kong-prod:k-1",
    )
    # the same file again: nothing new
    _ingest(db, "gateway-files", str(log), "--format", "kong", "--name", "kong-prod")
    assert _rows(db, "select count(*) from usage_events") == [(3,)]


def test_kong_consumers_resolve_through_the_directory_and_rules(tmp_path: Path) -> None:
    log = tmp_path / "kong.log"
    log.write_text(
        _lines([kong("d-1", consumer="dave"), kong("d-2", consumer="ci-bot"), kong("d-3")])
    )
    (tmp_path / "people.csv").write_text(
        "email,name,team,cost_center,manager,aliases\n"
        "dave@acme.example,Dave Okafor,search,CC-200,,dave;d.okafor\n"
    )
    config = tmp_path / "llmledger.toml"
    config.write_text(
        '[people]\ndirectory = "people.csv"\n\n'
        '[[identity.rules]]\nmatch = \'^ci-bot$\'\nteam = "platform"\nsource = "gateway"\n'
    )
    db = tmp_path / "ledger.duckdb"
    _ingest(db, "gateway-files", str(log), "--format", "kong", config=config)
    assert _rows(
        db,
        "select request_id, principal, developer, team, cost_center, identity_status "
        "from usage_events order by 1",
    ) == [
        ("d-1", "dave", "dave@acme.example", "search", "CC-200", "directory"),
        ("d-2", "ci-bot", "unattributed", "platform", "unattributed", "rule"),
        ("d-3", "dave", "dave@acme.example", "search", "CC-200", "directory"),
    ]


def test_rotating_gateway_keys_map_to_people_by_effective_date(tmp_path: Path) -> None:
    day2 = 1_795_255_200_000  # 2026-11-21T10:00:00Z
    records = [
        kong("rk-1", consumer="shared-claude"),  # 2026-11-20: key-7f3 was Dave's
        kong("rk-2", consumer="shared-claude", started_at=day2),  # reissued to Erin on the 21st
        kong("rk-3", consumer="shared-claude"),  # another key of the helper's naming scheme
    ]
    records[0]["authenticated_entity"]["id"] = "key-7f3"
    records[1]["authenticated_entity"]["id"] = "key-7f3"
    records[2]["authenticated_entity"]["id"] = "claude-frank-2026-11-20"
    log = tmp_path / "kong.log"
    log.write_text(_lines(records))
    config = tmp_path / "llmledger.toml"
    config.write_text(
        "[[gateway.keys]]\nmatch = '^key-7f3$'\ndeveloper = \"dave@acme.example\"\n"
        'valid_to = "2026-11-21"\n\n'
        "[[gateway.keys]]\nmatch = '^key-7f3$'\ndeveloper = \"erin@acme.example\"\n"
        'valid_from = "2026-11-21"\nteam = "data"\n\n'
        "[[gateway.keys]]\nmatch = '^claude-frank-'\ndeveloper = \"frank@acme.example\"\n"
    )
    db = tmp_path / "ledger.duckdb"
    _ingest(db, "gateway-files", str(log), "--format", "kong", config=config)
    assert _rows(db, "select request_id, developer, team from usage_events order by 1") == [
        ("rk-1", "dave@acme.example", "unattributed"),
        ("rk-2", "erin@acme.example", "data"),
        ("rk-3", "frank@acme.example", "unattributed"),
    ]
    config.write_text("[[gateway.keys]]\nmatch = '^key-(('\ndeveloper = \"x\"\n")
    out = _ingest(db, "gateway-files", str(log), "--format", "kong", config=config, code=2)
    assert "gateway.keys[0].match" in out


def test_kong_payload_bodies_are_never_stored(tmp_path: Path) -> None:
    log = tmp_path / "kong.log"
    log.write_text(_lines([kong("k-body", body="SECRET-PROMPT-TEXT")]))
    db = tmp_path / "ledger.duckdb"
    _ingest(db, "gateway-files", str(log), "--format", "kong")
    assert _rows(db, "select count(*) from raw_gateway") == [(1,)]
    assert b"SECRET-PROMPT-TEXT" not in db.read_bytes()


# ----------------------------------------------------------------------------------------------
# anthropic-body


def test_stream_usage_is_message_start_plus_the_last_delta(tmp_path: Path) -> None:
    log = tmp_path / "openresty.log"
    log.write_text(
        _lines(
            [
                # three message_delta events (15, 180, 412 output tokens, cumulative): 412
                body_log("s-1", sse(outputs=(15, 180, 412), cache_1h=1000)),
                # a non-streaming response logged as a JSON object
                body_log("s-2", message(input_tokens=250, output_tokens=40)),
                # ... and as the JSON text of the body
                body_log(
                    "s-3",
                    json.dumps(message(message_id="msg_02", cache_read=1000, cache_creation=200)),
                ),
            ]
        )
    )
    db = tmp_path / "ledger.duckdb"
    out = _ingest(db, "gateway-files", str(log), "--format", "anthropic-body", "--name", "edge")
    assert "3 new, 0 updated, 0 rejected" in out
    # s-1, Sonnet 4.5: 12 x 3 + 412 x 15 + 40000 x 0.30 + 2000 x 3.75 + 1000 x 6 = 31716 / 1e6
    # s-3, Haiku 4.5: 250 x 1 + 40 x 5 + 1000 x 0.10 + 200 x 1.25 = 800 / 1e6
    assert _events(db) == [
        ("s-1", "anthropic", "erin@acme.example", "claude-sonnet-4-5", "global", 12, 412, 40000,
         2000, 1000, Decimal("0.031716"), "ok", True, "exact"),
        ("s-2", "anthropic", "erin@acme.example", "claude-haiku-4-5", "global", 250, 40, 0, 0, 0,
         Decimal("0.00045"), "ok", True, "exact"),
        ("s-3", "anthropic", "erin@acme.example", "claude-haiku-4-5", "global", 250, 40, 1000,
         200, 0, Decimal("0.0008"), "ok", True, "exact"),
    ]  # fmt: skip
    assert _rows(
        db,
        "select request_id, request_mode, provider_request_id, gateway_latency_ms "
        "from raw_gateway order by 1",
    ) == [
        ("s-1", "stream", "msg_01XFDUDYJgAACzvnptvVoYEL", pytest.approx(55.0)),
        ("s-2", "oneshot", "msg_01AbCdEfGhIjKlMnOpQrStUv", pytest.approx(55.0)),
        ("s-3", "oneshot", "msg_02", pytest.approx(55.0)),
    ]


def test_truncated_stream_is_kept_as_partial(tmp_path: Path) -> None:
    log = tmp_path / "cut.log"
    log.write_text(_lines([body_log("t-1", sse(outputs=(15, 180), stop=False))]))
    db = tmp_path / "ledger.duckdb"
    _ingest(db, "gateway-files", str(log), "--format", "anthropic-body")
    assert _events(db) == [
        ("t-1", "anthropic", "erin@acme.example", "claude-sonnet-4-5", "global", 12, 180, 40000,
         3000, 0, Decimal("0.025986"), "ok", True, "partial"),
    ]  # fmt: skip
    assert _rows(db, "select truncated from raw_gateway") == [(True,)]


def test_upstream_names_the_provider_and_its_scope(tmp_path: Path) -> None:
    log = tmp_path / "b.log"
    log.write_text(
        _lines(
            [
                body_log(
                    "u-1",
                    sse(
                        model="us.anthropic.claude-sonnet-4-5-20250929-v1:0",
                        cache_read=0,
                        cache_creation=0,
                        input_tokens=1000,
                        outputs=(100,),
                    ),
                    upstream="bedrock-runtime.us-east-1.amazonaws.com:443",
                ),
                body_log(
                    "u-2",
                    sse(
                        model="claude-sonnet-4-5@20250929",
                        message_id="msg_vrtx_01",
                        cache_read=0,
                        cache_creation=0,
                        input_tokens=1000,
                        outputs=(100,),
                    ),
                    upstream="https://aiplatform.googleapis.com/v1/projects/p/locations/global",
                ),
                body_log(
                    "u-3",
                    sse(
                        model="claude-sonnet-4-5@20250929",
                        message_id="msg_vrtx_02",
                        cache_read=0,
                        cache_creation=0,
                        input_tokens=1000,
                        outputs=(100,),
                    ),
                    upstream="us-east5-aiplatform.googleapis.com:443",
                ),
            ]
        )  # fmt: skip
    )
    db = tmp_path / "ledger.duckdb"
    _ingest(db, "gateway-files", str(log), "--format", "anthropic-body")
    # Bedrock's geographic profile: Sonnet 4.5 at +10%, 1000 x 3.30 + 100 x 16.50; Vertex's
    # global endpoint at list price (1000 x 3 + 100 x 15), a regional one at +10%
    assert _events(db) == [
        ("u-1", "bedrock", "erin@acme.example", "claude-sonnet-4-5", "geo", 1000, 100, 0, 0, 0,
         Decimal("0.00495"), "ok", True, "exact"),
        ("u-2", "vertex", "erin@acme.example", "claude-sonnet-4-5", "global", 1000, 100, 0, 0, 0,
         Decimal("0.0045"), "ok", True, "exact"),
        ("u-3", "vertex", "erin@acme.example", "claude-sonnet-4-5", "regional", 1000, 100, 0, 0,
         0, Decimal("0.00495"), "ok", True, "exact"),
    ]  # fmt: skip
    assert _rows(db, "select region from raw_gateway order by request_id") == [
        ("us-east-1",), ("global",), ("us-east5",),
    ]  # fmt: skip


def test_kong_gemini_provider_with_a_claude_model_is_vertex(tmp_path: Path) -> None:
    # Kong names Vertex AI and Google's public Gemini API alike: provider "gemini"
    log = tmp_path / "kong.log"
    log.write_text(
        _lines(
            [
                kong("kv-1", provider="gemini", model="claude-sonnet-4-5@20250929"),
                kong("kv-2", provider="gemini", model="gemini-2.5-pro"),
            ]
        )
    )
    db = tmp_path / "ledger.duckdb"
    _ingest(db, "gateway-files", str(log), "--format", "kong")
    assert _rows(db, "select request_id, provider from raw_gateway order by 1") == [
        ("kv-1", "vertex"),
        ("kv-2", "gemini"),
    ]
    # Vertex with no location logged: the regional price (+10%), 100 x 3.30 + 20 x 16.50
    assert _events(db, "request_id = 'kv-1'") == [
        ("kv-1", "vertex", "unattributed", "claude-sonnet-4-5", "regional", 100, 20, 0, 0, 0,
         Decimal("0.00066"), "ok", True, "partial"),
    ]  # fmt: skip


def test_json_array_export_and_gzip(tmp_path: Path) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "export.json").write_text(
        json.dumps(
            [body_log(f"a-{i}", message(message_id=f"msg_a{i}", input_tokens=100)) for i in (1, 2)],
            indent=2,
        )
    )
    (folder / "hour-10.log").write_bytes(
        gzip.compress(_lines([body_log("g-1", sse(outputs=(5, 9)))]).encode(), mtime=0)
    )
    db = tmp_path / "ledger.duckdb"
    out = _ingest(db, "gateway-files", str(folder), "--format", "anthropic-body")
    assert "3 new, 0 updated, 0 rejected" in out
    assert _rows(db, "select request_id, output_tokens, source_location from raw_gateway "
                     "order by 1") == [
        ("a-1", 40, f"{folder / 'export.json'}#1"),
        ("a-2", 40, f"{folder / 'export.json'}#2"),
        ("g-1", 9, f"{folder / 'hour-10.log'}:1"),
    ]  # fmt: skip


def test_bad_input_goes_to_rejected_records(tmp_path: Path) -> None:
    log = tmp_path / "bad.log"
    no_start = (
        'event: message_delta\ndata: {"type":"message_delta","usage":{"output_tokens":3}}\n\n'
    )
    log.write_text(
        _lines(
            [
                body_log("ok-1", message()),
                "{not json",
                "[1, 2]",
                body_log("no-body", None),
                body_log("no-start", no_start),
                body_log("plain", "upstream timed out"),
                {**body_log("no-time", message()), "timestamp": None},
                body_log("bad-time", message(), timestamp="yesterday"),
                body_log("future", message(), timestamp="2099-01-01T00:00:00Z"),
                body_log("neg", {**message(), "usage": {"input_tokens": -4, "output_tokens": 1}}),
                body_log("frac", {**message(), "usage": {"input_tokens": 4.5, "output_tokens": 1}}),
                body_log(
                    "huge", {**message(), "usage": {"input_tokens": 20_000_000, "output_tokens": 1}}
                ),
                body_log("no-out", {**message(), "usage": {"input_tokens": 4}}),
                {**body_log("x", message(message_id=None)), "request_id": None},  # type: ignore[arg-type]
            ]
        )  # fmt: skip
    )
    db = tmp_path / "ledger.duckdb"
    _ingest(db, "gateway-files", str(log), "--format", "anthropic-body")
    assert _rows(db, "select request_id from raw_gateway") == [("ok-1",)]
    loc = str(log)
    assert sorted(_rejects(db), key=lambda r: int(r[0].rsplit(":", 1)[1])) == [
        (f"{loc}:2", "malformed JSON"),
        (f"{loc}:3", "malformed JSON"),
        (f"{loc}:4", "missing field response_body"),
        (f"{loc}:5", "stream without message_start"),
        (f"{loc}:6", "response body is neither an Anthropic message nor an SSE stream"),
        (f"{loc}:7", "missing field timestamp"),
        (f"{loc}:8", "invalid timestamp"),
        (f"{loc}:9", "timestamp in the future"),
        (f"{loc}:10", "negative usage.input_tokens"),
        (f"{loc}:11", "wrong type for usage.input_tokens: expected an integer"),
        (f"{loc}:12", "implausible usage.input_tokens: above 10,000,000 tokens"),
        (f"{loc}:13", "missing field usage.output_tokens"),
        (f"{loc}:14", "missing field request_id"),
    ]


def test_unknown_format_is_a_usage_error(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("{}\n")
    out = _ingest(tmp_path / "l.duckdb", "gateway-files", str(log), "--format", "nginx", code=2)
    assert (
        "unknown gateway format 'nginx'; use one of: anthropic-body, apigee, cloudflare, "
        "envoy-ai, kong, mapping" in out
    )


# ----------------------------------------------------------------------------------------------
# envoy-ai, cloudflare, mapping


def test_envoy_ai_access_log(tmp_path: Path) -> None:
    log = tmp_path / "envoy.log"
    log.write_text(
        _lines([envoy("e-1", cached=1000, creation=100), envoy("e-2", user=None, tenant=None)])
    )
    db = tmp_path / "ledger.duckdb"
    _ingest(db, "gateway-files", str(log), "--format", "envoy-ai")
    # e-1: genai_tokens_input (1200) includes the 1000 cache reads and 100 writes:
    # 100 x 3 + 80 x 15 + 1000 x 0.30 + 100 x 3.75; e-2 has no cache fields: 1200 x 3 + 80 x 15
    assert _events(db) == [
        ("e-1", "anthropic", "frank@acme.example", "claude-sonnet-4-5", "global", 100, 80, 1000,
         100, 0, Decimal("0.002175"), "ok", True, "exact"),
        ("e-2", "anthropic", "unattributed", "claude-sonnet-4-5", "global", 1200, 80, 0, 0, 0,
         Decimal("0.0048"), "ok", True, "partial"),
    ]  # fmt: skip
    assert _rows(db, "select team_hint, gateway_latency_ms from raw_gateway order by 1") == [
        ("search", 70.0),
        (None, 70.0),
    ]


def test_envoy_ai_access_log_with_the_gen_ai_field_names(tmp_path: Path) -> None:
    # the field names of Envoy AI Gateway's current access-log docs (gen_ai.*), cache tokens
    # under the OTel names its traces use
    line = {
        "start_time": "2026-11-20T10:00:00.123Z", "response_code": 200, "duration": 2400,
        "x-envoy-upstream-service-time": "2310", "x-request-id": "g-1",
        "gen_ai.request.model": "claude-sonnet-4-5", "gen_ai.provider.name": "anthropic",
        "gen_ai.response.model": "claude-sonnet-4-5-20250929",
        "gen_ai.usage.input_tokens": 1200, "gen_ai.usage.output_tokens": 80,
        "gen_ai.usage.cache_read.input_tokens": 1000,
        "gen_ai.usage.cache_creation.input_tokens": 100, "x-user-email": "frank@acme.example",
    }  # fmt: skip
    log = tmp_path / "envoy.log"
    log.write_text(_lines([line]))
    db = tmp_path / "ledger.duckdb"
    _ingest(db, "gateway-files", str(log), "--format", "envoy-ai")
    assert _events(db) == [
        ("g-1", "anthropic", "frank@acme.example", "claude-sonnet-4-5", "global", 100, 80, 1000,
         100, 0, Decimal("0.002175"), "ok", True, "exact"),
    ]  # fmt: skip
    assert _rows(db, "select model_id, gateway_latency_ms from raw_gateway") == [
        ("claude-sonnet-4-5-20250929", 90.0)
    ]


def test_cloudflare_logs_api_and_logpush(tmp_path: Path) -> None:
    folder = tmp_path / "cf"
    folder.mkdir()
    (folder / "api.json").write_text(
        json.dumps([cloudflare_api("c-1"), cloudflare_api("c-2", cached=True)])
    )
    # a logs API response saved as it came (curl .../logs > page.json)
    (folder / "page.json").write_text(
        json.dumps({"result": [cloudflare_api("c-3", tokens_in=10, tokens_out=1)],
                    "result_info": {"page": 1, "per_page": 50}, "success": True})
    )  # fmt: skip
    (folder / "logpush.json.gz").write_bytes(
        gzip.compress(_lines([cloudflare_logpush()]).encode(), mtime=0)
    )
    db = tmp_path / "ledger.duckdb"
    _ingest(db, "gateway-files", str(folder), "--format", "cloudflare", "--name", "cf-gw")
    rows = _rows(
        db,
        "select request_id, developer, input_tokens, output_tokens, cost_usd, "
        "reported_cost_usd, billable, token_detail from usage_events order by request_id",
    )
    assert rows[:2] == [
        # tokens_in priced as uncached input: 300 x 3 + 50 x 15
        ("c-1", "gina@acme.example", 300, 50, Decimal("0.00165"), Decimal("0.00165"), True,
         "partial"),
        # served from Cloudflare's cache: not billed by the provider
        ("c-2", "gina@acme.example", 300, 50, Decimal("0"), Decimal("0.00165"), False,
         "partial"),
    ]  # fmt: skip
    # c-3: 10 x 3 + 1 x 15
    assert rows[2] == (
        "c-3", "gina@acme.example", 10, 1, Decimal("0.000045"), Decimal("0.00165"), True,
        "partial",
    )  # fmt: skip
    [logpush] = rows[3:]
    assert logpush[0].startswith("lp-") and logpush[1:] == (
        "gina@acme.example", 0, 0, Decimal("0"), Decimal("0.0042"), True, "partial",
    )  # fmt: skip


def _apigee(user: str, prompt: int, completion: int) -> dict[str, Any]:
    return {
        "developerApp": "claude-code-platform",
        "developerEmail": "ivy@acme.example",
        "apiProduct": "llm-gateway-standard",
        "path": "/v1/projects/acme-ml/locations/us-east5/publishers/anthropic/models/"
        "claude-sonnet-4-5@20250929:streamRawPredict",
        "statusCode": 200,
        "model": "claude-sonnet-4-5@20250929",
        "endUser": user,
        "usage": {"promptTokens": prompt, "completionTokens": completion,
                  "totalTokens": prompt + completion},
    }  # fmt: skip


def test_apigee_message_logging_records(tmp_path: Path) -> None:
    log = tmp_path / "apigee.json"
    entry = {
        "insertId": "1abc2def3",
        "logName": "projects/acme-ml/logs/apigee",
        "timestamp": "2026-11-20T10:00:00.250Z",
        "jsonPayload": _apigee("jay@acme.example", 900, 100),
    }
    bare = {**_apigee("user-123", 100, 10), "messageId": "rrt-42", "timestamp": 1_795_168_800_000}
    log.write_text(_lines([entry, bare]))
    db = tmp_path / "ledger.duckdb"
    _ingest(db, "gateway-files", str(log), "--format", "apigee")
    # Vertex, regional endpoint (Sonnet 4.5 +10%): 900 x 3.30 + 100 x 16.50; 100 x 3.30 + 10 x 16.50
    assert _events(db) == [
        ("1abc2def3", "vertex", "jay@acme.example", "claude-sonnet-4-5", "regional", 900, 100, 0,
         0, 0, Decimal("0.00462"), "ok", True, "partial"),
        ("rrt-42", "vertex", "ivy@acme.example", "claude-sonnet-4-5", "regional", 100, 10, 0, 0,
         0, Decimal("0.000495"), "ok", True, "partial"),
    ]  # fmt: skip


MAPPING = (
    "request_id=req.id; occurred_at=ts; model=llm.model; input_tokens=llm.usage.in; "
    "output_tokens=llm.usage.out; cache_read_tokens=llm.usage.cr; "
    "cache_write_tokens=llm.usage.cw; user=who"
)


def _mapped(request_id: str, **usage: int) -> dict[str, Any]:
    return {
        "req": {"id": request_id},
        "ts": 1_795_168_800,
        "who": "hal@acme.example",
        "llm": {"model": "claude-haiku-4-5", "usage": usage, "prompt": "never read"},
    }


def test_mapping_reads_the_declared_paths(tmp_path: Path) -> None:
    log = tmp_path / "custom.log"
    good = _mapped("m-1", **{"in": 500, "out": 60, "cr": 0, "cw": 0})
    log.write_text(_lines([good, _mapped("m-2", **{"in": 5})]))
    config = tmp_path / "llmledger.toml"
    config.write_text(
        f'[[sources.gateway-files]]\npath = "custom.log"\nformat = "mapping"\n'
        f'name = "in-house"\nfields = "{MAPPING}"\n'
    )
    db = tmp_path / "ledger.duckdb"
    base = ["--db", str(db), "--config", str(config)]
    result = CliRunner().invoke(cli, [*base, "ingest"])
    assert result.exit_code == 0, result.output
    # Haiku 4.5: 500 x 1 + 60 x 5
    assert _events(db) == [
        ("m-1", "anthropic", "hal@acme.example", "claude-haiku-4-5", "global", 500, 60, 0, 0, 0,
         Decimal("0.0008"), "ok", True, "exact"),
    ]  # fmt: skip
    assert _rejects(db) == [(f"{log}:2", "missing field llm.usage.out")]


def test_mapping_without_a_required_path_is_a_usage_error(tmp_path: Path) -> None:
    log = tmp_path / "custom.log"
    log.write_text(_lines([_mapped("m-1", **{"in": 1, "out": 1})]))
    fields = "request_id=req.id; occurred_at=ts; model=llm.model; input_tokens=llm.usage.in"
    out = _ingest(
        tmp_path / "l.duckdb", "gateway-files", str(log), "--format", "mapping",
        "--fields", fields, code=2,
    )  # fmt: skip
    assert (
        "gateway mapping: no path for output_tokens; add output_tokens=<JSON path> to fields" in out
    )
    out = _ingest(
        tmp_path / "l.duckdb", "gateway-files", str(log), "--format", "mapping",
        "--fields", fields + "; tokens=x", code=2,
    )  # fmt: skip
    assert "gateway mapping: unknown field 'tokens'" in out


# ----------------------------------------------------------------------------------------------
# a gateway in front of Bedrock: one request, counted once


def test_gateway_in_front_of_bedrock_is_counted_once(tmp_path: Path) -> None:
    kong_role = "arn:aws:sts::111122223333:assumed-role/kong-gateway/i-0abc"
    bedrock_log = tmp_path / "bedrock.jsonl"
    bedrock_log.write_text(
        _lines(
            [
                record(
                    "br-1",
                    arn=kong_role,
                    input_tokens=10,
                    output_tokens=20,
                    cache_read=5000,
                    cache_write=1000,
                ),
                # the gateway's role calling on its own (a health check): no Kong record
                record("br-2", arn=kong_role, input_tokens=7, output_tokens=1),
            ]
        )  # fmt: skip
    )
    kong_log = tmp_path / "kong.log"
    kong_log.write_text(
        _lines(
            [
                kong(
                    "kong-1",
                    provider="bedrock",
                    model="us.anthropic.claude-sonnet-4-5-20250929-v1:0",
                    prompt_tokens=10,
                    completion_tokens=20,
                    headers={"x-user-email": "dave@acme.example"},
                    response_headers={"x-amzn-requestid": "br-1"},
                ),
            ]
        )
    )
    config = tmp_path / "llmledger.toml"
    config.write_text("[gateway]\nidentities = ['assumed-role/kong-gateway/']\n")
    db = tmp_path / "ledger.duckdb"
    _ingest(db, "bedrock-files", str(bedrock_log), config=config)
    _ingest(db, "gateway-files", str(kong_log), "--format", "kong", config=config)
    # the Kong record is the one counted (its developer), priced from Bedrock's exact counts:
    # 10 x 3.30 + 20 x 16.50 + 5000 x 0.33 + 1000 x 4.125 = 6138 / 1e6
    assert _events(db) == [
        ("br-1", "bedrock", "unattributed", "claude-sonnet-4-5", "geo", 10, 20, 5000, 1000, 0,
         Decimal("0.006138"), "ok", False, "exact"),
        ("br-2", "bedrock", "unattributed", "claude-sonnet-4-5", "geo", 7, 1, 0, 0, 0,
         Decimal("0.0000396"), "ok", True, "exact"),
        ("kong-1", "bedrock", "dave@acme.example", "claude-sonnet-4-5", "geo", 10, 20, 5000,
         1000, 0, Decimal("0.006138"), "ok", True, "exact"),
    ]  # fmt: skip
    assert _rows(db, "select event_id, gateway_event_id, gateway_name, match_method "
                     "from gateway_matches") == [
        ("bedrock:br-1", "gateway:kong:kong-1", "kong", "provider_request_id"),
    ]  # fmt: skip
    assert _rows(db, "select count(*), sum(cost_usd) from usage_events where counted") == [
        (2, Decimal("0.0061776"))
    ]
    result = CliRunner().invoke(cli, ["--db", str(db), "report", "--reconcile", "--format", "json"])
    assert result.exit_code == 0, result.output
    requests = [
        (r["group"], r["provider"], r["requests"], r["litellm_cost_usd"], r["provider_cost_usd"])
        for r in json.loads(result.output)
        if r["section"] == "requests"
    ]
    assert requests == [
        ("only_in_provider", "bedrock", 1, None, "0.000039600000"),
        ("matched (kong)", "bedrock", 1, "0.006138000000", "0.006138000000"),
    ]


KONG_ROLE = "arn:aws:sts::111122223333:assumed-role/kong-gateway/i-0abc"


def _behind_kong(
    tmp_path: Path, bedrock_records: list[dict[str, Any]], kong_records: list[dict[str, Any]]
) -> Path:
    """A database with Bedrock's records and Kong's, Kong in front of Bedrock under
    ``KONG_ROLE`` (a [gateway] identity)."""
    bedrock_log = tmp_path / "bedrock.jsonl"
    bedrock_log.write_text(_lines(bedrock_records))
    kong_log = tmp_path / "kong.log"
    kong_log.write_text(_lines(kong_records))
    config = tmp_path / "llmledger.toml"
    config.write_text("[gateway]\nidentities = ['assumed-role/kong-gateway/']\n")
    db = tmp_path / "ledger.duckdb"
    _ingest(db, "bedrock-files", str(bedrock_log), config=config)
    _ingest(db, "gateway-files", str(kong_log), "--format", "kong", config=config)
    return db


def _kong_to_bedrock(request_id: str, **fields: Any) -> dict[str, Any]:
    return kong(
        request_id,
        provider="bedrock",
        model="us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        headers={"x-user-email": "dave@acme.example"},
        **fields,
    )


def test_repeated_token_counts_behind_a_gateway_match_by_time(tmp_path: Path) -> None:
    # The same quota probe (8 tokens in, 1 out) all day, every day, and no request id kept:
    # each Kong record matches the Bedrock copy of its own time, up to the window (120 s)
    # exactly, and nothing past it.
    probe = {"arn": KONG_ROLE, "input_tokens": 8, "output_tokens": 1}
    second = 1000
    db = _behind_kong(
        tmp_path,
        [
            record("br-edge", timestamp="2026-11-20T10:00:00Z", **probe),
            record("br-next-day", timestamp="2026-11-21T10:00:00Z", **probe),
            record("br-too-far", timestamp="2026-11-20T10:06:00Z", **probe),
        ],
        [
            _kong_to_bedrock(
                f"kong-{name}",
                prompt_tokens=8,
                completion_tokens=1,
                started_at=EPOCH_2026_11_20_10 + offset * second,
            )
            for name, offset in [
                ("edge", 120),  # 10:02:00, the next time bucket
                ("next-day", 86_400 + 1),
                ("too-far", 360 + 121),  # 10:08:01
            ]
        ],
    )
    assert _rows(db, "select event_id, gateway_event_id, match_method, seconds_apart "
                     "from gateway_matches order by 1") == [
        ("bedrock:br-edge", "gateway:kong:kong-edge", "time_model_tokens", Decimal("120.000")),
        ("bedrock:br-next-day", "gateway:kong:kong-next-day", "time_model_tokens",
         Decimal("1.000")),
    ]  # fmt: skip
    # the unmatched pair is two requests, both counted
    assert _rows(db, "select request_id from usage_events where counted order by 1") == [
        ("br-too-far",), ("kong-edge",), ("kong-next-day",), ("kong-too-far",),
    ]  # fmt: skip


def test_a_request_id_pairs_records_within_a_day_only(tmp_path: Path) -> None:
    # Kong kept Bedrock's request id: the copy 23 hours before is the same request; the same id
    # on a copy two days before is an id used again, not the request (both are counted)
    db = _behind_kong(
        tmp_path,
        [
            record("br-near", timestamp="2026-11-19T11:00:00Z", arn=KONG_ROLE),
            record("br-far", timestamp="2026-11-18T10:00:00Z", arn=KONG_ROLE),
        ],
        [
            _kong_to_bedrock(
                f"kong-{name}",
                prompt_tokens=99,
                response_headers={"x-amzn-requestid": f"br-{name}"},
            )
            for name in ("near", "far")
        ],
    )
    assert _rows(db, "select event_id, gateway_event_id, match_method from gateway_matches") == [
        ("bedrock:br-near", "gateway:kong:kong-near", "provider_request_id")
    ]
    assert _rows(db, "select request_id from usage_events where counted order by 1") == [
        ("br-far",), ("kong-far",), ("kong-near",),
    ]  # fmt: skip


# ----------------------------------------------------------------------------------------------
# S3 and CloudWatch (moto's server)


@pytest.mark.service
def test_kong_logs_from_s3(aws: Any, tmp_path: Path) -> None:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="acme-gateway-logs")
    put_objects(
        s3,
        "acme-gateway-logs",
        {
            "kong/2026/11/20/10/kong-1.json.gz": gzip.compress(
                _lines([kong("s3-1"), kong("s3-2", prompt_tokens=200)]).encode(), mtime=0
            ),
            "kong/2026/11/20/11/kong-2.json": _lines([kong("s3-3"), "oops"]).encode(),
            "other/2026/11/20/10/x.json": _lines([kong("elsewhere")]).encode(),
        },
    )
    db = tmp_path / "ledger.duckdb"
    args = ["gateway-s3", "--bucket", "acme-gateway-logs", "--prefix", "kong/", "--format", "kong"]
    out = _ingest(db, *args)
    assert "3 new, 0 updated, 1 rejected" in out
    assert _rows(db, "select request_id, input_tokens, source_location from raw_gateway "
                     "order by 1") == [
        ("s3-1", 100, "s3://acme-gateway-logs/kong/2026/11/20/10/kong-1.json.gz:1"),
        ("s3-2", 200, "s3://acme-gateway-logs/kong/2026/11/20/10/kong-1.json.gz:2"),
        ("s3-3", 100, "s3://acme-gateway-logs/kong/2026/11/20/11/kong-2.json:1"),
    ]  # fmt: skip
    assert _rejects(db) == [
        ("s3://acme-gateway-logs/kong/2026/11/20/11/kong-2.json:2", "malformed JSON")
    ]
    # 400 x $3 + 60 x $15 per million
    assert _rows(db, "select sum(cost_usd) from usage_events") == [(Decimal("0.0021"),)]
    assert "0 new" in _ingest(db, *args)  # objects already read are skipped


@pytest.mark.service
def test_body_logs_from_cloudwatch(aws: Any, tmp_path: Path) -> None:
    logs = aws.client("logs")
    group = "/acme/ai-gateway"
    logs.create_log_group(logGroupName=group)
    start = now_ms() - 3_600_000
    stamp = "2026-11-20T10:00:00Z"
    put_events(
        logs,
        group,
        "gateway-1",
        [
            (start, json.dumps(body_log("cw-1", sse(outputs=(7, 70)), timestamp=stamp))),
            (start + 1000, json.dumps(body_log("cw-2", message(), timestamp=stamp))),
            (start + 2000, "GET /healthz 200"),
        ],
    )
    db = tmp_path / "ledger.duckdb"
    out = _ingest(
        db, "gateway-cloudwatch", "--log-group", group, "--format", "anthropic-body",
        "--name", "edge-proxy",
    )  # fmt: skip
    assert "2 new, 0 updated, 1 rejected" in out
    rows = _rows(db, "select request_id, gateway_name, output_tokens from raw_gateway order by 1")
    assert rows == [("cw-1", "edge-proxy", 70), ("cw-2", "edge-proxy", 40)]
    [(location, reason)] = _rejects(db)
    assert location.startswith(f"logs:{group}/gateway-1/") and reason == "malformed JSON"


# ----------------------------------------------------------------------------------------------
# report --by gateway: what the hop costs


def test_report_by_gateway_shows_overhead_percentiles(tmp_path: Path) -> None:
    log = tmp_path / "kong.log"
    day2 = 1_795_255_200_000  # 2026-11-21T10:00:00Z
    log.write_text(
        _lines(
            [
                kong("r-1", latencies=(3400, 3310, 90)),
                kong("r-2", latencies=(3400, 3290, 110)),
                kong(
                    "r-3",
                    latencies=(3400, 3270, 130),
                    status=500,
                    prompt_tokens=0,
                    completion_tokens=0,
                ),
                kong("r-4", started_at=day2, latencies=(2000, 1950, 50)),
            ]
        )  # fmt: skip
    )
    db = tmp_path / "ledger.duckdb"
    _ingest(db, "gateway-files", str(log), "--format", "kong", "--name", "kong-prod")
    result = CliRunner().invoke(
        cli, ["--db", str(db), "report", "--by", "gateway", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == [
        {"gateway": "kong-prod", "day": "2026-11-20", "requests": 3, "errors": 1,
         "throttled": 0, "partial_requests": 3, "cost_usd": "0.001200000000",
         "partial_cost_usd": "0.001200000000", "p50_overhead_ms": 110.0,
         "p95_overhead_ms": 128.0},
        {"gateway": "kong-prod", "day": "2026-11-21", "requests": 1, "errors": 0,
         "throttled": 0, "partial_requests": 1, "cost_usd": "0.000600000000",
         "partial_cost_usd": "0.000600000000", "p50_overhead_ms": 50.0,
         "p95_overhead_ms": 50.0},
    ]  # fmt: skip


# ----------------------------------------------------------------------------------------------
# Cloud Logging (Apigee MessageLogging) through the real client and the local entries:list server


def _apigee_entry(insert_id: str, at: str, **payload: Any) -> dict[str, Any]:
    return {
        "insertId": insert_id,
        "logName": "projects/acme-apigee/logs/llm-gateway",
        "timestamp": at,
        "resource": {"type": "global", "labels": {"project_id": "acme-apigee"}},
        "jsonPayload": {**_apigee("kim@acme.example", 400, 40), **payload},
    }


def test_apigee_entries_from_cloud_logging(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    at = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    with FakeCloudLogging() as server:
        server.add(
            _apigee_entry("e-1", stamp),
            _apigee_entry("e-2", stamp, model="gemini-2.5-pro"),  # not Claude: not listed
            _apigee_entry("e-3", stamp, usage={"promptTokens": "x", "completionTokens": 1}),
        )
        db = tmp_path / "ledger.duckdb"
        args = [
            "gateway-logging", "--project", "acme-apigee", "--api-endpoint", server.url,
            "--anonymous", "--format", "apigee", "--name", "apigee-prod",
        ]  # fmt: skip
        out = _ingest(db, *args)
        assert "1 new, 0 updated, 1 rejected" in out
        assert _rows(db, "select request_id, gateway_name, input_tokens, output_tokens "
                         "from raw_gateway") == [("e-1", "apigee-prod", 400, 40)]  # fmt: skip
        assert _rejects(db) == [
            (
                "projects/acme-apigee entries.list page 1 line:2",
                "wrong type for usage.promptTokens: expected an integer",
            )
        ]
        cursor = _rows(db, "select value from ingest_cursors where source = 'gateway-logging'")
        assert cursor == [(f"{at.strftime('%Y-%m-%dT%H:%M:%S')}.000000Z|e-3",)]
        assert "0 new" in _ingest(db, *args)


def test_doctor_names_stripped_headers_behind_a_failing_gateway(tmp_path: Path) -> None:
    text = "anthropic-version: header is required"
    error = {"type": "error", "error": {"type": "invalid_request_error", "message": text}}
    log = tmp_path / "proxy.log"
    log.write_text(
        _lines(
            [
                body_log("h-1", error, status=400, model="claude-sonnet-4-5-20250929"),
                body_log("h-2", json.dumps(error), status=400, model="claude-sonnet-4-5-20250929"),
                body_log("h-3", message()),
            ]
        )
    )
    db = tmp_path / "ledger.duckdb"
    _ingest(db, "gateway-files", str(log), "--format", "anthropic-body", "--name", "edge")
    assert _rows(db, "select request_id, status, error_code from usage_events order by 1") == [
        ("h-1", "error", "invalid_request_error: anthropic-version header"),
        ("h-2", "error", "invalid_request_error: anthropic-version header"),
        ("h-3", "ok", None),
    ]
    result = CliRunner().invoke(cli, ["--db", str(db), "doctor"])
    assert (
        "warning  gateway edge: 3 requests, 2 errors (66.7%), 0 throttled; most frequent error "
        "invalid_request_error: anthropic-version header; check that the gateway passes "
        "anthropic-version, content-type and x-api-key through"
    ) in result.stdout


def test_data_health_page_shows_gateways(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest

    log = tmp_path / "kong.log"
    log.write_text(_lines([kong("dh-1"), kong("dh-2", status=400, latencies=(100, 40, 60))]))
    db = tmp_path / "ledger.duckdb"
    _ingest(db, "gateway-files", str(log), "--format", "kong", "--name", "kong-prod")
    monkeypatch.setenv("LLMLEDGER_SNAPSHOT", str(db.with_name("ledger.snapshot.duckdb")))
    monkeypatch.delenv("LLMLEDGER_AUTH", raising=False)
    monkeypatch.delenv("LLMLEDGER_ADMINS", raising=False)
    app = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"
    at = AppTest.from_file(str(app), default_timeout=60)
    at.query_params["from"] = "2026-11-01"
    at.query_params["to"] = "2026-11-30"
    at.run()
    at.switch_page("app_pages/data_health.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Gateways" in [s.value for s in at.subheader]
    frames = [f.value for f in at.dataframe if "gateway" in f.value.columns]
    health, overhead = frames
    assert list(health["gateway"]) == ["kong-prod"]
    assert (int(health["requests"][0]), int(health["errors"][0])) == (2, 1)
    assert list(overhead["p50_overhead_ms"]) == [75.0]


def test_claude_code_account_is_a_weak_hint(tmp_path: Path) -> None:
    account = "0f7e2b5c-3a41-4d2e-9c8b-7a6d5e4f3b21"
    old_style = json.dumps(
        {"metadata": {"user_id": f"user_{'a' * 64}_account_{account}_session_1b2c"},
         "messages": [{"role": "user", "content": "never read"}]}
    )  # fmt: skip
    new_style = {
        "metadata": {
            "user_id": json.dumps(
                {"device_id": "d-1", "account_uuid": account, "session_id": "s-9"}
            )
        }
    }
    log = tmp_path / "proxy.log"
    log.write_text(
        _lines(
            [
                body_log("w-1", message(), user=None, request_body=old_style),
                {**body_log("w-2", message(), user=None), "request_body": new_style},
                body_log("w-3", message(), request_body=old_style),  # a header names the user
            ]
        )
    )
    config = tmp_path / "llmledger.toml"
    config.write_text(
        f"[[identity.rules]]\nmatch = '^claude-code-account:{account}$'\n"
        'developer = "lee@acme.example"\n'
    )
    db = tmp_path / "ledger.duckdb"
    _ingest(db, "gateway-files", str(log), "--format", "anthropic-body", config=config)
    assert _rows(db, "select request_id, principal, developer from usage_events order by 1") == [
        ("w-1", f"claude-code-account:{account}", "lee@acme.example"),
        ("w-2", f"claude-code-account:{account}", "lee@acme.example"),
        ("w-3", "erin@acme.example", "erin@acme.example"),
    ]


# ----------------------------------------------------------------------------------------------
# LiteLLM's hop: its own time less the provider's, where a matched provider record logs one

_SPEND_HEADER = (
    "request_id,call_type,api_key,spend,total_tokens,prompt_tokens,completion_tokens,"
    "startTime,endTime,model,model_group,custom_llm_provider,api_base,user,metadata,status"
)


def _spend_line(request_id: str, start: str, end: str, provider: str, prompt: int) -> str:
    model, api_base = {
        "bedrock": (
            "bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "https://bedrock-runtime.us-east-1.amazonaws.com",
        ),
        "anthropic": ("anthropic/claude-sonnet-4-5-20250929", "https://api.anthropic.com/v1"),
    }[provider]
    return (
        f"{request_id},anthropic_messages,k-1,0.01,{prompt + 20},{prompt},20,{start},{end},"
        f"{model},claude-sonnet-4-5,{provider},{api_base},u-1,{{}},success\n"
    )


def test_litellm_overhead_is_its_time_less_the_matched_providers(tmp_path: Path) -> None:
    proxy_role = "arn:aws:sts::111122223333:assumed-role/litellm-proxy/i-0abc"
    streamed = record("br-a", arn=proxy_role, input_tokens=10)
    # InvokeModelWithResponseStream: Bedrock's time in the last event's invocation metrics
    streamed["output"]["outputBodyJson"][-1]["amazon-bedrock-invocationMetrics"] = {
        "inputTokenCount": 10, "outputTokenCount": 20, "invocationLatency": 3848,
        "firstByteLatency": 509,
    }  # fmt: skip
    converse = record("br-b", arn=proxy_role, input_tokens=11, operation="Converse")
    converse["output"]["outputBodyJson"] = {"metrics": {"latencyMs": 2435}, "stopReason": "x"}
    # InvokeModel logs no latency of Bedrock's own
    plain = record("br-c", arn=proxy_role, input_tokens=12, operation="InvokeModel")
    plain["output"]["outputBodyJson"] = {"usage": {"input_tokens": 12, "output_tokens": 20}}
    # Bedrock's own time longer than LiteLLM's whole time: the pair measures nothing of the hop
    slower = record("br-d", arn=proxy_role, input_tokens=14, operation="Converse")
    slower["output"]["outputBodyJson"] = {"metrics": {"latencyMs": 1500}, "stopReason": "x"}
    bedrock_log = tmp_path / "bedrock.jsonl"
    bedrock_log.write_text(_lines([streamed, converse, plain, slower]))
    dumps = tmp_path / "litellm"
    dumps.mkdir()
    (dumps / "LiteLLM_SpendLogs.csv").write_text(
        _SPEND_HEADER
        + "\n"
        + _spend_line("ll-1", "2026-11-20 10:00:00.200", "2026-11-20 10:00:04.200", "bedrock", 10)
        + _spend_line("ll-2", "2026-11-20 10:00:00.100", "2026-11-20 10:00:02.600", "bedrock", 11)
        + _spend_line("ll-3", "2026-11-20 10:00:00.300", "2026-11-20 10:00:01.300", "bedrock", 12)
        + _spend_line("ll-5", "2026-11-20 10:00:00.400", "2026-11-20 10:00:01.400", "bedrock", 14)
        # first-party: no provider record of its own to compare with
        + _spend_line("ll-4", "2026-11-20 11:00:00", "2026-11-20 11:00:09.5", "anthropic", 13)
    )
    config = tmp_path / "llmledger.toml"
    config.write_text("[gateway]\nidentities = ['assumed-role/litellm-proxy/']\n")
    db = tmp_path / "ledger.duckdb"
    _ingest(db, "bedrock-files", str(bedrock_log), config=config)
    _ingest(db, "litellm-files", str(dumps), config=config)
    assert _rows(db, "select request_id, latency_ms from raw_bedrock order by 1") == [
        ("br-a", 3848), ("br-b", 2435), ("br-c", None), ("br-d", 1500),
    ]  # fmt: skip
    assert _rows(db, "select event_id, gateway_event_id from gateway_matches order by 1") == [
        ("bedrock:br-a", "litellm:ll-1"),
        ("bedrock:br-b", "litellm:ll-2"),
        ("bedrock:br-c", "litellm:ll-3"),
        ("bedrock:br-d", "litellm:ll-5"),
    ]
    # ll-1: 4000 - 3848 = 152 ms; ll-2: 2500 - 2435 = 65 ms; ll-3 (InvokeModel), ll-4 (no
    # provider record) and ll-5 (1000 - 1500 < 0): LiteLLM's own time says nothing of the hop
    result = CliRunner().invoke(
        cli, ["--db", str(db), "report", "--by", "gateway", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    # cost: Bedrock's geo profile (47 x 3.30 + 80 x 16.50) + first-party (13 x 3 + 20 x 15)
    # = 1814.1 / 1e6; overhead p50 of (152, 65) = 108.5, p95 = 65 + 0.95 x 87 = 147.65
    assert json.loads(result.output) == [
        {"gateway": "litellm", "day": "2026-11-20", "requests": 5, "errors": 0,
         "throttled": 0, "partial_requests": 0, "cost_usd": "0.001814100000",
         "partial_cost_usd": "0.000000000000", "p50_overhead_ms": 108.5,
         "p95_overhead_ms": 147.7},
    ]  # fmt: skip
    # LiteLLM's whole time: 1000, 1000, 2500, 4000, 9500
    assert _rows(db, "select p50_total_ms from gateway_daily") == [(2500.0,)]


def test_litellm_without_a_provider_latency_has_no_overhead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streamlit.testing.v1 import AppTest

    dumps = tmp_path / "litellm"
    dumps.mkdir()
    (dumps / "LiteLLM_SpendLogs.csv").write_text(
        _SPEND_HEADER
        + "\n"
        + _spend_line("ll-9", "2026-11-20 11:00:00", "2026-11-20 11:00:09.5", "anthropic", 13)
    )
    db = tmp_path / "ledger.duckdb"
    _ingest(db, "litellm-files", str(dumps))
    assert _rows(
        db,
        "select gateway, requests, p50_overhead_ms, p95_overhead_ms, p50_total_ms "
        "from gateway_daily",
    ) == [("litellm", 1, None, None, 9500.0)]
    # the dashboard's gateway panel lists it, its overhead empty
    monkeypatch.setenv("LLMLEDGER_SNAPSHOT", str(db.with_name("ledger.snapshot.duckdb")))
    monkeypatch.delenv("LLMLEDGER_AUTH", raising=False)
    monkeypatch.delenv("LLMLEDGER_ADMINS", raising=False)
    app = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"
    at = AppTest.from_file(str(app), default_timeout=60)
    at.query_params["from"] = "2026-11-01"
    at.query_params["to"] = "2026-11-30"
    at.run()
    at.switch_page("app_pages/data_health.py").run()
    assert not at.exception, [e.value for e in at.exception]
    overhead = [f.value for f in at.dataframe if "p50_overhead_ms" in f.value.columns][0]
    assert list(overhead["gateway"]) == ["litellm"]
    assert overhead["p50_overhead_ms"].tolist() == ["—"]  # the dashboard's empty cell
