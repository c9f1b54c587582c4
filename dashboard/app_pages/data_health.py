"""Data health: is the data fresh and complete, and what could not be read or priced."""

from __future__ import annotations

import os

import pandas as pd
import streamlit as st

from dashboard import data, filters, ui
from models import doctor

STALE_ENV = "LLMLEDGER_STALE_AFTER_HOURS"  # [doctor] stale_after_hours, set by the CLI

f = filters.current()
st.title("Data health")
if not data.is_admin():
    st.info("Data health is company-wide, so only the dashboard's admins see it.")
    st.stop()

st.subheader("Sources")
sources = data.frame("source_health")
try:
    stale_after = float(os.environ.get(STALE_ENV) or doctor.DEFAULT_STALE_AFTER_HOURS)
except ValueError:
    stale_after = doctor.DEFAULT_STALE_AFTER_HOURS
for row in sources.to_dict("records"):  # the same lines `llmledger doctor` prints
    newest = row.get("newest_record_minute")
    newest = None if pd.isna(newest) else pd.Timestamp(newest).to_pydatetime()
    if doctor.is_stale(newest, stale_after):
        st.warning(doctor.stale_warning(str(row["source"]), newest, stale_after))
ui.table(
    sources,
    "source-health",
    caption="Per ingest source: the newest record of its source (to the minute), the last "
    "successful ingest, and the last run's status and message.",
)

st.subheader("Rejected records")
ui.table(
    data.frame("rejected_by_reason"),
    "rejected-records",
    caption="Bad input is kept out of the totals and listed here by reason (never its text).",
)

quarantined = data.frame("quarantined_rows")
if not quarantined.empty:
    st.subheader("Quarantined rows")
    ui.table(
        quarantined,
        "quarantined-rows",
        caption="Stored rows with a token count above 10,000,000 or a time before 2000 or in the "
        "future: left out of every total (records like these arriving now are rejected, above). "
        "Fix or delete them at the source and re-ingest.",
    )

st.subheader("Unpriced models")
ui.table(
    data.frame("unpriced_models", f),
    "unpriced-models",
    caption="Requests with no price in the price book: their cost is NULL, never $0. "
    "Add a price override or run `llmledger prices check`.",
)

vertex = data.frame("vertex_attribution")
if not vertex.empty:
    st.subheader("Vertex attribution")
    ui.table(
        vertex,
        "vertex-attribution",
        caption="No Vertex log carries both the caller and the tokens: responses are attributed "
        "by developer label, by the caller the entry names, or by a unique audit-log join; "
        "ambiguous joins are never guessed.",
    )

telemetry = data.frame("claude_code_attribution")
if not telemetry.empty:
    st.subheader("Claude Code telemetry")
    ui.table(
        telemetry,
        "claude-code-attribution",
        caption="Claude Code's own telemetry names the developer behind a shared role or "
        "service account: each event is matched to its provider record by request id, else by "
        "model, exact tokens and time. Ambiguous matches attribute nothing; telemetry never "
        "adds spend where a provider record exists.",
    )

gateways = data.frame("gateway_health")
if not gateways.empty:
    st.subheader("Gateways")
    ui.table(
        gateways,
        "gateway-health",
        caption="Per API gateway: requests, errors and throttles, the most frequent error (a "
        "gateway that strips anthropic-version, content-type or x-api-key fails every request), "
        "and the spend priced from partial token counts (a bound, not exact).",
    )
    ui.table(
        data.frame("gateway_report"),
        "gateway-overhead",
        caption="What the hop costs: p50/p95 of each gateway's own latency per day. LiteLLM "
        "logs only its whole time: its overhead is that less the provider's own time, for "
        "requests matched to a provider record that logs one, and empty otherwise.",
    )

st.subheader("Unmapped identities")
ui.table(
    data.frame("identity_gaps"),
    "identity-gaps",
    lead=["principal", "identity_status", "person_hint", "team_hint", "source"],
    caption="Callers missing from the people directory (named) or with no personal "
    "identity: add them to the directory, or an identity rule.",
)
if st.toggle(
    "Count their requests and cost",
    key="t_unmapped",
    help="Reads every event in the date range (usage_events), so it takes longer.",
):
    ui.table(
        data.frame("unmapped_identities", f),
        "unmapped-identities",
        lead=["principal", "cost_usd", "share", "requests", "identity_status", "source"],
    )
