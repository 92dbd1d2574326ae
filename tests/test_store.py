"""The DuckDB store: round trips, the read API, schema, removal and locking."""
from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from reta_core.errors import RetaInputError, StoreBusyError
from reta_core.ingest import add_rm_scores, import_benchmark
from reta_core.pool import Pool
from reta_core.scorers import BASELINE_LENGTH, BASELINE_RANDOM
from reta_core.store import SCHEMA_VERSION, Store, default_db_path, quote_ident
from tests.builders import EXAMPLE, EXAMPLE_RM, REPO


@pytest.fixture
def store(tmp_path) -> Store:
    return Store(tmp_path / "reta.duckdb", timeout=2)


@pytest.fixture
def example(store) -> Store:
    import_benchmark(store, EXAMPLE, "example", ["judge_score"])
    return store


def expected_pool(df: pd.DataFrame, rm_cols=("helpful_rm",)) -> Pool:
    return Pool.from_frame(df, ["judge_score"], list(rm_cols), category_col="category")


def assert_same_pool(got: Pool, want: Pool, rms=None):
    np.testing.assert_array_equal(got.prompt_ids, want.prompt_ids)
    np.testing.assert_array_equal(got.offsets, want.offsets)
    np.testing.assert_array_equal(got.response_ids, want.response_ids)
    assert set(got.oracles) == set(want.oracles)
    for name, values in want.oracles.items():
        np.testing.assert_array_equal(got.oracles[name], values)
    for name in (rms if rms is not None else want.rms):
        np.testing.assert_array_equal(got.rms[name], want.rms[name])
    if want.categories is None:
        assert got.categories is None
    else:
        np.testing.assert_array_equal(got.categories, want.categories)


# ------------------------------------------------------------------ round trips
def _write_variant(df: pd.DataFrame, path: Path) -> Path:
    name = path.name
    if name.endswith((".csv", ".csv.gz")):
        df.to_csv(path, index=False)
    elif name.endswith(".parquet"):
        df.to_parquet(path, index=False)
    else:
        df.to_json(path, orient="records", lines=True)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl", ".csv.gz", ".jsonl.gz"])
def test_round_trip_every_format(store, tmp_path, suffix):
    df = pd.read_csv(EXAMPLE, dtype={"prompt_id": str, "response_id": str})
    path = _write_variant(df, tmp_path / f"bench{suffix}")
    report = import_benchmark(store, path, "b", ["judge_score"], ["helpful_rm"])
    assert report.rows == 12 and report.prompts == 3
    pool = store.load_pool("b")
    assert_same_pool(pool, expected_pool(df))
    assert list(pool.rms) == ["helpful_rm", BASELINE_LENGTH, BASELINE_RANDOM]
    np.testing.assert_array_equal(pool.rms[BASELINE_LENGTH], df["response"].str.len())


def test_round_trip_interleaved_rows_and_missing_cells(store, tmp_path):
    """Rows of one prompt need not be adjacent; a prompt keeps its first-appearance
    position and its responses their file order; empty cells load as NaN."""
    df = pd.read_csv(EXAMPLE)
    df = df.iloc[[4, 0, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]].reset_index(drop=True)
    df.loc[3, "judge_score"] = np.nan
    df.loc[6, "helpful_rm"] = np.nan
    path = tmp_path / "shuffled.csv"
    df.to_csv(path, index=False)
    report = import_benchmark(store, path, "s", ["judge_score"], ["helpful_rm"])
    assert report.missing == {"judge_score": 1, "helpful_rm": 1}
    pool = store.load_pool("s")
    assert list(pool.prompt_ids) == ["p2", "p1", "p3"]
    assert_same_pool(pool, expected_pool(df))
    responses = store.load_responses("s", "p1")
    assert list(responses["response_id"]) == ["p1-r1", "p1-r2", "p1-r3", "p1-r4"]


def test_load_pool_matches_file_in_detail(example):
    df = pd.read_csv(EXAMPLE)
    pool = example.load_pool("example")
    assert pool.n_prompts == 3 and pool.n_responses == 12
    assert list(pool.pool_sizes) == [4, 4, 4]
    np.testing.assert_array_equal(pool.oracles["judge_score"], df["judge_score"].to_numpy(float))
    np.testing.assert_array_equal(pool.rms["helpful_rm"], df["helpful_rm"].to_numpy(float))
    assert list(pool.categories) == ["cooking", "math", "writing"]


