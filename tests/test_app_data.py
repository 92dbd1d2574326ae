"""The Data page (issue 5, bring your own RM): browse the database, upload an RM or a
benchmark (checked and reported before anything is written), templates, removal.

The uploads go through the page's real st.file_uploader (AppTest can drive it); the
checks and the write are ``ingest.import_upload``, tested directly at the end."""
from __future__ import annotations

import gzip
import io

import numpy as np
import pandas as pd
import pytest

from reta_core import ingest, reports
from reta_core.errors import RetaInputError
from reta_core.store import Store
from tests.apptest import ORACLE, REPO, app, no_errors, upload
from tests.builders import sha256

PAGE = "pages/data.py"


def rm_csv(path, rows=None, score=None) -> bytes:
    """A CSV RM file for the demo benchmark: scores = oracle + noise (or ``score``)."""
    pool = Store(path).load_pool("demo")
    frame = pd.DataFrame({"response_id": pool.response_ids.astype(str),
                          "score": pool.oracles[ORACLE] + np.random.default_rng(1).normal(0, 2, pool.n_responses)})
    if score is not None:
        frame["score"] = score
    return frame.iloc[rows if rows is not None else slice(None)].to_csv(index=False).encode()


def data_app():
    at = app(PAGE)
    at.run()
    return at


def test_page_renders_the_database(demo_db):
    at = data_app()
    no_errors(at)
    figures = {m.label: m.value for m in at.metric}
    assert figures == {"Prompts": "60", "Responses": "960", "Pool size": "16", "Categories": "5"}
    assert list(at.dataframe[0].value["name"]) == ["demo"]
    rms = at.get("dataframe")[3].value  # benchmarks, categories, oracles, RMs
    assert "baseline_length" in set(rms["name"]) and rms.set_index("name").loc["baseline_length", "is_baseline"]
    summary = at.dataframe[4].value
    pd.testing.assert_frame_equal(summary.reset_index(drop=True),
                                  reports.score_summary(Store(demo_db).load_pool("demo")), check_dtype=False)
    assert any("Every prompt counts" in s.value for s in at.success)
    at.selectbox(key="data_scorer").set_value("length_biased_rm").run()
    no_errors(at)
    assert any("files up to 200 MB (server.maxUploadSize)" in c.value for c in at.caption)


def test_excluded_prompts_are_listed_with_their_reason(demo_db):
    pool = Store(demo_db).load_pool("demo")
    scores = pool.oracles[ORACLE].copy()
    scores[: 15] = np.nan  # the first prompt keeps 1 scored response
    ingest.add_rm_scores(Store(demo_db), pd.DataFrame({"response_id": pool.response_ids, "s": scores}), "demo", "holey")
    at = data_app()
    no_errors(at)
    excluded = at.dataframe[-1].value
    assert excluded.to_dict("records") == [{"rm": "holey", "reason": "fewer than 2 scored responses", "n_prompts": 1}]


def test_template_has_the_benchmark_ids_and_an_empty_score(demo_db, downloads):
    at = data_app()
    template = pd.read_csv(io.BytesIO(downloads(at, "data_template")))
    pool = Store(demo_db).load_pool("demo")
    assert list(template.columns) == ["prompt_id", "response_id", "score"]
    assert list(template["response_id"]) == list(pool.response_ids)
    assert template["score"].isna().all()
    # filled in, it is a valid RM file
    template["score"] = np.arange(len(template))
    report = ingest.add_rm_scores(Store(demo_db), template, "demo", "from_template", dry_run=True)
    assert report.coverage == {"from_template": 1.0}


@pytest.mark.parametrize("content, reason", [
    (lambda db: rm_csv(db).replace(b"demo-p00001-r001", b"nope-1"), "1 response_id is not in benchmark"),
    (lambda db: rm_csv(db).replace(b"\ndemo-p00002-r003,", b"\ndemo-p00002-r003,high"), "not a number"),
])
def test_a_rejected_upload_writes_nothing_and_says_why(demo_db, content, reason):
    before = sha256(demo_db)
    at = data_app()
    upload(at, "rm", "my_rm.csv", content(demo_db))
    assert not at.exception
    assert len(at.error) == 1 and reason in at.error[0].value and "my_rm.csv" in at.error[0].value
    assert "\n" not in at.error[0].value
    assert not [b for b in at.button if b.key == "rm_confirm"]
    assert sha256(demo_db) == before
    assert "my_rm" not in set(Store(demo_db).list_rms("demo")["name"])


