"""Ranking within prompts, with tie blocks (docs/metric.md §1–§2).

This is the one ranking routine every metric uses.  It turns a :class:`Pool` and an
(RM, oracle) pair into padded per-prompt rows sorted by RM score, descending, with

* the responses that count (§1: both scores finite) first in each row, padding after;
* tie blocks (maximal runs of equal RM score) and, per position, the block's mean
  oracle value ``J~_(r)`` (§2), its mid rank and its block index;

Rows are grouped into a few *buckets* by pool size (widths are powers of two), so a
benchmark with ragged pool sizes pads each prompt by at most 2x and every operation is a
vectorised numpy call over a 2-D array per bucket, never a Python loop over prompts.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .errors import RetaInputError
from .pool import Pool


@dataclass(frozen=True)
class RankedBucket:
    """Prompts of similar pool size, one row each, responses in RM order.

    All 2-D arrays have shape ``(rows, width)``; positions at or beyond ``n[row]``
    are padding (index -1, oracle 0, score NaN).  ``rank_mid`` and ``block`` are
    derived on first use: the pool estimator needs neither.
    """

    prompts: np.ndarray      # (rows,) prompt index into the pool
    n: np.ndarray            # (rows,) counted responses in the row
    index: np.ndarray        # response row in the pool, -1 for padding
    score: np.ndarray        # RM score, descending
    oracle: np.ndarray       # raw oracle value J in RM order
    oracle_tied: np.ndarray  # J~: oracle value averaged over the tie block (§2)
    block_id: np.ndarray     # (rows * width,) global tie-block id of each position
    block_first: np.ndarray  # (n_blocks,) column where each block starts
    block_size: np.ndarray   # (n_blocks,) positions in each block

    @property
    def valid(self) -> np.ndarray:
        return np.arange(self.index.shape[1])[None, :] < self.n[:, None]

    @cached_property
    def rank_mid(self) -> np.ndarray:
        """Mean 1-based rank of each position's tie block (§8, §9)."""
        mid = self.block_first + 1 + (self.block_size - 1) / 2.0
        return mid[self.block_id].reshape(self.index.shape)

    @cached_property
    def block(self) -> np.ndarray:
        """0-based index of each position's tie block within its row (§5)."""
        ids = self.block_id.reshape(self.index.shape)
        return ids - ids[:, :1]


@dataclass(frozen=True)
class Ranking:
    """The ranking of one (RM, oracle) pair over a whole pool (§2).

    ``n_counted[p]`` is the number of counted responses of prompt ``p`` and
    ``mu[p]`` the mean oracle score over them (NaN when there are none).
    """

    rm: str
    oracle: str
    n_prompts: int
    n_counted: np.ndarray
    mu: np.ndarray
    buckets: tuple


_NON_SIGN = np.int64(0x7FFFFFFFFFFFFFFF)


