"""Browser tests: the app served by a real ``streamlit run`` process, driven by Chromium.

AppTest (tests/test_app_*.py) runs the page scripts without a browser; these tests check
what only a browser sees: the frontend renders every page without an error, the eta
slider moves the values, downloads arrive, a copied URL reopens the same view, an upload
through the Data page reaches the other pages, and a deep link into a fresh server shows
the app's own navigation.

Skipped (with the reason) when the ``playwright`` package or a Chrome/Chromium is
missing; no browser is ever downloaded.  Screenshots go to ``artifacts/screenshots/``
(git-ignored).  With ``RETA_README_SCREENSHOTS=1`` the tests run on the full-size demo
benchmark and also write the README's screenshots to ``docs/screenshots/``:

    RETA_README_SCREENSHOTS=1 python -m pytest tests/test_browser.py
"""
from __future__ import annotations

import csv
import io
import os
import re
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from tests.browser import (CHART, CHROME, CHROME_ARGS, NAV_LINKS, NEEDS_A_BROWSER, TABLE, TABLES, TIMEOUT_MS,
                           VIEWPORT, served_app, sync_playwright, table_rows, wait_idle)

REPO = Path(__file__).resolve().parents[1]
SCREENSHOTS = REPO / "artifacts" / "screenshots"
README_SHOTS = REPO / "docs" / "screenshots" if os.environ.get("RETA_README_SCREENSHOTS") == "1" else None
NAVIGATION = ["Leaderboard", "Curves", "Inspector", "Reliability", "Stability", "Data"]

pytestmark = NEEDS_A_BROWSER


# --------------------------------------------------------------------- a served app
def build_small_demo(path: Path) -> Path:
    from reta_core.demo import build_demo
    from reta_core.store import Store

    if README_SHOTS is not None:  # the README shows the default demo benchmark
        build_demo(Store(path))
    else:
        build_demo(Store(path), n_prompts=80, n_responses=16)
    return path


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Path:
    return build_small_demo(tmp_path_factory.mktemp("browser") / "reta.duckdb")


@pytest.fixture(scope="module")
def server(demo_db):
    with served_app(demo_db) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROME, args=CHROME_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture()
def context(browser):
    ctx = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    ctx.set_default_timeout(TIMEOUT_MS)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture()
def page(context):
    return context.new_page()


# --------------------------------------------------------------------- helpers
def wait_for_page(page, title: str, *selectors: str) -> None:
    """Wait for the page's title and its ``selectors`` (charts, tables; Streamlit shows a
    skeleton first), then for the end of the run."""
    page.get_by_role("heading", name=title, level=1).wait_for()
    for selector in selectors:
        page.locator(selector).first.wait_for()
    wait_idle(page)


def open_page(page, url: str, title: str, *selectors: str) -> None:
    page.goto(url)
    wait_for_page(page, title, *selectors)


def assert_no_error(page) -> None:
    exceptions = page.locator('[data-testid="stException"]')
    errors = page.locator('[data-testid="stAlertContentError"]')
    assert exceptions.count() == 0, exceptions.all_inner_texts()
    assert errors.count() == 0, errors.all_inner_texts()
    assert "Traceback" not in page.inner_text("body")


def screenshot(page, name: str, readme: str | None = None) -> Path:
    """A PNG of the whole page.  Streamlit scrolls its main area itself, so the viewport is
    made as tall as that area for the shot (at most 6000 px) and restored after.  With
    ``readme`` and RETA_README_SCREENSHOTS=1, the first screen is also saved as the
    README's ``docs/screenshots/<readme>.png``."""
    if readme is not None and README_SHOTS is not None:
        README_SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(README_SHOTS / f"{readme}.png"))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    height = page.evaluate('document.querySelector(\'[data-testid="stMain"]\')?.scrollHeight || 0')
    page.set_viewport_size({"width": VIEWPORT["width"], "height": min(max(height, VIEWPORT["height"]), 6000)})
    try:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
    finally:
        page.set_viewport_size(VIEWPORT)
    return path


