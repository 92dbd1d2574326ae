"""RETA per prompt: eligibility, the pool, exact and resampled estimators, bootstrap
bands, the optimal eta, the reliability map and the baseline statistics.

Every number follows the project's metric reference, ``docs/metric.md``; each function
cites its section.  These are the kernels: they take one :class:`~reta_core.ranking.Ranking`
(the output of the one ranking routine, §2) and return per-prompt ``(P, E)`` float
arrays (``P`` prompts, ``E`` eta values) with NaN for prompts that do not count, or
per-bin / per-replicate arrays.  Tables over several RMs are built from them in
:mod:`reta_core.reports`; the :class:`~reta_core.evaluation.Evaluation` is the seam that
both front doors use.  Inputs are validated once there (``check_*`` below); the
kernels trust them.
"""
from __future__ import annotations

import functools
import math
import warnings
import zlib
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from .errors import RetaInputError
from .ranking import Ranking, block_columns, rank_rows, sort_positions, tie_blocks

NORMALIZATIONS = ("ratio", "difference", "raw", "recovery")
RANDOM_VALUE = {"ratio": 1.0, "difference": 0.0, "recovery": 0.0}  # RETA of a random ranking (none for raw)
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


def check_n(n) -> int:
    """Validate a sample size n (§4): a whole number >= 1."""
    if n is None or int(n) != n or n < 1:
        raise RetaInputError(f"n must be a whole number >= 1, got {n!r}")
    return int(n)


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


def exclusion_reasons(n_counted: np.ndarray, mu: np.ndarray, normalization: str = "ratio",
                      n: int | None = None) -> np.ndarray:
    """§1 (and §4 when ``n`` is given): why each prompt does not count, ``""`` when it does.

    A prompt counts when it has at least 2 counted responses, for ``ratio`` its mean
    oracle score ``mu_q`` is ``> 0``, and (for the finite-n estimators) ``N_q >= n``.
    The first reason that applies is given: :data:`REASON_FEW`, :data:`REASON_SMALL_POOL`,
    :data:`REASON_MU`.  The one place this rule is written; imports report with it too.
    """
    reason = np.full(len(n_counted), "", dtype=object)
    if normalization == "ratio":
        reason[~(mu > 0)] = REASON_MU
    if n is not None:
        reason[n_counted < n] = REASON_SMALL_POOL
    reason[n_counted < 2] = REASON_FEW
    return reason


def eligibility(ranking: Ranking, normalization: str = "ratio", n: int | None = None) -> Eligibility:
    """Prompt eligibility for a ranked (RM, oracle) pair (§1, and §4 when ``n`` is given),
    by :func:`exclusion_reasons`."""
    reason = exclusion_reasons(ranking.n_counted, ranking.mu, normalization, n)
    return Eligibility(ranking.rm, ranking.oracle, normalization, ranking.n_counted, ranking.mu,
                       reason)


def normalize(top_mean: np.ndarray, mu: np.ndarray, normalization: str) -> np.ndarray:
    """§3: ``ratio`` T/mu, ``difference`` T - mu, ``raw`` T (``mu`` broadcast per row);
    ``recovery``: its numerator ``T - mu`` (the denominator comes from the perfect
    ranking, :func:`recovery_denominators`)."""
    mu = mu[:, None] if top_mean.ndim == 2 else mu
    if normalization == "ratio":
        with np.errstate(divide="ignore", invalid="ignore"):
            return top_mean / mu
    if normalization in ("difference", "recovery"):
        return top_mean - mu
    return top_mean.copy()


