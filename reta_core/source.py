"""A user's file (or DataFrame) read into DuckDB, and the checks of its cells.

:class:`Source` reads CSV, Parquet or JSON Lines (chosen by extension: ``.csv``,
``.csv.gz``, ``.parquet``, ``.jsonl``, ``.ndjson``, ``.jsonl.gz``, ``.json``) with
DuckDB's own readers into table ``src`` of an in-memory connection, keeping the
file's row order, and checks ids and scores with SQL (values bound as parameters).
Every failure is a one-line :class:`~reta_core.errors.RetaInputError` naming the file
and the 1-based data row or the column.  Uploaded bytes are staged as a temporary
file that keeps their name (:func:`staged_upload`).  The imports built on it are in
:mod:`reta_core.ingest`.
"""
from __future__ import annotations

import csv
import gzip
import os
import re
import shutil
import stat
import tempfile
import zlib
from contextlib import contextmanager
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from .errors import INVISIBLE_SQL, RetaInputError, show
from .store import first_row, quote_ident

MISSING_TOKENS = ("", "na", "n/a", "nan", "null", "none")
_CSV = ("CSV", "read_csv(?, header = true, all_varchar = true, max_line_size = {max_line})")
FORMATS = {  # suffix -> (format name, DuckDB reader call with one ? for the path)
    ".csv": _CSV,
    ".csv.gz": _CSV,
    ".parquet": ("Parquet", "read_parquet(?)"),
    ".jsonl": ("JSON Lines", "read_json(?, format = 'newline_delimited', sample_size = -1)"),
    ".ndjson": ("JSON Lines", "read_json(?, format = 'newline_delimited', sample_size = -1)"),
    ".jsonl.gz": ("JSON Lines", "read_json(?, format = 'newline_delimited', sample_size = -1)"),
    ".ndjson.gz": ("JSON Lines", "read_json(?, format = 'newline_delimited', sample_size = -1)"),
    ".json": ("JSON", "read_json(?, format = 'auto', sample_size = -1)"),
}
# Bounds on what one input may cost (each overridden by its environment variable, a
# positive integer): columns of the file, data rows, bytes as read (after
# decompression for ``.gz``), and bytes of one CSV line, so of a cell (DuckDB's default
# is 2 MB).  Past a bound the input is refused with one line.
LIMITS = {"RETA_MAX_COLUMNS": 1_000, "RETA_MAX_ROWS": 5_000_000, "RETA_MAX_BYTES": 2**30,
          "RETA_MAX_LINE_BYTES": 64 * 2**20}
HEAD_LINE_BYTES = 2 * 2**20  # the longest line read in a first look at a file's top rows
MAX_SCORE = 1e100  # larger finite scores are refused: squares and sums must stay finite


