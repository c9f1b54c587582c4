"""The effective-dated price book: built-in CSVs, LiteLLM imports and config overrides.

Sources of prices, in order of precedence (highest first):

1. ``[[prices.overrides]]`` from the config (``ref_price_overrides``): from their ``valid_from`` on,
   they change a price of an entry below — ``discount_pct`` scales every tier (standard, long
   context, batch) of the matched entries; ``usd_per_mtok`` sets one token type's standard,
   non-batch price (long-context and batch rates keep the book's unless a discount covers them).
   For each token type the applicable override with the latest ``valid_from`` wins.
   An override with ``usd_per_mtok`` for a model neither source below knows creates standard
   entries for it (every scope of the provider unless ``scope`` is given); token types no
   override prices stay NULL, so requests using them stay unpriced.
2. The built-in book, ``models/prices/*.csv`` (``price_book_builtin``): explicit rows, one
   ``price_version`` each, with ``valid_from``.
3. Prices imported from LiteLLM's ``model_prices_and_context_window.json``
   (``price_book_imported``, persisted by ``llmledger prices import-litellm``), used only for
   (provider, model) pairs the built-in book does not know at all. They apply to all dates.

The result is ``price_book``: one row per (provider, model, pricing_scope, pricing_tier, is_batch)
and validity interval ``[valid_from, valid_to)``. A usage row is priced by the entry whose
interval contains its ``occurred_at`` (the greatest ``valid_from <= occurred_at``). Prices are
USD per million tokens, ``decimal(18,6)``; never floats.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import duckdb

from models import limits, macros, reference

PRICES_DIR = Path(__file__).parent / "prices"
TOKEN_TYPES = ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read")
RATE_COLUMNS = tuple(f"{t}_usd_per_mtok" for t in TOKEN_TYPES)
KEY_COLUMNS = ("provider", "model", "pricing_scope", "pricing_tier", "is_batch")
MTOK_QUANTUM = Decimal("0.000001")
IMPORTED_VALID_FROM = datetime(1970, 1, 1, tzinfo=UTC)
PROVIDER_SCOPES = {
    "bedrock": ["global", "geo", "in_region"],
    "vertex": ["global", "regional"],
    "anthropic": ["global"],
}

_RATES_DDL = ", ".join(f"{c} decimal(18, 6)" for c in RATE_COLUMNS)
PRICE_BOOK_DDL = f"""
    create table if not exists price_book (
        price_version varchar not null, provider varchar not null, model varchar not null,
        pricing_scope varchar not null, pricing_tier varchar not null, is_batch boolean not null,
        valid_from timestamptz not null, valid_to timestamptz, {_RATES_DDL},
        context_threshold_tokens bigint, origin varchar not null, note varchar)"""
IMPORTED_DDL = f"""
    create table if not exists price_book_imported (
        price_version varchar not null, provider varchar not null, model varchar not null,
        pricing_scope varchar not null, pricing_tier varchar not null, is_batch boolean not null,
        valid_from timestamptz not null, {_RATES_DDL}, context_threshold_tokens bigint,
        source_key varchar not null, imported_at timestamptz not null)"""
_CSV_TYPES = {
    "price_version": "VARCHAR",
    "provider": "VARCHAR",
    "model": "VARCHAR",
    "pricing_scope": "VARCHAR",
    "pricing_tier": "VARCHAR",
    "is_batch": "BOOLEAN",
    "valid_from": "DATE",
    **{c: "DECIMAL(18,6)" for c in RATE_COLUMNS},
    "context_threshold_tokens": "BIGINT",
    "note": "VARCHAR",
}


class PriceDataError(ValueError):
    """A price file is unusable (the built-in CSVs or a LiteLLM JSON file): one line to fix."""


class PriceConfigError(ValueError):
    """The configuration's prices ([[prices.overrides]], prices.litellm_file) are unusable."""


@dataclass
class ImportResult:
    entries_read: int = 0
    rows_imported: int = 0
    skipped: int = 0
    models: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Built-in book


