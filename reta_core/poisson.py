"""The Poisson bootstrap over prompts (docs/metric.md §6), for runs that never gather
every prompt in one place: the chunked engine and the Ray engine.

Replicate ``b`` gives prompt ``q`` the weight ``w_qb ~ Poisson(1)``, drawn from a
counter-based generator keyed by ``(seed, b, prompt_id)`` alone, so a prompt gets the
same weights whichever chunk, file or worker holds it.  The construction (§6 spells it
out so anyone can reproduce it):

* ``mix(x)``: splitmix64's step on uint64 (wrapping arithmetic):
  ``z = x + 0x9E3779B97F4A7C15; z = (z ^ z >> 30) * 0xBF58476D1CE4E5B9;
  z = (z ^ z >> 27) * 0x94D049BB133111EB; return z ^ z >> 31``;
* the prompt's key: ``h = 0``; for each Unicode code point ``c`` of ``str(prompt_id)``
  in order ``h = mix(h ^ c)``; then ``h = mix(h ^ length)``;
* replicate ``b``'s stream: ``r_b = mix(mix(seed) ^ b)``;
* the uniform: ``u = (mix(r_b ^ h) >> 11) * 2**-53`` in ``[0, 1)``;
* the weight: the number of entries of :data:`POISSON_CDF` that are ``<= u`` (inverse
  CDF), where ``POISSON_CDF[k] = sum_{i <= k} exp(-1) / i!`` accumulated in float64 for
  ``k = 0, 1, ...`` until it reaches 1.0.

The replicate's value is ``sum_q w_qb R_q / sum_q w_qb`` over the counted prompts (for
``recovery`` the ratio of the weighted sums of numerators and denominators, §3); the
band is the percentile interval of the replicates.  Everything is vectorised over
prompts and replicates: no generator object per (replicate, prompt).
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from .metrics import ratio_of_sums

KIND = "poisson"
_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MUL1 = np.uint64(0xBF58476D1CE4E5B9)
_MUL2 = np.uint64(0x94D049BB133111EB)
BLOCK_CELLS = 1 << 21  # weights drawn per block of (replicates x prompts): 16 MB as float64


def _poisson_cdf() -> np.ndarray:
    terms, k, total = [], 0, 0.0
    while total < 1.0:
        total += math.exp(-1.0) / math.factorial(k)
        terms.append(min(total, 1.0))
        k += 1
    return np.array(terms)


#: ``P(Poisson(1) <= k)`` for ``k = 0, 1, ...``, accumulated in float64; the last entry is 1.0.
POISSON_CDF = _poisson_cdf()


def mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's step on a uint64 array (wrapping arithmetic; a new array)."""
    z = np.asarray(x, dtype=np.uint64) + _GAMMA
    z = (z ^ (z >> np.uint64(30))) * _MUL1
    z = (z ^ (z >> np.uint64(27))) * _MUL2
    return z ^ (z >> np.uint64(31))


def prompt_keys(prompt_ids) -> np.ndarray:
    """A stable 64-bit key of each prompt id (its text, code point by code point), as
    uint64 ``(P,)``: ``h = mix(h ^ c)`` over the code points, then ``mix(h ^ length)``.

    Vectorised over prompts (one pass per character position); a prompt's key depends
    on its own id only.  (Trailing NUL characters of an id are not seen.)"""
    text = np.asarray(prompt_ids, dtype=object).astype(str)
    count = text.shape[0]
    if count == 0:
        return np.zeros(0, dtype=np.uint64)
    width = text.dtype.itemsize // 4
    codes = np.ascontiguousarray(text).view(np.uint32).reshape(count, width).astype(np.uint64)
    lengths = np.strings.str_len(text).astype(np.int64)
    h = np.zeros(count, dtype=np.uint64)
    for j in range(width):
        inside = lengths > j
        h[inside] = mix(h[inside] ^ codes[inside, j])
    return mix(h ^ lengths.astype(np.uint64))


def replicate_streams(seed: int, replicates) -> np.ndarray:
    """``r_b = mix(mix(seed) ^ b)`` for each replicate number ``b`` (uint64)."""
    base = mix(np.array([int(seed) & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64))[0]
    return mix(base ^ np.asarray(replicates, dtype=np.uint64))


def poisson_weights(seed: int, replicates, keys: np.ndarray) -> np.ndarray:
    """The weights ``w_qb`` of replicates ``replicates`` (numbers ``b``) for prompts with
    keys ``keys`` (:func:`prompt_keys`): an int64 array ``(len(replicates), len(keys))``."""
    streams = replicate_streams(seed, replicates)
    bits = mix(streams[:, None] ^ np.asarray(keys, dtype=np.uint64)[None, :])
    uniform = (bits >> np.uint64(11)).astype(np.float64) * 2.0 ** -53
    return np.searchsorted(POISSON_CDF, uniform, side="right")


def weighted_sums(keys: np.ndarray, n_boot: int, seed: int, columns) -> list[tuple[np.ndarray, np.ndarray]]:
    """One partition's share of every replicate, for several value sets at once (the
    weights are drawn once and serve every RM).

    ``columns``: a list of ``(values, denominators, rows)``: ``values`` ``(P, E)``,
    ``denominators`` ``(P, E)`` or None, ``rows`` a boolean mask of the prompts that
    enter (counted, no NaN).  Returns, per entry, ``(numerators, denominators)`` with
    ``numerators[b] = sum_q w_qb values[q]`` ``(B, E)`` and ``denominators[b]`` either
    ``sum_q w_qb denominators[q]`` ``(B, E)`` or the weight total ``sum_q w_qb``
    ``(B, 1)`` (prompts outside ``rows`` weigh nothing).  Blocks of prompts are summed
    in a fixed order, so the same partition gives bit-identical sums on any worker."""
    count = len(keys)
    prepared, out = [], []
    for values, denominators, rows in columns:
        values = np.where(rows[:, None], values, 0.0)
        den = rows[:, None].astype(np.float64) if denominators is None else np.where(rows[:, None], denominators, 0.0)
        prepared.append((values, den))
        out.append((np.zeros((n_boot, values.shape[1])), np.zeros((n_boot, den.shape[1]))))
    step = max(1, BLOCK_CELLS // max(n_boot, 1))
    for start in range(0, count, step):
        stop = min(start + step, count)
        w = poisson_weights(seed, np.arange(n_boot), keys[start:stop]).astype(np.float64)
        for (values, den), (num, total) in zip(prepared, out):
            num += w @ values[start:stop]
            total += w @ den[start:stop]
    return out


def replicate_values(numerators: np.ndarray, denominators: np.ndarray, ratio: bool) -> np.ndarray:
    """Each replicate's value from the summed shares: the weighted mean (weight totals
    ``(B, 1)``), or for ``ratio`` (recovery) the ratio of weighted sums; NaN where the
    denominator is 0."""
    if ratio:
        return ratio_of_sums(numerators, denominators)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominators > 0, numerators / np.where(denominators > 0, denominators, 1.0), np.nan)


def percentile_band(replicates: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """The percentile interval at ``level`` over the replicates (NaN replicates, e.g. one
    whose prompts all drew weight 0, are left out; an all-NaN eta gives NaN)."""
    alpha = (1 - level) / 2
    with warnings.catch_warnings(), np.errstate(invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = np.nanquantile(replicates, [alpha, 1 - alpha], axis=0)
    return low, high
