"""Reliability: where in its ranking can an RM be trusted?  The reliability map (§8),
the optimal quantile of each RM (§7) and RETA at one eta per prompt category."""
from __future__ import annotations

import streamlit as st

from pages.ui import data, state, widgets
from reta_core import charts, readings
from reta_core import evaluation as ev

selection = state.page_header("Reliability")
view, rms = selection.view, tuple(selection.rms)
min_pool = state.require_counted_prompts(selection)

# --------------------------------------------------------------------- reliability map (§8)
st.subheader("Reliability map")
st.caption("Each response sits at its rank percentile in the RM's order (0 = the RM's top pick); per bin, "
           "the mean oracle score relative to its prompt's pool mean (J / mu, whatever the normalisation "
           "chosen), with its 95 % bootstrap band over prompts. A reliable RM falls from left to right; a top "
           "bin significantly below the next ones means its very top picks are worse: reward hacking.")
default_bins = selection.evaluation.default_bins
controls = st.columns([1, 1, 3], vertical_alignment="bottom")
bins = int(controls[0].number_input(
    "Bins", min_value=1, max_value=100, value=default_bins, step=1, key="rel_bins",
    help=f"Equal-width bins of the rank percentile. Default min(20, smallest pool) = {default_bins}: every bin "
         "then gets about as many responses from every prompt (more bins than responses per prompt would "
         "alternate full and nearly empty bins, and draw noise)."))
as_heatmap = controls[1].toggle("Heatmap", key="rel_heatmap",
                                help="One row per RM, values in the cells (blue above the pool mean, red below).")
with st.spinner("Computing the reliability map…"):
    rel = data.computed(view, "reliability_map", rms, bins).table
fig = charts.reliability_figure(rel, selection.colors, kind="heatmap" if as_heatmap else "lines")
st.plotly_chart(fig, width="stretch", key="rel_chart")
st.markdown(readings.md(readings.reliability_reading(ev.top_dips(rel), bins)))
sparse = rel.groupby("bin")["n_responses"].min()
if bins > min_pool:
    st.caption(f"{bins} bins for pools of {min_pool}: some bins get no response of the smallest pools; "
               f"{int((sparse == 0).sum())} bin(s) are empty for some RM and are not drawn.")
widgets.download_buttons("Reliability map", rel, fig, key="reliability_map")

# --------------------------------------------------------------------- optimal quantile (§7)
st.subheader("Optimal quantile")
st.caption("eta* is where the RM's RETA curve peaks (ties to the larger eta, only eta >= 1/min N). "
           "The gain is RETA(eta*) minus RETA at the smallest eta, i.e. over always taking the RM's top pick; "
           "the band is the 95 % bootstrap interval over prompts of RETA(eta*).")
with st.spinner("Finding the optimal quantiles…"):
    optimal = data.computed(view, "optimal_quantiles", rms)
shown = optimal.assign(band=[readings.band(lo, hi) for lo, hi in zip(optimal["ci_low"], optimal["ci_high"])],
                       vs_random=optimal["vs_random"].map(readings.VS_RANDOM_LABELS),
                       gain_band=[readings.band(lo, hi) for lo, hi in zip(optimal["gain_ci_low"],
                                                                               optimal["gain_ci_high"])])
columns = ["rm", "eta_star", "reta_at_eta_star", "band", "vs_random", "eta_min", "reta_at_eta_min", "gain",
           "gain_band"] + (["relative_gain"] if selection.normalization == "ratio" else [])
st.dataframe(
    shown[[c for c in columns if c in shown]],
    hide_index=True, width="stretch", key="rel_optimal",
    column_config={
        "rm": st.column_config.TextColumn("RM", pinned=True),
        "eta_star": st.column_config.NumberColumn("eta*", format="%.3g",
                                                  help="Select uniformly from this top fraction of the RM's ranking."),
        "reta_at_eta_star": st.column_config.NumberColumn("RETA(eta*)", format="%.3f"),
        "band": st.column_config.TextColumn("95 % band", help="Bootstrap over prompts (B = 1000)."),
        "vs_random": st.column_config.TextColumn(
            "vs random", help="Where the 95 % band of RETA(eta*) lies against a random ranking's value: when it "
                              "includes it, the RM is no better than random at any quantile (§7)."),
        "eta_min": st.column_config.NumberColumn("top-pick eta", format="%.3g",
                                                 help="The smallest allowed eta, 1/min N: the RM's top pick."),
        "reta_at_eta_min": st.column_config.NumberColumn("RETA(top pick)", format="%.3f"),
        "gain": st.column_config.NumberColumn("gain", format="%+.3f", help="RETA(eta*) − RETA(top pick)."),
        "gain_band": st.column_config.TextColumn(
            "gain 95 %", help="Paired bootstrap over prompts of R_q(eta*) − R_q(top pick): a gain whose interval "
                              "includes 0 is noise."),
        "relative_gain": st.column_config.NumberColumn("relative gain", format="percent",
                                                       help="RETA(eta*) / RETA(top pick) − 1."),
    })
st.markdown("\n".join(f"- {readings.md(reading)}" for reading in optimal["reading"]))
widgets.download_buttons("Quantiles", optimal, key="optimal_quantiles")

# --------------------------------------------------------------------- RETA by category
st.subheader("RETA by category")
if not selection.info["categories"]:
    st.info(f"Benchmark **{readings.md(selection.benchmark)}** has no prompt categories, so there is nothing to break down.",
            icon=":material/info:")
    st.stop()
note = state.clean_eta(default=0.1)
if note:
    st.warning(readings.md(note), icon=":material/warning:")
eta_cols = st.columns([1, 4], vertical_alignment="bottom")
eta = float(eta_cols[0].number_input("eta", min_value=state.ETA_FLOOR, max_value=1.0, step=0.01, format="%.4g",
                                     key="eta", persist_state="session",
                                     help="The top fraction selected by the RM; shared with the Curves page."))
if selection.category:
    eta_cols[1].caption(f"Only category **{readings.md(selection.category)}** is chosen in the sidebar; choose "
                        f"*{state.ALL_CATEGORIES}* to compare categories.")
if eta < 1 / min_pool - 1e-12:
    st.info(readings.min_eta_note(min_pool), icon=":material/info:")
by_category = data.computed(view, "category_table", eta, rms)
st.caption(f"RETA at eta = {readings.fmt_eta(eta)} of each RM on each category's prompts "
           f"({readings.NORMALIZATION_LABELS[selection.normalization]}); hover a cell for its number of prompts.")
heatmap = charts.category_heatmap(by_category, normalization=selection.normalization)
st.plotly_chart(heatmap, width="stretch", key="rel_category_chart")
with st.expander("Table"):
    st.dataframe(by_category, hide_index=True, width="stretch", key="rel_category_table",
                 column_config={"rm": st.column_config.TextColumn("RM"),
                                "reta": st.column_config.NumberColumn(f"RETA@{readings.fmt_eta(eta)}", format="%.3f"),
                                "n_prompts": st.column_config.NumberColumn("prompts")})
widgets.download_buttons("By category", by_category, heatmap, key="reta_by_category")
