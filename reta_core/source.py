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

import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd

from .errors import RetaInputError, show
from .store import first_row, quote_ident

MISSING_TOKENS = ("", "na", "n/a", "nan", "null", "none")
FORMATS = {  # suffix -> (format name, DuckDB reader call with one ? for the path)
    ".csv": ("CSV", "read_csv(?, header = true, all_varchar = true)"),
    ".csv.gz": ("CSV", "read_csv(?, header = true, all_varchar = true)"),
    ".parquet": ("Parquet", "read_parquet(?)"),
    ".jsonl": ("JSON Lines", "read_json(?, format = 'newline_delimited', sample_size = -1)"),
    ".ndjson": ("JSON Lines", "read_json(?, format = 'newline_delimited', sample_size = -1)"),
    ".jsonl.gz": ("JSON Lines", "read_json(?, format = 'newline_delimited', sample_size = -1)"),
    ".ndjson.gz": ("JSON Lines", "read_json(?, format = 'newline_delimited', sample_size = -1)"),
    ".json": ("JSON", "read_json(?, format = 'auto', sample_size = -1)"),
}
_NUMERIC_TYPE = re.compile(
    r"^(U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?|FLOAT|DOUBLE|REAL|DECIMAL.*|NUMERIC.*)$")
_TYPED_SCORE = re.compile(r"^(BOOLEAN|\"?NULL\"?)$")


# ------------------------------------------------------------------------ source
class Source:
    """A user file or DataFrame, read into table ``src`` of an in-memory DuckDB.

    ``src`` keeps the input's row order, so ``rowid + 1`` is the 1-based data row.
    """

    def __init__(self, data, source_name: str | None = None):
        is_frame = isinstance(data, pd.DataFrame)
        self.label = source_name or ("DataFrame" if is_frame else Path(data).name)
        self.con = duckdb.connect()
        try:
            if is_frame:
                self._load_frame(data)
            else:
                self._load_file(Path(data).expanduser())
            self._normalise()
            described = self.con.execute("DESCRIBE src").fetchall()
            self.types = {row[0]: row[1] for row in described}
            self.columns = list(self.types)
            self.n_rows, blank = self.first(
                "SELECT count(*), count(*) FILTER (WHERE COLUMNS(*) IS NULL) FROM src")
            if self.n_rows == blank:  # no rows, or only empty ones
                raise self.error("the file has no data rows")
        except BaseException:
            self.con.close()
            raise

    def close(self):
        self.con.close()

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
        frame = frame.reset_index(drop=True)
        frame.columns = [str(c) for c in frame.columns]
        self.con.register("_reta_frame", frame)
        try:
            self.con.execute("CREATE TABLE src AS SELECT * FROM _reta_frame")
        except duckdb.Error as exc:
            raise self.error(f"cannot be read: {_first_line(exc)}") from exc
        finally:
            self.con.unregister("_reta_frame")

    def _load_file(self, path: Path):
        name = path.name.lower()
        suffix = next((s for s in sorted(FORMATS, key=len, reverse=True) if name.endswith(s)),
                      None)
        if suffix is None:
            raise self.error("unknown file type; use one of " + ", ".join(FORMATS))
        if not path.is_file():
            raise self.error(f"file not found ({path})")
        if path.stat().st_size == 0:
            raise self.error("the file is empty")
        fmt, reader = FORMATS[suffix]
        try:
            self.con.execute(f"CREATE TABLE src AS SELECT * FROM {reader}", [str(path)])
        except duckdb.Error as exc:
            raise self.error(f"cannot be read as {fmt}: {_first_line(exc)}") from exc

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
                     f"ELSE TRY_CAST({text} AS DOUBLE) END")
        return f"(CASE WHEN isnan({value}) THEN NULL ELSE {value} END)"

    def looks_numeric(self, col: str) -> bool:
        """For ``rm_cols=None``: a numeric type, or text whose non-empty cells are all
        numbers (and there is at least one)."""
        if _NUMERIC_TYPE.match(self.types[col]):
            return True
        if self.types[col] != "VARCHAR":
            return False
        bad, good = self.first(
            f"SELECT count(*) FILTER (WHERE v IS NOT NULL AND lower(v) NOT IN {_tokens_sql()} "
            f"AND TRY_CAST(v AS DOUBLE) IS NULL), count(TRY_CAST(v AS DOUBLE)) "
            f"FROM (SELECT trim({quote_ident(col)}) AS v FROM src)")
        return bad == 0 and good > 0

    def check_scores(self, col: str):
        """Every cell of ``col`` empty, NaN or a finite number."""
        q = quote_ident(col)
        if not self._is_typed_number(col):
            text = f"trim(CAST({q} AS VARCHAR))"
            bad = self.first(
                f"SELECT rowid + 1, CAST({q} AS VARCHAR) FROM src WHERE {q} IS NOT NULL "
                f"AND lower({text}) NOT IN {_tokens_sql()} AND TRY_CAST({text} AS DOUBLE) IS NULL "
                f"ORDER BY rowid LIMIT 1")
            if bad:
                raise self.error(f"not a number: {show(bad[1])}", row=bad[0], column=col)
        bad = self.first(f"SELECT rowid + 1, CAST({self.score_expr(col)} AS VARCHAR) FROM src "
                         f"WHERE isinf({self.score_expr(col)}) ORDER BY rowid LIMIT 1")
        if bad:
            raise self.error(f"infinite value {bad[1]}", row=bad[0], column=col)

    def check_ids(self, columns):
        """Ids present (not empty) and response_id unique."""
        for col in columns:
            q = quote_ident(col)
            bad = self.first(f"SELECT rowid + 1 FROM src WHERE {q} IS NULL OR "
                             f"trim(CAST({q} AS VARCHAR)) = '' ORDER BY rowid LIMIT 1")
            if bad:
                raise self.error(f"empty {col}", row=bad[0], column=col)
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


def _tokens_sql() -> str:
    return "(" + ", ".join("'" + t.replace("'", "''") + "'" for t in MISSING_TOKENS) + ")"


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
                                "numeric": [src.looks_numeric(c) for c in src.columns]})
        preview = src.con.sql(f"SELECT * FROM src ORDER BY rowid LIMIT {int(preview_rows)}").df()
        return {"rows": int(src.n_rows), "columns": columns, "preview": preview}
