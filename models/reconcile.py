"""LiteLLM (and gateway) reconciliation: proxy records beside the providers', LiteLLM's spend
beside ours.

Two questions, both over ``usage_events`` and ``gateway_matches`` (the published marts):

* :func:`summary` -- requests the proxy forwarded to Bedrock/Vertex that both sides logged
  (``matched``; the provider copy is not counted), that only LiteLLM logged
  (``only_in_litellm``: provider logs not ingested, logging off, a different account) and
  provider records under the proxy's identity that LiteLLM has no row for
  (``only_in_provider``: lost spend-log writes, retention). Every other gateway (``source =
  'gateway'``) adds ``matched (<gateway>)`` and ``only_in_gateway (<gateway>)`` rows, its own
  cost in the ``litellm_cost_usd`` column. Successful requests only for the
  two one-sided groups: LiteLLM's own rejections never reached a provider.
* :func:`differences` -- successful LiteLLM requests grouped by why LiteLLM's ``spend`` differs
  from our price-book cost: ``unpriced in LiteLLM`` ($0 spend for tokens we price),
  ``unpriced in llmledger``, ``long-context tier``, ``regional premium`` (LiteLLM at the global
  rate where the provider bills +10%), ``cache priced differently`` (1-hour writes at the
  5-minute rate, cache reads as input, ...), ``other``, and ``agrees`` (within 0.5%).

Both return a ``pyarrow.Table`` (decimal money), the read API's one result type, for the CLI
(``llmledger report --reconcile``, through ``models.views.rows``) and the dashboard alike.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import duckdb
import pyarrow as pa

from models.tables import fetch_table, rows

CATEGORIES = ("matched", "only_in_litellm", "only_in_provider")
CAUSES = (
    "unpriced in LiteLLM",
    "unpriced in llmledger",
    "long-context tier",
    "regional premium",
    "cache priced differently",
    "other",
    "agrees",
)
_CAUSE_ORDER = " ".join(f"when '{c}' then {i}" for i, c in enumerate(CAUSES))
RELATIVE_TOLERANCE = "0.005"  # LiteLLM's float arithmetic vs our decimals
ABSOLUTE_TOLERANCE = "0.000001"


def _window(column: str, since: date | None, until: date | None) -> tuple[str, list[Any]]:
    clauses, params = ["true"], []
    if since is not None:
        clauses.append(f"{column} >= cast(? as timestamptz)")
        params.append(since.isoformat())
    if until is not None:
        clauses.append(f"{column} < cast(? as timestamptz)")
        params.append(until.isoformat())
    return " and ".join(clauses), params


def summary(
    con: duckdb.DuckDBPyConnection, since: date | None = None, until: date | None = None
) -> pa.Table:
    """One row per (category, provider): requests, LiteLLM's reported cost (``reported_cost_usd``),
    our cost of the LiteLLM rows (``litellm_cost_usd``) and of the provider rows
    (``provider_cost_usd``)."""
    lw, lp = _window("l.occurred_at", since, until)
    pw, pp = _window("p.occurred_at", since, until)
    gw, gp = _window("g.occurred_at", since, until)
    columns = {str(r[0]) for r in con.execute("describe usage_events").fetchall()}
    if "gateway_name" not in columns:  # a snapshot published before gateways were read
        gw, gp = "false", []
        gateway_name = "cast(null as varchar)"
    else:
        gateway_name = "g.gateway_name"
    sql = f"""
        with litellm as (
            select * from usage_events where source = 'litellm'
        ),
        provider_side as (
            select * from usage_events
            where source <> 'litellm' and gateway_role and provider in ('bedrock', 'vertex')
        ),
        matched as (
            select 'matched' as category, l.provider, count(*) as requests,
                   sum(l.reported_cost_usd) as reported_cost_usd,
                   sum(l.cost_usd) as litellm_cost_usd,
                   sum(p.cost_usd) as provider_cost_usd
            from gateway_matches as m
            join litellm as l on l.event_id = m.gateway_event_id
            join provider_side as p on p.event_id = m.event_id
            where {lw}
            group by all
        ),
        only_in_litellm as (
            select 'only_in_litellm' as category, l.provider, count(*) as requests,
                   sum(l.reported_cost_usd) as reported_cost_usd,
                   sum(l.cost_usd) as litellm_cost_usd,
                   cast(null as decimal(38, 12)) as provider_cost_usd
            from litellm as l
            where l.provider in ('bedrock', 'vertex') and l.status = 'ok'
              and l.event_id not in (select gateway_event_id from gateway_matches)
              and {lw}
            group by all
        ),
        only_in_provider as (
            select 'only_in_provider' as category, p.provider, count(*) as requests,
                   cast(null as decimal(38, 12)) as reported_cost_usd,
                   cast(null as decimal(38, 12)) as litellm_cost_usd,
                   sum(p.cost_usd) as provider_cost_usd
            from provider_side as p
            where p.status = 'ok'
              and p.event_id not in (select event_id from gateway_matches)
              and {pw}
            group by all
        ),
        -- any other gateway (Kong, a body logger, ...): its matched requests and the ones it
        -- forwarded to Bedrock/Vertex with no provider record read, per gateway; the gateway's
        -- cost stands in the litellm_cost_usd column
        gateways as (
            select * from usage_events where source = 'gateway'
        ),
        gateway_matched as (
            select 'matched (' || {gateway_name} || ')' as category, g.provider,
                   count(*) as requests,
                   sum(g.reported_cost_usd) as reported_cost_usd,
                   sum(g.cost_usd) as litellm_cost_usd,
                   sum(p.cost_usd) as provider_cost_usd
            from gateway_matches as m
            join gateways as g on g.event_id = m.gateway_event_id
            join provider_side as p on p.event_id = m.event_id
            where {gw}
            group by all
        ),
        only_in_gateway as (
            select 'only_in_gateway (' || {gateway_name} || ')' as category, g.provider,
                   count(*) as requests,
                   sum(g.reported_cost_usd) as reported_cost_usd,
                   sum(g.cost_usd) as litellm_cost_usd,
                   cast(null as decimal(38, 12)) as provider_cost_usd
            from gateways as g
            where g.provider in ('bedrock', 'vertex') and g.status = 'ok'
              and g.event_id not in (select gateway_event_id from gateway_matches)
              and {gw}
            group by all
        ),
        final as (
            select * from matched
            union all select * from only_in_litellm
            union all select * from only_in_provider
            union all select * from gateway_matched
            union all select * from only_in_gateway
        )
        select category, provider, cast(requests as bigint) as requests,
               cast(reported_cost_usd as decimal(38, 12)) as reported_cost_usd,
               cast(litellm_cost_usd as decimal(38, 12)) as litellm_cost_usd,
               cast(provider_cost_usd as decimal(38, 12)) as provider_cost_usd
        from final
        order by case when category = 'matched' then 1 when category = 'only_in_litellm' then 2
                      when category = 'only_in_provider' then 3
                      when starts_with(category, 'matched (') then 4 else 5 end,
                 category, provider
    """
    return fetch_table(con, sql, lp + lp + pp + gp + gp)


def differences(
    con: duckdb.DuckDBPyConnection, since: date | None = None, until: date | None = None
) -> pa.Table:
    """One row per cause (and provider): requests, LiteLLM's spend, our cost, the difference."""
    where, params = _window("occurred_at", since, until)
    rel, tol = RELATIVE_TOLERANCE, ABSOLUTE_TOLERANCE
    close = f"greatest(abs(cost_usd) * {rel}, {tol})"
    sql = f"""
        with litellm as (
            select * from usage_events
            where source = 'litellm' and status = 'ok' and billable and {where}
        ),
        classified as (
            select
                *,
                case
                    when cost_usd is null then 'unpriced in llmledger'
                    when reported_cost_usd = 0 and cost_usd > 0 then 'unpriced in LiteLLM'
                    when abs(reported_cost_usd - cost_usd) <= {close} then 'agrees'
                    when pricing_tier = 'long_context' then 'long-context tier'
                    when pricing_scope in ('geo', 'regional', 'in_region')
                         and abs(reported_cost_usd * 1.1 - cost_usd) <= {close}
                        then 'regional premium'
                    when cache_read_tokens + cache_write_5m_tokens + cache_write_1h_tokens > 0
                        then 'cache priced differently'
                    else 'other'
                end as cause
            from litellm
        ),
        final as (
            select
                cause,
                provider,
                cast(count(*) as bigint) as requests,
                cast(sum(reported_cost_usd) as decimal(38, 12)) as reported_cost_usd,
                cast(sum(cost_usd) as decimal(38, 12)) as cost_usd,
                cast(sum(reported_cost_usd - cost_usd) as decimal(38, 12)) as difference_usd
            from classified
            group by all
        )
        select * from final
        order by case cause {_CAUSE_ORDER} else 99 end, coalesce(provider, '')
    """
    return fetch_table(con, sql, params)


def report_rows(
    con: duckdb.DuckDBPyConnection, since: date | None = None, until: date | None = None
) -> list[dict[str, Any]]:
    """:func:`summary` and :func:`differences` as one table, for `llmledger report --reconcile`.

    Each row has a ``section`` (``requests`` or ``spend``) and a ``group`` (the category or the
    cause) beside the columns of the function it came from.
    """
    found = [
        {"section": "requests", "group": r["category"], **r}
        for r in rows(summary(con, since, until))
    ]
    found += [
        {"section": "spend", "group": r["cause"], **r} for r in rows(differences(con, since, until))
    ]
    return found
