"""Hostile names in a real browser (issue 13): a benchmark whose every name carries
Markdown, HTML and script payloads, and hostile URL parameters, on every page: no element
is created from them, no request leaves the app's origin, no dialog opens, and the names
show as literal text.  Skipped like tests/test_browser.py without playwright or Chrome."""
from __future__ import annotations

from urllib.parse import quote

import numpy as np
import pytest

from tests.test_browser import (CHART, PAGES, TABLE, assert_no_error, browser, context,  # noqa: F401
                                open_page, page, pytestmark, served_app)

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
    query = "&".join(f"{k}={quote(v)}" for k, v in HOSTILE_URLS.get(path, {}).items())
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
