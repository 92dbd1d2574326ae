"""A scoring run: every response of a benchmark scored by one backend, then added as an
RM (or an oracle) exactly as ``add-scores`` would, in one transaction.

The steps (docs/metric.md §12):

1. the checks ``add-scores`` makes (benchmark, name, replace) run first, on an empty
   score file, so a run never spends hours to fail at the end;
2. every (prompt, response) pair gets a cache key (model or endpoint, template, prompt,
   response; :func:`~reta_core.scoring.backend.cache_keys`); pairs already staged by an
   interrupted run (``resume``) or found in the cache are not sent again;
3. the rest is scored in batches sorted by length (longest first: similar lengths pad
   little, and a batch too large for memory fails at once), each batch staged and cached
   in one SQLite transaction (:mod:`.state`): a run killed at any point keeps every
   finished batch, and ``resume`` goes on from there;
4. when every response has a result the RM is added through
   :func:`reta_core.ingest.add_rm_scores` (the same validation and report); only then
   is it visible.  A failed run leaves the database byte-for-byte unchanged.

With ``engine="ray"`` step 3 runs on a Ray cluster (:mod:`.ray_engine`).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import ingest
from ..errors import RetaInputError, show
from ..progress import ensure as ensure_progress
from .backend import Backend, ScoringError, build_backend, cache_keys
from .pool_export import pool_table
from .state import ScoringState, default_state_path

KINDS = ("rm", "oracle")
ENGINES = ("local", "ray")


@dataclass
class ScoringReport:
    """What a scoring run did, and the import report of the RM (or oracle) it added."""

    backend: str
    benchmark: str
    name: str
    kind: str
    total: int
    from_cache: int = 0
    resumed: int = 0
    computed: int = 0
    truncated: int = 0
    unparsable: int = 0
    failed: int = 0
    no_text: int = 0
    seconds: float = 0.0
    engine: str = "local"
    state_path: str = ""
    imported: object = None  # ingest.ImportReport
    notes: list = field(default_factory=list)

    @property
    def scored(self) -> int:
        return self.total - self.unparsable - self.failed - self.no_text

    def to_text(self) -> str:
        rate = f", {self.computed / self.seconds:,.1f} responses/s" if self.seconds > 0 and self.computed else ""
        lines = [
            f"Scored {self.total:,} responses of benchmark {self.benchmark!r} with {self.backend}"
            + (" on Ray" if self.engine == "ray" else "") + f": {self.computed:,} computed in "
            f"{self.seconds:,.1f} s{rate}, {self.from_cache:,} from the cache"
            + (f", {self.resumed:,} staged by the interrupted run" if self.resumed else "") + ".",
            f"Truncated inputs: {self.truncated:,} (longer than the model's limit; the prompt "
            f"was cut from the left, docs/metric.md §12). Unparsable replies: "
            f"{self.unparsable:,}. Failed requests: {self.failed:,}."
            + (f" Responses without text: {self.no_text:,}." if self.no_text else ""),
        ]
        lines += self.notes
        if self.imported is not None:
            lines.append(self.imported.to_text())
        return "\n".join(lines)


@dataclass
class Plan:
    """The work of a run before anything is sent: for ``--dry-run`` and the engines."""

    items: pd.DataFrame          # response_code, prompt, response, key, in pool order
    done: pd.DataFrame           # staged or cached results (response_code, score, status, truncated, from_cache)
    pending: pd.DataFrame        # items still to score, longest first


def _label(backend: Backend) -> str:
    return backend.describe()


def _db_key(store) -> str:
    return str(store.path.resolve())


def check_target(store, benchmark: str, name: str, kind: str, replace: bool, description,
                 label: str):
    """The checks of ``add-scores`` (or of adding an oracle) on an empty score file:
    the benchmark, the name, an existing RM/oracle without ``replace``.  Returns the
    benchmark's info."""
    info = store.benchmark_info(benchmark)
    pool = store.load_pool(benchmark, oracles=[], rms=[])
    empty = pd.DataFrame({"response_id": pool.response_ids[:1].astype(str), "score": [np.nan]})
    add = ingest.add_rm_scores if kind == "rm" else ingest.add_oracle_scores
    add(store, empty, benchmark, name, replace=replace, description=description,
        source_name=label, dry_run=True)
    return info


