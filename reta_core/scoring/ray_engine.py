"""Scoring past one machine: the same backends as Ray Data ``map_batches`` (the
``distributed`` extra; ray is imported here only).

The pending pairs (longest first) become a Ray dataset; ``map_batches`` runs a
:class:`Replica` per actor, each building the backend from the run's spec once (one
model replica per actor: ``replicas`` actors with ``gpus_per_replica`` GPUs each).
Results come back to the driver batch by batch and are written as Parquet shards, each
atomically (a temporary name, then a rename), into the run's shard folder; when every
pair has a result the shards are staged and cached in one transaction, and the run adds
the RM in one transaction, as the local engine does.  A run killed half way keeps its
finished shards: ``--resume`` stages them first and scores only the rest.

The cluster is the one ``RAY_ADDRESS`` names (``ray start --head`` / an existing
cluster), else a local instance; if Ray is already initialised (a notebook, a test) it
is used as it is.  reta_core itself is shipped to the workers (``py_modules``), so the
nodes need only the backend's own dependencies (torch and transformers, or nothing for
the served backends).
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from .backend import build_backend, require

RESULT_COLUMNS = ("response_code", "key", "score", "status", "truncated")


class Replica:
    """One model replica (a Ray actor): the backend built once, then batch after batch."""

    def __init__(self, spec: dict, allow_partial: bool = False):
        self.backend = build_backend(spec)
        self.backend.allow_partial = allow_partial

    def __call__(self, batch: pa.Table) -> pa.Table:
        prompts = batch["prompt"].to_pylist()
        responses = batch["response"].to_pylist()
        result = self.backend.score(prompts, responses)
        return pa.table({
            "response_code": batch["response_code"],
            "key": batch["key"],
            "score": pa.array(result.scores, pa.float64()),
            "status": pa.array([str(s) for s in result.status], pa.string()),
            "truncated": pa.array(np.asarray(result.truncated, bool)),
        })


def shard_folder(state, run: int, shards=None) -> Path:
    base = Path(shards).expanduser() if shards else state.path.with_name(state.path.stem + ".shards")
    return base / f"run-{run}"


def read_shards(folder: Path) -> pd.DataFrame:
    """Every complete shard of a run (an unreadable file, from a kill mid-write, is
    dropped: its pairs are scored again)."""
    import pyarrow.parquet as pq

    frames = []
    for file in sorted(folder.glob("*.parquet")) if folder.is_dir() else []:
        try:
            frames.append(pq.read_table(file).to_pandas())
        except (OSError, pa.ArrowException):
            file.unlink(missing_ok=True)
    if not frames:
        return pd.DataFrame({c: [] for c in RESULT_COLUMNS})
    return pd.concat(frames, ignore_index=True).drop_duplicates("response_code", keep="last")


def _write_shard(folder: Path, table: pa.Table) -> None:
    import pyarrow.parquet as pq

    name = f"part-{uuid.uuid4().hex}.parquet"
    tmp = folder / f".{name}.tmp"
    pq.write_table(table, tmp)
    os.replace(tmp, folder / name)


def _connect(ray, address: str | None = None, num_cpus: int | None = None) -> dict:
    """Join the cluster at ``address`` (default ``RAY_ADDRESS``) or start a local instance
    (on 127.0.0.1, with ``num_cpus`` CPUs, default all), shipping reta_core to the
    workers; returns the runtime_env ``map_batches`` needs."""
    import reta_core

    package = Path(reta_core.__file__).parent
    if ray.is_initialized():  # started by the caller: on its own machine, reta_core's folder
        path = os.pathsep.join(p for p in (str(package.parent), os.environ.get("PYTHONPATH")) if p)
        return {"env_vars": {"PYTHONPATH": path}}
    address = address or os.environ.get("RAY_ADDRESS") or None
    local = {} if address else {"_node_ip_address": "127.0.0.1", "num_cpus": num_cpus}
    try:
        ray.init(address=address, include_dashboard=False, log_to_driver=False,
                 logging_level="ERROR", runtime_env={"py_modules": [str(package)]}, **local)
    except (ConnectionError, ValueError, RuntimeError) as exc:  # the user's address or install
        from ..errors import RetaInputError

        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "ray[client]" in str(exc):
            reason = "a ray:// address needs Ray Client: pip install 'ray[client]' (or run on a cluster node with --ray-address auto)"
        raise RetaInputError(f"cannot join the Ray cluster at {address or 'a new local instance'}: {reason}") from None
    return {}


def score_on_ray(spec: dict, pending: pd.DataFrame, run: int, state, batch_size: int, *,
                 allow_partial: bool = False, progress=None, done: int = 0, total: int = 0,
                 replicas: int = 1, gpus_per_replica: float = 0.0, shards=None) -> None:
    """Score ``pending`` on Ray and stage the results of run ``run`` in ``state``."""
    from ..errors import RetaInputError

    if replicas < 1:
        raise RetaInputError(f"--replicas must be at least 1, got {replicas}")
    if gpus_per_replica < 0:
        raise RetaInputError(f"--gpus-per-replica must be >= 0, got {gpus_per_replica}")
    progress = progress or (lambda *a: None)
    folder = shard_folder(state, run, shards)
    folder.mkdir(parents=True, exist_ok=True)
    earlier = read_shards(folder)  # a resumed run's finished shards
    todo = pending[~pending["response_code"].isin(set(earlier["response_code"]))]
    done += len(earlier)
    progress(done, total, f"{len(earlier):,} from earlier shards" if len(earlier) else "starting Ray")
    if len(todo):
        ray = require("ray", "distributed")
        require("ray.data", "distributed")
        runtime_env = _connect(ray)
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        table = pa.table({"response_code": pa.array(todo["response_code"].to_numpy(np.int64)),
                          "prompt": pa.array(todo["prompt"].tolist(), pa.string()),
                          "response": pa.array(todo["response"].tolist(), pa.string()),
                          "key": pa.array(todo["key"].tolist(), pa.string())})
        blocks = max(1, min(len(todo) // max(batch_size, 1), 4 * replicas * 8))
        ds = ray.data.from_arrow(table).repartition(blocks)
        remote = {"num_gpus": gpus_per_replica} if gpus_per_replica else {"num_cpus": 1}
        cpus = ray.cluster_resources().get("CPU", 0)
        if not gpus_per_replica and replicas >= cpus:  # the data tasks need a CPU too
            raise RetaInputError(f"--replicas {replicas}: each CPU replica takes a CPU and Ray Data "
                                 f"needs one more, but the cluster has {cpus:g}; use at most "
                                 f"{max(int(cpus) - 1, 1)} (or --gpus-per-replica)")
        if runtime_env:
            remote["runtime_env"] = runtime_env
        scored = ds.map_batches(
            Replica, fn_constructor_kwargs={"spec": spec, "allow_partial": allow_partial},
            batch_size=batch_size, batch_format="pyarrow", concurrency=replicas, **remote)
        for batch in scored.iter_batches(batch_size=None, batch_format="pyarrow"):
            _write_shard(folder, batch)
            done += batch.num_rows
            progress(done, total, f"{replicas} replica{'s' * (replicas > 1)} on Ray")
    results = read_shards(folder)
    state.stage(run, results["response_code"], results["score"], results["status"],
                results["truncated"], keys=results["key"].tolist())
    for file in folder.glob("*.parquet"):  # staged: the shards have served
        file.unlink(missing_ok=True)
    try:
        folder.rmdir()
    except OSError:
        pass
