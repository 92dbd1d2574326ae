"""RETA curves of benchmarks larger than memory: the chunked streaming engine.

A prompt's values depend on its own responses only (§3, §4), so the prompts can be
processed a chunk at a time and the curves put together from per-chunk sums:

* the pool and exact estimators' averages: the sum of the counted prompts' values and
  their number (recovery: the sums of numerators and of denominators, §3);
* the Poisson bootstrap (§6, :mod:`reta_core.poisson`): each replicate's weighted sums;
* the global pieces: the oracle's smallest pool (§10: the eta grid, the default ``n``),
  each RM's smallest counted pool (``below_min_eta``), its largest pool (the check of
  ``n``) and the excluded prompts per reason (§1).

A chunk is any :class:`~reta_core.pool.Pool` of whole prompts: a prompt-code range of
the store (:meth:`Store.iter_pools`), one Parquet file of a partitioned benchmark, or
a Ray task's file (:mod:`reta_core.ray_reta`).  Each chunk is judged through the same
:class:`~reta_core.evaluation.Evaluation` seam and :func:`metrics.reta_parts` kernels
as the in-memory engine, and the per-chunk sums are combined in chunk order, so the
same chunks give bit-identical results wherever they were computed.  Point estimates
equal the in-memory engine's to rounding (1e-12).
"""
from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import metrics as M
from . import poisson
from .errors import RetaInputError, show
from .pool import Pool

#: Columns of the ingest long format that are never scores.
ID_COLUMNS = ("prompt_id", "response_id", "prompt", "response", "category", "policy", "source_row")
_BASE_MEMORY = 220 * 2**20  # the interpreter with numpy, pandas, pyarrow and DuckDB loaded (measured: 170-200 MB)
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$", re.IGNORECASE)


# --------------------------------------------------------------------- the sums of one chunk
@dataclass(frozen=True)
class CurveSpec:
    """What to compute on every chunk (checked by the driver before any chunk runs)."""

    oracle: str
    rms: tuple
    etas: np.ndarray
    normalization: str = "ratio"
    estimator: str = "pool"
    n: int | None = None
    n_boot: int = 0  # 0: no bands
    seed: int = 0


@dataclass
class RmSums:
    """One RM's share of the curves from some prompts (see the module docstring)."""

    n_prompts: int
    value_sums: np.ndarray
    den_sums: np.ndarray | None
    min_pool: int
    max_pool: int
    excluded: dict = field(default_factory=dict)
    boot_num: np.ndarray | None = None
    boot_den: np.ndarray | None = None

    def add(self, other: "RmSums") -> "RmSums":
        def plus(a, b):
            return None if a is None else a + b

        low = [m for m in (self.min_pool, other.min_pool) if m > 0]
        excluded = dict(self.excluded)
        for reason, count in other.excluded.items():
            excluded[reason] = excluded.get(reason, 0) + count
        return RmSums(self.n_prompts + other.n_prompts, self.value_sums + other.value_sums,
                      plus(self.den_sums, other.den_sums), min(low) if low else 0,
                      max(self.max_pool, other.max_pool), excluded,
                      plus(self.boot_num, other.boot_num), plus(self.boot_den, other.boot_den))


@dataclass
class ChunkSums:
    """Every RM's :class:`RmSums` of some prompts, with their number, the oracle's
    smallest pool among them (0: none counts) and their prompt keys (to check that no
    prompt is split over two partitions)."""

    rms: dict
    n_prompts: int
    min_pool_size: int
    keys: np.ndarray | None = None


def oracle_min_pool(pool: Pool, oracle: str, normalization: str) -> int:
    """The smallest pool for the oracle among the chunk's prompts (§10), exactly as
    :attr:`Evaluation.min_pool_size` (0 when none counts)."""
    from .evaluation import Evaluation

    return Evaluation(pool, oracle, normalization).min_pool_size if pool.n_prompts else 0