@dataclass(frozen=True)
class PromptValues:
    """One RM's per-prompt values on an eta grid and how they average over prompts (§3).

    ``values`` ``(P, E)``: ``R_q(eta)`` (NaN for prompts that do not count); for
    ``recovery`` the numerator ``T_q - mu_q``.  ``denominators``: None, or for
    ``recovery`` ``T*_q - mu_q`` of the perfect ranking on the same counted responses.
    The average over counted prompts is ``mean(values)`` or, with denominators, the
    ratio of sums ``sum(values) / sum(denominators)`` (undefined, NaN, where that sum is
    0: always at ``eta = 1``).
    """

    values: np.ndarray
    denominators: np.ndarray | None
    eligibility: Eligibility

    @property
    def counted(self) -> np.ndarray:
        return self.eligibility.prompt_counted

    def aggregate(self, mask: np.ndarray | None = None) -> np.ndarray:
        """The average over the counted prompts (and ``mask``), one value per eta."""
        rows = self.counted if mask is None else self.counted & mask
        if not rows.any():
            return np.full(self.values.shape[1], np.nan)
        if self.denominators is None:
            return self.values[rows].mean(axis=0)
        return ratio_of_sums(self.values[rows].sum(axis=0), self.denominators[rows].sum(axis=0))

    def per_prompt(self) -> np.ndarray:
        """Each prompt's own value: ``R_q``, or for recovery ``(T_q - mu_q) / (T*_q - mu_q)``
        (NaN where the prompt's oracle is constant)."""
        if self.denominators is None:
            return self.values
        return ratio_of_sums(self.values, self.denominators)

    def columns(self, columns) -> "PromptValues":
        return PromptValues(self.values[:, columns],
                            None if self.denominators is None else self.denominators[:, columns],
                            self.eligibility)


