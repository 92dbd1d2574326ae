"""Public benchmarks in: the published per-response results of RewardMATH, RewardBench 2,
PPE best-of-K and AlpacaEval, read into the long format of :mod:`reta_core.ingest` and
imported through it (the same checks, the same all-or-nothing write, the same report).

One reader per format, each a pure function from the published files to a
:class:`PublicPool`: the long table (one row per response: ``prompt_id``,
``response_id``, ``prompt``, ``response``, ``category``, ``policy``, the oracle column
and one column per RM) and what the report should add: every file or row left out with
its reason, and notes.  :func:`import_public` imports it with
:func:`reta_core.ingest.import_frame`, so a failed import leaves the database
byte-for-byte unchanged.  The layouts (README, "Public benchmarks", says where to
download them):

``rewardmath``
    RewardMATH's ``results/RewardMATH/<scorer>_reward.json``: one scorer per file, a JSON
    list of ``{problem, solution_reference, score}``; ``solution_reference`` names the
    source (policy) of each of the problem's solutions, ``score`` holds one number per
    solution or, for a process RM, one list of per-step numbers per solution (aggregated
    by ``step_aggregate``: min, mean, last or prod).  Solution 0 is the correct one: the
    oracle ``correct`` is 1 for it and 0 for the others.  Problems are matched across
    files by their text; ``*_pairwise_reward.json`` files (pairwise verdicts) are
    skipped.  Optional ``texts``: the benchmark's own file (one object per solution:
    ``problem``, ``eval_solution`` (step strings), ``solution_reference``,
    ``solution_type`` chosen|rejected) gives the response texts.
``rewardbench2``
    RewardBench 2's ``eval-set-scores/<org>/<model>.json``: a JSON object of columns, one
    entry per prompt (``id``, ``subset``, ``text``: the completions, each a list of chat
    messages or a string, ``scores``, ``num_correct``: the first ``num_correct``
    completions are correct), plus the scalar ``model``.  Oracle ``correct``, category
    ``subset``; one RM per file (the ``model`` field, else ``org/model``).  A file found
    in a folder without ``scores`` (a generative judge's verdicts only) is skipped.
``ppe``
    PPE's best-of-K sets (Parquet): one row per (question, policy) with ``question_id``,
    ``model_name``, ``prompt``, ``response_1`` ... ``response_K``, ``scores`` (K
    correctness booleans).  Oracle ``correct``, category the set (the file, or for
    ``data/train-*.parquet`` the dataset's folder, ``PPE-`` and ``-Best-of-K`` dropped).
    No RM scores: a pool to score, or to add scores to with ``add-scores``.
``alpacaeval``
    AlpacaEval's ``results/<model>/<annotator>/annotations.json``: records with
    ``instruction``, ``output_1``, ``generator_1`` (the reference), ``output_2``,
    ``generator_2``, ``preference`` in [1, 2].  Each instruction's pool holds the
    ``output_2`` of every model given; the oracle ``win_prob = preference - 1`` is the
    probability that the response beats the reference.  Files of one annotator only
    (the one most files use; the others are skipped).

Ids derive from positions: a prompt is numbered by its first appearance (files read in
the order given, a folder's files in name order; RewardMATH with ``texts``: that file's
order), a response by its index in the prompt's list (RewardBench 2 keeps its prompt
``id``; PPE numbers rows per set).  Every failure is one
:class:`~reta_core.errors.RetaInputError` line naming the file and the problem, prompt
or record.  Where the data grows, the work is done by pyarrow, numpy and pandas on whole
columns; Python loops run over files, and over records only to name the one a failed
check found.  A pool that mixes responses of several policies, unlike the paper's pools
(docs/metric.md §1), is pointed out in the notes.
"""
from __future__ import annotations

import fnmatch
import json
import re
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .errors import RetaInputError, one_line, show
from .ingest import ImportReport, import_frame
from .progress import ensure as ensure_progress
from .source import staged_upload

FORMATS = {  # name -> how the README and the page call it
    "rewardmath": "RewardMATH",
    "rewardbench2": "RewardBench 2",
    "ppe": "PPE best-of-K",
    "alpacaeval": "AlpacaEval",
}
LAYOUTS = {  # the published layout of each format, in one line (the page shows it)
    "rewardmath": "results/RewardMATH/<scorer>_reward.json, one scorer per file (pairwise files are "
                  "skipped); optionally RewardMATH's own benchmark file for the response texts.",
    "rewardbench2": "eval-set-scores/<org>/<model>.json, one RM per file, the same prompts in each.",
    "ppe": "the best-of-K Parquet sets (MMLU-Pro, MATH, GPQA, IFEval, MBPP-Plus), e.g. "
           "PPE-MATH-Best-of-K/data/train-00000-of-00001.parquet; no RM scores.",
    "alpacaeval": "results/<model>/<annotator>/annotations.json, one model per file; the oracle is the "
                  "annotator's preference against the reference.",
}
STEP_AGGREGATES = ("min", "mean", "last", "prod")
DEFAULT_STEP_AGGREGATE = "min"
CORRECT = "correct"     # oracle of rewardmath, rewardbench2, ppe
WIN_PROB = "win_prob"   # oracle of alpacaeval
FOLDER_FILES = {  # what a folder contributes (searched below it, hidden folders left out)
    "rewardmath": "*.json",
    "rewardbench2": "*.json",
    "ppe": "*.parquet",
    "alpacaeval": "annotations.json",
}
UPLOAD_TYPES = ("json", "parquet")  # the page's uploader filter
HUB_PREFIX = "hf://"
_HUB_PATH = re.compile(r"^hf://datasets/([^/@]+)/([^/@]+)(?:@([^/]+))?(?:/(.*))?$")
_SHARD = re.compile(r"^(train|test|validation|dev)(-\d+-of-\d+)?$", re.IGNORECASE)


# ------------------------------------------------------------------------ results
@dataclass
class PublicPool:
    """A public benchmark read into ingest's long format (one row per response).

    ``frame``: the long table; ``oracle``: its oracle column; ``rms``: its RM columns;
    ``source``: what the report calls the files read; ``skipped``: ``{"source",
    "reason"}`` for every file or row left out; ``notes``: sentences for the report.
    """

    format: str
    frame: pd.DataFrame
    oracle: str
    rms: list
    source: str
    description: str
    oracle_description: str
    rm_descriptions: dict = field(default_factory=dict)
    skipped: list = field(default_factory=list)
    notes: list = field(default_factory=list)


@dataclass(frozen=True)
class InputFile:
    """One file to read: ``path`` on disk, ``label`` for messages (the name the user
    knows: relative to the folder given, or the hf:// path), ``listed`` when a folder
    contributed it, ``parts`` the path parts that name it (on disk the whole path; in a
    Hugging Face dataset its name and the path inside; an upload its name alone)."""

    path: Path
    label: str
    listed: bool = False
    parts: tuple = ()


# ------------------------------------------------------------------------ entry points
def check_format(fmt) -> str:
    if fmt not in FORMATS:
        raise RetaInputError(f"unknown format {show(fmt)}; choose one of {', '.join(FORMATS)}")
    return fmt


