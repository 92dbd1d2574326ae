"""Hostile input, held (issue 13): wide files, gzip bombs, huge finite values, --out
over what is not a regular file.  Each test failed before its fix."""
from __future__ import annotations

import gzip
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reta_core.errors import RetaInputError
from reta_core.ingest import describe_file, import_benchmark
from reta_core.source import LIMITS
from reta_core.store import Store
from tests.builders import EXAMPLE
from tests.builders import sha256


@pytest.fixture
def store(tmp_path) -> Store:
    store = Store(tmp_path / "reta.duckdb", timeout=2)
    import_benchmark(store, EXAMPLE, "example", ["judge_score"])
    return store


def wide_csv(path: Path, n_rms: int, rows: int = 2) -> Path:
    header = ["prompt_id", "response_id", "gold"] + [f"rm{i}" for i in range(n_rms)]
    lines = [",".join(header)] + [
        ",".join(["p0", f"r{j}", "1.0"] + [str(0.5 + j + i) for i in range(n_rms)])
        for j in range(rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


# ------------------------------------------------------------------ 1. wide files
def test_a_wide_file_costs_linear_time_not_the_square_of_its_columns(store, tmp_path):
    # before: 500 columns took 52 s and 1.8 GB (one SELECT of an expression per column)
    path = wide_csv(tmp_path / "wide.csv", 600)
    started = time.perf_counter()
    report = import_benchmark(store, path, "wide", ["gold"], baselines=False)
    assert time.perf_counter() - started < 20
    assert report.rms == [f"rm{i}" for i in range(600)]
    pool = store.load_pool("wide", rms=["rm0", "rm599"])
    assert np.allclose(pool.rms["rm599"], [599.5, 600.5])
    assert np.allclose(pool.oracles["gold"], [1.0, 1.0])
    described = describe_file(path)
    assert described["columns"]["numeric"].sum() == 601


def test_the_column_limit_is_stated_configurable_and_one_line(store, tmp_path, monkeypatch):
    assert LIMITS["RETA_MAX_COLUMNS"] == 1_000
    path = wide_csv(tmp_path / "wide.csv", 1_200)
    before = sha256(store.path)
    with pytest.raises(RetaInputError) as err:
        import_benchmark(store, path, "wide", ["gold"])
    assert str(err.value) == ("wide.csv: the file has 1,203 columns; the limit is 1,000 "
                              "(set RETA_MAX_COLUMNS to change it)")
    with pytest.raises(RetaInputError, match="1,203 columns"):
        describe_file(path)
    with pytest.raises(RetaInputError, match="the limit is 1,000"):
        import_benchmark(store, pd.read_csv(path), "wide", ["gold"])
    assert sha256(store.path) == before
    monkeypatch.setenv("RETA_MAX_COLUMNS", "2000")
    assert import_benchmark(store, path, "wide", ["gold"], dry_run=True).rms[-1] == "rm1199"
    monkeypatch.setenv("RETA_MAX_COLUMNS", "lots")
    with pytest.raises(RetaInputError, match="RETA_MAX_COLUMNS='lots' is not a positive"):
        import_benchmark(store, path, "wide", ["gold"])


def test_scores_of_a_typed_file_keep_their_rows_and_missing_cells(store, tmp_path):
    frame = pd.DataFrame({"prompt_id": ["a", "b", "a", "b"], "response_id": ["1", "2", "3", "4"],
                          "gold": [1.0, 2.0, 3.0, np.nan], "rm_t": ["0.5", "NA", " 7 ", "nan"],
                          "rm_b": [True, False, None, True]})
    path = tmp_path / "typed.parquet"
    frame.to_parquet(path)
    report = import_benchmark(store, path, "typed", ["gold"], rm_cols=["rm_t", "rm_b"])
    assert report.missing == {"gold": 1, "rm_t": 2, "rm_b": 1}
    pool = store.load_pool("typed", rms=["rm_t", "rm_b"])
    assert list(pool.response_ids) == ["1", "3", "2", "4"]  # by prompt, then row
    assert np.allclose(pool.rms["rm_t"], [0.5, 7, np.nan, np.nan], equal_nan=True)
    assert np.allclose(pool.rms["rm_b"], [1, np.nan, 0, 1], equal_nan=True)
    assert np.allclose(pool.oracles["gold"], [1, 3, 2, np.nan], equal_nan=True)


# ------------------------------------------------------------------ 2. gzip bombs, rows
def bomb(path: Path, megabytes: int) -> Path:
    """A small .csv.gz whose rows decompress to ``megabytes`` MB."""
    row = b"p0,r,1.0\n" * (2**20 // 9)
    with gzip.open(path, "wb", compresslevel=9) as out:
        out.write(b"prompt_id,response_id,gold\n")
        for _ in range(megabytes):
            out.write(row)
    return path


def test_a_gzip_bomb_is_refused_once_the_decompressed_bound_is_passed(store, tmp_path,
                                                                        monkeypatch):
    path = bomb(tmp_path / "bomb.csv.gz", 64)
    assert path.stat().st_size < 2**20
    monkeypatch.setenv("RETA_MAX_BYTES", str(8 * 2**20))
    before = sha256(store.path)
    started = time.perf_counter()
    with pytest.raises(RetaInputError) as err:
        import_benchmark(store, path, "bomb", ["gold"])
    assert time.perf_counter() - started < 10
    assert str(err.value) == ("bomb.csv.gz: the file has more than 8 MB of data once "
                              "decompressed, the limit (set RETA_MAX_BYTES to change it)")
    assert sha256(store.path) == before
    plain = tmp_path / "big.csv"
    plain.write_bytes(gzip.decompress(path.read_bytes())[: 9 * 2**20])
    with pytest.raises(RetaInputError, match=r"^big.csv: the file has more than 8 MB of data, "):
        import_benchmark(store, plain, "big", ["gold"])


def test_rows_past_the_row_limit_are_not_read(store, tmp_path, monkeypatch):
    assert LIMITS["RETA_MAX_ROWS"] == 5_000_000 and LIMITS["RETA_MAX_BYTES"] == 2**30
    path = tmp_path / "many.csv"
    pd.DataFrame({"prompt_id": np.arange(500) // 5, "response_id": np.arange(500),
                  "gold": 1.0}).to_csv(path, index=False)
    monkeypatch.setenv("RETA_MAX_ROWS", "499")
    with pytest.raises(RetaInputError) as err:
        import_benchmark(store, path, "many", ["gold"])
    assert str(err.value) == ("many.csv: the file has more than 499 data rows, the limit "
                              "(set RETA_MAX_ROWS to change it)")
    monkeypatch.setenv("RETA_MAX_ROWS", "500")
    assert import_benchmark(store, path, "many", ["gold"]).rows == 500


def rows_then_a_broken_line(path: Path, first: list[str], n_rows: int) -> Path:
    """A CSV benchmark: the ``first`` data lines, then plain rows up to ``n_rows``, then a
    line of five fields: reading the whole file fails there."""
    lines = first + [f"p{i // 4},r{i},{i % 5}.5" for i in range(len(first), n_rows)]
    path.write_text("prompt_id,response_id,gold\n" + "\n".join(lines) + "\np9,r9,1,2,3\n")
    return path


def test_an_error_in_the_first_rows_is_reported_without_reading_the_rest(store, tmp_path):
    # before: the whole file was read first, so the broken line 30,000 rows further down
    # was reported ("dup.csv: cannot be read as CSV: Expected Number of Columns: 3
    # Found: 5 ..."); without it a 1 GB .csv.gz took 12-35 s and 2 GB to say row 2
    from reta_core.ingest import HEAD_ROWS, add_rm_scores
    n_rows = HEAD_ROWS + 30_000
    dup = rows_then_a_broken_line(tmp_path / "dup.csv", ["p0,r0,1", "p0,r0,2"], n_rows)
    bad = rows_then_a_broken_line(tmp_path / "bad.csv", ["p0,r0,1", "p0,r1,2", "p0,r2,x"],
                                  n_rows)
    before = sha256(store.path)
    with pytest.raises(RetaInputError) as err:
        import_benchmark(store, dup, "dup", ["gold"])
    assert str(err.value) == ("dup.csv: row 2, column 'response_id': duplicate response_id "
                              "'r0' (first in row 1)")
    with pytest.raises(RetaInputError) as err:
        import_benchmark(store, bad, "bad", ["gold"])
    assert str(err.value) == "bad.csv: row 3, column 'gold': not a number: 'x'"
    lines = ['{"prompt_id": "p0", "response_id": "r0", "gold": 1}'] * 2 + [
        f'{{"prompt_id": "p{i}", "response_id": "r{i}", "gold": 1}}' for i in range(2, n_rows)]
    as_json = tmp_path / "dup.jsonl"
    as_json.write_text("\n".join(lines) + "\n{not json\n")
    with pytest.raises(RetaInputError) as err:
        import_benchmark(store, as_json, "dup", ["gold"])
    assert str(err.value) == ("dup.jsonl: row 2, column 'response_id': duplicate response_id "
                              "'r0' (first in row 1)")
    scores = tmp_path / "scores.csv"
    scores.write_text("response_id,score\nr1,1\nr2,2\nr3,oops\n"
                      + "".join(f"x{i},1\n" for i in range(n_rows)) + "x,1,2,3\n")
    with pytest.raises(RetaInputError) as err:
        add_rm_scores(store, scores, "example", "rm_x")
    assert str(err.value) == "scores.csv: row 3, column 'score': not a number: 'oops'"
    assert sha256(store.path) == before
    # past the first rows the whole file is read and checked: the broken line is found
    clean = rows_then_a_broken_line(tmp_path / "clean.csv", [], n_rows)
    with pytest.raises(RetaInputError) as err:
        import_benchmark(store, clean, "clean", ["gold"])
    assert str(err.value) == (f"clean.csv: row {n_rows + 1}: cannot be read as CSV: Expected "
                              "Number of Columns: 3 Found: 4")
    assert sha256(store.path) == before


def test_a_file_past_the_first_rows_imports_whole_with_rms_found_in_all_rows(store, tmp_path):
    # the first rows alone would take "maybe" for a number column: every row decides
    from reta_core.ingest import HEAD_ROWS
    n = HEAD_ROWS + 5
    frame = pd.DataFrame({"prompt_id": np.arange(n) // 5, "response_id": np.arange(n),
                          "gold": np.arange(n) % 7 + 1.0, "rm": np.arange(n) % 3 * 1.0,
                          "maybe": ["1"] * (n - 1) + ["high"]})
    path = tmp_path / "long.csv.gz"
    frame.to_csv(path, index=False)
    report = import_benchmark(store, path, "long", ["gold"], baselines=False)
    assert (report.rows, report.rms) == (n, ["rm"])
    pool = store.load_pool("long", rms=["rm"])
    assert pool.n_responses == n and np.nansum(pool.rms["rm"]) == (np.arange(n) % 3).sum()


# ------------------------------------------------------------------ 4. --out targets
def cli_call(*args) -> tuple[int, str, str]:
    import contextlib
    import io

    from reta_core import cli
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main([str(a) for a in args])
    return status, out.getvalue(), err.getvalue()


def test_out_refuses_a_symlink_fifo_folder_or_device_and_writes_new_or_regular(store, tmp_path):
    import os
    db = store.path
    target = tmp_path / "target.txt"
    target.write_text("keep me")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    fifo = tmp_path / "fifo.csv"
    os.mkfifo(fifo)
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    cases = [(link, "a symbolic link"), (fifo, "a FIFO"), (folder, "a folder"),
             (Path("/dev/null"), "a device")]
    for path, kind in cases:
        status, out, err = cli_call("--db", db, "reta", "--benchmark", "example", "--eta",
                                    "0.5", "--format", "csv", "--out", path)
        assert status == 2, (path, err)
        assert err == (f"error: {path}: {kind}, not a regular file; give a new path or a "
                       "regular file to replace\n")
        assert out == ""
    assert link.is_symlink() and target.read_text() == "keep me"
    assert fifo.exists() and not fifo.is_file() and folder.is_dir()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    new = tmp_path / "new.csv"
    assert cli_call("--db", db, "reta", "--benchmark", "example", "--eta", "0.5", "--format",
                    "csv", "--out", new)[0] == 0
    assert new.read_text().startswith("rm,")
    assert cli_call("--db", db, "reta", "--benchmark", "example", "--eta", "0.5", "--format",
                    "csv", "--out", new)[0] == 0  # a regular file is replaced


def test_out_where_the_system_refuses_is_one_line_exit_2(store, tmp_path):
    status, out, err = cli_call("--db", store.path, "reta", "--benchmark", "example", "--eta",
                                "0.5", "--out", "/proc/self/status/x.csv")
    assert status == 2 and err.count("\n") == 1 and err.startswith("error: /proc/self/status/x.csv:")
    assert "please report" not in err


# ------------------------------------------------------------------ 5. huge finite values
def huge_frame(scale: float) -> pd.DataFrame:
    n = 40
    return pd.DataFrame({"prompt_id": np.arange(n) // 4, "response_id": np.arange(n),
                         "gold": scale * (1 + np.arange(n) % 4),
                         "rm": np.random.default_rng(0).normal(size=n)})


def test_scores_beyond_1e100_are_refused_naming_row_and_column(store, tmp_path):
    path = tmp_path / "huge.csv"
    frame = huge_frame(1.0)
    frame["gold"] = 1e308
    frame.to_csv(path, index=False)
    before = sha256(store.path)
    status, out, err = cli_call("--db", store.path, "ingest", path, "--benchmark", "huge",
                                "--oracle", "gold")
    assert status == 2 and sha256(store.path) == before
    assert err == ("error: huge.csv: row 1, column 'gold': score 1e+308 is too large (scores "
                   "must be at most 1e+100 in magnitude; rescale the column)\n")
    rm = tmp_path / "rm.csv"
    pd.DataFrame({"response_id": ["p1-r1", "p1-r2"], "score": ["0.5", "-3e300"]}).to_csv(
        rm, index=False)
    with pytest.raises(RetaInputError, match=r"^rm.csv: row 2, column 'score': score -3e\+300 is "
                                             r"too large"):
        from reta_core.ingest import add_rm_scores
        add_rm_scores(store, rm, "example", "big")


@pytest.mark.parametrize("norm", ["ratio", "difference", "raw", "recovery"])
def test_scores_at_the_bound_compute_like_small_ones(store, tmp_path, norm):
    import json
    for name, scale in (("small", 1.0), ("large", 2.5e99)):
        path = tmp_path / f"{name}.csv"
        huge_frame(scale).to_csv(path, index=False)
        assert cli_call("--db", store.path, "ingest", path, "--benchmark", name, "--oracle",
                        "gold")[0] == 0
    results = {}
    for name in ("small", "large"):
        for extra in (["--ci", "--repeats", "50"],
                      ["--estimator", "resample", "--n", "2", "--repeats", "20"]):
            status, out, err = cli_call("--db", store.path, "reta", "--benchmark", name,
                                        "--normalization", norm, "--eta", "0.25,0.5",
                                        "--format", "json", *extra)
            assert status == 0, err
            rows = json.loads(out)["rows"]
            results[name, extra[0]] = [r["reta"] for r in rows]
    unit = {"ratio": 1, "recovery": 1, "difference": 2.5e99, "raw": 2.5e99}[norm]
    for extra in ("--ci", "--estimator"):
        small, large = np.array(results["small", extra]), np.array(results["large", extra])
        assert np.all(np.isfinite(large))
        assert np.allclose(large / unit, small, rtol=1e-9)


# ------------------------------------------------------------------ 6. lost update
def test_a_replace_racing_add_scores_refuses_instead_of_dropping_the_new_rm(store):
    from reta_core.ingest import add_rm_scores
    from tests.builders import EXAMPLE_RM

    def meanwhile(done, total, message):  # another process adds RM 'B' while the file is checked
        if message == "ordering the responses":
            assert add_rm_scores(store, EXAMPLE_RM, "example", "B").rms == ["B"]

    before = sha256(store.path)
    with pytest.raises(RetaInputError) as err:
        import_benchmark(store, EXAMPLE, "example", ["judge_score"], replace=True, progress=meanwhile)
    assert str(err.value) == ("example_benchmark.csv: benchmark 'example' changed while the file "
                              "was being checked (created, replaced, or an RM added or removed); "
                              "nothing was written: run the import again")
    assert sha256(store.path) != before  # B was written ...
    assert "B" in [r["name"] for r in store.benchmark_info("example")["rms"]]  # ... and stays
    report = import_benchmark(store, EXAMPLE, "example", ["judge_score"], replace=True)
    assert report.replaced  # run again, the replace goes through (and drops B, as asked)
    assert "B" not in [r["name"] for r in store.benchmark_info("example")["rms"]]


def test_a_benchmark_created_while_a_new_one_is_checked_is_not_overwritten(store):
    def meanwhile(done, total, message):
        if message == "ordering the responses":
            import_benchmark(store, EXAMPLE, "twin", ["judge_score"], description="first")

    with pytest.raises(RetaInputError, match="benchmark 'twin' changed while the file was being"):
        import_benchmark(store, EXAMPLE, "twin", ["judge_score"], replace=True, progress=meanwhile)
    assert store.benchmark_info("twin")["description"] == "first"


# ------------------------------------------------------------------ 7. the user's or the machine's fault: exit 2
@pytest.mark.parametrize("args", [
    ["reta", "--benchmark", "example", "--ci", "--seed", "-1"],
    ["reta", "--benchmark", "example", "--estimator", "resample", "--n", "2", "--seed", "-5"],
    ["leaderboard", "--benchmark", "example", "--ci", "--seed", "-1"],
    ["demo", "--seed", "-1", "--prompts", "3", "--responses", "2", "--benchmark", "d"],
])
def test_a_negative_seed_is_a_usage_error(store, args):
    status, out, err = cli_call("--db", store.path, *args)
    assert status == 2 and err.startswith("error: ") and err.count("\n") == 1
    assert "'-" in err and "is not a whole number >= 0" in err and "please report" not in err


def test_a_folder_as_database_is_refused_by_every_command(tmp_path):
    folder = tmp_path / "folder.duckdb"
    folder.mkdir()
    for args in (["list"], ["ingest", EXAMPLE, "--benchmark", "x", "--oracle", "judge_score"]):
        status, out, err = cli_call("--db", folder, *args)
        assert status == 2, err
        assert err == (f"error: {folder}: not a database file (a folder, a broken link or another "
                       "kind of file); give a file path with --db or RETA_DB\n")


def test_a_bad_schema_version_and_a_truncated_file_are_exit_2(store, tmp_path):
    import duckdb
    broken = tmp_path / "broken.duckdb"
    broken.write_bytes(store.path.read_bytes())
    con = duckdb.connect(str(broken))
    con.execute("UPDATE meta SET value = 'abc' WHERE key = 'schema_version'")
    con.close()
    status, out, err = cli_call("--db", broken, "list")
    assert status == 2 and "not a RETA Explorer database" in err and err.count("\n") == 1
    truncated = tmp_path / "truncated.duckdb"
    truncated.write_bytes(store.path.read_bytes()[:5000])
    status, out, err = cli_call("--db", truncated, "list")
    assert status == 2 and err.startswith(f"error: {truncated}: cannot open the database")


def test_a_full_disk_is_one_line_exit_2_and_nothing_written(store, monkeypatch):
    import duckdb

    from reta_core import store as store_module

    def full(*args, **kwargs):
        raise duckdb.IOException("IO Error: Could not write file: No space left on device")

    monkeypatch.setattr(store_module, "_insert_scores", full)
    before = sha256(store.path)
    status, out, err = cli_call("--db", store.path, "ingest", EXAMPLE, "--benchmark", "x",
                                "--oracle", "judge_score")
    assert status == 2 and err.count("\n") == 1
    assert err == (f"error: {store.path}: cannot write the database: IO Error: Could not write "
                   "file: No space left on device; nothing was written (free space or fix the "
                   "folder's permissions, then run it again)\n")
    assert sha256(store.path) == before and "x" not in store.benchmark_names()


# ------------------------------------------------------------------ 8. input quirks
@pytest.mark.parametrize("column, value, what", [
    ("response_id", "p1-r1 ", "leading or trailing spaces"),
    ("prompt_id", " p1", "leading or trailing spaces"),
    ("response_id", "p1-r\u200b1", "an invisible or control character"),
    ("prompt_id", "p\u202e1", "an invisible or control character"),
    ("response_id", "p1\tr1", "an invisible or control character"),
])
def test_ids_that_would_look_like_others_are_refused(store, tmp_path, column, value, what):
    frame = pd.read_csv(EXAMPLE)
    frame[column] = frame[column].astype(object)
    frame.loc[3, column] = value
    path = tmp_path / "quirk.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(RetaInputError) as err:
        import_benchmark(store, path, "quirk", ["judge_score"])
    assert str(err.value) == (f"quirk.csv: row 4, column '{column}': {column} {value!r} has {what}; "
                              "an id must show as it is (it would look like another id)")
    rm = tmp_path / "rm.csv"
    rm.write_text(f"response_id,score\np1-r1,1\n{value if column == 'response_id' else 'p1-r2 '},2\n")
    from reta_core.ingest import add_rm_scores
    with pytest.raises(RetaInputError, match="row 2, column 'response_id'"):
        add_rm_scores(store, rm, "example", "new")


@pytest.mark.parametrize("name", ["demo\u202e", "de\u200bmo", "a\x7fb", "x\x1b[2J", "\ufeffdemo"])
def test_names_with_invisible_characters_are_refused(store, tmp_path, name):
    with pytest.raises(RetaInputError, match="invisible or control characters"):
        import_benchmark(store, EXAMPLE, name, ["judge_score"])
    frame = pd.read_csv(EXAMPLE).rename(columns={"helpful_rm": name})
    with pytest.raises(RetaInputError, match="invisible or control characters"):
        import_benchmark(store, frame, "ok", ["judge_score"])


def test_list_never_writes_terminal_escapes(store):
    import duckdb
    con = duckdb.connect(str(store.path))  # a database written before the name rule
    con.execute("UPDATE prompts SET category = ? WHERE benchmark = 'example'", ["\x1b]0;owned\x07\x1b[2J"])
    con.close()
    status, out, err = cli_call("--db", store.path, "list")
    assert status == 0 and "\x1b" not in out and "\x07" not in out
    assert "\\x1b]0;owned\\x07\\x1b[2J" in out


def test_a_folder_fifo_or_link_loop_is_named_for_what_it_is(store, tmp_path):
    import os
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    fifo = tmp_path / "fifo.csv"
    os.mkfifo(fifo)
    loop = tmp_path / "loop.csv"
    loop.symlink_to(loop)
    plain_folder = tmp_path / "parts"  # a folder is named as one whatever its name
    plain_folder.mkdir()
    (tmp_path / "notes.txt").write_text("a,b\n")
    for path, words in ((folder, "a folder, not a file"), (fifo, "a FIFO, device or socket, not a file"),
                        (loop, "cannot be opened (Too many levels of symbolic links"),
                        (tmp_path / "missing.csv", "file not found"),
                        (plain_folder, "a folder, not a file"), (tmp_path / "missing.txt", "file not found"),
                        (tmp_path / "notes.txt", "unknown file type; use one of .csv")):
        with pytest.raises(RetaInputError) as err:
            import_benchmark(store, path, "x", ["judge_score"])
        assert str(err.value).startswith(f"{path.name}: {words}"), str(err.value)


@pytest.mark.parametrize("suffix", ["csv", "jsonl", "parquet"])
def test_booleans_are_scores_in_every_format_when_named_and_never_guessed(store, tmp_path, suffix):
    frame = pd.DataFrame({"prompt_id": ["a", "a", "b", "b"], "response_id": ["1", "2", "3", "4"],
                          "passed": [True, False, True, None], "flag": [False, True, False, True],
                          "rm": [0.1, 0.2, 0.3, 0.4]})
    path = tmp_path / f"bools.{suffix}"
    if suffix == "csv":
        frame.assign(passed=["TRUE", "false", "True", ""]).to_csv(path, index=False)
    elif suffix == "jsonl":
        frame.to_json(path, orient="records", lines=True)
    else:
        frame.to_parquet(path)
    report = import_benchmark(store, path, "bools", ["passed"])
    assert report.rms == ["rm"]  # a true/false column is never taken for an RM by itself
    assert report.missing["passed"] == 1
    pool = store.load_pool("bools", rms=[])
    assert np.allclose(pool.oracles["passed"], [1, 0, 1, np.nan], equal_nan=True)
    report = import_benchmark(store, path, "bools2", ["passed"], rm_cols=["flag"])
    assert np.allclose(store.load_pool("bools2", rms=["flag"]).rms["flag"], [0, 1, 0, 1])


# ------------------------------------------------------------------ 9. errors that point the right way
def test_a_cell_over_2_mb_imports_like_json_lines(store, tmp_path):
    big = "x" * (3 * 2**20)
    rows = [("p0" if i < 5 else "p1", f"r{i}", "1" if i % 2 else "2", big if i == 6 else "short")
            for i in range(10)]
    path = tmp_path / "big.csv"
    path.write_text("prompt_id,response_id,gold,response\n"
                    + "".join(",".join(r) + "\n" for r in rows))
    report = import_benchmark(store, path, "big", ["gold"], baselines=False)
    assert report.rows == 10


def test_a_line_over_the_line_limit_names_its_data_row_and_duckdbs_reason(store, tmp_path,
                                                                          monkeypatch):
    # before: "long.csv: cannot be read as CSV: a line is longer than ..." (no row; and
    # DuckDB's own first line says "CSV Error on Line: 1": its guess of the dialect failed)
    monkeypatch.setenv("RETA_MAX_LINE_BYTES", str(2 * 2**20))
    big = "x" * (3 * 2**20)
    path = tmp_path / "long.csv"
    path.write_text('prompt_id,response_id,gold,response\np0,r0,1,"two\nlines"\n'
                    + "".join(f"p0,r{i},1,short\n" for i in range(1, 6))
                    + f"p1,r6,1,{big}\np1,r7,2,short\n")
    before = sha256(store.path)
    status, out, err = cli_call("--db", store.path, "ingest", path, "--benchmark", "long",
                                "--oracle", "gold")
    assert (status, out) == (2, "")
    assert err == ("error: long.csv: row 7: the line is longer than 2,097,152 bytes, the most "
                   "a CSV line may hold (Maximum line size of 2097152 bytes exceeded. Actual "
                   "Size:3145736 bytes.); use JSON Lines or Parquet for such long texts, or set "
                   "RETA_MAX_LINE_BYTES\n")
    assert sha256(store.path) == before
    monkeypatch.setenv("RETA_MAX_LINE_BYTES", str(4 * 2**20))
    assert import_benchmark(store, path, "long", ["gold"]).rows == 8


@pytest.mark.parametrize("tail", ['p1,r6,1,"never closed\n', 'p1,r6,1,"never closed',
                                  'p1,r6,1,"never closed\np1,r7,2,short\n'])
def test_an_unclosed_quote_names_its_row_not_a_missing_column(store, tmp_path, tail):
    # before: "quote.csv: no column 'prompt_id' (required); it has columns:
    # 'prompt_id,response_id,gold,response'" (DuckDB guessed one column per line)
    path = tmp_path / "quote.csv"
    path.write_text('prompt_id,response_id,gold,response\np0,r0,1,"a, b"\n'
                    + "".join(f"p0,r{i},1,short\n" for i in range(1, 6)) + tail)
    before = sha256(store.path)
    status, out, err = cli_call("--db", store.path, "ingest", path, "--benchmark", "quote",
                                "--oracle", "gold")
    assert (status, out) == (2, "")
    assert err == ("error: quote.csv: row 7, column 'response': a quote opened in this row is "
                   "never closed (Value with unterminated quote found.); close it, or double a "
                   'quote inside a quoted cell ("")\n')
    assert sha256(store.path) == before


def test_a_file_read_by_the_header_line_when_duckdbs_guess_disagrees(store, tmp_path):
    # a quoted cell with newlines and the header's delimiter: read as the header says
    path = tmp_path / "semi.csv"
    path.write_text('prompt_id;response_id;gold;response\np0;r0;1;"a;\nb"\np0;r1;2;"c"\n')
    report = import_benchmark(store, path, "semi", ["gold"], baselines=False)
    assert report.rows == 2
    assert store.load_texts("semi")["response"].to_pylist() == ["a;\nb", "c"]


# ------------------------------------------------------------------ 9d. compaction
@pytest.fixture(scope="module")
def two_benchmarks(tmp_path_factory) -> Path:
    """A database of two demo benchmarks (about 70 MB), built once."""
    db = tmp_path_factory.mktemp("vacuum") / "reta.duckdb"
    for name in ("keep", "drop"):
        assert cli_call("--db", db, "demo", "--benchmark", name, "--prompts", 1000,
                        "--responses", 64)[0] == 0
    return db


def content(db: Path) -> tuple[str, str]:
    """What a user reads from the database: the list and a leaderboard, as JSON."""
    listed = cli_call("--db", db, "list", "--format", "json")
    board = cli_call("--db", db, "leaderboard", "--benchmark", "keep", "--format", "json")
    assert listed[0] == board[0] == 0
    return listed[1], board[1]


def test_vacuum_gives_back_what_remove_frees_and_keeps_the_content(two_benchmarks, tmp_path):
    # before: no way to shrink the file; CHECKPOINT and VACUUM leave it as it is
    import shutil
    db = tmp_path / "reta.duckdb"
    shutil.copy(two_benchmarks, db)
    status, out, err = cli_call("--db", db, "remove", "--benchmark", "drop", "--yes")
    assert status == 0 and out.startswith("Removed benchmark 'drop'")
    assert re.fullmatch(rf"note: [\d,.]+ MB of {re.escape(str(db))} is free space; "
                        r"`\S.*vacuum` gives it back\n", err), err
    removed = db.stat().st_size
    want = content(db)
    status, out, err = cli_call("--db", db, "vacuum")
    assert status == 0 and err == ""
    assert re.fullmatch(rf"Compacted {re.escape(str(db))}: [\d,.]+ MB -> [\d,.]+ MB "
                        r"\([\d,.]+ MB given back\)\.\n", out), out
    assert db.stat().st_size < 0.6 * removed
    assert content(db) == want
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reta.duckdb"]
    # remove --vacuum: one step; a small remove from a compact file says nothing more
    status, out, err = cli_call("--db", db, "remove", "--benchmark", "keep", "--rm",
                                "random_rm", "--yes", "--vacuum")
    assert status == 0 and err == ""
    assert out.splitlines()[0].startswith("Removed RM 'random_rm'")
    assert out.splitlines()[1].startswith(f"Compacted {db}: ")


def test_vacuum_while_another_process_holds_the_file_is_busy_and_changes_nothing(
        two_benchmarks, tmp_path, monkeypatch):
    import shutil
    import subprocess
    import sys
    db = tmp_path / "reta.duckdb"
    shutil.copy(two_benchmarks, db)
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time\n"
                               f"con = duckdb.connect({str(db)!r})\n"
                               "print('ready', flush=True)\ntime.sleep(60)\n"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "ready\n"
        before = sha256(db)
        monkeypatch.setenv("RETA_DB_TIMEOUT", "0.5")
        status, out, err = cli_call("--db", db, "vacuum")
    finally:
        holder.kill()
        holder.wait()
    assert (status, out) == (2, "")
    assert err.startswith(f"error: {db}: the database is locked by process {holder.pid} ")
    assert err.count("\n") == 1
    assert sha256(db) == before


def test_a_killed_vacuum_leaves_the_old_file_whole(two_benchmarks, tmp_path):
    import os
    import shutil
    import signal
    import subprocess
    import sys
    from tests.builders import REPO
    db = tmp_path / "reta.duckdb"
    shutil.copy(two_benchmarks, db)
    assert cli_call("--db", db, "remove", "--benchmark", "drop", "--yes")[0] == 0
    want, before = content(db), sha256(db)
    copy = tmp_path / "reta.duckdb.vacuum"
    vacuum = subprocess.Popen([sys.executable, "-m", "reta_core", "--db", str(db), "vacuum"],
                              cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started = time.monotonic()
    while not copy.exists() and vacuum.poll() is None and time.monotonic() - started < 60:
        time.sleep(0.005)
    vacuum.send_signal(signal.SIGKILL)  # while it writes the copy
    vacuum.wait()
    assert copy.exists(), "the vacuum ended before it could be killed while copying"
    assert sha256(db) == before and content(db) == want
    assert cli_call("--db", db, "vacuum")[0] == 0  # clears the killed one's copy
    assert content(db) == want and not copy.exists()
