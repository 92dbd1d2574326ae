"""Data: what the database holds, and bring your own RM.

Browse the benchmarks, oracles and RMs (coverage, score distributions, pool sizes,
prompts that do not count); add an RM's scores or a whole benchmark from an uploaded
file (checked by the same validation as the command line, reported before anything
is written); remove an RM or a benchmark.

Writes happen in button callbacks, which run before the next script run: so the
sidebar of that run already lists a new RM (and selects it) or drops a removed one.
"""
from __future__ import annotations

import pandas as pd
import streamlit as st

from pages.ui import data, state, widgets
from reta_core import charts, readings
from reta_core.errors import RetaInputError

FLASH = "_data_flash"      # (kind, message) of the last write, shown once
UPLOADS = "_data_uploads"  # bumped after an import: fresh, empty uploaders
RM_COLUMNS_PRESELECTED = 20  # a wider file's numeric columns are not all RMs by default

selection = state.current()
path, stamp, benchmark = selection.path, selection.stamp, selection.benchmark
info = selection.info
limit_mb = data.max_upload_bytes() // 2**20
st.session_state.setdefault(UPLOADS, 0)


# --------------------------------------------------------------------- writes (callbacks)
def _write(action, message: str | None = None, **updates) -> None:
    """Run ``action()`` (a store write); on success set ``updates`` (session state) and a success flash
    (``message``, or the import report's text), on failure an error flash.  Nothing else
    changes on failure."""
    try:
        report = action()
    except Exception as exc:  # shown by the page like the app's error boundary shows it
        if not isinstance(exc, RetaInputError):
            widgets.log.exception("write failed")
        st.session_state[FLASH] = ("error", exc)
        return
    st.cache_data.clear()
    st.session_state.update(updates)
    st.session_state[FLASH] = ("success", message or report.to_text())


def _import(kind: str, upload, params: dict) -> None:
    updates = {UPLOADS: st.session_state[UPLOADS] + 1}
    if kind == "rm":
        chosen = st.session_state.get("rm")
        if isinstance(chosen, list) and params["rm"] not in chosen:
            updates["rm"] = chosen + [params["rm"]]
    else:
        updates["bench"] = params["name"]
    _write(lambda: data.import_upload(path, kind, upload.name, upload.getvalue(), params), **updates)


def _combine(members: list, name: str, method: str, replace: bool) -> None:
    chosen = st.session_state.get("rm")
    updates = {"data_ensemble_name": ""}
    if isinstance(chosen, list) and name not in chosen:
        updates["rm"] = chosen + [name]
    _write(lambda: data.add_ensemble(path, benchmark, members, name, method, replace), **updates)


def _import_public(fmt: str, uploads: list, paths: tuple, texts, params: dict) -> None:
    _write(lambda: data.import_public(path, fmt, uploads, paths, texts, params),
           **{UPLOADS: st.session_state[UPLOADS] + 1, "bench": params["name"], "public_path": ""})


def _remove_rm(rm: str) -> None:
    chosen = st.session_state.get("rm")
    updates = {f"data_remove_rm_ok_{rm}": False}
    if isinstance(chosen, list) and rm in chosen:
        updates["rm"] = [r for r in chosen if r != rm]
    _write(lambda: data.remove_rm(path, benchmark, rm),
           f"Removed RM {rm!r} and its scores from benchmark {benchmark!r}.", **updates)


def _remove_benchmark(name: str) -> None:
    _write(lambda: data.remove_benchmark(path, name),
           f"Removed benchmark {name!r} with its prompts, responses, oracles and RMs.",
           **{f"data_remove_bench_ok_{name}": False})


def _show_flash() -> None:
    flash = st.session_state.pop(FLASH, None)
    if flash is None:
        return
    kind, payload = flash
    if kind == "success":
        st.success("\n\n".join(map(readings.md, str(payload).splitlines())), icon=":material/check_circle:")
    else:
        widgets.show_error(payload)
        st.caption("Nothing was written.")


