"""Costs as billed: each provider's estimate scaled to its invoice (``export billing --as-billed``).

For a provider with a bill loaded for the month, every export row's contracted cost ``r`` is
restated as ``r x invoice / estimate``, where ``estimate`` is the provider's contracted cost over
the month's counted, billable requests and ``invoice`` what the bill charged for its LLM token
lines: usage plus discounts, credits apart (the ``billed_cost_usd`` of ``bill_check`` and
``report --bill``).

The arithmetic is exact: the quotient is computed on exact fractions (a DuckDB function
registered on the connection; DuckDB's own decimal division would go through DOUBLE), cut to
:data:`SCALE` decimal places, and the units the cut left over are handed out one each to the
rows with the largest remainders (ties in row order), so a provider's scaled rows add up to its
invoice exactly. Cents are then allocated the same way per provider.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache

import duckdb
import pyarrow as pa
from duckdb.func import PythonUDFType

SCALE = 12  # billed_cost_usd has 12 decimal places: the scaled rows add up to the invoice
UNIT = Decimal(1).scaleb(-SCALE)
KEY_DIGITS = 30  # remainders are compared to 30 decimal places (then by row order)
UNITS_FUNCTION = "llmledger_billed_units"
KEY_FUNCTION = "llmledger_billed_key"


class AsBilledError(ValueError):
    """The estimate cannot be scaled to the bill (nothing to scale)."""


@dataclass(frozen=True)
class Scale:
    """One provider's month: its invoiced total and our (contracted) estimate."""

    provider: str
    invoice_usd: Decimal
    estimate_usd: Decimal


@dataclass
class Plan:
    scales: list[Scale]
    unbilled: list[str]  # providers in the export without a bill for the month
    unscaled: list[str]  # provider/model pairs of billed providers with unpriced requests


@lru_cache(maxsize=64)
def _factor(invoice: str, estimate: str) -> tuple[int, int]:
    """invoice / estimate x 10**SCALE as an exact (numerator, denominator) pair."""
    ni, di = Decimal(invoice).as_integer_ratio()
    ne, de = Decimal(estimate).as_integer_ratio()
    return ni * de * 10**SCALE, di * ne


def _scaled(r: str, invoice: str, estimate: str) -> tuple[int, int, int]:
    """r x invoice / estimate x 10**SCALE as (whole units, remainder, denominator), exactly."""
    n, d = Decimal(r).as_integer_ratio()
    fn, fd = _factor(invoice, estimate)
    num, den = n * fn, d * fd
    return num // den, num % den, den


def _units(r: pa.Array, invoice: pa.Array, estimate: pa.Array) -> pa.Array:
    out: list[str | None] = []
    for a, b, c in zip(r.to_pylist(), invoice.to_pylist(), estimate.to_pylist(), strict=True):
        out.append(None if a is None or b is None or c is None else str(_scaled(a, b, c)[0]))
    return pa.array(out, pa.string())


