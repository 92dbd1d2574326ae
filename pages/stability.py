"""Stability: how much would an evaluation with only n responses per prompt wobble?
The resampling study of §5 for RETA at one eta and for BoN@n, side by side."""
from __future__ import annotations

import streamlit as st

from pages.ui import data, state, widgets
from reta_core import charts, readings
from reta_core import evaluation as ev

STOPPED = "_stability_stopped"

selection = state.page_header("Stability")
view, rms = selection.view, tuple(selection.rms)
min_pool = state.require_counted_prompts(selection)
sizes = selection.evaluation.stability_sizes()
st.markdown(
    f"For each sample size n, every prompt's pool is subsampled to n responses **B** times; each time RETA at "
    f"eta and BoN@n (the RM's single top pick) are computed as an evaluation with only n responses per prompt "
    f"would compute them (§5). Their spread across the B repeats is how much such an evaluation wobbles. "
    f"Sample sizes: n = {', '.join(map(str, sizes))} (up to the smallest pool, {min_pool}).")

# --------------------------------------------------------------------- inputs
note = state.clean_eta(default=0.1)
if note:
    st.warning(readings.md(note), icon=":material/warning:")
inputs = st.columns(3, vertical_alignment="bottom")
eta = float(inputs[0].number_input("eta", min_value=state.ETA_FLOOR, max_value=1.0, step=0.01, format="%.4g",
                                   key="eta", persist_state="session",
                                   help="RETA's top fraction; shared with the Curves and Reliability pages. At "
                                        "n the top k = ceil(eta n) of the n responses are averaged."))
repeats = int(inputs[1].number_input("B (resamples per n)", min_value=2, max_value=10_000, value=200, step=50,
                                     key="stab_repeats", persist_state="session",
                                     help="More resamples: steadier spreads and means, longer run."))
seed = int(inputs[2].number_input("Seed", min_value=0, max_value=2**32 - 1, value=0, step=1, key="stab_seed",
                                  persist_state="session", help="The same seed gives the same numbers."))
key = (view, rms, eta, repeats, seed)
table = data.cached_stability(*key)

# --------------------------------------------------------------------- run / stop
if table is None:
    setup = st.empty()  # cleared once the study has finished
    with setup.container():
        st.caption(f"{len(rms)} RM(s) × {len(sizes)} sample sizes × B = {repeats:,} resamples = "
                   f"{len(rms) * len(sizes) * repeats:,} resampled evaluations.")
        if st.session_state.get(STOPPED) == key:
            st.warning("The last run was stopped before it finished; nothing of it is shown or kept.",
                       icon=":material/block:")
        if not st.button("Run the study", type="primary", icon=":material/play_arrow:", key="stab_run"):
            st.info("Press **Run the study**. A finished study is kept: coming back with the same inputs "
                    "shows it at once.", icon=":material/info:")
            st.stop()
        st.session_state.pop(STOPPED, None)
        st.button("Stop", icon=":material/stop:", key="stab_stop",
                  on_click=lambda: st.session_state.__setitem__(STOPPED, key))
        bar = st.progress(0.0, text="Starting…")
    table = data.stability(*key, progress=widgets.progress_callback(bar, "Resampling"))
    setup.empty()

# --------------------------------------------------------------------- results
st.subheader("Reading")
st.info(readings.stability_reading(table), icon=":material/lightbulb:")  # numbers only, no names

st.subheader("Spread as n grows")
metric = st.segmented_control("Spread", ["std", "cv"], default="std", required=True, key="stab_metric",
                              format_func={"std": "standard deviation", "cv": "coefficient of variation"}.get)
spread = charts.stability_figure(table, selection.colors, metric=metric)
st.plotly_chart(spread, width="stretch", key="stab_spread_chart")
same = ev.bon_equivalent_sizes(table)
st.caption(f"Solid: RETA@{readings.fmt_eta(eta)}; dashed: BoN@n. Lower is steadier. At n = {sizes[-1]} "
           "every resample of the smallest pools is the whole pool, so their spread vanishes."
           + (f" At n = {', '.join(map(str, same))}, RETA@{readings.fmt_eta(eta)} keeps k = 1 of the n responses: "
              "there it is BoN@n and the two lines coincide." if same else ""))
widgets.download_buttons("Spread", table, spread, key="stability_spread")

st.subheader("Convergence to the exact values")
converge = charts.convergence_figure(table, selection.colors)
st.plotly_chart(converge, width="stretch", key="stab_convergence_chart")
st.caption("Resampled means with ±2 standard errors; the dotted lines are the exact expectations of §4 "
           "they converge to.")
widgets.download_buttons("Convergence", table, converge, key="stability_convergence")

st.subheader("Table")
st.dataframe(table, hide_index=True, width="stretch", key="stab_table", column_config={
    "rm": st.column_config.TextColumn("RM", pinned=True),
    "estimator": st.column_config.TextColumn("estimator"),
    "k": st.column_config.NumberColumn("k", help="Responses averaged out of n (BoN: 1)."),
    "mean": st.column_config.NumberColumn("resampled mean", format="%.4f"),
    "std": st.column_config.NumberColumn("std", format="%.4f", help="Spread across the B resamples."),
    "cv": st.column_config.NumberColumn("cv", format="%.4f", help="std / |mean|."),
    "se": st.column_config.NumberColumn("se", format="%.5f", help="Standard error of the mean: std / sqrt(B)."),
    "exact": st.column_config.NumberColumn("exact (§4)", format="%.4f"),
    "repeats": st.column_config.NumberColumn("B"),
    "n_prompts": st.column_config.NumberColumn("prompts"),
})
