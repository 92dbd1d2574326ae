"""Validated, all-or-nothing imports of benchmarks and RM score files.

Two kinds of input, each a file (CSV, Parquet or JSON Lines, chosen by extension:
``.csv``, ``.csv.gz``, ``.parquet``, ``.jsonl``, ``.ndjson``, ``.jsonl.gz``, ``.json``)
or a pandas DataFrame:

*Benchmark file* (:func:`import_benchmark`, :func:`import_frame`): long format, one row
per response.  Required columns ``prompt_id``, ``response_id`` and at least one oracle
column (named in ``oracle_cols``; the first is the default oracle).  Optional columns
``prompt``, ``response``, ``category``, ``policy``.  RM score columns are named in
``rm_cols``; when ``rm_cols`` is None every other numeric column is an RM (a column
is numeric when it has a numeric type or every non-empty cell parses as a number), so
pass ``rm_cols=[]`` for a file with numeric metadata such as ``sample_index``.

*RM file* (:func:`add_rm_scores`): ``response_id`` and one score column
(``score_column``; by default the single column other than ``response_id`` and an
optional ``prompt_id``, which, when present, must agree with the benchmark).

Validation (each failure a one-line :class:`~reta_core.errors.RetaInputError` naming
the file and the 1-based data row or the column): required and named columns present;
``response_id`` unique; a prompt's text and category the same on all its rows; scores
numeric and not infinite (empty cells and NaN are allowed and counted; the tokens
``NA``, ``N/A``, ``null``, ``None`` count as empty); the file readable as its
extension says and not empty; names non-empty, unused (unless ``replace``) and not
clashing with an oracle.  For RM files: every id in the benchmark (coverage of only
part of the benchmark is fine and reported).

All-or-nothing: the file is read and checked in an in-memory DuckDB connection and the
store is only read (short read-only connection) until everything has passed; then one
read-write transaction writes it all.  A failed import leaves the database file
byte-for-byte unchanged.

Baselines: a benchmark imported with response texts gets two RMs that need no model,
marked ``is_baseline``: ``baseline_length`` (response length in characters) and
``baseline_random`` (uniform scores from ``numpy.random.default_rng(BASELINE_RANDOM_SEED)``
assigned to the responses sorted by response_id in byte order, so the same ids always
get the same scores).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from . import metrics
from .errors import INVISIBLE, RetaInputError, show
from .pool import Pool
from .progress import ensure as ensure_progress
from .scorers import (BASELINE_DESCRIPTIONS, BASELINE_LENGTH, BASELINE_RANDOM, BASELINE_RANDOM_SEED,  # noqa: F401
                      BASELINES, baseline_scores)
from .source import (FORMATS, MISSING_TOKENS, UPLOAD_TYPES, Source, describe_file, file_suffix, limit,  # noqa: F401
                     staged_upload)
from .store import Store, arrow_pool, utc_now

REQUIRED_COLUMNS = ("prompt_id", "response_id")
TEXT_COLUMNS = ("prompt", "response", "category", "policy")
EXCLUSION_REASONS = {  # the report's keys for the §1 reasons of reta_core.metrics
    "fewer_than_2_scored": metrics.REASON_FEW,
    "mean_oracle_not_positive": metrics.REASON_MU,
}


# ------------------------------------------------------------------------ report
@dataclass
class ImportReport:
    """What an import wrote and what the user should know about it.

    ``coverage``: per RM written, the share of the benchmark's responses with a finite
    score.  ``missing``: per oracle/RM column of the file, the empty or NaN cells.
    ``excluded``: per oracle (alone) and per RM (with the default oracle), how many
    prompts will not count and why (docs/metric.md §1), keyed by
    :data:`EXCLUSION_REASONS`.  ``skipped`` and ``notes``: what an importer of published
    files (:mod:`reta_core.importers`) left out, with its reason, and what it noticed.
    """

    kind: str  # "benchmark" or "rm"
    benchmark: str
    source: str
    rows: int
    prompts: int
    responses: int
    pool_size: dict
    default_oracle: str
    oracles: list = field(default_factory=list)
    rms: list = field(default_factory=list)
    baselines: list = field(default_factory=list)
    derived: list = field(default_factory=list)  # RMs computed from other RMs (§11)
    coverage: dict = field(default_factory=dict)
    missing: dict = field(default_factory=dict)
    excluded: dict = field(default_factory=dict)
    replaced: bool = False
    dry_run: bool = False  # checked only (``dry_run=True``): nothing was written
    skipped: list = field(default_factory=list)  # {"source", "reason"}: files or rows left out
    notes: list = field(default_factory=list)    # sentences the user should read (e.g. mixed policies)

    def to_dict(self) -> dict:
        return asdict(self)

    def to_text(self) -> str:
        ps = self.pool_size
        verb = "Replaced" if self.replaced else "Imported"
        if self.dry_run:
            verb = "Checked, nothing written yet: would " + ("replace" if self.replaced else "import")
        what = (f"benchmark {self.benchmark!r}" if self.kind == "benchmark"
                else f"oracle {self.oracles[-1]!r} into benchmark {self.benchmark!r}"
                if self.kind == "oracle"
                else f"RM {self.rms[0]!r} into benchmark {self.benchmark!r}")
        lines = [
            f"{verb} {what} from {self.source}: {self.rows:,} rows read.",
            f"Benchmark: {self.prompts:,} prompts, {self.responses:,} responses, pool size "
            f"min {ps['min']}, median {ps['median']:g}, max {ps['max']}.",
        ]
        if self.kind == "oracle":
            name = self.oracles[-1]
            lines.append(f"Oracle {name}: {self.coverage[name]:.1%} covered, "
                         f"{self.missing.get(name, 0):,} empty.")
        if self.kind == "benchmark":
            lines.append("Oracles: " + "; ".join(
                f"{o}{' (default)' if o == self.default_oracle else ''}: "
                f"{self.missing.get(o, 0):,} empty" for o in self.oracles) + ".")
        if self.rms:
            lines.append("RMs: " + "; ".join(
                f"{r}{' (baseline)' if r in self.baselines else ''}"
                f"{' (derived)' if r in self.derived else ''}: "
                f"{self.coverage[r]:.1%} covered"
                + (f", {self.missing[r]:,} empty" if r in self.missing else "")
                for r in self.rms) + ".")
        parts = []
        for scorer, reasons in self.excluded.items():
            counts = [f"{n:,} with {EXCLUSION_REASONS[k]}" for k, n in reasons.items() if n]
            if counts:
                pair = "" if scorer in self.oracles else f" (with {self.default_oracle})"
                parts.append(f"{scorer}{pair}: " + ", ".join(counts))
        lines.append("Prompts that will not count: " + ("; ".join(parts) if parts else "none")
                     + ".")
        lines += self._skipped_and_notes()
        return "\n".join(lines)

    def _skipped_and_notes(self) -> list[str]:
        """The lines for ``skipped`` (each with its reason) and ``notes``; none when empty."""
        lines = []
        if self.skipped:
            lines.append(f"Skipped ({len(self.skipped)}): " + "; ".join(
                f"{s['source']} ({s['reason']})" for s in self.skipped) + ".")
        lines += [f"Note: {note}" for note in self.notes]
        return lines


# ------------------------------------------------------------------------ helpers
def _as_store(store) -> Store:
    return store if isinstance(store, Store) else Store(store)


def _names(value) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _check_name(label: str, kind: str, name) -> str:
    if not isinstance(name, str) or not name.strip():
        raise RetaInputError(f"{label}: the {kind} name is empty")
    if name != name.strip() or INVISIBLE.search(name):
        raise RetaInputError(f"{label}: the {kind} name {show(name)} has leading/trailing "
                             "spaces or invisible or control characters (it would look like "
                             "another name)")
    return name


HEAD_ROWS = 10_000  # a longer file's first rows are checked before the rest is read


def _start(store, file, source_name, progress, kind: str, name, check):
    """(Store, progress callback, the input read into DuckDB, what ``check(src, store)``
    returned) once ``name`` is valid and ``check`` passed on every row.

    A file longer than :data:`HEAD_ROWS` rows is first read only that far and checked,
    so an error near its top is reported without reading the rest (reading a large or
    compressed file whole costs seconds and gigabytes); ``src.complete`` is False
    during that pass (``check`` may then skip what needs every row).  The error found
    first is the one raised, so it may be another than a whole-file check would raise
    first; each names its file, row and column.
    """
    progress = ensure_progress(progress)
    progress(0, 100, "reading the file")
    store = _as_store(store)
    src = Source(file, source_name, head_rows=HEAD_ROWS)
    try:
        _check_name(src.label, kind, name)
        if not src.complete:
            progress(10, 100, "checking the first rows")
            check(src, store)
            src.close()
            progress(15, 100, "reading the whole file")
            src = Source(file, source_name)
        progress(20, 100, "checking the rows")
        checked = check(src, store)
    except BaseException:
        src.close()
        raise
    return store, progress, src, checked


def _pool_sizes(pool: Pool) -> dict:
    sizes = pool.pool_sizes
    if sizes.size == 0:
        return {"min": 0, "median": 0, "max": 0}
    median = float(np.median(sizes))
    return {"min": int(sizes.min()), "median": int(median) if median.is_integer() else median,
            "max": int(sizes.max())}


def exclusions(pool: Pool, oracle: np.ndarray, scores: np.ndarray | None = None) -> dict:
    """Prompts that will not count for (``scores``, ``oracle``) under the ratio
    normalisation, by reason: the rule of :func:`reta_core.metrics.exclusion_reasons`."""
    ok = np.isfinite(oracle)
    if scores is not None:
        ok &= np.isfinite(scores)
    codes = pool.prompt_codes
    n = np.bincount(codes, weights=ok, minlength=pool.n_prompts)
    total = np.bincount(codes, weights=np.where(ok, oracle, 0.0), minlength=pool.n_prompts)
    with np.errstate(invalid="ignore", divide="ignore"):
        reasons = metrics.exclusion_reasons(n, total / n, "ratio")
    return {key: int((reasons == reason).sum()) for key, reason in EXCLUSION_REASONS.items()}


def _coverage(scores: np.ndarray) -> float:
    return float(np.isfinite(scores).mean()) if scores.size else 0.0


def _wide_scores(arrays: dict) -> pa.Table:
    """Arrow table (response_code, one float column per scorer) from {name: array};
    NaN becomes NULL.  The store turns it into long rows."""
    n = len(next(iter(arrays.values()))) if arrays else 0
    columns = {"response_code": pa.array(np.arange(n, dtype=np.int32))}
    columns.update({name: pa.array(values, pa.float64(), from_pandas=True)
                    for name, values in arrays.items()})
    return pa.table(columns)


def _numpy(con, sql: str) -> dict:
    table = con.sql(sql).to_arrow_table()
    return {name: table[name].to_numpy(zero_copy_only=False) for name in table.column_names}


# ------------------------------------------------------------------- benchmarks
def import_benchmark(store, file, name: str, oracle_cols, rm_cols=None, replace: bool = False,
                     description: str | None = None, baselines: bool = True,
                     progress=None, *, source_name: str | None = None,
                     oracle_descriptions: dict | None = None,
                     rm_descriptions: dict | None = None, dry_run: bool = False) -> ImportReport:
    """Validate a benchmark file (or DataFrame) and write it to ``store`` in one
    transaction; see the module docstring for the format and the checks.
    ``dry_run``: run every check and build the report, but write nothing (the report's
    ``dry_run`` is set); the store is only read.

    ``oracle_cols``: oracle columns, the first is the default.  ``rm_cols``: RM columns
    (None: every other numeric column).  ``replace``: replace a benchmark of that name
    (with all its RMs).  ``baselines``: add the baseline scorers when the file has
    response texts.  ``progress(done, total, message)``: optional callback (percent).
    ``source_name``: what messages and the store call the input (default: the file
    name).  ``oracle_descriptions`` / ``rm_descriptions``: optional {name: text}.
    """
    def check(src, store):
        # the first rows alone cannot say which columns are numeric: RMs named only
        checked = _benchmark_columns(src, oracle_cols, rm_cols if rm_cols is not None or
                                     src.complete else [], baselines)
        src.check_ids(REQUIRED_COLUMNS)
        src.check_prompt_consistency()
        src.check_scores(checked[0] + checked[1])
        return checked

    store, progress, src, (oracle_cols, rm_cols, made_baselines) = _start(
        store, file, source_name, progress, "benchmark", name, check)
    with src:
        label = src.label
        stamp = store.benchmark_stamp(name)  # a change from now on refuses the write
        exists = stamp is not None
        if exists and not replace:
            raise RetaInputError(f"{label}: benchmark {show(name)} exists already; choose "
                                 "another name or replace it (--replace)")
        progress(40, 100, "ordering the responses")
        tables, pool, missing = _benchmark_tables(src, oracle_cols, rm_cols,
                                                  bool(made_baselines))
        rm_arrays = pool.rms
    progress(60, 100, "computing the report")
    descriptions = dict(BASELINE_DESCRIPTIONS)
    descriptions.update(rm_descriptions or {})
    default = oracle_cols[0]
    report = ImportReport(
        kind="benchmark", benchmark=name, source=label, rows=src.n_rows,
        prompts=pool.n_prompts, responses=pool.n_responses, pool_size=_pool_sizes(pool),
        default_oracle=default, oracles=list(oracle_cols), rms=list(rm_arrays),
        baselines=list(made_baselines),
        coverage={r: _coverage(v) for r, v in rm_arrays.items()},
        missing=missing, replaced=exists)
    report.excluded = {o: exclusions(pool, pool.oracles[o]) for o in oracle_cols}
    report.excluded.update({r: exclusions(pool, pool.oracles[default], v)
                            for r, v in rm_arrays.items()})
    if dry_run:
        report.dry_run = True
        progress(100, 100, "checked")
        return report
    tables.update(_scorer_tables(pool, made_baselines, label, oracle_descriptions or {},
                                 descriptions))
    progress(70, 100, "writing to the database")
    store.write_benchmark(name, {"description": description, "default_oracle": default,
                                 "source_file": label}, tables, replace=replace, source=label,
                         expect_stamp=stamp)
    progress(100, 100, "done")
    return report


def _scorer_tables(pool: Pool, baselines, label: str, oracle_descriptions: dict,
                   rm_descriptions: dict) -> dict:
    """Arrow tables oracles, rms, oracle_scores (wide), rm_scores (wide) for the store."""
    oracles, rms, now = list(pool.oracles), list(pool.rms), utc_now()

    def n_scored(arrays, names):
        return pa.array([int(np.isfinite(arrays[n]).sum()) for n in names], pa.int64())

    return {
        "oracles": pa.table({
            "name": pa.array(oracles, pa.string()),
            "description": pa.array([oracle_descriptions.get(o) for o in oracles], pa.string()),
            "position": pa.array(range(len(oracles)), pa.int32()),
            "n_scored": n_scored(pool.oracles, oracles),
        }),
        "rms": pa.table({
            "name": pa.array(rms, pa.string()),
            "description": pa.array([rm_descriptions.get(r) for r in rms], pa.string()),
            "source_file": pa.array([None if r in baselines else label for r in rms],
                                    pa.string()),
            "added_at": pa.array([now] * len(rms), pa.timestamp("us")),
            "is_baseline": pa.array([r in baselines for r in rms], pa.bool_()),
            "n_scored": n_scored(pool.rms, rms),
            "position": pa.array(range(len(rms)), pa.int32()),
        }),
        "oracle_scores": _wide_scores(pool.oracles),
        "rm_scores": _wide_scores(pool.rms),
    }


def import_frame(store, frame: pd.DataFrame, name: str, oracle_cols, rm_cols=None,
                 replace: bool = False, description: str | None = None, baselines: bool = True,
                 progress=None, *, source_name: str = "DataFrame",
                 oracle_descriptions: dict | None = None,
                 rm_descriptions: dict | None = None, dry_run: bool = False) -> ImportReport:
    """:func:`import_benchmark` for a pandas DataFrame (same checks, same report)."""
    if not isinstance(frame, pd.DataFrame):
        raise RetaInputError(f"{source_name}: expected a pandas DataFrame, got "
                             f"{type(frame).__name__}")
    return import_benchmark(store, frame, name, oracle_cols, rm_cols, replace, description,
                            baselines, progress, source_name=source_name,
                            oracle_descriptions=oracle_descriptions,
                            rm_descriptions=rm_descriptions, dry_run=dry_run)


def _benchmark_columns(src: Source, oracle_cols, rm_cols, baselines: bool):
    """(oracle columns, RM columns, baseline names to make), all checked."""
    oracle_cols = _names(oracle_cols)
    src.require_columns(REQUIRED_COLUMNS, "required")
    if not oracle_cols:
        raise src.error("name at least one oracle column; it has columns: " + src.listing())
    src.require_columns(oracle_cols, "named as oracle")
    reserved = set(REQUIRED_COLUMNS) | set(TEXT_COLUMNS)
    if rm_cols is None:
        others = [c for c in src.columns if c not in reserved and c not in oracle_cols]
        rm_cols = [c for c, numeric in zip(others, src.numeric_columns(others)) if numeric]
    else:
        rm_cols = _names(rm_cols)
        src.require_columns(rm_cols, "named as RM")
    make = list(BASELINES) if baselines and "response" in src.types else []
    seen = set()
    for col in oracle_cols + rm_cols:
        _check_name(src.label, "oracle" if col in oracle_cols else "RM", col)
        if col in reserved:
            raise src.error(f"{col} cannot be a score column", column=col)
        if col in seen:
            clash = "as oracle and as RM" if col in oracle_cols and col in rm_cols else "twice"
            raise src.error(f"named {clash}; an RM name must differ from every oracle name",
                            column=col)
        if col in make:
            raise src.error(f"{show(col)} is reserved for the baseline scorer; rename the "
                            "column or import without baselines", column=col)
        seen.add(col)
    return oracle_cols, rm_cols, make


def _benchmark_tables(src: Source, oracle_cols, rm_cols, baselines):
    """(Arrow tables for prompts/responses, the Pool with the baseline scorers among its
    RMs, missing-cell counts per file column).

    Responses are put in pool order: by prompt (in order of first appearance), then by
    file row.  Only integer codes are sorted; text columns are gathered once with Arrow.
    """
    con = src.con
    con.execute(f"""
        CREATE TABLE prompt_rows AS
        SELECT prompt_id, (row_number() OVER (ORDER BY first_row) - 1)::INTEGER AS prompt_code,
               prompt, category
        FROM (SELECT CAST(prompt_id AS VARCHAR) AS prompt_id, min(rowid) AS first_row,
                     arg_min({src.text_expr('prompt')}, rowid)
                         FILTER (WHERE {src.text_expr('prompt')} IS NOT NULL) AS prompt,
                     arg_min({src.text_expr('category')}, rowid)
                         FILTER (WHERE {src.text_expr('category')} IS NOT NULL) AS category
              FROM src GROUP BY ALL)""")
    prompts = con.sql("SELECT prompt_id, prompt_code, prompt, category FROM prompt_rows "
                      "ORDER BY prompt_code").to_arrow_table()
    codes = _numpy(con, "SELECT p.prompt_code FROM src s JOIN prompt_rows p "
                        "ON p.prompt_id = CAST(s.prompt_id AS VARCHAR) ORDER BY s.rowid"
                   )["prompt_code"]
    order = np.argsort(codes, kind="stable")  # pool position -> 0-based file row
    names = oracle_cols + rm_cols
    rows = con.sql(f"""
        SELECT CAST(response_id AS VARCHAR) AS response_id,
               CAST(prompt_id AS VARCHAR) AS prompt_id, {src.text_expr('response')} AS response,
               {src.text_expr('policy')} AS policy, rowid + 1 AS source_row,
               length({src.text_expr('response')})::DOUBLE AS _length
        FROM src""").to_arrow_table()
    file_order = rows["source_row"].to_numpy()
    if not np.array_equal(file_order, np.arange(1, len(file_order) + 1)):
        rows = rows.take(np.argsort(file_order))  # DuckDB did not keep the scan order
    if not np.array_equal(order, np.arange(len(order))):
        rows = rows.take(order)
    # one score column at a time would cost the square of the columns in one SELECT
    matrix = src.score_matrix(names)[:, order]
    values = [matrix[i] for i in range(len(names))]
    rm_arrays = dict(zip(rm_cols, values[len(oracle_cols):]))
    if baselines:
        by_id = _numpy(con, "SELECT rowid FROM src ORDER BY CAST(response_id AS VARCHAR)"
                       )["rowid"]  # DuckDB's default collation: byte order
        position = np.empty(len(order), dtype=np.int64)
        position[order] = np.arange(len(order))
        rm_arrays.update(baseline_scores(rows["_length"].to_numpy(zero_copy_only=False), position[by_id]))
    responses = pa.table({
        "response_code": pa.array(np.arange(rows.num_rows, dtype=np.int32)),
        "response_id": rows["response_id"],
        "prompt_code": pa.array(codes[order].astype(np.int32)),
        "prompt_id": rows["prompt_id"],
        "response": rows["response"],
        "policy": rows["policy"],
        "source_row": rows["source_row"],
    })
    pool = arrow_pool(prompts, codes[order], rows["response_id"],
                      dict(zip(oracle_cols, values[:len(oracle_cols)])), rm_arrays)
    missing = {c: int(np.isnan(v).sum()) for c, v in zip(names, values)}
    return {"prompts": prompts, "responses": responses}, pool, missing


# ------------------------------------------------------------------------ RM files
def add_rm_scores(store, file, benchmark: str, rm: str, score_column: str | None = None,
                  replace: bool = False, description: str | None = None, *,
                  source_name: str | None = None,
                  progress=None, dry_run: bool = False, derived: bool = False) -> ImportReport:
    """Validate an RM score file (or DataFrame) and add it to ``benchmark`` as RM ``rm``
    in one transaction; see the module docstring for the format and the checks.
    ``dry_run``: run every check and build the report, but write nothing.
    ``derived``: the scores were computed from other stored RMs (an ensemble,
    :mod:`reta_core.ensembles`): the RM is stored marked ``is_derived``, with no source
    file."""
    def check(src, store):
        column, info, oracle_names = _score_file(src, store, benchmark, score_column)
        if rm in oracle_names:
            raise RetaInputError(f"{src.label}: RM name {show(rm)} is an oracle of benchmark "
                                 f"{show(benchmark)}; choose another name")
        exists = rm in [r["name"] for r in info["rms"]]
        if exists and not replace:
            raise RetaInputError(f"{src.label}: RM {show(rm)} exists already in benchmark "
                                 f"{show(benchmark)}; choose another name or replace it (--replace)")
        _check_score_rows(src, column)
        return column, info, oracle_names, exists

    store, progress, src, (score_column, info, oracle_names, exists) = _start(
        store, file, source_name, progress, "RM", rm, check)
    with src:
        label = src.label
        default = info["default_oracle"]
        pool, scores, rows, n_missing = _matched_scores(src, store, benchmark, score_column,
                                                        [default], progress)
    report = ImportReport(
        kind="rm", benchmark=benchmark, source=label, rows=src.n_rows, prompts=pool.n_prompts,
        responses=pool.n_responses, pool_size=_pool_sizes(pool), default_oracle=default,
        oracles=oracle_names, rms=[rm], coverage={rm: _coverage(scores)},
        missing={rm: n_missing}, replaced=exists, derived=[rm] if derived else [],
        excluded={rm: exclusions(pool, pool.oracles[default], scores)})
    if dry_run:
        report.dry_run = True
        progress(100, 100, "checked")
        return report
    progress(70, 100, "writing to the database")
    store.write_rm(benchmark, {"name": rm, "description": description,
                               "source_file": None if derived else label,
                               "n_scored": int(np.isfinite(scores).sum()), "is_derived": derived},
                   rows, replace=replace, source=label, expect_created_at=info["created_at"])
    progress(100, 100, "done")
    return report


def add_oracle_scores(store, file, benchmark: str, oracle: str, score_column: str | None = None,
                      replace: bool = False, description: str | None = None, *,
                      source_name: str | None = None, progress=None,
                      dry_run: bool = False) -> ImportReport:
    """Add an oracle to ``benchmark`` from a score file (or DataFrame) shaped like an RM
    file, with the same checks as :func:`add_rm_scores`, in one transaction (e.g. an LLM
    judge's labels, ``python -m reta_core label``).  The default oracle is never
    replaced."""
    def check(src, store):
        column, info, oracle_names = _score_file(src, store, benchmark, score_column)
        if oracle in [r["name"] for r in info["rms"]]:
            raise RetaInputError(f"{src.label}: oracle name {show(oracle)} is an RM of "
                                 f"benchmark {show(benchmark)}; choose another name")
        exists = oracle in oracle_names
        if exists and (not replace or oracle == info["default_oracle"]):
            why = ("it is the default oracle" if replace else
                   "choose another name or replace it (--replace)")
            raise RetaInputError(f"{src.label}: oracle {show(oracle)} exists already in "
                                 f"benchmark {show(benchmark)}; {why}")
        _check_score_rows(src, column)
        return column, info, oracle_names, exists

    store, progress, src, (score_column, info, oracle_names, exists) = _start(
        store, file, source_name, progress, "oracle", oracle, check)
    with src:
        label = src.label
        pool, scores, rows, n_missing = _matched_scores(src, store, benchmark, score_column, [],
                                                        progress)
    names = [o for o in oracle_names if o != oracle] + [oracle]
    report = ImportReport(
        kind="oracle", benchmark=benchmark, source=label, rows=src.n_rows,
        prompts=pool.n_prompts, responses=pool.n_responses, pool_size=_pool_sizes(pool),
        default_oracle=info["default_oracle"], oracles=names, coverage={oracle: _coverage(scores)},
        missing={oracle: n_missing}, replaced=exists,
        excluded={oracle: exclusions(pool, scores)})
    if dry_run:
        report.dry_run = True
        progress(100, 100, "checked")
        return report
    progress(70, 100, "writing to the database")
    store.write_oracle(benchmark, {"name": oracle, "description": description,
                                   "n_scored": int(np.isfinite(scores).sum())},
                       rows, replace=replace, source=label, expect_created_at=info["created_at"])
    progress(100, 100, "done")
    return report


def _score_file(src: Source, store, benchmark: str, score_column):
    """A score file's score column (checked), the benchmark's info and oracle names: the
    start shared by :func:`add_rm_scores` and :func:`add_oracle_scores`."""
    src.require_columns(["response_id"], "required")
    score_column = _rm_score_column(src, score_column)
    info = store.benchmark_info(benchmark)
    return score_column, info, [o["name"] for o in info["oracles"]]


def _check_score_rows(src: Source, score_column: str):
    """A score file's ids present, unique and plain, and its score cells numbers."""
    src.check_ids(["response_id"] + (["prompt_id"] if "prompt_id" in src.types else []))
    src.check_scores(score_column)


def _matched_scores(src: Source, store, benchmark: str, score_column: str, oracles: list,
                    progress):
    """A checked score file matched to the benchmark's responses: ``(pool with
    ``oracles``, scores, rows, empty cells)`` (:func:`_match_rm`)."""
    pool = store.load_pool(benchmark, oracles=oracles, rms=[])
    progress(50, 100, "matching the responses")
    return (pool, *_match_rm(src, pool, benchmark, score_column))


def _rm_score_column(src: Source, score_column):
    if score_column is not None:
        src.require_columns([score_column], "named as score column")
        return score_column
    others = [c for c in src.columns if c not in ("response_id", "prompt_id")]
    if len(others) != 1:
        raise src.error(("no score column" if not others else
                         f"{len(others)} possible score columns ({', '.join(map(show, others))})")
                        + "; name the score column (--score-column, score_column= in Python)")
    return others[0]


def _match_rm(src: Source, pool: Pool, benchmark: str, score_column: str):
    """(scores over the benchmark's responses with NaN where none, Arrow rows
    (response_code, score) for the file's responses, empty cells), after checking every
    id is in the benchmark and any prompt_id agrees with it."""
    con = src.con
    keys = pa.table({
        "response_id": pa.array(pool.response_ids, pa.string()),
        "response_code": pa.array(np.arange(pool.n_responses, dtype=np.int32)),
        "prompt_id": pa.array(np.repeat(pool.prompt_ids, pool.pool_sizes), pa.string()),
    })
    con.register("_reta_keys", keys)
    con.execute(f"""
        CREATE TABLE matched AS
        WITH f AS (SELECT rowid + 1 AS source_row, CAST(response_id AS VARCHAR) AS rid,
                          {src.text_expr('prompt_id')} AS file_prompt_id,
                          {src.score_expr(score_column)} AS score FROM src)
        SELECT f.*, k.response_code, k.prompt_id
        FROM f LEFT JOIN _reta_keys k ON k.response_id = f.rid""")
    con.unregister("_reta_keys")
    n_unknown = src.first("SELECT count(*) FROM matched WHERE response_code IS NULL")[0]
    if n_unknown:
        first = con.execute("SELECT source_row, rid FROM matched WHERE response_code IS NULL "
                            "ORDER BY source_row LIMIT 3").fetchall()
        listed = ", ".join(f"{show(rid, 30)} (row {row})" for row, rid in first)
        ids = "response_id is" if n_unknown == 1 else "response_ids are"
        raise src.error(f"{n_unknown:,} {ids} not in benchmark {show(benchmark)}"
                        f" (first: {listed})", column="response_id")
    bad = src.first("SELECT source_row, rid, file_prompt_id, prompt_id FROM matched "
                    "WHERE file_prompt_id <> prompt_id ORDER BY source_row LIMIT 1")
    if bad:
        raise src.error(f"response {show(bad[1])} has prompt_id {show(bad[2])} but the "
                        f"benchmark has {show(bad[3])}", row=bad[0], column="prompt_id")
    rows = con.sql("SELECT response_code, score FROM matched ORDER BY response_code"
                   ).to_arrow_table()
    given = rows["score"].to_numpy(zero_copy_only=False)
    scores = np.full(pool.n_responses, np.nan)
    scores[rows["response_code"].to_numpy()] = given
    return scores, rows, int(np.isnan(given).sum())


def import_upload(store, kind: str, file_name: str, data: bytes, *, max_bytes: int | None = None,
                  **kwargs) -> ImportReport:
    """An uploaded file through the same validated import as the command line.

    ``kind``: ``"rm"`` (:func:`add_rm_scores`; kwargs ``benchmark, rm, score_column,
    replace, description``) or ``"benchmark"`` (:func:`import_benchmark`; kwargs ``name,
    oracle_cols, rm_cols, replace, description, baselines``).  Pass ``dry_run=True`` to
    check and build the report without writing; then call again without it to write
    (the checks run again against the database as it is then)."""
    importer = {"rm": add_rm_scores, "benchmark": import_benchmark}.get(kind)
    if importer is None:
        raise RetaInputError(f"unknown import kind {kind!r}; choose rm or benchmark")
    with staged_upload(file_name, data, max_bytes) as path:
        return importer(store, path, source_name=path.name, **kwargs)


def rm_template(store, benchmark: str, texts: bool = False) -> pd.DataFrame:
    """An RM file of the expected shape for ``benchmark``: its ``prompt_id`` and
    ``response_id`` in pool order and an empty ``score`` column to fill in (the file
    :func:`add_rm_scores` reads with the score column found by itself).  ``texts``:
    also the ``prompt`` and ``response`` to score (give the score column's name to
    :func:`add_rm_scores` then, as ``score``)."""
    store = _as_store(store)
    pool = store.load_pool(benchmark, oracles=[], rms=[])
    frame = pd.DataFrame({"prompt_id": np.repeat(pool.prompt_ids, pool.pool_sizes).astype(str),
                          "response_id": pool.response_ids.astype(str)})
    if texts:
        table = store.load_texts(benchmark)
        frame["prompt"] = table["prompt"].to_pylist()
        frame["response"] = table["response"].to_pylist()
    frame["score"] = np.full(pool.n_responses, np.nan)
    return frame
