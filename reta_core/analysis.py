"""The tables the dashboard and the command line show, composed from :mod:`metrics`.

One function per table (leaderboard, RETA by category, stability study, the
inspector's per-prompt and per-response tables) and the one-sentence readings
generated from the numbers.  No streamlit, no SQL: pages and the CLI both call these.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import metrics as M
from .errors import RetaInputError
from .pool import Pool
from .ranking import Ranking, rank_within_prompts

LEADERBOARD_ETAS = (0.05, 0.1, 0.25, 0.5)
LENGTH_BASELINE = "baseline_length"
RANDOM_BASELINE = "baseline_random"
BASELINE_PREFIX = "baseline_"
PERFECT_RM = "perfect ranking"

# One line per leaderboard column, shown on the page and in the README.
COLUMN_HELP = {
    "rm": "Reward model (baselines are computed from the pool itself: length and a seeded random scorer).",
    "reta_0.05": "RETA at eta = 0.05: mean oracle score of the RM's top 5 %, as a ratio to the pool mean (1 = no better than random).",
    "reta_0.1": "RETA at eta = 0.1 (top 10 %).",
    "reta_0.25": "RETA at eta = 0.25 (top quarter).",
    "reta_0.5": "RETA at eta = 0.5 (top half).",
    "eta_star": "Optimal quantile eta*: where the RETA curve peaks (ties to the larger eta); select uniformly from this top fraction.",
    "reta_at_eta_star": "RETA at eta*: the best the RM's ranking achieves on this pool.",
    "gain": "RETA(eta*) minus RETA at the smallest eta (trusting the RM's top pick); > 0 means the very top is unreliable.",
    "bon": "Best-of-n: expected oracle score of the RM's single top pick among n random responses, as a ratio to the pool mean.",
    "pairwise_accuracy": "Share of response pairs with different oracle scores that the RM orders like the oracle (ties count 1/2).",
    "spearman": "Mean per-prompt Spearman rank correlation between RM and oracle scores.",
    "kendall": "Mean per-prompt Kendall tau-b between RM and oracle scores.",
    "n_prompts": "Prompts that count for this RM (both scores finite, at least 2 responses, pool mean > 0 for the ratio).",
}


def with_perfect_ranking(pool: Pool, oracle: str, like: str | None = None) -> Pool:
    """The pool with one more RM, :data:`PERFECT_RM`, that scores every response by its
    oracle value: the highest curve any RM can reach (§3).  With ``like`` (an RM name)
    it scores only the responses that RM scores, so it ranks the same responses."""
    scores = pool.oracles[oracle]
    if like is not None:
        scores = np.where(np.isfinite(pool.rms[like]), scores, np.nan)
    return pool.with_rms({PERFECT_RM: scores})


def perfect_curve(pool: Pool, oracle: str, etas, *, normalization: str = "ratio", estimator: str = "pool",
                  n: int | None = None) -> pd.DataFrame:
    """The perfect ranking's curve (RM = oracle) on ``etas``: the reference line of the
    curves chart, for the page and ``export-chart`` alike."""
    return M.reta_curves(with_perfect_ranking(pool, oracle), oracle, [PERFECT_RM], etas=etas,
                         normalization=normalization, estimator=estimator, n=n).table


def is_baseline(rm: str) -> bool:
    return rm.startswith(BASELINE_PREFIX)


def eta_label(eta: float) -> str:
    """Column suffix of a standard eta, e.g. ``reta_0.05``."""
    return f"reta_{eta:g}"


@dataclass
class Leaderboard:
    """Every RM's headline numbers (``table``), the curves behind them, and exclusions."""

    table: pd.DataFrame
    curves: pd.DataFrame
    excluded: pd.DataFrame
    n: int
    min_pool_size: int


