"""The Stability page (issue 5): the resampling study of §5 runs on a button with
progress, can be stopped without leaving a half result, is cached for the same inputs,
and shows the exact values of §4; plus a hand-checked case of the study's spreads."""
from __future__ import annotations

import numpy as np
import pytest
import streamlit as st

from reta_core import Evaluation, readings, reports
from reta_core.pool import Pool
from reta_core.store import Store
from tests.apptest import ORACLE, app, no_errors

PAGE = "pages/stability.py"
RMS = ["strong_rm", "random_rm"]
# one prompt, N = 3, oracle [3, 0, 0] (mu = 1), RM order a > b > c
HAND_POOL = Pool(prompt_ids=np.array(["q"], dtype=object), offsets=[0, 3],
                 response_ids=np.array(["a", "b", "c"], dtype=object),
                 oracles={"J": [3.0, 0.0, 0.0]}, rms={"Y": [3.0, 2.0, 1.0]})


def study_app(repeats: int = 20):
    at = app(PAGE)
    at.session_state["rm"] = list(RMS)
    at.session_state["stab_repeats"] = repeats
    return at


@pytest.fixture()
def calls(monkeypatch):
    """Counts the calls of reports.stability_study (the page's only way to compute)."""
    real = reports.stability_study
    counted = []

    def counting(*args, **kwargs):
        counted.append(kwargs.get("repeats"))
        return real(*args, **kwargs)

    monkeypatch.setattr(reports, "stability_study", counting)
    return counted


def test_page_renders_and_waits_for_the_button(demo_db, calls):
    at = app(PAGE)
    at.run()
    no_errors(at)
    assert at.number_input(key="stab_repeats").value == 200 and at.number_input(key="stab_seed").value == 0
    assert at.button(key="stab_run").label == "Run the study"
    assert not at.dataframe and calls == []
    assert "n = 2, 4, 8, 16" in at.markdown[0].value


def test_small_study_shows_exact_values_and_a_reading(demo_db, calls):
    at = study_app()
    at.run()
    at.button(key="stab_run").click().run()
    no_errors(at)
    assert calls == [20]
    table = at.dataframe[0].value
    ev = Evaluation.from_store(Store(demo_db), "demo", ORACLE)
    expected = ev.stability(0.1, RMS, repeats=20, seed=0)
    np.testing.assert_allclose(table[["mean", "std", "cv", "exact"]], expected[["mean", "std", "cv", "exact"]],
                               rtol=1e-12)
    assert sorted(table["n"].unique()) == [2, 4, 8, 16] and set(table["rm"]) == set(RMS)
    for n in (2, 4, 8, 16):
        bon = ev.bon(n, RMS).table.set_index("rm")["bon"]
        rows = table[(table["n"] == n) & (table["estimator"] == "BoN@n")].set_index("rm")
        np.testing.assert_allclose(rows.loc[RMS, "exact"], bon.loc[RMS], rtol=1e-12)
        exact = ev.curves(RMS, [0.1], estimator="exact", n=n).table.set_index("rm")
        rows = table[(table["n"] == n) & (table["estimator"] == "RETA@0.1")].set_index("rm")
        np.testing.assert_allclose(rows.loc[RMS, "exact"], exact.loc[RMS, "reta"], rtol=1e-12)
    assert at.info[0].value == readings.stability_reading(expected)
    # eta = 0.1 with pools of 16 keeps k = 1 at every n: RETA is BoN@n there, and the reading says so
    assert "keeps only the top response (k = 1)" in at.info[0].value
    assert [s.value for s in at.subheader] == ["Reading", "Spread as n grows", "Convergence to the exact values",
                                              "Table"]
    assert not at.get("progress")  # the bar and the Stop button are gone once it finished
    assert any("At n = 2, 4, 8, RETA@0.1 keeps k = 1" in c.value for c in at.caption)
    at.segmented_control(key="stab_metric").set_value("cv").run()
    no_errors(at)


def test_same_inputs_are_not_recomputed(demo_db, calls):
    at = study_app()
    at.run()
    at.button(key="stab_run").click().run()
    assert calls == [20]
    at.run()  # a rerun of the page
    assert calls == [20] and len(at.dataframe) == 1
    again = study_app()  # re-opening the page in a new session, same inputs
    again.run()
    no_errors(again)
    assert calls == [20] and len(again.dataframe) == 1
    again.number_input(key="stab_seed").set_value(1).run()  # other inputs: waits for the button
    assert calls == [20] and not again.dataframe and again.button(key="stab_run")
    again.button(key="stab_run").click().run()
    assert calls == [20, 20] and len(again.dataframe) == 1


