"""The seam under both front doors: one :class:`Evaluation` per (benchmark pool, oracle,
normalisation, category).

The command line parses its options, builds an ``Evaluation`` and renders what it
returns; the dashboard caches one ``Evaluation`` per view and calls the same methods.
It owns what depends on the user's choices and must be derived in one place only:

* the per-RM rankings (§2), computed once per RM and reused by every table;
* the benchmark's smallest pool for the oracle (``min_pool_size``), hence the default
  sample size ``n`` and the lowest eta at which RETA is more than the top-1 value (§3);
* the default eta grid (§10);
* the checks of every option (etas, ``n``, RM names, estimator), done once here so the
  kernels in :mod:`metrics` and the tables in :mod:`reports` can trust their inputs.

Example::

    >>> from reta_core import Evaluation, Store
    >>> ev = Evaluation.from_store(Store("data/reta.duckdb"), "demo")   # doctest: +SKIP
    >>> ev.curves(["strong_rm"], etas=[0.05, 0.25]).table               # doctest: +SKIP

Section numbers cite the project's metric reference, docs/metric.md.  The module also
re-exports the few table helpers that the dashboard's pages use on the tables it
returns (sorting, picking rows), so that pages import only this seam, the figures, the
exports and the readings.
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from . import metrics as M
from . import prompts, readings, reports
from .errors import RetaInputError, show
from .pool import Pool
from .prompts import (PROMPT_ORDERS, cut_score, preview, prompt_list, top_eta_oracle_mean,
                      top_eta_picks, with_texts)
from .ranking import Ranking, get_scores, rank_within_prompts
from .reports import (LEADERBOARD_ETAS, CurvesChart, Leaderboard, MetricResult, bon_equivalent_sizes,
                      curve_rows_at, curves_chart_table, eta_label, rank_at_eta, significant_ranges, top_dips)
from .scorers import PERFECT_RM, is_baseline, rms_not_beating_length, with_perfect_ranking

NORMALIZATIONS = M.NORMALIZATIONS
ESTIMATORS = ("pool", "exact")
DEFAULT_BOOTSTRAP = 1000
DEFAULT_REPEATS = 200
# threads that rank RMs at once: the cores this process may use, at most 4 (memory)
_RANKING_THREADS = min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)

__all__ = [
    "Evaluation", "NORMALIZATIONS", "ESTIMATORS", "DEFAULT_BOOTSTRAP", "DEFAULT_REPEATS",
    "LEADERBOARD_ETAS", "PROMPT_ORDERS", "PERFECT_RM", "CurvesChart", "Leaderboard", "MetricResult",
    "bon_equivalent_sizes", "curve_rows_at", "curves_chart_table", "cut_score", "eta_label",
    "is_baseline", "preview", "prompt_list", "rank_at_eta", "rms_not_beating_length",
    "significant_ranges", "top_dips", "top_eta_oracle_mean", "top_eta_picks", "with_texts",
]


class Evaluation:
    """A benchmark's pool judged by one oracle under one normalisation (§1-§10).

    Parameters
    ----------
    pool : Pool
        The benchmark's scores.
    oracle : str, optional
        The oracle the RMs are judged by (default: the pool's first oracle).
    normalization : {'ratio', 'difference', 'raw'}
        How a prompt's top-eta mean is compared with its pool mean (§3).
    category : str, optional
        Keep only the prompts of this category.
    benchmark : str, optional
        The benchmark's name, for messages and metadata.
    derived : iterable of str, optional
        The RMs that are derived (ensembles of other RMs, §11): the leaderboard marks
        them.  :meth:`from_store` reads them from the store.

    Every table method takes ``rms`` (a list of RM names; default: every RM of the
    pool, in its order) and returns the same numbers whichever other RMs are asked for.
    """

    def __init__(self, pool: Pool, oracle: str | None = None, normalization: str = "ratio", *,
                 category: str | None = None, benchmark: str | None = None, derived=()):
        self.normalization = M.check_normalization(normalization)
        if oracle is None:
            if not pool.oracles:
                raise RetaInputError("the benchmark has no oracle")
            oracle = next(iter(pool.oracles))
        get_scores(pool, "oracle", oracle)  # an unknown oracle: RetaInputError
        if category is not None:  # compared as text: the store keeps categories as text
            labels = (np.array(["" if c is None else str(c) for c in pool.categories], dtype=object)
                      if pool.categories is not None else np.array([], dtype=object))
            known = sorted({str(c) for c in pool.categories if c is not None}) if pool.categories is not None else []
            if str(category) not in known:
                raise RetaInputError(f"unknown category {show(category)}; it has: {', '.join(known) or 'none'}")
            pool = pool.select_prompts(labels == str(category))
        self.pool = pool
        self.oracle = oracle
        self.category = category
        self.benchmark = benchmark
        self.derived = frozenset(derived)
        self._rankings: dict[str, Ranking] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_store(cls, store, benchmark: str, oracle: str | None = None, normalization: str = "ratio",
                   *, category: str | None = None, rms=None, info: dict | None = None) -> "Evaluation":
        """An evaluation of a stored benchmark (``store``: a :class:`~reta_core.store.Store`
        or a database path); ``oracle`` defaults to the benchmark's default oracle,
        ``rms`` (names) to all its RMs.  ``info``: the benchmark's
        :meth:`~reta_core.store.Store.benchmark_info` when the caller already has it."""
        from .store import Store

        store = store if isinstance(store, Store) else Store(store)
        M.check_normalization(normalization)
        if info is None:
            pool, oracle, derived = store.load_evaluated_pool(benchmark, oracle or None, rms, category)
        else:
            oracle = oracle or info["default_oracle"]
            pool = store.load_pool(benchmark, oracles=[oracle], rms=rms, category=category)
            derived = [r["name"] for r in info["rms"] if r.get("is_derived")]
        evaluation = cls(pool, oracle, normalization, benchmark=benchmark, derived=derived)
        evaluation.category = category
        return evaluation

    def __repr__(self):
        where = f", category={self.category!r}" if self.category else ""
        return (f"Evaluation(benchmark={self.benchmark!r}, oracle={self.oracle!r}, "
                f"normalization={self.normalization!r}{where}, rms={self.rms})")

    # ------------------------------------------------------------------ what it owns
    @property
    def rms(self) -> list[str]:
        """Every RM of the pool, in its order."""
        return list(self.pool.rms)

    def ranking(self, rm: str) -> Ranking:
        """The ranking of one RM against the oracle (§2), computed once."""
        ranking = self._rankings.get(rm)
        if ranking is None:
            ranking = rank_within_prompts(self.pool, rm, self.oracle)  # unknown RM: RetaInputError
            with self._lock:
                ranking = self._rankings.setdefault(rm, ranking)
        return ranking

    def rankings(self, rms=None) -> dict[str, Ranking]:
        """``{rm: ranking}`` of ``rms`` (default: every RM), in the order given.  RMs not
        ranked yet are ranked on a few threads at once (numpy releases the GIL in its
        sorts and array operations), each exactly as alone."""
        names = self.rms if rms is None else ([rms] if isinstance(rms, str) else list(rms))
        if not names:
            raise RetaInputError("no RM to evaluate")
        missing = [rm for rm in dict.fromkeys(names) if rm not in self._rankings]
        workers = min(len(missing), _RANKING_THREADS)
        if workers > 1:
            for rm in missing:
                get_scores(self.pool, "rm", rm)  # an unknown RM: the same error, before any work
            with ThreadPoolExecutor(max_workers=workers) as threads:
                list(threads.map(self.ranking, missing))
        return {rm: self.ranking(rm) for rm in names}

    @property
    def min_pool_size(self) -> int:
        """The benchmark's smallest pool for the oracle (§10): oracle-scored responses,
        over the prompts that would count for an RM that scores every response (§1).

        It depends on the pool, the oracle and the normalisation only, so adding a
        partly-scored RM changes no other RM's grid, eta* or BoN@n; each RM's own smaller
        pools are flagged and excluded per RM."""
        if not hasattr(self, "_min_pool_size"):
            j = self.pool.oracles[self.oracle]
            scored = np.isfinite(j)
            codes = self.pool.prompt_codes
            n = np.bincount(codes, weights=scored, minlength=self.pool.n_prompts)
            total = np.bincount(codes, weights=np.where(scored, j, 0.0), minlength=self.pool.n_prompts)
            with np.errstate(invalid="ignore", divide="ignore"):
                mu = total / n
            counts = M.exclusion_reasons(n, mu, self.normalization) == ""
            self._min_pool_size = int(n[counts].min()) if counts.any() else 0
        return self._min_pool_size

    @property
    def default_n(self) -> int:
        """The default sample size of the finite-n estimators (§4): the smallest pool."""
        return self.require_counted()

    @property
    def lowest_eta(self) -> float:
        """``1 / min N``: below it the smallest pools' top eta holds less than one response
        and the estimate is the top-1 value (§3, §7)."""
        return 1.0 / max(self.min_pool_size, 1)

    def eta_grid(self, include=()) -> np.ndarray:
        """The default eta grid (§10), with ``include`` added (e.g. a marker's eta)."""
        grid = M.default_eta_grid(self.min_pool_size)
        if len(include):
            grid = np.unique(np.concatenate([grid, M.check_etas(include)]))
        return grid

    def standard_etas(self) -> np.ndarray:
        """The leaderboard's etas (0.05, 0.1, 0.25, 0.5) at or above the lowest meaningful
        eta (else that eta alone): the default points of a comparison gate."""
        etas = np.array([e for e in LEADERBOARD_ETAS if e >= self.lowest_eta - 1e-12])
        return etas if etas.size else np.array([self.lowest_eta])

    @property
    def oracle_far_from_zero(self) -> bool:
        """Whether the oracle's scores all lie far from 0 (e.g. a 1-10 rating or a 1-2
        preference): the smallest is at least a tenth of their range above 0.  Then the
        ``ratio`` reading "1.3 = 30 % better" depends on where the scale's zero is, and
        ``recovery`` (§3), which does not, is the better reading."""
        j = self.pool.oracles[self.oracle]
        j = j[np.isfinite(j)]
        if j.size == 0:
            return False
        low, high = float(j.min()), float(j.max())
        return low > 0 and low >= 0.1 * (high - low)

    def require_counted(self) -> int:
        """The smallest pool; a clear error when no prompt counts at all."""
        if self.min_pool_size < 2:
            raise RetaInputError("no prompt counts for any RM (see the excluded prompts)")
        return self.min_pool_size

    # ------------------------------------------------------------------ checks
    def _etas(self, etas, include=()) -> np.ndarray:
        return self.eta_grid(include) if etas is None else M.check_etas(etas)

    def check_n(self, n, rankings: dict[str, Ranking]) -> int:
        """§4: ``n`` (default: the smallest pool) must be a whole number >= 1 and not
        exceed every pool of every RM asked for (an RM whose own pools are all smaller
        simply has no prompt that counts)."""
        if n is None:
            return self.default_n
        n = M.check_n(n)
        largest = max((int(r.n_counted.max(initial=0)) for r in rankings.values()), default=0)
        if n > largest:
            raise RetaInputError(f"n = {n} is larger than every pool (largest has {largest} scored responses)")
        return n

    @staticmethod
    def _check_estimator(estimator: str) -> str:
        if estimator not in ESTIMATORS:
            raise RetaInputError(f"unknown estimator {estimator!r}; choose pool or exact "
                                 "(resampling: Evaluation.resampled)")
        return estimator

    @staticmethod
    def _check_count(value, what: str, low: int) -> int:
        if value is None or int(value) != value or value < low:
            raise RetaInputError(f"{what} must be a whole number >= {low}, got {value!r}")
        return int(value)

    # ------------------------------------------------------------------ curves (§3-§6)
    def curves(self, rms=None, etas=None, *, estimator: str = "pool", n: int | None = None,
               ci: bool = False, n_boot: int = DEFAULT_BOOTSTRAP, seed: int = 0, level: float = 0.95,
               progress=None) -> MetricResult:
        """RETA curves (§3 pool, §4 exact at ``n``, default the smallest pool), with 95 %
        bootstrap bands over prompts when ``ci`` (§6); see :func:`reports.curves`.
        ``etas`` default to the §10 grid."""
        self._check_estimator(estimator)
        rankings = self.rankings(rms)
        if estimator == "exact":
            n = self.check_n(n, rankings)
        elif n is not None:
            raise RetaInputError("n applies to the exact estimator (the pool estimator uses every response)")
        if ci:
            self._check_count(n_boot, "the number of bootstrap resamples", 1)
        return reports.curves(rankings, self._etas(etas), normalization=self.normalization,
                              estimator=estimator, n=n, ci=ci, n_boot=n_boot, seed=seed, level=level,
                              progress=progress)

    def bon(self, n: int | None = None, rms=None) -> MetricResult:
        """Best-of-n (§4 with ``k = 1``; ``n`` default the smallest pool)."""
        rankings = self.rankings(rms)
        return reports.bon(rankings, self.check_n(n, rankings), normalization=self.normalization)

    def resampled(self, n: int | None = None, etas=None, rms=None, *, repeats: int = DEFAULT_REPEATS,
                  seed: int = 0, progress=None) -> MetricResult:
        """RETA by resampling at sample size ``n`` (§5)."""
        rankings = self.rankings(rms)
        repeats = self._check_count(repeats, "repeats", 2)
        n = self.check_n(n, rankings)
        return reports.resampled(rankings, n, self._etas(etas), repeats=repeats, seed=seed,
                                 normalization=self.normalization, progress=progress)

    def compare(self, rm_a: str, rm_b: str, etas=None, *, n_boot: int = DEFAULT_BOOTSTRAP,
                seed: int = 0, level: float = 0.95) -> MetricResult:
        """The paired comparison of two RMs (§6): ``diff = A - B`` per eta with its band
        and ``P(A > B)``."""
        if rm_a == rm_b:
            raise RetaInputError("choose two different RMs to compare")
        rankings = self.rankings([rm_a, rm_b])
        self._check_count(n_boot, "the number of bootstrap resamples", 1)
        return reports.compare(rankings[rm_a], rankings[rm_b], self._etas(etas),
                               normalization=self.normalization, n_boot=n_boot, seed=seed, level=level)

    def perfect_curve(self, etas=None, *, estimator: str = "pool", n: int | None = None) -> pd.DataFrame:
        """The perfect ranking's curve (RM = oracle, §3): the highest curve any RM can
        reach on this pool, on ``etas`` (default the §10 grid)."""
        self._check_estimator(estimator)
        perfect = rank_within_prompts(with_perfect_ranking(self.pool, self.oracle), PERFECT_RM, self.oracle)
        rankings = {PERFECT_RM: perfect}
        n = self.check_n(n, rankings) if estimator == "exact" else None
        return reports.curves(rankings, self._etas(etas), normalization=self.normalization,
                              estimator=estimator, n=n).table

    def curves_chart(self, rms=None, etas=None, *, estimator: str = "pool", n: int | None = None,
                     ci: bool = True, n_boot: int = DEFAULT_BOOTSTRAP, seed: int = 0, include=(),
                     progress=None) -> CurvesChart:
        """Everything the RETA curves chart draws, for the page and ``export-chart`` alike:
        the RMs' curves (bands with ``ci``), the perfect ranking, BoN@n for the exact
        estimator, and where the grid falls below ``1/min N`` (or ``1/n``).
        ``include``: etas added to the grid (a marker's, so the curves pass through it)."""
        self.require_counted()
        self._check_estimator(estimator)
        rankings = self.rankings(rms)
        exact = estimator == "exact"
        n = self.check_n(n, rankings) if exact else None
        etas = self._etas(etas)
        if len(include):
            etas = np.unique(np.concatenate([etas, M.check_etas(include)]))
        result = self.curves(rms, etas, estimator=estimator, n=n, ci=ci, n_boot=n_boot, seed=seed,
                             progress=progress)
        perfect = self.perfect_curve(etas, estimator=estimator, n=n)
        return CurvesChart(result.table, perfect, result.excluded, 1.0 / n if exact else self.lowest_eta,
                           self.min_pool_size, n, self.bon(n, rms).table if exact else None)

    # ------------------------------------------------------------------ §7, §8, §9
    def leaderboard(self, rms=None, *, n: int | None = None, ci: bool = True,
                    n_boot: int = DEFAULT_BOOTSTRAP, seed: int = 0, progress=None) -> Leaderboard:
        """One row per RM: RETA at 0.05, 0.1, 0.25, 0.5 (with bands when ``ci``), eta*,
        RETA(eta*) and its gain (§7), BoN@n (§4; ``n`` default the smallest pool),
        pairwise accuracy, Spearman and Kendall (§9); sorted by RETA(eta*)."""
        min_n = self.require_counted()
        rankings = self.rankings(rms)
        n = self.check_n(n, rankings)
        grid = self.eta_grid(include=LEADERBOARD_ETAS)
        return reports.leaderboard(rankings, grid, n, min_n, normalization=self.normalization, ci=ci,
                                   n_boot=n_boot, seed=seed, progress=progress, derived=self.derived)

    def optimal_quantiles(self, rms=None, *, ci: bool = True, n_boot: int = DEFAULT_BOOTSTRAP,
                          seed: int = 0) -> pd.DataFrame:
        """§7 per RM on the default grid: eta*, RETA(eta*) with its band, the gain over
        the top pick with its paired interval, and a one-sentence ``reading``."""
        table = reports.optimal_table(self.rankings(rms), self.eta_grid(), normalization=self.normalization,
                                      ci=ci, n_boot=n_boot, seed=seed)
        table["reading"] = [readings.optimal_reading(r.rm, r.eta_star, r.gain, r.relative_gain, r.eta_min,
                                                     getattr(r, "gain_ci_low", None), self.normalization,
                                                     getattr(r, "vs_random", None))
                            for r in table.itertuples()]
        return table

    @property
    def default_bins(self) -> int:
        """§8: ``K = min(20, min N)``, so every bin receives about as many responses from
        every prompt (with 11 responses, 20 bins would alternate full and nearly empty)."""
        return max(1, min(20, self.min_pool_size))

    def reliability_map(self, rms=None, bins: int | None = None, *, ci: bool = True,
                        n_boot: int = DEFAULT_BOOTSTRAP, seed: int = 0) -> MetricResult:
        """The reliability map (§8): ``bins`` equal bins of the rank percentile (default
        :attr:`default_bins`), each with its number of responses and, with ``ci``, the
        95 % bootstrap band of its mean."""
        bins = self.default_bins if bins is None else self._check_count(bins, "bins", 1)
        return reports.reliability_map(self.rankings(rms), bins, ci=ci, n_boot=n_boot, seed=seed)

    def baselines(self, rms=None) -> MetricResult:
        """Pairwise accuracy, Spearman and Kendall tau-b per RM (§9)."""
        return reports.baselines(self.rankings(rms))

    def category_table(self, eta: float, rms=None) -> pd.DataFrame:
        """RETA at one eta per category and RM: ``rm, category, reta, n_prompts``."""
        if self.pool.categories is None:
            raise RetaInputError("this benchmark has no categories")
        M.check_etas([eta])
        return reports.category_table(self.rankings(rms), self.pool.categories, eta,
                                      normalization=self.normalization)

    def stability_sizes(self) -> list[int]:
        """The stability study's sample sizes: powers of two up to the smallest pool."""
        return reports.stability_sizes(self.min_pool_size)

    def stability(self, eta: float, rms=None, *, sizes=None, repeats: int = DEFAULT_REPEATS,
                  seed: int = 0, progress=None) -> pd.DataFrame:
        """The §5 study: resampled RETA at ``eta`` and BoN@n for every sample size."""
        M.check_etas([eta])
        rankings = self.rankings(rms)
        repeats = self._check_count(repeats, "repeats", 2)
        sizes = self.stability_sizes() if sizes is None else [self.check_n(s, rankings) for s in sizes]
        return reports.stability_study(rankings, eta, sizes, repeats=repeats, seed=seed,
                                       normalization=self.normalization, progress=progress)

    # ------------------------------------------------------------------ inspector
    def prompt_table(self, rm: str, eta: float, other: str | None = None) -> pd.DataFrame:
        """Per prompt at one eta (pool estimator): the RM's R_q, its shortfall from the
        perfect ranking and, with ``other``, the comparison columns."""
        M.check_etas([eta])
        rankings = self.rankings([rm] if other is None else [rm, other])
        return prompts.prompt_table(self.pool, rankings[rm], eta, self.normalization,
                                    other=None if other is None else rankings[other])

    def prompt_responses(self, rm: str, prompt_index: int, eta: float) -> pd.DataFrame:
        """One prompt's responses in the RM's order with their top-eta weights."""
        M.check_etas([eta])
        return prompts.prompt_responses(self.pool, self.ranking(rm), int(prompt_index), eta)

    # ------------------------------------------------------------------ scores
    def score_summary(self, names=None) -> pd.DataFrame:
        """Per oracle / RM: scored, missing and the distribution's key figures."""
        return reports.score_summary(self.pool, names)

    def score_values(self, names=None) -> pd.DataFrame:
        """The finite scores of oracles and RMs in long form (a histogram's data)."""
        return reports.score_values(self.pool, names)

    def excluded(self, rms=None) -> pd.DataFrame:
        """Per RM and reason, the prompts that do not count (§1)."""
        return reports.excluded_table([M.eligibility(r, self.normalization) for r in self.rankings(rms).values()])

    def rm_min_pool_sizes(self, rms=None) -> dict[str, int]:
        """Each RM's own smallest counted pool (§1): below ``1 / it`` its values are top-1."""
        return {rm: M.eligibility(r, self.normalization).min_pool_size for rm, r in self.rankings(rms).items()}

    def metadata(self) -> dict:
        """What every output should say it was computed on."""
        return {"benchmark": self.benchmark, "oracle": self.oracle, "normalization": self.normalization,
                "category": self.category, "min_pool_size": self.min_pool_size,
                "n_prompts": self.pool.n_prompts}
