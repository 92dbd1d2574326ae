"""What every scoring backend is: a function from (prompts, responses) to scores.

A backend is built from a *spec*, a JSON-able dict (``{"backend": "transformers",
"model": ..., ...}``) that the run stores so that ``--resume`` and the Ray workers
rebuild the very same backend.  It must never hold a secret: an API key is named by the
environment variable it is read from (``api_key_env``), read when a request is made.

Contract of :meth:`Backend.score` (docs/metric.md §12): one score per (prompt, response)
pair, NaN with status ``unparsable`` for a judge reply without a number (counted,
cached) or ``failed`` for a request that failed after its retries (only when the run
allows partial coverage; else the backend raises); a score never depends on which
other pairs share the batch or in what order.
"""
from __future__ import annotations

import hashlib
import importlib
import json
from dataclasses import dataclass

import numpy as np

from ..errors import RetaInputError

BACKENDS = {  # name -> module defining ``build(spec) -> Backend``
    "transformers": "reta_core.scoring.transformers_backend",
    "http": "reta_core.scoring.http_backend",
    "judge": "reta_core.scoring.judge",
}


class ScoringError(RetaInputError):
    """A scoring run cannot go on (bad model, unreachable endpoint, malformed reply);
    what was staged before is kept for ``--resume``."""


@dataclass
class BatchScores:
    """The scores of one batch, aligned with its inputs."""

    scores: np.ndarray          # float64, NaN = unscored
    status: list                # "ok" | "unparsable" | "failed"
    truncated: np.ndarray       # bool: the input was longer than the model's limit

    @classmethod
    def of(cls, scores, status=None, truncated=None) -> "BatchScores":
        scores = np.asarray(scores, dtype=np.float64)
        n = len(scores)
        if status is None:
            status = ["ok" if np.isfinite(s) else "unparsable" for s in scores]
        truncated = np.zeros(n, bool) if truncated is None else np.asarray(truncated, bool)
        return cls(scores, list(status), truncated)


class Backend:
    """Base class: subclasses set ``name`` and ``spec`` and implement :meth:`score`."""

    name = "backend"
    default_batch_size = 16
    allow_partial = False  # set by the run: a request failing after its retries -> "failed"

    def __init__(self, spec: dict):
        self.spec = dict(spec)

    # what the cache key holds besides the texts: the model or endpoint, and the template
    def identity(self) -> str:
        """The model or endpoint and every option that changes a score (JSON)."""
        return json.dumps(self.spec, sort_keys=True)

    def template(self) -> str:
        """The text the conversation is rendered with (chat template, rubric, API)."""
        return ""

    def describe(self) -> str:
        """A short label for reports: ``transformers:/models/rm``."""
        return self.name

    def lengths(self, prompts, responses) -> np.ndarray:
        """A length per pair to sort batches by (characters unless the backend knows
        better)."""
        return np.fromiter((len(p) + len(r) for p, r in zip(prompts, responses)), dtype=np.int64,
                           count=len(prompts))

    def score(self, prompts: list, responses: list) -> BatchScores:
        raise NotImplementedError

    def close(self) -> None:
        """Free what the backend holds (a model, a thread pool)."""


def build_backend(spec: dict) -> Backend:
    """The backend a spec describes (its module imported only now)."""
    name = spec.get("backend")
    if name not in BACKENDS:
        raise RetaInputError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    return importlib.import_module(BACKENDS[name]).build(spec)


def cache_keys(identity: str, template: str, prompts, responses) -> list[str]:
    """One key per pair: SHA-256 of (model or endpoint, template, prompt, response),
    each part length-prefixed so no two different tuples share a key."""
    head = hashlib.sha256()
    for part in (identity, template):
        data = part.encode("utf-8")
        head.update(len(data).to_bytes(8, "little") + data)
    keys = []
    for prompt, response in zip(prompts, responses):
        h = head.copy()
        for part in (prompt, response):
            data = part.encode("utf-8")
            h.update(len(data).to_bytes(8, "little") + data)
        keys.append(h.hexdigest())
    return keys


def require(module: str, extra: str):
    """Import an optional dependency, or a one-line error naming the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise RetaInputError(f"this needs {module.split('.')[0]}, which is not installed: "
                             f"pip install \"reta-explorer[{extra}]\" (or pip install -r "
                             f"requirements-dev.txt in a checkout) ({exc})") from None
