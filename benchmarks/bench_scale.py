"""Cost growth of ``reta`` on the chunked engine, and the Ray engine against the local one.

For 1k, 10k and 100k prompts x 128 responses x 10 RMs (``--sizes`` to run fewer), a
fresh process runs ``reta --benchmark B --format json`` (CLI path, all RMs, pool
estimator, default grid) on the chunked engine, with the chunk size that
``--memory-limit`` (default 2GB) gives the largest benchmark: its wall time and its peak
memory (the child's ``ru_maxrss``, from ``os.wait4``) side by side, and the time ratio
per 10x step (linear is 10x; the target is at most 12x).  Then the same benchmark's
Parquet partitions run on the local engine (``--parquet``) and on Ray (``--engine ray
--num-cpus W``, a fresh local instance) with the same number of workers: the ratio of
the two times, and whether their outputs are identical.

The benchmarks are generated with numpy (integer 1-10 oracle ratings, RMs of different
noise, some rounded to make ties, a few missing scores), written as Parquet partitions
and imported in one set-based insert through :meth:`Store.write_benchmark`; both are
cached in the temp folder between runs (``--cache``).

    python benchmarks/bench_scale.py                      # 1k, 10k, 100k (building 100k takes minutes)
    python benchmarks/bench_scale.py --sizes 1000,10000 --ray-size 10000
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

RESPONSES = 128
N_RMS = 10
PARTITION_PROMPTS = 5_000
ORACLE = "judge_score"


def rm_names() -> list[str]:
    return [f"rm_{i}" for i in range(N_RMS)]


def generate_partition(first: int, count: int, seed: int) -> dict:
    """``count`` prompts from prompt number ``first``: long-format columns."""
    rng = np.random.default_rng([seed, first])
    rows = count * RESPONSES
    quality = rng.normal(size=rows)
    oracle = np.clip(np.round(5.5 + 2.0 * quality), 1, 10)
    columns = {
        "prompt_id": np.repeat(np.char.add("p", np.arange(first, first + count).astype(str)), RESPONSES),
        "response_id": np.char.add(np.char.add("p", np.repeat(np.arange(first, first + count), RESPONSES)
                                               .astype(str)), np.char.add("-r", np.tile(np.arange(RESPONSES),
                                                                                          count).astype(str))),
        ORACLE: oracle,
    }
    for i, name in enumerate(rm_names()):
        score = quality + (0.3 + 0.3 * i) * rng.normal(size=rows)
        if i % 3 == 2:  # coarse scores: tie blocks
            score = np.round(score)
        score[rng.random(rows) < 0.002] = np.nan  # holes
        columns[name] = score
    return columns


def build(cache: Path, n_prompts: int, seed: int = 0) -> tuple[Path, Path]:
    """The cached Parquet partitions and DuckDB store of one size (built when missing)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from reta_core.store import Store

    parts = cache / f"parts_{n_prompts}"
    db = cache / f"bench_{n_prompts}.duckdb"
    done = cache / f"bench_{n_prompts}.done"
    if done.exists():
        return parts, db
    for stale in (db, Path(str(db) + ".wal")):
        stale.unlink(missing_ok=True)
    parts.mkdir(parents=True, exist_ok=True)
    for old in parts.glob("*.parquet"):
        old.unlink()
    started = time.perf_counter()
    tables = []
    for number, first in enumerate(range(0, n_prompts, PARTITION_PROMPTS)):
        columns = generate_partition(first, min(PARTITION_PROMPTS, n_prompts - first), seed)
        table = pa.table(columns)
        pq.write_table(table, parts / f"part-{number:05d}.parquet")
        tables.append(table)
    data = pa.concat_tables(tables)
    del tables
    n = data.num_rows
    prompt_ids = np.char.add("p", np.arange(n_prompts).astype(str))
    codes = np.repeat(np.arange(n_prompts, dtype=np.int32), RESPONSES)
    store_tables = {
        "prompts": pa.table({"prompt_id": prompt_ids, "prompt_code": np.arange(n_prompts, dtype=np.int32),
                             "prompt": pa.nulls(n_prompts, pa.string()), "category": pa.nulls(n_prompts, pa.string())}),
        "responses": pa.table({"response_code": np.arange(n, dtype=np.int32), "response_id": data["response_id"],
                               "prompt_code": codes, "prompt_id": data["prompt_id"],
                               "response": pa.nulls(n, pa.string()), "policy": pa.nulls(n, pa.string()),
                               "source_row": np.arange(n, dtype=np.int64)}),
        "oracles": pa.table({"name": [ORACLE], "description": pa.nulls(1, pa.string()),
                             "position": pa.array([0], pa.int32()), "n_scored": pa.array([n], pa.int64())}),
        "oracle_scores": pa.table({"response_code": np.arange(n, dtype=np.int32), ORACLE: data[ORACLE]}),
        "rms": pa.table({"name": rm_names(), "description": pa.nulls(N_RMS, pa.string()),
                         "source_file": pa.nulls(N_RMS, pa.string()),
                         "added_at": pa.array(np.full(N_RMS, np.datetime64("2026-01-01T00:00:00", "us")), pa.timestamp("us")),
                         "is_baseline": [False] * N_RMS,
                         "n_scored": pa.array([int(n - np.isnan(data[r].to_numpy()).sum())
                                               for r in rm_names()], pa.int64()),
                         "position": pa.array(range(N_RMS), pa.int32())}),
        "rm_scores": pa.table({"response_code": np.arange(n, dtype=np.int32),
                               **{r: data[r] for r in rm_names()}}),
    }
    Store(db, timeout=600).write_benchmark("bench", {"default_oracle": ORACLE, "description": "bench_scale"},
                                            store_tables)
    done.write_text("ok\n")
    print(f"built {n_prompts:,} prompts ({n:,} responses) in {time.perf_counter() - started:.0f} s",
          file=sys.stderr)
    return parts, db


