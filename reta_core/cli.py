"""The command line: ``python -m reta_core SUBCOMMAND ...`` (``python -m reta_core --help``).

It only parses, calls :mod:`reta_core` and formats what it returns: no metric math and
no SQL here.  Results go to stdout (or, with ``--out FILE``, atomically to the file and
nothing to stdout); notes about excluded prompts, warnings and progress bars go to
stderr, so a piped ``--format json`` or ``csv`` stays clean.

Exit status: 0 on success; 2 on bad input or usage, with ONE line ``error: ...`` on
stderr (every :class:`~reta_core.errors.RetaInputError`, and argparse's usage errors);
1 for an unexpected failure, which is a bug: ``error: unexpected ... (please report)``,
with the traceback only under ``--debug`` or ``RETA_DEBUG=1``.
"""
from __future__ import annotations

import argparse
import atexit
import io
import json
import math
import os
import sys
import textwrap
import threading
import traceback
from pathlib import Path

import numpy as np
import pandas as pd

from .ensembles import DEFAULT_METHOD, METHODS as ENSEMBLE_METHODS, add_ensemble
from .errors import RetaInputError, one_line, show, terminal_safe
from .evaluation import DEFAULT_BOOTSTRAP, DEFAULT_REPEATS, NORMALIZATIONS

PROG = "reta" if Path(sys.argv[0]).name == "reta" else "python -m reta_core"  # the console command, or -m
FORMATS = ("table", "csv", "json")
ESTIMATORS = ("pool", "exact", "resample")
CHART_EXTENSIONS = ("html", "png", "svg", "pdf", "csv")
CHARTS = ("curves", "difference", "reliability", "stability", "convergence", "category", "inspector", "scores")


class UsageError(RetaInputError):
    """A command line that cannot be run as written (exit status 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line ``error: ...`` and exit status 2."""

    def error(self, message):
        command = self.prog[len(PROG):].strip()
        hint = f"see `{self.prog} --help`"
        raise UsageError(f"{command + ': ' if command else ''}{message}; {hint}")


# ------------------------------------------------------------------------ output
def _stderr_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def note(message: str) -> None:
    """One line for the user on stderr (not part of the result); names in it cannot
    send control sequences to the terminal (:func:`terminal_safe`)."""
    try:
        if sys.stderr is not None:  # None: started with stderr closed
            print(terminal_safe(message), file=sys.stderr)
    except OSError:  # stderr full or gone: the result on stdout still matters more
        pass


class Progress:
    """A tqdm bar on stderr when stderr is a terminal (silent when piped), with
    throughput and time left.  :meth:`update` is reta_core's one progress callback,
    ``progress(done, total, message)`` (:mod:`reta_core.progress`)."""

    def __init__(self, desc: str, unit: str = "%"):
        self.bar = None
        if _stderr_tty():  # tqdm (and its monitor thread) only for a bar that shows
            from tqdm import tqdm

            self.bar = tqdm(total=None, desc=desc, unit=unit, leave=False, file=sys.stderr,
                            dynamic_ncols=True)

    def update(self, done: float, total: float, message: str = "") -> None:
        if self.bar is None:
            return
        if self.bar.total != total:
            self.bar.total = total
            self.bar.refresh()
        if message:
            self.bar.set_postfix_str(str(message), refresh=False)
        self.bar.update(done - self.bar.n)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.close()


def _plain(value):
    """A JSON-ready Python value (NaN -> None, numpy scalars -> Python)."""
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return None if math.isnan(value) else float(value)
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if value is None or isinstance(value, (str, int)):
        return value
    if isinstance(value, pd.Timestamp) or hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def to_json(data) -> str:
    if isinstance(data, pd.DataFrame):
        data = [{k: _plain(v) for k, v in row.items()} for row in data.to_dict("records")]
    return json.dumps(_plain(data), indent=2, allow_nan=False) + "\n"


def json_document(rows, metadata: dict) -> str:
    """Every command's JSON: one object, ``{"metadata": {...}, "rows": [...]}``; the
    metadata always carries the project's version."""
    from . import __version__

    if isinstance(rows, pd.DataFrame):
        rows = [{k: _plain(v) for k, v in row.items()} for row in rows.to_dict("records")]
    return to_json({"metadata": {**metadata, "version": __version__}, "rows": rows})


def metadata(ev, **extra) -> dict:
    """What a result was computed on: the evaluation's benchmark, oracle, normalisation,
    category and smallest pool, and the command's own settings (estimator, n, etas ...)."""
    meta = ev.metadata()
    meta.update(extra)
    if "etas" in meta and meta["etas"] is not None:
        meta["etas"] = [float(e) for e in meta["etas"]]
    return meta


def multinomial_bootstrap(n_boot: int, seed: int, paired: bool = False) -> dict:
    """The metadata of bands made by the in-memory engine's bootstrap over prompts (§6)."""
    return {"kind": "multinomial", "interval": "percentile over prompts" + (", paired" if paired else ""),
            "B": n_boot, "seed": seed}


def _cell(value, fmt: str | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else ""
    if fmt and isinstance(value, (int, float, np.integer, np.floating)):
        text = format(value, fmt)
        # a value that rounds to zero prints without a sign ("-0.0000" reads as negative)
        return text[1:] if text[:1] in "-+" and not text.strip("-+0.,%eE") else text
    return str(value)


def text_table(df: pd.DataFrame, formats: dict | None = None) -> str:
    """``df`` as an aligned text table: text left, numbers right, NaN as ``-``."""
    formats = formats or {}
    columns = list(df.columns)
    cells = [[_cell(v, formats.get(c)) for v in df[c].tolist()] for c in columns]
    numeric = [pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])
               for c in columns]
    widths = [max([len(str(c))] + [len(x) for x in col]) for c, col in zip(columns, cells)]

    def line(values):
        return "  ".join(v.rjust(w) if num else v.ljust(w)
                         for v, w, num in zip(values, widths, numeric)).rstrip()

    rows = [line([str(c) for c in columns]), line(["-" * w for w in widths])]
    rows += [line([col[i] for col in cells]) for i in range(len(df))]
    return "\n".join(rows) + "\n"


def render(df: pd.DataFrame, fmt: str, formats: dict | None = None, header: str = "",
           footer: str = "", meta: dict | None = None) -> str:
    """A result table as table (with ``header``/``footer`` lines), csv or json text
    (:func:`json_document`, with ``meta``)."""
    if fmt == "json":
        return json_document(df, meta or {})
    if fmt == "csv":
        return df.to_csv(index=False)
    parts = [header + "\n" if header else "", text_table(df, formats), footer]
    return terminal_safe("\n".join(p for p in parts if p))


def emit(text: str, out: str | None) -> None:
    """``text`` to stdout, or atomically to ``out`` (then nothing on stdout)."""
    if out is None:
        sys.stdout.write(text)
        return
    from .export import write_atomic

    path = Path(out).expanduser()
    write_atomic(path, text.encode("utf-8"))
    note(f"wrote {path}")


def report_excluded(excluded: pd.DataFrame) -> None:
    """One stderr line per RM and exclusion reason (docs/metric.md §1: never silent)."""
    from .readings import excluded_lines

    for line in excluded_lines(excluded):
        note(f"note: {line}")


# ------------------------------------------------------------------------ helpers
def _store(args):
    from .store import Store

    return Store(args.db)


