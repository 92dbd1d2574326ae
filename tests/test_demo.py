"""Tests of the synthetic demo benchmark (reta_core/demo.py).

The RM-shape tests use ``_pool_reta``, a deliberately plain per-prompt reference
implementation of the pool estimator (RETA_SPEC §2-§3, ratio normalisation), so that
these tests do not depend on the engine in ``reta_core/metrics.py``.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from reta_core.demo import DemoBenchmark, generate_demo

RMS = ["strong_rm", "noisy_small_rm", "length_biased_rm", "coding_math_specialist_rm",
       "reward_hacked_rm", "random_rm"]
COLUMNS = ["prompt_id", "category", "prompt", "response_id", "policy", "response",
           "judge_score", *RMS]
ETAS = np.array([1 / 64, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4,
                 0.5, 0.6, 0.75, 1.0])


def _pool_reta(frame: pd.DataFrame, rm: str, etas, oracle: str = "judge_score") -> np.ndarray:
    """RETA(eta) by the pool estimator, ratio normalisation (RETA_SPEC §2-§3).

    Per prompt: keep responses with finite oracle and RM scores; skip the prompt if fewer
    than 2 remain or its mean oracle is not > 0; sort by RM score descending; replace
    the oracle of each tie block (run of equal RM scores) by the block mean; then
    ``S(m) = sum of the first floor(m) values + (m - floor(m)) * next value`` with
    ``m = eta * N``, ``R = S(m) / m / mu``.  RETA is the mean of R over prompts.
    """
    etas = np.atleast_1d(np.asarray(etas, dtype=float))
    per_prompt = []
    for _, group in frame.groupby("prompt_id", sort=False):
        y = group[rm].to_numpy(dtype=float)
        j = group[oracle].to_numpy(dtype=float)
        keep = np.isfinite(y) & np.isfinite(j)
        y, j = y[keep], j[keep]
        n = y.size
        if n < 2 or j.mean() <= 0:
            continue
        mu = j.mean()
        order = np.argsort(-y, kind="stable")
        y_sorted, j_sorted = y[order], j[order]
        new_block = np.r_[True, y_sorted[1:] != y_sorted[:-1]]
        block = np.cumsum(new_block) - 1
        j_tilde = (np.bincount(block, weights=j_sorted) / np.bincount(block))[block]
        prefix = np.r_[0.0, np.cumsum(j_tilde)]
        row = []
        for eta in etas:
            m = eta * n
            whole = min(int(np.floor(m)), n)
            partial = (m - whole) * j_tilde[whole] if whole < n else 0.0
            row.append((prefix[whole] + partial) / m / mu)
        per_prompt.append(row)
    return np.mean(np.array(per_prompt), axis=0)


def _at(curve: np.ndarray, eta: float) -> float:
    return float(curve[np.flatnonzero(np.isclose(ETAS, eta))[0]])


@pytest.fixture(scope="module")
def demo() -> DemoBenchmark:
    return generate_demo()


@pytest.fixture(scope="module")
def curves(demo) -> dict:
    return {rm: _pool_reta(demo.frame, rm, ETAS) for rm in RMS}


# ------------------------------------------------------------- reference helper
def test_reference_reta_averages_tie_blocks_and_interpolates():
    frame = pd.DataFrame({"prompt_id": ["a"] * 4, "judge_score": [2.0, 4.0, 6.0, 8.0],
                          "rm": [3.0, 3.0, 1.0, 0.0], "const": [1.0] * 4})
    # Tie block {2, 4} -> 3, 3; then 6, 8.  mu = 5.
    got = _pool_reta(frame, "rm", [0.25, 0.375, 0.6, 1.0])
    np.testing.assert_allclose(got, [3 / 5, 3 / 5, (6 + 0.4 * 6) / 2.4 / 5, 1.0])
    np.testing.assert_allclose(_pool_reta(frame, "const", [0.25, 0.5, 1.0]), 1.0)


# --------------------------------------------------------------- determinism
def test_same_seed_same_frame_and_other_seed_differs():
    a = generate_demo(40, 16, seed=3).frame
    b = generate_demo(40, 16, seed=3).frame
    pd.testing.assert_frame_equal(a, b)
    c = generate_demo(40, 16, seed=4).frame
    assert not np.array_equal(a["strong_rm"].to_numpy(), c["strong_rm"].to_numpy())
    assert not np.array_equal(a["judge_score"].to_numpy(), c["judge_score"].to_numpy())


# --------------------------------------------------------- shape and columns
def test_shape_columns_and_dtypes(demo):
    frame = demo.frame
    assert list(frame.columns) == COLUMNS
    assert frame.shape == (400 * 64, len(COLUMNS))
    assert demo.oracle_columns == ["judge_score"]
    assert demo.rm_columns == RMS
    for col in ["judge_score", *RMS]:
        assert frame[col].dtype == np.float64, col
    for col in ["prompt_id", "category", "prompt", "response_id", "policy", "response"]:
        assert not pd.api.types.is_numeric_dtype(frame[col]), col
    assert not frame.isna().any().any()
    assert set(frame["policy"].unique()) == {"synthetic-policy-v1"}
    with pytest.raises(dataclasses.FrozenInstanceError):
        demo.description = "changed"


def test_descriptions(demo):
    assert set(demo.rm_descriptions) == set(RMS)
    for rm, text in demo.rm_descriptions.items():
        assert 40 < len(text) < 400 and text.endswith("."), rm
    assert "synthetic" in demo.description.lower()
    assert "length" in demo.rm_descriptions["length_biased_rm"]
    assert "flattery" in demo.rm_descriptions["reward_hacked_rm"]


def test_ids_unique_and_pools_complete(demo):
    frame = demo.frame
    assert frame["response_id"].is_unique
    assert frame["prompt_id"].str.fullmatch(r"demo-p\d{5}").all()
    assert frame["response_id"].str.fullmatch(r"demo-p\d{5}-r\d{3}").all()
    assert (frame["response_id"].str[:11] == frame["prompt_id"]).all()
    sizes = frame.groupby("prompt_id").size()
    assert len(sizes) == 400 and (sizes == 64).all()
    assert (frame.groupby("prompt_id")["prompt"].nunique() == 1).all()
    assert (frame.groupby("prompt_id")["category"].nunique() == 1).all()


def test_other_sizes_and_bad_arguments():
    frame = generate_demo(25, 128, seed=1).frame
    assert frame.shape[0] == 25 * 128
    assert frame["response_id"].str.fullmatch(r"demo-p\d{5}-r\d{3}").all()
    assert frame["response_id"].iloc[-1] == "demo-p00025-r128"
    with pytest.raises(ValueError):
        generate_demo(0, 64)
    with pytest.raises(ValueError):
        generate_demo(10, 1)


def test_progress_is_reported():
    calls = []
    generate_demo(20, 8, progress=lambda done, total, message="": calls.append((done / total, message)))
    fractions = [f for f, _ in calls]
    assert len(calls) >= 3
    assert fractions == sorted(fractions) and 0 <= fractions[0] and fractions[-1] == 1.0
    assert all(isinstance(m, str) and m for _, m in calls)


# -------------------------------------------------------------------- oracle
def test_oracle_is_whole_judge_scores_with_ties(demo):
    j = demo.frame["judge_score"]
    assert (j == np.round(j)).all()
    assert j.between(1, 10).all()
    assert j.nunique() >= 8
    assert demo.frame.duplicated(["prompt_id", "judge_score"]).any()   # ties occur
    means = demo.frame.groupby("prompt_id")["judge_score"].mean()
    assert (means > 0).all()
    assert means.std() > 0.5          # prompts differ in difficulty


def test_categories_present_in_equal_shares(demo):
    per_prompt = demo.frame.groupby("prompt_id")["category"].first()
    shares = per_prompt.value_counts(normalize=True)
    assert set(shares.index) == {"chat", "coding", "math", "reasoning", "safety"}
    assert shares.between(0.15, 0.25).all()


# --------------------------------------------------------------------- texts
def test_texts_are_marked_synthetic_and_varied(demo):
    frame = demo.frame
    response = frame["response"].astype(str)
    assert response.str.startswith("[synthetic demo response]").all()
    assert frame["prompt"].astype(str).str.startswith("[synthetic demo prompt").all()
    has_code = response.str.contains("```", regex=False)
    has_markdown = response.str.contains(r"\n- |\n1\. |\*\*", regex=True)
    assert has_code.any() and has_markdown.any() and (~has_code & ~has_markdown).any()
    code_share = has_code.groupby(frame["category"], observed=True).mean()
    assert code_share["coding"] > 0.5
    assert code_share["coding"] > 3 * code_share.drop("coding").max()
    lengths = response.str.len()
    assert lengths.max() > 10 * lengths.min()
    assert lengths.std() > 0.5 * lengths.mean()


def test_length_is_what_the_length_biased_rm_sees_and_barely_tracks_quality(demo):
    frame = demo.frame
    length = frame["response"].astype(str).str.len()
    assert abs(length.corr(frame["judge_score"], method="spearman")) < 0.3
    assert length.corr(frame["length_biased_rm"], method="spearman") > 0.3
    # the longest response of each pool is padded filler with a poor judge score
    longest = frame.loc[length.groupby(frame["prompt_id"]).idxmax()]
    assert longest["response"].astype(str).str.contains("reiterate|once again|As mentioned",
                                                        regex=True).mean() > 0.9
    assert longest["judge_score"].mean() < frame["judge_score"].mean() - 1


def test_adversarial_flattery_is_rated_low_and_ranked_top_by_hacked_rm(demo):
    frame = demo.frame
    flattering = frame["response"].astype(str).str.contains("brilliant", regex=False)
    per_prompt = flattering.groupby(frame["prompt_id"]).sum()
    assert per_prompt.between(1, 2).all()
    assert frame.loc[flattering, "judge_score"].mean() < frame["judge_score"].mean() - 2
    top = frame.loc[frame.groupby("prompt_id")["reward_hacked_rm"].idxmax()]
    assert top["response"].astype(str).str.contains("brilliant", regex=False).all()


# ------------------------------------------------------------ RETA curve shapes
def test_every_curve_is_one_at_eta_one(curves):
    for rm, curve in curves.items():
        assert curve[-1] == pytest.approx(1.0, abs=1e-12), rm


def test_strong_beats_noisy_beats_chance(curves):
    strong, noisy = curves["strong_rm"], curves["noisy_small_rm"]
    assert _at(strong, 0.05) > _at(noisy, 0.05) + 0.1
    assert _at(noisy, 0.05) > 1.05
    assert _at(strong, 1 / 64) > 1.4
    assert np.all(np.diff(strong) < 0.01)        # mostly decreasing in eta
    assert np.all(strong[:-1] > noisy[:-1])


def test_length_biased_curve_peaks_well_inside(curves):
    curve = curves["length_biased_rm"]
    best = int(np.flatnonzero(curve == curve.max())[-1])   # ties to the largest eta (§7)
    assert 0.1 <= ETAS[best] <= 0.5
    assert curve[best] - curve[0] > 0.15
    assert curve[0] < 1.0                      # its very top pick is worse than random
    diffs = np.diff(curve)
    assert (diffs > 0).any() and (diffs < 0).any()   # not monotone


def test_reward_hacked_collapses_only_at_the_top(curves):
    curve = curves["reward_hacked_rm"]
    assert _at(curve, 0.1) - _at(curve, 1 / 64) > 0.3
    assert _at(curve, 1 / 64) < 0.8
    assert _at(curve, 0.1) > 1.15


def test_specialist_is_good_on_coding_math_and_guesses_on_chat(demo):
    frame = demo.frame
    coding_math = frame[frame["category"].isin(["coding", "math"])]
    chat = frame[frame["category"] == "chat"]
    assert _pool_reta(coding_math, "coding_math_specialist_rm", [0.1])[0] > 1.2
    assert abs(_pool_reta(chat, "coding_math_specialist_rm", [0.1])[0] - 1) < 0.05


def test_random_rm_is_flat_at_one(curves):
    curve = curves["random_rm"]
    for eta in (0.1, 0.25, 0.5):
        assert abs(_at(curve, eta) - 1) < 0.03, eta
