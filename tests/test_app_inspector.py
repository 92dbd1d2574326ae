"""AppTest of the Inspector page, and the per-prompt table helpers it uses."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from reta_core import Evaluation, prompts as P
from reta_core.demo import generate_demo
from reta_core.ingest import import_frame
from reta_core.pool import Pool
from reta_core.store import Store
from tests.apptest import app, no_errors

HOSTILE = ("<script>alert('pwned')</script>\n<b>bold html</b> <img src=x onerror=alert(1)>\n"
           "# a heading\n\n```python\nprint('code')\n```")
HOSTILE_PROMPT = "demo-p00007"


@pytest.fixture()
def db(tmp_path, monkeypatch):
    """A small demo benchmark in which the strong RM's top pick of one prompt is HTML."""
    demo = generate_demo(n_prompts=60, n_responses=16)
    frame = demo.frame.copy()
    rows = np.flatnonzero(frame["prompt_id"] == HOSTILE_PROMPT)
    top = rows[np.argmax(frame.loc[rows, "strong_rm"].to_numpy())]
    frame["response"] = frame["response"].astype(object)
    frame.loc[top, "response"] = HOSTILE
    path = tmp_path / "t.duckdb"
    import_frame(Store(path), frame, "demo", demo.oracle_columns, demo.rm_columns)
    monkeypatch.setenv("RETA_DB", str(path))
    st.cache_data.clear()
    st.cache_resource.clear()
    return path


def inspector_app(**state) -> AppTest:
    at = app()
    at.switch_page("pages/inspector.py")
    at.session_state["rm"] = ["strong_rm", "noisy_small_rm", "reward_hacked_rm"]
    for key, value in state.items():
        at.session_state[key] = value
    return at


def loaded(db):
    pool = Store(db).load_pool("demo")
    return pool, Evaluation(pool, "judge_score").rankings()


def test_prompts_largest_shortfall_first_then_lowest_reta(db):
    at = inspector_app(eta=0.25)
    at.run()
    no_errors(at)
    assert at.selectbox(key="rm_a").value == "strong_rm" and at.selectbox(key="rm_b").value is None
    assert at.number_input(key="eta").value == pytest.approx(0.25)
    assert at.selectbox(key="order").value == "shortfall"  # the order that finds real failures
    pool, rankings = loaded(db)
    table = P.prompt_table(pool, rankings["strong_rm"], 0.25)
    shown = at.dataframe[0].value
    assert shown["shortfall"].fillna(-np.inf).is_monotonic_decreasing
    assert at.selectbox(key="prompt").value == shown["prompt_id"].iloc[0]  # opens the worst shortfall
    assert at.query_params["order"] == "shortfall" and at.query_params["prompt"] == shown["prompt_id"].iloc[0]
    assert at.query_params["resp"] == at.selectbox(key="resp").value  # the opened response is in the URL
    at.selectbox(key="order").set_value("reta").run()
    no_errors(at)
    expected = table.sort_values("reta", kind="stable")
    shown = at.dataframe[0].value
    assert list(shown["prompt_id"]) == list(expected["prompt_id"])
    np.testing.assert_allclose(shown["reta"], expected["reta"], rtol=1e-12)
    assert shown["reta"].is_monotonic_increasing and at.query_params["order"] == "reta"


def test_a_link_reopens_the_sort_order_and_the_response(db):
    at = inspector_app()
    for key, value in {"eta": "0.25", "order": "prompt", "prompt": "demo-p00003", "resp": "demo-p00003-r005"}.items():
        at.query_params[key] = value
    at.run()
    no_errors(at)
    assert at.selectbox(key="order").value == "prompt" and at.selectbox(key="prompt").value == "demo-p00003"
    assert at.selectbox(key="resp").value == "demo-p00003-r005"


def test_search_filters_the_prompts(db):
    at = inspector_app(_insp_search="RAINY weekend")
    at.run()
    no_errors(at)
    shown = at.dataframe[0].value
    prompts = Store(db).load_prompts("demo").set_index("prompt_id")["prompt"]
    assert 0 < len(shown) < 60
    assert all("rainy weekend" in prompts[p].lower() for p in shown["prompt_id"])
    at.text_input(key="_insp_search").set_value("no such words anywhere").run()
    no_errors(at)
    assert any("No prompt matches" in i.value for i in at.info)