def parse_etas(text: str) -> np.ndarray:
    """``"0.05,0.1"`` -> validated etas (``metrics.check_etas``)."""
    from . import metrics

    values = []
    for part in str(text).split(","):
        part = part.strip()
        if not part:
            continue
        try:
            values.append(float(part))
        except ValueError:
            raise RetaInputError(f"--eta: {show(part)} is not a number; give values in (0, 1] "
                                 "separated by commas, e.g. --eta 0.05,0.1,0.25") from None
    if not values:
        raise RetaInputError("--eta: no value given; e.g. --eta 0.05,0.1,0.25")
    return metrics.check_etas(values)


def evaluation(args, rms=None):
    """The :class:`~reta_core.evaluation.Evaluation` the options describe: benchmark,
    oracle (default: the benchmark's), normalisation, category and RMs (None: all)."""
    from .evaluation import Evaluation

    return Evaluation.from_store(_store(args), args.benchmark, getattr(args, "oracle", None),
                                 getattr(args, "normalization", "ratio"),
                                 category=getattr(args, "category", None), rms=rms)


def _describe(args, oracle: str, extra: str = "") -> str:
    where = f", category {args.category}" if getattr(args, "category", None) else ""
    return (f"benchmark {args.benchmark}{where} · oracle {oracle} · normalization "
            f"{args.normalization}{extra}")


def _min_n_note(sizes: dict, limit_name: str = "1/min N") -> str:
    values = sorted(set(sizes.values()))
    if len(values) == 1:
        text = f"min N = {values[0]}"
    else:
        text = "min N: " + ", ".join(f"{rm} {n}" for rm, n in sizes.items())
    return (f"* eta below {limit_name} ({text}): the smallest pools hold less than one response "
            "in the top eta, so the value there is the top-1 value (docs/metric.md §3).\n")


# ------------------------------------------------------------------------ commands
def cmd_demo(args) -> int:
    from .demo import build_demo

    with Progress("building the demo") as bar:
        report = build_demo(_store(args), name=args.benchmark, n_prompts=args.prompts,
                            n_responses=args.responses, seed=args.seed, replace=args.replace,
                            progress=bar.update)
    print(report.to_text())
    return 0


def cmd_ingest(args) -> int:
    from .ingest import import_benchmark

    rm_cols = [] if args.no_rms else args.rm
    with Progress("importing") as bar:
        report = import_benchmark(_store(args), args.file, args.benchmark, args.oracle,
                                  rm_cols=rm_cols, replace=args.replace,
                                  description=args.description, baselines=not args.no_baselines,
                                  progress=bar.update)
    print(report.to_text())
    if rm_cols is None:
        taken = [r for r in report.rms if r not in report.baselines]
        if taken:
            note(f"note: no --rm given, so every other numeric column became an RM: "
                 f"{', '.join(taken)}; choose them with --rm COL (repeatable) or import none "
                 "with --no-rms (and remove one with `remove --rm`)")
        else:
            note("note: no --rm given and the file has no other numeric column, so no RM was "
                 "taken from it; add one with `add-scores`")
    return 0


def cmd_add_scores(args) -> int:
    from .ingest import add_rm_scores

    with Progress("adding scores") as bar:
        report = add_rm_scores(_store(args), args.file, args.benchmark, args.rm,
                               score_column=args.score_column, replace=args.replace,
                               description=args.description, progress=bar.update)
    print(report.to_text())
    return 0


def cmd_ensemble(args) -> int:
    with Progress("combining") as bar:
        report = add_ensemble(_store(args), args.benchmark, args.rm, args.name, method=args.method,
                              replace=args.replace, progress=bar.update)
    print(report.to_text())
    return 0


def cmd_import(args) -> int:
    """``import FORMAT PATH ...``: a public benchmark's published files through
    :func:`reta_core.importers.import_public` (ingest's checks and report)."""
    from .importers import import_public

    if args.format != "rewardmath" and (args.texts is not None or args.step_aggregate is not None):
        raise UsageError(f"import: --texts and --step-aggregate apply to the rewardmath format only, "
                         f"not {args.format}")
    with Progress("importing") as bar:
        report = import_public(_store(args), args.format, args.path, args.benchmark, texts=args.texts,
                               step_aggregate=args.step_aggregate, replace=args.replace,
                               description=args.description, baselines=not args.no_baselines,
                               progress=bar.update)
    print(report.to_text())
    return 0


def _import_command(command) -> None:
    """The ``import`` subcommand's options (``command`` is build_parser's helper)."""
    from .importers import FORMATS, STEP_AGGREGATES

    p = command("import", cmd_import, "import a public benchmark's published files",
                "Import a public benchmark from the files its authors published, with the RMs they "
                "scored: rewardmath (results/RewardMATH/<scorer>_reward.json), rewardbench2 "
                "(eval-set-scores/<org>/<model>.json), ppe (the best-of-K Parquet sets), alpacaeval "
                "(results/<model>/<annotator>/annotations.json). A PATH is a file, a folder (searched "
                "for that format's files) or hf://datasets/ORG/NAME/PATH (needs huggingface_hub and "
                "the network). One validated all-or-nothing transaction; the report lists the RMs, "
                "the oracle, pool sizes, coverage and every file or row skipped with its reason. "
                "README, \"Public benchmarks\", says where to download each format.",
                ["import rewardmath results/RewardMATH --benchmark rewardmath "
                 "--texts RewardMATH_direct.json",
                 "import rewardbench2 reward-bench-2-results/eval-set-scores --benchmark rb2",
                 "import ppe PPE-MATH-Best-of-K PPE-GPQA-Best-of-K --benchmark ppe",
                 "import alpacaeval alpaca_eval/results --benchmark alpacaeval --replace"])
    p.add_argument("format", metavar="FORMAT", choices=list(FORMATS),
                   help="one of " + ", ".join(FORMATS))
    p.add_argument("path", metavar="PATH", nargs="+",
                   help="a file, a folder or an hf://datasets/ORG/NAME/... path (repeatable)")
    p.add_argument("--benchmark", required=True, metavar="NAME", help="benchmark name")
    p.add_argument("--texts", metavar="FILE",
                   help="rewardmath: the benchmark's own file (e.g. RewardMATH_direct.json), for the "
                        "response texts")
    p.add_argument("--step-aggregate", choices=STEP_AGGREGATES, default=None,
                   help="rewardmath: how a process RM's per-step scores become one score per "
                        "solution (default: min)")
    p.add_argument("--no-baselines", action="store_true",
                   help="do not add the baseline_length and baseline_random scorers")
    p.add_argument("--description", metavar="TEXT", help="a description of the benchmark")
    p.add_argument("--replace", action="store_true",
                   help="replace a benchmark of that name (with all its RMs)")


def cmd_list(args) -> int:
    store = _store(args)
    names = store.benchmark_names()
    if not names:
        note(f"note: no benchmark in {store.path}; create one with `{PROG} demo` or "
             f"`{PROG} ingest FILE ...`")
    infos = [store.benchmark_info(name) for name in names]
    if args.format == "json":
        sys.stdout.write(json_document([{
            "name": i["name"], "description": i["description"],
            "default_oracle": i["default_oracle"],
            "oracles": [o["name"] for o in i["oracles"]],
            "rms": [{"name": r["name"], "is_baseline": bool(r["is_baseline"]),
                     "is_derived": bool(r.get("is_derived")),
                     "coverage": r["coverage"]} for r in i["rms"]],
            "categories": i["categories"], "n_prompts": i["n_prompts"],
            "n_responses": i["n_responses"], "pool_size": i["pool_size"],
            "created_at": i["created_at"], "source_file": i["source_file"]} for i in infos],
            {"database": str(store.path)}))
        return 0
    if not infos:
        return 0
    table = pd.DataFrame({
        "benchmark": [i["name"] for i in infos],
        "prompts": [i["n_prompts"] for i in infos],
        "responses": [i["n_responses"] for i in infos],
        "pool size (min/median/max)": [
            "{min}/{median}/{max}".format(**{k: _cell(v, "g") for k, v in i["pool_size"].items()})
            for i in infos],
        "oracles": [", ".join(o["name"] + (" (default)" if o["name"] == i["default_oracle"] else "")
                              for o in i["oracles"]) for i in infos],
    })
    lines = [text_table(table, {"prompts": ",", "responses": ","}).rstrip("\n"), ""]
    for i in infos:
        rms = [r["name"] + (" (baseline)" if r["is_baseline"] else "")
               + (" (derived)" if r.get("is_derived") else "")
               + ("" if r["coverage"] >= 1 else f" ({r['coverage']:.1%} covered)") for r in i["rms"]]
        lines.append(f"{i['name']}: RMs: {', '.join(rms) if rms else 'none yet (add one with add-scores)'}")
        if i["categories"]:
            lines.append(f"{i['name']}: categories: {', '.join(i['categories'])}")
    sys.stdout.write(terminal_safe("\n".join(lines)) + "\n")
    return 0


