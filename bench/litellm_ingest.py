"""Benchmark: ingest LiteLLM spend logs from PostgreSQL beside a bare COPY of the same rows.

    python bench/litellm_ingest.py                       # 1,000,000 rows on 127.0.0.1:5432
    python bench/litellm_ingest.py --rows 200000 --admin-dsn postgresql://postgres@db/postgres

Creates a throwaway database in LiteLLM's layout (tests/litellm_schema.sql), fills
"LiteLLM_SpendLogs" with generate_series rows shaped like a 1.110.2 proxy's (Claude Code traffic,
a metadata object with usage_object, key/team snapshots, cost_breakdown and the price-map entry
LiteLLM copies into every row), then in the same run times:

* the baseline: ``COPY (SELECT <the columns ingest selects>) TO STDOUT (FORMAT csv)`` of every
  row, read by the client and thrown away;
* the ingest: the ``litellm`` source through ``ingest.runner.run_source`` into a new DuckDB file
  (COPY pages, DuckDB parse, upsert on request_id with the cursor).

The two alternate for ``--repeat`` rounds (default 2) after a warm-up COPY, so both meet the same
cache and machine load; the best time of each is compared. It prints rows per second for both
and the ratio. Target: the ingest takes at most 2x the bare
COPY's time. The database is dropped at the end (``--keep`` keeps it).
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ingest import store  # noqa: E402
from ingest.config import Config  # noqa: E402
from ingest.context import AppContext, raw_table_ddl  # noqa: E402
from ingest.runner import run_source  # noqa: E402
from ingest.sources import litellm  # noqa: E402
from ingest.sources.litellm import queries  # noqa: E402

SCHEMA = ROOT / "tests" / "litellm_schema.sql"

# One proxy row per i: 500 keys, 8 teams, four deployments, 1% failures, a price-map entry.
FILL_SQL = """
insert into "LiteLLM_SpendLogs" (
    request_id, call_type, api_key, spend, total_tokens, prompt_tokens, completion_tokens,
    "startTime", "endTime", "completionStartTime", request_duration_ms, model, model_id,
    model_group, custom_llm_provider, api_base, "user", metadata, cache_hit, cache_key,
    request_tags, team_id, end_user, requester_ip_address, session_id, status, litellm_call_id,
    created_at, updated_at)
select
    case when g.i %% 10 < 7 then 'msg_bdrk_01' else 'chatcmpl-' end || md5(g.i::text),
    case when g.i %% 10 < 7 then 'anthropic_messages' when g.i %% 10 = 7
         then 'pass_through_endpoint' else 'acompletion' end,
    k.key,
    case when g.i %% 100 = 0 then 0
         else round((p.prompt * 3.3e-7 + p.completion * 1.65e-5)::numeric, 9)::float8 end,
    p.prompt + p.completion, p.prompt, p.completion,
    t.start, t.start + interval '9 seconds', t.start + interval '1 second', 9000,
    m.model, m.deployment, m.model_group, m.provider, m.api_base, 'user-' || (g.i %% 500),
    jsonb_build_object(
        'usage_object', jsonb_build_object(
            'prompt_tokens', p.prompt, 'completion_tokens', p.completion,
            'total_tokens', p.prompt + p.completion,
            'prompt_tokens_details', jsonb_build_object(
                'cached_tokens', p.cache_read, 'cache_creation_tokens', p.cache_write,
                'cache_creation_token_details', jsonb_build_object(
                    'ephemeral_5m_input_tokens', p.cache_write - p.one_hour,
                    'ephemeral_1h_input_tokens', p.one_hour)),
            'cache_read_input_tokens', p.cache_read,
            'cache_creation_input_tokens', p.cache_write),
        'user_api_key', k.key, 'user_api_key_alias', 'dev-' || (g.i %% 500) || '-laptop',
        'user_api_key_user_id', 'user-' || (g.i %% 500),
        'user_api_key_user_email', 'dev' || (g.i %% 500) || '@example.com',
        'user_api_key_team_id', 'team-' || (g.i %% 8),
        'user_api_key_team_alias', 'team-' || (g.i %% 8), 'user_api_key_org_id', null,
        'requester_ip_address', '10.1.' || (g.i %% 250) || '.7',
        'user_agent', 'claude-cli/2.0.14 (external, cli)', 'status',
        case when g.i %% 100 = 0 then 'failure' else 'success' end,
        'error_information', case when g.i %% 100 = 0 then jsonb_build_object(
            'error_code', '429', 'error_class', 'RateLimitError', 'llm_provider', m.provider,
            'traceback', repeat('Traceback line ', 40), 'error_message', 'throttled',
            'error_rate_limit_category', 'vendor_rate_limit') end,
        'cost_breakdown', jsonb_build_object('input_cost', 0.01, 'output_cost', 0.02,
                                             'total_cost', 0.03),
        'spend_logs_metadata', case when g.i %% 7 = 0 then '{"project": "ranker"}'::jsonb end,
        'attempted_retries', 0, 'litellm_overhead_time_ms', 12.5,
        'model_map_information', jsonb_build_object('model_map_key', m.model,
                                                     'model_map_value', mm.value)),
    'None', 'Cache OFF',
    '["User-Agent: claude-cli", "User-Agent: claude-cli/2.0.14 (external, cli)"]',
    'team-' || (g.i %% 8), 'user_' || md5((g.i %% 500)::text) || '_account__session_' || (g.i / 40),
    '10.1.0.7', md5((g.i / 40)::text), case when g.i %% 100 = 0 then 'failure' else 'success' end,
    md5(('call' || g.i)::text), t.start + interval '15 seconds', t.start + interval '15 seconds'
