"""The command line end to end: every subcommand in-process through ``cli.main`` (its
numbers checked against the engine called directly), the ``python -m reta_core`` entry
point and its exit codes as real subprocesses, and the failure contract: exit 2 with
one ``error:`` line on stderr and no file left behind."""
from __future__ import annotations

import io
import errno
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reta_core import cli, metrics
from reta_core.evaluation import Evaluation
from reta_core.export import find_chrome
from reta_core.scorers import PERFECT_RM, rms_not_beating_length
from reta_core.store import Store
from tests.builders import EXAMPLE, EXAMPLE_RM, REAL_POOL, REAL_POOL_MISSING, REPO
from tests.builders import call, ok

ETAS = [0.125, 0.25, 0.5, 1.0]


@pytest.fixture(autouse=True)
def _no_default_db(tmp_path, monkeypatch):
    """Never touch the repository's data/reta.duckdb, whatever a test forgets."""
    monkeypatch.setenv("RETA_DB", str(tmp_path / "default.duckdb"))
    monkeypatch.delenv("RETA_DEBUG", raising=False)


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Path:
    """A small demo benchmark (40 prompts x 8 responses) built through the CLI."""
    db = tmp_path_factory.mktemp("cli") / "reta.duckdb"
    out, err = ok("--db", db, "demo", "--prompts", 40, "--responses", 8)
    assert "Imported benchmark 'demo'" in out and "40 prompts, 320 responses" in out
    assert err == ""
    return db


@pytest.fixture
def engine(demo_db) -> Evaluation:
    """The engine called directly on the demo benchmark (its oracle, ratio normalisation)."""
    return Evaluation(Store(demo_db).load_pool("demo"))


def records(text: str) -> pd.DataFrame:
    """The rows of a command's JSON document (``{"metadata": ..., "rows": [...]}``)."""
    document = json.loads(text)
    assert set(document) == {"metadata", "rows"} and document["metadata"]["version"]
    return pd.DataFrame(document["rows"])


# ---------------------------------------------------------------------------- demo, list
def test_demo_replace_and_existing_name(tmp_path):
    db = tmp_path / "d.duckdb"
    ok("--db", db, "demo", "--prompts", 10, "--responses", 4, "--seed", 3)
    status, out, err = call("--db", db, "demo", "--prompts", 10, "--responses", 4)
    assert status == 2 and out == ""
    assert err.startswith("error:") and "exists already" in err and err.count("\n") == 1
    out, _ = ok("--db", db, "demo", "--prompts", 12, "--responses", 4, "--replace")
    assert out.startswith("Replaced benchmark 'demo'")
    assert Store(db).benchmark_info("demo")["n_prompts"] == 12


def test_list_table_and_json(demo_db):
    out, _ = ok("--db", demo_db, "list")
    assert "demo" in out and "judge_score (default)" in out and "8/8/8" in out
    assert "baseline_length (baseline)" in out and "strong_rm," in out
    data = json.loads(ok("--db", demo_db, "list", "--format", "json")[0])["rows"]
    info = Store(demo_db).benchmark_info("demo")
    (bench,) = data
    assert bench["name"] == "demo" and bench["default_oracle"] == "judge_score"
    assert bench["oracles"] == ["judge_score"]
    assert [r["name"] for r in bench["rms"]] == [r["name"] for r in info["rms"]]
    assert {r["name"] for r in bench["rms"] if r["is_baseline"]} == {"baseline_length",
                                                                      "baseline_random"}
    assert bench["pool_size"] == {"min": 8, "median": 8, "max": 8}
    assert bench["n_prompts"] == 40 and bench["n_responses"] == 320


def test_list_without_database(tmp_path):
    status, out, err = call("--db", tmp_path / "none.duckdb", "list", "--format", "json")
    assert status == 0 and json.loads(out)["rows"] == [] and "no benchmark" in err
    assert not (tmp_path / "none.duckdb").exists()


# ---------------------------------------------------------------------------- reta
def test_reta_json_equals_engine(demo_db, engine):
    got = records(ok("--db", demo_db, "reta", "--benchmark", "demo", "--eta", "0.125,0.25,0.5,1",
                     "--format", "json")[0])
    want = engine.curves(etas=ETAS).table
    assert list(got.columns) == ["rm", "eta", "reta", "n_prompts", "below_min_eta"]  # rows keep the flags
    assert got["rm"].tolist() == want["rm"].tolist() == [
        r for r in engine.rms for _ in ETAS]
    np.testing.assert_array_equal(got["eta"], want["eta"])
    np.testing.assert_allclose(got["reta"], want["reta"], rtol=0, atol=1e-15)
    np.testing.assert_array_equal(got["n_prompts"], want["n_prompts"])


def test_reta_default_grid_and_chosen_rms(demo_db, engine):
    got = records(ok("--db", demo_db, "reta", "--benchmark", "demo", "--rm", "random_rm",
                     "--rm", "strong_rm", "--format", "json")[0])
    want = engine.curves(["random_rm", "strong_rm"]).table
    assert got["rm"].unique().tolist() == ["random_rm", "strong_rm"]
    np.testing.assert_array_equal(got["eta"], want["eta"])
    np.testing.assert_array_equal(got["eta"].unique(), metrics.default_eta_grid(8))
    np.testing.assert_allclose(got["reta"], want["reta"], rtol=0, atol=1e-15)


