"""Names are data (issue 13, finding 3): benchmark, oracle, RM, category and prompt
names and URL parameters reach every page as literal text, never as Markdown or HTML.

The Markdown source of every element that renders Markdown (text, captions, alerts,
titles, metric labels and help, widget labels and help) is checked: no hostile name
appears unescaped; the escaped form (``readings.md``) appears where the name is shown."""
from __future__ import annotations

import numpy as np
import pytest
import streamlit as st

from reta_core import readings
from reta_core.demo import generate_demo
from reta_core.ingest import import_frame
from reta_core.store import Store
from tests.apptest import app, no_errors

IMAGE = "![x](http://127.0.0.1:1/t.png)"
PHISH = "[PHISH](http://evil)"
BOLD_HTML = "<b>x</b>"
LINK_HTML = "<a href=x>y</a>"
BOLD = "**bold**"
CODE = "`code`"
HOSTILE = (IMAGE, PHISH, BOLD_HTML, LINK_HTML, BOLD, CODE)
BENCH, ORACLE = IMAGE, BOLD
RMS = {"strong_rm": PHISH, "noisy_small_rm": BOLD_HTML, "reward_hacked_rm": LINK_HTML,
       "length_biased_rm": CODE}
PAGES = ["pages/leaderboard.py", "pages/curves.py", "pages/inspector.py", "pages/reliability.py",
         "pages/stability.py", "pages/data.py"]


@pytest.fixture()
def hostile_db(tmp_path, monkeypatch):
    demo = generate_demo(n_prompts=30, n_responses=8)
    frame = demo.frame.rename(columns={**RMS, demo.oracle_columns[0]: ORACLE})
    cats = frame["category"].astype(str)
    frame["category"] = np.where(cats == cats.iloc[0], LINK_HTML, PHISH)
    frame["prompt_id"] = frame["prompt_id"].astype(str) + " " + IMAGE
    path = tmp_path / "hostile.duckdb"
    import_frame(Store(path), frame, BENCH, [ORACLE] + demo.oracle_columns[1:],
                 [RMS.get(c, c) for c in demo.rm_columns])
    monkeypatch.setenv("RETA_DB", str(path))
    st.cache_data.clear()
    st.cache_resource.clear()
    return path


def markdown_sources(at) -> list[str]:
    """Every string of the last run that Streamlit renders as Markdown."""
    texts = []
    for kind in ("markdown", "caption", "info", "warning", "error", "success", "title", "header",
                 "subheader", "exception"):
        texts += [str(e.value) for e in getattr(at, kind)]
    for kind in ("metric", "checkbox", "button", "toggle", "selectbox", "multiselect", "text_input",
                 "number_input", "select_slider", "radio", "expander"):
        for e in getattr(at, kind, []):
            for attr in ("label", "help"):
                value = getattr(e, attr, None) or getattr(getattr(e, "proto", None), attr, None)
                if isinstance(value, str):
                    texts.append(value)
    return texts


def assert_literal(at) -> list[str]:
    texts = markdown_sources(at)
    for text in texts:
        for name in HOSTILE:
            assert name not in text, (name, text)
    return texts


@pytest.mark.parametrize("page", PAGES)
def test_hostile_names_are_escaped_on_every_page(hostile_db, page):
    at = app(page)
    at.session_state["bench"] = BENCH
    at.session_state["rm"] = list(RMS.values())
    at.run()
    no_errors(at)
    texts = assert_literal(at)
    shown = " ".join(texts)
    assert readings.md(BENCH) in shown  # the benchmark's name is shown, escaped
    if page != "pages/data.py":
        assert readings.md(ORACLE) in shown


def test_hostile_url_parameters_are_shown_as_text(hostile_db):
    at = app("pages/inspector.py")
    for key, value in {"bench": PHISH, "rm": BOLD_HTML, "oracle": IMAGE, "cat": LINK_HTML,
                       "norm": CODE, "prompt": "[PHISH: session expired, log in](http://evil)"}.items():
        at.query_params[key] = value
    at.run()
    no_errors(at)
    texts = assert_literal(at)
    assert all("](http://evil)" not in t for t in texts)
    warnings = " ".join(w.value for w in at.warning)
    assert "\\[PHISH: session expired, log in](http\u2060\\://evil)" in warnings


def test_a_category_and_rm_comparison_stay_literal(hostile_db):
    at = app("pages/reliability.py")
    at.session_state["bench"] = BENCH
    at.session_state["cat"] = LINK_HTML
    at.session_state["rm"] = list(RMS.values())
    at.run()
    no_errors(at)
    assert readings.md(LINK_HTML) in " ".join(assert_literal(at))
    at = app("pages/inspector.py")
    at.session_state["bench"] = BENCH
    at.session_state["rm"] = list(RMS.values())
    at.session_state["rm_a"], at.session_state["rm_b"] = PHISH, BOLD_HTML
    at.run()
    no_errors(at)
    texts = assert_literal(at)
    assert any(readings.md(PHISH) in t and readings.md(BOLD_HTML) in t for t in texts)


