"""The estimate against the bill: ``bill_check`` rolled up per day, model, account or principal.

``report --bill``, ``doctor`` and the dashboard's Bill check page read these through
``models/views.py``. Money stays DECIMAL; ``difference_pct`` is the difference over our estimate
(DECIMAL, 4 places), NULL where we estimated nothing.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import duckdb
import pyarrow as pa

from models import tables

TOKEN_KINDS = ("input", "output", "cache_read", "cache_write_5m", "cache_write_1h")
BY = ("day", "model", "account", "principal")
KEYS = {"day": ("day",), "model": ("provider", "model"), "account": ("provider", "account")}
TOKEN_PAIRS = tuple(
    name for kind in TOKEN_KINDS for name in (f"our_{kind}_tokens", f"billed_{kind}_tokens")
)
MONEY = ("our_cost_usd", "billed_cost_usd", "difference_usd")
REASONS = {
    "logs_missing": "billed, nothing logged: logging off or an account/region not ingested",
    "unpriced_model": "a model the price book does not price",
    "contracted_discount": "billed = list x (1 - d) across the board: a contracted discount",
    "price_book_wrong": "tokens match but cost does not: the price book is wrong",
    "not_billed": "logged but not on the bill: another payer's account, or the bill is partial",
    "tokens_differ": "billed tokens differ from logged tokens: logs partly missing",
    "shared_role_unattributed": "billed to a principal our attribution leaves unattributed",
}


def month_bounds(month: str) -> tuple[date, date]:
    """[first day, first day of the next month) of ``YYYY-MM`` (ValueError if malformed)."""
    year, mon = (int(p) for p in month.split("-"))
    start = date(year, mon, 1)
    return start, date(year + (mon == 12), mon % 12 + 1, 1)


def _pct(diff: str, ours: str) -> str:
    return (
        f"case when {ours} > 0 then cast(round(cast({diff} as double) / cast({ours} as double) "
        f"* 100, 4) as decimal(18, 4)) end"
    )


def _reason_agg(column: str = "reason") -> str:
    return (
        f"case when count(distinct {column}) = 1 then any_value({column}) "
        f"when count(distinct {column}) > 1 then string_agg(distinct {column}, ', ' "
        f"order by {column}) end"
    )


def _has_bills(con: duckdb.DuckDBPyConnection) -> bool:
    row = con.execute(
        "select count(*) from information_schema.tables where table_name = 'bill_check'"
    ).fetchone()
    return bool(row and row[0])


def differences(con: duckdb.DuckDBPyConnection, month: str, limit: int = 20) -> pa.Table:
    """The month's ``bill_check`` rows with the largest differences (unknown estimates first)."""
    start, end = month_bounds(month)
    return tables.fetch_table(
        con,
        """
        select day, provider, account, model, token_kind, our_tokens, billed_tokens,
            our_cost_usd, billed_cost_usd, difference_usd, difference_pct, reason
        from bill_check
        where day >= ? and day < ? and reason is not null
        order by difference_usd is not null, abs(difference_usd) desc, day, provider, account,
            model, token_kind
        limit ?
        """,
        [start, end, limit],
    )


def check(con: duckdb.DuckDBPyConnection, month: str, by: str) -> pa.Table:
    """One row per group of ``by`` for ``month``: the key, token pairs, our and billed cost,
    the difference in dollars and percent, credits, the reason(s) and any suggested
    ``[[prices.overrides]]`` lines."""
    if by not in BY:
        raise ValueError(f"by must be one of {', '.join(BY)}")
    start, end = month_bounds(month)
    if by == "principal":
        return _by_principal(con, start, end)
    keys = ", ".join(KEYS[by])
    pairs = ", ".join(
        f"coalesce(sum(our_tokens) filter (where token_kind = '{k}'), 0)::bigint "
        f"as our_{k}_tokens, coalesce(sum(billed_tokens) filter (where token_kind = '{k}'), 0)"
        f"::bigint as billed_{k}_tokens"
        for k in TOKEN_KINDS
    )
    return tables.fetch_table(
        con,
        f"""
        with grouped as (
            select {keys}, {pairs},
                -- the priced part; NULL only when nothing in the group is priced (never $0)
                sum(our_cost_usd)::decimal(38, 12) as our_cost_usd,
                sum(billed_cost_usd)::decimal(38, 12) as billed_cost_usd,
                sum(credits_usd)::decimal(38, 12) as credits_usd,
                {_reason_agg()} as reason,
                string_agg(distinct suggested_override, chr(10) || chr(10)
                    order by suggested_override) as suggested_override
            from bill_check where day >= ? and day < ?
            group by {keys}
        )
        select {keys}, our_cost_usd, billed_cost_usd,
            (billed_cost_usd - our_cost_usd)::decimal(38, 12) as difference_usd,
            {_pct("billed_cost_usd - our_cost_usd", "our_cost_usd")} as difference_pct,
            credits_usd, * exclude ({keys}, our_cost_usd, billed_cost_usd, credits_usd,
                reason, suggested_override),
            reason, suggested_override
        from grouped order by {keys}
        """,
        [start, end],
    )


