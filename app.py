"""RETA Explorer: how far can you trust a reward model, and at which quantile?

Run with ``streamlit run app.py``.  The sidebar's choices (benchmark, oracle, RMs,
category, normalisation) are shared by every page and kept in the URL.  On first run
with no database the demo benchmark is built.

The navigation sits at the top (``position="top"``): ``.streamlit/config.toml`` hides
the sidebar navigation, so Streamlit's pages-folder mode (which a server is in for its
very first request, before this script has run) never lists the files of ``pages/``.
"""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from pages.ui import state, widgets

# a local icon: a Material-symbol favicon would be fetched from a font server at every load
st.set_page_config(page_title="RETA Explorer", page_icon=str(Path(__file__).parent / "pages/ui/favicon.png"),
                   layout="wide")

PAGES = [
    st.Page("pages/leaderboard.py", title="Leaderboard", icon=":material/leaderboard:", default=True),
    st.Page("pages/curves.py", title="Curves", icon=":material/show_chart:", url_path="curves"),
    st.Page("pages/inspector.py", title="Inspector", icon=":material/search:", url_path="inspector"),
    st.Page("pages/reliability.py", title="Reliability", icon=":material/grid_on:", url_path="reliability"),
    st.Page("pages/stability.py", title="Stability", icon=":material/waves:", url_path="stability"),
    st.Page("pages/data.py", title="Data", icon=":material/database:", url_path="data"),
]

page = st.navigation(PAGES, position="top")
try:
    state.frame_setup()
    try:
        page.run()
    finally:  # also after st.stop(): the URL always reflects what is shown
        state.state_to_url()
    st.session_state["_retried_after_write"] = False
except Exception as exc:  # the error boundary: st.stop/st.rerun are BaseExceptions and pass
    if state.database_changed_during_run() and not st.session_state.get("_retried_after_write"):
        # the data changed under this run (another program wrote the file): run once more on
        # the new data instead of showing an error that came from the mix of old and new
        st.session_state["_retried_after_write"] = True
        st.rerun()
    widgets.show_error(exc)