def test_md_escapes_what_streamlit_would_render():
    assert readings.md(IMAGE) == "!\\[x](http\u2060\\://127.0.0.1\\:1/t.png)"
    assert readings.md(PHISH) == "\\[PHISH](http\u2060\\://evil)"
    assert readings.md(BOLD_HTML) == r"\<b>x\</b>"
    assert readings.md(LINK_HTML) == r"\<a href=x>y\</a>"
    assert readings.md(BOLD) == r"\*\*bold\*\*"
    assert readings.md(CODE) == r"\`code\`"
    assert readings.md("a\nb # c\n\n- d") == r"a b # c - d"
    assert readings.md("# title") == r"\# title" and readings.md("1. item") == r"1\. item"
    assert readings.md("> quote") == r"\> quote" and readings.md("eta in (0, 1]") == "eta in (0, 1]"
    assert readings.md(":red[x] $y$ www.evil.com a@b.c &amp; _http://e") == \
        "\\:red\\[x] \\$y\\$ www\u2060\\.evil.com a\\@\u2060b.c \\&amp; \\_http\u2060\\://e"
    assert readings.md("strong_rm: plain text, it's 1.5 (ok)") == "strong_rm: plain text, it's 1.5 (ok)"


# ------------------------------------------------------------------ charts and exports
def _strings(value, key=None):
    """Every string a plotly figure renders (customdata, ids and groups are not shown)."""
    if key in ("customdata", "legendgroup", "uid", "ids", "meta"):
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, k)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _strings(v, key)
    elif isinstance(value, np.ndarray) and value.dtype == object:
        for v in value.ravel():
            yield from _strings(v, key)


@pytest.mark.parametrize("chart", ["curves", "difference", "reliability", "reliability-heatmap",
                                   "stability", "convergence", "category", "inspector", "scores"])
def test_chart_names_titles_axes_and_hover_are_literal_in_figures_and_html(hostile_db, tmp_path,
                                                                           chart):
    import contextlib
    import io

    from reta_core import cli
    from reta_core.store import Store

    prompt = str(Store(hostile_db).load_pool(BENCH, rms=[]).prompt_ids[0])
    out = tmp_path / "chart.html"
    args = ["--db", hostile_db, "export-chart", "--benchmark", BENCH, "--out", out,
            "--chart", chart.split("-")[0], "--rm", PHISH, "--repeats", "20"]
    if chart == "reliability-heatmap":
        args += ["--kind", "heatmap"]
    if chart == "inspector":
        args += ["--prompt", prompt]
    else:
        args += ["--rm", BOLD_HTML]
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        status = cli.main([str(a) for a in args])
    assert status == 0, err.getvalue()
    page = out.read_text()
    for raw in ("\\u003cb\\u003ex", "\\u003ca href", "\\u003cb\\u003e**bold**"):
        assert raw not in page, raw  # no live <b>/<a> from a name in the exported figure
    assert "&lt;b&gt;x&lt;" in page or chart == "inspector"  # the name is there, as text


def test_chart_builders_escape_every_rendered_name():
    import pandas as pd

    from reta_core import charts
    curves = pd.DataFrame({"rm": [PHISH, PHISH, BOLD_HTML, BOLD_HTML], "eta": [0.1, 1, 0.1, 1],
                           "reta": [1.2, 1, 1.1, 1], "ci_low": 0.9, "ci_high": 1.3})
    figures = [charts.curves_figure(curves, {}, title=f"{BENCH} · oracle {BOLD}",
                                    bon=pd.DataFrame({"rm": [LINK_HTML], "n": [4], "bon": [1.1]})),
               charts.category_heatmap(pd.DataFrame({"rm": [PHISH, LINK_HTML], "category": [BOLD_HTML, CODE],
                                                     "reta": [1.0, 1.1], "n_prompts": [3, 4]})),
               charts.histogram_figure(pd.DataFrame({"rm": [LINK_HTML, BOLD_HTML], "score": [1.0, 2.0]}),
                                       "score"),
               charts.inspector_scatter(pd.DataFrame({"response_id": [LINK_HTML, BOLD_HTML], "rank": [1, 2],
                                                      "rm_score": [1.0, 0.5], "oracle_score": [2.0, 1.0],
                                                      "in_top": [True, False], "preview": ["a", "b"]}),
                                        "#123456", title=PHISH)]
    for fig in figures:
        shown = list(_strings(fig.to_plotly_json()))
        for text in shown:
            assert BOLD_HTML not in text and "<a href" not in text, text
    names = [t.name for t in figures[0].data]
    assert "&lt;b&gt;x&lt;/b&gt;" in names and PHISH in names  # Markdown means nothing to plotly
    assert figures[0].layout.title.text == "![x](http://127.0.0.1:1/t.png) · oracle **bold**"
    assert list(figures[1].data[0].y) == ["[PHISH](http://evil)", "&lt;a href=x&gt;y&lt;/a&gt;"]
    assert list(figures[3].data[0].customdata) == [BOLD_HTML]  # a click still names the response
