"""Shared test set-up: the Streamlit fixtures (through pages/ui/compat.py, the one
place that touches Streamlit internals) and the demo database of the AppTests."""
from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _streamlit_navigation_mode(monkeypatch):
    """Run AppTest the way a served app runs after its first request (see
    ``compat.run_apptest_without_pages_folder_mode``)."""
    from pages.ui import compat

    compat.run_apptest_without_pages_folder_mode(monkeypatch)


@pytest.fixture()
def downloads(monkeypatch):
    """``get(at, key) -> bytes``: what a download button of the last AppTest run serves."""
    from pages.ui import compat

    return compat.record_downloads(monkeypatch)


@pytest.fixture()
def demo_db(tmp_path, monkeypatch):
    """A small demo benchmark (60 prompts x 16 responses) as the app's database."""
    import streamlit as st

    from reta_core.demo import build_demo
    from reta_core.store import Store

    path = tmp_path / "t.duckdb"
    build_demo(Store(path), n_prompts=60, n_responses=16)
    monkeypatch.setenv("RETA_DB", str(path))
    st.cache_data.clear()
    st.cache_resource.clear()
    return path


# ---- shared fixtures (engine tests)
@pytest.fixture(scope="module")
def demo_pool():
    """The demo generator's benchmark, 120 prompts x 16 responses (seed 3), as a Pool
    with its categories: the data of the report and reading tests."""
    from reta_core.demo import generate_demo
    from reta_core.pool import Pool

    demo = generate_demo(n_prompts=120, n_responses=16, seed=3)
    return Pool.from_frame(demo.frame, demo.oracle_columns, demo.rm_columns, category_col="category")


@pytest.fixture(scope="module")
def local_ray():
    """A local Ray instance of 2 CPUs on 127.0.0.1 for one test module (the Ray tests mark
    themselves with it after skipping when the distributed extra is missing)."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False)
    yield
    ray.shutdown()
