"""The seam (reta_core.evaluation.Evaluation): what it owns and derives in one place,
checked on hand-built pools."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from reta_core import Evaluation, RetaInputError, metrics, readings
from reta_core.pool import Pool


def pool_of(oracle_groups, rms) -> Pool:
    sizes = [len(g) for g in oracle_groups]
    flat = lambda groups: np.array([v for g in groups for v in g], dtype=float)  # noqa: E731
    return Pool(prompt_ids=np.array([f"p{i}" for i in range(len(sizes))], dtype=object),
                offsets=np.concatenate([[0], np.cumsum(sizes)]),
                response_ids=np.array([f"r{i}" for i in range(sum(sizes))], dtype=object),
                oracles={"J": flat(oracle_groups)}, rms={k: flat(v) for k, v in rms.items()},
                categories=np.array([("a", "b", "a")[i % 3] for i in range(len(sizes))], dtype=object))


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


# --------------------------------------------------------------------- recovery (§3)
def test_recovery_by_hand():
    """One prompt, oracle 9, 7, 5, 3 (mu 6); the RM ranks them 7, 9, 3, 5 (docs/metric.md
    §3's worked example): T = 7, 7.667, 8 at eta = 0.25, 0.375, 0.5; the perfect ranking
    T* = 9, 8.333, 8; recovery = (T - 6) / (T* - 6) = 1/3, 5/7, 1."""
    pool = pool_of([[9, 7, 5, 3]], {"y": [[3, 4, 1, 2]]})
    table = Evaluation(pool, "J", "recovery").curves(["y"], [0.25, 0.375, 0.5, 1.0]).table
    np.testing.assert_allclose(table["reta"].to_numpy()[:3], [1 / 3, 5 / 7, 1.0], rtol=1e-12)
    assert np.isnan(table["reta"].iloc[3])  # eta = 1: 0 / 0, missing, never a number


def test_the_whole_pool_is_its_mean_exactly():
    """At eta = 1 (pool) and wherever k = n (exact, §4) the top is the whole pool or
    subset, whose mean is mu_q exactly: ratio is exactly 1, difference exactly 0, and
    recovery's 0 / 0 is missing, never rounding noise divided by rounding noise (it
    printed numbers such as 0.96 at k = n before)."""
    rng = np.random.default_rng(3)
    groups = [list(rng.uniform(0.1, 1.0, size=6)) for _ in range(40)]
    pool = pool_of(groups, {"y": [list(rng.normal(size=6)) for _ in groups]})
    etas = [0.5, 0.9, 1.0]  # at n = 5: k = 3, 5, 5
    for estimator, n, whole in (("pool", None, [False, False, True]), ("exact", 5, [False, True, True])):
        got = {norm: Evaluation(pool, "J", norm).curves(["y"], etas, estimator=estimator, n=n).table["reta"]
               for norm in ("ratio", "difference", "recovery")}
        assert (got["ratio"][whole] == 1.0).all() and (got["difference"][whole] == 0.0).all()
        assert got["recovery"][whole].isna().all()
        assert got["recovery"][[not w for w in whole]].notna().all()


def test_recovery_ignores_an_affine_change_of_the_oracle(tmp_path):
    """The issue's 'done when': the demo benchmark re-imported with its oracle shifted by
    +5 and scaled by 3 gives the same recovery to 1e-9, bands and comparison included."""
    from reta_core.demo import generate_demo
    from reta_core.ingest import import_frame
    from reta_core.store import Store

    demo = generate_demo(n_prompts=80, n_responses=16, seed=2)
    store = Store(tmp_path / "r.duckdb")
    import_frame(store, demo.frame, "demo", demo.oracle_columns, demo.rm_columns)
    shifted = demo.frame.assign(judge_score=3 * demo.frame["judge_score"] + 5)
    import_frame(store, shifted, "shifted", demo.oracle_columns, demo.rm_columns)
    a, b = (Evaluation.from_store(store, name, normalization="recovery") for name in ("demo", "shifted"))
    ca, cb = a.curves(ci=True, n_boot=200).table, b.curves(ci=True, n_boot=200).table
    for col in ("reta", "ci_low", "ci_high"):
        np.testing.assert_allclose(cb[col], ca[col], rtol=1e-9, atol=1e-12, equal_nan=True)
    np.testing.assert_allclose(b.compare("strong_rm", "random_rm").table["diff"],
                               a.compare("strong_rm", "random_rm").table["diff"], rtol=1e-9, equal_nan=True)
    np.testing.assert_allclose(b.curves(etas=[0.25], estimator="exact", n=8).table["reta"],
                               a.curves(etas=[0.25], estimator="exact", n=8).table["reta"], rtol=1e-9)
    # the ratio normalisation, by contrast, changes with the shift
    assert not np.allclose(Evaluation.from_store(store, "demo").curves(etas=[0.1]).table["reta"],
                           Evaluation.from_store(store, "shifted").curves(etas=[0.1]).table["reta"])


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), scale=st.floats(0.01, 100), shift=st.floats(-50, 50))
def test_recovery_properties(seed, scale, shift):
    """Affine invariance (J -> a J + b, a > 0); the perfect ranking recovers 1, a constant
    RM 0; a strictly increasing transform of the RM changes nothing."""
    rng = np.random.default_rng(seed)
    groups = [list(rng.integers(1, 6, size=int(rng.integers(2, 8)))) for _ in range(12)]
    rms = {"y": [list(rng.integers(0, 4, size=len(g))) for g in groups], "perfect": groups,
           "constant": [[1] * len(g) for g in groups]}
    pool = pool_of(groups, rms)
    moved = Pool(pool.prompt_ids, pool.offsets, pool.response_ids, {"J": scale * pool.oracles["J"] + shift},
                 dict(pool.rms))
    etas = [0.2, 0.5, 0.8]
    base = Evaluation(pool, "J", "recovery").curves(etas=etas).table
    other = Evaluation(moved, "J", "recovery").curves(etas=etas).table
    np.testing.assert_allclose(other["reta"], base["reta"], rtol=1e-9, atol=1e-9, equal_nan=True)
    by_rm = base.set_index(["rm", "eta"])["reta"]
    if np.isfinite(by_rm["perfect"]).all():
        np.testing.assert_allclose(by_rm["perfect"], 1.0, rtol=1e-12)
        np.testing.assert_allclose(by_rm["constant"], 0.0, atol=1e-12)
    cubed = pool.with_rms({"y": pool.rms["y"] ** 3 + 2})
    np.testing.assert_allclose(Evaluation(cubed, "J", "recovery").curves(["y"], etas).table["reta"],
                               by_rm["y"], rtol=1e-12, equal_nan=True)


def test_recovery_resampled_and_reading():
    pool = pool_of([[9, 7, 5, 3], [5, 1, 2, 2]], {"perfect": [[9, 7, 5, 3], [5, 1, 2, 2]]})
    ev = Evaluation(pool, "J", "recovery")
    table = ev.resampled(3, [0.34, 0.67], ["perfect"], repeats=20).table
    np.testing.assert_allclose(table["mean"], 1.0, rtol=1e-12)  # every subset ranked perfectly
    assert readings.NORMALIZATION_LABELS["recovery"].startswith("recovery")
    assert "0 = no better than random" in readings.column_help("recovery")["reta_0.05"]
    assert "ratio to the pool mean" not in readings.column_help("difference")["reta_0.05"]
