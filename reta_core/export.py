"""Export of figures (HTML, PNG, SVG, PDF) and tables (CSV).

HTML is self-contained (plotly.js inline), so an exported chart opens offline.  The
image formats are rendered by kaleido 1.x, which drives a Chrome/Chromium found on
the machine (:func:`find_chrome`); nothing is downloaded.  One headless browser serves
every image of the process: ``kaleido.start_sync_server`` is started lazily on the
first image and stopped at exit.  choreographer (kaleido's browser driver) launches
it headless with ``--no-sandbox`` by default (its ``enable_sandbox`` option is off),
which is what Chromium needs when running as root or in a container.

This module must not import streamlit: the CLI uses it too.
"""
from __future__ import annotations

import atexit
import os
import shutil
import stat
import tempfile
import threading
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go

from .errors import RetaInputError

CHROME_MISSING_HELP = (
    "PNG, SVG and PDF export needs Chrome or Chromium: on Debian/Ubuntu run "
    "`sudo apt-get install chromium`, on macOS install Google Chrome, or set "
    "RETA_CHROME=/path/to/chrome.")
IMAGE_FORMATS = ("png", "svg", "pdf")
FIGURE_FORMATS = ("html", *IMAGE_FORMATS)
CHROME_ENV = ("RETA_CHROME", "BROWSER_PATH")
CHROME_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
RENDER_TIMEOUT = 90  # seconds kaleido allows one image
DEFAULT_HEIGHT = 600


# ----------------------------------------------------------------------- browser
def find_chrome() -> str | None:
    """The Chrome/Chromium to render images with, or ``None``.

    In order: the ``RETA_CHROME`` and ``BROWSER_PATH`` environment variables (a path or a
    command name; a value that is not an executable is skipped), ``/usr/bin/chromium``,
    then ``chromium``, ``chromium-browser``, ``google-chrome``, ``google-chrome-stable``
    and ``chrome`` on the ``PATH``.
    """
    for var in CHROME_ENV:
        value = os.environ.get(var, "").strip()
        if value and (found := shutil.which(value)):
            return found
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    for name in CHROME_NAMES:
        if found := shutil.which(name):
            return found
    return None


def export_formats() -> list[str]:
    """Formats the exports offer here: html and csv, plus png, svg and pdf when a
    browser is found."""
    return ["html", "csv"] + (list(IMAGE_FORMATS) if find_chrome() else [])