def chunk_sums(pool: Pool, spec: CurveSpec, keep_keys: bool = False) -> ChunkSums:
    """The sums of one chunk of whole prompts (:class:`ChunkSums`), through the
    :class:`Evaluation` seam and :func:`metrics.reta_parts`."""
    from .evaluation import Evaluation

    keys = poisson.prompt_keys(pool.prompt_ids) if (spec.n_boot or keep_keys) else None
    width = spec.etas.size
    if not pool.n_prompts:
        empty = {rm: RmSums(0, np.zeros(width), np.zeros(width) if spec.normalization == "recovery" else None,
                            0, 0) for rm in spec.rms}
        return ChunkSums(empty, 0, 0, keys if keep_keys else None)
    ev = Evaluation(pool, spec.oracle, spec.normalization)
    n = spec.n if spec.estimator == "exact" else None
    out, boot = {}, []
    for rm in spec.rms:
        ranking = ev.ranking(rm)
        parts = M.reta_parts(ranking, spec.etas, spec.normalization, n=n)
        counted = parts.counted
        reasons = parts.eligibility.reason[~counted].astype(str)
        values, counts = np.unique(reasons, return_counts=True)
        sums = RmSums(int(counted.sum()), parts.values[counted].sum(axis=0),
                      None if parts.denominators is None else parts.denominators[counted].sum(axis=0),
                      parts.eligibility.min_pool_size, int(ranking.n_counted.max(initial=0)),
                      {str(v): int(c) for v, c in zip(values, counts)})
        if spec.n_boot:
            # the rows the in-memory bootstrap resamples: counted, with no NaN value
            rows = counted & ~np.isnan(parts.values).any(axis=1)
            if parts.denominators is not None:
                rows &= ~np.isnan(parts.denominators).any(axis=1)
            boot.append((parts.values, parts.denominators, rows))
        out[rm] = sums
    if spec.n_boot:
        for rm, (num, den) in zip(spec.rms, poisson.weighted_sums(keys, spec.n_boot, spec.seed, boot)):
            out[rm].boot_num, out[rm].boot_den = num, den
    return ChunkSums(out, pool.n_prompts, ev.min_pool_size, keys if keep_keys else None)


def combine(chunks) -> ChunkSums:
    """The sums of several chunks, added in the order given (so the same chunks give
    bit-identical totals wherever they were computed)."""
    chunks = list(chunks)
    if not chunks:
        raise RetaInputError("the benchmark has no prompt")
    total = chunks[0]
    rms = dict(total.rms)
    n_prompts, lows = total.n_prompts, [total.min_pool_size]
    for chunk in chunks[1:]:
        for rm, sums in chunk.rms.items():
            rms[rm] = rms[rm].add(sums)
        n_prompts += chunk.n_prompts
        lows.append(chunk.min_pool_size)
    lows = [m for m in lows if m > 0]
    return ChunkSums(rms, n_prompts, min(lows) if lows else 0)


def split_prompts(chunks) -> np.ndarray:
    """Indices of the chunks that share a prompt key with an earlier chunk (empty when
    every prompt lies in one chunk)."""
    keys = [c.keys for c in chunks]
    owner = np.concatenate([np.full(k.size, i) for i, k in enumerate(keys)]) if keys else np.zeros(0)
    flat = np.concatenate(keys) if keys else np.zeros(0, dtype=np.uint64)
    _, first, counts = np.unique(flat, return_index=True, return_counts=True)
    if not (counts > 1).any():
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(flat, kind="stable")
    repeated = np.isin(flat[order], flat[first[counts > 1]])
    return np.unique(owner[order][repeated])