def ratio_of_sums(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """``numerator / denominator`` with NaN where the denominator is (numerically) 0."""
    numerator, denominator = np.asarray(numerator, float), np.asarray(denominator, float)
    scale = np.maximum(np.abs(denominator), np.abs(numerator))
    zero = np.abs(denominator) <= 1e-12 * np.maximum(scale, 1e-300)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(zero, np.nan, numerator / np.where(zero, 1.0, denominator))


# --------------------------------------------------------------------- eta grid
def default_eta_grid(min_pool_size: int) -> np.ndarray:
    """§10: 100 log-spaced points from ``max(0.001, 1/min N)`` to 1, plus the standard
    points 0.01, 0.05, 0.1, 0.25, 0.5 where they are ``>= 1/min N``."""
    lowest = max(0.001, 1.0 / max(int(min_pool_size), 1))
    grid = np.geomspace(lowest, 1.0, 100)
    # interior points to 4 significant digits, so a link or a label shows 0.0306, not
    # 0.030602150628531343; the ends (the top pick's 1/min N, and 1) stay exact
    grid[1:-1] = [float(f"{x:.4g}") for x in grid[1:-1]]
    grid[-1] = 1.0
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
        if np.all(b.n == b.n[0]):
            # Equal pool sizes (the common case): one weight matrix for every row,
            # w[r, e] = clip(m_e - r, 0, 1) / m_e, the share of position r in S(m_e)/m_e.
            out[b.prompts] = b.oracle_tied @ top_eta_weight_matrix(int(b.n[0]), b.oracle_tied.shape[1], etas)
            continue
        cum = np.zeros((b.n.size, b.oracle_tied.shape[1] + 1))
        np.cumsum(b.oracle_tied, axis=1, out=cum[:, 1:])
        sizes = b.n
        m = etas[None, :] * sizes[:, None]
        whole = np.minimum(np.floor(m).astype(np.int64), sizes[:, None])
        frac = m - whole
        nxt = np.minimum(whole, sizes[:, None] - 1)
        rows = np.arange(b.n.size)[:, None]
        out[b.prompts] = (cum[rows, whole] + frac * b.oracle_tied[rows, nxt]) / m
    return out


def top_eta_weight_matrix(pool_size: int, width: int, etas: np.ndarray) -> np.ndarray:
    """§3 as a matrix: ``T(eta) = J~ @ W`` for a row of ``pool_size`` counted responses
    (padded to ``width``), ``W[r, e] = clip(eta_e N - r, 0, 1) / (eta_e N)`` for 0-based
    positions ``r`` (0 beyond the pool)."""
    m = etas * pool_size
    r = np.arange(width, dtype=np.float64)[:, None]
    weights = np.clip(m[None, :] - r, 0.0, 1.0) / m[None, :]
    weights[pool_size:] = 0.0
    return weights


def pool_reta_per_prompt(ranking: Ranking, etas, normalization: str = "ratio"):
    """§3 per prompt: ``R_q(eta)`` as ``(P, E)`` with NaN for excluded prompts, and the
    :class:`Eligibility` that says which and why (recovery: each prompt's own
    ``(T - mu) / (T* - mu)``, :meth:`PromptValues.per_prompt`)."""
    parts = reta_parts(ranking, etas, normalization)
    return parts.per_prompt(), parts.eligibility


def reta_parts(ranking: Ranking, etas, normalization: str = "ratio", n: int | None = None) -> PromptValues:
    """§3 (pool estimator) or, with ``n``, §4 (exact at sample size ``n``): the per-prompt
    values and, for recovery, the perfect ranking's denominators (:class:`PromptValues`)."""
    etas = check_etas(etas)
    if n is None:
        elig = eligibility(ranking, normalization)
        top = top_eta_mean(ranking, etas)
        whole = etas >= 1.0
    else:
        elig = eligibility(ranking, normalization, n=n)
        top = exact_top_mean(ranking, etas, n)
        whole = k_for_eta(etas, n) == n
    # the top of the whole pool (eta = 1; for §4, k = n) is its mean exactly, not to
    # rounding: so ratio is exactly 1 there and recovery's 0 / 0 is missing, never noise
    top[:, whole] = ranking.mu[:, None]
    values = normalize(top, ranking.mu, normalization)
    values[~elig.prompt_counted] = np.nan
    denominators = None
    if normalization == "recovery":
        perfect = perfect_ranking(ranking)
        best = top_eta_mean(perfect, etas) if n is None else exact_top_mean(perfect, etas, n)
        best[:, whole] = ranking.mu[:, None]
        denominators = best - ranking.mu[:, None]
        denominators[~elig.prompt_counted] = np.nan
    return PromptValues(values, denominators, elig)


def perfect_ranking(ranking: Ranking) -> Ranking:
    """The perfect ranking (RM = oracle, §3) of the same counted responses as ``ranking``:
    each prompt's responses sorted by oracle score, descending, with their tie blocks."""
    buckets = []
    for b in ranking.buckets:
        valid = b.valid
        width = valid.shape[1]
        order, block_id, block_start, block_size = rank_rows(-b.oracle, valid)
        oracle = np.where(valid, np.take_along_axis(b.oracle, order, axis=1), 0.0)
        index = np.where(valid, np.take_along_axis(b.index, order, axis=1), -1)
        buckets.append(replace(b, index=index, score=np.where(valid, oracle, np.nan), oracle=oracle,
                               oracle_tied=oracle, block_id=block_id, block_first=block_start % width,
                               block_size=block_size))
    return Ranking(ranking.rm, ranking.oracle, ranking.n_prompts, ranking.n_counted, ranking.mu, tuple(buckets))


def top_eta_weights(ranking: Ranking, eta: float, n_responses: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each response's share of the top-eta mass (§3), its mid rank, and its RM rank order.

    The top ``m = eta N_q`` mass gives position ``r`` the weight
    ``clip(m - (r - 1), 0, 1)``; inside a tie block the weights are averaged, exactly as
    ``J~`` averages the oracle values, so ``T_q(eta) = sum_i w_i J_i / m``.  Returns
    three arrays over all pool rows: weight (0 outside the top, NaN when not counted),
    mid rank and the position in the RM's order (NaN when not counted).
    """
    check_etas([eta])
    weight = np.full(n_responses, np.nan)
    rank_mid = np.full(n_responses, np.nan)
    position = np.full(n_responses, np.nan)
    for b in ranking.buckets:
        valid = b.valid
        cols = np.arange(valid.shape[1])[None, :]
        m = eta * b.n[:, None]
        w = np.where(valid, np.clip(m - cols, 0.0, 1.0), 0.0)
        sums = np.bincount(b.block_id, weights=w.ravel())
        w_tied = (sums / b.block_size)[b.block_id].reshape(w.shape)
        index = b.index[valid]
        weight[index] = w_tied[valid]
        rank_mid[index] = b.rank_mid[valid]
        position[index] = np.broadcast_to(cols + 1, valid.shape)[valid]
    return weight, rank_mid, position


# --------------------------------------------------------------------- exact finite n (§4)
def inclusion_probabilities(pool_size: int, n: int, k: int) -> np.ndarray:
    """§4: ``pi_r = (n/N) HypergeomCDF(k-1; N-1, r-1, n-1)`` for ``r = 1..N``: the
    chance that the response at rank ``r`` is drawn in a uniform ``n``-subset and lands
    in its top ``k``.  Sums to ``k``.  The CDF comes from :func:`_hypergeom_cdf`, exact
    up to one rounding (and without importing SciPy, about 1 s)."""
    return (n / pool_size) * _hypergeom_cdf(int(pool_size), int(n))[:, int(k) - 1]


@functools.lru_cache(maxsize=32)
def _hypergeom_cdf(pool_size: int, n: int) -> np.ndarray:
    """``F[r-1, k-1] = HypergeomCDF(k-1; N-1, r-1, n-1)`` for ``r = 1..N``, ``k = 1..n``.

    With ``M = N-1`` others, ``K = r-1`` of them above rank ``r`` and ``d = n-1`` of
    them drawn, the numerators ``a_x = C(K, x) C(M-K, d-x)`` are whole numbers; they
    follow ``a_{x+1} = a_x (K-x)(d-x) / ((x+1)(M-K-d+x+1))`` from the first ``x`` with
    ``a_x > 0``.  Their running sums are divided by ``C(M, d)`` once, in Python's
    integer arithmetic: every value is correctly rounded.  O(N n) integer steps,
    cached per ``(N, n)``; read-only.
    """
    others, drawn = pool_size - 1, n - 1
    total = math.comb(others, drawn)
    out = np.zeros((pool_size, n))
    for above in range(pool_size):
        below = others - above
        x = max(0, drawn - below)
        term = math.comb(above, x) * math.comb(below, drawn - x)
        running = 0
        row = out[above]
        for k in range(n):  # k = x + 1 responses may land in the top: CDF at x = k
            if k >= x and k <= min(above, drawn):
                if k > x:
                    term = term * (above - k + 1) * (drawn - k + 1) // (k * (below - drawn + k))
                running += term
            row[k] = running / total
    out.setflags(write=False)
    return out


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


def exact_top_mean(ranking: Ranking, etas, n: int) -> np.ndarray:
    """§4: ``E[top-k mean]`` at sample size ``n`` for every prompt and eta (``k`` from eta)."""
    ks = k_for_eta(etas, n)
    unique_k, inverse = np.unique(ks, return_inverse=True)
    return exact_top_k_mean(ranking, n, unique_k)[:, inverse]


def exact_reta_per_prompt(ranking: Ranking, etas, n: int, normalization: str = "ratio"):
    """§4 per prompt: exact expected RETA at sample size ``n``, normalised by the pool
    mean ``mu_q``; ``(P, E)`` and the :class:`Eligibility` (pools smaller than ``n`` are
    excluded)."""
    parts = reta_parts(ranking, etas, normalization, n=check_n(n))
    return parts.per_prompt(), parts.eligibility


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
    chosen ones) break ties inside the RM's tie blocks.  For ``recovery`` each repeat is
    the ratio of sums over prompts with the perfect ranking of the same subsets (§3).
    ``progress(done, total)`` is called after each repeat.
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
    recovery = normalization == "recovery"
    out = np.zeros((repeats, ks.size))
    for rep in range(repeats):
        total = np.zeros(ks.size)
        best_total = np.zeros(ks.size)
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
            mu = ranking.mu[b.prompts[rows]]
            total += normalize(top, mu, normalization).sum(axis=0)
            if recovery:  # the perfect ranking of the same subset: its oracle values sorted
                best = np.cumsum(-np.sort(-oracle, axis=1), axis=1)[:, ks - 1] / ks[None, :]
                best_total += (best - mu[:, None]).sum(axis=0)
        out[rep] = ratio_of_sums(total, best_total) if recovery else total / n_prompts
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


def _draw_counts(n: int, n_boot: int, seed: int, start: int, stop: int, dtype=np.int32) -> np.ndarray:
    out = np.empty((stop - start, n), dtype=dtype)
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


@functools.lru_cache(maxsize=1)
def _cached_float_counts(n: int, n_boot: int, seed: int) -> np.ndarray:
    """:func:`bootstrap_counts` as float64, kept for the next RM: ``counts @ values``
    would otherwise convert the whole count matrix on every call."""
    counts = _draw_counts(n, n_boot, seed, 0, n_boot, dtype=np.float64)  # the same draws, no int copy
    counts.setflags(write=False)
    return counts


def bootstrap_over_prompts(per_prompt: np.ndarray, n_boot: int = 1000, seed: int = 0,
                           level: float = 0.95, denominators: np.ndarray | None = None
                           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """§6: bootstrap the mean over prompts, resampling counted prompts with replacement.

    ``per_prompt`` is ``(P, E)``; rows with any NaN are not counted.  Returns the
    bootstrap means ``(n_boot, E)`` and the percentile interval ``(low, high)`` at
    ``level``.  Each bootstrap mean is a row of ``counts @ values / n`` with the shared
    count matrix of :func:`bootstrap_counts`; with ``denominators`` (recovery, §3) it is
    the ratio of resampled sums ``(counts @ values) / (counts @ denominators)``.
    """
    values = np.asarray(per_prompt, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    keep = ~np.isnan(values).any(axis=1)
    if denominators is not None:
        den = np.asarray(denominators, dtype=np.float64).reshape(values.shape)
        keep &= ~np.isnan(den).any(axis=1)
        den = den[keep]
    values = values[keep]
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
        counts = _cached_float_counts(n, n_boot, seed) if whole else bootstrap_counts(n, n_boot, seed, start, stop)
        if denominators is None:
            means[start:stop] = counts @ values / n
        else:
            means[start:stop] = ratio_of_sums(counts @ values, counts @ den)
    alpha = (1 - level) / 2
    with np.errstate(invalid="ignore"):
        low, high = np.quantile(means, [alpha, 1 - alpha], axis=0)
    return means, low, high


def bootstrap_parts(parts: PromptValues, n_boot: int = 1000, seed: int = 0, level: float = 0.95):
    """:func:`bootstrap_over_prompts` of one RM's :class:`PromptValues` (counted prompts)."""
    rows = parts.counted
    return bootstrap_over_prompts(parts.values[rows], n_boot=n_boot, seed=seed, level=level,
                                  denominators=None if parts.denominators is None else parts.denominators[rows])


def simultaneous_band(replicates: np.ndarray, estimate: np.ndarray, level: float = 0.95):
    """§6: a band that holds over the whole eta grid at once.

    With bootstrap replicates ``d*_b(eta)`` ``(B, E)``, the point estimate ``d(eta)`` and
    the bootstrap standard deviation ``s(eta)``, ``c`` is the ``level`` quantile over
    ``b`` of ``max_eta |d*_b(eta) - d(eta)| / s(eta)``; the band is ``d +- c s``.  Etas
    where ``s`` is 0 or undefined (the two RMs cannot differ, e.g. ``eta = 1``) do not
    enter the maximum, and no claim is made there: the band is ``[min(d, 0), max(d, 0)]``.
    Returns ``(low, high, c)``."""
    replicates = np.asarray(replicates, dtype=np.float64)
    estimate = np.asarray(estimate, dtype=np.float64)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns (recovery at eta = 1)
        spread = np.nanstd(replicates, axis=0, ddof=1) if replicates.shape[0] > 1 else np.zeros_like(estimate)
    finite = replicates[np.isfinite(replicates)]
    scale = max(1.0, float(np.abs(finite).max())) if finite.size else 1.0
    usable = np.isfinite(spread) & (spread > 1e-12 * scale) & np.isfinite(estimate)
    # no spread, no claim: such an eta's band is [min(d, 0), max(d, 0)], which holds 0
    low, high = np.minimum(estimate, 0.0), np.maximum(estimate, 0.0)
    if not usable.any():
        return low, high, 0.0
    deviation = np.abs(replicates[:, usable] - estimate[usable]) / spread[usable]
    worst = np.nanmax(np.where(np.isfinite(deviation), deviation, -np.inf), axis=1)
    c = float(np.quantile(worst[np.isfinite(worst)], level))
    low[usable] = estimate[usable] - c * spread[usable]
    high[usable] = estimate[usable] + c * spread[usable]
    return low, high, c


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
    ``(mean, count)`` arrays of length ``bins``; an empty bin's mean is NaN."""
    sums, counts = reliability_per_prompt(ranking, bins)
    total = counts.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums.sum(axis=0) / total, total.astype(np.int64)


def reliability_per_prompt(ranking: Ranking, bins: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """§8 per prompt: ``(sums, counts)``, each ``(P, bins)``: the sum of ``J/mu_q`` over
    the prompt's responses in each bin and their number (zero rows for prompts that do
    not count).  A bin's mean is ``sum(sums) / sum(counts)`` over prompts, which is
    also how the bootstrap over prompts resamples it (§6)."""
    if int(bins) != bins or bins < 1:
        raise RetaInputError(f"bins must be a whole number >= 1, got {bins!r}")
    elig = eligibility(ranking, "ratio")
    sums = np.zeros(ranking.n_prompts * bins)
    counts = np.zeros(ranking.n_prompts * bins)
    for b in ranking.buckets:
        rows = np.flatnonzero(elig.prompt_counted[b.prompts])
        valid = b.valid[rows]
        u = (b.rank_mid[rows] - 0.5) / b.n[rows, None]
        which = np.clip(np.ceil(u * bins).astype(np.int64) - 1, 0, bins - 1)
        cell = (b.prompts[rows, None] * bins + which)[valid]
        value = (b.oracle[rows] / ranking.mu[b.prompts[rows], None])[valid]
        sums += np.bincount(cell, weights=value, minlength=sums.size)
        counts += np.bincount(cell, minlength=counts.size)
    return sums.reshape(-1, bins), counts.reshape(-1, bins)


# --------------------------------------------------------------------- baselines (§9)
def count_inversions(values: np.ndarray) -> np.ndarray:
    """Per row, the number of pairs ``i < j`` with ``values[i] > values[j]``.

    ``values`` is an integer matrix ``(rows, width)`` with ``width`` a power of two and
    entries in ``0..width`` (use ``width`` for padding at the end of a row: it never
    forms an inversion).  A bottom-up merge sort run on all rows at once, one row-wise
    integer sort per level: at level ``r`` each pair of neighbouring runs of length
    ``r`` is merged by sorting ``(segment, value, side)``, left before right on equal
    values.  A right element at merged position ``q`` has ``q - k`` left elements at
    most its value (``k``: right elements before it), so the level's inversions are
    ``r^2 + r(r-1)/2 - sum(q over right elements)`` per segment.  O(width log width)
    per row.
    """
    rows, width = values.shape
    inversions = np.zeros(rows, dtype=np.int64)
    doubled = 2 * np.asarray(values, dtype=np.int64)
    cols = np.arange(width, dtype=np.int64)
    run = 1
    while run < width:
        segments = width // (2 * run)
        side = (cols // run) & 1
        key = doubled + ((cols // (2 * run)) * (2 * width + 2) + side)[None, :]
        key.sort(axis=1)
        key &= 1  # which side each merged position holds
        right_positions = key @ (cols % (2 * run))
        inversions += segments * (run * run + run * (run - 1) // 2) - right_positions
        run *= 2
    return inversions


def _pairs_in_blocks(block_start: np.ndarray, block_size: np.ndarray, n: np.ndarray, width: int) -> np.ndarray:
    """Per row, the number of pairs inside the tie blocks (:func:`ranking.tie_blocks` of
    row-sorted values) that lie among the row's first ``n[row]`` cells."""
    row = block_start // width
    inside = (block_start - row * width) < n[row]
    pairs = block_size * (block_size - 1) // 2
    return np.bincount(row[inside], weights=pairs[inside], minlength=n.size).astype(np.int64)


def _oracle_ranks(bucket):
    """The oracle's ranks within each row of a ranked bucket, at the RM-order positions:
    dense 0-based ranks (padding ``width``), average 1-based ranks ascending (padding
    NaN), and per row the number of pairs with equal oracle scores.  One row sort."""
    valid = bucket.valid
    rows, width = valid.shape
    positions, sorted_oracle = sort_positions(bucket.oracle, valid)
    block_id, block_start, block_size = tie_blocks(sorted_oracle)
    ids = block_id.reshape(rows, width)
    cells = positions.ravel()
    dense = np.empty(rows * width, dtype=np.int64)
    dense[cells] = (ids - ids[:, :1]).ravel()
    mid = (block_columns(block_start, rows, width) + 1 + (block_size - 1) / 2.0)[block_id]
    average = np.empty(rows * width)
    average[cells] = mid
    dense, average = dense.reshape(rows, width), average.reshape(rows, width)
    dense[~valid] = width
    average[~valid] = np.nan
    return dense, average, _pairs_in_blocks(block_start, block_size, bucket.n, width)


def pair_statistics(bucket, oracle_ranks=None) -> dict:
    """§9 pair counts per row of a ranked bucket, in O(N log N) per prompt.

    With rows in RM order, order each RM tie block by oracle ascending (one row sort
    of ``(block, oracle rank)``) and count the inversions ``I`` of the oracle
    sequence: they are exactly the concordant pairs (RM above, oracle higher).  With
    ``n0`` pairs, ``T_J`` oracle ties and ``t`` RM ties with different oracle scores,
    the discordant pairs are ``n0 - I - T_J - t``, hence
    ``concordant - discordant = 2 I - n0 + T_J + t``.  ``oracle_ranks``: the bucket's
    :func:`_oracle_ranks`, when already computed.
    """
    valid = bucket.valid
    width = valid.shape[1]
    n = bucket.n
    oracle_rank, _, tied_oracle = _oracle_ranks(bucket) if oracle_ranks is None else oracle_ranks
    rows = n.size
    if bucket.block_size.size == rows * width:  # no RM ties (continuous scores): the RM order is the order
        sequence, tied_rm = oracle_rank, np.zeros(rows, dtype=np.int64)
        tied_both = tied_rm
    else:
        first_id = bucket.block_id[::width]
        block_row = np.searchsorted(first_id, np.arange(bucket.block_size.size), side="right") - 1
        tied_rm = _pairs_in_blocks(block_row * width + bucket.block_first, bucket.block_size, n, width)
        key = np.where(valid, bucket.block, width) * (width + 1) + oracle_rank
        key.sort(axis=1)
        _, key_start, key_size = tie_blocks(key)
        tied_both = _pairs_in_blocks(key_start, key_size, n, width)
        sequence = key % (width + 1)
    concordant = count_inversions(sequence)
    n0 = n * (n - 1) // 2
    ties = tied_rm - tied_both
    return {"n0": n0, "tied_rm": tied_rm, "tied_oracle": tied_oracle,
            "concordant_minus_discordant": 2 * concordant - n0 + tied_oracle + ties,
            "rm_ties_with_different_oracle": ties}


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
        oracle_ranks = _oracle_ranks(b)
        pairs = pair_statistics(b, oracle_ranks)
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
        rj = oracle_ranks[1]
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
