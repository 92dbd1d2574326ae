"""Tests of the tables the pages and the command line show (reta_core.reports, through
the Evaluation seam; the inspector's tables of reta_core.prompts; the readings)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from reta_core import metrics as M
from reta_core import prompts, readings, reports, scorers
from reta_core.errors import RetaInputError
from reta_core.evaluation import Evaluation
from reta_core.reports import LEADERBOARD_ETAS, eta_label
from reta_core.scorers import rms_not_beating_length
from tests.builders import make_pool, random_pool

# demo_pool (120 prompts x 16 responses of the demo generator) is in conftest.py


def test_leaderboard_numbers_are_the_engines(demo_pool):
    evaluation = Evaluation(demo_pool)
    board = evaluation.leaderboard(n_boot=300)
    table = board.table.set_index("rm")
    curves = evaluation.curves(etas=list(LEADERBOARD_ETAS)).table.set_index(["rm", "eta"])
    for rm in demo_pool.rms:
        for eta in LEADERBOARD_ETAS:
            assert table.loc[rm, eta_label(eta)] == pytest.approx(curves.loc[(rm, eta), "reta"])
            assert table.loc[rm, f"{eta_label(eta)}_low"] <= table.loc[rm, eta_label(eta)] \
                <= table.loc[rm, f"{eta_label(eta)}_high"]
    assert board.n == 16
    bon = evaluation.bon(16).table.set_index("rm")["bon"]
    np.testing.assert_allclose(table.loc[bon.index, "bon"], bon)
    base = evaluation.baselines().table.set_index("rm")
    np.testing.assert_allclose(table.loc[base.index, "kendall"], base["kendall"])
    # sorted by RETA(eta*), and eta* is where the RM's own curve peaks
    assert board.table["reta_at_eta_star"].is_monotonic_decreasing
    curve = board.curves[board.curves["rm"] == "length_biased_rm"]
    assert table.loc["length_biased_rm", "reta_at_eta_star"] == pytest.approx(curve["reta"].max())
    assert table.loc["length_biased_rm", "eta_star"] > 0.1
    assert table.loc["strong_rm", "gain"] == pytest.approx(0.0)


def test_rms_not_beating_length_baseline():
    table = pd.DataFrame({"rm": ["baseline_length", "good", "weak", "baseline_random"],
                          "is_baseline": [True, False, False, True],
                          "reta_at_eta_star": [1.2, 1.5, 1.1, 1.0]})
    assert rms_not_beating_length(table) == ["weak"]
    assert rms_not_beating_length(table[table["rm"] != "baseline_length"]) == []


def test_optimal_reading_sentences():
    assert readings.optimal_reading("rm", 0.12, 0.1, 0.09, 0.01) == \
        "rm: select uniformly from its top 12%: +9% over its top pick."
    assert "trust its top pick" in readings.optimal_reading("rm", 0.01, 0.0, 0.0, 0.01)


def test_category_reta_matches_per_category_pools(demo_pool):
    table = Evaluation(demo_pool).category_table(0.1).set_index(["rm", "category"])
    for category in ("chat", "coding"):
        sub = demo_pool.select_category(category)
        expected = Evaluation(sub).curves(etas=[0.1]).table.set_index("rm")
        for rm in demo_pool.rms:
            assert table.loc[(rm, category), "reta"] == pytest.approx(expected.loc[rm, "reta"])
            assert table.loc[(rm, category), "n_prompts"] == expected.loc[rm, "n_prompts"]


def test_stability_study_table(demo_pool):
    ticks = []
    table = Evaluation(demo_pool).stability(
        0.25, ["strong_rm"], repeats=50,
        progress=lambda done, total, message="": ticks.append((done, total)))
    assert reports.stability_sizes(16) == [2, 4, 8, 16]
    assert sorted(table["n"].unique()) == [2, 4, 8, 16]
    assert ticks[-1] == (4 * 50, 4 * 50)
    bon8 = table[(table["n"] == 8) & (table["estimator"] == "BoN@n")].iloc[0]
    assert bon8["exact"] == pytest.approx(Evaluation(demo_pool).bon(8, ["strong_rm"]).table["bon"].iloc[0])
    reta8 = table[(table["n"] == 8) & (table["estimator"] == "RETA@0.25")].iloc[0]
    assert reta8["k"] == 2
    # at n = N every resample is the pool itself: no spread, mean = exact
    full = table[table["n"] == 16]
    assert np.allclose(full["std"], 0) and np.allclose(full["mean"], full["exact"])
    assert "where RETA@0.25 averages more than one response (n = 8)" in readings.stability_reading(table)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([0.05, 0.2, 1 / 3, 0.5, 0.9]))
def test_top_eta_weights_reproduce_top_mean(seed, eta):
    pool = random_pool(np.random.default_rng(seed), n_prompts=6, sizes=(2, 9), nan_rate=0.1)
    ranking = Evaluation(pool, "j").ranking("rm0")
    weight, _, _ = M.top_eta_weights(ranking, eta, pool.n_responses)
    top = M.top_eta_mean(ranking, [eta])[:, 0]
    j = np.nan_to_num(pool.oracles["j"])
    codes = pool.prompt_codes
    counted = ~np.isnan(weight)
    mass = np.bincount(codes[counted], weights=(weight * j)[counted], minlength=pool.n_prompts)
    total = np.bincount(codes[counted], weights=weight[counted], minlength=pool.n_prompts)
    has = ranking.n_counted > 0
    # the weights of a prompt sum to m = eta N_q and reproduce T_q(eta)
    np.testing.assert_allclose(total[has], np.maximum(eta * ranking.n_counted[has], 0), rtol=1e-12)
    np.testing.assert_allclose(mass[has] / total[has], top[has], rtol=1e-12)


def test_prompt_responses_hand_case():
    pool = make_pool([[1, 2, 3, 4]], {"y": [[0.1, 0.2, 0.2, 0.9]]})
    evaluation = Evaluation(pool, "j")
    table = evaluation.prompt_responses("y", 0, 0.5)  # m = 2: rank 1, then half of the tie
    assert table["oracle_score"].tolist()[0] == 4
    assert table["rank"].tolist() == [1.0, 2.5, 2.5, 4.0]
    assert table["weight"].tolist() == [1.0, 0.5, 0.5, 0.0]
    assert table["in_top"].tolist() == [True, True, True, False]
    with pytest.raises(RetaInputError, match="out of range"):
        evaluation.prompt_responses("y", 5, 0.5)


def test_prompt_table_with_second_rm():
    pool = make_pool([[1, 2, 3, 4], [4, 3, 2, 1]], {"a": [[1, 2, 3, 4], [4, 3, 2, 1]],
                                                    "b": [[4, 3, 2, 1], [4, 3, 2, 1]]})
    table = Evaluation(pool, "j").prompt_table("a", 0.5, "b")
    # prompt 0: a takes {3, 4}, b takes {1, 2}: no overlap; prompt 1: both take {4, 3}
    assert table["top_overlap"].tolist() == [0.0, 1.0]
    assert table["reta"].tolist() == [pytest.approx(3.5 / 2.5), pytest.approx(3.5 / 2.5)]
    assert table["reta_gap"].tolist()[0] == pytest.approx((3.5 - 1.5) / 2.5)


def test_leaderboard_progress_and_an_rm_that_scores_nothing(demo_pool):
    empty = demo_pool.with_rms({"unscored_rm": np.full(demo_pool.n_responses, np.nan)})
    ticks = []
    board = Evaluation(empty).leaderboard(
        ["strong_rm", "unscored_rm", "random_rm"], n_boot=100,
        progress=lambda done, total, message="": ticks.append((done, total)))
    assert ticks == [(1, 3), (2, 3), (3, 3)]
    table = board.table.set_index("rm")
    assert table.loc["unscored_rm", "n_prompts"] == 0 and np.isnan(table.loc["unscored_rm", "reta_0.1"])
    assert table.loc["strong_rm", "n_prompts"] == 120
    assert set(board.excluded.loc[board.excluded["rm"] == "unscored_rm", "reason"]) == {M.REASON_FEW}


def test_a_partly_scored_rm_changes_no_other_rms_numbers(demo_pool):
    before = Evaluation(demo_pool).leaderboard(["strong_rm", "reward_hacked_rm"], n_boot=200).table.set_index("rm")
    partial = demo_pool.oracles["judge_score"] + np.random.default_rng(0).normal(size=demo_pool.n_responses)
    partial[np.random.default_rng(1).random(demo_pool.n_responses) < 0.3] = np.nan  # pools of ~11 of 16
    with_partial = demo_pool.with_rms({"partial_rm": partial})
    board = Evaluation(with_partial).leaderboard(["strong_rm", "reward_hacked_rm", "partial_rm"], n_boot=200)
    after = board.table.set_index("rm")
    assert board.n == 16 and board.min_pool_size == 16  # the benchmark's pools, not the partial RM's
    for col in ("eta_star", "reta_at_eta_star", "gain", "bon", "reta_0.05", "reta_0.05_low"):
        np.testing.assert_allclose(after.loc[before.index, col], before[col], rtol=1e-12, err_msg=col)
    # the partial RM is judged on its own pools: BoN@16 has no prompt with 16 scored responses left
    assert np.isnan(after.loc["partial_rm", "bon"]) or after.loc["partial_rm", "n_prompts"] > 0
    assert after.loc["partial_rm", "eta_star"] >= 1 / 16


def test_prompt_list_by_shortfall_from_the_perfect_ranking():
    # prompt 0: the RM picks the best response (no shortfall) in a pool with a high mean;
    # prompt 1: the RM picks the worst one.  Lowest RETA would put prompt 0 first.
    pool = make_pool([[9, 10, 10, 10], [1, 5, 2, 2]], {"y": [[0, 1, 2, 3], [3, 0, 1, 2]]})
    table = Evaluation(pool, "j").prompt_table("y", 0.25)
    assert table["shortfall"].tolist() == [pytest.approx(0.0), pytest.approx((5 - 1) / 2.5)]
    texts = pd.DataFrame({"prompt_id": ["p0", "p1"], "prompt": ["a", "b"]})
    assert prompts.prompt_list(table, texts, order="shortfall")["prompt_id"].tolist() == ["p1", "p0"]


def test_optimal_table_reads_a_noise_peak_as_noise(demo_pool):
    table = Evaluation(demo_pool).optimal_quantiles(["length_biased_rm", "random_rm", "strong_rm"],
                                                    n_boot=300).set_index("rm")
    assert table.loc["length_biased_rm", "gain_ci_low"] > 0
    assert table.loc["length_biased_rm", "reading"].startswith("length_biased_rm: select uniformly from its top")
    random = table.loc["random_rm"]
    if random["eta_star"] > random["eta_min"]:
        assert random["gain_ci_low"] <= 0
    # §7 reading rule: the band of RETA(eta*) holds 1, so no quantile advice at all
    assert random["vs_random"] == "no better" and random["ci_low"] <= 1 <= random["ci_high"]
    assert random["reading"].startswith("random_rm: no better than random at any quantile")
    assert "select uniformly" not in random["reading"] and "+" not in random["reading"]
    assert table.loc["strong_rm", "vs_random"] == "better"
    assert "trust its top pick" in table.loc["strong_rm", "reading"]
    assert "within noise" in readings.optimal_reading("rm", 0.3, 0.01, 0.01, 0.02, gain_ci_low=-0.02)


def test_reliability_map_bands_counts_and_empty_bins():
    """§8 by hand: one prompt of 4 responses, oracle 4, 2, 2, 0 (mu 2) in RM order, 8 bins:
    u = 1/8, 3/8, 5/8, 7/8 fall in bins 1, 3, 5, 7 (1-based), so bins 2, 4, 6, 8 are empty."""
    pool = make_pool([[4, 2, 2, 0]], {"y": [[4, 3, 2, 1]]})
    table = Evaluation(pool, "j").reliability_map(["y"], bins=8, n_boot=50).table
    assert list(table["n_responses"]) == [1, 0, 1, 0, 1, 0, 1, 0]
    np.testing.assert_allclose(table["mean_normalized_oracle"].to_numpy()[::2], [2.0, 1.0, 1.0, 0.0])
    assert table["mean_normalized_oracle"].iloc[1::2].isna().all()  # empty: missing, never 0
    assert table["ci_low"].iloc[1::2].isna().all()
    # one prompt: every resample is that prompt, so each band is the point
    np.testing.assert_allclose(table["ci_low"].to_numpy()[::2], [2.0, 1.0, 1.0, 0.0])
    assert Evaluation(pool, "j").default_bins == 4  # min(20, min N)


def test_reliability_dip_is_called_out_only_outside_the_band(demo_pool):
    rel = Evaluation(demo_pool).reliability_map(["strong_rm", "reward_hacked_rm", "random_rm"], n_boot=300).table
    for rm, g in rel.groupby("rm"):
        assert (g["ci_low"] <= g["mean_normalized_oracle"] + 1e-12).all()
        assert (g["mean_normalized_oracle"] <= g["ci_high"] + 1e-12).all()
    dips = reports.top_dips(rel)
    assert "reward_hacked_rm" in set(dips["rm"]) and not {"strong_rm", "random_rm"} & set(dips["rm"])
    text = readings.reliability_reading(dips, 16)
    assert "reward_hacked_rm" in text and "outside the 95 % bands" in text
    # a noise dip (bands overlap) is not called out
    noisy = pd.DataFrame({"rm": "a", "bin": [0, 1, 2, 3], "mean_normalized_oracle": [0.9, 1.1, 1.0, 1.0],
                          "n_responses": 10, "ci_low": [0.7, 0.85, 0.8, 0.8], "ci_high": [1.1, 1.3, 1.2, 1.2],
                          "u_low": 0, "u_high": 1})
    assert reports.top_dips(noisy).empty
    # bins without a band (too few prompts to resample) never call a dip, nor fail
    assert reports.top_dips(noisy.assign(ci_low=np.nan)).empty
    assert "no dip at the top" in readings.reliability_reading(reports.top_dips(noisy), 4)


def test_display_helpers_and_the_band_based_length_warning():
    assert readings.band(-0.9444, -0.6731) == "-0.944 to -0.673"  # not "-0.944–-0.673"
    assert readings.band(0.9, 1.034) == "0.900–1.034" and readings.band(np.nan, 1.0) == "-"
    assert readings.number(-0.00001) == "0.0000" and readings.number(-0.00001, sign=True) == "+0.0000"
    grid = M.default_eta_grid(11)
    assert all(len(f"{e:.15g}".lstrip("0.").rstrip("0")) <= 5 for e in grid[1:-1])  # 4 significant digits
    assert grid[0] == 1 / 11 and grid[-1] == 1.0 and np.all(np.diff(grid) > 1e-6)  # ends exact, no twins
    table = pd.DataFrame({"rm": ["a", "b", "baseline_length"], "reta_at_eta_star": [1.30, 1.21, 1.20],
                          "reta_at_eta_star_low": [1.25, 1.10, 1.15], "reta_at_eta_star_high": [1.35, 1.3, 1.24]})
    # b's point estimate is above the baseline's, but its band reaches below the baseline's band
    assert scorers.rms_not_beating_length(table) == ["b"]
    assert scorers.rms_not_beating_length(table.drop(columns=["reta_at_eta_star_low", "reta_at_eta_star_high"])) == []
