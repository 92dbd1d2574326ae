"""RETA curves past one machine: the chunked engine's per-partition kernels as Ray Data
tasks (the ``distributed`` extra; ray is imported here only, and lazily).

The input is a partitioned benchmark: Parquet files in the ingest long format
(``prompt_id, response_id``, oracle and RM columns), every prompt's rows in one file
(``reta export-partitions`` writes a stored benchmark so).  Each file is one Ray Data
row; ``map_batches`` runs :func:`reta_core.chunked.chunk_sums` on it (one file per
task) and returns the partition's sums (prompt counts, value sums, Poisson replicate
sums, smallest pools, excluded counts, prompt keys).  The driver combines them in file
order with :func:`reta_core.chunked.combine`, exactly as the local engine does over the
same files, so point estimates and Poisson bands are the same, bit for bit.  A prompt
whose rows lie in two files is refused with a one-line error.
"""
from __future__ import annotations

import logging
import pickle

import numpy as np

from . import chunked
from .errors import RetaInputError


def _oracle_task(batch: dict, oracle: str, normalization: str) -> dict:
    """One file's smallest pool for the oracle (§10)."""
    low = [chunked.oracle_min_pool(chunked.read_partition(str(path), [oracle], []), oracle, normalization)
           for path in batch["path"]]
    return {"index": batch["index"], "min_pool": np.asarray(low, dtype=np.int64)}


def _sums_task(batch: dict, spec: bytes) -> dict:
    """One file's :class:`chunked.ChunkSums`, pickled."""
    spec = pickle.loads(spec)
    out = [pickle.dumps(chunked.chunk_sums(chunked.read_partition(str(path), [spec.oracle], list(spec.rms)),
                                           spec, keep_keys=True)) for path in batch["path"]]
    return {"index": batch["index"], "sums": np.asarray(out, dtype=object)}


class RayEngine:
    """The chunked engine's driver over Ray Data: one task per Parquet file.

    ``address``: an existing cluster (``ray://host:10001`` or ``auto``); default a local
    instance with ``num_cpus`` CPUs (default: all).  An already initialised Ray (a
    notebook, a test) is used as it is."""

    def __init__(self, files, address: str | None = None, num_cpus: int | None = None):
        self.files = list(files)
        self.address = address
        self.num_cpus = num_cpus

    def _dataset(self):
        from .scoring.backend import require
        from .scoring.ray_engine import _connect

        ray = require("ray", "distributed")
        require("ray.data", "distributed")
        logging.getLogger("ray.data").setLevel(logging.WARNING)  # no INFO lines on the CLI's stderr
        runtime_env = _connect(ray, address=self.address, num_cpus=self.num_cpus)
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        items = [{"index": i, "path": path} for i, path in enumerate(self.files)]
        remote = {"num_cpus": 1}
        if runtime_env:
            remote["runtime_env"] = runtime_env
        return ray.data.from_items(items, override_num_blocks=len(items)), remote

    def oracle_pass(self, oracle: str, normalization: str) -> int:
        ds, remote = self._dataset()
        rows = ds.map_batches(_oracle_task, fn_kwargs={"oracle": oracle, "normalization": normalization},
                              batch_size=1, batch_format="numpy", **remote).take_all()
        lows = [int(r["min_pool"]) for r in rows if int(r["min_pool"]) > 0]
        return min(lows) if lows else 0

    def sums(self, spec: chunked.CurveSpec, progress=None):
        ds, remote = self._dataset()
        rows = ds.map_batches(_sums_task, fn_kwargs={"spec": pickle.dumps(spec)}, batch_size=1,
                              batch_format="numpy", **remote).take_all()
        rows.sort(key=lambda r: int(r["index"]))
        if [int(r["index"]) for r in rows] != list(range(len(self.files))):
            raise RuntimeError("Ray returned an incomplete set of partitions")
        parts = [pickle.loads(r["sums"]) for r in rows]
        split = chunked.split_prompts(parts)
        if split.size:
            raise RetaInputError(chunked.split_message(split, self.files))
        if progress is not None:
            progress(len(parts), len(parts), "partitions on Ray")
        return chunked.combine(parts), len(parts)
