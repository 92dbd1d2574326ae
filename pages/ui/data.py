"""The dashboard's cached data layer: the store, one :class:`Evaluation` per view, and
every table a page shows, each computed by the seam (``reta_core.evaluation``).

Caching: the store and the Evaluations are ``st.cache_resource`` (large numpy arrays,
immutable by convention: ``cache_data`` would pickle and copy them on every hit, which
would make moving eta slow); an Evaluation keeps its per-RM rankings, so any subset of
RMs reuses them.  Tables computed from them go through :func:`computed`, one
``st.cache_data`` for every Evaluation method.  Every key includes the database file's
stamp (size and modification time), so an import or a removal invalidates them.
No math and no SQL here.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import pandas as pd
import streamlit as st

from reta_core import ensembles, export, importers, ingest
from reta_core.demo import build_demo
from reta_core.errors import RetaInputError
from reta_core.evaluation import Evaluation, MetricResult
from reta_core.store import Store, default_db_path

DEMO_BENCHMARK = "demo"


# --------------------------------------------------------------------- store
def db_path() -> str:
    return str(Path(os.environ.get("RETA_DB") or default_db_path()).resolve())


@st.cache_resource(show_spinner=False)
def get_store(path: str) -> Store:
    return Store(path)


def db_stamp(path: str) -> str:
    """Changes whenever the database file is written (cache key for everything below)."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return "missing"
    return f"{stat.st_size}-{stat.st_mtime_ns}"


@st.cache_data(show_spinner=False)
def benchmark_names(path: str, stamp: str) -> list[str]:
    return get_store(path).benchmark_names()


@st.cache_data(show_spinner=False)
def benchmark_info(path: str, benchmark: str, stamp: str) -> dict:
    return get_store(path).benchmark_info(benchmark)


@st.cache_data(show_spinner=False)
def list_benchmarks(path: str, stamp: str) -> pd.DataFrame:
    return get_store(path).list_benchmarks()


@st.cache_data(show_spinner=False)
def load_prompts(path: str, benchmark: str, stamp: str) -> pd.DataFrame:
    return get_store(path).load_prompts(benchmark)


@st.cache_data(show_spinner=False, max_entries=64)
def load_responses(path: str, benchmark: str, prompt_id: str, stamp: str) -> pd.DataFrame:
    return get_store(path).load_responses(benchmark, prompt_id)


def ensure_database(path: str, progress) -> None:
    """First run: build the demo benchmark (``progress(done, total, message)``)."""
    store = get_store(path)
    if store.exists() and store.benchmark_names():
        return
    build_demo(store, progress=progress)  # the same code path as `python -m reta_core demo`
    st.cache_data.clear()


# --------------------------------------------------------------------- evaluations
class View(NamedTuple):
    """Everything a computed table depends on besides its own arguments (a cache key)."""

    path: str
    stamp: str
    benchmark: str
    oracle: str
    category: str | None
    normalization: str


@st.cache_resource(show_spinner=False, max_entries=8)
def evaluation(view: View) -> Evaluation:
    """The view's :class:`Evaluation` (its pool loaded once, its rankings kept)."""
    return Evaluation.from_store(get_store(view.path), view.benchmark, view.oracle, view.normalization,
                                 category=view.category,
                                 info=benchmark_info(view.path, view.benchmark, view.stamp))  # cached: no 2nd read


@st.cache_data(show_spinner=False, max_entries=256)
def computed(view: View, method: str, *args, **kwargs):
    """``evaluation(view).<method>(*args, **kwargs)``, cached per view and arguments.

    Pass RM lists as tuples (cache keys must be hashable the same way each run).  A
    :class:`MetricResult` comes back without its per-prompt arrays: a cache hit
    unpickles its value, and pages need only the tables."""
    result = getattr(evaluation(view), method)(*args, **kwargs)
    if isinstance(result, MetricResult):
        result = MetricResult(result.table, result.excluded)
    return result