def _check_reta_options(args) -> None:
    if args.n is not None and args.estimator == "pool":
        raise UsageError("reta: --n applies to --estimator exact or resample (the pool "
                         "estimator uses every response)")
    if args.ci and args.estimator == "resample":
        raise UsageError("reta: --ci is for the pool and exact estimators; the resample "
                         "estimator reports its spread as std")
    if args.repeats is not None and not args.ci and args.estimator != "resample":
        raise UsageError("reta: --repeats applies to --ci (bootstrap resamples) or "
                         "--estimator resample (repeats)")


def cmd_reta(args) -> int:
    _check_reta_options(args)
    etas = parse_etas(args.eta) if args.eta is not None else None
    if _streamed(args):
        return _cmd_reta_streamed(args, etas)
    ev = evaluation(args, rms=args.rm)
    n = args.n
    if args.estimator != "pool" and n is None and ev.min_pool_size < 2:
        raise RetaInputError(f"no prompt counts for the chosen RMs of {args.benchmark}, so "
                             "there is no smallest pool to default --n to")
    if args.estimator == "resample":
        repeats = DEFAULT_REPEATS if args.repeats is None else args.repeats
        with Progress("resampling", unit="repeat") as bar:
            result = ev.resampled(n, etas, repeats=repeats, seed=args.seed, progress=bar.update)
        n = int(result.table["n"].iloc[0])
        table = result.table.rename(columns={"mean": "reta"})
        out = table[["rm", "eta", "k", "reta", "std", "n_prompts"]]
        shown = out
        meta = metadata(ev, estimator="resample", n=n, etas=table["eta"].unique(), repeats=repeats,
                        seed=args.seed, engine={"kind": "in-memory"})
        header = _describe(args, ev.oracle, f" · resampled at n = {n}, {repeats} repeats, "
                                            f"seed {args.seed}")
        footer = "k: responses kept of each n-subset's top eta; k = 1 is BoN@n.\n"
    else:
        n_boot = DEFAULT_BOOTSTRAP if args.repeats is None else args.repeats
        if args.estimator == "exact":
            n = ev.check_n(n, ev.rankings())
        with Progress("bootstrap" if args.ci else "curves", unit="RM") as bar:
            result = ev.curves(None, etas, estimator=args.estimator, n=n, ci=args.ci, n_boot=n_boot,
                               seed=args.seed, progress=bar.update)
        table = result.table
        columns = ["rm", "eta", "reta"] + (["ci_low", "ci_high"] if args.ci else []) + ["n_prompts"]
        out = table[columns + ["below_min_eta"]]
        shown = table[columns].assign(flag=np.where(table["below_min_eta"], "*", ""))
        meta = metadata(ev, estimator=args.estimator, n=n, etas=table["eta"].unique(),
                        bootstrap=multinomial_bootstrap(n_boot, args.seed) if args.ci else None,
                        engine={"kind": "in-memory"})
        extra = f" · exact at n = {n}" if args.estimator == "exact" else " · pool estimator"
        if args.ci:
            extra += f" · 95 % bootstrap band (B = {n_boot}, seed {args.seed})"
        header = _describe(args, ev.oracle, extra)
        if not table["below_min_eta"].any():
            footer = ""
        elif args.estimator == "exact":
            footer = f"* eta below 1/n = 1/{n}: k = 1, so the value is BoN@{n} (docs/metric.md §4).\n"
        else:
            footer = _min_n_note(ev.rm_min_pool_sizes())
    report_excluded(result.excluded)
    if args.format == "table":
        fmt = {"eta": ".4g", "reta": ".4f", "ci_low": ".4f", "ci_high": ".4f", "std": ".4f",
               "n_prompts": ","}
        emit(render(shown, "table", fmt, header=header, footer=footer), args.out)
    else:
        emit(render(out, args.format, meta=meta), args.out)
    return 0


def _streamed(args) -> bool:
    """Whether reta runs on the chunked engine (:mod:`reta_core.chunked`): on Ray, over
    Parquet partitions, in chunks asked for, with the Poisson bootstrap, or when the
    benchmark would not fit --memory-limit in memory."""
    if not args.parquet and not args.benchmark:
        raise UsageError("the following arguments are required: --benchmark (or --parquet PATH "
                         "for Parquet partitions)")
    if args.parquet and args.benchmark:
        raise UsageError("reta: give --benchmark NAME (a stored benchmark) or --parquet PATH "
                         "(Parquet partitions), not both")
    ray_only = [o for o, v in (("--ray-address", args.ray_address), ("--num-cpus", args.num_cpus)) if v]
    if ray_only and args.engine != "ray":
        raise UsageError(f"reta: {ray_only[0]} applies to --engine ray")
    if args.bootstrap and not args.ci:
        raise UsageError("reta: --bootstrap chooses how --ci bands are made: add --ci")
    sizing = [o for o, v in (("--memory-limit", args.memory_limit), ("--chunk-prompts", args.chunk_prompts)) if v]
    if sizing and args.parquet:
        raise UsageError(f"reta: {sizing[0]} applies to a stored benchmark (--benchmark); with --parquet "
                         "each Parquet file is one chunk")
    streamed = bool(args.parquet or args.engine == "ray" or args.chunk_prompts or args.bootstrap == "poisson")
    if args.engine == "ray" and not args.parquet:
        raise UsageError("reta: --engine ray reads Parquet partitions: give --parquet PATH "
                         "(write them with export-partitions)")
    if args.parquet and args.category:
        raise UsageError("reta: --category applies to a stored benchmark (--benchmark)")
    if not streamed and args.memory_limit:
        from . import chunked

        limit = chunked.parse_size(args.memory_limit)
        info = _store(args).benchmark_info(args.benchmark)
        n_rms = len(args.rm) if args.rm else len(info["rms"])
        need = chunked.in_memory_bytes(info["n_prompts"], info["n_responses"], n_rms, 105,
                                       (args.repeats or DEFAULT_BOOTSTRAP) if args.ci else 0)
        streamed = need > limit
    if streamed and args.estimator == "resample":
        raise UsageError("reta: the chunked and Ray engines compute the pool and exact estimators")
    if streamed and args.bootstrap == "multinomial":
        raise UsageError("reta: a streamed or Ray run uses the Poisson bootstrap (--bootstrap poisson)")
    return streamed


