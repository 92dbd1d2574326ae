"""Speed and memory of the RETA engine, as ratios against baselines timed in the same run.

    python benchmarks/bench_core.py [--prompts 10000] [--responses 128] [--rms 10]

Machines here are shared and noisy, so every figure is a ratio against a baseline
measured in the same process: the *floor* (one ``np.sort`` of the flat array of all RM
scores), a notebook-style pandas ``groupby(...).apply`` (timed on a tenth of the
prompts and scaled), and the curve computation itself.  Every engine figure starts
from a fresh ``Evaluation`` (each RM is ranked again, as a first call does).  Targets
(issues 2 and 12) are printed beside each ratio; the script exits 1 when one is missed.
"""
from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reta_core import metrics  # noqa: E402
from reta_core.evaluation import Evaluation  # noqa: E402
from reta_core.pool import Pool  # noqa: E402


def synthetic_pool(n_prompts: int, n_responses: int, n_rms: int, seed: int = 0) -> Pool:
    rng = np.random.default_rng(seed)
    rows = n_prompts * n_responses
    quality = rng.normal(size=rows)
    oracle = np.clip(np.round(5.5 + 2 * quality + rng.normal(size=rows)), 1, 10)
    rms = {f"rm_{i}": quality + rng.normal(scale=0.3 + 0.3 * i, size=rows) for i in range(n_rms)}
    return Pool(prompt_ids=np.array([f"p{i}" for i in range(n_prompts)], dtype=object),
                offsets=np.arange(n_prompts + 1) * n_responses,
                response_ids=np.arange(rows).astype(str).astype(object),
                oracles={"oracle": oracle}, rms=rms)


def machine() -> str:
    """The line every benchmark prints first: where its figures come from."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30
        ram_text = f"{ram:.1f} GB RAM"
    except (ValueError, OSError, AttributeError):
        ram_text = "RAM unknown"
    import duckdb

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"machine: nproc {cores}, {ram_text}, {platform.machine()}, Python "
            f"{platform.python_version()}, numpy {np.__version__}, duckdb {duckdb.__version__}; "
            f"load average at start {load:.1f}")


def best_of(fn, repeat: int = 3) -> float:
    """Best wall time of ``repeat`` calls (the least disturbed by other load)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def notebook_curves(frame: pd.DataFrame, etas: np.ndarray) -> pd.DataFrame:
    """The pool estimator as a notebook would write it: groupby-apply per prompt."""
    def one_prompt(group: pd.DataFrame) -> pd.Series:
        group = group.sort_values("score", ascending=False)
        tied = group.groupby("score", sort=False)["oracle"].transform("mean").to_numpy()
        cum = np.concatenate([[0.0], np.cumsum(tied)])
        n = len(tied)
        out = []
        for eta in etas:
            m = eta * n
            whole = min(int(np.floor(m)), n)
            extra = (m - whole) * tied[whole] if whole < n else 0.0
            out.append((cum[whole] + extra) / m / group["oracle"].mean())
        return pd.Series(out, index=etas)
    return frame.groupby("prompt").apply(one_prompt)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=10_000)
    parser.add_argument("--responses", type=int, default=128)
    parser.add_argument("--rms", type=int, default=10)
    parser.add_argument("--pandas-share", type=int, default=10, metavar="K",
                        help="time the pandas peer on 1/K of the prompts and scale (default 10)")
    args = parser.parse_args()

    print(machine())
    pool = synthetic_pool(args.prompts, args.responses, args.rms)
    flat = np.concatenate(list(pool.rms.values()))
    print(f"benchmark: {args.prompts:,} prompts x {args.responses} responses x {args.rms} RMs "
          f"= {flat.size:,} RM scores")
    floor = best_of(lambda: np.sort(flat))
    etas = metrics.default_eta_grid(args.responses)
    print(f"floor (one np.sort of all RM scores): {floor:.3f} s; eta grid: {etas.size} points")

    def all_curves():  # a fresh Evaluation: every RM is ranked again, as a first call does
        return Evaluation(pool, "oracle").curves(etas=etas)
    curves_time = best_of(all_curves)

    tenth = pool.select_prompts(np.arange(pool.n_prompts) < max(1, args.prompts // args.pandas_share))
    frames = [pd.DataFrame({"prompt": tenth.prompt_codes, "score": s, "oracle": tenth.oracles["oracle"]})
              for s in tenth.rms.values()]
    start = time.perf_counter()
    for frame in frames:
        notebook_curves(frame, etas)
    pandas_time = (time.perf_counter() - start) * (pool.n_prompts / tenth.n_prompts)

    n = 16
    def exact_all():  # one fresh Evaluation: ranked once, shared by BoN and the curves
        evaluation = Evaluation(pool, "oracle")
        evaluation.bon(n)
        evaluation.curves(etas=etas, estimator="exact", n=n)
    exact_time = best_of(exact_all)
    board_time = best_of(lambda: Evaluation(pool, "oracle").leaderboard(), repeat=2)  # bands and §9 included

    one = Evaluation(pool, "oracle").ranking("rm_0")
    one_curve = best_of(lambda: Evaluation(pool, "oracle").curves(["rm_0"], etas))
    per_prompt, _ = metrics.pool_reta_per_prompt(one, etas)
    def cold_bootstrap():
        metrics._cached_counts.cache_clear()  # draw the resample counts afresh, as a first call does
        metrics._cached_float_counts.cache_clear()
        metrics.bootstrap_over_prompts(per_prompt, n_boot=1000)
    boot = best_of(cold_bootstrap, repeat=2)
    metrics.bootstrap_over_prompts(per_prompt, n_boot=1000)
    boot_warm = best_of(lambda: metrics.bootstrap_over_prompts(per_prompt, n_boot=1000), repeat=2)

    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2
    checks = [
        ("all RM pool curves / floor", curves_time / floor, "<=", 5),
        ("pandas groupby-apply / all RM pool curves", pandas_time / curves_time, ">=", 50),
        (f"exact BoN@{n} + exact RETA n={n}, all RMs / floor", exact_time / floor, "<=", 8),
        ("leaderboard (bands, BoN, §9 baselines), all RMs / floor", board_time / floor, "<=", 10),
        ("bootstrap B=1000, one RM / that RM's curve", boot / one_curve, "<=", 5),
        ("  the same, resample counts cached (next RM, eta)", boot_warm / one_curve, "<=", 5),
    ]
    ok = True
    for name, ratio, op, target in checks:
        met = ratio <= target if op == "<=" else ratio >= target
        ok &= met
        print(f"{name:56s} {ratio:8.2f}x   target {op} {target}x   {'ok' if met else 'MISSED'}")
    met = peak_gb <= 3
    ok &= met
    print(f"{'peak memory (whole run)':56s} {peak_gb:8.2f} GB  target <= 3 GB   {'ok' if met else 'MISSED'}")
    print(f"(seconds: floor {floor:.3f}, curves {curves_time:.3f}, pandas {pandas_time:.1f}, "
          f"exact {exact_time:.3f}, leaderboard {board_time:.3f}, one curve {one_curve:.3f}, bootstrap {boot:.3f}, cached {boot_warm:.3f})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
