"""Public benchmarks in (reta_core.importers, ``python -m reta_core import``): small files in
exactly the published layouts (tests/public_fixtures.py), the numbers the engine then
shows checked against a hand computation, and malformed variants that each give one
``error:`` line and leave the database byte-identical."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from reta_core import Evaluation, importers
from reta_core.errors import RetaInputError
from reta_core.ingest import add_rm_scores
from reta_core.store import Store
from tests import public_fixtures as F
from tests.builders import REPO
from tests.builders import call, sha256


def imported(db: Path, *args) -> str:
    status, out, err = call("--db", db, "import", *args)
    assert status == 0, err
    return out


def reta(db: Path, benchmark: str, eta: float, category=None) -> dict:
    table = Evaluation.from_store(Store(db), benchmark, category=category).curves(None, [eta]).table
    return dict(zip(table["rm"], table["reta"]))


@pytest.fixture(autouse=True)
def _no_default_db(tmp_path, monkeypatch):
    monkeypatch.setenv("RETA_DB", str(tmp_path / "default.duckdb"))
    monkeypatch.delenv("RETA_DEBUG", raising=False)


@pytest.fixture
def db(tmp_path) -> Path:
    return tmp_path / "reta.duckdb"


# ------------------------------------------------------------------ RewardMATH
def test_rewardmath_folder_numbers_by_hand(tmp_path, db):
    folder = F.rewardmath_folder(tmp_path)
    out = imported(db, "rewardmath", folder, "--benchmark", "rmath")
    assert out.startswith("Imported benchmark 'rmath' from RewardMATH (RewardMATH/orm_a_reward.json, "
                          "RewardMATH/orm_c_reward.json, RewardMATH/prm_b_reward.json): 8 rows read.")
    assert "3 prompts, 8 responses, pool size min 2, median 3, max 3" in out
    assert "orm_c: 62.5% covered, 3 empty" in out  # a scorer with a missing problem
    assert "Skipped (1): RewardMATH/gpt4_pairwise_reward.json (pairwise verdicts, not scores)." in out
    assert "Note: RewardMATH/orm_a_reward.json: 1 repeated problem (identical) kept once." in out
    assert "prm_b is a process RM: its per-step scores are aggregated per solution by min" in out
    assert "No response texts" in out and "mix responses of several policies" in out
    assert reta(db, "rmath", 1 / 3) == pytest.approx(F.REWARDMATH_RETA_THIRD)  # no baselines: no texts
    board = Evaluation.from_store(Store(db), "rmath").leaderboard(ci=False).table.set_index("rm")
    assert board.loc["orm_a", "pairwise_accuracy"] == pytest.approx(1 / 3)
    pool = Store(db).load_pool("rmath")
    assert list(pool.prompt_ids) == ["p00001", "p00002", "p00003"]
    assert list(pool.response_ids[:3]) == ["p00001-s00", "p00001-s01", "p00001-s02"]
    assert list(pool.oracles["correct"]) == [1, 0, 0, 1, 0, 0, 1, 0]
    responses = Store(db).load_responses("rmath", "p00002")
    assert list(responses["policy"]) == F.REFS[F.P2] and responses["response"].isna().all()
    rms = Store(db).list_rms("rmath").set_index("name")
    assert "aggregated per solution by min (--step-aggregate)" in rms.loc["prm_b", "description"]
    assert Store(db).benchmark_info("rmath")["oracles"][0]["description"].startswith("1 for the problem's correct")


@pytest.mark.parametrize("how", importers.STEP_AGGREGATES)
def test_rewardmath_step_aggregate(tmp_path, db, how):
    folder = F.rewardmath_folder(tmp_path)
    out = imported(db, "rewardmath", folder / "prm_b_reward.json", "--benchmark", "b", "--step-aggregate", how)
    assert f"aggregated per solution by {how}" in out
    assert reta(db, "b", 1 / 3)["prm_b"] == pytest.approx(F.PRM_B_BY_AGGREGATE[how])


def test_aggregate_steps_by_hand():
    values = np.array([0.9, 0.8, 0.7, 0.95, 0.2, np.nan])
    lengths = np.array([2, 0, 2, 1, 1])
    assert importers.aggregate_steps(values, lengths, "min") == pytest.approx([0.8, np.nan, 0.7, 0.2, np.nan],
                                                                             nan_ok=True)
    assert importers.aggregate_steps(values, lengths, "mean") == pytest.approx([0.85, np.nan, 0.825, 0.2, np.nan],
                                                                              nan_ok=True)
    assert importers.aggregate_steps(values, lengths, "last") == pytest.approx([0.8, np.nan, 0.95, 0.2, np.nan],
                                                                              nan_ok=True)
    assert importers.aggregate_steps(values, lengths, "prod") == pytest.approx([0.72, np.nan, 0.665, 0.2, np.nan],
                                                                              nan_ok=True)
    with pytest.raises(RetaInputError, match="unknown step aggregate 'max'"):
        importers.aggregate_steps(values, lengths, "max")


def test_rewardmath_texts_give_the_responses_and_the_order(tmp_path, db):
    folder = F.rewardmath_folder(tmp_path)
    texts = F.write_json(tmp_path / "RewardMATH_direct.json", F.texts_records([F.P3, F.P1, F.P2]))
    out = imported(db, "rewardmath", folder, "--benchmark", "rmath", "--texts", texts)
    assert "No response texts" not in out and "baseline_length (baseline): 100.0% covered" in out
    pool = Store(db).load_pool("rmath", rms=[])
    assert list(Store(db).load_prompts("rmath")["prompt"]) == [F.P3, F.P1, F.P2]  # the texts file's order
    first = Store(db).load_responses("rmath", "p00002")  # P1
    assert first["response"].iloc[0] == "1+1 = 2.\nThe answer is $\\boxed{2}$."
    assert list(first["response_id"]) == ["p00002-s00", "p00002-s01", "p00002-s02"]
    assert pool.n_responses == 8
    assert reta(db, "rmath", 1 / 3)["prm_b"] == pytest.approx(7 / 3)  # the same numbers, other ids


# ------------------------------------------------------------------ RewardBench 2
def test_rewardbench2_folder_numbers_by_hand(tmp_path, db):
    folder = F.rewardbench2_folder(tmp_path)
    out = imported(db, "rewardbench2", folder, "--benchmark", "rb2")
    assert "3 prompts, 13 responses, pool size min 4, median 4, max 5" in out
    assert "org1/rm-a: 100.0% covered" in out and "org2/rm-b: 100.0% covered" in out
    assert "Note: 1 prompt has more than one correct completion (num_correct > 1" in out
    got = reta(db, "rb2", 0.25)
    assert {k: got[k] for k in F.RB2_RETA_QUARTER} == pytest.approx(F.RB2_RETA_QUARTER)
    ties = reta(db, "rb2", 0.25, category="Ties")
    assert {k: ties[k] for k in F.RB2_TIES_RETA_QUARTER} == pytest.approx(F.RB2_TIES_RETA_QUARTER)
    info = Store(db).benchmark_info("rb2")
    assert info["categories"] == ["Focus", "Math", "Ties"]
    assert list(Store(db).load_pool("rb2").oracles["correct"][8:]) == [1, 1, 0, 0, 0]  # Ties: num_correct 2
    prompts = Store(db).load_prompts("rb2")
    assert list(prompts["prompt_id"]) == ["100", "101", "102"] and prompts["prompt"].iloc[1] == "Name a fruit."
    responses = Store(db).load_responses("rb2", "102")
    assert list(responses["response_id"]) == [f"102-c{k}" for k in range(5)]
    assert responses["response"].iloc[2] == "Green-ish."
    description = Store(db).list_rms("rb2").set_index("name").loc["org1/rm-a", "description"]
    assert description == ("org1/rm-a on RewardBench 2 (Seq. Classifier; chat template tokenizer), from "
                           "eval-set-scores/org1/rm-a.json")


def test_rewardbench2_plain_text_completions_and_names_from_the_path(tmp_path, db):
    data = F.rb2_columns("org1/rm-a")
    data["text"] = [p[3] for p in F.RB2_PROMPTS]
    del data["model"]
    path = F.write_json(tmp_path / "eval-set-scores" / "someorg" / "some-rm.json", data)
    imported(db, "rewardbench2", path, "--benchmark", "rb2")
    assert [r["name"] for r in Store(db).benchmark_info("rb2")["rms"]][0] == "someorg/some-rm"
    assert Store(db).load_responses("rb2", "100")["response"].tolist() == ["4", "5", "22", "3"]
    assert Store(db).load_prompts("rb2")["prompt"].isna().all()
    assert reta(db, "rb2", 0.25)["someorg/some-rm"] == pytest.approx(2.0)


def test_a_judges_file_without_scores_in_a_folder_is_skipped(tmp_path, db):
    folder = F.rewardbench2_folder(tmp_path)
    judge = F.rb2_columns("org1/rm-a")
    del judge["scores"]
    F.write_json(folder / "judges" / "some-judge.json", dict(judge, model="judges/some-judge"))
    out = imported(db, "rewardbench2", folder, "--benchmark", "rb2")
    assert ("Skipped (1): eval-set-scores/judges/some-judge.json (no per-completion scores (a generative "
            "judge's verdicts only)).") in out
    assert "judges/some-judge" not in {r["name"] for r in Store(db).benchmark_info("rb2")["rms"]}
    status, _, err = call("--db", db, "import", "rewardbench2", folder / "judges", "--benchmark", "judges")
    assert status == 2 and "no RewardBench 2 file with per-completion scores" in err


def test_uploaded_files_are_named_by_their_model_field(tmp_path, db):
    folder = F.rewardbench2_folder(tmp_path)
    uploads = [(p.name, p.read_bytes()) for p in sorted(folder.rglob("*.json"))]
    report = importers.import_uploads(Store(db), "rewardbench2", uploads, "rb2", dry_run=True)
    assert report.dry_run and report.rms[:2] == ["org1/rm-a", "org2/rm-b"]
    assert report.source == "RewardBench 2 (rm-a.json, rm-b.json)"
    assert not db.exists() or "rb2" not in Store(db).benchmark_names()
    with pytest.raises(RetaInputError, match="unknown file type"):
        importers.import_uploads(Store(db), "rewardbench2", [("notes.txt", b"x")], "rb2")


# ------------------------------------------------------------------ PPE
def test_ppe_sets_numbers_by_hand_then_add_scores(tmp_path, db):
    root = F.ppe_folder(tmp_path / "ppe")
    out = imported(db, "ppe", root / "PPE-MATH-Best-of-K", root / "PPE-GPQA-Best-of-K", "--benchmark", "ppe")
    assert "3 prompts, 12 responses, pool size min 4, median 4, max 4" in out
    assert "correct: 1 with mean oracle score <= 0" in out  # model-b got every response wrong
    assert "PPE sets carry no RM scores" in out and "mix responses" not in out  # one policy per pool
    info = Store(db).benchmark_info("ppe")
    assert info["categories"] == ["GPQA", "MATH"]
    pool = Store(db).load_pool("ppe")
    assert list(pool.prompt_ids) == ["MATH-00001", "MATH-00002", "GPQA-00001"]  # the order given
    assert list(pool.response_ids[:2]) == ["MATH-00001-r01", "MATH-00001-r02"]
    assert list(pool.oracles["correct"][:4]) == [1, 0, 0, 1]
    assert Store(db).load_responses("ppe", "MATH-00002")["policy"].tolist() == ["model-b"] * 4
    assert reta(db, "ppe", 0.25)["baseline_length"] == pytest.approx(F.PPE_LENGTH_RETA_QUARTER)
    # a pool to score: an RM's scores by the derived ids
    scores = pd.DataFrame({"response_id": pool.response_ids, "score": np.arange(12.0)})
    report = add_rm_scores(Store(db), scores, "ppe", "my_rm")
    assert report.coverage == {"my_rm": 1.0}


def test_ppe_source_names():
    def source(*parts):
        return importers.ppe_source(importers.InputFile(Path(*parts), parts[-1], False, parts))

    assert source("PPE-MMLU-Pro-Best-of-K", "data", "train-00000-of-00001.parquet") == "MMLU-Pro"
    assert source("x", "ppe_ifeval.parquet") == "ifeval"
    assert source("downloads", "gpqa-sample.parquet") == "gpqa-sample"
    assert source("PPE-MBPP-Plus-Best-of-K.parquet") == "MBPP-Plus"


# ------------------------------------------------------------------ AlpacaEval
def test_alpacaeval_results_numbers_by_hand(tmp_path, db):
    folder = F.alpacaeval_folder(tmp_path)
    out = imported(db, "alpacaeval", folder, "--benchmark", "alpaca")
    assert "2 prompts, 4 responses" in out and "Oracles: win_prob (default): 0 empty." in out
    assert ("Skipped (1): results/model-x/alpaca_eval_gpt4/annotations.json (annotator alpaca_eval_gpt4; "
            "most files are by weighted_alpaca_eval_gpt4_turbo, the oracle kept).") in out
    assert "1 repeated (instruction, model) records (identical) kept once." in out
    assert "2 of 2 pools mix responses of several policies (2 in all), unlike the paper's pools" in out
    pool = Store(db).load_pool("alpaca")
    assert list(pool.oracles["win_prob"]) == pytest.approx([0.8, 0.1, 0.2, 0.9])
    assert list(pool.response_ids) == ["p00001-m01", "p00001-m02", "p00002-m01", "p00002-m02"]
    assert Store(db).benchmark_info("alpaca")["categories"] == ["helpful_base", "koala"]
    assert reta(db, "alpaca", 0.5)["baseline_length"] == pytest.approx(F.ALPACA_LENGTH_RETA_HALF)
    oracle = Store(db).benchmark_info("alpaca")["oracles"][0]["description"]
    assert "weighted_alpaca_eval_gpt4_turbo" in oracle and "gpt4_1106_preview" in oracle


# ------------------------------------------------------------------ every command leaves the rest alone
def test_imported_rms_are_listed_and_ranked_by_the_cli(tmp_path, db):
    imported(db, "rewardbench2", F.rewardbench2_folder(tmp_path), "--benchmark", "rb2")
    status, out, _ = call("--db", db, "list", "--format", "json")
    listed = json.loads(out)["rows"][0]
    assert listed["name"] == "rb2" and [r["name"] for r in listed["rms"]][:2] == ["org1/rm-a", "org2/rm-b"]
    status, out, _ = call("--db", db, "reta", "--benchmark", "rb2", "--eta", "0.25", "--format", "json")
    rows = {r["rm"]: r["reta"] for r in json.loads(out)["rows"]}
    assert rows["org1/rm-a"] == pytest.approx(2.0) and rows["org2/rm-b"] == pytest.approx(5 / 3)
    status, out, err = call("--db", db, "import", "--help")
    assert status == 0 and "examples:" in out and "rewardbench2" in out


# ------------------------------------------------------------------ the failure matrix
def edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def text_file(path: Path, content: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    return path


def rm_case(change=None, file="orm_a_reward.json", texts=False, extra=()):
    """RewardMATH's folder with one file changed; the import's arguments."""
    def build(tmp):
        folder = F.rewardmath_folder(tmp, texts=texts)
        if change is not None:
            edit_json(folder / file, change)
        return ["rewardmath", folder] + (["--texts", tmp / "RewardMATH_direct.json"] if texts else []) + list(extra)
    return build


def rb2_case(change, file="org1/rm-a.json", named=False):
    """RewardBench 2's folder with one file changed; the folder (or, ``named``, its files)."""
    def build(tmp):
        folder = F.rewardbench2_folder(tmp)
        edit_json(folder / file, change)
        return ["rewardbench2"] + (sorted(folder.rglob("*.json")) if named else [folder])
    return build


