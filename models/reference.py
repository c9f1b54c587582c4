"""Reference tables the models join: people, identity rules and settings, model aliases, price
overrides, quotas, budgets and gateway identities.

``ingest.pipeline.build`` calls :func:`load_all` with plain data from the validated config before
``models.runner.build``; :func:`ensure_tables` creates them empty so the models also build with no
configuration at all. Every table is replaced as a whole on each load.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import duckdb

TOKEN_TYPES = ("input", "output", "cache_read", "cache_write_5m", "cache_write_1h")

REFERENCE_DDL = {
    "ref_people": """
        create table if not exists ref_people (
            email varchar not null, name varchar, team varchar, cost_center varchar,
            manager varchar, aliases varchar[])""",
    "ref_identity_rules": """
        create table if not exists ref_identity_rules (
            rule_order integer not null, match varchar not null, developer varchar,
            team varchar, cost_center varchar, source varchar)""",
    "ref_identity_settings": """
        create table if not exists ref_identity_settings (key varchar not null, value varchar)""",
    "ref_model_aliases": """
        create table if not exists ref_model_aliases (
            model_id varchar not null, target_model_id varchar not null)""",
    "ref_price_overrides": """
        create table if not exists ref_price_overrides (
            override_order integer not null, provider varchar not null, model varchar not null,
            pricing_scope varchar, token_type varchar, usd_per_mtok decimal(18, 6),
            discount_pct decimal(9, 4), valid_from timestamptz not null, note varchar)""",
    "ref_quotas": """
        create table if not exists ref_quotas (
            provider varchar, region varchar, model varchar, scope varchar,
            tokens_per_minute bigint, requests_per_minute bigint, name varchar)""",
    "ref_budgets": """
        create table if not exists ref_budgets (
            team varchar not null, monthly_usd decimal(18, 6))""",
    "ref_gateway_identities": """
        create table if not exists ref_gateway_identities (pattern varchar not null)""",
    # [gateway] match_window_seconds: how far apart a gateway row and its provider copy may be
    "ref_gateway_settings": """
        create table if not exists ref_gateway_settings (match_window_seconds integer)""",
    # [[gateway.keys]]: a gateway key id (or key-name pattern) -> a person from valid_from
    # (inclusive) to valid_to (exclusive), for keys an apiKeyHelper rotates
    "ref_gateway_keys": """
        create table if not exists ref_gateway_keys (
            key_order integer not null, match varchar not null, developer varchar,
            team varchar, valid_from timestamptz, valid_to timestamptz)""",
}

PEOPLE_COLUMNS = ("email", "name", "team", "cost_center", "manager", "aliases")
PEOPLE_REQUIRED = ("email", "name", "team")


class ReferenceDataError(ValueError):
    """Reference data (the people directory, a rule, an override) is unusable: one line to fix."""


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    for ddl in REFERENCE_DDL.values():
        con.execute(ddl)


def load_all(
    con: duckdb.DuckDBPyConnection,
    *,
    people_csv: str | Path | None = None,
    identity: Mapping[str, Any] | None = None,
    application_profiles: Mapping[str, str] | None = None,
    price_overrides: Sequence[Mapping[str, Any]] | None = None,
    quotas: Sequence[Mapping[str, Any]] | None = None,
    budgets: Sequence[Mapping[str, Any]] | None = None,
    gateway: Mapping[str, Any] | None = None,
) -> None:
    """Replace every reference table with what the configuration names."""
    identity = dict(identity or {})
    people = read_people(Path(people_csv)) if people_csv else []
    rules = list(identity.pop("rules", []) or [])
    _check_regexes(con, [(f"identity.rules[{i}].match", r["match"]) for i, r in enumerate(rules)])
    patterns = list((gateway or {}).get("identities", []) or [])
    _check_regexes(con, [(f"gateway.identities[{i}]", p) for i, p in enumerate(patterns)])
    keys = list((gateway or {}).get("keys", []) or [])
    _check_regexes(con, [(f"gateway.keys[{i}].match", k["match"]) for i, k in enumerate(keys)])
    overrides = [_override_row(i, o) for i, o in enumerate(price_overrides or [])]

    for table, ddl in REFERENCE_DDL.items():
        con.execute(f"drop table if exists {table}")
        con.execute(ddl)
    _insert(con, "ref_people", people)
    _insert(
        con,
        "ref_identity_rules",
        [
            (
                i,
                r["match"],
                r.get("developer"),
                r.get("team"),
                r.get("cost_center"),
                r.get("source"),
            )
            for i, r in enumerate(rules)
        ],
    )
    _insert(
        con,
        "ref_identity_settings",
        [(k, _setting_text(v)) for k, v in sorted(identity.items())],
    )
    _insert(con, "ref_model_aliases", sorted((application_profiles or {}).items()))
    _insert(con, "ref_price_overrides", overrides)
    _insert(
        con,
        "ref_quotas",
        [
            (
                q.get("provider"),
                q.get("region"),
                q.get("model"),
                q.get("scope"),
                q.get("tokens_per_minute"),
                q.get("requests_per_minute"),
                q.get("name"),
            )
            for q in quotas or []
        ],
    )
    _insert(
        con,
        "ref_budgets",
        [(b["team"], _decimal(b["monthly_usd"], "budgets.monthly_usd")) for b in budgets or []],
    )
    _insert(con, "ref_gateway_identities", [(p,) for p in patterns])
    _insert(
        con,
        "ref_gateway_keys",
        [
            (
                i,
                k["match"],
                k.get("developer"),
                k.get("team"),
                f"{k['valid_from']} 00:00:00+00" if k.get("valid_from") else None,
                f"{k['valid_to']} 00:00:00+00" if k.get("valid_to") else None,
            )
            for i, k in enumerate(keys)
        ],
    )
    window = (gateway or {}).get("match_window_seconds")
    _insert(con, "ref_gateway_settings", [(int(window),)] if window is not None else [])


def read_people(path: Path) -> list[tuple[Any, ...]]:
    """Rows of ref_people from the directory CSV (email, name, team, cost_center, manager, aliases).

    Aliases are separated by ';' or '|'. Emails are compared case-insensitively later on.
    """
    if not path.is_file():
        raise ReferenceDataError(f"people directory {path} not found; fix people.directory")
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        header = [h.strip().lower() for h in reader.fieldnames or []]
        missing = [c for c in PEOPLE_REQUIRED if c not in header]
        if missing:
            raise ReferenceDataError(
                f"{path}: missing column {missing[0]!r}; the people directory needs the columns "
                "email,name,team[,cost_center,manager,aliases]"
            )
        rows: list[tuple[Any, ...]] = []
        seen: set[str] = set()
        for line_no, raw in enumerate(reader, start=2):
            rec = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items()}
            email = rec.get("email", "")
            if not email:
                raise ReferenceDataError(
                    f"{path}:{line_no}: email is empty; fill it in or drop the row"
                )
            if email.lower() in seen:
                raise ReferenceDataError(
                    f"{path}:{line_no}: duplicate email {email!r}; keep one row per person"
                )
            seen.add(email.lower())
            aliases = [a.strip() for a in re.split(r"[;|]", rec.get("aliases", "")) if a.strip()]
            rows.append(
                (
                    email,
                    rec.get("name") or None,
                    rec.get("team") or None,
                    rec.get("cost_center") or None,
                    rec.get("manager") or None,
                    aliases,
                )
            )
    return rows


def _override_row(index: int, o: Mapping[str, Any]) -> tuple[Any, ...]:
    where = f"prices.overrides[{index}]"
    usd, pct = o.get("usd_per_mtok"), o.get("discount_pct")
    if (usd is None) == (pct is None):
        raise ReferenceDataError(f"{where}: give exactly one of usd_per_mtok or discount_pct")
    token_type = o.get("token_type")
    if token_type is not None and token_type not in TOKEN_TYPES:
        raise ReferenceDataError(
            f"{where}.token_type = {token_type!r} is not one of {', '.join(TOKEN_TYPES)}"
        )
    if usd is not None and token_type is None:
        raise ReferenceDataError(
            f"{where}: usd_per_mtok needs token_type ({', '.join(TOKEN_TYPES)})"
        )
    return (
        index,
        o["provider"],
        o["model"],
        o.get("scope"),
        token_type,
        _decimal(usd, f"{where}.usd_per_mtok") if usd is not None else None,
        _decimal(pct, f"{where}.discount_pct") if pct is not None else None,
        _valid_from(o["valid_from"], f"{where}.valid_from"),
        o.get("note"),
    )


def _decimal(value: Any, where: str) -> Decimal:
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        raise ReferenceDataError(f"{where} = {value!r} is not a number") from None
    if not result.is_finite() or result < 0:
        raise ReferenceDataError(f"{where} = {value!r} must be a non-negative number")
    return result


def _valid_from(value: Any, where: str) -> str:
    text = str(value).strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return text + " 00:00:00+00"
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2})?(Z|[+-]\d{2}:?\d{2})?", text):
        return text.replace("Z", "+00")
    raise ReferenceDataError(f"{where} = {text!r} is not a date (YYYY-MM-DD)")


def _setting_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _check_regexes(con: duckdb.DuckDBPyConnection, items: Iterable[tuple[str, str]]) -> None:
    """Rules and gateway identities are regular expressions run by DuckDB (RE2): check them now."""
    for where, pattern in items:
        try:
            con.execute("select regexp_matches('', ?)", [pattern]).fetchone()
        except duckdb.Error:
            raise ReferenceDataError(
                f"{where} = {pattern!r} is not a valid regular expression (RE2 syntax)"
            ) from None


def _insert(con: duckdb.DuckDBPyConnection, table: str, rows: Sequence[Sequence[Any]]) -> None:
    if not rows:
        return
    marks = ", ".join("?" for _ in rows[0])
    con.executemany(f"insert into {table} values ({marks})", [list(r) for r in rows])
