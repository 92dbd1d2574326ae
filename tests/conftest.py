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


@pytest.fixture()
def downloads(monkeypatch):
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