def _cmd_reta_streamed(args, etas) -> int:
    """reta on the chunked engine: a stored benchmark in chunks of prompts, or Parquet
    partitions one after another or as Ray tasks; bands by the Poisson bootstrap (§6)."""
    from . import chunked, poisson

    n_boot = (DEFAULT_BOOTSTRAP if args.repeats is None else args.repeats) if args.ci else 0
    if args.ci and n_boot < 1:
        raise RetaInputError(f"the number of bootstrap resamples must be a whole number >= 1, got {n_boot!r}")
    limit = chunked.parse_size(args.memory_limit) if args.memory_limit else None
    if args.parquet:
        files = chunked.parquet_files(args.parquet)
        oracle, rms = chunked.parquet_scorers(files, args.oracle, args.rm)
        if args.engine == "ray":
            from .ray_reta import RayEngine

            engine, kind = RayEngine(files, args.ray_address, args.num_cpus), "ray"
        else:
            engine, kind = chunked.parquet_engine(files), "local"
        source, where = {"parquet": str(args.parquet), "partitions": len(files)}, f"partitions {args.parquet}"
    else:
        store = _store(args)
        info = store.benchmark_info(args.benchmark)
        oracle = args.oracle or info["default_oracle"]
        rms = list(args.rm) if args.rm else [r["name"] for r in info["rms"]]
        size = args.chunk_prompts or info["n_prompts"]
        if limit is not None and not args.chunk_prompts:
            size = chunked.chunk_prompts_for(limit, info["n_prompts"], info["n_responses"], len(rms),
                                             105 if etas is None else len(etas), n_boot)
        engine, kind = chunked.store_engine(store, args.benchmark, size, args.category,
                                            None if limit is None else chunked.duckdb_bytes(limit)), "chunked"
        source, where = {"benchmark": args.benchmark, "chunk_prompts": size}, None
    with Progress("curves", unit="chunk") as bar:
        result = chunked.run_curves(engine, oracle, rms, etas, normalization=args.normalization,
                                    estimator=args.estimator, n=args.n, n_boot=n_boot, seed=args.seed,
                                    progress=bar.update)
    table = result.table
    columns = ["rm", "eta", "reta"] + (["ci_low", "ci_high"] if args.ci else []) + ["n_prompts"]
    meta = {"benchmark": args.benchmark, "oracle": oracle, "normalization": args.normalization,
            "category": args.category, "min_pool_size": result.min_pool_size, "n_prompts": result.n_prompts,
            "estimator": args.estimator, "n": result.n, "etas": [float(e) for e in table["eta"].unique()],
            "bootstrap": ({"kind": poisson.KIND, "interval": "percentile over prompts", "B": n_boot,
                           "seed": args.seed} if args.ci else None),
            "engine": {"kind": kind, "chunks": result.chunks, **source}}
    extra = f" · exact at n = {result.n}" if args.estimator == "exact" else " · pool estimator"
    if args.ci:
        extra += f" · 95 % Poisson bootstrap band (B = {n_boot}, seed {args.seed})"
    extra += f" · {kind} engine, {result.chunks} chunk{'s' * (result.chunks != 1)}"
    header = (_describe(args, oracle, extra) if where is None else
              f"{where} · oracle {oracle} · normalization {args.normalization}{extra}")
    if not table["below_min_eta"].any():
        footer = ""
    elif args.estimator == "exact":
        footer = f"* eta below 1/n = 1/{result.n}: k = 1, so the value is BoN@{result.n} (docs/metric.md §4).\n"
    else:
        footer = _min_n_note(result.rm_min_pool_sizes)
    report_excluded(result.excluded)
    if args.format == "table":
        fmt = {"eta": ".4g", "reta": ".4f", "ci_low": ".4f", "ci_high": ".4f", "n_prompts": ","}
        shown = table[columns].assign(flag=np.where(table["below_min_eta"], "*", ""))
        emit(render(shown, "table", fmt, header=header, footer=footer), args.out)
    else:
        emit(render(table[columns + ["below_min_eta"]], args.format, meta=meta), args.out)
    return 0


def cmd_export_partitions(args) -> int:
    paths = _store(args).export_partitions(args.benchmark, args.out, args.partitions)
    note(f"wrote {len(paths)} Parquet partition{'s' * (len(paths) != 1)} to {Path(args.out).expanduser()}")
    return 0


def leaderboard_columns(table: pd.DataFrame, ci: bool) -> list[str]:
    """The CLI's leaderboard columns, in order (band columns next to their value)."""
    from .evaluation import LEADERBOARD_ETAS, eta_label

    values = ["reta_at_eta_star"] + [eta_label(e) for e in LEADERBOARD_ETAS]
    columns = ["rm", "pairwise_accuracy", "spearman", "kendall", "bon", "eta_star"]
    for col in values:
        columns += [col] + ([f"{col}_low", f"{col}_high"] if ci else [])
    columns += ["is_baseline", "is_derived", "n_prompts"]
    return [c for c in columns if c in table.columns]


def cmd_leaderboard(args) -> int:
    from .evaluation import LEADERBOARD_ETAS, rms_not_beating_length
    from .readings import no_bon_note
    from .scorers import BASELINE_LENGTH

    ev = evaluation(args)
    with Progress("leaderboard", unit="RM") as bar:
        board = ev.leaderboard(n=args.n, ci=args.ci, seed=args.seed, progress=bar.update)
    table = board.table
    out = table[leaderboard_columns(table, args.ci)]
    report_excluded(board.excluded)
    for rm in rms_not_beating_length(table):
        note(f"warning: {rm} does not beat the length baseline: its RETA(eta*) is not above "
             f"{BASELINE_LENGTH}'s")
    if args.format == "table":
        shown = out.assign(rm=[f"{r} (baseline)" if b else f"{r} (derived)" if d else r
                               for r, b, d in zip(out["rm"], out["is_baseline"], out["is_derived"])]
                           ).drop(columns=["is_baseline", "is_derived"])
        fmt = {c: ".4f" for c in shown.columns if c not in ("rm", "eta_star", "n_prompts")}
        fmt.update(eta_star=".3g", n_prompts=",")
        header = _describe(args, ev.oracle, f" · BoN@{board.n} · min N = {board.min_pool_size}"
                                            + (" · 95 % bootstrap bands" if args.ci else ""))
        footer = ("Sorted by RETA(eta*); eta* is where the RM's pool curve peaks (docs/metric.md §7), "
                  "reta_X is RETA at eta = X.\n")
        low = [f"reta_{e:g}" for e in LEADERBOARD_ETAS if e < ev.lowest_eta - 1e-12]
        if low:
            footer += (f"{', '.join(low)}: eta below 1/min N = 1/{board.min_pool_size}, so these are the "
                       "top-1 value (docs/metric.md §3).\n")
        if board.without_bon:
            footer += (f"bon -: {no_bon_note(map(show, board.without_bon), board.n, 'a smaller --n gives it a value')}"
                       "\n")
        emit(render(shown, "table", fmt, header=header, footer=footer), args.out)
    else:
        meta = metadata(ev, estimator="pool", n=board.n, etas=ev.eta_grid(include=LEADERBOARD_ETAS),
                        bootstrap=multinomial_bootstrap(DEFAULT_BOOTSTRAP, args.seed) if args.ci else None)
        emit(render(out, args.format, meta=meta), args.out)
    return 0


EXIT_NOT_BETTER = 3  # compare --require-better: the candidate is not significantly better


