"""Tests of the figure builders (reta_core/charts.py).

Every figure is built from tables the real engine (an ``Evaluation``) computes on a
small seeded Pool, and the tests read the figure's data back: trace counts, y values
equal to the table's values, the log eta axis, bands, the shaded eta < 1/N region,
colours that stay with their RM.
"""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import plotly.io as pio
import pytest

from reta_core import charts
from reta_core.evaluation import Evaluation
from reta_core.pool import Pool

RMS = ["good", "noisy", "random", "baseline_length"]
N_PROMPTS, N_RESPONSES = 40, 16
ETAS = np.unique(np.r_[np.geomspace(0.02, 1, 30), charts.SPARK_ETAS[charts.SPARK_ETAS >= 0.02]])
MIN_ETA = 1 / N_RESPONSES


@pytest.fixture(scope="module")
def pool() -> Pool:
    rng = np.random.default_rng(7)
    rows = N_PROMPTS * N_RESPONSES
    quality = rng.normal(size=rows) + np.repeat(rng.normal(size=N_PROMPTS), N_RESPONSES)
    judge = np.clip(np.round(5.5 + 1.5 * quality), 1, 10)
    codes = np.repeat(np.arange(N_PROMPTS), N_RESPONSES)
    return Pool.from_codes(
        codes, [f"p{i}" for i in range(N_PROMPTS)], [f"r{i}" for i in range(rows)],
        {"judge": judge},
        {"good": quality + 0.3 * rng.normal(size=rows),
         "noisy": quality + 1.5 * rng.normal(size=rows),
         "random": rng.normal(size=rows),
         "baseline_length": rng.normal(size=rows) - 0.2 * quality,
         "oracle": judge},
        categories=np.array(["chat", "math"] * (N_PROMPTS // 2), dtype=object))


@pytest.fixture(scope="module")
def evaluation(pool) -> Evaluation:
    return Evaluation(pool)  # the first oracle, judge; ratio normalisation


@pytest.fixture(scope="module")
def colors() -> dict:
    return charts.rm_colors(RMS)


@pytest.fixture(scope="module")
def curves(evaluation) -> pd.DataFrame:
    return evaluation.curves(RMS, ETAS, ci=True, n_boot=100).table


@pytest.fixture(scope="module")
def perfect(evaluation) -> pd.DataFrame:
    return evaluation.curves(["oracle"], ETAS).table


def _traces(fig, name):
    return [t for t in fig.data if t.name == name]


def _one(fig, name):
    found = _traces(fig, name)
    assert len(found) == 1, f"expected one trace named {name!r}, found {len(found)}"
    return found[0]


def _shared_look(fig):
    assert fig.layout.template == pio.templates["plotly_white"]
    assert fig.layout.height and fig.layout.height >= 300
    assert fig.layout.font.size >= 12


# ----------------------------------------------------------------------- colours
def test_colours_stay_with_their_rm_whatever_subset_is_shown(curves, colors):
    assert len({colors[rm] for rm in RMS}) == len(RMS)
    only_noisy = curves[curves["rm"] == "noisy"]
    fig = charts.curves_figure(only_noisy, charts.rm_colors(RMS))
    assert _one(fig, "noisy").line.color == colors["noisy"]
    assert charts.rm_colors(["a", "b", "c"])["b"] == charts.rm_colors(["a", "b", "c", "d"])["b"]
    shown_b = charts.curves_figure(pd.DataFrame({"rm": "b", "eta": [0.1, 1.0], "reta": [1.2, 1.0]}),
                                   charts.rm_colors(["a", "b", "c"]))
    assert _one(shown_b, "b").line.color == charts.rm_colors(["a", "b", "c"])["b"] != \
        charts.rm_colors(["b"])["b"]


def test_baselines_are_grey_and_dashed(curves, colors):
    grey = colors["baseline_length"].lstrip("#")
    r, g, b = (int(grey[i:i + 2], 16) for i in (0, 2, 4))
    assert r == g == b
    assert colors["baseline_length"] not in charts.PALETTE
    fig = charts.curves_figure(curves, colors)
    assert _one(fig, "baseline_length").line.dash == "dash"
    assert _one(fig, "good").line.dash == "solid"
    # A baseline does not use up a palette colour of the models after it.
    assert charts.rm_colors(["baseline_x", "m"])["m"] == charts.PALETTE[0]


def test_palette_cycles_when_there_are_more_rms_than_colours():
    names = [f"rm{i}" for i in range(len(charts.PALETTE) + 2)]
    c = charts.rm_colors(names)
    assert c[names[len(charts.PALETTE)]] == c[names[0]]
    assert len({c[n] for n in names[:len(charts.PALETTE)]}) == len(charts.PALETTE)


# ----------------------------------------------------------------------- curves
def test_curves_figure_traces_equal_the_table(curves, perfect, colors):
    fig = charts.curves_figure(curves, colors, perfect=perfect, min_eta=MIN_ETA, marker_eta=0.1,
                               title="RETA")
    # one band and one line per RM, the perfect ranking, the random line
    assert len(fig.data) == 2 * len(RMS) + 2
    for rm in RMS:
        table = curves[curves["rm"] == rm]
        line = _one(fig, rm)
        np.testing.assert_allclose(line.x, table["eta"])
        np.testing.assert_allclose(line.y, table["reta"])
        np.testing.assert_allclose(np.asarray(line.customdata), table[["ci_low", "ci_high"]])
        assert line.line.color == colors[rm]
        assert "95% band" in line.hovertemplate and rm in line.hovertemplate
    assert fig.layout.xaxis.type == "log"
    assert fig.layout.xaxis.title.text == "eta (top fraction selected by the RM)"
    assert fig.layout.yaxis.title.text == "RETA (ratio to pool mean)"
    _shared_look(fig)


def test_curves_bands_follow_the_ci_columns(curves, colors):
    fig = charts.curves_figure(curves, colors)
    bands = [t for t in fig.data if t.fill == "toself"]
    assert len(bands) == len(RMS)
    good = _one(fig, "good (95% band)")
    table = curves[curves["rm"] == "good"]
    np.testing.assert_allclose(good.y, np.r_[table["ci_high"], table["ci_low"][::-1]])
    np.testing.assert_allclose(good.x, np.r_[table["eta"], table["eta"][::-1]])
    assert good.fillcolor == colors["good"] and good.showlegend is False
    assert np.all(table["ci_low"] <= table["reta"] + 1e-12)
    no_ci = charts.curves_figure(curves.drop(columns=["ci_low", "ci_high"]), colors)
    assert not [t for t in no_ci.data if t.fill == "toself"]
    assert len(no_ci.data) == len(RMS) + 1  # lines and the random line


def test_perfect_and_random_reference_lines(curves, perfect, colors):
    fig = charts.curves_figure(curves, colors, perfect=perfect)
    best = _one(fig, charts.PERFECT_NAME)
    assert charts.PERFECT_NAME == "perfect ranking (RM = oracle)"
    assert best.line.dash == "dash" and best.line.color == "#000000"
    np.testing.assert_allclose(best.y, perfect["reta"])
    # RM = oracle is the highest curve any RM reaches (RETA_SPEC §3)
    for rm in RMS:
        assert np.all(curves.loc[curves["rm"] == rm, "reta"].to_numpy() <= best.y + 1e-9)
    random_line = [t for t in fig.data if t.name.startswith(charts.RANDOM_NAME)]
    assert len(random_line) == 1 and set(random_line[0].y) == {1.0}

    as_difference = charts.curves_figure(curves, colors, normalization="difference")
    assert {tuple(t.y) for t in as_difference.data if t.name.startswith(charts.RANDOM_NAME)} == {(0.0, 0.0)}
    assert as_difference.layout.yaxis.title.text == "RETA (difference from pool mean)"
    as_raw = charts.curves_figure(curves, colors, normalization="raw")
    assert not [t for t in as_raw.data if t.name.startswith(charts.RANDOM_NAME)]


def test_region_below_one_over_n_is_shaded_up_to_min_eta(evaluation, colors):
    low_etas = np.geomspace(0.01, 1, 25)
    table = evaluation.curves(RMS, low_etas).table
    assert table["below_min_eta"].any()
    fig = charts.curves_figure(table, colors, min_eta=MIN_ETA, marker_eta=0.25)
    rects = [s for s in fig.layout.shapes if s.type == "rect"]
    assert len(rects) == 1
    assert rects[0].x0 == pytest.approx(low_etas.min())
    assert rects[0].x1 == pytest.approx(MIN_ETA)
    assert rects[0].xref == "x" and rects[0].yref == "paper"
    labels = [a for a in fig.layout.annotations if a.text == "eta < 1/N: top-1 only"]
    assert len(labels) == 1
    assert labels[0].x == pytest.approx(np.log10(low_etas.min()))  # log axis: annotations in log10
    markers = [s for s in fig.layout.shapes if s.type == "line"]
    assert len(markers) == 1 and markers[0].x0 == markers[0].x1 == 0.25
    # Nothing to shade when every eta is >= 1/N.
    no_shade = charts.curves_figure(table[table["eta"] >= MIN_ETA], colors, min_eta=MIN_ETA)
    assert not [s for s in no_shade.layout.shapes if s.type == "rect"]


def test_sparkline_values_sample_each_curve(curves):
    values = charts.sparkline_values(curves)
    assert list(values) == RMS
    grid = charts.SPARK_ETAS[charts.SPARK_ETAS >= ETAS.min() * (1 - 1e-9)]
    for rm, series in values.items():
        assert len(series) == grid.size
        table = curves[curves["rm"] == rm].set_index("eta")["reta"]
        expected = [table.loc[min(table.index, key=lambda e: abs(e - g))] for g in grid]
        np.testing.assert_allclose(series, expected, rtol=1e-9)  # grid points are on the table's grid
        assert series[-1] == pytest.approx(1.0)  # RETA(1) = 1 (ratio)


# ----------------------------------------------------------------------- difference
def test_difference_figure_marks_significant_stretches(evaluation):
    table = evaluation.compare("good", "random", ETAS, n_boot=200).table
    assert table["significant"].any() and not table["significant"].all()
    fig = charts.difference_figure(table, marker_eta=0.1)
    assert len(fig.data) == 5  # simultaneous band, pointwise interval, difference, significant, zero
    diff = _one(fig, "good − random")
    np.testing.assert_allclose(diff.y, table["diff"])
    sig = _one(fig, "significant (simultaneous band excludes 0)")
    expected = np.where(table["significant"], table["diff"], np.nan)
    np.testing.assert_allclose(np.asarray(sig.y, dtype=float), expected)
    assert sig.line.width > diff.line.width and sig.showlegend
    band = _one(fig, "pointwise 95% interval")
    np.testing.assert_allclose(band.y, np.r_[table["ci_high"], table["ci_low"][::-1]])
    wide = _one(fig, "simultaneous 95% band")
    np.testing.assert_allclose(wide.y, np.r_[table["sim_high"], table["sim_low"][::-1]])
    # nothing significant: the legend does not say "significant"
    none = table.assign(significant=False)
    assert not _one(charts.difference_figure(none), "significant (simultaneous band excludes 0)").showlegend
    zero = _one(fig, "no difference")
    assert set(zero.y) == {0.0}
    runs = charts._runs(table["significant"].to_numpy())
    rects = [s for s in fig.layout.shapes if s.type == "rect"]
    assert len(rects) == len(runs) >= 1
    for (start, stop), rect in zip(runs, rects):
        assert rect.x0 <= table["eta"].iloc[start] and rect.x1 >= table["eta"].iloc[stop]
    assert fig.layout.xaxis.type == "log"
    assert "good" in fig.layout.title.text and "random" in fig.layout.title.text
    _shared_look(fig)


def test_runs_of_true():
    assert charts._runs(np.array([True, True, False, True, False, False, True])) == [(0, 1), (3, 3), (6, 6)]
    assert charts._runs(np.array([False, False])) == []


# ----------------------------------------------------------------------- reliability map
def test_reliability_lines_and_heatmap_show_the_table(evaluation, colors):
    rel = evaluation.reliability_map(RMS, bins=5).table
    fig = charts.reliability_figure(rel, colors)
    assert len(fig.data) == 2 * len(RMS) + 1  # a band and a line per RM, the pool mean
    for rm in RMS:
        part = rel[rel["rm"] == rm]
        band = _one(fig, f"{rm} 95 % band")
        np.testing.assert_allclose(band.y, np.r_[part["ci_high"], part["ci_low"][::-1]])
    for rm in RMS:
        part = rel[rel["rm"] == rm]
        line = _one(fig, rm)
        np.testing.assert_allclose(line.y, part["mean_normalized_oracle"])
        np.testing.assert_allclose(line.x, (part["u_low"] + part["u_high"]) / 2)
        assert line.line.color == colors[rm]
    assert set(_one(fig, "pool mean (J / mu = 1)").y) == {1.0}
    # a good RM falls from left to right (RETA_SPEC §8)
    good = _one(fig, "good").y
    assert good[0] > 1 > good[-1]

    heat = charts.reliability_figure(rel, colors, kind="heatmap")
    assert len(heat.data) == 1
    z = np.asarray(heat.data[0].z, dtype=float)
    assert z.shape == (len(RMS), 5)
    expected = rel.pivot(index="rm", columns="bin", values="mean_normalized_oracle").loc[RMS]
    np.testing.assert_allclose(z, expected.to_numpy())
    assert list(heat.data[0].y) == RMS
    assert heat.data[0].zmid == 1.0 and "%{z" in heat.data[0].texttemplate
    with pytest.raises(ValueError):
        charts.reliability_figure(rel, colors, kind="pie")


def test_category_heatmap_values_in_cells_centred_at_one(pool):
    rows = []
    for cat in ("chat", "math"):
        t = Evaluation(pool.select_category(cat)).curves(RMS, [0.25]).table
        rows.append(t.assign(category=cat)[["rm", "category", "reta", "n_prompts"]])
    table = pd.concat(rows, ignore_index=True)
    fig = charts.category_heatmap(table)
    heat = fig.data[0]
    assert list(heat.x) == ["chat", "math"] and list(heat.y) == RMS
    for i, rm in enumerate(RMS):
        for j, cat in enumerate(("chat", "math")):
            want = table[(table["rm"] == rm) & (table["category"] == cat)]["reta"].item()
            assert heat.z[i][j] == pytest.approx(want)
    assert heat.zmid == 1.0 and heat.colorscale and heat.texttemplate == "%{z:.2f}"
    assert np.asarray(heat.customdata).tolist()[0] == [N_PROMPTS // 2] * 2
    _shared_look(fig)
    # a random RM sits at 0 under the difference normalisation
    assert charts.category_heatmap(table, normalization="difference").data[0].zmid == 0.0


# ----------------------------------------------------------------------- stability
@pytest.fixture(scope="module")
def stability(evaluation) -> pd.DataFrame:
    frames = []
    for n in (4, 8, 16):
        etas = [0.5, 1.0 / n]
        res = evaluation.resampled(n, etas, ["good", "noisy"], repeats=20).table
        exact = evaluation.curves(["good", "noisy"], etas, estimator="exact", n=n).table
        res["exact"] = exact["reta"].to_numpy()
        res["estimator"] = np.where(res["eta"] == 0.5, "RETA@0.5", "BoN@n")
        frames.append(res)
    return pd.concat(frames, ignore_index=True)


def test_stability_figure_reta_solid_bon_dashed(stability, colors):
    fig = charts.stability_figure(stability, colors)
    keys = list(stability.groupby(["rm", "estimator"], sort=False).groups)
    assert len(fig.data) == len(keys) == 4
    for rm, est in keys:
        part = stability[(stability["rm"] == rm) & (stability["estimator"] == est)].sort_values("n")
        trace = _one(fig, f"{rm} · {est}")
        np.testing.assert_allclose(trace.x, part["n"])
        np.testing.assert_allclose(trace.y, part["std"])
        assert trace.line.color == colors[rm]
        assert trace.line.dash == ("dash" if est.startswith("BoN") else "solid")
    assert fig.layout.xaxis.type == "log" and list(fig.layout.xaxis.tickvals) == [4, 8, 16]
    cv = charts.stability_figure(stability, colors, metric="cv")
    np.testing.assert_allclose(_one(cv, "good · BoN@n").y,
                               stability.query("rm == 'good' and estimator == 'BoN@n'")["cv"])
    with pytest.raises(ValueError):
        charts.stability_figure(stability, colors, metric="var")


def test_convergence_figure_error_bars_and_exact(stability, colors):
    fig = charts.convergence_figure(stability, colors)
    assert len(fig.data) == 8  # resampled and exact per (RM, estimator)
    part = stability.query("rm == 'noisy' and estimator == 'RETA@0.5'").sort_values("n")
    means = _one(fig, "noisy · RETA@0.5")
    np.testing.assert_allclose(means.y, part["mean"])
    np.testing.assert_allclose(means.error_y.array, 2 * part["std"] / np.sqrt(part["repeats"]))
    exact = _one(fig, "noisy · RETA@0.5 (exact)")
    np.testing.assert_allclose(exact.y, part["exact"])
    # the resampled mean converges to the exact value (RETA_SPEC §5): within 3 SE (seeded)
    assert np.all(np.abs(part["mean"] - part["exact"]) <= 1.5 * means.error_y.array + 1e-9)
    with pytest.raises(ValueError):
        charts.convergence_figure(stability.drop(columns=["std"]), colors)


# ----------------------------------------------------------------------- inspector
def test_inspector_scatter_identifies_points(pool, colors):
    rows = slice(pool.offsets[2], pool.offsets[3])
    responses = pd.DataFrame({"response_id": pool.response_ids[rows],
                              "rm_score": pool.rms["good"][rows],
                              "oracle_score": pool.oracles["judge"][rows]})
    responses["rank"] = responses["rm_score"].rank(ascending=False, method="min").astype(int)
    responses["in_top"] = responses["rank"] <= 4
    responses["preview"] = ["<b>text</b> " * 40] * len(responses)
    cut = responses.loc[responses["in_top"], "rm_score"].min()
    fig = charts.inspector_scatter(responses, colors["good"], cut_score=cut, title="prompt p2")
    assert len(fig.data) == 2
    inside = _one(fig, charts.INSIDE_TOP)
    outside = _one(fig, charts.OUTSIDE_TOP)
    assert sorted(inside.customdata) == sorted(responses.loc[responses["in_top"], "response_id"])
    assert sorted(outside.customdata) == sorted(responses.loc[~responses["in_top"], "response_id"])
    np.testing.assert_allclose(inside.x, responses.loc[responses["in_top"], "rm_score"])
    np.testing.assert_allclose(inside.y, responses.loc[responses["in_top"], "oracle_score"])
    assert inside.marker.color == colors["good"] and inside.marker.size > outside.marker.size
    assert "<b>text" not in inside.hovertext[0]  # previews are escaped for the hover box
    lines = [s for s in fig.layout.shapes if s.type == "line"]
    assert len(lines) == 1 and lines[0].x0 == lines[0].x1 == cut
    _shared_look(fig)


def test_histogram_per_rm(pool, colors):
    long = pd.DataFrame({"rm": np.repeat(["good", "baseline_length"], pool.n_responses),
                         "score": np.r_[pool.rms["good"], pool.rms["baseline_length"]]})
    fig = charts.histogram_figure(long, "score", colors=colors)
    assert [t.name for t in fig.data] == ["good", "baseline_length"]
    np.testing.assert_allclose(fig.data[0].x, pool.rms["good"])
    assert fig.data[1].marker.color == colors["baseline_length"]
    assert fig.data[0].xbins.size == fig.data[1].xbins.size  # shared bins
    assert fig.layout.barmode == "overlay"
    # plotly's bin end is exclusive: the largest value must still fall in a bin
    bins = fig.data[0].xbins
    assert bins.end > max(pool.rms["good"].max(), pool.rms["baseline_length"].max())
    _shared_look(fig)


def test_charts_does_not_import_streamlit():
    code = "import sys, reta_core.charts, reta_core.export; assert 'streamlit' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_curves_figure_draws_bon_stars_at_one_over_n(evaluation, colors):
    curves = evaluation.curves(RMS, [0.1, 0.25, 1.0], estimator="exact", n=4).table
    bon = evaluation.bon(4, RMS).table
    fig = charts.curves_figure(curves, colors, bon=bon)
    stars = [t for t in fig.data if t.name == "BoN@4 (eta = 1/n)"]
    assert len(stars) == 1 and stars[0].marker.symbol == "star"
    np.testing.assert_allclose(stars[0].x, 0.25)
    np.testing.assert_allclose(stars[0].y, bon["bon"])
    assert list(stars[0].marker.color) == [colors[r] for r in bon["rm"]]


def test_marker_label_near_an_edge_is_anchored_inwards(evaluation, colors):
    curves = evaluation.curves(RMS, [0.01, 0.1, 1.0]).table
    near_left = charts.curves_figure(curves, colors, marker_eta=0.011)
    middle = charts.curves_figure(curves, colors, marker_eta=0.1)
    near_right = charts.curves_figure(curves, colors, marker_eta=0.95)
    label = lambda fig: [sh for sh in fig.layout.shapes if sh.type == "line"][-1].label.xanchor  # noqa: E731
    assert (label(near_left), label(middle), label(near_right)) == ("left", "center", "right")


def test_sparklines_share_one_scale_and_carry_the_rm_colour():
    import base64

    values = {"flat": [1.0, 1.0, 0.99], "steep": [2.0, 1.5, 1.0]}
    lo, hi = charts.sparkline_range(values)
    assert (lo, hi) == (0.99, 2.0)

    def ys(url):
        svg = base64.b64decode(url.split(",", 1)[1]).decode()
        points = svg.split('points="')[1].split('"')[0].split()
        return [float(p.split(",")[1]) for p in points], svg

    flat, flat_svg = ys(charts.sparkline_svg(values["flat"], "#123456", (lo, hi), height=30))
    steep, _ = ys(charts.sparkline_svg(values["steep"], "#654321", (lo, hi), height=30))
    assert 'stroke="#123456"' in flat_svg
    assert max(flat) - min(flat) < 1 and max(steep) - min(steep) > 25  # a flat curve stays flat


def test_orange_and_red_are_not_both_among_the_first_six_rm_colours():
    """Orange and red read alike at line width (issue 11): red only comes into play
    from the ninth RM."""
    assert "#FF7F0E" in charts.PALETTE[:6] and "#D62728" not in charts.PALETTE[:6]
    assert len(set(charts.rm_colors([f"rm{i}" for i in range(8)]).values())) == 8
