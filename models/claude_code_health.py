"""How Claude Code telemetry attributed provider records, for `llmledger doctor` and the
data-health view.

A telemetry event names its developer; ``claude_code_attribution`` (marts/) pairs it with the
provider record of the same request. An event with more than one candidate record (or a record
with more than one candidate event) is 'ambiguous': nothing is attributed, never guessed. These
functions summarise the mart; they return nothing when it is absent or empty.
"""

from __future__ import annotations

from decimal import Decimal

import duckdb
import pyarrow as pa

from models.tables import fetch_table

ORDER = ("request_id", "model_tokens_time", "ambiguous", "unmatched", "no_provider_record")


def _has_rows(con: duckdb.DuckDBPyConnection) -> bool:
    row = con.execute(
        "select count(*) from information_schema.tables "
        "where table_name = 'claude_code_attribution'"
    ).fetchone()
    if not (row and row[0]):
        return False
    row = con.execute("select count(*) from claude_code_attribution").fetchone()
    return bool(row and row[0])


def attribution_summary(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """One row per match method (in ``ORDER``): telemetry events and the client's own cost
    estimate for them. No rows and no columns when there is no telemetry."""
    if not _has_rows(con):
        return pa.table({})
    rank = " ".join(f"when '{m}' then {i}" for i, m in enumerate(ORDER))
    return fetch_table(
        con,
        "select match_method, count(*) as events, sum(reported_cost_usd) as reported_cost_usd "
        "from claude_code_attribution group by match_method "
        f"order by case match_method {rank} else {len(ORDER)} end, match_method",
    )


def doctor_findings(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """(level, text) lines for `llmledger doctor`: level is 'ok' or 'warn'."""
    summary = {r["match_method"]: r for r in attribution_summary(con).to_pylist()}
    if not summary:
        return []
    matched = sum(summary[m]["events"] for m in ("request_id", "model_tokens_time") if m in summary)
    out = [
        (
            "ok",
            f"claude code telemetry: {matched:,} events matched to their provider record "
            "(request id, or model + tokens + time)",
        )
    ]
    if "ambiguous" in summary:
        r = summary["ambiguous"]
        out.append(
            (
                "warn",
                f"claude code telemetry: {r['events']:,} events left unattributed because more "
                "than one provider record fits (same model and tokens close in time); their "
                "records keep their own identity",
            )
        )
    if "unmatched" in summary:
        r = summary["unmatched"]
        out.append(
            (
                "warn",
                f"claude code telemetry: {r['events']:,} events match no provider record although "
                "that model has provider records that day (a lost log line, or a clock far off); "
                "not counted, their developer not carried",
            )
        )
    if "no_provider_record" in summary:
        r = summary["no_provider_record"]
        cost: Decimal = r["reported_cost_usd"] or Decimal(0)
        out.append(
            (
                "warn",
                f"claude code telemetry: {r['events']:,} events with no provider record "
                f"(client estimate ${cost:,.2f}); they are counted from the telemetry until "
                "the provider's logs are ingested",
            )
        )
    return out
