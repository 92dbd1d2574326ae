"""The transformers backend end to end on a tiny randomly initialised reward model built
here (a small Llama config, a tokenizer trained with the ``tokenizers`` library, a chat
template), loaded by the real code (``AutoModelForSequenceClassification.from_pretrained``):
scores equal a direct forward pass to 1e-5 and do not depend on the batch size or the
order; truncation is counted; failures leave no RM (docs/metric.md §12)."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest

pytest.importorskip("torch", reason="the scoring extra (torch) is not installed: pip install -r requirements-dev.txt")
pytest.importorskip("transformers", reason="the scoring extra (transformers) is not installed: pip install -r requirements-dev.txt")
pytest.importorskip("tokenizers", reason="the scoring extra (tokenizers) is not installed: pip install -r requirements-dev.txt")

import torch  # noqa: E402
from transformers import AutoModelForSequenceClassification, AutoTokenizer  # noqa: E402

from reta_core.demo import build_demo  # noqa: E402
from reta_core.scoring.run import score_benchmark  # noqa: E402
from reta_core.store import Store  # noqa: E402
from tests.scoring_helpers import build_tiny_rm  # noqa: E402
from tests.builders import call


@pytest.fixture(autouse=True)
def _no_default_db(tmp_path, monkeypatch):
    monkeypatch.setenv("RETA_DB", str(tmp_path / "default.duckdb"))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build_tiny_rm(tmp_path_factory.mktemp("tiny_rm") / "model", max_length=256)


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("tf") / "demo.duckdb"
    build_demo(Store(path), n_prompts=10, n_responses=6)
    return path


@pytest.fixture
def db(demo_file, tmp_path):
    path = tmp_path / "reta.duckdb"
    path.write_bytes(demo_file.read_bytes())
    return path


def direct_scores(model_dir, prompts, responses, max_length=None):
    """One forward pass per pair, no batching: the reference."""
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    out = []
    for p, r in zip(prompts, responses):
        text = tok.apply_chat_template([{"role": "user", "content": p}, {"role": "assistant", "content": r}],
                                       tokenize=False)
        ids = tok(text, add_special_tokens=False)["input_ids"]
        if max_length is not None and len(ids) > max_length:
            out.append(np.nan)
            continue
        with torch.inference_mode():
            out.append(float(model(input_ids=torch.tensor([ids])).logits[0, 0]))
    return np.array(out)


def test_scores_equal_a_direct_forward_pass_and_the_rm_appears(db, tiny):
    status, out, err = call("--db", db, "score", "--benchmark", "demo", "--rm", "tiny", "--backend",
                            "transformers", "--model", tiny, "--batch-size", 8)
    assert status == 0, err
    assert "Imported RM 'tiny' into benchmark 'demo'" in out and "60 computed" in out
    texts = Store(db).load_texts("demo").to_pandas()
    got = Store(db).load_pool("demo", oracles=[], rms=["tiny"]).rms["tiny"]
    want = direct_scores(tiny, texts["prompt"], texts["response"], max_length=256)
    fits = ~np.isnan(want)  # the inputs within the model's limit (the others are truncated)
    assert fits.sum() >= 50 and f"Truncated inputs: {(~fits).sum()} " in out
    np.testing.assert_allclose(got[fits], want[fits], rtol=0, atol=1e-5)
    status, out, _ = call("--db", db, "leaderboard", "--benchmark", "demo", "--format", "csv")
    assert status == 0 and "\ntiny," in out


def test_scores_do_not_depend_on_batch_size_or_order(db, tiny, tmp_path):
    spec = {"backend": "transformers", "model": str(tiny)}
    store = Store(db)
    score_benchmark(store, "demo", "b1", spec, batch_size=1, state_path=tmp_path / "a.sqlite")
    score_benchmark(store, "demo", "b7", spec, batch_size=7, state_path=tmp_path / "b.sqlite")
    pool = store.load_pool("demo", oracles=[], rms=["b1", "b7"])
    np.testing.assert_allclose(pool.rms["b1"], pool.rms["b7"], rtol=0, atol=1e-5)
    from reta_core.scoring.transformers_backend import build

    backend = build(spec)
    texts = store.load_texts("demo").to_pandas()
    order = np.random.default_rng(0).permutation(len(texts))
    shuffled = backend.score(texts["prompt"][order].tolist(), texts["response"][order].tolist()).scores
    np.testing.assert_allclose(shuffled, pool.rms["b1"][order], rtol=0, atol=1e-5)


def test_truncation_cuts_the_prompt_from_the_left_and_is_counted(db, tiny, tmp_path):
    from reta_core.scoring.transformers_backend import build

    backend = build({"backend": "transformers", "model": str(tiny), "max_length": 24})
    prompt = " ".join(f"word{i}" for i in range(40)) + " the question"
    ids, cut = backend.encode([prompt, "hi"], ["short answer", "ok"])
    assert cut.tolist() == [True, False] and len(ids[0]) <= 24
    tok = backend.tokenizer
    text = tok.decode(ids[0])
    assert text.endswith("short answer <|end|>") and "the question" in text and "word0 " not in text
    status, out, err = call("--db", db, "score", "--benchmark", "demo", "--rm", "short", "--backend",
                            "transformers", "--model", tiny, "--max-length", 32)
    assert status == 0, err
    n = int(out.split("Truncated inputs: ")[1].split(" ")[0])
    texts = Store(db).load_texts("demo").to_pandas()
    full, _ = build({"backend": "transformers", "model": str(tiny)}).encode(texts["prompt"].tolist(),
                                                                            texts["response"].tolist())
    assert n == sum(len(x) > 32 for x in full) > 0


def test_cross_encoder_and_multi_objective_heads(tmp_path, db):
    plain = build_tiny_rm(tmp_path / "plain", chat_template=False, num_labels=3, seed=1)
    status, _, err = call("--db", db, "score", "--benchmark", "demo", "--rm", "m", "--backend", "transformers",
                          "--model", plain)
    assert status == 2 and "the head has 3 outputs" in err and err.count("\n") == 1
    status, out, err = call("--db", db, "score", "--benchmark", "demo", "--rm", "m", "--backend", "transformers",
                            "--model", plain, "--head-index", 2)
    assert status == 0, err
    tok = AutoTokenizer.from_pretrained(plain)
    model = AutoModelForSequenceClassification.from_pretrained(plain).eval()
    texts = Store(db).load_texts("demo").to_pandas()
    enc = tok(texts["prompt"][0], texts["response"][0], return_tensors="pt")
    with torch.inference_mode():
        want = float(model(**enc).logits[0, 2])
    got = Store(db).load_pool("demo", oracles=[], rms=["m"]).rms["m"][0]
    assert got == pytest.approx(want, abs=1e-5)


def test_a_bad_model_path_is_one_error_line_and_no_rm(db, tmp_path):
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    for model in (tmp_path / "nowhere", tmp_path):
        status, out, err = call("--db", db, "score", "--benchmark", "demo", "--rm", "x", "--backend",
                                "transformers", "--model", model)
        assert status == 2 and out == "" and err.count("\n") == 1 and err.startswith("error: ")
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
