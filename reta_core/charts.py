"""Figure builders: one pure function per chart, tidy DataFrame in, ``go.Figure`` out.

The DataFrame a builder takes is the same table the page offers as the chart's CSV, so
a figure never shows a number its CSV does not hold.  Inputs are the tidy tables of
:mod:`reta_core.metrics` (``reta_curves``, ``compare_rms``, ``reliability_map``,
``resample_reta`` ...); see each builder for the columns it reads.

Colours: :func:`rm_colors` is called with ALL RMs of a benchmark, in the benchmark's
order, and the resulting dict is passed to every builder, so an RM keeps one colour on
every page and in every export whichever subset is shown.  Baselines (names starting
with ``baseline_``) are grey and dashed; derived RMs (ensembles, docs/metric.md §11,
named to :func:`rm_colors` with ``derived``) are dotted.

All figures share one look (:func:`_style`): ``plotly_white``, 14 px text, the title
top-left above the plot area, the legend to the right of it, labels of reference
shapes inside the plot or in the top margin so nothing overlaps the title.

This module must not import streamlit: the CLI and the exports use it too.
"""
from __future__ import annotations

import base64
import html
import zlib

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from .scorers import is_baseline

# Plotly's D3 palette without its grey (grey is for baselines): ten well-separated
# hues that read on white and survive the common colour-vision deficiencies fairly.
PALETTE = ("#1F77B4", "#FF7F0E", "#2CA02C", "#9467BD", "#8C564B", "#E377C2",
           "#BCBD22", "#17BECF", "#D62728")  # red last: beside orange it is hard to tell apart
BASELINE_GREYS = ("#6E6E6E", "#A0A0A0", "#4A4A4A", "#BDBDBD")
TEMPLATE = "plotly_white"
FONT = dict(family="Inter, 'Helvetica Neue', Arial, sans-serif", size=14, color="#222222")

PERFECT_NAME = "perfect ranking (RM = oracle)"
RANDOM_NAME = "random ranking"
BELOW_MIN_LABEL = "eta < 1/N: top-1 only"
ETA_AXIS = "eta (top fraction selected by the RM)"
RETA_AXIS = {
    "ratio": "RETA (ratio to pool mean)",
    "difference": "RETA (difference from pool mean)",
    "raw": "RETA (mean oracle score of the top eta)",
    "recovery": "recovery (share of the perfect ranking's gain)",
}
RANDOM_LEVEL = {"ratio": 1.0, "difference": 0.0, "recovery": 0.0}  # no random line for 'raw'
SPARK_ETAS = np.geomspace(0.001, 1.0, 24)
SHADE = "rgba(128, 128, 128, 0.14)"
REFERENCE = "#777777"
DIFF_COLOR = "#1F4E79"
DIFF_LIGHT = "#6F95BE"
INSIDE_TOP = "in the top eta"
OUTSIDE_TOP = "outside the top eta"


# ----------------------------------------------------------------------- colours
class RMColors(dict):
    """``{rm: colour}`` as :func:`rm_colors` makes it, knowing too which RMs are derived
    (``derived``), so that every builder given the colours draws those dotted."""

    derived: frozenset = frozenset()


def rm_dash(rm: str, colors: dict | None = None) -> str:
    """Line dash of an RM: baselines dashed, derived RMs (``colors.derived``) dotted,
    the others solid."""
    if is_baseline(rm):
        return "dash"
    return "dot" if rm in getattr(colors, "derived", ()) else "solid"


def rm_colors(rm_names: list[str], derived=()) -> RMColors:
    """A stable colour per RM.

    Pass ALL RMs of the benchmark in the benchmark's order: colours are assigned by
    position, so a given RM keeps its colour whichever subset a page shows.  Baselines
    (``baseline_*``) get greys; the others cycle through :data:`PALETTE`.  ``derived``:
    the derived RMs (ensembles, §11), drawn dotted by the builders (:func:`rm_dash`).
    """
    colors = RMColors()
    colors.derived = frozenset(derived)
    n_model = n_base = 0
    for rm in rm_names:
        if rm in colors:
            continue
        if is_baseline(rm):
            colors[rm] = BASELINE_GREYS[n_base % len(BASELINE_GREYS)]
            n_base += 1
        else:
            colors[rm] = PALETTE[n_model % len(PALETTE)]
            n_model += 1
    return colors


def _color(colors: dict | None, rm: str) -> str:
    """The RM's colour from ``colors``; an RM missing there gets a colour derived from
    its name (stable across runs, but not guaranteed distinct)."""
    if colors and rm in colors:
        return colors[rm]
    pool = BASELINE_GREYS if is_baseline(rm) else PALETTE
    return pool[zlib.crc32(str(rm).encode()) % len(pool)]


