"""``reta --engine ray`` on a local Ray instance (``ray.init(num_cpus=2)``, one per
module): over Parquet partitions of a random benchmark with ties, holes and ragged
pools, the same curves as the in-memory engine (1e-12) and the same bytes as the local
engine over the same partitions, Poisson bands included; a prompt split over two files
is refused."""
from __future__ import annotations

from io import StringIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

ray = pytest.importorskip("ray", reason="the distributed extra (ray[data]) is not installed: "
                                        "pip install -r requirements-dev.txt")
pytest.importorskip("ray.data", reason="the distributed extra (ray[data]) is not installed")

from reta_core.evaluation import Evaluation  # noqa: E402
from reta_core.pool import Pool  # noqa: E402
from tests.builders import call, ok  # noqa: E402


pytestmark = pytest.mark.usefixtures("local_ray")


def random_frame(seed: int = 0, n_prompts: int = 90) -> pd.DataFrame:
    """Long format: ragged pools (1..12), whole-number scores (ties), NaN holes."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 13, n_prompts)
    rows = int(sizes.sum())
    prompt = np.repeat(np.arange(n_prompts), sizes)
    frame = pd.DataFrame({"prompt_id": [f"q{p}" for p in prompt],
                          "response_id": [f"r{i}" for i in range(rows)],
                          "judge": rng.integers(1, 6, rows).astype(float)})
    for name in ("rm_a", "rm_b", "rm_c"):
        score = rng.integers(0, 4, rows).astype(float)
        score[rng.random(rows) < 0.1] = np.nan
        frame[name] = score
    frame.loc[rng.random(rows) < 0.05, "judge"] = np.nan
    return frame


@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    """The frame as 5 Parquet files, whole prompts each, and the frame itself."""
    frame = random_frame()
    folder = tmp_path_factory.mktemp("parts")
    prompts = frame["prompt_id"].unique()
    for number, chunk in enumerate(np.array_split(prompts, 5)):
        pq.write_table(pa.Table.from_pandas(frame[frame["prompt_id"].isin(chunk)], preserve_index=False),
                       folder / f"part-{number}.parquet")
    return folder, frame


def rows(text: str) -> pd.DataFrame:
    return pd.read_csv(StringIO(text))


@pytest.mark.parametrize("normalization", ["ratio", "recovery"])
def test_ray_equals_the_local_engine_bit_for_bit_and_the_in_memory_engine(parts, normalization):
    folder, frame = parts
    args = ["reta", "--parquet", folder, "--oracle", "judge", "--normalization", normalization,
            "--ci", "--repeats", "200", "--seed", "5", "--format", "csv"]
    on_ray, _ = ok(*args, "--engine", "ray")
    local, _ = ok(*args)
    assert on_ray == local  # the same partitions, combined in the same order: identical bands
    got = rows(on_ray)
    pool = Pool.from_frame(frame, ["judge"], ["rm_a", "rm_b", "rm_c"])
    want = Evaluation(pool, "judge", normalization).curves(None, None).table
    assert np.array_equal(got["eta"], want["eta"]) and np.array_equal(got["n_prompts"], want["n_prompts"])
    finite = np.isfinite(want["reta"].to_numpy())
    if normalization == "recovery":
        finite &= want["eta"].to_numpy() < 1  # 0/0 at eta = 1 (undefined, §3)
    np.testing.assert_allclose(got["reta"][finite], want["reta"][finite], rtol=0, atol=1e-12)
    assert (got["ci_low"][finite] <= got["reta"][finite] + 1e-12).all()


def test_ray_exact_estimator_and_a_prompt_split_over_files(parts, tmp_path):
    folder, frame = parts
    args = ["reta", "--parquet", folder, "--oracle", "judge", "--estimator", "exact", "--n", "3",
            "--eta", "0.34,0.67", "--format", "csv"]
    assert ok(*args, "--engine", "ray")[0] == ok(*args)[0]
    split = tmp_path / "split"
    split.mkdir()
    first = frame["prompt_id"] == frame["prompt_id"].iloc[0]
    head = frame[first]
    pq.write_table(pa.Table.from_pandas(pd.concat([head.iloc[:1], frame[~first]]), preserve_index=False),
                   split / "a.parquet")
    pq.write_table(pa.Table.from_pandas(head.iloc[1:], preserve_index=False), split / "b.parquet")
    status, _, err = call("reta", "--parquet", split, "--oracle", "judge", "--eta", "0.5", "--engine", "ray")
    assert status == 2 and err.count("\n") == 1 and "a.parquet and" in err and "b.parquet" in err
