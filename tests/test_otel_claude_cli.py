"""The real Claude Code CLI (npm ``@anthropic-ai/claude-code``), headless, against a local fake
Messages API, exporting its telemetry to `llmledger collect`; then `ingest otel-files`.

The binary is ``$LLMLEDGER_CLAUDE_BIN``, else ``claude`` on PATH, else the cache CI installs into
(``~/.cache/llmledger/claude-code/node_modules/.bin/claude``). Without it the tests skip (and
fail in CI: they are ``service`` tests).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from anthropic_server import FakeAnthropic
from bedrock_runtime_server import FakeBedrock
from click.testing import CliRunner

from ingest.cli import cli
from ingest.collector import CollectorServer, CollectorSettings, serve

pytestmark = pytest.mark.service
pytest.importorskip("opentelemetry.proto")

CACHE_BIN = (
    Path.home() / ".cache" / "llmledger" / "claude-code" / "node_modules" / ".bin" / "claude"
)
TOKEN = "cli-test-token"
SESSION = "22222222-2222-4222-8222-222222222222"
USER_ID = "d" * 64
MODEL = "claude-sonnet-4-5-20250929"


def claude_binary() -> str | None:
    for candidate in (os.environ.get("LLMLEDGER_CLAUDE_BIN"), shutil.which("claude"), CACHE_BIN):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


@pytest.fixture
def claude() -> str:
    binary = claude_binary()
    if binary is None:
        pytest.skip(
            "Claude Code CLI not installed: npm install --prefix ~/.cache/llmledger/claude-code "
            "@anthropic-ai/claude-code (or set LLMLEDGER_CLAUDE_BIN)"
        )
    return binary


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[CollectorServer]:
    server = serve(
        "127.0.0.1", 0, CollectorSettings(out=tmp_path / "otel", token=TOKEN, rotate_seconds=0)
    )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def _run_claude(
    claude: str,
    fake: FakeAnthropic | FakeBedrock,
    collector: CollectorServer,
    home: Path,
    protocol: str,
    model: str = MODEL,
) -> dict[str, object]:
    home.mkdir()
    # a fixed user.id, and no first-run screens
    (home / ".claude.json").write_text(
        json.dumps({"userID": USER_ID, "hasCompletedOnboarding": True})
    )
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        **(
            {
                "CLAUDE_CODE_USE_BEDROCK": "1",
                "AWS_REGION": "us-east-1",
                "ANTHROPIC_BEDROCK_BASE_URL": fake.url,
                "CLAUDE_CODE_SKIP_BEDROCK_AUTH": "1",
            }
            if isinstance(fake, FakeBedrock)
            else {"ANTHROPIC_BASE_URL": fake.url, "ANTHROPIC_API_KEY": "sk-ant-test-not-a-key"}
        ),
        "CLAUDE_CODE_ENABLE_TELEMETRY": "1",
        "OTEL_LOGS_EXPORTER": "otlp",
        "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url,
        "OTEL_EXPORTER_OTLP_HEADERS": f"Authorization=Bearer {TOKEN}",
        "OTEL_RESOURCE_ATTRIBUTES": "team.id=platform,cost_center=eng-123",
        "OTEL_LOGS_EXPORT_INTERVAL": "500",
        "OTEL_METRIC_EXPORT_INTERVAL": "1000",
        "OTEL_LOG_USER_PROMPTS": "1",  # the prompt is sent: the collector must drop it
        "DISABLE_AUTOUPDATER": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    }
    done = subprocess.run(
        [claude, "-p", "hi SECRET-PROMPT-TEXT", "--model", model, "--output-format", "json"]
        + ["--session-id", SESSION],
        env=env,
        cwd=home,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert isinstance(result, dict)
    return result


@pytest.mark.parametrize("protocol", ["http/protobuf", "http/json"])
def test_claude_cli_telemetry_lands_with_the_fakes_exact_tokens(
    claude: str, collector: CollectorServer, tmp_path: Path, protocol: str
) -> None:
    with FakeAnthropic() as fake:
        result = _run_claude(claude, fake, collector, tmp_path / "home", protocol)
        assert result["result"] == "Hi there."
        deadline = time.monotonic() + 15  # the CLI flushes on exit; allow a late flush
        while time.monotonic() < deadline and not any(collector.settings.out.glob("logs-*")):
            time.sleep(0.2)
    messages = [r for r in fake.requests if r["path"] == "/v1/messages"]
    assert messages and all(r["model"] == MODEL for r in messages)
    assert collector.counts.get(200, 0) >= 1 and set(collector.counts) == {200}
    written = "".join(p.read_text() for p in collector.settings.out.iterdir())
    assert "SECRET-PROMPT-TEXT" not in written  # OTEL_LOG_USER_PROMPTS=1, dropped on receipt

    db = tmp_path / "ledger.duckdb"
    ingested = CliRunner().invoke(
        cli, ["--db", str(db), "ingest", "otel-files", str(collector.settings.out)]
    )
    assert ingested.exit_code == 0, ingested.output + (ingested.stderr or "")
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            "select model, input_tokens, output_tokens, cache_read_tokens, "
            "cache_creation_tokens, request_id, session_id, user_id, team_id, cost_center "
            "from raw_claude_code where event_name = 'api_request' order by request_id"
        ).fetchall()
        rejected = con.execute("select location, reason from rejected_records").fetchall()
        staged = con.execute(
            "select source, provider, model, reported_cost_usd > 0, counted from usage_events "
            "where source = 'claude_code'"
        ).fetchall()
    finally:
        con.close()
    assert rejected == []
    assert rows == [
        (MODEL, 1234, 56, 789, 321, request_id, SESSION, USER_ID, "platform", "eng-123")
        for request_id in sorted(fake.request_ids)
    ]
    assert staged == [("claude_code", "anthropic", "claude-sonnet-4-5", True, True)] * len(rows)
    assert Decimal(str(result["total_cost_usd"])) > 0


SHARED_ROLE = "arn:aws:sts::111122223333:assumed-role/BedrockShared/botocore-session-1"
PROFILE = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"


def test_claude_cli_on_bedrock_names_the_developer_behind_a_shared_role(
    claude: str, collector: CollectorServer, tmp_path: Path
) -> None:
    """Claude Code in Bedrock mode against a fake Bedrock runtime; the invocation log Bedrock
    would write for that call (under a shared role) is unattributed until the telemetry is
    ingested, then it is the developer's (user.id is her alias), at the provider's price."""
    from moto_server import gz, log_key, record

    with FakeBedrock() as fake:
        _run_claude(claude, fake, collector, tmp_path / "home", "http/protobuf", model=PROFILE)
    calls = [c for c in fake.calls if c["path"].endswith("/invoke-with-response-stream")]
    assert [c["path"] for c in calls] == [f"/model/{PROFILE}/invoke-with-response-stream"]

    u = fake.usage
    tree = tmp_path / "bedrock"
    day = calls[0]["at"][:10].replace("-", "/")
    batch = tree / log_key("logs", "111122223333", "us-east-1", f"{day}/00", "a.json.gz")
    batch.parent.mkdir(parents=True)
    batch.write_bytes(
        gz(
            [
                record(
                    c["request_id"],
                    timestamp=c["at"],
                    arn=SHARED_ROLE,
                    model_id=PROFILE,
                    input_tokens=u.input_tokens,
                    output_tokens=u.output_tokens,
                    cache_read=u.cache_read_input_tokens,
                    cache_write=u.cache_creation_input_tokens,
                )
                for c in calls
            ]
        )
    )
    (tmp_path / "people.csv").write_text(
        "email,name,team,cost_center,manager,aliases\n"
        f"alice@corp.example,Alice,payments,CC-PAY,,{USER_ID}\n"
    )
    config = tmp_path / "llmledger.toml"
    config.write_text('[people]\ndirectory = "people.csv"\n')
    base = ["--db", str(tmp_path / "ledger.duckdb"), "--config", str(config)]

    def run(*args: str) -> str:
        result = CliRunner().invoke(cli, [*base, *args])
        assert result.exit_code == 0, result.output + (result.stderr or "")
        return result.output

    def by_developer() -> dict[str, str]:
        out = run("report", "--by", "developer", "--format", "json")
        return {r["developer"]: r["cost_usd"] for r in json.loads(out)}

    run("ingest", "bedrock-files", str(tree))
    # 1234 * $3.30 + 56 * $16.50 + 789 * $0.33 + 321 * $4.125 per million (us. profile)
    assert by_developer() == {"unattributed": "0.006580695000"}
    run("ingest", "otel-files", str(collector.settings.out))
    assert by_developer() == {"alice@corp.example": "0.006580695000"}
