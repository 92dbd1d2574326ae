"""The README's Python API example runs as written, on the demo benchmark."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from reta_core.demo import build_demo
from reta_core.store import Store

REPO = Path(__file__).resolve().parents[1]


def readme_block(section: str) -> str:
    text = (REPO / "README.md").read_text()
    part = text[text.index(f"## {section}\n"):]
    return re.search(r"```python\n(.*?)```", part, re.S).group(1)


def test_python_api_example_runs(tmp_path):
    db = tmp_path / "reta.duckdb"
    build_demo(Store(db))
    code = readme_block("Python API")
    run = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         env={**os.environ, "RETA_DB": str(db)}, timeout=300)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "64 64"  # the smallest pool and the default n, as the comment says
    assert "strong_rm" in run.stdout and "p_a_better" in run.stdout
    assert "length_biased_rm" in lines[-1]  # the reading of the optimal quantile
