"""Leaderboard: which RM is most reliable?  Key figures, one row per RM, and a link to
its curves."""
from __future__ import annotations

import streamlit as st

from pages.ui import data, state, widgets
from reta_core import readings
from reta_core import evaluation as ev

selection = state.current()
st.title("Leaderboard")
st.caption(f"Benchmark **{selection.benchmark}** · oracle **{selection.oracle}** · "
           f"{readings.NORMALIZATION_LABELS[selection.normalization]}"
           + (f" · category **{selection.category}**" if selection.category else ""))
state.require_rms(selection)

board = data.kept(selection.view, "leaderboard", (tuple(selection.rms),))
if board is None:
    bar = st.progress(0.0, text="Computing the leaderboard…")
    board = data.leaderboard(selection.view, tuple(selection.rms),
                             progress=widgets.progress_callback(bar, "Computing the leaderboard, RMs done"))
    bar.empty()
table, curves, excluded, n, min_pool = board.table, board.curves, board.excluded, board.n, board.min_pool_size

info = selection.info
pool = selection.pool
sizes = pool.pool_sizes
figures = st.columns(4)
figures[0].metric("Prompts", f"{pool.n_prompts:,}")
figures[1].metric("Responses per prompt",
                  f"{sizes.min()}" if sizes.min() == sizes.max() else f"{sizes.min()}–{sizes.max()}")
figures[2].metric("RMs", f"{len(selection.rms)}", help=f"Judged by the oracle {selection.oracle}.")
n_excluded = int(excluded.groupby("reason")["n_prompts"].max().sum()) if len(excluded) else 0
figures[3].metric("Excluded prompts", f"{n_excluded:,}",
                  help="Prompts that do not count for at least one RM. " + readings.excluded_summary(excluded))
if n_excluded:
    st.caption(readings.excluded_summary(excluded))

weak = ev.rms_not_beating_length(table)
if weak:
    st.warning(f"Not better than the response-length baseline at their best quantile: "
               f"**{', '.join(weak)}**. A useful RM should beat a scorer that only counts characters.",
               icon=":material/warning:")

shown = widgets.sparkline_column(table, curves)
derived = ["is_derived"] if shown["is_derived"].any() else []  # a column only when there is one
columns = ["rm", "is_baseline"] + derived + ["curve"]
config = {
    "rm": st.column_config.TextColumn("RM", help=readings.COLUMN_HELP["rm"], pinned=True),
    "is_baseline": st.column_config.CheckboxColumn("baseline", width="small",
                                                   help="Computed from the pool itself (length, seeded random)."),
    "is_derived": st.column_config.CheckboxColumn("derived", width="small",
                                                  help="An ensemble of other RMs (§11); its members and method are "
                                                       "in its description on the Data page."),
    "curve": st.column_config.LineChartColumn("RETA curve", help="RETA over eta (log-spaced, left = top pick).",
                                              width="small"),
}
for eta in ev.LEADERBOARD_ETAS:
    col = ev.eta_label(eta)
    if f"{col}_low" in shown:
        shown[f"{col}_band"] = [f"{lo:.3f}–{hi:.3f}" for lo, hi in zip(shown[f"{col}_low"], shown[f"{col}_high"])]
        columns += [col, f"{col}_band"]
        config[f"{col}_band"] = st.column_config.TextColumn("95 % band", help="Bootstrap over prompts (B = 1000).")
    else:
        columns.append(col)
    config[col] = st.column_config.NumberColumn(f"RETA@{eta:g}", help=readings.COLUMN_HELP[col], format="%.3f")
columns += ["eta_star", "reta_at_eta_star", "gain", "bon", "pairwise_accuracy", "spearman", "kendall", "n_prompts"]
config.update({
    "eta_star": st.column_config.NumberColumn("eta*", help=readings.COLUMN_HELP["eta_star"], format="%.3f"),
    "reta_at_eta_star": st.column_config.NumberColumn("RETA(eta*)", help=readings.COLUMN_HELP["reta_at_eta_star"],
                                                      format="%.3f"),
    "gain": st.column_config.NumberColumn("gain", help=readings.COLUMN_HELP["gain"], format="%+.3f"),
    "bon": st.column_config.NumberColumn(f"BoN@{n}", help=readings.COLUMN_HELP["bon"], format="%.3f"),
    "pairwise_accuracy": st.column_config.NumberColumn("pairwise acc.", help=readings.COLUMN_HELP["pairwise_accuracy"],
                                                       format="%.3f"),
    "spearman": st.column_config.NumberColumn("Spearman", help=readings.COLUMN_HELP["spearman"], format="%.3f"),
    "kendall": st.column_config.NumberColumn("Kendall", help=readings.COLUMN_HELP["kendall"], format="%.3f"),
    "n_prompts": st.column_config.NumberColumn("prompts", help=readings.COLUMN_HELP["n_prompts"]),
})
event = st.dataframe(shown[columns], column_config=config, hide_index=True, width="stretch",
                     on_select="rerun", selection_mode="single-row", key="leaderboard_table")
picked = event.selection.rows if event is not None else []
if picked:
    rm = shown["rm"].iloc[picked[0]]
    st.page_link("pages/curves.py", label=f"Open the curves of {rm}", icon=":material/show_chart:",
                 query_params=state.page_params(rm=[rm]))
else:
    st.caption("Select a row to open that RM on the Curves page. Click a column header to sort.")

widgets.download_buttons("Leaderboard", table, key="leaderboard")
if min_pool and min(ev.LEADERBOARD_ETAS) < 1 / min_pool:
    st.caption(readings.min_eta_note(min_pool))

st.markdown("**What the columns mean**")
st.markdown("\n".join(f"- **{label.replace('*', chr(92) + '*')}**: {readings.COLUMN_HELP[col]}" for col, label in (
    ("reta_0.05", "RETA@eta"), ("eta_star", "eta*"), ("reta_at_eta_star", "RETA(eta*)"), ("gain", "gain"),
    ("bon", f"BoN@{n}"), ("pairwise_accuracy", "pairwise acc."), ("spearman", "Spearman"), ("kendall", "Kendall"),
    ("n_prompts", "prompts"))))