def test_reta_ci_brackets_reta(demo_db, engine):
    got = records(ok("--db", demo_db, "reta", "--benchmark", "demo", "--eta", "0.25,0.5",
                     "--rm", "strong_rm", "--rm", "random_rm", "--ci", "--format", "json")[0])
    assert list(got.columns) == ["rm", "eta", "reta", "ci_low", "ci_high", "n_prompts", "below_min_eta"]
    assert (got["ci_low"] < got["reta"]).all() and (got["reta"] < got["ci_high"]).all()
    want = engine.curves(["strong_rm", "random_rm"], [0.25, 0.5], ci=True).table
    np.testing.assert_allclose(got[["ci_low", "ci_high"]], want[["ci_low", "ci_high"]], atol=1e-15)
    fewer = records(ok("--db", demo_db, "reta", "--benchmark", "demo", "--eta", "0.25",
                       "--rm", "strong_rm", "--ci", "--repeats", 50, "--format", "json")[0])
    assert fewer["ci_low"].iloc[0] != got["ci_low"].iloc[0]  # B = 50, not the default 1000


def test_reta_exact_equals_exact_estimator(demo_db, engine):
    got = records(ok("--db", demo_db, "reta", "--benchmark", "demo", "--estimator", "exact",
                     "--n", 4, "--eta", "0.25,0.5,1", "--format", "json")[0])
    want = engine.curves(etas=[0.25, 0.5, 1], estimator="exact", n=4).table
    np.testing.assert_allclose(got["reta"], want["reta"], rtol=0, atol=1e-15)
    assert not np.allclose(got["reta"], engine.curves(etas=[0.25, 0.5, 1]).table["reta"])
    # without --n: the smallest pool (8)
    default = records(ok("--db", demo_db, "reta", "--benchmark", "demo", "--estimator", "exact",
                         "--eta", "0.5", "--rm", "strong_rm", "--format", "json")[0])
    want8 = engine.curves(["strong_rm"], [0.5], estimator="exact", n=8)
    assert default["reta"].iloc[0] == pytest.approx(want8.table["reta"].iloc[0], abs=1e-15)


def test_reta_resample_is_seeded(demo_db, engine):
    def run(seed):
        return records(ok("--db", demo_db, "reta", "--benchmark", "demo", "--estimator",
                          "resample", "--n", 4, "--eta", "0.25,0.5", "--rm", "strong_rm",
                          "--repeats", 30, "--seed", seed, "--format", "json")[0])

    first, again, other = run(7), run(7), run(8)
    assert list(first.columns) == ["rm", "eta", "k", "reta", "std", "n_prompts"]
    pd.testing.assert_frame_equal(first, again)
    assert not np.allclose(first["reta"], other["reta"])
    want = engine.resampled(4, [0.25, 0.5], ["strong_rm"], repeats=30, seed=7).table
    np.testing.assert_allclose(first["reta"], want["mean"], atol=1e-15)
    np.testing.assert_allclose(first["std"], want["std"], atol=1e-15)


def test_reta_csv_matches_json_and_table_flags_small_eta(demo_db):
    base = ["--db", demo_db, "reta", "--benchmark", "demo", "--eta", "0.05,0.5", "--rm",
            "strong_rm"]
    as_json = records(ok(*base, "--format", "json")[0])
    as_csv = pd.read_csv(io.StringIO(ok(*base, "--format", "csv")[0]))
    pd.testing.assert_frame_equal(as_csv, as_json, check_dtype=False)
    table, _ = ok(*base)
    rows = {line.split()[1]: line for line in table.splitlines() if line.startswith("strong_rm")}
    assert rows["0.05"].rstrip().endswith("*")  # 0.05 < 1/8: top-1 only
    assert not rows["0.5"].rstrip().endswith("*")
    assert "below 1/min N" in table and "min N = 8" in table


def test_reta_reports_excluded_prompts_on_stderr(tmp_path):
    rows = [("p1", f"p1-r{i}", s, r) for i, (s, r) in enumerate([(5, 1), (7, 2), (9, 3)])]
    rows += [("p2", "p2-r0", 4, 1)]  # one response: does not count
    rows += [("p3", "p3-r0", 0, 1), ("p3", "p3-r1", 0, 2)]  # mean oracle 0: not for ratio
    path = tmp_path / "small.csv"
    pd.DataFrame(rows, columns=["prompt_id", "response_id", "judge", "rm_a"]).to_csv(path, index=False)
    db = tmp_path / "x.duckdb"
    ok("--db", db, "ingest", path, "--benchmark", "small", "--oracle", "judge", "--rm", "rm_a")
    out, err = ok("--db", db, "reta", "--benchmark", "small", "--eta", "0.5", "--format", "json")
    assert json.loads(out)["rows"][0]["n_prompts"] == 1
    lines = sorted(err.splitlines())
    assert lines == ["note: rm_a: 1 prompt does not count (fewer than 2 scored responses)",
                     "note: rm_a: 1 prompt does not count (mean oracle score <= 0 (ratio normalisation))"]
    out, err = ok("--db", db, "reta", "--benchmark", "small", "--eta", "0.5", "--format", "json",
                  "--normalization", "difference")
    assert json.loads(out)["rows"][0]["n_prompts"] == 2 and err.count("\n") == 1