def test_a_stopped_run_leaves_nothing(demo_db, monkeypatch):
    """Streamlit stops a running script at its next st call after a Stop click (a
    rerun); here the progress callback stops the script half way the same way."""
    real = reports.stability_study

    def stopped_half_way(*args, progress, **kwargs):
        def step(done, total, message=""):
            progress(done, total, message)
            if done > total / 2:
                st.stop()
        return real(*args, progress=step, **kwargs)

    monkeypatch.setattr(reports, "stability_study", stopped_half_way)
    at = study_app()
    at.run()
    at.button(key="stab_run").click().run()
    assert not at.exception and not at.dataframe and not at.subheader  # no half result
    at.button(key="stab_stop").click().run()  # the click that stopped it
    no_errors(at)
    assert not at.dataframe and "stopped" in at.warning[0].value
    assert at.button(key="stab_run").label == "Run the study"  # nothing was kept
    monkeypatch.setattr(reports, "stability_study", real)
    at.button(key="stab_run").click().run()
    no_errors(at)
    assert len(at.dataframe) == 1 and not at.warning


def test_study_spreads_by_hand():
    """One prompt, N = 3, oracle [3, 0, 0] (mu = 1), RM order a > b > c.

    n = 2: the three 2-subsets are equally likely.  BoN@2 is 3 for {a,b} and {a,c}, 0 for
    {b,c}: mean 2 = the exact value, variance 6 - 4 = 2, so the spread is sqrt(2).
    RETA@1 at n = 2 (k = 2) is 1.5, 1.5, 0 on the same subsets: half of BoN@2 on every
    resample, so exactly half its spread (sqrt(2)/2) and the same cv.  n = 3: every
    resample is the whole pool, so both are exact (BoN@3 = 3, RETA@1 = 1) with no spread.
    """
    repeats = 4000
    table = Evaluation(HAND_POOL, "J").stability(1.0, ["Y"], repeats=repeats, seed=7).set_index(["n", "estimator"])
    assert reports.stability_sizes(3) == [2, 3]
    bon, reta = table.loc[(2, "BoN@n")], table.loc[(2, "RETA@1")]
    assert bon["k"] == 1 and reta["k"] == 2
    assert bon["exact"] == pytest.approx(2.0) and reta["exact"] == pytest.approx(1.0)
    # two-point draws {0, 3}: the sample sd (ddof = 1) is fixed by the mean m
    m = bon["mean"]
    assert bon["std"] == pytest.approx(np.sqrt(repeats / (repeats - 1) * m * (3 - m)), rel=1e-9)
    assert bon["std"] == pytest.approx(np.sqrt(2), abs=0.05) and m == pytest.approx(2.0, abs=0.1)
    assert reta["mean"] == pytest.approx(m / 2, rel=1e-12)
    assert reta["std"] == pytest.approx(bon["std"] / 2, rel=1e-12)
    assert reta["cv"] == pytest.approx(bon["cv"], rel=1e-12) and bon["cv"] == pytest.approx(bon["std"] / m)
    assert bon["se"] == pytest.approx(bon["std"] / np.sqrt(repeats))
    for est, value in (("BoN@n", 3.0), ("RETA@1", 1.0)):
        row = table.loc[(3, est)]
        assert row["mean"] == pytest.approx(value) and row["exact"] == pytest.approx(value)
        assert row["std"] == pytest.approx(0.0, abs=1e-12)
    assert "it varies less between resamples than BoN@n in 100%" in readings.stability_reading(table.reset_index())


def test_sizes_where_reta_is_bon():
    """k = ceil(eta n): at eta = 0.5 the 2-subsets keep one response (RETA@0.5 is BoN@2),
    the whole pool of 3 keeps two."""
    table = Evaluation(HAND_POOL, "J").stability(0.5, ["Y"], repeats=5)
    assert reports.bon_equivalent_sizes(table) == [2]  # n = 2: k = 1; n = 3: k = 2
    rows = table[table["n"] == 2].set_index("estimator")
    assert rows.loc["RETA@0.5", "std"] == rows.loc["BoN@n", "std"]