def ppe_case(change):
    def build(tmp):
        root = F.ppe_folder(tmp / "ppe")
        path = root / "PPE-MATH-Best-of-K" / "data" / "train-00000-of-00001.parquet"
        change(path)
        return ["ppe", root]
    return build


def ppe_rows(rows):
    return lambda path: pq.write_table(F.ppe_table(rows), path)


def alpaca_case(change, model="model-y"):
    def build(tmp):
        folder = F.alpacaeval_folder(tmp)
        edit_json(folder / model / "weighted_alpaca_eval_gpt4_turbo" / "annotations.json", change)
        return ["alpacaeval", folder]
    return build


def setitem(path, value):
    """A change that sets data[path[0]][path[1]]... = value."""
    def change(data):
        for key in path[:-1]:
            data = data[key]
        data[path[-1]] = value
    return change


MATH_ROWS = F.PPE_SETS["PPE-MATH-Best-of-K"]
FAILURES = {
    # RewardMATH
    "rewardmath: missing field": (rm_case(lambda d: d[1].pop("score")),
                                  ["orm_a_reward.json", "problem 2", "no field 'score'"]),
    "rewardmath: wrong list length": (rm_case(setitem([1, "score"], [0.1, 0.8])),
                                      ["problem 2 ('Solve $x+2=5$.')", "2 scores for 3 solutions"]),
    "rewardmath: problem matching nothing": (
        rm_case(lambda d: d.append({"problem": "What is 2+2?", "solution_reference": ["a", "b"], "score": [1, 0]}),
                texts=True), ["orm_a_reward.json", "'What is 2+2?'", "matches no problem of the texts file",
                              "RewardMATH_direct.json"]),
    "rewardmath: non-numeric score": (rm_case(setitem([0, "score", 1], "abc")),
                                      ["problem 1", "score is not a list of numbers", "'abc'"]),
    "rewardmath: duplicate conflicting problem": (rm_case(setitem([3, "score"], [0.1, 0.2, 0.3])),
                                                  ["problem 4", "the same problem as problem 1",
                                                   "a repeat must be identical"]),
    "rewardmath: infinite score": (rm_case(setitem([0, "score", 0], float("inf"))), ["problem 1", "infinite"]),
    "rewardmath: step lists mixed with numbers": (rm_case(setitem([1, "score"], [[0.1], [0.2], [0.3]])),
                                                  ["problem 2", "a list of lists here", "problem 1"]),
    "rewardmath: solution count differs between files": (
        rm_case(lambda d: d[0].update(solution_reference=F.REFS[F.P1][:2], score=[0.2, 0.6]), file="orm_c_reward.json"),
        ["orm_c_reward.json", "problem 'What is $1+1$?': 2 solutions", "orm_a_reward.json has 3"]),
    "rewardmath: policy differs between files": (
        rm_case(setitem([0, "solution_reference", 2], "someone-else"), file="orm_c_reward.json"),
        ["orm_c_reward.json", "solution 2 is by 'someone-else' here", "orm_a_reward.json"]),
    "rewardmath: a record that is not an object": (rm_case(lambda d: d.insert(0, 5)),
                                                   ["orm_a_reward.json: problem 1 is not a JSON object: 5"]),
    "rewardmath: an object, not a list": (
        lambda tmp: [F.write_json(tmp / "x_reward.json", {"problem": F.P1}) and "rewardmath", tmp / "x_reward.json"],
        ["x_reward.json: expected a JSON list of objects"]),
    "rewardmath: texts with a wrong solution_type": (
        lambda tmp: (F.write_json(tmp / "t.json", [dict(r, solution_type="rejected") for r in F.texts_records()]),
                     ["rewardmath", F.rewardmath_folder(tmp), "--texts", tmp / "t.json"])[1],
        ["t.json", "solution_type 'rejected'", "must be the chosen (correct) one"]),
    "rewardmath: only pairwise files": (
        lambda tmp: ["rewardmath", F.rewardmath_folder(tmp) / "gpt4_pairwise_reward.json"],
        ["no RewardMATH score file"]),
    "rewardmath: invalid JSON": (
        lambda tmp: ["rewardmath", text_file(tmp / "x_reward.json", "[{")],
        ["x_reward.json", "not valid JSON"]),
    # RewardBench 2
    "rewardbench2: missing field": (rb2_case(lambda d: d.pop("scores"), named=True),
                                    ["rm-a.json", "no field 'scores'"]),
    "rewardbench2: missing id": (rb2_case(lambda d: d.pop("id")), ["rm-a.json", "no field 'id'"]),
    "rewardbench2: wrong list length": (rb2_case(setitem(["scores", 1], [0.3, 0.9, 0.1])),
                                        ["prompt id '101'", "3 scores for 4 completions"]),
    "rewardbench2: a column shorter than id": (rb2_case(setitem(["subset"], ["Math", "Focus"])),
                                               ["field 'subset' has 2 entries but 'id' has 3"]),
    "rewardbench2: non-numeric score": (rb2_case(setitem(["scores", 0, 2], "high")),
                                        ["prompt id '100'", "scores is not a list of numbers", "'high'"]),
    "rewardbench2: files disagree on a prompt": (rb2_case(setitem(["subset", 2], "Focus"), file="org2/rm-b.json"),
                                                 ["rm-b.json", "prompt id '102'", "subset 'Focus' here but 'Ties'",
                                                  "rm-a.json"]),
    "rewardbench2: duplicate prompt id": (rb2_case(setitem(["id", 1], "100")), ["prompt id '100' appears twice"]),
    "rewardbench2: num_correct above the completions": (rb2_case(setitem(["num_correct", 0], 5)),
                                                        ["prompt id '100'", "num_correct 5"]),
    "rewardbench2: the same RM twice": (rb2_case(setitem(["model"], "org1/rm-a"), file="org2/rm-b.json"),
                                        ["RM 'org1/rm-a' again"]),
    # PPE
    "ppe: missing column": (ppe_case(lambda p: pq.write_table(pq.read_table(p).drop(["scores"]), p)),
                            ["train-00000-of-00001.parquet", "no column 'scores'"]),
    "ppe: wrong list length": (ppe_case(ppe_rows([MATH_ROWS[0][:4] + ([True, False, False],)] + MATH_ROWS[1:])),
                               ["row 1 (question_id 'q1', model_name 'model-a')", "3 scores for 4 responses"]),
    "ppe: a response column missing": (ppe_case(lambda p: pq.write_table(pq.read_table(p).drop(["response_2"]), p)),
                                       ["no column response_2"]),
    "ppe: non-numeric scores": (ppe_case(ppe_rows([MATH_ROWS[0][:4] + (["yes", "no", "no", "yes"],)])),
                                ["column 'scores' holds a list of texts per row"]),
    "ppe: not Parquet": (ppe_case(lambda p: p.write_text("question_id,scores\n")), ["cannot be read as Parquet"]),
    "ppe: duplicate row": (ppe_case(ppe_rows([MATH_ROWS[0], MATH_ROWS[0]])), ["row 2", "appears twice"]),
    # AlpacaEval
    "alpacaeval: missing field": (alpaca_case(lambda d: d[1].pop("generator_2")),
                                  ["model-y/weighted_alpaca_eval_gpt4_turbo/annotations.json", "record 2",
                                   "no field 'generator_2'"]),
    "alpacaeval: non-numeric preference": (alpaca_case(setitem([0, "preference"], "high")),
                                           ["record 1", "preference 'high' is not a number in [1, 2]"]),
    "alpacaeval: preference out of range": (alpaca_case(setitem([1, "preference"], 3)),
                                            ["record 2", "preference 3.0 is not a number in [1, 2]"]),
    "alpacaeval: duplicate conflicting record": (alpaca_case(setitem([2, "preference"], 1.3)),
                                                 ["record 3", "model 'model-y' again", "record 1",
                                                  "another output_2 or preference"]),
    "alpacaeval: another reference": (alpaca_case(setitem([1, "generator_1"], "text_davinci_003")),
                                      ["record 2", "reference generator_1 is 'text_davinci_003' here",
                                       "'gpt4_1106_preview' in"]),
    # any format
    "no such path": (lambda tmp: ["ppe", tmp / "nowhere"], ["nowhere: no such file or folder"]),
    "a folder without the format's files": (lambda tmp: ["ppe", F.rewardbench2_folder(tmp)],
                                            ["eval-set-scores: no *.parquet file"]),
    "benchmark exists": (lambda tmp: ["rewardbench2", F.rewardbench2_folder(tmp)],
                         ["benchmark 'base' exists already", "--replace"]),
    "texts for another format": (lambda tmp: ["ppe", F.ppe_folder(tmp), "--texts", "t.json"],
                                 ["--texts and --step-aggregate apply to the rewardmath format only"]),
}


