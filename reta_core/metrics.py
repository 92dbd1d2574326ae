"""RETA metrics: pool, exact finite-n, resampled, bootstrap bands, optimal eta,
reliability map and baseline metrics.  Every number follows ``RETA_SPEC.md``; each
function cites its section.

All functions rank through :func:`reta_core.ranking.rank_within_prompts` and work on
its padded per-bucket rows, so they are vectorised across prompts.  Per-prompt
results are ``(P, E)`` float arrays (``P`` prompts, ``E`` eta values) with NaN for
prompts that do not count; averages are over counted prompts, every prompt weighing
the same.
"""
from __future__ import annotations

import functools
import zlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from .errors import RetaInputError
from .pool import Pool
from .ranking import Ranking, rank_rows, rank_within_prompts

NORMALIZATIONS = ("ratio", "difference", "raw")
STANDARD_ETAS = (0.01, 0.05, 0.1, 0.25, 0.5)
REASON_FEW = "fewer than 2 scored responses"
REASON_MU = "mean oracle score <= 0 (ratio normalisation)"
REASON_SMALL_POOL = "pool smaller than n"


# --------------------------------------------------------------------- validation
def check_normalization(normalization: str) -> str:
    if normalization not in NORMALIZATIONS:
        raise RetaInputError(
            f"unknown normalisation {normalization!r}; choose one of {', '.join(NORMALIZATIONS)}")
    return normalization


def check_etas(etas) -> np.ndarray:
    """Validate an eta grid: finite values in (0, 1] (§3)."""
    etas = np.atleast_1d(np.asarray(etas, dtype=np.float64))
    if etas.size == 0:
        raise RetaInputError("eta grid is empty")
    bad = etas[~((etas > 0) & (etas <= 1))]
    if bad.size:
        raise RetaInputError(f"eta must lie in (0, 1], got {bad[0]:g}")
    return etas


def check_n(n, ranking: Ranking | None = None) -> int:
    """Validate a sample size n (§4): a whole number >= 1, not larger than every pool."""
    if n is None or int(n) != n or n < 1:
        raise RetaInputError(f"n must be a whole number >= 1, got {n!r}")
    n = int(n)
    if ranking is not None and n > ranking.n_counted.max(initial=0):
        raise RetaInputError(
            f"n = {n} is larger than every pool (largest has {int(ranking.n_counted.max(initial=0))} "
            "scored responses)")
    return n


# --------------------------------------------------------------------- eligibility
@dataclass(frozen=True)
class Eligibility:
    """Which prompts count for one (RM, oracle) pair (§1), and why the others do not.

    ``reason[p]`` is ``""`` for a counted prompt, otherwise the reason it is excluded.
    """

    rm: str
    oracle: str
    normalization: str
    n_counted: np.ndarray
    mu: np.ndarray
    reason: np.ndarray

    @property
    def prompt_counted(self) -> np.ndarray:
        return self.reason == ""

    @property
    def n_prompts(self) -> int:
        return int(self.prompt_counted.sum())

    @property
    def min_pool_size(self) -> int:
        counted = self.n_counted[self.prompt_counted]
        return int(counted.min()) if counted.size else 0

    def excluded(self) -> pd.DataFrame:
        """One row per exclusion reason: ``rm, reason, n_prompts``."""
        reasons = self.reason[~self.prompt_counted]
        values, counts = np.unique(reasons.astype(str), return_counts=True)
        return pd.DataFrame({"rm": self.rm, "reason": values, "n_prompts": counts.astype(int)})


def eligibility(ranking: Ranking, normalization: str = "ratio", n: int | None = None) -> Eligibility:
    """Prompt eligibility for a ranked (RM, oracle) pair (§1, and §4 when ``n`` is given).

    A prompt counts when it has at least 2 counted responses, for ``ratio`` its mean
    oracle score ``mu_q`` is ``> 0``, and (for the finite-n estimators) ``N_q >= n``.
    """
    check_normalization(normalization)
    reason = np.full(ranking.n_prompts, "", dtype=object)
    if normalization == "ratio":
        reason[~(ranking.mu > 0)] = REASON_MU
    if n is not None:
        reason[ranking.n_counted < n] = REASON_SMALL_POOL
    reason[ranking.n_counted < 2] = REASON_FEW
    return Eligibility(ranking.rm, ranking.oracle, normalization, ranking.n_counted, ranking.mu,
                       reason)


def normalize(top_mean: np.ndarray, mu: np.ndarray, normalization: str) -> np.ndarray:
    """§3: ``ratio`` T/mu, ``difference`` T - mu, ``raw`` T (``mu`` broadcast per row)."""
    mu = mu[:, None] if top_mean.ndim == 2 else mu
    if normalization == "ratio":
        with np.errstate(divide="ignore", invalid="ignore"):
            return top_mean / mu
    if normalization == "difference":
        return top_mean - mu
    return top_mean.copy()