def leaderboard(pool: Pool, oracle: str | None = None, rms=None, *, n: int | None = None,
                normalization: str = "ratio", ci: bool = True, n_boot: int = 1000, seed: int = 0,
                rankings: dict | None = None, progress=None) -> Leaderboard:
    """One row per RM: RETA at 0.05, 0.1, 0.25, 0.5 (with 95 % bootstrap bands when
    ``ci``), eta* and RETA(eta*) with its gain (§7), BoN@n (§4; ``n`` defaults to the
    smallest pool), pairwise accuracy, Spearman and Kendall (§9).  Sorted by RETA(eta*).
    ``progress(done, total)`` is called after each RM.
    """
    rankings = rankings or M.rank_all(pool, oracle, rms)
    min_n = M.min_pool_size(rankings, normalization)
    if min_n < 2:
        raise RetaInputError("no prompt counts for any RM (see the excluded prompts)")
    # n larger than every pool is an error; an RM whose own pools are all smaller gets no BoN
    n = min_n if n is None else M.check_n_fits(M.check_n(n), rankings)
    grid = np.unique(np.concatenate([M.default_eta_grid(min_n), LEADERBOARD_ETAS]))
    curves = M.reta_curves(pool, rankings=rankings, etas=grid, normalization=normalization)
    rows = []
    for done, (rm, ranking) in enumerate(rankings.items(), 1):
        group = curves.table[curves.table["rm"] == rm]
        elig = M.eligibility(ranking, normalization)
        row = {"rm": rm, "is_baseline": is_baseline(rm)}
        if elig.n_prompts == 0:  # listed, with nothing to show: its exclusions say why
            rows.append({**row, "n_prompts": 0})
            if progress is not None:
                progress(done, len(rankings))
            continue
        one = {rm: ranking}
        bon = (M.bon(pool, n, rankings=one, normalization=normalization).table.set_index("rm")
               if n <= ranking.n_counted.max() else pd.DataFrame({"bon": [np.nan]}, index=[rm]))
        base = M.baselines(pool, rankings=one).table.set_index("rm")
        best = M.optimal_eta(grid, group["reta"].to_numpy(), elig.min_pool_size)
        at = [int(np.searchsorted(grid, e)) for e in LEADERBOARD_ETAS]
        star = int(np.searchsorted(grid, best["eta_star"]))
        for eta, col in zip(LEADERBOARD_ETAS, at):
            row[eta_label(eta)] = float(group["reta"].iloc[col])
        row.update(eta_star=best["eta_star"], reta_at_eta_star=best["reta_at_eta_star"],
                   gain=best["gain"], relative_gain=best["relative_gain"])
        if ci:
            columns = at + [star]
            _, low, high = M.bootstrap_over_prompts(curves.per_prompt[rm][:, columns],
                                                    n_boot=n_boot, seed=seed)
            for i, eta in enumerate(LEADERBOARD_ETAS):
                row[f"{eta_label(eta)}_low"], row[f"{eta_label(eta)}_high"] = low[i], high[i]
            row["reta_at_eta_star_low"], row["reta_at_eta_star_high"] = low[-1], high[-1]
        row["bon"] = float(bon.loc[rm, "bon"])
        for col in ("pairwise_accuracy", "spearman", "kendall"):
            row[col] = float(base.loc[rm, col])
        row["n_prompts"] = elig.n_prompts
        rows.append(row)
        if progress is not None:
            progress(done, len(rankings))
    table = pd.DataFrame(rows)
    if "reta_at_eta_star" in table:
        table = table.sort_values("reta_at_eta_star", ascending=False, kind="stable")
    return Leaderboard(table.reset_index(drop=True), curves.table, curves.excluded, n, min_n)


def rms_not_beating_length(table: pd.DataFrame) -> list[str]:
    """Real RMs whose RETA(eta*) is not above the length baseline's: news a user must not miss."""
    if LENGTH_BASELINE not in set(table["rm"]) or "reta_at_eta_star" not in table:
        return []
    bar = float(table.loc[table["rm"] == LENGTH_BASELINE, "reta_at_eta_star"].iloc[0])
    real = table[~table["is_baseline"]]
    return real.loc[real["reta_at_eta_star"] <= bar, "rm"].tolist()