def read_public(fmt: str, paths, *, texts=None, step_aggregate: str | None = None,
                progress=None) -> PublicPool:
    """Read the published files of format ``fmt`` (see the module docstring).

    ``paths``: files, folders or ``hf://datasets/ORG/NAME/...`` paths (or
    :class:`InputFile`).  ``texts`` (rewardmath only): the benchmark's own file, for the
    response texts.  ``step_aggregate`` (rewardmath only): how a process RM's per-step
    scores become one score per solution (default min).  ``progress(done, total,
    message)``: one step per file.
    """
    fmt = check_format(fmt)
    if fmt != "rewardmath" and texts is not None:
        raise RetaInputError(f"a texts file applies to the rewardmath format only, not {fmt}")
    if fmt != "rewardmath" and step_aggregate is not None:
        raise RetaInputError(f"the step aggregate applies to the rewardmath format only, not {fmt}")
    files = input_files(fmt, paths)
    progress = ensure_progress(progress)
    if fmt == "rewardmath":
        texts_file = input_files("rewardmath", [texts])[0] if texts is not None else None
        return read_rewardmath(files, texts_file, step_aggregate or DEFAULT_STEP_AGGREGATE, progress)
    reader = {"rewardbench2": read_rewardbench2, "ppe": read_ppe, "alpacaeval": read_alpacaeval}[fmt]
    return reader(files, progress)


def import_public(store, fmt: str, paths, name: str, *, texts=None, step_aggregate: str | None = None,
                  replace: bool = False, description: str | None = None, baselines: bool = True,
                  progress=None, dry_run: bool = False) -> ImportReport:
    """Read a public benchmark (:func:`read_public`) and import it as benchmark ``name``
    through :func:`reta_core.ingest.import_frame`: the same checks, one transaction, the
    same report, plus the files or rows skipped and the notes.  ``dry_run``: check and
    report, write nothing.  ``progress(done, total, message)`` in percent."""
    progress = ensure_progress(progress)
    progress(0, 100, "reading the files")
    pool = read_public(fmt, paths, texts=texts, step_aggregate=step_aggregate,
                       progress=lambda done, total, msg="": progress(40 * done / max(total, 1), 100, msg))
    report = import_frame(
        store, pool.frame, name, [pool.oracle], rm_cols=pool.rms, replace=replace,
        description=description or pool.description, baselines=baselines,
        progress=lambda done, total, msg="": progress(40 + 60 * done / max(total, 1), 100, msg),
        source_name=pool.source, oracle_descriptions={pool.oracle: pool.oracle_description},
        rm_descriptions=pool.rm_descriptions, dry_run=dry_run)
    report.skipped = list(pool.skipped)
    report.notes = list(pool.notes)
    return report


def import_uploads(store, fmt: str, uploads, name: str, *, paths=(), texts_upload=None,
                   max_bytes: int | None = None, **kwargs) -> ImportReport:
    """Uploaded files, ``[(file name, bytes)]`` (and ``texts_upload``, one such pair),
    with any ``paths``, through :func:`import_public`; each upload is staged under its
    own name (limits and types checked by :func:`reta_core.source.staged_upload`) and
    deleted afterwards."""
    if not uploads and not paths:
        raise RetaInputError("no file given; upload the published files or give a path")
    with ExitStack() as stack:
        files = list(paths)
        for file_name, data in uploads:
            path = stack.enter_context(staged_upload(file_name, data, max_bytes))
            files.append(InputFile(path, path.name, False, (path.name,)))
        texts = None
        if texts_upload is not None:
            texts_path = stack.enter_context(staged_upload(*texts_upload, max_bytes))
            texts = InputFile(texts_path, texts_path.name, False, (texts_path.name,))
        return import_public(store, fmt, files, name, texts=texts, **kwargs)


def listing_stamp(fmt: str, paths) -> tuple:
    """What the files that ``paths`` name look like now (local files: label, size and
    modification time; hf:// paths: the path): a cache key that changes when they do."""
    stamp = []
    for given in paths:
        text = str(given)
        if text.startswith(HUB_PREFIX):
            stamp.append(text)
            continue
        try:
            stamp += [(f.label, f.path.stat().st_size, f.path.stat().st_mtime_ns) for f in _expand(fmt, text)]
        except (RetaInputError, OSError) as exc:
            stamp.append((text, str(exc)))
    return tuple(stamp)


# ------------------------------------------------------------------------ finding the files
def input_files(fmt: str, paths) -> list[InputFile]:
    """The files that ``paths`` name for format ``fmt``: files as given, folders searched
    for :data:`FOLDER_FILES` (in name order), hf:// paths fetched with huggingface_hub.
    A path given twice is read once."""
    if isinstance(paths, (str, Path, InputFile)):
        paths = [paths]
    files, seen = [], set()
    for given in paths:
        for f in _expand(fmt, given):
            key = str(Path(f.path).resolve())
            if key not in seen:
                seen.add(key)
                files.append(f)
    if not files:
        raise RetaInputError(f"no file given for format {fmt}")
    return files


def _expand(fmt: str, given) -> list[InputFile]:
    if isinstance(given, InputFile):
        return [given]
    text = str(given)
    if text.startswith(HUB_PREFIX):
        return _hub_files(fmt, text)
    path = Path(text).expanduser()
    if path.is_dir():
        found = sorted(p for p in path.rglob(FOLDER_FILES[fmt]) if p.is_file()
                       and not any(part.startswith(".") for part in p.relative_to(path).parts))
        if not found:
            raise RetaInputError(f"{text}: no {FOLDER_FILES[fmt]} file in this folder or below it "
                                 f"(format {fmt})")
        return [InputFile(p, f"{path.name}/{p.relative_to(path).as_posix()}", True, p.resolve().parts)
                for p in found]
    if path.is_file():
        return [InputFile(path, path.name, False, path.resolve().parts)]
    raise RetaInputError(f"{text}: no such file or folder")


def _hub_files(fmt: str, text: str) -> list[InputFile]:
    """Files of an ``hf://datasets/ORG/NAME[@REV]/PATH``, fetched into the Hugging Face
    cache.  Without huggingface_hub, or offline, one line saying which file to download
    and where to put it."""
    match = _HUB_PATH.match(text.rstrip("/"))
    if match is None:
        raise RetaInputError(f"{text}: a Hugging Face path reads hf://datasets/ORG/NAME/PATH")
    org, name, revision, inner = match.groups()
    inner = inner or ""
    repo = f"{org}/{name}"
    is_file = inner.endswith((".json", ".parquet"))
    hint = _download_hint(repo, name, revision or "main", inner, is_file)
    try:
        import huggingface_hub as hub
    except ImportError:
        raise RetaInputError(f"{text}: reading hf:// paths needs huggingface_hub (pip install "
                             f"huggingface_hub); or {hint}") from None
    try:
        if is_file:
            names = [inner]
        else:
            prefix = inner.rstrip("/") + "/" if inner else ""
            names = sorted(n for n in hub.list_repo_files(repo, repo_type="dataset", revision=revision)
                           if n.startswith(prefix) and fnmatch.fnmatch(PurePosixPath(n).name, FOLDER_FILES[fmt]))
            if not names:
                raise RetaInputError(f"{text}: no {FOLDER_FILES[fmt]} file there (format {fmt})")
        return [InputFile(Path(hub.hf_hub_download(repo, n, repo_type="dataset", revision=revision)),
                          f"hf://datasets/{repo}/{n}", not is_file, (name,) + PurePosixPath(n).parts)
                for n in names]
    except RetaInputError:
        raise
    except Exception as exc:  # noqa: BLE001 (the hub's boundary: offline, not found, refused)
        raise RetaInputError(f"{text}: cannot fetch it from the Hugging Face Hub "
                             f"({_first_line(exc, 120)}); {hint}") from None