def test_reta_category_and_normalization(demo_db):
    store = Store(demo_db)
    pool = store.load_pool("demo", category="math")
    got = records(ok("--db", demo_db, "reta", "--benchmark", "demo", "--category", "math",
                     "--normalization", "difference", "--eta", "0.5", "--format", "json")[0])
    want = Evaluation(pool, normalization="difference").curves(etas=[0.5]).table
    np.testing.assert_allclose(got["reta"], want["reta"], atol=1e-15)
    assert (got["n_prompts"] == pool.n_prompts).all() and pool.n_prompts < 40


def test_out_writes_the_file_and_nothing_to_stdout(demo_db, tmp_path):
    target = tmp_path / "curves.json"
    status, out, err = call("--db", demo_db, "reta", "--benchmark", "demo", "--eta", "0.5",
                            "--format", "json", "--out", target)
    assert status == 0 and out == ""
    assert "wrote" in err and json.loads(target.read_text())["rows"][0]["eta"] == 0.5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curves.json"]  # no temporary left
    target.write_text("old")  # replaced as a whole
    ok("--db", demo_db, "reta", "--benchmark", "demo", "--eta", "0.5", "--format", "csv",
       "--out", target)
    assert target.read_text().startswith("rm,eta,reta,n_prompts,below_min_eta\n")


# ---------------------------------------------------------------------------- leaderboard
def test_leaderboard_json_and_csv_equal_the_engine(demo_db, engine):
    want = engine.leaderboard(ci=False).table
    columns = ["rm", "pairwise_accuracy", "spearman", "kendall", "bon", "eta_star",
               "reta_at_eta_star", "reta_0.05", "reta_0.1", "reta_0.25", "reta_0.5",
               "is_baseline", "is_derived", "n_prompts"]
    status, out, err = call("--db", demo_db, "leaderboard", "--benchmark", "demo", "--format", "json")
    assert status == 0
    got = records(out)
    assert list(got.columns) == columns
    pd.testing.assert_frame_equal(got, want[columns], check_dtype=False, atol=1e-15, rtol=0)
    as_csv = pd.read_csv(io.StringIO(ok("--db", demo_db, "leaderboard", "--benchmark", "demo",
                                        "--format", "csv")[0]))
    pd.testing.assert_frame_equal(as_csv, want[columns], check_dtype=False, atol=1e-15, rtol=0)
    lagging = rms_not_beating_length(want)
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert [w.split()[1] for w in warnings] == lagging
    assert all("length baseline" in w for w in warnings)


def test_leaderboard_n_ci_and_table(demo_db, engine):
    got = records(ok("--db", demo_db, "leaderboard", "--benchmark", "demo", "--n", 4, "--ci",
                     "--format", "json")[0])
    want = engine.leaderboard(n=4, ci=True).table
    for col in ("bon", "reta_0.1_low", "reta_0.1_high", "reta_at_eta_star_low"):
        np.testing.assert_allclose(got[col], want[col], atol=1e-15)
    assert (got["reta_0.25_low"] <= got["reta_0.25"]).all()
    assert (got["reta_0.25"] <= got["reta_0.25_high"]).all()
    table, _ = ok("--db", demo_db, "leaderboard", "--benchmark", "demo")
    assert "BoN@8" in table and "baseline_length (baseline)" in table
    body = [line for line in table.splitlines() if line.split() and line.split()[0] in engine.rms]
    assert [line.split()[0] for line in body] == want["rm"].tolist()


def test_leaderboard_says_why_an_rm_has_no_bon(tmp_path):
    """An RM that scored 3 of every counted prompt's 4 responses has no BoN@4 (§4: prompts
    with fewer than n do not count); the table says so instead of a bare '-'.  Prompt p0
    has all 4 scores but does not count (its oracle mean is 0, so no ratio, §3)."""
    rows = ["prompt_id,prompt,response_id,response,gold,full_rm,partial_rm"]
    for p in range(6):
        for r in range(4):
            partial = "" if r == 3 and p else (r * p) % 3
            rows.append(f"p{p},q{p},p{p}-r{r},a{r},{(p + r) % 5 if p else 0},{r},{partial}")
    (tmp_path / "holes.csv").write_text("\n".join(rows) + "\n")
    db = tmp_path / "h.duckdb"
    ok("--db", db, "ingest", tmp_path / "holes.csv", "--benchmark", "holes", "--oracle", "gold")
    table, _ = ok("--db", db, "leaderboard", "--benchmark", "holes")
    line = next(l for l in table.splitlines() if l.startswith("bon -:"))
    assert line == ("bon -: BoN@4 is undefined for 'partial_rm': no prompt has n = 4 responses scored by both "
                    "the RM and the oracle (docs/metric.md §4); a smaller --n gives it a value.")
    assert "full_rm" not in line
    board = Evaluation.from_store(Store(db), "holes").leaderboard(ci=False)
    assert board.without_bon == ("partial_rm",) and board.n == 4
    assert board.table.set_index("rm")["bon"].isna().to_dict() == {
        "full_rm": False, "partial_rm": True, "baseline_length": False, "baseline_random": False}
    assert not any(l.startswith("bon -:") for l in
                   ok("--db", db, "leaderboard", "--benchmark", "holes", "--n", 3)[0].splitlines())


