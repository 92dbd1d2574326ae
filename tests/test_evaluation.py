"""The seam (reta_core.evaluation.Evaluation): what it owns and derives in one place,
checked on hand-built pools."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reta_core import Evaluation, RetaInputError, metrics, readings
from reta_core.pool import Pool


def pool_of(oracle_groups, rms) -> Pool:
    sizes = [len(g) for g in oracle_groups]
    flat = lambda groups: np.array([v for g in groups for v in g], dtype=float)  # noqa: E731
    return Pool(prompt_ids=np.array([f"p{i}" for i in range(len(sizes))], dtype=object),
                offsets=np.concatenate([[0], np.cumsum(sizes)]),
                response_ids=np.array([f"r{i}" for i in range(sum(sizes))], dtype=object),
                oracles={"J": flat(oracle_groups)}, rms={k: flat(v) for k, v in rms.items()},
                categories=np.array(["a", "b", "a"][: len(sizes)], dtype=object))


# three prompts: pools of 4, 3 and 5; p1's oracle mean is 0 (does not count for ratio)
POOL = pool_of([[9, 7, 5, 3], [1, 0, -1], [1, 2, 3, 4, 5]],
               {"good": [[4, 3, 2, 1], [3, 2, 1], [1, 2, 3, 4, 5]],
                "partial": [[1, 2, np.nan, np.nan], [1, 2, 3], [5, 4, 3, 2, 1]]})


def test_defaults_are_derived_once_from_the_pool_and_the_oracle():
    ev = Evaluation(POOL, "J")
    # ratio: p1 (mean 0) does not count, so the smallest pool is 4; partly scored RMs change nothing
    assert ev.min_pool_size == 4 and ev.default_n == 4 and ev.lowest_eta == 0.25
    np.testing.assert_array_equal(ev.eta_grid(), metrics.default_eta_grid(4))
    assert 0.3 in ev.eta_grid(include=[0.3])
    assert Evaluation(POOL, "J", "difference").min_pool_size == 3  # every prompt counts
    # each RM's own smallest counted pool: 'partial' scores only 2 responses of p0
    assert ev.rm_min_pool_sizes() == {"good": 4, "partial": 2}


def test_hand_computed_curve_through_the_seam():
    ev = Evaluation(POOL, "J")
    # p0: good ranks 9,7,5,3 (mu 6): m = 1 and 2, T = 9 and 8.
    # p2: 5,4,3,2,1 (mu 3): m = 1.25, T = (5 + 0.25 * 4) / 1.25 = 4.8; m = 2.5, T = 10.5 / 2.5 = 4.2
    table = ev.curves(["good"], [0.25, 0.5]).table
    p0 = np.array([9 / 6, 8 / 6])
    p2 = np.array([4.8 / 3, 4.2 / 3])
    np.testing.assert_allclose(table["reta"], (p0 + p2) / 2, rtol=1e-12)
    assert list(table["n_prompts"]) == [2, 2]
    assert list(ev.excluded(["good"])["reason"]) == [metrics.REASON_MU]


def test_rankings_are_computed_once_and_results_do_not_depend_on_other_rms():
    ev = Evaluation(POOL, "J")
    assert ev.ranking("good") is ev.rankings(["good", "partial"])["good"]
    alone = ev.curves(["partial"], [0.5, 1.0], ci=True, n_boot=200).table
    both = ev.curves(["good", "partial"], [0.5, 1.0], ci=True, n_boot=200).table
    pd.testing.assert_frame_equal(alone.reset_index(drop=True),
                                  both[both["rm"] == "partial"].reset_index(drop=True))


def test_category_and_store_free_construction():
    ev = Evaluation(POOL, "J", category="a")
    assert list(ev.pool.prompt_ids) == ["p0", "p2"] and ev.category == "a"
    with pytest.raises(RetaInputError, match="unknown category 'z'; it has: a, b"):
        Evaluation(POOL, "J", category="z")
    assert Evaluation(POOL).oracle == "J"
    numbered = Pool(POOL.prompt_ids, POOL.offsets, POOL.response_ids, POOL.oracles, POOL.rms,
                    categories=np.array([1, 2, 1], dtype=object))  # e.g. Pool.from_frame of an int column
    assert Evaluation(numbered, "J", category="1").pool.n_prompts == 2
    assert Evaluation(numbered, "J", category=1).pool.n_prompts == 2


@pytest.mark.parametrize("call, message", [
    (lambda ev: ev.curves(["nope"]), "unknown RM 'nope'"),
    (lambda ev: ev.curves(etas=[0.5, 2]), "eta must lie in"),
    (lambda ev: ev.curves(n=3), "n applies to the exact estimator"),
    (lambda ev: ev.curves(estimator="magic"), "unknown estimator"),
    (lambda ev: ev.bon(9), "larger than every pool"),
    (lambda ev: ev.bon(0), "whole number >= 1"),
    (lambda ev: ev.compare("good", "good"), "two different RMs"),
    (lambda ev: ev.resampled(2, [0.5], repeats=1), "repeats must be a whole number >= 2"),
    (lambda ev: ev.reliability_map(bins=0), "bins must be a whole number >= 1"),
    (lambda ev: ev.curves(ci=True, n_boot=0), "bootstrap resamples must be a whole number >= 1"),
])
def test_every_option_is_checked_at_the_seam(call, message):
    with pytest.raises(RetaInputError, match=message):
        call(Evaluation(POOL, "J"))


def test_unknown_oracle_and_normalization():
    with pytest.raises(RetaInputError, match="unknown oracle 'K'"):
        Evaluation(POOL, "K")
    with pytest.raises(RetaInputError, match="unknown normalisation"):
        Evaluation(POOL, "J", "zscore")


def test_exact_estimator_defaults_n_to_the_smallest_pool():
    ev = Evaluation(POOL, "J")
    default = ev.curves(["good"], [0.5], estimator="exact").table
    explicit = ev.curves(["good"], [0.5], estimator="exact", n=4).table
    pd.testing.assert_frame_equal(default, explicit)
    assert ev.bon(rms=["good"]).table["n"].iloc[0] == 4


def test_optimal_reading_follows_the_normalization():
    ratio = readings.optimal_reading("rm", 0.3, 0.2, 0.25, 0.01)
    difference = readings.optimal_reading("rm", 0.3, 2.13, -2.01, 0.01, normalization="difference")
    assert ratio.endswith("+25% over its top pick.")
    assert "+2.13 (difference)" in difference and "%" not in difference.split("top 30%")[1]
