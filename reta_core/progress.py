"""The one progress protocol of reta_core.

Long work (building the demo, an import, bootstrap bands RM after RM, resampling)
takes an optional callback ``progress(done, total, message)``: ``done`` of ``total``
units (RMs, repeats, or steps of an import) and a few words on what is happening.  The
command line turns it into a bar with throughput, the dashboard into ``st.progress``.
"""
from __future__ import annotations

from typing import Callable, Optional

ProgressCallback = Callable[[float, float, str], None]


def no_progress(done: float, total: float, message: str = "") -> None:
    """The callback used when the caller passes none."""


def ensure(progress: Optional[ProgressCallback]) -> ProgressCallback:
    return no_progress if progress is None else progress


def offset(progress: Optional[ProgressCallback], start: float, total: float,
           message: str = "") -> Optional[ProgressCallback]:
    """A callback for one part of a larger job: its ``done`` counts from ``start`` of
    the whole ``total`` (e.g. the repeats of the third RM of five)."""
    if progress is None:
        return None
    return lambda done, _total, msg="": progress(start + done, total, msg or message)
