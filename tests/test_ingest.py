"""Validated imports: every failure names the file and row/column and changes nothing."""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reta_core.errors import RetaInputError
from reta_core.ingest import ImportReport, add_rm_scores, import_benchmark, import_frame
from reta_core.scorers import BASELINE_LENGTH, BASELINE_RANDOM, BASELINE_RANDOM_SEED
from reta_core.store import Store
from tests.builders import EXAMPLE, EXAMPLE_RM, REAL_POOL, REAL_POOL_MISSING
from tests.builders import sha256


@pytest.fixture
def store(tmp_path) -> Store:
    store = Store(tmp_path / "reta.duckdb", timeout=2)
    import_benchmark(store, EXAMPLE, "example", ["judge_score"])
    return store


def example_frame() -> pd.DataFrame:
    return pd.read_csv(EXAMPLE)


def rm_frame() -> pd.DataFrame:
    return pd.read_csv(EXAMPLE_RM)


# ------------------------------------------------------------------ the failure matrix
# Each case: (file name, how to write it, call, words the one-line message must hold).
# The file is written into tmp_path; ``call(store, path)`` runs the import.
def csv_of(df):
    return lambda path: df.to_csv(path, index=False)


def text(content):
    return lambda path: path.write_text(content)


def edited(**cells):
    """The example frame with cells changed: edited(judge_score={2: 'abc'})."""
    df = example_frame()
    for column, changes in cells.items():
        df[column] = df[column].astype(object)
        for row, value in changes.items():
            df.loc[row, column] = value
    return df


def bench(**kwargs):
    kwargs.setdefault("name", "new")
    kwargs.setdefault("oracle_cols", ["judge_score"])
    return lambda store, path: import_benchmark(store, path, **kwargs)


def rm(**kwargs):
    kwargs.setdefault("benchmark", "example")
    kwargs.setdefault("rm", "new_rm")
    return lambda store, path: add_rm_scores(store, path, **kwargs)