def _upload_rules(types: str, commands: str = "`ingest`, `add-scores`") -> None:
    """What an uploader takes, as visible text: the browser refuses a file over the limit
    before sending it, marking it only with a red icon whose reason needs a hover."""
    st.caption(f"{types}; up to {limit_mb} MB a file. A file over {limit_mb} MB is not sent (the browser "
               f"marks it red): import it with the command line ({commands}), which reads files up to "
               f"its own limits ({data.import_limits()}; settings in the README's input formats).")


def _uploaded(label: str, kind: str):
    """An uploader and what the uploaded file holds: (file, description) or (None, None).
    Any file type is let through, so a wrong one is refused by the page in words
    (``ingest.file_suffix``) instead of by the browser with a red icon."""
    upload = st.file_uploader(label, key=f"{kind}_upload_{st.session_state[UPLOADS]}",
                              help=f"CSV, Parquet or JSON Lines, optionally gzipped; up to {limit_mb} MB.")
    _upload_rules("CSV, Parquet or JSON Lines (" + ", ".join(data.FILE_SUFFIXES) + ")")
    if upload is None:
        return None, None
    described = data.describe_upload(upload.file_id, upload.name, upload.getvalue())
    if "error" in described:
        st.error(readings.md(described["error"]), icon=":material/error:")
        st.caption("Nothing was written.")
        return None, None
    columns = described["columns"]
    st.caption(f"**{readings.md(upload.name)}**: {described['rows']:,} rows; columns "
               + ", ".join(readings.md(c) for c in columns["column"]) + ".")
    with st.expander("First rows"):
        st.dataframe(described["preview"], hide_index=True, width="stretch")
    return upload, described


def _check_and_confirm(kind: str, upload, params: dict) -> None:
    """The dry run's report (or its one-line reason) and, when it passed, the confirm button."""
    with st.spinner("Checking the file (nothing is written yet)…"):
        result = data.check_upload(path, stamp, kind, upload.file_id, upload.name, upload.getvalue(), params)
    if "error" in result:
        st.error(readings.md(result["error"]), icon=":material/error:")
        st.caption("Nothing was written. Fix the file or the choices above and upload it again.")
        return
    st.markdown("**Check passed**: this is what the import will do.")
    st.code(result["report"], language=None, wrap_lines=True)
    st.button("Confirm import", type="primary", icon=":material/upload:", key=f"{kind}_confirm",
              on_click=_import, args=(kind, upload, params))


# --------------------------------------------------------------------- page
st.title("Data")
st.caption(f"Database {readings.md(path)} · benchmark **{readings.md(benchmark)}** · oracle "
           f"**{readings.md(selection.oracle)}**"
           + (f" · category **{readings.md(selection.category)}**" if selection.category else ""))
_show_flash()
browse, add_rm, combine, add_benchmark, public, remove = st.tabs(
    ["Browse", "Add an RM", "Combine RMs", "Add a benchmark", "Import a public benchmark", "Remove"])