def test_load_pool_subsets_and_category(example):
    pool = example.load_pool("example", oracles=["judge_score"], rms=["helpful_rm"])
    assert list(pool.rms) == ["helpful_rm"]
    assert example.load_pool("example", rms=[]).rms == {}
    math = example.load_pool("example", category="math")
    assert list(math.prompt_ids) == ["p2"] and math.n_responses == 4
    np.testing.assert_array_equal(math.oracles["judge_score"], [10, 1, 10, 4])


def test_load_evaluated_pool_is_load_pool_plus_the_info_an_evaluation_needs(example):
    """One connection reads what benchmark_info + load_pool did: the default oracle, the
    derived RMs (an ensemble), and the same pool."""
    from reta_core.ensembles import add_ensemble

    add_ensemble(example, "example", ["helpful_rm", BASELINE_LENGTH], "mix")
    info = example.benchmark_info("example")
    pool, oracle, derived = example.load_evaluated_pool("example", rms=["helpful_rm", "mix"],
                                                        category="math")
    assert oracle == info["default_oracle"] == "judge_score" and list(pool.rms) == ["helpful_rm", "mix"]
    assert derived == [r["name"] for r in info["rms"] if r["is_derived"]] == ["mix"]
    assert_same_pool(pool, example.load_pool("example", oracles=["judge_score"],
                                             rms=["helpful_rm", "mix"], category="math"))
    with pytest.raises(RetaInputError, match=r"unknown oracle 'nope'.*judge_score"):
        example.load_evaluated_pool("example", "nope")
    with pytest.raises(RetaInputError, match=r"unknown benchmark 'nope'.*example"):
        example.load_evaluated_pool("nope")


@pytest.mark.parametrize("kwargs, words", [
    ({"oracles": ["nope"]}, ["unknown oracle 'nope'", "judge_score"]),
    ({"rms": ["nope"]}, ["unknown RM 'nope'", "helpful_rm", BASELINE_LENGTH]),
    ({"category": "nope"}, ["unknown category 'nope'", "cooking, math, writing"]),
])
def test_load_pool_unknown_names_list_what_exists(example, kwargs, words):
    with pytest.raises(RetaInputError) as err:
        example.load_pool("example", **kwargs)
    for word in words:
        assert word in str(err.value)


def test_unknown_benchmark_lists_existing(example):
    for call in (lambda: example.load_pool("nope"), lambda: example.benchmark_info("nope"),
                 lambda: example.list_rms("nope"), lambda: example.load_prompts("nope"),
                 lambda: example.remove_benchmark("nope")):
        with pytest.raises(RetaInputError, match=r"unknown benchmark 'nope'.*example"):
            call()


def test_add_rm_then_list_info_remove(example):
    report = add_rm_scores(example, EXAMPLE_RM, "example", "small_rm", description="tiny")
    assert report.coverage == {"small_rm": 1.0}
    rm_file = pd.read_csv(EXAMPLE_RM)
    pool = example.load_pool("example", rms=["small_rm"])
    np.testing.assert_array_equal(pool.rms["small_rm"], rm_file["score"].to_numpy(float))

    rms = example.list_rms("example")
    assert list(rms["name"]) == ["helpful_rm", BASELINE_LENGTH, BASELINE_RANDOM, "small_rm"]
    assert list(rms["is_baseline"]) == [False, True, True, False]
    assert list(rms["coverage"]) == [1.0] * 4

    listing = example.list_benchmarks()
    row = listing.iloc[0]
    assert (row["name"], row["n_prompts"], row["n_responses"], row["n_rms"]) == (
        "example", 3, 12, 4)
    assert row["oracles"] == ["judge_score"]

    info = example.benchmark_info("example")
    assert info["default_oracle"] == "judge_score"
    assert info["categories"] == ["cooking", "math", "writing"]
    assert info["pool_size"] == {"min": 4, "median": 4, "max": 4}
    assert (info["n_prompts"], info["n_responses"]) == (3, 12)
    assert info["oracles"][0]["name"] == "judge_score"
    small = [r for r in info["rms"] if r["name"] == "small_rm"][0]
    assert small["description"] == "tiny" and small["source_file"] == "example_rm_scores.csv"
    baseline = [r for r in info["rms"] if r["name"] == BASELINE_RANDOM][0]
    assert baseline["is_baseline"] and "aseline" in baseline["description"]

    example.remove_rm("example", "small_rm")
    assert "small_rm" not in list(example.list_rms("example")["name"])
    with pytest.raises(RetaInputError, match="unknown RM 'small_rm'"):
        example.remove_rm("example", "small_rm")
    example.remove_benchmark("example")
    assert example.list_benchmarks().empty
    with duckdb.connect(str(example.path), read_only=True) as con:
        for table in ("prompts", "responses", "oracle_scores", "rm_scores", "rms", "oracles"):
            assert con.execute(f"SELECT count(*) FROM {table}").fetchall() == [(0,)]


