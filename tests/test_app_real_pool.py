"""Every page on the real AlpacaEval pool, with a length scorer uploaded through the
Data page (issue 5, "Done when").  Skipped, saying how to point at it, when the real
pool is not found ($RETA_REAL_POOL)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import streamlit as st

from reta_core import Evaluation, ingest
from reta_core.store import Store
from tests.apptest import app, no_errors, upload
from tests.builders import REAL_POOL, REAL_POOL_MISSING

ORACLE = "gpt4_turbo_preference"
PAGES = ["pages/leaderboard.py", "pages/curves.py", "pages/inspector.py", "pages/reliability.py",
         "pages/stability.py", "pages/data.py"]

pytestmark = pytest.mark.skipif(not REAL_POOL.exists(), reason=REAL_POOL_MISSING)


@pytest.fixture(scope="module")
def real_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("real") / "real.duckdb"
    ingest.import_benchmark(Store(path), REAL_POOL, "alpacaeval", [ORACLE], rm_cols=[])
    return path


@pytest.fixture()
def real_app(real_db, monkeypatch):
    monkeypatch.setenv("RETA_DB", str(real_db))
    st.cache_data.clear()
    st.cache_resource.clear()
    return real_db


def test_length_scorer_uploaded_through_the_page_then_every_page_works(real_app, tmp_path):
    frame = pd.read_json(REAL_POOL, lines=True)
    scores = pd.DataFrame({"response_id": frame["response_id"].astype(str),
                           "length_chars": frame["response"].str.len()})
    at = app()
    at.switch_page("pages/data.py")
    at.run()
    no_errors(at)
    upload(at, "rm", "length_scorer.csv", scores.to_csv(index=False).encode())
    no_errors(at)
    assert "100.0% covered" in at.code[0].value
    at.button(key="rm_confirm").click().run()
    no_errors(at)
    assert "length_scorer" in set(Store(real_app).list_rms("alpacaeval")["name"])

    pool = Store(real_app).load_pool("alpacaeval")
    np.testing.assert_array_equal(pool.rms["length_scorer"], pool.rms["baseline_length"])
    expected = Evaluation(pool, ORACLE).leaderboard().table.set_index("rm")
    at.switch_page("pages/leaderboard.py")
    at.run()
    no_errors(at)
    shown = at.dataframe[0].value.set_index("rm")
    assert "length_scorer" in shown.index
    assert shown.loc["length_scorer", "reta_0.1"] == pytest.approx(expected.loc["length_scorer", "reta_0.1"])
    assert {m.label: m.value for m in at.metric}["Responses per prompt"] == "11"
    for page in PAGES[1:]:
        at.switch_page(page)
        at.run()
        no_errors(at)
