"""Helpers for Streamlit ``AppTest`` runs of the dashboard (the fixtures they use, such
as ``demo_db`` and ``downloads``, are in conftest.py).

AppTest quirk (st.navigation): from the second run on, the tree drops app.py's own
elements, the sidebar included, while session state still flows; so the sidebar is set
through ``at.session_state`` and only page widgets are driven.
"""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

REPO = Path(__file__).resolve().parents[1]
ORACLE = "judge_score"


def app(page: str | None = None) -> AppTest:
    """The app (app.py), optionally switched to ``page`` (e.g. ``"pages/curves.py"``)."""
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    if page is not None:
        at.switch_page(page)
    return at


def no_errors(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def upload(at: AppTest, kind: str, name: str, content: bytes) -> AppTest:
    """Upload ``content`` as file ``name`` through the Data page's ``kind`` uploader
    (``rm`` or ``bench``) and run the page."""
    at.file_uploader(key=f"{kind}_upload_{at.session_state['_data_uploads']}").set_value(
        (name, content, "application/octet-stream"))
    return at.run()
