"""Derived RMs (ensembles, docs/metric.md §11): the computation by hand, against a
per-prompt brute force and by its properties; storing one through the validated import
path (errors leave the database byte-identical); the command line, the leaderboard's
and the list's marks, the dotted line, an old database migrated; the Data page's form."""
from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st
from scipy.stats import rankdata

from reta_core import charts, ingest
from reta_core.demo import build_demo
from reta_core.ensembles import add_ensemble, describe, ensemble_scores
from reta_core.errors import RetaInputError
from reta_core.evaluation import Evaluation
from reta_core.pool import Pool
from reta_core.store import SCHEMA_VERSION, Store
from tests.apptest import ORACLE, app, no_errors
from tests.builders import REPO, make_pool, random_pool
from tests.builders import call, sha256

MEMBERS = ["noisy_small_rm", "coding_math_specialist_rm"]


@pytest.fixture
def db(tmp_path):
    """A small demo benchmark (30 prompts x 8 responses)."""
    path = tmp_path / "e.duckdb"
    build_demo(Store(path), n_prompts=30, n_responses=8)
    return path


# ------------------------------------------------------------------ by hand
def test_zmean_and_rankmean_by_hand():
    # prompt 0: A = 1 2 3, C = 3 1 2 (both vary); prompt 1: C constant on the responses
    # both scored, and C left the last response unscored, so it does not count.
    pool = make_pool([[1, 2, 3], [4, 5, 6, 7]],
                     rms={"A": [[1, 2, 3], [5, 5, 1, 9]], "C": [[3, 1, 2], [2, 2, 2, np.nan]]})
    z = 1 / np.sqrt(2 / 3)  # population sd of 1, 2, 3 is sqrt(2/3)
    sd = np.sqrt(((5 - 11 / 3) ** 2 * 2 + (1 - 11 / 3) ** 2) / 3)
    zmean = ensemble_scores(pool, ["A", "C"])
    np.testing.assert_allclose(zmean[:3], [(-z + z) / 2, (0 - z) / 2, (z + 0) / 2], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(zmean[3:6], [(5 - 11 / 3) / sd / 2, (5 - 11 / 3) / sd / 2, (1 - 11 / 3) / sd / 2],
                               rtol=1e-12)
    assert np.isnan(zmean[6])
    rankmean = ensemble_scores(pool, ["A", "C"], "rankmean")
    # A's mid-ranks 1 2 3 | 2.5 2.5 1 (the tie 5, 5 shares ranks 2 and 3); C's 3 1 2 | 2 2 2
    np.testing.assert_array_equal(rankmean[:6], [2, 1.5, 2.5, 2.25, 2.25, 1.5])
    assert np.isnan(rankmean[6])
    assert describe(["A", "C"], "rankmean").startswith("Derived RM, ensemble (rankmean) of 2 RMs: A, C.")


def test_unknown_method_and_no_member():
    pool = make_pool([[1, 2]], rms={"A": [[1, 2]]})
    with pytest.raises(RetaInputError, match="unknown ensemble method 'median'"):
        ensemble_scores(pool, ["A"], "median")
    with pytest.raises(RetaInputError, match="unknown RM 'B'"):
        ensemble_scores(pool, ["A", "B"])


# ------------------------------------------------------------------ brute force and properties
def brute_force(pool: Pool, members, method: str) -> np.ndarray:
    """§11 prompt by prompt, with numpy's std and scipy's average ranks."""
    out = np.full(pool.n_responses, np.nan)
    for p in range(pool.n_prompts):
        lo, hi = pool.offsets[p], pool.offsets[p + 1]
        ys = [pool.rms[m][lo:hi] for m in members]
        common = np.logical_and.reduce([np.isfinite(y) for y in ys])
        if not common.any():
            continue
        parts = []
        for y in ys:
            v = y[common]
            if method == "rankmean":
                parts.append(rankdata(v, method="average"))
            else:
                parts.append(np.zeros_like(v) if v.max() == v.min() else (v - v.mean()) / v.std())
        out[lo + np.flatnonzero(common)] = np.mean(parts, axis=0)
    return out


def ranks_per_prompt(pool: Pool, values: np.ndarray) -> np.ndarray:
    out = np.full(pool.n_responses, np.nan)
    for p in range(pool.n_prompts):
        lo, hi = pool.offsets[p], pool.offsets[p + 1]
        ok = np.isfinite(values[lo:hi])
        out[lo + np.flatnonzero(ok)] = rankdata(values[lo:hi][ok], method="average")
    return out


# ragged pools (empty and one-response prompts included), ties, unscored responses
pools = st.tuples(st.integers(0, 2**32 - 1), st.booleans(), st.sampled_from([0.0, 0.2])).map(
    lambda a: random_pool(np.random.default_rng(a[0]), n_prompts=12, sizes=(0, 20), ties=a[1],
                          nan_rate=a[2], n_rms=3))
methods = st.sampled_from(["zmean", "rankmean"])


@settings(max_examples=60, deadline=None)
@given(pools, methods)
def test_equals_the_per_prompt_brute_force(pool, method):
    for members in (["rm0", "rm1"], ["rm0", "rm1", "rm2"]):
        got = ensemble_scores(pool, members, method)
        want = brute_force(pool, members, method)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(pools, methods)
def test_one_member_ranks_like_that_member(pool, method):
    for members in (["rm0"], ["rm0", "rm0"]):
        got = ensemble_scores(pool, members, method)
        np.testing.assert_array_equal(ranks_per_prompt(pool, got), ranks_per_prompt(pool, pool.rms["rm0"]))


@settings(max_examples=60, deadline=None)
@given(pools, st.sampled_from(["exp", "cube", "affine"]))
def test_rankmean_ignores_strictly_increasing_transforms(pool, kind):
    transform = {"exp": np.exp, "cube": lambda y: y ** 3 + 1, "affine": lambda y: 3 * y - 7}[kind]
    moved = pool.with_rms({"t0": transform(pool.rms["rm0"]), "t1": transform(pool.rms["rm1"])})
    np.testing.assert_array_equal(ensemble_scores(moved, ["t0", "t1"], "rankmean"),
                                  ensemble_scores(pool, ["rm0", "rm1"], "rankmean"))


@settings(max_examples=60, deadline=None)
@given(pools, st.floats(0.01, 100), st.floats(-50, 50))
def test_zmean_ignores_a_positive_affine_change_of_a_member(pool, scale, shift):
    moved = pool.with_rms({"t0": scale * pool.rms["rm0"] + shift})
    np.testing.assert_allclose(ensemble_scores(moved, ["t0", "rm1"]), ensemble_scores(pool, ["rm0", "rm1"]),
                               rtol=1e-9, atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(pools)
def test_a_member_constant_in_the_prompt_contributes_zero(pool):
    constant = np.repeat(np.arange(pool.n_prompts) * 0.1 + 0.3, pool.pool_sizes)  # one value per prompt
    with_constant = pool.with_rms({"k": constant})
    np.testing.assert_allclose(ensemble_scores(with_constant, ["rm0", "k"]),
                               ensemble_scores(pool, ["rm0"]) / 2, rtol=1e-12, atol=1e-15)


@settings(max_examples=40, deadline=None)
@given(pools, methods, st.integers(0, 2**32 - 1))
def test_row_order_changes_nothing(pool, method, seed):
    perm = np.random.default_rng(seed).permutation(pool.n_responses)
    shuffled = Pool.from_codes(pool.prompt_codes[perm], pool.prompt_ids, pool.response_ids[perm],
                               {"j": pool.oracles["j"][perm]}, {k: v[perm] for k, v in pool.rms.items()})
    got = pd.Series(ensemble_scores(shuffled, ["rm0", "rm1"], method), index=shuffled.response_ids)
    want = pd.Series(ensemble_scores(pool, ["rm0", "rm1"], method), index=pool.response_ids)
    np.testing.assert_allclose(got[want.index].to_numpy(), want.to_numpy(), rtol=1e-10, atol=1e-12)


def test_extreme_scores_standardise_without_overflow():
    pool = make_pool([[1, 2, 3], [1, 2, 3]], rms={"A": [[1e300, -1e300, 0], [1e-300, 3e-300, 2e-300]]})
    np.testing.assert_allclose(ensemble_scores(pool, ["A"]), [1.2247449, -1.2247449, 0, -1.2247449, 1.2247449, 0],
                               rtol=1e-6, atol=1e-12)


# ------------------------------------------------------------------ stored like any RM
def test_stored_marked_derived_and_every_metric_treats_it_like_any_rm(db):
    report = add_ensemble(Store(db), "demo", MEMBERS, "combo")
    assert report.kind == "rm" and report.rms == ["combo"] and report.derived == ["combo"]
    assert report.coverage == {"combo": 1.0}
    assert report.to_text().startswith("Imported RM 'combo' into benchmark 'demo' from zmean ensemble of "
                                       "noisy_small_rm, coding_math_specialist_rm: 240 rows read.")
    assert "combo (derived): 100.0% covered" in report.to_text()
    info = Store(db).benchmark_info("demo")
    row = {r["name"]: r for r in info["rms"]}["combo"]
    assert row["is_derived"] and not row["is_baseline"] and row["source_file"] is None
    assert row["description"] == describe(MEMBERS, "zmean") and "noisy_small_rm, coding_math_specialist_rm" in \
        row["description"]
    assert [r["name"] for r in info["rms"] if r["is_derived"]] == ["combo"]
    # the stored scores are the computation's, and the engine treats them like any RM's
    pool = Store(db).load_pool("demo")
    mine = pool.rms.pop("combo")
    np.testing.assert_array_equal(mine, ensemble_scores(pool, MEMBERS))
    stored = Evaluation.from_store(Store(db), "demo")
    in_memory = Evaluation(pool.with_rms({"combo": mine}), ORACLE)
    pd.testing.assert_frame_equal(stored.curves(["combo"], [0.05, 0.25, 1.0], ci=True).table,
                                  in_memory.curves(["combo"], [0.05, 0.25, 1.0], ci=True).table)
    board = stored.leaderboard(ci=False).table.set_index("rm")
    assert board["is_derived"].to_dict() == {rm: rm == "combo" for rm in board.index}
    pd.testing.assert_series_equal(board.loc["combo"].drop("is_derived"),
                                   in_memory.leaderboard(ci=False).table.set_index("rm").loc["combo"].drop("is_derived"))
    # replaced on request, by another method
    again = add_ensemble(Store(db), "demo", MEMBERS + ["strong_rm"], "combo", "rankmean", replace=True)
    assert again.replaced and "(rankmean) of 3 RMs" in Store(db).list_rms("demo").set_index("name").loc[
        "combo", "description"]


def test_partly_scored_members_combine_on_the_responses_all_scored(db):
    pool = Store(db).load_pool("demo")
    scores = pool.oracles[ORACLE].copy()
    scores[::3] = np.nan
    ingest.add_rm_scores(Store(db), pd.DataFrame({"response_id": pool.response_ids, "s": scores}), "demo", "holey")
    report = add_ensemble(Store(db), "demo", ["holey", "strong_rm"], "partial", "rankmean")
    assert report.coverage["partial"] == pytest.approx(np.isfinite(scores).mean())
    assert report.missing == {"partial": int(np.isnan(scores).sum())}


def _disjoint(db):
    pool = Store(db).load_pool("demo")
    half = np.arange(pool.n_responses) < pool.n_responses // 2
    for name, keep in (("first_half", half), ("second_half", ~half)):
        ingest.add_rm_scores(Store(db), pd.DataFrame({"response_id": pool.response_ids,
                                                      "s": np.where(keep, 1.0 * np.arange(pool.n_responses), np.nan)}),
                             "demo", name)


ERRORS = {
    "one member": (["--rm", "strong_rm", "--name", "x"], "needs at least 2 RMs, got 1 ('strong_rm')"),
    "a member twice": (["--rm", "strong_rm", "--rm", "strong_rm", "--name", "x"], "'strong_rm' is named twice"),
    "unknown RM": (["--rm", "strong_rm", "--rm", "nope", "--name", "x"], "unknown RM 'nope'"),
    "unknown benchmark": (["--rm", "strong_rm", "--rm", "random_rm", "--name", "x", "--benchmark", "other"],
                          "unknown benchmark 'other'"),
    "name used": (["--rm", "strong_rm", "--rm", "noisy_small_rm", "--name", "random_rm"],
                  "RM 'random_rm' exists already in benchmark 'demo'; choose another name or replace it"),
    "name of an oracle": (["--rm", "strong_rm", "--rm", "noisy_small_rm", "--name", ORACLE, "--replace"],
                          f"RM name '{ORACLE}' is an oracle of benchmark 'demo'"),
    "name of a member": (["--rm", "strong_rm", "--rm", "noisy_small_rm", "--name", "strong_rm", "--replace"],
                         "name 'strong_rm' is one of its members"),
    "empty name": (["--rm", "strong_rm", "--rm", "noisy_small_rm", "--name", " "], "the RM name is empty"),
    "nothing shared": (["--rm", "first_half", "--rm", "second_half", "--name", "x"],
                       "RMs 'first_half', 'second_half' share no scored response in benchmark 'demo'"),
    "unknown method": (["--rm", "strong_rm", "--rm", "noisy_small_rm", "--name", "x", "--method", "median"],
                       "invalid choice: 'median'"),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_each_error_is_one_line_and_writes_nothing(db, case):
    _disjoint(db)
    args, expected = ERRORS[case]
    if "--benchmark" not in args:
        args = args + ["--benchmark", "demo"]
    before = sha256(db)
    status, out, err = call("--db", db, "ensemble", *args)
    assert (status, out) == (2, "")
    assert err.startswith("error:") and err.count("\n") == 1, err
    assert expected in err, err
    assert sha256(db) == before


def test_the_command_line_adds_lists_and_marks_it(db, tmp_path):
    status, out, err = call("--db", db, "ensemble", "--benchmark", "demo", "--rm", MEMBERS[0], "--rm", MEMBERS[1],
                               "--method", "rankmean", "--name", "combo")
    assert status == 0, err
    assert out.startswith("Imported RM 'combo' into benchmark 'demo' from rankmean ensemble of") and "(derived)" in out
    status, out, _ = call("--db", db, "list")
    assert "combo (derived)" in out and "strong_rm," in out and "strong_rm (derived)" not in out
    listed = json.loads(call("--db", db, "list", "--format", "json")[1])["rows"][0]["rms"]
    assert [r["name"] for r in listed if r["is_derived"]] == ["combo"]
    status, out, _ = call("--db", db, "leaderboard", "--benchmark", "demo")
    assert status == 0 and "combo (derived)" in out and "baseline_length (baseline)" in out
    board = pd.DataFrame(json.loads(call("--db", db, "leaderboard", "--benchmark", "demo", "--format",
                                            "json")[1])["rows"])
    assert board.set_index("rm")["is_derived"].to_dict() == {rm: rm == "combo" for rm in board["rm"]}
    status, out, _ = call("--db", db, "reta", "--benchmark", "demo", "--rm", "combo", "--eta", "0.25")
    assert status == 0 and "combo" in out
    status, out, _ = call("--db", db, "ensemble", "--help")
    assert status == 0 and "examples:" in out and "ensemble --benchmark demo" in out


def test_derived_rms_are_dotted_in_the_charts():
    colors = charts.rm_colors(["a", "combo", "baseline_length"], derived=["combo"])
    curves = pd.DataFrame({"rm": ["a", "a", "combo", "combo", "baseline_length", "baseline_length"],
                           "eta": [0.1, 1.0] * 3, "reta": [1.2, 1.0] * 3})
    dashes = {t.name: t.line.dash for t in charts.curves_figure(curves, colors).data if t.name in colors}
    assert dashes == {"a": "solid", "combo": "dot", "baseline_length": "dash"}
    assert charts.rm_colors(["a", "combo"]) == {k: v for k, v in colors.items() if k != "baseline_length"}
    assert charts.rm_dash("combo") == "solid"  # without the colours, nothing says it is derived


def test_an_old_database_is_migrated(db):
    with duckdb.connect(str(db)) as con:  # the schema of version 1: no is_derived
        con.execute("ALTER TABLE rms DROP COLUMN is_derived")
        con.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    rms = Store(db).list_rms("demo")
    assert not rms["is_derived"].any() and len(rms) == 8
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT value FROM meta").fetchall() == [(str(SCHEMA_VERSION),)]
    add_ensemble(Store(db), "demo", MEMBERS, "combo")
    assert Store(db).list_rms("demo").set_index("name")["is_derived"].to_dict()["combo"]


# ------------------------------------------------------------------ the Data page's form
def test_the_data_page_form_adds_a_derived_rm(demo_db):
    at = app("pages/data.py")
    at.run()
    no_errors(at)
    assert not [b for b in at.button if b.key == "data_ensemble_add"]  # no members yet
    assert any("Choose at least 2 member RMs" in i.value for i in at.info)
    at.multiselect(key="data_ensemble_members").set_value(MEMBERS).run()
    assert at.text_input(key="data_ensemble_name").placeholder == "zmean(noisy_small_rm+coding_math_specialist_rm)"
    # a refused name: one error, nothing written
    before = sha256(demo_db)
    at.text_input(key="data_ensemble_name").input(ORACLE).run()
    at.button(key="data_ensemble_add").click().run()
    assert not at.exception and len(at.error) == 1 and "is an oracle" in at.error[0].value
    assert sha256(demo_db) == before
    at.text_input(key="data_ensemble_name").input("combo").run()
    at.selectbox(key="data_ensemble_method").set_value("rankmean").run()
    at.button(key="data_ensemble_add").click().run()
    no_errors(at)
    assert "Imported RM 'combo'" in at.success[0].value and "combo (derived)" in at.success[0].value
    assert "combo" in at.session_state["rm"]
    rms = at.get("dataframe")[3].value.set_index("name")  # benchmarks, categories, oracles, RMs
    assert rms.loc["combo", "is_derived"] and not rms.loc["strong_rm", "is_derived"]
    assert "(rankmean)" in rms.loc["combo", "description"]
    assert at.text_input(key="data_ensemble_name").value == ""  # ready for the next one
    at.button(key="data_ensemble_add").click().run()  # no name typed: the suggested one
    no_errors(at)
    assert "Imported RM 'rankmean(noisy_small_rm+coding_math_specialist_rm)'" in at.success[0].value
    at.switch_page("pages/leaderboard.py")
    at.run()
    no_errors(at)
    board = at.dataframe[0].value.set_index("rm")
    assert board["is_derived"].to_dict() == {rm: rm in ("combo", "rankmean(noisy_small_rm+coding_math_specialist_rm)")
                                             for rm in board.index}


# ------------------------------------------------------------------ the README's case
def test_the_readme_case_is_what_the_leaderboard_shows(tmp_path):
    """The README's table and counts, recomputed on the default demo benchmark."""
    path = tmp_path / "readme.duckdb"
    build_demo(Store(path))
    pair = ["reward_hacked_rm", "length_biased_rm"]
    add_ensemble(Store(path), "demo", pair, "hacked+length_ranks", "rankmean")
    add_ensemble(Store(path), "demo", pair, "hacked+length_z")
    board = Evaluation.from_store(Store(path), "demo").leaderboard(ci=True).table.set_index("rm")
    text = (REPO / "README.md").read_text()
    rows = [line for line in text[text.index("### Is a combination of RMs"):].splitlines()
            if line.startswith("| `")]
    assert len(rows) == 5
    for line in rows:
        cells = [c.strip() for c in line.strip("|").split("|")]
        rm = cells[0].split("`")[1]
        low, high = cells[2].split("–")
        got = board.loc[rm]
        assert ("(derived" in cells[0]) == bool(got["is_derived"])
        assert [float(cells[1]), float(low), float(high), float(cells[4]), float(cells[5])] == [
            round(got[c], 3) for c in ("reta_at_eta_star", "reta_at_eta_star_low", "reta_at_eta_star_high",
                                       "reta_0.05", "bon")]
        assert float(cells[3]) == float(f"{got['eta_star']:.3g}")
    # the top picks the text counts: flattering (adversarial) and among the three longest
    with duckdb.connect(str(path), read_only=True) as con:
        texts = [r[0] for r in con.execute("SELECT response FROM responses WHERE benchmark = 'demo' "
                                           "ORDER BY response_code").fetchall()]
    pool = Store(path).load_pool("demo")
    shape = (pool.n_prompts, 64)
    flattering = np.array(["brilliant" in t.lower() for t in texts]).reshape(shape)
    lengths = np.array([len(t) for t in texts]).reshape(shape)
    longest = lengths >= np.sort(lengths, axis=1)[:, [-3]]

    def prompts_whose_top(rm, kind):  # counting every response tied for the top pick
        scores = pool.rms[rm].reshape(shape)
        return int(((scores == scores.max(axis=1, keepdims=True)) & kind).any(axis=1).sum())

    assert prompts_whose_top("reward_hacked_rm", flattering) == 400
    assert prompts_whose_top("length_biased_rm", longest) == 383
    assert prompts_whose_top("hacked+length_ranks", flattering) == 0
    assert prompts_whose_top("hacked+length_ranks", longest) == 11
    assert prompts_whose_top("hacked+length_z", longest) == 197
    for said in ("in all\n400 prompts", "responses in 383", "in only 11 prompts", "in 197 of the 400"):
        assert said in text, said
