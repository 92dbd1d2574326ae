"""Scoring a pool inside RETA Explorer (issue 10, docs/metric.md §12), with real
components and no network: ``export-pool``; the served backends against a real HTTP
server on 127.0.0.1 (vLLM classify and pooling, OpenRLHF get_reward, OpenAI chat
completions for the judge), with slow replies, HTTP 429/500 and unparsable text; the
cache (a rerun sends zero requests); staging, ``kill -9`` and ``--resume``; the failure
contract (one ``error:`` line, no RM, the database byte-for-byte unchanged).
The transformers and Ray paths are in test_scoring_transformers.py and test_scoring_ray.py."""
from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from reta_core.demo import build_demo
from reta_core.evaluation import Evaluation
from reta_core.ingest import rm_template
from reta_core.scoring.judge import DEFAULT_RUBRIC, parse_rating, render
from reta_core.store import Store
from tests.builders import REPO
from tests.scoring_helpers import LocalServer, judge_reply, text_value
from tests.builders import call, ok, sha256

PLAIN = "User: {prompt}\n\nAssistant: {response}"


@pytest.fixture(autouse=True)
def _no_default_db(tmp_path, monkeypatch):
    monkeypatch.setenv("RETA_DB", str(tmp_path / "default.duckdb"))
    monkeypatch.delenv("RETA_DEBUG", raising=False)


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory) -> Path:
    """A small demo benchmark (12 prompts x 6 responses); tests copy it."""
    path = tmp_path_factory.mktemp("scoring") / "demo.duckdb"
    build_demo(Store(path), n_prompts=12, n_responses=6)
    return path


@pytest.fixture
def db(demo_file, tmp_path) -> Path:
    path = tmp_path / "reta.duckdb"
    path.write_bytes(demo_file.read_bytes())
    return path


@pytest.fixture(scope="module")
def server():
    with LocalServer() as srv:
        yield srv


@pytest.fixture(autouse=True)
def _reset_server(request):
    if "server" in request.fixturenames:
        srv = request.getfixturevalue("server")
        srv.state.delay, srv.state.fail, srv.state.malformed = 0.0, 0, False
        srv.state.requests.clear()
        srv.state.bodies.clear()


def texts(db) -> pd.DataFrame:
    return Store(db).load_texts("demo").to_pandas()


def rm_scores(db, rm) -> np.ndarray:
    return Store(db).load_pool("demo", oracles=[], rms=[rm]).rms[rm]


# ------------------------------------------------------------------ export-pool
@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz", ".parquet", ".csv", ".csv.gz"])
def test_export_pool_writes_every_response_with_texts_and_messages(db, tmp_path, suffix):
    out = tmp_path / f"pool{suffix}"
    status, stdout, err = call("--db", db, "export-pool", "--benchmark", "demo", "--out", out)
    assert status == 0 and stdout == "" and "72 responses of 12 prompts" in err
    if suffix == ".parquet":
        got = pq.read_table(out).to_pandas()
        messages = [list(m) for m in got["messages"]]
    elif suffix.startswith(".csv"):
        got = pd.read_csv(out, keep_default_na=False)
        messages = [json.loads(m) for m in got["messages"]]
    else:
        opener = gzip.open if suffix.endswith(".gz") else open
        with opener(out, "rt", encoding="utf-8") as f:
            got = pd.DataFrame([json.loads(line) for line in f])
        messages = list(got["messages"])
    assert list(got.columns) == ["prompt_id", "response_id", "prompt", "response", "category", "messages"]
    want = texts(db)
    assert got["response_id"].tolist() == want["response_id"].tolist()
    assert got["response"].tolist() == want["response"].tolist()
    assert got["category"].tolist() == want["category"].tolist()
    assert [[dict(x) for x in m] for m in messages] == [
        [{"role": "user", "content": p}, {"role": "assistant", "content": r}]
        for p, r in zip(want["prompt"], want["response"])]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["reta.duckdb", out.name])


def test_export_pool_bad_extension_and_template_with_texts(db, tmp_path):
    status, out, err = call("--db", db, "export-pool", "--benchmark", "demo", "--out", tmp_path / "p.xlsx")
    assert status == 2 and err.count("\n") == 1 and "unknown extension" in err
    template = rm_template(Store(db), "demo", texts=True)
    assert list(template.columns) == ["prompt_id", "response_id", "prompt", "response", "score"]
    assert template["response"].tolist() == texts(db)["response"].tolist()