def _key(r: pa.Array, invoice: pa.Array, estimate: pa.Array) -> pa.Array:
    """The remainder the cut to SCALE places left, as fixed-width digits (text order is numeric
    order)."""
    out: list[str | None] = []
    for a, b, c in zip(r.to_pylist(), invoice.to_pylist(), estimate.to_pylist(), strict=True):
        if a is None or b is None or c is None:
            out.append(None)
            continue
        _, rest, den = _scaled(a, b, c)
        out.append(str(rest * 10**KEY_DIGITS // den).zfill(KEY_DIGITS))
    return pa.array(out, pa.string())


def register(con: duckdb.DuckDBPyConnection) -> None:
    """The exact scaling functions, on this connection (once)."""
    have = {
        str(r[0])
        for r in con.execute(
            "select function_name from duckdb_functions() where function_name in (?, ?)",
            [UNITS_FUNCTION, KEY_FUNCTION],
        ).fetchall()
    }
    for name, func in ((UNITS_FUNCTION, _units), (KEY_FUNCTION, _key)):
        if name not in have:
            con.create_function(
                name,
                func,
                ["varchar", "varchar", "varchar"],
                "varchar",
                type=PythonUDFType.ARROW,
                side_effects=False,
            )


def scales_cte(scales: list[Scale]) -> str:
    """``scales(provider, invoice_usd, estimate_usd, invoice_units)``: one row per billed
    provider (none when no bill is loaded); the values are written as literals (exact decimals
    and a quoted provider name), so the CTE can sit anywhere in a query."""
    if not scales:
        return (
            "scales as (select cast(null as varchar) as provider,"
            " cast(null as decimal(38, 12)) as invoice_usd,"
            " cast(null as decimal(38, 18)) as estimate_usd,"
            " cast(null as hugeint) as invoice_units where false)"
        )
    rows = ", ".join(
        f"({_lit(s.provider)}, cast('{s.invoice_usd:f}' as decimal(38, 12)), "
        f"cast('{s.estimate_usd:f}' as decimal(38, 18)), cast('{invoice_units(s)}' as hugeint))"
        for s in scales
    )
    columns = "provider, invoice_usd, estimate_usd, invoice_units"
    return f"scales as (select * from (values {rows}) v({columns}))"


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def invoice_units(scale: Scale) -> int:
    return int(scale.invoice_usd.scaleb(SCALE))


def scaled_sql(source: str, cost: str, order: str) -> str:
    """CTEs ``scaled_units`` and ``scaled`` over ``source`` (which has ``provider`` and the
    row's exact cost ``cost``): ``scaled`` adds ``billed_cost_usd`` (DECIMAL(38, 18); the
    scaled cost cut to SCALE places plus its share of the left-over units for a billed
    provider, else the estimate unchanged) and ``scaled_flag`` (the row was scaled)."""
    unit = f"cast(0.{'0' * (SCALE - 1)}1 as decimal({SCALE + 1}, {SCALE}))"
    args = (
        f"cast({cost} as varchar), cast(s.invoice_usd as varchar), cast(s.estimate_usd as varchar)"
    )
    return f"""
scaled_units as (
    select x.*, s.provider is not null as scaled_flag, s.invoice_units,
        cast({UNITS_FUNCTION}({args}) as hugeint) as billed_units,
        {KEY_FUNCTION}({args}) as billed_key
    from {source} x left join scales s on s.provider = x.provider
),
scaled_ranked as (
    select *,
        row_number() over (
            partition by provider order by billed_key desc nulls last, {order}
        ) as billed_rank,
        invoice_units - sum(billed_units) over (partition by provider) as spare_units
    from scaled_units
),
scaled as (
    select * exclude (billed_units, billed_key, billed_rank, spare_units, invoice_units),
        case when not scaled_flag then cast({cost} as decimal(38, 18))
             else cast(cast(billed_units + case when billed_rank <= spare_units then 1 else 0
                                           end as decimal(38, 0)) * {unit} as decimal(38, 18))
        end as billed_cost_usd
    from scaled_ranked
)"""


def plan(
    con: duckdb.DuckDBPyConnection,
    start: datetime,
    end: datetime,
    estimates: dict[str, Decimal | None],
    unpriced: list[tuple[str, str]],
) -> Plan:
    """Which providers are scaled and by what: ``estimates`` is each exported provider's
    contracted total (None when nothing is priced), ``unpriced`` the provider/model pairs with
    unpriced requests. AsBilledError when a bill has nothing to scale."""
    bills = invoices(con, start, end)
    scales: list[Scale] = []
    for provider in sorted(bills):
        invoice = bills[provider]
        estimate = estimates.get(provider) or Decimal(0)
        if estimate == 0:
            if invoice != 0:
                raise AsBilledError(
                    f"--as-billed: {provider} billed {invoice.normalize():f} USD for "
                    f"{start:%Y-%m} but our estimate is 0 (no priced requests logged): nothing "
                    "to scale; see `llmledger report --bill`"
                )
            continue
        scales.append(Scale(provider, invoice, estimate))
    billed = {s.provider for s in scales} | set(bills)
    return Plan(
        scales=scales,
        unbilled=sorted(p for p in estimates if p not in billed),
        unscaled=sorted(f"{p}/{m}" for p, m in unpriced if p in billed),
    )


def invoices(con: duckdb.DuckDBPyConnection, start: datetime, end: datetime) -> dict[str, Decimal]:
    """Per provider with a bill loaded for [start, end): the invoiced total of its LLM token
    lines (usage plus discounts, credits apart), at SCALE places."""
    (have,) = con.execute(
        "select count(*) from information_schema.tables where table_name = 'bill_lines'"
    ).fetchall()[0]
    if not have:
        return {}
    rows = con.execute(
        """
        select provider, coalesce(sum(billed_cost_usd + discount_usd) filter (
                where token_kind <> 'other' and line_kind in ('usage', 'discount', 'credit')),
            0)
        from bill_lines
        where usage_day >= cast(? as date) and usage_day < cast(? as date)
        group by provider
        """,
        [start.date(), end.date()],
    ).fetchall()
    return {str(p): Decimal(total).quantize(UNIT, rounding=ROUND_HALF_EVEN) for p, total in rows}
