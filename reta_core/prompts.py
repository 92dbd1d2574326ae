"""Per-prompt and per-response tables: what the inspector shows of one RM (and a
second one to compare) at one eta, and what it shows of one prompt's responses.

The numbers are the §3 pool estimator's (docs/metric.md): each response's share of the
top-eta mass comes from :func:`reta_core.metrics.top_eta_weights`, so the top-eta mean of
a prompt here equals its ``T_q(eta)`` in the curves.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import RetaInputError
from .metrics import pool_reta_per_prompt, top_eta_weights
from .pool import Pool
from .ranking import Ranking, rank_within_prompts
from .scorers import PERFECT_RM, with_perfect_ranking

# The inspector's prompt orders (their labels are in :mod:`reta_core.readings`).
PROMPT_ORDERS = ("reta", "shortfall", "gap", "overlap", "prompt")


def prompt_table(pool: Pool, ranking: Ranking, eta: float, normalization: str = "ratio",
                 other: Ranking | None = None) -> pd.DataFrame:
    """Per prompt at one eta: ``prompt_index, prompt_id, category, n, mu, reta`` (NaN when
    the prompt does not count), ``shortfall`` (how far the RM's top eta falls short of
    the perfect ranking's on the same responses: ``R_q`` of RM = oracle minus ``R_q``),
    and with ``other`` an RM to compare: ``reta_other``, ``reta_gap`` and
    ``top_overlap`` (Jaccard overlap of the two RMs' top-eta sets)."""
    values, _ = pool_reta_per_prompt(ranking, [eta], normalization)
    perfect = rank_within_prompts(with_perfect_ranking(pool, ranking.oracle, like=ranking.rm), PERFECT_RM,
                                  ranking.oracle)
    best, _ = pool_reta_per_prompt(perfect, [eta], normalization)
    table = pd.DataFrame({"prompt_index": np.arange(pool.n_prompts), "prompt_id": pool.prompt_ids,
                          "category": pool.categories if pool.categories is not None else None,
                          "n": ranking.n_counted, "mu": ranking.mu, "reta": values[:, 0],
                          "shortfall": best[:, 0] - values[:, 0]})
    if other is not None:
        other_values, _ = pool_reta_per_prompt(other, [eta], normalization)
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


def prompt_list(table: pd.DataFrame, prompts: pd.DataFrame, search: str = "",
                order: str = "reta") -> pd.DataFrame:
    """The inspector's list of prompts: :func:`prompt_table` joined with the prompt texts
    (``prompts``: ``prompt_id, prompt``), filtered and sorted.

    ``search``: keep prompts whose id or text contains it (case-insensitive, literal).
    ``order`` (:data:`PROMPT_ORDERS`): ``reta`` lowest per-prompt RETA first;
    ``shortfall`` largest gap to the perfect ranking first; ``gap``
    largest ``|reta_gap|`` first; ``overlap`` smallest ``top_overlap`` first (these two
    need the ``other=`` columns); ``prompt`` the benchmark's order.  Prompts that do not
    count (NaN) come last; ties keep the benchmark's order."""
    if order not in PROMPT_ORDERS:
        raise RetaInputError(f"unknown prompt order {order!r}; choose one of {', '.join(PROMPT_ORDERS)}")
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