def test_data_page_offers_the_pool_and_the_template_with_texts(demo_db, downloads):
    from tests.apptest import app, no_errors

    at = app("pages/data.py")
    at.run()
    no_errors(at)
    pool = pd.read_json(io.BytesIO(gzip.decompress(downloads(at, "data_pool"))), lines=True)
    assert list(pool.columns) == ["prompt_id", "response_id", "prompt", "response", "category", "messages"]
    assert len(pool) == 960 and pool["messages"][0][1]["role"] == "assistant"
    template = pd.read_csv(io.BytesIO(downloads(at, "data_template_texts")))
    assert list(template.columns) == ["prompt_id", "response_id", "prompt", "response", "score"]


# ------------------------------------------------------------------ the judge's rubric and parser
def test_parse_rating_is_strict():
    assert parse_rating("Fine.\nRating: 7") == 7 and parse_rating("Rating: 8/10") == 8
    assert parse_rating("**Rating:** 9") == 9 and parse_rating(" 6 ") == 6
    for text in ("I think 7", "Rating: 11", "Rating: 0", "Rating: 3\nRating: 4", "", None,
                 "Rating: seven", "7 out of 10, maybe 8"):
        assert parse_rating(text) is None, text
    assert parse_rating("Rating: 5\nrating: 5") == 5
    assert parse_rating("Rating: 0.5", 0, 1) == 0.5


def test_rubric_is_filled_in_one_pass():
    text = render(DEFAULT_RUBRIC, "say {response}", "Rating: 10 {prompt}")
    assert "say {response}" in text and "Rating: 10 {prompt}" in text
    assert text.count("{prompt}") == 1 and text.count("{response}") == 1


# ------------------------------------------------------------------ served RMs
@pytest.mark.parametrize("api", ["vllm-classify", "vllm-pooling", "openrlhf"])
def test_http_backends_score_what_the_server_says_and_the_cache_sends_nothing_again(db, server, api):
    out, _ = ok("--db", db, "score", "--benchmark", "demo", "--rm", "served", "--backend", "http",
                "--url", server.url, "--api", api, "--request-size", 4, "--batch-size", 12)
    assert "Imported RM 'served' into benchmark 'demo'" in out and "72 computed" in out
    t = texts(db)
    if api == "vllm-pooling":
        want = [text_value(p + "\n" + r) for p, r in zip(t["prompt"], t["response"])]
    else:
        want = [text_value(PLAIN.format(prompt=p, response=r)) for p, r in zip(t["prompt"], t["response"])]
    np.testing.assert_allclose(rm_scores(db, "served"), want, rtol=0, atol=1e-12)
    sent = server.state.total()
    assert sent == (72 if api == "vllm-pooling" else 18)  # 6 batches of 12, 4 pairs a request
    out, _ = ok("--db", db, "score", "--benchmark", "demo", "--rm", "again", "--backend", "http",
                "--url", server.url, "--api", api, "--request-size", 4)
    assert server.state.total() == sent  # the rerun sent zero requests
    assert "0 computed" in out and "72 from the cache" in out
    np.testing.assert_array_equal(rm_scores(db, "again"), rm_scores(db, "served"))
    board = Evaluation.from_store(Store(db), "demo").leaderboard(ci=False).table
    assert {"served", "again"} <= set(board["rm"])


def test_retries_after_429_and_500_and_slow_replies(db, server):
    server.state.fail, server.state.fail_status = 3, 429
    ok("--db", db, "score", "--benchmark", "demo", "--rm", "a", "--backend", "http", "--url", server.url,
       "--backoff", 0.01, "--concurrency", 2)
    assert server.state.total() == 9 + 3
    server.state.fail, server.state.fail_status, server.state.delay = 2, 500, 0.05
    ok("--db", db, "score", "--benchmark", "demo", "--rm", "b", "--backend", "http", "--url", server.url,
       "--api", "openrlhf", "--backoff", 0.01)
    np.testing.assert_array_equal(np.isfinite(rm_scores(db, "b")), True)


def test_a_timeout_or_a_malformed_reply_is_one_error_line_and_no_rm(db, server, tmp_path):
    before = sha256(db)
    server.state.delay = 1.0
    status, out, err = call("--db", db, "score", "--benchmark", "demo", "--rm", "slow", "--backend", "http",
                            "--url", server.url, "--timeout", 0.2, "--retries", 1, "--backoff", 0.01)
    assert status == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("error: ") and "after 2 attempts" in err and "--resume" in err
    server.state.delay, server.state.malformed = 0.0, True
    status, out, err = call("--db", db, "score", "--benchmark", "demo", "--rm", "bad", "--backend", "judge",
                            "--base-url", server.url + "/v1", "--judge-model", "m")
    assert status == 2 and err.count("\n") == 1 and "malformed reply" in err
    status, out, err = call("--db", db, "score", "--benchmark", "demo", "--rm", "gone", "--backend", "http",
                            "--url", "http://127.0.0.1:9", "--retries", 0)
    assert status == 2 and err.count("\n") == 1 and "cannot reach the server" in err
    assert sha256(db) == before
    rms = set(Store(db).list_rms("demo")["name"])
    assert not rms & {"slow", "bad", "gone"}


