"""Widgets every page uses: downloads of a chart or table, progress bars, and the
app's error boundary (a short message, never a traceback)."""
from __future__ import annotations

import logging

import pandas as pd
import streamlit as st

from reta_core import export, readings
from reta_core.errors import RetaInputError

log = logging.getLogger("reta_explorer")


def show_error(exc: BaseException) -> None:
    """The app's error boundary: a short message, never a traceback."""
    if isinstance(exc, RetaInputError):
        st.error(readings.md(str(exc)), icon=":material/error:")
    else:
        log.exception("unexpected error")
        st.error(f"Something went wrong ({readings.md(type(exc).__name__)}: "
                 f"{readings.md(str(exc).splitlines()[0]) if str(exc) else ''}). "
                 "Try another choice in the sidebar; if it persists, report it with the server log.",
                 icon=":material/bug_report:")


def progress_callback(bar, what: str):
    """reta_core's ``progress(done, total, message)`` for ``bar`` (``st.progress``),
    moving it once per percent."""
    shown = [-1]

    def update(done: float, total: float, message: str = "") -> None:
        percent = int(100 * done / max(total, 1))
        if percent != shown[0]:
            shown[0] = percent
            bar.progress(min(max(percent, 0), 100) / 100, text=f"{what}: {done:,.0f} of {total:,.0f} ({percent} %)")

    return update


def download_buttons(label: str, table: pd.DataFrame, fig=None, key: str = "") -> None:
    """CSV of the data behind a chart or table, and the chart as HTML (always) and
    PNG/SVG/PDF (when a Chrome/Chromium is found).

    Files are built only when their button is clicked (Streamlit's deferred download:
    ``data`` is a callable), so moving eta does not re-render exports nobody asked for.
    """
    stem = key or label
    cols = st.columns(5)
    cols[0].download_button(f"{label} CSV", lambda: export.table_to_csv_bytes(table), file_name=f"{stem}.csv",
                            mime="text/csv", key=f"csv_{key}", icon=":material/download:", on_click="ignore")
    if fig is None:
        return
    formats = [("html", "HTML", "text/html")]
    if export.find_chrome() is None:
        cols[2].caption(f"PNG, SVG and PDF need Chrome or Chromium. {export.CHROME_MISSING_HELP}")
    else:
        formats += [("png", "PNG", "image/png"), ("svg", "SVG", "image/svg+xml"), ("pdf", "PDF", "application/pdf")]
    for col, (fmt, name, mime) in zip(cols[1:], formats):
        col.download_button(name, lambda fmt=fmt: export.figure_to_bytes(fig, fmt), file_name=f"{stem}.{fmt}",
                            mime=mime, key=f"{fmt}_{key}", icon=":material/download:", on_click="ignore")
