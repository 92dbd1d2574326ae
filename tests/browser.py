"""Helpers of the browser tests and benchmarks: the app served by a real ``streamlit run``
process (:func:`served_app`), the system's Chrome/Chromium (never downloaded) and
Playwright, and waits and reads on Streamlit's page.  Tests that need them carry
``pytestmark = NEEDS_A_BROWSER`` (skipped, with the reason, without one)."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from reta_core.export import find_chrome

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - depends on the environment
    sync_playwright = None

REPO = Path(__file__).resolve().parents[1]
CHROME = find_chrome()
CHROME_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]
CHART = '[data-testid="stPlotlyChart"]'
TABLE = '[data-testid="stDataFrame"]'
TABLES = f'[data-testid="stMain"] {TABLE}'
VIEWPORT = {"width": 1400, "height": 900}
TIMEOUT_MS = 60_000
NAV_LINKS = '[data-testid="stTopNavLink"], [data-testid="stSidebarNavLink"]'

NEEDS_A_BROWSER = [
    pytest.mark.skipif(sync_playwright is None, reason="the playwright package is not installed "
                                                       "(pip install -r requirements-dev.txt)"),
    pytest.mark.skipif(CHROME is None, reason="no Chrome/Chromium found (e.g. apt-get install chromium, "
                                              "or set RETA_CHROME=/path/to/chrome)"),
]


# --------------------------------------------------------------------- a served app
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServedURL(str):
    """The base URL of a served app (a ``str``), with the server's process id as ``pid``."""

    pid: int


@contextmanager
def served_app(db_path: Path, startup_s: float = 60):
    """``streamlit run app.py`` on a free localhost port, serving ``db_path``; yields its
    base URL (a :class:`ServedURL`: ``url.pid`` is the server process) once
    ``/_stcore/health`` answers ok, and kills its process group after."""
    port = free_port()
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
         "--server.headless", "true", "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
         # other files of the tree may change while the tests run: no watcher, no rerun prompts
         "--server.fileWatcherType", "none"],
        cwd=REPO, env={**os.environ, "RETA_DB": str(db_path)}, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True)

    def output() -> str:
        log.seek(0)
        return log.read().decode(errors="replace")[-4000:]

    url = ServedURL(f"http://127.0.0.1:{port}")
    url.pid = proc.pid
    try:
        deadline = time.monotonic() + startup_s
        while True:
            if proc.poll() is not None:
                pytest.fail(f"streamlit exited with {proc.returncode} before it was ready:\n{output()}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                    if answer.read().decode().strip() == "ok":
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"streamlit did not answer {url}/_stcore/health within {startup_s:.0f} s:\n{output()}")
            time.sleep(0.25)
        yield url
    finally:
        stop(proc)
        log.close()


def stop(proc: subprocess.Popen) -> None:
    """Terminate the server's process group (SIGTERM, then SIGKILL after 10 s)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=10)
            return
        except subprocess.TimeoutExpired:
            continue


# --------------------------------------------------------------------- the page
def wait_idle(page) -> None:
    """Wait until the script run is over and no element is stale (left from the last run)."""
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]')
    page.wait_for_function('!document.querySelector(\'[data-stale="true"]\')')


def table_rows(page, index: int = 0) -> list[list[str]]:
    """The header and rows of the page's ``index``-th dataframe, as its cells' texts.
    Streamlit draws a dataframe on a canvas; its cells are also in an accessible table
    (filled once the data has arrived), which is what this reads."""
    page.locator(TABLES).nth(index).wait_for()
    return page.wait_for_function(
        """([selector, index]) => {
            const rows = [...document.querySelectorAll(selector)[index].querySelectorAll('table tr')]
                .map(tr => [...tr.querySelectorAll('th, td')].map(cell => cell.textContent));
            return rows.length > 1 ? rows : null;
        }""", arg=[TABLES, index]).json_value()