# ----------------------------------------------------------------------- helpers
def plot_text(value) -> str:
    """``value`` (a benchmark, oracle, RM, category or response name: data) as literal
    text in a plotly string: trace names, titles, axes, ticks and hover all render a
    subset of HTML (``<a>``, ``<b>``, ``<br>``...), so ``&``, ``<`` and ``>`` are escaped
    as entities, which plotly shows as the characters themselves."""
    return html.escape(str(value), quote=False)


def _escape_names(fig: go.Figure) -> None:
    """Every trace name (and legend group) of ``fig`` as literal text
    (:func:`plot_text`): the builders name traces after RMs and categories."""
    for trace in fig.data:
        if trace.name is not None:
            trace.name = plot_text(trace.name)
        if getattr(trace, "legendgroup", None) is not None:  # not shown, but kept clean in exports
            trace.legendgroup = plot_text(trace.legendgroup)


def _require(df: pd.DataFrame, columns, what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{what} needs columns {', '.join(missing)}; got {', '.join(map(str, df.columns))}")


def _style(fig: go.Figure, *, title: str | None, x_title: str, y_title: str, height: int,
           legend_title: str | None = None, top_labels: bool = False) -> go.Figure:
    """The look every figure shares.  ``top_labels``: some label sits in the top
    margin (e.g. the eta marker), so the margin grows to keep it clear of the title."""
    top = (48 if title else 16) + (22 if top_labels else 0)
    _escape_names(fig)
    title, x_title, y_title = (None if t is None else plot_text(t) for t in (title, x_title, y_title))
    legend_title = None if legend_title is None else plot_text(legend_title)
    fig.update_layout(
        template=TEMPLATE,
        height=height,
        font=FONT,
        title=dict(text=title, x=0.01, xanchor="left", y=0.98, yanchor="top",
                   font=dict(size=18)) if title else None,
        margin=dict(l=76, r=24, t=top, b=64),
        legend=dict(title=dict(text=legend_title) if legend_title else None,
                    font=dict(size=13), itemsizing="constant", tracegroupgap=2),
        hoverlabel=dict(font_size=13),
        xaxis=dict(title=dict(text=x_title), zeroline=False),
        yaxis=dict(title=dict(text=y_title), zeroline=False),
    )
    return fig


def _groups(df: pd.DataFrame, by):
    """``groupby`` in order of first appearance (the benchmark's RM order)."""
    return df.groupby(by, sort=False)


def _band_trace(x, low, high, *, name: str, color: str, group: str | None = None,
                opacity: float = 0.18) -> go.Scatter:
    """A filled translucent band between ``low`` and ``high`` (rows with NaN dropped)."""
    x, low, high = (np.asarray(v, dtype=np.float64) for v in (x, low, high))
    keep = np.isfinite(x) & np.isfinite(low) & np.isfinite(high)
    x, low, high = x[keep], low[keep], high[keep]
    return go.Scatter(
        x=np.concatenate([x, x[::-1]]), y=np.concatenate([high, low[::-1]]),
        fill="toself", fillcolor=color, opacity=opacity, line=dict(width=0, color=color),
        mode="lines", name=name, legendgroup=group, showlegend=False, hoverinfo="skip")


def _reference_line(x0: float, x1: float, level: float, name: str) -> go.Scatter:
    return go.Scatter(x=[x0, x1], y=[level, level], mode="lines", name=name,
                      line=dict(color=REFERENCE, width=1.5, dash="dot"),
                      hovertemplate=f"{html.escape(name)}: {level:g}<extra></extra>")


def _vertical_marker(fig: go.Figure, x: float, text: str, color: str = "#444444",
                     span: tuple[float, float] | None = None, log: bool = True) -> None:
    """A vertical dash-dot line at ``x`` (data units, works on log axes) with its label
    just above the plot area.  With the axis ``span`` known, a label near either edge
    is anchored inwards so it is not clipped."""
    anchor = "center"
    if span is not None and span[1] > span[0] and (not log or span[0] > 0):
        lo, hi, at = (np.log10([span[0], span[1], max(x, 1e-300)]) if log else (span[0], span[1], x))
        frac = (at - lo) / (hi - lo)
        anchor = "left" if frac < 0.12 else "right" if frac > 0.88 else "center"
    fig.add_shape(type="line", xref="x", yref="paper", x0=x, x1=x, y0=0, y1=1,
                  line=dict(color=color, width=1.5, dash="dashdot"),
                  label=dict(text=text, textposition="end", textangle=0, yanchor="bottom",
                             xanchor=anchor, padding=4, font=dict(size=12, color=color)))


def _log_eta_ticks(lo: float, hi: float) -> dict:
    """A log eta axis ticked at 1-2-5 steps (0.001, 0.002, 0.005, 0.01 ...) written as
    plain decimals."""
    decades = np.arange(np.floor(np.log10(lo)) - 1, np.ceil(np.log10(hi)) + 1)
    ticks = [m * 10.0 ** d for d in decades for m in (1, 2, 5)]
    ticks = [t for t in ticks if lo * (1 - 1e-9) <= t <= hi * (1 + 1e-9)]
    return dict(type="log", tickvals=ticks, ticktext=[f"{t:g}" for t in ticks])


def _log2_ticks(values) -> dict:
    """Tick marks at the sample sizes themselves on a log x axis (powers of 2 in
    practice), written as whole numbers."""
    ticks = sorted({float(v) for v in values if np.isfinite(v) and v > 0})
    return dict(type="log", tickvals=ticks, ticktext=[f"{t:g}" for t in ticks])


# ----------------------------------------------------------------------- RETA curves
def curves_figure(curves: pd.DataFrame, colors: dict, *, perfect: pd.DataFrame | None = None,
                  min_eta: float | None = None, marker_eta: float | None = None,
                  normalization: str = "ratio", title: str | None = None,
                  bon: pd.DataFrame | None = None) -> go.Figure:
    """RETA curves on a log eta axis (docs/metric.md §3, bands §6).

    ``curves``: ``rm, eta, reta`` and optionally ``ci_low, ci_high``.  Traces, in order:
    one band per RM (when the ci columns are there; not in the legend), one line per RM,
    the perfect ranking (``perfect``: a curve table of the RM = oracle, dashed black),
    the random ranking (1 for ratio, 0 for difference, none for raw).  Shapes: eta
    below ``min_eta`` (= 1/min N) shaded grey and labelled, and a vertical marker at
    ``marker_eta``.  ``bon`` (``Evaluation.bon(...).table``: ``rm, n, bon``): each RM's
    BoN@n drawn as a star at ``eta = 1/n``, where the exact estimator's curve meets it.
    """
    _require(curves, ["rm", "eta", "reta"], "curves_figure")
    has_ci = {"ci_low", "ci_high"} <= set(curves.columns)
    fig = go.Figure()
    groups = list(_groups(curves, "rm"))
    if has_ci:
        for rm, g in groups:
            fig.add_trace(_band_trace(g["eta"], g["ci_low"], g["ci_high"], name=f"{rm} (95% band)",
                                      color=_color(colors, rm), group=str(rm)))
    for rm, g in groups:
        if has_ci:
            custom = g[["ci_low", "ci_high"]].to_numpy(dtype=np.float64)
            band = "<br>95% band: [%{customdata[0]:.4f}, %{customdata[1]:.4f}]"
        else:
            custom, band = None, ""
        fig.add_trace(go.Scatter(
            x=g["eta"].to_numpy(dtype=np.float64), y=g["reta"].to_numpy(dtype=np.float64),
            mode="lines", name=str(rm), legendgroup=str(rm), customdata=custom,
            line=dict(color=_color(colors, rm), width=1.8 if is_baseline(rm) else 2.4,
                      dash=rm_dash(rm, colors)),
            hovertemplate=(f"<b>{html.escape(str(rm))}</b><br>eta: %{{x:.4g}}<br>RETA: %{{y:.4f}}"
                           f"{band}<extra></extra>")))
    etas = [curves["eta"].to_numpy(dtype=np.float64)]
    if perfect is not None and len(perfect):
        _require(perfect, ["eta", "reta"], "curves_figure(perfect=...)")
        if "rm" in perfect:
            perfect = perfect[perfect["rm"] == perfect["rm"].iloc[0]]
        etas.append(perfect["eta"].to_numpy(dtype=np.float64))
        fig.add_trace(go.Scatter(
            x=perfect["eta"].to_numpy(dtype=np.float64), y=perfect["reta"].to_numpy(dtype=np.float64),
            mode="lines", name=PERFECT_NAME, line=dict(color="#000000", width=2, dash="dash"),
            hovertemplate=f"<b>{PERFECT_NAME}</b><br>eta: %{{x:.4g}}<br>RETA: %{{y:.4f}}<extra></extra>"))
    if bon is not None and len(bon):
        _require(bon, ["rm", "n", "bon"], "curves_figure(bon=...)")
        n_bon = int(bon["n"].iloc[0])
        etas.append(np.array([1.0 / n_bon]))
        fig.add_trace(go.Scatter(
            x=np.full(len(bon), 1.0 / n_bon), y=bon["bon"].to_numpy(dtype=np.float64), mode="markers",
            name=f"BoN@{n_bon} (eta = 1/n)",
            marker=dict(symbol="star", size=13, color=[_color(colors, str(r)) for r in bon["rm"]],
                        line=dict(color="#222222", width=1)),
            customdata=[html.escape(str(r)) for r in bon["rm"]],
            hovertemplate=f"<b>%{{customdata}}</b><br>BoN@{n_bon}: %{{y:.4f}}<extra></extra>"))
    all_eta = np.concatenate(etas)
    all_eta = all_eta[np.isfinite(all_eta) & (all_eta > 0)]
    lo, hi = (float(all_eta.min()), float(all_eta.max())) if all_eta.size else (min_eta or 1e-3, 1.0)
    if normalization in RANDOM_LEVEL:
        level = RANDOM_LEVEL[normalization]
        fig.add_trace(_reference_line(lo, hi, level, f"{RANDOM_NAME} (RETA = {level:g})"))
    shaded = min_eta is not None and lo < min_eta
    if shaded:
        # Shapes take data values on a log axis; annotations take log10 of them.  The
        # label sits in the top margin, clear of the curves.
        fig.add_shape(type="rect", xref="x", yref="paper", x0=lo, x1=float(min_eta), y0=0, y1=1,
                      fillcolor=SHADE, line=dict(width=0), layer="below")
        fig.add_annotation(text=BELOW_MIN_LABEL, xref="x", yref="paper", x=float(np.log10(lo)),
                           y=1, xanchor="left", yanchor="bottom", showarrow=False,
                           font=dict(size=12, color="#555555"))
    if marker_eta is not None:
        _vertical_marker(fig, float(marker_eta), f"eta = {marker_eta:.3g}", span=(lo, hi))
    _style(fig, title=title, x_title=ETA_AXIS, y_title=RETA_AXIS.get(normalization, "RETA"),
           height=520, legend_title="reward model", top_labels=shaded or marker_eta is not None)
    fig.update_xaxes(**_log_eta_ticks(lo, hi))
    return fig


def sparkline_values(curves: pd.DataFrame) -> dict[str, list[float]]:
    """Each RM's curve on :data:`SPARK_ETAS` (24 log-spaced etas from 0.001 to 1) that
    lie within the table's eta range, interpolated linearly in log eta: the values of
    a table's small line-chart column.  Every RM gets the same number of values."""
    _require(curves, ["rm", "eta", "reta"], "sparkline_values")
    etas = curves["eta"].to_numpy(dtype=np.float64)
    lo, hi = np.nanmin(etas), np.nanmax(etas)
    grid = SPARK_ETAS[(SPARK_ETAS >= lo * (1 - 1e-9)) & (SPARK_ETAS <= hi * (1 + 1e-9))]
    out = {}
    for rm, g in _groups(curves, "rm"):
        g = g.sort_values("eta")
        out[rm] = [float(v) for v in np.interp(np.log(grid), np.log(g["eta"].to_numpy(np.float64)),
                                               g["reta"].to_numpy(np.float64))]
    return out


def sparkline_range(values: dict[str, list[float]]) -> tuple[float, float]:
    """One y-range for every sparkline of a table, so that their heights compare: a
    random scorer's 0.98-1.00 stays flat next to a real curve."""
    finite = np.array([v for vs in values.values() for v in vs if np.isfinite(v)], dtype=np.float64)
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = float(finite.min()), float(finite.max())
    return (lo - 0.5, hi + 0.5) if hi - lo < 1e-12 else (lo, hi)


def sparkline_svg(values, color: str, y_range: tuple[float, float], *, width: int = 120,
                  height: int = 30) -> str:
    """A small line of ``values`` in ``color`` on the shared ``y_range``, as an SVG data
    URL for an image column (no text in it: only numbers and the colour)."""
    lo, hi = y_range
    vals = np.asarray(values, dtype=np.float64)
    x = np.linspace(2, width - 2, max(vals.size, 2))[: vals.size]
    y = height - 2 - (vals - lo) / (hi - lo) * (height - 4)
    points = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(x, y) if np.isfinite(b))
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}"><polyline fill="none" stroke="{color}" stroke-width="2" '
           f'points="{points}"/></svg>')
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