# --------------------------------------------------------------------- eta grid
def default_eta_grid(min_pool_size: int) -> np.ndarray:
    """§10: 100 log-spaced points from ``max(0.001, 1/min N)`` to 1, plus the standard
    points 0.01, 0.05, 0.1, 0.25, 0.5 where they are ``>= 1/min N``."""
    lowest = max(0.001, 1.0 / max(int(min_pool_size), 1))
    grid = np.geomspace(lowest, 1.0, 100)
    extra = [e for e in STANDARD_ETAS if e >= 1.0 / max(int(min_pool_size), 1) - 1e-12]
    return np.unique(np.concatenate([grid, extra]))


# --------------------------------------------------------------------- pool RETA (§3)
def top_eta_mean(ranking: Ranking, etas) -> np.ndarray:
    """§3 pool estimator: ``T_q(eta) = S_q(eta N_q) / (eta N_q)`` for every prompt.

    ``S_q(m) = sum_{r <= floor(m)} J~_(r) + (m - floor(m)) J~_(floor(m)+1)``.  When
    ``eta N_q < 1`` this is the top-1 value.  Returns ``(P, E)``, NaN for prompts with
    no counted response.
    """
    etas = check_etas(etas)
    out = np.full((ranking.n_prompts, etas.size), np.nan)
    for b in ranking.buckets:
        cum = np.zeros((b.n.size, b.oracle_tied.shape[1] + 1))
        np.cumsum(b.oracle_tied, axis=1, out=cum[:, 1:])
        # Equal pool sizes (the common case): one set of cut points for every row.
        sizes = b.n[:1] if np.all(b.n == b.n[0]) else b.n
        m = etas[None, :] * sizes[:, None]
        whole = np.minimum(np.floor(m).astype(np.int64), sizes[:, None])
        frac = m - whole
        nxt = np.minimum(whole, sizes[:, None] - 1)
        if sizes.size == 1:
            total = cum[:, whole[0]] + frac * b.oracle_tied[:, nxt[0]]
        else:
            rows = np.arange(b.n.size)[:, None]
            total = cum[rows, whole] + frac * b.oracle_tied[rows, nxt]
        out[b.prompts] = total / m
    return out


def pool_reta_per_prompt(ranking: Ranking, etas, normalization: str = "ratio"):
    """§3 per prompt: ``R_q(eta)`` as ``(P, E)`` with NaN for excluded prompts, and the
    :class:`Eligibility` that says which and why."""
    elig = eligibility(ranking, normalization)
    values = normalize(top_eta_mean(ranking, etas), ranking.mu, normalization)
    values[~elig.prompt_counted] = np.nan
    return values, elig


# --------------------------------------------------------------------- exact finite n (§4)
def inclusion_probabilities(pool_size: int, n: int, k: int) -> np.ndarray:
    """§4: ``pi_r = (n/N) HypergeomCDF(k-1; N-1, r-1, n-1)`` for ``r = 1..N``: the
    chance that the response at rank ``r`` is drawn in a uniform ``n``-subset and lands
    in its top ``k``.  Sums to ``k``."""
    r = np.arange(1, pool_size + 1)
    return (n / pool_size) * stats.hypergeom.cdf(k - 1, pool_size - 1, r - 1, n - 1)


def k_for_eta(etas, n: int) -> np.ndarray:
    """§4: ``k = min(n, max(1, ceil(eta n - 1e-9)))``."""
    etas = np.asarray(etas, dtype=np.float64)
    return np.minimum(n, np.maximum(1, np.ceil(etas * n - 1e-9))).astype(np.int64)


def exact_top_k_mean(ranking: Ranking, n: int, ks) -> np.ndarray:
    """§4: ``E[top-k mean]`` over uniform ``n``-subsets for every prompt and every ``k``.

    Returns ``(P, len(ks))``; NaN for prompts with fewer than ``n`` counted responses.
    The inclusion probabilities depend only on ``(N, n, k)``, so they are computed once
    per distinct pool size and reused across prompts.
    """
    ks = np.asarray(ks, dtype=np.int64)
    out = np.full((ranking.n_prompts, ks.size), np.nan)
    for b in ranking.buckets:
        width = b.oracle_tied.shape[1]
        for size in np.unique(b.n[b.n >= n]):
            rows = np.flatnonzero(b.n == size)
            weights = np.zeros((width, ks.size))
            for col, k in enumerate(ks):
                weights[:size, col] = inclusion_probabilities(int(size), n, int(k)) / k
            out[b.prompts[rows]] = b.oracle_tied[rows] @ weights
    return out


