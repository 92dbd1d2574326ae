"""Errors that the user can fix, as opposed to bugs.

Every message is ONE line: it names the file (or database) first and then, where it
helps, the row or column and the problem, so that the CLI can print it as is and the
dashboard can show it in one ``st.error`` box.
"""
from __future__ import annotations


class RetaInputError(ValueError):
    """Bad input by a user: a file, a column, a name, a database path.

    The message is a single line that names the file and, where it helps, the row
    (1-based data row, header not counted) or the column, and what is wrong.
    """

    def __init__(self, message: str):
        super().__init__(one_line(message))


class StoreBusyError(RetaInputError):
    """The database file is locked by another process and stayed locked too long.

    ``pid`` is the process id DuckDB reported as holding the lock (``None`` when
    DuckDB did not say).
    """

    def __init__(self, message: str, pid: int | None = None):
        super().__init__(message)
        self.pid = pid


def one_line(text: str) -> str:
    """``text`` with line breaks and runs of whitespace folded into single spaces."""
    return " ".join(str(text).split())


def show(value, limit: int = 60) -> str:
    """A short, one-line, quoted rendering of a user value for an error message."""
    text = repr(value)
    if len(text) > limit:
        text = text[: limit - 4] + "..." + text[-1]
    return text
