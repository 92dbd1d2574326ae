"""Leaderboard: which RM is most reliable?  Key figures, one row per RM, sorted by
RETA(eta*) (the sort column sits right after the RM), and a link to its curves."""
from __future__ import annotations

import streamlit as st

from pages.ui import data, state, widgets
from reta_core import charts, readings
from reta_core import evaluation as ev

selection = state.page_header("Leaderboard")

board = data.kept(selection.view, "leaderboard", (tuple(selection.rms),))
if board is None:
    bar = st.progress(0.0, text="Computing the leaderboard…")
    board = data.leaderboard(selection.view, tuple(selection.rms),
                             progress=widgets.progress_callback(bar, "Computing the leaderboard, RMs done"))
    bar.empty()
table, curves, excluded, n, min_pool = board.table, board.curves, board.excluded, board.n, board.min_pool_size
help_text = readings.column_help(selection.normalization)

pool = selection.pool
sizes = pool.pool_sizes
figures = st.columns(4)
figures[0].metric("Prompts", f"{pool.n_prompts:,}")
figures[1].metric("Responses per prompt",
                  f"{sizes.min()}" if sizes.min() == sizes.max() else f"{sizes.min()}–{sizes.max()}")
figures[2].metric("RMs", f"{len(selection.rms)}", help=f"Judged by the oracle {readings.md(selection.oracle)}.")
n_excluded = int(excluded.groupby("reason")["n_prompts"].max().sum()) if len(excluded) else 0
figures[3].metric("Excluded prompts", f"{n_excluded:,}",
                  help=readings.md("Prompts that do not count for at least one RM. " + readings.excluded_summary(excluded)))
if n_excluded:
    st.caption(readings.md(readings.excluded_summary(excluded)))

weak = ev.rms_not_beating_length(table)
if weak:
    st.warning("Not clearly better than the response-length baseline at their best quantile (the 95 % band of "
               "RETA(eta*) does not lie above the baseline's): " + ", ".join(map(readings.md, weak))
               + ". A useful RM should beat a scorer that only counts characters.", icon=":material/warning:")

# the sparklines: each RM's curve in its own colour, all on one y-scale
spark = charts.sparkline_values(curves)
y_range = charts.sparkline_range(spark)
shown = table.assign(curve=[charts.sparkline_svg(spark.get(rm, []), selection.colors.get(rm, "#1F77B4"), y_range)
                            for rm in table["rm"]])
has_bands = "reta_at_eta_star_low" in shown
columns = ["rm", "reta_at_eta_star"] + (["reta_at_eta_star_band"] if has_bands else []) + [
    "eta_star", "gain", "curve"]
config = {
    "rm": st.column_config.TextColumn("RM", help=help_text["rm"], pinned=True),
    "reta_at_eta_star": st.column_config.NumberColumn("RETA(eta*) ↓", help=help_text["reta_at_eta_star"],
                                                      format="%.3f", width="small"),
    "reta_at_eta_star_band": st.column_config.TextColumn("95 % band", help="Bootstrap over prompts (B = 1000)."),
    "eta_star": st.column_config.NumberColumn("eta*", help=help_text["eta_star"], format="%.3f", width="small"),
    "gain": st.column_config.NumberColumn("gain", help=help_text["gain"], format="%+.3f", width="small"),
    "curve": st.column_config.ImageColumn("RETA curve", width="small",
                                          help="RETA over eta (log-spaced, left = top pick); every row on the same "
                                               "scale, in the RM's colour."),
}
if has_bands:
    shown["reta_at_eta_star_band"] = [readings.band(lo, hi) for lo, hi in
                                      zip(shown["reta_at_eta_star_low"], shown["reta_at_eta_star_high"])]
for eta in ev.LEADERBOARD_ETAS:
    col = ev.eta_label(eta)
    columns.append(col)
    config[col] = st.column_config.NumberColumn(f"RETA@{eta:g}", help=help_text[col], format="%.3f", width="small")
    if f"{col}_low" in shown:
        shown[f"{col}_band"] = [readings.band(lo, hi) for lo, hi in zip(shown[f"{col}_low"], shown[f"{col}_high"])]
        columns.append(f"{col}_band")
        config[f"{col}_band"] = st.column_config.TextColumn("95 % band", help="Bootstrap over prompts (B = 1000).")
derived = ["is_derived"] if shown["is_derived"].any() else []  # a column only when there is one
columns += ["bon", "pairwise_accuracy", "spearman", "kendall", "n_prompts", "is_baseline"] + derived
config.update({
    "bon": st.column_config.NumberColumn(f"BoN@{n}", help=help_text["bon"], format="%.3f"),
    "pairwise_accuracy": st.column_config.NumberColumn("pairwise acc.", help=help_text["pairwise_accuracy"],
                                                       format="%.3f"),
    "spearman": st.column_config.NumberColumn("Spearman", help=help_text["spearman"], format="%.3f"),
    "kendall": st.column_config.NumberColumn("Kendall", help=help_text["kendall"], format="%.3f"),
    "n_prompts": st.column_config.NumberColumn("prompts", help=help_text["n_prompts"], format="%d"),
    "is_baseline": st.column_config.CheckboxColumn("baseline", width="small",
                                                   help="Computed from the pool itself (length, seeded random)."),
    "is_derived": st.column_config.CheckboxColumn("derived", width="small",
                                                  help="An ensemble of other RMs (§11); its members and method are "
                                                       "in its description on the Data page."),
})
columns = [c for c in columns if c in shown]
event = st.dataframe(shown[columns], column_config=config, hide_index=True, width="stretch",
                     on_select="rerun", selection_mode="single-row", key="leaderboard_table")
picked = event.selection.rows if event is not None else []
if picked:
    rm = shown["rm"].iloc[picked[0]]
    st.page_link("pages/curves.py", label=f"Open the curves of {readings.md(rm)}", icon=":material/show_chart:",
                 query_params=state.page_params(rm=[rm]))
else:
    st.caption("Sorted by RETA(eta*), highest first. Select a row to open that RM on the Curves page; click a "
               "column header to sort by it.")

widgets.download_buttons("Leaderboard", table, key="leaderboard")
if min_pool and min(ev.LEADERBOARD_ETAS) < 1 / min_pool:
    st.caption(readings.min_eta_note(min_pool))
if board.without_bon:
    st.caption(readings.no_bon_note(map(readings.md, board.without_bon), n, "the Stability page shows BoN at smaller n"))

st.markdown("**What the columns mean**")
st.markdown("\n".join(f"- **{label.replace('*', chr(92) + '*')}**: {help_text[col]}" for col, label in (
    ("reta_at_eta_star", "RETA(eta*)"), ("eta_star", "eta*"), ("gain", "gain"), ("reta_0.05", "RETA@eta"),
    ("bon", f"BoN@{n}"), ("pairwise_accuracy", "pairwise acc."), ("spearman", "Spearman"), ("kendall", "Kendall"),
    ("n_prompts", "prompts"))))