def load_builtin(con: duckdb.DuckDBPyConnection, prices_dir: Path = PRICES_DIR) -> int:
    """(Re)create price_book_builtin from the CSV files; check one version per row."""
    files = sorted(str(p) for p in Path(prices_dir).glob("*.csv"))
    if not files:
        raise PriceDataError(f"no price files in {prices_dir}")
    columns = "{" + ", ".join(f"'{k}': '{v}'" for k, v in _CSV_TYPES.items()) + "}"
    listing = "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"
    con.execute(
        "create or replace table price_book_builtin as "
        f"select * exclude (valid_from), cast(valid_from as timestamptz) as valid_from "
        f"from read_csv({listing}, header = true, delim = ',', quote = '\"', "
        f"escape = '\"', columns = {columns})"
    )
    dup = con.execute(
        "select price_version from price_book_builtin group by 1 having count(*) > 1 "
        "union all select any_value(price_version) from price_book_builtin "
        "group by provider, model, pricing_scope, pricing_tier, is_batch, valid_from "
        "having count(*) > 1 limit 1"
    ).fetchone()
    if dup:
        raise PriceDataError(f"price book: {dup[0]} is defined twice in {prices_dir}")
    return int(con.execute("select count(*) from price_book_builtin").fetchone()[0])  # type: ignore[index]


# ---------------------------------------------------------------------------------------------
# The effective book


@dataclass
class _Override:
    order: int
    provider: str
    model: str
    scope: str | None
    token_type: str | None
    usd_per_mtok: Decimal | None
    discount_pct: Decimal | None
    valid_from: datetime
    matched: bool = False

    @property
    def version(self) -> str:
        vf = self.valid_from.astimezone(UTC)
        when = vf.date().isoformat() if vf.time() == datetime.min.time() else vf.isoformat()
        return (
            f"override/{self.provider}/{self.model}/{self.scope or 'all'}/"
            f"{self.token_type or 'all'}/{when}"
        )

    def applies(self, token_type: str, tier: str, is_batch: bool) -> bool:
        if self.token_type not in (None, token_type):
            return False
        # A flat rate is the standard on-demand price; tiers derived from it are not guessed.
        return self.usd_per_mtok is None or (tier == "standard" and not is_batch)


def build_price_book(con: duckdb.DuckDBPyConnection) -> list[str]:
    """(Re)create price_book from the built-in, imported and override sources.

    Needs the macros (canonical_model) and ref_price_overrides. Returns warnings (overrides that
    match no entry) for ``doctor`` and ``prices list``.
    """
    con.execute(PRICE_BOOK_DDL)
    con.execute(IMPORTED_DDL)
    load_builtin(con)
    rate_cols = ", ".join(RATE_COLUMNS)
    base = _fetch(
        con,
        f"""
        select price_version, provider, model, pricing_scope, pricing_tier, is_batch, valid_from,
               {rate_cols}, context_threshold_tokens, 'builtin' as origin, note
        from price_book_builtin
        union all
        select i.price_version, i.provider, i.model, i.pricing_scope, i.pricing_tier, i.is_batch,
               i.valid_from, {", ".join("i." + c for c in RATE_COLUMNS)},
               i.context_threshold_tokens, 'litellm' as origin, 'imported: ' || i.source_key
        from price_book_imported i
        where not exists (select 1 from price_book_builtin b
                          where b.provider = i.provider and b.model = i.model)
        """,
    )
    overrides = [
        _Override(
            order=int(r["override_order"]),
            provider=str(r["provider"]),
            model=str(r["model"]),
            scope=r["pricing_scope"],
            token_type=r["token_type"],
            usd_per_mtok=r["usd_per_mtok"],
            discount_pct=r["discount_pct"],
            valid_from=r["valid_from"],
        )
        for r in _fetch(
            con,
            "select override_order, provider, canonical_model(model) as model, pricing_scope, "
            "token_type, usd_per_mtok, discount_pct, valid_from from ref_price_overrides "
            "order by override_order",
        )
    ]
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in base:
        groups[tuple(row[k] for k in KEY_COLUMNS)].append(row)
    for row in _unlisted_entries(base, overrides):
        groups[tuple(row[k] for k in KEY_COLUMNS)].append(row)
    rows: list[dict[str, Any]] = []
    for key, entries in sorted(groups.items(), key=lambda kv: tuple(map(str, kv[0]))):
        entries.sort(key=lambda r: r["valid_from"])
        matching = [
            o
            for o in overrides
            if o.provider == key[0] and o.model == key[1] and o.scope in (None, key[2])
        ]
        rows.extend(_effective_rows(entries, matching))
    con.execute("delete from price_book")
    if rows:
        # one statement, the columns bound as typed lists (executemany runs one per row: a
        # fifth of a second for the built-in book, on every run)
        types = {str(r[0]): str(r[1]) for r in con.execute("describe price_book").fetchall()}
        cols = list(rows[0])
        con.execute(
            f"insert into price_book ({', '.join(cols)}) select "
            + ", ".join(f"unnest(?::{types[c]}[])" for c in cols),
            [[r[c] for r in rows] for c in cols],
        )
    return [
        f"prices.overrides[{o.order}] ({o.provider} {o.model}) matches no price-book entry; "
        "check provider, model and scope"
        for o in overrides
        if not o.matched
    ]


