"""How Vertex requests were attributed, for `llmledger doctor` and the data-health view.

No Vertex log carries both the caller and the tokens, so some responses cannot be attributed:
an audit join with more than one candidate (never guessed), or no audit entry at all. These
functions summarise ``vertex_attribution`` (marts/vertex_attribution.sql); they return nothing
when the mart is absent (no Vertex source in this database or snapshot).
"""

from __future__ import annotations

from decimal import Decimal

import duckdb
import pyarrow as pa

from models.tables import fetch_table

ORDER = (
    "label",
    "principal",
    "audit_join",
    "ambiguous",
    "no_audit_entry",
    "audit_without_response",
)


def _has_mart(con: duckdb.DuckDBPyConnection) -> bool:
    row = con.execute(
        "select count(*) from information_schema.tables where table_name = 'vertex_attribution'"
    ).fetchone()
    return bool(row and row[0])


def attribution_summary(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """One row per attribution kind (in ``ORDER``): requests and cost (NULL cost for audit-only
    calls). No rows and no columns when the mart is absent."""
    if not _has_mart(con):
        return pa.table({})
    rank = " ".join(f"when '{a}' then {i}" for i, a in enumerate(ORDER))
    return fetch_table(
        con,
        "select attribution, count(*) as requests, sum(cost_usd) as cost_usd "
        "from vertex_attribution group by attribution "
        f"order by case attribution {rank} else {len(ORDER)} end, attribution",
    )


def doctor_findings(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """(level, text) lines for `llmledger doctor`: level is 'ok', 'warn' or 'info'."""
    summary = {r["attribution"]: r for r in attribution_summary(con).to_pylist()}
    if not summary:
        return []

    def money(value: Decimal | None) -> str:
        return f"${value:,.2f}" if value is not None else "$0.00"

    out: list[tuple[str, str]] = []
    attributed = sum(
        summary[a]["requests"] for a in ("label", "principal", "audit_join") if a in summary
    )
    out.append(
        (
            "ok",
            f"vertex: {attributed:,} responses attributed (labels, principal or "
            "a unique audit join)",
        )
    )
    if "ambiguous" in summary:
        r = summary["ambiguous"]
        out.append(
            (
                "warn",
                f"vertex: {r['requests']:,} responses left unattributed because "
                f"their audit join was ambiguous ({money(r['cost_usd'])}); add "
                "developer labels (X-Vertex-AI-Labels) to attribute them",
            )
        )
    if "no_audit_entry" in summary:
        r = summary["no_audit_entry"]
        out.append(
            (
                "warn",
                f"vertex: {r['requests']:,} responses have no matching Data Access "
                f"audit entry ({money(r['cost_usd'])}); check that Data Access "
                "audit logs are on for aiplatform.googleapis.com",
            )
        )
    if "audit_without_response" in summary:
        r = summary["audit_without_response"]
        out.append(
            (
                "info",
                f"vertex: {r['requests']:,} successful calls have an audit entry "
                "but no logged tokens (not in costs)",
            )
        )
    return out