from generate_series(1::bigint, %(rows)s) as g(i)
cross join lateral (
    select timestamp '2026-10-01' + g.i * interval '2500 milliseconds'
           + (g.i %% 997) * interval '1 millisecond' as start) as t
cross join lateral (
    select 20 + (g.i * 7919) %% 2000 + (g.i * 104729) %% 150000 + (g.i * 31) %% 12000 as prompt,
           60 + (g.i * 13) %% 4000 as completion,
           (g.i * 104729) %% 150000 as cache_read, (g.i * 31) %% 12000 as cache_write,
           case when g.i %% 3 = 0 then ((g.i * 31) %% 12000) / 2 else 0 end as one_hour) as p
cross join lateral (select encode(sha256(('sk-' || (g.i %% 500))::bytea), 'hex') as key) as k
cross join lateral (
    select (array['bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0',
                  'anthropic/claude-opus-4-6', 'vertex_ai/claude-sonnet-4-5@20250929',
                  'bedrock/us.anthropic.claude-haiku-4-5-20251001-v1:0'])[1 + g.i %% 4] as model,
           (array['bedrock-1', 'anthropic-1', 'vertex-1', 'bedrock-2'])[1 + g.i %% 4] as deployment,
           (array['claude-sonnet-4-5', 'claude-opus-4-6', 'claude-sonnet-4-5',
                  'claude-haiku-4-5'])[1 + g.i %% 4] as model_group,
           (array['bedrock', 'anthropic', 'vertex_ai', 'bedrock'])[1 + g.i %% 4] as provider,
           (array['https://bedrock-runtime.us-east-1.amazonaws.com',
                  'https://api.anthropic.com/v1/messages',
                  'https://us-east5-aiplatform.googleapis.com/v1/projects/p/locations/us-east5',
                  'https://bedrock-runtime.us-east-1.amazonaws.com'])[1 + g.i %% 4] as api_base
) as m
cross join (select %(map_value)s::jsonb as value) as mm
"""

# The price-map entry LiteLLM 1.110.2 copies into metadata.model_map_information (cut down).
MAP_VALUE = """{"key": "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "max_tokens": 64000,
"max_input_tokens": 200000, "max_output_tokens": 64000, "input_cost_per_token": 3.3e-06,
"cache_creation_input_token_cost": 4.125e-06, "cache_creation_input_token_cost_above_1hr": 6.6e-06,
"cache_read_input_token_cost": 3.3e-07, "input_cost_per_token_above_200k_tokens": 6.6e-06,
"output_cost_per_token_above_200k_tokens": 2.475e-05, "output_cost_per_token": 1.65e-05,
"litellm_provider": "bedrock_converse", "mode": "chat", "supports_function_calling": true,
"supports_parallel_function_calling": true, "supports_vision": true,
"supports_prompt_caching": true, "supports_response_schema": true,
"supports_reasoning": true, "supports_computer_use": true, "supports_pdf_input": true,
"supports_tool_choice": true, "supports_assistant_prefill": true,
"supported_openai_params": ["max_tokens", "stream", "stop", "temperature", "top_p", "tools",
"tool_choice", "thinking", "reasoning_effort", "response_format"],
"tpm": null, "rpm": null, "deprecation_date": "2027-04-08",
"source": "https://aws.amazon.com/bedrock/pricing/"}"""


def main(argv: list[str] | None = None) -> int:
    import psycopg
    from psycopg.conninfo import make_conninfo

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--page-rows", type=int, default=litellm.DEFAULT_PAGE_ROWS)
    parser.add_argument(
        "--admin-dsn",
        default=os.environ.get(
            "LLMLEDGER_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=2,
        help="rounds of (bare COPY, ingest); the best of each is compared",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args(argv)

    name = f"llmledger_bench_{secrets.token_hex(4)}"
    admin = psycopg.connect(args.admin_dsn, autocommit=True)
    admin.execute(f'create database "{name}"')
    dsn = make_conninfo(args.admin_dsn, dbname=name)
    try:
        with psycopg.connect(dsn, autocommit=True) as pg:
            pg.execute(SCHEMA.read_text())
            t = time.perf_counter()
            pg.execute(FILL_SQL, {"rows": args.rows, "map_value": MAP_VALUE})
            pg.execute('vacuum analyze "LiteLLM_SpendLogs"')
            size = pg.execute(
                "select pg_size_pretty(pg_total_relation_size('\"LiteLLM_SpendLogs\"'))"
            ).fetchone()
            print(
                f"filled {args.rows:,} rows ({size[0] if size else '?'}) in "
                f"{time.perf_counter() - t:.1f}s",
                file=sys.stderr,
            )
            have = queries.read_layout(pg)["LiteLLM_SpendLogs"]
            select = f"select {queries.spend_select(have)} from {queries.spend_from(have)}"

            def bare_copy() -> tuple[float, int]:
                started, size = time.perf_counter(), 0
                cur = pg.cursor()
                with cur.copy(f"copy ({select}) to stdout with (format csv)") as copy:
                    for chunk in copy:
                        size += len(chunk)
                return time.perf_counter() - started, size

            def ingest() -> float:
                os.environ["LLMLEDGER_BENCH_DSN"] = dsn
                with tempfile.TemporaryDirectory(prefix="llmledger-bench-") as tmp:
                    con = store.connect(Path(tmp) / "bench.duckdb")
                    store.ensure_tables(con, raw_table_ddl())
                    started = time.perf_counter()
                    app = AppContext(
                        db_path=Path(tmp) / "bench.duckdb", config=Config(path=None), quiet=True
                    )
                    result = run_source(
                        app,
                        con,
                        "litellm",
                        {"dsn_env": "LLMLEDGER_BENCH_DSN", "page_rows": args.page_rows},
                    )
                    seconds = time.perf_counter() - started
                    loaded = con.execute("select count(*) from raw_litellm_spend").fetchall()
                    con.close()
                assert loaded[0][0] == args.rows and result.new_rows == args.rows, (loaded, result)
                return seconds

            bare_copy()  # warm the cache for both contenders
            copies, ingests = [], []
            for round_ in range(args.repeat):  # alternate, so both see the same machine load
                seconds, copy_bytes = bare_copy()
                copies.append(seconds)
                ingests.append(ingest())
                print(
                    f"round {round_ + 1}: bare COPY {copies[-1]:.2f}s, ingest {ingests[-1]:.2f}s",
                    file=sys.stderr,
                )
            copy_seconds, ingest_seconds = min(copies), min(ingests)
    finally:
        if not args.keep:
            admin.execute(f'drop database if exists "{name}" with (force)')
        admin.close()

    ratio = ingest_seconds / copy_seconds
    print(f"rows:                  {args.rows:,} ({copy_bytes / 1e6:,.0f} MB as CSV)")
    print(f"bare COPY to client:   {copy_seconds:7.2f}s  {args.rows / copy_seconds:12,.0f} rows/s")
    print(
        f"llmledger ingest:      {ingest_seconds:7.2f}s  {args.rows / ingest_seconds:12,.0f} "
        f"rows/s  (pages of {args.page_rows:,})"
    )
    print(
        f"ingest / bare COPY:    {ratio:7.2f}x  (target <= 2.00x: "
        f"{'met' if ratio <= 2.0 else 'NOT met'})"
    )
    return 0 if ratio <= 2.0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