with browse:
    st.subheader("Benchmarks")
    st.dataframe(data.list_benchmarks(path, stamp), hide_index=True, width="stretch", column_config={
        "name": st.column_config.TextColumn("benchmark", pinned=True),
        "n_prompts": st.column_config.NumberColumn("prompts"),
        "n_responses": st.column_config.NumberColumn("responses"),
        "oracles": st.column_config.ListColumn("oracles"),
        "n_rms": st.column_config.NumberColumn("RMs", help="Baselines included."),
        "created_at": st.column_config.DatetimeColumn("imported (UTC)", format="YYYY-MM-DD HH:mm"),
        "default_oracle": st.column_config.TextColumn("default oracle"),
        "source_file": st.column_config.TextColumn("source"),
    })

    st.subheader(f"Benchmark {readings.md(benchmark)}")
    if info["description"]:
        st.caption(readings.md(info["description"]))
    sizes = info["pool_size"]
    figures = st.columns(4)
    figures[0].metric("Prompts", f"{info['n_prompts']:,}")
    figures[1].metric("Responses", f"{info['n_responses']:,}")
    figures[2].metric("Pool size", f"{sizes['min']}" if sizes["min"] == sizes["max"] else
                      f"{sizes['min']}–{sizes['max']}", help=f"Responses per prompt: min {sizes['min']}, "
                      f"median {sizes['median']}, max {sizes['max']}.")
    figures[3].metric("Categories", f"{len(info['categories'])}" if info["categories"] else "none")
    if info["categories"]:
        st.dataframe(pd.DataFrame({"category": list(info["category_counts"]),
                                   "prompts": list(info["category_counts"].values())}),
                     hide_index=True, width="content")

    st.markdown("**Oracles** (the reference scores)")
    st.dataframe(pd.DataFrame(info["oracles"]), hide_index=True, width="stretch", column_config={
        "name": st.column_config.TextColumn("oracle", pinned=True),
        "n_scored": st.column_config.NumberColumn("scored"),
        "coverage": st.column_config.ProgressColumn("coverage", format="percent", min_value=0, max_value=1),
    })
    st.markdown("**Reward models**")
    rm_table = pd.DataFrame(info["rms"])
    if "description" in rm_table:  # no description: an empty cell, not "None"
        rm_table["description"] = rm_table["description"].fillna("")
    st.dataframe(rm_table, hide_index=True, width="stretch", key="data_rms", column_config={
        "name": st.column_config.TextColumn("RM", pinned=True),
        "description": st.column_config.TextColumn("description", width="large"),
        "is_baseline": st.column_config.CheckboxColumn("baseline", help="Computed from the pool itself, no model."),
        "is_derived": st.column_config.CheckboxColumn("derived", help="An ensemble of other RMs (§11, tab Combine "
                                                      "RMs); its members and method are in its description."),
        "source_file": st.column_config.TextColumn("source"),
        "added_at": st.column_config.DatetimeColumn("added (UTC)", format="YYYY-MM-DD HH:mm"),
        "n_scored": st.column_config.NumberColumn("scored"),
        "coverage": st.column_config.ProgressColumn("coverage", format="percent", min_value=0, max_value=1,
                                                    help="Share of the benchmark's responses with a score."),
    })

    st.subheader("Score distributions")
    st.dataframe(data.computed(selection.view, "score_summary"), hide_index=True, width="stretch", column_config={
        "scorer": st.column_config.TextColumn("oracle / RM", pinned=True),
        "n_scored": st.column_config.NumberColumn("scored"),
        "n_missing": st.column_config.NumberColumn("missing", help="Empty or NaN: such a response does not count."),
        **{c: st.column_config.NumberColumn(c, format="%.3g") for c in ("mean", "std", "min", "median", "max")},
    })
    scorers = [o["name"] for o in info["oracles"]] + selection.all_rms
    scorer = st.selectbox("Distribution of", scorers, key="data_scorer")
    values = data.computed(selection.view, "score_values", (scorer,))
    histogram = charts.histogram_figure(values, "score", by="scorer", colors=selection.colors)
    st.plotly_chart(histogram, width="stretch", key="data_histogram")
    widgets.download_buttons("Scores", values, histogram, key="score_distribution")

    if sizes["min"] != sizes["max"]:
        st.subheader("Pool sizes")
        pools = pd.DataFrame({"pool_size": selection.pool.pool_sizes})
        pool_histogram = charts.histogram_figure(pools, "pool_size", by=None)
        st.plotly_chart(pool_histogram, width="stretch", key="data_pool_sizes")
        widgets.download_buttons("Pool sizes", pools, pool_histogram, key="pool_sizes")

    st.subheader("Prompts that do not count")
    excluded = data.computed(selection.view, "excluded", tuple(selection.all_rms))
    st.caption(f"With oracle **{readings.md(selection.oracle)}** and the {readings.NORMALIZATION_LABELS[selection.normalization]} "
               "normalisation: a prompt counts when at least 2 of its responses have both scores and, for the "
               "ratio, its mean oracle score is above 0 (§1).")
    if excluded.empty:
        st.success("Every prompt counts for every RM.", icon=":material/check_circle:")
    else:
        st.dataframe(excluded, hide_index=True, width="content", key="data_excluded", column_config={
            "rm": st.column_config.TextColumn("RM"), "n_prompts": st.column_config.NumberColumn("prompts")})