class _NotComputed(Exception):
    """A miss of a cache used as a store (an exception, so the miss is not cached)."""


@st.cache_data(show_spinner=False, max_entries=32)
def _kept(view: View, what: str, key: tuple, _value=None):
    """A cache used as a store: the result kept for ``(view, what, key)``; stores
    ``_value`` (not part of the key) on a miss, or raises :class:`_NotComputed`."""
    if _value is None:
        raise _NotComputed
    return _value


def kept(view: View, what: str, key: tuple):
    """A result :func:`keep` stored for these inputs, or None."""
    try:
        return _kept(view, what, key)
    except _NotComputed:
        return None


def keep(view: View, what: str, key: tuple, value):
    """Store a finished result (one computed with a progress bar) for :func:`kept`.
    Only a finished one is kept: a run stopped half way never reaches this call."""
    return _kept(view, what, key, _value=value)


def leaderboard(view: View, rms: tuple, progress=None):
    """The leaderboard of ``rms`` (``reports.Leaderboard``); computed with ``progress``
    the first time for these inputs."""
    board = kept(view, "leaderboard", (tuple(rms),))
    if board is None:
        board = keep(view, "leaderboard", (tuple(rms),),
                     evaluation(view).leaderboard(list(rms), progress=progress))
    return board


def stability(view: View, rms: tuple, eta: float, repeats: int, seed: int, progress=None):
    """Run the §5 study and keep it (see :func:`kept`)."""
    key = (tuple(rms), float(eta), int(repeats), int(seed))
    table = evaluation(view).stability(float(eta), list(rms), repeats=int(repeats), seed=int(seed),
                                       progress=progress)
    return keep(view, "stability", key, table)


def cached_stability(view: View, rms: tuple, eta: float, repeats: int, seed: int):
    return kept(view, "stability", (tuple(rms), float(eta), int(repeats), int(seed)))


# --------------------------------------------------------------------- uploads and writes
def max_upload_bytes() -> int:
    """The upload limit the server enforces (``server.maxUploadSize``, in MB)."""
    return int(st.get_option("server.maxUploadSize")) * 2**20


@st.cache_data(show_spinner=False, max_entries=8)
def rm_template_csv(path: str, benchmark: str, stamp: str) -> bytes:
    """An RM file for ``benchmark`` with an empty score column (``ingest.rm_template``)."""
    return export.table_to_csv_bytes(ingest.rm_template(get_store(path), benchmark))


@st.cache_data(show_spinner=False, max_entries=8)
def rm_template_texts_csv(path: str, benchmark: str, stamp: str) -> bytes:
    """The RM template with the prompt and response texts (``ingest.rm_template``)."""
    return export.table_to_csv_bytes(ingest.rm_template(get_store(path), benchmark, texts=True))


@st.cache_data(show_spinner=False, max_entries=4)
def pool_file(path: str, benchmark: str, stamp: str) -> bytes:
    """The pool to score as JSON Lines, gzipped: what ``export-pool`` writes
    (prompt_id, response_id, prompt, response, category, messages)."""
    from reta_core.scoring import pool_bytes

    return pool_bytes(get_store(path), benchmark, ".jsonl.gz")


@st.cache_data(show_spinner=False, max_entries=8)
def describe_upload(file_id: str, file_name: str, _data: bytes) -> dict:
    """``source.describe_file`` of an uploaded file, or ``{'error': one line}``."""
    try:
        with ingest.staged_upload(file_name, _data, max_upload_bytes()) as path:
            return ingest.describe_file(path)
    except RetaInputError as exc:
        return {"error": str(exc)}


@st.cache_data(show_spinner=False, max_entries=16)
def check_upload(path: str, stamp: str, kind: str, file_id: str, file_name: str, _data: bytes,
                 params: dict) -> dict:
    """A dry run of an uploaded import (every check, nothing written):
    ``{'report': text}`` or ``{'error': one line}``."""
    try:
        report = ingest.import_upload(get_store(path), kind, file_name, _data, max_bytes=max_upload_bytes(),
                                      dry_run=True, **params)
    except RetaInputError as exc:
        return {"error": str(exc)}
    return {"report": report.to_text()}