def limit(name: str) -> int:
    """The bound ``name`` of :data:`LIMITS`, from the environment when set there."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return LIMITS[name]
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        value = 0
    if value <= 0:
        raise RetaInputError(f"{name}={raw!r} is not a positive whole number; unset it or "
                             "give one")
    return value


_NUMERIC_TYPE = re.compile(
    r"^(U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?|FLOAT|DOUBLE|REAL|DECIMAL.*|NUMERIC.*)$")
_TYPED_SCORE = re.compile(r"^(BOOLEAN|\"?NULL\"?)$")


# ------------------------------------------------------------------------ source
class Source:
    """A user file or DataFrame, read into table ``src`` of an in-memory DuckDB.

    ``src`` keeps the input's row order, so ``rowid + 1`` is the 1-based data row.
    ``head_rows``: read a file only up to its first ``head_rows + 1`` data rows, to
    check them before reading the rest; ``complete`` says whether that was all of it
    (a DataFrame is always read whole).
    """

    def __init__(self, data, source_name: str | None = None, head_rows: int | None = None):
        is_frame = isinstance(data, pd.DataFrame)
        self.label = source_name or ("DataFrame" if is_frame else Path(data).name)
        self.con = duckdb.connect()
        self.complete = True
        try:
            if is_frame:
                self._load_frame(data)
            else:
                self._load_file(Path(data).expanduser(), head_rows)
            self._normalise()
            described = self.con.execute("DESCRIBE src").fetchall()
            self.types = {row[0]: row[1] for row in described}
            self.columns = list(self.types)
            self._check_width(len(self.columns))
            self._cells_for = None  # the columns table _cells holds (see _build_cells)
            self.n_rows, blank = self.first(
                "SELECT count(*), count(*) FILTER (WHERE COLUMNS(*) IS NULL) FROM src")
            if self.n_rows == blank and self.complete:  # no rows, or only empty ones
                raise self.error("the file has no data rows")
        except BaseException:
            self.con.close()
            raise

    def close(self):
        self.con.close()

    def _check_width(self, n_columns: int):
        most = limit("RETA_MAX_COLUMNS")
        if n_columns > most:
            raise self.error(f"the file has {n_columns:,} columns; the limit is {most:,} "
                             "(set RETA_MAX_COLUMNS to change it)")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _normalise(self):
        """Drop the index columns pandas writes into Parquet; turn JSON-typed columns
        (JSON Lines fields of mixed types) into plain text ('"x"' becomes 'x')."""
        for column, kind in self.con.execute("SELECT column_name, data_type FROM "
                                             "information_schema.columns WHERE table_name = "
                                             "'src'").fetchall():
            q = quote_ident(column)
            if re.fullmatch(r"__index_level_\d+__", column):
                self.con.execute(f"ALTER TABLE src DROP COLUMN {q}")
            elif kind == "JSON":
                self.con.execute(f"ALTER TABLE src ALTER {q} TYPE VARCHAR USING ({q} ->> '$')")

    def _load_frame(self, frame: pd.DataFrame):
        self._check_width(frame.shape[1])
        frame = frame.reset_index(drop=True)
        frame.columns = [str(c) for c in frame.columns]
        self.con.register("_reta_frame", frame)
        try:
            self.con.execute("CREATE TABLE src AS SELECT * FROM _reta_frame")
        except duckdb.Error as exc:
            raise self.error(f"cannot be read: {_first_line(exc)}") from exc
        finally:
            self.con.unregister("_reta_frame")

    def _load_file(self, path: Path, head_rows: int | None = None):
        name = path.name.lower()
        suffix = next((s for s in sorted(FORMATS, key=len, reverse=True) if name.endswith(s)),
                      None)
        try:  # what the path is comes first: a folder is "a folder", whatever its name
            mode = path.stat().st_mode
        except FileNotFoundError:
            raise self.error(f"file not found ({path})") from None
        except OSError as exc:  # a symbolic link loop, a folder without permission ...
            raise self.error(f"cannot be opened ({exc.strerror or exc}; {path})") from exc
        if not stat.S_ISREG(mode):
            kind = "a folder" if stat.S_ISDIR(mode) else "a FIFO, device or socket"
            raise self.error(f"{kind}, not a file ({path})")
        if suffix is None:
            raise self.error("unknown file type; use one of " + ", ".join(FORMATS))
        if path.stat().st_size == 0:
            raise self.error("the file is empty")
        fmt, reader = FORMATS[suffix]
        n_bytes = self._check_size(path, suffix, fmt)
        if fmt == "CSV":
            self._check_width(_header_fields(path, suffix))
        max_rows = limit("RETA_MAX_ROWS")
        if head_rows is not None and head_rows < max_rows and self._read_head(
                path, suffix, fmt, reader, head_rows, n_bytes):
            return
        max_line = limit("RETA_MAX_LINE_BYTES")
        try:  # LIMIT: DuckDB stops reading one row past the bound
            self.con.execute(f"CREATE TABLE src AS SELECT * FROM "
                             f"{reader.replace('{max_line}', str(max_line))} LIMIT ?",
                             [str(path), max_rows + 1])
        except duckdb.Error as exc:
            if not (fmt == "CSV" and self._strict_csv(path, suffix, max_rows)):
                raise self.error(f"cannot be read as {fmt}: {_reader_reason(exc)}") from exc
        else:
            if fmt == "CSV" and self._header_disagrees(path, suffix):
                self._strict_csv(path, suffix, max_rows)
        if self.first("SELECT count(*) > ? FROM src", [max_rows])[0]:
            raise self.error(f"the file has more than {max_rows:,} data rows, the limit "
                             "(set RETA_MAX_ROWS to change it)")

    def _read_head(self, path: Path, suffix: str, fmt: str, reader: str, head_rows: int,
                   n_bytes: int) -> bool:
        """Read the first ``head_rows + 1`` rows into ``src``; False (nothing read) when
        they cannot be read simply, and the whole read then says why.  DuckDB's CSV
        reader reads a buffer of 16 of the longest lines allowed before the first row,
        and can drop a last line longer than that buffer without a word: lines are read
        here up to :data:`HEAD_LINE_BYTES` (a 32 MB buffer), and the rows read are the
        whole file only when it fits in that buffer."""
        line = min(limit("RETA_MAX_LINE_BYTES"), HEAD_LINE_BYTES)
        # JSON: types from DuckDB's default sample, as a whole-file one reads it all
        reader = reader.replace("{max_line}", str(line)).replace("sample_size = -1",
                                                                 "sample_size = 20480")
        try:
            self.con.execute(f"CREATE TABLE src AS SELECT * FROM {reader} LIMIT ?",
                             [str(path), head_rows + 1])
        except duckdb.Error:
            return False
        if fmt == "CSV" and self._header_disagrees(path, suffix):
            self.con.execute("DROP TABLE src")
            return False
        self.complete = (not self.first("SELECT count(*) > ? FROM src", [head_rows])[0]
                         and (fmt != "CSV" or n_bytes < 16 * line))
        return True

    def _header_disagrees(self, path: Path, suffix: str) -> bool:
        """Whether DuckDB's guess of the dialect gave other columns than the header line
        names (it guesses from a sample, and an unclosed quote can make it read each line
        as one text column)."""
        names = _header_names(path, suffix)
        got = [row[0] for row in self.con.execute("DESCRIBE src").fetchall()]
        return len(names[1]) > 1 and len(got) != len(names[1])

    def _strict_csv(self, path: Path, suffix: str, bound: int) -> bool:
        """Read the CSV file into ``src`` as RFC 4180 says (the header line's delimiter,
        double quotes), without DuckDB's guessing, and raise the first row it cannot
        read, with DuckDB's reason.  False when the header gives nothing to read by."""
        delimiter, names = _header_names(path, suffix)
        if len(set(names)) != len(names) or not all(names):
            return False
        try:
            self.con.execute(
                "CREATE OR REPLACE TABLE src AS SELECT * FROM read_csv(?, header = true, "
                "auto_detect = false, columns = ?, delim = ?, quote = '\"', escape = '\"', "
                "max_line_size = ?, store_rejects = true, ignore_errors = true) LIMIT ?",
                [str(path), {name: "VARCHAR" for name in names}, delimiter,
                 limit("RETA_MAX_LINE_BYTES"), bound + 1])
        except duckdb.Error:
            return False
        bad = self.first("SELECT line - 1, column_name, error_type, error_message "
                         "FROM reject_errors ORDER BY line LIMIT 1")
        if bad:
            row, column, kind, reason = bad
            raise self.error(_csv_problem(kind, reason), row=row,
                             column=None if kind == "LINE SIZE OVER MAXIMUM" else column)
        return True

    def _check_size(self, path: Path, suffix: str, fmt: str) -> int:
        """The bytes as read (decompressed for ``.gz``, counted while streaming and
        stopped at the bound) within ``RETA_MAX_BYTES``."""
        most = limit("RETA_MAX_BYTES")
        too_big = self.error(f"the file has more than {most / 2**20:,.0f} MB of data"
                             + (" once decompressed" if suffix.endswith(".gz") else "")
                             + ", the limit (set RETA_MAX_BYTES to change it)")
        if not suffix.endswith(".gz"):
            if path.stat().st_size > most:
                raise too_big
            return path.stat().st_size
        total = 0
        try:
            with gzip.open(path, "rb") as stream:
                while chunk := stream.read(2**20):
                    total += len(chunk)
                    if total > most:
                        raise too_big
        except (OSError, EOFError, zlib.error) as exc:
            raise self.error(f"cannot be read as {fmt} (gzip): {_first_line(exc)}") from exc
        return total

    # ---------------------------------------------------------------- messages
    def error(self, problem: str, row=None, column=None) -> RetaInputError:
        where = [f"row {row}"] if row is not None else []
        if column is not None:
            where.append(f"column {show(column)}")
        return RetaInputError(f"{self.label}: " + (", ".join(where) + ": " if where else "")
                              + problem)

    def listing(self) -> str:
        return ", ".join(map(show, self.columns))

    def require_columns(self, columns, role: str):
        for col in columns:
            if col not in self.types:
                raise self.error(f"no column {show(col)} ({role}); it has columns: "
                                 f"{self.listing()}")

    def first(self, sql: str, params=()):
        return first_row(self.con, sql, list(params))

    # ---------------------------------------------------------------- values
    def text_expr(self, col: str | None) -> str:
        return f"CAST({quote_ident(col)} AS VARCHAR)" if col in self.types else "NULL::VARCHAR"

    def _is_typed_number(self, col) -> bool:
        return bool(_NUMERIC_TYPE.match(self.types[col]) or _TYPED_SCORE.match(self.types[col]))

    def score_expr(self, col: str) -> str:
        """SQL for column ``col`` as DOUBLE: NULL for empty, NaN and missing tokens."""
        q = quote_ident(col)
        if self._is_typed_number(col):
            value = f"CAST({q} AS DOUBLE)"
        else:
            text = f"trim(CAST({q} AS VARCHAR))"
            value = (f"CASE WHEN lower({text}) IN {_tokens_sql()} THEN NULL "
                     f"WHEN lower({text}) IN ('true', 'false') THEN CAST(lower({text}) = 'true' AS DOUBLE) "
                     f"ELSE TRY_CAST({text} AS DOUBLE) END")
        return f"(CASE WHEN isnan({value}) THEN NULL ELSE {value} END)"

    def _build_cells(self, cols) -> None:
        """Table ``_cells (r, col, raw, v, bad)``: one row per non-empty cell of ``cols``
        (``r`` the 0-based row, ``col`` the position in ``cols``, ``raw`` the text of a
        text cell, ``v`` its score as in :meth:`score_expr`, ``bad`` text that is not a
        number).  Built with UNPIVOT and one score expression, so the cost grows with
        the cells, not with the square of the columns as a SELECT of one expression per
        column does."""
        cols = list(cols)
        if self._cells_for == cols:
            return
        typed = [i for i, c in enumerate(cols) if self._is_typed_number(c)]
        text = [i for i, c in enumerate(cols) if not self._is_typed_number(c)]
        parts = []
        if typed:
            pick = ", ".join(f'CAST({quote_ident(cols[i])} AS DOUBLE) AS "{i}"' for i in typed)
            parts.append(f"SELECT r, CAST(col AS INTEGER) AS col, NULL::VARCHAR AS raw, x, "
                         f"false AS bad FROM (UNPIVOT (SELECT rowid AS r, {pick} FROM src) "
                         f"ON COLUMNS(* EXCLUDE (r)) INTO NAME col VALUE x)")
        if text:
            pick = ", ".join(f'CAST({quote_ident(cols[i])} AS VARCHAR) AS "{i}"' for i in text)
            parts.append(
                f"SELECT r, col, raw, x, x IS NULL AND NOT missing AS bad FROM ("
                f"SELECT r, CAST(col AS INTEGER) AS col, raw, "
                f"lower(trim(raw)) IN {_tokens_sql()} AS missing, "
                f"CASE WHEN lower(trim(raw)) IN {_tokens_sql()} THEN NULL "
                f"WHEN lower(trim(raw)) IN ('true', 'false') "
                f"THEN CAST(lower(trim(raw)) = 'true' AS DOUBLE) "
                f"ELSE TRY_CAST(trim(raw) AS DOUBLE) END AS x "
                f"FROM (UNPIVOT (SELECT rowid AS r, {pick} FROM src) "
                f"ON COLUMNS(* EXCLUDE (r)) INTO NAME col VALUE raw))")
        body = " UNION ALL ".join(parts) if parts else (
            "SELECT NULL::BIGINT AS r, NULL::INTEGER AS col, NULL::VARCHAR AS raw, "
            "NULL::DOUBLE AS x, false AS bad WHERE false")
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE _cells AS SELECT r, col, raw, "
                         f"CASE WHEN isnan(x) THEN NULL ELSE x END AS v, bad FROM ({body})")
        self._cells_for = cols

    def score_matrix(self, cols) -> np.ndarray:
        """Scores of ``cols`` (checked by :meth:`check_scores`) as an array (len(cols),
        rows) in file order, NaN where empty."""
        self._build_cells(cols)
        table = self.con.sql("SELECT r, col, v FROM _cells WHERE v IS NOT NULL").to_arrow_table()
        values = np.full((len(cols), self.n_rows), np.nan)
        values[table["col"].to_numpy(), table["r"].to_numpy()] = table["v"].to_numpy()
        return values

    def looks_numeric(self, col: str) -> bool:
        """For ``rm_cols=None``: a numeric type, or text whose non-empty cells are all
        numbers (and there is at least one)."""
        return self.numeric_columns([col])[0]

    def numeric_columns(self, cols) -> list[bool]:
        """:meth:`looks_numeric` of each of ``cols``, in one pass over their cells."""
        cols = list(cols)
        verdict = [bool(_NUMERIC_TYPE.match(self.types[c])) for c in cols]
        text = [c for c in cols if self.types[c] == "VARCHAR"]
        if text:
            self._build_cells(text)
            counts = {col: (bad, good) for col, bad, good in self.con.execute(
                "SELECT col, count(*) FILTER (WHERE bad OR lower(trim(raw)) IN ('true', 'false')), "
                "count(v) FROM _cells "
                "GROUP BY col").fetchall()}
            numeric = {c for i, c in enumerate(text)
                       if counts.get(i, (0, 0))[0] == 0 and counts.get(i, (0, 0))[1] > 0}
            verdict = [v or c in numeric for v, c in zip(verdict, cols)]
        return verdict

    def check_scores(self, cols):
        """Every cell of ``cols`` (a column or a list) empty, NaN or a finite number of
        magnitude at most :data:`MAX_SCORE`; the first failure (by column, then row) is
        raised."""
        cols = [cols] if isinstance(cols, str) else list(cols)
        if not cols:
            return
        self._build_cells(cols)
        bad = self.first("SELECT r + 1, col, raw, CAST(v AS VARCHAR), bad FROM _cells "
                         "WHERE bad OR abs(v) > ? ORDER BY col, r LIMIT 1", [MAX_SCORE])
        if not bad:
            return
        row, col, raw, value, not_number = bad
        if not_number:
            raise self.error(f"not a number: {show(raw)}", row=row, column=cols[col])
        if value in ("inf", "-inf"):
            raise self.error(f"infinite value {value}", row=row, column=cols[col])
        raise self.error(f"score {value} is too large (scores must be at most {MAX_SCORE:g} "
                         "in magnitude; rescale the column)", row=row, column=cols[col])

    def check_ids(self, columns):
        """Ids present (not empty) and response_id unique."""
        for col in columns:
            q = quote_ident(col)
            bad = self.first(f"SELECT rowid + 1 FROM src WHERE {q} IS NULL OR "
                             f"trim(CAST({q} AS VARCHAR)) = '' ORDER BY rowid LIMIT 1")
            if bad:
                raise self.error(f"empty {col}", row=bad[0], column=col)
            bad = self.first(f"SELECT rowid + 1, v, regexp_matches(v, ?) FROM (SELECT rowid, "
                             f"CAST({q} AS VARCHAR) AS v FROM src) WHERE v <> trim(v) OR "
                             f"regexp_matches(v, '^\\s|\\s$') OR regexp_matches(v, ?) "
                             f"ORDER BY rowid LIMIT 1", [INVISIBLE_SQL, INVISIBLE_SQL])
            if bad:
                what = ("an invisible or control character" if bad[2]
                        else "leading or trailing spaces")
                raise self.error(f"{col} {show(bad[1])} has {what}; an id must show as it is "
                                 "(it would look like another id)", row=bad[0], column=col)
        dup = self.first(
            "SELECT row, id, first_row FROM (SELECT rowid + 1 AS row, "
            "CAST(response_id AS VARCHAR) AS id, "
            "min(rowid + 1) OVER (PARTITION BY CAST(response_id AS VARCHAR)) AS first_row "
            "FROM src) WHERE row > first_row ORDER BY row LIMIT 1")
        if dup:
            raise self.error(f"duplicate response_id {show(dup[1])} (first in row {dup[2]})",
                             row=dup[0], column="response_id")

    def check_prompt_consistency(self):
        """A prompt's text and category are the same on every row that gives them."""
        for col in ("prompt", "category"):
            if col not in self.types:
                continue
            q, pid = quote_ident(col), "CAST(prompt_id AS VARCHAR)"
            bad = self.first(
                f"WITH v AS (SELECT rowid + 1 AS row, {pid} AS pid, CAST({q} AS VARCHAR) AS val "
                f"FROM src WHERE {q} IS NOT NULL), "
                f"f AS (SELECT pid, arg_min(val, row) AS val, min(row) AS row FROM v GROUP BY pid) "
                f"SELECT v.row, v.pid, v.val, f.val, f.row FROM v JOIN f USING (pid) "
                f"WHERE v.val <> f.val ORDER BY v.row LIMIT 1")
            if bad:
                raise self.error(
                    f"prompt {show(bad[1])} has {col} {show(bad[2], 40)} here but "
                    f"{show(bad[3], 40)} in row {bad[4]}", row=bad[0], column=col)