def cmd_compare(args) -> int:
    base, candidate = _two_rms(args)
    if args.at is not None and not args.require_better:
        raise UsageError("compare: --at goes with --require-better")
    ev = evaluation(args, rms=[base, candidate])
    at = None if args.at is None else float(parse_etas(args.at)[0])
    etas = parse_etas(args.eta) if args.eta is not None else ev.standard_etas()
    if at is not None:
        etas = np.unique(np.concatenate([etas, [at]]))
    result = ev.compare(candidate, base, etas, n_boot=args.repeats, seed=args.seed)
    table = result.table.rename(columns={"p_a_better": "p_candidate_better", "significant": "significant_simultaneous"})
    table = table.assign(below_min_eta=table["eta"] < ev.lowest_eta - 1e-12)
    out = table[["eta", "diff", "ci_low", "ci_high", "sim_low", "sim_high", "p_candidate_better",
                 "significant_pointwise", "significant_simultaneous", "n_prompts", "below_min_eta"]]
    report_excluded(result.excluded)
    verdict, status = _verdict(out, candidate, base, at) if args.require_better else ("", 0)
    if args.format == "table":
        fmt = {"eta": ".4g", "diff": "+.4f", "ci_low": "+.4f", "ci_high": "+.4f", "sim_low": "+.4f",
               "sim_high": "+.4f", "p_candidate_better": ".3f", "n_prompts": ","}
        header = _describe(args, ev.oracle, f" · diff = {candidate} - {base} · 95 % bootstrap over prompts "
                                            f"(B = {args.repeats}, seed {args.seed})")
        footer = ("ci: pointwise interval at each eta; sim: simultaneous band over all the etas shown "
                  "(docs/metric.md §6): a claim over several etas needs the simultaneous band.\n")
        shown = out.drop(columns="below_min_eta")
        emit(render(shown, "table", fmt, header=header, footer=footer), args.out)
    else:
        meta = metadata(ev, estimator="pool", base=base, candidate=candidate, etas=out["eta"],
                        bootstrap=multinomial_bootstrap(args.repeats, args.seed, paired=True),
                        require_better=bool(args.require_better), at=at,
                        verdict=verdict or None)
        emit(render(out, args.format, meta=meta), args.out)
    if verdict:
        note(verdict)
    return status


def _two_rms(args) -> tuple[str, str]:
    if not args.rm or len(args.rm) != 2:
        raise UsageError("compare: give exactly two RMs: --rm BASE --rm CANDIDATE")
    return args.rm[0], args.rm[1]


def _verdict(table: pd.DataFrame, candidate: str, base: str, at: float | None) -> tuple[str, int]:
    """The gate of ``--require-better``: at one eta its pointwise interval, over the
    range its simultaneous band, must lie above 0."""
    if at is not None:
        row = table.loc[np.isclose(table["eta"], at)].iloc[0]
        better = bool(row["ci_low"] > 0)
        where = (f"at eta = {at:g} (diff {row['diff']:+.4f}, 95 % interval {row['ci_low']:+.4f} to "
                 f"{row['ci_high']:+.4f})")
    else:
        better = bool((table["sim_low"] > 0).all())
        where = (f"over eta = {', '.join(f'{e:g}' for e in table['eta'])} by the simultaneous 95 % band "
                 f"(lowest bound {table['sim_low'].min():+.4f})")
    if better:
        return f"{candidate} is significantly better than {base} {where}.", 0
    return (f"{candidate} is not significantly better than {base} {where}; exit status {EXIT_NOT_BETTER}.",
            EXIT_NOT_BETTER)


def chart_format(out: str) -> str:
    """The export format named by ``--out``'s extension (checked before any work)."""
    from .export import CHROME_MISSING_HELP, IMAGE_FORMATS, find_chrome

    suffix = Path(out).suffix.lower().lstrip(".")
    if suffix not in CHART_EXTENSIONS:
        raise RetaInputError(f"{out}: unknown extension {('.' + suffix) if suffix else '(none)'!r}; "
                             "use one of " + ", ".join("." + e for e in CHART_EXTENSIONS))
    if suffix in IMAGE_FORMATS and find_chrome() is None:
        raise RetaInputError(f"{out}: cannot export {suffix.upper()}: {CHROME_MISSING_HELP}")
    return suffix


def cmd_export_chart(args) -> int:
    from . import chart_export, charts, export

    fmt = chart_format(args.out)
    if args.n is not None and (args.chart != "curves" or args.estimator != "exact"):
        raise UsageError("export-chart: --n applies to --chart curves --estimator exact")
    if args.prompt is not None and args.chart != "inspector":
        raise UsageError("export-chart: --prompt applies to --chart inspector")
    eta = float(parse_etas(args.eta)[0]) if args.eta is not None else None
    needs_all = args.chart in ("scores",)
    ev = evaluation(args, rms=None if needs_all else args.rm)
    store = _store(args)
    stored = store.benchmark_info(args.benchmark)["rms"]
    options = chart_export.ChartOptions(
        rms=args.rm, colors=charts.rm_colors([r["name"] for r in stored], [r["name"] for r in stored if r.get("is_derived")]),
        estimator=args.estimator, n=args.n, eta=eta, bins=args.bins, kind=args.kind, repeats=args.repeats,
        seed=args.seed, metric=args.metric, prompt=args.prompt,
        texts=store.load_responses(args.benchmark, args.prompt) if args.chart == "inspector" and args.prompt else None)
    with Progress(args.chart, unit="step") as bar:
        options.progress = bar.update
        fig, table = chart_export.build(ev, args.chart, options)
    path = Path(args.out).expanduser()
    if fmt == "csv":
        emit(export.table_to_csv_bytes(table).decode("utf-8"), str(path))
        return 0
    export.write_figure(fig, path)
    note(f"wrote {path}")
    return 0


def _confirm(question: str) -> bool:
    sys.stderr.write(question + " [y/N] ")
    sys.stderr.flush()
    answer = sys.stdin.readline()
    return answer.strip().lower() in ("y", "yes")


def _stdin_tty() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError, OSError):
        return False


def cmd_remove(args) -> int:
    store = _store(args)
    info = store.benchmark_info(args.benchmark)  # unknown benchmark: RetaInputError
    if args.rm is not None:
        store.load_pool(args.benchmark, oracles=[], rms=[args.rm])  # unknown RM: RetaInputError
        what = f"RM {args.rm!r} and its scores from benchmark {args.benchmark!r}"
    else:
        what = (f"benchmark {args.benchmark!r} ({info['n_prompts']:,} prompts, "
                f"{info['n_responses']:,} responses, {len(info['rms'])} RMs)")
    if not args.yes:
        if not _stdin_tty():
            raise UsageError(f"remove: not asking for confirmation without a terminal; add "
                             f"--yes to remove {what}")
        if not _confirm(f"Remove {what} from {store.path}?"):
            note("nothing removed")
            return 0
    if args.rm is not None:
        store.remove_rm(args.benchmark, args.rm)
    else:
        store.remove_benchmark(args.benchmark)
    print(f"Removed {what}.")
    if args.vacuum:
        return cmd_vacuum(args)
    free = store.free_bytes()
    if free >= VACUUM_HINT_BYTES:  # DuckDB never gives freed space back by itself
        note(f"note: {_megabytes(free)} of {store.path} is free space; `{PROG} vacuum` "
             "gives it back")
    return 0


VACUUM_HINT_BYTES = 8 * 2**20  # remove mentions `vacuum` when at least this much is free


def _megabytes(n_bytes: int) -> str:
    return f"{n_bytes / 10**6:,.1f} MB"


def cmd_vacuum(args) -> int:
    store = _store(args)
    before, after = store.vacuum()
    print(f"Compacted {store.path}: {_megabytes(before)} -> {_megabytes(after)}"
          f" ({_megabytes(max(before - after, 0))} given back).")
    return 0


# ------------------------------------------------------------------------ parser
def _formatter(prog):
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=30)


