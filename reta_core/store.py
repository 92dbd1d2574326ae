"""The benchmark store: one DuckDB file holding benchmarks, oracles and RM scores.

Connections are short-lived (open, work, fully fetch, close) so that a dashboard
process and a CLI process can share one file: DuckDB lets many processes read a file
at once but lets a writer in only when nobody else has it open.  Reads open the file
``read_only=True``; writes open it read-write.  Both retry while another process holds
a conflicting lock, for at most ``timeout`` seconds (default 10, env ``RETA_DB_TIMEOUT``),
and then raise :class:`~reta_core.errors.StoreBusyError` naming the PID DuckDB reports.
Inside one process a readers-writer lock per file keeps a read-write and a read-only
connection from ever coexisting (DuckDB refuses that mix within a process).

Schema (version :data:`SCHEMA_VERSION`, created and migrated by :data:`MIGRATIONS`;
every table is keyed by ``benchmark``)::

    meta          (key PK, value)                       -- 'schema_version'
    benchmarks    (name PK, description, default_oracle, created_at UTC, source_file)
    prompts       (benchmark, prompt_id, prompt_code, prompt, category)  PK (benchmark, prompt_id)
    responses     (benchmark, response_code, response_id, prompt_code, prompt_id,
                   response, policy, source_row)
    oracles       (benchmark, name, description, position, n_scored)    PK (benchmark, name)
    oracle_scores (benchmark, oracle, response_code, score DOUBLE NULL)
    rms           (benchmark, name, description, source_file, added_at UTC, is_baseline,
                   n_scored, position, is_derived)                       PK (benchmark, name)
    rm_scores     (benchmark, rm, response_code, score DOUBLE NULL)

``prompt_code`` numbers a benchmark's prompts 0..P-1 in order of first appearance in
the imported file.  ``response_code`` numbers its responses 0..R-1 in *pool order*:
by prompt_code, then by file row, so a prompt's responses are contiguous and the
responses of prompt ``p`` are rows ``offsets[p]:offsets[p+1]`` of a :class:`Pool`.
``source_row`` is the 1-based data row of the response in the imported file.
``is_derived`` marks an RM computed from other stored RMs (an ensemble, docs/metric.md
§11; :mod:`reta_core.ensembles`), its members and method in its description.
The score tables are long (one row per scored response), keyed by the integer
``response_code`` rather than the response_id string: adding an RM is one INSERT and
loading it is one column scan scattered into a NaN-filled numpy array.  A NULL score
means the file had an empty or NaN cell; a response with no row was not in the file.
Uniqueness of response ids is enforced by :mod:`reta_core.ingest` before any write (a
primary key on 1M+ responses would triple the insert time).
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from .errors import RetaInputError, StoreBusyError, show
from .pool import Pool

DEFAULT_TIMEOUT = 10.0
CREATE_HINT = "create it with `python -m reta_core demo` or by importing a benchmark"

MIGRATIONS: list[list[str]] = [
    # version 1
    [
        "CREATE TABLE benchmarks (name VARCHAR PRIMARY KEY, description VARCHAR, "
        "default_oracle VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL, source_file VARCHAR)",
        "CREATE TABLE prompts (benchmark VARCHAR NOT NULL, prompt_id VARCHAR NOT NULL, "
        "prompt_code INTEGER NOT NULL, prompt VARCHAR, category VARCHAR, "
        "PRIMARY KEY (benchmark, prompt_id))",
        "CREATE TABLE responses (benchmark VARCHAR NOT NULL, response_code INTEGER NOT NULL, "
        "response_id VARCHAR NOT NULL, prompt_code INTEGER NOT NULL, prompt_id VARCHAR NOT NULL, "
        "response VARCHAR, policy VARCHAR, source_row BIGINT)",
        "CREATE TABLE oracles (benchmark VARCHAR NOT NULL, name VARCHAR NOT NULL, "
        "description VARCHAR, position INTEGER NOT NULL, n_scored BIGINT NOT NULL, "
        "PRIMARY KEY (benchmark, name))",
        "CREATE TABLE oracle_scores (benchmark VARCHAR NOT NULL, oracle VARCHAR NOT NULL, "
        "response_code INTEGER NOT NULL, score DOUBLE)",
        "CREATE TABLE rms (benchmark VARCHAR NOT NULL, name VARCHAR NOT NULL, "
        "description VARCHAR, source_file VARCHAR, added_at TIMESTAMP NOT NULL, "
        "is_baseline BOOLEAN NOT NULL DEFAULT false, n_scored BIGINT NOT NULL, "
        "position INTEGER NOT NULL, PRIMARY KEY (benchmark, name))",
        "CREATE TABLE rm_scores (benchmark VARCHAR NOT NULL, rm VARCHAR NOT NULL, "
        "response_code INTEGER NOT NULL, score DOUBLE)",
    ],
    # version 2: derived RMs (ensembles, docs/metric.md §11)
    [
        "ALTER TABLE rms ADD COLUMN is_derived BOOLEAN NOT NULL DEFAULT false",
    ],
]
SCHEMA_VERSION = len(MIGRATIONS)

#: Columns that :meth:`Store.write_benchmark` expects in the Arrow tables it is given
#: (``benchmark`` is added by the store).  The score tables arrive *wide*:
#: ``response_code`` plus one float column per oracle / RM, named after it.
TABLE_COLUMNS = {
    "prompts": ("prompt_id", "prompt_code", "prompt", "category"),
    "responses": ("response_code", "response_id", "prompt_code", "prompt_id", "response",
                  "policy", "source_row"),
    "oracles": ("name", "description", "position", "n_scored"),
    "oracle_scores": ("oracle", "response_code", "score"),  # long, as stored
    "rms": ("name", "description", "source_file", "added_at", "is_baseline", "n_scored",
            "position"),
    "rm_scores": ("rm", "response_code", "score"),
}
_RM_FIELDS = ("name", "description", "is_baseline", "is_derived", "source_file", "added_at",
              "n_scored", "coverage")
#: Columns an inserted table may carry besides :data:`TABLE_COLUMNS` (default otherwise).
OPTIONAL_COLUMNS = {"rms": ("is_derived",)}
# delete order for removing a benchmark (children first)
_BENCHMARK_TABLES = ("rm_scores", "rms", "oracle_scores", "oracles", "responses", "prompts",
                     "benchmarks")


def default_db_path(package_dir: Path | None = None, cwd: Path | None = None) -> Path:
    """Where the database lives when nobody says: ``$RETA_DB`` if set; else the
    ``data/reta.duckdb`` of a RETA Explorer checkout, the current folder's first (so
    ``reta``, ``python -m reta_core`` and ``streamlit run app.py`` in a checkout share
    one file however the package was installed), then the one this package was loaded
    from; else (an installed package used elsewhere)
    ``$XDG_DATA_HOME/reta-explorer/reta.duckdb`` (default ``~/.local/share/...``)."""
    env = os.environ.get("RETA_DB")
    if env:
        return Path(env).expanduser()
    here = (package_dir or Path(__file__).resolve().parent).parent
    for checkout in (Path.cwd() if cwd is None else Path(cwd), here):
        if (checkout / "app.py").is_file() and (checkout / "reta_core").is_dir():
            return checkout / "data" / "reta.duckdb"
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share").expanduser()
    return data_home / "reta-explorer" / "reta.duckdb"


def quote_ident(name: str) -> str:
    """A SQL identifier for ``name`` (double quotes, inner quotes doubled)."""
    return '"' + str(name).replace('"', '""') + '"'


def utc_now() -> datetime:
    """Now, as a naive UTC datetime (what the TIMESTAMP columns hold)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


