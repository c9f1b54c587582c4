"""llmledger's dashboard: `llmledger dashboard` runs this with `streamlit run`.

The entry script checks the snapshot, signs the viewer in (when sign-in is on), draws the shared
filters, and hands over to the page the URL names. The pages live in ``app_pages/``, not
``pages/``: a ``pages/`` folder beside the entry script switches Streamlit (and its AppTest) to
the older folder-based navigation, which skips this script on reruns.
"""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from dashboard import access, data, filters, ui

HERE = Path(__file__).parent
TITLE = os.environ.get("LLMLEDGER_TITLE") or "llmledger"

st.set_page_config(page_title=TITLE, page_icon=":material/payments:", layout="wide")

try:
    data.snapshot_path()
except data.NoSnapshot as exc:
    st.title(TITLE)
    st.error(str(exc))
    st.stop()

data.pin()  # one snapshot for this whole run, even if an ingest publishes meanwhile
try:
    viewer = access.current_viewer()
    filters.sidebar(viewer)
    for kind, message in filters.notices():  # URL values that could not be applied
        (st.warning if kind == "warning" else st.info)(message)
    ui.freshness(viewer.allowed_teams)

    pages = [
        st.Page(
            HERE / "app_pages" / "overview.py",
            title="Overview",
            icon=":material/dashboard:",
            default=True,
        ),
        st.Page(
            HERE / "app_pages" / "teams.py",
            title="Teams and developers",
            icon=":material/groups:",
            url_path="teams",
        ),
        st.Page(
            HERE / "app_pages" / "models.py",
            title="Models and providers",
            icon=":material/hub:",
            url_path="models",
        ),
        st.Page(
            HERE / "app_pages" / "rate_limits.py",
            title="Rate limits",
            icon=":material/speed:",
            url_path="rate-limits",
        ),
    ]
    if viewer.is_admin:  # company-wide: sources, rejects, identities (the page checks it too)
        pages.append(
            st.Page(
                HERE / "app_pages" / "data_health.py",
                title="Data health",
                icon=":material/health_and_safety:",
                url_path="data-health",
            )
        )
        pages.append(
            st.Page(
                HERE / "app_pages" / "bill_check.py",
                title="Bill check",
                icon=":material/receipt_long:",
                url_path="bill-check",
            )
        )
    page = st.navigation(pages)
    st.set_page_config(page_title=f"{page.title} · {TITLE}")
    page.run()
except data.SnapshotMoved:  # published mid-run: start again on the new snapshot
    st.rerun()