def _examples(*lines: str) -> str:
    return "examples:\n" + "\n".join(f"  {PROG} {line}" for line in lines)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", metavar="PATH", default=argparse.SUPPRESS,
                        help="the database file (default: $RETA_DB, else data/reta.duckdb in a checkout, "
                             "else ~/.local/share/reta-explorer/reta.duckdb)")
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the traceback of an unexpected failure (or RETA_DEBUG=1)")

    parser = _Parser(
        prog=PROG, formatter_class=_formatter,
        description=textwrap.fill("RETA Explorer: how far can a reward model be trusted? RETA (Chen et al. "
                    "2025, arXiv 2504.14838) is the mean oracle score of the responses an RM "
                    "ranks in its top eta, relative to the pool mean.", 88),
        epilog=_examples("demo", "list", "reta --benchmark demo --eta 0.05,0.1,0.25",
                         "leaderboard --benchmark demo",
                         "export-chart --benchmark demo --chart curves --out curves.html")
        + "\n\nExit status: 0 success, 2 bad input or usage, 1 unexpected failure (a bug).")
    parser.add_argument("--db", metavar="PATH", default=None,
                        help="the database file (default: $RETA_DB, else data/reta.duckdb in a checkout, "
                             "else ~/.local/share/reta-explorer/reta.duckdb)")
    parser.add_argument("--debug", action="store_true", default=False,
                        help="show the traceback of an unexpected failure (or RETA_DEBUG=1)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")

    def command(name, func, help_text, description, examples):
        p = sub.add_parser(name, parents=[common], help=help_text,
                           description=textwrap.fill(description, 88),
                           epilog=_examples(*examples), formatter_class=_formatter)
        p.set_defaults(func=func)
        return p

    def fmt_out(p, choices=FORMATS):
        p.add_argument("--format", choices=choices, default="table",
                       help="output format (default: table)")
        p.add_argument("--out", metavar="FILE",
                       help="write the result to FILE (atomically) instead of stdout")

    p = command("demo", cmd_demo, "build the synthetic demo benchmark",
                "Generate the seeded synthetic demo benchmark (six RMs of known character and "
                "two baselines) and import it, then print the import report.",
                ["demo", "demo --prompts 40 --responses 8 --benchmark small --replace"])
    p.add_argument("--benchmark", default="demo", metavar="NAME",
                   help="benchmark name (default: demo)")
    p.add_argument("--prompts", type=_int_at_least(1), default=400, metavar="N",
                   help="number of prompts (default: 400)")
    p.add_argument("--responses", type=_int_at_least(2), default=64, metavar="N",
                   help="responses per prompt (default: 64)")
    p.add_argument("--seed", type=_int_at_least(0), default=0, help="random seed (default: 0)")
    p.add_argument("--replace", action="store_true", help="replace a benchmark of that name")

    p = command("ingest", cmd_ingest, "import a benchmark file",
                "Import a benchmark file (CSV, Parquet or JSON Lines; one row per response with "
                "prompt_id, response_id and oracle columns; optional prompt, response, "
                "category, policy) in one validated all-or-nothing transaction. Without --rm, "
                "every other numeric column becomes an RM (the report says which); --no-rms "
                "imports none. Baseline scorers (length, random) are added when the file has "
                "response texts.",
                ["ingest data/example_benchmark.csv --benchmark example --oracle judge_score",
                 "ingest pool.jsonl.gz --benchmark alpaca --oracle gpt4_turbo_preference --no-rms"])
    p.add_argument("file", metavar="FILE", help="the benchmark file")
    p.add_argument("--benchmark", required=True, metavar="NAME", help="benchmark name")
    p.add_argument("--oracle", required=True, action="append", metavar="COL",
                   help="an oracle column (repeatable; the first is the default oracle)")
    rm = p.add_mutually_exclusive_group()
    rm.add_argument("--rm", action="append", metavar="COL",
                    help="an RM score column (repeatable; default: every other numeric column)")
    rm.add_argument("--no-rms", action="store_true",
                    help="take no RM from the file (e.g. when it has numeric metadata such as "
                         "sample_index)")
    p.add_argument("--no-baselines", action="store_true",
                   help="do not add the baseline_length and baseline_random scorers")
    p.add_argument("--description", metavar="TEXT", help="a description of the benchmark")
    p.add_argument("--replace", action="store_true",
                   help="replace a benchmark of that name (with all its RMs)")

    p = command("add-scores", cmd_add_scores, "add an RM's scores to a benchmark",
                "Add one reward model's scores to a benchmark: a file with response_id and "
                "one score column (optionally prompt_id, which must agree).",
                ["add-scores data/example_rm_scores.csv --benchmark example --rm my_rm"])
    p.add_argument("file", metavar="FILE", help="the RM score file")
    p.add_argument("--benchmark", required=True, metavar="NAME", help="benchmark name")
    p.add_argument("--rm", required=True, metavar="NAME", help="the RM's name")
    p.add_argument("--score-column", metavar="COL",
                   help="the score column (default: the one column besides the ids)")
    p.add_argument("--description", metavar="TEXT", help="a description of the RM")
    p.add_argument("--replace", action="store_true", help="replace an RM of that name")

    p = command("ensemble", cmd_ensemble, "add a derived RM combining stored RMs",
                "Add a derived RM (an ensemble, docs/metric.md §11) computed from two or more "
                "stored RMs on the responses all of them scored: zmean (default) averages each "
                "member's scores standardised within the prompt; rankmean averages their "
                "mid-ranks within the prompt. It is stored like any RM, marked as derived, its "
                "members and method in its description, and every command treats it like any "
                "other RM.",
                ["ensemble --benchmark demo --rm strong_rm --rm noisy_small_rm --name strong+noisy",
                 "ensemble --benchmark demo --rm strong_rm --rm length_biased_rm --method rankmean "
                 "--name strong+length_ranks"])
    p.add_argument("--benchmark", required=True, metavar="NAME", help="benchmark name")
    p.add_argument("--rm", required=True, action="append", metavar="NAME",
                   help="a member RM (repeat it: at least two)")
    p.add_argument("--method", choices=ENSEMBLE_METHODS, default=DEFAULT_METHOD,
                   help="zmean (default): mean of per-prompt z-scores; rankmean: mean of "
                        "per-prompt mid-ranks")
    p.add_argument("--name", required=True, metavar="NAME", help="the derived RM's name")
    p.add_argument("--replace", action="store_true", help="replace an RM of that name")

    _import_command(command)

    p = command("list", cmd_list, "list the benchmarks, their oracles and RMs",
                "List the stored benchmarks with their oracles (the default marked), RMs "
                "(baselines and derived RMs marked), categories and pool sizes.",
                ["list", "list --format json"])
    p.add_argument("--format", choices=("table", "json"), default="table",
                   help="output format (default: table)")

    p = command("reta", cmd_reta, "RETA curves of RMs",
                "RETA of the chosen RMs (default: all) at the chosen etas (default: the "
                "§10 grid of docs/metric.md). Estimators: pool (§3, default), exact at sample size n "
                "(§4), resample at n (§5; reta is the resampled mean, with its std). n defaults "
                "to the smallest pool. Prompts that do not count are reported on stderr.",
                ["reta --benchmark demo --eta 0.05,0.1,0.25",
                 "reta --benchmark demo --rm strong_rm --ci --format json",
                 "reta --benchmark demo --estimator exact --n 16 --eta 0.25 --format csv --out r.csv",
                 "reta --benchmark demo --estimator resample --n 16 --repeats 500 --seed 1",
                 "reta --benchmark big --memory-limit 2GB --ci",
                 "reta --parquet parts/ --oracle judge_score --engine ray --ray-address auto"])
    p.add_argument("--benchmark", metavar="NAME",
                   help="benchmark name (or --parquet for a partitioned benchmark)")
    p.add_argument("--rm", action="append", metavar="NAME", help="an RM (repeatable; default: all)")
    _oracle_options(p)
    p.add_argument("--eta", metavar="ETAS",
                   help="comma-separated etas in (0, 1] (default: the §10 grid)")
    p.add_argument("--estimator", choices=ESTIMATORS, default="pool",
                   help="pool (default), exact or resample")
    p.add_argument("--n", type=int, metavar="N",
                   help="sample size for exact / resample (default: the smallest pool)")
    p.add_argument("--ci", action="store_true",
                   help="add 95 %% bootstrap bands over prompts (ci_low, ci_high)")
    p.add_argument("--repeats", type=int, metavar="B",
                   help=f"bootstrap resamples with --ci (default {DEFAULT_BOOTSTRAP}) or "
                        f"repeats with resample (default {DEFAULT_REPEATS})")
    p.add_argument("--seed", type=_int_at_least(0), default=0, help="random seed (default: 0)")
    _streaming_options(p)
    fmt_out(p)

    p = command("export-partitions", cmd_export_partitions, "write a benchmark as Parquet partitions",
                "Write a stored benchmark as Parquet files in the ingest long format (prompt_id, "
                "response_id, one column per oracle and RM), each holding a range of whole prompts: "
                "the input of `reta --parquet DIR` and `reta --engine ray` (copy the folder to the "
                "cluster's storage).",
                ["export-partitions --benchmark demo --out parts/ --partitions 8",
                 "reta --parquet parts/ --oracle judge_score --engine ray"])
    p.add_argument("--benchmark", required=True, metavar="NAME", help="benchmark name")
    p.add_argument("--out", required=True, metavar="DIR", help="a new (or empty) folder")
    p.add_argument("--partitions", type=_int_at_least(1), default=16, metavar="K",
                   help="number of files (default: 16)")

    p = command("leaderboard", cmd_leaderboard, "one row per RM: RETA, eta*, BoN, baselines",
                "Per RM: pairwise accuracy, Spearman, Kendall, BoN@n (n: the smallest pool by "
                "default), eta* and RETA(eta*), RETA at 0.05, 0.1, 0.25, 0.5; sorted by "
                "RETA(eta*). Warns on stderr when a real RM does not beat the length baseline.",
                ["leaderboard --benchmark demo", "leaderboard --benchmark demo --ci --format csv"])
    p.add_argument("--benchmark", required=True, metavar="NAME", help="benchmark name")
    _oracle_options(p)
    p.add_argument("--n", type=int, metavar="N", help="n of BoN@n (default: the smallest pool)")
    p.add_argument("--ci", action="store_true",
                   help="add 95 %% bootstrap bands (columns *_low, *_high)")
    p.add_argument("--seed", type=_int_at_least(0), default=0, help="bootstrap seed with --ci (default: 0)")
    fmt_out(p)

    p = command("compare", cmd_compare, "is one RM significantly better than another?",
                "Paired comparison of a candidate RM with a base RM on the prompts that count for "
                "both (docs/metric.md §6): per eta the difference CANDIDATE - BASE, its pointwise 95 % "
                "bootstrap interval, the simultaneous 95 % band over all the etas shown and "
                "P(CANDIDATE > BASE). Default etas: 0.05, 0.1, 0.25, 0.5 (those >= 1/min N). With "
                "--require-better the exit status is 0 when the candidate is significantly better (at "
                "--at ETA by its interval there; without --at at every eta shown, by the simultaneous "
                f"band) and {EXIT_NOT_BETTER} when it is not, so a CI job can gate on it. Leave eta = 1 "
                "out: there every RM's RETA is the same.",
                ["compare --benchmark demo --rm random_rm --rm strong_rm",
                 "compare --benchmark demo --rm baseline_length --rm strong_rm --require-better",
                 "compare --benchmark demo --rm random_rm --rm strong_rm --require-better --at 0.1 "
                 "--format json"])
    p.add_argument("--benchmark", required=True, metavar="NAME", help="benchmark name")
    p.add_argument("--rm", action="append", metavar="NAME",
                   help="the base RM, then the candidate RM (give --rm twice)")
    _oracle_options(p)
    p.add_argument("--eta", metavar="ETAS", help="comma-separated etas in (0, 1] (default 0.05,0.1,0.25,0.5)")
    p.add_argument("--require-better", action="store_true",
                   help=f"exit {EXIT_NOT_BETTER} unless the candidate is significantly better")
    p.add_argument("--at", metavar="ETA", help="with --require-better: decide at this eta alone")
    p.add_argument("--repeats", type=_int_at_least(1), default=DEFAULT_BOOTSTRAP, metavar="B",
                   help=f"bootstrap resamples (default {DEFAULT_BOOTSTRAP})")
    p.add_argument("--seed", type=_int_at_least(0), default=0, help="bootstrap seed (default: 0)")
    fmt_out(p, ("table", "json", "csv"))

    p = command("export-chart", cmd_export_chart, "write a chart to a file",
                "Write one of the dashboard's charts, drawn by the same figure builder as the page, "
                "to FILE; the format is the extension: .html (always), .png/.svg/.pdf (need Chrome or "
                "Chromium), .csv (the data behind the chart). Charts: curves (RETA curves with 95 % "
                "bands, the perfect ranking, eta below 1/min N shaded; --eta draws a marker), "
                "difference (two RMs, paired, with pointwise and simultaneous bands), reliability "
                "(the reliability map; --bins, --kind heatmap), stability and convergence (the "
                "resampling study at --eta), category (RETA at --eta per category), inspector (one "
                "RM on one --prompt at --eta), scores (score distributions).",
                ["export-chart --benchmark demo --chart curves --out curves.html",
                 "export-chart --benchmark demo --chart curves --rm strong_rm --eta 0.1 --out curves.png",
                 "export-chart --benchmark demo --chart difference --rm strong_rm --rm random_rm --out d.svg",
                 "export-chart --benchmark demo --chart reliability --kind heatmap --out map.html",
                 "export-chart --benchmark demo --chart inspector --rm strong_rm --prompt demo-p00007 "
                 "--eta 0.25 --out p7.html"])
    p.add_argument("--benchmark", required=True, metavar="NAME", help="benchmark name")
    p.add_argument("--chart", required=True, choices=CHARTS,
                   help="the chart: " + ", ".join(CHARTS))
    p.add_argument("--rm", action="append", metavar="NAME", help="an RM (repeatable; default: all)")
    _oracle_options(p)
    p.add_argument("--estimator", choices=("pool", "exact"), default="pool",
                   help="curves: pool (default) or exact")
    p.add_argument("--n", type=int, metavar="N",
                   help="curves, exact estimator: sample size (default: the smallest pool)")
    p.add_argument("--eta", metavar="ETA",
                   help="curves/difference: a marker; category/stability/convergence/inspector: the eta "
                        "(default 0.1)")
    p.add_argument("--bins", type=_int_at_least(1), metavar="K",
                   help="reliability: bins (default min(20, smallest pool))")
    p.add_argument("--kind", choices=("lines", "heatmap"), default="lines", help="reliability: lines or heatmap")
    p.add_argument("--repeats", type=_int_at_least(2), default=DEFAULT_REPEATS, metavar="B",
                   help=f"stability/convergence: resamples per n (default {DEFAULT_REPEATS})")
    p.add_argument("--seed", type=_int_at_least(0), default=0, help="stability/convergence: seed (default 0)")
    p.add_argument("--metric", choices=("std", "cv"), default="std", help="stability: std or cv")
    p.add_argument("--prompt", metavar="ID", help="inspector: the prompt id")
    p.add_argument("--out", required=True, metavar="FILE",
                   help="the file to write: .html, .png, .svg, .pdf or .csv")

    p = command("remove", cmd_remove, "remove a benchmark or one of its RMs",
                "Remove a benchmark (with everything in it), or with --rm one RM and its "
                "scores. Asks for confirmation on a terminal; elsewhere --yes is required.",
                ["remove --benchmark demo --rm random_rm --yes", "remove --benchmark demo"])
    p.add_argument("--benchmark", required=True, metavar="NAME", help="benchmark name")
    p.add_argument("--rm", metavar="NAME", help="remove only this RM")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.add_argument("--vacuum", action="store_true",
                   help="then compact the database file (see `vacuum`)")

    command("vacuum", cmd_vacuum, "compact the database file",
            "Compact the database file: DuckDB keeps the space a removed benchmark or RM, or "
            "a failed or killed write, leaves behind and never shrinks the file by itself. "
            "This copies the content into a fresh file and puts it in the old one's place "
            "(atomically, holding the database's write lock: it waits for, or reports, a "
            "program using the file). Content and results stay the same.",
            ["vacuum", "remove --benchmark demo --rm random_rm --yes --vacuum"])

    from .scoring.commands import add_commands  # export-pool, score, label (issue 10)

    add_commands(command)
    return parser


