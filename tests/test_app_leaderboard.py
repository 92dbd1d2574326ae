"""AppTest of the frame (app.py) and the Leaderboard page."""
from __future__ import annotations

import numpy as np
import pytest
import streamlit as st

from reta_core import Evaluation
from reta_core.store import Store
from tests.apptest import REPO, app, no_errors


def test_leaderboard_renders_engine_numbers(demo_db):
    at = app()
    at.run()
    no_errors(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Prompts"] == "60" and metrics["Responses per prompt"] == "16"
    assert metrics["Excluded prompts"] == "0" and metrics["RMs"] == "8"
    shown = at.dataframe[0].value.set_index("rm")
    expected = Evaluation.from_store(Store(demo_db), "demo", "judge_score").leaderboard().table.set_index("rm")
    assert set(shown.index) == set(expected.index) and "baseline_length" in shown.index
    for col in ("reta_0.1", "reta_at_eta_star", "eta_star", "bon", "kendall"):
        np.testing.assert_allclose(shown.loc[expected.index, col], expected[col], rtol=1e-12)
    assert list(shown.index) == list(expected.index)  # sorted by RETA(eta*)
    # a small curve in each row: an SVG in the RM's own colour
    import base64

    svg = base64.b64decode(shown.loc["strong_rm", "curve"].split(",", 1)[1]).decode()
    assert svg.startswith("<svg") and 'stroke="#1F77B4"' in svg and "strong_rm" not in svg
    assert list(at.dataframe[0].value.columns[:3]) == ["rm", "reta_at_eta_star", "reta_at_eta_star_band"]  # sort column first
    # the state is in the URL
    assert at.query_params["bench"] == "demo" and at.query_params["oracle"] == "judge_score"
    assert "strong_rm" in at.query_params["rm"]


def test_changing_rms_and_category_changes_numbers(demo_db):
    at = app()
    at.run()
    at.sidebar.multiselect[0].set_value(["strong_rm", "random_rm"])
    at.sidebar.selectbox[2].set_value("coding")
    at.run()
    no_errors(at)
    shown = at.dataframe[0].value.set_index("rm")
    assert sorted(shown.index) == ["random_rm", "strong_rm"]
    pool = Store(demo_db).load_pool("demo", category="coding")
    expected = Evaluation(pool, "judge_score").leaderboard(["strong_rm", "random_rm"]).table.set_index("rm")
    np.testing.assert_allclose(shown.loc[expected.index, "reta_0.25"], expected["reta_0.25"], rtol=1e-12)
    assert {m.label: m.value for m in at.metric}["Prompts"] == str(pool.n_prompts)
    assert at.query_params["cat"] == "coding"


def test_url_reopens_the_same_view(demo_db):
    at = app()
    at.query_params["rm"] = ["noisy_small_rm", "length_biased_rm"]
    at.query_params["norm"] = "difference"
    at.run()
    no_errors(at)
    shown = at.dataframe[0].value
    assert sorted(shown["rm"]) == ["length_biased_rm", "noisy_small_rm"]
    pool = Store(demo_db).load_pool("demo")
    expected = Evaluation(pool, "judge_score", "difference").leaderboard(["noisy_small_rm"]).table
    got = shown.set_index("rm").loc["noisy_small_rm", "reta_0.1"]
    assert got == pytest.approx(expected["reta_0.1"].iloc[0])


def test_bad_url_values_fall_back_and_say_so(demo_db):
    at = app()
    at.query_params["bench"] = "nope"
    at.query_params["rm"] = ["nope"]
    at.query_params["norm"] = "zscore"
    at.run()
    no_errors(at)
    assert at.session_state["bench"] == "demo" and at.session_state["norm"] == "ratio"
    assert len(at.dataframe[0].value) == 8  # unknown RMs dropped: all RMs shown
    notes = " ".join(w.value for w in at.warning)
    assert "benchmark 'nope' is not in this database" in notes and "'zscore'" in notes


def test_switching_benchmark_selects_all_of_its_rms_and_all_rms_comes_back(demo_db):
    from reta_core import ingest

    ingest.import_benchmark(Store(demo_db), REPO / "data" / "example_benchmark.csv", "example",
                            ["judge_score"], ["helpful_rm"])
    st.cache_data.clear()
    at = app()
    at.query_params["rm"] = ["strong_rm"]
    at.run()
    assert list(at.dataframe[0].value["rm"]) == ["strong_rm"]
    at.sidebar.button(key="all_rms").click().run()
    no_errors(at)
    assert len(at.dataframe[0].value) == 8
    at.sidebar.selectbox(key="bench").set_value("example").run()
    no_errors(at)
    assert set(at.dataframe[0].value["rm"]) == {"helpful_rm", "baseline_length", "baseline_random"}


def test_length_baseline_warning(demo_db):
    at = app()
    at.query_params["rm"] = ["random_rm", "baseline_length", "strong_rm"]
    at.run()
    no_errors(at)
    warnings = " ".join(w.value for w in at.warning)
    assert "random_rm" in warnings and "strong_rm" not in warnings


def test_first_run_builds_the_demo(tmp_path, monkeypatch):
    path = tmp_path / "fresh" / "reta.duckdb"
    monkeypatch.setenv("RETA_DB", str(path))
    st.cache_data.clear()
    st.cache_resource.clear()
    at = app()
    at.run()
    no_errors(at)
    assert path.exists() and Store(path).benchmark_names() == ["demo"]
    assert at.dataframe[0].value["n_prompts"].iloc[0] == 400


def test_error_boundary_shows_a_message_not_a_traceback(tmp_path, monkeypatch):
    path = tmp_path / "not_a_db.duckdb"
    path.write_text("this is not a database")
    monkeypatch.setenv("RETA_DB", str(path))
    st.cache_data.clear()
    st.cache_resource.clear()
    at = app()
    at.run()
    assert not at.exception
    assert at.error and str(path) in at.error[0].value
    assert "Traceback" not in at.error[0].value


def test_switching_benchmark_selects_its_default_oracle(demo_db):
    """Both benchmarks have an oracle named judge_score, but the second one's default is
    another: switching selects the new benchmark's default, not the old choice."""
    from reta_core import ingest

    frame = __import__("pandas").read_csv(REPO / "data" / "example_benchmark.csv")
    frame["human_score"] = frame["judge_score"] - 0.5
    ingest.import_frame(Store(demo_db), frame, "example", ["human_score", "judge_score"], ["helpful_rm"])
    st.cache_data.clear()
    at = app()
    at.run()
    assert at.session_state["oracle"] == "judge_score"
    at.sidebar.selectbox(key="bench").set_value("example").run()
    no_errors(at)
    assert at.session_state["oracle"] == "human_score"


def test_ratio_on_a_scale_far_from_zero_suggests_recovery(demo_db):
    at = app()
    at.run()
    hints = " ".join(c.value for c in at.sidebar.caption)
    assert "prefer it here" in hints  # the demo's judge rates 1-10
    at.sidebar.selectbox(key="norm").set_value("recovery").run()
    no_errors(at)
    assert "prefer it here" not in " ".join(c.value for c in at.sidebar.caption)
    shown = at.dataframe[0].value.set_index("rm")
    expected = Evaluation.from_store(Store(demo_db), "demo", normalization="recovery").leaderboard().table
    np.testing.assert_allclose(shown.loc[expected["rm"], "reta_0.1"], expected["reta_0.1"], rtol=1e-12)


def test_an_rm_without_bon_is_explained(demo_db):
    """An RM that scored 3 of every prompt's 4 responses has no BoN@4 (§4); the page says
    why under the table instead of leaving an empty cell."""
    import pandas as pd

    from reta_core import ingest

    frame = pd.DataFrame([{"prompt_id": f"p{p}", "response_id": f"p{p}-r{r}", "gold": float((p + r) % 5),
                           "full_rm": float(r), "partial_rm": np.nan if r == 3 else float((r * p) % 3)}
                          for p in range(6) for r in range(4)])
    ingest.import_frame(Store(demo_db), frame, "holes", ["gold"], ["full_rm", "partial_rm"])
    st.cache_data.clear()
    at = app()
    at.query_params["bench"] = "holes"
    at.run()
    no_errors(at)
    shown = at.dataframe[0].value.set_index("rm")
    assert np.isnan(shown.loc["partial_rm", "bon"]) and not np.isnan(shown.loc["full_rm", "bon"])
    notes = [c.value for c in at.caption if "BoN@4 is undefined" in c.value]
    assert len(notes) == 1 and "partial_rm" in notes[0] and "full" not in notes[0], notes