def test_prompts_and_responses_for_the_inspector(example):
    prompts = example.load_prompts("example")
    assert list(prompts.columns) == ["prompt_id", "prompt", "category"]
    assert list(prompts["prompt_id"]) == ["p1", "p2", "p3"]
    responses = example.load_responses("example", "p2")
    assert list(responses["response_id"]) == ["p2-r1", "p2-r2", "p2-r3", "p2-r4"]
    assert responses["response"].iloc[1] == "17 * 6 = 112."
    with pytest.raises(RetaInputError, match="no prompt 'p9'"):
        example.load_responses("example", "p9")


# ------------------------------------------------------------------ schema & paths
def test_schema_is_versioned(example):
    with duckdb.connect(str(example.path), read_only=True) as con:
        version = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables")
                  .fetchall()}
    assert version == [(str(SCHEMA_VERSION),)]
    assert {"meta", "benchmarks", "prompts", "responses", "oracles", "oracle_scores", "rms",
            "rm_scores"} <= tables


def test_empty_duckdb_file_is_migrated_and_foreign_file_refused(tmp_path):
    path = tmp_path / "empty.duckdb"
    duckdb.connect(str(path)).close()
    store = Store(path)
    assert store.list_benchmarks().empty  # migrated on first read
    foreign = tmp_path / "foreign.duckdb"
    with duckdb.connect(str(foreign)) as con:
        con.execute("CREATE TABLE stuff (x INTEGER)")
    with pytest.raises(RetaInputError, match="not a RETA Explorer database"):
        Store(foreign).list_benchmarks()


def test_file_that_is_not_a_database(tmp_path):
    path = tmp_path / "notes.duckdb"
    path.write_text("hello, I am not a database\n" * 100)
    with pytest.raises(RetaInputError, match="cannot open the database") as err:
        Store(path).list_benchmarks()
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_missing_database_says_how_to_create_it(tmp_path):
    store = Store(tmp_path / "none.duckdb")
    with pytest.raises(RetaInputError) as err:
        store.list_benchmarks()
    assert "does not exist" in str(err.value) and "python -m reta_core demo" in str(err.value)
    assert "\n" not in str(err.value)
    assert store.benchmark_names() == []
    assert not store.path.exists()


def test_default_db_path(monkeypatch, tmp_path):
    monkeypatch.delenv("RETA_DB", raising=False)
    assert default_db_path() == REPO / "data" / "reta.duckdb"
    monkeypatch.setenv("RETA_DB", str(tmp_path / "x.duckdb"))
    assert default_db_path() == tmp_path / "x.duckdb"
    assert Store().path == tmp_path / "x.duckdb"
    monkeypatch.setenv("RETA_DB_TIMEOUT", "3.5")
    assert Store().timeout == 3.5