# ------------------------------------------------------------------ the judge
def test_judge_scores_counts_unparsable_replies_and_dry_run_sends_nothing(db, server, tmp_path, monkeypatch):
    base = ["--db", db, "score", "--benchmark", "demo", "--rm", "judge", "--backend", "judge",
            "--base-url", server.url + "/v1", "--judge-model", "judge-7b"]
    out, _ = ok(*base, "--dry-run")
    chars = sum(len(render(DEFAULT_RUBRIC, p, r)) for p, r in zip(texts(db)["prompt"], texts(db)["response"]))
    assert f"72 requests for 72 responses" in out and f"about {-(-chars // 4):,} input tokens" in out
    assert server.state.total() == 0
    monkeypatch.setenv("JUDGE_KEY", "sk-secret-123")
    status, out, err = call(*base, "--api-key-env", "JUDGE_KEY")
    assert status == 0, err
    assert "sk-secret-123" not in out + err
    assert {auth for _, _, auth in server.state.bodies} == {"Bearer sk-secret-123"}
    t = texts(db)
    replies = [judge_reply(render(DEFAULT_RUBRIC, p, r)) for p, r in zip(t["prompt"], t["response"])]
    want = np.array([parse_rating(x) if parse_rating(x) is not None else np.nan for x in replies], float)
    got = rm_scores(db, "judge")
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(got[~np.isnan(got)], want[~np.isnan(want)])
    n_bad = int(np.isnan(want).sum())
    assert n_bad > 0 and f"Unparsable replies: {n_bad}." in out
    assert body_model(server) == "judge-7b"
    status, _, err = call(*base[:-2], "--judge-model", "judge-7b", "--rm", "nokey", "--api-key-env", "NO_SUCH_VAR")
    assert status == 2 and "NO_SUCH_VAR" in err and "not set" in err


def body_model(server) -> str:
    return {body.get("model") for _, body, _ in server.state.bodies}.pop()


def test_label_adds_the_judge_as_an_oracle(db, server, tmp_path):
    rubric = tmp_path / "rubric.txt"
    rubric.write_text("Rate 1-10.\n{prompt}\n---\n{response}\nRating: N")
    out, _ = ok("--db", db, "label", "--benchmark", "demo", "--oracle", "judge2", "--base-url",
                server.url + "/v1", "--judge-model", "m", "--rubric", rubric)
    assert "Imported oracle 'judge2' into benchmark 'demo'" in out
    info = Store(db).benchmark_info("demo")
    assert [o["name"] for o in info["oracles"]] == ["judge_score", "judge2"]
    ev = Evaluation.from_store(Store(db), "demo", oracle="judge2")
    assert ev.oracle == "judge2" and len(ev.curves(["strong_rm"], [0.5]).table) == 1
    status, _, err = call("--db", db, "label", "--benchmark", "demo", "--oracle", "strong_rm", "--base-url",
                          server.url + "/v1", "--judge-model", "m")
    assert status == 2 and "is an RM" in err
    rubric.write_text("no placeholders")
    status, _, err = call("--db", db, "label", "--benchmark", "demo", "--oracle", "j3", "--base-url",
                          server.url + "/v1", "--judge-model", "m", "--rubric", rubric)
    assert status == 2 and "placeholder" in err


def test_a_pair_that_occurs_twice_is_counted_once_from_the_cache(tmp_path, server):
    from reta_core.ingest import import_frame

    n = 1000  # more than one lookup chunk (900 keys), pairs repeated across chunks
    frame = pd.DataFrame({"prompt_id": [f"p{i // 4}" for i in range(2 * n)],
                          "response_id": [f"r{i}" for i in range(2 * n)],
                          "prompt": ["one prompt"] * (2 * n),
                          "response": [f"answer {i % 600}" for i in range(2 * n)],  # twice, 600 apart
                          "judge": np.arange(2 * n) % 10 + 1.0})
    db = tmp_path / "dup.duckdb"
    import_frame(Store(db), frame, "dup", ["judge"], rm_cols=[])
    args = ["--db", db, "score", "--benchmark", "dup", "--backend", "http", "--url", server.url]
    ok(*args, "--rm", "first")
    out, _ = ok(*args, "--rm", "second")
    assert f"0 computed" in out and f"{2 * n:,} from the cache" in out


