"""The Data page's "Import a public benchmark" tab (reta_core.importers through
pages/ui/data.py): published files uploaded or named by a server path, the report before
anything is written, then Confirm; the imported RMs on the other pages; the Inspector on
a benchmark without response texts."""
from __future__ import annotations

import json

import pytest

from reta_core import Evaluation
from reta_core.store import Store
from tests import public_fixtures as F
from tests.apptest import app, no_errors
from tests.builders import sha256

PAGE = "pages/data.py"


def public_tab(fmt: str):
    at = app(PAGE)
    at.run()
    at.selectbox(key="public_format").set_value(fmt).run()
    return at


def upload(at, fmt: str, paths):
    key = f"public_upload_{fmt}_{at.session_state['_data_uploads']}"
    at.file_uploader(key=key).set_value([(p.name, p.read_bytes(), "application/json") for p in paths])
    return at.run()


def test_uploaded_rewardbench2_files_are_checked_first_then_ranked_everywhere(demo_db, tmp_path):
    folder = F.rewardbench2_folder(tmp_path)
    before = sha256(demo_db)
    at = public_tab("rewardbench2")
    no_errors(at)
    assert any("Upload the published files or give a path" in i.value for i in at.info)
    assert any("eval-set-scores/<org>/<model>.json" in c.value for c in at.caption)
    upload(at, "rewardbench2", sorted(folder.rglob("*.json")))
    no_errors(at)
    report = at.code[0].value
    assert report.startswith("Checked, nothing written yet: would import benchmark 'rewardbench2' from "
                             "RewardBench 2 (rm-a.json, rm-b.json): 13 rows read.")
    assert "org1/rm-a: 100.0% covered" in report and "num_correct > 1" in report
    assert sha256(demo_db) == before  # the report came before any write
    at.text_input(key="public_name_rewardbench2").set_value("rb2").run()
    at.button(key="public_confirm").click().run()
    no_errors(at)
    assert at.success[0].value.startswith("Imported benchmark 'rb2'")
    assert at.session_state["bench"] == "rb2"
    assert "rb2" in Store(demo_db).benchmark_names()
    at.switch_page("pages/leaderboard.py")
    at.run()
    no_errors(at)
    shown = at.dataframe[0].value.set_index("rm")
    assert {"org1/rm-a", "org2/rm-b", "baseline_length"} <= set(shown.index)
    assert shown.loc["org1/rm-a", "reta_0.25"] == pytest.approx(F.RB2_RETA_QUARTER["org1/rm-a"])
    assert shown.loc["org2/rm-b", "reta_0.25"] == pytest.approx(F.RB2_RETA_QUARTER["org2/rm-b"])
    for page in ("curves", "inspector", "reliability", "stability"):  # every page takes the new RMs
        at.switch_page(f"pages/{page}.py")
        at.run()
        no_errors(at)
        assert "org1/rm-a" in at.session_state["rm"]


def test_a_server_folder_of_ppe_sets(demo_db, tmp_path):
    root = F.ppe_folder(tmp_path / "ppe")
    at = public_tab("ppe")
    at.text_input(key="public_path").set_value(str(root)).run()
    no_errors(at)
    report = at.code[0].value
    assert "3 prompts, 12 responses" in report and "PPE sets carry no RM scores" in report
    assert "ppe" not in Store(demo_db).benchmark_names()
    at.button(key="public_confirm").click().run()
    no_errors(at)
    assert Store(demo_db).benchmark_info("ppe")["categories"] == ["GPQA", "MATH"]
    ev = Evaluation.from_store(Store(demo_db), "ppe")
    assert ev.curves(["baseline_length"], [0.25]).table["reta"].iloc[0] == pytest.approx(F.PPE_LENGTH_RETA_QUARTER)


def test_a_malformed_upload_writes_nothing_and_says_why(demo_db, tmp_path):
    folder = F.rewardmath_folder(tmp_path)
    path = folder / "orm_a_reward.json"
    data = json.loads(path.read_text())
    data[1]["score"] = [0.1, 0.8]
    path.write_text(json.dumps(data))
    before = sha256(demo_db)
    at = public_tab("rewardmath")
    upload(at, "rewardmath", [path])
    assert not at.exception
    assert len(at.error) == 1 and "\n" not in at.error[0].value
    assert at.error[0].value == ("orm_a_reward.json: problem 2 ('Solve \\$x+2=5\\$.'): 2 scores for 3 solutions "
                                 "(solution_reference)")
    assert not [b for b in at.button if b.key == "public_confirm"]
    assert sha256(demo_db) == before


def test_rewardmath_with_texts_and_without(demo_db, tmp_path):
    folder = F.rewardmath_folder(tmp_path, texts=True)
    scorers = sorted(folder.glob("*.json"))
    at = public_tab("rewardmath")
    at.selectbox(key="public_step").set_value("mean").run()
    upload(at, "rewardmath", scorers)
    no_errors(at)
    assert "Skipped (1): gpt4_pairwise_reward.json (pairwise verdicts, not scores)." in at.code[0].value
    assert "aggregated per solution by mean" in at.code[0].value and "No response texts" in at.code[0].value
    at.button(key="public_confirm").click().run()
    no_errors(at)
    assert Evaluation.from_store(Store(demo_db), "rewardmath").curves(["prm_b"], [1 / 3]).table["reta"].iloc[0] \
        == pytest.approx(F.PRM_B_BY_AGGREGATE["mean"])
    # the Inspector says there are no texts
    at.switch_page("pages/inspector.py")
    at.run()
    no_errors(at)
    assert any("carries no response texts" in i.value for i in at.info)
    # with the texts file, the solutions are there
    at = public_tab("rewardmath")
    upload(at, "rewardmath", scorers)
    at.file_uploader(key=f"public_texts_{at.session_state['_data_uploads']}").set_value(
        ("RewardMATH_direct.json", (tmp_path / "RewardMATH_direct.json").read_bytes(), "application/json")).run()
    at.text_input(key="public_name_rewardmath").set_value("rmath_texts").run()
    no_errors(at)
    assert "No response texts" not in at.code[0].value
    at.button(key="public_confirm").click().run()
    no_errors(at)
    assert Store(demo_db).load_responses("rmath_texts", "p00003")["response"].tolist() == ["3 x 3 = 9.", "3 x 3 = 6."]
    at.switch_page("pages/inspector.py")
    at.run()
    no_errors(at)
    assert not any("carries no response texts" in i.value for i in at.info)
