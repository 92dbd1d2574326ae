"""Curves: RETA over eta for the chosen RMs with 95 % bands, their values at one eta
(computed by the engine at exactly that eta), and a paired comparison of two RMs."""
from __future__ import annotations

import streamlit as st

from pages.ui import data, state, widgets
from reta_core import charts, readings
from reta_core import evaluation as ev

ESTIMATORS = {"pool": "pool (§3)", "exact": "exact at n (§4)"}

selection = state.page_header("RETA curves")
view, rms = selection.view, tuple(selection.rms)
min_pool = state.require_counted_prompts(selection)

# --------------------------------------------------------------------- estimator
max_pool = int(selection.pool.pool_sizes.max())
state.keep_valid("est", list(ESTIMATORS), "pool")
controls = st.columns([2, 1, 2], vertical_alignment="bottom")
estimator = controls[0].segmented_control(
    "Estimator", list(ESTIMATORS), key="est", format_func=ESTIMATORS.get, required=True,
    persist_state="session",
    help="pool: the whole pool is the policy's distribution (§3). exact: the expectation over random "
         "n-response subsets (§4); prompts with fewer than n responses do not count.")
n = None
if estimator == "exact":
    state.keep_valid("n", list(range(2, max_pool + 1)), min_pool)
    n = int(controls[1].number_input("n (responses per prompt)", min_value=2, max_value=max_pool, step=1,
                                     key="n", persist_state="session",
                                     help=f"Default: the smallest pool ({min_pool})."))

with st.spinner("Computing the curves…"):
    result = data.computed(view, "curves", rms, estimator=estimator, n=n, ci=True)
    curves, excluded = result.table, result.excluded
grid = sorted(float(e) for e in curves["eta"].unique())
perfect = data.computed(view, "perfect_curve", tuple(grid), estimator=estimator, n=n)
limit = 1 / n if estimator == "exact" else 1 / min_pool

# --------------------------------------------------------------------- eta
note = state.clean_eta(default=0.1 if 0.1 >= grid[0] else grid[0])
if note:
    st.warning(readings.md(note), icon=":material/warning:")


def _slider_moved() -> None:
    st.session_state["eta"] = st.session_state["_eta_slider"]


eta_cols = st.columns([4, 1], vertical_alignment="bottom")
# a typed eta off the grid joins the slider's stops, so the slider shows exactly what is computed
stops = sorted(set(grid) | {float(st.session_state["eta"])}) if st.session_state["eta"] >= grid[0] else grid
st.session_state["_eta_slider"] = min(stops, key=lambda g: abs(g - st.session_state["eta"]))
eta_cols[0].select_slider("eta (top fraction selected by the RM)", options=stops, key="_eta_slider",
                          format_func=readings.fmt_eta, on_change=_slider_moved,
                          help="Slide over the curves' grid, or type any eta in the box.")
eta = float(eta_cols[1].number_input("eta", min_value=state.ETA_FLOOR, max_value=1.0, step=0.01,
                                     format="%.4g", key="eta", persist_state="session"))
if eta < limit - 1e-12:
    if estimator == "exact":
        st.info(f"eta = {readings.fmt_eta(eta)} is below 1/n = {1 / n:.3g}: each n-subset's top eta holds "
                f"less than one response, so RETA here is BoN@{n}.", icon=":material/info:")
    else:
        st.info(f"eta = {readings.fmt_eta(eta)} is below 1/min N. " + readings.min_eta_note(min_pool),
                icon=":material/info:")

# --------------------------------------------------------------------- curves and values
at_eta = ev.curve_rows_at(curves, eta)  # a move along the grid: the cached curves hold it
if at_eta is None:
    at_eta = data.computed(view, "curves", rms, (eta,), estimator=estimator, n=n, ci=True).table
values = ev.rank_at_eta(at_eta)
bon_table = data.computed(view, "bon", n, rms).table if estimator == "exact" else None
if bon_table is not None:
    values[f"bon_{n}"] = values["rm"].map(bon_table.set_index("rm")["bon"]).to_numpy()

