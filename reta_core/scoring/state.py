"""The scoring file: the cache of scores and the staging of scoring runs.

It is a separate file beside the database (``data/reta.duckdb`` ->
``data/reta.scoring.sqlite``; ``--cache PATH`` for another), not tables of the DuckDB
store, for three reasons:

* all-or-nothing: a scoring run that fails or is killed must leave the database
  byte-for-byte unchanged and no partial RM visible; staging rows in the database
  would change it on every batch;
* readers: DuckDB lets a writer into a file only when no other process has it open, so
  a run committing a batch every few seconds for hours would lock the dashboard out (or
  be locked out by it);
* the cache is keyed by texts, not by a benchmark's rows: it outlives a removed or
  replaced benchmark and serves any benchmark with the same (prompt, response) pairs.

It is SQLite (the standard library), the right tool for this access pattern: many small
transactions, each committed batch safe from ``kill -9`` (WAL journal), several
processes writing in turn (a busy timeout), no new dependency.

Tables (version :data:`SCHEMA_VERSION`)::

    meta    (key PK, value)                                  -- 'schema_version'
    cache   (key PK, score REAL NULL, status, truncated)     -- key: see reta_core.scoring.run.cache_keys
    runs    (id PK, db, benchmark, benchmark_created, kind, name, spec JSON, total, state,
             started_at, finished_at)                        -- state: running | done | abandoned
    staged  (run, response_code, score REAL NULL, status, truncated, from_cache)  PK (run, response_code)

``status`` is ``ok`` (a finite score), ``unparsable`` (a judge reply without a number in
the rubric's scale: unscored, counted, cached) or ``failed`` (a request that failed
after its retries, staged only with ``--allow-partial``, never cached).  Values are
always bound as parameters.
"""
from __future__ import annotations

import json
import sqlite3
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import RetaInputError

SCHEMA_VERSION = 1
_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)",
    "CREATE TABLE IF NOT EXISTS cache (key TEXT PRIMARY KEY, score REAL, status TEXT NOT NULL, "
    "truncated INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS runs (id INTEGER PRIMARY KEY AUTOINCREMENT, db TEXT NOT NULL, "
    "benchmark TEXT NOT NULL, benchmark_created TEXT, kind TEXT NOT NULL, name TEXT NOT NULL, "
    "spec TEXT NOT NULL, total INTEGER NOT NULL, state TEXT NOT NULL, started_at TEXT NOT NULL, "
    "finished_at TEXT)",
    "CREATE TABLE IF NOT EXISTS staged (run INTEGER NOT NULL, response_code INTEGER NOT NULL, "
    "score REAL, status TEXT NOT NULL, truncated INTEGER NOT NULL DEFAULT 0, "
    "from_cache INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (run, response_code)) WITHOUT ROWID",
]
_CHUNK = 900  # SQLite's default limit of bound parameters is 999


def default_state_path(db_path) -> Path:
    """``data/reta.duckdb`` -> ``data/reta.scoring.sqlite``."""
    db = Path(db_path)
    return db.with_name(db.stem + ".scoring.sqlite")


def _now() -> str:
    return datetime.now(timezone.utc).replace(tzinfo=None).isoformat(timespec="seconds")


