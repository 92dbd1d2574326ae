"""Errors that the user can fix, as opposed to bugs.

Every message is ONE line: it names the file (or database) first and then, where it
helps, the row or column and the problem, so that the CLI can print it as is and the
dashboard can show it in one ``st.error`` box.
"""
from __future__ import annotations

import re

# Characters that do not show as themselves: C0/C1 controls (terminal escapes among
# them), zero-width and bidirectional controls, the byte-order mark, line separators.
INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e"
                       "\u2060-\u2069\ufeff]")
INVISIBLE_SQL = (r"[\x00-\x1f\x7f-\x9f\x{200b}-\x{200f}\x{2028}-\x{202e}"
                 r"\x{2060}-\x{2069}\x{feff}]")  # the same for DuckDB (RE2), tab and newline too


def terminal_safe(text: str) -> str:
    """``text`` with every :data:`INVISIBLE` character written as an escape (``\\x1b``,
    ``\\u202e``): names reach a terminal as text, never as control sequences."""
    return INVISIBLE.sub(lambda m: (f"\\x{ord(m.group()):02x}" if ord(m.group()) < 256
                                    else f"\\u{ord(m.group()):04x}"), str(text))


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
