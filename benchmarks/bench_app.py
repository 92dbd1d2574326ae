"""Speed of the dashboard as a user sees it, next to the engine's own time for the same numbers.

    python benchmarks/bench_app.py [--db PATH] [--moves 5] [--rebuild]

The benchmark: the demo generator at 10,000 prompts x 128 responses (6 RMs + 2 baselines)
plus 2 noisy copies of ``strong_rm`` added as RM files = 10 RMs, built once into a
cached DuckDB file (``--db``, default under the temp folder; about 25 s and 0.5 GB).
A real ``streamlit run app.py`` serves it and Playwright drives the system Chromium
(never downloaded).  Timed:

* leaderboard, cold: a fresh server process, from opening the page to the table shown;
* leaderboard, warm: reload (a new session; the caches are hot);
* curves, warm: from pressing ArrowRight on the eta slider (a new eta, not computed
  before) to the new values in the table, and to the end of that rerun;
* a page round trip: a trivial rerun of the same curves page (key ``r``: the script
  runs again, every number comes from the cache, the page is sent and drawn again).

Machines here are shared and noisy, so each time is printed beside the engine's time
for the same numbers measured in the same run, as a ratio: ``Evaluation.leaderboard`` on
the loaded pool (cold: plus ``Store.load_pool``), ``Evaluation.curves`` at one eta with
bootstrap bands for the chosen RMs; and the eta moves beside the page round trip.
Target (issue 12): the cold leaderboard within 2x of the engine's load + leaderboard
(ok / MISSED; exit 1 when missed).
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit


REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.bench_core import best_of  # noqa: E402
from benchmarks.bench_store import DEFAULT_DB, ORACLE, RESPONSES, ensure_db  # noqa: E402
from reta_core.evaluation import Evaluation  # noqa: E402
from reta_core.store import Store  # noqa: E402
from tests.browser import CHROME, CHROME_ARGS, TABLES, VIEWPORT, served_app, wait_idle  # noqa: E402

TIMEOUT_MS = 600_000

# Records every change of the app's script state, and the time of the last key press.
OBSERVER_JS = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    window.__runs = [];
    new MutationObserver(() => window.__runs.push(
        [app.getAttribute('data-test-script-state'), performance.now()]))
        .observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
    document.addEventListener('keydown', () => { window.__keyAt = performance.now(); }, true);
}"""
# ms from the last key press to the end of the rerun it started (null until then)
RUN_DONE_JS = """() => {
    const runs = window.__runs.filter(([, t]) => t >= window.__keyAt);
    const started = runs.findIndex(([state]) => state === 'running');
    if (started < 0 || document.querySelector('[data-stale="true"]')) return null;
    const done = runs.slice(started).find(([state]) => state === 'notRunning');
    return done ? done[1] - window.__keyAt : null;
}"""
# ms from the last key press until the first table's text differs from ``before``
VALUES_SHOWN_JS = f"""before => {{
    const table = document.querySelector({TABLES!r});
    return table && table.textContent !== before ? performance.now() - window.__keyAt : null;
}}"""


def machine() -> str:
    meminfo = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines() if ":" in line)
    gib = {k: int(meminfo[k].split()[0]) / 2**20 for k in ("MemTotal", "MemAvailable") if k in meminfo}
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.machine())
    import streamlit

    return (f"machine: nproc {len(os.sched_getaffinity(0))} ({model}), RAM {gib.get('MemTotal', 0):.1f} GiB "
            f"({gib.get('MemAvailable', 0):.1f} GiB available); Python {platform.python_version()}, "
            f"Streamlit {streamlit.__version__}, browser {CHROME}")


def wait_table(page) -> None:
    """Until the first dataframe's accessible table holds rows (its data has been drawn)."""
    page.wait_for_function(f"() => document.querySelector({TABLES!r})?.querySelectorAll('tr').length > 1",
                           polling="raf")


def open_timed(page, url: str) -> float:
    start = time.perf_counter()
    page.goto(url)
    wait_table(page)
    return time.perf_counter() - start


def current_eta(page) -> float:
    return float(page.locator(".st-key-eta input").input_value())


def eta_moves(page, moves: int) -> tuple[list[float], list[float], list[float]]:
    """Press ArrowRight on the slider ``moves`` times, one rerun each: (ms to the new
    values, ms to the end of the rerun, the etas reached)."""
    shown, done, etas = [], [], []
    thumb = page.locator(".st-key-_eta_slider").get_by_role("slider")
    for _ in range(moves):
        before = page.locator(TABLES).first.text_content()
        thumb.focus()
        page.keyboard.press("ArrowRight")
        shown.append(page.wait_for_function(VALUES_SHOWN_JS, arg=before, polling="raf").json_value())
        done.append(page.wait_for_function(RUN_DONE_JS, polling="raf").json_value())
        wait_idle(page)
        etas.append(current_eta(page))
    return shown, done, etas