def as_displayed(rows: list[list[str]]) -> list[list[str]]:
    """The curves page's values table (rm, rank, reta, band) with RETA as shown: 4 decimals."""
    return [rows[0]] + [[rm, rank, f"{float(reta):.4f}", *rest] for rm, rank, reta, *rest in rows[1:]]


def table_text(page, index: int = 0) -> str:
    return "\n".join("\t".join(row) for row in table_rows(page, index))


def eta_input(page):
    return page.locator(".st-key-eta input")


# Records, from the document's creation on, the navigation links shown after every DOM
# change (top or sidebar navigation: Streamlit's pages-folder mode would use the sidebar).
NAV_RECORDER = """
window.__navSeen = [];
const record = () => {
  const links = [...document.querySelectorAll('%s')];
  if (links.length) window.__navSeen.push(links.map(a => a.innerText.trim().split('\\n').pop().trim()));
};
new MutationObserver(record).observe(document, {subtree: true, childList: true, characterData: true});
""" % NAV_LINKS


def nav_labels(page) -> list[str]:
    """The navigation's links, without their icons' ligature text."""
    return [text.strip().splitlines()[-1].strip() for text in page.locator(NAV_LINKS).all_inner_texts()]


def click_nav(page, label: str, title: str, *selectors: str) -> None:
    """Switch page through the navigation (the same session, as a user does)."""
    page.locator(NAV_LINKS).filter(has=page.get_by_text(label, exact=True)).click()
    wait_for_page(page, title, *selectors)


def download(page, button) -> bytes:
    with page.expect_download() as info:
        button.click()
    return Path(info.value.path()).read_bytes()


# --------------------------------------------------------------------- tests
PAGES = [
    ("", "Leaderboard", [TABLE]),
    ("curves", "RETA curves", [CHART, TABLE]),
    ("inspector", "Inspector", [CHART, TABLE]),
    ("reliability", "Reliability", [CHART, TABLE]),
    ("stability", "Stability", ['.st-key-stab_run button']),
    ("data", "Data", [CHART, TABLE]),
]


@pytest.mark.parametrize("path, title, selectors", PAGES, ids=[p[1].split()[-1].lower() for p in PAGES])
def test_page_renders_without_error(server, page, path, title, selectors):
    outside = []  # every request must stay on the app's own origin (no fonts, icons or CDNs)
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith((server, "data:", "blob:"))
            else None)
    open_page(page, f"{server}/{path}", title, *selectors)
    assert_no_error(page)
    assert not outside, outside
    assert nav_labels(page) == NAVIGATION
    if TABLE in selectors:
        assert len(table_rows(page)) > 1  # the first table's data has arrived and is drawn
    screenshot(page, f"page_{path or 'leaderboard'}", readme=None if path == "stability" else path or "leaderboard")