def _unlisted_entries(
    base: list[dict[str, Any]], overrides: list[_Override]
) -> list[dict[str, Any]]:
    """Empty standard entries for models only overrides price (usd_per_mtok per token type).

    Token types no override prices stay NULL, so a request using them has a NULL cost.
    """
    known = {(r["provider"], r["model"]) for r in base}
    starts: dict[tuple[str, str, str], datetime] = {}
    for o in overrides:
        if o.usd_per_mtok is None or (o.provider, o.model) in known:
            continue
        for scope in [o.scope] if o.scope else PROVIDER_SCOPES.get(o.provider, ["global"]):
            key = (o.provider, o.model, scope)
            starts[key] = min(starts.get(key, o.valid_from), o.valid_from)
    rows = []
    for (provider, model, scope), valid_from in sorted(starts.items()):
        when = valid_from.astimezone(UTC).date().isoformat()
        rows.append(
            {
                "price_version": f"unlisted/{provider}/{model}/{scope}/standard/{when}",
                "provider": provider,
                "model": model,
                "pricing_scope": scope,
                "pricing_tier": "standard",
                "is_batch": False,
                "valid_from": valid_from,
                **{c: None for c in RATE_COLUMNS},
                "context_threshold_tokens": None,
                "origin": "config",
                "note": "a model the book does not list, priced by [[prices.overrides]]",
            }
        )
    return rows


def _effective_rows(
    entries: list[dict[str, Any]], overrides: list[_Override]
) -> list[dict[str, Any]]:
    """Split one key's history at every base and override date; apply overrides per token type."""
    tier, is_batch = entries[0]["pricing_tier"], entries[0]["is_batch"]
    first = entries[0]["valid_from"]
    points = sorted(
        {e["valid_from"] for e in entries}
        | {o.valid_from for o in overrides if o.valid_from >= first}
    )
    out: list[dict[str, Any]] = []
    for when in points:
        base = [e for e in entries if e["valid_from"] <= when][-1]
        row = dict(base)
        row["valid_from"] = when
        applied: set[str] = set()
        for token_type, column in zip(TOKEN_TYPES, RATE_COLUMNS, strict=True):
            active = [
                o
                for o in overrides
                if o.valid_from <= when and o.applies(token_type, tier, is_batch)
            ]
            if not active:
                continue
            chosen = max(
                active,
                key=lambda o: (
                    o.valid_from,
                    o.token_type is not None,
                    o.scope is not None,
                    o.order,
                ),
            )
            chosen.matched = True
            row[column] = _apply(chosen, base[column])
            applied.add(chosen.version)
        if applied:
            row["price_version"] = base["price_version"] + "".join("+" + v for v in sorted(applied))
            row["origin"] = base["origin"] + "+override"
        if out and _same_price(out[-1], row):
            continue
        out.append(row)
    for current, following in zip(out, out[1:] + [None], strict=True):
        current["valid_to"] = following["valid_from"] if following else None
    return out


