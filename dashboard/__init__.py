"""The Streamlit dashboard: read-only, over the published snapshot's marts."""
