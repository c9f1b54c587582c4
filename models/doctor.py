"""`llmledger doctor`'s checks over the database, as data: a list of findings to render.

Each :class:`Finding` has a ``level``: ``ok``, ``warn``, ``fail`` (doctor exits 1) or ``info``
(a detail line under the finding before it); an ``area`` (``sources``, ``database``,
``vertex``, ``gateways``, ``prices``, ``identities``, ``rejected``, ``checks``); and a one-line
``message``.
Checks that need the configuration, credentials or the network stay in the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, cast

import duckdb

from models import claude_code_health, runner, tables, vertex_health, views

Level = Literal["ok", "warn", "fail", "info"]
MAX_UNMAPPED_SHOWN = 20
# A source whose newest record is older than this is stale ([doctor] stale_after_hours): a
# daily export or a nightly run may lag a day; more than a day and a half means a gap.
DEFAULT_STALE_AFTER_HOURS = 36.0


@dataclass(frozen=True)
class Finding:
    level: Level
    area: str
    message: str


def data_findings(
    con: duckdb.DuckDBPyConnection,
    where: str,
    *,
    configured_sources: int = 0,
    stale_after_hours: float = DEFAULT_STALE_AFTER_HOURS,
    now: datetime | None = None,
) -> list[Finding]:
    """Findings over an open database (``where`` names it in messages).

    ``configured_sources`` is how many sources the configuration declares: when some are and
    none ever ran, that is a warning. A source whose newest record is older than
    ``stale_after_hours`` before ``now`` (default: the clock) is a warning; 0 turns that off.
    """
    have = _tables(con)
    found: list[Finding] = []
    if "ingest_runs" in have:
        found += _source_findings(
            con, "usage_events" in have, configured_sources, stale_after_hours, now
        )
    if "usage_events" not in have:
        found.append(
            Finding("fail", "database", f"{where} has no usage_events; run `llmledger build`")
        )
        return found
    found += [
        Finding(cast(Level, level), "vertex", text)
        for level, text in vertex_health.doctor_findings(con)
    ]
    found += [
        Finding(cast(Level, level), "telemetry", text)
        for level, text in claude_code_health.doctor_findings(con)
    ]
    found += _gateway_findings(con)
    found += _unpriced_findings(con)
    found += _identity_findings(con)
    if "rejected_records" in have:
        found += _rejected_findings(con)
    if "bill_check" in have:
        found += _bill_findings(con)
    if {"usage_daily", "identity_map", "price_book"} <= have:
        for check in runner.run_checks(con):
            if check.ok:
                continue
            if check.name.startswith(QUARANTINED):
                found += _quarantined_findings(check)
                continue
            found.append(
                Finding(
                    "fail",
                    "checks",
                    f"data check {check.name}: {check.rows} bad rows, e.g. {check.sample[:2]}",
                )
            )
    return found


QUARANTINED = "quarantined_"


def _quarantined_findings(check: runner.CheckResult) -> list[Finding]:
    """Raw rows staging leaves out (absurd token counts or times): how many, and which (each
    check selects the record's key first and its location last)."""
    family = check.name[len(QUARANTINED) :]
    return [
        Finding(
            "fail",
            "checks",
            f"data check {check.name}: {check.rows} bad rows: {family} raw rows quarantined "
            "(a token count above 10,000,000 or a time before 2000 or in the future), left out "
            "of every total; fix or delete them at the source and re-ingest",
        ),
        *(Finding("info", "checks", f"{row[0]} at {row[-1]}") for row in check.sample if row),
    ]


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {
        str(r[0])
        for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'main'"
        ).fetchall()
    }


def _source_findings(
    con: duckdb.DuckDBPyConnection,
    has_events: bool,
    configured_sources: int,
    stale_after_hours: float,
    now: datetime | None,
) -> list[Finding]:
    found: list[Finding] = []
    health = views.rows(views.source_runs(con)) if has_events else []
    for h in health:
        text = (
            f"source {h['source']}: last success {_when(h['last_success_at'])}, "
            f"newest record {_when(h.get('newest_record_at'))}"
        )
        if h["last_status"] != "ok":
            text += f"; last run {h['last_status']}: {h['last_message']}"
            found.append(Finding("warn", "sources", text))
        else:
            found.append(Finding("ok", "sources", text))
        newest = h.get("newest_record_at")
        if is_stale(newest, stale_after_hours, now):
            found.append(
                Finding("warn", "sources", stale_warning(h["source"], newest, stale_after_hours))
            )
    if configured_sources and not health:
        found.append(
            Finding(
                "warn",
                "sources",
                f"{configured_sources} configured source(s) never ran; run `llmledger ingest`",
            )
        )
    return found


# A gateway that strips these headers makes every request fail (reference/gateways.md).
HEADER_ADVICE = "check that the gateway passes anthropic-version, content-type and x-api-key"


