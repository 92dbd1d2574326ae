"""Concurrency, as a test: the app served and open in Chromium while two CLI writers
change the same benchmark at once (issue 13, "Keep it so").

Two writers (real ``python -m reta_core`` processes) run 20 rounds side by side on the
benchmark ``race``, each cycling through ``add-scores`` (a new RM, its own score file),
``remove --rm`` (its latest RM) and ``ingest --replace`` (back to the baselines, a new
description); their cycles are offset by one, so every round pairs two different
commands (add with remove, remove with replace, replace with add).  In every fifth round
a third process holds the database open read-write until both commands are over.
Meanwhile Chromium reloads and switches the app's pages on that benchmark.

What must hold:

* every command exits 0 with its success message, or exits 2 with one ``error:`` line
  that is the busy message naming the lock's holder (the holding process in its rounds,
  else the other writer or the app's server), or a refusal that the concurrent command
  explains ("changed while the file was being checked", an RM the other writer's
  replace removed first).  Never exit 1, never a hang;
* after every round the database is exactly what the round's successful commands give
  applied one after the other in some order (RM names, the replace's description, each
  RM's scores equal to its file's, the prompts and oracle untouched): nothing lost,
  nothing half-written; the final state is also checked through ``list --format json``;
* the browser never shows an exception, a traceback, the app's "Something went wrong"
  box or any error box (the server waits up to a minute for the database), and after
  the run the leaderboard lists exactly the final RMs.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from dataclasses import dataclass
from itertools import permutations
from pathlib import Path

import numpy as np
import pandas as pd

from reta_core.store import Store
from tests.builders import EXAMPLE, EXAMPLE_RM, REPO
from tests.browser import (CHROME, CHROME_ARGS, NAV_LINKS, NEEDS_A_BROWSER, TIMEOUT_MS, VIEWPORT, served_app,
                           sync_playwright, table_rows, wait_idle)

pytestmark = NEEDS_A_BROWSER

BENCH = "race"
ORACLE = "judge_score"
ROUNDS = 20
HOLDER_EVERY = 5  # rounds 4, 9, 14, 19: a third process holds the file read-write
BASELINES = ("baseline_length", "baseline_random")
CLI_DB_TIMEOUT_S = "2"  # RETA_DB_TIMEOUT of the writers: short, so busy refusals happen
SERVER_DB_TIMEOUT_S = "60"  # the app's: it waits out every writer and the holder
HANG_S = 180  # a command still running after this long has hung
BUSY = re.compile(r"error: .*: the database is locked by process (\d+) \(.+\); waited 2 s\. ")
# refusals a concurrent change explains (ingest --replace; add-scores)
CONFLICT = ("changed while the file was being checked", "was replaced while the file was being checked")
OPS = ("add", "remove", "replace")
PAGES = [("", "Leaderboard"), ("curves", "RETA curves"), ("inspector", "Inspector"), ("data", "Data")]
# the app's error boundary for a bug
BUG_BOX = "Something went wrong"


# --------------------------------------------------------------------- the model
@dataclass(frozen=True)
class State:
    """What the test can tell about benchmark ``race``: its description and RM names."""

    description: str
    rms: frozenset


@dataclass(frozen=True)
class Command:
    writer: int
    op: str      # add, remove or replace
    target: str  # the RM added or removed; the replace's description

    def argv(self, db: Path, files: Path) -> list[str]:
        common = [sys.executable, "-m", "reta_core", "--db", str(db)]
        if self.op == "add":
            return common + ["add-scores", str(files / f"{self.target}.csv"), "--benchmark", BENCH,
                             "--rm", self.target]
        if self.op == "remove":
            return common + ["remove", "--benchmark", BENCH, "--rm", self.target, "--yes"]
        return common + ["ingest", str(EXAMPLE), "--benchmark", BENCH, "--oracle", ORACLE, "--no-rms",
                         "--replace", "--description", self.target]

    def apply(self, state: State) -> tuple[str, State]:
        """(outcome, new state) of this command run alone on ``state``."""
        if self.op == "add":
            return "ok", State(state.description, state.rms | {self.target})  # names are never reused
        if self.op == "remove":
            if self.target not in state.rms:
                return "unknown RM", state
            return "ok", State(state.description, state.rms - {self.target})
        return "ok", State(self.target, frozenset(BASELINES))


SUCCESS = {"add": "Imported RM {target!r} into benchmark 'race'",
           "remove": "Removed RM {target!r} and its scores from benchmark 'race'",
           "replace": "Replaced benchmark 'race'"}


def outcome(command: Command, run: subprocess.CompletedProcess) -> tuple[str, int | None]:
    """("ok" | "busy" | "conflict" | "unknown RM", the PID a busy message names); any other
    result fails the test."""
    said = f"{command}: exit {run.returncode}\nstdout: {run.stdout}\nstderr: {run.stderr}"
    if run.returncode == 0:
        assert run.stdout.startswith(SUCCESS[command.op].format(target=command.target)), said
        return "ok", None
    assert run.returncode == 2, said
    assert run.stderr.startswith("error: ") and run.stderr.count("\n") == 1, said
    busy = BUSY.match(run.stderr)
    if busy:
        return "busy", int(busy.group(1))
    if any(text in run.stderr for text in CONFLICT) and command.op != "remove":
        return "conflict", None
    if command.op == "remove" and f"unknown RM {command.target!r} in 'race'" in run.stderr:
        return "unknown RM", None
    raise AssertionError(f"an unexpected refusal: {said}")


def explained(before: State, after: State, commands: list[Command], outcomes: dict) -> bool:
    """Whether ``after`` and the outcomes are those of the commands that took effect,
    applied one after the other in some order (busy or conflicting ones change nothing)."""
    acting = [c for c in commands if outcomes[c] not in ("busy", "conflict")]
    for order in permutations(acting):
        state, same = before, True
        for command in order:
            result, state = command.apply(state)
            same = same and result == outcomes[command]
        if same and state == after:
            return True
    return False


# --------------------------------------------------------------------- the database
def read_state(db: Path, scores: dict) -> State:
    """The benchmark's state, after checking what the model does not hold: prompts,
    responses and oracle as imported, each RM's scores exactly its file's."""
    store = Store(db)
    info = store.benchmark_info(BENCH)
    pool = store.load_pool(BENCH)
    example = pd.read_csv(EXAMPLE)
    assert (info["n_prompts"], info["n_responses"]) == (3, 12)
    assert list(pool.response_ids) == list(example["response_id"])
    np.testing.assert_array_equal(pool.oracles[ORACLE], example[ORACLE].to_numpy(float))
    names = [r["name"] for r in info["rms"]]
    assert len(names) == len(set(names)), names
    for name in set(names) - set(BASELINES):
        np.testing.assert_array_equal(pool.rms[name], scores[name], err_msg=name)
    return State(info["description"], frozenset(names))


def score_files(folder: Path, names: list[str]) -> dict:
    """One RM score file per name (the example RM's scores plus a different offset per
    name, so a mixed-up RM shows); returns name -> scores in pool order."""
    base = pd.read_csv(EXAMPLE_RM)
    scores = {}
    for k, name in enumerate(names, start=1):
        frame = base.assign(score=base["score"] + k)
        frame.to_csv(folder / f"{name}.csv", index=False)
        scores[name] = frame.set_index("response_id")["score"].loc[pd.read_csv(EXAMPLE)["response_id"]].to_numpy()
    return scores


HOLD = """
import sys, time
import duckdb
for _ in range(1200):  # the app may be reading just now: try again for up to 2 minutes
    try:
        con = duckdb.connect(sys.argv[1])
        break
    except duckdb.IOException:
        time.sleep(0.1)