# ----------------------------------------------------------------------- paired difference
def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``(start, stop)`` index pairs (stop inclusive) of the runs of True in ``mask``."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1))


def difference_figure(comparison: pd.DataFrame, *, marker_eta: float | None = None,
                      title: str | None = None) -> go.Figure:
    """The paired difference RETA(A) - RETA(B) with its 95 % bands (docs/metric.md §6).

    ``comparison``: ``Evaluation.compare(...).table`` (``rm_a, rm_b, eta, diff,
    ci_low, ci_high, p_a_better, significant`` and, when present, the simultaneous band
    ``sim_low, sim_high``).  Traces: the simultaneous band (light), the pointwise
    interval, the difference, the significant stretches (thick, NaN elsewhere; listed
    in the legend only when there is one), zero line.  ``significant`` is decided by
    the simultaneous band when the table has it.  Every significant stretch is also
    shaded (one rect per run, blue where A is better, orange where B is).
    """
    _require(comparison, ["rm_a", "rm_b", "eta", "diff", "ci_low", "ci_high", "p_a_better",
                          "significant"], "difference_figure")
    t = comparison.sort_values("eta")
    rm_a, rm_b = str(t["rm_a"].iloc[0]), str(t["rm_b"].iloc[0])
    eta = t["eta"].to_numpy(np.float64)
    diff = t["diff"].to_numpy(np.float64)
    sig = t["significant"].to_numpy(bool)
    simultaneous = {"sim_low", "sim_high"} <= set(t.columns)
    sim = t[["sim_low", "sim_high"]] if simultaneous else t[["ci_low", "ci_high"]] * np.nan
    custom = np.column_stack([t[["ci_low", "ci_high", "p_a_better"]].to_numpy(np.float64),
                              sim.to_numpy(np.float64)])
    hover = ("eta: %{x:.4g}<br>difference: %{y:.4f}<br>pointwise 95% interval: [%{customdata[0]:.4f}, "
             "%{customdata[1]:.4f}]" + ("<br>simultaneous 95% band: [%{customdata[3]:.4f}, %{customdata[4]:.4f}]"
                                        if simultaneous else "")
             + "<br>P(" + html.escape(rm_a) + " better): %{customdata[2]:.3f}<extra></extra>")
    fig = go.Figure()
    if simultaneous:
        fig.add_trace(_band_trace(eta, t["sim_low"], t["sim_high"], name="simultaneous 95% band",
                                  color=DIFF_COLOR, opacity=0.1))
    fig.add_trace(_band_trace(eta, t["ci_low"], t["ci_high"], name="pointwise 95% interval", color=DIFF_COLOR,
                              opacity=0.2))
    fig.add_trace(go.Scatter(x=eta, y=diff, mode="lines", name=f"{rm_a} − {rm_b}", customdata=custom,
                             line=dict(color=DIFF_LIGHT, width=1.6), hovertemplate=hover))
    fig.add_trace(go.Scatter(x=eta, y=np.where(sig, diff, np.nan), mode="lines", customdata=custom,
                             name=("significant (simultaneous band excludes 0)" if simultaneous
                                   else "significant (95% interval excludes 0)"),
                             connectgaps=False, showlegend=bool(sig.any()),
                             line=dict(color=DIFF_COLOR, width=5), hovertemplate=hover))
    fig.add_trace(_reference_line(float(eta.min()), float(eta.max()), 0.0, "no difference"))
    # Shade each significant run out to the geometric midpoints with its neighbours.
    log_eta = np.log(eta)
    mids = np.exp((log_eta[1:] + log_eta[:-1]) / 2)
    for start, stop in _runs(sig):
        x0 = eta[0] if start == 0 else mids[start - 1]
        x1 = eta[-1] if stop == eta.size - 1 else mids[stop]
        better_a = np.nanmean(diff[start:stop + 1]) > 0
        fig.add_shape(type="rect", xref="x", yref="paper", x0=float(x0), x1=float(x1), y0=0, y1=1,
                      line=dict(width=0), layer="below",
                      fillcolor="rgba(31, 119, 180, 0.10)" if better_a else "rgba(255, 127, 14, 0.12)")
    if marker_eta is not None:
        _vertical_marker(fig, float(marker_eta), f"eta = {marker_eta:.3g}",
                         span=(float(eta.min()), float(eta.max())))
    _style(fig, title=title if title is not None else f"{rm_a} vs {rm_b}: paired RETA difference",
           x_title=ETA_AXIS, y_title=f"RETA difference ({rm_a} − {rm_b})", height=480,
           top_labels=marker_eta is not None)
    fig.update_xaxes(**_log_eta_ticks(float(eta.min()), float(eta.max())))
    return fig