def test_curves_eta_slider_downloads_and_url(server, page, context):
    open_page(page, f"{server}/curves", "RETA curves", CHART, TABLE)
    before = table_text(page)
    assert "strong_rm" in before and "At eta = 0.1" in page.inner_text("body")
    assert float(eta_input(page).input_value()) == pytest.approx(0.1)

    # keyboard on the slider's thumb: each step is one point of the curves' grid
    thumb = page.locator(".st-key-_eta_slider").get_by_role("slider")
    thumb.focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    # the runs the key presses start settle on a larger eta, with the values at it
    page.wait_for_function("() => parseFloat(document.querySelector('.st-key-eta input').value) > 0.1")
    # the reruns the presses queue may redraw the table at an earlier eta for a moment (seen:
    # idle between two reruns, the table back at eta = 0.1): wait until the page is idle and
    # its table has held new values for a second
    page.wait_for_function("""([selector, before]) => {
        const app = document.querySelector('[data-testid="stApp"]');
        const text = document.querySelector(selector)?.textContent;
        const busy = app.getAttribute('data-test-script-state') !== 'notRunning'
            || document.querySelector('[data-stale="true"]');
        if (busy || text === before) { window.__settled = null; return false; }
        if (!window.__settled || window.__settled.text !== text) {
            window.__settled = {text, at: performance.now()};
            return false;
        }
        return performance.now() - window.__settled.at > 1000;
    }""", arg=[TABLES, before], polling=100)
    wait_idle(page)
    assert_no_error(page)
    eta = float(eta_input(page).input_value())
    assert eta > 0.1
    after = table_text(page)
    assert after != before and "strong_rm" in after
    heading = re.search(r"At eta = ([0-9.e-]+)", page.inner_text("body")).group(1)
    assert heading == f"{eta:.3g}"  # the values shown are those at the new eta
    screenshot(page, "curves_after_eta_move")

    # downloads: the chart as HTML, the curves' data as CSV
    buttons = page.locator('[data-testid="stDownloadButton"]')
    html = download(page, page.locator(".st-key-html_curves").get_by_role("button")).decode()
    assert "plotly" in html.lower() and "strong_rm" in html
    rows = list(csv.reader(io.StringIO(download(page, buttons.filter(has_text="Curves CSV").get_by_role("button"))
                                       .decode())))
    assert {"rm", "eta", "reta"} <= set(rows[0]) and len(rows) > 10
    assert_no_error(page)

    # the URL holds the view: a new page opened on it shows the same eta and values
    url = page.url
    assert re.search(r"[?&]eta=", url), url
    again = context.new_page()
    open_page(again, url, "RETA curves", CHART, TABLE)
    assert_no_error(again)
    assert float(eta_input(again).input_value()) == pytest.approx(eta, rel=1e-4)
    assert f"At eta = {heading}" in again.inner_text("body")
    # the URL keeps eta exactly: the same values as displayed
    assert as_displayed(table_rows(again)) == as_displayed(table_rows(page))


def test_stability_study_runs_to_the_end(server, page):
    open_page(page, f"{server}/stability", "Stability", ".st-key-stab_run button")
    repeats = page.locator(".st-key-stab_repeats input")
    repeats.fill("20")
    repeats.press("Enter")
    page.get_by_text("× B = 20 resamples").wait_for()
    wait_idle(page)
    page.locator(".st-key-stab_run button").click()
    page.get_by_role("heading", name="Reading").wait_for()
    page.locator(f".st-key-stab_spread_chart {CHART}").wait_for()
    page.locator(f".st-key-stab_convergence_chart {CHART}").wait_for()
    wait_idle(page)
    assert_no_error(page)
    reading = page.locator('[data-testid="stAlertContentInfo"]').first.inner_text()
    assert "RETA@0.1" in reading and "BoN@n" in reading
    assert "strong_rm" in table_text(page)
    screenshot(page, "stability_after_run", readme="stability")


def test_uploaded_rm_reaches_leaderboard_and_curves(server, page, demo_db, tmp_path):
    from reta_core.store import Store

    pool = Store(demo_db).load_pool("demo")
    rng = np.random.default_rng(5)
    oracle = pool.oracles["judge_score"]
    scores = np.where(rng.random(pool.n_responses) < 0.9, oracle + rng.normal(scale=2.0, size=oracle.size), np.nan)
    file = tmp_path / "browser_rm.csv"
    with file.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["response_id", "score"])
        writer.writerows((rid, "" if np.isnan(s) else f"{s:.6f}") for rid, s in zip(pool.response_ids, scores))

    open_page(page, f"{server}/data", "Data", TABLE)
    page.get_by_role("tab", name="Add an RM").click()
    uploader = page.locator('[data-testid="stFileUploader"]', has_text="RM score file")
    uploader.locator('input[type="file"]').set_input_files(str(file))
    page.get_by_text("Check passed").wait_for()
    wait_idle(page)
    assert_no_error(page)
    assert page.get_by_role("textbox", name="RM name").input_value() == "browser_rm"
    page.get_by_role("button", name="Confirm import").click()
    page.locator('[data-testid="stAlertContentSuccess"]').first.wait_for()
    wait_idle(page)
    assert_no_error(page)
    assert "browser_rm" in page.locator('[data-testid="stAlertContentSuccess"]').first.inner_text()
    assert "browser_rm" in [rm["name"] for rm in Store(demo_db).benchmark_info("demo")["rms"]]

    click_nav(page, "Leaderboard", "Leaderboard", TABLE)
    assert_no_error(page)
    assert "browser_rm" in table_text(page)

    click_nav(page, "Curves", "RETA curves", CHART, TABLE)
    assert_no_error(page)
    assert "browser_rm" in table_text(page)
    legend = page.locator(".st-key-curves_chart .legend").first.text_content()
    assert "browser_rm" in legend
    screenshot(page, "curves_with_uploaded_rm")