with add_rm:
    st.markdown(
        f"Add a reward model's scores to benchmark **{readings.md(benchmark)}**. The file needs a `response_id` column and "
        "one score column; a `prompt_id` column is optional (it must then agree with the benchmark). Every "
        "response_id must be in the benchmark; scoring only part of it is fine (the report gives the coverage). "
        "Empty cells, `NA` and `NaN` are allowed: those responses do not count.")
    st.download_button(f"Template for {readings.md(benchmark)} (CSV)", data.rm_template_csv(path, benchmark, stamp),
                       file_name=f"{benchmark}_rm_template.csv", mime="text/csv", key="data_template",
                       icon=":material/download:",
                       help="The benchmark's prompt_id and response_id with an empty score column to fill in.")
    with_texts = st.columns(2)
    with_texts[0].download_button(
        f"Template with texts for {readings.md(benchmark)} (CSV)", lambda: data.rm_template_texts_csv(path, benchmark, stamp),
        file_name=f"{benchmark}_rm_template_texts.csv", mime="text/csv", key="data_template_texts",
        icon=":material/download:", on_click="ignore",
        help="The template with the prompt and response of every row; upload it back with the score column filled in.")
    with_texts[1].download_button(
        "Download the pool to score (JSON Lines)", lambda: data.pool_file(path, benchmark, stamp),
        file_name=f"{benchmark}_pool.jsonl.gz", mime="application/gzip", key="data_pool", icon=":material/download:",
        on_click="ignore",
        help="prompt_id, response_id, prompt, response, category and messages (the conversation in chat format), "
             "as `python -m reta_core export-pool` writes it. Or score it here: `python -m reta_core score`.")
    st.caption(f"Limits: files up to {limit_mb} MB (server.maxUploadSize). A file that fails any check writes "
               "nothing; the report says why.")
    upload, described = _uploaded("RM score file", "rm")
    if upload is not None:
        choices = [c for c in described["columns"]["column"] if c not in ("response_id", "prompt_id")]
        numeric = set(described["columns"].loc[described["columns"]["numeric"], "column"])
        cols = st.columns([2, 2, 3], vertical_alignment="bottom")
        rm_name = cols[0].text_input("RM name", value=data.upload_stem(upload.name), key=f"rm_name_{upload.file_id}",
                                     max_chars=200)
        score_column = cols[1].selectbox("Score column", choices, key=f"rm_score_{upload.file_id}",
                                         index=next((i for i, c in enumerate(choices) if c in numeric), 0)
                                         if choices else None)
        description = cols[2].text_input("Description (optional)", key=f"rm_description_{upload.file_id}")
        replace = st.checkbox("Replace an RM of that name", key=f"rm_replace_{upload.file_id}")
        if not rm_name.strip():
            st.info("Name the RM.", icon=":material/info:")
        elif not choices:
            st.error(readings.md(f"{upload.name}: no score column; the file has only "
                                 + ", ".join(described["columns"]["column"])), icon=":material/error:")
        else:
            _check_and_confirm("rm", upload, {
                "benchmark": benchmark, "rm": rm_name, "score_column": score_column, "replace": replace,
                "description": description.strip() or None})

with combine:
    st.markdown(
        f"Add a **derived RM** to benchmark **{readings.md(benchmark)}**: an ensemble of stored RMs, computed on the responses "
        "all of them scored (docs/metric.md §11). It is stored like any RM, marked as derived, with its members "
        "and method in its description, and every page treats it like any other RM.")
    members = st.multiselect("Member RMs (two or more)", selection.all_rms, key="data_ensemble_members")
    cols = st.columns([2, 2], vertical_alignment="bottom")
    method = cols[0].selectbox("Method", list(data.ENSEMBLE_METHODS), key="data_ensemble_method",
                               help="; ".join(f"{m}: {h}" for m, h in data.ENSEMBLE_METHOD_HELP.items()) + ".")
    suggested = f"{method}({'+'.join(members)})" if members else ""
    name = cols[1].text_input("Name of the derived RM", key="data_ensemble_name", max_chars=200,
                              placeholder=suggested or None, help="Left empty, the name shown in grey.")
    replace = st.checkbox("Replace an RM of that name", key="data_ensemble_replace")
    st.caption(f"{method}: {data.ENSEMBLE_METHOD_HELP[method]}.")
    if len(members) < data.ENSEMBLE_MIN_MEMBERS:
        st.info(f"Choose at least {data.ENSEMBLE_MIN_MEMBERS} member RMs.", icon=":material/info:")
    else:
        st.button("Add the derived RM", type="primary", icon=":material/join:", key="data_ensemble_add",
                  on_click=_combine, args=(list(members), name if name.strip() else suggested, method, replace))

