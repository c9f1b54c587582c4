"""CSV exports for finance and audits: billing (simple and FOCUS 1.2) and per-request usage.

Billing exports read the counted, billable rows of ``usage_events`` (copies already counted from
a gateway and non-billable calls such as Vertex count-tokens are not charges); the usage detail
reads every row, with its ``counted`` flag. All of it comes from the published snapshot.

Each export is SQL that ends in a ``final`` CTE of text cells plus ``sort_N`` keys; DuckDB also
builds the CSV lines (:func:`lines_sql`) and they stream out in Arrow batches
(:func:`write_csv`), so Python never holds more than a batch. The usage detail runs one UTC day
at a time, so DuckDB never sorts more than a day either.

The files are made for spreadsheets and loaders alike:

* **money is exact**: costs are DECIMAL all the way; a cost cell is the exact decimal value with
  trailing zeros trimmed (``12.5``, ``0.000345``, ``0``), never rounded, so the cells of any
  export add up to exactly ``sum(usage_events.cost_usd)`` over the same rows;
* **list vs contracted**: ``list`` cost is ``usage_events.cost_usd`` (the price book, including
  any ``[[prices.overrides]]``); ``contracted`` cost applies ``[[prices.discounts]]`` (a
  percentage off per provider, or per provider and model, from a date on);
* **one writer**: every CSV the tool produces goes through :func:`write_csv` (exports) or
  :func:`write_rows` (`llmledger report --format csv`, the dashboard's downloads), which runs
  Python rows through the same SQL cell rules;
* **safe**: a text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
  and is not a number gets a leading apostrophe, so a spreadsheet never runs it as a formula;
* **RFC 4180**: UTF-8 without a byte-order mark, comma separated, ``\\r\\n`` line ends, fields
  quoted only when they contain a comma, a quote or a line break (quotes doubled), an empty
  cell for NULL, one header row, no totals row;
* **deterministic**: rows are ordered by every grouping column, so the same data gives the same
  bytes (the golden files in tests/golden/ are compared byte for byte);
* **traceable**: every row names the price-book version(s) it was priced with.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import IO, Any

import duckdb
import pyarrow as pa

from models import as_billed as billed_
from models import limits
from models.focus import EXPORT_COLUMNS

CURRENCY = "USD"
BATCH_ROWS = 10_000
LINE_END = "\r\n"
TOKEN_TYPES = ("input", "output", "cache_read", "cache_write_5m", "cache_write_1h")


class ExportError(ValueError):
    """An export cannot be made as asked (bad month, bad discount, inconsistent data)."""


@dataclass(frozen=True)
class Discount:
    """A contracted discount: ``pct`` % off list cost for a provider (and model) from a day."""

    provider: str
    model: str | None
    pct: Decimal
    valid_from: date


@dataclass(frozen=True)
class BillingAccount:
    provider: str
    id: str
    name: str | None = None


@dataclass
class ExportSummary:
    rows: int = 0
    list_cost_usd: Decimal = Decimal(0)
    contracted_cost_usd: Decimal = Decimal(0)
    requests: int = 0
    unpriced_requests: int = 0
    unpriced_models: list[str] = field(default_factory=list)
    price_versions: list[str] = field(default_factory=list)
    # --as-billed: the providers scaled to their bill, those without one, and the
    # provider/model pairs of billed providers whose unpriced requests could not be scaled
    as_billed: list[billed_.Scale] | None = None
    unbilled_providers: list[str] = field(default_factory=list)
    unscaled_models: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# configuration


def parse_discounts(items: Sequence[Mapping[str, Any]]) -> list[Discount]:
    """``[[prices.discounts]]`` tables as :class:`Discount`; one clear line for a bad entry."""
    found: list[Discount] = []
    for i, item in enumerate(items):
        where = f"prices.discounts[{i}]"
        try:
            pct = Decimal(str(item["discount_pct"]))
        except (InvalidOperation, KeyError):
            raise ExportError(f"{where}.discount_pct must be a number from 0 to 100") from None
        if not pct.is_finite() or not 0 <= pct <= 100:
            raise ExportError(f"{where}.discount_pct = {item['discount_pct']!r} must be 0 to 100")
        if -pct.as_tuple().exponent > 4:  # type: ignore[operator]
            raise ExportError(f"{where}.discount_pct: use at most 4 decimal places")
        text = str(item.get("valid_from", "1970-01-01")).strip()
        try:
            valid_from = date.fromisoformat(text)
        except ValueError:
            raise ExportError(f"{where}.valid_from = {text!r} is not a date (YYYY-MM-DD)") from None
        found.append(Discount(str(item["provider"]), item.get("model"), pct, valid_from))
    return found


def parse_billing_accounts(items: Sequence[Mapping[str, Any]]) -> list[BillingAccount]:
    return [BillingAccount(str(i["provider"]), str(i["id"]), i.get("name")) for i in items]


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """``YYYY-MM`` as the [start, end) UTC instants of that calendar month."""
    if not re.fullmatch(r"\d{4}-\d{2}", month or ""):
        raise ExportError(f"{month!r} is not YYYY-MM (e.g. 2025-06)")
    year, mon = int(month[:4]), int(month[5:])
    if not 1 <= mon <= 12:
        raise ExportError(f"{month!r}: the month must be 01 to 12")
    if not 2000 <= year <= 2999:
        # no record is dated before 2000 or after now (ingest rejects them; staging leaves out
        # older rows), and 9999-12 would end in year 10000, which no date can hold
        raise ExportError(f"{month!r}: the year must be 2000 to 2999")
    start = datetime(year, mon, 1, tzinfo=UTC)
    end = datetime(year + mon // 12, mon % 12 + 1, 1, tzinfo=UTC)
    return start, end


# ---------------------------------------------------------------------------------------------
# SQL helpers: every output cell is built as text in SQL


_NUMBER = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$"


def safe(expr: str) -> str:
    """A text cell a spreadsheet cannot run as a formula (OWASP CSV injection)."""
    return (
        f"case when regexp_matches({expr}, '^[=+\\-@\\t\\r]') "
        f"and not regexp_matches({expr}, '{_NUMBER}') "
        f"then '''' || {expr} else {expr} end"
    )


def num(expr: str) -> str:
    """An exact decimal (or integer) as text with trailing fractional zeros trimmed."""
    return (
        f"regexp_replace(regexp_replace(cast({expr} as varchar), "
        r"'(\.[0-9]*?)0+$', '\1'), '\.$', '')"
    )


def _day(expr: str) -> str:
    return f"cast(timezone('UTC', {expr}) as date)"


def _iso(expr: str) -> str:
    """A date or instant as FOCUS Date/Time text, YYYY-MM-DDTHH:mm:ssZ (UTC)."""
    return f"strftime(cast({expr} as timestamp), '%Y-%m-%dT%H:%M:%SZ')"


def _discounts_cte(discounts: Sequence[Discount]) -> tuple[str, list[Any]]:
    if not discounts:
        return (
            "discounts as (select cast(null as varchar) as provider,"
            " cast(null as varchar) as model, cast(null as decimal(9, 4)) as discount_pct,"
            " cast(null as date) as valid_from where false)",
            [],
        )
    rows = ", ".join("(?, ?, cast(? as decimal(9, 4)), cast(? as date))" for _ in discounts)
    params: list[Any] = []
    for d in discounts:
        params += [d.provider, d.model, str(d.pct), d.valid_from.isoformat()]
    columns = "provider, model, discount_pct, valid_from"
    return f"discounts as (select * from (values {rows}) v({columns}))", params


# The discount for each (provider, model, day): a model-specific entry beats a provider-wide
# one; among those, the latest valid_from on or before the day.
_RATES_CTE = """
rates as (
    select k.provider, k.model, k.day,
        coalesce((
            select d.discount_pct from discounts d
            where d.provider = k.provider and (d.model is null or d.model = k.model)
              and d.valid_from <= k.day
            order by (d.model is not null) desc, d.valid_from desc
            limit 1), cast(0 as decimal(9, 4))) as discount_pct
    from (select distinct provider, model, day from events) k
)"""


def _contracted(cost: str, pct: str) -> str:
    # cost x (100 - pct) x 0.01: exact decimal arithmetic (never divide money)
    return f"{cost} * cast(100 - {pct} as decimal(9, 4)) * cast(0.01 as decimal(3, 2))"


# ---------------------------------------------------------------------------------------------
# billing, simple


SIMPLE_COLUMNS = (
    "billing_month",
    "period_start",
    "period_end",
    "cost_center",
    "team",
    "developer",
    "provider",
    "model",
    "requests",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
    "list_cost_usd",
    "contracted_cost_usd",
    "charge_usd",
    "rounding_usd",
    "unpriced_requests",
    "currency",
    "price_versions",
)


BILLED_SIMPLE_COLUMNS = (
    *SIMPLE_COLUMNS[: SIMPLE_COLUMNS.index("rounding_usd") + 1],
    "billed_cost_usd",
    "billed_charge_usd",
    *SIMPLE_COLUMNS[SIMPLE_COLUMNS.index("rounding_usd") + 1 :],
)


def _cents_sql(source: str, amount: str, order: str, *, by: str = "", prefix: str = "") -> str:
    """CTEs ``{prefix}cents``, ``{prefix}ranked`` and ``{prefix}charged`` over ``source``: the cents
    to book per row, ``{prefix}charge_usd``. Each row's ``amount`` is rounded down to the cent, and
    the cents the rounding left over go one each to the rows with the largest remainders (ties in
    ``order``), so the booked cents add up to the total rounded to the cent, per ``by`` (a
    column, e.g. provider; the whole file when empty)."""
    p = prefix
    over = f"over (partition by {by})" if by else "over ()"
    rank_over = f"partition by {by} " if by else ""
    cent = "cast(0.01 as decimal(3, 2))"
    return f"""{p}cents as (
    select *,
        floor({amount} * 100) * {cent} as {p}floor_usd,
        {amount} - floor({amount} * 100) * {cent} as {p}remainder_usd
    from {source}
),
{p}ranked as (
    select *,
        row_number() over ({rank_over}order by {p}remainder_usd desc nulls last, {order})
            as {p}cents_rank,
        (round(sum({amount}) {over}, 2) - sum({p}floor_usd) {over}) * 100 as {p}spare_cents
    from {p}cents
),
{p}charged as (
    select *,
        {p}floor_usd + case when {p}cents_rank <= {p}spare_cents then {cent}
                            else cast(0 as decimal(3, 2)) end as {p}charge_usd
    from {p}ranked
)"""


def _billed_simple_sql(scales: Sequence[billed_.Scale]) -> str:
    """``--as-billed``: CTEs after ``charged`` ending in ``billed_charged``, which adds
    ``billed_cost_usd`` (scaled to the provider's invoice) and ``billed_charge_usd`` (its cents,
    allocated per provider as ``charge_usd`` is over the month)."""
    scales_sql = billed_.scales_cte(list(scales))
    keys = "cost_center, team, developer, model"
    return f""",
{scales_sql},
{billed_.scaled_sql("charged", "contracted_cost_usd", keys)},
{_cents_sql("scaled", "billed_cost_usd", keys, by="provider", prefix="billed_")}"""


def billing_simple_sql(
    discounts: Sequence[Discount], scales: Sequence[billed_.Scale] | None = None
) -> tuple[str, list[Any]]:
    """CTEs ending in ``final``: one row per cost center x team x developer x provider x model,
    every cell as text, plus ``sort_N`` keys (the raw grouping values). With ``scales``
    (``--as-billed``), also ``billed_cost_usd`` and ``billed_charge_usd``."""
    discounts_sql, params = _discounts_cte(discounts)
    cents_sql = _cents_sql(
        "grouped", "contracted_cost_usd", "cost_center, team, developer, provider, model"
    )
    source, billed_sql, billed_cells = "charged", "", ""
    if scales is not None:
        source = "billed_charged"
        billed_sql = _billed_simple_sql(scales)
        billed_cells = f"""
        {num("billed_cost_usd")} as billed_cost_usd,
        cast(billed_charge_usd as varchar) as billed_charge_usd,"""
    sql = f"""