def optimal_reading(rm: str, eta_star: float, gain: float, relative_gain: float, eta_min: float,
                    gain_ci_low: float | None = None) -> str:
    """One sentence reading of §7 for one RM.  With ``gain_ci_low`` (the lower end of
    the paired bootstrap interval of the gain), a gain whose interval reaches 0 is read
    as noise rather than as a quantile to select from."""
    if eta_star <= eta_min + 1e-12 or gain <= 0:
        return (f"{rm}: trust its top pick: its curve peaks at the smallest eta "
                f"({eta_min:.3g}).")
    gain_text = f"{relative_gain:+.1%}" if abs(relative_gain) < 0.01 else f"{relative_gain:+.0%}"
    if gain_ci_low is not None and not gain_ci_low > 0:
        return (f"{rm}: no quantile is clearly better than its top pick: the peak at its top "
                f"{eta_star:.0%} ({gain_text}) is within noise (the gain's 95 % interval includes 0).")
    return (f"{rm}: select uniformly from its top {eta_star:.0%}: "
            f"{gain_text} over its top pick.")


def optimal_table(pool: Pool, oracle: str | None = None, rms=None, *, normalization: str = "ratio",
                  ci: bool = True, n_boot: int = 1000, seed: int = 0,
                  rankings: dict | None = None) -> pd.DataFrame:
    """§7 per RM on the default grid, with the band of RETA(eta*), the paired bootstrap
    interval of the gain over the top pick (``gain_ci_low, gain_ci_high``: §6 applied to
    ``R_q(eta*) - R_q(eta_min)``) and a reading."""
    rankings = rankings or M.rank_all(pool, oracle, rms)
    curves = M.reta_curves(pool, rankings=rankings, normalization=normalization, ci=ci,
                           n_boot=n_boot, seed=seed)
    sizes = {rm: M.eligibility(r, normalization).min_pool_size for rm, r in rankings.items()}
    table = M.optimal_quantiles(curves.table, sizes)
    if ci:
        lows, highs = [], []
        for r in table.itertuples():
            etas = curves.table.loc[curves.table["rm"] == r.rm, "eta"].to_numpy()
            values = curves.per_prompt[r.rm]
            diff = values[:, np.flatnonzero(etas == r.eta_star)[0]] - values[:, np.flatnonzero(etas == r.eta_min)[0]]
            _, low, high = M.bootstrap_over_prompts(diff, n_boot=n_boot, seed=seed)
            lows.append(float(low[0]))
            highs.append(float(high[0]))
        table["gain_ci_low"], table["gain_ci_high"] = lows, highs
    table["reading"] = [optimal_reading(r.rm, r.eta_star, r.gain, r.relative_gain, r.eta_min,
                                        getattr(r, "gain_ci_low", None))
                        for r in table.itertuples()]
    return table


def category_reta(pool: Pool, eta: float, oracle: str | None = None, rms=None, *,
                  normalization: str = "ratio", rankings: dict | None = None) -> pd.DataFrame:
    """RETA at one eta per category and RM: ``rm, category, reta, n_prompts``."""
    if pool.categories is None:
        raise RetaInputError("this benchmark has no categories")
    rankings = rankings or M.rank_all(pool, oracle, rms)
    curves = M.reta_curves(pool, rankings=rankings, etas=[eta], normalization=normalization)
    frames = []
    for rm, values in curves.per_prompt.items():
        frame = pd.DataFrame({"category": pool.categories.astype(str), "value": values[:, 0]})
        grouped = frame.groupby("category", sort=True)["value"].agg(["mean", "count"])
        frames.append(pd.DataFrame({"rm": rm, "category": grouped.index, "reta": grouped["mean"].to_numpy(),
                                    "n_prompts": grouped["count"].to_numpy()}))
    return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------- stability (§5)
def stability_sizes(min_pool_size: int) -> list[int]:
    """Sample sizes for the stability study: powers of two from 2 up to the smallest
    pool, and the pool size itself."""
    if min_pool_size < 2:
        raise RetaInputError("the stability study needs pools of at least 2 responses")
    sizes = [2 ** i for i in range(1, 64) if 2 ** i <= min_pool_size]
    return sorted(set(sizes + [min_pool_size]))


