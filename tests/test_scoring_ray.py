"""The Ray engine on a local instance (``ray.init(num_cpus=2)``, one per module): the
same scores as the local engine, through Ray Data ``map_batches`` with a replica per
actor and Parquet shards staged in one transaction; a killed run's shards are used by
``--resume``."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

ray = pytest.importorskip("ray", reason="the distributed extra (ray[data]) is not installed: "
                                        "pip install -r requirements-dev.txt")
pytest.importorskip("ray.data", reason="the distributed extra (ray[data]) is not installed")

from reta_core.demo import build_demo  # noqa: E402
from reta_core.scoring.run import score_benchmark  # noqa: E402
from reta_core.store import Store  # noqa: E402
from tests.scoring_helpers import LocalServer  # noqa: E402


pytestmark = pytest.mark.usefixtures("local_ray")


@pytest.fixture(scope="module")
def server():
    with LocalServer() as srv:
        yield srv


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "reta.duckdb"
    build_demo(Store(path), n_prompts=10, n_responses=6)
    return path


def test_ray_equals_local_for_a_served_rm_and_resumes_from_its_shards(db, server, tmp_path):
    spec = {"backend": "http", "url": server.url, "api": "openrlhf"}
    store = Store(db)
    local = score_benchmark(store, "demo", "local", spec, state_path=tmp_path / "local.sqlite")
    assert local.computed == 60
    # a killed Ray run left two shards (one of them cut short) in its run folder
    from reta_core.scoring.state import ScoringState
    from reta_core.scoring.ray_engine import shard_folder

    state_path = tmp_path / "ray.sqlite"
    state = ScoringState(state_path)
    run = state.start_run(str(db.resolve()), "demo", str(store.benchmark_info("demo")["created_at"]), "rm",
                          "on_ray", spec, 60)
    folder = shard_folder(state, run)
    folder.mkdir(parents=True)
    scores = store.load_pool("demo", oracles=[], rms=["local"]).rms["local"]
    from reta_core.scoring.backend import build_backend, cache_keys

    texts = store.load_texts("demo").to_pandas()
    backend = build_backend(spec)
    keys = cache_keys(backend.identity(), backend.template(), texts["prompt"], texts["response"])
    pq.write_table(pa.table({"response_code": pa.array(range(10), pa.int64()), "key": keys[:10],
                             "score": scores[:10], "status": ["ok"] * 10, "truncated": [False] * 10}),
                   folder / "part-a.parquet")
    (folder / "part-b.parquet").write_bytes(b"PAR1 cut short")
    state.close()
    report = score_benchmark(store, "demo", "on_ray", spec, engine="ray", resume=True, batch_size=8,
                             ray_options={"replicas": 1}, state_path=state_path)
    assert report.engine == "ray" and "on Ray" in report.to_text()
    pool = store.load_pool("demo", oracles=[], rms=["local", "on_ray"])
    np.testing.assert_array_equal(pool.rms["on_ray"], pool.rms["local"])
    assert not folder.exists()  # staged, then removed
    with pytest.raises(Exception, match="--replicas 2"):  # 2 CPUs: one replica and Ray Data
        score_benchmark(store, "demo", "too_many", spec, engine="ray", ray_options={"replicas": 2},
                        state_path=tmp_path / "x.sqlite")


def test_ray_equals_local_for_the_transformers_backend(db, tmp_path):
    pytest.importorskip("torch", reason="the scoring extra (torch) is not installed")
    from tests.scoring_helpers import build_tiny_rm

    model = build_tiny_rm(tmp_path / "tiny", max_length=128)
    spec = {"backend": "transformers", "model": str(model)}
    store = Store(db)
    score_benchmark(store, "demo", "local", spec, state_path=tmp_path / "local.sqlite", batch_size=16)
    score_benchmark(store, "demo", "on_ray", spec, engine="ray", batch_size=16,
                    state_path=tmp_path / "ray.sqlite")
    pool = store.load_pool("demo", oracles=[], rms=["local", "on_ray"])
    np.testing.assert_allclose(pool.rms["on_ray"], pool.rms["local"], rtol=0, atol=1e-5)