with {discounts_sql},
events as (
    select cost_center, team, developer, provider, model, {_day("occurred_at")} as day,
        input_tokens, output_tokens, cache_read_tokens, cache_write_5m_tokens,
        cache_write_1h_tokens, cost_usd, price_version
    from usage_events
    where counted and billable and occurred_at >= ? and occurred_at < ?
),
{_RATES_CTE},
priced as (
    select e.*, r.discount_pct, {_contracted("e.cost_usd", "r.discount_pct")} as contracted_usd
    from events e join rates r using (provider, model, day)
),
grouped as (
    select cost_center, team, developer, provider, model,
        count(*) as requests,
        sum(input_tokens) as input_tokens,
        sum(output_tokens) as output_tokens,
        sum(cache_read_tokens) as cache_read_tokens,
        sum(cache_write_5m_tokens) as cache_write_5m_tokens,
        sum(cache_write_1h_tokens) as cache_write_1h_tokens,
        sum(cost_usd) as list_cost_usd,
        sum(contracted_usd) as contracted_cost_usd,
        count(*) filter (where cost_usd is null) as unpriced_requests,
        array_to_string(list_sort(list_distinct(list(price_version))), ';') as price_versions
    from priced
    group by cost_center, team, developer, provider, model
),
-- Cents to book: charge_usd adds up to the month's total rounded to the cent (_cents_sql).
{cents_sql}{billed_sql},
final as (
    select
        ? as billing_month,
        ? as period_start,
        ? as period_end,
        {safe("cost_center")} as cost_center,
        {safe("team")} as team,
        {safe("developer")} as developer,
        {safe("provider")} as provider,
        {safe("model")} as model,
        cast(requests as varchar) as requests,
        cast(input_tokens as varchar) as input_tokens,
        cast(output_tokens as varchar) as output_tokens,
        cast(cache_read_tokens as varchar) as cache_read_tokens,
        cast(cache_write_5m_tokens as varchar) as cache_write_5m_tokens,
        cast(cache_write_1h_tokens as varchar) as cache_write_1h_tokens,
        {num("list_cost_usd")} as list_cost_usd,
        {num("contracted_cost_usd")} as contracted_cost_usd,
        cast(charge_usd as varchar) as charge_usd,
        {num("charge_usd - contracted_cost_usd")} as rounding_usd,{billed_cells}
        cast(unpriced_requests as varchar) as unpriced_requests,
        '{CURRENCY}' as currency,
        {safe("price_versions")} as price_versions,
        {source}.cost_center as sort_1, {source}.team as sort_2,
        {source}.developer as sort_3, {source}.provider as sort_4, {source}.model as sort_5
    from {source}
)"""
    return sql, params


def billing_simple(
    con: duckdb.DuckDBPyConnection,
    month: str,
    out: IO[bytes],
    discounts: Sequence[Discount] = (),
    *,
    as_billed: bool = False,
) -> ExportSummary:
    start, end = month_bounds(month)
    summary = _summary(con, start, end, discounts)
    scales = _plan_as_billed(con, start, end, discounts, summary) if as_billed else None
    ctes, params = billing_simple_sql(discounts, scales)
    last_day = (end - timedelta(days=1)).date().isoformat()
    summary.rows = write_csv(
        con,
        ctes,
        BILLED_SIMPLE_COLUMNS if as_billed else SIMPLE_COLUMNS,
        5,
        params + [start, end, month, start.date().isoformat(), last_day],
        out,
    )
    return summary


def _plan_as_billed(
    con: duckdb.DuckDBPyConnection,
    start: datetime,
    end: datetime,
    discounts: Sequence[Discount],
    summary: ExportSummary,
) -> list[billed_.Scale]:
    """``--as-billed``: each exported provider's contracted estimate against its bill; the
    scales go into the summary (with the providers left unscaled) and the SQL."""
    discounts_sql, params = _discounts_cte(discounts)
    rows = con.execute(
        f"""