left, right = st.columns([1, 1])
with left:
    fig = charts.curves_figure(
        curves, selection.colors, perfect=perfect, min_eta=limit, marker_eta=eta,
        normalization=selection.normalization, bon=bon_table,
        title=(f"{selection.benchmark}" + (f" ({selection.category})" if selection.category else "")
               + f" · oracle {selection.oracle} · " + (f"exact, n = {n}" if estimator == "exact" else "pool")))
    # the top margin keeps the chart's toolbar (fullscreen, download) clear of its title
    fig.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.16, x=0, title=None), height=600,
                      margin=dict(b=40, t=90))
    st.plotly_chart(fig, key="curves_chart")
with right:
    st.markdown(f"**At eta = {readings.fmt_eta(eta)}**"
                + (f" (exact, n = {n})" if estimator == "exact" else ""))
    shown = values.assign(band=[readings.band(lo, hi) for lo, hi in zip(values["ci_low"], values["ci_high"])])
    columns = ["rm", "rank", "reta", "band"] + ([f"bon_{n}"] if estimator == "exact" else [])
    st.dataframe(
        shown.sort_values("rank", kind="stable")[columns], hide_index=True, width="stretch",
        key="curves_values",
        column_config={
            "rm": st.column_config.TextColumn("RM", pinned=True),
            "rank": st.column_config.NumberColumn("rank", help="1 = highest RETA at this eta.", width=44,
                                                  format="%d"),
            "reta": st.column_config.NumberColumn("RETA", format="%.4f", width=70,
                                                  help="Computed by the engine at exactly this eta."),
            "band": st.column_config.TextColumn("95 % band", help="Bootstrap over prompts (B = 1000).",
                                                width=100),
            f"bon_{n}": st.column_config.NumberColumn(f"BoN@{n}", format="%.4f", width=70,
                                                      help=readings.column_help(selection.normalization)["bon"]),
        })
    if estimator == "exact":
        st.caption(f"BoN@{n} is RETA at eta = 1/n = {1 / n:.3g} (k = 1): the stars on the chart.")
    st.caption(readings.md(readings.excluded_summary(excluded)))
widgets.download_buttons("Curves", ev.curves_chart_table(curves, perfect, bon_table), fig, key="curves")
widgets.download_buttons("Values at eta", values, key="curves_values")

# --------------------------------------------------------------------- compare two RMs
st.subheader("Compare two RMs")
if len(rms) < 2:
    st.info("Choose at least two reward models in the sidebar to compare them.")
    st.stop()
state.keep_valid("rm_a", list(rms), rms[0])
others = [r for r in rms if r != st.session_state["rm_a"]]
state.keep_valid("rm_b", others, others[0])
pick = st.columns(2)
rm_a = pick[0].selectbox("RM A", rms, key="rm_a", persist_state="session")
rm_b = pick[1].selectbox("RM B", others, key="rm_b", persist_state="session")
comparison = data.computed(view, "compare", rm_a, rm_b).table
point = data.computed(view, "compare", rm_a, rm_b, (eta,)).table.iloc[0]
figures = st.columns(3)
figures[0].metric(f"P(A > B) at eta = {readings.fmt_eta(eta)}", f"{point['p_a_better']:.3f}",
                  help=f"P({readings.md(rm_a)} > {readings.md(rm_b)}): the share of bootstrap means of the paired difference "
                       "that are > 0 (§6).")
figures[1].metric("Difference A − B", readings.number(point["diff"], sign=True),
                  help="RETA(A) − RETA(B) at this eta, on the prompts counted for both.")
figures[2].metric("Pointwise 95 % interval", readings.band(point["ci_low"], point["ci_high"], digits=4),
                  help="Bootstrap over prompts at this eta alone. A claim over a range of etas needs the "
                       "simultaneous band (the lighter band of the chart), which the sentence below uses.")
st.markdown(readings.md(readings.significance_reading(comparison)))
diff_fig = charts.difference_figure(comparison, marker_eta=eta)
st.plotly_chart(diff_fig, key="difference_chart")
caption = f"{int(point['n_prompts'])} prompts count for both RMs."
if estimator == "exact":
    caption += " The paired comparison uses the pool estimator (§6)."
st.caption(caption)
widgets.download_buttons("Difference", comparison, diff_fig, key="difference")