FAILURES = {
    "missing required column": (
        "b.csv", csv_of(example_frame().drop(columns=["response_id"])), bench(),
        ["column 'response_id'", "required", "it has columns", "'prompt_id'"]),
    "oracle column absent": (
        "b.csv", csv_of(example_frame()), bench(oracle_cols=["judge"]),
        ["column 'judge'", "oracle", "it has columns", "'judge_score'"]),
    "RM column absent": (
        "b.csv", csv_of(example_frame()), bench(rm_cols=["nope_rm"]),
        ["column 'nope_rm'", "RM", "'helpful_rm'"]),
    "no oracle named": (
        "b.csv", csv_of(example_frame()), bench(oracle_cols=[]),
        ["at least one oracle column"]),
    "duplicate response_id": (
        "b.csv", csv_of(edited(response_id={6: "p1-r2"})), bench(),
        ["row 7", "duplicate response_id 'p1-r2'", "first in row 2"]),
    "empty response_id": (
        "b.csv", csv_of(edited(response_id={4: None})), bench(),
        ["row 5", "column 'response_id'", "empty"]),
    "empty prompt_id": (
        "b.csv", csv_of(edited(prompt_id={9: " "})), bench(),
        ["row 10", "column 'prompt_id'", "empty"]),
    "prompt text differs": (
        "b.csv", csv_of(edited(prompt={2: "How do I fry an egg?"})), bench(),
        ["row 3", "column 'prompt'", "'p1'", "fry", "row 1"]),
    "category differs": (
        "b.csv", csv_of(edited(category={7: "cooking"})), bench(),
        ["row 8", "column 'category'", "'p2'", "'cooking'", "'math'"]),
    "non-numeric oracle": (
        "b.csv", csv_of(edited(judge_score={5: "high"})), bench(),
        ["row 6", "column 'judge_score'", "not a number", "'high'"]),
    "non-numeric RM": (
        "b.csv", csv_of(edited(helpful_rm={10: "1,5"})), bench(rm_cols=["helpful_rm"]),
        ["row 11", "column 'helpful_rm'", "'1,5'"]),
    "infinite value": (
        "b.csv", csv_of(edited(helpful_rm={3: "inf"})), bench(rm_cols=["helpful_rm"]),
        ["row 4", "column 'helpful_rm'", "infinite"]),
    "negative infinity in parquet": (
        "b.parquet", lambda p: edited(judge_score={0: -np.inf}).astype(
            {"judge_score": float}).to_parquet(p), bench(),
        ["row 1", "column 'judge_score'", "infinite"]),
    "empty file": ("b.csv", text(""), bench(), ["empty"]),
    "header only": ("b.csv", text("prompt_id,response_id,judge_score\n"), bench(),
                    ["no data rows"]),
    "blank lines only": ("b.csv", text("\n\n"), bench(), ["no data rows"]),
    "empty frame": ("-", None, lambda store, _path: import_frame(
        store, example_frame().iloc[:0], "new", ["judge_score"], source_name="-"),
        ["no data rows"]),
    "csv named parquet": ("b.parquet", csv_of(example_frame()), bench(),
                          ["cannot be read as Parquet"]),
    "csv named jsonl": ("b.jsonl", csv_of(example_frame()), bench(),
                        ["cannot be read as JSON Lines"]),
    "broken gzip": ("b.csv.gz", lambda p: p.write_bytes(b"\x1f\x8b\x08\x00" + bytes(64)),
                    bench(), ["cannot be read as CSV"]),
    "parquet named csv": ("b.csv", lambda p: example_frame().to_parquet(p), bench(),
                          ["cannot be read as CSV"]),
    "unknown extension": ("b.xlsx", csv_of(example_frame()), bench(), ["unknown file type"]),
    "benchmark exists": ("b.csv", csv_of(example_frame()), bench(name="example"),
                         ["benchmark 'example' exists already"]),
    "empty benchmark name": ("b.csv", csv_of(example_frame()), bench(name="  "),
                             ["benchmark name is empty"]),
    "RM named like the oracle": (
        "b.csv", csv_of(example_frame()), bench(rm_cols=["judge_score"]),
        ["column 'judge_score'", "as oracle and as RM"]),
    "RM column named like a baseline": (
        "b.csv", csv_of(example_frame().rename(columns={"helpful_rm": BASELINE_LENGTH})),
        bench(), [f"column '{BASELINE_LENGTH}'", "reserved for the baseline"]),
    "text column as score": (
        "b.csv", csv_of(example_frame()), bench(rm_cols=["category"]),
        ["column 'category'", "cannot be a score column"]),
    # ---- RM files
    "RM ids not in benchmark": (
        "r.csv", csv_of(rm_frame().replace({"response_id": {"p1-r3": "zz-1", "p2-r2": "zz-2"}})),
        rm(), ["2 response_ids are not in benchmark 'example'", "'zz-1' (row 3)",
               "'zz-2' (row 6)", "column 'response_id'"]),
    "RM exists": ("r.csv", csv_of(rm_frame()), rm(rm="helpful_rm"),
                  ["RM 'helpful_rm' exists already"]),
    "RM name empty": ("r.csv", csv_of(rm_frame()), rm(rm=""), ["RM name is empty"]),
    "RM named like an oracle": ("r.csv", csv_of(rm_frame()), rm(rm="judge_score"),
                                ["'judge_score' is an oracle"]),
    "RM file ambiguous score column": (
        "r.csv", csv_of(rm_frame().assign(other=1.0)), rm(),
        ["2 possible score columns", "'score'", "'other'"]),
    "RM file without score column": (
        "r.csv", csv_of(rm_frame()[["response_id"]]), rm(), ["no score column"]),
    "RM file score column absent": (
        "r.csv", csv_of(rm_frame()), rm(score_column="reward"),
        ["column 'reward'", "'score'"]),
    "RM file non-numeric": (
        "r.csv", csv_of(rm_frame().astype({"score": object}).assign(
            score=lambda d: d["score"].where(d.index != 8, "n/a?"))), rm(),
        ["row 9", "column 'score'", "'n/a?'"]),
    "RM file infinite": (
        "r.jsonl", lambda p: p.write_text(
            '{"response_id": "p1-r1", "score": 1.0}\n{"response_id": "p1-r2", "score": "-inf"}\n'),
        rm(), ["row 2", "column 'score'", "infinite"]),
    "RM file duplicate id": (
        "r.csv", csv_of(rm_frame().replace({"response_id": {"p3-r4": "p3-r1"}})), rm(),
        ["row 12", "duplicate response_id 'p3-r1'", "first in row 9"]),
    "RM file prompt_id disagrees": (
        "r.csv", csv_of(rm_frame().assign(prompt_id=lambda d: d["response_id"].str[:2])
                        .replace({"prompt_id": {"p3": "p1"}})), rm(),
        ["row 9", "column 'prompt_id'", "'p3-r1'", "'p1'", "'p3'"]),
    "RM file empty": ("r.csv", text(""), rm(), ["empty"]),
    "RM file for unknown benchmark": ("r.csv", csv_of(rm_frame()), rm(benchmark="nope"),
                                      ["unknown benchmark 'nope'", "example"]),
}