def _header_line(path: Path, suffix: str) -> bytes:
    """A CSV file's first line (at most 1 MB); empty when it cannot be read (DuckDB's
    reader then reports what is wrong)."""
    try:
        opener = gzip.open if suffix.endswith(".gz") else open
        with opener(path, "rb") as stream:
            return stream.readline(2**20)
    except (OSError, EOFError, zlib.error):
        return b""


def _header_fields(path: Path, suffix: str) -> int:
    """An upper bound on a CSV file's columns from its first line: one more than the
    most frequent delimiter, so the width bound holds before DuckDB parses the file."""
    head = _header_line(path, suffix)
    return 1 + max(head.count(d) for d in (b",", b";", b"\t", b"|"))


def _header_names(path: Path, suffix: str) -> tuple[str, list[str]]:
    """(delimiter, column names) of a CSV file's header line, the delimiter being the
    most frequent of comma, semicolon, tab and bar."""
    head = _header_line(path, suffix).decode("utf-8", "replace").removeprefix("\ufeff")
    delimiter = max(",;\t|", key=head.count)
    try:
        names = next(csv.reader([head.rstrip("\r\n")], delimiter=delimiter), [])
    except csv.Error:  # not text: DuckDB's reader reports what is wrong
        names = []
    return delimiter, names


