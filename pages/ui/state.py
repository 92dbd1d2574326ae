"""The sidebar's selection, shared by every page and kept in the URL.

The choices (benchmark, oracle, RMs, category, normalisation) make a
:class:`~pages.ui.data.View`, the key of every cached table; the page-level choices
(eta, the RMs compared, the prompt ...) are session-state keys that the URL mirrors,
so a copied link reopens the same view.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import streamlit as st

from reta_core import charts, readings
from reta_core.errors import RetaInputError

from . import compat, data, widgets
from .data import View

ALL_CATEGORIES = "All categories"
ETA_FLOOR = 0.001  # the smallest eta the widgets take (the default grid starts here, §10)

# Keys of the state kept in the URL: session-state key -> is a list
URL_KEYS = {"bench": False, "oracle": False, "rm": True, "cat": False, "norm": False,
            "eta": False, "prompt": False, "rm_a": False, "rm_b": False, "est": False, "n": False,
            "order": False, "resp": False}
URL_LABELS = {"bench": "benchmark", "oracle": "oracle", "rm": "RM", "cat": "category", "norm": "normalisation"}


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
    def evaluation(self):
        """The view's cached :class:`~reta_core.evaluation.Evaluation`."""
        return data.evaluation(self.view)

    @property
    def pool(self):
        return self.evaluation.pool


# --------------------------------------------------------------------- the frame
def database_changed_during_run() -> bool:
    """Whether the database file was written since this run began (another program's
    write: an RM removed between reading the benchmark's RM list and loading its scores)."""
    started = st.session_state.get("_run_db_stamp")
    return started is not None and data.db_stamp(data.db_path()) != started


def frame_setup() -> Selection:
    """What app.py does before running a page: URL -> state, first-run demo, sidebar."""
    url_to_state()
    path = data.db_path()
    st.session_state["_run_db_stamp"] = data.db_stamp(path)
    if not (data.get_store(path).exists() and data.benchmark_names(path, data.db_stamp(path))):
        box = st.empty()
        with box.container():
            st.info("First run: building the demo benchmark (a few seconds)…")
            bar = st.progress(0.0)
            data.ensure_database(path, widgets.progress_callback(bar, "Building the demo"))
        box.empty()
    selection = sidebar()
    st.session_state["_frame_run"] = compat.run_token()
    return selection


def current() -> Selection:
    """The sidebar selection of this run.

    Normally app.py has set it up before running the page.  Because the page scripts
    live in ``pages/``, Streamlit's older pages-folder mode may run a page script
    without app.py: on a fresh server's very first request for a deep link, and in
    every ``AppTest`` rerun.  Then the page leaves that mode (rerunning through app.py)
    or, where it cannot, sets the frame up itself.
    """
    if st.session_state.get("_frame_run") != compat.run_token():
        if compat.leave_pages_folder_mode():
            st.rerun()
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
        where = "one of the choices" if key == "norm" else "in this database"
        st.session_state.setdefault("_url_notes", []).append(
            f"The link's {URL_LABELS.get(key, key)} {', '.join(map(repr, dropped))} "
            f"{'is' if len(dropped) == 1 else 'are'} not {where}; showing "
            f"{st.session_state[key] if not isinstance(default, list) else 'the others'} instead.")


def keep_valid(key: str, options: list, default) -> None:
    """:func:`_valid`, then hand the value to this page's widget: a key shared by widgets
    of several pages (eta, rm_a, rm_b, prompt ...) otherwise starts from the widget's
    default on the first run after a page switch.  Call it before creating the widget."""
    _valid(key, options, default)
    st.session_state[key] = st.session_state.get(key, default)


def _select_all_rms(all_rms: list[str]) -> None:
    st.session_state["rm"] = list(all_rms)


