"""An error near the top of a large file is reported without reading the rest (issue 13,
finding 2), as a ratio against reading the whole file first, timed in the same run.

    python benchmarks/bench_early_error.py [--mb 1000] [--repeats 2]

Writes a ``.csv.gz`` benchmark file of about ``--mb`` MB once decompressed (rows of
about 230 bytes, within the 5 M row limit at 1 GB) whose row 2 repeats row 1's
response id, then times ``ingest.import_benchmark`` on it (best of ``--repeats``) two
ways in this process: as shipped (the first ``ingest.HEAD_ROWS`` rows are read and
checked first) and with that first look switched off (``HEAD_ROWS`` above the row
limit: the whole file is read, then checked, as before).  Both must refuse the file
with the same one-line error; printed are the seconds, the peak resident memory of a
fresh child process for each way, and the ratio whole / first-rows.
"""
from __future__ import annotations

import argparse
import gzip
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from reta_core import ingest  # noqa: E402
from reta_core.errors import RetaInputError  # noqa: E402
from reta_core.store import Store  # noqa: E402

ROW_TEXT = "x" * 200


def write_file(path: Path, megabytes: int) -> int:
    """The benchmark file with a duplicate response id in row 2; returns its rows."""
    n_rows = megabytes * 10**6 // 225
    with gzip.open(path, "wb", compresslevel=1) as out:
        out.write(b"prompt_id,response_id,gold,response\n")
        out.write(f"p0,r0,1.0,{ROW_TEXT}\np0,r0,2.0,{ROW_TEXT}\n".encode())
        for start in range(2, n_rows, 100_000):
            out.write("".join(f"p{i // 4},r{i},{i % 7}.5,{ROW_TEXT}\n"
                              for i in range(start, min(start + 100_000, n_rows))).encode())
    return n_rows


def refuse(path: Path, db: Path, head_rows: int) -> tuple[float, str]:
    """Seconds until the import is refused, and the refusal."""
    ingest.HEAD_ROWS = head_rows
    started = time.perf_counter()
    try:
        ingest.import_benchmark(Store(db), path, "big", ["gold"])
    except RetaInputError as exc:
        return time.perf_counter() - started, str(exc)
    raise SystemExit("the file was imported; it should have been refused")


def peak_mb(path: Path, db: Path, head_rows: int) -> float:
    """Peak resident memory (MB) of a fresh process refusing the file."""
    code = ("import resource, sys\n"
            f"sys.path.insert(0, {str(HERE.parent)!r})\n"
            "from bench_early_error import refuse\n"
            f"refuse(__import__('pathlib').Path({str(path)!r}), "
            f"__import__('pathlib').Path({str(db)!r}), {head_rows})\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=HERE, capture_output=True, text=True,
                          check=True)
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=1000, help="decompressed size (default 1000)")
    parser.add_argument("--repeats", type=int, default=2, help="timings per way (best kept)")
    args = parser.parse_args()
    shipped = ingest.HEAD_ROWS
    whole = 10**12  # above any row limit: no first look
    with tempfile.TemporaryDirectory() as folder:
        path, db = Path(folder) / "dup.csv.gz", Path(folder) / "reta.duckdb"
        started = time.perf_counter()
        n_rows = write_file(path, args.mb)
        print(f"file: {n_rows:,} rows, {path.stat().st_size / 1e6:.1f} MB gzipped, "
              f"written in {time.perf_counter() - started:.1f} s")
        times = {}
        for label, head in (("first rows", shipped), ("whole file", whole)):
            runs = [refuse(path, db, head) for _ in range(args.repeats)]
            assert len({message for _, message in runs}) == 1, runs
            times[label] = min(t for t, _ in runs)
            print(f"{label:>10}: {times[label]:6.2f} s, peak {peak_mb(path, db, head):,.0f} MB "
                  f"-> {runs[0][1]}")
        ingest.HEAD_ROWS = shipped
        print(f"ratio whole / first rows: {times['whole file'] / times['first rows']:.1f}x "
              f"({os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