with {discounts_sql},
events as (
    select provider, model, {_day("occurred_at")} as day, cost_usd
    from usage_events
    where counted and billable and occurred_at >= ? and occurred_at < ?
),
{_RATES_CTE}
select provider, sum({_contracted("cost_usd", "r.discount_pct")}),
    list_sort(list_distinct(list(model) filter (where cost_usd is null)))
from events e join rates r using (provider, model, day)
group by provider
""",
        params + [start, end],
    ).fetchall()
    estimates = {str(p): None if total is None else Decimal(total) for p, total, _ in rows}
    unpriced = [(str(p), str(m)) for p, _, models in rows for m in models or []]
    try:
        plan = billed_.plan(con, start, end, estimates, unpriced)
    except billed_.AsBilledError as exc:
        raise ExportError(str(exc)) from None
    summary.as_billed = plan.scales
    summary.unbilled_providers = plan.unbilled
    summary.unscaled_models = plan.unscaled
    billed_.register(con)
    return plan.scales


# ---------------------------------------------------------------------------------------------
# billing, FOCUS 1.2

# Provider -> (ServiceName, ProviderName, InvoiceIssuerName). An unknown provider names itself.
SERVICES: dict[str, tuple[str, str, str]] = {
    "bedrock": ("Amazon Bedrock", "AWS", "AWS"),
    "vertex": ("Vertex AI", "Google Cloud", "Google Cloud"),
    "anthropic": ("Claude API", "Anthropic", "Anthropic"),
    "openai": ("OpenAI API", "OpenAI", "OpenAI"),
    "azure": ("Azure AI Foundry", "Microsoft", "Microsoft"),
}
# Canonical model prefix -> PublisherName (who made the model); else the ProviderName.
PUBLISHERS: tuple[tuple[str, str], ...] = (
    ("claude", "Anthropic"),
    ("gemini", "Google"),
    ("gpt", "OpenAI"),
    ("llama", "Meta"),
    ("mistral", "Mistral AI"),
    ("nova", "Amazon"),
    ("titan", "Amazon"),
    ("command", "Cohere"),
)
TOKEN_LABELS = {
    "input": "Input Tokens",
    "output": "Output Tokens",
    "cache_read": "Cache Read Tokens",
    "cache_write_5m": "Cache Write 5m Tokens",
    "cache_write_1h": "Cache Write 1h Tokens",
}


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _service_case(index: int) -> str:
    whens = " ".join(f"when {_lit(k)} then {_lit(v[index])}" for k, v in SERVICES.items())
    return f"case provider {whens} else provider end"


def _publisher_case() -> str:
    whens = " ".join(f"when model like {_lit(p + '%')} then {_lit(n)}" for p, n in PUBLISHERS)
    return f"case {whens} else {_service_case(1)} end"


def _accounts_cte(accounts: Sequence[BillingAccount]) -> tuple[str, list[Any]]:
    if not accounts:
        return (
            "accounts as (select cast(null as varchar) as provider, cast(null as varchar) as id,"
            " cast(null as varchar) as name where false)",
            [],
        )
    rows = ", ".join("(?, ?, ?)" for _ in accounts)
    params: list[Any] = []
    for a in accounts:
        params += [a.provider, a.id, a.name]
    return f"accounts as (select * from (values {rows}) v(provider, id, name))", params


def _typed_union() -> str:
    parts = []
    for i, token_type in enumerate(TOKEN_TYPES):
        parts.append(
            f"select g.*, {i} as token_order, '{token_type}' as token_type, "
            f"g.{token_type}_tokens as tokens, g.{token_type}_requests as type_requests, "
            f"p.{token_type}_usd_per_mtok as unit_price "
            f"from grouped g left join prices p on p.price_version = g.price_version "
            f"where g.{token_type}_tokens > 0" + (" or g.first_order is null" if i == 0 else "")
            # a group whose requests used no tokens at all still gets its (zero) input row,
            # so that its requests are counted in x_Requests
        )
    return "\n        union all ".join(parts)


# The FOCUS grain, in the order rows are written.
FOCUS_SORT = (
    "day",
    "provider",
    "source",
    "developer",
    "team",
    "cost_center",
    "project",
    "identity_status",
    "model",
    "region",
    "pricing_scope",
    "pricing_tier",
    "price_version",
    "unpriced",
    "token_order",
)


FOCUS_GRAINS = ("detail", "day")
# --grain day adds the cents to book, after every other column (custom columns come last).
DAY_GRAIN_COLUMNS: tuple[str, ...] = (*EXPORT_COLUMNS, "x_ChargeUSD", "x_RoundingUSD")
_DETAIL_KEYS = (
    "day, provider, source, developer, team, cost_center, project, identity_status, model, "
    "region, pricing_scope, pricing_tier, price_version, unpriced"
)
_DAY_KEYS = (
    "day, provider, developer, team, cost_center, model, region, pricing_scope, pricing_tier, "
    "price_version, unpriced"
)


def _merged(column: str) -> str:
    """The distinct values of ``column`` a coarser row merges, ``;``-separated (NULL if none)."""
    return f"nullif(array_to_string(list_sort(list_distinct(list({column}))), ';'), '') as {column}"


def billing_focus_sql(
    discounts: Sequence[Discount],
    accounts: Sequence[BillingAccount],
    scales: Sequence[billed_.Scale] | None = None,
    grain: str = "detail",
) -> tuple[str, list[Any]]:
    """CTEs ending in ``final``: one FOCUS row per day x provider x source x identity x model x
    token type x unit price, every cell as text, plus ``sort_N`` keys (:data:`FOCUS_SORT`).
    With ``scales`` (``--as-billed``), BilledCost and EffectiveCost of a billed provider's rows
    are scaled to its invoice and x_CostSource says ``billed``.

    ``grain="day"`` merges sources, projects and identity statuses: one row per day x
    developer (team, cost center) x model x token type, split only where the unit price
    differs (provider, region, scope, tier, price version); x_Source, x_Project and
    x_IdentityStatus list what a row merges (``;``-separated), and x_ChargeUSD/x_RoundingUSD
    give its cents."""
    if grain not in FOCUS_GRAINS:
        raise ExportError(f"grain {grain!r}: use one of {', '.join(FOCUS_GRAINS)}")
    discounts_sql, params = _discounts_cte(discounts)
    contracted_cost = _contracted("c.list_unit_price", "c.discount_pct") + " * c.pricing_quantity"
    source, billed_sql, effective = "costed", "", contracted_cost
    cost_source = "'estimated'"
    if scales is not None:
        source, effective, cost_source = (
            "scaled",
            "c.billed_cost_usd",
            ("case when c.scaled_flag then 'billed' else 'estimated' end"),
        )
        order = ", ".join(FOCUS_SORT)
        billed_sql = f""",
{billed_.scales_cte(list(scales))},
contracted as (
    select c.*, {contracted_cost} as contracted_usd from costed c
),
{billed_.scaled_sql("contracted", "contracted_usd", order)}"""
    billed_cost, cents_sql, cents_cells = num(effective), "", ""
    if grain == "day":
        billed_sql += f""",
