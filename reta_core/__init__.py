"""RETA Explorer's engine: how far can a reward model be trusted, and at which quantile?

The Python API for notebooks and scripts::

    from reta_core import Evaluation, Store

    store = Store("data/reta.duckdb")            # or Store() for $RETA_DB / the default
    ev = Evaluation.from_store(store, "demo")    # default oracle, ratio normalisation
    ev.leaderboard(ci=False).table               # one row per RM
    ev.curves(["strong_rm"], etas=[0.05, 0.25]).table

Every number follows the project's metric reference, docs/metric.md; docstrings cite
its sections (§1-§12).
"""
from __future__ import annotations

__version__ = "0.3.0"

from .errors import RetaInputError, StoreBusyError
from .evaluation import Evaluation
from .pool import Pool
from .store import Store

__all__ = ["Evaluation", "Pool", "RetaInputError", "Store", "StoreBusyError", "__version__"]