with add_benchmark:
    st.markdown(
        "Import a whole benchmark: one row per response with columns `prompt_id`, `response_id`, at least one "
        "oracle column and any RM score columns; optional `prompt`, `response`, `category` and `policy`. With "
        "response texts, two baselines that need no model are added (`baseline_length`, `baseline_random`).")
    st.caption(f"Limits: files up to {limit_mb} MB (server.maxUploadSize). A file that fails any check writes "
               "nothing; the report says why.")
    upload, described = _uploaded("Benchmark file", "bench")
    if upload is not None:
        columns = described["columns"]
        reserved = set(data.RESERVED_COLUMNS)
        scores = [c for c, numeric in zip(columns["column"], columns["numeric"]) if numeric and c not in reserved]
        cols = st.columns([2, 3], vertical_alignment="bottom")
        name = cols[0].text_input("Benchmark name", value=data.upload_stem(upload.name), key=f"bench_name_{upload.file_id}",
                                  max_chars=200)
        description = cols[1].text_input("Description (optional)", key=f"bench_description_{upload.file_id}")
        oracle_cols = st.multiselect("Oracle columns (the first is the default oracle)", scores,
                                     key=f"bench_oracles_{upload.file_id}")
        others = [c for c in scores if c not in oracle_cols]
        if len(others) > RM_COLUMNS_PRESELECTED:
            st.caption(f"{len(others):,} numeric columns: none is chosen as an RM until you pick them.")
        rm_cols = st.multiselect("RM columns", others,
                                 default=others if len(others) <= RM_COLUMNS_PRESELECTED else [],
                                 key=f"bench_rms_{upload.file_id}_{'|'.join(oracle_cols)}",
                                 help="Numeric columns other than the oracles; drop numeric metadata columns here.")
        flags = st.columns(2)
        baselines = flags[0].checkbox("Add the baselines", value=True, key=f"bench_baselines_{upload.file_id}",
                                      help="baseline_length and baseline_random (needs a response column).")
        replace = flags[1].checkbox("Replace a benchmark of that name (with all its RMs)",
                                    key=f"bench_replace_{upload.file_id}")
        if not name.strip():
            st.info("Name the benchmark.", icon=":material/info:")
        elif not oracle_cols:
            st.info("Choose at least one oracle column.", icon=":material/info:")
        else:
            _check_and_confirm("benchmark", upload, {
                "name": name, "oracle_cols": oracle_cols, "rm_cols": rm_cols, "replace": replace,
                "description": description.strip() or None, "baselines": baselines})

