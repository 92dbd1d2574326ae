"""The project's layout rules, checked: reta_core never imports streamlit, and pages
hold no SQL and no store access of their own."""
from __future__ import annotations

import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import reta_core

REPO = Path(__file__).resolve().parents[1]


def test_reta_core_never_imports_streamlit():
    modules = sorted(m.name for m in pkgutil.iter_modules(reta_core.__path__) if m.name != "__main__")
    assert {"metrics", "ranking", "store", "ingest", "cli", "charts", "export", "analysis", "demo"} <= set(modules)
    code = ("import importlib, sys\n"
            f"for name in {modules!r}: importlib.import_module('reta_core.' + name)\n"
            "assert 'streamlit' not in sys.modules, 'reta_core imported streamlit'\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_pages_hold_no_sql():
    sql = re.compile(r"\b(SELECT|INSERT|DELETE|UPDATE|CREATE TABLE)\b|duckdb\.connect")
    for page in sorted((REPO / "pages").glob("*.py")):
        for number, line in enumerate(page.read_text().splitlines(), 1):
            assert not sql.search(line), f"{page.name}:{number}: SQL belongs in reta_core.store: {line.strip()}"
