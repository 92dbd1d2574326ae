"""The project's layout rules, checked: reta_core never imports streamlit; pages hold
page scripts only, with no SQL, importing from reta_core only the seam and the
figure/export/readings modules; framework internals are touched in the compat modules
alone."""
from __future__ import annotations

import ast
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import reta_core

REPO = Path(__file__).resolve().parents[1]
PAGE_SCRIPTS = sorted((REPO / "pages").glob("*.py"))
UI = sorted((REPO / "pages" / "ui").glob("*.py"))
PAGES_MAY_IMPORT = {"reta_core.evaluation", "reta_core.charts", "reta_core.export", "reta_core.readings",
                    "reta_core.errors"}


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import in a file; ``from a import b`` gives ``a.b`` too."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def python_files() -> list[Path]:
    files = [REPO / "app.py"] + PAGE_SCRIPTS + UI
    for folder in ("reta_core", "tests", "benchmarks"):
        files += sorted((REPO / folder).rglob("*.py"))
    return files


def test_reta_core_never_imports_streamlit():
    modules = sorted(m.name for m in pkgutil.iter_modules(reta_core.__path__) if m.name != "__main__")
    assert {"metrics", "ranking", "store", "ingest", "source", "cli", "charts", "export", "evaluation",
            "reports", "prompts", "readings", "scorers", "demo", "progress", "compat"} <= set(modules)
    code = ("import importlib, sys\n"
            f"for name in {modules!r}: importlib.import_module('reta_core.' + name)\n"
            "assert 'streamlit' not in sys.modules, 'reta_core imported streamlit'\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_pages_hold_page_scripts_and_the_ui_package_only():
    assert {p.name for p in PAGE_SCRIPTS} == {"__init__.py", "leaderboard.py", "curves.py", "inspector.py",
                                              "reliability.py", "stability.py", "data.py"}
    assert {p.name for p in (REPO / "pages").iterdir() if p.is_dir() and p.name != "__pycache__"} == {"ui"}


def test_pages_hold_no_sql():
    sql = re.compile(r"\b(SELECT|INSERT|DELETE|UPDATE|CREATE TABLE)\b|duckdb\.connect")
    for page in PAGE_SCRIPTS + UI:
        for number, line in enumerate(page.read_text().splitlines(), 1):
            assert not sql.search(line), f"{page.name}:{number}: SQL belongs in reta_core.store: {line.strip()}"


def test_pages_import_only_the_seam_figures_exports_and_readings():
    for page in PAGE_SCRIPTS + [REPO / "app.py"]:
        for line, module in imports(page):
            if module.startswith("reta_core") and module != "reta_core":
                top = ".".join(module.split(".")[:2])
                assert top in PAGES_MAY_IMPORT, f"{page.name}:{line}: pages import {module}; go through the seam"


def test_streamlit_and_kaleido_internals_only_in_the_compat_modules():
    public = ("streamlit", "streamlit.testing.v1", "streamlit.testing.v1.AppTest")
    internal_attr = re.compile(r"\bkaleido\._[a-z]")
    for path in python_files():
        rel = path.relative_to(REPO).as_posix()
        for line, module in imports(path):
            if module.startswith("streamlit") and module not in public and not module.startswith("streamlit."):
                continue
            if module.startswith("streamlit.") and module not in public:
                assert rel == "pages/ui/compat.py", f"{rel}:{line}: Streamlit internal {module} outside compat"
            if module.startswith("kaleido._"):
                assert rel == "reta_core/compat.py", f"{rel}:{line}: kaleido internal {module} outside compat"
        for number, text in enumerate(path.read_text().splitlines(), 1):
            if internal_attr.search(text) and rel not in ("reta_core/compat.py", "tests/test_layout.py"):
                raise AssertionError(f"{rel}:{number}: kaleido internal outside reta_core/compat.py: {text.strip()}")


def test_tests_do_not_import_each_other():
    for path in sorted((REPO / "tests").glob("test_*.py")):
        for line, module in imports(path):
            name = module.split(".")[-1] if module.startswith(("tests.", ".")) else module
            assert not (module.startswith("tests.test_") or name.startswith("test_")), \
                f"{path.name}:{line}: share fixtures through conftest.py, helpers through tests/*.py"