def round_trips(page, repeats: int) -> list[float]:
    """A trivial rerun of the current page (key ``r``; every number is cached)."""
    times = []
    for _ in range(repeats):
        page.locator("h1").first.click()  # focus off any input: ``r`` then reruns the app
        page.keyboard.press("r")
        times.append(page.wait_for_function(RUN_DONE_JS, polling="raf").json_value())
        wait_idle(page)
    return times


def browser_timings(db: Path, moves: int) -> dict:
    from playwright.sync_api import sync_playwright

    out = {}
    with served_app(db) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROME, args=CHROME_ARGS, headless=True)
        context = browser.new_context(viewport=VIEWPORT)
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        out["cold"] = open_timed(page, f"{url}/")
        wait_idle(page)
        start = time.perf_counter()
        page.reload()
        wait_table(page)
        out["warm"] = time.perf_counter() - start
        wait_idle(page)

        out["curves_open"] = open_timed(page, f"{url}/curves")
        wait_idle(page)
        page.evaluate(OBSERVER_JS)
        round_trips(page, 1)  # the first rerun of a session is not typical: not counted
        out["shown"], out["done"], out["etas"] = eta_moves(page, moves)
        out["round_trip"] = round_trips(page, moves)
        out["rms"] = len(parse_qs(urlsplit(page.url).query).get("rm", []))
        browser.close()
    return out


def parse_and_prepare(parser: argparse.ArgumentParser, script: str):
    """The command line parsed, with the cached benchmark's options (--db, --rebuild)
    added; then the machine printed and the benchmark built when missing.  None (after
    a message) when no Chrome or Chromium is found."""
    parser.add_argument("--db", type=Path, default=DEFAULT_DB, help="the cached benchmark database (built when missing)")
    parser.add_argument("--rebuild", action="store_true", help="build the benchmark database again")
    args = parser.parse_args()
    if CHROME is None:
        print(f"{script} needs Chrome or Chromium (e.g. apt-get install chromium); none found", file=sys.stderr)
        return None
    print(machine())
    args.db = args.db.resolve()
    ensure_db(args.db, args.rebuild)
    return args


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=5, help="eta moves and round trips timed (median shown)")
    args = parse_and_prepare(parser, "bench_app")
    if args is None:
        return 2
    app = browser_timings(args.db, args.moves)

    # the engine alone, for the same numbers, in this process while the server is gone
    load = best_of(lambda: Store(args.db).load_pool("demo"), repeat=1)
    pool = Store(args.db).load_pool("demo")
    rms = list(pool.rms)
    board = best_of(lambda: Evaluation(pool, ORACLE).leaderboard(rms), repeat=1)
    evaluation = Evaluation(pool, ORACLE)
    evaluation.rankings(rms)  # ranked once beforehand, as the page's cached Evaluation is
    one_eta = statistics.median(
        best_of(lambda e=eta: evaluation.curves(rms, [e], ci=True))
        for eta in app["etas"])

    shown, done, trip = (statistics.median(app[k]) / 1000 for k in ("shown", "done", "round_trip"))
    print(f"benchmark: {pool.n_prompts:,} prompts x {RESPONSES} responses x {len(rms)} RMs "
          f"({app['rms']} chosen in the app); eta moves to {', '.join(f'{e:.4g}' for e in app['etas'])}")
    rows = [
        ("leaderboard, cold (fresh server) -> table shown", app["cold"], "engine load_pool + leaderboard",
         load + board),
        ("leaderboard, warm (reload) -> table shown", app["warm"], "engine leaderboard", board),
        ("curves, warm: eta move -> new values shown", shown, "engine reta_curves at 1 eta + CI", one_eta),
        ("curves, warm: eta move -> rerun finished", done, "engine reta_curves at 1 eta + CI", one_eta),
        ("curves, warm: eta move -> new values shown", shown, "page round trip (cached rerun, r)", trip),
        ("curves, warm: eta move -> rerun finished", done, "page round trip (cached rerun, r)", trip),
    ]
    print(f"{'in the browser':50s} {'seconds':>8s}   {'beside':36s} {'seconds':>8s} {'ratio':>7s}")
    for name, value, base_name, base in rows:
        print(f"{name:50s} {value:8.3f}   {base_name:36s} {base:8.3f} {value / base:6.2f}x")
    cold = app["cold"] / (load + board)
    met = cold <= 2  # issue 12: the page adds at most the engine's own time again
    print(f"cold leaderboard / engine (load_pool + leaderboard): {cold:.2f}x   target <= 2x   "
          f"{'ok' if met else 'MISSED'}")
    print(f"(medians of {args.moves}: eta moves {', '.join(f'{t / 1000:.2f}' for t in app['shown'])} s to the "
          f"values, round trips {', '.join(f'{t / 1000:.2f}' for t in app['round_trip'])} s; the curves page "
          f"first opened in {app['curves_open']:.2f} s)")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
