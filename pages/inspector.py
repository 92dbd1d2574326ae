"""Inspector: one prompt at a time.  Which prompts does an RM's top eta handle worst,
where do two RMs disagree, and which responses did each one pick?"""
from __future__ import annotations

from functools import partial

import pandas as pd
import streamlit as st

from pages.ui import data, state, widgets
from reta_core import charts, readings
from reta_core import evaluation as ev

NO_RM = None


def _name(rm) -> str:
    return "— none —" if rm is NO_RM else str(rm)


def _prompt_row_picked(key: str) -> None:
    rows = st.session_state[key].selection.rows
    if rows:
        st.session_state["prompt"] = st.session_state["_insp_listed"][rows[0]]


def _response_row_picked(key: str) -> None:
    rows = st.session_state[key].selection.rows
    if rows:
        st.session_state["resp"] = st.session_state["_insp_response_ids"][rows[0]]


def _point_picked(key: str) -> None:
    points = st.session_state[key].selection.points
    if points:
        picked = points[0].get("customdata")
        st.session_state["resp"] = picked[0] if isinstance(picked, (list, tuple)) else picked


selection = state.page_header("Inspector", " · per-prompt values use the pool estimator (§3)")
view, rms = selection.view, list(selection.rms)

# --------------------------------------------------------------------- RM(s) and eta
state.keep_valid("rm_a", rms, rms[0])
note = state.clean_eta(default=0.1)
pick = st.columns([2, 2, 1])
rm = pick[0].selectbox("Reward model", rms, key="rm_a", persist_state="session")
others = [NO_RM] + [r for r in rms if r != rm]
state.keep_valid("rm_b", others, NO_RM)
rm_b = pick[1].selectbox("Compare with (optional)", others, key="rm_b", format_func=_name,
                         placeholder=_name(NO_RM), persist_state="session",
                         help="A second RM: sort prompts by how much the two disagree and see both RMs' "
                              "picks side by side.")
eta = float(pick[2].number_input("eta", min_value=state.ETA_FLOOR, max_value=1.0, step=0.01, format="%.4g",
                                 key="eta", persist_state="session",
                                 help="The top fraction of each prompt's pool the RM selects."))
if note:
    st.warning(readings.md(note), icon=":material/warning:")
min_pool = selection.evaluation.min_pool_size
if min_pool and eta < 1 / min_pool:
    st.info(readings.min_eta_note(min_pool), icon=":material/info:")

# --------------------------------------------------------------------- prompts
table = data.computed(view, "prompt_table", rm, eta, rm_b)
prompts = data.load_prompts(view.path, view.benchmark, view.stamp)
orders = (["shortfall", "reta", "prompt"] if rm_b is NO_RM
          else ["shortfall", "reta", "gap", "overlap", "prompt"])
state.keep_valid("order", orders, "shortfall")  # the largest shortfall first: where real failures are
filters = st.columns([3, 2])
search = filters[0].text_input("Search prompts", key="_insp_search", placeholder="words of the prompt, or its id")
order = filters[1].selectbox("Sort by", orders, key="order", format_func=readings.PROMPT_ORDER_LABELS.get)
listed = ev.prompt_list(table, prompts, search, order)
if listed.empty:
    st.info(readings.md(f"No prompt matches {search!r}."))
    st.stop()
st.session_state["_insp_listed"] = listed["prompt_id"].astype(str).tolist()
columns = ["prompt_id", "category", "n", "reta", "shortfall"] + (
    [] if rm_b is NO_RM else ["reta_other", "reta_gap", "top_overlap"]) + ["prompt"]
if listed["category"].isna().all():
    columns.remove("category")
# The tables' and the chart's keys change with what they list, so an old selection is not
# shown against a new list.
list_key = f"inspector_prompts_{abs(hash((rm, rm_b, eta, search, order)))}"
st.dataframe(
    listed[columns], hide_index=True, width="stretch", height=280, key=list_key,
    on_select=partial(_prompt_row_picked, list_key), selection_mode="single-row",
    column_config={
        "prompt_id": st.column_config.TextColumn("prompt", pinned=True),
        "n": st.column_config.NumberColumn("responses"),
        "reta": st.column_config.NumberColumn(f"RETA ({rm})", format="%.3f",
                                              help="This prompt's R_q(eta) for the RM (blank: does not count)."),
        "shortfall": st.column_config.NumberColumn(
            "shortfall", format="%.3f",
            help="RETA of the perfect ranking (RM = oracle) on this prompt minus the RM's: how much better "
                 "its top eta could have been."),
        "reta_other": st.column_config.NumberColumn(f"RETA ({_name(rm_b)})", format="%.3f"),
        "reta_gap": st.column_config.NumberColumn("gap", format="%+.3f",
                                                  help="RETA of the first RM minus the second's."),
        "top_overlap": st.column_config.NumberColumn("top overlap", format="%.2f",
                                                     help="Responses in both RMs' top eta / in either (Jaccard)."),
        "prompt": st.column_config.TextColumn("text", width="large"),
    })
st.caption(f"{len(listed)} of {len(table)} prompts, {readings.PROMPT_ORDER_LABELS[order]}. "
           "Select a row, or pick the prompt below.")

ids = st.session_state["_insp_listed"]
asked = st.session_state.get("prompt")
if asked is not None and str(asked) not in set(table["prompt_id"].astype(str)):
    st.warning(readings.md(f"Prompt {str(asked)!r} is not in this benchmark (or category); showing {ids[0]!r}."),
               icon=":material/warning:")
state.keep_valid("prompt", ids, ids[0])
labels = dict(zip(ids, listed["prompt"].fillna("").map(lambda t: ev.preview(t, 90))))
prompt_id = st.selectbox("Prompt", ids, key="prompt", persist_state="session",
                         format_func=lambda p: f"{p} · {labels.get(p, '')}")
