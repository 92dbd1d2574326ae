"""Speed of the store and the command line (issues 3 and 12), as ratios against
baselines timed in the same run.

    python benchmarks/bench_store.py [--db PATH] [--rebuild] [--skip-build]

The benchmark: the demo generator at 10,000 prompts x 128 responses (6 RMs + 2
baselines) plus 2 noisy copies of ``strong_rm`` = 10 RMs, 12.8 million RM scores,
built once into a cached DuckDB file (``--db``; the same file ``bench_app.py`` uses).
Timed, each beside the *floor* of ``bench_core.py`` (one ``np.sort`` of the flat
array of its 12.8 million RM scores), because machines here are shared and noisy:

* building the demo into a fresh database (generate + import) and importing the same
  frame from Parquet (skipped with ``--skip-build``);
* ``python -m reta_core reta --format json`` over all RMs on the default grid, as a
  fresh process (interpreter start, imports, the DuckDB load, curves, output);
* two peers computing from the same database file, in this process:
  the *pandas peer*, a notebook's way: the long table read with ``.df()`` and
  ``groupby(...).apply`` per RM over the same grid (bench_core's ``notebook_curves``,
  on a tenth of the prompts, scaled), and the *DuckDB SQL peer*: one window-function
  query (parameters bound) computing RETA at 5 etas only, checked against the CLI's
  numbers there;
* ``Store.load_pool`` against the engine's pool curves on the default grid.

Targets (issue 12): the CLI at least 60x faster than the pandas peer and 3x faster
than the SQL peer; load <= curves.  Each is printed with ok / MISSED; exit 1 when one
is missed.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from bench_core import best_of, machine, notebook_curves, synthetic_pool  # noqa: E402

from reta_core import cli, ingest, metrics  # noqa: E402
from reta_core.demo import DEMO_NAME, build_demo, generate_demo  # noqa: E402
from reta_core.evaluation import Evaluation  # noqa: E402
from reta_core.ingest import import_benchmark  # noqa: E402
from reta_core.store import Store  # noqa: E402

PROMPTS, RESPONSES = 10_000, 128
EXTRA_RMS = {"strong_rm_noisy_a": 0.5, "strong_rm_noisy_b": 1.0}  # name -> noise scale
ORACLE = "judge_score"
DEFAULT_DB = Path(tempfile.gettempdir()) / f"reta_bench_app_{PROMPTS}x{RESPONSES}.duckdb"
SQL_ETAS = (0.01, 0.05, 0.1, 0.25, 0.5)

# RETA (pool estimator, ratio, §3) at the bound etas, written as a SQL user would: tie
# blocks averaged with a window over equal scores, each position's share of the top
# eta*N mass, prompts with fewer than 2 scored responses or mean <= 0 left out.
SQL_PEER = """
WITH scored AS (
    SELECT r.rm, x.prompt_code, r.score AS y, o.score AS j
    FROM rm_scores r
    JOIN oracle_scores o ON o.benchmark = r.benchmark AND o.response_code = r.response_code
    JOIN responses x ON x.benchmark = r.benchmark AND x.response_code = r.response_code
    WHERE r.benchmark = $benchmark AND o.oracle = $oracle
      AND r.score IS NOT NULL AND o.score IS NOT NULL
), ranked AS (
    SELECT rm, prompt_code,
           avg(j) OVER (by_score RANGE BETWEEN CURRENT ROW AND CURRENT ROW) AS j_tied,
           avg(j) OVER (by_score ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS mu,
           count(*) OVER (by_score ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS n,
           row_number() OVER by_score - 1 AS above
    FROM scored
    WINDOW by_score AS (PARTITION BY rm, prompt_code ORDER BY y DESC)
), per_prompt AS (
    SELECT rm, prompt_code, eta,
           sum(j_tied * least(eta * n - above, 1.0)) / (eta * n) / mu AS reta
    FROM ranked, unnest($etas) AS e(eta)
    WHERE above < eta * n AND n >= 2 AND mu > 0
    GROUP BY rm, prompt_code, eta, n, mu
)
SELECT rm, eta, avg(reta) AS reta FROM per_prompt GROUP BY rm, eta ORDER BY rm, eta
"""


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


def benchmark_ready(store: Store) -> bool:
    try:
        info = store.benchmark_info(DEMO_NAME)
    except Exception:  # no file, no benchmark, an older schema: build it again
        return False
    rms = {r["name"] for r in info["rms"]}
    return (info["n_prompts"] == PROMPTS and info["n_responses"] == PROMPTS * RESPONSES
            and set(EXTRA_RMS) <= rms)


def ensure_db(path: Path, rebuild: bool = False) -> None:
    """Build the 10-RM benchmark into ``path`` unless a finished one is there (built into
    a side file first, so an interrupted build never leaves a half cache)."""
    if not rebuild and path.exists() and benchmark_ready(Store(path)):
        print(f"benchmark: cached {path}")
        return
    start = time.perf_counter()
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    store = Store(partial)
    build_demo(store, n_prompts=PROMPTS, n_responses=RESPONSES)
    pool = store.load_pool(DEMO_NAME, rms=["strong_rm"])
    rng = np.random.default_rng(1)
    for name, scale in EXTRA_RMS.items():
        scores = pool.rms["strong_rm"] + rng.normal(scale=scale, size=pool.n_responses)
        frame = pd.DataFrame({"response_id": pool.response_ids.astype(str), "score": scores})
        ingest.add_rm_scores(store, frame, DEMO_NAME, name, score_column="score",
                             description=f"strong_rm + N(0, {scale}^2) noise (bench_app)")
    os.replace(partial, path)
    os.sync()  # the fresh 0.5 GB file is written back now, not during the timings
    print(f"benchmark: built {path} in {time.perf_counter() - start:.1f} s")


def build_timings(prompts: int, responses: int) -> list[tuple[str, float]]:
    """build_demo into a fresh database, generate_demo alone, import from Parquet."""
    with tempfile.TemporaryDirectory(prefix="reta_bench_store_") as tmp:
        tmp = Path(tmp)
        build, _ = timed(lambda: build_demo(Store(tmp / "built.duckdb"), n_prompts=prompts,
                                            n_responses=responses))
        generate, demo = timed(lambda: generate_demo(prompts, responses))
        parquet = tmp / "demo.parquet"
        demo.frame.to_parquet(parquet, index=False)
        ingest_time, _ = timed(lambda: import_benchmark(Store(tmp / "parquet.duckdb"), parquet, DEMO_NAME,
                                                        demo.oracle_columns, demo.rm_columns,
                                                        rm_descriptions=demo.rm_descriptions))
    return [("build_demo into a fresh DB (generate + import)", build),
            ("  of which generate_demo alone", generate),
            ("import_benchmark from Parquet", ingest_time)]


def pandas_peer(db: Path, etas: np.ndarray, rms: list[str], share: int = 10) -> float:
    """A notebook's RETA curves: each RM's long table from DuckDB with ``.df()``, then
    ``groupby("prompt").apply`` (:func:`bench_core.notebook_curves`) over ``etas``.
    The groupby runs on the first ``1/share`` of the prompts and is scaled up."""
    import duckdb

    query = ("SELECT x.prompt_code AS prompt, r.score, o.score AS oracle FROM rm_scores r "
             "JOIN oracle_scores o ON o.benchmark = r.benchmark AND o.response_code = r.response_code "
             "JOIN responses x ON x.benchmark = r.benchmark AND x.response_code = r.response_code "
             "WHERE r.benchmark = ? AND r.rm = ? AND o.oracle = ? "
             "AND r.score IS NOT NULL AND o.score IS NOT NULL")
    total = 0.0
    with duckdb.connect(str(db), read_only=True) as con:
        for rm in rms:
            load, frame = timed(lambda rm=rm: con.execute(query, [DEMO_NAME, rm, ORACLE]).df())
            part = frame[frame["prompt"] < PROMPTS // share]
            apply, _ = timed(lambda part=part: notebook_curves(part, etas))
            total += load + apply * share
    return total


def sql_peer(db: Path) -> tuple[float, pd.DataFrame]:
    """The one window-function query, best of 2, and its table (rm, eta, reta)."""
    import duckdb

    def run():
        with duckdb.connect(str(db), read_only=True) as con:
            return con.execute(SQL_PEER, {"benchmark": DEMO_NAME, "oracle": ORACLE,
                                          "etas": list(SQL_ETAS)}).df()
    seconds = best_of(run, repeat=2)
    return seconds, run()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=DEFAULT_DB, help="the cached benchmark database (built when missing)")
    parser.add_argument("--rebuild", action="store_true", help="build the benchmark database again")
    parser.add_argument("--skip-build", action="store_true", help="do not time building and importing")
    parser.add_argument("--pandas-share", type=int, default=10, metavar="K",
                        help="run the pandas peer's groupby on 1/K of the prompts and scale (default 10)")
    args = parser.parse_args()
    print(machine())
    db = args.db.resolve()
    ensure_db(db, args.rebuild)

    floor, n_floor = floor_time()
    print(f"floor (bench_core: one np.sort of {n_floor:,} RM scores): {floor:.3f} s")
    lines = [] if args.skip_build else build_timings(PROMPTS, RESPONSES)

    argv = ["--db", str(db), "reta", "--benchmark", DEMO_NAME, "--format", "json"]

    def in_process():
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = cli.main(argv)
        if status != 0:
            raise RuntimeError(f"reta failed: {err.getvalue()}")
        return out.getvalue()

    def subprocess_run():
        env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
        proc = subprocess.run([sys.executable, "-m", "reta_core", *argv], env=env,
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"python -m reta_core reta failed: {proc.stderr}")
        return proc.stdout

    reta_sub = best_of(subprocess_run, repeat=3)
    reta_cli = best_of(in_process, repeat=2)
    ours = pd.DataFrame(json.loads(in_process())["rows"])

    store = Store(db)
    load = best_of(lambda: store.load_pool(DEMO_NAME))
    pool = store.load_pool(DEMO_NAME)
    rms = list(pool.rms)
    etas = metrics.default_eta_grid(int(pool.pool_sizes.min()))
    curves = best_of(lambda: Evaluation(pool, ORACLE).curves(etas=etas))  # fresh: ranks every RM

    sql, sql_table = sql_peer(db)
    at = ours[ours["eta"].isin(SQL_ETAS)].set_index(["rm", "eta"])["reta"]
    theirs = sql_table.set_index(["rm", "eta"])["reta"]
    worst = float(np.max(np.abs(theirs.reindex(at.index).to_numpy() - at.to_numpy())))
    if not worst < 1e-9:
        raise RuntimeError(f"the SQL peer disagrees with reta by {worst:g}")
    pandas_time = pandas_peer(db, etas, rms, share=args.pandas_share)

    print(f"benchmark: {PROMPTS:,} prompts x {RESPONSES} responses x {len(rms)} RMs = "
          f"{PROMPTS * RESPONSES * len(rms):,} RM scores; eta grid: {etas.size} points; "
          f"reta --format json prints {len(ours):,} rows; the SQL peer {len(sql_table)} "
          f"(5 etas), equal to reta's to {worst:.1e}")
    print()
    lines += [
        ("reta --format json, all RMs (python -m, subprocess)", reta_sub),
        ("reta --format json, all RMs (in-process cli.main)", reta_cli),
        ("pandas peer: .df() + groupby-apply, all RMs, same grid", pandas_time),
        ("DuckDB SQL peer: one window query, 5 etas", sql),
        ("load_pool from DuckDB", load),
        ("Evaluation.curves, all RMs, default grid", curves),
    ]
    for name, seconds in lines:
        print(f"{name:58s} {seconds:8.2f} s  {seconds / floor:8.2f}x floor")
    print(f"{'  reta subprocess above the floor':58s} {reta_sub - floor:8.2f} s  "
          f"({(reta_sub - floor) / reta_sub:.0%} of its time)")
    print()
    checks = [("pandas peer / reta subprocess", pandas_time / reta_sub, ">=", 60),
              ("DuckDB SQL peer / reta subprocess", sql / reta_sub, ">=", 3),
              ("load / curves", load / curves, "<=", 1)]
    ok = True
    for name, ratio, op, target in checks:
        met = ratio >= target if op == ">=" else ratio <= target
        ok &= met
        print(f"{name:58s} {ratio:8.2f}x   target {op} {target}x   {'ok' if met else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