def run(argv: list[str]) -> tuple[float, float, bytes]:
    """Run ``python -m reta_core ARGV`` in a fresh process: (seconds, peak RSS in MB, stdout)."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen([sys.executable, "-m", "reta_core", *argv], stdout=out,
                                stderr=subprocess.PIPE, env=env, cwd=REPO)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        err = proc.stderr.read().decode()
        proc.stderr.close()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read()
    if proc.returncode != 0:
        raise SystemExit(f"reta {' '.join(argv)} failed ({proc.returncode}):\n{err}")
    return seconds, usage.ru_maxrss / 1024, text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="prompt counts (comma-separated)")
    parser.add_argument("--memory-limit", default="2GB", help="the memory setting (default 2GB)")
    parser.add_argument("--ray-size", type=int, default=None,
                        help="the size to run on Ray and locally (default: the largest; 0: skip)")
    parser.add_argument("--workers", type=int, default=2, help="Ray workers (default 2)")
    parser.add_argument("--repeats", type=int, default=1, help="runs per size; the fastest is shown")
    parser.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "reta_bench_scale"))
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    built = {size: build(cache, size) for size in sizes}

    from reta_core.chunked import chunk_prompts_for, parse_size

    limit = parse_size(args.memory_limit)
    chunk = chunk_prompts_for(limit, sizes[-1], sizes[-1] * RESPONSES, N_RMS, 105, 0)
    print(f"reta --format json, chunked engine, pool estimator, {N_RMS} RMs x {RESPONSES} responses, "
          f"default grid; chunk = {chunk:,} prompts (from --memory-limit {args.memory_limit})")
    print(f"{'prompts':>9} {'scores':>13} {'time s':>8} {'x per 10x':>10} {'peak MB':>9} {'chunks':>7}")
    previous = None
    for size in sizes:
        _, db = built[size]
        argv = ["--db", str(db), "reta", "--benchmark", "bench", "--format", "json",
                "--memory-limit", args.memory_limit, "--chunk-prompts", str(chunk)]
        runs = [run(argv) for _ in range(max(args.repeats, 1))]
        seconds, peak = min(r[0] for r in runs), max(r[1] for r in runs)
        chunks = -(-size // chunk)
        step = (f"{seconds / previous[1] * 10 / (size / previous[0]):.2f}x"
                if previous else "-")
        print(f"{size:>9,} {size * RESPONSES * N_RMS:>13,} {seconds:>8.2f} {step:>10} {peak:>9.0f} {chunks:>7}")
        previous = (size, seconds)
    ray_size = sizes[-1] if args.ray_size is None else args.ray_size
    if ray_size:
        import ray

        parts, _ = build(cache, ray_size)
        base = ["reta", "--parquet", str(parts), "--oracle", ORACLE, "--format", "csv"]
        local, local_peak, local_out = run(base)
        # a running instance of W CPUs, as a cluster would be (its start-up is not timed)
        ray.init(num_cpus=args.workers, include_dashboard=False, _node_ip_address="127.0.0.1",
                 log_to_driver=False, logging_level="ERROR")
        try:
            address = ray.get_runtime_context().gcs_address
            on_ray, _, ray_out = run(base + ["--engine", "ray", "--ray-address", address])
        finally:
            ray.shutdown()
        files = len(list(parts.glob("*.parquet")))
        print(f"\nParquet partitions ({files} files, {ray_size:,} prompts, --ci off): local engine "
              f"{local:.2f} s (peak {local_peak:.0f} MB), Ray with {args.workers} workers {on_ray:.2f} s: "
              f"Ray / local = {on_ray / local:.2f}; outputs identical: {local_out == ray_out}")


if __name__ == "__main__":
    main()