row = listed[listed["prompt_id"].astype(str) == prompt_id].iloc[0]

# --------------------------------------------------------------------- the chosen prompt
texts = data.load_responses(view.path, view.benchmark, prompt_id, view.stamp)
responses = ev.with_texts(data.computed(view, "prompt_responses", rm, int(row["prompt_index"]), eta), texts)
st.code("" if pd.isna(row["prompt"]) else str(row["prompt"]), language="markdown", wrap_lines=True)
if texts["response"].isna().all():
    st.info("This benchmark carries no response texts (it was imported without them, e.g. RewardMATH without "
            "its texts file): ranks and scores are shown, the responses' texts are not.", icon=":material/info:")
facts = st.columns(4)
facts[0].metric("Responses", f"{int(row['n'])}")
facts[1].metric("Pool mean oracle score", f"{row['mu']:.3f}")
facts[2].metric("Top-eta oracle mean", f"{ev.top_eta_oracle_mean(responses):.3f}",
                help=f"Mean oracle score of {readings.md(rm)}'s top eta of this pool, T_q(eta) (§3).")
facts[3].metric("RETA of this prompt", "does not count" if pd.isna(row["reta"]) else f"{row['reta']:.3f}",
                help=f"R_q(eta) of {readings.md(rm)} on this prompt (§3).")

prompt_key = abs(hash((rm, eta, prompt_id)))
left, right = st.columns([1, 1])
with left:
    scatter = charts.inspector_scatter(responses, selection.colors.get(rm, "#1F77B4"),
                                       cut_score=ev.cut_score(responses))
    scatter.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.2, x=0), margin=dict(b=40),
                          height=520)
    chart_key = f"inspector_scatter_{prompt_key}"
    st.plotly_chart(scatter, key=chart_key, on_select=partial(_point_picked, chart_key),
                    selection_mode="points")
    st.caption("Click a point to open that response.")
with right:
    st.session_state["_insp_response_ids"] = responses["response_id"].astype(str).tolist()
    table_key = f"inspector_responses_{prompt_key}"
    st.dataframe(
        responses[["rank", "rm_score", "oracle_score", "in_top", "weight", "preview"]],
        hide_index=True, width="stretch", height=480, key=table_key,
        on_select=partial(_response_row_picked, table_key), selection_mode="single-row",
        column_config={
            "rank": st.column_config.NumberColumn("rank", format="%.1f", width=48,
                                                  help="Position in the RM's order (mid rank of its tie "
                                                       "block, §2)."),
            "rm_score": st.column_config.NumberColumn("RM score", format="%.3f"),
            "oracle_score": st.column_config.NumberColumn("oracle", format="%.3f"),
            "in_top": st.column_config.CheckboxColumn("top eta", help="Inside the RM's top eta."),
            "weight": st.column_config.NumberColumn("weight", format="%.2f",
                                                    help="Its share of the top-eta mass (1 = wholly inside)."),
            "preview": st.column_config.TextColumn("start of the text", width="large"),
        })
widgets.download_buttons("Responses", responses, scatter, key="inspector_responses_export")

# --------------------------------------------------------------------- one response, as text
response_ids = st.session_state["_insp_response_ids"]
state.keep_valid("resp", response_ids, response_ids[0])
by_id = responses.set_index(responses["response_id"].astype(str))


def _response_label(rid: str) -> str:
    r = by_id.loc[rid]
    return (f"#{r['position']:.0f} · {rid} · RM {r['rm_score']:.3f} · oracle {r['oracle_score']:.3f}"
            + (" · in the top eta" if r["in_top"] else ""))


opened = st.selectbox("Response", response_ids, key="resp", format_func=_response_label)
st.code(by_id.loc[opened, "text"], language="markdown", wrap_lines=True)
st.caption("Shown as plain text: markdown and HTML in a response are not rendered.")

# --------------------------------------------------------------------- two RMs side by side
if rm_b is not NO_RM:
    st.subheader(f"{readings.md(rm)} vs {readings.md(rm_b)} on this prompt")
    responses_b = ev.with_texts(data.computed(view, "prompt_responses", rm_b, int(row["prompt_index"]), eta), texts)
    means = {rm: ev.top_eta_oracle_mean(responses), rm_b: ev.top_eta_oracle_mean(responses_b)}
    sides = st.columns(2)
    for side, (this, mine, theirs, other) in zip(sides, ((rm, responses, responses_b, rm_b),
                                                         (rm_b, responses_b, responses, rm))):
        picks = ev.top_eta_picks(mine, theirs)
        with side:
            st.metric(f"{readings.md(this)}: top-eta oracle mean", f"{means[this]:.3f}",
                      delta=f"{means[this] - means[other]:+.3f} vs {other}")
            st.dataframe(picks[["position", "response_id", "rm_score", "oracle_score", "weight", "shared",
                                "preview"]], hide_index=True, width="stretch", key=f"inspector_picks_{this}",
                         column_config={
                             "position": st.column_config.NumberColumn("#", format="%d"),
                             "response_id": st.column_config.TextColumn("response"),
                             "rm_score": st.column_config.NumberColumn("RM score", format="%.3f"),
                             "oracle_score": st.column_config.NumberColumn("oracle", format="%.3f"),
                             "weight": st.column_config.NumberColumn("weight", format="%.2f"),
                             "shared": st.column_config.CheckboxColumn("shared",
                                                                       help=f"Also in {readings.md(other)}'s top eta."),
                             "preview": st.column_config.TextColumn("start of the text", width="large"),
                         })
    st.caption(f"Top-eta overlap (in both / in either): {row['top_overlap']:.2f}. "
               "Ticked: picked by both RMs.")