else:
    sys.exit("the database stayed locked for 2 minutes")
print("held", flush=True)
sys.stdin.read()
con.close()
"""


class Holder:
    """A process holding the database open read-write (DuckDB's lock) until stopped."""

    def __init__(self, db: Path):
        self.proc = subprocess.Popen([sys.executable, "-c", HOLD, str(db)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "held"

    def stop(self) -> None:
        self.proc.stdin.close()
        assert self.proc.wait(timeout=60) == 0


def run_rounds(db: Path, files: Path, scores: dict, server_pid: int, log: list) -> State:
    """The 20 rounds of the two writers; each checked when it is over.  Returns the
    final state; ``log`` gets one line per round."""
    env = {**os.environ, "RETA_DB_TIMEOUT": CLI_DB_TIMEOUT_S, "PYTHONPATH": str(REPO)}
    state = read_state(db, scores)
    tried = {0: "w0_none", 1: "w1_none"}  # each writer's last RM name tried
    for round_ in range(ROUNDS):
        commands = []
        for writer in (0, 1):
            op = OPS[(round_ + writer) % 3]
            # remove: the writer's newest RM in the database, else the last one it tried
            mine = sorted((int(name.split("_")[1]), name) for name in state.rms
                          if name.startswith(f"w{writer}_"))
            target = {"add": f"w{writer}_{round_}", "remove": mine[-1][1] if mine else tried[writer],
                      "replace": f"writer {writer}, round {round_}"}[op]
            if op == "add":
                tried[writer] = target
            commands.append(Command(writer, op, target))
        holder = Holder(db) if round_ % HOLDER_EVERY == HOLDER_EVERY - 1 else None
        try:
            procs = [subprocess.Popen(c.argv(db, files), cwd=REPO, env=env, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                     for c in commands]
            runs = []
            for command, proc in zip(commands, procs):
                try:
                    out, err = proc.communicate(timeout=HANG_S)
                except subprocess.TimeoutExpired:
                    for p in procs:
                        p.kill()
                    raise AssertionError(f"round {round_}: {command} hung (over {HANG_S} s)")
                runs.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
        finally:
            if holder is not None:
                holder.stop()
        outcomes, named = {}, {}
        for command, run in zip(commands, runs):
            outcomes[command], named[command] = outcome(command, run)
        for command, proc in zip(commands, procs):
            if outcomes[command] != "busy":
                continue
            others = [p.pid for p in procs if p is not proc] + [server_pid]
            holders = [holder.proc.pid] if holder is not None else others
            assert named[command] in holders, (round_, command, named[command], holders)
        if holder is not None:
            assert set(outcomes.values()) == {"busy"}, (round_, outcomes)
        for command in commands:  # a refusal for a concurrent change needs one that committed
            if outcomes[command] == "conflict":
                assert any(outcomes[c] == "ok" for c in commands if c is not command), (round_, outcomes)
        after = read_state(db, scores)
        assert explained(state, after, commands, outcomes), (
            f"round {round_}: {outcomes}; before {state}; after {after}")
        log.append(f"round {round_:2d}: " + "; ".join(f"{c.op} {c.target!r}: {outcomes[c]}" for c in commands)
                   + f" -> {sorted(after.rms - set(BASELINES))}")
        state = after
    return state


# --------------------------------------------------------------------- the browser
def visit(page, url: str, step: int) -> None:
    """One page interaction: open a page (step 0 of 3), reload it (1), or switch page
    through the navigation (2); then wait for the run to end and check what is shown."""
    path, title = PAGES[(step // 3) % len(PAGES)]
    if step % 3 == 0:
        page.goto(f"{url}/{path}?bench={BENCH}")
    elif step % 3 == 1:
        page.reload()
    else:
        path, title = PAGES[(step // 3 + 1) % len(PAGES)]
        label = title.split()[-1].capitalize()
        page.locator(NAV_LINKS).filter(has=page.get_by_text(label, exact=True)).click()
    # the page's title, or an error box when the run stopped before it (a busy database)
    page.wait_for_function(
        """title => [...document.querySelectorAll('h1')].some(h => h.textContent.trim() === title)
                    || document.querySelector('[data-testid="stException"], [data-testid="stAlertContentError"]')""",
        arg=title)
    wait_idle(page)
    assert_no_bug(page, f"{title} (step {step})")


def assert_no_bug(page, where: str) -> None:
    """No exception, traceback, bug box or error box on the page (the server waits up to
    a minute for the database, so not even a busy message)."""
    exceptions = page.locator('[data-testid="stException"]')
    assert exceptions.count() == 0, (where, exceptions.all_inner_texts())
    errors = page.locator('[data-testid="stAlertContentError"]')
    assert errors.count() == 0, (where, errors.all_inner_texts())
    body = page.inner_text("body")
    assert "Traceback" not in body and BUG_BOX not in body, (where, body[-2000:])


# --------------------------------------------------------------------- the test
def test_two_writers_and_the_app_at_once_lose_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("RETA_DB_TIMEOUT", SERVER_DB_TIMEOUT_S)  # the server's (the writers get their own)
    db = tmp_path / "reta.duckdb"
    files = tmp_path / "scores"
    files.mkdir()
    names = [f"w{writer}_{round_}" for round_ in range(ROUNDS) for writer in (0, 1)]
    scores = score_files(files, names)
    subprocess.run([sys.executable, "-m", "reta_core", "--db", str(db), "ingest", str(EXAMPLE),
                    "--benchmark", BENCH, "--oracle", ORACLE, "--no-rms", "--description", "initial"],
                   cwd=REPO, check=True, capture_output=True, env={**os.environ, "PYTHONPATH": str(REPO)})

    log, failure, final = [], [], []

    def writers(server_pid: int) -> None:
        try:
            final.append(run_rounds(db, files, scores, server_pid, log))
        except BaseException as exc:  # noqa: BLE001 (re-raised in the test's thread)
            failure.append(exc)

    with served_app(db) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROME, args=CHROME_ARGS, headless=True)
        try:
            context = browser.new_context(viewport=VIEWPORT)
            context.set_default_timeout(TIMEOUT_MS)
            page = context.new_page()
            visit(page, url, 0)  # the app is open before the writers start
            thread = threading.Thread(target=writers, args=(url.pid,), daemon=True)
            thread.start()
            step = 1
            while thread.is_alive():
                visit(page, url, step)
                step += 1
            thread.join()
            if failure:
                raise failure[0]
            page.goto(f"{url}/?bench={BENCH}")
            page.get_by_role("heading", name="Leaderboard", level=1).wait_for()
            wait_idle(page)
            assert_no_bug(page, "the leaderboard after the run")
            shown = {row[0] for row in table_rows(page)[1:]}
        finally:
            browser.close()

    state = final[0]
    listed = json.loads(subprocess.run(
        [sys.executable, "-m", "reta_core", "--db", str(db), "list", "--format", "json"], cwd=REPO, check=True,
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)}).stdout)["rows"]
    (race,) = [row for row in listed if row["name"] == BENCH]
    assert race["description"] == state.description
    assert {r["name"] for r in race["rms"]} == set(state.rms)
    assert shown == set(state.rms), (shown, state)
    print("\n".join(log + [f"browser: {step} page interactions during the run; final {state}"]))
    outcomes = " ".join(log)
    assert ": ok" in outcomes and ": busy" in outcomes  # both kinds happened (busy at least with the holder)