# ---------------------------------------------------------------------------- ingest, add-scores
def test_ingest_example_and_add_scores(tmp_path):
    db = tmp_path / "e.duckdb"
    out, err = ok("--db", db, "ingest", EXAMPLE, "--benchmark", "example", "--oracle", "judge_score")
    assert out.startswith("Imported benchmark 'example' from example_benchmark.csv")
    assert "every other numeric column became an RM: helpful_rm" in err and "--no-rms" in err
    out, _ = ok("--db", db, "add-scores", EXAMPLE_RM, "--benchmark", "example", "--rm", "my_rm",
                "--description", "from the example file")
    assert "Imported RM 'my_rm' into benchmark 'example'" in out
    rms = Store(db).list_rms("example").set_index("name")
    assert list(rms.index) == ["helpful_rm", "baseline_length", "baseline_random", "my_rm"]
    assert rms.loc["my_rm", "description"] == "from the example file"
    got = records(ok("--db", db, "reta", "--benchmark", "example", "--rm", "my_rm", "--eta",
                     "0.5", "--format", "json")[0])
    pool = Store(db).load_pool("example")
    want = Evaluation(pool).curves(["my_rm"], [0.5]).table
    assert got["reta"].iloc[0] == pytest.approx(want["reta"].iloc[0], abs=1e-15)


def test_ingest_rm_choices(tmp_path):
    db = tmp_path / "e.duckdb"
    _, err = ok("--db", db, "ingest", EXAMPLE, "--benchmark", "none", "--oracle", "judge_score",
                "--no-rms", "--no-baselines", "--description", "no RMs")
    assert err == ""
    info = Store(db).benchmark_info("none")
    assert info["rms"] == [] and info["description"] == "no RMs"
    ok("--db", db, "ingest", EXAMPLE, "--benchmark", "chosen", "--oracle", "judge_score",
       "--rm", "helpful_rm")
    assert [r["name"] for r in Store(db).benchmark_info("chosen")["rms"]] == [
        "helpful_rm", "baseline_length", "baseline_random"]
    status, _, err = call("--db", db, "ingest", EXAMPLE, "--benchmark", "both", "--oracle",
                          "judge_score", "--rm", "helpful_rm", "--no-rms")
    assert status == 2 and err.startswith("error:") and "not allowed with" in err


# ---------------------------------------------------------------------------- export-chart
def test_export_chart_html_and_csv(demo_db, engine, tmp_path):
    html = tmp_path / "curves.html"
    status, out, _ = call("--db", demo_db, "export-chart", "--benchmark", "demo", "--chart",
                          "curves", "--rm", "strong_rm", "--rm", "reward_hacked_rm", "--eta", "0.3",
                          "--out", html)
    assert status == 0 and out == ""
    text = html.read_text()
    assert "strong_rm" in text and "reward_hacked_rm" in text and "noisy_small_rm" not in text
    assert "Plotly.newPlot" in text and "perfect ranking" in text
    csv = tmp_path / "curves.csv"
    ok("--db", demo_db, "export-chart", "--benchmark", "demo", "--chart", "curves", "--rm",
       "strong_rm", "--rm", "reward_hacked_rm", "--out", csv)
    want = engine.curves_chart(["strong_rm", "reward_hacked_rm"]).table()
    got = pd.read_csv(csv)
    assert list(got.columns) == list(want.columns)
    pd.testing.assert_frame_equal(got, want, check_dtype=False, atol=1e-15, rtol=0)
    # the RMs' rows are the engine's curves; the perfect ranking's rows are there too
    curves = got[got["series"] == "RETA curve"].drop(columns="series").reset_index(drop=True)
    direct = engine.curves(["strong_rm", "reward_hacked_rm"], ci=True).table
    pd.testing.assert_frame_equal(curves, direct, check_dtype=False, atol=1e-15, rtol=0)
    assert (got.loc[got["series"].str.startswith("perfect"), "rm"] == PERFECT_RM).all()
    exact = tmp_path / "exact.csv"
    ok("--db", demo_db, "export-chart", "--benchmark", "demo", "--chart", "curves", "--rm", "strong_rm",
       "--estimator", "exact", "--n", "4", "--out", exact)
    bon_rows = pd.read_csv(exact).query("series == 'BoN@n'")
    assert bon_rows["eta"].tolist() == [0.25]
    assert bon_rows["reta"].iloc[0] == pytest.approx(engine.bon(4, ["strong_rm"]).table["bon"].iloc[0])


def test_curves_chart_data_is_what_the_page_draws(engine):
    data = engine.curves_chart(["strong_rm"], estimator="exact", include=(0.05,))
    assert data.n == 8 and data.min_eta == pytest.approx(1 / 8) and data.min_pool_size == 8
    assert 0.05 in data.curves["eta"].to_numpy()
    np.testing.assert_array_equal(data.perfect["eta"], data.curves["eta"])
    perfect = engine.pool.with_rms({"perfect ranking": engine.pool.oracles["judge_score"]})
    want = Evaluation(perfect, "judge_score").curves(["perfect ranking"], data.curves["eta"].to_numpy(),
                                                     estimator="exact", n=8).table
    np.testing.assert_allclose(data.perfect["reta"], want["reta"], atol=1e-15)
    assert (data.perfect["reta"].to_numpy() >= data.curves["reta"].to_numpy() - 1e-12).all()