@pytest.mark.parametrize("case", list(FAILURES))
def test_failure_names_file_and_place_and_changes_nothing(store, tmp_path, case):
    file_name, write, call, words = FAILURES[case]
    path = tmp_path / file_name
    if write is not None:
        write(path)
    before = sha256(store.path)
    wal = Path(str(store.path) + ".wal")
    with pytest.raises(RetaInputError) as err:
        call(store, path)
    message = str(err.value)
    assert "\n" not in message
    names_db = "unknown benchmark" in message
    assert message.startswith(f"{file_name}:") or (names_db and str(store.path) in message)
    for word in words:
        assert word in message, (case, message)
    assert sha256(store.path) == before
    assert not wal.exists()
    assert store.benchmark_names() == ["example"]


def test_failure_on_a_new_database_creates_no_file(tmp_path):
    store = Store(tmp_path / "fresh.duckdb")
    bad = tmp_path / "b.csv"
    edited(judge_score={1: "x"}).to_csv(bad, index=False)
    with pytest.raises(RetaInputError, match="row 2"):
        import_benchmark(store, bad, "b", ["judge_score"])
    assert not store.path.exists()


def test_missing_file(tmp_path):
    store = Store(tmp_path / "db.duckdb")
    with pytest.raises(RetaInputError, match=r"^nothere\.csv: file not found"):
        import_benchmark(store, tmp_path / "nothere.csv", "b", ["judge_score"])


# ------------------------------------------------------------------ what passes
def test_empty_and_nan_cells_are_allowed_and_counted(tmp_path):
    store = Store(tmp_path / "db.duckdb")
    df = edited(judge_score={0: None, 5: "NA", 9: "nan"}, helpful_rm={2: "", 3: "null"})
    path = tmp_path / "holes.csv"
    df.to_csv(path, index=False)
    report = import_benchmark(store, path, "holes", ["judge_score"], ["helpful_rm"])
    assert report.missing == {"judge_score": 3, "helpful_rm": 2}
    assert report.coverage["helpful_rm"] == pytest.approx(10 / 12)
    pool = store.load_pool("holes")
    assert np.isnan(pool.oracles["judge_score"][[0, 5, 9]]).all()
    assert np.isfinite(pool.oracles["judge_score"]).sum() == 9
    info = store.benchmark_info("holes")
    assert info["oracles"][0]["n_scored"] == 9


def test_report_counts_prompts_that_will_not_count(tmp_path):
    store = Store(tmp_path / "db.duckdb")
    df = example_frame()
    df.loc[df.prompt_id == "p3", "judge_score"] = [0, 0, 0, 0]       # mean 0: ratio excluded
    df.loc[df.prompt_id == "p2", "helpful_rm"] = [1.0, np.nan, np.nan, np.nan]  # 1 scored
    path = tmp_path / "b.csv"
    df.to_csv(path, index=False)
    report = import_benchmark(store, path, "b", ["judge_score"], ["helpful_rm"])
    assert report.excluded["judge_score"] == {"fewer_than_2_scored": 0,
                                              "mean_oracle_not_positive": 1}
    assert report.excluded["helpful_rm"] == {"fewer_than_2_scored": 1,
                                             "mean_oracle_not_positive": 1}
    text_report = report.to_text()
    assert "helpful_rm (with judge_score): 1 with fewer than 2 scored responses" in text_report
    assert "mean oracle score <= 0" in text_report
    as_dict = report.to_dict()
    assert as_dict["excluded"] == report.excluded and as_dict["rows"] == 12


