"""Fuzzing the importers (issue 13, "keep it so"): random and mutated benchmark and RM
files (bytes, delimiters, quotes, encodings, widths, extreme numbers, near-duplicate
ids, hostile names) through ``ingest`` and ``add-scores`` in process, by
``cli.main``.  Every run ends in success (exit 0) or a refusal (exit 2 with exactly one
``error:`` line, and the database byte-identical); never exit 1 or an exception.

A few hundred examples by default; ``RETA_FUZZ_EXAMPLES=N`` runs N per test (e.g.
5000 for a long run).  ``RETA_FUZZ_REPORT=FILE`` appends the counts (inputs tried,
refused cleanly, succeeded, crashes) to FILE as JSON lines.
"""
from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import shutil
import tempfile
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reta_core import cli
from reta_core.ingest import import_benchmark
from reta_core.store import Store
from tests.builders import EXAMPLE
from tests.builders import sha256

EXAMPLES = int(os.environ.get("RETA_FUZZ_EXAMPLES", "80"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize="RETA_FUZZ_EXAMPLES" not in os.environ,
                suppress_health_check=list(HealthCheck), database=None)
COUNTS: Counter = Counter()

IDS = ["p1", "p1 ", " p1", "P1", "p1\u200b", "p\u202e1", "p1-r1", "p1-r1 ", "p1-r2", "p2-r1", "0", "00",
       "", " ", "NA", "null", "1e3", "é", "\ufeffp1", "a\x7fb", "x" * 300, "p1,r1", 'p"1', "p\n1"]
NUMBERS = ["0", "1", "-1", "0.5", "1e308", "-1e308", "1e100", "1e101", "5e-324", "nan", "NaN", "inf",
           "-inf", "Infinity", "1e999", "", " ", "NA", "n/a", "null", "None", "true", "false", "abc",
           "1,5", "0x10", " 7 ", "+3", "1_000", "１", "--1", "1e", ".", "9" * 400]
NAMES = ["judge_score", "helpful_rm", "score", "![x](http://127.0.0.1:1/t.png)", "[PHISH](http://evil)",
         "<b>x</b>", "**bold**", "`code`", "de\u200bmo", "demo\u202e", "a\x7fb", " lead", "", "prompt_id",
         "response_id", "response", "category", "baseline_length", "\x1b]0;title\x07", "é", "x" * 120]
DELIMITERS = [",", ";", "\t", "|"]


@pytest.fixture(scope="module")
def base_db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("fuzz") / "base.duckdb"
    import_benchmark(Store(path), EXAMPLE, "example", ["judge_score"])
    return path


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    report = os.environ.get("RETA_FUZZ_REPORT")
    if report:
        with open(report, "a") as out:
            out.write(json.dumps(dict(COUNTS)) + "\n")


def run(base_db: Path, command: list, name: str, data: bytes) -> None:
    """``command`` on a copy of ``base_db`` with ``data`` written as file ``name``:
    success, or exit 2 with one ``error:`` line and the database unchanged."""
    folder = Path(tempfile.mkdtemp(prefix="reta_fuzz_"))
    try:
        db = folder / "db.duckdb"
        shutil.copyfile(base_db, db)
        before = sha256(db)
        path = folder / name
        path.write_bytes(data)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = cli.main(["--db", str(db), *command(path)])
        COUNTS["tried"] += 1
        if status == 0:
            COUNTS["succeeded"] += 1
            return
        if status != 2:
            COUNTS["crashes"] += 1
        assert status == 2, (status, err.getvalue(), data[:300])
        lines = err.getvalue().splitlines()
        errors = [line for line in lines if line.startswith("error: ")]
        assert len(errors) == 1 and lines[-1] == errors[0], err.getvalue()
        assert sha256(db) == before, "a refused import changed the database"
        COUNTS["refused"] += 1
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# ------------------------------------------------------------------ structured files
cells = st.one_of(st.sampled_from(NUMBERS), st.sampled_from(IDS), st.text(max_size=12))


@st.composite
def tables(draw, kind: str):
    """A small table as a DataFrame of text: the columns a file of ``kind`` needs (some
    dropped or renamed) plus extra score columns with hostile names."""
    n = draw(st.integers(1, 8))
    if kind == "benchmark":
        columns = ["prompt_id", "response_id", "judge_score"]
        columns += draw(st.lists(st.sampled_from(NAMES + ["prompt", "response"]), max_size=4))
    else:
        columns = ["response_id", "score"] + draw(st.lists(st.sampled_from(NAMES + ["prompt_id"]),
                                                           max_size=2))
    if draw(st.booleans()):
        columns = draw(st.permutations(columns))
    if draw(st.integers(0, 9)) == 0 and len(columns) > 1:
        columns = columns[1:]
    data = {}
    for col in columns:
        if col in data:
            continue
        if col in ("prompt_id", "response_id") and draw(st.booleans()):
            known = ["p1", "p2", "p3"] if col == "prompt_id" else [f"p{i}-r{j}" for i in (1, 2, 3) for j in (1, 2, 3, 4)]
            data[col] = draw(st.lists(st.sampled_from(known + IDS), min_size=n, max_size=n))
        else:
            data[col] = draw(st.lists(cells, min_size=n, max_size=n))
    return pd.DataFrame(data)


def encode(draw, frame: pd.DataFrame) -> tuple[str, bytes]:
    fmt = draw(st.sampled_from(["csv", "csv.gz", "jsonl", "jsonl.gz", "parquet", "json"]))
    if fmt.startswith("csv"):
        data = frame.to_csv(index=False, sep=draw(st.sampled_from(DELIMITERS))).encode(
            draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1"])), errors="replace")
    elif fmt.startswith("jsonl"):
        typed = frame.apply(lambda c: pd.to_numeric(c, errors="coerce")) if draw(st.booleans()) else frame
        data = typed.to_json(orient="records", lines=True).encode()
    elif fmt == "json":
        data = frame.to_json(orient="records").encode()
    else:
        buffer = io.BytesIO()
        typed = frame.apply(lambda c: pd.to_numeric(c, errors="coerce")) if draw(st.booleans()) else frame
        typed.to_parquet(buffer, index=False)
        data = buffer.getvalue()
    if fmt.endswith(".gz"):
        data = gzip.compress(data)
    return f"f.{fmt}", data


def ingest(name: str, oracle: str):
    return lambda path: ["ingest", str(path), "--benchmark", name, "--oracle", oracle]


def add_scores(rm: str):
    return lambda path: ["add-scores", str(path), "--benchmark", "example", "--rm", rm]


@FUZZ
@given(data=st.data())
def test_random_benchmark_files_succeed_or_are_refused_cleanly(base_db, data):
    frame = data.draw(tables("benchmark"))
    name, raw = encode(data.draw, frame)
    bench = data.draw(st.sampled_from(["new", "example", "![x](y)", "de\u200bmo", " x", ""]))
    oracle = data.draw(st.sampled_from(["judge_score", "judge_score"] + NAMES))
    run(base_db, ingest(bench, oracle), name, raw)


@FUZZ
@given(data=st.data())
def test_random_rm_files_succeed_or_are_refused_cleanly(base_db, data):
    frame = data.draw(tables("rm"))
    name, raw = encode(data.draw, frame)
    rm = data.draw(st.sampled_from(["new_rm", "helpful_rm", "judge_score", "<b>x</b>", "a\x7fb", "", "x" * 300]))
    run(base_db, add_scores(rm), name, raw)


# ------------------------------------------------------------------ mutated bytes
VALID_BENCH = EXAMPLE.read_bytes()
VALID_RM = (EXAMPLE.parent / "example_rm_scores.csv").read_bytes()


@st.composite
def mutated(draw, seed: bytes) -> bytes:
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "duplicate", "special"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del data[at:at + draw(st.integers(1, 20))]
        elif op == "truncate":
            del data[at:]
        elif op == "duplicate":
            end = data.find(b"\n", at)
            line = data[data.rfind(b"\n", 0, at) + 1:end + 1 if end >= 0 else len(data)]
            data[at:at] = line
        else:
            data[at:at] = draw(st.sampled_from([b'"', b'""', b"\x00", b"\r", b"\n", b",", b";", b"\xef\xbb\xbf",
                                                b"\xff\xfe", b"1e308", b"inf", b"NaN", b"\\", b"'"]))
    return bytes(data)


@FUZZ
@given(raw=mutated(VALID_BENCH), gz=st.booleans())
def test_mutated_benchmark_bytes_succeed_or_are_refused_cleanly(base_db, raw, gz):
    run(base_db, ingest("mutant", "judge_score"), "m.csv.gz" if gz else "m.csv",
        gzip.compress(raw) if gz else raw)


@FUZZ
@given(raw=mutated(VALID_RM), suffix=st.sampled_from(["csv", "jsonl", "parquet", "csv.gz"]))
def test_mutated_rm_bytes_succeed_or_are_refused_cleanly(base_db, raw, suffix):
    run(base_db, add_scores("mutant_rm"), f"m.{suffix}", raw)