def sidebar() -> Selection:
    """Render the shared choices in the sidebar and return them."""
    path = data.db_path()
    stamp = data.db_stamp(path)
    names = data.benchmark_names(path, stamp)
    if not names:
        raise RetaInputError(f"{path}: the database holds no benchmark; import one with "
                             "`python -m reta_core ingest` or rebuild the demo with `python -m reta_core demo`")
    sb = st.sidebar
    _valid("bench", names, data.DEMO_BENCHMARK if data.DEMO_BENCHMARK in names else names[0])
    benchmark = sb.selectbox("Benchmark", names, key="bench")
    info = data.benchmark_info(path, benchmark, stamp)
    oracles = [o["name"] for o in info["oracles"]]
    if st.session_state.get("_rm_bench") not in (None, benchmark) and "oracle" not in st.session_state.get(
            "_from_url", ()):
        st.session_state["oracle"] = info["default_oracle"]  # another benchmark: its default oracle
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
    _valid("norm", list(readings.NORMALIZATION_LABELS), "ratio")
    normalization = sb.selectbox("Normalisation", list(readings.NORMALIZATION_LABELS), key="norm",
                                 format_func=readings.NORMALIZATION_LABELS.get,
                                 help="ratio: T/mu (the paper's RETA); difference: T - mu; raw: T; recovery: the "
                                      "share of the perfect ranking's gain, (T - mu) / (T* - mu) summed over "
                                      "prompts, the same whatever the oracle's scale (§3).")
    view = View(path, stamp, benchmark, oracle, None if category == ALL_CATEGORIES else category,
                normalization)
    if normalization == "ratio" and data.evaluation(view).oracle_far_from_zero:
        sb.caption(readings.md(readings.recovery_hint(oracle)))
    sb.caption(f"Database: {readings.md(Path(path).name)}", help=f"The database file: {readings.md(path)}")
    for note in st.session_state.pop("_url_notes", []):
        st.warning(readings.md(note), icon=":material/link_off:")
    derived = [r["name"] for r in info["rms"] if r.get("is_derived")]
    selection = Selection(view, info, list(rms), all_rms, charts.rm_colors(all_rms, derived))
    st.session_state["_selection"] = selection
    return selection


def require_rms(selection: Selection, at_least: int = 1) -> None:
    if len(selection.rms) < at_least:
        st.info(f"Choose at least {at_least} reward model{'s' if at_least > 1 else ''} in the sidebar.")
        st.stop()


def page_header(title: str, note: str = "") -> Selection:
    """The top of a page: its title, the shared choices in one caption line (and ``note``),
    and a stop with a hint when no RM is chosen.  Returns the selection."""
    selection = current()
    st.title(title)
    st.caption(f"Benchmark **{readings.md(selection.benchmark)}** · oracle **{readings.md(selection.oracle)}** · "
               f"{readings.NORMALIZATION_LABELS[selection.normalization]}"
               + (f" · category **{readings.md(selection.category)}**" if selection.category else "") + note)
    require_rms(selection)
    return selection


def require_counted_prompts(selection: Selection) -> int:
    """The benchmark's smallest counted pool; stops the page with a hint when no prompt
    counts."""
    min_pool = selection.evaluation.min_pool_size
    if min_pool < 2:
        st.info("No prompt counts for the chosen RMs (see the Data page for the excluded prompts).")
        st.stop()
    return min_pool


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


def state_to_url() -> None:
    """Write the current state into the URL, so a copied link reopens the same view."""
    params = page_params()
    written = {k: tuple(v) if isinstance(v, list) else (v,) for k, v in params.items()}
    if _url_snapshot() != written:
        st.query_params.from_dict(params)
    st.session_state["_url_written"] = written


# --------------------------------------------------------------------- eta
def as_float(value, default: float) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return default
    return value if np.isfinite(value) else default


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
        return f"eta = {raw!s} is not a number; showing eta = {readings.fmt_eta(default)}."
    clamped = float(min(max(value, ETA_FLOOR), 1.0))
    st.session_state[key] = clamped
    if value > 1 or value <= 0:
        return f"eta must lie in (0, 1]; {value:g} was changed to {readings.fmt_eta(clamped)}."
    if clamped != value:
        return (f"eta = {value:g} is below the smallest eta shown ({readings.fmt_eta(ETA_FLOOR)}); "
                f"using {readings.fmt_eta(clamped)}.")
    return None
