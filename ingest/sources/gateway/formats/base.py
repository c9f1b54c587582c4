"""What every gateway format shares: the standard columns, JSON-path helpers, the final SELECT.

A gateway format is SQL over a relation ``(file_index, n, text, not_json, j)`` (``text``: one
record as logged; ``not_json``: it is not a JSON object; ``j``: the record as JSON, NULL when
not_json) that selects exactly these columns (text as logged; the shared checks in ``format.py``
cast, validate and name what is wrong):

    file_index, n, not_json, problem (a reason to reject the record, or NULL),
    request_id, ts_text, occurred_at (timestamptz), provider, region, model_id, request_mode,
    consumer, consumer_id, key_id (the gateway key or credential), user_hint, team_hint, route,
    service, status_code, error_type,
    input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
    cache_write_5m_tokens, cache_write_1h_tokens, token_detail ('exact' / 'partial'),
    truncated, provider_request_id, reported_cost, total_ms, upstream_ms, gateway_ms

``input_tokens`` is uncached input only, as in the data contract. A body (Kong's
``ai.proxy.payload``, a logged Anthropic response or SSE stream) may be read inside a format's
statement to take numbers out of it; no body column is ever selected. Vendor field names
appear in the format modules and in ``models/staging/stg_gateway.sql`` only.

Speed: every ``text("j", ...)`` / ``node("j", ...)`` path is read in the record's one parse
(``format._parsed_once``); a path built at run time, or a JSON value taken out and read again,
costs a parse each. Read ``text`` directly only in a branch few records take.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

TOKEN_COLUMNS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
)

OUTPUT_COLUMNS = (
    "request_id",
    "ts_text",
    "occurred_at",
    "provider",
    "region",
    "model_id",
    "request_mode",
    "consumer",
    "consumer_id",
    "key_id",
    "user_hint",
    "team_hint",
    "route",
    "service",
    "status_code",
    "error_type",
    *TOKEN_COLUMNS,
    "token_detail",
    "truncated",
    "provider_request_id",
    "reported_cost",
    "total_ms",
    "upstream_ms",
    "gateway_ms",
)


@dataclass(frozen=True)
class GatewayFormat:
    """One log format: its SQL, the field names its reasons use, and the required counts."""

    name: str
    select: Callable[[str, Mapping[str, Any]], str]  # (records relation, options) -> SQL
    labels: Mapping[str, str] = field(default_factory=dict)  # column -> field as logged
    required_tokens: tuple[str, ...] = ("input_tokens", "output_tokens")
    default_user_field: str = "x-user-email"
    default_team_field: str = "x-team"


def _path(*keys: str) -> str:
    """A JSON path literal: every key quoted, so dashes and dots in header names are safe."""
    inner = "".join('."' + k.replace('"', "") + '"' for k in keys)
    return "'$" + inner.replace("'", "''") + "'"


def text(doc: str, *keys: str) -> str:
    """The value at ``keys`` in ``doc`` as text (NULL when absent or JSON null)."""
    return f"json_extract_string({doc}, {_path(*keys)})"


def node(doc: str, *keys: str) -> str:
    return f"json_extract({doc}, {_path(*keys)})"


def timestamp(value: str) -> str:
    """An ISO timestamp, or epoch seconds / milliseconds / microseconds, as timestamptz."""
    number = f"try_cast({value} as double)"
    return (
        f"case when regexp_matches({value}, '^\\s*\\d+(\\.\\d+)?\\s*$') then "
        f"case when {number} >= 1e14 then try(to_timestamp({number} / 1e6)) "
        f"when {number} >= 1e11 then try(to_timestamp({number} / 1e3)) "
        f"else try(to_timestamp({number})) end "
        f"else try_cast({value} as timestamptz) end"
    )


def _integer_text(value: str) -> str:
    """A JSON number's text without a trailing ``.0`` some loggers write (``12.0``)."""
    return f"regexp_replace({value}, '^(-?\\d+)\\.0+$', '\\1')"


def select_columns(columns: Mapping[str, str], source: str) -> str:
    """The final SELECT of a format: exactly the standard columns (NULL where not given)."""
    out = [
        "file_index",
        "n",
        "not_json",
        f"{columns.get('problem', 'null')} as problem",
    ]
    for name in OUTPUT_COLUMNS:
        expr = columns.get(name)
        if expr is None:
            expr = "null::timestamptz" if name == "occurred_at" else "null"
            if name == "truncated":
                expr = "false"
        elif name in TOKEN_COLUMNS:
            expr = _integer_text(expr)
        out.append(f"{expr} as {name}")
    return "select " + ", ".join(out) + f" from {source}"


def read_once(sql: str, docs: Sequence[str]) -> tuple[str, str]:
    """``sql`` with each ``json_extract_string(<doc>, 'path')`` of the named JSON columns
    replaced by an element of one list read per doc (``<doc>__v``), and the select list that
    computes those lists over the relation ``sql`` reads: one parse of each doc, not one per
    field."""
    lists = []
    for doc in docs:
        paths: dict[str, int] = {}
        pattern = re.compile(rf"json_extract_string\({doc}, ('(?:[^']|'')*')\)")

        def at(match: re.Match[str], doc: str = doc, paths: dict[str, int] = paths) -> str:
            return f"{doc}__v[{paths.setdefault(match.group(1), len(paths) + 1)}]"

        sql = pattern.sub(at, sql)
        if paths:
            lists.append(f"json_extract_string({doc}, [{', '.join(paths)}]) as {doc}__v")
    return sql, ", ".join(lists)


def option(options: Mapping[str, Any], key: str, default: str) -> str:
    value = options.get(key)
    return str(value) if value else default
