"""DuckDB SQL -> Spark SQL for the models: sqlglot at run time, plus the few pieces that differ.

Every model stays one DuckDB SQL file; ``translate`` parses it with sqlglot (read='duckdb'),
expands the macros of ``models/macros.sql`` it calls (Spark has no SQL macros), rewrites the
engine-specific pieces below, and writes Spark SQL. No model has a second, hand-written copy.

The engine-specific pieces (README, "The same models on Spark", lists them):

========================  =============================================  =====================
DuckDB                    Spark                                          where
========================  =============================================  =====================
macros (macros.sql)       inlined at each call, arguments substituted    cost_of, burndown_rate,
                                                                         identity_setting
epoch(ts)                 unix_micros(ts) / 1000000 (seconds, with       gateway_matches,
                          their fraction, as DuckDB's double)            claude_code_attribution
epoch_us(ts)              unix_micros(ts)                                Vertex audit join
to_seconds(n)             make_dt_interval(0, 0, 0, n)                   match windows
to_milliseconds(n)        make_dt_interval(0, 0, 0, n / 1000)            Claude Code duration
timezone('UTC', ts)       ts (the Spark session runs in UTC)             usage_daily
hugeint                   decimal(38, 0) (the lake stores it so)         token sums
from t, unnest(list)      lateral view explode(list)                     identity_map aliases
any_value(x)              any_value(x, true) (DuckDB's skips NULLs)      identity_map,
                                                                         claude_code_attribution
qualify                   a filtered subquery (sqlglot; ``*`` expanded    window picks
                          first with the known columns)
with x as not             with x as (...) (Spark inlines a CTE; it has    usage_events
materialized (...)        no such hint)
========================  =============================================  =====================

and session settings (``SPARK_CONF``): UTC session time, exact decimal arithmetic
(``allowPrecisionLoss`` off: DuckDB keeps all 12 decimal places of a cost), microsecond
Parquet timestamps, and ``spark.sql.ansi.enabled`` off (NULL, not an error, where DuckDB
gives NULL).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

MACROS_FILE = Path(__file__).parent / "macros.sql"

SPARK_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.decimalOperations.allowPrecisionLoss": "false",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
    "spark.sql.ansi.enabled": "false",
    "spark.sql.legacy.timeParserPolicy": "CORRECTED",
    "spark.ui.showConsoleProgress": "false",
}

_MACRO = re.compile(
    r"create\s+or\s+replace\s+macro\s+(\w+)\s*\(([^)]*)\)\s+as\s+(.*?);\s*(?=\n|$)",
    re.IGNORECASE | re.DOTALL,
)


@cache
def macros() -> dict[str, tuple[list[str], str]]:
    """name -> (parameters, body SQL) of every macro in macros.sql (comments removed)."""
    text = re.sub(r"--[^\n]*", "", MACROS_FILE.read_text(encoding="utf-8"))
    return {
        m.group(1).lower(): ([p.strip() for p in m.group(2).split(",")], m.group(3).strip())
        for m in _MACRO.finditer(text)
    }


def translate(sql: str, columns: dict[str, list[str]]) -> str:
    """One model's DuckDB SQL as Spark SQL. ``columns``: every table or view the SQL may read,
    with its column names (sqlglot expands ``*`` with them, so a ``qualify`` over ``select *``
    becomes a filtered subquery that selects exactly the model's columns). Raises
    sqlglot's errors for SQL it cannot parse or qualify."""
    import sqlglot
    from sqlglot.optimizer.qualify import qualify

    tree = sqlglot.parse_one(sql, read="duckdb")
    tree = _expand_macros(tree)
    schema: dict[str, object] = {t: dict.fromkeys(names, "varchar") for t, names in columns.items()}
    tree = qualify(
        tree,
        schema=schema,
        dialect="duckdb",
        quote_identifiers=False,
        validate_qualify_columns=False,
    )
    tree = tree.transform(_engine_specific, copy=False)
    return str(tree.sql(dialect="spark"))


def spark_type(duckdb_type: str) -> str:
    """A DuckDB column type (as the lake's manifest records it) in Spark SQL."""
    from sqlglot import exp

    kind = duckdb_type.upper()
    if kind in ("HUGEINT", "UHUGEINT"):
        return "DECIMAL(38, 0)"
    if kind in ("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ"):
        return "TIMESTAMP"
    return exp.DataType.build(duckdb_type, dialect="duckdb").sql(dialect="spark")


def _expand_macros(tree: Any) -> Any:
    """Replace each call of a macro by its body, the parameters bound to the call's arguments
    (repeated until none is left: a macro may call another)."""
    import sqlglot
    from sqlglot import exp

    defined = macros()
    for _ in range(10):
        calls = [n for n in tree.find_all(exp.Anonymous) if n.name.lower() in defined]
        if not calls:
            return tree
        for call in calls:
            params, body = defined[call.name.lower()]
            bound = dict(zip(params, call.expressions, strict=True))
            expansion = sqlglot.parse_one(body, read="duckdb")

            def bind(node: Any, bound: dict[str, Any] = bound) -> Any:
                if isinstance(node, exp.Column) and not node.table and node.name in bound:
                    return exp.Paren(this=bound[node.name].copy())
                return node

            call.replace(exp.Paren(this=expansion.transform(bind)))
    raise ValueError("macros nest more than 10 deep")


def _engine_specific(node: Any) -> Any:
    """The DuckDB functions and types sqlglot does not map to Spark (the table above)."""
    from sqlglot import exp

    if isinstance(node, exp.CTE) and node.args.get("materialized") is not None:
        node.set("materialized", None)  # Spark has no MATERIALIZED hint
        return node
    if isinstance(node, exp.DataType) and node.this in (
        exp.DataType.Type.INT128,
        exp.DataType.Type.UINT128,
    ):
        return exp.DataType.build("decimal(38, 0)")
    if isinstance(node, exp.IgnoreNulls) and isinstance(node.this, exp.AnyValue):
        # DuckDB's any_value skips NULLs; Spark's does with its second argument (a postfix
        # IGNORE NULLS may not stand before FILTER in Spark)
        return exp.Anonymous(this="any_value", expressions=[node.this.this, exp.true()])
    if isinstance(node, exp.TimeToUnix):  # epoch(ts): seconds with their fraction
        return exp.Div(
            this=exp.Anonymous(this="unix_micros", expressions=[node.this]),
            expression=exp.Literal.number(1000000),
        )
    if not isinstance(node, exp.Anonymous):
        return node
    name, args = node.name.lower(), node.expressions
    # a replaced node's children are not visited again by transform: translate them here
    if name == "epoch_us":
        return exp.Anonymous(this="unix_micros", expressions=[args[0].transform(_engine_specific)])
    if name in ("to_seconds", "to_milliseconds"):
        seconds = args[0].transform(_engine_specific)
        if name == "to_milliseconds":
            seconds = exp.Div(this=exp.Paren(this=seconds), expression=exp.Literal.number(1000))
        zero = exp.Literal.number(0)
        return exp.Anonymous(this="make_dt_interval", expressions=[zero, zero, zero, seconds])
    if name == "timezone":
        zone = args[0]
        if not (isinstance(zone, exp.Literal) and zone.name.upper() == "UTC"):
            raise ValueError(f"timezone({zone.sql()}, ...): only UTC translates to Spark")
        return args[1].transform(_engine_specific)  # the session time zone is UTC
    return node