# --------------------------------------------------------------------- the tables
def curves_tables(total: ChunkSums, spec: CurveSpec, level: float = 0.95) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The curves table (``rm, eta, reta, n_prompts, below_min_eta`` and with bands
    ``ci_low, ci_high``) and the excluded table (``rm, reason, n_prompts``) of the
    combined sums, in the in-memory engine's layout (:func:`reports.curves`)."""
    frames, excluded = [], []
    recovery = spec.normalization == "recovery"
    for rm in spec.rms:
        sums = total.rms[rm]
        if sums.n_prompts == 0:
            reta = np.full(spec.etas.size, np.nan)
        elif recovery:
            reta = M.ratio_of_sums(sums.value_sums, sums.den_sums)
        else:
            reta = sums.value_sums / sums.n_prompts
        frame = pd.DataFrame({"rm": rm, "eta": spec.etas, "reta": reta, "n_prompts": sums.n_prompts})
        limit = 1.0 / spec.n if spec.estimator == "exact" else 1.0 / max(sums.min_pool, 1)
        frame["below_min_eta"] = spec.etas < limit - 1e-12
        if spec.n_boot:
            if sums.n_prompts:
                replicates = poisson.replicate_values(sums.boot_num, sums.boot_den, recovery)
                frame["ci_low"], frame["ci_high"] = poisson.percentile_band(replicates, level)
            else:
                frame["ci_low"] = frame["ci_high"] = np.nan
        frames.append(frame)
        for reason in sorted(sums.excluded):
            excluded.append({"rm": rm, "reason": reason, "n_prompts": int(sums.excluded[reason])})
    excluded = (pd.DataFrame(excluded) if excluded else
                pd.DataFrame({"rm": pd.Series(dtype=object), "reason": pd.Series(dtype=object),
                              "n_prompts": pd.Series(dtype=int)}))
    return pd.concat(frames, ignore_index=True), excluded


@dataclass
class ChunkedResult:
    """A chunked (or Ray) run's curves with what its output must say."""

    table: pd.DataFrame
    excluded: pd.DataFrame
    n: int | None
    min_pool_size: int
    n_prompts: int
    chunks: int
    rm_min_pool_sizes: dict


def run_curves(engine, oracle: str, rms, etas, *, normalization: str = "ratio", estimator: str = "pool",
               n: int | None = None, n_boot: int = 0, seed: int = 0, level: float = 0.95,
               progress=None) -> ChunkedResult:
    """RETA curves over an engine's chunks: ``engine.oracle_pass(oracle, normalization)``
    returns the oracle's smallest pool (a first pass, only when the §10 grid or the
    default ``n`` needs it) and ``engine.sums(spec, progress)`` the combined
    :class:`ChunkSums` with the number of chunks (:class:`LocalEngine`, or the Ray
    engine).  ``n_boot``: Poisson bootstrap replicates (0: no bands)."""
    M.check_normalization(normalization)
    if estimator not in ("pool", "exact"):
        raise RetaInputError(f"the chunked engine computes the pool and exact estimators, not {estimator!r}")
    if estimator == "pool" and n is not None:
        raise RetaInputError("n applies to the exact estimator (the pool estimator uses every response)")
    if n is not None:
        n = M.check_n(n)
    if etas is None or (estimator == "exact" and n is None):
        min_pool = engine.oracle_pass(oracle, normalization)
        if min_pool < 2:
            raise RetaInputError("no prompt counts for any RM (see the excluded prompts)")
        etas = M.default_eta_grid(min_pool) if etas is None else etas
        n = min_pool if estimator == "exact" and n is None else n
    spec = CurveSpec(oracle, tuple(rms), M.check_etas(etas), normalization, estimator, n, int(n_boot), int(seed))
    total, chunks = engine.sums(spec, progress)
    if estimator == "exact":
        largest = max((s.max_pool for s in total.rms.values()), default=0)
        if n > largest:
            raise RetaInputError(f"n = {n} is larger than every pool (largest has {largest} scored responses)")
    table, excluded = curves_tables(total, spec, level)
    return ChunkedResult(table, excluded, n, total.min_pool_size, total.n_prompts, chunks,
                         {rm: s.min_pool for rm, s in total.rms.items()})