def test_report_of_a_clean_import(tmp_path):
    store = Store(tmp_path / "db.duckdb")
    seen = []
    report = import_benchmark(store, EXAMPLE, "e", ["judge_score"],
                              progress=lambda done, total, m="": seen.append((done / total, m)))
    assert isinstance(report, ImportReport)
    assert (report.rows, report.prompts, report.responses) == (12, 3, 12)
    assert report.pool_size == {"min": 4, "median": 4, "max": 4}
    assert report.rms == ["helpful_rm", BASELINE_LENGTH, BASELINE_RANDOM]  # auto-detected
    assert report.baselines == [BASELINE_LENGTH, BASELINE_RANDOM]
    assert report.coverage == {r: 1.0 for r in report.rms}
    assert "Prompts that will not count: none." in report.to_text()
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0


def test_rm_cols_none_takes_numeric_columns_only(tmp_path):
    store = Store(tmp_path / "db.duckdb")
    df = example_frame().assign(notes="free text", rm_two=lambda d: d["helpful_rm"] * 2,
                                sample_index=range(12))
    report = import_frame(store, df, "auto", "judge_score", baselines=False)
    assert report.rms == ["helpful_rm", "rm_two", "sample_index"]
    report = import_frame(store, df, "none", "judge_score", rm_cols=[], baselines=False)
    assert report.rms == [] and store.list_rms("none").empty


def test_baselines_are_deterministic_and_documented(tmp_path):
    store = Store(tmp_path / "db.duckdb")
    df = example_frame()
    import_frame(store, df, "a", ["judge_score"])
    shuffled = df.sample(frac=1, random_state=3).reset_index(drop=True)
    import_frame(store, shuffled, "b", ["judge_score"])
    a = store.load_pool("a", rms=[BASELINE_RANDOM, BASELINE_LENGTH])
    b = store.load_pool("b", rms=[BASELINE_RANDOM, BASELINE_LENGTH])
    by_id_a = dict(zip(a.response_ids, a.rms[BASELINE_RANDOM]))
    by_id_b = dict(zip(b.response_ids, b.rms[BASELINE_RANDOM]))
    assert by_id_a == by_id_b
    ids = sorted(df["response_id"])
    expected = dict(zip(ids, np.random.default_rng(BASELINE_RANDOM_SEED).random(len(ids))))
    assert by_id_a == expected
    lengths = dict(zip(df["response_id"], df["response"].str.len().astype(float)))
    assert dict(zip(a.response_ids, a.rms[BASELINE_LENGTH])) == lengths
    rms = store.list_rms("a").set_index("name")
    assert rms.loc[BASELINE_RANDOM, "is_baseline"]
    assert str(BASELINE_RANDOM_SEED) in rms.loc[BASELINE_RANDOM, "description"]
    # no response texts: no baselines
    import_frame(store, df.drop(columns=["response"]), "c", ["judge_score"])
    assert list(store.list_rms("c")["name"]) == ["helpful_rm"]


def test_replace_benchmark_and_rm(store, tmp_path):
    add_rm_scores(store, EXAMPLE_RM, "example", "small_rm")
    df = example_frame().assign(judge_score=lambda d: d["judge_score"] + 1)
    path = tmp_path / "b.csv"
    df.to_csv(path, index=False)
    report = import_benchmark(store, path, "example", ["judge_score"], replace=True)
    assert report.replaced
    assert "small_rm" not in list(store.list_rms("example")["name"])  # the whole benchmark
    np.testing.assert_array_equal(store.load_pool("example").oracles["judge_score"],
                                  df["judge_score"].to_numpy(float))
    add_rm_scores(store, EXAMPLE_RM, "example", "small_rm")
    scores = rm_frame().assign(score=lambda d: -d["score"])
    scores.to_csv(tmp_path / "r.csv", index=False)
    assert add_rm_scores(store, tmp_path / "r.csv", "example", "small_rm", replace=True).replaced
    np.testing.assert_array_equal(store.load_pool("example", rms=["small_rm"]).rms["small_rm"],
                                  scores["score"].to_numpy(float))
    assert list(store.list_rms("example")["name"]).count("small_rm") == 1