@pytest.fixture(scope="module")
def base_db(tmp_path_factory) -> Path:
    """A database holding one imported benchmark, 'base' (copied by each failure case)."""
    tmp = tmp_path_factory.mktemp("base")
    db = tmp / "reta.duckdb"
    imported(db, "rewardbench2", F.rewardbench2_folder(tmp), "--benchmark", "base")
    return db


@pytest.mark.parametrize("case", list(FAILURES))
def test_a_malformed_import_gives_one_error_line_and_changes_nothing(tmp_path, base_db, case):
    build, words = FAILURES[case]
    db = tmp_path / "reta.duckdb"
    shutil.copyfile(base_db, db)
    args = build(tmp_path / "case")
    before = sha256(db)
    status, out, err = call("--db", db, "import", *args, "--benchmark", "base" if "exists" in case else "new")
    assert status == 2, (case, out, err)
    assert out == "" and err.startswith("error: ") and err.count("\n") == 1, err
    for word in words:
        assert word in err, (case, err)
    assert sha256(db) == before
    assert not Path(str(db) + ".wal").exists()
    assert Store(db).benchmark_names() == ["base"]


# ------------------------------------------------------------------ hf:// paths, offline
HUB_FILE = "hf://datasets/lmarena-ai/PPE-GPQA-Best-of-K/data/train-00000-of-00001.parquet"