@pytest.mark.skipif(find_chrome() is None, reason="no Chrome/Chromium to render images")
def test_export_chart_png(demo_db, tmp_path):
    png = tmp_path / "curves.png"
    ok("--db", demo_db, "export-chart", "--benchmark", "demo", "--chart", "curves",
       "--estimator", "exact", "--n", 4, "--out", png)
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_export_chart_image_without_browser(demo_db, tmp_path, monkeypatch):
    from reta_core.export import CHROME_MISSING_HELP

    monkeypatch.setattr("reta_core.export.find_chrome", lambda: None)
    status, out, err = call("--db", demo_db, "export-chart", "--benchmark", "demo", "--chart",
                            "curves", "--out", tmp_path / "c.svg")
    assert status == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("error:") and CHROME_MISSING_HELP in err
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------- remove
def test_remove_rm_and_benchmark(tmp_path, monkeypatch):
    db = tmp_path / "r.duckdb"
    ok("--db", db, "demo", "--prompts", 10, "--responses", 4)
    status, _, err = call("--db", db, "remove", "--benchmark", "demo", "--rm", "random_rm")
    assert status == 2 and "--yes" in err and err.count("\n") == 1  # not a terminal
    assert "random_rm" in [r["name"] for r in Store(db).benchmark_info("demo")["rms"]]
    out, _ = ok("--db", db, "remove", "--benchmark", "demo", "--rm", "random_rm", "--yes")
    assert "Removed RM 'random_rm'" in out
    assert "random_rm" not in [r["name"] for r in Store(db).benchmark_info("demo")["rms"]]
    status, _, err = call("--db", db, "remove", "--benchmark", "demo", "--rm", "random_rm", "--yes")
    assert status == 2 and "unknown RM 'random_rm'" in err

    monkeypatch.setattr(cli, "_stdin_tty", lambda: True)  # a terminal: ask
    monkeypatch.setattr(sys, "stdin", io.StringIO("n\n"))
    status, out, err = call("--db", db, "remove", "--benchmark", "demo")
    assert status == 0 and "nothing removed" in err and "[y/N]" in err
    assert Store(db).benchmark_names() == ["demo"]
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n"))
    out, _ = ok("--db", db, "remove", "--benchmark", "demo")
    assert "Removed benchmark 'demo'" in out and Store(db).benchmark_names() == []


# ---------------------------------------------------------------------------- failures
FAILURES = {
    "unknown benchmark": (["reta", "--benchmark", "nope"], "unknown benchmark 'nope'"),
    "unknown RM": (["reta", "--benchmark", "demo", "--rm", "nope_rm"], "unknown RM 'nope_rm'"),
    "unknown oracle": (["leaderboard", "--benchmark", "demo", "--oracle", "strong_rm"],
                       "unknown oracle 'strong_rm'"),
    "eta 1.5": (["reta", "--benchmark", "demo", "--eta", "0.1,1.5"], "eta must lie in (0, 1], got 1.5"),
    "eta 0": (["reta", "--benchmark", "demo", "--eta", "0"], "eta must lie in (0, 1], got 0"),
    "eta text": (["reta", "--benchmark", "demo", "--eta", "abc"], "'abc' is not a number"),
    "n 0": (["reta", "--benchmark", "demo", "--estimator", "exact", "--n", "0"],
            "n must be a whole number >= 1, got 0"),
    "n too large": (["reta", "--benchmark", "demo", "--estimator", "exact", "--n", "9"],
                    "n = 9 is larger than every pool"),
    "n too large, leaderboard": (["leaderboard", "--benchmark", "demo", "--n", "99"],
                                 "n = 99 is larger than every pool"),
    "n with pool": (["reta", "--benchmark", "demo", "--n", "4"], "--n applies to"),
    "missing file": (["ingest", "no_such_file.csv", "--benchmark", "x", "--oracle", "j"],
                     "no_such_file.csv: file not found"),
    "missing oracle column": (["ingest", str(EXAMPLE), "--benchmark", "x", "--oracle", "gpt4"],
                              "no column 'gpt4' (named as oracle)"),
    "bad format": (["reta", "--benchmark", "demo", "--format", "xml"], "invalid choice: 'xml'"),
    "missing option": (["reta"], "the following arguments are required: --benchmark"),
    "unknown command": (["bogus"], "invalid choice: 'bogus'"),
    "unknown extension": (["export-chart", "--benchmark", "demo", "--chart", "curves", "--out",
                           "OUT.txt"], "unknown extension '.txt'"),
    "unknown category": (["reta", "--benchmark", "demo", "--category", "poetry"],
                         "unknown category 'poetry'"),
    "existing RM": (["add-scores", str(EXAMPLE_RM), "--benchmark", "demo", "--rm", "strong_rm"],
                    "strong_rm"),
}


@pytest.mark.parametrize("case", list(FAILURES))
def test_failures_exit_2_with_one_error_line(case, demo_db, tmp_path):
    args, expected = FAILURES[case]
    args = [a.replace("OUT", str(tmp_path / "chart")) for a in args]
    if "--out" not in args and args[0] in ("reta", "leaderboard"):
        args += ["--out", str(tmp_path / "result.json")]
    before = Store(demo_db).benchmark_info("demo")
    status, out, err = call("--db", demo_db, *args)
    assert status == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("error:"), err
    assert expected in err
    assert list(tmp_path.iterdir()) == []  # no output file, no temporary left behind
    assert Store(demo_db).benchmark_info("demo") == before