def import_upload(path: str, kind: str, file_name: str, data: bytes, params: dict):
    """Write an uploaded import (the same validated path as the command line)."""
    return ingest.import_upload(get_store(path), kind, file_name, data, max_bytes=max_upload_bytes(), **params)


def upload_stem(name: str) -> str:
    """The file name without its format suffix: the default name of what it imports."""
    try:
        return name[: -len(ingest.file_suffix(name))]
    except RetaInputError:
        return Path(name).stem


FILE_SUFFIXES = tuple(ingest.FORMATS)  # what a benchmark or RM upload may be


def import_limits() -> str:
    """The command line's own bounds on an input file (RETA_MAX_BYTES, RETA_MAX_ROWS), as words."""
    return (f"{ingest.limit('RETA_MAX_BYTES') / 2**30:g} GiB, {ingest.limit('RETA_MAX_ROWS'):,} rows")
RESERVED_COLUMNS = tuple(ingest.REQUIRED_COLUMNS) + tuple(ingest.TEXT_COLUMNS)


ENSEMBLE_METHODS = ensembles.METHODS
ENSEMBLE_METHOD_HELP = ensembles.METHOD_HELP
ENSEMBLE_MIN_MEMBERS = ensembles.MIN_MEMBERS


def add_ensemble(path: str, benchmark: str, members: list, name: str, method: str, replace: bool):
    """Store a derived RM (an ensemble of stored RMs, §11) through the same validated
    path as an RM file; returns the import report."""
    return ensembles.add_ensemble(get_store(path), benchmark, list(members), name, method=method,
                                  replace=replace)


def remove_rm(path: str, benchmark: str, rm: str) -> None:
    get_store(path).remove_rm(benchmark, rm)


def remove_benchmark(path: str, name: str) -> None:
    get_store(path).remove_benchmark(name)


# --------------------------------------------------------------------- public benchmarks (importers)
PUBLIC_FORMATS = importers.FORMATS
PUBLIC_LAYOUTS = importers.LAYOUTS
PUBLIC_UPLOAD_TYPES = importers.UPLOAD_TYPES
STEP_AGGREGATES = importers.STEP_AGGREGATES


def public_listing(fmt: str, paths: tuple) -> tuple:
    """A cache key for files on the server: it changes when they do."""
    return importers.listing_stamp(fmt, paths)


@st.cache_data(show_spinner=False, max_entries=16)
def check_public(path: str, stamp: str, fmt: str, uploaded: tuple, listing: tuple, _uploads: list,
                 paths: tuple, _texts, params: dict) -> dict:
    """A dry run of a public benchmark's import (every check, nothing written):
    ``{'report': text}`` or ``{'error': one line}``.  ``uploaded`` (file ids) and
    ``listing`` (:func:`public_listing`) stand for the files in the cache key."""
    try:
        report = import_public(path, fmt, _uploads, paths, _texts, params, dry_run=True)
    except RetaInputError as exc:
        return {"error": str(exc)}
    return {"report": report.to_text()}


def import_public(path: str, fmt: str, uploads: list, paths: tuple, texts, params: dict, dry_run: bool = False):
    """Import (or with ``dry_run`` check) a public benchmark from uploaded files
    ``[(name, bytes)]``, server ``paths`` and an optional texts upload ``(name, bytes)``:
    the same validated path as ``python -m reta_core import``."""
    return importers.import_uploads(get_store(path), fmt, uploads, params["name"], paths=list(paths),
                                    texts_upload=texts, max_bytes=max_upload_bytes(), dry_run=dry_run,
                                    **{k: v for k, v in params.items() if k != "name"})
