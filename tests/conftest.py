"""Shared test set-up."""
from __future__ import annotations

from pathlib import Path

import pytest


class _NoPagesFolderPath(type(Path())):
    """A Path whose ``exists()`` is False for a folder named ``pages``."""

    def exists(self, *args, **kwargs):
        return False if self.name == "pages" else super().exists(*args, **kwargs)


@pytest.fixture(autouse=True)
def _streamlit_navigation_mode(monkeypatch):
    """Run AppTest the way a served app runs after its first request.

    Our page scripts live in ``pages/``.  Streamlit decides per process whether an app
    uses the old pages-folder mode by looking for that folder, and switches it off for
    good once the app calls ``st.navigation``.  ``AppTest`` re-decides before every
    run, so without this it would run page scripts without ``app.py`` on every rerun.
    (pages/common.py still copes with that mode: a served app's first request.)
    """
    import streamlit.runtime.pages_manager as pages_manager

    monkeypatch.setattr(pages_manager, "Path", _NoPagesFolderPath)