def test_chosen_prompt_shows_its_responses_in_rm_order(db):
    at = inspector_app(eta=0.2, prompt="demo-p00031", rm_a="reward_hacked_rm")
    at.run()
    no_errors(at)
    pool, rankings = loaded(db)
    index = list(pool.prompt_ids).index("demo-p00031")
    expected = P.prompt_responses(pool, rankings["reward_hacked_rm"], index, 0.2)
    shown = at.dataframe[1].value
    np.testing.assert_allclose(shown["rm_score"], expected["rm_score"])
    assert shown["rm_score"].is_monotonic_decreasing
    assert list(shown["in_top"]) == list(expected["in_top"])
    np.testing.assert_allclose(shown["weight"], expected["weight"])
    np.testing.assert_allclose(shown["oracle_score"], expected["oracle_score"])
    assert shown["in_top"].sum() == 4  # eta N = 0.2 * 16 = 3.2: three whole and a share of the fourth
    texts = Store(db).load_responses("demo", "demo-p00031").set_index("response_id")["response"]
    assert shown["preview"].iloc[0] == P.preview(texts[expected["response_id"].iloc[0]])
    # the RM's top pick is open, in full
    assert at.selectbox(key="resp").value == expected["response_id"].iloc[0]
    assert any(c.value == texts[expected["response_id"].iloc[0]] for c in at.code)
    # per-prompt figures are the engine's
    metrics_shown = {m.label: m.value for m in at.metric}
    row = P.prompt_table(pool, rankings["reward_hacked_rm"], 0.2).iloc[index]
    assert metrics_shown["RETA of this prompt"] == f"{row['reta']:.3f}"


def test_html_in_a_response_is_shown_as_text(db):
    at = inspector_app(prompt=HOSTILE_PROMPT)
    at.run()
    no_errors(at)
    assert any(c.value == HOSTILE for c in at.code)  # the top pick, opened as text
    for element in list(at.markdown) + list(at.caption):
        assert "<script>" not in element.value and "<b>bold" not in element.value
    assert not any(getattr(m.proto, "allow_html", False) for m in at.markdown)
    assert all(HOSTILE not in str(d.value.to_numpy()) for d in at.dataframe)  # previews only


def test_two_rms_side_by_side(db):
    at = inspector_app(eta=0.25, rm_b="reward_hacked_rm", order="gap")
    at.run()
    no_errors(at)
    pool, rankings = loaded(db)
    expected = P.prompt_table(pool, rankings["strong_rm"], 0.25, other=rankings["reward_hacked_rm"])
    shown = at.dataframe[0].value
    order = np.argsort(-expected["reta_gap"].abs().to_numpy(), kind="stable")
    assert list(shown["prompt_id"]) == list(expected["prompt_id"].iloc[order])
    np.testing.assert_allclose(shown["top_overlap"], expected["top_overlap"].iloc[order])
    prompt = shown["prompt_id"].iloc[0]
    assert at.selectbox(key="prompt").value == prompt
    index = list(pool.prompt_ids).index(prompt)
    a = P.prompt_responses(pool, rankings["strong_rm"], index, 0.25)
    b = P.prompt_responses(pool, rankings["reward_hacked_rm"], index, 0.25)
    top_a, top_b = set(a.loc[a["in_top"], "response_id"]), set(b.loc[b["in_top"], "response_id"])
    picks_a, picks_b = at.dataframe[2].value, at.dataframe[3].value
    assert set(picks_a["response_id"]) == top_a and set(picks_b["response_id"]) == top_b
    assert set(picks_a.loc[picks_a["shared"], "response_id"]) == top_a & top_b
    assert set(picks_b.loc[picks_b["shared"], "response_id"]) == top_a & top_b
    shown_metrics = {m.label: m.value for m in at.metric}
    mean_a = (a["weight"] * a["oracle_score"]).sum() / a["weight"].sum()
    assert shown_metrics["strong_rm: top-eta oracle mean"] == f"{mean_a:.3f}"
    # sorting by overlap
    at.selectbox(key="order").set_value("overlap").run()
    no_errors(at)
    assert at.dataframe[0].value["top_overlap"].is_monotonic_increasing


@pytest.mark.parametrize("params", [
    {"prompt": "no-such-prompt", "eta": "abc", "rm_a": "nope", "rm_b": "nope"},
    {"prompt": "", "eta": "5"},
])
def test_bad_url_values_do_not_crash(db, params):
    at = inspector_app()
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    no_errors(at)
    assert 0 < at.session_state["eta"] <= 1
    assert at.session_state["rm_a"] == "strong_rm" and at.session_state["rm_b"] is None
    assert at.session_state["prompt"] == at.dataframe[0].value["prompt_id"].iloc[0]
    assert any("not in this benchmark" in w.value for w in at.warning)