def test_an_upload_of_another_type_is_refused_in_visible_words(server, page, tmp_path):
    # before: the browser refused it with a red icon whose reason needed a hover
    file = tmp_path / "scores.xlsx"
    file.write_bytes(b"PK\x03\x04 a spreadsheet")
    open_page(page, f"{server}/data", "Data", TABLE)
    page.get_by_role("tab", name="Add an RM").click()
    uploader = page.locator('[data-testid="stFileUploader"]', has_text="RM score file")
    uploader.locator('input[type="file"]').set_input_files(str(file))
    error = page.locator('[data-testid="stAlertContentError"]').first
    error.wait_for()
    assert "scores.xlsx: unknown file type; use one of .csv, " in error.inner_text()
    assert error.is_visible()
    rules = page.get_by_text("A file over 200 MB is not sent (the browser marks it red)").first
    assert rules.is_visible()


@pytest.mark.parametrize("path, title, selectors", [("curves", "RETA curves", [CHART, TABLE]),
                                                     ("", "Leaderboard", [TABLE])], ids=["deep_link", "root"])
def test_a_fresh_server_never_shows_a_stray_navigation_link(demo_db, page, path, title, selectors):
    """The first request a server ever gets (a deep link, or the root): from the first
    paint until the page settles, the navigation lists the app's six pages and nothing
    else (no pages-folder link such as ``common``, not even for a moment)."""
    page.add_init_script(NAV_RECORDER)
    with served_app(demo_db) as url:
        open_page(page, f"{url}/{path}", title, *selectors)
        assert_no_error(page)
        seen = page.evaluate("window.__navSeen")
        assert seen, "no navigation link was ever drawn"
        stray = sorted({label for labels in seen for label in labels} - set(NAVIGATION))
        assert not stray, f"stray navigation links drawn at some point: {stray}"
        assert nav_labels(page) == NAVIGATION
        screenshot(page, f"fresh_server_{path or 'root'}")
        click_nav(page, "Leaderboard" if path else "Curves", "Leaderboard" if path else "RETA curves", TABLE)
        assert_no_error(page)
        assert "strong_rm" in table_text(page)


def test_inspector_opens_the_largest_shortfall_and_a_clicked_point(server, page):
    """The Inspector opens on the largest shortfall with the order and the response in the
    URL; a real mouse click on a point of the scatter opens that response."""
    open_page(page, f"{server}/inspector?eta=0.25", "Inspector", CHART, TABLE)
    assert_no_error(page)
    assert "order=shortfall" in page.url and "resp=" in page.url
    before = re.search(r"resp=([^&]+)", page.url).group(1)
    shown_before = page.locator('[data-testid="stCode"]').last.inner_text()
    chart = page.locator('[class*="st-key-inspector_scatter"]')
    chart.scroll_into_view_if_needed()
    # a point outside the top eta: never the opened response (the RM's top pick)
    point = chart.locator(".scatterlayer .trace").nth(0).locator(".points path").first
    box = point.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.up()
    page.wait_for_function(f"!location.href.includes('resp={before}')")
    wait_idle(page)
    assert_no_error(page)
    after = re.search(r"resp=([^&]+)", page.url).group(1)
    prompt = re.search(r"prompt=([^&]+)", page.url).group(1)
    assert after != before and after.startswith(prompt)
    # the opened response is shown (as plain text): the text below the selector changed
    page.wait_for_function("t => [...document.querySelectorAll('[data-testid=\"stCode\"]')].pop().innerText !== t",
                           arg=shown_before)
    screenshot(page, "inspector_clicked_point")