def _csv_problem(kind: str, reason: str) -> str:
    """What is wrong with a CSV row DuckDB could not read, and what to do."""
    if kind == "LINE SIZE OVER MAXIMUM":
        most = limit("RETA_MAX_LINE_BYTES")
        return (f"the line is longer than {most:,} bytes, the most a CSV line may hold "
                f"({reason.strip()}); use JSON Lines or Parquet for such long texts, or "
                "set RETA_MAX_LINE_BYTES")
    if "unterminated quote" in reason:
        return (f"a quote opened in this row is never closed ({reason.strip()}); close it, "
                "or double a quote inside a quoted cell (\"\")")
    return f"cannot be read as CSV: {reason.strip()}"


def _tokens_sql() -> str:
    return "(" + ", ".join("'" + t.replace("'", "''") + "'" for t in MISSING_TOKENS) + ")"


def _reader_reason(exc: Exception) -> str:
    """DuckDB's reason a file cannot be read, in one line.  A CSV error's first line
    names a buffer line, not the data row, so the reason after it comes first."""
    lines = [line.strip() for line in str(exc).strip().splitlines()]
    first = lines[0] if lines else type(exc).__name__
    reason = next((line for line in lines[2:] if line), "")
    if len(lines) > 2 and lines[1].startswith("Original Line:") and reason:
        if reason.startswith("Maximum line size"):
            return _csv_problem("LINE SIZE OVER MAXIMUM", reason)
        return f"{reason} ({first.removeprefix('Invalid Input Error: ')})"
    return first


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# ------------------------------------------------------------------- uploads (dashboard)
UPLOAD_TYPES = ("csv", "gz", "parquet", "jsonl", "ndjson", "json")  # file_uploader's filter


