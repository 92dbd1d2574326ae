"""The scorers that need no model: the baselines and the perfect ranking.

This is the one module that knows what a baseline is (docs/metric.md §9 compares RMs
with them): their names, how they are recognised, how their scores are computed from
the pool itself, and the reading that a real RM does not beat the length baseline.
The *perfect ranking* (RM = oracle) is the highest curve any RM can reach on a pool
(§3): the reference line of the curves chart and the yardstick of the inspector's
shortfall.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .pool import Pool

BASELINE_PREFIX = "baseline_"
BASELINE_LENGTH = "baseline_length"
BASELINE_RANDOM = "baseline_random"
BASELINE_RANDOM_SEED = 2504_14838  # the RETA paper's arXiv number
BASELINE_DESCRIPTIONS = {
    BASELINE_LENGTH: "Baseline (no model): the response's length in characters; "
                     "longer scores higher.",
    BASELINE_RANDOM: f"Baseline (no model): uniform random scores from numpy "
                     f"default_rng({BASELINE_RANDOM_SEED}) over the responses sorted by "
                     f"response_id; its RETA is about 1.",
}
BASELINES = (BASELINE_LENGTH, BASELINE_RANDOM)
PERFECT_RM = "perfect ranking"


def is_baseline(rm) -> bool:
    """Whether an RM name is a baseline scorer's (``baseline_*``)."""
    return str(rm).startswith(BASELINE_PREFIX)


def baseline_scores(lengths: np.ndarray, id_order: np.ndarray) -> dict[str, np.ndarray]:
    """The baselines' scores, aligned with the pool's responses.

    ``lengths``: each response's length in characters (NaN without a text);
    ``id_order``: the response positions sorted by response_id in byte order, so the
    same ids always receive the same random scores whatever the file's row order.
    """
    random = np.empty(len(id_order))
    random[id_order] = np.random.default_rng(BASELINE_RANDOM_SEED).random(len(id_order))
    return {BASELINE_LENGTH: np.asarray(lengths, dtype=np.float64), BASELINE_RANDOM: random}


def with_perfect_ranking(pool: Pool, oracle: str, like: str | None = None) -> Pool:
    """The pool with one more RM, :data:`PERFECT_RM`, that scores every response by its
    oracle value (§3).  With ``like`` (an RM name) it scores only the responses that RM
    scores, so both rank the same responses."""
    scores = pool.oracles[oracle]
    if like is not None:
        scores = np.where(np.isfinite(pool.rms[like]), scores, np.nan)
    return pool.with_rms({PERFECT_RM: scores})


def rms_not_beating_length(table: pd.DataFrame) -> list[str]:
    """Real RMs of a leaderboard that are not clearly better than the length baseline at
    their best quantile: news a user must not miss.

    With bands (``reta_at_eta_star_low/_high``), an RM is clearly better only when the
    lower end of its 95 % band of RETA(eta*) lies above the upper end of the length
    baseline's; without bands, when its point estimate is above the baseline's."""
    if BASELINE_LENGTH not in set(table["rm"]) or "reta_at_eta_star" not in table:
        return []
    bar = table.loc[table["rm"] == BASELINE_LENGTH].iloc[0]
    real = table[~table["rm"].map(is_baseline) & table["reta_at_eta_star"].notna()]
    if "reta_at_eta_star_low" in table and np.isfinite(bar["reta_at_eta_star_high"]):
        weak = ~(real["reta_at_eta_star_low"] > bar["reta_at_eta_star_high"])
    else:
        weak = real["reta_at_eta_star"] <= bar["reta_at_eta_star"]
    return real.loc[weak, "rm"].tolist()