def _by_principal(con: duckdb.DuckDBPyConnection, start: date, end: date) -> pa.Table:
    """The bill's own per-principal split (CUR's line_item_iam_principal) beside ours."""
    billed = ", ".join(
        f"coalesce(sum(billed_tokens) filter (where token_kind = '{k}'), 0)::bigint "
        f"as billed_{k}_tokens"
        for k in TOKEN_KINDS
    )
    ours = ", ".join(f"coalesce(sum({k}_tokens), 0)::bigint as our_{k}_tokens" for k in TOKEN_KINDS)
    pairs = ", ".join(
        f"coalesce(o.our_{k}_tokens, 0) as our_{k}_tokens, "
        f"coalesce(b.billed_{k}_tokens, 0) as billed_{k}_tokens"
        for k in TOKEN_KINDS
    )
    return tables.fetch_table(
        con,
        f"""
        with bill as (
            select provider, coalesce(principal, '(no principal in the bill)') as principal,
                {billed},
                sum(billed_cost_usd + discount_usd)::decimal(38, 12) as billed_cost_usd,
                sum(credit_usd)::decimal(38, 12) as credits_usd
            from bill_lines
            where usage_day >= ? and usage_day < ? and token_kind <> 'other'
                and line_kind in ('usage', 'discount', 'credit')
            group by all
        ),
        ours as (
            select provider, principal, any_value(developer) as developer, {ours},
                sum(cost_usd)::decimal(38, 12) as our_cost_usd,
                bool_or(cost_usd is null) as has_unpriced
            from usage_events
            where source = provider and billable and occurred_at >= ? and occurred_at < ?
                and provider in (select distinct provider from bill)
            group by all
        ),
        joined as (
            select coalesce(o.provider, b.provider) as provider,
                coalesce(o.principal, b.principal) as principal,
                coalesce(o.developer, 'unattributed') as developer,
                coalesce(o.has_unpriced, false) as has_unpriced,
                case when o.provider is null then 0::decimal(38, 12)
                     else o.our_cost_usd end as our_cost_usd,
                coalesce(b.billed_cost_usd, 0)::decimal(38, 12) as billed_cost_usd,
                coalesce(b.credits_usd, 0)::decimal(38, 12) as credits_usd,
                {pairs}
            from ours o full outer join bill b
                on b.provider = o.provider and b.principal = o.principal
        )
        select provider, principal, developer, our_cost_usd, billed_cost_usd,
            (billed_cost_usd - our_cost_usd)::decimal(38, 12) as difference_usd,
            {_pct("billed_cost_usd - our_cost_usd", "our_cost_usd")} as difference_pct,
            credits_usd, * exclude (provider, principal, developer, our_cost_usd,
                billed_cost_usd, credits_usd, has_unpriced),
            case
                when billed_cost_usd > 0 and our_cost_usd = 0 then 'logs_missing'
                when billed_cost_usd > 0 and developer = 'unattributed'
                    then 'shared_role_unattributed'
                when has_unpriced then 'unpriced_model'
                when our_cost_usd > 0 and billed_cost_usd = 0
                    and principal <> '(no principal in the bill)' then 'not_billed'
            end as reason,
            null::varchar as suggested_override
        from joined order by provider, principal
        """,
        [start, end, start, end],
    )


def failed(row: dict[str, Any], tolerance_pct: Decimal) -> bool:
    """Whether a group's difference passes the tolerance (an unknown estimate against a bill,
    or a bill against no estimate, always does)."""
    ours, billed = row.get("our_cost_usd"), row.get("billed_cost_usd") or Decimal(0)
    if ours is None:
        return billed != 0
    pct = row.get("difference_pct")
    if pct is None:
        return abs(billed - ours) > Decimal("0.01")
    return abs(Decimal(pct)) > tolerance_pct


def failed_months(con: duckdb.DuckDBPyConnection, tolerance_pct: Decimal) -> pa.Table:
    """Per bill month and provider: our and billed cost, the difference, coverage, and whether
    the check failed: a day x account x model x token kind whose difference passes the
    tolerance (and a cent), or billed tokens we cannot price (doctor lists the failed ones).
    Month totals alone would let differences cancel out."""
    return tables.fetch_table(
        con,
        f"""
        with rows as (
            select *,
                (our_cost_usd is null and billed_cost_usd > 0)
                or (abs(difference_usd) > 0.01
                    and (difference_pct is null or abs(difference_pct) > ?)) as row_failed
            from bill_check
        ),
        months as (
            select strftime(day, '%Y-%m') as month, provider,
                sum(our_cost_usd)::decimal(38, 12) as our_cost_usd,
                sum(billed_cost_usd)::decimal(38, 12) as billed_cost_usd,
                -- what our logs explain: billed spend where we logged tokens too
                sum(billed_cost_usd) filter (where our_tokens > 0)::decimal(38, 12)
                    as explained_usd,
                {_reason_agg()} as reasons,
                coalesce(bool_or(row_failed), false) as failed
            from rows group by all
        )
        select month, provider, our_cost_usd, billed_cost_usd,
            (billed_cost_usd - our_cost_usd)::decimal(38, 12) as difference_usd,
            {_pct("billed_cost_usd - our_cost_usd", "our_cost_usd")} as difference_pct,
            case when billed_cost_usd > 0 then cast(round(cast(coalesce(explained_usd, 0)
                as double) / cast(billed_cost_usd as double) * 100, 2) as decimal(9, 2))
            end as coverage_pct,
            reasons, failed
        from months order by month, provider
        """,
        [tolerance_pct],
    )