def _oracle_options(p) -> None:
    p.add_argument("--oracle", metavar="NAME", help="the oracle (default: the benchmark's)")
    p.add_argument("--category", metavar="NAME", help="only the prompts of this category")
    p.add_argument("--normalization", choices=NORMALIZATIONS, default="ratio",
                   help="ratio (default), difference, raw or recovery (docs/metric.md §3)")


def _streaming_options(p) -> None:
    """reta's options for benchmarks larger than memory and for Ray (issue 12)."""
    p.add_argument("--parquet", metavar="PATH",
                   help="a partitioned benchmark instead of --benchmark: a folder, glob or file of "
                        "Parquet partitions (every prompt's rows in one file; see export-partitions)")
    p.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local (default) or ray: the per-prompt kernels as Ray Data tasks over "
                        "--parquet partitions")
    p.add_argument("--memory-limit", metavar="SIZE",
                   help="e.g. 2GB: stream the benchmark in chunks of prompts sized to stay under it "
                        "(when it would not fit in memory); KB, MB, GB, TB are powers of 1024, a bare "
                        "number is bytes")
    p.add_argument("--chunk-prompts", type=_int_at_least(1), metavar="N",
                   help="stream the benchmark N prompts at a time (with --memory-limit: instead of "
                        "the chunk it would choose; the limit still caps DuckDB's buffers)")
    p.add_argument("--bootstrap", choices=("multinomial", "poisson"),
                   help="the bootstrap of --ci bands: multinomial (default in memory) or poisson "
                        "(docs/metric.md §6; always used when streaming or on Ray)")
    p.add_argument("--ray-address", metavar="ADDRESS",
                   help="with --engine ray: an existing cluster (e.g. auto or ray://head:10001; "
                        "default $RAY_ADDRESS, else a local instance)")
    p.add_argument("--num-cpus", type=_int_at_least(1), metavar="N",
                   help="with --engine ray and no cluster: CPUs of the local instance (default: all)")