def sort_positions(key: np.ndarray, valid: np.ndarray, descending: bool = False
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Sort each row of ``key`` ascending (of ``-key`` when ``descending``), invalid
    cells last, with one sort of the rows.

    The order comes from one row-wise sort of int64 words that hold the key's
    order-preserving bits in their high part and the column in the low
    ``log2(width)`` bits: no ``argsort`` and no gathers along rows.  Clearing those
    low bits merges keys that differ only there; a row where that reorders two keys
    (keys within about ``1e-14`` relative of each other, in practice never) is
    sorted again with a stable ``argsort``.  Equal keys keep column order.

    Returns the flat positions ``row * width + column`` of the cells in sorted
    order, ``(rows, width)``, and the sorted keys (``-key`` when ``descending``;
    invalid cells: ``+inf``).
    """
    rows, width = key.shape
    # x + 0.0 and 0.0 - x turn -0.0 into 0.0: equal floats get equal bits
    masked = np.subtract(0.0, key) if descending else np.add(key, 0.0)
    if not valid.all():
        masked[~valid] = np.inf
    low = np.int64((1 << max(int(width - 1).bit_length(), 1)) - 1)
    words = masked.view(np.int64).copy()
    np.bitwise_xor(words, _NON_SIGN, out=words, where=words < 0)  # negative floats sort reversed
    words &= ~low
    words |= np.arange(width, dtype=np.int64)[None, :]
    words.sort(axis=1)
    words &= low
    words += (np.arange(rows, dtype=np.int64) * width)[:, None]
    sorted_key = masked.ravel()[words]
    if width > 1:
        wrong = np.flatnonzero((sorted_key[:, 1:] < sorted_key[:, :-1]).any(axis=1))
        if wrong.size:  # merged keys came out of order: sort those rows exactly
            fixed = np.argsort(masked[wrong], axis=1, kind="stable")
            words[wrong] = fixed + (wrong * width)[:, None]
            sorted_key[wrong] = np.take_along_axis(masked[wrong], fixed, axis=1)
    return words, sorted_key


@functools.lru_cache(maxsize=4)
def _untied_blocks(rows: int, width: int):
    """``tie_blocks`` when every cell is its own block, and each block's column:
    read-only, shared by every RM of the same shape (continuous scores allocate
    nothing per RM)."""
    block_id = np.arange(rows * width, dtype=np.int64)
    size = np.ones(rows * width, dtype=np.int64)
    first = np.tile(np.arange(width, dtype=np.int64), rows)
    for array in (block_id, size, first):
        array.setflags(write=False)
    return block_id, block_id, size, first


def block_columns(block_start: np.ndarray, rows: int, width: int) -> np.ndarray:
    """The column where each tie block starts (``block_start % width``)."""
    if not block_start.flags.writeable:  # the shared blocks of :func:`_untied_blocks`
        return _untied_blocks(rows, width)[3]
    return block_start % width


def tie_blocks(sorted_key: np.ndarray):
    """Tie blocks of row-sorted keys: ``(block_id, block_start, block_size)`` as in
    :func:`rank_rows` (a block never spans two rows)."""
    rows, width = sorted_key.shape
    starts = np.ones((rows, width), dtype=bool)
    if width > 1:
        np.not_equal(sorted_key[:, 1:], sorted_key[:, :-1], out=starts[:, 1:])
    flat_starts = starts.ravel()
    if flat_starts.all():  # no ties anywhere (continuous scores, full rows)
        return _untied_blocks(rows, width)[:3]
    block_id = np.cumsum(flat_starts) - 1
    block_start = np.flatnonzero(flat_starts)
    block_size = np.diff(block_start, append=rows * width)
    return block_id, block_start, block_size


def rank_rows(key: np.ndarray, valid: np.ndarray):
    """Sort each row of ``key`` ascending with invalid cells last; find tie blocks.

    Parameters
    ----------
    key : ndarray (rows, width)
        Sort key (e.g. minus the RM score).  Invalid cells may hold anything.
    valid : ndarray of bool (rows, width)
        Which cells take part.

    Returns
    -------
    order : ndarray of int (rows, width)
        ``np.take_along_axis(x, order, 1)`` puts any row-aligned array in key order.
    block_id : ndarray of int (rows * width,)
        Global id of each sorted cell's tie block (a block never spans two rows, and
        padding cells never share a block with valid cells).
    block_start : ndarray of int (n_blocks,)
        Flat position (``row * width + column``) where each block starts.
    block_size : ndarray of int (n_blocks,)
        Number of cells in each block.
    """
    positions, sorted_key = sort_positions(key, valid)
    positions -= (np.arange(key.shape[0], dtype=np.int64) * key.shape[1])[:, None]
    return (positions, *tie_blocks(sorted_key))


def _bucket_widths(sizes: np.ndarray) -> np.ndarray:
    """Padded width per prompt: the next power of two at or above its pool size."""
    sizes = np.maximum(sizes, 1)
    return (1 << np.ceil(np.log2(sizes)).astype(np.int64)).astype(np.int64)


def get_scores(pool: Pool, kind: str, name: str) -> np.ndarray:
    """The score array of an RM or oracle, with a clear error for an unknown name."""
    table = pool.rms if kind == "rm" else pool.oracles
    if name not in table:
        known = ", ".join(sorted(table)) or "none"
        raise RetaInputError(f"unknown {'RM' if kind == 'rm' else 'oracle'} {name!r}; known: {known}")
    return table[name]


def _bucket_rows(pool: Pool, prompts: np.ndarray, width: int):
    """Pool rows of ``prompts`` as a ``(len(prompts), width)`` index matrix (-1 = padding).

    When the prompts are consecutive and all fill the width (equal pool sizes, the
    common case) the rows are a plain reshape of a slice, and the returned slice lets
    callers take views instead of gathers.
    """
    sizes = pool.pool_sizes[prompts]
    first, last = int(prompts[0]), int(prompts[-1])
    if np.all(sizes == width) and last - first + 1 == prompts.size:
        rows = slice(int(pool.offsets[first]), int(pool.offsets[last + 1]))
        return np.arange(rows.start, rows.stop).reshape(prompts.size, width), rows
    cols = np.arange(width)
    in_pool = cols[None, :] < sizes[:, None]
    return np.where(in_pool, pool.offsets[prompts, None] + cols[None, :], -1), None


def _gather(values: np.ndarray, index: np.ndarray, rows: slice | None, fill: float) -> np.ndarray:
    if rows is not None:
        return values[rows].reshape(index.shape)
    return np.where(index >= 0, values[np.maximum(index, 0)], fill)


def rank_within_prompts(pool: Pool, rm: str, oracle: str) -> Ranking:
    """Rank every prompt's counted responses by RM score, descending (§2).

    Tie blocks are maximal runs of equal RM score; inside a block each response's
    oracle value is replaced by the block mean (``oracle_tied``), which equals the
    expectation over breaking the tie uniformly at random, so no result depends on
    input order.  ``rank_mid`` is the mean 1-based rank of the block (used for the
    reliability map, §8, and Spearman's average ranks, §9).
    """
    y = get_scores(pool, "rm", rm)
    j = get_scores(pool, "oracle", oracle)
    n_counted = np.zeros(pool.n_prompts, dtype=np.int64)
    mu = np.full(pool.n_prompts, np.nan)
    sizes = pool.pool_sizes
    widths = _bucket_widths(sizes)
    buckets = []
    for width in np.unique(widths[sizes > 0]):
        prompts = np.flatnonzero((widths == width) & (sizes > 0))
        index, rows = _bucket_rows(pool, prompts, int(width))
        score = _gather(y, index, rows, np.nan)
        oracle_raw = _gather(j, index, rows, np.nan)
        valid = np.isfinite(score) & np.isfinite(oracle_raw)
        n = valid.sum(axis=1)
        n_counted[prompts] = n
        keep = n > 0
        whole = rows is not None and bool(np.all(n == width))  # every cell counts
        with np.errstate(invalid="ignore", divide="ignore"):
            total = (oracle_raw if whole else np.where(valid, oracle_raw, 0.0)).sum(axis=1)
            mu[prompts] = total / np.where(n > 0, n, np.nan)
        if not keep.all():
            prompts, n, index = prompts[keep], n[keep], index[keep]
            score, oracle_raw, valid = score[keep], oracle_raw[keep], valid[keep]
        if prompts.size == 0:
            continue
        positions, sorted_key = sort_positions(score, valid, descending=True)
        block_id, block_start, block_size = tie_blocks(sorted_key)
        if whole:  # full rows of one slice: positions are pool rows, nothing to mask
            index = positions
            index += rows.start
            oracle_raw = j[index]
            score = np.negative(sorted_key, out=sorted_key)
        else:
            valid_sorted = np.arange(width)[None, :] < n[:, None]
            index = np.where(valid_sorted, index.ravel()[positions], -1)
            oracle_raw = np.where(valid_sorted, oracle_raw.ravel()[positions], 0.0)
            score = np.where(valid_sorted, -sorted_key, np.nan)
        if block_size.size == oracle_raw.size:  # no ties anywhere: J~ = J
            oracle_tied = oracle_raw
        else:
            block_mean = np.add.reduceat(oracle_raw.ravel(), block_start) / block_size
            oracle_tied = block_mean[block_id].reshape(oracle_raw.shape)
        buckets.append(RankedBucket(prompts, n, index, score, oracle_raw, oracle_tied,
                                    block_id, block_columns(block_start, n.size, width), block_size))
    return Ranking(rm, oracle, pool.n_prompts, n_counted, mu, tuple(buckets))
