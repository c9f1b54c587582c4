"""Bill check: our estimate against the providers' bills (company-wide, so admins only)."""

from __future__ import annotations

import altair as alt
import streamlit as st

from dashboard import data, fmt, ui

st.title("Bill check")
if not data.is_admin():
    st.info("The bill check is company-wide, so only the dashboard's admins see it.")
    st.stop()

months = data.frame("bill_months")
if months.empty:
    st.info(
        "No bill loaded. Ingest an AWS CUR 2.0 export (`llmledger ingest aws-cur-s3` or "
        "`aws-cur-files`) or a GCP billing export (`llmledger ingest gcp-billing-files`)."
    )
    st.stop()

choices = sorted(months["month"].unique(), reverse=True)
month = st.selectbox("Bill month", choices, key="bill_month")
chosen = months[months["month"] == month]
for row in chosen.itertuples(index=False):
    cols = st.columns(4)
    cols[0].metric(f"Estimated ({row.provider})", fmt.money(row.our_cost_usd))
    cols[1].metric("Billed", fmt.money(row.billed_cost_usd))
    cols[2].metric(
        "Difference",
        fmt.money(row.difference_usd),
        None if row.difference_pct is None else f"{float(row.difference_pct):+.1f}%",
        delta_color="off",
    )
    cols[3].metric(
        "Coverage",
        "—" if row.coverage_pct is None else f"{float(row.coverage_pct):.1f}%",
        help="Share of the billed LLM spend that our logs explain (billed where we logged).",
    )

daily = data.frame("bill_check", month, "day")
if not daily.empty:
    frame = fmt.money_float(daily[["day", "our_cost_usd", "billed_cost_usd"]])
    long = frame.melt("day", var_name="series", value_name="usd").replace(
        {"our_cost_usd": "estimated", "billed_cost_usd": "billed"}
    )
    chart = (
        alt.Chart(long, title="Billed vs estimated per day")
        .mark_line(point=True)
        .encode(
            x=alt.X("yearmonthdate(day):T", title=None),
            y=alt.Y("usd:Q", title="Cost (USD)", axis=alt.Axis(format="$,.2~f")),
            color=alt.Color("series:N", title=None),
            tooltip=[alt.Tooltip("day:T"), "series:N", alt.Tooltip("usd:Q", format="$,.4f")],
        )
    )
    st.altair_chart(chart, width="stretch")

st.subheader("Largest differences")
ui.token_toggle()
ui.table(
    data.frame("bill_differences", month),
    "bill-differences",
    caption="logs_missing: billed, nothing logged · unpriced_model: no price in the price book · "
    "contracted_discount: billed = list × (1 − d) across the account · price_book_wrong: tokens "
    "match, cost does not · not_billed: logged, not on the bill · tokens_differ: partly logged.",
)

overrides = data.frame("bill_check", month, "model")
texts = sorted({t for t in overrides.get("suggested_override", []) if isinstance(t, str) and t})
if texts:
    st.subheader("Contracted discount")
    st.caption("To make estimates match the bill, add to the config:")
    st.code("\n\n".join(texts), language="toml")

st.subheader("Per principal")
ui.table(
    data.frame("bill_check", month, "principal"),
    "bill-principals",
    caption="The bill's own per-principal split (CUR's line_item_iam_principal) beside ours.",
)
