"""The scoring commands of the command line: ``export-pool``, ``score`` and ``label``
(registered by :func:`reta_core.cli.build_parser`).  Thin: options, a spec, a call into
:mod:`reta_core.scoring.run`, the report."""
from __future__ import annotations

import argparse
import re
from pathlib import Path

from ..errors import RetaInputError

BACKEND_NAMES = ("transformers", "http", "judge")
# option (dest) -> the backends it applies to
_BACKEND_OPTIONS = {
    "model": ("transformers", "http"), "revision": ("transformers",),
    "head_index": ("transformers", "http"), "head_name": ("transformers",),
    "max_length": ("transformers",), "device": ("transformers",), "dtype": ("transformers",),
    "trust_remote_code": ("transformers", "http"), "url": ("http",), "api": ("http",),
    "tokenizer": ("http",), "request_size": ("http",), "base_url": ("judge",),
    "judge_model": ("judge",), "rubric": ("judge",), "scale": ("judge",),
    "max_tokens": ("judge",), "api_key_env": ("http", "judge"), "concurrency": ("http", "judge"),
    "timeout": ("http", "judge"), "retries": ("http", "judge"), "backoff": ("http", "judge"),
}


def _cli():
    from .. import cli

    return cli


# ------------------------------------------------------------------ handlers
def cmd_export_pool(args) -> int:
    from .pool_export import export_pool, export_suffix

    cli = _cli()
    export_suffix(args.out)  # a bad extension fails before any work
    done = export_pool(cli._store(args), args.benchmark, args.out)
    cli.note(f"wrote {done['path']}: {done['rows']:,} responses of {done['prompts']:,} prompts "
             f"({done['format']})")
    return 0


def backend_spec(args, backend: str | None) -> dict:
    """The backend spec the options describe (empty when resuming without --backend)."""
    cli = _cli()
    given = {dest for dest in _BACKEND_OPTIONS
             if getattr(args, dest, None) is not None and getattr(args, dest) is not False}
    if backend is None:
        if given and not args.resume:
            raise cli.UsageError(f"{args.command}: name the backend with --backend")
        return {}
    for dest in sorted(given):
        if backend not in _BACKEND_OPTIONS[dest]:
            raise cli.UsageError(f"{args.command}: --{dest.replace('_', '-')} applies to --backend "
                                 + " or ".join(_BACKEND_OPTIONS[dest]))
    spec = {"backend": backend}
    spec.update({dest: getattr(args, dest) for dest in given})
    if "rubric" in spec:
        path = Path(spec["rubric"]).expanduser()
        try:
            spec["rubric"] = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise RetaInputError(f"--rubric {args.rubric}: cannot read it: {exc.strerror}") from None
        from .judge import check_rubric

        check_rubric(spec["rubric"], f"--rubric {args.rubric}")
    if "model" in spec and backend == "transformers":
        local = Path(spec["model"]).expanduser()
        if local.exists():
            spec["model"] = str(local.resolve())
    needs = {"transformers": ["model"], "http": ["url"], "judge": ["base_url", "judge_model"]}[backend]
    missing = [n for n in needs if n not in spec]
    if missing and not args.resume:
        raise cli.UsageError(f"{args.command}: --backend {backend} needs "
                             + " and ".join("--" + m.replace("_", "-") for m in missing))
    return spec


def _run(args, kind: str, name: str, backend: str | None) -> int:
    from .run import dry_run, score_benchmark
    from .state import default_state_path

    cli = _cli()
    spec = backend_spec(args, backend)
    store = cli._store(args)
    state_path = args.cache or default_state_path(store.path)
    if args.engine != "ray" and (args.replicas is not None or args.gpus_per_replica is not None
                                 or args.shards is not None):
        raise cli.UsageError(f"{args.command}: --replicas, --gpus-per-replica and --shards apply "
                             "to --engine ray")
    if args.dry_run:
        if not spec:
            raise cli.UsageError(f"{args.command}: --dry-run needs the backend's options")
        plan = dry_run(store, args.benchmark, spec, state_path=state_path)
        tokens = (f", about {plan['input_tokens']:,} input tokens (estimated at 4 characters "
                  "per token)" if "input_tokens" in plan else "")
        print(f"Dry run, nothing sent: {plan['requests']:,} requests for {plan['total']:,} "
              f"responses of benchmark {args.benchmark!r} ({plan['cached']:,} in the cache)"
              f"{tokens}.")
        return 0
    ray_options = {k: v for k, v in (("replicas", args.replicas),
                                     ("gpus_per_replica", args.gpus_per_replica),
                                     ("shards", args.shards)) if v is not None}
    again = f"{cli.PROG} {args.command} --benchmark {args.benchmark} " \
            f"--{'rm' if kind == 'rm' else 'oracle'} {name} --resume"
    try:
        with cli.Progress("scoring", unit="resp") as bar:
            report = score_benchmark(
                store, args.benchmark, name, spec, kind=kind, replace=args.replace,
                description=args.description, resume=args.resume, restart=args.restart,
                allow_partial=args.allow_partial, batch_size=args.batch_size, engine=args.engine,
                ray_options=ray_options, state_path=state_path, progress=bar.update)
    except KeyboardInterrupt:
        cli.note(f"error: interrupted; the finished batches are kept in {state_path}: continue "
                 f"with `{again}`")
        return 130
    print(report.to_text())
    return 0