# --------------------------------------------------------------------- per-prompt helpers
@pytest.fixture(scope="module")
def small():
    demo = generate_demo(n_prompts=30, n_responses=10, seed=5)
    pool = Pool.from_frame(demo.frame, demo.oracle_columns, demo.rm_columns, category_col="category")
    prompts = demo.frame.drop_duplicates("prompt_id")[["prompt_id", "prompt"]].astype(str)
    return pool, Evaluation(pool, "judge_score").rankings(), prompts, demo.frame


def test_prompt_list_orders_and_search(small):
    pool, rankings, prompts, _ = small
    table = P.prompt_table(pool, rankings["strong_rm"], 0.3, other=rankings["random_rm"])
    worst = P.prompt_list(table, prompts)
    assert worst["reta"].is_monotonic_increasing and worst["prompt"].notna().all()
    gap = P.prompt_list(table, prompts, order="gap")
    assert gap["reta_gap"].abs().is_monotonic_decreasing
    kept = P.prompt_list(table, prompts, search="P00003", order="prompt")
    assert list(kept["prompt_id"]) == ["demo-p00003"]
    assert P.prompt_list(table, prompts, search="(").empty  # literal, not a regex
    with pytest.raises(Exception, match="second RM"):
        P.prompt_list(P.prompt_table(pool, rankings["strong_rm"], 0.3), prompts, order="gap")
    with pytest.raises(Exception, match="unknown prompt order"):
        P.prompt_list(table, prompts, order="best")


def test_top_eta_oracle_mean_is_the_prompts_top_mean(small):
    pool, rankings, _, _ = small
    table = P.prompt_table(pool, rankings["length_biased_rm"], 0.35)
    for index in (0, 7, 19):
        responses = P.prompt_responses(pool, rankings["length_biased_rm"], index, 0.35)
        top = P.top_eta_oracle_mean(responses)
        assert top == pytest.approx(table["reta"].iloc[index] * table["mu"].iloc[index])


def test_cut_score_separates_inside_from_outside(small):
    pool, rankings, _, _ = small
    responses = P.prompt_responses(pool, rankings["strong_rm"], 3, 0.3)
    cut = P.cut_score(responses)
    assert responses.loc[responses["in_top"], "rm_score"].min() >= cut
    assert responses.loc[~responses["in_top"], "rm_score"].max() <= cut
    assert P.cut_score(P.prompt_responses(pool, rankings["strong_rm"], 3, 1.0)) is None
    tied = pd.DataFrame({"rm_score": [3.0, 2.0, 2.0, 1.0], "in_top": [True, True, True, False],
                         "weight": [1.0, 0.5, 0.5, 0.0]})
    assert P.cut_score(tied) == pytest.approx(1.5)


def test_with_texts_and_top_eta_picks(small):
    pool, rankings, _, frame = small
    a = P.prompt_responses(pool, rankings["strong_rm"], 2, 0.3)
    b = P.prompt_responses(pool, rankings["reward_hacked_rm"], 2, 0.3)
    texts = frame[frame["prompt_id"] == pool.prompt_ids[2]][["response_id", "response"]]
    full = P.with_texts(a, texts.iloc[::-1], limit=40)
    lookup = texts.set_index("response_id")["response"]
    assert list(full["text"]) == [lookup[r] for r in a["response_id"]]
    assert all(len(p) <= 40 and "\n" not in p for p in full["preview"])
    picks = P.top_eta_picks(a, b)
    assert list(picks["response_id"]) == list(a.loc[a["in_top"], "response_id"])
    assert set(picks.loc[picks["shared"], "response_id"]) == \
        set(a.loc[a["in_top"], "response_id"]) & set(b.loc[b["in_top"], "response_id"])


def test_eta_and_rms_carry_over_from_the_curves_page(db):
    at = app()
    at.switch_page("pages/curves.py")
    at.run()
    at.number_input(key="eta").set_value(0.37).run()
    at.selectbox(key="rm_a").set_value("random_rm").run()
    no_errors(at)
    at.switch_page("pages/inspector.py").run()
    no_errors(at)
    assert at.number_input(key="eta").value == pytest.approx(0.37)
    assert at.selectbox(key="rm_a").value == "random_rm"
    pool, rankings = loaded(db)
    table = P.prompt_table(pool, rankings["random_rm"], 0.37)
    expected = table.iloc[np.argsort(-table["shortfall"].fillna(-np.inf).to_numpy(), kind="stable")]
    assert list(at.dataframe[0].value["prompt_id"]) == list(expected["prompt_id"])