def exact_reta_per_prompt(ranking: Ranking, etas, n: int, normalization: str = "ratio"):
    """§4 per prompt: exact expected RETA at sample size ``n``, normalised by the pool
    mean ``mu_q``; ``(P, E)`` and the :class:`Eligibility` (pools smaller than ``n`` are
    excluded)."""
    etas = check_etas(etas)
    n = check_n(n)
    ks = k_for_eta(etas, n)
    unique_k, inverse = np.unique(ks, return_inverse=True)
    top = exact_top_k_mean(ranking, n, unique_k)[:, inverse]
    elig = eligibility(ranking, normalization, n=n)
    values = normalize(top, ranking.mu, normalization)
    values[~elig.prompt_counted] = np.nan
    return values, elig


# --------------------------------------------------------------------- resampling (§5)
def rm_seed(seed: int, rm: str) -> np.random.SeedSequence:
    """A per-RM random stream, independent of which other RMs are evaluated."""
    return np.random.SeedSequence([int(seed), zlib.crc32(rm.encode())])


def resample_top_k_means(ranking: Ranking, n: int, ks, repeats: int, seed: int = 0,
                         normalization: str = "ratio", progress=None) -> np.ndarray:
    """§5: ``repeats`` resampled RETA values for every ``k``: ``(repeats, len(ks))``.

    Each repeat draws, for every counted prompt, ``n`` responses without replacement,
    ranks them by RM score with ties broken uniformly at random, takes the top ``k``,
    normalises their mean oracle score by the *pool* mean ``mu_q`` and averages over
    prompts.  One uniform key per response does both jobs: the ``n`` smallest keys
    are the subset, and the same keys (their order is a uniform permutation of the
    chosen ones) break ties inside the RM's tie blocks.  ``progress(done, total)``
    is called after each repeat.
    """
    ks = np.asarray(ks, dtype=np.int64)
    elig = eligibility(ranking, normalization, n=n)
    rng = np.random.default_rng(rm_seed(seed, ranking.rm))
    parts = []
    for b in ranking.buckets:
        rows = np.flatnonzero(elig.prompt_counted[b.prompts])
        if rows.size:
            parts.append((rows, b))
    n_prompts = sum(rows.size for rows, _ in parts)
    if n_prompts == 0:
        raise RetaInputError(f"no prompt counts for RM {ranking.rm!r} at n = {n}")
    out = np.zeros((repeats, ks.size))
    for rep in range(repeats):
        total = np.zeros(ks.size)
        for rows, b in parts:
            valid = b.valid[rows]
            u = rng.random(valid.shape)
            u[~valid] = np.inf
            chosen = np.argpartition(u, n - 1, axis=1)[:, :n] if n < u.shape[1] else \
                np.broadcast_to(np.arange(u.shape[1]), u.shape)
            key = np.take_along_axis(b.block[rows] + u, chosen, axis=1)
            order = np.argsort(key, axis=1)
            picked = np.take_along_axis(chosen, order, axis=1)
            oracle = np.take_along_axis(b.oracle[rows], picked, axis=1)
            cum = np.cumsum(oracle, axis=1)
            top = cum[:, ks - 1] / ks[None, :]
            total += normalize(top, ranking.mu[b.prompts[rows]], normalization).sum(axis=0)
        out[rep] = total / n_prompts
        if progress is not None:
            progress(rep + 1, repeats)
    return out


# --------------------------------------------------------------------- bootstrap (§6)
def bootstrap_counts(n: int, n_boot: int, seed: int, start: int = 0, stop: int | None = None) -> np.ndarray:
    """Rows ``start:stop`` of the bootstrap count matrix: entry ``[b, q]`` is how often
    prompt ``q`` is drawn in resample ``b`` (``n`` draws with replacement each).

    The matrix depends only on ``(n, n_boot, seed)``, never on the values resampled, so
    every RM and every eta share one draw: bands of one eta equal the same eta's column
    of a whole-grid band, and a paired comparison resamples both RMs alike.  Rows are
    drawn in fixed chunks of 100 so any slice is reproducible on its own.
    """
    stop = n_boot if stop is None else stop
    if stop - start == n_boot and n_boot * n <= _COUNTS_CACHE_CELLS:
        return _cached_counts(n, n_boot, seed)
    return _draw_counts(n, n_boot, seed, start, stop)


_COUNTS_CACHE_CELLS = 20_000_000  # cache whole matrices up to 80 MB (int32)
_COUNT_CHUNK = 100