# ----------------------------------------------------------------------- heatmaps
def _value_heatmap(z: pd.DataFrame, *, x_title: str, y_title: str, value_name: str,
                   center: float | None, custom: pd.DataFrame | None = None,
                   custom_name: str = "", title: str | None = None) -> go.Figure:
    """A heatmap of ``z`` (rows = RMs, top row first) with the values in the cells;
    diverging colour scale centred at ``center`` (sequential when ``None``)."""
    hover = f"{y_title}: %{{y}}<br>{x_title}: %{{x}}<br>{value_name}: %{{z:.3f}}"
    if custom is not None:
        hover += f"<br>{custom_name}: %{{customdata}}"
    fig = go.Figure(go.Heatmap(
        z=z.to_numpy(np.float64), x=[plot_text(c) for c in z.columns],
        y=[plot_text(i) for i in z.index],
        customdata=None if custom is None else custom.to_numpy(),
        colorscale="RdBu" if center is not None else "Viridis", zmid=center,
        texttemplate="%{z:.2f}", textfont=dict(size=12), hoverongaps=False, xgap=1, ygap=1,
        colorbar=dict(title=dict(text=value_name), thickness=14),
        hovertemplate=hover + "<extra></extra>"))
    _style(fig, title=title, x_title=x_title, y_title=y_title,
           height=max(300, 130 + 42 * z.shape[0]) + (40 if title else 0))
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(type="category", showgrid=False)
    return fig