def _download_hint(repo: str, name: str, revision: str, inner: str, is_file: bool) -> str:
    local = f"{name}/{inner}".rstrip("/")
    if is_file:
        return (f"download https://huggingface.co/datasets/{repo}/resolve/{revision}/{inner} and put "
                f"it at {local} (in any folder), then import that path")
    where = f"/tree/{revision}/{inner}" if inner else ""
    return (f"download the files of https://huggingface.co/datasets/{repo}{where} into a folder "
            f"{local} (keeping their names), then import that folder")


def _first_line(exc: Exception, limit: int | None = None) -> str:
    """The first line of an exception's message (cut at ``limit`` characters)."""
    text = str(exc).strip()
    line = one_line(text.splitlines()[0]) if text else type(exc).__name__
    return line if limit is None or len(line) <= limit else line[: limit - 3] + "..."


# ------------------------------------------------------------------------ reading helpers
def _read_json(f: InputFile):
    try:
        with open(f.path, "rb") as handle:
            return json.load(handle)
    except json.JSONDecodeError as exc:
        raise RetaInputError(f"{f.label}: not valid JSON: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RetaInputError(f"{f.label}: cannot be read: {_first_line(exc)}") from None


def _record_frame(f: InputFile, data, fields, what: str) -> pd.DataFrame:
    """A JSON list of objects as a DataFrame of ``fields`` (absent keys are NaN)."""
    if not isinstance(data, list):
        raise RetaInputError(f"{f.label}: expected a JSON list of objects, one per {what}; it "
                             f"holds a JSON {type(data).__name__}")
    if not data:
        raise RetaInputError(f"{f.label}: the list is empty (no {what})")
    is_object = pd.Series(data, dtype=object).map(type).eq(dict).to_numpy()
    if not is_object.all():
        bad = int(np.argmin(is_object))
        raise RetaInputError(f"{f.label}: {what} {bad + 1} is not a JSON object: {show(data[bad])}")
    return pd.DataFrame.from_records(data, columns=list(fields))


def _require(f: InputFile, values, name: str, describe) -> None:
    """Every entry of ``values`` present (not null)."""
    missing = pd.isna(pd.Series(values, dtype=object)).to_numpy()
    if missing.any():
        raise RetaInputError(f"{f.label}: {describe(int(np.argmax(missing)))}: no field {show(name)}")


def _keyed_records(f: InputFile, fields, required, what: str, key: str, name_of):
    """A JSON list of objects, one per ``what``: (the parsed data, a DataFrame of
    ``fields``, the ``key`` texts, ``describe(i)`` naming record i as ``name_of(i, key
    text)``), after checking that ``key`` and every ``required`` field is there."""
    data = _read_json(f)
    frame = _record_frame(f, data, fields, what)
    _require(f, frame[key], key, lambda i: f"{what} {i + 1}")
    keys = _arrow(f, frame[key], key, "a text", _is_text, lambda i: f"{what} {i + 1}")
    keys = keys.to_numpy(zero_copy_only=False).astype(object)

    def describe(i):
        return name_of(i, show(keys[i], 50))

    for name in required:
        _require(f, frame[name], name, describe)
    return data, frame, keys, describe


def _is_number(t) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t) or pa.types.is_null(t)


def _is_text(t) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _is_id(t) -> bool:
    return _is_text(t) or pa.types.is_integer(t)


def _is_list_of(inner):
    return lambda t: pa.types.is_list(t) and inner(t.value_type)


def _is_numbers(t) -> bool:
    return _is_list_of(_is_number)(t)


def _is_scores(t) -> bool:
    """One number per solution, or one list of per-step numbers per solution."""
    return _is_numbers(t) or _is_list_of(_is_numbers)(t)


def _is_texts(t) -> bool:
    return _is_list_of(lambda v: _is_text(v) or pa.types.is_null(v))(t)


def _is_messages(t) -> bool:
    """A chat: a list of ``{role, content}`` objects with text content."""
    return (pa.types.is_list(t) and pa.types.is_struct(t.value_type)
            and t.value_type.get_field_index("content") >= 0
            and (_is_text(t.value_type.field("content").type)
                 or pa.types.is_null(t.value_type.field("content").type)))


def _is_completions(t) -> bool:
    return _is_list_of(lambda v: _is_text(v) or _is_messages(v))(t)


def _arrow(f: InputFile, values, name: str, expected: str, accept, describe) -> pa.Array:
    """``values`` (one per record) as one Arrow array of a type ``accept`` takes, or one
    line naming the first record whose value is not ``expected``."""
    values = list(values) if not isinstance(values, list) else values
    try:
        array = pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
        array = None
    if array is not None and accept(array.type):
        return array
    kinds = []
    for i, value in enumerate(values):  # a failed check only: find the record to name
        try:
            kind = pa.array([value], from_pandas=True).type
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
            kind = None
        if kind is None or not accept(kind):
            raise RetaInputError(f"{f.label}: {describe(i)}: {name} is not {expected}: {show(value)}")
        kinds.append(kind)
        if kind != kinds[0] and not (pa.types.is_null(kind) or pa.types.is_null(kinds[0])):
            try:
                pa.array([values[0], value], from_pandas=True)
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
                raise RetaInputError(f"{f.label}: {describe(i)}: {name} is {_kind(kind)} here but "
                                     f"{_kind(kinds[0])} in {describe(0)}; expected {expected} "
                                     "throughout") from None
    raise RetaInputError(f"{f.label}: {name} mixes values of different kinds; expected {expected}")


def _kind(t) -> str:
    if _is_number(t):
        return "a number"
    if _is_text(t):
        return "a text"
    if pa.types.is_list(t):
        return f"a list of {_kind(t.value_type)[2:]}s" if not pa.types.is_list(t.value_type) else \
            "a list of lists"
    return str(t)


def _floats(array: pa.Array) -> np.ndarray:
    """An Arrow array of numbers (or booleans) as float64, null as NaN."""
    return array.cast(pa.float64()).to_numpy(zero_copy_only=False)