def test_rm_file_covering_part_of_the_benchmark(store, tmp_path):
    part = rm_frame().iloc[[0, 1, 4, 5, 6, 8]].copy()
    part.loc[part.index[1], "score"] = np.nan
    path = tmp_path / "part.parquet"
    part.to_parquet(path)
    report = add_rm_scores(store, path, "example", "partial")
    assert report.coverage["partial"] == pytest.approx(5 / 12)
    assert report.missing == {"partial": 1}
    assert report.excluded["partial"]["fewer_than_2_scored"] == 2  # p1 and p3: one score
    scores = store.load_pool("example", rms=["partial"]).rms["partial"]
    assert np.isfinite(scores).sum() == 5
    assert scores[0] == part["score"].iloc[0] and np.isnan(scores[1]) and np.isnan(scores[2])
    listed = store.list_rms("example").set_index("name")
    assert listed.loc["partial", "coverage"] == pytest.approx(5 / 12)


def test_rm_file_with_matching_prompt_ids_and_named_score_column(store, tmp_path):
    df = rm_frame().rename(columns={"score": "reward"})
    df["prompt_id"] = df["response_id"].str[:2]
    df["extra"] = 0
    path = tmp_path / "r.jsonl.gz"
    with gzip.open(path, "wt") as fh:
        df.to_json(fh, orient="records", lines=True)
    add_rm_scores(store, path, "example", "rm_x", score_column="reward")
    np.testing.assert_array_equal(store.load_pool("example", rms=["rm_x"]).rms["rm_x"],
                                  df["reward"].to_numpy(float))


def test_frame_with_categoricals_and_numeric_ids(tmp_path):
    store = Store(tmp_path / "db.duckdb")
    df = pd.DataFrame({
        "prompt_id": [1, 1, 2, 2], "response_id": [10, 11, 20, 21],
        "category": pd.Categorical(["a", "a", "b", "b"]), "oracle": [1, 2, 3, 4],
        "rm": [0.1, 0.2, 0.3, 0.4], "flag": [True, False, True, True],
    })
    report = import_frame(store, df, "f", ["oracle"], source_name="upload.csv")
    assert report.source == "upload.csv" and report.rms == ["rm"]
    pool = store.load_pool("f")
    assert list(pool.prompt_ids) == ["1", "2"] and list(pool.response_ids) == [
        "10", "11", "20", "21"]
    assert list(pool.categories) == ["a", "b"]
    with pytest.raises(RetaInputError, match=r"^upload\.csv: row 1, column 'rm'"):
        import_frame(store, df.assign(rm=[np.inf, 1, 2, 3]), "g", ["oracle"],
                     source_name="upload.csv")


# ------------------------------------------------------------------ real data
@pytest.mark.skipif(not REAL_POOL.exists(), reason=REAL_POOL_MISSING)
def test_real_alpacaeval_pool(tmp_path):
    store = Store(tmp_path / "real.duckdb")
    report = import_benchmark(store, REAL_POOL, "alpacaeval", ["gpt4_turbo_preference"],
                              rm_cols=[])
    assert (report.prompts, report.responses, report.rows) == (805, 8855, 8855)
    assert report.pool_size == {"min": 11, "median": 11, "max": 11}
    info = store.benchmark_info("alpacaeval")
    assert (info["n_prompts"], info["n_responses"]) == (805, 8855)
    assert info["default_oracle"] == "gpt4_turbo_preference"
    assert set(info["categories"]) == {"helpful_base", "koala", "oasst", "selfinstruct",
                                       "vicuna"}
    baselines = {r["name"] for r in info["rms"] if r["is_baseline"]}
    assert baselines == {BASELINE_LENGTH, BASELINE_RANDOM}
    pool = store.load_pool("alpacaeval")
    assert pool.n_prompts == 805 and set(pool.pool_sizes) == {11}
    oracle = pool.oracles["gpt4_turbo_preference"]
    assert np.isfinite(oracle).all() and oracle.min() >= 1 and oracle.max() <= 2
    assert (pool.rms[BASELINE_LENGTH] > 0).all()
    first = store.load_responses("alpacaeval", pool.prompt_ids[0])
    assert len(first) == 11 and first["response"].str.len().gt(0).all()