def test_default_db_path_is_shared_by_every_front_door(monkeypatch, tmp_path):
    """In a checkout the current folder decides, however reta_core was installed; an
    installed package used elsewhere keeps its database in the user's data folder."""
    monkeypatch.delenv("RETA_DB", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    installed = tmp_path / "site-packages" / "reta_core"
    installed.mkdir(parents=True)
    checkout = tmp_path / "checkout"
    (checkout / "reta_core").mkdir(parents=True)
    (checkout / "app.py").write_text("")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert default_db_path(installed, cwd=checkout) == checkout / "data" / "reta.duckdb"
    assert default_db_path(installed, cwd=elsewhere) == tmp_path / "xdg" / "reta-explorer" / "reta.duckdb"
    assert default_db_path(checkout / "reta_core", cwd=elsewhere) == checkout / "data" / "reta.duckdb"


def test_quote_ident_doubles_quotes():
    assert quote_ident('a"b') == '"a""b"'


# ------------------------------------------------------------------ concurrency
HOLDER = ("import duckdb, sys; con = duckdb.connect(sys.argv[1]); "
          "print('locked', flush=True); sys.stdin.read(); con.close()")


def _hold_lock(path: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def _release(proc: subprocess.Popen):
    proc.stdin.close()
    proc.wait(timeout=20)


def test_other_process_writer_makes_us_wait_then_fail_with_its_pid(example):
    store = Store(example.path, timeout=1.0)
    proc = _hold_lock(store.path)
    try:
        for action in (lambda: store.remove_rm("example", "helpful_rm"),
                       lambda: store.load_pool("example")):
            start = time.monotonic()
            with pytest.raises(StoreBusyError) as err:
                action()
            waited = time.monotonic() - start
            assert 1.0 <= waited < 6
            assert f"PID {proc.pid}" in str(err.value) or str(proc.pid) in str(err.value)
            assert err.value.pid == proc.pid
            assert "RETA_DB_TIMEOUT" in str(err.value) and "\n" not in str(err.value)
    finally:
        _release(proc)
    store.remove_rm("example", "helpful_rm")  # usable again, and nothing was lost before
    assert "helpful_rm" not in list(store.list_rms("example")["name"])
    assert store.load_pool("example").n_responses == 12


def test_write_waits_for_a_short_lock(example):
    proc = _hold_lock(example.path)
    timer = threading.Timer(0.7, _release, args=[proc])
    timer.start()
    try:
        start = time.monotonic()
        Store(example.path, timeout=15).remove_rm("example", "helpful_rm")
        assert time.monotonic() - start >= 0.5
    finally:
        timer.join()
    assert "helpful_rm" not in list(example.list_rms("example")["name"])


def test_threads_mixing_reads_and_writes(example, tmp_path):
    """In one process RW and RO connections must never coexist: the store serialises."""
    errors = []
    rm_file = tmp_path / "rm.csv"
    pd.read_csv(EXAMPLE_RM).to_csv(rm_file, index=False)

    def reader():
        try:
            for _ in range(15):
                assert example.load_pool("example").n_responses == 12
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def writer():
        try:
            for i in range(5):
                add_rm_scores(example, rm_file, "example", f"rm_{i}")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(3)] + [
        threading.Thread(target=writer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert {f"rm_{i}" for i in range(5)} <= set(example.list_rms("example")["name"])


def test_response_ids_are_made_when_first_read(example):
    """load_pool defers the response identifiers (a million strings cost more than the
    metrics): made once on first read, equal to the stored order, also after a subset."""
    from reta_core.pool import _RESPONSE_IDS

    pool = example.load_pool("example")
    assert callable(_RESPONSE_IDS.raw(pool))
    texts = example.load_texts("example").to_pandas()
    np.testing.assert_array_equal(pool.response_ids, texts["response_id"].to_numpy(object))
    assert not callable(_RESPONSE_IDS.raw(pool))
    math = pool.select_prompts(np.array([False, True, False]))
    assert callable(_RESPONSE_IDS.raw(math))
    assert list(math.response_ids) == list(texts["response_id"][4:8])

    calls = []
    lazy = Pool(np.array(["p"], dtype=object), [0, 2], lambda: calls.append(1) or np.array(["a", "b"], dtype=object))
    assert calls == [] and list(lazy.response_ids) == ["a", "b"] and list(lazy.response_ids) == ["a", "b"]
    assert calls == [1]
    short = Pool(np.array(["p"], dtype=object), [0, 2], lambda: np.array(["a"], dtype=object))
    with pytest.raises(ValueError, match="response_ids has 1 rows, offsets say 2"):
        short.response_ids