def _pivot(table: pd.DataFrame, index: str, columns: str, values: str) -> pd.DataFrame:
    """``pivot`` keeping rows and columns in order of first appearance."""
    wide = table.pivot(index=index, columns=columns, values=values)
    return wide.reindex(index=pd.unique(table[index]), columns=pd.unique(table[columns]))


def category_heatmap(table: pd.DataFrame, value: str = "reta", normalization: str = "ratio") -> go.Figure:
    """RMs (rows) by prompt category (columns), ``value`` written in the cells, with a
    diverging colour scale centred where a random RM sits: 1 for the ``ratio``, 0 for
    the ``difference`` normalisation (sequential for ``raw``).  ``table``: ``rm,
    category, <value>`` and optionally ``n_prompts`` (shown on hover)."""
    _require(table, ["rm", "category", value], "category_heatmap")
    z = _pivot(table, "rm", "category", value)
    custom = _pivot(table, "rm", "category", "n_prompts") if "n_prompts" in table else None
    return _value_heatmap(z, x_title="category", y_title="reward model",
                          value_name="RETA" if value == "reta" else value,
                          center=RANDOM_LEVEL.get(normalization) if value.startswith("reta") else None,
                          custom=custom, custom_name="prompts")


# ----------------------------------------------------------------------- reliability map
RELIABILITY_X = "rank percentile (0 = the RM's top pick)"
RELIABILITY_Y = "mean J / mu (oracle relative to pool mean)"