def file_suffix(file_name: str) -> str:
    """The :data:`FORMATS` suffix of ``file_name`` (``.csv.gz`` before ``.gz``), or raise
    RetaInputError naming the file and the accepted types."""
    name = Path(str(file_name)).name.lower()
    suffix = next((s for s in sorted(FORMATS, key=len, reverse=True) if name.endswith(s)), None)
    if suffix is None:
        raise RetaInputError(f"{Path(str(file_name)).name}: unknown file type; use one of "
                             + ", ".join(FORMATS))
    return suffix


@contextmanager
def staged_upload(file_name: str, data: bytes, max_bytes: int | None = None):
    """Uploaded bytes as a temporary file that keeps the original name (and so its
    extension, which picks DuckDB's reader); deleted on exit.

    Raises RetaInputError before writing anything when the type is unknown, the data is
    empty or larger than ``max_bytes``."""
    name = Path(str(file_name)).name or "upload"
    file_suffix(name)
    if not data:
        raise RetaInputError(f"{name}: the file is empty")
    if max_bytes is not None and len(data) > max_bytes:
        raise RetaInputError(f"{name}: the file has {len(data) / 2**20:,.1f} MB; the upload "
                             f"limit is {max_bytes / 2**20:,.0f} MB")
    folder = Path(tempfile.mkdtemp(prefix="reta_upload_"))
    try:
        path = folder / name
        path.write_bytes(data)
        yield path
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def describe_file(file, source_name: str | None = None, preview_rows: int = 5) -> dict:
    """What a file holds, to choose its columns before importing it: ``rows`` (data
    rows), ``columns`` (DataFrame: column, type, numeric, as :func:`import_benchmark`
    judges numeric) and ``preview`` (the first ``preview_rows`` rows).  Raises the same
    RetaInputError as an import when the file cannot be read."""
    with Source(file, source_name) as src:
        columns = pd.DataFrame({"column": src.columns,
                                "type": [src.types[c] for c in src.columns],
                                "numeric": src.numeric_columns(src.columns)})
        preview = src.con.sql(f"SELECT * FROM src ORDER BY rowid LIMIT {int(preview_rows)}").df()
        return {"rows": int(src.n_rows), "columns": columns, "preview": preview}
