"""The pool to score, as a file (``export-pool``) or an Arrow table.

One row per response, in pool order: ``prompt_id, response_id, prompt, response,
category`` and ``messages``, the conversation in chat format
``[{"role": "user", "content": prompt}, {"role": "assistant", "content": response}]``
(docs/metric.md §12), which chat templates and chat APIs take as they are.  The format
is the extension: ``.jsonl``, ``.jsonl.gz``, ``.parquet``, ``.csv``, ``.csv.gz`` (in
CSV, ``messages`` is a JSON string).  The file is written atomically.  Texts are data:
they are written as they are, never interpreted.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pyarrow as pa

from ..errors import RetaInputError, show

EXPORT_SUFFIXES = (".jsonl", ".jsonl.gz", ".parquet", ".csv", ".csv.gz")
EXPORT_COLUMNS = ("prompt_id", "response_id", "prompt", "response", "category", "messages")
_MESSAGE = pa.struct([("role", pa.string()), ("content", pa.string())])


def export_suffix(path) -> str:
    """The export format of ``path`` (its suffix), or RetaInputError naming the choices."""
    name = Path(str(path)).name.lower()
    for suffix in sorted(EXPORT_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return suffix
    raise RetaInputError(f"{path}: unknown extension; use one of {', '.join(EXPORT_SUFFIXES)}")


def messages_column(prompts: pa.Array, responses: pa.Array) -> pa.Array:
    """``[user: prompt, assistant: response]`` per row, as an Arrow list of structs."""
    n = len(prompts)
    roles = pa.array(["user", "assistant"] * n, pa.string())
    contents = pa.concat_arrays([prompts.cast(pa.string()), responses.cast(pa.string())])
    # interleave: row i's messages are contents[i] and contents[n + i]
    import numpy as np

    order = np.empty(2 * n, dtype=np.int64)
    order[0::2] = np.arange(n)
    order[1::2] = np.arange(n, 2 * n)
    structs = pa.StructArray.from_arrays([roles, contents.take(pa.array(order))],
                                         fields=list(_MESSAGE))
    offsets = pa.array(np.arange(0, 2 * n + 1, 2, dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, structs)


def pool_table(store, benchmark: str) -> pa.Table:
    """The benchmark's responses with texts and ``messages`` (Arrow, pool order), plus
    ``response_code`` first (the store's key; not exported).  Raises RetaInputError
    when the benchmark has no response texts to score."""
    texts = store.load_texts(benchmark)
    missing = texts["response"].null_count
    if texts.num_rows and missing == texts.num_rows:
        raise RetaInputError(f"{store.path}: benchmark {show(benchmark)} has no response texts "
                             "(it was imported without a response column), so there is "
                             "nothing to score")
    prompts = texts["prompt"].combine_chunks().fill_null("")
    responses = texts["response"].combine_chunks()
    return pa.table({
        "response_code": texts["response_code"],
        "prompt_id": texts["prompt_id"],
        "response_id": texts["response_id"],
        "prompt": prompts,
        "response": responses,
        "category": texts["category"],
        "messages": messages_column(prompts, responses.fill_null("")),
    })


def export_pool(store, benchmark: str, out) -> dict:
    """Write ``benchmark``'s pool to ``out`` (format by extension); returns
    ``{"path", "rows", "prompts", "format"}``."""
    suffix = export_suffix(out)
    table = pool_table(store, benchmark).select(list(EXPORT_COLUMNS))
    path = Path(out).expanduser()
    if not path.parent.is_dir():
        raise RetaInputError(f"{out}: the folder {path.parent} does not exist")
    write_table(table, path, suffix)
    return {"path": str(path), "rows": table.num_rows,
            "prompts": len(set(table["prompt_id"].to_pylist())), "format": suffix.lstrip(".")}


def pool_bytes(store, benchmark: str, suffix: str = ".jsonl.gz") -> bytes:
    """The file :func:`export_pool` writes, as bytes (the dashboard's download)."""
    import shutil

    suffix = export_suffix("pool" + suffix)
    folder = Path(tempfile.mkdtemp(prefix="reta_pool_"))
    try:
        path = folder / ("pool" + suffix)
        write_table(pool_table(store, benchmark).select(list(EXPORT_COLUMNS)), path, suffix)
        return path.read_bytes()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def write_table(table: pa.Table, path: Path, suffix: str) -> None:
    """``table`` to ``path`` in the format of ``suffix``, atomically (a temporary file
    beside it, then a rename)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            pq.write_table(table, tmp)
        elif suffix.startswith(".csv"):
            import pyarrow.csv as pacsv

            flat = table.set_column(table.column_names.index("messages"), "messages",
                                    pa.array([json.dumps(m, ensure_ascii=False) for m in
                                              table["messages"].to_pylist()], pa.string()))
            with pa.CompressedOutputStream(tmp, "gzip") if suffix.endswith(".gz") else \
                    pa.OSFile(tmp, "wb") as sink:
                pacsv.write_csv(flat, sink)
        else:
            import gzip

            opener = gzip.open if suffix.endswith(".gz") else open
            with opener(tmp, "wt", encoding="utf-8") as sink:
                for row in table.to_pylist():
                    sink.write(json.dumps(row, ensure_ascii=False) + "\n")
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