def plan(store, benchmark: str, backend: Backend, state: ScoringState, run: dict | None,
         progress=None) -> Plan:
    """Load the pool, key every pair, and split it into what is done (staged by ``run``
    or cached) and what is pending."""
    progress = ensure_progress(progress)
    table = pool_table(store, benchmark)
    items = pd.DataFrame({
        "response_code": table["response_code"].to_numpy(),
        "prompt": table["prompt"].to_pylist(),
        "response": table["response"].to_pylist(),
    })
    has_text = np.array([r is not None for r in items["response"]], dtype=bool)
    items["response"] = items["response"].where(has_text, "")
    progress(0, len(items), "computing cache keys")
    items["key"] = cache_keys(backend.identity(), backend.template(), items["prompt"],
                              items["response"])
    columns = ["response_code", "score", "status", "truncated", "from_cache"]
    parts = []
    if run is not None:
        staged = state.staged(run["id"])
        staged["resumed"] = True
        parts.append(staged)
    no_text = items.loc[~has_text, ["response_code"]].assign(score=np.nan, status="no_text",
                                                             truncated=0, from_cache=0)
    parts.append(no_text)
    done_codes = set().union(*[set(p["response_code"]) for p in parts]) if parts else set()
    rest = items[~items["response_code"].isin(done_codes)]
    hits = state.cached(rest["key"])
    if len(hits):
        cached = rest[["response_code", "key"]].merge(hits.drop_duplicates("key"), on="key")
        cached = cached.assign(from_cache=1)[columns]
        parts.append(cached)
    done = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) \
        else pd.DataFrame({c: [] for c in columns})
    if "resumed" not in done:
        done["resumed"] = False
    done["resumed"] = done["resumed"].fillna(False).astype(bool)
    pending = items[~items["response_code"].isin(set(done["response_code"]))]
    if len(pending):
        lengths = backend.lengths(pending["prompt"].tolist(), pending["response"].tolist())
        pending = pending.iloc[np.argsort(-lengths, kind="stable")].reset_index(drop=True)
    return Plan(items, done, pending)


def score_benchmark(store, benchmark: str, name: str, spec: dict, *, kind: str = "rm",
                    replace: bool = False, description: str | None = None, resume: bool = False,
                    restart: bool = False, allow_partial: bool = False,
                    batch_size: int | None = None, engine: str = "local",
                    ray_options: dict | None = None, state_path=None,
                    progress=None, backend: Backend | None = None) -> ScoringReport:
    """Score every response of ``benchmark`` with the backend ``spec`` describes and add
    the result as RM (``kind="rm"``) or oracle (``kind="oracle"``) ``name``.

    ``resume``: go on with the interrupted run of this (benchmark, name); its stored
    spec is used and must agree with ``spec`` where ``spec`` names a backend.
    ``restart``: discard an interrupted run and start again (the cache still serves
    what it scored).  ``allow_partial``: a request that fails after its retries leaves
    its response unscored instead of stopping the run; the report gives the coverage.
    ``state_path``: the scoring file (default beside the database).
    ``progress(done, total, message)``: responses with a result so far.
    """
    if kind not in KINDS:
        raise RetaInputError(f"unknown kind {kind!r}; choose rm or oracle")
    if engine not in ENGINES:
        raise RetaInputError(f"unknown engine {engine!r}; choose local or ray")
    if resume and restart:
        raise RetaInputError("--resume and --restart exclude each other: continue the "
                             "interrupted run, or start again")
    progress = ensure_progress(progress)
    what = "RM" if kind == "rm" else "oracle"
    state = ScoringState(state_path or default_state_path(store.path))
    owned = backend is None
    try:
        info = store.benchmark_info(benchmark)
        run = state.open_run(_db_key(store), benchmark, kind, name)
        if run is not None and not resume and not restart:
            raise RetaInputError(
                f"{state.path}: an interrupted scoring run of {what} {show(name)} on benchmark "
                f"{show(benchmark)} has {run['staged']:,} of {run['total']:,} responses staged; "
                "continue it with --resume, or start again with --restart")
        if resume:
            if run is None:
                raise RetaInputError(f"{state.path}: no interrupted scoring run of {what} "
                                     f"{show(name)} on benchmark {show(benchmark)} to resume")
            spec = _resumed_spec(run["spec"], spec)
            if run["benchmark_created"] != str(info["created_at"]):
                raise RetaInputError(f"benchmark {show(benchmark)} was replaced since the run "
                                     "started; start again with --restart")
        if restart and run is not None:
            state.end_run(run["id"], "abandoned")
            run = None
        if backend is None:
            backend = build_backend(spec)
        backend.allow_partial = allow_partial
        label = _label(backend)
        check_target(store, benchmark, name, kind, replace, description, label)
        started = time.monotonic()
        work = plan(store, benchmark, backend, state, run, progress)
        total = len(work.items)
        new_run = run is None
        if new_run:
            run = {"id": state.start_run(_db_key(store), benchmark, str(info["created_at"]), kind,
                                         name, spec, total), "staged": 0}
        try:
            return _score(store, benchmark, name, spec, kind, replace, description, allow_partial,
                          batch_size, engine, ray_options, progress, state, backend, label, work,
                          run, total, started)
        except BaseException:
            if new_run and not state.computed(run["id"]):
                state.end_run(run["id"], "abandoned")  # nothing of its own to resume
            raise
    finally:
        if owned and backend is not None:
            backend.close()
        state.close()


