"""What every page shares: the cached data-access layer, the sidebar selection, the
URL state and the error boundary.  No math and no SQL here: everything is a call into
``reta_core``; this module only decides what is cached and for how long.

Caching: the store handle is a ``st.cache_resource``.  Loaded pools and rankings are
``st.cache_resource`` too (large numpy arrays, immutable by convention: ``cache_data``
would pickle and copy them on every hit, which would make moving eta slow).  Tables
computed from them are ``st.cache_data``.  Every key includes the database file's
stamp (size and modification time), so an import or a removal invalidates them.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import streamlit as st

from reta_core import analysis, charts, metrics
from reta_core.errors import RetaInputError
from reta_core.store import Store, default_db_path

log = logging.getLogger("reta_explorer")

NORMALIZATION_LABELS = {"ratio": "ratio to pool mean (paper)", "difference": "difference from pool mean",
                        "raw": "raw top-eta mean"}
ALL_CATEGORIES = "All categories"
DEMO_BENCHMARK = "demo"

# Keys of the state kept in the URL: session-state key -> (query key, is a list)
URL_KEYS = {"bench": False, "oracle": False, "rm": True, "cat": False, "norm": False,
            "eta": False, "prompt": False, "rm_a": False, "rm_b": False, "est": False, "n": False}


# --------------------------------------------------------------------- data access
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


@st.cache_resource(show_spinner=False, max_entries=6)
def load_pool(path: str, benchmark: str, category: str | None, stamp: str):
    return get_store(path).load_pool(benchmark, category=category)


@st.cache_resource(show_spinner=False, max_entries=256)
def ranking(path: str, benchmark: str, oracle: str, rm: str, category: str | None, stamp: str):
    """One RM's ranking (§2), cached per RM so any subset of RMs reuses it."""
    return metrics.rank_within_prompts(load_pool(path, benchmark, category, stamp), rm, oracle)


@st.cache_data(show_spinner=False)
def load_prompts(path: str, benchmark: str, stamp: str) -> pd.DataFrame:
    return get_store(path).load_prompts(benchmark)


@st.cache_data(show_spinner=False, max_entries=64)
def load_responses(path: str, benchmark: str, prompt_id: str, stamp: str) -> pd.DataFrame:
    return get_store(path).load_responses(benchmark, prompt_id)


def ensure_database(path: str) -> None:
    """First run: build the demo benchmark, with visible progress."""
    store = get_store(path)
    if store.exists() and store.benchmark_names():
        return
    from reta_core.demo import build_demo  # the same code path as `python -m reta_core demo`

    box = st.empty()
    with box.container():
        st.info("First run: building the demo benchmark (a few seconds)…")
        bar = st.progress(0.0)
        build_demo(store, progress=lambda fraction, message: bar.progress(min(max(fraction, 0.0), 1.0), text=message))
    box.empty()
    st.cache_data.clear()


# --------------------------------------------------------------------- selection
class View(NamedTuple):
    """Everything a computed table depends on besides its own arguments (a cache key)."""

    path: str
    stamp: str
    benchmark: str
    oracle: str
    category: str | None
    normalization: str

    def pool(self):
        return load_pool(self.path, self.benchmark, self.category, self.stamp)

    def rankings(self, rms) -> dict:
        return {rm: ranking(self.path, self.benchmark, self.oracle, rm, self.category, self.stamp)
                for rm in rms}


@dataclass
class Selection:
    """The sidebar's choices, shared by every page."""

    view: View
    info: dict
    rms: list[str]
    all_rms: list[str] = field(default_factory=list)
    colors: dict = field(default_factory=dict)

    def __getattr__(self, name):  # benchmark, oracle, category, ... from the view
        return getattr(self.__dict__["view"], name)

    @property
    def pool(self):
        return self.view.pool()

    def rankings(self, rms=None) -> dict:
        return self.view.rankings(self.rms if rms is None else rms)


