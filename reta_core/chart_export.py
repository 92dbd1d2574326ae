"""Every chart the dashboard draws, built from an :class:`~reta_core.evaluation.Evaluation`
for ``export-chart``: the same data and the same figure builder (:mod:`reta_core.charts`)
as the page, and the table behind it (its CSV).

One function per chart, each returning ``(figure, table)``; :data:`CHARTS` names them.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from . import charts
from .errors import RetaInputError, show
from .prompts import cut_score, with_texts


@dataclass
class ChartOptions:
    """What a chart needs besides the evaluation (each chart reads its own fields)."""

    rms: list | None = None          # the RMs drawn (default: all); two for 'difference', one for 'inspector'
    colors: dict | None = None       # the benchmark's stable colours (charts.rm_colors of all its RMs)
    estimator: str = "pool"          # curves: pool or exact
    n: int | None = None             # curves: the exact estimator's n
    eta: float | None = None         # a marker (curves, difference), or the eta of category/stability/inspector
    bins: int | None = None          # reliability: number of bins (default min(20, min N))
    kind: str = "lines"              # reliability: lines or heatmap
    repeats: int = 200               # stability, convergence: resamples per n
    seed: int = 0
    metric: str = "std"              # stability: std or cv
    prompt: str | None = None        # inspector: the prompt id
    texts: pd.DataFrame | None = None  # inspector: response_id, response (the store's texts)
    title: str | None = None
    progress: object = None


def _title(ev, what: str, options: ChartOptions) -> str:
    """The chart's title, raw: the builders' ``title=`` escapes it (charts.plot_text);
    a title set afterwards with ``update_layout`` is escaped there."""
    if options.title is not None:
        return options.title
    where = f", category {ev.category}" if ev.category else ""
    return f"{what}: {ev.benchmark}{where} (oracle {ev.oracle}, {ev.normalization})"


def curves(ev, o: ChartOptions):
    data = ev.curves_chart(o.rms, estimator=o.estimator, n=o.n, ci=True,
                           include=() if o.eta is None else (o.eta,), progress=o.progress)
    estimator = f"exact at n = {data.n}" if o.estimator == "exact" else "pool estimator"
    fig = charts.curves_figure(data.curves, o.colors, perfect=data.perfect, min_eta=data.min_eta,
                               marker_eta=o.eta, normalization=ev.normalization, bon=data.bon,
                               title=_title(ev, f"RETA curves ({estimator})", o))
    return fig, data.table()


def difference(ev, o: ChartOptions):
    if not o.rms or len(o.rms) != 2:
        raise RetaInputError("the difference chart compares two RMs: give --rm A --rm B")
    table = ev.compare(o.rms[0], o.rms[1]).table
    return charts.difference_figure(table, marker_eta=o.eta,
                                    title=_title(ev, f"{o.rms[0]} vs {o.rms[1]}", o)), table


def reliability(ev, o: ChartOptions):
    table = ev.reliability_map(o.rms, o.bins).table
    fig = charts.reliability_figure(table, o.colors, kind=o.kind)
    return fig.update_layout(title=charts.plot_text(_title(ev, "Reliability map", o))), table


def stability(ev, o: ChartOptions):
    table = ev.stability(_eta(o), o.rms, repeats=o.repeats, seed=o.seed, progress=o.progress)
    fig = charts.stability_figure(table, o.colors, metric=o.metric)
    return fig.update_layout(title=charts.plot_text(_title(ev, f"Stability at eta = {_eta(o):g}", o))), table


def convergence(ev, o: ChartOptions):
    table = ev.stability(_eta(o), o.rms, repeats=o.repeats, seed=o.seed, progress=o.progress)
    fig = charts.convergence_figure(table, o.colors)
    return fig.update_layout(title=charts.plot_text(_title(ev, f"Convergence at eta = {_eta(o):g}", o))), table


def category(ev, o: ChartOptions):
    table = ev.category_table(_eta(o), o.rms)
    fig = charts.category_heatmap(table, normalization=ev.normalization)
    return fig.update_layout(title=charts.plot_text(_title(ev, f"RETA at eta = {_eta(o):g} by category", o))), table


def inspector(ev, o: ChartOptions):
    if not o.rms or len(o.rms) != 1:
        raise RetaInputError("the inspector chart shows one RM: give --rm NAME")
    if o.prompt is None:
        raise RetaInputError("the inspector chart shows one prompt: give --prompt ID")
    ids = [str(p) for p in ev.pool.prompt_ids]
    if str(o.prompt) not in ids:
        raise RetaInputError(f"unknown prompt {show(o.prompt)} in benchmark {show(ev.benchmark)}")
    rm = o.rms[0]
    responses = ev.prompt_responses(rm, ids.index(str(o.prompt)), _eta(o))
    texts = o.texts if o.texts is not None else pd.DataFrame({"response_id": [], "response": []})
    responses = with_texts(responses, texts)
    fig = charts.inspector_scatter(responses, (o.colors or {}).get(rm, charts.PALETTE[0]),
                                   cut_score=cut_score(responses),
                                   title=_title(ev, f"{rm} on prompt {o.prompt} at eta = {_eta(o):g}", o))
    return fig, responses.drop(columns=["text"])


def scores(ev, o: ChartOptions):
    names = o.rms if o.rms else [ev.oracle] + ev.rms
    table = ev.score_values(names)
    fig = charts.histogram_figure(table, "score", by="scorer", colors=o.colors)
    return fig.update_layout(title=charts.plot_text(_title(ev, "Score distributions", o))), table


def _eta(o: ChartOptions) -> float:
    return 0.1 if o.eta is None else float(o.eta)


CHARTS = {"curves": curves, "difference": difference, "reliability": reliability, "stability": stability,
          "convergence": convergence, "category": category, "inspector": inspector, "scores": scores}


def build(ev, chart: str, options: ChartOptions):
    """``(figure, table)`` of ``chart`` (one of :data:`CHARTS`)."""
    if chart not in CHARTS:
        raise RetaInputError(f"unknown chart {show(chart)}; choose one of {', '.join(CHARTS)}")
    return CHARTS[chart](ev, options)