effective as (select c.*, {effective} as effective_usd from {source} c)"""
        cents_sql = ",\n" + _cents_sql(
            "effective", "effective_usd", ", ".join(FOCUS_SORT), by="provider"
        )  # each provider's cents add up to its total rounded to the cent
        source, billed_cost = "charged", num("c.effective_usd")
        cents_cells = (
            """
        cast(c.charge_usd as varchar) as x_ChargeUSD,
        """
            + num("c.charge_usd - c.effective_usd")
            + " as x_RoundingUSD,"
        )
    accounts_sql, account_params = _accounts_cte(accounts)
    token_sums = ",\n        ".join(
        f"sum({t}_tokens) as {t}_tokens, count(*) filter (where {t}_tokens > 0) as {t}_requests"
        for t in TOKEN_TYPES
    )
    labels = " ".join(f"when '{t}' then '{label}'" for t, label in TOKEN_LABELS.items())
    first_order = (
        "case "
        + " ".join(f"when sum({t}_tokens) > 0 then {i}" for i, t in enumerate(TOKEN_TYPES))
        + " end"
    )
    keys, merged = _DETAIL_KEYS, ""
    if grain == "day":
        keys = _DAY_KEYS
        merged = "".join(
            f"{_merged(c)},\n        " for c in ("source", "project", "identity_status")
        )
    sql = f"""
