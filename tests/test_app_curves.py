"""AppTest of the Curves page, and the table helpers it uses."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from pages.ui.state import ETA_FLOOR
from reta_core import Evaluation, metrics, readings, reports
from reta_core.store import Store
from tests.apptest import app, no_errors

RMS = ["strong_rm", "noisy_small_rm", "random_rm"]


def curves_app(**state) -> AppTest:
    at = app()
    at.switch_page("pages/curves.py")
    at.session_state["rm"] = RMS
    for key, value in state.items():
        at.session_state[key] = value
    return at


def values_table(at: AppTest) -> pd.DataFrame:
    return at.dataframe[0].value.set_index("rm")


def engine(db, eta, **kwargs) -> pd.DataFrame:
    return demo_evaluation(db).curves(RMS, [eta], ci=True, **kwargs).table.set_index("rm")


def demo_evaluation(db) -> Evaluation:
    return Evaluation.from_store(Store(db), "demo", "judge_score")


def assert_values_match(shown: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert sorted(shown.index) == sorted(expected.index)
    np.testing.assert_allclose(shown.loc[expected.index, "reta"], expected["reta"], rtol=1e-12)
    bands = [f"{lo:.3f}–{hi:.3f}" for lo, hi in zip(expected["ci_low"], expected["ci_high"])]
    assert list(shown.loc[expected.index, "band"]) == bands
    ranks = expected["reta"].rank(ascending=False, method="min").astype(int)
    assert list(shown.loc[expected.index, "rank"]) == list(ranks)


def test_values_at_eta_are_the_engines_and_follow_eta(demo_db):
    at = curves_app(eta=0.1)
    at.run()
    no_errors(at)
    assert at.segmented_control(key="est").value == "pool"
    assert at.number_input(key="eta").value == pytest.approx(0.1)
    assert at.select_slider(key="_eta_slider").value == pytest.approx(0.1)
    before = values_table(at)
    assert_values_match(before, engine(demo_db, 0.1))
    assert list(at.dataframe[0].value["rank"]) == [1, 2, 3]  # best first

    # a typed eta that is not on the grid: computed at exactly that eta
    at.number_input(key="eta").set_value(0.37).run()
    no_errors(at)
    after = values_table(at)
    assert_values_match(after, engine(demo_db, 0.37))
    assert not np.allclose(after.loc[RMS, "reta"], before.loc[RMS, "reta"])
    # the slider follows: the typed eta joins its stops, so it shows exactly 0.37
    grid = metrics.default_eta_grid(16)
    assert at.select_slider(key="_eta_slider").value == pytest.approx(0.37)
    assert 0.37 in at.select_slider(key="_eta_slider").options or "0.37" in at.select_slider(key="_eta_slider").options

    # the slider moves the typed value and the table
    at.select_slider(key="_eta_slider").set_value(float(grid[0])).run()
    no_errors(at)
    assert at.session_state["eta"] == pytest.approx(grid[0])
    assert_values_match(values_table(at), engine(demo_db, float(grid[0])))


def test_moving_eta_recomputes_only_the_values(demo_db, monkeypatch):
    at = curves_app(eta=0.1)
    at.run()
    calls = []
    real = reports.curves

    def counting(*args, **kwargs):
        calls.append([float(e) for e in args[1]])
        return real(*args, **kwargs)

    monkeypatch.setattr(reports, "curves", counting)
    at.number_input(key="eta").set_value(0.2).run()
    no_errors(at)
    assert calls == [[0.2]]  # the values at the new eta, not the curves


def test_exact_estimator_shows_bon(demo_db):
    at = curves_app(eta=0.2, est="exact", n=8)
    at.run()
    no_errors(at)
    assert at.number_input(key="n").value == 8
    shown = values_table(at)
    assert_values_match(shown, engine(demo_db, 0.2, estimator="exact", n=8))
    bon = demo_evaluation(demo_db).bon(8, RMS).table.set_index("rm")["bon"]
    np.testing.assert_allclose(shown.loc[bon.index, "bon_8"], bon, rtol=1e-12)
    assert any("BoN@8" in c.value for c in at.caption)
    # the exact estimator's default n is the smallest pool
    at = curves_app(est="exact")
    at.run()
    no_errors(at)
    assert at.number_input(key="n").value == 16


def test_compare_shows_p_a_better_at_eta(demo_db):
    at = curves_app(eta=0.1, rm_a="noisy_small_rm", rm_b="random_rm")
    at.run()
    no_errors(at)
    ev = demo_evaluation(demo_db)
    for eta in (0.1, 0.5):
        if eta != 0.1:
            at.number_input(key="eta").set_value(eta).run()
            no_errors(at)
        point = ev.compare("noisy_small_rm", "random_rm", [eta]).table.iloc[0]
        shown = {m.label: m.value for m in at.metric}
        assert shown[f"P(A > B) at eta = {eta:.3g}"] == f"{point['p_a_better']:.3f}"
        assert shown["Difference A − B"] == f"{point['diff']:+.4f}"
    whole = ev.compare("noisy_small_rm", "random_rm").table
    reading = readings.significance_reading(whole)
    assert reading.startswith("noisy_small_rm is significantly better than random_rm for eta in [")
    assert any(m.value == readings.md(reading) for m in at.markdown)  # names are literal text


def test_eta_below_one_over_min_n_is_flagged(demo_db):
    at = curves_app(eta=0.03)
    at.run()
    no_errors(at)
    assert any(readings.min_eta_note(16) in i.value for i in at.info)
    assert_values_match(values_table(at), engine(demo_db, 0.03))


@pytest.mark.parametrize("params, eta", [
    ({"eta": "abc", "est": "bogus", "n": "x", "rm_a": "nope", "rm_b": "nope"}, 0.1),
    ({"eta": "5", "est": "exact", "n": "999"}, 1.0),
    ({"eta": "-1"}, ETA_FLOOR),
])
def test_bad_url_values_do_not_crash(demo_db, params, eta):
    at = curves_app()
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    no_errors(at)
    assert at.session_state["eta"] == pytest.approx(eta)
    assert at.session_state["est"] in ("pool", "exact")
    assert at.session_state["rm_a"] in RMS and at.session_state["rm_b"] in RMS
    if at.session_state["est"] == "exact":
        assert at.session_state["n"] == 16
    assert_values_match(values_table(at), engine(demo_db, eta, **(
        {"estimator": "exact", "n": 16} if at.session_state["est"] == "exact" else {})))
    if eta != 0.1:
        assert any("must lie in (0, 1]" in w.value for w in at.warning)


def test_one_rm_has_no_comparison(demo_db):
    at = curves_app()
    at.session_state["rm"] = ["strong_rm"]
    at.run()
    no_errors(at)
    assert len(values_table(at)) == 1
    assert any("at least two" in i.value for i in at.info)


# --------------------------------------------------------------------- analysis helpers
def comparison(diff, low, high, etas=None) -> pd.DataFrame:
    etas = etas if etas is not None else np.geomspace(0.01, 1, len(diff))
    t = pd.DataFrame({"rm_a": "A", "rm_b": "B", "eta": etas, "diff": diff, "ci_low": low, "ci_high": high,
                      "p_a_better": 0.5, "n_prompts": 10})
    t["significant"] = (t["ci_low"] > 0) | (t["ci_high"] < 0)
    return t


def test_significant_ranges_and_reading():
    etas = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0]
    t = comparison(diff=[0.3, 0.2, 0.1, 0.0, -0.2, -0.3, 0.0],
                   low=[0.1, 0.05, -0.1, -0.1, -0.3, -0.4, -0.1],
                   high=[0.5, 0.3, 0.2, 0.1, -0.1, -0.2, 0.1], etas=etas)
    assert reports.significant_ranges(t.iloc[::-1]) == [
        {"eta_low": 0.01, "eta_high": 0.02, "better": "A"},
        {"eta_low": 0.2, "eta_high": 0.5, "better": "B"}]
    reading = readings.significance_reading(t)
    assert "A is significantly better than B for eta in [0.01, 0.02]" in reading
    assert "B is significantly better than A for eta in [0.2, 0.5]" in reading
    single = comparison([0.0, 0.2, 0.0], [-0.1, 0.1, -0.1], [0.1, 0.3, 0.1], etas=[0.1, 0.2, 0.3])
    assert "A is significantly better than B for eta = 0.2 (" in readings.significance_reading(single)
    two = comparison([0.2, 0.0, 0.2, 0.2], [0.1, -0.1, 0.1, 0.1], [0.3, 0.1, 0.3, 0.3], etas=[0.1, 0.2, 0.3, 0.4])
    assert "for eta = 0.1 and eta in [0.3, 0.4] (" in readings.significance_reading(two)
    none = comparison([0.0, 0.1], [-0.1, -0.1], [0.1, 0.2])
    assert reports.significant_ranges(none) == []
    assert "not significant at any eta" in readings.significance_reading(none)


def test_rank_at_eta_ties_share_the_better_rank():
    table = pd.DataFrame({"rm": list("abcd"), "reta": [1.2, 1.5, 1.2, np.nan]})
    ranked = reports.rank_at_eta(table)
    assert ranked["rank"].tolist()[:3] == [2, 1, 2] and pd.isna(ranked["rank"].iloc[3])
    assert "rank" not in table
