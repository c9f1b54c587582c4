"""Small hand-made raw_bedrock rows in a temporary DuckDB, for the models' unit tests.

Every number the tests assert is computed by hand from these rows and the price book.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from ingest import store
from ingest.sources.bedrock import format as bedrock
from models import reference, runner

SSO = "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_ClaudeCodeUsers_0123456789abcdef/"

PEOPLE_CSV = """email,name,team,cost_center,manager,aliases
alice@corp.example,Alice Archer,payments,CC-PAY,boss@corp.example,alice.a;ally
bob@corp.example,Bob Baker,platform,CC-PLAT,boss@corp.example,BedrockAPIKey-zz11
truc.le@corp.example,Truc Le,data,CC-DATA,boss@corp.example,
boss@corp.example,Boss,platform,CC-PLAT,,
sam@a.example,Sam A,data,CC-DATA,boss@corp.example,
sam@b.example,Sam B,search,CC-SEARCH,boss@corp.example,
"""


def new_ledger(path: str | Path = ":memory:") -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    con.execute("set timezone = 'UTC'")
    store.ensure_tables(con, store.SHARED_DDL)
    store.ensure_tables(con, bedrock.RAW_TABLE_DDL)
    return con


def add_bedrock(
    con: duckdb.DuckDBPyConnection,
    request_id: str,
    *,
    model_id: str = "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
    principal: str | None = SSO + "alice@corp.example",
    at: str = "2026-11-02T10:00:00Z",
    input_tokens: int = 0,
    output_tokens: int = 0,
    cache_read: int = 0,
    cache_write: int = 0,
    cache_write_1h: int | None = None,
    metadata: dict[str, str] | None = None,
    error_code: str | None = None,
    status: str | None = None,
    region: str = "us-east-1",
) -> None:
    con.execute(
        "insert into raw_bedrock values (?, ?, '111122223333', ?, null, 'InvokeModel', ?, ?, ?, "
        "?, ?, ?, ?, ?, ?, ?, 'test', ?, null)",
        [
            request_id,
            at,
            region,
            model_id,
            principal,
            json.dumps(metadata) if metadata is not None else None,
            input_tokens,
            output_tokens,
            cache_read,
            cache_write,
            cache_write_1h,
            status,
            error_code,
            f"test:{request_id}",
        ],
    )


def build(
    con: duckdb.DuckDBPyConnection, tmp_path: Path | None = None, **refs: Any
) -> runner.BuildResult:
    """Load reference data (a people CSV under tmp_path when ``people`` is given), build."""
    people = refs.pop("people", None)
    if people is not None:
        assert tmp_path is not None
        csv_path = tmp_path / "people.csv"
        csv_path.write_text(people, encoding="utf-8")
        refs["people_csv"] = csv_path
    reference.load_all(con, **refs)
    return runner.build(con)


def event(con: duckdb.DuckDBPyConnection, request_id: str) -> dict[str, Any]:
    cur = con.execute("select * from usage_events where request_id = ?", [request_id])
    names = [d[0] for d in cur.description]
    row = cur.fetchone()
    assert row is not None, f"no usage event {request_id}"
    return dict(zip(names, row, strict=True))


def cost(con: duckdb.DuckDBPyConnection, request_id: str) -> Decimal | None:
    value = event(con, request_id)["cost_usd"]
    assert value is None or isinstance(value, Decimal)
    return value