def _flat(list_array: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """(the values of every list, one after the other; each list's length, null as 0)."""
    return pc.list_flatten(list_array), pc.list_value_length(list_array).fill_null(0).to_numpy().astype(np.int64)


def _no_infinity(f: InputFile, values: np.ndarray, owner: np.ndarray, describe, name: str) -> None:
    bad = np.flatnonzero(np.isinf(values))
    if bad.size:
        raise RetaInputError(f"{f.label}: {describe(int(owner[bad[0]]))}: {name} holds an infinite "
                             f"value ({values[bad[0]]})")


def _positions(lengths: np.ndarray) -> np.ndarray:
    """0, 1, ..., n-1 within each run of ``lengths`` (the index inside each list)."""
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    return np.arange(int(lengths.sum())) - starts


def aggregate_steps(values: np.ndarray, lengths: np.ndarray, how: str) -> np.ndarray:
    """One score per solution from its per-step scores: ``values`` holds every step,
    solution after solution, ``lengths`` how many each has; ``how`` one of
    :data:`STEP_AGGREGATES`.  A solution without steps (or with a NaN step, except for
    ``last``) gets NaN: it is not scored (docs/metric.md §1)."""
    if how not in STEP_AGGREGATES:
        raise RetaInputError(f"unknown step aggregate {show(how)}; choose one of {', '.join(STEP_AGGREGATES)}")
    out = np.full(len(lengths), np.nan)
    has = lengths > 0
    if not has.any():
        return out
    starts = (np.cumsum(lengths) - lengths)[has]
    if how == "min":
        out[has] = np.minimum.reduceat(values, starts)
    elif how == "prod":
        out[has] = np.multiply.reduceat(values, starts)
    elif how == "mean":
        out[has] = np.add.reduceat(values, starts) / lengths[has]
    else:
        out[has] = values[starts + lengths[has] - 1]
    return out


def _ids(prefix, numbers: np.ndarray, width: int) -> np.ndarray:
    """``prefix + zero-padded number`` for whole arrays (prefix a string or an array)."""
    digits = pd.Series(numbers).astype(str).str.zfill(width).to_numpy(dtype=object)
    return (np.asarray(prefix, dtype=object) + digits).astype(object)


def _width(n: int, at_least: int = 2) -> int:
    return max(at_least, len(str(max(int(n), 1))))


def _source_label(fmt: str, files) -> str:
    names = [f.label for f in files]
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return f"{FORMATS[fmt]} ({shown})"


def _skip(f: InputFile, reason: str) -> dict:
    return {"source": f.label, "reason": reason}


def policy_note(frame: pd.DataFrame) -> list[str]:
    """A note when pools mix responses of several policies (docs/metric.md §1 assumes
    one policy per pool): ``[]`` or one sentence."""
    if "policy" not in frame or frame["policy"].isna().all():
        return []
    per_prompt = frame.groupby("prompt_id", sort=False)["policy"].nunique()
    mixed = int((per_prompt > 1).sum())
    if not mixed:
        return []
    return [f"{mixed:,} of {len(per_prompt):,} pools mix responses of several policies "
            f"({frame['policy'].nunique():,} in all), unlike the paper's pools, each sampled from "
            "one policy (docs/metric.md §1): RETA here measures how well an RM picks among them."]


def _repeats(f: InputFile, keys: pd.Series, record, what: str, describe) -> np.ndarray:
    """Rows to keep when ``keys`` repeat: an identical repeat is kept once, a repeat that
    disagrees is an error naming the file and the key.  ``record(i)`` is what must agree."""
    again = keys.duplicated(keep="first").to_numpy()
    if not again.any():
        return ~again
    first = pd.Series(np.arange(len(keys))).groupby(keys.to_numpy(), sort=False).transform("first").to_numpy()
    for i in np.flatnonzero(again):  # the repeats only
        j = int(first[i])
        if json.dumps(record(i), sort_keys=True, default=str) != json.dumps(record(j), sort_keys=True, default=str):
            raise RetaInputError(f"{f.label}: {describe(int(i))}: the same {what} as {describe(j)} "
                                 "but with other values; a repeat must be identical")
    return ~again


# ------------------------------------------------------------------------ RewardMATH
def read_rewardmath(files, texts: InputFile | None = None, step_aggregate: str = DEFAULT_STEP_AGGREGATE,
                    progress=None) -> PublicPool:
    """RewardMATH's ``<scorer>_reward.json`` files (module docstring): problems matched
    across files by their text, solution 0 the correct one."""
    if step_aggregate not in STEP_AGGREGATES:
        raise RetaInputError(f"unknown step aggregate {show(step_aggregate)}; choose one of "
                             f"{', '.join(STEP_AGGREGATES)}")
    progress = ensure_progress(progress)
    skipped, notes, scorers = [], [], []
    for f in files:
        base = PurePosixPath(f.label).name
        if base.endswith("_pairwise_reward.json"):
            skipped.append(_skip(f, "pairwise verdicts, not scores"))
        elif base.endswith("_reward.json"):
            scorers.append((base[: -len("_reward.json")], f))
        elif f.listed:
            skipped.append(_skip(f, "not a <scorer>_reward.json file"))
        else:
            scorers.append((PurePosixPath(base).stem, f))
    if not scorers:
        raise RetaInputError(f"{files[0].label}: no RewardMATH score file among the files given "
                             "(<scorer>_reward.json; pairwise files are skipped)")
    _no_twice([name for name, _ in scorers], [f for _, f in scorers], "scorer")
    known = _rewardmath_texts(texts) if texts is not None else None
    tables, descriptions = {}, {}
    for step, (name, f) in enumerate(scorers):
        progress(step, len(scorers) + 1, f"reading {f.label}")
        table, repeats, process = _rewardmath_scores(f, step_aggregate)
        known = _match_solutions(known, table, f, texts)
        tables[name] = table
        descriptions[name] = (f"RewardMATH scores of {name} ({f.label})"
                              + (f"; a process RM: its per-step scores aggregated per solution by "
                                 f"{step_aggregate} (--step-aggregate)" if process else ""))
        if repeats:
            notes.append(f"{f.label}: {repeats:,} repeated problem{'s' if repeats > 1 else ''} "
                         "(identical) kept once.")
        if process:
            notes.append(f"{name} is a process RM: its per-step scores are aggregated per solution by "
                         f"{step_aggregate} (the step aggregate: min, mean, last or prod).")
    progress(len(scorers), len(scorers) + 1, "building the pool")
    problem_no = pd.factorize(known["problem"])[0]
    prompt_ids = _ids("p", problem_no + 1, 5)
    frame = pd.DataFrame({
        "prompt_id": prompt_ids,
        "response_id": _ids(prompt_ids + "-s", known["solution"].to_numpy(), 2),
        "prompt": known["problem"].to_numpy(dtype=object),
        "policy": known["policy"].to_numpy(dtype=object),
        CORRECT: (known["solution"].to_numpy() == 0).astype(float),
    })
    if texts is not None:
        frame["response"] = known["response"].to_numpy(dtype=object)
    else:
        notes.append("No response texts: the Inspector shows ranks and scores only; add RewardMATH's own "
                     "benchmark file as the texts file (--texts FILE) to read the solutions.")
    key = pd.MultiIndex.from_arrays([known["problem"], known["solution"]])
    for name, table in tables.items():
        column = np.full(len(frame), np.nan)
        column[key.get_indexer(pd.MultiIndex.from_arrays([table["problem"], table["solution"]]))] = table["score"]
        frame[name] = column
    notes += policy_note(frame)
    n_problems = int(problem_no.max()) + 1 if len(problem_no) else 0
    return PublicPool(
        format="rewardmath", frame=frame, oracle=CORRECT, rms=list(tables),
        source=_source_label("rewardmath", [f for _, f in scorers]),
        description=(f"RewardMATH: {n_problems:,} problems with their solutions, scored by "
                     f"{len(tables)} RMs; oracle correct (solution 0 is the correct one)."),
        oracle_description="1 for the problem's correct solution (solution 0), 0 for the others",
        rm_descriptions=descriptions, skipped=skipped, notes=notes)


def _no_twice(names, files, what: str) -> None:
    seen = {}
    for name, f in zip(names, files):
        if name in seen:
            raise RetaInputError(f"{f.label}: {what} {show(name)} again (also from {seen[name].label}); "
                                 "give each one once")
        seen[name] = f


def _rewardmath_scores(f: InputFile, how: str):
    """(per-solution table: problem, solution, policy, score; repeats kept once; whether
    it is a process RM) of one scorer file."""
    fields = ["problem", "solution_reference", "score"]
    data, frame, problems, describe = _keyed_records(f, fields, fields[1:], "problem", "problem",
                                                     lambda i, text: f"problem {i + 1} ({text})")
    refs = _arrow(f, frame["solution_reference"], "solution_reference", "a list of texts (one per "
                  "solution)", _is_texts, describe)
    score = _arrow(f, frame["score"], "score", "a list of numbers (one per solution, or a list of "
                   "per-step numbers per solution)", _is_scores, describe)
    policies, n_refs = _flat(refs)
    solution_scores, n_scores = _flat(score)
    bad = np.flatnonzero(n_refs != n_scores)
    if bad.size:
        i = int(bad[0])
        raise RetaInputError(f"{f.label}: {describe(i)}: {n_scores[i]} scores for {n_refs[i]} solutions "
                             "(solution_reference)")
    owner = np.repeat(np.arange(len(problems)), n_scores)  # solution -> problem
    process = pa.types.is_list(score.type.value_type)
    if process:
        steps, n_steps = _flat(solution_scores)
        steps = _floats(steps)
        _no_infinity(f, steps, np.repeat(owner, n_steps), describe, "score")
        values = aggregate_steps(steps, n_steps, how)
    else:
        values = _floats(solution_scores)
        _no_infinity(f, values, owner, describe, "score")
    keep = _repeats(f, pd.Series(problems, dtype=object), lambda i: [data[i].get(k) for k in fields],
                    "problem", describe)
    table = pd.DataFrame({"problem": problems[owner], "solution": _positions(n_scores),
                          "policy": policies.to_numpy(zero_copy_only=False), "score": values})
    table = table[keep[owner]].reset_index(drop=True)
    return table, int((~keep).sum()), process


def _rewardmath_texts(f: InputFile) -> pd.DataFrame:
    """The benchmark's own file: per solution (problem, solution, policy, response), the
    solution index counted within the problem; solution 0 must be the chosen one."""
    fields = ["problem", "eval_solution", "solution_reference", "solution_type"]
    _, frame, problems, describe = _keyed_records(f, fields, fields[1:], "solution", "problem",
                                                  lambda i, text: f"solution {i + 1} (problem {text})")
    steps = _arrow(f, frame["eval_solution"], "eval_solution", "a list of step texts",
                   lambda t: _is_texts(t) or _is_text(t), describe)
    response = pc.binary_join(steps, "\n") if pa.types.is_list(steps.type) else steps
    policy = _arrow(f, frame["solution_reference"], "solution_reference", "a text", _is_text, describe)
    kind = _arrow(f, frame["solution_type"], "solution_type", "a text", _is_text, describe)
    kind = kind.to_numpy(zero_copy_only=False)
    table = pd.DataFrame({"problem": problems, "solution": pd.Series(problems).groupby(problems, sort=False).cumcount().to_numpy(),
                          "policy": policy.to_numpy(zero_copy_only=False),
                          "response": response.to_numpy(zero_copy_only=False)})
    expected = np.where(table["solution"].to_numpy() == 0, "chosen", "rejected")
    bad = np.flatnonzero(kind != expected)
    if bad.size:
        i = int(bad[0])
        raise RetaInputError(f"{f.label}: {describe(i)}: solution_type {show(kind[i])} as solution "
                             f"{table['solution'].iat[i]} of its problem; the first solution of a problem "
                             "must be the chosen (correct) one and the others rejected")
    table["source"] = f.label
    return table


def _match_solutions(known: pd.DataFrame | None, table: pd.DataFrame, f: InputFile,
                     texts: InputFile | None) -> pd.DataFrame:
    """``known`` (problem, solution, policy[, response], source) extended by the new
    problems of ``table``, after checking that the problems it shares have as many
    solutions, by the same policies.  With a texts file, every problem must be in it."""
    if known is None:
        return table[["problem", "solution", "policy"]].assign(source=f.label)
    counts = table.groupby("problem", sort=False).size()
    known_counts = known.groupby("problem", sort=False).size()
    new = ~counts.index.isin(known_counts.index)
    if texts is not None and new.any():
        problem = counts.index[np.argmax(new)]
        raise RetaInputError(f"{f.label}: problem {show(problem, 50)} matches no problem of the texts "
                             f"file {texts.label}")
    shared = counts.index[~new]
    differ = counts[shared].to_numpy() != known_counts[shared].to_numpy()
    if differ.any():
        problem = shared[np.argmax(differ)]
        source = known.loc[known["problem"] == problem, "source"].iat[0]
        raise RetaInputError(f"{f.label}: problem {show(problem, 50)}: {counts[problem]} solutions "
                             f"(scores), but {source} has {known_counts[problem]} for it")
    both = table.merge(known[["problem", "solution", "policy", "source"]], on=["problem", "solution"],
                       suffixes=("", "_known"))
    other = both["policy"].to_numpy(dtype=object) != both["policy_known"].to_numpy(dtype=object)
    if other.any():
        row = both.iloc[int(np.argmax(other))]
        raise RetaInputError(f"{f.label}: problem {show(row['problem'], 50)}: solution {row['solution']} "
                             f"is by {show(row['policy'])} here but by {show(row['policy_known'])} in "
                             f"{row['source']}")
    added = table.loc[table["problem"].isin(counts.index[new]), ["problem", "solution", "policy"]]
    return pd.concat([known, added.assign(source=f.label)], ignore_index=True)


# ------------------------------------------------------------------------ RewardBench 2
RB2_FIELDS = ("id", "subset", "text", "scores", "num_correct")


def read_rewardbench2(files, progress=None) -> PublicPool:
    """RewardBench 2's per-model ``eval-set-scores`` files (module docstring): one RM
    per file, the same prompts matched by ``id``."""
    progress = ensure_progress(progress)
    prompts = []   # per file: the new prompts' table (id, subset, num_correct, n, prompt, source)
    responses = []  # per file: the new prompts' completions (response text)
    known = None    # id -> subset, num_correct, n, source
    rms, descriptions, names, skipped, used = [], {}, {}, [], []
    for step, f in enumerate(files):
        progress(step, len(files) + 1, f"reading {f.label}")
        parsed = _rewardbench2_file(f)
        if "skip" in parsed:
            skipped.append(_skip(f, parsed["skip"]))
            continue
        if parsed["name"] in names:
            raise RetaInputError(f"{f.label}: RM {show(parsed['name'])} again (also from "
                                 f"{names[parsed['name']]}); give each RM's file once")
        names[parsed["name"]] = f.label
        used.append(f)
        table = parsed["prompts"].assign(source=f.label)
        if known is not None:
            _agree(f, table, known)
            new = ~table["id"].isin(known["id"]).to_numpy()
        else:
            new = np.ones(len(table), dtype=bool)
        texts = _rewardbench2_texts(parsed["text"], new, table["n"].to_numpy())
        prompts.append(table[new].assign(prompt=texts["prompt"]))
        responses.append(texts["response"])
        known = pd.concat([known, table[new]], ignore_index=True) if known is not None else table[new]
        rms.append((parsed["name"], table["id"].to_numpy(dtype=object), table["n"].to_numpy(),
                    parsed["scores"]))
        descriptions[parsed["name"]] = parsed["description"]
    progress(len(files), len(files) + 1, "building the pool")
    if not used:
        raise RetaInputError(f"{files[0].label}: no RewardBench 2 file with per-completion scores among "
                             "the files given")
    prompts = pd.concat(prompts, ignore_index=True)
    n = prompts["n"].to_numpy()
    owner = np.repeat(np.arange(len(prompts)), n)
    completion = _positions(n)
    ids = prompts["id"].to_numpy(dtype=object)
    frame = pd.DataFrame({
        "prompt_id": ids[owner],
        "response_id": _ids(ids[owner] + "-c", completion, 1),
        "prompt": prompts["prompt"].to_numpy(dtype=object)[owner],
        "response": np.concatenate(responses) if responses else np.array([], dtype=object),
        "category": prompts["subset"].to_numpy(dtype=object)[owner],
        CORRECT: (completion < prompts["num_correct"].to_numpy()[owner]).astype(float),
    })
    starts = np.cumsum(n) - n
    index = pd.Index(ids)
    for name, rm_ids, rm_n, scores in rms:
        column = np.full(len(frame), np.nan)
        column[np.repeat(starts[index.get_indexer(rm_ids)], rm_n) + _positions(rm_n)] = scores
        frame[name] = column
    notes = []
    several = int((prompts["num_correct"] > 1).sum())
    if several:
        notes.append(f"{several:,} prompt{'s have' if several > 1 else ' has'} more than one correct "
                     "completion (num_correct > 1, as in the Ties subset).")
    return PublicPool(
        format="rewardbench2", frame=frame, oracle=CORRECT, rms=list(names),
        source=_source_label("rewardbench2", used),
        description=(f"RewardBench 2: {len(prompts):,} prompts with their completions, scored by "
                     f"{len(names)} RMs; oracle correct (the first num_correct completions), "
                     "category the subset."),
        oracle_description="1 for a correct completion (the first num_correct of the prompt), 0 otherwise",
        rm_descriptions=descriptions, skipped=skipped, notes=notes)


def _rewardbench2_file(f: InputFile) -> dict:
    """One per-model file checked: its RM name and description, a per-prompt table (id,
    subset, num_correct, n), the completions (Arrow) and the scores (flat)."""
    data = _read_json(f)
    if not isinstance(data, dict):
        raise RetaInputError(f"{f.label}: expected a JSON object of columns ({', '.join(RB2_FIELDS)}, "
                             f"...); it holds a JSON {type(data).__name__}")
    if f.listed and "scores" not in data and "results" in data:  # a judge's file in a folder of results
        return {"skip": "no per-completion scores (a generative judge's verdicts only)"}
    for name in RB2_FIELDS:
        if name not in data:
            raise RetaInputError(f"{f.label}: no field {show(name)}; it has: {', '.join(map(show, data))}")
        if not isinstance(data[name], list):
            raise RetaInputError(f"{f.label}: field {show(name)} is not a list (one entry per prompt)")
    n = len(data["id"])
    if not n:
        raise RetaInputError(f"{f.label}: field 'id' is empty (no prompt)")
    for name in RB2_FIELDS[1:]:
        if len(data[name]) != n:
            raise RetaInputError(f"{f.label}: field {show(name)} has {len(data[name]):,} entries but "
                                 f"'id' has {n:,} (one per prompt)")
    _require(f, data["id"], "id", lambda i: f"prompt {i + 1}")
    ids = _arrow(f, data["id"], "id", "a text or a whole number", _is_id, lambda i: f"prompt {i + 1}")
    ids = ids.cast(pa.string()).to_numpy(zero_copy_only=False).astype(object)

    def describe(i):
        return f"prompt id {show(ids[i])}"

    for name in RB2_FIELDS[1:]:
        _require(f, data[name], name, describe)
    twice = pd.Series(ids).duplicated().to_numpy()
    if twice.any():
        i = int(np.argmax(twice))
        raise RetaInputError(f"{f.label}: {describe(i)} appears twice (prompts "
                             f"{int(np.argmax(ids == ids[i])) + 1} and {i + 1})")
    subset = _arrow(f, data["subset"], "subset", "a text", _is_text, describe).to_numpy(zero_copy_only=False)
    text = _arrow(f, data["text"], "text", "a list of completions (each a list of chat messages "
                  "{role, content} or a text)", _is_completions, describe)
    scores = _arrow(f, data["scores"], "scores", "a list of numbers (one per completion)", _is_numbers, describe)
    correct = _floats(_arrow(f, data["num_correct"], "num_correct", "a whole number", _is_number, describe))
    n_text = pc.list_value_length(text).to_numpy()
    values, n_scores = _flat(scores)
    bad = np.flatnonzero(n_text != n_scores)
    if bad.size:
        i = int(bad[0])
        raise RetaInputError(f"{f.label}: {describe(i)}: {n_scores[i]} scores for {n_text[i]} completions (text)")
    bad = np.flatnonzero((correct != np.round(correct)) | (correct < 0) | (correct > n_text))
    if bad.size:
        i = int(bad[0])
        raise RetaInputError(f"{f.label}: {describe(i)}: num_correct {correct[i]:g} is not a whole number "
                             f"from 0 to its {n_text[i]} completions")
    values = _floats(values)
    _no_infinity(f, values, np.repeat(np.arange(n), n_scores), describe, "scores")
    model = data.get("model")
    if isinstance(model, str) and model.strip():
        name = model.strip()
    elif len(f.parts) >= 2:  # <org>/<model>.json
        name = f"{f.parts[-2]}/{PurePosixPath(f.parts[-1]).stem}"
    else:
        name = PurePosixPath(f.label).stem
    details = [str(data[k]) for k in ("model_type",) if data.get(k)]
    if data.get("chat_template"):
        details.append(f"chat template {data['chat_template']}")
    return {
        "name": name,
        "description": (f"{name} on RewardBench 2" + (f" ({'; '.join(details)})" if details else "")
                        + f", from {f.label}"),
        "prompts": pd.DataFrame({"id": ids, "subset": subset, "num_correct": correct.astype(np.int64),
                                 "n": n_text.astype(np.int64)}),
        "text": text, "scores": values,
    }


def _agree(f: InputFile, table: pd.DataFrame, known: pd.DataFrame) -> None:
    """The prompts ``table`` shares with ``known`` have the same subset, number of
    completions and num_correct."""
    both = table.merge(known, on="id", suffixes=("", "_known"))
    for column, what in (("subset", "subset"), ("n", "completions"), ("num_correct", "num_correct")):
        differ = both[column].to_numpy() != both[f"{column}_known"].to_numpy()
        if differ.any():
            row = both.iloc[int(np.argmax(differ))]
            raise RetaInputError(f"{f.label}: prompt id {show(row['id'])}: {what} {show(row[column])} "
                                 f"here but {show(row[f'{column}_known'])} in {row['source_known']}")


def _rewardbench2_texts(text: pa.Array, new: np.ndarray, n: np.ndarray) -> dict:
    """Prompt and response texts of the prompts marked ``new``: a completion's response
    is its last message (or the text itself); the prompt is the first completion's
    messages before the last, joined by blank lines (None for plain-text completions)."""
    text = text.filter(pa.array(new))
    completions, n_new = _flat(text)
    if not _is_messages(completions.type):
        return {"prompt": np.full(int(new.sum()), None, dtype=object),
                "response": completions.to_numpy(zero_copy_only=False).astype(object)}
    messages, n_messages = _flat(completions)
    content = pc.fill_null(messages.field("content"), "").to_numpy(zero_copy_only=False).astype(object)
    ends = np.cumsum(n_messages)
    response = np.full(len(n_messages), None, dtype=object)
    has = n_messages > 0
    response[has] = content[ends[has] - 1]
    before = np.ones(len(content), dtype=bool)
    before[ends[has] - 1] = False
    turns = pa.ListArray.from_arrays(pa.array(np.concatenate([[0], np.cumsum(np.maximum(n_messages - 1, 0))]),
                                              pa.int32()), pa.array(content[before], pa.string()))
    prompt_of = pc.binary_join(turns, "\n\n").to_numpy(zero_copy_only=False).astype(object)
    first = (np.cumsum(n_new) - n_new)[n_new > 0]
    prompt = np.full(len(n_new), None, dtype=object)
    prompt[n_new > 0] = prompt_of[first]
    return {"prompt": prompt, "response": response}


# ------------------------------------------------------------------------ PPE
PPE_COLUMNS = ("question_id", "model_name", "prompt", "scores")


def read_ppe(files, progress=None) -> PublicPool:
    """PPE's best-of-K Parquet sets (module docstring): one pool per row, the set as
    category; no RM scores."""
    import pyarrow.parquet as pq

    progress = ensure_progress(progress)
    parts, rows_of = [], {}
    for step, f in enumerate(files):
        progress(step, len(files) + 1, f"reading {f.label}")
        try:
            table = pq.read_table(f.path)
        except Exception as exc:  # noqa: BLE001 (pyarrow raises several kinds for a bad file)
            raise RetaInputError(f"{f.label}: cannot be read as Parquet: {_first_line(exc)}") from None
        source = ppe_source(f)
        part = _ppe_table(f, table, source, rows_of.get(source, 0))
        rows_of[source] = rows_of.get(source, 0) + part["rows"]
        parts.append(part["frame"])
    progress(len(files), len(files) + 1, "building the pool")
    frame = pd.concat(parts, ignore_index=True)
    twice = frame.drop_duplicates("prompt_id")[["category", "question_id", "policy"]].duplicated().to_numpy()
    if twice.any():
        row = frame.drop_duplicates("prompt_id").iloc[int(np.argmax(twice))]
        raise RetaInputError(f"{row['source']}: question_id {show(row['question_id'])} with model_name "
                             f"{show(row['policy'])} is in set {row['category']} twice; give each file once")
    frame = frame.drop(columns=["question_id", "source"])
    notes = ["PPE sets carry no RM scores: score the pool with your RM and add the scores with "
             "add-scores (the Data page's Add an RM tab has a template of the response ids)."]
    notes += policy_note(frame)
    sets = sorted(rows_of)
    return PublicPool(
        format="ppe", frame=frame, oracle=CORRECT, rms=[], source=_source_label("ppe", files),
        description=(f"PPE best-of-K: {frame['prompt_id'].nunique():,} pools (question x policy) from "
                     f"{', '.join(sets)}; oracle correct (the response's correctness), category the set."),
        oracle_description="1 for a correct response (PPE's correctness boolean), 0 otherwise",
        notes=notes)


def ppe_source(f: InputFile) -> str:
    """The set a PPE file belongs to: its name, or for a shard such as
    ``data/train-00000-of-00001.parquet`` the dataset's folder; ``PPE-`` and
    ``-Best-of-K`` dropped (``PPE-GPQA-Best-of-K`` -> ``GPQA``)."""
    parts = list(f.parts) or list(f.path.parts)
    name = PurePosixPath(parts[-1]).stem if parts else f.path.stem
    if _SHARD.match(name):
        above = [p for p in reversed(parts[:-1]) if p.lower() not in ("data", "default", "train", "test")]
        name = above[0] if above else name
    name = re.sub(r"^PPE[-_]", "", name, flags=re.IGNORECASE)
    return re.sub(r"[-_]Best[-_]of[-_]K$", "", name, flags=re.IGNORECASE) or name


def _ppe_table(f: InputFile, table: pa.Table, source: str, first_row: int) -> dict:
    names = table.column_names
    for name in PPE_COLUMNS:
        if name not in names:
            raise RetaInputError(f"{f.label}: no column {show(name)}; it has: {', '.join(map(show, names))}")
    ks = sorted(int(m.group(1)) for m in (re.fullmatch(r"response_(\d+)", c) for c in names) if m)
    if not ks:
        raise RetaInputError(f"{f.label}: no columns response_1 ... response_K")
    gaps = sorted(set(range(1, ks[-1] + 1)) - set(ks))
    if gaps:
        raise RetaInputError(f"{f.label}: no column response_{gaps[0]} (it has response_1 ... "
                             f"response_{ks[-1]} otherwise)")
    k = ks[-1]
    n = table.num_rows
    if not n:
        raise RetaInputError(f"{f.label}: the file has no rows")
    qid = table["question_id"].combine_chunks()
    model = table["model_name"].combine_chunks()
    for column, values in (("question_id", qid), ("model_name", model)):
        if values.null_count:
            i = int(np.argmax(values.is_null().to_numpy(zero_copy_only=False)))
            raise RetaInputError(f"{f.label}: row {i + 1}: no {column}")
    qid = qid.cast(pa.string()).to_numpy(zero_copy_only=False).astype(object)
    model = model.cast(pa.string()).to_numpy(zero_copy_only=False).astype(object)

    def describe(i):
        return f"row {i + 1} (question_id {show(qid[i])}, model_name {show(model[i])})"

    scores = table["scores"].combine_chunks()
    if not _is_numbers(scores.type):
        raise RetaInputError(f"{f.label}: column 'scores' holds {_kind(scores.type)} per row, not a list "
                             "of K correctness booleans")
    values, n_scores = _flat(scores)
    bad = np.flatnonzero((n_scores != k) | scores.is_null().to_numpy(zero_copy_only=False))
    if bad.size:
        i = int(bad[0])
        raise RetaInputError(f"{f.label}: {describe(i)}: {n_scores[i]} scores for {k} responses "
                             f"(response_1 ... response_{k})")
    twice = pd.DataFrame({"q": qid, "m": model}).duplicated().to_numpy()
    if twice.any():
        i = int(np.argmax(twice))
        raise RetaInputError(f"{f.label}: {describe(i)} appears twice")
    texts = np.column_stack([table[f"response_{j}"].combine_chunks().cast(pa.string())
                             .to_numpy(zero_copy_only=False) for j in range(1, k + 1)]).ravel()
    prompt_ids = _ids(source + "-", np.arange(first_row + 1, first_row + n + 1), 5)
    prompt = table["prompt"].combine_chunks().cast(pa.string()).to_numpy(zero_copy_only=False).astype(object)
    owner = np.repeat(np.arange(n), k)
    return {"rows": n, "frame": pd.DataFrame({
        "prompt_id": prompt_ids[owner],
        "response_id": _ids(prompt_ids[owner] + "-r", np.tile(np.arange(1, k + 1), n), _width(k)),
        "prompt": prompt[owner],
        "response": texts.astype(object),
        "category": source,
        "policy": model[owner],
        CORRECT: _floats(values),
        "question_id": qid[owner],
        "source": f.label,
    })}


# ------------------------------------------------------------------------ AlpacaEval
ALPACA_FIELDS = ("instruction", "output_1", "generator_1", "output_2", "generator_2", "preference")


def read_alpacaeval(files, progress=None) -> PublicPool:
    """AlpacaEval's ``annotations.json`` files (module docstring): each instruction's
    pool holds the ``output_2`` of every model; oracle ``win_prob = preference - 1``."""
    progress = ensure_progress(progress)
    parts = []
    for step, f in enumerate(files):
        progress(step, len(files) + 1, f"reading {f.label}")
        parts.append(_alpaca_file(f))
    annotators = pd.Series([p["annotator"] for p in parts])
    counts = annotators.value_counts()
    chosen = sorted(counts.index[counts == counts.max()])[0]
    skipped = [_skip(f, f"annotator {p['annotator']}; most files are by {chosen}, the oracle kept")
               for f, p in zip(files, parts) if p["annotator"] != chosen]
    used = [f for f, p in zip(files, parts) if p["annotator"] == chosen]
    kept = [p["frame"] for p in parts if p["annotator"] == chosen]
    progress(len(files), len(files) + 1, "building the pool")
    frame = pd.concat(kept, ignore_index=True)
    reference = frame.groupby("instruction", sort=False)["generator_1"].transform("first")
    differ = (frame["generator_1"] != reference).to_numpy()
    if differ.any():
        row = frame.iloc[int(np.argmax(differ))]
        first = frame[frame["instruction"] == row["instruction"]].iloc[0]
        raise RetaInputError(f"{row['source']}: record {row['record']} ({show(row['instruction'], 50)}): "
                             f"the reference generator_1 is {show(row['generator_1'])} here but "
                             f"{show(first['generator_1'])} in {first['source']}; import annotations made "
                             "against one reference")
    keep = _repeats_frame(frame)
    repeats = int((~keep).sum())
    frame = frame[keep].reset_index(drop=True)
    prompt_no, _ = pd.factorize(frame["instruction"])
    model_no, models = pd.factorize(frame["generator_2"])
    order = np.lexsort((model_no, prompt_no))
    frame, prompt_no, model_no = frame.iloc[order].reset_index(drop=True), prompt_no[order], model_no[order]
    prompt_ids = _ids("p", prompt_no + 1, 5)
    category = (frame.groupby("instruction", sort=False)["dataset"].transform("first")
                if frame["dataset"].notna().any() else None)
    out = pd.DataFrame({
        "prompt_id": prompt_ids,
        "response_id": _ids(prompt_ids + "-m", model_no + 1, _width(len(models))),
        "prompt": frame["instruction"].to_numpy(dtype=object),
        "response": frame["output_2"].to_numpy(dtype=object),
        "policy": frame["generator_2"].to_numpy(dtype=object),
        WIN_PROB: frame["preference"].to_numpy(dtype=float) - 1.0,
    })
    if category is not None:
        out["category"] = category.to_numpy(dtype=object)
    references = ", ".join(sorted(frame["generator_1"].unique()))
    notes = [f"Oracle win_prob = preference - 1 from annotator {chosen}: the probability that the "
             f"response beats the reference output_1 ({references})."]
    if repeats:
        notes.append(f"{repeats:,} repeated (instruction, model) records (identical) kept once.")
    notes += policy_note(out)
    return PublicPool(
        format="alpacaeval", frame=out, oracle=WIN_PROB, rms=[],
        source=_source_label("alpacaeval", used),
        description=(f"AlpacaEval: {prompt_no.max() + 1:,} instructions, each pool the outputs of "
                     f"{len(models)} models; oracle win_prob (annotator {chosen} against {references})."),
        oracle_description=(f"preference - 1 of annotator {chosen}: the probability that the response "
                            f"beats the reference output_1 ({references})"),
        skipped=skipped, notes=notes)


def _alpaca_file(f: InputFile) -> dict:
    texts = ("output_1", "generator_1", "output_2", "generator_2")
    _, frame, instruction, describe = _keyed_records(f, list(ALPACA_FIELDS) + ["annotator", "dataset"], texts,
                                                     "record", "instruction",
                                                     lambda i, text: f"record {i + 1} ({text})")
    for name in texts:
        _arrow(f, frame[name], name, "a text", _is_text, describe)
    raw = frame["preference"]
    if raw.isna().all():
        raise RetaInputError(f"{f.label}: no record has a preference (field 'preference')")
    preference = pd.to_numeric(raw, errors="coerce")
    bad = np.flatnonzero((preference.isna() & raw.notna()).to_numpy()
                         | ((preference < 1) | (preference > 2)).to_numpy())
    if bad.size:
        i = int(bad[0])
        value = raw.iat[i]
        raise RetaInputError(f"{f.label}: {describe(i)}: preference "
                             f"{show(value.item() if isinstance(value, np.generic) else value)} is not a "
                             "number in [1, 2]")
    given = frame["annotator"].dropna()
    annotator = str(given.iat[0]) if len(given) else (f.parts[-2] if len(f.parts) >= 2 else "unknown")
    frame = frame.assign(instruction=instruction, preference=preference.astype(float), source=f.label,
                         record=np.arange(1, len(frame) + 1))
    return {"annotator": annotator, "frame": frame}


def _repeats_frame(frame: pd.DataFrame) -> np.ndarray:
    """Rows to keep: an (instruction, model) given twice is kept once when both records
    agree (output_2, preference), an error naming both files otherwise."""
    keys = ["instruction", "generator_2"]
    again = frame.duplicated(keys, keep="first").to_numpy()
    if not again.any():
        return ~again
    firsts = frame.groupby(keys, sort=False)[["output_2", "preference", "source", "record"]].transform("first")
    same = ((frame["output_2"] == firsts["output_2"])
            & ((frame["preference"] == firsts["preference"])
               | (frame["preference"].isna() & firsts["preference"].isna()))).to_numpy()
    bad = np.flatnonzero(again & ~same)
    if bad.size:
        i = int(bad[0])
        row, first = frame.iloc[i], firsts.iloc[i]
        raise RetaInputError(f"{row['source']}: record {row['record']} ({show(row['instruction'], 50)}): "
                             f"model {show(row['generator_2'])} again (also record {first['record']} of "
                             f"{first['source']}) with another output_2 or preference")
    return ~again