with {discounts_sql},
{accounts_sql},
events as (
    select {_day("occurred_at")} as day, provider, source, developer, team, cost_center, project,
        identity_status, model, region, pricing_scope, pricing_tier, price_version,
        cost_usd is null as unpriced,
        input_tokens, output_tokens, cache_read_tokens, cache_write_5m_tokens,
        cache_write_1h_tokens
    from usage_events
    -- Unpriced requests are left out: FOCUS cost columns cannot be NULL and an unpriced
    -- request is never shown as $0. The command names them on stderr.
    where counted and billable and cost_usd is not null
        and occurred_at >= ? and occurred_at < ?
),
{_RATES_CTE},
prices as (
    select price_version,
        any_value(input_usd_per_mtok) as input_usd_per_mtok,
        any_value(output_usd_per_mtok) as output_usd_per_mtok,
        any_value(cache_read_usd_per_mtok) as cache_read_usd_per_mtok,
        any_value(cache_write_5m_usd_per_mtok) as cache_write_5m_usd_per_mtok,
        any_value(cache_write_1h_usd_per_mtok) as cache_write_1h_usd_per_mtok
    from price_book
    where price_version in (select price_version from events)
    group by price_version
),
grouped as (
    select {keys},
        {merged}{token_sums},
        count(*) as requests,
        -- the group's first token-type row carries its request count, the others 0, so the
        -- column sums to the number of requests
        {first_order} as first_order
    from events
    group by {keys}
),
typed as (
    {_typed_union()}
),
costed as (
    select t.*, r.discount_pct,
        case when t.unpriced or t.unit_price is null then cast(0 as decimal(18, 6))
             else t.unit_price end as list_unit_price,
        cast(t.tokens as decimal(38, 0)) * cast(0.000001 as decimal(7, 6)) as pricing_quantity
    from typed t join rates r using (provider, model, day)
){billed_sql}{cents_sql},
final as (
    select
        coalesce(a.id, c.provider) as BillingAccountId,
        coalesce(a.name, c.provider) as BillingAccountName,
        '{CURRENCY}' as BillingCurrency,
        {_iso("date_trunc('month', c.day)")} as BillingPeriodStart,
        {_iso("date_trunc('month', c.day) + interval 1 month")} as BillingPeriodEnd,
        {_iso("c.day")} as ChargePeriodStart,
        {_iso("c.day + interval 1 day")} as ChargePeriodEnd,
        'Usage' as ChargeCategory,
        cast(null as varchar) as ChargeClass,
        {
        safe(
            "c.model || ' ' || lower(case c.token_type "
            + labels
            + " end) || ', ' || "
            + _service_case(0).replace("provider", "c.provider")
            + " || coalesce(' ' || c.region, '') || "
            "case when c.unpriced then ' (unpriced: no price-book entry)' else '' end"
        )
    } as ChargeDescription,
        'Usage-Based' as ChargeFrequency,
        'AI and Machine Learning' as ServiceCategory,
        'Generative AI' as ServiceSubcategory,
        {safe(_service_case(0).replace("provider", "c.provider"))} as ServiceName,
        {safe(_service_case(1).replace("provider", "c.provider"))} as ProviderName,
        {safe(_publisher_case().replace("provider", "c.provider").replace("model", "c.model"))}
            as PublisherName,
        {safe(_service_case(2).replace("provider", "c.provider"))} as InvoiceIssuerName,
        {safe("c.region")} as RegionId,
        {safe("c.model || ':' || c.token_type")} as SkuId,
        {
        safe(
            "case when c.unpriced then 'unpriced:' || c.model else c.price_version end"
            " || ':' || c.token_type"
        )
    } as SkuPriceId,
        case c.token_type {labels} end as SkuMeter,
        'Standard' as PricingCategory,
        {num("c.pricing_quantity")} as PricingQuantity,
        '1000000 Tokens' as PricingUnit,
        cast(c.tokens as varchar) as ConsumedQuantity,
        'Tokens' as ConsumedUnit,
        {num("c.list_unit_price")} as ListUnitPrice,
        {num("c.list_unit_price * c.pricing_quantity")} as ListCost,
        {num(_contracted("c.list_unit_price", "c.discount_pct"))} as ContractedUnitPrice,
        {num(_contracted("c.list_unit_price", "c.discount_pct") + " * c.pricing_quantity")}
            as ContractedCost,
        {billed_cost} as EffectiveCost,
        {billed_cost} as BilledCost,
        json_object('developer', c.developer, 'team', c.team, 'cost_center', c.cost_center,
                    'project', c.project) as Tags,
        {safe("c.developer")} as x_Developer,
        {safe("c.team")} as x_Team,
        {safe("c.cost_center")} as x_CostCenter,
        {safe("c.project")} as x_Project,
        {safe("c.identity_status")} as x_IdentityStatus,
        {safe("c.source")} as x_Source,
        {safe("c.model")} as x_Model,
        c.token_type as x_TokenType,
        {safe("c.pricing_scope")} as x_PricingScope,
        {safe("c.pricing_tier")} as x_PricingTier,
        cast(case when c.token_order = coalesce(c.first_order, 0) then c.requests else 0 end
            as varchar)
            as x_Requests,
        cast(c.type_requests as varchar) as x_TokenTypeRequests,
        case when c.unpriced or c.unit_price is null then 'unpriced' else {cost_source} end
            as x_CostSource,
        {safe("c.price_version")} as x_PriceBookVersion,
        {num("c.discount_pct")} as x_DiscountPct,{cents_cells}
        {", ".join(f"c.{k} as sort_{i}" for i, k in enumerate(FOCUS_SORT, start=1))}
    from {source} c left join accounts a on a.provider = c.provider
)"""
    return sql, params + account_params


def billing_focus(
    con: duckdb.DuckDBPyConnection,
    month: str,
    out: IO[bytes],
    discounts: Sequence[Discount] = (),
    accounts: Sequence[BillingAccount] = (),
    *,
    as_billed: bool = False,
    grain: str = "detail",
) -> ExportSummary:
    start, end = month_bounds(month)
    _require_price_book(con)
    summary = _summary(con, start, end, discounts)
    scales = _plan_as_billed(con, start, end, discounts, summary) if as_billed else None
    ctes, params = billing_focus_sql(discounts, accounts, scales, grain)
    params = params + [start, end]
    _check_focus_totals(con, ctes, params, summary)
    columns = DAY_GRAIN_COLUMNS if grain == "day" else EXPORT_COLUMNS
    summary.rows = write_csv(con, ctes, columns, len(FOCUS_SORT), params, out)
    return summary


_PRICE_COLUMNS = ["price_version"] + [f"{t}_usd_per_mtok" for t in TOKEN_TYPES]


def _require_price_book(con: duckdb.DuckDBPyConnection) -> None:
    have = {
        str(r[0])
        for r in con.execute(
            "select column_name from information_schema.columns where table_name = 'price_book'"
        ).fetchall()
    }
    missing = [c for c in _PRICE_COLUMNS if c not in have]
    if missing:
        raise ExportError(
            "the FOCUS export needs the price_book table with "
            f"{', '.join(missing)}; rebuild the models (llmledger ingest) and publish again"
        )


def _check_focus_totals(
    con: duckdb.DuckDBPyConnection, sql: str, params: list[Any], summary: ExportSummary
) -> None:
    """The FOCUS rows must add up to usage_events.cost_usd exactly (and, --as-billed, a billed
    provider's BilledCost to its invoice), or the export stops."""
    rows = con.execute(
        f"{sql} select sort_2, sum(cast(ListCost as decimal(38, 18))), "
        "sum(cast(ContractedCost as decimal(38, 18))), "
        "sum(cast(BilledCost as decimal(38, 18))) filter (where x_CostSource = 'billed') "
        "from final group by sort_2",
        params,
    ).fetchall()
    list_total = sum((Decimal(r[1] or 0) for r in rows), Decimal(0))
    contracted_total = sum((Decimal(r[2] or 0) for r in rows), Decimal(0))
    if list_total != summary.list_cost_usd or contracted_total != summary.contracted_cost_usd:
        raise ExportError(
            f"the FOCUS rows add up to {list_total} list / {contracted_total} contracted USD but "
            f"usage_events says {summary.list_cost_usd} / {summary.contracted_cost_usd}: the price "
            "book and usage_events disagree; rebuild (llmledger ingest) and export again"
        )
    billed = {str(r[0]): Decimal(r[3]) for r in rows if r[3] is not None}
    for scale in summary.as_billed or []:
        if billed.get(scale.provider) != scale.invoice_usd:
            raise ExportError(
                f"--as-billed: the FOCUS rows of {scale.provider} add up to "
                f"{billed.get(scale.provider)} USD, not its invoice {scale.invoice_usd} USD; "
                "report this as a bug"
            )


def _summary(
    con: duckdb.DuckDBPyConnection,
    start: datetime,
    end: datetime,
    discounts: Sequence[Discount],
    *,
    counted_only: bool = True,
) -> ExportSummary:
    """The totals every billing export must reproduce, straight from usage_events."""
    discounts_sql, params = _discounts_cte(discounts)
    where = "counted and billable and " if counted_only else ""
    row = con.execute(
        f"""
with {discounts_sql},
events as (
    select provider, model, {_day("occurred_at")} as day, cost_usd, price_version, counted
    from usage_events
    where {where}occurred_at >= ? and occurred_at < ?
),
{_RATES_CTE}
select
    coalesce(sum(cost_usd) filter (where counted), 0),
    coalesce(sum({_contracted("cost_usd", "r.discount_pct")}) filter (where counted), 0),
    count(*) filter (where counted),
    count(*) filter (where counted and cost_usd is null),
    list_sort(list_distinct(list(model) filter (where counted and cost_usd is null))),
    list_sort(list_distinct(list(price_version) filter (where counted)))
from events e join rates r using (provider, model, day)
""",
        params + [start, end],
    ).fetchall()[0]
    return ExportSummary(
        list_cost_usd=Decimal(row[0]),
        contracted_cost_usd=Decimal(row[1]),
        requests=int(row[2]),
        unpriced_requests=int(row[3]),
        unpriced_models=[str(m) for m in row[4] or []],
        price_versions=[str(v) for v in row[5] or []],
    )


# ---------------------------------------------------------------------------------------------
# usage detail

USAGE_COLUMNS = (
    "event_id",
    "source",
    "provider",
    "request_id",
    "occurred_at",
    "developer",
    "team",
    "cost_center",
    "principal",
    "model",
    "model_id",
    "region",
    "pricing_scope",
    "pricing_tier",
    "project",
    "identity_status",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
    "cost_usd",
    "contracted_cost_usd",
    "reported_cost_usd",
    "unpriced",
    "price_version",
    "status",
    "error_code",
    "billable",
    "counted",
)
_USAGE_TEXT = (
    "event_id",
    "source",
    "provider",
    "request_id",
    "developer",
    "team",
    "cost_center",
    "principal",
    "model",
    "model_id",
    "region",
    "pricing_scope",
    "pricing_tier",
    "project",
    "identity_status",
    "price_version",
    "status",
    "error_code",
)
_USAGE_NUMBERS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
    "cost_usd",
    "contracted_cost_usd",
    "reported_cost_usd",
)


