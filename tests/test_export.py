"""Tests of figure and table export (reta_core/export.py).

HTML and CSV need nothing but Python.  The image tests render for real with the
Chrome/Chromium :func:`export.find_chrome` finds (Debian: ``/usr/bin/chromium``) and
are skipped, with the reason, when there is none.
"""
from __future__ import annotations

import io
import os
import re
import struct
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest
from plotly.io.json import to_json_plotly

from reta_core import charts, compat, export
from reta_core.errors import RetaInputError
from reta_core.evaluation import Evaluation
from reta_core.pool import Pool

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
needs_chrome = pytest.mark.skipif(
    export.find_chrome() is None,
    reason="no Chrome/Chromium on this machine (set RETA_CHROME or install chromium) "
           "so PNG/SVG/PDF export cannot be tested")


@pytest.fixture(scope="module")
def curves() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    rows = 12 * 8
    judge = rng.integers(1, 11, size=rows).astype(float)
    pool = Pool.from_codes(np.repeat(np.arange(12), 8), [f"p{i}" for i in range(12)],
                           [f"r{i}" for i in range(rows)], {"judge": judge},
                           {"rm_alpha": judge + rng.normal(size=rows), "rm_beta": rng.normal(size=rows)})
    return Evaluation(pool).curves(etas=np.geomspace(1 / 8, 1, 12), ci=True, n_boot=50).table


@pytest.fixture(scope="module")
def fig(curves):
    return charts.curves_figure(curves, charts.rm_colors(["rm_alpha", "rm_beta"]), marker_eta=0.25,
                                title="export test")


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


# ----------------------------------------------------------------------- html, csv
def test_html_is_self_contained_and_holds_the_traces(fig):
    page = export.figure_to_bytes(fig, "html").decode("utf-8")
    assert "<html>" in page[:100].lower() and page.rstrip().endswith("</html>")
    assert '<script src="https://cdn' not in page
    assert not re.search(r"<script[^>]*\bsrc=", page)  # nothing loaded from anywhere
    assert len(page) > 1_000_000  # plotly.js inline
    assert to_json_plotly(fig.to_dict()["data"]) in page  # every trace, byte for byte
    assert "rm_alpha" in page and "export test" in page


def test_csv_round_trip(curves):
    data = export.table_to_csv_bytes(curves)
    assert data.splitlines()[0].decode() == ",".join(curves.columns)
    back = pd.read_csv(io.BytesIO(data))
    pd.testing.assert_frame_equal(back, curves, check_dtype=False, check_exact=True)


def test_write_html_atomically(fig, tmp_path):
    out = export.write_figure(fig, tmp_path / "curves.html")
    assert to_json_plotly(fig.to_dict()["data"]) in out.read_text("utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curves.html"]
    # permissions as for a plain open(), not the owner-only ones of a temporary file
    plain = tmp_path / "plain.txt"
    plain.write_bytes(b"")
    assert out.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777


def test_unknown_format_is_an_input_error(fig, tmp_path):
    with pytest.raises(RetaInputError, match=r"\.html, \.png, \.svg, \.pdf"):
        export.write_figure(fig, tmp_path / "curves.gif")
    with pytest.raises(RetaInputError, match="supported: html, png, svg, pdf"):
        export.figure_to_bytes(fig, "jpeg")
    with pytest.raises(RetaInputError):
        export.write_figure(fig, tmp_path / "no_extension")
    with pytest.raises(RetaInputError, match="does not exist"):
        export.write_figure(fig, tmp_path / "missing" / "curves.html")
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------- no browser
def test_without_a_browser_images_explain_and_html_still_works(fig, tmp_path, monkeypatch):
    monkeypatch.setattr(export, "find_chrome", lambda: None)
    assert export.export_formats() == ["html", "csv"]
    for fmt in ("png", "svg", "pdf"):
        with pytest.raises(RetaInputError) as err:
            export.figure_to_bytes(fig, fmt)
        assert export.CHROME_MISSING_HELP in str(err.value)
    with pytest.raises(RetaInputError, match="apt-get install chromium"):
        export.write_figure(fig, tmp_path / "curves.png")
    assert not (tmp_path / "curves.png").exists()
    assert b"<html>" in export.figure_to_bytes(fig, "html")[:100]


def test_help_is_one_plain_sentence():
    help_text = export.CHROME_MISSING_HELP
    assert "\n" not in help_text and help_text.endswith(".") and help_text.count(". ") == 0
    for part in ("sudo apt-get install chromium", "macOS", "Google Chrome", "RETA_CHROME="):
        assert part in help_text


# ----------------------------------------------------------------------- find_chrome
def _fake_browser(path):
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return str(path)


def test_find_chrome_honours_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("BROWSER_PATH", raising=False)
    mine = _fake_browser(tmp_path / "my-chrome")
    monkeypatch.setenv("RETA_CHROME", mine)
    assert export.find_chrome() == mine
    monkeypatch.delenv("RETA_CHROME")
    other = _fake_browser(tmp_path / "other-chrome")
    monkeypatch.setenv("BROWSER_PATH", other)
    assert export.find_chrome() == other
    # a value that is not an executable is skipped, not trusted
    not_exe = tmp_path / "not-executable"
    not_exe.write_text("")
    monkeypatch.setenv("RETA_CHROME", str(not_exe))
    assert export.find_chrome() == other


def test_find_chrome_none_when_nothing_is_installed(tmp_path, monkeypatch):
    for var in export.CHROME_ENV:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    real_access = os.access
    monkeypatch.setattr(export.os, "access",
                        lambda p, mode: False if str(p) == "/usr/bin/chromium" else real_access(p, mode))
    assert export.find_chrome() is None
    assert export.export_formats() == ["html", "csv"]
    _fake_browser(tmp_path / "chromium-browser")
    assert export.find_chrome() == str(tmp_path / "chromium-browser")


# ----------------------------------------------------------------------- images (real browser)
@needs_chrome
def test_images_render_with_one_shared_browser(fig, tmp_path):
    import kaleido

    assert export.export_formats() == ["html", "csv", "png", "svg", "pdf"]
    starts = export.image_server_starts()
    png = export.figure_to_bytes(fig, "png", width=300, height=200, scale=2)
    assert _png_size(png) == (600, 400)
    svg = export.figure_to_bytes(fig, "svg", width=640, height=480, scale=1)
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg") and root.get("width") == "640"
    pdf = export.figure_to_bytes(fig, "pdf")
    assert pdf.startswith(b"%PDF")
    again = export.figure_to_bytes(fig, "png", width=100, height=100, scale=1)
    assert _png_size(again) == (100, 100)
    # all four images came from one browser, started at most once here
    assert export.image_server_starts() - starts <= 1
    assert compat.kaleido_server_alive(kaleido)


@needs_chrome
def test_write_png_uses_the_figure_height(fig, tmp_path):
    out = export.write_figure(fig, tmp_path / "curves.png", width=500, scale=1)
    assert _png_size(out.read_bytes()) == (500, fig.layout.height)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curves.png"]


@needs_chrome
def test_a_browser_that_does_not_start_is_an_error_not_a_hang(fig, tmp_path, monkeypatch):
    monkeypatch.setenv("RETA_CHROME", "/bin/false")
    with pytest.raises(RetaInputError, match="/bin/false"):
        export.figure_to_bytes(fig, "png")
    monkeypatch.delenv("RETA_CHROME")
    assert export.figure_to_bytes(fig, "png", width=120, height=80, scale=1)[:8] == PNG_SIGNATURE
