"""AppTest of the Reliability page (issue 5): the reliability map (§8), the optimal
quantile of each RM (§7) and RETA at one eta per category, checked against the engine.

``demo_db`` and ``downloads`` are fixtures of conftest.py; ``app`` and ``no_errors``
come from tests/apptest.py.
"""
from __future__ import annotations

import io

import numpy as np
import pandas as pd

from reta_core import Evaluation
from reta_core.ingest import import_frame
from reta_core.store import Store
from tests import apptest
from tests.apptest import ORACLE, REPO, no_errors


def app(page: str = "pages/reliability.py"):
    return apptest.app(page)


def demo_evaluation(path) -> Evaluation:
    return Evaluation.from_store(Store(path), "demo", ORACLE)


def test_page_renders_every_section(demo_db):
    at = app()
    at.run()
    no_errors(at)
    assert [s.value for s in at.subheader] == ["Reliability map", "Optimal quantile", "RETA by category"]
    assert at.number_input(key="rel_bins").value == 16  # min(20, smallest pool = 16), §8
    assert at.session_state["eta"] == 0.1
    at.toggle(key="rel_heatmap").set_value(True).run()
    no_errors(at)


def test_optimal_quantile_table_is_the_engine_table(demo_db):
    at = app()
    at.run()
    shown = at.dataframe[0].value.set_index("rm")
    expected = demo_evaluation(demo_db).optimal_quantiles().set_index("rm")
    assert list(shown.index) == list(expected.index)
    for col in ("eta_star", "reta_at_eta_star", "eta_min", "reta_at_eta_min", "gain", "relative_gain"):
        np.testing.assert_allclose(shown[col], expected[col], rtol=1e-12)
    assert list(shown["band"]) == [f"{lo:.3f}–{hi:.3f}" for lo, hi in zip(expected["ci_low"], expected["ci_high"])]
    readings = at.markdown[1].value  # after the reliability map's reading
    for reading in expected["reading"]:
        assert reading in readings
    # the demo's reward-hacked RM is not to be trusted at its very top
    assert expected.loc["reward_hacked_rm", "gain"] > 0 and "select uniformly" in expected.loc["reward_hacked_rm", "reading"]


def test_category_heatmap_data_is_the_engine_table(demo_db, downloads):
    at = app()
    at.session_state["rm"] = ["strong_rm", "coding_math_specialist_rm", "random_rm"]
    at.run()
    no_errors(at)
    ev = demo_evaluation(demo_db)
    rms = ["strong_rm", "coding_math_specialist_rm", "random_rm"]
    expected = ev.category_table(0.1, rms)
    pd.testing.assert_frame_equal(at.dataframe[1].value.reset_index(drop=True), expected, check_dtype=False)
    csv = pd.read_csv(io.BytesIO(downloads(at, "csv_reta_by_category")))
    np.testing.assert_allclose(csv["reta"], expected["reta"], rtol=1e-12)
    assert list(csv["category"]) == list(expected["category"])
    # another eta (shared with the Curves page through session key "eta")
    at.number_input(key="eta").set_value(0.25).run()
    no_errors(at)
    assert at.session_state["eta"] == 0.25
    expected = ev.category_table(0.25, rms)
    np.testing.assert_allclose(at.dataframe[1].value["reta"], expected["reta"], rtol=1e-12)


def test_eta_from_a_bad_link_is_sanitised(demo_db):
    at = app()
    at.query_params["eta"] = "abc"
    at.run()
    assert not at.exception and not at.error
    assert at.session_state["eta"] == 0.1  # not a number: the default
    at.query_params["eta"] = "7"
    at.run()
    assert not at.exception and not at.error
    assert at.session_state["eta"] == 1.0 and "(0, 1]" in at.warning[0].value


def test_reliability_map_bins_and_csv(demo_db, downloads):
    at = app()
    at.session_state["rm"] = ["reward_hacked_rm", "strong_rm"]
    at.run()
    at.number_input(key="rel_bins").set_value(8).run()
    no_errors(at)
    csv = pd.read_csv(io.BytesIO(downloads(at, "csv_reliability_map")))
    expected = demo_evaluation(demo_db).reliability_map(["reward_hacked_rm", "strong_rm"], bins=8).table
    assert len(csv) == 16
    np.testing.assert_allclose(csv["mean_normalized_oracle"], expected["mean_normalized_oracle"], rtol=1e-12)
    assert list(csv["n_responses"]) == list(expected["n_responses"])


def test_benchmark_without_categories_says_so(demo_db):
    frame = pd.read_csv(REPO / "data" / "example_benchmark.csv").drop(columns="category")
    import_frame(Store(demo_db), frame, "nocat", [ORACLE], rm_cols=[])
    at = app()
    at.session_state["bench"] = "nocat"
    at.run()
    no_errors(at)
    assert any("no prompt categories" in i.value for i in at.info)
    assert len(at.dataframe) == 1  # the optimal quantiles; no category table
