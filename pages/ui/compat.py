"""Every use of a Streamlit internal, in one place, for the versions it was checked with.

The dashboard needs three things Streamlit has no public API for: which script run is
current (to know whether ``app.py`` set the frame up in this run), leaving the old
pages-folder mode on a served app's first request for a deep link, and, in tests, the
files behind deferred download buttons.  ``tests/test_compat.py`` fails loudly when the
installed Streamlit is not one of :data:`TESTED_STREAMLIT` (bump it after checking each
function here against the new version), and ``requirements.txt`` bounds Streamlit to
the same minor versions.  The kaleido internal of the chart export is in
``reta_core/compat.py``, the engine's own compat module.
"""
from __future__ import annotations

from pathlib import Path

import streamlit as st

TESTED_STREAMLIT = ("1.67",)  # minor versions every function below was checked against


def streamlit_version() -> str:
    return st.__version__


def is_tested_version(version: str | None = None) -> bool:
    version = streamlit_version() if version is None else version
    return ".".join(version.split(".")[:2]) in TESTED_STREAMLIT


def run_token():
    """Identifies the current script run (Streamlit makes a new context object per run)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return None if ctx is None else id(getattr(ctx, "parallel_coordinator", None) or ctx.cursors)


def leave_pages_folder_mode() -> bool:
    """If this run is in Streamlit's pages-folder mode (a served app's very first request
    was a deep link, so a page ran without ``app.py``), switch it off as ``st.navigation``
    in ``app.py`` would have; returns True when it did (the caller then reruns)."""
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # a Streamlit without the pages-folder mode
        return False
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        return True
    return False


# --------------------------------------------------------------------- test support
class _NoPagesFolderPath(type(Path())):
    """A Path whose ``exists()`` is False for a folder named ``pages``."""

    def exists(self, *args, **kwargs):
        return False if self.name == "pages" else super().exists(*args, **kwargs)


def run_apptest_without_pages_folder_mode(monkeypatch) -> None:
    """Make ``AppTest`` run the app the way a served app runs after its first request.

    Streamlit decides per process whether an app uses the pages-folder mode by looking
    for a ``pages/`` folder, and a served app leaves it for good once ``st.navigation``
    runs; ``AppTest`` re-decides before every run, so it would otherwise run page
    scripts without ``app.py`` on every rerun."""
    import streamlit.runtime.pages_manager as pages_manager

    monkeypatch.setattr(pages_manager, "Path", _NoPagesFolderPath)


def record_downloads(monkeypatch):
    """``get(at, key) -> bytes``: what a download button of the last AppTest run serves.

    Most buttons build their file only on click (a callable ``data``: Streamlit's
    deferred download), so this records the callables registered with the media file
    manager and calls one as a click would; buttons given bytes are read from AppTest's
    in-memory media storage."""
    import streamlit.runtime.media_file_manager as media
    import streamlit.testing.v1.app_test as app_test

    deferred, storages = {}, []
    original = media.MediaFileManager.add_deferred

    def add_deferred(self, data_callable, *args, **kwargs):
        file_id = original(self, data_callable, *args, **kwargs)
        deferred[file_id] = data_callable
        return file_id

    class Recording(app_test.MemoryMediaFileStorage):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            storages.append(self)

    monkeypatch.setattr(media.MediaFileManager, "add_deferred", add_deferred)
    monkeypatch.setattr(app_test, "MemoryMediaFileStorage", Recording)

    def get(at, key: str) -> bytes:
        button = next(b for b in at.get("download_button") if b.key == key)
        if button.proto.deferred_file_id:
            data = deferred[button.proto.deferred_file_id]()
            return data.encode() if isinstance(data, str) else data
        return storages[-1].get_file(button.proto.url.rsplit("/", 1)[-1]).content

    return get
