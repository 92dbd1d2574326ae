"""Speed of the store and the command line (issue 3, "Speed, measured"), as ratios
against the core benchmark's floor timed in the same run.

    python benchmarks/bench_store.py [--prompts 10000] [--responses 128]

For the demo benchmark of ``prompts x responses`` with its RMs it times: building it
into a fresh database (``demo.build_demo``: generate + import), importing the same
frame from a Parquet file (``ingest.import_benchmark``), and ``python -m reta_core reta
--format json`` over all RMs (in-process through ``cli.main``, and as a subprocess: the
real cost with interpreter start and imports).  Each is printed as a ratio against the
*floor* of ``bench_core.py`` (one ``np.sort`` of its flat array of 12.8 million RM
scores), timed in this process because machines here are shared and noisy.  Then the
load of the benchmark's scores from DuckDB into a Pool against the pool curves on
the default grid: the target is load <= curves (ok / MISSED; exit 1 when missed).
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from bench_core import best_of, synthetic_pool  # noqa: E402

from reta_core import cli, metrics  # noqa: E402
from reta_core.demo import DEMO_NAME, build_demo, generate_demo  # noqa: E402
from reta_core.evaluation import Evaluation  # noqa: E402
from reta_core.ingest import import_benchmark  # noqa: E402
from reta_core.store import Store  # noqa: E402


def machine() -> str:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30
        ram_text = f"{ram:.1f} GB RAM"
    except (ValueError, OSError, AttributeError):
        ram_text = "RAM unknown"
    import duckdb

    return (f"machine: nproc {cores}, {ram_text}, {platform.machine()}, Python "
            f"{platform.python_version()}, numpy {np.__version__}, duckdb {duckdb.__version__}")


def floor_time() -> tuple[float, int]:
    """bench_core's floor: one np.sort of the flat array of its 10 RMs' scores
    (10,000 x 128 x 10 = 12.8 million), best of 3."""
    pool = synthetic_pool(10_000, 128, 10)
    flat = np.concatenate(list(pool.rms.values()))
    return best_of(lambda: np.sort(flat)), flat.size


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=10_000)
    parser.add_argument("--responses", type=int, default=128)
    args = parser.parse_args()
    print(machine())

    floor, n_floor = floor_time()
    print(f"floor (bench_core: one np.sort of {n_floor:,} RM scores): {floor:.3f} s")

    with tempfile.TemporaryDirectory(prefix="reta_bench_store_") as tmp:
        tmp = Path(tmp)
        built = Store(tmp / "built.duckdb")
        build, report = timed(lambda: build_demo(built, n_prompts=args.prompts,
                                                 n_responses=args.responses))
        n_rms = len(report.rms)
        print(f"demo benchmark: {report.prompts:,} prompts x {args.responses} responses = "
              f"{report.responses:,} responses, {n_rms} RMs ({len(report.baselines)} baselines) "
              f"= {report.responses * n_rms:,} RM scores")

        generate, demo = timed(lambda: generate_demo(args.prompts, args.responses))
        parquet = tmp / "demo.parquet"
        demo.frame.to_parquet(parquet, index=False)
        size_mb = parquet.stat().st_size / 2 ** 20
        imported = Store(tmp / "parquet.duckdb")
        ingest, _ = timed(lambda: import_benchmark(imported, parquet, DEMO_NAME,
                                                   demo.oracle_columns, demo.rm_columns,
                                                   rm_descriptions=demo.rm_descriptions))
        del demo

        argv = ["--db", str(built.path), "reta", "--benchmark", DEMO_NAME, "--format", "json"]

        def in_process():
            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                status = cli.main(argv)
            if status != 0:
                raise RuntimeError(f"reta failed: {err.getvalue()}")
            return out.getvalue()

        reta_cli = best_of(in_process, repeat=2)
        rows = len(json.loads(in_process()))
        env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "reta_core", *argv], env=env,
                              capture_output=True, text=True)
        reta_sub = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(f"python -m reta_core reta failed: {proc.stderr}")

        load = best_of(lambda: built.load_pool(DEMO_NAME))
        pool = built.load_pool(DEMO_NAME)
        etas = metrics.default_eta_grid(int(pool.pool_sizes.min()))
        curves = best_of(lambda: Evaluation(pool).curves(etas=etas))  # fresh: ranks every RM

    print(f"eta grid: {etas.size} points; reta --format json prints {rows:,} rows; "
          f"Parquet file {size_mb:.0f} MB")
    print()
    lines = [
        ("build_demo into a fresh DB (generate + import)", build),
        ("  of which generate_demo alone", generate),
        ("import_benchmark from Parquet", ingest),
        ("reta --format json, all RMs (in-process cli.main)", reta_cli),
        ("reta --format json, all RMs (python -m, subprocess)", reta_sub),
        ("load_pool from DuckDB", load),
        ("Evaluation.curves, all RMs, default grid", curves),
    ]
    for name, seconds in lines:
        print(f"{name:54s} {seconds:8.2f} s  {seconds / floor:8.1f}x floor")
    met = load <= curves
    print()
    print(f"{'load / curves':54s} {load / curves:8.2f}x    target <= 1x   "
          f"{'ok' if met else 'MISSED'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