def stability_study(pool: Pool, eta: float, oracle: str | None = None, rms=None, *,
                    sizes=None, repeats: int = 200, seed: int = 0, normalization: str = "ratio",
                    progress=None, rankings: dict | None = None) -> pd.DataFrame:
    """§5 study: for every RM and sample size n, ``repeats`` resampled values of RETA at
    ``eta`` and of BoN@n, their mean, spread (sd, cv) and the exact value of §4.

    Columns: ``rm, n, estimator ('RETA@eta' | 'BoN@n'), k, mean, std, cv, se, exact,
    repeats, n_prompts``.  ``progress(done, total)`` counts repeats over every RM and n.
    """
    M.check_etas([eta])
    rankings = rankings or M.rank_all(pool, oracle, rms)
    sizes = list(sizes) if sizes is not None else stability_sizes(M.min_pool_size(rankings, normalization))
    total = len(sizes) * len(rankings) * repeats
    frames = []
    for i, n in enumerate(sizes):
        step = None if progress is None else (
            lambda done, _t, i=i: progress(i * len(rankings) * repeats + done, total))
        etas = [eta, 1.0 / n]
        res = M.resample_reta(pool, n, etas, repeats=repeats, seed=seed, normalization=normalization,
                              progress=step, rankings=rankings).table
        exact = M.reta_curves(pool, rankings=rankings, etas=etas, estimator="exact", n=n,
                              normalization=normalization).table
        res["exact"] = exact["reta"].to_numpy()
        res["estimator"] = np.where(np.arange(len(res)) % 2 == 0, f"RETA@{eta:g}", "BoN@n")
        frames.append(res)
    table = pd.concat(frames, ignore_index=True)
    table["se"] = table["std"] / np.sqrt(table["repeats"])
    return table[["rm", "n", "estimator", "k", "mean", "std", "cv", "se", "exact", "repeats",
                  "n_prompts"]]


def stability_reading(table: pd.DataFrame) -> str:
    """A one-paragraph reading of a :func:`stability_study` table, from its numbers.

    RETA@eta is compared with BoN@n only where they differ: at sample sizes where
    ``k = ceil(eta n) = 1`` RETA keeps just the top response and *is* BoN@n, and at
    ``n = N`` every resample is the whole pool, so neither has any spread.
    """
    if table.empty:
        return "No results yet."
    reta_name = next(e for e in table["estimator"].unique() if e.startswith("RETA"))
    reta_rows = table[table["estimator"] == reta_name].set_index(["rm", "n"])
    bon_rows = table[table["estimator"] == "BoN@n"].set_index(["rm", "n"])
    both = reta_rows.add_suffix("_reta").join(bon_rows.add_suffix("_bon"), how="inner")
    compared = both[(both["k_reta"] > 1) & (both["std_bon"] > 1e-12)]
    sizes = ", ".join(map(str, sorted(table["n"].unique())))
    # at n = N every resample is the whole pool: no spread, so no standard error to use
    spread = table[table["se"] > 1e-9]
    gap = ((spread["mean"] - spread["exact"]).abs() / spread["se"]).max() if len(spread) else 0.0
    convergence = (f"The resampled means lie within {gap:.1f} standard errors of the exact values of §4 "
                   "(they converge to them as the number of resamples grows).")
    if compared.empty:
        return (f"At every sample size tried (n = {sizes}) {reta_name} keeps only the top response "
                f"(k = 1), so it is BoN@n and the two cannot be told apart; choose a larger eta to "
                f"compare their stability. {convergence}")
    steadier = float((compared["std_reta"] < compared["std_bon"]).mean())
    ratio = float((compared["std_bon"] / compared["std_reta"].replace(0, np.nan)).median())
    n_values = ", ".join(map(str, sorted(compared.index.get_level_values("n").unique())))
    sentences = [
        f"Across {table['rm'].nunique()} RM(s), where {reta_name} averages more than one response "
        f"(n = {n_values}), it varies less between resamples than BoN@n in {steadier:.0%} of the cases "
        f"(median ratio of standard deviations BoN/RETA: {ratio:.2f}).",
    ]
    if steadier >= 0.5:
        sentences.append("This matches the paper's stability claim: averaging over a top quantile steadies "
                         "an evaluation that has only a few responses per prompt.")
    else:
        sentences.append("On this data the paper's stability claim does not hold for most settings.")
    sentences.append(convergence)
    return " ".join(sentences)


