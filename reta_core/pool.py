"""The engine's one in-memory representation of a benchmark's scores.

A :class:`Pool` holds every scored response of a benchmark, grouped so that the
responses of one prompt are contiguous (CSR layout): prompt ``p`` owns rows
``offsets[p]:offsets[p + 1]``.  Oracle scores and RM scores are float64 arrays
aligned with those rows; NaN marks a missing score (docs/metric.md §1: such a response
does not count).  Prompts may have different pool sizes.

Every metric in :mod:`reta_core.metrics` takes a ``Pool`` (or its arrays) and
never loops over prompts in Python.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd


class _Deferred:
    """A dataclass field that may be given as a zero-argument callable: the value is
    made on first read and kept.  The response identifiers (a million Python strings
    for a large benchmark) cost more to build than the metrics that never read them."""

    def __set_name__(self, owner, name):
        self.slot = "_deferred_" + name

    def __get__(self, obj, owner=None):
        if obj is None:
            raise AttributeError("no default")  # dataclasses: the field is required
        value = obj.__dict__[self.slot]
        if callable(value):
            value = value()
            obj.__dict__[self.slot] = value
        return value

    def __set__(self, obj, value):
        obj.__dict__[self.slot] = value

    def raw(self, obj):
        """The stored value, made or not (a callable when not read yet)."""
        return obj.__dict__[self.slot]


_RESPONSE_IDS = _Deferred()


@dataclass(frozen=True)
class Pool:
    """Scores of one benchmark, responses contiguous per prompt.

    Attributes
    ----------
    prompt_ids : ndarray of shape (P,)
        Prompt identifiers (strings), in the order of ``offsets``.
    offsets : ndarray of int64, shape (P + 1,)
        ``offsets[p]:offsets[p+1]`` are the rows of prompt ``p``; ``offsets[0] == 0``.
    response_ids : ndarray of shape (R,)
        Response identifiers, one per row.  May be given as a zero-argument callable
        returning them: it is called on first read (the metrics never read them).
    oracles : dict[str, ndarray of float64, shape (R,)]
        Oracle scores by oracle name (NaN = missing).
    rms : dict[str, ndarray of float64, shape (R,)]
        Reward-model scores by RM name (NaN = missing).
    categories : ndarray of shape (P,) or None
        Category of each prompt, if known.
    """

    prompt_ids: np.ndarray
    offsets: np.ndarray
    response_ids: np.ndarray = _RESPONSE_IDS
    oracles: dict = field(default_factory=dict)
    rms: dict = field(default_factory=dict)
    categories: np.ndarray | None = None

    def __post_init__(self):
        offsets = np.asarray(self.offsets, dtype=np.int64)
        object.__setattr__(self, "offsets", offsets)
        if offsets.ndim != 1 or offsets.size != len(self.prompt_ids) + 1 or offsets[0] != 0:
            raise ValueError("offsets must have length P + 1 and start at 0")
        if np.any(np.diff(offsets) < 0):
            raise ValueError("offsets must be non-decreasing")
        n = int(offsets[-1])
        ids = _RESPONSE_IDS.raw(self)
        if callable(ids):
            _RESPONSE_IDS.__set__(self, _checked_length(ids, n))
        elif len(ids) != n:
            raise ValueError(f"response_ids has {len(ids)} rows, offsets say {n}")
        for kind, scores in (("oracle", self.oracles), ("rm", self.rms)):
            for name, values in list(scores.items()):
                values = np.asarray(values, dtype=np.float64)
                if values.shape != (n,):
                    raise ValueError(f"{kind} {name!r} has shape {values.shape}, expected ({n},)")
                scores[name] = values
        if self.categories is not None and len(self.categories) != len(self.prompt_ids):
            raise ValueError("categories must have one entry per prompt")

    # ------------------------------------------------------------------ shape
    @property
    def n_prompts(self) -> int:
        return len(self.prompt_ids)

    @property
    def n_responses(self) -> int:
        return int(self.offsets[-1])

    @property
    def pool_sizes(self) -> np.ndarray:
        """Number of responses stored per prompt (before eligibility)."""
        return np.diff(self.offsets)

    @property
    def prompt_codes(self) -> np.ndarray:
        """Integer prompt code of every row (0..P-1)."""
        return np.repeat(np.arange(self.n_prompts, dtype=np.int64), self.pool_sizes)

    # ------------------------------------------------------------ building
    @classmethod
    def from_codes(cls, prompt_codes, prompt_ids, response_ids, oracles, rms=None,
                   categories=None) -> "Pool":
        """Build from per-row integer prompt codes: the one way a Pool is built.

        Rows in any order are reordered (stably) so that each prompt's responses are
        contiguous; rows already in prompt order (the store's) are taken as they are.
        ``categories``: one per prompt, or None; all-None categories count as none.
        ``response_ids`` may be a zero-argument callable (made on first read).
        """
        codes = np.asarray(prompt_codes, dtype=np.int64)
        n_prompts = len(prompt_ids)
        if codes.size and (codes.min() < 0 or codes.max() >= n_prompts):
            raise ValueError("prompt_codes must lie in 0..len(prompt_ids)-1")
        order = np.argsort(codes, kind="stable") if np.any(np.diff(codes) < 0) else None

        def rows(values, dtype):
            values = np.asarray(values, dtype=dtype)
            return values if order is None else values[order]

        counts = np.bincount(codes, minlength=n_prompts)
        if categories is not None:
            categories = np.asarray(categories, dtype=object)
            if all(c is None for c in categories):
                categories = None
        return cls(
            prompt_ids=np.asarray(prompt_ids, dtype=object),
            offsets=np.concatenate([[0], np.cumsum(counts)]),
            response_ids=(lambda: rows(response_ids(), object)) if callable(response_ids)
            else rows(response_ids, object),
            oracles={k: rows(v, np.float64) for k, v in oracles.items()},
            rms={k: rows(v, np.float64) for k, v in (rms or {}).items()},
            categories=categories,
        )

    @classmethod
    def from_frame(cls, df: pd.DataFrame, oracle_cols, rm_cols=(), *, prompt_col="prompt_id",
                   response_col="response_id", category_col=None) -> "Pool":
        """Build from a long table, one row per response.

        Prompts keep the order of their first appearance.  When ``category_col`` is
        given, a prompt's category is taken from its first row.
        """
        codes, uniques = pd.factorize(df[prompt_col], sort=False)
        categories = None
        if category_col is not None and category_col in df:
            first = pd.Series(np.arange(len(df))).groupby(codes).first().to_numpy()
            categories = df[category_col].to_numpy(dtype=object)[first]
        return cls.from_codes(
            codes,
            np.asarray(uniques, dtype=object),
            df[response_col].to_numpy(dtype=object),
            {c: pd.to_numeric(df[c], errors="raise").to_numpy(np.float64) for c in oracle_cols},
            {c: pd.to_numeric(df[c], errors="raise").to_numpy(np.float64) for c in rm_cols},
            categories=categories,
        )

    def with_rms(self, rms: dict) -> "Pool":
        """A copy with extra (or replaced) RM score arrays."""
        merged = dict(self.rms)
        merged.update(rms)
        return Pool(self.prompt_ids, self.offsets, _RESPONSE_IDS.raw(self), dict(self.oracles),
                    merged, self.categories)

    def select_prompts(self, mask) -> "Pool":
        """The pool restricted to prompts where ``mask`` is true (e.g. one category)."""
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (self.n_prompts,):
            raise ValueError("mask must have one entry per prompt")
        rows = np.repeat(mask, self.pool_sizes)
        sizes = self.pool_sizes[mask]
        return Pool(
            prompt_ids=self.prompt_ids[mask],
            offsets=np.concatenate([[0], np.cumsum(sizes)]),
            response_ids=lambda: self.response_ids[rows],
            oracles={k: v[rows] for k, v in self.oracles.items()},
            rms={k: v[rows] for k, v in self.rms.items()},
            categories=None if self.categories is None else self.categories[mask],
        )

    def select_category(self, category) -> "Pool":
        if self.categories is None:
            raise ValueError("this benchmark has no categories")
        return self.select_prompts(self.categories == category)


def _checked_length(make, n: int):
    """``make`` (a deferred ``response_ids``), checked for ``n`` rows when called."""
    def checked():
        ids = make()
        if len(ids) != n:
            raise ValueError(f"response_ids has {len(ids)} rows, offsets say {n}")
        return ids
    return checked
