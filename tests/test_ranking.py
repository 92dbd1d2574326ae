"""The one-sort ranking kernel (docs/metric.md §2) against a brute-force ranking written
prompt by prompt, on random pools with ties, NaN holes and ragged pool sizes."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from reta_core import metrics as M
from reta_core.pool import Pool
from reta_core.ranking import rank_within_prompts, sort_positions, tie_blocks


def brute_force_ranking(y: np.ndarray, j: np.ndarray):
    """One prompt, in plain Python: the counted responses by RM score (descending), the
    oracle averaged over each tie block, and each block's mid rank."""
    counted = [i for i in range(len(y)) if np.isfinite(y[i]) and np.isfinite(j[i])]
    ranked = sorted(counted, key=lambda i: -y[i])
    tied, mid = [], []
    start = 0
    while start < len(ranked):
        stop = start
        while stop < len(ranked) and y[ranked[stop]] == y[ranked[start]]:
            stop += 1
        block = [j[i] for i in ranked[start:stop]]
        tied += [sum(block) / len(block)] * len(block)
        mid += [(start + 1 + stop) / 2] * len(block)
        start = stop
    return ranked, tied, mid


scores = st.one_of(st.sampled_from([0.0, -0.0, 1.0, 2.0, -1.5, np.nan]),
                   st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False))


@st.composite
def ragged_pools(draw):
    sizes = draw(st.lists(st.integers(1, 40), min_size=1, max_size=12))
    total = sum(sizes)
    y = np.array(draw(st.lists(scores, min_size=total, max_size=total)))
    j = np.array(draw(st.lists(st.sampled_from([1.0, 2.0, 3.0, 4.5, np.nan]), min_size=total, max_size=total)))
    return Pool(prompt_ids=np.array([f"p{i}" for i in range(len(sizes))], dtype=object),
                offsets=np.concatenate([[0], np.cumsum(sizes)]),
                response_ids=np.array([f"r{i}" for i in range(total)], dtype=object),
                oracles={"j": j}, rms={"rm": y})


@settings(max_examples=150, deadline=None)
@given(ragged_pools())
def test_ranking_equals_brute_force(pool):
    ranking = rank_within_prompts(pool, "rm", "j")
    y, j = pool.rms["rm"], pool.oracles["j"]
    seen = set()
    for b in ranking.buckets:
        for row, p in enumerate(b.prompts):
            start, stop = pool.offsets[p], pool.offsets[p + 1]
            ranked, tied, mid = brute_force_ranking(y[start:stop], j[start:stop])
            n = len(ranked)
            assert b.n[row] == n
            got = b.index[row, :n] - start
            # within a tie block the order is free: compare the blocks' scores and J~
            np.testing.assert_array_equal(y[start:stop][got], y[start:stop][ranked])
            np.testing.assert_allclose(b.oracle_tied[row, :n], tied, rtol=1e-12)
            np.testing.assert_allclose(b.rank_mid[row, :n], mid)
            np.testing.assert_array_equal(b.oracle[row, :n], j[start:stop][got])
            np.testing.assert_array_equal(b.score[row, :n], y[start:stop][got])
            assert np.all(b.index[row, n:] == -1) and np.all(np.isnan(b.score[row, n:]))
            seen.add(int(p))
    counted = {p for p in range(pool.n_prompts) if ranking.n_counted[p] > 0}
    assert seen == counted


@settings(max_examples=100, deadline=None)
@given(ragged_pools(), st.lists(st.floats(0.001, 1.0), min_size=1, max_size=6))
def test_pool_estimator_equals_brute_force(pool, etas):
    """§3 from the ranking (matrix form for equal pool sizes, gathers for ragged ones)
    against S(m)/m written out per prompt."""
    ranking = rank_within_prompts(pool, "rm", "j")
    got = M.top_eta_mean(ranking, etas)
    y, j = pool.rms["rm"], pool.oracles["j"]
    for p in range(pool.n_prompts):
        start, stop = pool.offsets[p], pool.offsets[p + 1]
        _, tied, _ = brute_force_ranking(y[start:stop], j[start:stop])
        for e, eta in enumerate(etas):
            if not tied:
                assert np.isnan(got[p, e])
                continue
            m = eta * len(tied)
            whole = min(int(np.floor(m)), len(tied))
            total = sum(tied[:whole]) + ((m - whole) * tied[whole] if whole < len(tied) else 0.0)
            np.testing.assert_allclose(got[p, e], total / m, rtol=1e-12)


def test_sort_positions_keys_that_share_their_high_bits():
    """Keys that differ only in the bits the packed sort gives to the column (here the
    last ulps) are still sorted exactly: the kernel notices and sorts those rows again."""
    base = 1.0 + np.arange(8) * 2.0 ** -52
    key = np.vstack([base[::-1], base, np.full(8, 3.0), [5, 4, 3, 2, 1, 0, -1, -0.0]])
    valid = np.ones_like(key, dtype=bool)
    valid[2, 5] = False
    positions, sorted_key = sort_positions(key, valid)
    order = positions - (np.arange(4) * 8)[:, None]
    np.testing.assert_array_equal(sorted_key[0], np.sort(base))
    np.testing.assert_array_equal(order[0], np.arange(8)[::-1])
    np.testing.assert_array_equal(order[1], np.arange(8))
    np.testing.assert_array_equal(order[2], [0, 1, 2, 3, 4, 6, 7, 5])  # ties keep column order, invalid last
    assert np.isinf(sorted_key[2, -1])
    np.testing.assert_array_equal(sorted_key[3], [-1, -0.0, 0, 1, 2, 3, 4, 5])
    block_id, block_start, block_size = tie_blocks(sorted_key)
    # row 2: one block of seven 3.0s, then the invalid cell; row 3: -0.0 and 0 tie
    assert list(block_size[block_start // 8 == 2]) == [7, 1]
    assert list(block_size[block_start // 8 == 3]) == [1, 2, 1, 1, 1, 1, 1]
    descending, sorted_desc = sort_positions(key, valid, descending=True)
    np.testing.assert_array_equal(sorted_desc[3], [-5, -4, -3, -2, -1, 0, 0, 1])


def test_inclusion_probabilities_match_scipy():
    """§4's hypergeometric inclusion probabilities, computed without SciPy, against
    ``scipy.stats.hypergeom`` (skipped when SciPy is not installed)."""
    stats = pytest.importorskip("scipy.stats")
    for size in (2, 3, 7, 16, 64, 128, 300):  # scipy has no hypergeometric on 0 others
        for n in sorted({1, 2, min(size, 5), max(1, size // 2), size}):
            for k in sorted({1, 2, max(1, n // 3), n} & set(range(1, n + 1))):
                rank = np.arange(1, size + 1)
                expected = (n / size) * stats.hypergeom.cdf(k - 1, size - 1, rank - 1, n - 1)
                got = M.inclusion_probabilities(size, n, k)
                np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-300)
                assert got.sum() == pytest.approx(k, rel=1e-12)