def cmd_score(args) -> int:
    return _run(args, "rm", args.rm, args.backend)


def cmd_label(args) -> int:
    return _run(args, "oracle", args.oracle, "judge")


# ------------------------------------------------------------------ options
def _scale(text: str):
    match = re.fullmatch(r"\s*(-?\d+(?:\.\d+)?)\s*[-,]\s*(-?\d+(?:\.\d+)?)\s*", str(text))
    if not match or not float(match.group(1)) < float(match.group(2)):
        raise argparse.ArgumentTypeError(f"{text!r} is not a scale LOW-HIGH such as 1-10")
    return [float(match.group(1)), float(match.group(2))]


def _backend_options(p, judge_only: bool = False) -> None:
    if not judge_only:
        g = p.add_argument_group("transformers backend (a local model; needs the scoring extra)")
        g.add_argument("--model", metavar="PATH_OR_ID",
                       help="a model folder or hub id (AutoModelForSequenceClassification); with "
                            "--backend http, the model name the server serves")
        g.add_argument("--revision", metavar="REV", help="the hub revision (default: main)")
        g.add_argument("--head-index", type=int, metavar="I",
                       help="the output of a multi-objective head to use (default: the one label)")
        g.add_argument("--head-name", metavar="NAME",
                       help="a label (config.id2label) or named output of a multi-objective head")
        g.add_argument("--max-length", type=int, metavar="TOKENS",
                       help="longest input; longer ones lose the start of the prompt, counted "
                            "(default: the tokenizer's limit)")
        g.add_argument("--device", choices=("auto", "cpu", "cuda"), help="default: auto")
        g.add_argument("--dtype", choices=("auto", "float32", "bfloat16", "float16"),
                       help="default: auto (float32 on the CPU, the model's own on a GPU)")
        g.add_argument("--trust-remote-code", action="store_true",
                       help="run the model repository's own Python code (only if you trust it)")
        g = p.add_argument_group("http backend (a served RM)")
        g.add_argument("--url", metavar="URL", help="the server, e.g. http://127.0.0.1:8000")
        g.add_argument("--api", choices=("vllm-classify", "vllm-pooling", "openrlhf"),
                       help="the server's API (default: vllm-classify)")
        g.add_argument("--tokenizer", metavar="PATH_OR_ID",
                       help="render the text with this tokenizer's chat template (classify, "
                            "openrlhf; default: 'User: ...\\n\\nAssistant: ...')")
        g.add_argument("--request-size", type=int, metavar="N",
                       help="pairs per request for classify/openrlhf (default: 8)")
    g = p.add_argument_group("judge backend (an OpenAI-compatible chat-completions endpoint)")
    g.add_argument("--base-url", metavar="URL",
                   help="the API's base, e.g. https://api.openai.com/v1 or http://127.0.0.1:8000/v1")
    g.add_argument("--judge-model", metavar="M", help="the judge model's name at the endpoint")
    g.add_argument("--rubric", metavar="FILE",
                   help="the rubric with {prompt} and {response} placeholders (default: a 1-10 rubric)")
    g.add_argument("--scale", type=_scale, metavar="LOW-HIGH",
                   help="ratings outside it are unparsable (default: 1-10)")
    g.add_argument("--max-tokens", type=int, metavar="N", help="the reply's token limit")
    g.add_argument("--dry-run", action="store_true",
                   help="print the number of requests and an estimate of input tokens; send nothing")
    g = p.add_argument_group("served backends (http, judge)")
    g.add_argument("--api-key-env", metavar="VAR",
                   help="send the key held by this environment variable (never printed)")
    g.add_argument("--concurrency", type=int, metavar="N", help="requests at a time (default: 8)")
    g.add_argument("--timeout", type=float, metavar="S", help="seconds per request (default: 60)")
    g.add_argument("--retries", type=int, metavar="N",
                   help="retries of a request after a connection error, timeout, 429 or 5xx (default: 4)")
    g.add_argument("--backoff", type=float, metavar="S",
                   help="first wait before a retry, doubled each time (default: 0.5)")