def usage_detail_sql(discounts: Sequence[Discount]) -> tuple[str, list[Any]]:
    """CTEs ending in ``final``: every request (counted or not) in [since, until), every cell
    as text, sorted by ``sort_1`` (time) and ``sort_2`` (event id)."""
    discounts_sql, params = _discounts_cte(discounts)
    cells = []
    for column in USAGE_COLUMNS:
        if column in _USAGE_TEXT:
            cells.append(f"{safe('e.' + column)} as {column}")
        elif column in _USAGE_NUMBERS:
            cells.append(
                f"{num(column if column == 'contracted_cost_usd' else 'e.' + column)} as {column}"
            )
        elif column == "occurred_at":
            cells.append(
                "strftime(timezone('UTC', e.occurred_at), '%Y-%m-%dT%H:%M:%S.%fZ') as occurred_at"
            )
        else:  # booleans
            cells.append(f"cast(e.{column} as varchar) as {column}")
    sql = f"""
with {discounts_sql},
events as (
    select *, {_day("occurred_at")} as day
    from usage_events
    where occurred_at >= ? and occurred_at < ?
),
{_RATES_CTE},
priced as (
    select {_contracted("e.cost_usd", "r.discount_pct")} as contracted_cost_usd, e.*
    from events e join rates r using (provider, model, day)
),
final as (
    select {", ".join(cells)}, e.occurred_at as sort_1, e.event_id as sort_2
    from priced e
)"""
    return sql, params