def _int_at_least(low: int):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= {low}")
        return value
    return parse


# ------------------------------------------------------------------------ main
def main(argv=None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); returns the exit
    status instead of exiting, so tests can call it in-process."""
    from .store import committed_writes

    guard = sys.stdout = _GuardedOutput(sys.stdout)
    writes_before = committed_writes()
    parser = build_parser()
    debug = os.environ.get("RETA_DEBUG", "").strip() not in ("", "0")
    command = None
    try:
        args = parser.parse_args(argv)
        debug = debug or getattr(args, "debug", False)
        command = args.command
        if command is None:
            raise UsageError(f"no command given; see `{PROG} --help`")
        return args.func(args)
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else 0
    except RetaInputError as exc:
        note(f"error: {one_line(exc)}")
        return 2
    except KeyboardInterrupt:
        note("error: interrupted")
        return 130
    except BrokenPipeError:  # e.g. `... | head`: the reader left, nothing to report
        try:
            sys.stdout = io.TextIOWrapper(open(os.devnull, "wb"))
        except OSError:
            pass
        return 0
    except OutputRefused as exc:  # the machine's or the user's doing: exit 2, not a bug
        note(f"error: {exc}{_changed_note(writes_before)}")
        return 2
    except Exception as exc:  # noqa: BLE001 (the bug boundary)
        return _unexpected(exc, command, debug)
    finally:
        if sys.stdout is guard:  # (a reader that left replaced it with os.devnull)
            sys.stdout = guard.stream


def _changed_note(writes_before: int) -> str:
    from .store import committed_writes

    return " (the database had been updated before that)" if committed_writes() != writes_before else ""


class OutputRefused(Exception):
    """The system refused to write the standard output: a full disk, a closed descriptor."""

    def __init__(self, reason: str):
        super().__init__(f"cannot write the standard output: {reason}")


class _GuardedOutput:
    """``sys.stdout`` while :func:`main` runs: a write or flush the system refuses
    becomes :class:`OutputRefused` (one line, exit 2) while any other failure stays a
    bug; a reader that left (``BrokenPipeError``) passes through.  ``stream`` is None
    when the program was started with stdout closed (``>&-``)."""

    def __init__(self, stream):
        self.stream = stream

    def _guarded(self, method: str, *args):
        if self.stream is None:
            raise OutputRefused("it is closed")
        try:
            return getattr(self.stream, method)(*args)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise OutputRefused(exc.strerror or one_line(exc)) from exc

    def write(self, text):
        return self._guarded("write", text)

    def flush(self):
        return self._guarded("flush")

    def __getattr__(self, name):
        return getattr(self.stream, name)


def _unexpected(exc: Exception, command, debug: bool) -> int:
    """A bug: one line asking for a report (the traceback with ``--debug``), exit 1."""
    if debug:
        traceback.print_exc(file=sys.stderr)
    where = f" in {command}" if command else ""
    note(f"error: unexpected failure{where}: {type(exc).__name__}: {one_line(exc)} "
         "(please report)")
    return 1


def main_exit() -> None:
    """The ``reta`` console command (``pip install .``) and ``python -m reta_core``:
    :func:`main`, then exit with its status.

    The exit skips the interpreter's teardown, which frees every object one by one and
    hands the memory back to the system page by page: about 0.15 s after a benchmark of
    12.8 million scores, a tenth of a whole ``reta`` run (mypy's fast exit does the
    same).  Exit handlers (Ray's shutdown, temporary files) run first and the output is
    flushed; while a non-daemon thread is still running, the normal exit waits for it.
    """
    status = main()
    if any(t.is_alive() and not t.daemon for t in threading.enumerate()
           if t is not threading.main_thread()):
        sys.exit(status)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        if stream is None:  # started closed (`>&-`)
            continue
        try:
            (_GuardedOutput(stream) if stream is sys.stdout else stream).flush()
        except (OSError, ValueError):  # a reader that left (`| head`), a closed stream, a full stderr
            pass
        except OutputRefused as exc:  # the rest of the output did not reach the file (a full disk)
            if not status:
                note(f"error: {exc}{_changed_note(0)}")
                status = 2
    os._exit(status)