with public:
    st.markdown(
        "Import a public benchmark from the files its authors published, with the RMs they scored: a real "
        "benchmark with real RMs side by side. The README's *Public benchmarks* section says where to download "
        "each format. Upload the files, or give a path on this server (a file or a folder, searched for the "
        "format's files; `hf://datasets/ORG/NAME/PATH` where huggingface_hub and the network allow).")
    fmt = st.selectbox("Format", list(data.PUBLIC_FORMATS), format_func=data.PUBLIC_FORMATS.get, key="public_format")
    st.caption(f"Layout: {data.PUBLIC_LAYOUTS[fmt]}")
    public_uploads = st.file_uploader("Files", type=list(data.PUBLIC_UPLOAD_TYPES), accept_multiple_files=True,
                                      key=f"public_upload_{fmt}_{st.session_state[UPLOADS]}",
                                      help=f"JSON or Parquet files as published; each up to {limit_mb} MB.")
    _upload_rules("JSON or Parquet files as published (" + ", ".join(f".{t}" for t in data.PUBLIC_UPLOAD_TYPES) + ")",
                  "`import`")
    server_path = st.text_input("…or a path on the server (a file, a folder or hf://datasets/ORG/NAME/PATH)",
                                key="public_path", placeholder="e.g. ~/downloads/RewardMATH_official/results/RewardMATH")
    texts_upload, step = None, None
    if fmt == "rewardmath":
        cols = st.columns([3, 2])
        texts_upload = cols[0].file_uploader("Response texts (optional): RewardMATH's own benchmark file", type=["json"],
                                             key=f"public_texts_{st.session_state[UPLOADS]}",
                                             help="e.g. RewardMATH_direct.json: one object per solution with its steps.")
        step = cols[1].selectbox("Process RMs: per-step scores aggregated by", data.STEP_AGGREGATES,
                                 key="public_step", help="How a process RM's per-step scores become one score "
                                                         "per solution (stated in the RM's description).")
    cols = st.columns([2, 3], vertical_alignment="bottom")
    public_name = cols[0].text_input("Benchmark name", value=fmt, key=f"public_name_{fmt}", max_chars=200)
    public_description = cols[1].text_input("Description (optional)", key="public_description")
    public_replace = st.checkbox("Replace a benchmark of that name (with all its RMs)", key="public_replace")
    paths = tuple(p.strip() for p in [server_path] if p.strip())
    if not public_uploads and not paths:
        st.info("Upload the published files or give a path.", icon=":material/info:")
    elif not public_name.strip():
        st.info("Name the benchmark.", icon=":material/info:")
    else:
        params = {"name": public_name, "step_aggregate": step, "replace": public_replace,
                  "description": public_description.strip() or None}
        files = [(u.name, u.getvalue()) for u in public_uploads]
        texts = (texts_upload.name, texts_upload.getvalue()) if texts_upload is not None else None
        with st.spinner("Reading the files (nothing is written yet)…"):
            result = data.check_public(path, stamp, fmt, tuple(u.file_id for u in public_uploads)
                                       + ((texts_upload.file_id,) if texts_upload is not None else ()),
                                       data.public_listing(fmt, paths), files, paths, texts, params)
        if "error" in result:
            st.error(readings.md(result["error"]), icon=":material/error:")
            st.caption("Nothing was written. Fix the files or the choices above and try again.")
        else:
            st.markdown("**Check passed**: this is what the import will do.")
            st.code(result["report"], language=None, wrap_lines=True)
            st.button("Confirm import", type="primary", icon=":material/upload:", key="public_confirm",
                      on_click=_import_public, args=(fmt, files, paths, texts, params))

with remove:
    st.markdown(f"**Remove an RM** from benchmark **{readings.md(benchmark)}**")
    rm = st.columns(2)[0].selectbox("RM", selection.all_rms, key="data_remove_rm")
    if rm is not None:
        sure = st.checkbox(f"I understand: this deletes RM **{readings.md(rm)}** and its scores.", key=f"data_remove_rm_ok_{rm}")
        st.button("Remove RM", disabled=not sure, icon=":material/delete:", key="data_remove_rm_button",
                  on_click=_remove_rm, args=(rm,))
    st.divider()
    st.markdown("**Remove a benchmark**")
    names = data.benchmark_names(path, stamp)
    doomed = st.columns(2)[0].selectbox("Benchmark", names, index=names.index(benchmark), key="data_remove_bench")
    sure = st.checkbox(f"I understand: this deletes benchmark **{readings.md(doomed)}** with all its prompts, responses, "
                       "oracles and RMs.", key=f"data_remove_bench_ok_{doomed}")
    st.button("Remove benchmark", disabled=not sure, icon=":material/delete_forever:", key="data_remove_bench_button",
              on_click=_remove_benchmark, args=(doomed,))
    st.caption("When the last benchmark is removed, the demo benchmark is built again.")