def _run_options(p) -> None:
    g = p.add_argument_group("the run")
    g.add_argument("--batch-size", type=int, metavar="N",
                   help="pairs per batch (default: 16 transformers, 64 http, 32 judge)")
    again = g.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true",
                       help="continue the interrupted run of this name (its options are kept)")
    again.add_argument("--restart", action="store_true",
                       help="discard an interrupted run and start again (the cache still serves)")
    g.add_argument("--allow-partial", action="store_true",
                   help="leave responses whose requests keep failing unscored, and add the "
                        "result with its coverage")
    g.add_argument("--replace", action="store_true", help="replace an existing one of that name")
    g.add_argument("--description", metavar="TEXT", help="a description")
    g.add_argument("--cache", metavar="PATH",
                   help="the scoring file (cache and staging; default: beside the database, "
                        "e.g. data/reta.scoring.sqlite)")
    g = p.add_argument_group("engine")
    g.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local (default) or ray: Ray Data map_batches on the cluster of "
                        "$RAY_ADDRESS, or a local one (needs the distributed extra)")
    g.add_argument("--replicas", type=int, metavar="N",
                   help="model replicas, one per Ray actor (default: 1)")
    g.add_argument("--gpus-per-replica", type=float, metavar="G", help="GPUs per replica (default: 0)")
    g.add_argument("--shards", metavar="URI",
                   help="where the workers write their Parquet shards; on a multi-node cluster a "
                        "shared path (NFS, s3://...) (default: beside the scoring file)")


def add_commands(command) -> None:
    """Register export-pool, score and label with ``command(name, func, help,
    description, examples)`` of :func:`reta_core.cli.build_parser`."""
    p = command("export-pool", cmd_export_pool, "write a benchmark's pool to score elsewhere",
                "Write every response of a benchmark with prompt_id, response_id, prompt, "
                "response, category and messages (the conversation [user: prompt, assistant: "
                "response] in chat format) to FILE; the format is the extension: .jsonl, "
                ".jsonl.gz, .parquet, .csv, .csv.gz (messages as JSON text in CSV).",
                ["export-pool --benchmark demo --out pool.jsonl.gz",
                 "export-pool --benchmark demo --out pool.parquet"])
    p.add_argument("--benchmark", required=True, metavar="NAME", help="benchmark name")
    p.add_argument("--out", required=True, metavar="FILE",
                   help="the file: .jsonl, .jsonl.gz, .parquet, .csv or .csv.gz")

    p = command("score", cmd_score, "score a benchmark's pool with an RM and add it",
                "Score every response of a benchmark with a reward model and add it as an RM, "
                "with the checks and report of add-scores (docs/metric.md §12). Backends: "
                "transformers (a local model), http (a served RM: vLLM classify/pooling, "
                "OpenRLHF), judge (an LLM judge through chat completions). Batches are sorted "
                "by length and cached (a rerun sends nothing already done) and staged: an "
                "interrupted run goes on with --resume, and the RM appears only when complete.",
                ["score --benchmark demo --rm my-rm --backend transformers --model ./my-rm",
                 "score --benchmark demo --rm served --backend http --url http://127.0.0.1:8000 "
                 "--api vllm-classify",
                 "score --benchmark demo --rm gpt-judge --backend judge --base-url "
                 "https://api.openai.com/v1 --judge-model gpt-4o --api-key-env OPENAI_API_KEY",
                 "score --benchmark demo --rm my-rm --resume",
                 "score --benchmark demo --rm my-rm --backend transformers --model ./my-rm "
                 "--engine ray --replicas 4 --gpus-per-replica 1"])
    p.add_argument("--benchmark", required=True, metavar="NAME", help="benchmark name")
    p.add_argument("--rm", required=True, metavar="NAME", help="the RM's name")
    p.add_argument("--backend", choices=BACKEND_NAMES,
                   help="transformers, http or judge (not needed with --resume)")
    _backend_options(p)
    _run_options(p)

    p = command("label", cmd_label, "label a benchmark's oracle with an LLM judge",
                "Score every response of a benchmark with an LLM judge and add the ratings as "
                "an oracle (the pipeline's one-time cost), with the judge backend of `score` "
                "and its cache, staging and resume.",
                ["label --benchmark mine --oracle gpt4o_judge --base-url https://api.openai.com/v1 "
                 "--judge-model gpt-4o --api-key-env OPENAI_API_KEY",
                 "label --benchmark mine --oracle judge --base-url http://127.0.0.1:8000/v1 "
                 "--judge-model Qwen/Qwen2.5-72B-Instruct --dry-run"])
    p.add_argument("--benchmark", required=True, metavar="NAME", help="benchmark name")
    p.add_argument("--oracle", required=True, metavar="NAME", help="the oracle's name")
    _backend_options(p, judge_only=True)
    _run_options(p)
