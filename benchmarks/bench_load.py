"""The dashboard under load: many browser sessions at once on the 10,000-prompt benchmark.

    python benchmarks/bench_load.py [--sessions 10] [--seconds 60] [--db PATH] [--rebuild]

The benchmark is bench_app's (10,000 prompts x 128 responses, 10 RMs; built once into a
cached DuckDB file, about 30 s).  A real ``streamlit run app.py`` serves it; one headless
Chromium (the system's, never downloaded) opens ``--sessions`` contexts, each its own
Streamlit session, driven at once through Playwright's async API.  Every session repeats
the same walk: on the Curves page three eta moves right (slider keys), to the
Leaderboard and back, three moves left, to the Inspector and back, to the Data page and
back.  Each step is one *page interaction*: from the key press to the end of the rerun
it starts, or from the click to the new page shown (its title, the old one gone, no
stale element, the app idle).

The run: two walks that are not timed (one starting with the moves right, one with the
moves left: the caches then hold every eta a session will visit, as they do for a
dashboard in use), then one session alone, whole walks for at least ``--seconds / 3``,
then all sessions together for ``--seconds``, each starting its walk at a different
step.  Printed: the interactions completed (requests served), the errors (an
exception, a traceback, an error box or the app's bug box shown, an interaction over
``--timeout`` seconds; must be 0), the server's memory (resident size of the streamlit
process tree sampled every 0.2 s from its first session on, and the kernel's
high-water mark VmHWM), and the median interaction time under load beside the single
session's median, as a ratio, for all interactions and per kind (the machine is shared
and noisy: compare the ratios, not the seconds).  Exit status 1 when there were errors.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.bench_app import RUN_DONE_JS, parse_and_prepare  # noqa: E402
from tests.browser import CHROME, CHROME_ARGS, NAV_LINKS, VIEWPORT, served_app  # noqa: E402

# one walk: ("key", ArrowRight/ArrowLeft) moves eta on the Curves page; ("page", title)
# switches page through the navigation
WALK = ([("key", "ArrowRight")] * 3 + [("page", "Leaderboard"), ("page", "RETA curves")]
        + [("key", "ArrowLeft")] * 3 + [("page", "Inspector"), ("page", "RETA curves"),
                                        ("page", "Data"), ("page", "RETA curves")])
# where a session may start its walk (on the Curves page, the next step not a switch to
# it), so that the sessions do different things at once; the walk returns eta to its start
STARTS = [k for k in range(len(WALK)) if WALK[k - 1][0] == "key" or WALK[k - 1][1] == "RETA curves"]
FIRST_LEFT = WALK.index(("key", "ArrowLeft"))
NAV_LABEL = {"Leaderboard": "Leaderboard", "RETA curves": "Curves", "Inspector": "Inspector", "Data": "Data"}
# what a session must never show
PROBLEMS_JS = """() => {
    const found = [];
    for (const el of document.querySelectorAll('[data-testid="stException"], [data-testid="stAlertContentError"]'))
        found.push(el.innerText.slice(0, 200));
    const body = document.body.innerText;
    if (body.includes('Traceback')) found.push('a traceback');
    if (body.includes('Something went wrong')) found.push("the app's bug box");
    return found;
}"""
# bench_app's OBSERVER_JS, but watching the whole document, every state change recorded:
# under load Streamlit may draw its app element anew (a new stApp), which an observer
# of the old one would never see
OBSERVER_JS = """() => {
    window.__runs = [];
    window.__app = document.querySelector('[data-testid="stApp"]');
    new MutationObserver(records => records.forEach((r, i) => {
        if (r.target.getAttribute('data-testid') !== 'stApp') return;
        const next = records.slice(i + 1).find(q => q.target === r.target);
        window.__runs.push([next ? next.oldValue : r.target.getAttribute('data-test-script-state'),
                            performance.now()]);
    })).observe(document.body, {subtree: true, attributes: true, attributeOldValue: true,
                                attributeFilter: ['data-test-script-state']});
    document.addEventListener('keydown', () => { window.__keyAt = performance.now(); }, true);
}"""
# what a session shows when an interaction did not end (for the error line)
STATE_JS = """() => ({url: location.pathname + location.search,
    state: document.querySelector('[data-testid="stApp"]')?.getAttribute('data-test-script-state'),
    titles: [...document.querySelectorAll('h1')].map(h => h.textContent.trim()),
    stale: document.querySelectorAll('[data-stale="true"]').length,
    app_drawn_anew: document.querySelector('[data-testid="stApp"]') !== window.__app,
    runs: (window.__runs || []).filter(([, t]) => t >= window.__keyAt).map(([s, t]) => s + '@' + Math.round(t - window.__keyAt))})"""
# ms from the click to the new page shown: its title, not the old one, no stale element, idle
PAGE_SHOWN_JS = """([title, before]) => {
    const titles = [...document.querySelectorAll('h1')].map(h => h.textContent.trim());
    const state = document.querySelector('[data-testid="stApp"]')?.getAttribute('data-test-script-state');
    if (!titles.includes(title) || titles.includes(before) || state !== 'notRunning'
        || document.querySelector('[data-stale="true"]')) return null;
    return performance.now() - window.__keyAt;
}"""
TITLE_JS = "title => [...document.querySelectorAll('h1')].some(h => h.textContent.trim() === title)"


@dataclass
class Tally:
    """What the sessions of one phase did."""

    times: list = field(default_factory=list)   # (kind, seconds) per completed interaction
    errors: list = field(default_factory=list)  # (session, step, what)


# --------------------------------------------------------------------- the server's memory
def process_tree(root: int) -> list[int]:
    """``root`` and its descendants (from /proc/*/stat's parent ids)."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # the process ended meanwhile
            continue
        parents[int(text.split()[0])] = int(text.rsplit(")", 1)[1].split()[1])
    tree, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, parent in parents.items() if parent in frontier]
        tree += frontier
    return tree


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes have used so far (/proc/PID/stat)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
    return total / os.sysconf("SC_CLK_TCK")


def status_kib(pid: int, key: str) -> int:
    """A ``/proc/PID/status`` size in KiB (0 when the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class MemorySampler(threading.Thread):
    """Samples the summed VmRSS of a process tree every ``every`` seconds; ``peak`` is
    the largest sum seen (KiB), ``processes`` the most processes seen at once."""

    def __init__(self, root: int, every: float = 0.2):
        super().__init__(daemon=True)
        self.root, self.every = root, every
        self.peak = self.processes = 0
        self.running = True

    def run(self) -> None:
        while self.running:
            tree = process_tree(self.root)
            self.peak = max(self.peak, sum(status_kib(pid, "VmRSS") for pid in tree))
            self.processes = max(self.processes, len(tree))
            time.sleep(self.every)

    def stop(self) -> int:
        self.running = False
        self.join()
        return self.peak


# --------------------------------------------------------------------- one session
async def interact(page, kind: str, what: str, before: str) -> float:
    """One step of the walk (``before``: the title of the page it starts on); seconds
    from the key press or click to the end of its rerun (eta moves), or to the new page
    shown and idle (switches: a click during a run may not show as a run of its own)."""
    await page.evaluate("() => { window.__keyAt = performance.now(); }")
    if kind == "key":
        await page.locator(".st-key-_eta_slider").get_by_role("slider").focus()
        await page.keyboard.press(what)
        done = await page.wait_for_function(RUN_DONE_JS, polling="raf")
    else:
        await page.locator(NAV_LINKS).filter(has=page.get_by_text(NAV_LABEL[what], exact=True)).click()
        done = await page.wait_for_function(PAGE_SHOWN_JS, arg=[what, before], polling="raf")
    seconds = await done.json_value() / 1000
    await page.wait_for_function(TITLE_JS, arg="RETA curves" if kind == "key" else what)
    await page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]')
    return seconds


async def open_session(browser, url: str, timeout_s: float):
    context = await browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(timeout_s * 1000)
    page = await context.new_page()
    await page.goto(f"{url}/curves")
    await page.wait_for_function(TITLE_JS, arg="RETA curves")
    await page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]')
    await page.evaluate(OBSERVER_JS)  # the page switches keep this document: installed once
    return context, page


async def walk(session: int, page, until: float, tally: Tally, start: int = 0, whole: bool = False) -> int:
    """Walk from step ``start`` until the clock passes ``until`` (checked before each
    step; with ``whole``, only at the end of a walk, so at least one whole walk is done);
    every step's (kind, seconds) and every problem shown go into ``tally``.  Returns
    the step reached."""
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    step = start
    while True:
        walked = step - start
        if time.monotonic() >= until and (not whole or (walked and walked % len(WALK) == 0)):
            return step
        kind, what = WALK[step % len(WALK)]
        previous = WALK[step % len(WALK) - 1]
        try:
            seconds = await interact(page, kind, what, previous[1] if previous[0] == "page" else "RETA curves")
        except PlaywrightTimeout:
            shown = await page.evaluate(STATE_JS)
            tally.errors.append((session, step, f"{kind} {what}: no rerun end within the timeout; the page: {shown}"))
            return step  # the session's state is unknown now: it stops
        problems = await page.evaluate(PROBLEMS_JS)
        if problems:
            tally.errors.append((session, step, f"{kind} {what}: {problems}"))
        tally.times.append((kind, seconds))
        step += 1


async def run(url: str, server_pid: int, sessions: int, seconds: float, timeout_s: float) -> dict:
    from playwright.async_api import async_playwright

    out = {}
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROME, args=CHROME_ARGS, headless=True)
        try:
            sampler = MemorySampler(server_pid)
            sampler.start()
            pages = [await open_session(browser, url, timeout_s) for _ in range(sessions)]
            first = pages[0][1]
            warm = Tally()  # not timed: every eta any session will visit is computed once
            for offset in (0, FIRST_LEFT):
                await walk(0, first, 0, warm, start=offset, whole=True)
            single = Tally()
            begun = time.monotonic()
            await walk(0, first, begun + seconds / 3, single, whole=True)
            out["single_s"] = time.monotonic() - begun
            out["rss_before_kib"] = sum(status_kib(pid, "VmRSS") for pid in process_tree(server_pid))
            load = Tally()
            cpu = cpu_seconds(process_tree(server_pid))
            start = time.monotonic()
            await asyncio.gather(*(walk(k, page, start + seconds, load, start=STARTS[k % len(STARTS)])
                                   for k, (_, page) in enumerate(pages)))
            out["elapsed"] = time.monotonic() - start
            out["server_cpu_s"] = cpu_seconds(process_tree(server_pid)) - cpu
            out["peak_rss_kib"] = sampler.stop()
            out["processes"] = sampler.processes
            out["hwm_kib"] = sum(status_kib(pid, "VmHWM") for pid in process_tree(server_pid))
            out.update(warm=warm, single=single, load=load)
        finally:
            await browser.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10, help="browser sessions at once (default 10)")
    parser.add_argument("--seconds", type=float, default=60, help="length of the load phase (default 60); the "
                        "single session runs a third of it")
    parser.add_argument("--timeout", type=float, default=120, help="an interaction slower than this is an error")
    args = parse_and_prepare(parser, "bench_load")
    if args is None:
        return 2
    with served_app(args.db) as url:
        out = asyncio.run(run(url, url.pid, args.sessions, args.seconds, args.timeout))

    single, load = out["single"], out["load"]
    errors = out["warm"].errors + single.errors + load.errors
    print(f"walk: {len(WALK)} interactions ({sum(k == 'key' for k, _ in WALK)} eta moves, "
          f"{sum(k == 'page' for k, _ in WALK)} page switches), repeated; {args.sessions} sessions start it at "
          f"different steps")
    print(f"{'median seconds per interaction':34s} {'single session':>15s} {f'{args.sessions} sessions':>13s} "
          f"{'ratio':>7s}")
    for label, kinds in (("all", ("key", "page")), ("eta moves", ("key",)), ("page switches", ("page",))):
        one, many = (statistics.median([t for k, t in tally.times if k in kinds] or [float("nan")])
                     for tally in (single, load))
        print(f"{label:34s} {one:15.3f} {many:13.3f} {many / one:6.2f}x")
    times = sorted(t for _, t in load.times)
    print(f"served: single session {len(single.times)} interactions in {out['single_s']:.1f} s; "
          f"{args.sessions} sessions {len(load.times)} interactions in {out['elapsed']:.1f} s "
          f"({len(load.times) / out['elapsed']:.2f}/s; slowest {times[-1] if times else float('nan'):.2f} s)")
    print(f"server CPU during the load: {out['server_cpu_s']:.1f} s in {out['elapsed']:.1f} s "
          f"({out['server_cpu_s'] / out['elapsed']:.2f} of a core; the rest of the machine runs the browser)")
    print(f"server memory (streamlit process tree, {out['processes']} process(es)): resident "
          f"{out['rss_before_kib'] / 2**20:.2f} GiB when the load began, peak sampled "
          f"{out['peak_rss_kib'] / 2**20:.2f} GiB, kernel high-water mark (VmHWM) {out['hwm_kib'] / 2**20:.2f} GiB")
    print(f"errors: {len(errors)}")
    for session, step, what in errors[:20]:
        print(f"  session {session}, step {step}: {what}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