@pytest.mark.parametrize("kind", ["rm", "bench"])
def test_what_an_uploader_takes_is_visible_text_and_another_type_is_refused_in_words(demo_db, kind):
    # before: the types and the limit were in a hover tooltip, and the browser refused a
    # file of another type (or over the limit) with a red icon whose reason needed a hover
    at = data_app()
    rules = [c.value for c in at.caption if "MB a file" in c.value]
    assert len(rules) == 3  # the RM, benchmark and public uploaders
    assert rules[0].startswith("CSV, Parquet or JSON Lines (.csv, .csv.gz, .parquet, .jsonl, ")
    assert "up to 200 MB a file. A file over 200 MB is not sent (the browser marks it red)" in rules[0]
    uploader = at.file_uploader(key=f"{kind}_upload_0")
    assert uploader.proto.type == []  # every type reaches the page, which says what is wrong
    before = sha256(demo_db)
    upload(at, kind, "scores.xlsx", b"PK\x03\x04 a spreadsheet")
    assert not at.exception
    assert [e.value for e in at.error] == [
        "scores.xlsx: unknown file type; use one of .csv, .csv.gz, .parquet, .jsonl, .ndjson, "
        ".jsonl.gz, .ndjson.gz, .json"]
    assert sha256(demo_db) == before


def test_an_accepted_upload_is_checked_first_then_appears_everywhere(demo_db):
    before = sha256(demo_db)
    at = data_app()
    upload(at, "rm", "my_rm.csv.gz", gzip.compress(rm_csv(demo_db)))
    no_errors(at)
    assert at.text_input(key=[k for k in (t.key for t in at.text_input) if k.startswith("rm_name_")][0]).value == "my_rm"
    report = at.code[0].value
    assert report.startswith("Checked, nothing written yet: would import RM 'my_rm' into benchmark 'demo'")
    assert "100.0% covered" in report
    assert sha256(demo_db) == before  # the report came before any write
    at.button(key="rm_confirm").click().run()
    no_errors(at)
    assert "Imported RM 'my_rm'" in at.success[0].value
    assert "my_rm" in at.session_state["rm"]
    assert "my_rm" in set(Store(demo_db).list_rms("demo")["name"])
    assert sha256(demo_db) != before
    assert not at.code  # a fresh uploader: the file is not offered again
    at.switch_page("pages/leaderboard.py")
    at.run()
    no_errors(at)
    assert "my_rm" in set(at.dataframe[0].value["rm"])


def test_a_new_benchmark_upload(demo_db):
    at = data_app()
    upload(at, "bench", "example_benchmark.csv", (REPO / "data" / "example_benchmark.csv").read_bytes())
    no_errors(at)
    name_key = [t.key for t in at.text_input if t.key.startswith("bench_name_")][0]
    assert at.text_input(key=name_key).value == "example_benchmark"
    assert any("Choose at least one oracle column" in i.value for i in at.info)
    at.multiselect(key=[m.key for m in at.multiselect if m.key.startswith("bench_oracles_")][0]).set_value(
        [ORACLE]).run()
    no_errors(at)
    rm_select = [m for m in at.multiselect if m.key.startswith("bench_rms_")][0]
    assert rm_select.value == ["helpful_rm"]
    assert at.code[0].value.startswith("Checked, nothing written yet: would import benchmark 'example_benchmark'")
    assert "example_benchmark" not in Store(demo_db).benchmark_names()
    at.button(key="benchmark_confirm").click().run()
    no_errors(at)
    assert "example_benchmark" in Store(demo_db).benchmark_names()
    assert at.session_state["bench"] == "example_benchmark"
    assert {r["name"] for r in at.session_state["_selection"].info["rms"]} == {
        "helpful_rm", "baseline_length", "baseline_random"}


def test_removing_needs_a_confirmation(demo_db):
    at = data_app()
    at.selectbox(key="data_remove_rm").set_value("random_rm").run()
    assert at.button(key="data_remove_rm_button").disabled
    at.checkbox(key="data_remove_rm_ok_random_rm").check().run()
    assert not at.button(key="data_remove_rm_button").disabled
    at.button(key="data_remove_rm_button").click().run()
    no_errors(at)
    assert "Removed RM 'random_rm'" in at.success[0].value
    assert "random_rm" not in set(Store(demo_db).list_rms("demo")["name"])
    assert "random_rm" not in at.session_state["rm"]
    assert "random_rm" not in set(at.get("dataframe")[3].value["name"])
    # a benchmark
    ingest.import_benchmark(Store(demo_db), REPO / "data" / "example_benchmark.csv", "extra", [ORACLE])
    at.run()
    at.selectbox(key="data_remove_bench").set_value("extra").run()
    assert at.button(key="data_remove_bench_button").disabled
    at.checkbox(key="data_remove_bench_ok_extra").check().run()
    at.button(key="data_remove_bench_button").click().run()
    no_errors(at)
    assert Store(demo_db).benchmark_names() == ["demo"]