# --------------------------------------------------------------------- inspector
def top_eta_weights(ranking: Ranking, eta: float, n_responses: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each response's share of the top-eta mass (§3), its mid rank, and its RM rank order.

    The top ``m = eta N_q`` mass gives position ``r`` the weight
    ``clip(m - (r - 1), 0, 1)``; inside a tie block the weights are averaged, exactly as
    ``J~`` averages the oracle values, so ``T_q(eta) = sum_i w_i J_i / m``.  Returns
    three arrays over all pool rows: weight (0 outside the top, NaN when not counted),
    mid rank and the position in the RM's order (NaN when not counted).
    """
    M.check_etas([eta])
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


def prompt_table(pool: Pool, ranking: Ranking, eta: float, normalization: str = "ratio",
                 other: Ranking | None = None) -> pd.DataFrame:
    """Per prompt at one eta: ``prompt_index, prompt_id, category, n, mu, reta`` (NaN when
    the prompt does not count), ``shortfall`` (how far the RM's top eta falls short of
    the perfect ranking's on the same responses: ``R_q`` of RM = oracle minus ``R_q``),
    and with ``other`` an RM to compare: ``reta_other``, ``reta_gap`` and
    ``top_overlap`` (Jaccard overlap of the two RMs' top-eta sets)."""
    values, _ = M.pool_reta_per_prompt(ranking, [eta], normalization)
    perfect = rank_within_prompts(with_perfect_ranking(pool, ranking.oracle, like=ranking.rm), PERFECT_RM,
                                  ranking.oracle)
    best, _ = M.pool_reta_per_prompt(perfect, [eta], normalization)
    table = pd.DataFrame({"prompt_index": np.arange(pool.n_prompts), "prompt_id": pool.prompt_ids,
                          "category": pool.categories if pool.categories is not None else None,
                          "n": ranking.n_counted, "mu": ranking.mu, "reta": values[:, 0],
                          "shortfall": best[:, 0] - values[:, 0]})
    if other is not None:
        other_values, _ = M.pool_reta_per_prompt(other, [eta], normalization)
        table["reta_other"] = other_values[:, 0]
        table["reta_gap"] = table["reta"] - table["reta_other"]
        in_a = top_eta_weights(ranking, eta, pool.n_responses)[0] > 0
        in_b = top_eta_weights(other, eta, pool.n_responses)[0] > 0
        codes = pool.prompt_codes
        both = np.bincount(codes, weights=in_a & in_b, minlength=pool.n_prompts)
        either = np.bincount(codes, weights=in_a | in_b, minlength=pool.n_prompts)
        with np.errstate(invalid="ignore", divide="ignore"):
            table["top_overlap"] = both / either
    return table


def prompt_responses(pool: Pool, ranking: Ranking, prompt_index: int, eta: float) -> pd.DataFrame:
    """The responses of one prompt in the RM's order: ``response_id, position, rank,
    rm_score, oracle_score, weight, in_top`` (``rank`` is the tie-block mid rank;
    ``weight`` the response's share of the top-eta mass; uncounted responses last)."""
    if not 0 <= prompt_index < pool.n_prompts:
        raise RetaInputError(f"prompt index {prompt_index} out of range 0..{pool.n_prompts - 1}")
    weight, rank_mid, position = top_eta_weights(ranking, eta, pool.n_responses)
    rows = slice(int(pool.offsets[prompt_index]), int(pool.offsets[prompt_index + 1]))
    table = pd.DataFrame({"response_id": pool.response_ids[rows], "position": position[rows],
                          "rank": rank_mid[rows], "rm_score": pool.rms[ranking.rm][rows],
                          "oracle_score": pool.oracles[ranking.oracle][rows], "weight": weight[rows]})
    table["in_top"] = table["weight"] > 0
    return table.sort_values("position", na_position="last", kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------- curves page
def curve_rows_at(curves: pd.DataFrame, eta: float) -> pd.DataFrame | None:
    """The rows of a :func:`metrics.reta_curves` table at exactly ``eta``, or None when
    ``eta`` is not on its grid.  Bands come from the shared bootstrap draw
    (:func:`metrics.bootstrap_counts`), so these rows equal a fresh computation at
    ``eta`` alone: a page can answer a move along its grid without recomputing."""
    rows = curves[curves["eta"].to_numpy() == float(eta)]
    if rows.empty or rows["rm"].nunique() != curves["rm"].nunique():
        return None
    return rows.reset_index(drop=True)


def rank_at_eta(table: pd.DataFrame) -> pd.DataFrame:
    """A one-eta curves table (``rm, reta, ...``) with ``rank``: 1 for the highest RETA,
    tied RMs share the better rank, RMs without a value (NaN) get no rank."""
    table = table.copy()
    table["rank"] = table["reta"].rank(ascending=False, method="min").astype("Int64")
    return table


def significant_ranges(comparison: pd.DataFrame) -> list[dict]:
    """Stretches of the eta grid where a paired difference is significant (§6).

    ``comparison``: ``metrics.compare_rms(...).table``.  Returns one dict per run of
    consecutive grid points (in eta order) whose 95 % interval excludes 0 on the same
    side: ``eta_low, eta_high`` (the first and last grid eta of the run) and ``better``
    (the RM that is significantly better there)."""
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


def significance_reading(comparison: pd.DataFrame) -> str:
    """One sentence from :func:`significant_ranges`, e.g. ``"A is significantly better
    than B for eta in [0.02, 0.31]."``"""
    t = comparison
    rm_a, rm_b = str(t["rm_a"].iloc[0]), str(t["rm_b"].iloc[0])
    ranges = significant_ranges(comparison)
    if not ranges:
        return (f"The difference between {rm_a} and {rm_b} is not significant at any eta of the grid "
                "(the 95 % interval always includes 0).")
    parts = []
    for better in (rm_a, rm_b):
        spans = [r for r in ranges if r["better"] == better]
        if spans:
            where = [f"eta in [{r['eta_low']:.3g}, {r['eta_high']:.3g}]" if r["eta_low"] < r["eta_high"]
                     else f"eta = {r['eta_low']:.3g}" for r in spans]
            where = ", ".join(where[:-1]) + " and " + where[-1] if len(where) > 1 else where[0]
            worse = rm_b if better == rm_a else rm_a
            parts.append(f"{better} is significantly better than {worse} for {where}")
    return "; ".join(parts) + " (95 % interval excludes 0); elsewhere the difference is not significant."


# --------------------------------------------------------------------- inspector page
INSPECTOR_ORDERS = {
    "reta": "lowest per-prompt RETA first",
    "shortfall": "largest shortfall from the perfect ranking first",
    "gap": "largest RETA gap between the two RMs first",
    "overlap": "smallest overlap of the two RMs' top eta first",
    "prompt": "prompt order",
}


def prompt_list(table: pd.DataFrame, prompts: pd.DataFrame, search: str = "",
                order: str = "reta") -> pd.DataFrame:
    """The inspector's list of prompts: :func:`prompt_table` joined with the prompt texts
    (``prompts``: ``prompt_id, prompt``), filtered and sorted.

    ``search``: keep prompts whose id or text contains it (case-insensitive, literal).
    ``order`` (:data:`INSPECTOR_ORDERS`): ``reta`` lowest per-prompt RETA first;
    ``shortfall`` largest gap to the perfect ranking first; ``gap``
    largest ``|reta_gap|`` first; ``overlap`` smallest ``top_overlap`` first (these two
    need the ``other=`` columns); ``prompt`` the benchmark's order.  Prompts that do not
    count (NaN) come last; ties keep the benchmark's order."""
    if order not in INSPECTOR_ORDERS:
        raise RetaInputError(f"unknown prompt order {order!r}; choose one of {', '.join(INSPECTOR_ORDERS)}")
    if order in ("gap", "overlap") and "reta_gap" not in table:
        raise RetaInputError("sorting by disagreement needs a second RM")
    text = prompts.set_index("prompt_id")["prompt"]
    out = table.assign(prompt=text.reindex(table["prompt_id"].astype(str)).to_numpy())
    if search:
        needle = search.strip().lower()
        hay = out["prompt_id"].astype(str).str.lower() + "\n" + out["prompt"].fillna("").astype(str).str.lower()
        out = out[hay.str.contains(needle, regex=False)]
    if order == "reta":
        out = out.sort_values("reta", na_position="last", kind="stable")
    elif order == "shortfall":
        out = out.iloc[np.argsort(-out["shortfall"].fillna(-np.inf).to_numpy(), kind="stable")]
    elif order == "gap":
        out = out.iloc[np.argsort(-out["reta_gap"].abs().fillna(-np.inf).to_numpy(), kind="stable")]
    elif order == "overlap":
        out = out.sort_values("top_overlap", na_position="last", kind="stable")
    return out.reset_index(drop=True)


def preview(text, limit: int = 120) -> str:
    """The start of a response on one line (whitespace folded), cut at ``limit`` characters."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def with_texts(responses: pd.DataFrame, texts: pd.DataFrame, limit: int = 120) -> pd.DataFrame:
    """:func:`prompt_responses` with each response's full ``text`` and its ``preview``
    (``texts``: ``response_id, response`` as from ``Store.load_responses``)."""
    full = texts.set_index(texts["response_id"].astype(str))["response"]
    out = responses.copy()
    out["text"] = full.reindex(out["response_id"].astype(str)).fillna("").to_numpy()
    out["preview"] = [preview(t, limit) for t in out["text"]]
    return out


def cut_score(responses: pd.DataFrame) -> float | None:
    """Where the top eta ends on the RM-score axis of one prompt: midway between the
    lowest RM score inside the top eta and the highest outside it (a tie block cut by
    the top eta mass lies on both sides, so the line goes through it).  ``None`` when
    every counted response or none is inside."""
    counted = responses[responses["weight"].notna()]
    inside = counted.loc[counted["in_top"], "rm_score"]
    outside = counted.loc[~counted["in_top"], "rm_score"]
    if inside.empty or outside.empty:
        return None
    return float((inside.min() + outside.max()) / 2)


def top_eta_oracle_mean(responses: pd.DataFrame) -> float:
    """``T_q(eta)`` of one prompt from :func:`prompt_responses`: the weighted mean oracle
    score of its top-eta mass, ``sum_i w_i J_i / sum_i w_i`` (§3; ``sum w = eta N_q``)."""
    w = responses["weight"].fillna(0.0).to_numpy(np.float64)
    if w.sum() <= 0:
        return float("nan")
    return float((w * responses["oracle_score"].fillna(0.0).to_numpy(np.float64)).sum() / w.sum())


def top_eta_picks(responses: pd.DataFrame, other: pd.DataFrame) -> pd.DataFrame:
    """The responses of one prompt inside an RM's top eta (``in_top``), in its order,
    with ``shared``: the response is inside the ``other`` RM's top eta too."""
    theirs = set(other.loc[other["in_top"], "response_id"].astype(str))
    picks = responses[responses["in_top"]].copy()
    picks["shared"] = picks["response_id"].astype(str).isin(theirs).to_numpy()
    return picks.reset_index(drop=True)


# --------------------------------------------------------------------- data page
def _scorers(pool: Pool, names) -> list[tuple[str, str, np.ndarray]]:
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


def score_values(pool: Pool, names=None) -> pd.DataFrame:
    """The finite scores of oracles and RMs in long form: ``scorer, kind, score`` (one row
    per scored response; what a score histogram shows and its CSV holds)."""
    frames = [pd.DataFrame({"scorer": name, "kind": kind, "score": values[np.isfinite(values)]})
              for name, kind, values in _scorers(pool, names)]
    return pd.concat(frames, ignore_index=True)


def score_summary(pool: Pool, names=None) -> pd.DataFrame:
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


def bon_equivalent_sizes(table: pd.DataFrame) -> list[int]:
    """The sample sizes of a :func:`stability_study` table at which RETA@eta keeps only
    k = 1 of the n responses (``ceil(eta n) <= 1``, §4): there it is BoN@n, resample for
    resample, so the two have the same spread."""
    reta = table[table["estimator"] != "BoN@n"]
    return sorted(int(n) for n in reta.loc[reta["k"] == 1, "n"].unique())


# --------------------------------------------------------------------- curves chart (page, CLI)


def curves_by_rm(pool: Pool, rankings: dict, etas, *, progress=None, **kwargs) -> M.MetricResult:
    """:func:`metrics.reta_curves` one RM at a time, calling ``progress(done, total)``
    after each (a bootstrap band over 1000 resamples takes a while per RM).

    ``etas`` must be given (each RM alone would otherwise get its own default grid);
    ``kwargs`` go to ``reta_curves``.  The numbers are those of one call over all RMs:
    every RM's bootstrap starts from the same seed either way."""
    if not rankings:
        raise RetaInputError("no RM to evaluate")
    parts = []
    for i, (rm, ranking) in enumerate(rankings.items()):
        parts.append(M.reta_curves(pool, rankings={rm: ranking}, etas=etas, **kwargs))
        if progress is not None:
            progress(i + 1, len(rankings))
    return M.MetricResult(pd.concat([p.table for p in parts], ignore_index=True),
                          pd.concat([p.excluded for p in parts], ignore_index=True),
                          {rm: v for p in parts for rm, v in p.per_prompt.items()})


@dataclass
class CurvesChart:
    """Everything the RETA curves chart shows (``charts.curves_figure``).

    ``curves``: the RMs' :func:`metrics.reta_curves` table (with ``ci_low, ci_high``
    when bands were asked for); ``perfect``: the same estimator with RM = oracle, on the
    same grid (the highest curve any RM can reach, §3); ``min_eta``: ``1/min N`` for the
    pool estimator, ``1/n`` for the exact one (below it the chart is shaded);
    ``n``: the exact estimator's sample size (default: the smallest pool), else None."""

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


def curves_chart_table(curves: pd.DataFrame, perfect: pd.DataFrame,
                       bon: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every number the curves chart draws, one row each, with a ``series`` column:
    the RMs' curves, the perfect ranking (RM = oracle) and, for the exact estimator,
    each RM's BoN@n at ``eta = 1/n`` (``bon``: ``metrics.bon(...).table``)."""
    parts = [curves.assign(series="RETA curve"),
             perfect.assign(rm=PERFECT_RM, series="perfect ranking (RM = oracle)")]
    if bon is not None and len(bon):
        parts.append(pd.DataFrame({"rm": bon["rm"], "eta": 1.0 / bon["n"], "reta": bon["bon"],
                                   "n_prompts": bon["n_prompts"], "series": "BoN@n"}))
    return pd.concat(parts, ignore_index=True)


def curves_chart_data(pool: Pool, oracle: str | None = None, rms=None, *, etas=None,
                      normalization: str = "ratio", estimator: str = "pool", n: int | None = None,
                      ci: bool = True, n_boot: int = 1000, seed: int = 0, include=(),
                      rankings: dict | None = None, progress=None) -> CurvesChart:
    """The data of the RETA curves chart, shared by the dashboard's curves page and
    ``python -m reta_core export-chart``: the RMs' curves (bands with ``ci``), the
    perfect ranking's curve and where the grid falls below ``1/min N`` (or ``1/n``).

    ``etas`` default to the §10 grid of the smallest counted pool of the chosen RMs;
    ``include``: etas added to the grid (e.g. a marker's, so the curves pass through it
    and the axis reaches it).  ``progress(done, total)`` counts RMs (:func:`curves_by_rm`)."""
    rankings = rankings or M.rank_all(pool, oracle, rms)
    oracle = next(iter(rankings.values())).oracle
    min_n = M.min_pool_size(rankings, normalization)
    if min_n < 2:
        raise RetaInputError("no prompt counts for the chosen RMs (see the excluded prompts)")
    if estimator == "exact" and n is None:
        n = min_n
    etas = M.default_eta_grid(min_n) if etas is None else M.check_etas(etas)
    if len(include):
        etas = np.unique(np.concatenate([etas, M.check_etas(include)]))
    options = dict(normalization=normalization, estimator=estimator, n=n)
    curves = curves_by_rm(pool, rankings, etas, progress=progress, ci=ci, n_boot=n_boot,
                          seed=seed, **options)
    perfect = perfect_curve(pool, oracle, etas, **options)
    min_eta = 1.0 / n if estimator == "exact" else 1.0 / min_n
    bon = M.bon(pool, n, rankings=rankings, normalization=normalization).table if estimator == "exact" else None
    return CurvesChart(curves.table, perfect, curves.excluded, min_eta, min_n,
                       n if estimator == "exact" else None, bon)