class ScoringState:
    """One scoring file (created on first use).  A connection per instance; commit per
    call, so what a call staged survives the process being killed right after."""

    def __init__(self, path, timeout: float = 60.0):
        self.path = Path(path).expanduser()
        self.timeout = timeout
        self._con = None

    def __repr__(self):
        return f"ScoringState({str(self.path)!r})"

    @property
    def con(self) -> sqlite3.Connection:
        if self._con is None:
            if not self.path.parent.is_dir():
                raise RetaInputError(f"{self.path}: the folder {self.path.parent} does not exist")
            try:
                con = sqlite3.connect(str(self.path), timeout=self.timeout, isolation_level=None)
                con.execute("PRAGMA journal_mode=WAL")
                con.execute("PRAGMA synchronous=NORMAL")
                with _transaction(con):
                    for sql in _SCHEMA:
                        con.execute(sql)
                    row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
                    if row is None:
                        con.execute("INSERT INTO meta VALUES ('schema_version', ?)",
                                    [str(SCHEMA_VERSION)])
                    elif int(row[0]) > SCHEMA_VERSION:
                        raise RetaInputError(f"{self.path}: the scoring file has version {row[0]}, "
                                             f"newer than this RETA Explorer ({SCHEMA_VERSION})")
            except sqlite3.DatabaseError as exc:
                raise RetaInputError(f"{self.path}: cannot open the scoring file: {exc}") from exc
            self._con = con
        return self._con

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------------ cache
    def cached(self, keys) -> pd.DataFrame:
        """The cached entries among ``keys``: key, score (NaN when none), status, truncated."""
        keys = list(dict.fromkeys(keys))  # a pair that occurs twice is looked up once
        frames = []
        for start in range(0, len(keys), _CHUNK):
            chunk = keys[start:start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = self.con.execute(f"SELECT key, score, status, truncated FROM cache "
                                    f"WHERE key IN ({marks})", chunk).fetchall()
            if rows:
                frames.append(pd.DataFrame(rows, columns=["key", "score", "status", "truncated"]))
        if not frames:
            return pd.DataFrame({"key": pd.Series([], dtype=object), "score": pd.Series([], dtype=float),
                                 "status": pd.Series([], dtype=object), "truncated": pd.Series([], dtype=int)})
        out = pd.concat(frames, ignore_index=True)
        out["score"] = out["score"].astype(float)
        return out

    def cache_size(self) -> int:
        return int(self.con.execute("SELECT count(*) FROM cache").fetchone()[0])

    # ------------------------------------------------------------------ runs
    def open_run(self, db: str, benchmark: str, kind: str, name: str) -> dict | None:
        """The unfinished run for (database, benchmark, kind, name), or None."""
        row = self.con.execute(
            "SELECT id, benchmark_created, spec, total, started_at FROM runs WHERE db = ? AND "
            "benchmark = ? AND kind = ? AND name = ? AND state = 'running' ORDER BY id DESC",
            [db, benchmark, kind, name]).fetchone()
        if row is None:
            return None
        staged = self.con.execute("SELECT count(*) FROM staged WHERE run = ?", [row[0]]).fetchone()[0]
        return {"id": row[0], "benchmark_created": row[1], "spec": json.loads(row[2]),
                "total": row[3], "started_at": row[4], "staged": int(staged)}

    def start_run(self, db: str, benchmark: str, created: str, kind: str, name: str, spec: dict,
                  total: int) -> int:
        with _transaction(self.con):
            cur = self.con.execute(
                "INSERT INTO runs (db, benchmark, benchmark_created, kind, name, spec, total, "
                "state, started_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'running', ?)",
                [db, benchmark, created, kind, name, json.dumps(spec, sort_keys=True), int(total),
                 _now()])
            return int(cur.lastrowid)

    def end_run(self, run: int, state: str) -> None:
        """Mark a run ``done`` or ``abandoned`` and drop its staged rows (the cache keeps
        every score)."""
        with _transaction(self.con):
            self.con.execute("UPDATE runs SET state = ?, finished_at = ? WHERE id = ?",
                             [state, _now(), run])
            self.con.execute("DELETE FROM staged WHERE run = ?", [run])

    def computed(self, run: int) -> int:
        """Results the run computed itself (not taken from the cache)."""
        return int(self.con.execute("SELECT count(*) FROM staged WHERE run = ? AND from_cache = 0",
                                    [run]).fetchone()[0])

    def staged(self, run: int) -> pd.DataFrame:
        rows = self.con.execute("SELECT response_code, score, status, truncated, from_cache "
                                "FROM staged WHERE run = ?", [run]).fetchall()
        out = pd.DataFrame(rows, columns=["response_code", "score", "status", "truncated",
                                          "from_cache"])
        out["score"] = out["score"].astype(float)
        return out

    def stage(self, run: int, codes, scores, status, truncated, keys=None,
              from_cache: bool = False) -> None:
        """Stage one batch of results (and cache those with a cacheable status) in one
        transaction."""
        scores = [None if not np.isfinite(s) else float(s) for s in np.asarray(scores, float)]
        codes = [int(c) for c in codes]
        status = [str(s) for s in status]
        truncated = [int(bool(t)) for t in truncated]
        with _transaction(self.con):
            self.con.executemany(
                "INSERT OR REPLACE INTO staged VALUES (?, ?, ?, ?, ?, ?)",
                [(run, c, s, st, t, int(from_cache))
                 for c, s, st, t in zip(codes, scores, status, truncated)])
            if keys is not None:
                self.con.executemany(
                    "INSERT OR REPLACE INTO cache VALUES (?, ?, ?, ?)",
                    [(k, s, st, t) for k, s, st, t in zip(keys, scores, status, truncated)
                     if st in CACHEABLE])


CACHEABLE = ("ok", "unparsable")


@contextmanager
def _transaction(con):
    con.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