def reliability_figure(rel: pd.DataFrame, colors: dict, kind: str = "lines") -> go.Figure:
    """The reliability map (docs/metric.md §8) from ``Evaluation.reliability_map(...).table``
    (``rm, bin, u_low, u_high, mean_normalized_oracle, n_responses``).

    ``lines``: one line per RM, x = bin midpoint, y = mean J/mu, with its 95 % band when
    the table has ``ci_low, ci_high``, and the pool mean at 1; empty bins are not drawn.
    ``heatmap``: rows RMs, columns bins, values in the cells, centred at 1.
    """
    _require(rel, ["rm", "bin", "u_low", "u_high", "mean_normalized_oracle", "n_responses"],
             "reliability_figure")
    if kind == "heatmap":
        t = rel.assign(bin_label=[f"{100 * lo:g}–{100 * hi:g}" for lo, hi in zip(rel["u_low"], rel["u_high"])])
        fig = _value_heatmap(_pivot(t, "rm", "bin_label", "mean_normalized_oracle"),
                              x_title="rank percentile bin, % (0 = the RM's top pick)",
                              y_title="reward model", value_name="mean J / mu",
                              center=1.0, custom=_pivot(t, "rm", "bin_label", "n_responses"),
                              custom_name="responses")
        return fig.update_xaxes(tickfont=dict(size=12))
    if kind != "lines":
        raise ValueError(f"kind must be 'lines' or 'heatmap', got {kind!r}")
    fig = go.Figure()
    bands = {"ci_low", "ci_high"} <= set(rel.columns)
    for rm, g in _groups(rel, "rm"):
        g = g[(g["n_responses"] > 0) & g["mean_normalized_oracle"].notna()]  # an empty bin is not drawn
        mid = ((g["u_low"] + g["u_high"]) / 2).to_numpy(np.float64)
        if bands:
            fig.add_trace(_band_trace(mid, g["ci_low"], g["ci_high"], name=f"{rm} 95 % band",
                                      color=_color(colors, rm), group=str(rm)))
        low = g["ci_low"] if bands else g["mean_normalized_oracle"] * np.nan
        high = g["ci_high"] if bands else g["mean_normalized_oracle"] * np.nan
        fig.add_trace(go.Scatter(
            x=mid, y=g["mean_normalized_oracle"].to_numpy(np.float64), mode="lines+markers",
            name=str(rm), legendgroup=str(rm),
            customdata=np.column_stack([g["u_low"], g["u_high"], g["n_responses"], low, high]).astype(np.float64),
            line=dict(color=_color(colors, rm), width=2.2, dash=rm_dash(rm, colors)), marker=dict(size=6),
            hovertemplate=(f"<b>{html.escape(str(rm))}</b><br>rank percentile: "
                           "%{customdata[0]:.0%}–%{customdata[1]:.0%}<br>mean J / mu: %{y:.3f}"
                           + ("<br>95 % band: %{customdata[3]:.3f} to %{customdata[4]:.3f}" if bands else "")
                           + "<br>responses: %{customdata[2]:,.0f}<extra></extra>")))
    fig.add_trace(_reference_line(0.0, 1.0, 1.0, "pool mean (J / mu = 1)"))
    _style(fig, title=None, x_title=RELIABILITY_X, y_title=RELIABILITY_Y, height=460,
           legend_title="reward model")
    fig.update_xaxes(range=[0, 1], tickformat=".0%")
    return fig