# ---------------------------------------------------------------- in-process locking
class _ReadWriteLock:
    """Many readers or one writer (threads of this process, one database file); a
    waiting writer goes before new readers, so a busy dashboard cannot starve it."""

    def __init__(self):
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0

    @contextmanager
    def read(self):
        with self._cond:
            while self._writer or self._writers_waiting:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    @contextmanager
    def write(self):
        with self._cond:
            self._writers_waiting += 1
            while self._writer or self._readers:
                self._cond.wait()
            self._writers_waiting -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


_LOCKS: dict[str, _ReadWriteLock] = {}
_LOCKS_GUARD = threading.Lock()


def _file_lock(path: Path) -> _ReadWriteLock:
    key = os.path.realpath(path)
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(key, _ReadWriteLock())


_LOCK_PATTERNS = ("could not set lock", "conflicting lock",
                  "different configuration than existing connections")


def _lock_holder(message: str) -> tuple[int | None, str]:
    """(PID, description) of the lock holder named in a DuckDB lock error."""
    pid = re.search(r"PID (\d+)", message)
    prog = re.search(r"held in (.+?) \(PID", message)
    if pid:
        who = f"process {pid.group(1)}" + (f" ({prog.group(1)})" if prog else "")
        return int(pid.group(1)), who
    if "different configuration" in message:
        return os.getpid(), f"a connection inside this process ({os.getpid()})"
    return None, "another process"


def _check_known(path, kind: str, known: list, wanted, where: str = "") -> None:
    """Raise RetaInputError for the first of ``wanted`` not in ``known``, listing those."""
    missing = [w for w in wanted if w not in known]
    if missing:
        has = ", ".join(map(str, known)) if known else "none"
        raise RetaInputError(f"{path}: unknown {kind} {show(missing[0])}{where}; it has: {has}")


# ---------------------------------------------------------------------------- Store

_commits = 0  # write transactions this process committed (see committed_writes)


def committed_writes() -> int:
    """How many write transactions this process has committed to any database: the
    command line compares it before and after a command to say whether a command that
    failed late had already changed the database."""
    return _commits


