"""Scoring a benchmark's pool with an RM, inside RETA Explorer (docs/metric.md §12).

The paper's pipeline end to end: once a benchmark's pool is oracle-labelled, a new RM
is evaluated by scoring the pool, nothing more.  Each module owns one thing:

* :mod:`.pool_export`  the pool as a file to score elsewhere (``export-pool``);
* :mod:`.state`        the scoring file beside the database: the cache of scores and
  the staging of runs (SQLite; see there why it is not in the DuckDB file);
* :mod:`.run`          a scoring run: pending work, batches sorted by length, the
  cache, staging and resume, and the RM (or oracle) added as ``add-scores`` would;
* :mod:`.transformers_backend`, :mod:`.http_backend`, :mod:`.judge`  the backends
  (a local model, a served RM, an LLM judge), :mod:`.http` their HTTP client;
* :mod:`.ray_engine`   the same backends as Ray Data ``map_batches`` on a cluster.

torch, transformers and ray are optional extras (``scoring``, ``distributed``): they
are imported inside the backend and engine modules only, so ``import reta_core`` and
the command line stay fast and work without them.
"""
from __future__ import annotations

from .pool_export import EXPORT_SUFFIXES, export_pool, pool_bytes, pool_table

__all__ = ["EXPORT_SUFFIXES", "export_pool", "pool_bytes", "pool_table"]