# ----------------------------------------------------------------------- stability (§5)
def _estimator_dash(estimator: str) -> str:
    return "dash" if str(estimator).lower().startswith("bon") else "solid"


STABILITY_Y = {"std": "spread across repeats (standard deviation)",
               "cv": "coefficient of variation (std / mean)"}


def stability_figure(table: pd.DataFrame, colors: dict, metric: str = "std") -> go.Figure:
    """Spread of the resampled estimate vs the sample size n (docs/metric.md §5).

    ``table``: ``rm, n, estimator, mean, std, cv`` (``estimator`` like ``RETA@0.1`` or
    ``BoN@n``).  One trace per (RM, estimator): RETA solid, BoN dashed, in the RM's
    colour, on a log x axis ticked at the sample sizes.
    """
    if metric not in STABILITY_Y:
        raise ValueError(f"metric must be 'std' or 'cv', got {metric!r}")
    _require(table, ["rm", "n", "estimator", metric], "stability_figure")
    fig = go.Figure()
    for (rm, est), g in _groups(table, ["rm", "estimator"]):
        g = g.sort_values("n")
        fig.add_trace(go.Scatter(
            x=g["n"].to_numpy(np.float64), y=g[metric].to_numpy(np.float64), mode="lines+markers",
            name=f"{rm} · {est}", legendgroup=str(rm),
            line=dict(color=_color(colors, rm), width=2.2, dash=_estimator_dash(est)),
            marker=dict(size=7, symbol="circle" if _estimator_dash(est) == "solid" else "diamond"),
            hovertemplate=(f"<b>{html.escape(str(rm))}</b> · {html.escape(str(est))}<br>n: %{{x}}"
                           f"<br>{metric}: %{{y:.4f}}<extra></extra>")))
    _style(fig, title=None, x_title="n (responses per prompt)", y_title=STABILITY_Y[metric],
           height=480, legend_title="RM · estimator")
    fig.update_xaxes(**_log2_ticks(table["n"]))
    return fig


def convergence_figure(table: pd.DataFrame, colors: dict) -> go.Figure:
    """Resampled means with ±2 standard errors vs the exact values as n grows
    (docs/metric.md §4-§5).

    ``table``: ``rm, n, estimator, mean`` plus ``se`` or ``std`` and ``repeats``
    (``se = std / sqrt(repeats)``), and optionally ``exact``.  Per (RM, estimator): the
    means with error bars, then the exact values (dotted, open markers).
    """
    _require(table, ["rm", "n", "estimator", "mean"], "convergence_figure")
    if "se" not in table and not {"std", "repeats"} <= set(table.columns):
        raise ValueError("convergence_figure needs a column se, or std and repeats")
    fig = go.Figure()
    for (rm, est), g in _groups(table, ["rm", "estimator"]):
        g = g.sort_values("n")
        se = g["se"] if "se" in g else g["std"] / np.sqrt(g["repeats"])
        color = _color(colors, rm)
        x = g["n"].to_numpy(np.float64)
        two_se = 2 * se.to_numpy(np.float64)
        fig.add_trace(go.Scatter(
            x=x, y=g["mean"].to_numpy(np.float64), mode="lines+markers", name=f"{rm} · {est}",
            legendgroup=str(rm), customdata=two_se,
            error_y=dict(type="data", array=two_se, color=color, thickness=1.4, width=4),
            line=dict(color=color, width=2, dash=_estimator_dash(est)), marker=dict(size=7),
            hovertemplate=(f"<b>{html.escape(str(rm))}</b> · {html.escape(str(est))}<br>n: %{{x}}"
                           "<br>resampled mean: %{y:.4f} ± %{customdata:.4f} (2 SE)<extra></extra>")))
        if "exact" in g:
            fig.add_trace(go.Scatter(
                x=x, y=g["exact"].to_numpy(np.float64), mode="lines+markers",
                name=f"{rm} · {est} (exact)", legendgroup=str(rm),
                line=dict(color=color, width=1.4, dash="dot"),
                marker=dict(size=9, symbol="x-thin-open", line=dict(width=2, color=color)),
                hovertemplate=(f"<b>{html.escape(str(rm))}</b> · {html.escape(str(est))}<br>n: %{{x}}"
                               "<br>exact: %{y:.4f}<extra></extra>")))
    _style(fig, title=None, x_title="n (responses per prompt)",
           y_title="RETA: resampled mean ± 2 SE vs exact", height=480, legend_title="RM · estimator")
    fig.update_xaxes(**_log2_ticks(table["n"]))
    return fig


