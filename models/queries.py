"""Read queries over the marts, shared by `llmledger report` and the dashboard.

Every function takes an open DuckDB connection (the published snapshot, or the main database
read-only) and returns plain Python values; money is ``Decimal``, never float.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import duckdb

GROUPS = {
    "developer": "developer",
    "team": "team",
    "model": "model",
    "day": "day",
    "provider": "provider",
    "source": "source",
    "cost_center": "cost_center",
}
REPORT_BY = ("developer", "team", "model", "day")
FILTERS = ("team", "developer", "model", "provider", "source", "cost_center")
METRICS = (
    "requests",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
    "cost_usd",
)


def _where(
    since: date | None, until: date | None, filters: Mapping[str, Any]
) -> tuple[str, list[Any]]:
    clauses = ["counted"]
    params: list[Any] = []
    if since is not None:
        clauses.append("day >= ?")
        params.append(_as_date(since))
    if until is not None:
        clauses.append("day < ?")  # until is exclusive
        params.append(_as_date(until))
    for name in FILTERS:
        value = filters.get(name)
        if value is None or len(value) == 0:
            continue
        values = [value] if isinstance(value, str) else list(value)
        clauses.append(f"{name} in ({', '.join('?' for _ in values)})")
        params.extend(values)
    unknown = set(filters) - set(FILTERS)
    if unknown:
        raise ValueError(f"unknown report filter {sorted(unknown)[0]!r}; use one of {FILTERS}")
    return " and ".join(clauses), params


def _as_date(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def report(
    con: duckdb.DuckDBPyConnection,
    by: str,
    since: date | None = None,
    until: date | None = None,
    **filters: Any,
) -> list[dict[str, Any]]:
    """Counted usage grouped by ``by`` over days ``[since, until)`` (UTC), from usage_daily.

    One dict per group, keys: ``by`` (``day`` as ``YYYY-MM-DD``), ``requests``, ``input_tokens``,
    ``output_tokens``, ``cache_read_tokens``, ``cache_write_5m_tokens``, ``cache_write_1h_tokens``,
    ``cost_usd`` (``Decimal`` with 12 places; ``None`` when every request of the group is
    unpriced). Filters: team, developer, model, provider, source, cost_center (a value or a list).
    Ordered by day for ``day``, else by cost (highest first) then name.
    """
    if by not in GROUPS:
        raise ValueError(f"cannot group by {by!r}; use one of {', '.join(GROUPS)}")
    where, params = _where(since, until, filters)
    key = GROUPS[by]
    order = "1" if by == "day" else "cost_usd desc nulls last, 1"
    cur = con.execute(
        f"""
        select {key} as {by},
               cast(sum(requests) as bigint) as requests,
               cast(sum(input_tokens) as bigint) as input_tokens,
               cast(sum(output_tokens) as bigint) as output_tokens,
               cast(sum(cache_read_tokens) as bigint) as cache_read_tokens,
               cast(sum(cache_write_5m_tokens) as bigint) as cache_write_5m_tokens,
               cast(sum(cache_write_1h_tokens) as bigint) as cache_write_1h_tokens,
               cast(sum(cost_usd) as decimal(38, 12)) as cost_usd
        from usage_daily
        where {where}
        group by 1
        order by {order}
        """,
        params,
    )
    names = [d[0] for d in cur.description]
    rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    if by == "day":
        for row in rows:
            row["day"] = row["day"].isoformat()
    return rows


def totals(
    con: duckdb.DuckDBPyConnection,
    since: date | None = None,
    until: date | None = None,
    **filters: Any,
) -> dict[str, Any]:
    """Totals over the same selection as :func:`report`, plus the unpriced and unattributed
    shares (requests and cost) that every view shows."""
    where, params = _where(since, until, filters)
    cur = con.execute(
        f"""
        select cast(coalesce(sum(requests), 0) as bigint) as requests,
               cast(coalesce(sum(input_tokens), 0) as bigint) as input_tokens,
               cast(coalesce(sum(output_tokens), 0) as bigint) as output_tokens,
               cast(coalesce(sum(cache_read_tokens), 0) as bigint) as cache_read_tokens,
               cast(coalesce(sum(cache_write_5m_tokens), 0) as bigint) as cache_write_5m_tokens,
               cast(coalesce(sum(cache_write_1h_tokens), 0) as bigint) as cache_write_1h_tokens,
               cast(coalesce(sum(cost_usd), 0) as decimal(38, 12)) as cost_usd,
               cast(coalesce(sum(unpriced_requests), 0) as bigint) as unpriced_requests,
               cast(coalesce(sum(requests) filter (where developer = 'unattributed'), 0)
                    as bigint) as unattributed_requests,
               cast(coalesce(sum(cost_usd) filter (where developer = 'unattributed'), 0)
                    as decimal(38, 12)) as unattributed_cost_usd,
               cast(coalesce(sum(uncached_cost_usd), 0) as decimal(38, 12))
                    as uncached_cost_usd
        from usage_daily
        where {where}
        """,
        params,
    )
    names = [d[0] for d in cur.description]
    row = cur.fetchone()
    assert row is not None
    return dict(zip(names, row, strict=True))


def unpriced_models(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Models seen without a price (all events), with request counts and the ids logged."""
    return _fetch(
        con,
        """
        select provider, model, pricing_scope, count(*) as requests,
               string_agg(distinct model_id, ', ' order by model_id) as model_ids,
               min(occurred_at) as first_seen_at, max(occurred_at) as last_seen_at
        from usage_events
        where unpriced
        group by provider, model, pricing_scope
        order by requests desc, provider, model, pricing_scope
        """,
    )


def unmapped_identities(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Principals resolved to developer 'unattributed', with request counts and cost."""
    return _fetch(
        con,
        """
        select source, principal, team, count(*) as requests,
               cast(sum(cost_usd) as decimal(38, 12)) as cost_usd
        from usage_events
        where developer = 'unattributed'
        group by source, principal, team
        order by requests desc, source, principal
        """,
    )


def rejected_by_reason(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    return _fetch(
        con,
        """
        select source, reason, count(*) as records, max(first_seen_at) as last_seen_at
        from rejected_records
        group by source, reason
        order by source, records desc, reason
        """,
    )


def source_health(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Per source: last run, last successful run, its status/message, newest record seen."""
    runs = _fetch(
        con,
        """
        select source,
               max(finished_at) filter (where status = 'ok') as last_success_at,
               arg_max(status, run_id) as last_status,
               arg_max(message, run_id) as last_message,
               max(started_at) as last_run_at,
               count(*) filter (where status <> 'ok') as failed_runs
        from ingest_runs
        group by source
        order by source
        """,
    )
    newest = {
        str(r["source"]): r["newest_record_at"]
        for r in _fetch(
            con,
            "select source, max(occurred_at) as newest_record_at from usage_events group by 1",
        )
    }
    for run in runs:
        family = str(run["source"]).split("-")[0]
        run["newest_record_at"] = newest.get(str(run["source"]), newest.get(family))
    return runs


def _fetch(
    con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None
) -> list[dict[str, Any]]:
    cur = con.execute(sql, params or [])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def money(value: Decimal | None, places: int = 12) -> str | None:
    """A Decimal as a plain decimal string with ``places`` places (never exponent form)."""
    if value is None:
        return None
    return f"{value.quantize(Decimal(1).scaleb(-places)):f}"