def usage_detail(
    con: duckdb.DuckDBPyConnection,
    since: date | None,
    until: date | None,
    out: IO[bytes],
    discounts: Sequence[Discount] = (),
) -> ExportSummary:
    """Stream every request in [since, until) in windows of whole UTC days holding at most
    about ``WINDOW_ROWS`` requests: each query sorts one window, so neither DuckDB nor Python
    ever holds the whole period."""
    if since and until and until <= since:
        raise ExportError(f"--until {until} must be after --since {since} (until is exclusive)")
    start = _instant(since, date(1970, 1, 1))
    end = _instant(until, date(9999, 1, 1))
    windows = usage_windows(con, start, end)
    summary = _summary(con, start, end, discounts, counted_only=False)
    ctes, params = usage_detail_sql(discounts)
    runs = [params + [_instant(a), _instant(b)] for a, b in windows]
    summary.rows = write_csv(con, ctes, USAGE_COLUMNS, 2, runs, out)
    return summary


WINDOW_ROWS = 500_000


def usage_windows(
    con: duckdb.DuckDBPyConnection, start: datetime, end: datetime
) -> list[tuple[date, date]]:
    """[first day, end day) windows covering the requests in [start, end), cut between days so
    that a window holds at most WINDOW_ROWS requests (or one day, if a day holds more)."""
    days = con.execute(
        f"select {_day('occurred_at')} as day, count(*) from usage_events "
        "where occurred_at >= ? and occurred_at < ? group by day order by day",
        [start, end],
    ).fetchall()
    if not days:  # nothing in the period: one empty window, for the header
        return [(start.date(), start.date() + timedelta(days=1))]
    windows: list[tuple[date, date]] = []
    first, rows = days[0][0], 0
    for day, count in days:
        if rows and rows + count > WINDOW_ROWS:
            windows.append((first, day))
            first, rows = day, 0
        rows += count
    windows.append((first, days[-1][0] + timedelta(days=1)))
    return windows