class LocalEngine:
    """Chunks computed one after another in this process: ``pools(oracles, rms)`` yields
    the chunks (a store's prompt ranges, or Parquet files).  ``files``: the partitions'
    names, when they come from files; then a prompt split over two files is refused."""

    def __init__(self, pools, files=None):
        self.pools = pools
        self.files = files
        self.check_split = files is not None

    def oracle_pass(self, oracle: str, normalization: str) -> int:
        lows = [oracle_min_pool(pool, oracle, normalization) for pool in self.pools([oracle], [])]
        lows = [m for m in lows if m > 0]
        return min(lows) if lows else 0

    def sums(self, spec: CurveSpec, progress=None):
        chunks = []
        for pool in self.pools([spec.oracle], list(spec.rms)):
            chunks.append(chunk_sums(pool, spec, keep_keys=self.check_split))
            if progress is not None:
                progress(len(chunks), None, f"chunk {len(chunks)}")
        if self.check_split:
            self.refuse_split(chunks)
        return combine(chunks), len(chunks)

    def refuse_split(self, chunks) -> None:
        split = split_prompts(chunks)
        if split.size:
            raise RetaInputError(split_message(split, self.files))


def split_message(split, files=None) -> str:
    """The one-line refusal of partitions that split a prompt (``split``: their indices)."""
    names = [str(files[int(i)]) if files is not None else f"partition {int(i) + 1}" for i in split[:2]]
    return (f"{' and '.join(names)}: both hold rows of one prompt; every prompt's rows must be in one "
            "file (partition by prompt, e.g. with `reta export-partitions`)")


# --------------------------------------------------------------------- memory and chunk size
def parse_size(text) -> int:
    """``"2GB"``, ``"512MiB"``, ``"1.5g"`` or a number of bytes -> bytes (powers of 1024)."""
    match = _SIZE.match(str(text))
    if not match:
        raise RetaInputError(f"--memory-limit: {show(str(text))} is not a size; e.g. 2GB or 512MB")
    unit = (match.group(2) or "").lower()[:1]
    size = float(match.group(1)) * 1024 ** " kmgt".index(unit or " ")
    if size < 1:
        raise RetaInputError(f"--memory-limit: {show(str(text))} is not a size; e.g. 2GB or 512MB")
    return int(size)


def format_size(n_bytes: int) -> str:
    """Bytes as :func:`parse_size` reads them: ``"1.5GB"``, ``"1000KB"``, ``"2 bytes"``."""
    for power, unit in ((3, "GB"), (2, "MB"), (1, "KB")):
        if n_bytes >= 1024 ** power:
            return f"{n_bytes / 1024 ** power:.4g}{unit}"
    return f"{n_bytes} bytes"


def bytes_per_prompt(pool_size: float, n_rms: int, n_etas: int, n_boot: int) -> float:
    """A rough upper estimate of the working memory per prompt of a chunk: its scores
    (8 bytes per response and scorer, twice while read), one RM's ranking at a time
    (about 400 bytes per response, measured), the per-prompt values (a few ``(P, E)``
    arrays) and, with bands, every RM's values kept for the shared Poisson weights."""
    return pool_size * (16.0 * (n_rms + 1) + 400.0) + 64.0 * n_etas + (16.0 * n_etas * n_rms if n_boot else 0.0)