def _apply(override: _Override, base_rate: Decimal | None) -> Decimal | None:
    if override.usd_per_mtok is not None:
        return override.usd_per_mtok
    if base_rate is None or override.discount_pct is None:
        return base_rate
    factor = (Decimal(100) - override.discount_pct) / Decimal(100)
    return (base_rate * factor).quantize(MTOK_QUANTUM)


def _same_price(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return a["price_version"] == b["price_version"] and all(a[c] == b[c] for c in RATE_COLUMNS)


# ---------------------------------------------------------------------------------------------
# LiteLLM import

_REGION_SEGMENT = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d+$")
_LITELLM_RATES = {
    "standard": (
        "input_cost_per_token",
        "output_cost_per_token",
        "cache_creation_input_token_cost",
        "cache_creation_input_token_cost_above_1hr",
        "cache_read_input_token_cost",
    ),
    "long_context": (
        "input_cost_per_token_above_200k_tokens",
        "output_cost_per_token_above_200k_tokens",
        "cache_creation_input_token_cost_above_200k_tokens",
        "cache_creation_input_token_cost_above_1hr_above_200k_tokens",
        "cache_read_input_token_cost_above_200k_tokens",
    ),
}


def import_litellm(
    con: duckdb.DuckDBPyConnection, path: str | Path, *, today: date | None = None
) -> ImportResult:
    """Replace price_book_imported with the entries of LiteLLM's price table at ``path``.

    Keys map to (provider, model, scope): ``litellm_provider`` anthropic -> anthropic/global;
    bedrock, bedrock_converse -> bedrock with the scope from the key's profile prefix
    (region-path keys such as ``bedrock/us-gov-west-1/...`` are skipped); vertex_ai* -> vertex
    global, and regional = global x ``regional_endpoint_uplift_multiplier`` (1 when absent);
    other providers -> that provider, global. ``*_above_200k_tokens`` keys give a long-context
    tier (threshold 200,000); ``*_batches`` keys give batch rates (cache rates scaled alike).
    Needs the canonical_model macro (``models.macros.create_macros``).
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PriceDataError(f"{path} not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PriceDataError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise PriceDataError(
            f"{path} is not LiteLLM's model_prices_and_context_window.json (expected an object "
            "keyed by model id)"
        )
    stamp = (today or datetime.now(UTC).date()).isoformat()
    result = ImportResult(entries_read=len(data))
    candidates: list[dict[str, Any]] = []
    for key in sorted(data):
        entry = data[key]
        mapped = _map_litellm_key(key, entry)
        if mapped is None:
            result.skipped += 1
            continue
        provider, scopes = mapped
        for scope, multiplier in scopes:
            for tier, is_batch, rates in _litellm_rates(entry):
                if multiplier != 1:
                    rates = [
                        None if r is None else (r * multiplier).quantize(MTOK_QUANTUM)
                        for r in rates
                    ]
                rate = ("batch_" if is_batch else "") + tier
                candidates.append(
                    {
                        "source_key": key,
                        "provider": provider,
                        "pricing_scope": scope,
                        "pricing_tier": tier,
                        "is_batch": is_batch,
                        "rates": rates,
                        "rate_name": "batch" if rate == "batch_standard" else rate,
                    }
                )
    con.execute(IMPORTED_DDL)
    keys = sorted({c["source_key"] for c in candidates})
    canonical = (
        dict(
            con.execute(
                "select k, canonical_model(k) from unnest(?::varchar[]) t(k)", [keys]
            ).fetchall()
        )
        if keys
        else {}
    )
    seen: set[tuple[Any, ...]] = set()
    rows: list[list[Any]] = []
    now = datetime.now(UTC)
    for c in candidates:
        model = canonical[c["source_key"]]
        ident = (c["provider"], model, c["pricing_scope"], c["pricing_tier"], c["is_batch"])
        if ident in seen:  # keys sorted: the first key for a model wins
            continue
        seen.add(ident)
        version = f"litellm/{c['provider']}/{model}/{c['pricing_scope']}/{c['rate_name']}/{stamp}"
        rows.append(
            [
                version,
                c["provider"],
                model,
                c["pricing_scope"],
                c["pricing_tier"],
                c["is_batch"],
                IMPORTED_VALID_FROM,
                *c["rates"],
                200000 if c["pricing_tier"] == "long_context" else None,
                c["source_key"],
                now,
            ]
        )
    con.execute("begin transaction")
    try:
        con.execute("delete from price_book_imported")
        if rows:
            marks = ", ".join("?" for _ in rows[0])
            con.executemany(f"insert into price_book_imported values ({marks})", rows)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    result.rows_imported = len(rows)
    result.models = sorted({f"{r[1]}/{r[2]}" for r in rows})
    return result


def _map_litellm_key(key: str, entry: Any) -> tuple[str, list[tuple[str, Decimal]]] | None:
    if key == "sample_spec" or not isinstance(entry, dict):
        return None
    if entry.get("mode") not in (None, "chat", "completion", "responses"):
        return None
    if _per_mtok(entry.get("input_cost_per_token")) is None:
        return None
    if _per_mtok(entry.get("output_cost_per_token")) is None:
        return None
    litellm_provider = str(entry.get("litellm_provider") or "")
    lowered = key.lower()
    if litellm_provider == "anthropic":
        return "anthropic", [("global", Decimal(1))]
    if litellm_provider in ("bedrock", "bedrock_converse"):
        segments = lowered.split("/")
        if any(_REGION_SEGMENT.match(s) for s in segments[:-1]):
            return None
        last = segments[-1]
        if last.startswith("global."):
            scope = "global"
        elif re.match(r"^(us|eu|apac|jp|au|ca|us-gov)\.", last):
            scope = "geo"
        else:
            scope = "in_region"
        return "bedrock", [(scope, Decimal(1))]
    if litellm_provider.startswith("vertex_ai"):
        uplift = _decimal_or_none(entry.get("regional_endpoint_uplift_multiplier")) or Decimal(1)
        return "vertex", [("global", Decimal(1)), ("regional", uplift)]
    if not litellm_provider:
        return None
    return litellm_provider, [("global", Decimal(1))]


def _litellm_rates(entry: Mapping[str, Any]) -> Iterable[tuple[str, bool, list[Decimal | None]]]:
    standard = [_per_mtok(entry.get(k)) for k in _LITELLM_RATES["standard"]]
    yield "standard", False, standard
    long_context = [_per_mtok(entry.get(k)) for k in _LITELLM_RATES["long_context"]]
    if long_context[0] is not None:
        yield "long_context", False, long_context
    batch_in = _per_mtok(entry.get("input_cost_per_token_batches"))
    batch_out = _per_mtok(entry.get("output_cost_per_token_batches"))
    if batch_in is not None and batch_out is not None and standard[0]:
        ratio = batch_in / standard[0]  # type: ignore[operator]
        caches = [None if r is None else (r * ratio).quantize(MTOK_QUANTUM) for r in standard[2:]]
        yield "standard", True, [batch_in, batch_out, *caches]


def _per_mtok(value: Any) -> Decimal | None:
    """LiteLLM's USD per token (a float such as 3.3e-06) as exact USD per million tokens."""
    number = _decimal_or_none(value)
    if number is None:
        return None
    return (number * 1_000_000).quantize(MTOK_QUANTUM)


def _decimal_or_none(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() and number >= 0 else None


# ---------------------------------------------------------------------------------------------
# The effective book, as the current configuration and imports make it


@dataclass
class EffectivePriceBook:
    """``price_book`` built in an in-memory database (``con``; the caller closes it).

    ``warnings`` are overrides that match no entry; ``imported_unread`` says why the database's
    imported prices could not be read (they are then left out), else None.
    """

    con: duckdb.DuckDBPyConnection
    warnings: list[str]
    imported_unread: str | None = None


def effective_price_book(
    overrides: Sequence[Mapping[str, Any]],
    *,
    db_path: Path | None = None,
    litellm_file: Path | None = None,
) -> EffectivePriceBook:
    """The price book the next build would make, without touching the database.

    ``overrides`` is the config's ``[[prices.overrides]]``; ``db_path`` the database whose
    ``price_book_imported`` (from ``llmledger prices import-litellm``) is read, read-only, when
    the file exists; ``litellm_file`` the config's ``prices.litellm_file``, resolved. Raises
    PriceConfigError when an override or the LiteLLM file is unusable.
    """
    mem = duckdb.connect()
    mem.execute("set timezone = 'UTC'")
    limits.apply(mem)
    try:
        reference.load_all(mem, price_overrides=overrides)
    except reference.ReferenceDataError as exc:
        mem.close()
        raise PriceConfigError(str(exc)) from None
    macros.create_macros(mem)
    mem.execute(IMPORTED_DDL)
    imported_unread = None
    if db_path is not None and db_path.is_file():
        imported_unread = _copy_imported(mem, db_path)
    if litellm_file is not None:
        try:
            import_litellm(mem, litellm_file)
        except PriceDataError as exc:
            mem.close()
            raise PriceConfigError(f"prices.litellm_file: {exc}") from None
    warnings = build_price_book(mem)
    return EffectivePriceBook(mem, warnings, imported_unread)


def _copy_imported(mem: duckdb.DuckDBPyConnection, db_path: Path) -> str | None:
    """Copy ``db_path``'s price_book_imported into ``mem``; the first line of an error, if any."""
    try:
        mem.execute(f"attach '{_sql_quote(str(db_path))}' as main_db (read_only)")
        has = mem.execute(
            "select count(*) from information_schema.tables "
            "where table_catalog = 'main_db' and table_name = 'price_book_imported'"
        ).fetchone()
        if has and has[0]:
            mem.execute("insert into price_book_imported select * from main_db.price_book_imported")
        mem.execute("detach main_db")
    except duckdb.Error as exc:
        return str(exc).splitlines()[0]
    return None


def _sql_quote(text: str) -> str:
    return text.replace("'", "''")


# ---------------------------------------------------------------------------------------------
# Reads for the CLI and the dashboard


def list_prices(
    con: duckdb.DuckDBPyConnection,
    *,
    at: datetime | None = None,
    provider: str | None = None,
    model: str | None = None,
) -> list[dict[str, Any]]:
    """Price-book rows, the ones in force ``at`` a time (every version when ``at`` is None)."""
    where = ["1 = 1"]
    params: list[Any] = []
    if at is not None:
        where.append("valid_from <= ? and (valid_to is null or ? < valid_to)")
        params += [at, at]
    if provider:
        where.append("provider = ?")
        params.append(provider)
    if model:
        where.append("model = canonical_model(?)" if _has_macro(con) else "model = ?")
        params.append(model)
    return _fetch(
        con,
        f"select * from price_book where {' and '.join(where)} "
        "order by provider, model, pricing_scope, pricing_tier, is_batch, valid_from",
        params,
    )


def unpriced_models(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Models in usage_events without a price: provider, model, scope, ids logged, requests."""
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


def _has_macro(con: duckdb.DuckDBPyConnection) -> bool:
    row = con.execute(
        "select count(*) from duckdb_functions() where function_name = 'canonical_model'"
    ).fetchone()
    return bool(row and row[0])


def _fetch(
    con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None
) -> list[dict[str, Any]]:
    cur = con.execute(sql, params or [])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