# ----------------------------------------------------------------------- inspector
def _hover_preview(text, width: int = 70, limit: int = 280) -> str:
    """A response preview safe for a hover box: HTML-escaped, cut, wrapped."""
    text = " ".join(str(text).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    lines = [text[i:i + width] for i in range(0, len(text), width)] or [""]
    return "<br>".join(html.escape(line) for line in lines)


def inspector_scatter(responses: pd.DataFrame, color: str, *, cut_score: float | None = None,
                      title: str | None = None) -> go.Figure:
    """One prompt's pool: RM score (x) vs oracle score (y).

    ``responses``: ``response_id, rank, rm_score, oracle_score, in_top`` (bool) and
    ``preview``.  Two traces, outside then inside the top eta (highlighted in the RM's
    ``color``); ``customdata`` of every point is its ``response_id``, so a click
    selection names the response.  The eta cut is a vertical line at ``cut_score``.
    """
    _require(responses, ["response_id", "rank", "rm_score", "oracle_score", "in_top", "preview"],
             "inspector_scatter")
    fig = go.Figure()
    inside = responses["in_top"].to_numpy(bool)
    for name, mask, style in (
            (OUTSIDE_TOP, ~inside, dict(color="#B0B0B0", size=8, opacity=0.75)),
            (INSIDE_TOP, inside, dict(color=color, size=11, opacity=0.95,
                                      line=dict(color="#222222", width=1)))):
        part = responses[mask]
        fig.add_trace(go.Scatter(
            x=part["rm_score"].to_numpy(np.float64), y=part["oracle_score"].to_numpy(np.float64),
            mode="markers", name=name, marker=style, customdata=part["response_id"].to_numpy(object),
            text=[plot_text(r) for r in part["response_id"]],  # the hover's id; customdata stays raw for clicks
            hovertext=[f"rank {r}<br>{_hover_preview(p)}" for r, p in zip(part["rank"], part["preview"])],
            hovertemplate=("<b>%{text}</b><br>RM score: %{x:.4g}<br>oracle score: %{y:.4g}"
                           "<br>%{hovertext}<extra></extra>")))
    if cut_score is not None:
        scores = responses["rm_score"].to_numpy(np.float64)
        scores = scores[np.isfinite(scores)]
        span = (float(scores.min()), float(scores.max())) if scores.size else None
        _vertical_marker(fig, float(cut_score), "top-eta cut", color="#B22222", span=span, log=False)
    _style(fig, title=title, x_title="RM score", y_title="oracle score", height=480,
           top_labels=cut_score is not None)
    # no dragmode/clickmode here: with a points selection Streamlit sets "pan" and
    # "event+select", so that a single click selects a point (a "select" dragmode would
    # make a click a mere event)
    return fig


# ----------------------------------------------------------------------- distributions
def histogram_figure(values: pd.DataFrame, column: str, by: str | None = "rm",
                     colors: dict | None = None) -> go.Figure:
    """Overlaid distributions of ``values[column]``, one histogram per ``by`` group
    (all groups share one set of 40 bins so they compare bar for bar)."""
    _require(values, [column] + ([by] if by else []), "histogram_figure")
    x_all = values[column].to_numpy(np.float64)
    finite = x_all[np.isfinite(x_all)]
    bins = None
    if finite.size and finite.max() > finite.min():
        size = float(finite.max() - finite.min()) / 40
        # the end is exclusive in plotly: one bin past the maximum keeps it in the chart
        bins = dict(start=float(finite.min()), end=float(finite.max()) + size, size=size)
    groups = list(_groups(values, by)) if by else [(column, values)]
    if colors is None and by:
        colors = rm_colors([g for g, _ in groups])
    fig = go.Figure()
    for name, g in groups:
        fig.add_trace(go.Histogram(
            x=g[column].to_numpy(np.float64), name=str(name), xbins=bins,
            marker=dict(color=_color(colors, str(name)), line=dict(width=0)),
            opacity=0.6 if len(groups) > 1 else 0.85,
            hovertemplate=f"<b>{html.escape(str(name))}</b><br>{html.escape(column)}: %{{x}}"
                          "<br>responses: %{y:,}<extra></extra>"))
    _style(fig, title=None, x_title=column, y_title="responses", height=420,
           legend_title=by if by else None)
    fig.update_layout(barmode="overlay", bargap=0.02)
    return fig