def _write_refused(path: Path, exc: BaseException) -> RetaInputError:
    """The machine refused a write of the database at ``path`` (no space, no permission):
    one line, and the transaction was not committed."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    return RetaInputError(f"{path}: cannot write the database: {first}; nothing was written (free "
                          "space or fix the folder's permissions, then run it again)")


class Store:
    """A RETA database file (see the module docstring for the schema).

    Parameters
    ----------
    path : str or Path, optional
        The DuckDB file; default :func:`default_db_path`.
    timeout : float, optional
        Seconds to keep retrying while another process holds the file; default
        ``$RETA_DB_TIMEOUT`` or 10.
    """

    def __init__(self, path=None, timeout: float | None = None):
        self.path = Path(path if path is not None else default_db_path()).expanduser()
        if timeout is None:
            timeout = float(os.environ.get("RETA_DB_TIMEOUT", DEFAULT_TIMEOUT))
        self.timeout = float(timeout)

    def __repr__(self):
        return f"Store({str(self.path)!r})"

    def exists(self) -> bool:
        """Whether the database file exists (reads raise when it does not).  A folder
        or another kind of file at the path raises RetaInputError."""
        if self.path.is_file():
            return True
        if os.path.lexists(self.path):
            raise RetaInputError(f"{self.path}: not a database file (a folder, a broken link or "
                                 "another kind of file); give a file path with --db or RETA_DB")
        return False

    # ------------------------------------------------------------ connections
    def _open(self, write: bool) -> duckdb.DuckDBPyConnection:
        deadline = time.monotonic() + self.timeout
        delay = 0.02
        while True:
            try:
                return duckdb.connect(str(self.path), read_only=not write)
            except (duckdb.IOException, duckdb.ConnectionException) as exc:
                message = str(exc)
                if not any(p in message.lower() for p in _LOCK_PATTERNS):
                    first = message.strip().splitlines()[0] if message.strip() else message
                    raise RetaInputError(
                        f"{self.path}: cannot open the database: {first}") from exc
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    pid, who = _lock_holder(message)
                    raise StoreBusyError(
                        f"{self.path}: the database is locked by {who}; waited "
                        f"{self.timeout:g} s. Let that program finish or close it (a running "
                        f"import, or a notebook holding a connection), or wait longer with "
                        f"RETA_DB_TIMEOUT=<seconds>", pid=pid) from exc
                time.sleep(min(delay, remaining))
                delay = min(delay * 2, 0.25)

    @contextmanager
    def _read(self):
        """A short read-only connection with an up-to-date schema."""
        if not self.exists():
            raise RetaInputError(f"{self.path}: the database does not exist; {CREATE_HINT}")
        for _attempt in range(2):
            with _file_lock(self.path).read():
                con = self._open(write=False)
                try:
                    version = _schema_version(con)
                    if version == SCHEMA_VERSION:
                        yield con
                        return
                finally:
                    con.close()
            if version is None or version > SCHEMA_VERSION:
                break
            with self._write():  # an older schema: migrate, then read again
                pass
        if version is None:
            raise RetaInputError(f"{self.path}: not a RETA Explorer database (no meta table with "
                                 "a whole-number schema_version)")
        raise RetaInputError(
            f"{self.path}: the database has schema version {version}, newer than this "
            f"RETA Explorer ({SCHEMA_VERSION}); upgrade RETA Explorer")

    @contextmanager
    def _write(self):
        """A read-write connection inside one transaction (committed on success).

        The machine's refusals (a folder that cannot be created or written, no space
        left on the device) are one-line RetaInputErrors: nothing was written."""
        self.exists()  # a folder at the path is refused before anything is tried
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RetaInputError(f"{self.path}: cannot create the folder {self.path.parent}: "
                                 f"{exc.strerror or exc}") from exc
        with self._write_lock() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
            except BaseException:
                try:
                    con.execute("ROLLBACK")
                except duckdb.Error:
                    pass  # closing the connection discards the transaction anyway
                raise
            try:
                con.execute("COMMIT")
            except duckdb.TransactionException as exc:  # e.g. its log could not be written (a full disk)
                raise _write_refused(self.path, exc) from exc
            global _commits
            _commits += 1

    @contextmanager
    def _write_lock(self):
        """A read-write connection (so the file's lock) with an up-to-date schema; the
        machine's refusals are one-line RetaInputErrors, as for :meth:`_write`."""
        with _file_lock(self.path).write():
            con = self._open(write=True)
            try:
                _migrate(con, self.path)
                yield con
            except (OSError, duckdb.IOException, duckdb.PermissionException) as exc:
                raise _write_refused(self.path, exc) from exc
            finally:
                con.close()

    # ------------------------------------------------------------ helpers
    def _benchmark_names(self, con) -> list[str]:
        return [r[0] for r in con.execute("SELECT name FROM benchmarks ORDER BY name").fetchall()]

    def _require_benchmark(self, con, name):
        _check_known(self.path, "benchmark", self._benchmark_names(con), [name])

    def _scorer_names(self, con, table: str, benchmark: str) -> list[str]:
        rows = con.execute(
            f"SELECT name FROM {quote_ident(table)} WHERE benchmark = ? ORDER BY position, name",
            [benchmark]).fetchall()
        return [r[0] for r in rows]

    # ------------------------------------------------------------ read API
    def benchmark_names(self) -> list[str]:
        """Names of the stored benchmarks (empty when the file does not exist yet)."""
        if not self.exists():
            return []
        with self._read() as con:
            return self._benchmark_names(con)

    def benchmark_stamp(self, name: str):
        """What identifies the stored state of benchmark ``name`` (None when absent): its
        created_at and its RMs with their added_at.  An import that replaces the
        benchmark passes it back to :meth:`write_benchmark` so that a change made while
        the file was being checked (an RM added, say) is not silently dropped."""
        if not self.exists():
            return None
        with self._read() as con:
            return _stamp(con, name)

    def list_benchmarks(self) -> pd.DataFrame:
        """One row per benchmark: name, n_prompts, n_responses, oracles (list),
        n_rms (baselines included), created_at (UTC), description, default_oracle,
        source_file."""
        with self._read() as con:
            df = con.sql(
                """
                SELECT b.name, coalesce(p.n, 0) AS n_prompts, coalesce(r.n, 0) AS n_responses,
                       coalesce(o.names, []) AS oracles, coalesce(m.n, 0) AS n_rms,
                       b.created_at, b.description, b.default_oracle, b.source_file
                FROM benchmarks b
                LEFT JOIN (SELECT benchmark, count(*) AS n FROM prompts GROUP BY ALL) p
                       ON p.benchmark = b.name
                LEFT JOIN (SELECT benchmark, count(*) AS n FROM responses GROUP BY ALL) r
                       ON r.benchmark = b.name
                LEFT JOIN (SELECT benchmark, list(name ORDER BY position) AS names
                           FROM oracles GROUP BY ALL) o ON o.benchmark = b.name
                LEFT JOIN (SELECT benchmark, count(*) AS n FROM rms GROUP BY ALL) m
                       ON m.benchmark = b.name
                ORDER BY b.name
                """).df()
        df["oracles"] = [list(x) for x in df["oracles"]]
        return df

    def list_rms(self, benchmark: str) -> pd.DataFrame:
        """The benchmark's RMs: name, description, is_baseline, is_derived (an ensemble,
        §11), source_file, added_at (UTC), n_scored (finite scores), coverage (n_scored /
        responses)."""
        with self._read() as con:
            self._require_benchmark(con, benchmark)
            return pd.DataFrame(self._rm_records(con, benchmark), columns=_RM_FIELDS)

    def _rm_records(self, con, benchmark) -> list[dict]:
        return _records(con, f"""
            SELECT {', '.join(_RM_FIELDS[:-1])},
                   n_scored / greatest((SELECT count(*) FROM responses WHERE benchmark = $b), 1)
                       AS coverage
            FROM rms WHERE benchmark = $b ORDER BY position, name""", {"b": benchmark})

    def benchmark_info(self, name: str) -> dict:
        """Everything about one benchmark except its scores.

        Keys: name, description, created_at, source_file, default_oracle, oracles (list of
        dicts: name, description, n_scored, coverage), rms (list of dicts as the rows of
        :meth:`list_rms`), categories (sorted list; empty when the benchmark has none),
        category_counts (prompts per category), n_prompts, n_responses,
        pool_size ({min, median, max} responses per prompt).
        """
        with self._read() as con:
            self._require_benchmark(con, name)
            row = first_row(
                con, "SELECT description, created_at, source_file, default_oracle FROM benchmarks "
                "WHERE name = ?", [name])
            n_prompts, n_responses = first_row(
                con, "SELECT (SELECT count(*) FROM prompts WHERE benchmark = $b), "
                "(SELECT count(*) FROM responses WHERE benchmark = $b)",
                {"b": name})
            sizes = first_row(
                con, "SELECT min(n), median(n), max(n) FROM (SELECT count(*) AS n FROM responses "
                "WHERE benchmark = ? GROUP BY prompt_code)", [name])
            oracles = _records(
                con, "SELECT name, description, n_scored, n_scored / greatest($n, 1) AS coverage "
                "FROM oracles WHERE benchmark = $b ORDER BY position",
                {"b": name, "n": n_responses})
            rms = self._rm_records(con, name)
            cats = con.execute(
                "SELECT category, count(*) FROM prompts WHERE benchmark = ? AND category IS NOT "
                "NULL GROUP BY category ORDER BY category", [name]).fetchall()
        return {
            "name": name,
            "description": row[0],
            "created_at": row[1],
            "source_file": row[2],
            "default_oracle": row[3],
            "oracles": oracles,
            "rms": rms,
            "categories": [c for c, _ in cats],
            "category_counts": {c: int(n) for c, n in cats},
            "n_prompts": int(n_prompts),
            "n_responses": int(n_responses),
            "pool_size": {"min": _int(sizes[0]), "median": _num(sizes[1]),
                          "max": _int(sizes[2])},
        }

    def load_pool(self, benchmark: str, oracles=None, rms=None, category=None) -> Pool:
        """The benchmark's scores as a :class:`Pool` (NaN where a score is missing).

        ``oracles`` / ``rms``: names to load (default: all, in stored order; pass ``[]``
        for none).  ``category``: keep only that category's prompts.
        """
        with self._read() as con:
            return self._load_pool(con, benchmark, oracles, rms, category)

    def load_evaluated_pool(self, benchmark: str, oracle: str | None = None, rms=None,
                            category=None) -> tuple[Pool, str, list[str]]:
        """What an evaluation of a stored benchmark reads, on one connection: the pool of
        :meth:`load_pool` with one oracle (``None``: the benchmark's default oracle) and
        ``rms``, that oracle's name, and the names of the benchmark's derived RMs.  (A
        second connection and :meth:`benchmark_info`'s counts cost about 50 ms.)"""
        with self._read() as con:
            self._require_benchmark(con, benchmark)  # before its default oracle is read
            if oracle is None:
                oracle = first_row(con, "SELECT default_oracle FROM benchmarks WHERE name = ?",
                                   [benchmark])[0]
            derived = [r[0] for r in con.execute(
                "SELECT name FROM rms WHERE benchmark = ? AND is_derived ORDER BY position, name",
                [benchmark]).fetchall()]
            return self._load_pool(con, benchmark, [oracle], rms, category), oracle, derived

    def _load_pool(self, con, benchmark: str, oracles, rms, category) -> Pool:
        """:meth:`load_pool` on an open read connection."""
        self._require_benchmark(con, benchmark)
        oracle_names = self._pick(con, "oracles", "oracle", benchmark, oracles)
        rm_names = self._pick(con, "rms", "RM", benchmark, rms)
        prompts = con.sql(
            "SELECT prompt_id, category FROM prompts WHERE benchmark = ? ORDER BY prompt_code",
            params=[benchmark]).to_arrow_table()
        # unordered scans (an ORDER BY costs more than the rest); rows are put in
        # response_code order in numpy
        rows = con.sql(
            "SELECT response_code, prompt_code, response_id FROM responses WHERE benchmark = ?",
            params=[benchmark]).to_arrow_table()
        n = rows.num_rows
        oracle_arrays = {o: _scatter(con, "oracle_scores", "oracle", benchmark, o, n)
                         for o in oracle_names}
        rm_arrays = {r: _scatter(con, "rm_scores", "rm", benchmark, r, n) for r in rm_names}
        place = rows["response_code"].to_numpy()
        codes = np.empty(n, dtype=np.int64)
        codes[place] = rows["prompt_code"].to_numpy()
        if codes.size and np.any(np.diff(codes) < 0):
            raise RuntimeError(f"{self.path}: responses of {benchmark!r} are not in prompt order")
        ids = rows["response_id"]

        def response_ids():  # a million strings cost more than the metrics: made when read
            out = np.empty(n, dtype=object)
            out[place] = object_array(ids)
            return out

        pool = arrow_pool(prompts, codes, response_ids, oracle_arrays, rm_arrays)
        if category is not None:
            known = sorted({c for c in (pool.categories if pool.categories is not None else [])
                            if c is not None})
            _check_known(self.path, "category", known, [category], f" in {show(benchmark)}")
            pool = pool.select_category(category)
        return pool

    def iter_pools(self, benchmark: str, oracles=None, rms=None, *, chunk_prompts: int,
                   category=None, memory_limit: int | None = None):
        """The benchmark's scores as a sequence of :class:`Pool` s of at most
        ``chunk_prompts`` prompts each (consecutive prompt-code ranges), for the chunked
        engine (:mod:`reta_core.chunked`): peak memory follows the chunk, not the benchmark.

        ``oracles`` / ``rms`` / ``category`` as in :meth:`load_pool` (a chunk keeps only
        the category's prompts).  A chunk's ``response_ids`` are the store's response
        codes (the engine needs no id text).  ``memory_limit`` (bytes) caps DuckDB's own
        buffers on this connection.  The read lock is held until the sequence is
        exhausted or closed.
        """
        if int(chunk_prompts) < 1:
            raise RetaInputError(f"the chunk size must be at least 1 prompt, got {chunk_prompts!r}")
        with self._read() as con:
            self._require_benchmark(con, benchmark)
            if memory_limit is not None:
                con.execute("SET memory_limit = ?", [f"{int(memory_limit)}B"])
            oracle_names = self._pick(con, "oracles", "oracle", benchmark, oracles)
            rm_names = self._pick(con, "rms", "RM", benchmark, rms)
            if category is not None:
                known = [r[0] for r in con.execute(
                    "SELECT DISTINCT category FROM prompts WHERE benchmark = ? AND category IS NOT NULL "
                    "ORDER BY category", [benchmark]).fetchall()]
                _check_known(self.path, "category", known, [category], f" in {show(benchmark)}")
            top = first_row(con, "SELECT coalesce(max(prompt_code) + 1, 0) FROM prompts WHERE benchmark = ?",
                            [benchmark])[0]
            for low in range(0, int(top), int(chunk_prompts)):
                high = low + int(chunk_prompts)
                pool = self._chunk_pool(con, benchmark, low, high, oracle_names, rm_names)
                if category is not None:
                    pool = pool.select_prompts(np.asarray(pool.categories == category, dtype=bool)
                                               if pool.categories is not None else
                                               np.zeros(pool.n_prompts, dtype=bool))
                yield pool

    def _chunk_pool(self, con, benchmark: str, low: int, high: int, oracle_names, rm_names) -> Pool:
        """The prompts with ``low <= prompt_code < high`` as a Pool (response codes as ids)."""
        prompts = con.sql(
            "SELECT prompt_code, prompt_id, category FROM prompts WHERE benchmark = ? "
            "AND prompt_code >= ? AND prompt_code < ? ORDER BY prompt_code",
            params=[benchmark, low, high]).to_arrow_table()
        rows = con.sql(
            "SELECT response_code, prompt_code FROM responses WHERE benchmark = ? "
            "AND prompt_code >= ? AND prompt_code < ? ORDER BY response_code",
            params=[benchmark, low, high]).to_arrow_table()
        response_codes = rows["response_code"].to_numpy().astype(np.int64)
        prompt_codes = np.searchsorted(prompts["prompt_code"].to_numpy(), rows["prompt_code"].to_numpy())
        if prompt_codes.size and np.any(np.diff(prompt_codes) < 0):
            raise RuntimeError(f"{self.path}: responses of {benchmark!r} are not in prompt order")
        counts = np.bincount(prompt_codes, minlength=prompts.num_rows)
        return Pool(object_array(prompts["prompt_id"]), np.concatenate([[0], np.cumsum(counts)]),
                    response_codes,
                    {o: _range_scores(con, "oracle_scores", "oracle", benchmark, o, response_codes)
                     for o in oracle_names},
                    {r: _range_scores(con, "rm_scores", "rm", benchmark, r, response_codes)
                     for r in rm_names},
                    object_array(prompts["category"]))

    def export_partitions(self, benchmark: str, folder, partitions: int, oracles=None, rms=None) -> list[Path]:
        """Write the benchmark as ``partitions`` Parquet files in the ingest long format
        (``prompt_id, response_id``, one column per oracle and RM, NaN = not scored),
        each holding a consecutive range of whole prompts (``part-00000.parquet``, ...):
        the input of ``reta --parquet`` and ``reta --engine ray``.  One range is read at
        a time; files are written under a temporary name and renamed.  ``folder`` must
        not hold Parquet files already."""
        import pyarrow.parquet as pq

        folder = Path(folder).expanduser()
        if int(partitions) < 1:
            raise RetaInputError(f"--partitions must be at least 1, got {partitions!r}")
        if folder.exists() and (not folder.is_dir() or any(folder.glob("*.parquet"))):
            raise RetaInputError(f"{folder}: exists and is not an empty folder; choose a new folder")
        written = []
        with self._read() as con:
            self._require_benchmark(con, benchmark)
            scorers = ([(o, "oracle_scores", "oracle")
                        for o in self._pick(con, "oracles", "oracle", benchmark, oracles)]
                       + [(r, "rm_scores", "rm") for r in self._pick(con, "rms", "RM", benchmark, rms)])
            names = [name for name, _, _ in scorers]
            clash = [n for n in names if n in ("prompt_id", "response_id")]
            if clash:
                raise RetaInputError(f"scorer {show(clash[0])} has the name of an id column; it cannot be "
                                     "exported in the long format")
            top = first_row(con, "SELECT coalesce(max(prompt_code) + 1, 0) FROM prompts WHERE benchmark = ?",
                            [benchmark])[0]
            step = max(1, -(-int(top) // int(partitions)))
            # every file goes to a hidden sibling folder first, renamed into place at the end:
            # a run that fails half way leaves no partial set of partitions behind
            try:
                folder.parent.mkdir(parents=True, exist_ok=True)
                staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
            except OSError as exc:
                raise RetaInputError(f"{folder}: cannot write there: {exc.strerror or exc}") from exc
            try:
                for number, low in enumerate(range(0, int(top), step)):
                    rows = con.sql(
                        "SELECT response_code, prompt_id, response_id FROM responses WHERE benchmark = ? "
                        "AND prompt_code >= ? AND prompt_code < ? ORDER BY response_code",
                        params=[benchmark, low, low + step]).to_arrow_table()
                    codes = rows["response_code"].to_numpy().astype(np.int64)
                    columns = {"prompt_id": rows["prompt_id"], "response_id": rows["response_id"]}
                    for name, table, key in scorers:
                        columns[name] = _range_scores(con, table, key, benchmark, name, codes)
                    name = f"part-{number:05d}.parquet"
                    pq.write_table(pa.table(columns), staging / name)
                    written.append(folder / name)
                if folder.exists():
                    folder.rmdir()  # empty (checked above)
                os.replace(staging, folder)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
        return written

    def _pick(self, con, table, kind, benchmark, wanted) -> list[str]:
        known = self._scorer_names(con, table, benchmark)
        if wanted is None:
            return known
        wanted = [wanted] if isinstance(wanted, str) else list(wanted)
        _check_known(self.path, kind, known, wanted, f" in {show(benchmark)}")
        return wanted

    def load_prompts(self, benchmark: str) -> pd.DataFrame:
        """prompt_id, prompt, category of every prompt, in prompt order."""
        with self._read() as con:
            self._require_benchmark(con, benchmark)
            return con.sql(
                "SELECT prompt_id, prompt, category FROM prompts WHERE benchmark = ? "
                "ORDER BY prompt_code", params=[benchmark]).df()

    def load_responses(self, benchmark: str, prompt_id) -> pd.DataFrame:
        """response_id, response, policy of one prompt's responses, in pool order."""
        with self._read() as con:
            self._require_benchmark(con, benchmark)
            df = con.sql(
                "SELECT response_id, response, policy FROM responses WHERE benchmark = ? "
                "AND prompt_id = ? ORDER BY response_code",
                params=[benchmark, str(prompt_id)]).df()
        if df.empty:
            raise RetaInputError(
                f"{self.path}: benchmark {show(benchmark)} has no prompt {show(str(prompt_id))}")
        return df

    def load_texts(self, benchmark: str) -> pa.Table:
        """Every response of ``benchmark`` with its texts, in pool order (Arrow):
        response_code, prompt_id, response_id, prompt, response, category, policy.
        The pool to score (docs/metric.md §12) and the file ``export-pool`` writes."""
        with self._read() as con:
            self._require_benchmark(con, benchmark)
            return con.sql(
                "SELECT r.response_code, r.prompt_id, r.response_id, p.prompt, r.response, "
                "p.category, r.policy FROM responses r JOIN prompts p "
                "ON p.benchmark = r.benchmark AND p.prompt_code = r.prompt_code "
                "WHERE r.benchmark = ? ORDER BY r.response_code", params=[benchmark]
            ).to_arrow_table()

    # ------------------------------------------------------------ write API
    def remove_benchmark(self, name: str) -> None:
        """Delete a benchmark with its prompts, responses, oracles and RMs."""
        with self._write() as con:
            self._require_benchmark(con, name)
            _delete_benchmark(con, name)

    def remove_rm(self, benchmark: str, rm: str) -> None:
        """Delete one RM (baselines included) and its scores."""
        with self._write() as con:
            self._require_benchmark(con, benchmark)
            self._pick(con, "rms", "RM", benchmark, [rm])
            con.execute("DELETE FROM rm_scores WHERE benchmark = ? AND rm = ?", [benchmark, rm])
            con.execute("DELETE FROM rms WHERE benchmark = ? AND name = ?", [benchmark, rm])

    # ------------------------------------------------------------ compaction
    def free_bytes(self) -> int:
        """Bytes of the file in blocks DuckDB has freed (by a remove, or a write that
        failed or was killed): what :meth:`vacuum` reclaims at least."""
        with self._read() as con:
            block, free = first_row(con, "SELECT block_size, free_blocks FROM "
                                         "pragma_database_size() WHERE database_name = "
                                         "current_database()")
        return int(block) * int(free)

    def vacuum(self) -> tuple[int, int]:
        """Compact the database file; returns its size in bytes (before, after).

        DuckDB keeps the blocks a delete frees for reuse and never shrinks its file
        (CHECKPOINT and VACUUM leave it as it is, measured with DuckDB 2.0), so this
        copies the content (``COPY FROM DATABASE``) into a fresh file beside it and
        renames that over the old one, all while holding the write lock, so no other
        writer or reader is in between.  Killed before the rename, the old file is as
        it was (the copy is a separate file, cleared by the next vacuum); the rename is
        atomic."""
        if not self.exists():
            raise RetaInputError(f"{self.path}: the database does not exist; {CREATE_HINT}")
        fresh = self.path.with_name(self.path.name + ".vacuum")
        with self._write_lock() as con:
            before = self.path.stat().st_size
            for leftover in (fresh, fresh.with_name(fresh.name + ".wal")):
                leftover.unlink(missing_ok=True)  # a killed vacuum's copy
            try:
                con.execute("SET enable_progress_bar = false")
                con.execute("CHECKPOINT")
                con.execute("ATTACH ? AS reta_vacuum", [str(fresh)])
                old = first_row(con, "SELECT current_database()")[0]
                con.execute(f"COPY FROM DATABASE {quote_ident(old)} TO reta_vacuum")
                con.execute("DETACH reta_vacuum")  # checkpoints the copy, closes it
                os.chmod(fresh, self.path.stat().st_mode & 0o7777)
                with open(fresh, "rb") as copy:
                    os.fsync(copy.fileno())
                os.replace(fresh, self.path)
            except BaseException:
                fresh.unlink(missing_ok=True)
                raise
        return before, self.path.stat().st_size

    def write_benchmark(self, name: str, meta: dict, tables: dict, replace: bool = False,
                        source: str | None = None, expect_stamp=...) -> None:
        """Insert a whole benchmark in one transaction (used by :mod:`reta_core.ingest`,
        which has validated the data).

        ``meta``: description, default_oracle, source_file.  ``tables``: Arrow tables with
        the columns :data:`TABLE_COLUMNS` names for prompts, responses, oracles and rms;
        oracle_scores and rm_scores wide (response_code + a column per scorer).
        ``replace``: drop an existing benchmark of that name first; without it an existing
        name raises RetaInputError naming ``source`` (the file being imported).
        ``expect_stamp``: :meth:`benchmark_stamp` when the import began; when the
        benchmark has changed since, nothing is written (RetaInputError).
        """
        with self._write() as con:
            if expect_stamp is not ... and _stamp(con, name) != expect_stamp:
                raise RetaInputError(
                    f"{source or self.path}: benchmark {show(name)} changed while the file was "
                    "being checked (created, replaced, or an RM added or removed); nothing was "
                    "written: run the import again")
            if name in self._benchmark_names(con):
                if not replace:
                    raise RetaInputError(
                        f"{source or self.path}: benchmark {show(name)} exists already; "
                        "choose another name or replace it (--replace)")
                _delete_benchmark(con, name)
            con.execute(
                "INSERT INTO benchmarks (name, description, default_oracle, created_at, "
                "source_file) VALUES (?, ?, ?, ?, ?)",
                [name, meta.get("description"), meta["default_oracle"], utc_now(),
                 meta.get("source_file")])
            for table in ("prompts", "responses", "oracles", "rms"):
                _insert(con, table, name, tables[table])
            for table in ("oracle_scores", "rm_scores"):
                wide = tables[table]
                _insert_scores(con, table, name, wide,
                               {c: c for c in wide.column_names if c != "response_code"})

    def write_rm(self, benchmark: str, rm_row: dict, scores: pa.Table, replace: bool = False,
                 source: str | None = None, expect_created_at=None) -> None:
        """Insert one RM (``rm_row``: name, description, source_file, n_scored and
        optionally is_baseline and is_derived) and its scores (Arrow: response_code, score)
        in one transaction.  ``replace`` drops an existing RM of that name first.
        ``expect_created_at``: the benchmark's created_at when the scores were matched to
        its responses; if it was replaced since, nothing is written."""
        name = rm_row["name"]
        with self._write() as con:
            self._require_benchmark(con, benchmark)
            created = first_row(con, "SELECT created_at FROM benchmarks WHERE name = ?",
                                [benchmark])[0]
            if expect_created_at is not None and created != expect_created_at:
                raise RetaInputError(
                    f"{source or self.path}: benchmark {show(benchmark)} was replaced while "
                    "the file was being checked; add the RM again")
            if name in self._scorer_names(con, "rms", benchmark):
                if not replace:
                    raise RetaInputError(
                        f"{source or self.path}: RM {show(name)} exists already in benchmark "
                        f"{show(benchmark)}; choose another name or replace it (--replace)")
                con.execute("DELETE FROM rm_scores WHERE benchmark = ? AND rm = ?",
                            [benchmark, name])
                con.execute("DELETE FROM rms WHERE benchmark = ? AND name = ?", [benchmark, name])
            position = first_row(
                con, "SELECT coalesce(max(position) + 1, 0) FROM rms WHERE benchmark = ?",
                [benchmark])[0]
            _insert(con, "rms", benchmark, pa.table({
                "name": [name],
                "description": [rm_row.get("description")],
                "source_file": [rm_row.get("source_file")],
                "added_at": pa.array([utc_now()], pa.timestamp("us")),
                "is_baseline": [bool(rm_row.get("is_baseline", False))],
                "n_scored": pa.array([int(rm_row["n_scored"])], pa.int64()),
                "position": pa.array([int(position)], pa.int32()),
                "is_derived": [bool(rm_row.get("is_derived", False))],
            }))
            _insert_scores(con, "rm_scores", benchmark, scores, {name: "score"})

    def write_oracle(self, benchmark: str, oracle_row: dict, scores: pa.Table,
                     replace: bool = False, source: str | None = None,
                     expect_created_at=None) -> None:
        """Insert one oracle (``oracle_row``: name, description, n_scored) and its scores
        (Arrow: response_code, score) in one transaction, after the benchmark's
        existing oracles; ``replace`` drops an oracle of that name first (never the
        default oracle).  ``expect_created_at`` as in :meth:`write_rm`."""
        name = oracle_row["name"]
        with self._write() as con:
            self._require_benchmark(con, benchmark)
            created, default = first_row(
                con, "SELECT created_at, default_oracle FROM benchmarks WHERE name = ?",
                [benchmark])
            if expect_created_at is not None and created != expect_created_at:
                raise RetaInputError(
                    f"{source or self.path}: benchmark {show(benchmark)} was replaced while "
                    "the scores were being made; label it again")
            if name in self._scorer_names(con, "rms", benchmark):
                raise RetaInputError(f"{source or self.path}: {show(name)} is an RM of benchmark "
                                     f"{show(benchmark)}; choose another oracle name")
            if name in self._scorer_names(con, "oracles", benchmark):
                if not replace or name == default:
                    why = ("it is the default oracle" if replace else
                           "choose another name or replace it (--replace)")
                    raise RetaInputError(f"{source or self.path}: oracle {show(name)} exists "
                                         f"already in benchmark {show(benchmark)}; {why}")
                con.execute("DELETE FROM oracle_scores WHERE benchmark = ? AND oracle = ?",
                            [benchmark, name])
                con.execute("DELETE FROM oracles WHERE benchmark = ? AND name = ?",
                            [benchmark, name])
            position = first_row(
                con, "SELECT coalesce(max(position) + 1, 0) FROM oracles WHERE benchmark = ?",
                [benchmark])[0]
            _insert(con, "oracles", benchmark, pa.table({
                "name": [name],
                "description": pa.array([oracle_row.get("description")], pa.string()),
                "position": pa.array([int(position)], pa.int32()),
                "n_scored": pa.array([int(oracle_row["n_scored"])], pa.int64()),
            }))
            _insert_scores(con, "oracle_scores", benchmark, scores, {name: "score"})


# ------------------------------------------------------------------ module helpers
def _stamp(con, name: str):
    created = first_row(con, "SELECT created_at FROM benchmarks WHERE name = ?", [name])
    if created is None:
        return None
    rms = con.execute("SELECT name, added_at, n_scored FROM rms WHERE benchmark = ? ORDER BY name",
                      [name]).fetchall()
    return (created[0], tuple(rms))


def first_row(con, sql: str, params=None):
    """The first row of a query (or None), with the result fully fetched: DuckDB 2.0
    keeps a result open until a fetch comes back empty, blocking the connection."""
    result = con.execute(sql) if params is None else con.execute(sql, params)
    rows = result.fetchall()
    return rows[0] if rows else None


def _records(con, sql: str, params=None) -> list[dict]:
    """A query's rows as dicts (NULL -> None)."""
    result = con.execute(sql) if params is None else con.execute(sql, params)
    names = [d[0] for d in result.description]
    return [dict(zip(names, row)) for row in result.fetchall()]


def _schema_version(con) -> int | None:
    has_meta = first_row(
        con, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'meta' "
        "AND table_schema = 'main'")[0]
    if not has_meta:
        has_any = first_row(
        con,     "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main'"
        )[0]
        return 0 if not has_any else None
    row = first_row(con, "SELECT value FROM meta WHERE key = 'schema_version'")
    try:
        return int(row[0]) if row else None
    except (TypeError, ValueError):  # not written by RETA Explorer: reported as such
        return None


def _migrate(con, path) -> None:
    """Bring the schema up to :data:`SCHEMA_VERSION` (one committed transaction)."""
    version = _schema_version(con)
    if version == SCHEMA_VERSION:
        return
    if version is None:
        raise RetaInputError(f"{path}: not a RETA Explorer database (it has other tables)")
    if version > SCHEMA_VERSION:
        raise RetaInputError(
            f"{path}: the database has schema version {version}, newer than this RETA "
            f"Explorer ({SCHEMA_VERSION}); upgrade RETA Explorer")
    con.execute("BEGIN TRANSACTION")
    try:
        if version == 0:
            con.execute("CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
        for statements in MIGRATIONS[version:]:
            for sql in statements:
                con.execute(sql)
        con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)",
                    [str(SCHEMA_VERSION)])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _delete_benchmark(con, name: str) -> None:
    for table in _BENCHMARK_TABLES:
        key = "name" if table == "benchmarks" else "benchmark"
        con.execute(f"DELETE FROM {quote_ident(table)} WHERE {key} = ?", [name])


def _insert(con, table: str, benchmark: str, data: pa.Table) -> None:
    optional = tuple(c for c in OPTIONAL_COLUMNS.get(table, ()) if c in data.column_names)
    cols = ", ".join(quote_ident(c) for c in TABLE_COLUMNS[table] + optional)
    view = f"_reta_stage_{table}"
    con.register(view, data)
    try:
        con.execute(f"INSERT INTO {quote_ident(table)} (benchmark, {cols}) "
                    f"SELECT ?, {cols} FROM {quote_ident(view)}", [benchmark])
    finally:
        con.unregister(view)


def _insert_scores(con, table: str, benchmark: str, data: pa.Table, columns: dict) -> None:
    """Long rows (benchmark, scorer, response_code, score) into ``table`` from the Arrow
    table ``data``: response_code plus, per scorer, the column ``columns[scorer]``."""
    key = TABLE_COLUMNS[table][0]
    view = f"_reta_stage_{table}"
    con.register(view, data)
    try:
        for scorer, column in columns.items():
            con.execute(f"INSERT INTO {quote_ident(table)} (benchmark, {key}, response_code, "
                        f"score) SELECT ?, ?, response_code, {quote_ident(column)} "
                        f"FROM {quote_ident(view)}", [benchmark, scorer])
    finally:
        con.unregister(view)


def _scatter(con, table: str, key: str, benchmark: str, name: str, n: int) -> np.ndarray:
    """One scorer's scores as a float64 array over the ``n`` responses (NaN = none)."""
    data = con.sql(
        f"SELECT response_code, score FROM {quote_ident(table)} "
        f"WHERE benchmark = ? AND {quote_ident(key)} = ?", params=[benchmark, name]
    ).to_arrow_table()
    place = data["response_code"].to_numpy()
    score = data["score"].to_numpy(zero_copy_only=False)
    if place.size == n and n and place[0] == 0 and place[-1] == n - 1 and np.all(np.diff(place) == 1):
        return np.asarray(score, dtype=np.float64)  # every response, in order: no scatter
    out = np.full(n, np.nan)
    out[place] = score
    return out


def _range_scores(con, table: str, key: str, benchmark: str, name: str,
                  response_codes: np.ndarray) -> np.ndarray:
    """One scorer's scores of the responses ``response_codes`` (sorted), as float64 (NaN =
    none): one range query on response_code, so DuckDB skips the other row groups."""
    first, last = (int(response_codes[0]), int(response_codes[-1])) if response_codes.size else (0, -1)
    data = con.sql(
        f"SELECT response_code, score FROM {quote_ident(table)} WHERE benchmark = ? AND "
        f"{quote_ident(key)} = ? AND response_code >= ? AND response_code <= ?",
        params=[benchmark, name, first, last]).to_arrow_table()
    codes = data["response_code"].to_numpy().astype(np.int64)
    scores = data["score"].to_numpy(zero_copy_only=False)
    out = np.full(response_codes.size, np.nan)
    if response_codes.size and last - first + 1 == response_codes.size:  # a contiguous range
        out[codes - first] = scores
        return out
    where = np.minimum(np.searchsorted(response_codes, codes), max(response_codes.size - 1, 0))
    mine = response_codes[where] == codes if codes.size else np.zeros(0, dtype=bool)
    out[where[mine]] = scores[mine]
    return out


def arrow_pool(prompts: pa.Table, codes: np.ndarray, response_ids, oracles: dict,
               rms: dict) -> Pool:
    """A :class:`Pool` (:meth:`Pool.from_codes`) from Arrow data in pool order.

    ``prompts``: prompt_id and category, one row per prompt in prompt-code order;
    ``codes``: each response's prompt code; ``response_ids``: Arrow column (or a
    zero-argument callable returning the identifiers, called when first read);
    ``oracles`` / ``rms``: float arrays aligned with the responses.
    """
    ids = response_ids if callable(response_ids) else object_array(response_ids)
    return Pool.from_codes(codes, object_array(prompts["prompt_id"]), ids,
                           oracles, rms, categories=object_array(prompts["category"]))


def object_array(column) -> np.ndarray:
    """An Arrow column as a numpy object array (None for NULL)."""
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=object)


def _int(x):
    return None if x is None else int(x)


def _num(x):
    return None if x is None else (int(x) if float(x).is_integer() else float(x))


__all__ = ["Store", "default_db_path", "quote_ident", "arrow_pool", "SCHEMA_VERSION",
           "MIGRATIONS", "TABLE_COLUMNS"]
