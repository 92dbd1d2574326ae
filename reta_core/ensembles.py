"""Derived RMs: ensembles of stored RMs (docs/metric.md §11).

A derived RM is computed from member RMs ``A_1..A_k`` (k >= 2) on the responses that
*every* member scored (a response some member left unscored is unscored for the
ensemble, so it does not count, §1).  Within each prompt, over those responses:

* ``zmean`` (the default): each member's scores are standardised,
  ``z = (y - mean) / sd`` with the population standard deviation over the prompt's
  responses (a member constant within the prompt contributes 0), and the ``z`` values
  are averaged over the members;
* ``rankmean``: the average over the members of their mid-ranks within the prompt,
  ascending (the lowest score has rank 1, so a higher score is a higher rank), a tie
  block (§2) sharing the mean rank of its positions.

Everything is vectorised over the pool's CSR layout: segment sums with ``bincount``,
segment extremes with ``reduceat`` and mid-ranks with the padded per-prompt sort of
:func:`reta_core.ranking.rank_rows`; no Python loop over prompts.

:func:`add_ensemble` stores the result like any other RM, through the same validated,
all-or-nothing path as an RM score file (:func:`reta_core.ingest.add_rm_scores`), marked
``is_derived`` and with its members and method in its description.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import RetaInputError, show
from .pool import Pool
from .ranking import _bucket_rows, _bucket_widths, get_scores, rank_rows

METHODS = ("zmean", "rankmean")
DEFAULT_METHOD = "zmean"
MIN_MEMBERS = 2
METHOD_HELP = {
    "zmean": "per prompt, each member's scores standardised ((y - mean) / sd; 0 for a member "
             "constant in the prompt), then averaged over the members",
    "rankmean": "per prompt, the members' mid-ranks (ascending, ties sharing their mean rank) "
                "averaged over the members",
}


# ------------------------------------------------------------------ the computation
def check_members(members, method: str = DEFAULT_METHOD) -> list[str]:
    """The members as a list, with a one-line error for fewer than 2, a repeated name
    or an unknown method."""
    members = [members] if isinstance(members, str) else list(members or [])
    if method not in METHODS:
        raise RetaInputError(f"unknown ensemble method {show(method)}; choose "
                             + " or ".join(METHODS))
    repeated = sorted({m for m in members if members.count(m) > 1})
    if repeated:
        raise RetaInputError(f"RM {show(repeated[0])} is named twice; an ensemble needs "
                             f"{MIN_MEMBERS} or more different RMs")
    if len(members) < MIN_MEMBERS:
        raise RetaInputError(f"an ensemble needs at least {MIN_MEMBERS} RMs, got {len(members)}"
                             + (f" ({show(members[0])})" if members else ""))
    return members


def common_responses(pool: Pool, members) -> np.ndarray:
    """Whether each response is scored (finite) by every member."""
    mask = np.ones(pool.n_responses, dtype=bool)
    for rm in members:
        mask &= np.isfinite(get_scores(pool, "rm", rm))
    return mask


def _segment_extremes(pool: Pool, values: np.ndarray, mask: np.ndarray):
    """(max, min) of ``values`` over each prompt's rows where ``mask`` (-inf / +inf when
    none)."""
    high = np.full(pool.n_prompts, -np.inf)
    low = np.full(pool.n_prompts, np.inf)
    filled = pool.pool_sizes > 0
    if filled.any():
        starts = pool.offsets[:-1][filled]
        high[filled] = np.maximum.reduceat(np.where(mask, values, -np.inf), starts)
        low[filled] = np.minimum.reduceat(np.where(mask, values, np.inf), starts)
    return high, low


def standardized(pool: Pool, scores: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``(y - mean) / sd`` within each prompt over the rows where ``mask`` (population
    sd; 0 where the scores are constant within the prompt; NaN outside ``mask``)."""
    codes = pool.prompt_codes
    y = np.where(mask, scores, 0.0)
    n = np.bincount(codes, weights=mask, minlength=pool.n_prompts)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(codes, weights=y, minlength=pool.n_prompts) / n
        dev = np.where(mask, y - mean[codes], 0.0)
        # scaled by the largest deviation, so squares neither overflow nor underflow
        scale, _ = _segment_extremes(pool, np.abs(dev), mask)
        scaled = dev / np.where(scale > 0, scale, 1.0)[codes]
        sd = np.sqrt(np.bincount(codes, weights=scaled * scaled, minlength=pool.n_prompts) / n) * scale
    high, low = _segment_extremes(pool, scores, mask)
    varies = (high > low) & (sd > 0) & np.isfinite(sd)  # constant members contribute 0
    z = np.where(varies[codes], dev / np.where(varies, sd, 1.0)[codes], 0.0)
    return np.where(mask, z, np.nan)


