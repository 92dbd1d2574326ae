"""Tables over several RMs, composed from the per-prompt kernels of :mod:`metrics`.

Every function here takes the rankings it reports on (``{rm: Ranking}``, made by the
one ranking routine, §2) and the options it needs, already resolved: the eta grid, the
sample size ``n``, the normalisation.  The :class:`~reta_core.evaluation.Evaluation`
resolves the defaults (the §10 grid, the smallest pool as ``n``) and checks the inputs
once, then calls these.  Sections cite the project's metric reference, docs/metric.md.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import metrics as M
from .errors import RetaInputError
from .progress import offset
from .ranking import Ranking
from .scorers import PERFECT_RM, is_baseline

LEADERBOARD_ETAS = (0.05, 0.1, 0.25, 0.5)


@dataclass
class MetricResult:
    """A tidy table ready for a page or a CSV export, and the prompts that did not count.

    ``excluded`` has columns ``rm, reason, n_prompts``: every excluded prompt is counted
    with its reason (§1), never dropped silently.  ``per_prompt[rm]`` holds the
    ``(P, E)`` per-prompt values where the table is a curve, and ``parts[rm]`` the
    :class:`metrics.PromptValues` they average from (with recovery's denominators).
    """

    table: pd.DataFrame
    excluded: pd.DataFrame
    per_prompt: dict = field(default_factory=dict)
    parts: dict = field(default_factory=dict)


def excluded_table(eligs) -> pd.DataFrame:
    """One row per RM and exclusion reason (§1) of several :class:`metrics.Eligibility`."""
    frames = [e.excluded() for e in eligs]
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame({"rm": pd.Series(dtype=object), "reason": pd.Series(dtype=object),
                             "n_prompts": pd.Series(dtype=int)})
    return pd.concat(frames, ignore_index=True)


def eta_label(eta: float) -> str:
    """Column suffix of a standard eta, e.g. ``reta_0.05``."""
    return f"reta_{eta:g}"


# --------------------------------------------------------------------- curves (§3, §4, §6)
def curves(rankings: dict[str, Ranking], etas: np.ndarray, *, normalization: str = "ratio",
           estimator: str = "pool", n: int | None = None, ci: bool = False, n_boot: int = 1000,
           seed: int = 0, level: float = 0.95, progress=None) -> MetricResult:
    """RETA curves of several RMs (§3 pool, §4 exact at ``n``), optionally with bootstrap
    bands (§6).  Columns: ``rm, eta, reta, n_prompts, below_min_eta`` (eta below
    ``1/min N``, or ``1/n`` for the exact estimator: the estimate is the top-1 value),
    and ``ci_low, ci_high`` with ``ci``.  ``progress(done, total, message)`` counts RMs.

    Every RM's bootstrap uses the same count matrix (:func:`metrics.bootstrap_counts`),
    so a table of several RMs equals the tables of each RM alone.
    """
    frames, eligs, per_prompt, all_parts = [], [], {}, {}
    for done, (rm, ranking) in enumerate(rankings.items(), 1):
        parts = M.reta_parts(ranking, etas, normalization, n=n if estimator == "exact" else None)
        elig = parts.eligibility
        eligs.append(elig)
        per_prompt[rm], all_parts[rm] = parts.per_prompt(), parts
        counted = elig.prompt_counted
        frame = pd.DataFrame({"rm": rm, "eta": etas, "reta": parts.aggregate(),
                              "n_prompts": int(counted.sum())})
        limit = 1.0 / n if estimator == "exact" else 1.0 / max(elig.min_pool_size, 1)
        frame["below_min_eta"] = etas < limit - 1e-12
        if ci and counted.any():
            _, frame["ci_low"], frame["ci_high"] = M.bootstrap_parts(parts, n_boot=n_boot, seed=seed,
                                                                     level=level)
        elif ci:
            frame["ci_low"] = frame["ci_high"] = np.nan
        frames.append(frame)
        if progress is not None:
            progress(done, len(rankings), rm)
    if not frames:
        raise RetaInputError("no RM to evaluate")
    return MetricResult(pd.concat(frames, ignore_index=True), excluded_table(eligs), per_prompt, all_parts)


def bon(rankings: dict[str, Ranking], n: int, *, normalization: str = "ratio") -> MetricResult:
    """Best-of-n (§4 with ``k = 1``): ``rm, n, bon, n_prompts``."""
    rows, eligs = [], []
    for rm, ranking in rankings.items():
        parts = M.reta_parts(ranking, [1.0 / n], normalization, n=n)
        eligs.append(parts.eligibility)
        rows.append({"rm": rm, "n": n, "bon": float(parts.aggregate()[0]),
                     "n_prompts": int(parts.counted.sum())})
    return MetricResult(pd.DataFrame(rows), excluded_table(eligs))


def resampled(rankings: dict[str, Ranking], n: int, etas: np.ndarray, *, repeats: int = 200,
              seed: int = 0, normalization: str = "ratio", progress=None) -> MetricResult:
    """§5: resampled RETA at sample size ``n``: ``rm, eta, n, k, mean, std, cv, repeats,
    n_prompts``.  ``progress(done, total, message)`` counts repeats over all RMs.  Seeded:
    the same seed gives the same numbers, whichever other RMs are evaluated."""
    frames, eligs = [], []
    total = repeats * len(rankings)
    ks = M.k_for_eta(etas, n)
    for i, (rm, ranking) in enumerate(rankings.items()):
        elig = M.eligibility(ranking, normalization, n=n)
        eligs.append(elig)
        step = offset(progress, i * repeats, total, rm)
        if elig.n_prompts == 0:  # every pool of this RM is smaller than n: reported, not fatal
            mean = std = np.full(len(etas), np.nan)
            if step is not None:
                step(repeats, repeats)
        else:
            draws = M.resample_top_k_means(ranking, n, ks, repeats, seed, normalization, step)
            mean, std = draws.mean(axis=0), draws.std(axis=0, ddof=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            cv = std / np.abs(mean)
        frames.append(pd.DataFrame({"rm": rm, "eta": etas, "n": n, "k": ks, "mean": mean,
                                    "std": std, "cv": cv, "repeats": repeats,
                                    "n_prompts": elig.n_prompts}))
    return MetricResult(pd.concat(frames, ignore_index=True), excluded_table(eligs))


def compare(ranking_a: Ranking, ranking_b: Ranking, etas: np.ndarray, *, normalization: str = "ratio",
            n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> MetricResult:
    """§6 paired comparison on the prompts counted for both RMs: ``diff = RETA_A -
    RETA_B`` per eta (the mean of ``d_q = R_q^A - R_q^B``; for recovery the difference
    of the two ratios of sums), its pointwise bootstrap interval (``ci_low, ci_high``),
    the simultaneous band over the whole grid (``sim_low, sim_high``) and
    ``p_a_better``, the share of bootstrap replicates with ``diff > 0``.

    Columns: ``rm_a, rm_b, eta, diff, ci_low, ci_high, sim_low, sim_high, p_a_better,
    n_prompts, significant, significant_pointwise``.  ``significant``: the simultaneous
    band excludes 0, so a claim over any set of etas of the grid holds at the 95 %
    level; ``significant_pointwise``: the pointwise interval excludes 0 at that eta."""
    rm_a, rm_b = ranking_a.rm, ranking_b.rm
    pa = M.reta_parts(ranking_a, etas, normalization)
    pb = M.reta_parts(ranking_b, etas, normalization)
    both = pa.counted & pb.counted
    if not both.any():
        raise RetaInputError(f"no prompt counts for both {rm_a!r} and {rm_b!r}")
    if pa.denominators is None:
        diff = (pa.values - pb.values)[both]
        estimate = diff.mean(axis=0)
        replicates, low, high = M.bootstrap_over_prompts(diff, n_boot=n_boot, seed=seed, level=level)
    else:
        estimate = pa.aggregate(both) - pb.aggregate(both)
        values = np.concatenate([pa.values[both], pb.values[both]], axis=1)
        dens = np.concatenate([pa.denominators[both], pb.denominators[both]], axis=1)
        ratios, _, _ = M.bootstrap_over_prompts(values, n_boot=n_boot, seed=seed, level=level, denominators=dens)
        width = len(etas)
        replicates = ratios[:, :width] - ratios[:, width:]
        with np.errstate(invalid="ignore"):
            low, high = np.quantile(replicates, [(1 - level) / 2, 1 - (1 - level) / 2], axis=0)
    sim_low, sim_high, _ = M.simultaneous_band(replicates, estimate, level)
    with np.errstate(invalid="ignore"):
        better = np.where(np.isnan(replicates).all(axis=0), np.nan, (replicates > 0).mean(axis=0))
    table = pd.DataFrame({"eta": etas, "diff": estimate, "ci_low": low, "ci_high": high,
                          "sim_low": sim_low, "sim_high": sim_high, "p_a_better": better,
                          "n_prompts": int(both.sum())})
    table["significant"] = (table["sim_low"] > 0) | (table["sim_high"] < 0)
    table["significant_pointwise"] = (table["ci_low"] > 0) | (table["ci_high"] < 0)
    table.insert(0, "rm_b", rm_b)
    table.insert(0, "rm_a", rm_a)
    return MetricResult(table, excluded_table([pa.eligibility, pb.eligibility]))


def significant_ranges(comparison: pd.DataFrame) -> list[dict]:
    """Stretches of the eta grid where a paired difference is significant (§6).

    ``comparison``: a :func:`compare` table.  Returns one dict per run of consecutive
    grid points (in eta order) whose 95 % interval excludes 0 on the same side:
    ``eta_low, eta_high`` (the first and last grid eta of the run) and ``better`` (the
    RM that is significantly better there)."""
    t = comparison.sort_values("eta")
    eta = t["eta"].to_numpy(np.float64)
    diff = t["diff"].to_numpy(np.float64)
    sig = t["significant"].to_numpy(bool)
    rm_a, rm_b = str(t["rm_a"].iloc[0]), str(t["rm_b"].iloc[0])
    ranges = []
    for better, mask in ((rm_a, sig & (diff > 0)), (rm_b, sig & (diff < 0))):
        edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
        for start, stop in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1):
            ranges.append({"eta_low": float(eta[start]), "eta_high": float(eta[stop]), "better": better})
    return sorted(ranges, key=lambda r: r["eta_low"])


def curve_rows_at(curves_table: pd.DataFrame, eta: float) -> pd.DataFrame | None:
    """The rows of a :func:`curves` table at exactly ``eta``, or None when ``eta`` is not
    on its grid.  Bands come from the shared bootstrap draw, so these rows equal a fresh
    computation at ``eta`` alone: a page can answer a move along its grid without
    recomputing."""
    rows = curves_table[curves_table["eta"].to_numpy() == float(eta)]
    if rows.empty or rows["rm"].nunique() != curves_table["rm"].nunique():
        return None
    return rows.reset_index(drop=True)


def rank_at_eta(table: pd.DataFrame) -> pd.DataFrame:
    """A one-eta curves table (``rm, reta, ...``) with ``rank``: 1 for the highest RETA,
    tied RMs share the better rank, RMs without a value (NaN) get no rank."""
    table = table.copy()
    table["rank"] = table["reta"].rank(ascending=False, method="min").astype("Int64")
    return table


# --------------------------------------------------------------------- §7, §8, §9
def optimal_quantiles(curves_table: pd.DataFrame, min_pool_sizes: dict) -> pd.DataFrame:
    """§7 for every RM of a :func:`curves` table: ``rm, eta_star, reta_at_eta_star,
    eta_min, reta_at_eta_min, gain, relative_gain`` (band columns carried over when the
    table has them)."""
    rows = []
    for rm, group in curves_table.groupby("rm", sort=False):
        best = M.optimal_eta(group["eta"].to_numpy(), group["reta"].to_numpy(), min_pool_sizes[rm])
        if "ci_low" in group:
            at = group.iloc[int(np.argmin(np.abs(group["eta"].to_numpy() - best["eta_star"])))]
            best["ci_low"], best["ci_high"] = float(at["ci_low"]), float(at["ci_high"])
        rows.append({"rm": rm, **best})
    return pd.DataFrame(rows)


def optimal_table(rankings: dict[str, Ranking], etas: np.ndarray, *, normalization: str = "ratio",
                  ci: bool = True, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """§7 per RM on ``etas``, with the band of RETA(eta*), the paired bootstrap
    interval of the gain over the top pick (``gain_ci_low, gain_ci_high``: §6 applied to
    ``R_q(eta*) - R_q(eta_min)``) and where that band lies against a random ranking
    (``vs_random``, :func:`versus_random`)."""
    result = curves(rankings, etas, normalization=normalization, ci=ci, n_boot=n_boot, seed=seed)
    sizes = {rm: M.eligibility(r, normalization).min_pool_size for rm, r in rankings.items()}
    table = optimal_quantiles(result.table, sizes)
    if ci:
        lows, highs = [], []
        for r in table.itertuples():
            grid = result.table.loc[result.table["rm"] == r.rm, "eta"].to_numpy()
            star, first = np.flatnonzero(grid == r.eta_star)[0], np.flatnonzero(grid == r.eta_min)[0]
            low, high = gain_interval(result.parts[r.rm], star, first, n_boot=n_boot, seed=seed)
            lows.append(low)
            highs.append(high)
        table["gain_ci_low"], table["gain_ci_high"] = lows, highs
        table["vs_random"] = [versus_random(r.ci_low, r.ci_high, normalization) for r in table.itertuples()]
    return table


def versus_random(low: float, high: float, normalization: str) -> str | None:
    """§7: where the 95 % band of RETA(eta*) lies against the random value (1 for
    ``ratio``, 0 for ``difference`` and ``recovery``): ``"better"`` above it, ``"worse"``
    below it, ``"no better"`` when it contains it; None for ``raw`` (no random value)
    or a missing band."""
    level = M.RANDOM_VALUE.get(normalization)
    if level is None or not (np.isfinite(low) and np.isfinite(high)):
        return None
    if low > level:
        return "better"
    return "worse" if high < level else "no better"


def gain_interval(parts, star: int, first: int, *, n_boot: int = 1000, seed: int = 0,
                  level: float = 0.95) -> tuple[float, float]:
    """§7: the paired bootstrap interval of ``RETA(eta*) - RETA(eta_min)`` (columns
    ``star`` and ``first`` of one RM's :class:`metrics.PromptValues`)."""
    if parts.denominators is None:
        values = parts.values[parts.counted]
        _, low, high = M.bootstrap_over_prompts(values[:, star] - values[:, first], n_boot=n_boot, seed=seed,
                                                level=level)
        return float(low[0]), float(high[0])
    means, _, _ = M.bootstrap_parts(parts.columns([star, first]), n_boot=n_boot, seed=seed, level=level)
    with np.errstate(invalid="ignore"):
        low, high = np.quantile(means[:, 0] - means[:, 1], [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(low), float(high)


def reliability_map(rankings: dict[str, Ranking], bins: int = 20, *, ci: bool = True, n_boot: int = 1000,
                    seed: int = 0, level: float = 0.95) -> MetricResult:
    """§8 for several RMs: ``rm, bin, u_low, u_high, mean_normalized_oracle, n_responses``
    and, with ``ci``, the 95 % bootstrap band over prompts of each bin's mean
    (``ci_low, ci_high``).  An empty bin's mean and band are missing (NaN), never 0."""
    frames, eligs = [], []
    edges = np.linspace(0, 1, bins + 1)
    for rm, ranking in rankings.items():
        sums, counts = M.reliability_per_prompt(ranking, bins)
        total = counts.sum(axis=0)
        frame = pd.DataFrame({"rm": rm, "bin": np.arange(bins), "u_low": edges[:-1], "u_high": edges[1:],
                              "mean_normalized_oracle": M.ratio_of_sums(sums.sum(axis=0), total),
                              "n_responses": total.astype(np.int64)})
        elig = M.eligibility(ranking, "ratio")
        if ci:
            rows = elig.prompt_counted
            if rows.any():
                _, frame["ci_low"], frame["ci_high"] = M.bootstrap_over_prompts(
                    sums[rows], n_boot=n_boot, seed=seed, level=level, denominators=counts[rows])
            else:
                frame["ci_low"] = frame["ci_high"] = np.nan
        eligs.append(elig)
        frames.append(frame)
    return MetricResult(pd.concat(frames, ignore_index=True), excluded_table(eligs))


def top_dips(reliability: pd.DataFrame) -> pd.DataFrame:
    """§8: RMs whose top bin lies *significantly* below a later bin of their top quarter
    (reward hacking at the very top): the top bin's band lies entirely below that bin's.
    Columns ``rm, top_mean, top_high, peak_bin, peak_mean, peak_low``; empty without bands."""
    rows = []
    if "ci_low" not in reliability:
        return pd.DataFrame(columns=["rm", "top_mean", "top_high", "peak_bin", "peak_mean", "peak_low"])
    for rm, g in reliability.groupby("rm", sort=False):
        g = g.sort_values("bin")
        bins = len(g)
        top = g.iloc[0]
        later = g.iloc[1:max(2, int(np.ceil(bins / 4)) + 1)]
        later = later[(later["n_responses"] > 0) & np.isfinite(later["ci_low"])]
        if later.empty or not np.isfinite(top["ci_high"]):
            continue
        peak = later.loc[later["ci_low"].idxmax()]
        if top["ci_high"] < peak["ci_low"]:
            rows.append({"rm": rm, "top_mean": float(top["mean_normalized_oracle"]),
                         "top_high": float(top["ci_high"]), "peak_bin": int(peak["bin"]),
                         "peak_mean": float(peak["mean_normalized_oracle"]), "peak_low": float(peak["ci_low"])})
    return pd.DataFrame(rows, columns=["rm", "top_mean", "top_high", "peak_bin", "peak_mean", "peak_low"])


def baselines(rankings: dict[str, Ranking]) -> MetricResult:
    """§9 for several RMs: mean per-prompt ``pairwise_accuracy`` (over prompts with at
    least one pair of different oracle scores), ``spearman`` and ``kendall`` (over prompts
    where neither score is constant), each with the number of prompts it averages."""
    rows, eligs = [], []
    for rm, ranking in rankings.items():
        per = M.baseline_per_prompt(ranking)
        elig = M.eligibility(ranking, "raw")
        eligs.append(elig)
        per[~elig.prompt_counted] = np.nan
        row = {"rm": rm}
        for col in per:
            row[col] = float(per[col].mean()) if per[col].notna().any() else np.nan
            row[f"n_prompts_{col}"] = int(per[col].notna().sum())
        rows.append(row)
    return MetricResult(pd.DataFrame(rows), excluded_table(eligs))


# --------------------------------------------------------------------- leaderboard
@dataclass
class Leaderboard:
    """Every RM's headline numbers (``table``), the curves behind them, and exclusions."""

    table: pd.DataFrame
    curves: pd.DataFrame
    excluded: pd.DataFrame
    n: int
    min_pool_size: int
    #: RMs with counted prompts but none with ``n`` responses scored: no BoN@n (§4)
    without_bon: tuple = ()


def leaderboard(rankings: dict[str, Ranking], grid: np.ndarray, n: int, min_pool_size: int, *,
                normalization: str = "ratio", ci: bool = True, n_boot: int = 1000, seed: int = 0,
                progress=None, derived=()) -> Leaderboard:
    """One row per RM: RETA at :data:`LEADERBOARD_ETAS` (on ``grid``; with 95 % bootstrap
    bands when ``ci``), eta* and RETA(eta*) with its gain (§7), BoN@n (§4), pairwise
    accuracy, Spearman and Kendall (§9).  Sorted by RETA(eta*).  An RM none of whose
    prompts counts is listed with nothing but ``n_prompts = 0`` (its exclusions say why);
    an RM whose pools are all smaller than ``n`` gets no BoN.
    ``derived``: names of derived RMs (ensembles, §11), marked ``is_derived`` like
    baselines are marked ``is_baseline``.
    ``progress(done, total, message)`` is called after each RM."""
    result = curves(rankings, grid, normalization=normalization)
    rows, without_bon = [], []
    at = [int(np.searchsorted(grid, e)) for e in LEADERBOARD_ETAS]
    for done, (rm, ranking) in enumerate(rankings.items(), 1):
        group = result.table[result.table["rm"] == rm]
        elig = M.eligibility(ranking, normalization)
        row = {"rm": rm, "is_baseline": is_baseline(rm), "is_derived": rm in derived}
        if elig.n_prompts == 0:
            rows.append({**row, "n_prompts": 0})
            if progress is not None:
                progress(done, len(rankings), rm)
            continue
        one = {rm: ranking}
        if n <= elig.n_counted[elig.prompt_counted].max():  # some counted prompt has n responses
            bon_value = bon(one, n, normalization=normalization).table["bon"].iloc[0]
        else:
            bon_value = np.nan
            without_bon.append(rm)
        base = baselines(one).table.iloc[0]
        best = M.optimal_eta(grid, group["reta"].to_numpy(), elig.min_pool_size)
        star = int(np.searchsorted(grid, best["eta_star"]))
        for eta, col in zip(LEADERBOARD_ETAS, at):
            row[eta_label(eta)] = float(group["reta"].iloc[col])
        row.update(eta_star=best["eta_star"], reta_at_eta_star=best["reta_at_eta_star"],
                   gain=best["gain"], relative_gain=best["relative_gain"])
        if ci:
            _, low, high = M.bootstrap_parts(result.parts[rm].columns(at + [star]), n_boot=n_boot, seed=seed)
            for i, eta in enumerate(LEADERBOARD_ETAS):
                row[f"{eta_label(eta)}_low"], row[f"{eta_label(eta)}_high"] = low[i], high[i]
            row["reta_at_eta_star_low"], row["reta_at_eta_star_high"] = low[-1], high[-1]
        row["bon"] = float(bon_value)
        for col in ("pairwise_accuracy", "spearman", "kendall"):
            row[col] = float(base[col])
        row["n_prompts"] = elig.n_prompts
        rows.append(row)
        if progress is not None:
            progress(done, len(rankings), rm)
    table = pd.DataFrame(rows)
    if "reta_at_eta_star" in table:
        table = table.sort_values("reta_at_eta_star", ascending=False, kind="stable")
    return Leaderboard(table.reset_index(drop=True), result.table, result.excluded, n, min_pool_size,
                       tuple(without_bon))


# --------------------------------------------------------------------- categories
def category_table(rankings: dict[str, Ranking], categories: np.ndarray, eta: float, *,
                   normalization: str = "ratio") -> pd.DataFrame:
    """RETA at one eta per category and RM: ``rm, category, reta, n_prompts``."""
    result = curves(rankings, np.array([float(eta)]), normalization=normalization)
    labels = categories.astype(str)
    frames = []
    for rm, parts in result.parts.items():
        counted = parts.counted
        frame = pd.DataFrame({"category": labels[counted], "value": parts.values[counted, 0],
                              "den": 1.0 if parts.denominators is None else parts.denominators[counted, 0]})
        grouped = frame.groupby("category", sort=True).agg(value=("value", "sum"), den=("den", "sum"),
                                                           count=("value", "count"))
        names = sorted(set(labels))
        grouped = grouped.reindex(names)
        reta = (grouped["value"] / grouped["count"] if parts.denominators is None
                else M.ratio_of_sums(grouped["value"].to_numpy(), grouped["den"].to_numpy()))
        frames.append(pd.DataFrame({"rm": rm, "category": names, "reta": np.asarray(reta, dtype=float),
                                    "n_prompts": grouped["count"].fillna(0).astype(int).to_numpy()}))
    return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------- stability (§5)
def stability_sizes(min_pool_size: int) -> list[int]:
    """Sample sizes for the stability study: powers of two from 2 up to the smallest
    pool, and the pool size itself."""
    if min_pool_size < 2:
        raise RetaInputError("the stability study needs pools of at least 2 responses")
    sizes = [2 ** i for i in range(1, 64) if 2 ** i <= min_pool_size]
    return sorted(set(sizes + [min_pool_size]))


def stability_study(rankings: dict[str, Ranking], eta: float, sizes, *, repeats: int = 200,
                    seed: int = 0, normalization: str = "ratio", progress=None) -> pd.DataFrame:
    """§5 study: for every RM and sample size n, ``repeats`` resampled values of RETA at
    ``eta`` and of BoN@n, their mean, spread (sd, cv) and the exact value of §4.

    Columns: ``rm, n, estimator ('RETA@eta' | 'BoN@n'), k, mean, std, cv, se, exact,
    repeats, n_prompts``.  ``progress(done, total, message)`` counts repeats over every
    RM and n."""
    total = len(sizes) * len(rankings) * repeats
    frames = []
    for i, n in enumerate(sizes):
        step = offset(progress, i * len(rankings) * repeats, total, f"n = {n}")
        etas = np.array([eta, 1.0 / n])
        res = resampled(rankings, n, etas, repeats=repeats, seed=seed, normalization=normalization,
                        progress=step).table
        exact = curves(rankings, etas, estimator="exact", n=n, normalization=normalization).table
        res["exact"] = exact["reta"].to_numpy()
        res["estimator"] = np.where(np.arange(len(res)) % 2 == 0, f"RETA@{eta:g}", "BoN@n")
        frames.append(res)
    table = pd.concat(frames, ignore_index=True)
    table["se"] = table["std"] / np.sqrt(table["repeats"])
    return table[["rm", "n", "estimator", "k", "mean", "std", "cv", "se", "exact", "repeats",
                  "n_prompts"]]


def bon_equivalent_sizes(table: pd.DataFrame) -> list[int]:
    """The sample sizes of a :func:`stability_study` table at which RETA@eta keeps only
    k = 1 of the n responses (``ceil(eta n) <= 1``, §4): there it is BoN@n, resample for
    resample, so the two have the same spread."""
    reta = table[table["estimator"] != "BoN@n"]
    return sorted(int(n) for n in reta.loc[reta["k"] == 1, "n"].unique())


# --------------------------------------------------------------------- curves chart (page, CLI)
@dataclass
class CurvesChart:
    """Everything the RETA curves chart shows (``charts.curves_figure``).

    ``curves``: the RMs' :func:`curves` table (with ``ci_low, ci_high`` when bands were
    asked for); ``perfect``: the same estimator with RM = oracle, on the same grid (the
    highest curve any RM can reach, §3); ``min_eta``: ``1/min N`` for the pool
    estimator, ``1/n`` for the exact one (below it the chart is shaded); ``n``: the exact
    estimator's sample size, else None; ``bon``: BoN@n per RM for the exact estimator."""

    curves: pd.DataFrame
    perfect: pd.DataFrame
    excluded: pd.DataFrame
    min_eta: float
    min_pool_size: int
    n: int | None
    bon: pd.DataFrame | None = None

    def table(self) -> pd.DataFrame:
        """The data behind the chart, for its CSV (:func:`curves_chart_table`)."""
        return curves_chart_table(self.curves, self.perfect, self.bon)


def curves_chart_table(curves_table: pd.DataFrame, perfect: pd.DataFrame,
                       bon_table: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every number the curves chart draws, one row each, with a ``series`` column:
    the RMs' curves, the perfect ranking (RM = oracle) and, for the exact estimator,
    each RM's BoN@n at ``eta = 1/n`` (``bon_table``: a :func:`bon` table)."""
    parts = [curves_table.assign(series="RETA curve"),
             perfect.assign(rm=PERFECT_RM, series="perfect ranking (RM = oracle)")]
    if bon_table is not None and len(bon_table):
        parts.append(pd.DataFrame({"rm": bon_table["rm"], "eta": 1.0 / bon_table["n"],
                                   "reta": bon_table["bon"], "n_prompts": bon_table["n_prompts"],
                                   "series": "BoN@n"}))
    return pd.concat(parts, ignore_index=True)


# --------------------------------------------------------------------- scores (data page)
def _scorers(pool, names) -> list[tuple[str, str, np.ndarray]]:
    """(name, kind 'oracle' | 'rm', scores) of ``names`` (default: every oracle, then
    every RM); an unknown name raises RetaInputError."""
    names = list(pool.oracles) + list(pool.rms) if names is None else list(names)
    out = []
    for name in names:
        if name in pool.oracles:
            out.append((name, "oracle", pool.oracles[name]))
        elif name in pool.rms:
            out.append((name, "rm", pool.rms[name]))
        else:
            raise RetaInputError(f"unknown scorer {name!r}; the benchmark has "
                                 f"{', '.join(list(pool.oracles) + list(pool.rms))}")
    return out


def score_values(pool, names=None) -> pd.DataFrame:
    """The finite scores of oracles and RMs in long form: ``scorer, kind, score`` (one row
    per scored response; what a score histogram shows and its CSV holds)."""
    frames = [pd.DataFrame({"scorer": name, "kind": kind, "score": values[np.isfinite(values)]})
              for name, kind, values in _scorers(pool, names)]
    return pd.concat(frames, ignore_index=True)


def score_summary(pool, names=None) -> pd.DataFrame:
    """One row per oracle / RM: ``scorer, kind, n_scored, n_missing`` (empty or NaN
    scores: such a response does not count, §1), ``mean, std, min, median, max`` of the
    finite scores (NaN when there is none)."""
    rows = []
    for name, kind, values in _scorers(pool, names):
        finite = values[np.isfinite(values)]
        stats = ({"mean": finite.mean(), "std": finite.std(ddof=1) if finite.size > 1 else np.nan,
                  "min": finite.min(), "median": np.median(finite), "max": finite.max()}
                 if finite.size else dict.fromkeys(("mean", "std", "min", "median", "max"), np.nan))
        rows.append({"scorer": name, "kind": kind, "n_scored": int(finite.size),
                     "n_missing": int(values.size - finite.size), **{k: float(v) for k, v in stats.items()}})
    return pd.DataFrame(rows)