def duckdb_bytes(limit: int) -> int:
    """The share of ``limit`` given to DuckDB's own buffers while the chunks are read."""
    return max(limit // 5, 64 * 2**20)


def fixed_bytes(n_rms: int, n_etas: int, n_boot: int) -> int:
    """Memory that does not grow with the chunk: the interpreter, the Poisson weights'
    block and the replicate sums (two sets per RM)."""
    boot = (2 * 2 * n_rms * n_boot * n_etas * 8 + 6 * 8 * poisson.BLOCK_CELLS) if n_boot else 0
    return _BASE_MEMORY + boot


def in_memory_bytes(n_prompts: int, n_responses: int, n_rms: int, n_etas: int, n_boot: int) -> float:
    """A rough estimate of the in-memory engine's peak: every RM's ranking is kept."""
    per_response = 8.0 * (n_rms + 1) + 120.0 * n_rms + 64.0
    boot = 8.0 * n_boot * n_prompts * 2 if n_boot else 0.0
    return _BASE_MEMORY + n_responses * per_response + 8.0 * n_prompts * n_etas * 4 + boot


def chunk_prompts_for(limit: int, n_prompts: int, n_responses: int, n_rms: int, n_etas: int,
                      n_boot: int) -> int:
    """The most prompts per chunk whose estimated working memory stays within ``limit``
    bytes (at least 1; a clear error when even the fixed part does not fit)."""
    fixed = fixed_bytes(n_rms, n_etas, n_boot) + duckdb_bytes(limit)
    budget = limit - fixed
    if budget <= 0:
        raise RetaInputError(f"--memory-limit {format_size(limit)} is below what the run needs before any chunk "
                             f"(about {fixed / 2**20:.0f}MB)")
    per = bytes_per_prompt(n_responses / max(n_prompts, 1), n_rms, n_etas, n_boot)
    return int(max(1, min(max(n_prompts, 1), budget // (2 * per))))


# --------------------------------------------------------------------- Parquet partitions
def parquet_files(where) -> list[str]:
    """The Parquet files of ``where``: a folder (its ``*.parquet`` files, recursively), a
    glob pattern or one file; sorted, so partition numbers are stable."""
    text = str(Path(str(where)).expanduser())
    if os.path.isdir(text):
        files = glob.glob(os.path.join(glob.escape(text), "**", "*.parquet"), recursive=True)
    elif os.path.isfile(text):
        files = [text]
    else:
        files = glob.glob(text, recursive=True)
    files = sorted(f for f in files if os.path.isfile(f))
    if not files:
        raise RetaInputError(f"--parquet: {show(str(where))} has no Parquet file (give a folder, a glob "
                             "such as 'parts/*.parquet', or a file)")
    return files


def parquet_scorers(files, oracle: str | None, rms=None) -> tuple[str, list[str]]:
    """The oracle and RM columns of a partitioned benchmark (first file's schema): the
    oracle must be given; RMs default to every other numeric column (as ingest does)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pq.read_schema(files[0])
    names = list(schema.names)
    for column in ("prompt_id", "response_id"):
        if column not in names:
            raise RetaInputError(f"{files[0]}: no column {column!r}; the partitions need prompt_id, "
                                 "response_id, the oracle column and RM columns")
    if not oracle:
        raise RetaInputError("--parquet needs --oracle COLUMN (the oracle score column)")
    numeric = [n for n in names if n not in ID_COLUMNS and
               (pa.types.is_integer(schema.field(n).type) or pa.types.is_floating(schema.field(n).type)
                or pa.types.is_decimal(schema.field(n).type))]
    if oracle not in names:
        raise RetaInputError(f"{files[0]}: no oracle column {show(oracle)}; it has: {', '.join(names)}")
    if rms:
        missing = [r for r in rms if r not in names]
        if missing:
            raise RetaInputError(f"{files[0]}: no RM column {show(missing[0])}; it has: {', '.join(names)}")
        return oracle, list(rms)
    chosen = [n for n in numeric if n != oracle]
    if not chosen:
        raise RetaInputError(f"{files[0]}: no RM column besides the oracle {show(oracle)}")
    return oracle, chosen


def read_partition(path: str, oracles, rms) -> Pool:
    """One Parquet partition as a :class:`Pool` (its prompts in order of first row)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = ["prompt_id", "response_id"] + [c for c in list(oracles) + list(rms)]
    try:
        table = pq.read_table(path, columns=list(dict.fromkeys(columns)))
    except (OSError, pa.ArrowException) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RetaInputError(f"{path}: cannot read the partition: {first}") from exc
    frame = table.to_pandas()
    try:
        return Pool.from_frame(frame, list(oracles), list(rms))
    except (ValueError, TypeError) as exc:
        raise RetaInputError(f"{path}: a score column is not numeric: {exc}") from exc


def parquet_engine(files) -> LocalEngine:
    """A :class:`LocalEngine` whose chunks are the Parquet files, one after another."""
    return LocalEngine(lambda oracles, rms: (read_partition(f, oracles, rms) for f in files), files)


def store_engine(store, benchmark: str, chunk_prompts: int, category=None, memory_limit=None) -> LocalEngine:
    """A :class:`LocalEngine` whose chunks are prompt ranges of a stored benchmark."""
    return LocalEngine(lambda oracles, rms: store.iter_pools(
        benchmark, oracles, rms, chunk_prompts=chunk_prompts, category=category, memory_limit=memory_limit))