def _score(store, benchmark, name, spec, kind, replace, description, allow_partial, batch_size,
           engine, ray_options, progress, state, backend, label, work, run, total, started):
    """Stage the cached results, score the pending pairs, add the RM (or oracle)."""
    fresh = work.done[~work.done["resumed"]]
    if len(fresh):  # cached (and text-less) results: staged at once
        state.stage(run["id"], fresh["response_code"], fresh["score"], fresh["status"],
                    fresh["truncated"], from_cache=True)
    done = len(work.done)
    progress(done, total, f"{len(fresh):,} from the cache")
    if engine == "ray":
        from .ray_engine import score_on_ray

        score_on_ray(spec, work.pending, run["id"], state,
                     batch_size or backend.default_batch_size,
                     allow_partial=allow_partial, progress=progress,
                     done=done, total=total, **(ray_options or {}))
    else:
        score_locally(backend, work.pending, run["id"], state,
                      batch_size or backend.default_batch_size, allow_partial,
                      progress, done, total)
    seconds = time.monotonic() - started
    staged = state.staged(run["id"])
    report = _report(backend, benchmark, name, kind, total, work, staged, seconds, engine,
                     state)
    if len(staged) != total:  # should not happen: every pending pair was staged
        raise ScoringError(f"{state.path}: {total - len(staged):,} responses have no result; "
                           "run again with --resume")
    report.imported = _add(store, benchmark, name, kind, staged, label, replace, description,
                           allow_partial, report)
    state.end_run(run["id"], "done")
    return report


def _resumed_spec(stored: dict, given: dict) -> dict:
    """The interrupted run's spec; options given again must agree with it."""
    if not given or given.get("backend") is None:
        return stored
    for key, value in given.items():
        if value is not None and key in stored and stored[key] != value and key not in ("concurrency",):
            raise RetaInputError(f"--resume: the interrupted run used {key} = {show(stored[key])}, "
                                 f"not {show(value)}; resume with the same options, or start "
                                 "again with --restart")
    return stored


def score_locally(backend: Backend, pending: pd.DataFrame, run: int, state: ScoringState,
                  batch_size: int, allow_partial: bool, progress, done: int, total: int) -> None:
    """Score ``pending`` (longest first) batch by batch in this process, staging each."""
    if batch_size < 1:
        raise RetaInputError(f"--batch-size must be at least 1, got {batch_size}")
    for start in range(0, len(pending), batch_size):
        batch = pending.iloc[start:start + batch_size]
        result = backend.score(batch["prompt"].tolist(), batch["response"].tolist())
        failed = [s == "failed" for s in result.status]
        if any(failed) and not allow_partial:  # backends raise first; a safety net
            raise ScoringError(f"{backend.describe()}: {sum(failed)} requests failed; "
                               "run again with --resume (or --allow-partial)")
        state.stage(run, batch["response_code"], result.scores, result.status, result.truncated,
                    keys=batch["key"].tolist())
        done += len(batch)
        progress(done, total, f"batch of {len(batch)}")


def _report(backend, benchmark, name, kind, total, work: Plan, staged: pd.DataFrame, seconds,
            engine, state) -> ScoringReport:
    status = staged["status"]
    return ScoringReport(
        backend=backend.describe(), benchmark=benchmark, name=name, kind=kind, total=total,
        from_cache=int(((~work.done["resumed"]) & (work.done["status"] != "no_text")).sum()),
        resumed=int(work.done["resumed"].sum()),
        computed=len(work.pending),
        truncated=int(staged["truncated"].astype(bool).sum()),
        unparsable=int((status == "unparsable").sum()),
        failed=int((status == "failed").sum()),
        no_text=int((status == "no_text").sum()),
        seconds=seconds, engine=engine, state_path=str(state.path))


def _add(store, benchmark, name, kind, staged: pd.DataFrame, label, replace, description,
         allow_partial, report: ScoringReport):
    """The staged scores added as ``add-scores`` would (same checks, same report)."""
    pool = store.load_pool(benchmark, oracles=[], rms=[])
    scores = np.full(pool.n_responses, np.nan)
    scores[staged["response_code"].to_numpy(dtype=np.int64)] = staged["score"].to_numpy(float)
    if report.failed and allow_partial:
        report.notes.append(f"--allow-partial: {report.failed:,} responses left unscored after "
                            f"failed requests; coverage {np.isfinite(scores).mean():.1%}.")
    frame = pd.DataFrame({"response_id": pool.response_ids.astype(str), "score": scores})
    add = ingest.add_rm_scores if kind == "rm" else ingest.add_oracle_scores
    return add(store, frame, benchmark, name, replace=replace, description=description,
               source_name=label)


def dry_run(store, benchmark: str, spec: dict, *, state_path=None,
            backend: Backend | None = None) -> dict:
    """What a run would send, without sending anything: ``requests`` (responses not in
    the cache), ``cached``, ``total`` and, when the backend can say,
    ``input_tokens`` (an estimate)."""
    state = ScoringState(state_path or default_state_path(store.path))
    owned = backend is None
    backend = backend or build_backend(spec)
    try:
        work = plan(store, benchmark, backend, state, None)
        out = {"total": len(work.items), "cached": int((work.done["status"] != "no_text").sum()),
               "requests": len(work.pending)}
        estimate = getattr(backend, "estimate_input_tokens", None)
        if estimate is not None:
            out["input_tokens"] = int(estimate(work.pending["prompt"].tolist(),
                                               work.pending["response"].tolist()))
        return out
    finally:
        if owned:
            backend.close()
        state.close()