def _gateway_findings(con: duckdb.DuckDBPyConnection) -> list[Finding]:
    found: list[Finding] = []
    for g in views.rows(views.gateway_health(con)):
        requests, errors = int(g["requests"]), int(g["errors"])
        share = errors / requests if requests else 0.0
        text = (
            f"gateway {g['gateway']}: {requests:,} requests, {errors:,} errors ({share:.1%})"
            f", {int(g['throttled']):,} throttled"
        )
        if g["top_error_code"]:
            text += f"; most frequent error {g['top_error_code']}"
        if g["partial_cost_usd"]:
            text += (
                f"; ${g['partial_cost_usd']:.2f} of ${g['cost_usd']:.2f} priced from partial "
                "token counts (a bound, see README)"
            )
        if share >= 0.5:
            found.append(Finding("warn", "gateways", f"{text}; {HEADER_ADVICE} through"))
        else:
            found.append(Finding("ok", "gateways", text))
    return found


def _unpriced_findings(con: duckdb.DuckDBPyConnection) -> list[Finding]:
    unpriced = views.rows(views.unpriced_model_ids(con))
    if not unpriced:
        return [Finding("ok", "prices", "every model is priced")]
    return [
        Finding(
            "warn",
            "prices",
            f"{len(unpriced)} unpriced model(s) (cost NULL); see `llmledger prices check`",
        ),
        *(
            Finding(
                "info",
                "prices",
                f"{u['provider']} {u['model']} ({u['pricing_scope']}): {u['requests']:,} requests",
            )
            for u in unpriced
        ),
    ]


def _identity_findings(con: duckdb.DuckDBPyConnection) -> list[Finding]:
    unmapped = views.rows(views.unattributed_principals(con))
    if not unmapped:
        return [Finding("ok", "identities", "every principal resolves to a developer")]
    total = sum(int(u["requests"]) for u in unmapped)
    return [
        Finding(
            "warn",
            "identities",
            f"{len(unmapped)} principal(s) resolve to developer 'unattributed' "
            f"({total:,} requests)",
        ),
        *(
            Finding(
                "info",
                "identities",
                f"{u['source']} {u['principal'] or '(no principal)'} (team {u['team']}): "
                f"{u['requests']:,} requests",
            )
            for u in unmapped[:MAX_UNMAPPED_SHOWN]
        ),
    ]


def _rejected_findings(con: duckdb.DuckDBPyConnection) -> list[Finding]:
    rejected = views.rows(views.rejected_by_source(con))
    if not rejected:
        return [Finding("ok", "rejected", "no rejected records")]
    return [
        Finding(
            "warn", "rejected", f"{sum(int(r['records']) for r in rejected):,} rejected record(s)"
        ),
        *(
            Finding("info", "rejected", f"{r['source']}: {r['reason']}: {r['records']:,}")
            for r in rejected
        ),
    ]


def is_stale(newest: Any, hours: float, now: datetime | None = None) -> bool:
    """Whether ``newest`` (a record time; naive means UTC) is more than ``hours`` before now.
    No record at all is not stale: that source has nothing to be late with."""
    if not isinstance(newest, datetime) or hours <= 0:
        return False
    if newest.tzinfo is None:
        newest = newest.replace(tzinfo=UTC)
    return newest < (now or datetime.now(UTC)) - timedelta(hours=hours)


def stale_warning(source: str, newest: Any, hours: float) -> str:
    """The line `doctor` and the dashboard's Data health page show for a stale source."""
    if isinstance(newest, datetime) and newest.tzinfo is None:
        newest = newest.replace(tzinfo=UTC)
    return (
        f"source {source}: newest record {_when(newest)} is older than {hours:g} hours; "
        "check that its ingest is scheduled and that the source still logs"
    )


def _when(value: Any) -> str:
    if value is None:
        return "never"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    return str(value)


def _bill_findings(con: duckdb.DuckDBPyConnection) -> list[Finding]:
    """A bill month with a difference past 2% (``report --bill`` explains it)."""
    from models import bills

    found = []
    for m in tables.rows(bills.failed_months(con, Decimal(2))):
        if not m["failed"]:
            continue
        ours = "nothing priced" if m["our_cost_usd"] is None else f"${m['our_cost_usd']:.2f}"
        pct = "" if m["difference_pct"] is None else f" ({m['difference_pct']:+}%)"
        found.append(
            Finding(
                "warn",
                "bill",
                f"bill check failed for {m['month']} {m['provider']}: estimated {ours}, billed "
                f"${m['billed_cost_usd']:.2f}{pct}; reasons: {m['reasons'] or 'none clear'}; "
                f"see `llmledger report --bill --month {m['month']}`",
            )
        )
    return found