def test_hub_path_without_huggingface_hub_names_the_file_to_download(monkeypatch, db):
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # import fails
    status, out, err = call("--db", db, "import", "ppe", HUB_FILE, "--benchmark", "ppe")
    assert status == 2 and err.count("\n") == 1
    assert err.startswith(f"error: {HUB_FILE}: reading hf:// paths needs huggingface_hub")
    assert ("download https://huggingface.co/datasets/lmarena-ai/PPE-GPQA-Best-of-K/resolve/main/data/"
            "train-00000-of-00001.parquet and put it at PPE-GPQA-Best-of-K/data/train-00000-of-00001.parquet") in err
    assert not db.exists()


def test_hub_path_offline_names_the_folder_to_download(monkeypatch, db):
    class Offline:  # huggingface_hub as it behaves with no network
        @staticmethod
        def list_repo_files(*args, **kwargs):
            raise ConnectionError("Cannot reach https://huggingface.co/api/datasets/...: offline mode is enabled.")

        @staticmethod
        def hf_hub_download(*args, **kwargs):
            raise OSError("cannot find the requested files in the local cache")

    monkeypatch.setitem(sys.modules, "huggingface_hub", Offline)
    status, out, err = call("--db", db, "import", "rewardbench2",
                            "hf://datasets/allenai/reward-bench-2-results/eval-set-scores", "--benchmark", "rb2")
    assert status == 2 and err.count("\n") == 1
    assert "cannot fetch it from the Hugging Face Hub (Cannot reach" in err
    assert ("download the files of https://huggingface.co/datasets/allenai/reward-bench-2-results/tree/main/"
            "eval-set-scores into a folder reward-bench-2-results/eval-set-scores") in err
    status, out, err = call("--db", db, "import", "ppe", HUB_FILE, "--benchmark", "ppe")
    assert status == 2 and "cannot find the requested files in the local cache" in err and "put it at" in err
    status, out, err = call("--db", db, "import", "ppe", "hf://models/x", "--benchmark", "ppe")
    assert status == 2 and "a Hugging Face path reads hf://datasets/ORG/NAME/PATH" in err


def test_hub_path_with_the_real_library_offline(tmp_path):
    pytest.importorskip("huggingface_hub")
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf"), RETA_DB=str(tmp_path / "x.duckdb"))
    done = subprocess.run([sys.executable, "-m", "reta_core", "import", "ppe", HUB_FILE, "--benchmark", "ppe"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: {HUB_FILE}: cannot fetch it from the Hugging Face Hub")
    assert "put it at PPE-GPQA-Best-of-K/data/train-00000-of-00001.parquet" in last


def test_listing_stamp_changes_with_the_files(tmp_path):
    folder = F.rewardbench2_folder(tmp_path)
    before = importers.listing_stamp("rewardbench2", [str(folder)])
    assert [s[0] for s in before] == ["eval-set-scores/org1/rm-a.json", "eval-set-scores/org2/rm-b.json"]
    (folder / "org1" / "rm-a.json").write_text((folder / "org1" / "rm-a.json").read_text() + " ")
    assert importers.listing_stamp("rewardbench2", [str(folder)]) != before
    assert importers.listing_stamp("ppe", [HUB_FILE]) == (HUB_FILE,)