def _draw_counts(n: int, n_boot: int, seed: int, start: int, stop: int) -> np.ndarray:
    out = np.empty((stop - start, n), dtype=np.int32)
    first = start // _COUNT_CHUNK
    for chunk in range(first, (stop - 1) // _COUNT_CHUNK + 1 if stop > start else first):
        lo, hi = chunk * _COUNT_CHUNK, min((chunk + 1) * _COUNT_CHUNK, n_boot)
        rng = np.random.default_rng([int(seed), chunk])
        size = hi - lo
        draws = rng.integers(0, n, size=(size, n)) + (np.arange(size) * n)[:, None]
        counts = np.bincount(draws.ravel(), minlength=size * n).reshape(size, n)
        a, b = max(lo, start), min(hi, stop)
        out[a - start:b - start] = counts[a - lo:b - lo]
    return out


@functools.lru_cache(maxsize=4)
def _cached_counts(n: int, n_boot: int, seed: int) -> np.ndarray:
    counts = _draw_counts(n, n_boot, seed, 0, n_boot)
    counts.setflags(write=False)
    return counts


def bootstrap_over_prompts(per_prompt: np.ndarray, n_boot: int = 1000, seed: int = 0,
                           level: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """§6: bootstrap the mean over prompts, resampling counted prompts with replacement.

    ``per_prompt`` is ``(P, E)``; rows with any NaN are not counted.  Returns the
    bootstrap means ``(n_boot, E)`` and the percentile interval ``(low, high)`` at
    ``level``.  Each bootstrap mean is a row of ``counts @ values / n`` with the shared
    count matrix of :func:`bootstrap_counts`.
    """
    values = np.asarray(per_prompt, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    values = values[~np.isnan(values).any(axis=1)]
    n = values.shape[0]
    if n == 0:
        raise RetaInputError("no prompt counts, so there is nothing to bootstrap")
    if int(n_boot) != n_boot or n_boot < 1:
        raise RetaInputError(f"the number of bootstrap resamples must be a whole number >= 1, got {n_boot!r}")
    n_boot = int(n_boot)
    means = np.empty((n_boot, values.shape[1]))
    whole = n_boot * n <= _COUNTS_CACHE_CELLS
    step = n_boot if whole else _COUNT_CHUNK
    for start in range(0, n_boot, step):
        stop = min(start + step, n_boot)
        counts = bootstrap_counts(n, n_boot, seed) if whole else bootstrap_counts(n, n_boot, seed, start, stop)
        means[start:stop] = counts @ values / n
    alpha = (1 - level) / 2
    low, high = np.quantile(means, [alpha, 1 - alpha], axis=0)
    return means, low, high


# --------------------------------------------------------------------- optimal eta (§7)
def optimal_eta(etas, reta, min_pool_size: int) -> dict:
    """§7: ``eta* = argmax RETA(eta)`` over grid points ``>= 1/min N``, ties to the
    largest eta; with ``RETA(eta*)`` and its gain over the smallest allowed eta (the
    'always take the RM's top pick' policy).  Returns a dict with ``eta_star``,
    ``reta_at_eta_star``, ``eta_min``, ``reta_at_eta_min``, ``gain`` (difference) and
    ``relative_gain`` (``RETA(eta*)/RETA(eta_min) - 1``)."""
    etas = np.asarray(etas, dtype=np.float64)
    reta = np.asarray(reta, dtype=np.float64)
    allowed = (etas >= 1.0 / max(min_pool_size, 1) - 1e-12) & np.isfinite(reta)
    if not allowed.any():
        raise RetaInputError("no eta on the grid is >= 1 / min pool size")
    idx = np.flatnonzero(allowed)
    best = reta[idx].max()
    star = idx[np.flatnonzero(reta[idx] >= best - 1e-12 * max(1.0, abs(best)))].max()
    first = idx[np.argmin(etas[idx])]
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = reta[star] / reta[first] - 1
    return {"eta_star": float(etas[star]), "reta_at_eta_star": float(reta[star]),
            "eta_min": float(etas[first]), "reta_at_eta_min": float(reta[first]),
            "gain": float(reta[star] - reta[first]), "relative_gain": float(rel)}


# --------------------------------------------------------------------- reliability map (§8)
def reliability_values(ranking: Ranking, bins: int = 20):
    """§8 for one RM: per bin of the rank percentile ``u = (r_mid - 0.5)/N_q``, the mean
    of ``J/mu_q`` over its responses (prompts that count for ``ratio``).  Returns
    ``(mean, count)`` arrays of length ``bins``."""
    if int(bins) != bins or bins < 1:
        raise RetaInputError(f"bins must be a whole number >= 1, got {bins!r}")
    elig = eligibility(ranking, "ratio")
    sums = np.zeros(bins)
    counts = np.zeros(bins)
    for b in ranking.buckets:
        rows = np.flatnonzero(elig.prompt_counted[b.prompts])
        valid = b.valid[rows]
        u = (b.rank_mid[rows] - 0.5) / b.n[rows, None]
        which = np.clip(np.ceil(u * bins).astype(np.int64) - 1, 0, bins - 1)
        value = b.oracle[rows] / ranking.mu[b.prompts[rows], None]
        sums += np.bincount(which[valid], weights=value[valid], minlength=bins)
        counts += np.bincount(which[valid], minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts, counts.astype(np.int64)


# --------------------------------------------------------------------- baselines (§9)
def count_inversions(values: np.ndarray) -> np.ndarray:
    """Per row, the number of pairs ``i < j`` with ``values[i] > values[j]``.

    ``values`` is an integer matrix ``(rows, width)`` with ``width`` a power of two and
    entries in ``0..width`` (use ``width`` for padding at the end of a row: it never
    forms an inversion).  A bottom-up merge sort run on all rows at once: at each level
    every element of a right run counts the elements of its left run that are larger,
    found with one ``searchsorted`` over all runs (each run is offset so the
    concatenation stays sorted).  O(width log width) per row.
    """
    rows, width = values.shape
    inversions = np.zeros(rows, dtype=np.int64)
    current = np.asarray(values, dtype=np.int64)
    run = 1
    while run < width:
        pairs = current.reshape(rows, width // (2 * run), 2, run)
        segment = np.arange(rows * (width // (2 * run)), dtype=np.int64).reshape(
            rows, width // (2 * run), 1) * (width + 1)
        left = (pairs[:, :, 0, :] + segment).ravel()
        right = (pairs[:, :, 1, :] + segment).ravel()
        at_most = np.searchsorted(left, right, side="right") - (segment // (width + 1) * run).repeat(
            run, axis=2).ravel()
        inversions += (run - at_most).reshape(rows, -1).sum(axis=1)
        current = np.sort(pairs.reshape(rows, width // (2 * run), 2 * run), axis=2).reshape(rows, width)
        run *= 2
    return inversions


def _tied_pairs(group: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Per row, the number of unordered valid pairs in the same group (ids 0..width)."""
    rows, width = group.shape
    flat = (np.arange(rows)[:, None] * (width + 1) + group)[valid]
    sizes = np.bincount(flat, minlength=rows * (width + 1)).reshape(rows, width + 1)
    return (sizes * (sizes - 1) // 2).sum(axis=1)


def _dense_ranks(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Dense 0-based rank of each valid cell within its row (equal values share one);
    padding gets ``width``."""
    order, block_id, _, _ = rank_rows(values, valid)
    ids = block_id.reshape(values.shape)
    dense = np.empty_like(ids)
    np.put_along_axis(dense, order, ids - ids[:, :1], axis=1)
    return np.where(valid, dense, values.shape[1])


def pair_statistics(bucket) -> dict:
    """§9 pair counts per row of a ranked bucket, in O(N log N) per prompt.

    With rows in RM order, order each RM tie block by oracle ascending, then
    descending, and count inversions of the oracle sequence (``inv_asc``,
    ``inv_desc``).  Pairs in different RM blocks are the same in both orders; pairs
    inside a block contribute ``-t`` and ``+t`` (``t``: RM ties with different oracle
    scores).  Hence ``concordant - discordant = inv_asc + inv_desc - n0 + n_tied_oracle``
    and ``t = inv_desc - inv_asc``.
    """
    valid = bucket.valid
    width = valid.shape[1]
    oracle_rank = _dense_ranks(bucket.oracle, valid)
    block = np.where(valid, bucket.block, width)
    tied_rm = _tied_pairs(block, valid)
    if not tied_rm.any():  # no RM ties (continuous scores): both orders are the RM order
        inv_asc = inv_desc = count_inversions(oracle_rank)
    else:
        inv = []
        for direction in (1, -1):
            key = block * (2 * width + 2) + direction * oracle_rank + width
            order = np.argsort(np.where(valid, key, np.iinfo(np.int64).max), axis=1)
            inv.append(count_inversions(np.take_along_axis(oracle_rank, order, axis=1)))
        inv_asc, inv_desc = inv
    n = bucket.n
    n0 = n * (n - 1) // 2
    tied_oracle = _tied_pairs(oracle_rank, valid)
    return {"n0": n0, "tied_rm": tied_rm, "tied_oracle": tied_oracle,
            "concordant_minus_discordant": inv_asc + inv_desc - n0 + tied_oracle,
            "rm_ties_with_different_oracle": inv_desc - inv_asc}


def _row_average_ranks(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Average (mid) ranks of each row's valid cells, ascending; padding gets NaN."""
    order, block_id, block_start, block_size = rank_rows(values, valid)
    mid_sorted = (block_start % values.shape[1] + 1 + (block_size - 1) / 2.0)[block_id].reshape(values.shape)
    ranks = np.empty_like(mid_sorted)
    np.put_along_axis(ranks, order, mid_sorted, axis=1)
    return np.where(valid, ranks, np.nan)


def baseline_per_prompt(ranking: Ranking) -> pd.DataFrame:
    """§9 per prompt: pairwise accuracy, Spearman rho and Kendall tau-b (NaN where the
    statistic is undefined).

    * pairwise accuracy: over pairs with different oracle scores, 1 when the RM orders
      them like the oracle, 0.5 when the RM ties them, else 0;
    * Kendall tau-b ``= (n_c - n_d) / sqrt((n0 - n_tied_rm)(n0 - n_tied_oracle))``;
    * Spearman: Pearson correlation of average ranks; undefined when either score is
      constant.
    """
    acc = np.full(ranking.n_prompts, np.nan)
    rho = np.full(ranking.n_prompts, np.nan)
    tau = np.full(ranking.n_prompts, np.nan)
    for b in ranking.buckets:
        pairs = pair_statistics(b)
        n0, x = pairs["n0"], pairs["concordant_minus_discordant"]
        ties = pairs["rm_ties_with_different_oracle"]
        n_diff = n0 - pairs["tied_oracle"]
        concordant = (n_diff - ties + x) / 2
        denom = np.sqrt((n0 - pairs["tied_rm"]) * (n0 - pairs["tied_oracle"]).astype(float))
        with np.errstate(invalid="ignore", divide="ignore"):
            acc[b.prompts] = np.where(n_diff > 0, (concordant + 0.5 * ties) / n_diff, np.nan)
            tau[b.prompts] = np.where(denom > 0, x / denom, np.nan)
        valid = b.valid
        ry = np.where(valid, b.rank_mid, np.nan)
        rj = _row_average_ranks(b.oracle, valid)
        n = b.n[:, None]
        dy = np.where(valid, ry - np.nansum(ry, axis=1, keepdims=True) / n, 0.0)
        dj = np.where(valid, rj - np.nansum(rj, axis=1, keepdims=True) / n, 0.0)
        syy = (dy * dy).sum(axis=1)
        sjj = (dj * dj).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            # ranks of y are descending (rank 1 = highest score), of J ascending: flip sign
            rho[b.prompts] = np.where((syy > 1e-12) & (sjj > 1e-12),
                                      -(dy * dj).sum(axis=1) / np.sqrt(syy * sjj), np.nan)
    return pd.DataFrame({"pairwise_accuracy": acc, "spearman": rho, "kendall": tau})


# --------------------------------------------------------------------- tidy API
@dataclass
class MetricResult:
    """A tidy table ready for a page or a CSV export, and the prompts that did not count.

    ``excluded`` has columns ``rm, reason, n_prompts``: every excluded prompt is counted
    with its reason (§1), never dropped silently.
    """

    table: pd.DataFrame
    excluded: pd.DataFrame
    per_prompt: dict = field(default_factory=dict)


def _excluded_table(eligs) -> pd.DataFrame:
    frames = [e.excluded() for e in eligs]
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame({"rm": pd.Series(dtype=object), "reason": pd.Series(dtype=object),
                             "n_prompts": pd.Series(dtype=int)})
    return pd.concat(frames, ignore_index=True)


def _rm_names(pool: Pool, rms) -> list[str]:
    names = list(pool.rms) if rms is None else list(rms)
    if not names:
        raise RetaInputError("no RM to evaluate")
    return names


def _resolve_oracle(pool: Pool, oracle) -> str:
    if oracle is None:
        if not pool.oracles:
            raise RetaInputError("the benchmark has no oracle")
        return next(iter(pool.oracles))
    return oracle


def rank_all(pool: Pool, oracle: str | None = None, rms=None) -> dict[str, Ranking]:
    """Rank the pool once per RM (the shared input of every metric below)."""
    oracle = _resolve_oracle(pool, oracle)
    return {rm: rank_within_prompts(pool, rm, oracle) for rm in _rm_names(pool, rms)}


def min_pool_size(rankings: dict[str, Ranking], normalization: str = "ratio") -> int:
    """The benchmark's smallest pool for the oracle (§10 grid, default n): oracle-scored
    responses, over the prompts that would count for an RM that scores every response.

    It depends on the pool and the oracle only, so adding a partly-scored RM changes no
    other RM's grid, eta* or BoN@n; each RM's own smaller pools are flagged and excluded
    per RM (``Eligibility.min_pool_size``)."""
    for ranking in rankings.values():
        sizes, mu = ranking.n_oracle, ranking.mu_oracle
        counts = sizes >= 2
        if normalization == "ratio":
            counts &= mu > 0
        return int(sizes[counts].min()) if counts.any() else 0
    return 0


def check_n_fits(n: int, rankings: dict[str, Ranking]) -> int:
    """§4: ``n`` must not exceed every pool of every RM (an RM whose own pools are all
    smaller simply has no prompt that counts)."""
    largest = max((int(r.n_counted.max(initial=0)) for r in rankings.values()), default=0)
    if n > largest:
        raise RetaInputError(f"n = {n} is larger than every pool (largest has {largest} scored responses)")
    return n


def reta_curves(pool: Pool, oracle: str | None = None, rms=None, etas=None,
                normalization: str = "ratio", estimator: str = "pool", n: int | None = None,
                ci: bool = False, n_boot: int = 1000, seed: int = 0, level: float = 0.95,
                rankings: dict | None = None) -> MetricResult:
    """RETA curves of several RMs (§3 pool, §4 exact), optionally with bootstrap bands (§6).

    Columns: ``rm, eta, reta, n_prompts, below_min_eta`` (eta below ``1/min N``: the
    estimate is the top-1 value, §3), and ``ci_low, ci_high`` with ``ci``.
    ``per_prompt[rm]`` holds the ``(P, E)`` per-prompt values.
    """
    check_normalization(normalization)
    rankings = rankings or rank_all(pool, oracle, rms)
    if estimator not in ("pool", "exact"):
        raise RetaInputError(f"unknown estimator {estimator!r}; choose pool or exact "
                             "(resampling: resample_reta)")
    if estimator == "exact":
        n = check_n_fits(check_n(n), rankings)
    if etas is None:
        etas = default_eta_grid(min_pool_size(rankings, normalization))
    etas = check_etas(etas)
    frames, eligs, per_prompt = [], [], {}
    for rm, ranking in rankings.items():
        if estimator == "pool":
            values, elig = pool_reta_per_prompt(ranking, etas, normalization)
        else:
            values, elig = exact_reta_per_prompt(ranking, etas, n, normalization)
        eligs.append(elig)
        per_prompt[rm] = values
        counted = elig.prompt_counted
        frame = pd.DataFrame({"rm": rm, "eta": etas,
                              "reta": values[counted].mean(axis=0) if counted.any() else np.nan,
                              "n_prompts": int(counted.sum())})
        limit = 1.0 / n if estimator == "exact" else 1.0 / max(elig.min_pool_size, 1)
        frame["below_min_eta"] = etas < limit - 1e-12
        if ci and counted.any():
            _, frame["ci_low"], frame["ci_high"] = bootstrap_over_prompts(
                values, n_boot=n_boot, seed=seed, level=level)
        elif ci:
            frame["ci_low"] = frame["ci_high"] = np.nan
        frames.append(frame)
    return MetricResult(pd.concat(frames, ignore_index=True), _excluded_table(eligs), per_prompt)


def bon(pool: Pool, n: int, oracle: str | None = None, rms=None, normalization: str = "ratio",
        rankings: dict | None = None) -> MetricResult:
    """Best-of-n (§4 with ``k = 1``): ``rm, n, bon, n_prompts``."""
    rankings = rankings or rank_all(pool, oracle, rms)
    n = check_n_fits(check_n(n), rankings)
    rows, eligs = [], []
    for rm, ranking in rankings.items():
        values, elig = exact_reta_per_prompt(ranking, [1.0 / n], n, normalization)
        eligs.append(elig)
        counted = elig.prompt_counted
        rows.append({"rm": rm, "n": n, "bon": float(values[counted, 0].mean()) if counted.any() else np.nan,
                     "n_prompts": int(counted.sum())})
    return MetricResult(pd.DataFrame(rows), _excluded_table(eligs))


def resample_reta(pool: Pool, n: int, etas, oracle: str | None = None, rms=None,
                  repeats: int = 200, seed: int = 0, normalization: str = "ratio",
                  progress=None, rankings: dict | None = None) -> MetricResult:
    """§5: resampled RETA at sample size ``n``: ``rm, eta, n, k, mean, std, cv, repeats,
    n_prompts``.  ``progress(done, total)`` counts repeats over all RMs.  Seeded: the
    same seed gives the same numbers, whichever other RMs are evaluated."""
    rankings = rankings or rank_all(pool, oracle, rms)
    etas = check_etas(etas)
    if int(repeats) != repeats or repeats < 2:
        raise RetaInputError(f"repeats must be a whole number >= 2, got {repeats!r}")
    n = check_n_fits(check_n(n), rankings)
    frames, eligs = [], []
    total = repeats * len(rankings)
    for i, (rm, ranking) in enumerate(rankings.items()):
        ks = k_for_eta(etas, n)
        elig = eligibility(ranking, normalization, n=n)
        eligs.append(elig)
        step = None if progress is None else (lambda done, _t, i=i: progress(i * repeats + done, total))
        if elig.n_prompts == 0:  # every pool of this RM is smaller than n: reported, not fatal
            mean = std = np.full(len(etas), np.nan)
            if step is not None:
                step(repeats, repeats)
        else:
            draws = resample_top_k_means(ranking, n, ks, repeats, seed, normalization, step)
            mean, std = draws.mean(axis=0), draws.std(axis=0, ddof=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            cv = std / np.abs(mean)
        frames.append(pd.DataFrame({"rm": rm, "eta": etas, "n": n, "k": ks, "mean": mean,
                                    "std": std, "cv": cv, "repeats": repeats,
                                    "n_prompts": elig.n_prompts}))
    return MetricResult(pd.concat(frames, ignore_index=True), _excluded_table(eligs))


def compare_rms(pool: Pool, rm_a: str, rm_b: str, etas=None, oracle: str | None = None,
                normalization: str = "ratio", n_boot: int = 1000, seed: int = 0,
                level: float = 0.95, rankings: dict | None = None) -> MetricResult:
    """§6 paired comparison: on prompts counted for both, ``d_q = R_q^A - R_q^B``;
    bootstrap its mean.  Columns: ``eta, diff, ci_low, ci_high, p_a_better,
    significant, n_prompts`` (``significant``: the interval excludes 0)."""
    if rm_a == rm_b:
        raise RetaInputError("choose two different RMs to compare")
    rankings = rankings or rank_all(pool, oracle, [rm_a, rm_b])
    ra, rb = rankings[rm_a], rankings[rm_b]
    if etas is None:
        etas = default_eta_grid(min_pool_size({rm_a: ra, rm_b: rb}, normalization))
    etas = check_etas(etas)
    va, ea = pool_reta_per_prompt(ra, etas, normalization)
    vb, eb = pool_reta_per_prompt(rb, etas, normalization)
    both = ea.prompt_counted & eb.prompt_counted
    if not both.any():
        raise RetaInputError(f"no prompt counts for both {rm_a!r} and {rm_b!r}")
    diff = (va - vb)[both]
    means, low, high = bootstrap_over_prompts(diff, n_boot=n_boot, seed=seed, level=level)
    table = pd.DataFrame({"eta": etas, "diff": diff.mean(axis=0), "ci_low": low, "ci_high": high,
                          "p_a_better": (means > 0).mean(axis=0), "n_prompts": int(both.sum())})
    table["significant"] = (table["ci_low"] > 0) | (table["ci_high"] < 0)
    table.insert(0, "rm_b", rm_b)
    table.insert(0, "rm_a", rm_a)
    return MetricResult(table, _excluded_table([ea, eb]))


def optimal_quantiles(curves: pd.DataFrame, min_pool_sizes: dict) -> pd.DataFrame:
    """§7 for every RM of a :func:`reta_curves` table: ``rm, eta_star, reta_at_eta_star,
    eta_min, reta_at_eta_min, gain, relative_gain`` (band columns carried over when the
    table has them)."""
    rows = []
    for rm, group in curves.groupby("rm", sort=False):
        best = optimal_eta(group["eta"].to_numpy(), group["reta"].to_numpy(), min_pool_sizes[rm])
        if "ci_low" in group:
            at = group.iloc[int(np.argmin(np.abs(group["eta"].to_numpy() - best["eta_star"])))]
            best["ci_low"], best["ci_high"] = float(at["ci_low"]), float(at["ci_high"])
        rows.append({"rm": rm, **best})
    return pd.DataFrame(rows)


def reliability_map(pool: Pool, oracle: str | None = None, rms=None, bins: int = 20,
                    rankings: dict | None = None) -> MetricResult:
    """§8 for several RMs: ``rm, bin, u_low, u_high, mean_normalized_oracle, n_responses``."""
    rankings = rankings or rank_all(pool, oracle, rms)
    frames, eligs = [], []
    edges = np.linspace(0, 1, bins + 1)
    for rm, ranking in rankings.items():
        mean, count = reliability_values(ranking, bins)
        eligs.append(eligibility(ranking, "ratio"))
        frames.append(pd.DataFrame({"rm": rm, "bin": np.arange(bins), "u_low": edges[:-1],
                                    "u_high": edges[1:], "mean_normalized_oracle": mean,
                                    "n_responses": count}))
    return MetricResult(pd.concat(frames, ignore_index=True), _excluded_table(eligs))


def baselines(pool: Pool, oracle: str | None = None, rms=None,
              rankings: dict | None = None) -> MetricResult:
    """§9 for several RMs: mean per-prompt ``pairwise_accuracy`` (over prompts with at
    least one pair of different oracle scores), ``spearman`` and ``kendall`` (over prompts
    where neither score is constant), each with the number of prompts it averages."""
    rankings = rankings or rank_all(pool, oracle, rms)
    rows, eligs = [], []
    for rm, ranking in rankings.items():
        per = baseline_per_prompt(ranking)
        elig = eligibility(ranking, "raw")
        eligs.append(elig)
        per[~elig.prompt_counted] = np.nan
        row = {"rm": rm}
        for col in per:
            row[col] = float(per[col].mean()) if per[col].notna().any() else np.nan
            row[f"n_prompts_{col}"] = int(per[col].notna().sum())
        rows.append(row)
    return MetricResult(pd.DataFrame(rows), _excluded_table(eligs))
