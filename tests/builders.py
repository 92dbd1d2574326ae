"""Plain helpers the engine tests share: small pools built by hand or at random, and
where the real pool is.  No fixtures here (those are in conftest.py) and no tests."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from reta_core.pool import Pool

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "data" / "example_benchmark.csv"
EXAMPLE_RM = REPO / "data" / "example_rm_scores.csv"

# The shared real pool (AlpacaEval, Tulu 2 best-of-n): $RETA_REAL_POOL, or where it sits
# beside this checkout.  Tests that need it are skipped with REAL_POOL_MISSING otherwise.
REAL_POOL = Path(os.environ.get("RETA_REAL_POOL")
                 or Path(__file__).resolve().parents[2] / "shared/data/alpacaeval-tulu2-bon/pool.jsonl.gz"
                 ).expanduser()
if REAL_POOL.is_dir():  # the pool's folder named instead of its file
    REAL_POOL = REAL_POOL / "pool.jsonl.gz"
REAL_POOL_MISSING = (f"real pool not found at {REAL_POOL}; set RETA_REAL_POOL to the path of "
                     "alpacaeval-tulu2-bon/pool.jsonl.gz or its folder")


def make_pool(groups, rms=None) -> Pool:
    """``groups``: list of oracle lists, one per prompt; ``rms``: name -> list of lists."""
    sizes = [len(g) for g in groups]
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    flat = lambda lists: np.array([v for g in lists for v in g], dtype=float)  # noqa: E731
    return Pool(prompt_ids=np.array([f"p{i}" for i in range(len(groups))], dtype=object),
                offsets=offsets,
                response_ids=np.array([f"r{i}" for i in range(offsets[-1])], dtype=object),
                oracles={"j": flat(groups)},
                rms={k: flat(v) for k, v in (rms or {}).items()})


def random_pool(rng, n_prompts=30, sizes=(2, 9), ties=True, nan_rate=0.0, n_rms=2) -> Pool:
    """A pool of ``n_prompts`` prompts with pool sizes drawn from ``sizes`` (inclusive),
    oracle ``j`` and RMs ``rm0, rm1, ...``; ``ties``: small whole-number scores."""
    pool_sizes = rng.integers(sizes[0], sizes[1] + 1, size=n_prompts)
    total = int(pool_sizes.sum())
    oracle = rng.integers(1, 6, size=total).astype(float) if ties else rng.random(total) + 0.1
    rms = {}
    for i in range(n_rms):
        y = rng.integers(0, 4, size=total).astype(float) if ties else rng.normal(size=total)
        if nan_rate:
            y[rng.random(total) < nan_rate] = np.nan
        rms[f"rm{i}"] = y
    return Pool(prompt_ids=np.array([f"p{i}" for i in range(n_prompts)], dtype=object),
                offsets=np.concatenate([[0], np.cumsum(pool_sizes)]),
                response_ids=np.array([f"r{i}" for i in range(total)], dtype=object),
                oracles={"j": oracle}, rms=rms)


# ------------------------------------------------------------------ the command line, in process
def call(*args) -> tuple[int, str, str]:
    """``cli.main(args)`` with stdout and stderr captured: (status, stdout, stderr)."""
    import contextlib
    import io

    from reta_core import cli

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main([str(a) for a in args])
    return status, out.getvalue(), err.getvalue()


def ok(*args) -> tuple[str, str]:
    """:func:`call` that must succeed: (stdout, stderr)."""
    status, out, err = call(*args)
    assert status == 0, err
    return out, err


def sha256(path) -> str:
    """The file's content hash: a refused write must leave it unchanged."""
    import hashlib

    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
