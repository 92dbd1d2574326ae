"""Speed of scoring a pool (issue 10, "Speed, measured"), as ratios timed in one run.

    python benchmarks/bench_score.py [--prompts 100] [--responses 8] [--hidden 128] [--layers 4]

A randomly initialised Llama reward model is built in a temporary folder (as the tests
build theirs; nothing is downloaded) and a demo benchmark of ``prompts x responses``.
It times:

* ``score --backend transformers`` (batches of 32 sorted by length, the whole call:
  loading the model, keying, staging, adding the RM) against a plain
  ``transformers.pipeline("text-classification")`` loop over the same rendered
  conversations one at a time, same model, same process: responses per second, target
  >= 5x;
* the Ray engine against the local engine at the same number of workers (one replica,
  a local Ray instance started before the clock; the replica's start is counted):
  the overhead as a ratio;
* peak memory (resident set of this process, and of the Ray workers).
Exit status 1 when the 5x target is missed.
"""
from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from reta_core.demo import build_demo  # noqa: E402
from reta_core.scoring.run import score_benchmark  # noqa: E402
from reta_core.store import Store  # noqa: E402
from tests.scoring_helpers import build_tiny_rm  # noqa: E402


def peak_mb(who=resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=100)
    parser.add_argument("--responses", type=int, default=8)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--no-ray", action="store_true", help="skip the Ray measurement")
    args = parser.parse_args()
    import torch
    import transformers

    print(f"machine: nproc {os.cpu_count()}, Python {platform.python_version()}, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads), transformers {transformers.__version__}")
    with tempfile.TemporaryDirectory(prefix="reta_bench_score_") as tmp:
        tmp = Path(tmp)
        model = build_tiny_rm(tmp / "rm", hidden=args.hidden, layers=args.layers, max_length=512)
        store = Store(tmp / "bench.duckdb")
        build_demo(store, n_prompts=args.prompts, n_responses=args.responses)
        n = args.prompts * args.responses
        print(f"benchmark: {args.prompts} prompts x {args.responses} responses = {n} responses; model: "
              f"Llama, hidden {args.hidden}, {args.layers} layers, random weights")
        spec = {"backend": "transformers", "model": str(model)}

        start = time.perf_counter()
        score_benchmark(store, "demo", "batched", spec, batch_size=32, state_path=tmp / "a.sqlite")
        ours = time.perf_counter() - start

        texts = store.load_texts("demo").to_pandas()
        tok = transformers.AutoTokenizer.from_pretrained(model)
        rendered = [tok.apply_chat_template([{"role": "user", "content": p}, {"role": "assistant", "content": r}],
                                            tokenize=False) for p, r in zip(texts["prompt"], texts["response"])]
        pipe = transformers.pipeline("text-classification", model=str(model), device=-1)
        start = time.perf_counter()
        for text in rendered:
            pipe(text, truncation=True, max_length=512, function_to_apply="none")
        plain = time.perf_counter() - start
        ratio = plain / ours
        met = ratio >= 5
        print(f"{'score --backend transformers, responses/s':52s} {n / ours:8.1f}")
        print(f"{'pipeline loop one at a time, responses/s':52s} {n / plain:8.1f}")
        print(f"{'batched / pipeline loop (speed-up)':52s} {ratio:8.2f}x   target >= 5x   "
              f"{'ok' if met else 'MISSED'}")
        if not args.no_ray:
            import ray

            ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False)
            try:
                start = time.perf_counter()
                score_benchmark(store, "demo", "on_ray", spec, batch_size=32, engine="ray",
                                ray_options={"replicas": 1}, state_path=tmp / "b.sqlite")
                on_ray = time.perf_counter() - start
            finally:
                ray.shutdown()
            print(f"{'Ray engine / local engine, 1 worker each':52s} {on_ray / ours:8.2f}x   "
                  f"(local {ours:.1f} s, Ray {on_ray:.1f} s, replica start included)")
        print(f"{'peak memory, this process':52s} {peak_mb():8.0f} MB")
        if not args.no_ray:
            print(f"{'peak memory, largest Ray worker':52s} {peak_mb(resource.RUSAGE_CHILDREN):8.0f} MB")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