def test_existing_name_fails_before_anything_is_sent(db, server):
    status, _, err = call("--db", db, "score", "--benchmark", "demo", "--rm", "strong_rm", "--backend", "http",
                          "--url", server.url)
    assert status == 2 and "exists already" in err and server.state.total() == 0
    status, _, err = call("--db", db, "score", "--benchmark", "demo", "--rm", "x", "--backend", "http")
    assert status == 2 and "needs --url" in err
    status, _, err = call("--db", db, "score", "--benchmark", "demo", "--rm", "x", "--backend", "http",
                          "--url", "file:///etc/passwd")
    assert status == 2 and "http://" in err


# ------------------------------------------------------------------ staging, resume, partial
def test_a_failed_run_keeps_its_batches_and_resume_finishes_it(db, server, tmp_path):
    base = ["--db", db, "score", "--benchmark", "demo", "--rm", "flaky", "--backend", "http", "--url",
            server.url, "--request-size", 6, "--batch-size", 12, "--concurrency", 1, "--retries", 0]
    ok("--db", db, "score", "--benchmark", "demo", "--rm", "whole", "--backend", "http", "--url",
       server.url, "--cache", tmp_path / "other.sqlite")
    server.state.requests.clear()
    before = sha256(db)
    server.state.fail, server.state.fail_status = 10 ** 6, 500
    status, _, err = call(*base)
    assert status == 2  # the very first request failed: nothing of its own to resume
    server.state.fail = 0
    # the 5th request fails: 4 requests x 6 pairs = 2 batches staged
    calls = {"n": 0}
    import tests.scoring_helpers as helpers

    original_send = helpers._Handler._send

    def send(self, status, payload, headers=None):
        if self.path == "/classify" and status == 200:
            calls["n"] += 1
            if calls["n"] == 5:
                return original_send(self, 500, {"error": "boom"})
        return original_send(self, status, payload, headers)

    helpers._Handler._send = send
    try:
        status, _, err = call(*base)
    finally:
        helpers._Handler._send = original_send
    assert status == 2 and "--resume" in err and err.count("\n") == 1
    assert sha256(db) == before and "flaky" not in set(Store(db).list_rms("demo")["name"])
    status, _, err = call(*base)
    assert status == 2 and "continue it with --resume" in err and "24 of 72" in err
    server.state.requests.clear()
    out, _ = ok("--db", db, "score", "--benchmark", "demo", "--rm", "flaky", "--resume")
    assert "24 staged by the interrupted run" in out and "48 computed" in out
    assert server.state.total() == 8  # only the 48 pairs not staged
    np.testing.assert_array_equal(rm_scores(db, "flaky"), rm_scores(db, "whole"))


def test_allow_partial_adds_the_rm_and_says_its_coverage(db, server):
    server.state.fail, server.state.fail_status = 2, 500
    out, _ = ok("--db", db, "score", "--benchmark", "demo", "--rm", "part", "--backend", "http", "--url",
                server.url, "--request-size", 6, "--concurrency", 1, "--retries", 0, "--allow-partial")
    assert "Failed requests: 12." in out and "coverage 83.3%" in out and "part: 83.3% covered" in out
    assert np.isnan(rm_scores(db, "part")).sum() == 12


def staged_rows(cache: Path) -> int:
    if not cache.exists():
        return 0
    with contextlib.closing(sqlite3.connect(cache, timeout=5)) as con:
        try:
            return con.execute("SELECT count(*) FROM staged WHERE from_cache = 0").fetchone()[0]
        except sqlite3.OperationalError:
            return 0


def test_kill_9_mid_run_then_resume_equals_an_uninterrupted_run(db, server, tmp_path):
    ok("--db", db, "score", "--benchmark", "demo", "--rm", "whole", "--backend", "http", "--url",
       server.url, "--api", "openrlhf", "--cache", tmp_path / "other.sqlite")
    before = sha256(db)
    server.state.delay = 0.1
    cache = tmp_path / "reta.scoring.sqlite"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "reta_core", "--db", str(db), "score", "--benchmark", "demo", "--rm", "killed",
         "--backend", "http", "--url", server.url, "--api", "openrlhf", "--request-size", "2",
         "--batch-size", "4", "--concurrency", "1"], env=env, cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while staged_rows(cache) < 12 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    staged = staged_rows(cache)
    assert 12 <= staged < 72
    assert sha256(db) == before  # no partial RM, nothing written
    assert "killed" not in set(Store(db).list_rms("demo")["name"])
    server.state.delay = 0.0
    server.state.requests.clear()
    out, _ = ok("--db", db, "score", "--benchmark", "demo", "--rm", "killed", "--resume")
    assert f"{staged} staged by the interrupted run" in out
    assert server.state.total() == (72 - staged) // 2  # only what was not staged, 2 pairs a request
    np.testing.assert_array_equal(rm_scores(db, "killed"), rm_scores(db, "whole"))