def _instant(day: date | None, default: date | None = None) -> datetime:
    chosen = day or default
    assert chosen is not None
    return datetime(chosen.year, chosen.month, chosen.day, tzinfo=UTC)


# ---------------------------------------------------------------------------------------------
# writing


def _cell(column: str) -> str:
    """A text column as one RFC 4180 field: quoted (quotes doubled) only when it holds a comma,
    a quote or a line break; NULL as an empty field."""
    c = f'cast("{column}" as varchar)'
    return (
        f"case when {c} is null then '' "
        f"""when regexp_matches({c}, '[",\\r\\n]') then '"' || replace({c}, '"', '""') || '"' """
        f"else {c} end"
    )


_LINE_ENDS = {"\r\n": "chr(13) || chr(10)", "\n": "chr(10)"}


def lines_sql(ctes: str, columns: Sequence[str], sort_keys: int, line_end: str = LINE_END) -> str:
    """The CSV data lines of ``final``, built in SQL (fast; Python then only moves strings)."""
    fields = " || ',' || ".join(_cell(c) for c in columns)
    order = ", ".join(f"sort_{i} nulls last" for i in range(1, sort_keys + 1))
    end = _LINE_ENDS[line_end]
    return f"{ctes}\nselect {fields} || {end} as line from final order by {order}"


def write_csv(
    con: duckdb.DuckDBPyConnection,
    ctes: str,
    columns: Sequence[str],
    sort_keys: int,
    params: list[Any] | list[list[Any]],
    out: IO[bytes],
    *,
    header: Sequence[str] | None = None,
    line_end: str = LINE_END,
) -> int:
    """Write ``final``'s ``columns`` (all text) to ``out`` as CSV; return the data rows.

    ``params`` is one parameter list, or several to run the query once each (in order) under
    a single header (``header``, else the column names). Lines come out of DuckDB in Arrow
    batches of ``BATCH_ROWS`` rows, so Python memory stays bounded however many rows there are.
    """
    runs = params if params and isinstance(params[0], list) else [params]
    sql = lines_sql(ctes, columns, sort_keys, line_end)
    out.write((",".join(header or columns) + line_end).encode("utf-8"))
    rows = 0
    for run_params in runs:
        reader = con.sql(sql, params=run_params).to_arrow_reader(BATCH_ROWS)
        for batch in reader:
            out.write("".join(batch.column(0).to_pylist()).encode("utf-8"))
            rows += batch.num_rows
    return rows


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)


def write_rows(
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    out: IO[bytes],
    *,
    line_end: str = LINE_END,
) -> int:
    """Python rows (values in ``columns`` order; None or NaN for an empty cell) to ``out`` as
    CSV by the exports' rules: every cell through :func:`safe` (no formula runs in a
    spreadsheet) and quoted by :func:`lines_sql` (a comma, quote, CR or LF inside a field is
    quoted). The one writer for CSV made from Python rows (a report, a dashboard table);
    return the data rows."""
    names = [f"c{i}" for i in range(len(columns))]
    cells: list[list[str | None]] = [[] for _ in names]
    count = 0
    for row in rows:
        values = list(row)
        if len(values) != len(names):
            raise ValueError(f"a row has {len(values)} values for {len(names)} columns")
        for column, value in zip(cells, values, strict=True):
            column.append(_text(value))
        count += 1
    table = pa.table(
        {
            "sort_1": pa.array(range(count), pa.int64()),
            **{n: pa.array(c, pa.string()) for n, c in zip(names, cells, strict=True)},
        }
    )
    con = duckdb.connect()
    limits.apply(con)
    try:
        con.register("cells", table)
        selected = ", ".join(f"{safe(n)} as {n}" for n in names)
        ctes = f"with final as (select {selected}, sort_1 from cells)"
        return write_csv(con, ctes, names, 1, [], out, header=columns, line_end=line_end)
    finally:
        con.close()
