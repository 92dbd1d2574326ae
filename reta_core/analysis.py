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
from .ranking import Ranking

LEADERBOARD_ETAS = (0.05, 0.1, 0.25, 0.5)
LENGTH_BASELINE = "baseline_length"
RANDOM_BASELINE = "baseline_random"
BASELINE_PREFIX = "baseline_"

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
                rankings: dict | None = None) -> Leaderboard:
    """One row per RM: RETA at 0.05, 0.1, 0.25, 0.5 (with 95 % bootstrap bands when
    ``ci``), eta* and RETA(eta*) with its gain (§7), BoN@n (§4; ``n`` defaults to the
    smallest pool), pairwise accuracy, Spearman and Kendall (§9).  Sorted by RETA(eta*).
    """
    rankings = rankings or M.rank_all(pool, oracle, rms)
    min_n = M.min_pool_size(rankings, normalization)
    if min_n < 2:
        raise RetaInputError("no prompt counts for any RM (see the excluded prompts)")
    n = min_n if n is None else M.check_n(n)
    grid = np.unique(np.concatenate([M.default_eta_grid(min_n), LEADERBOARD_ETAS]))
    curves = M.reta_curves(pool, rankings=rankings, etas=grid, normalization=normalization)
    bon = M.bon(pool, n, rankings=rankings, normalization=normalization).table.set_index("rm")
    base = M.baselines(pool, rankings=rankings).table.set_index("rm")
    rows = []
    for rm, ranking in rankings.items():
        group = curves.table[curves.table["rm"] == rm]
        elig = M.eligibility(ranking, normalization)
        row = {"rm": rm, "is_baseline": is_baseline(rm)}
        if elig.n_prompts == 0:
            rows.append({**row, "n_prompts": 0})
            continue
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


def optimal_reading(rm: str, eta_star: float, gain: float, relative_gain: float, eta_min: float) -> str:
    """One sentence reading of §7 for one RM."""
    if eta_star <= eta_min + 1e-12 or gain <= 0:
        return (f"{rm}: trust its top pick: its curve peaks at the smallest eta "
                f"({eta_min:.3g}).")
    gain_text = f"{relative_gain:+.1%}" if abs(relative_gain) < 0.01 else f"{relative_gain:+.0%}"
    return (f"{rm}: select uniformly from its top {eta_star:.0%}: "
            f"{gain_text} over its top pick.")


def optimal_table(pool: Pool, oracle: str | None = None, rms=None, *, normalization: str = "ratio",
                  ci: bool = True, n_boot: int = 1000, seed: int = 0,
                  rankings: dict | None = None) -> pd.DataFrame:
    """§7 per RM on the default grid, with the band of RETA(eta*) and a reading."""
    rankings = rankings or M.rank_all(pool, oracle, rms)
    curves = M.reta_curves(pool, rankings=rankings, normalization=normalization, ci=ci,
                           n_boot=n_boot, seed=seed)
    sizes = {rm: M.eligibility(r, normalization).min_pool_size for rm, r in rankings.items()}
    table = M.optimal_quantiles(curves.table, sizes)
    table["reading"] = [optimal_reading(r.rm, r.eta_star, r.gain, r.relative_gain, r.eta_min)
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
    """A one-paragraph reading of a :func:`stability_study` table, from its numbers."""
    if table.empty:
        return "No results yet."
    reta_name = next(e for e in table["estimator"].unique() if e.startswith("RETA"))
    wide = table.pivot_table(index=["rm", "n"], columns="estimator", values="std").dropna()
    wide = wide[wide.index.get_level_values("n") >= 4] if (wide.index.get_level_values("n") >= 4).any() else wide
    steadier = (wide[reta_name] < wide["BoN@n"]).mean()
    ratio = (wide["BoN@n"] / wide[reta_name].replace(0, np.nan)).median()
    # at n = N every resample is the whole pool: no spread, so no standard error to use
    spread = table[table["se"] > 1e-9]
    gap = ((spread["mean"] - spread["exact"]).abs() / spread["se"]).max() if len(spread) else 0.0
    sentences = [
        f"Across {table['rm'].nunique()} RM(s) and sample sizes n = {', '.join(map(str, sorted(table['n'].unique())))}, "
        f"{reta_name} varies less between resamples than BoN@n in {steadier:.0%} of the cases with n >= 4 "
        f"(median ratio of standard deviations BoN/RETA: {ratio:.2f}).",
    ]
    if steadier >= 0.5:
        sentences.append("This matches the paper's stability claim: averaging over a top quantile steadies "
                         "an evaluation that has only a few responses per prompt.")
    else:
        sentences.append("On this data the paper's stability claim does not hold for most settings.")
    sentences.append(f"The resampled means lie within {gap:.1f} standard errors of the exact values "
                     "of §4 (they converge to them as the number of resamples grows).")
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
    the prompt does not count), and with ``other`` an RM to compare: ``reta_other``,
    ``reta_gap`` and ``top_overlap`` (Jaccard overlap of the two RMs' top-eta sets)."""
    values, _ = M.pool_reta_per_prompt(ranking, [eta], normalization)
    table = pd.DataFrame({"prompt_index": np.arange(pool.n_prompts), "prompt_id": pool.prompt_ids,
                          "category": pool.categories if pool.categories is not None else None,
                          "n": ranking.n_counted, "mu": ranking.mu, "reta": values[:, 0]})
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