def _run_token():
    """Identifies the current script run (a new coordinator object is made per run)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return None if ctx is None else id(getattr(ctx, "parallel_coordinator", None) or ctx.cursors)


def frame_setup() -> Selection:
    """What app.py does before running a page: URL -> state, first-run demo, sidebar."""
    url_to_state()
    ensure_database(db_path())
    selection = sidebar()
    st.session_state["_frame_run"] = _run_token()
    return selection


def _leave_pages_folder_mode() -> None:
    """A served app's first request for a deep link ran this page without app.py, in
    Streamlit's pages-folder mode (its sidebar would list every file in pages/).  Leave
    that mode, as st.navigation in app.py would have, and rerun through app.py: the
    URL still names this page, so the user lands where the link pointed."""
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # a Streamlit without the pages-folder mode
        return
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def current() -> Selection:
    """The sidebar selection of this run.

    Normally app.py has set it up before running the page.  Because the page scripts
    live in ``pages/``, Streamlit's older pages-folder mode may run a page script
    without app.py: on a fresh server's very first request for a deep link, and in
    every ``AppTest`` rerun.  Then the page sets the frame up itself (and writes the
    sidebar's state to the URL straight away).
    """
    if st.session_state.get("_frame_run") != _run_token():
        _leave_pages_folder_mode()
        selection = frame_setup()
        state_to_url()
        return selection
    return st.session_state["_selection"]


def _valid(key: str, options: list, default):
    """Reset a widget's state when the URL or an old session holds a value no longer
    offered.  A value that came from the URL in this run is reported, not dropped silently."""
    value = st.session_state.get(key)
    if isinstance(default, list):
        kept = [v for v in (value or []) if v in options]
        st.session_state[key] = kept if kept or value is None else default
        if value is None:
            st.session_state[key] = default
        dropped = [v for v in (value or []) if v not in options]
    else:
        dropped = [] if value in options else [value]
        if dropped:
            st.session_state[key] = default
    if dropped and key in st.session_state.get("_from_url", ()):
        st.session_state.setdefault("_url_notes", []).append(
            f"The link's {URL_LABELS.get(key, key)} {', '.join(map(repr, dropped))} "
            f"{'is' if len(dropped) == 1 else 'are'} not in this database; showing "
            f"{st.session_state[key] if not isinstance(default, list) else 'the others'} instead.")


URL_LABELS = {"bench": "benchmark", "oracle": "oracle", "rm": "RM", "cat": "category", "norm": "normalisation"}


def _select_all_rms(all_rms: list[str]) -> None:
    st.session_state["rm"] = list(all_rms)


def sidebar() -> Selection:
    """Render the shared choices in the sidebar and return them."""
    path = db_path()
    stamp = db_stamp(path)
    names = benchmark_names(path, stamp)
    if not names:
        raise RetaInputError(f"{path}: the database holds no benchmark; import one with "
                             "`python -m reta_core ingest` or rebuild the demo with `python -m reta_core demo`")
    sb = st.sidebar
    _valid("bench", names, DEMO_BENCHMARK if DEMO_BENCHMARK in names else names[0])
    benchmark = sb.selectbox("Benchmark", names, key="bench")
    info = benchmark_info(path, benchmark, stamp)
    oracles = [o["name"] for o in info["oracles"]]
    _valid("oracle", oracles, info["default_oracle"])
    oracle = sb.selectbox("Oracle", oracles, key="oracle",
                          help="The reference score (e.g. a GPT-4 rating) the RM's choices are judged by.")
    all_rms = [r["name"] for r in info["rms"]]
    if st.session_state.get("_rm_bench") not in (None, benchmark):
        st.session_state["rm"] = list(all_rms)  # another benchmark: start from all of its RMs
    _valid("rm", all_rms, all_rms)
    st.session_state["_rm_bench"] = benchmark
    rms = sb.multiselect("Reward models", all_rms, key="rm",
                         help="Baselines (baseline_length, baseline_random) are computed from the pool itself.")
    if len(rms) < len(all_rms):
        sb.button(f"Show all {len(all_rms)} RMs", on_click=_select_all_rms, args=(all_rms,), key="all_rms",
                  icon=":material/select_all:")
    categories = [ALL_CATEGORIES] + list(info["categories"])
    _valid("cat", categories, ALL_CATEGORIES)
    category = sb.selectbox("Category", categories, key="cat", disabled=len(categories) == 1)
    _valid("norm", list(NORMALIZATION_LABELS), "ratio")
    normalization = sb.selectbox("Normalisation", list(NORMALIZATION_LABELS), key="norm",
                                 format_func=NORMALIZATION_LABELS.get,
                                 help="ratio: T/mu (the paper's RETA); difference: T - mu; raw: T.")
    sb.caption(f"Database: `{path}`")
    for note in st.session_state.pop("_url_notes", []):
        st.warning(note, icon=":material/link_off:")
    view = View(path, stamp, benchmark, oracle, None if category == ALL_CATEGORIES else category,
                normalization)
    selection = Selection(view, info, list(rms), all_rms, charts.rm_colors(all_rms))
    st.session_state["_selection"] = selection
    return selection


def require_rms(selection: Selection, at_least: int = 1) -> None:
    if len(selection.rms) < at_least:
        st.info(f"Choose at least {at_least} reward model{'s' if at_least > 1 else ''} in the sidebar.")
        st.stop()


# --------------------------------------------------------------------- URL state
def _url_snapshot() -> dict:
    return {key: tuple(st.query_params.get_all(key)) for key in URL_KEYS if key in st.query_params}


def url_to_state() -> None:
    """When the URL changed since we last wrote it (a pasted link, a page link with
    parameters), its values win over the session's."""
    snapshot = _url_snapshot()
    st.session_state["_from_url"] = ()
    if snapshot == st.session_state.get("_url_written"):
        return
    st.session_state["_from_url"] = tuple(snapshot)
    if "rm" in snapshot:  # the link's RMs belong to the link's benchmark
        st.session_state["_rm_bench"] = snapshot.get("bench", (None,))[0]
    for key, values in snapshot.items():
        if URL_KEYS[key]:
            st.session_state[key] = list(values)
        elif values:
            st.session_state[key] = _parse(key, values[0])


def _parse(key: str, value: str):
    if key == "eta":
        try:
            return float(value)
        except ValueError:
            return None
    if key == "n":
        try:
            return int(value)
        except ValueError:
            return None
    return value


def state_to_url() -> None:
    """Write the current state into the URL, so a copied link reopens the same view."""
    params = {}
    for key, is_list in URL_KEYS.items():
        value = st.session_state.get(key)
        if value is None or (is_list and not value):
            continue
        params[key] = [str(v) for v in value] if is_list else _format(value)
    if _url_snapshot() != {k: tuple(v) if isinstance(v, list) else (v,) for k, v in params.items()}:
        st.query_params.from_dict(params)
    st.session_state["_url_written"] = {k: tuple(v) if isinstance(v, list) else (v,)
                                        for k, v in params.items()}


def _format(value) -> str:
    # repr: the shortest text that reads back as the same float, so a link reproduces eta exactly
    return repr(float(value)) if isinstance(value, float) else str(value)


def page_params(**overrides) -> dict:
    """The current URL state with some keys replaced: for links between pages."""
    params = {}
    for key, is_list in URL_KEYS.items():
        value = overrides.get(key, st.session_state.get(key))
        if value is None or (is_list and not value):
            continue
        params[key] = [str(v) for v in value] if is_list else _format(value)
    return params


# --------------------------------------------------------------------- cached tables
@st.cache_data(show_spinner=False, max_entries=32)
def _leaderboards(view: View, rms: tuple, _board=None):
    """A cache used as a store (as for the stability study): the leaderboard kept for
    these inputs; stores ``_board`` on a miss, or raises :class:`_NotComputed`."""
    if _board is None:
        raise _NotComputed
    return _board


def leaderboard(view: View, rms: tuple):
    """``(table, curves, excluded, n, min_pool_size)`` of ``analysis.leaderboard``; the
    first time for these inputs with a progress bar (one step per RM)."""
    try:
        return _leaderboards(view, tuple(rms))
    except _NotComputed:
        pass
    bar = st.progress(0.0, text="Computing the leaderboard…")
    board = analysis.leaderboard(view.pool(), view.oracle, list(rms), normalization=view.normalization,
                                 rankings=view.rankings(rms),
                                 progress=progress_callback(bar, "Computing the leaderboard, RMs done"))
    bar.empty()
    return _leaderboards(view, tuple(rms), _board=(board.table, board.curves, board.excluded, board.n,
                                                   board.min_pool_size))


@st.cache_data(show_spinner=False, max_entries=64)
def curves(view: View, rms: tuple, estimator: str = "pool", n: int | None = None,
           etas: tuple | None = None, ci: bool = True):
    result = metrics.reta_curves(view.pool(), view.oracle, list(rms),
                                 etas=None if etas is None else list(etas),
                                 normalization=view.normalization, estimator=estimator, n=n, ci=ci,
                                 rankings=view.rankings(rms))
    return result.table, result.excluded


@st.cache_data(show_spinner=False, max_entries=32)
def perfect_curve(view: View, etas: tuple, estimator: str = "pool", n: int | None = None) -> pd.DataFrame:
    """The highest curve any RM can reach on this pool: RM = oracle (§3)."""
    return analysis.perfect_curve(view.pool(), view.oracle, list(etas), normalization=view.normalization,
                                  estimator=estimator, n=n)


def excluded_summary(excluded: pd.DataFrame) -> str:
    """'12 prompts do not count for baseline_length (mean oracle score <= 0 ...)'."""
    if excluded.empty:
        return "Every prompt counts for every chosen RM."
    per_reason = excluded.groupby("reason")["n_prompts"].max()
    parts = [f"{int(n)} prompt{'s' if n != 1 else ''}: {reason}" for reason, n in per_reason.items()]
    return "Prompts that do not count (for at least one RM): " + "; ".join(parts) + "."


def fmt_eta(eta: float) -> str:
    return f"{eta:.3g}"


def min_eta_note(min_pool: int) -> str:
    return (f"Below eta = 1/{min_pool} = {1 / min_pool:.3g} the smallest pools hold less than one "
            "response in the top eta, so the estimate there is the top-1 value.")


def show_error(exc: BaseException) -> None:
    """The app's error boundary: a short message, never a traceback."""
    if isinstance(exc, RetaInputError):
        st.error(str(exc), icon=":material/error:")
    else:
        log.exception("unexpected error")
        st.error(f"Something went wrong ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}). "
                 "Try another choice in the sidebar; if it persists, report it with the server log.",
                 icon=":material/bug_report:")


def download_buttons(label: str, table: pd.DataFrame, fig=None, key: str = "") -> None:
    """CSV of the data behind a chart or table, and the chart as HTML (always) and
    PNG/SVG/PDF (when a Chrome/Chromium is found).

    Files are built only when their button is clicked (Streamlit's deferred download:
    ``data`` is a callable), so moving eta does not re-render exports nobody asked for.
    """
    from reta_core import export

    stem = key or label
    cols = st.columns(5)
    cols[0].download_button(f"{label} CSV", lambda: export.table_to_csv_bytes(table), file_name=f"{stem}.csv",
                            mime="text/csv", key=f"csv_{key}", icon=":material/download:", on_click="ignore")
    if fig is None:
        return
    formats = [("html", "HTML", "text/html")]
    if export.find_chrome() is None:
        cols[2].caption(f"PNG, SVG and PDF need Chrome or Chromium. {export.CHROME_MISSING_HELP}")
    else:
        formats += [("png", "PNG", "image/png"), ("svg", "SVG", "image/svg+xml"), ("pdf", "PDF", "application/pdf")]
    for col, (fmt, name, mime) in zip(cols[1:], formats):
        col.download_button(name, lambda fmt=fmt: export.figure_to_bytes(fig, fmt), file_name=f"{stem}.{fmt}",
                            mime=mime, key=f"{fmt}_{key}", icon=":material/download:", on_click="ignore")


def sparkline_column(table: pd.DataFrame, curves_table: pd.DataFrame) -> pd.DataFrame:
    values = charts.sparkline_values(curves_table)
    table = table.copy()
    table["curve"] = [values.get(rm, []) for rm in table["rm"]]
    return table


def as_float(value, default: float) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return default
    return value if np.isfinite(value) else default


# --------------------------------------------------------------------- curves and inspector
@st.cache_data(show_spinner=False, max_entries=64)
def compare(view: View, rm_a: str, rm_b: str, etas: tuple | None = None) -> pd.DataFrame:
    """The paired comparison of two RMs (§6), ``metrics.compare_rms(...).table``."""
    return metrics.compare_rms(view.pool(), rm_a, rm_b, etas=None if etas is None else list(etas),
                               oracle=view.oracle, normalization=view.normalization,
                               rankings=view.rankings((rm_a, rm_b))).table


@st.cache_data(show_spinner=False, max_entries=32)
def bon(view: View, rms: tuple, n: int) -> pd.DataFrame:
    """BoN@n of each RM (§4), ``metrics.bon(...).table``."""
    return metrics.bon(view.pool(), n, view.oracle, list(rms), normalization=view.normalization,
                       rankings=view.rankings(rms)).table


@st.cache_data(show_spinner=False, max_entries=32)
def prompt_table(view: View, rm: str, eta: float, other: str | None = None) -> pd.DataFrame:
    """``analysis.prompt_table`` of one RM (and a second one to compare) at one eta."""
    rankings = view.rankings((rm,) if other is None else (rm, other))
    return analysis.prompt_table(view.pool(), rankings[rm], eta, view.normalization,
                                 other=None if other is None else rankings[other])


@st.cache_data(show_spinner=False, max_entries=64)
def prompt_responses(view: View, rm: str, prompt_index: int, eta: float) -> pd.DataFrame:
    """``analysis.prompt_responses``: one prompt's responses in the RM's order."""
    return analysis.prompt_responses(view.pool(), view.rankings((rm,))[rm], prompt_index, eta)


def min_pool_size(selection: Selection, rms=None) -> int:
    """The smallest counted pool for the chosen RMs (below 1/this, eta is flagged)."""
    return metrics.min_pool_size(selection.rankings(rms), selection.normalization)


def keep_valid(key: str, options: list, default) -> None:
    """:func:`_valid`, then hand the value to this page's widget: a key shared by widgets
    of several pages (eta, rm_a, rm_b, prompt ...) otherwise starts from the widget's
    default on the first run after a page switch.  Call it before creating the widget."""
    _valid(key, options, default)
    st.session_state[key] = st.session_state.get(key, default)


def page_header(title: str, note: str = "") -> Selection:
    """The top of a page: its title, the shared choices in one caption line (and ``note``),
    and a stop with a hint when no RM is chosen.  Returns the selection."""
    selection = current()
    st.title(title)
    st.caption(f"Benchmark **{selection.benchmark}** · oracle **{selection.oracle}** · "
               f"{NORMALIZATION_LABELS[selection.normalization]}"
               + (f" · category **{selection.category}**" if selection.category else "") + note)
    require_rms(selection)
    return selection


def require_counted_prompts(selection: Selection, rms=None) -> int:
    """The smallest counted pool of the chosen RMs; stops the page with a hint when no
    prompt counts for them."""
    min_pool = min_pool_size(selection, rms)
    if min_pool < 2:
        st.info("No prompt counts for the chosen RMs (see the Data page for the excluded prompts).")
        st.stop()
    return min_pool


def clean_eta(default: float = 0.1, key: str = "eta") -> str | None:
    """Make ``st.session_state[key]`` a usable eta before its widget is created: a value
    that is not a number (e.g. ``?eta=abc``) becomes ``default``, one outside (0, 1] is
    clamped into [ETA_FLOOR, 1].  Returns a note for the user when the value was changed."""
    raw = st.session_state.get(key)
    value = as_float(raw, float("nan"))
    if raw is None:
        st.session_state[key] = default
        return None
    if not np.isfinite(value):
        st.session_state[key] = default
        return f"eta = {raw!s} is not a number; showing eta = {fmt_eta(default)}."
    clamped = float(min(max(value, ETA_FLOOR), 1.0))
    st.session_state[key] = clamped
    if value > 1 or value <= 0:
        return f"eta must lie in (0, 1]; {value:g} was changed to {fmt_eta(clamped)}."
    if clamped != value:
        return f"eta = {value:g} is below the smallest eta shown ({fmt_eta(ETA_FLOOR)}); using {fmt_eta(clamped)}."
    return None


ETA_FLOOR = 0.001  # the smallest eta the widgets take (the default grid starts here, §10)


# --------------------------------------------------------------------- reliability, stability, data
@st.cache_data(show_spinner=False, max_entries=32)
def reliability_map(view: View, rms: tuple, bins: int) -> pd.DataFrame:
    """The reliability map (§8), ``metrics.reliability_map(...).table``."""
    return metrics.reliability_map(view.pool(), view.oracle, list(rms), bins=int(bins),
                                   rankings=view.rankings(rms)).table


@st.cache_data(show_spinner=False, max_entries=32)
def optimal_table(view: View, rms: tuple) -> pd.DataFrame:
    """eta*, RETA(eta*) with its band, the gain and a reading per RM (§7)."""
    return analysis.optimal_table(view.pool(), view.oracle, list(rms), normalization=view.normalization,
                                  rankings=view.rankings(rms))


@st.cache_data(show_spinner=False, max_entries=64)
def category_reta(view: View, rms: tuple, eta: float) -> pd.DataFrame:
    """RETA at one eta per category and RM, ``analysis.category_reta``."""
    return analysis.category_reta(view.pool(), eta, view.oracle, list(rms), normalization=view.normalization,
                                  rankings=view.rankings(rms))


class _NotComputed(Exception):
    """A miss of :func:`_stability_results` (an exception, so the miss is not cached)."""


@st.cache_data(show_spinner=False, max_entries=16)
def _stability_results(view: View, rms: tuple, eta: float, repeats: int, seed: int, _table=None):
    """A cache used as a store: returns the study stored for these inputs, stores
    ``_table`` (not part of the key) on a miss, or raises :class:`_NotComputed`."""
    if _table is None:
        raise _NotComputed
    return _table


def cached_stability(view: View, rms: tuple, eta: float, repeats: int, seed: int) -> pd.DataFrame | None:
    """The finished stability study (§5) for these inputs, or None when it has not run."""
    try:
        return _stability_results(view, tuple(rms), float(eta), int(repeats), int(seed))
    except _NotComputed:
        return None


def run_stability(view: View, rms: tuple, eta: float, repeats: int, seed: int, progress=None) -> pd.DataFrame:
    """Run ``analysis.stability_study`` and keep it for :func:`cached_stability`.

    Only a finished study is kept: the progress callback is where Streamlit stops a run
    (a Stop click reruns the script), and an interrupted study never reaches the store."""
    table = analysis.stability_study(view.pool(), eta, view.oracle, list(rms), repeats=int(repeats),
                                     seed=int(seed), normalization=view.normalization, progress=progress,
                                     rankings=view.rankings(rms))
    return _stability_results(view, tuple(rms), float(eta), int(repeats), int(seed), _table=table)


def progress_callback(bar, what: str):
    """A ``progress(done, total)`` for the engine that moves ``bar`` once per percent."""
    shown = [-1]

    def update(done: int, total: int) -> None:
        percent = int(100 * done / max(total, 1))
        if percent != shown[0]:
            shown[0] = percent
            bar.progress(percent / 100, text=f"{what}: {done:,} of {total:,} ({percent} %)")

    return update


@st.cache_data(show_spinner=False)
def list_benchmarks(path: str, stamp: str) -> pd.DataFrame:
    return get_store(path).list_benchmarks()


@st.cache_data(show_spinner=False, max_entries=16)
def score_summary(view: View) -> pd.DataFrame:
    """Per oracle and RM: scored, missing and the distribution's key figures."""
    return analysis.score_summary(view.pool())


@st.cache_data(show_spinner=False, max_entries=16)
def score_values(view: View, scorer: str) -> pd.DataFrame:
    """One oracle's or RM's finite scores (``scorer, kind, score``)."""
    return analysis.score_values(view.pool(), [scorer])


@st.cache_data(show_spinner=False, max_entries=8)
def rm_template_csv(path: str, benchmark: str, stamp: str) -> bytes:
    """An RM file for ``benchmark`` with an empty score column (``ingest.rm_template``)."""
    from reta_core import export, ingest

    return export.table_to_csv_bytes(ingest.rm_template(get_store(path), benchmark))


def max_upload_bytes() -> int:
    """The upload limit the server enforces (``server.maxUploadSize``, in MB)."""
    return int(st.get_option("server.maxUploadSize")) * 2**20


@st.cache_data(show_spinner=False, max_entries=8)
def describe_upload(file_id: str, file_name: str, _data: bytes) -> dict:
    """``ingest.describe_file`` of an uploaded file, or ``{'error': one line}``."""
    from reta_core import ingest

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
    from reta_core import ingest

    try:
        report = ingest.import_upload(get_store(path), kind, file_name, _data, max_bytes=max_upload_bytes(),
                                      dry_run=True, **params)
    except RetaInputError as exc:
        return {"error": str(exc)}
    return {"report": report.to_text()}
