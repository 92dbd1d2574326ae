"""The chunked streaming engine and the Poisson bootstrap (docs/metric.md §6): the same
curves as the in-memory engine on random pools with ties, holes and ragged pools,
whatever the chunking; Poisson weights that depend on (seed, replicate, prompt id) only;
the store's prompt-range chunks; and the command line's streamed runs."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings, strategies as st

from reta_core import chunked, poisson
from reta_core.errors import RetaInputError
from reta_core.evaluation import Evaluation
from reta_core.pool import Pool
from reta_core.store import Store
from tests.builders import call, ok, random_pool


def holey_pool(seed: int, n_prompts: int = 40) -> Pool:
    """Ties, NaN holes in the oracle and the RMs, ragged pools (1..9 responses)."""
    rng = np.random.default_rng(seed)
    pool = random_pool(rng, n_prompts=n_prompts, sizes=(1, 9), ties=True, nan_rate=0.15, n_rms=3)
    oracle = pool.oracles["j"].copy()
    oracle[rng.random(oracle.size) < 0.1] = np.nan
    oracle[pool.offsets[3]:pool.offsets[4]] = -1.0  # a prompt whose mean is <= 0 (ratio)
    return Pool(pool.prompt_ids, pool.offsets, pool.response_ids, {"j": oracle}, pool.rms)


def slices(pool: Pool, size: int) -> chunked.LocalEngine:
    """The pool as chunks of ``size`` consecutive prompts."""
    def pools(oracles, rms):
        for low in range(0, pool.n_prompts, size):
            mask = np.zeros(pool.n_prompts, dtype=bool)
            mask[low:low + size] = True
            yield pool.select_prompts(mask)
    return chunked.LocalEngine(pools)


def defined(parts) -> np.ndarray:
    """Where a recovery curve is defined beyond rounding: its denominator sum is more
    than rounding noise on the oracle's scale (eta = 1 and k = n are exactly 0 / 0, hence
    missing in both engines; a benchmark whose counted prompts all have a nearly constant
    oracle can still leave noise over noise)."""
    den = parts.denominators[parts.counted]
    scale = np.abs(parts.eligibility.mu[parts.counted]).sum()
    return np.abs(den.sum(axis=0)) > 1e-9 * max(scale, 1e-300)


# ----------------------------------------------------------------- equal to the in-memory engine
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), size=st.integers(1, 45),
       normalization=st.sampled_from(["ratio", "difference", "raw", "recovery"]),
       exact=st.booleans())
def test_chunked_curves_equal_the_in_memory_engine(seed, size, normalization, exact):
    pool = holey_pool(seed)
    ev = Evaluation(pool, "j", normalization)
    if ev.min_pool_size < 2:
        return
    n = 2 if exact else None
    estimator = "exact" if exact else "pool"
    want = ev.curves(None, None, estimator=estimator, n=n)
    got = chunked.run_curves(slices(pool, size), "j", pool.rms, None, normalization=normalization,
                             estimator=estimator, n=n)
    a, b = want.table, got.table
    assert list(a["rm"]) == list(b["rm"]) and np.array_equal(a["eta"], b["eta"])
    assert np.array_equal(a["n_prompts"], b["n_prompts"])
    assert np.array_equal(a["below_min_eta"], b["below_min_eta"])
    keep = np.ones(len(a), dtype=bool)
    if normalization == "recovery":
        keep = np.concatenate([defined(want.parts[rm]) for rm in pool.rms])
    np.testing.assert_allclose(b["reta"][keep], a["reta"][keep], rtol=0, atol=1e-12)
    assert np.array_equal(np.isnan(a["reta"][keep]), np.isnan(b["reta"][keep]))
    pd.testing.assert_frame_equal(want.excluded.reset_index(drop=True), got.excluded, check_dtype=False)
    assert got.min_pool_size == ev.min_pool_size and got.n == (2 if exact else None)
    assert got.rm_min_pool_sizes == ev.rm_min_pool_sizes()


def test_default_n_and_its_check_follow_the_whole_benchmark():
    pool = holey_pool(5)
    ev = Evaluation(pool, "j")
    got = chunked.run_curves(slices(pool, 7), "j", ["rm0"], [0.5], estimator="exact")
    assert got.n == ev.default_n
    with pytest.raises(Exception, match="larger than every pool"):
        chunked.run_curves(slices(pool, 7), "j", ["rm0"], [0.5], estimator="exact", n=50)


# ----------------------------------------------------------------- the Poisson weights
def test_memory_limit_sizes_are_powers_of_1024_and_echoed_as_given():
    assert chunked.parse_size("2GB") == 2 * 2**30 and chunked.parse_size("512MiB") == 512 * 2**20
    assert chunked.parse_size("1.5g") == 3 * 2**29 and chunked.parse_size("4096") == 4096
    for bad in ("two", "0.5", "-1GB"):
        with pytest.raises(RetaInputError, match="is not a size; e.g. 2GB"):
            chunked.parse_size(bad)
    for given, shown in (("2", "2 bytes"), ("100KB", "100KB"), ("200MB", "200MB")):
        with pytest.raises(RetaInputError) as err:
            chunked.chunk_prompts_for(chunked.parse_size(given), 400, 25_600, 8, 105, 0)
        assert str(err.value).startswith(f"--memory-limit {shown} is below what the run needs")


def test_mix_is_splitmix64_and_the_cdf_table_is_poisson_1():
    # splitmix64 from state 0: its first output is 0xE220A8397B1DCDAF (the reference value)
    assert int(poisson.mix(np.zeros(1, dtype=np.uint64))[0]) == 0xE220A8397B1DCDAF
    e = math.exp(-1)
    np.testing.assert_allclose(poisson.POISSON_CDF[:4], [e, 2 * e, 2.5 * e, (8 / 3) * e], rtol=1e-15)
    assert poisson.POISSON_CDF[-1] == 1.0 and np.all(np.diff(poisson.POISSON_CDF) >= 0)
    # inverse CDF: a uniform just below / at a table entry gives k / k + 1
    cdf = poisson.POISSON_CDF
    assert list(np.searchsorted(cdf, [0.0, np.nextafter(cdf[0], 0), cdf[0], cdf[1]], side="right")) == [0, 0, 1, 2]


def test_prompt_keys_depend_on_the_id_alone():
    ids = np.array(["a", "bb", "é€😀", "p1", "p10", "", 7], dtype=object)
    keys = poisson.prompt_keys(ids)
    assert len(set(keys.tolist())) == len(ids)
    # the same id in another batch (other widths, other neighbours) keeps its key
    for i, prompt in enumerate(ids):
        assert poisson.prompt_keys(np.array([prompt, "x" * 50], dtype=object))[0] == keys[i]
    assert poisson.prompt_keys(np.array(["7"], dtype=object))[0] == keys[-1]  # ids are compared as text
    # by hand: key("a") = mix(mix(0 ^ 97) ^ 1)
    one = poisson.mix(np.array([97], dtype=np.uint64))
    assert poisson.prompt_keys(np.array(["a"], dtype=object))[0] == poisson.mix(one ^ np.uint64(1))[0]


def test_poisson_weights_are_the_same_for_any_partition_of_the_prompts():
    keys = poisson.prompt_keys(np.array([f"q{i}" for i in range(500)], dtype=object))
    whole = poisson.poisson_weights(7, np.arange(64), keys)
    assert whole.shape == (64, 500) and whole.min() >= 0
    perm = np.random.default_rng(0).permutation(500)
    for part in np.array_split(perm, 7):
        assert np.array_equal(poisson.poisson_weights(7, np.arange(64), keys[part]), whole[:, part])
    assert np.array_equal(poisson.poisson_weights(7, [3, 60], keys), whole[[3, 60]])  # any replicates
    assert not np.array_equal(poisson.poisson_weights(8, np.arange(64), keys), whole)  # the seed matters


def test_a_replicate_is_the_weighted_mean_of_its_prompts():
    rng = np.random.default_rng(1)
    values, den = rng.normal(size=(30, 2)), rng.random((30, 2)) + 0.5
    keys = poisson.prompt_keys(np.array([f"q{i}" for i in range(30)], dtype=object))
    w = poisson.poisson_weights(3, np.arange(20), keys).astype(float)
    rows = np.arange(30) % 4 != 0  # prompts outside rows weigh nothing
    (num, total), (num2, dsum) = poisson.weighted_sums(keys, 20, 3, [(values, None, rows), (values, den, rows)])
    w = w[:, rows]
    np.testing.assert_allclose(poisson.replicate_values(num, total, False),
                               (w @ values[rows]) / w.sum(1)[:, None])
    np.testing.assert_allclose(poisson.replicate_values(num2, dsum, True), (w @ values[rows]) / (w @ den[rows]))


def test_poisson_bands_do_not_depend_on_the_chunking_and_repeat_bit_for_bit():
    pool = holey_pool(11, n_prompts=60)
    args = dict(normalization="recovery", n_boot=200, seed=4)
    one = chunked.run_curves(slices(pool, 60), "j", pool.rms, [0.2, 0.5], **args).table
    many = chunked.run_curves(slices(pool, 7), "j", pool.rms, [0.2, 0.5], **args).table
    again = chunked.run_curves(slices(pool, 7), "j", pool.rms, [0.2, 0.5], **args).table
    for col in ("ci_low", "ci_high"):
        np.testing.assert_allclose(many[col], one[col], rtol=0, atol=1e-12)
    pd.testing.assert_frame_equal(many, again)
    assert (one["ci_low"] <= one["reta"]).all() and (one["reta"] <= one["ci_high"]).all()


# ----------------------------------------------------------------- the store's chunks
def test_store_chunks_hold_the_whole_benchmark_in_order(demo_db):
    store = Store(demo_db)
    whole = store.load_pool("demo")
    chunks = list(store.iter_pools("demo", chunk_prompts=7))
    assert [c.n_prompts for c in chunks] == [7] * 8 + [4]
    assert np.array_equal(np.concatenate([c.prompt_ids for c in chunks]), whole.prompt_ids)
    for name in whole.rms:
        np.testing.assert_array_equal(np.concatenate([c.rms[name] for c in chunks]), whole.rms[name])
    np.testing.assert_array_equal(np.concatenate([c.pool_sizes for c in chunks]), whole.pool_sizes)
    category = next(c for c in whole.categories if c is not None)
    part = store.load_pool("demo", category=category)
    got = list(store.iter_pools("demo", rms=["strong_rm"], chunk_prompts=13, category=category))
    assert np.array_equal(np.concatenate([c.prompt_ids for c in got]), part.prompt_ids)


# ----------------------------------------------------------------- the command line
def csv_rows(text: str) -> pd.DataFrame:
    from io import StringIO

    return pd.read_csv(StringIO(text))


def test_cli_chunked_run_equals_the_in_memory_run_and_says_its_bootstrap(demo_db):
    base = ["--db", demo_db, "reta", "--benchmark", "demo", "--format", "csv", "--normalization", "recovery"]
    memory = csv_rows(ok(*base)[0])
    streamed = csv_rows(ok(*base, "--chunk-prompts", "9")[0])
    np.testing.assert_allclose(streamed["reta"], memory["reta"], rtol=0, atol=1e-12)
    out = json.loads(ok("--db", demo_db, "reta", "--benchmark", "demo", "--rm", "strong_rm", "--eta", "0.25",
                        "--ci", "--repeats", "50", "--memory-limit", "1GB", "--chunk-prompts", "20",
                        "--format", "json")[0])
    assert out["metadata"]["bootstrap"]["kind"] == "poisson"
    assert out["metadata"]["engine"] == {"kind": "chunked", "chunks": 3, "benchmark": "demo", "chunk_prompts": 20}
    row = out["rows"][0]
    assert row["ci_low"] < row["reta"] < row["ci_high"]
    category = "coding"
    memory = csv_rows(ok(*base, "--category", category)[0])
    streamed = csv_rows(ok(*base, "--category", category, "--chunk-prompts", "7")[0])
    assert len(memory) and np.array_equal(streamed["n_prompts"], memory["n_prompts"])
    np.testing.assert_allclose(streamed["reta"], memory["reta"], rtol=0, atol=1e-12)
    # a limit the benchmark fits in: the in-memory engine and its bootstrap, numbers unchanged
    fits = json.loads(ok("--db", demo_db, "reta", "--benchmark", "demo", "--rm", "strong_rm", "--eta", "0.25",
                         "--ci", "--memory-limit", "8GB", "--format", "json")[0])
    plain = json.loads(ok("--db", demo_db, "reta", "--benchmark", "demo", "--rm", "strong_rm", "--eta", "0.25",
                          "--ci", "--format", "json")[0])
    assert fits == plain and plain["metadata"]["bootstrap"]["kind"] == "multinomial"
    assert plain["metadata"]["engine"] == {"kind": "in-memory"}


def test_cli_parquet_partitions_give_the_stored_benchmarks_curves(demo_db, tmp_path):
    ok("--db", demo_db, "export-partitions", "--benchmark", "demo", "--out", tmp_path / "parts", "--partitions", "4")
    assert len(list((tmp_path / "parts").glob("*.parquet"))) == 4
    stored = csv_rows(ok("--db", demo_db, "reta", "--benchmark", "demo", "--format", "csv")[0])
    files = csv_rows(ok("reta", "--parquet", tmp_path / "parts", "--oracle", "judge_score", "--format", "csv")[0])
    assert list(files["rm"].unique()) == list(stored["rm"].unique())
    np.testing.assert_allclose(files["reta"], stored["reta"], rtol=0, atol=1e-12)
    status, _, err = call("--db", demo_db, "export-partitions", "--benchmark", "demo", "--out", tmp_path / "parts")
    assert status == 2 and err.startswith("error:") and "not an empty folder" in err


def test_cli_refuses_a_prompt_split_over_two_files_and_bad_combinations(demo_db, tmp_path):
    frame = pd.DataFrame({"prompt_id": ["a", "a", "b", "b"], "response_id": ["1", "2", "3", "4"],
                          "judge": [1.0, 2.0, 3.0, 1.0], "rm": [0.1, 0.2, 0.3, 0.4]})
    folder = tmp_path / "split"
    folder.mkdir()
    pq.write_table(pa.Table.from_pandas(frame.iloc[:3]), folder / "part-0.parquet")
    pq.write_table(pa.Table.from_pandas(frame.iloc[3:]), folder / "part-1.parquet")
    status, _, err = call("reta", "--parquet", folder, "--oracle", "judge", "--eta", "0.5")
    assert status == 2 and err.count("\n") == 1 and "part-1.parquet" in err and "one file" in err
    for extra, message in ((["--estimator", "resample"], "pool and exact"),
                           (["--bootstrap", "multinomial", "--ci"], "Poisson"),
                           (["--ray-address", "auto"], "--engine ray"),
                           (["--memory-limit", "lots"], "not a size"),
                           (["--bootstrap", "poisson"], "add --ci")):
        status, _, err = call("--db", demo_db, "reta", "--benchmark", "demo", "--chunk-prompts", "5", *extra)
        assert status == 2 and message in err, err
    status, _, err = call("--db", demo_db, "reta")
    assert status == 2 and "--benchmark" in err
    status, _, err = call("reta", "--parquet", folder, "--oracle", "judge", "--chunk-prompts", "5")
    assert status == 2 and "each Parquet file is one chunk" in err


def test_a_ray_address_that_cannot_be_joined_is_the_users_fault(tmp_path):
    """A ray:// address without Ray Client installed (or a cluster that cannot be joined)
    is one `error:` line and exit 2, not exit 1 "please report" (a fresh process: this
    one may already run a Ray instance)."""
    import subprocess
    import sys

    pytest.importorskip("ray")
    try:
        import ray.util.client.ray_client_helpers  # noqa: F401  Ray Client installed: nothing to refuse
        pytest.skip("Ray Client is installed here")
    except ImportError:
        pass
    pq.write_table(pa.table({"prompt_id": ["a", "a"], "response_id": ["1", "2"], "judge": [1.0, 2.0],
                             "rm": [0.1, 0.2]}), tmp_path / "part-0.parquet")
    proc = subprocess.run([sys.executable, "-m", "reta_core", "reta", "--parquet", str(tmp_path), "--oracle", "judge",
                           "--engine", "ray", "--ray-address", "ray://127.0.0.1:1", "--eta", "0.5"],
                          capture_output=True, text=True, timeout=300)
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert proc.returncode == 2 and len(lines) == 1 and "ray[client]" in lines[0], proc.stderr