def mid_ranks(pool: Pool, scores: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Each response's mid-rank within its prompt over the rows where ``mask``,
    ascending (1 = lowest score), a tie block (§2) sharing the mean rank of its
    positions; NaN outside ``mask``.  Prompts are sorted in padded buckets of similar
    pool size (:func:`reta_core.ranking.rank_rows`)."""
    ranks = np.full(pool.n_responses, np.nan)
    sizes = pool.pool_sizes
    widths = _bucket_widths(sizes)
    for width in np.unique(widths[sizes > 0]):
        prompts = np.flatnonzero((widths == width) & (sizes > 0))
        index, _ = _bucket_rows(pool, prompts, int(width))
        inside = index >= 0
        row = np.maximum(index, 0)
        valid = inside & mask[row]
        order, block_id, block_start, block_size = rank_rows(np.where(valid, scores[row], 0.0), valid)
        mid = (block_start % width) + 1 + (block_size - 1) / 2.0
        rank = mid[block_id].reshape(index.shape)
        sorted_index = np.take_along_axis(index, order, axis=1)
        sorted_valid = np.take_along_axis(valid, order, axis=1)
        ranks[sorted_index[sorted_valid]] = rank[sorted_valid]
    return ranks


def ensemble_scores(pool: Pool, members, method: str = DEFAULT_METHOD) -> np.ndarray:
    """The derived RM's score of every response of ``pool`` (§11): the mean over
    ``members`` of their standardised scores (``zmean``) or mid-ranks (``rankmean``)
    within each prompt, over the responses every member scored; NaN elsewhere.

    Any number of members >= 1 is computed here (one member gives its own z-scores or
    mid-ranks); :func:`add_ensemble` asks for at least two."""
    members = [members] if isinstance(members, str) else list(members)
    if method not in METHODS:
        raise RetaInputError(f"unknown ensemble method {show(method)}; choose "
                             + " or ".join(METHODS))
    if not members:
        raise RetaInputError("an ensemble needs member RMs")
    mask = common_responses(pool, members)
    per_member = standardized if method == "zmean" else mid_ranks
    total = np.zeros(pool.n_responses)
    for rm in members:
        total += np.where(mask, per_member(pool, pool.rms[rm], mask), 0.0)
    return np.where(mask, total / len(members), np.nan)


def describe(members, method: str) -> str:
    """The derived RM's description: its method and members (what §11 records)."""
    return (f"Derived RM, ensemble ({method}) of {len(members)} RMs: {', '.join(members)}. "
            f"Computed on the responses all of them scored: {METHOD_HELP[method]} "
            f"(docs/metric.md §11).")


# ------------------------------------------------------------------ the store
def add_ensemble(store, benchmark: str, members, name: str, method: str = DEFAULT_METHOD,
                 replace: bool = False, *, progress=None, dry_run: bool = False):
    """Compute the ensemble of the stored RMs ``members`` of ``benchmark`` and store it
    as RM ``name`` (an :class:`~reta_core.ingest.ImportReport` back, as for an RM file).

    Checked first, each failure one :class:`~reta_core.errors.RetaInputError` with
    nothing written: at least 2 different members, all known; a known method; a name
    that is none of the members, no oracle and not used already (unless ``replace``);
    members that share at least one scored response.  The write is
    :func:`reta_core.ingest.add_rm_scores` with ``derived=True``: its checks, its one
    transaction, its report.  ``dry_run``: check and report, write nothing."""
    from .ingest import _as_store, add_rm_scores

    members = check_members(members, method)
    store = _as_store(store)
    if name in members:
        raise RetaInputError(f"the ensemble's name {show(name)} is one of its members; "
                             "choose another name")
    pool = store.load_pool(benchmark, oracles=[], rms=members)  # unknown benchmark or RM
    scores = ensemble_scores(pool, members, method)
    if not np.isfinite(scores).any():
        raise RetaInputError(f"RMs {', '.join(map(show, members))} share no scored response "
                             f"in benchmark {show(benchmark)}; an ensemble is computed on the "
                             "responses all its members scored")
    frame = pd.DataFrame({"response_id": pool.response_ids.astype(str), "score": scores})
    return add_rm_scores(store, frame, benchmark, name, score_column="score", replace=replace,
                         description=describe(members, method),
                         source_name=f"{method} ensemble of {', '.join(members)}",
                         progress=progress, dry_run=dry_run, derived=True)