class _ImageServer:
    """The process's one kaleido sync server (one headless browser), started lazily.

    ``kaleido.start_sync_server`` runs the browser in a background thread.  If that
    thread dies (the browser failed to start or crashed), kaleido's blocking call would
    wait forever, so each render runs in a helper thread while this one watches the
    server thread.  A lock serialises renders: kaleido's sync server pairs requests
    and results through shared queues, which is not safe for concurrent callers
    (several dashboard sessions).
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.path: str | None = None
        self.starts = 0
        self._atexit = False

    def _server_alive(self, kaleido) -> bool:
        from .compat import kaleido_server_alive

        return kaleido_server_alive(kaleido)

    def _ensure(self, chrome: str):
        import kaleido

        if self.path == chrome and self._server_alive(kaleido):
            return kaleido
        self._stop(kaleido)
        # mathjax=False: kaleido would otherwise fetch MathJax from a CDN (offline here);
        # plotly.js comes from the installed plotly package.
        kaleido.start_sync_server(path=chrome, mathjax=False, timeout=RENDER_TIMEOUT,
                                  silence_warnings=True)
        self.path = chrome
        self.starts += 1
        if not self._atexit:
            atexit.register(self.stop)
            self._atexit = True
        return kaleido

    def _stop(self, kaleido) -> None:
        kaleido.stop_sync_server(silence_warnings=True)
        self.path = None

    def stop(self) -> None:
        """Stop the browser (at exit, or to free it); the next image starts it again."""
        with self.lock:
            if self.path is not None:
                import kaleido

                self._stop(kaleido)

    def render(self, chrome: str, fig_dict: dict, opts: dict) -> bytes:
        with self.lock:
            kaleido = self._ensure(chrome)
            box: dict = {}

            def work():
                try:
                    box["value"] = kaleido.calc_fig_sync(fig_dict, opts=opts)
                except BaseException as exc:  # noqa: BLE001 (handed to the caller)
                    box["error"] = exc

            worker = threading.Thread(target=work, name="reta-image-render", daemon=True)
            worker.start()
            while worker.is_alive():
                worker.join(0.1)
                if worker.is_alive() and not self._server_alive(kaleido):
                    self._stop(kaleido)
                    raise RetaInputError(
                        f"{chrome}: the browser stopped or did not start, so no image was made; "
                        "set RETA_CHROME to a working Chrome or Chromium")
            if "error" in box:
                raise box["error"]
            return box["value"]


_SERVER = _ImageServer()


def image_server_starts() -> int:
    """How many times this process has started the image browser (for diagnostics)."""
    return _SERVER.starts


def stop_image_server() -> None:
    """Stop the image browser now (it is also stopped at exit)."""
    _SERVER.stop()


# ----------------------------------------------------------------------- figures
def _check_format(fmt: str) -> str:
    fmt = str(fmt).lower().lstrip(".")
    if fmt not in FIGURE_FORMATS:
        raise RetaInputError(f"unknown figure format {fmt!r}; supported: {', '.join(FIGURE_FORMATS)}")
    return fmt


def figure_to_bytes(fig: go.Figure, fmt: str, *, width: int = 1100, height: int | None = DEFAULT_HEIGHT,
                    scale: float = 2) -> bytes:
    """``fig`` as html, png, svg or pdf bytes.

    html is a full page with plotly.js inline (opens offline).  Images are
    ``width x height`` CSS pixels times ``scale`` (``height=None``: the figure's own
    height, else 600), rendered by the browser :func:`find_chrome` names.
    Raises :class:`RetaInputError` for an unknown format, and for an image format when
    no browser is found (the message is :data:`CHROME_MISSING_HELP`).
    """
    fmt = _check_format(fmt)
    if fmt == "html":
        return fig.to_html(include_plotlyjs=True, full_html=True,
                           config={"displaylogo": False}).encode("utf-8")
    chrome = find_chrome()
    if chrome is None:
        raise RetaInputError(f"cannot export {fmt.upper()}: {CHROME_MISSING_HELP}")
    if height is None:
        height = fig.layout.height or DEFAULT_HEIGHT
    opts = {"format": fmt, "width": int(width), "height": int(height), "scale": scale}
    return _SERVER.render(chrome, fig.to_dict(), opts)


def _umask() -> int:
    """The process umask, read without changing it (``os.umask`` would, for a moment,
    for every thread); 0o022 where ``/proc`` does not say."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file next to ``path``, then rename it over ``path``.

    The file gets the permissions a plain ``open(path, "wb")`` would give it (mkstemp's
    temporary files are private to the owner).

    Only a new path or an existing regular file is written: a symbolic link, folder,
    FIFO, device or socket there is refused (RetaInputError), as is a write the system
    refuses (no permission, no space left): one line, and nothing half-written."""
    path = Path(path)
    if not path.parent.is_dir():
        raise RetaInputError(f"{path}: the folder {path.parent} does not exist")
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise RetaInputError(f"{path}: cannot write here: {exc.strerror or exc}") from exc
    if mode is not None and not stat.S_ISREG(mode):
        raise RetaInputError(f"{path}: {_kind(mode)}, not a regular file; give a new path or a "
                             "regular file to replace")
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise RetaInputError(f"{path}: cannot write: {exc.strerror or exc}; nothing was "
                             "written") from exc
    except BaseException:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISDIR, "a folder"),
                       (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a device"),
                       (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a file"


def write_figure(fig: go.Figure, path, *, width: int = 1100, height: int | None = None,
                 scale: float = 2) -> Path:
    """Write ``fig`` to ``path`` in the format of its extension (.html, .png, .svg,
    .pdf), atomically.  Images default to the figure's own height.  Returns the path."""
    path = Path(path)
    ext = path.suffix.lower().lstrip(".")
    if ext not in FIGURE_FORMATS:
        raise RetaInputError(f"{path}: unknown extension {path.suffix or '(none)'!r}; supported: "
                             + ", ".join(f".{f}" for f in FIGURE_FORMATS))
    write_atomic(path, figure_to_bytes(fig, ext, width=width, height=height, scale=scale))
    return path


# ----------------------------------------------------------------------- tables
def table_to_csv_bytes(df: pd.DataFrame) -> bytes:
    """A table as UTF-8 CSV bytes, without the index."""
    return df.to_csv(index=False).encode("utf-8")
