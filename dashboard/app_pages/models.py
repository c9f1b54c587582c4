"""Models and providers: the model mix, where traffic went, what regional routing cost."""

from __future__ import annotations

import altair as alt
import streamlit as st

from dashboard import data, filters, fmt, ui

f = filters.current()
st.title("Models and providers")
st.caption(f"{f.since} to {f.until} (UTC)")
ui.token_toggle()

st.subheader("Model mix over time")
left, right = st.columns(2)
with st.container():  # the table first, under the charts drawn next: the headline is on
    ui.table(data.frame("model_table", f), "models")  # screen before the charts are built
daily = data.frame("daily_cost", f, "model")
with left:
    ui.share_area(daily, "model", "cost_usd", "Share of cost")
with right:
    ui.share_area(daily, "model", "requests", "Share of requests")

st.subheader("Bedrock, Vertex and LiteLLM")
providers = data.frame("provider_table", f)
if not providers.empty:
    bars = fmt.money_float(providers)
    bars["where"] = bars["source"] + " → " + bars["provider"]
    st.altair_chart(
        alt.Chart(bars)
        .mark_bar()
        .encode(
            x=alt.X("cost_usd:Q", title="Cost (USD)", axis=alt.Axis(format="$,.0f")),
            y=alt.Y("where:N", title=None, sort="-x"),
            tooltip=[
                "source:N",
                "provider:N",
                alt.Tooltip("cost_usd:Q", format="$,.2f"),
                "requests:Q",
            ],
        ),
        width="stretch",
    )
ui.table(
    providers,
    "providers",
    caption="Source: where the record was read. Provider: who served the model.",
)

st.subheader("Geographic and regional premium")
premium = data.frame("scope_premium", f)
if not premium.empty and premium["premium_usd"].notna().any():
    st.metric("Paid beyond global prices", fmt.money(premium["premium_usd"].sum()))
ui.table(
    premium,
    "pricing-scope",
    caption="Geo (us., eu., …) and regional endpoints cost about 10% more than global ones "
    "for Claude Sonnet 4.5 and later.",
)

st.subheader("LiteLLM's reported spend against ours")
litellm = data.frame("litellm_vs_ours", f)
if litellm.empty:
    st.caption("No LiteLLM traffic in this selection.")
else:
    row = st.columns(3)
    row[0].metric("LiteLLM spend", fmt.money(litellm["litellm_spend_usd"].sum()))
    row[1].metric("Our cost", fmt.money(litellm["our_cost_usd"].sum()))
    row[2].metric("Difference", fmt.money(litellm["difference_usd"].sum()))
    ui.table(litellm, "litellm-vs-ours")
    if not data.is_admin():
        st.caption("The reconciliation with the providers' logs is company-wide: for admins.")
    elif st.toggle(
        "Reconcile with the providers' logs",
        key="t_reconcile",
        help="Why LiteLLM's spend differs from ours, and which forwarded requests both sides "
        "logged. Reads every LiteLLM and gateway event in the date range (usage_events).",
    ):
        ui.table(
            data.frame("litellm_differences", f),
            "litellm-differences",
            caption="Successful LiteLLM requests by why LiteLLM's spend differs from the price "
            "book (date filter only).",
        )
        st.subheader("Gateway reconciliation")
        ui.table(
            data.frame("gateway_reconciliation", f),
            "gateway-reconciliation",
            caption="Requests LiteLLM forwarded to Bedrock or Vertex: matched in the provider's "
            "logs (counted once, from LiteLLM), only in LiteLLM's logs, or only in the "
            "provider's logs under the gateway's identity (date filter only).",
        )