def test_unexpected_failure_is_exit_1_and_traceback_only_with_debug(demo_db, monkeypatch):
    def boom(self):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(Store, "benchmark_names", boom)
    status, out, err = call("--db", demo_db, "list")
    assert status == 1 and out == "" and err.count("\n") == 1
    assert err == "error: unexpected failure in list: ZeroDivisionError: boom (please report)\n"
    status, _, err = call("--db", demo_db, "list", "--debug")
    assert status == 1 and "Traceback (most recent call last)" in err
    assert err.splitlines()[-1].startswith("error: unexpected failure")
    monkeypatch.setenv("RETA_DEBUG", "1")
    assert "Traceback" in call("--db", demo_db, "list")[2]


def test_help_exits_0(capsys):
    assert cli.main(["--help"]) == 0
    text = capsys.readouterr().out
    for command in ("demo", "ingest", "add-scores", "list", "reta", "leaderboard",
                    "export-chart", "remove"):
        assert command in text
    assert cli.main(["reta", "--help"]) == 0
    assert "examples:" in capsys.readouterr().out


# ---------------------------------------------------------------------------- subprocesses
def run_module(*args, db: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "RETA_DB": str(db), "PYTHONPATH": str(REPO)}
    env.pop("RETA_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "reta_core", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_entry_point_exit_codes_and_quiet_progress(tmp_path):
    db = tmp_path / "sub.duckdb"
    built = run_module("demo", "--prompts", 40, "--responses", 8, db=db, cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    assert built.stderr == ""  # piped: no progress bar
    assert "Imported benchmark 'demo'" in built.stdout
    res = run_module("reta", "--benchmark", "demo", "--estimator", "resample", "--n", 4,
                     "--repeats", 20, "--eta", "0.25", "--format", "json", "--db", db,
                     db=tmp_path / "unused.duckdb", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stderr == "" and "\r" not in res.stderr
    assert len(json.loads(res.stdout)["rows"]) == 8
    bad = run_module("reta", "--benchmark", "demo", "--eta", "1.5", db=db, cwd=tmp_path)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr == "error: eta must lie in (0, 1], got 1.5\n"
    usage = run_module("reta", "--benchmark", "demo", "--format", "xml", db=db, cwd=tmp_path)
    assert usage.returncode == 2 and usage.stderr.count("\n") == 1
    assert usage.stderr.startswith("error:")


FAST_EXIT_SCRIPT = """
import atexit, sys, threading, time
from pathlib import Path
from reta_core.cli import main_exit
out = Path(sys.argv[1])
atexit.register(lambda: (out / "atexit").write_text("ran"))
if sys.argv[2] == "thread":  # a non-daemon thread still writing: the exit must wait for it
    threading.Thread(target=lambda: (time.sleep(0.5), (out / "thread").write_text("done"))).start()
sys.argv = ["reta", *sys.argv[3:]]
main_exit()
"""


def fast_exit_env(unbuffered: bool) -> dict:
    """The child's environment; buffered output (no PYTHONUNBUFFERED) is what a user has
    and what leaves the most for the last flush."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("RETA_DEBUG", None)
    env.pop("PYTHONUNBUFFERED", None)
    return {**env, "PYTHONUNBUFFERED": "1"} if unbuffered else env


@pytest.mark.parametrize("thread", ["none", "thread"])
def test_the_fast_exit_keeps_exit_handlers_output_status_and_threads(tmp_path, demo_db, thread):
    """main_exit skips the interpreter's teardown, but not the exit handlers, the buffered
    output, the exit status, or a non-daemon thread that is still running."""
    run = lambda *args: subprocess.run([sys.executable, "-c", FAST_EXIT_SCRIPT, str(tmp_path), thread,
                                        *map(str, args)], env=fast_exit_env(False),
                                       capture_output=True, text=True, timeout=300)
    res = run("--db", demo_db, "list")  # small: all of it waits in the buffer until the exit
    assert res.returncode == 0, res.stderr
    assert res.stdout == ok("--db", demo_db, "list")[0] and res.stderr == ""
    assert (tmp_path / "atexit").read_text() == "ran"
    assert (tmp_path / "thread").exists() == (thread == "thread")
    (tmp_path / "atexit").unlink()
    bad = run("--db", demo_db, "reta", "--benchmark", "demo", "--eta", "1.5")
    assert bad.returncode == 2 and bad.stderr == "error: eta must lie in (0, 1], got 1.5\n"
    assert (tmp_path / "atexit").read_text() == "ran"


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (a device that is always full)")
@pytest.mark.parametrize("unbuffered", [False, True], ids=["buffered", "unbuffered"])
@pytest.mark.parametrize("command", [["list"], ["reta", "--benchmark", "demo", "--format", "json"]],
                         ids=["small", "large"])
def test_output_the_system_refuses_is_exit_2_in_one_line(demo_db, command, unbuffered):
    """Output to a full disk fails whether it is written during the run (large or
    unbuffered) or by the last flush (small and buffered); a closed stdout likewise; a
    reader that leaves early (`| head`) is no error; a full stderr loses no output."""
    argv = [sys.executable, "-m", "reta_core", "--db", str(demo_db), *command]
    env = fast_exit_env(unbuffered)
    with open("/dev/full", "w") as full:
        res = subprocess.run(argv, env=env, stdout=full, stderr=subprocess.PIPE, text=True, timeout=300)
        quiet = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=full, text=True, timeout=300)
    assert res.returncode == 2 and res.stderr == "error: cannot write the standard output: No space left on device\n"
    assert quiet.returncode == 0 and quiet.stdout == ok("--db", demo_db, *command)[0]
    closed = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            timeout=300, preexec_fn=lambda: os.close(1))
    assert closed.returncode == 2 and closed.stderr == "error: cannot write the standard output: it is closed\n"
    reader = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    reader.stdout.close()  # left before reading anything
    assert reader.wait(timeout=300) == 0 and reader.stderr.read() == b""


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (a device that is always full)")
def test_a_refused_output_after_a_database_write_says_the_write_happened(tmp_path):
    db = tmp_path / "w.duckdb"
    with open("/dev/full", "w") as full:
        res = subprocess.run([sys.executable, "-m", "reta_core", "--db", str(db), "demo", "--prompts", "10",
                              "--responses", "4"], env=fast_exit_env(False), stdout=full, stderr=subprocess.PIPE,
                             text=True, timeout=300)
    assert res.returncode == 2 and res.stderr == ("error: cannot write the standard output: No space left on "
                                                  "device (the database had been updated before that)\n")
    assert Store(db).benchmark_names() == ["demo"]


def test_an_os_error_that_is_not_a_refused_output_is_still_a_bug(demo_db, monkeypatch):
    def broken(self):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(Store, "benchmark_names", broken)
    status, out, err = call("--db", demo_db, "list")
    assert status == 1 and out == ""
    assert err == "error: unexpected failure in list: OSError: [Errno 5] Input/output error (please report)\n"


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_FSIZE as a full disk is Linux's")
def test_a_commit_the_disk_refuses_is_exit_2_and_writes_nothing(tmp_path):
    """A file-size limit makes the database's log unwritable at COMMIT, as a full disk
    would: one line, exit 2, and the database holds nothing of it."""
    import resource
    import signal

    def small_files():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a refused write, not a killed process
        resource.setrlimit(resource.RLIMIT_FSIZE, (400_000, 400_000))

    db = tmp_path / "full.duckdb"
    res = subprocess.run([sys.executable, "-m", "reta_core", "--db", str(db), "demo", "--prompts", "200",
                          "--responses", "16"], env=fast_exit_env(False), capture_output=True, text=True,
                         timeout=300, preexec_fn=small_files)
    assert res.returncode == 2 and res.stderr.count("\n") == 1, res.stderr
    assert res.stderr.startswith(f"error: {db}: cannot write the database: ") and "File too large" in res.stderr
    assert res.stderr.endswith("nothing was written (free space or fix the folder's permissions, then run it "
                               "again)\n") and res.stdout == ""
    assert Store(db).benchmark_names() == []


@pytest.mark.skipif(not REAL_POOL.is_file(), reason=REAL_POOL_MISSING)
def test_real_pool(tmp_path):
    db = tmp_path / "real.duckdb"
    out, err = ok("--db", db, "ingest", REAL_POOL, "--benchmark", "alpaca", "--oracle",
                  "gpt4_turbo_preference", "--no-rms")
    assert "805 prompts, 8,855 responses" in out and "sample_index" not in out + err
    res = run_module("reta", "--benchmark", "alpaca", "--rm", "baseline_length", "--eta",
                     "0.1,0.5", "--format", "json", db=db, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    got = json.loads(res.stdout)["rows"]
    assert [r["eta"] for r in got] == [0.1, 0.5]
    assert all(r["rm"] == "baseline_length" and 0 < r["n_prompts"] <= 805 for r in got)
    assert all(np.isfinite(r["reta"]) for r in got)


# ---------------------------------------------------------------------------- compare (a CI gate)
def test_compare_gate_on_the_demo(tmp_path):
    """The issue's 'done when': on the demo benchmark strong_rm is significantly better than
    random_rm (exit 0), and random_rm is not better than the seeded random baseline (exit 3)."""
    db = tmp_path / "demo.duckdb"
    ok("--db", db, "demo")
    status, out, err = call("--db", db, "compare", "--benchmark", "demo", "--rm", "random_rm", "--rm",
                            "strong_rm", "--require-better")
    assert status == 0 and "strong_rm is significantly better than random_rm" in err
    assert "sim_low" in out and "diff = strong_rm - random_rm" in out
    status, out, err = call("--db", db, "compare", "--benchmark", "demo", "--rm", "baseline_random", "--rm",
                            "random_rm", "--require-better")
    assert status == 3 and "is not significantly better" in err and err.count("\n") == 1
    document = json.loads(ok("--db", db, "compare", "--benchmark", "demo", "--rm", "random_rm", "--rm",
                             "strong_rm", "--format", "json", "--eta", "0.1,0.5")[0])
    assert document["metadata"]["base"] == "random_rm" and document["metadata"]["candidate"] == "strong_rm"
    rows = pd.DataFrame(document["rows"])
    engine = Evaluation.from_store(Store(db), "demo")
    want = engine.compare("strong_rm", "random_rm", [0.1, 0.5]).table
    np.testing.assert_allclose(rows["diff"], want["diff"], rtol=1e-12)
    np.testing.assert_allclose(rows["sim_low"], want["sim_low"], rtol=1e-12)
    assert (rows["sim_low"] <= rows["ci_low"] + 1e-12).all()  # the simultaneous band is the wider
    assert (rows["p_candidate_better"] == 1.0).all()


def test_compare_at_one_eta_and_usage(demo_db):
    status, out, err = call("--db", demo_db, "compare", "--benchmark", "demo", "--rm", "random_rm", "--rm",
                            "strong_rm", "--require-better", "--at", "0.25", "--format", "json")
    rows = json.loads(out)["rows"]
    assert status == 0 and any(r["eta"] == 0.25 for r in rows) and "at eta = 0.25" in err
    status, _, err = call("--db", demo_db, "compare", "--benchmark", "demo", "--rm", "strong_rm")
    assert status == 2 and "exactly two RMs" in err
    status, _, err = call("--db", demo_db, "compare", "--benchmark", "demo", "--rm", "a", "--rm", "b",
                          "--at", "0.1")
    assert status == 2 and "--at goes with --require-better" in err


@pytest.mark.parametrize("chart, extra, engine_table", [
    ("difference", ["--rm", "strong_rm", "--rm", "random_rm"],
     lambda ev: ev.compare("strong_rm", "random_rm").table),
    ("reliability", ["--rm", "strong_rm", "--bins", "4"], lambda ev: ev.reliability_map(["strong_rm"], 4).table),
    ("category", ["--rm", "strong_rm", "--eta", "0.25"], lambda ev: ev.category_table(0.25, ["strong_rm"])),
    ("stability", ["--rm", "strong_rm", "--repeats", "5", "--eta", "0.25"],
     lambda ev: ev.stability(0.25, ["strong_rm"], repeats=5)),
    ("convergence", ["--rm", "strong_rm", "--repeats", "5", "--eta", "0.25"],
     lambda ev: ev.stability(0.25, ["strong_rm"], repeats=5)),
    ("scores", [], lambda ev: ev.score_values([ev.oracle] + ev.rms)),
])
def test_export_chart_covers_every_chart(demo_db, tmp_path, chart, extra, engine_table):
    """Each chart's CSV is the engine's table; its HTML is the page's figure builder's."""
    csv_path, html_path = tmp_path / f"{chart}.csv", tmp_path / f"{chart}.html"
    ok("--db", demo_db, "export-chart", "--benchmark", "demo", "--chart", chart, *extra, "--out", csv_path)
    got = pd.read_csv(csv_path)
    want = engine_table(Evaluation.from_store(Store(demo_db), "demo"))
    assert list(got.columns) == list(want.columns) and len(got) == len(want)
    numeric = [c for c in want.columns if pd.api.types.is_float_dtype(want[c])]
    np.testing.assert_allclose(got[numeric].to_numpy(float), want[numeric].to_numpy(float), rtol=1e-9,
                               equal_nan=True)
    ok("--db", demo_db, "export-chart", "--benchmark", "demo", "--chart", chart, *extra, "--out", html_path)
    assert "plotly" in html_path.read_text()[:20000].lower()


def test_export_chart_inspector_needs_one_rm_and_a_prompt(demo_db, tmp_path):
    target = tmp_path / "p.csv"
    prompt = Store(demo_db).load_prompts("demo")["prompt_id"].iloc[3]
    ok("--db", demo_db, "export-chart", "--benchmark", "demo", "--chart", "inspector", "--rm", "strong_rm",
       "--prompt", prompt, "--eta", "0.25", "--out", target)
    got = pd.read_csv(target)
    ev = Evaluation.from_store(Store(demo_db), "demo")
    want = ev.prompt_responses("strong_rm", 3, 0.25)
    assert list(got["response_id"]) == list(want["response_id"]) and "preview" in got
    for args, message in ((["--prompt", prompt], "one RM"), (["--rm", "strong_rm"], "one prompt"),
                          (["--rm", "strong_rm", "--prompt", "nope"], "no prompt 'nope'")):
        status, _, err = call("--db", demo_db, "export-chart", "--benchmark", "demo", "--chart", "inspector",
                              *args, "--out", tmp_path / "x.html")
        assert status == 2 and message in err and err.count("\n") == 1


def test_small_print_fixes():
    assert cli._cell(-0.00001, ".4f") == "0.0000" and cli._cell(-0.5, ".4f") == "-0.5000"
    status, out, _ = call("export-chart", "--help")
    assert status == 0 and "%%" not in out and "95 %" in out


def test_progress_bar_with_throughput_on_a_terminal_only(monkeypatch, capsys):
    """On a terminal the bar shows the unit's throughput; piped, nothing is drawn (and tqdm
    is not even started)."""
    monkeypatch.setattr(cli, "_stderr_tty", lambda: True)
    with cli.Progress("curves", unit="RM") as bar:
        for done in range(1, 4):
            time.sleep(0.15)  # tqdm redraws at most every 0.1 s
            bar.update(done, 3, "strong_rm")
    err = capsys.readouterr().err
    assert "curves" in err and "3/3" in err and "RM/s" in err and "strong_rm" in err
    monkeypatch.setattr(cli, "_stderr_tty", lambda: False)
    with cli.Progress("curves", unit="RM") as bar:
        bar.update(1, 3)
    assert bar.bar is None and capsys.readouterr().err == ""