def test_leaderboard_sort_column_is_visible_at_1280_px(server, page):
    """The column the leaderboard is sorted by (RETA(eta*), marked with its sort) comes
    right after the RM, inside a 1280 px wide window."""
    page.set_viewport_size({"width": 1280, "height": 800})
    open_page(page, server, "Leaderboard", TABLE)
    header = table_rows(page)[0]
    assert header[:3] == ["RM", "RETA(eta*) ↓", "95 % band"], header
    grid = page.locator(TABLES).first.bounding_box()
    assert grid["x"] + 3 * 110 < 1280  # three columns of ~110 px fit on screen without scrolling
    reta = [float(row[1]) for row in table_rows(page)[1:]]
    assert reta == sorted(reta, reverse=True)


# --------------------------------------------------------------------- hostile names (issue 13)
# A benchmark whose every name carries Markdown, HTML and script payloads, and hostile URL
# parameters, on every page: no element is created from them, no request leaves the app's
# origin, no dialog opens, and the names show as literal text.
IMAGE = "![x](http://127.0.0.1:1/t.png)"
PHISH = "[PHISH](http://evil.invalid)"
SCRIPT_IMG = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>alert(2)</script>"
LINK = "<a href=http://evil.invalid>y</a>"
BOLD = "**bold** <b>b</b>"
RMS = {"strong_rm": PHISH, "noisy_small_rm": SCRIPT_IMG, "reward_hacked_rm": LINK, "length_biased_rm": IMAGE}
BENCH, ORACLE = IMAGE + " " + SCRIPT_IMG, BOLD
HOSTILE_URLS = {
    "inspector": {"prompt": "[PHISH: session expired, log in again](http://evil.invalid)"},
    "curves": {"rm_a": SCRIPT_IMG, "rm_b": LINK, "eta": SCRIPT},
    "reliability": {"cat": SCRIPT_IMG},
    "": {"oracle": IMAGE, "norm": LINK},
}


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory):
    from reta_core.demo import generate_demo
    from reta_core.ingest import import_frame
    from reta_core.store import Store

    demo = generate_demo(n_prompts=40, n_responses=8)
    frame = demo.frame.rename(columns={**RMS, demo.oracle_columns[0]: ORACLE})
    cats = frame["category"].astype(str)
    frame["category"] = np.where(cats == cats.iloc[0], SCRIPT, PHISH)
    frame["prompt_id"] = frame["prompt_id"].astype(str) + " " + LINK
    path = tmp_path_factory.mktemp("hostile") / "reta.duckdb"
    import_frame(Store(path), frame, BENCH, [ORACLE] + demo.oracle_columns[1:],
                 [RMS.get(c, c) for c in demo.rm_columns])
    with served_app(path) as url:
        yield url


@pytest.mark.parametrize("path, title, selectors", PAGES, ids=[p[1].split()[-1].lower() for p in PAGES])
def test_hostile_names_and_urls_stay_text_in_the_browser(hostile_server, page, path, title, selectors):
    outside, dialogs = [], []
    page.on("request", lambda r: outside.append(r.url)
            if not r.url.startswith((hostile_server, "data:", "blob:")) else None)
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    query = "&".join(f"{k}={urllib.parse.quote(v)}" for k, v in HOSTILE_URLS.get(path, {}).items())
    open_page(page, f"{hostile_server}/{path}" + (f"?{query}" if query else ""), title, *selectors)
    assert_no_error(page)
    page.wait_for_timeout(500)  # an image or script from a name would have fired by now
    assert not outside, outside
    assert not dialogs, dialogs
    for selector in ('a[href*="evil"]', 'img[src="x"]', 'img[src*="127.0.0.1:1"]', "img[onerror]",
                     "script:text('alert')"):
        assert page.locator(selector).count() == 0, selector
    body = page.inner_text("body").replace("\u2060", "")  # readings.md breaks autolinks invisibly
    assert IMAGE in body  # the benchmark's name, shown as it is (sidebar and page header)