# ------------------------------------------------------------------ the reta_core side
def test_dry_run_checks_everything_and_writes_nothing(demo_db):
    store = Store(demo_db)
    before = sha256(demo_db)
    frame = pd.read_csv(io.BytesIO(rm_csv(demo_db)))
    report = ingest.add_rm_scores(store, frame, "demo", "dry", dry_run=True)
    assert report.dry_run and report.to_text().startswith("Checked, nothing written yet: would import RM 'dry'")
    bench = ingest.import_benchmark(store, REPO / "data" / "example_benchmark.csv", "b2", [ORACLE], dry_run=True)
    assert bench.dry_run and bench.kind == "benchmark" and bench.prompts > 0
    with pytest.raises(RetaInputError, match="exists already"):
        ingest.add_rm_scores(store, frame.rename(columns={"score": "s"}), "demo", "strong_rm", dry_run=True)
    assert sha256(demo_db) == before
    written = ingest.add_rm_scores(store, frame, "demo", "dry")
    assert not written.dry_run and written.to_text().startswith("Imported RM 'dry'")


def test_uploads_are_staged_with_their_extension_and_limited(demo_db, tmp_path):
    seen = []
    with ingest.staged_upload("scores.jsonl.gz", b"x") as path:
        seen.append(path)
        assert path.name == "scores.jsonl.gz" and path.read_bytes() == b"x"
    assert not seen[0].exists() and not seen[0].parent.exists()
    with pytest.raises(RetaInputError, match=r"^scores.xlsx: unknown file type"):
        ingest.import_upload(Store(demo_db), "rm", "scores.xlsx", b"a,b\n", benchmark="demo", rm="x")
    with pytest.raises(RetaInputError, match="the upload limit is 1 MB"):
        ingest.import_upload(Store(demo_db), "rm", "big.csv", b"0" * (2**20 + 1), max_bytes=2**20,
                             benchmark="demo", rm="x")
    frame = pd.read_csv(io.BytesIO(rm_csv(demo_db)))
    parquet = io.BytesIO()
    frame.to_parquet(parquet, index=False)
    report = ingest.import_upload(Store(demo_db), "rm", "pq.parquet", parquet.getvalue(), benchmark="demo",
                                  rm="pq", dry_run=True)
    assert report.source == "pq.parquet" and report.coverage == {"pq": 1.0}
    described = ingest.describe_file(REPO / "data" / "example_benchmark.csv")
    assert described["rows"] == len(pd.read_csv(REPO / "data" / "example_benchmark.csv"))
    numeric = dict(zip(described["columns"]["column"], described["columns"]["numeric"]))
    assert numeric["judge_score"] and numeric["helpful_rm"] and not numeric["response"]


def test_score_summary_and_values_by_hand():
    from reta_core.pool import Pool

    pool = Pool(prompt_ids=np.array(["p"], dtype=object), offsets=[0, 4],
                response_ids=np.array(list("abcd"), dtype=object),
                oracles={"J": [1.0, 2.0, 3.0, np.nan]}, rms={"Y": [5.0, np.nan, np.nan, 7.0]})
    summary = reports.score_summary(pool).set_index("scorer")
    assert summary.loc["J"].to_dict() == {"kind": "oracle", "n_scored": 3, "n_missing": 1, "mean": 2.0, "std": 1.0,
                                          "min": 1.0, "median": 2.0, "max": 3.0}
    assert summary.loc["Y", "n_missing"] == 2 and summary.loc["Y", "std"] == pytest.approx(np.sqrt(2))
    values = reports.score_values(pool, ["Y"])
    assert values.to_dict("list") == {"scorer": ["Y", "Y"], "kind": ["rm", "rm"], "score": [5.0, 7.0]}
    with pytest.raises(RetaInputError, match="unknown scorer"):
        reports.score_values(pool, ["Z"])
