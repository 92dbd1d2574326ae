"""The engine's one use of a third-party internal, for the versions it was checked with.

kaleido (chart export to PNG/SVG/PDF) has no public way to ask whether its sync
server's browser is still alive; :mod:`reta_core.export` needs that to avoid waiting
forever on a crashed browser.  ``tests/test_compat.py`` fails loudly when the installed
kaleido is not one of :data:`TESTED_KALEIDO`; ``requirements.txt`` bounds it to the same
minor versions.  (The dashboard's Streamlit internals are in ``pages/ui/compat.py``.)
"""
from __future__ import annotations

from importlib.metadata import version

TESTED_KALEIDO = ("1.5",)  # minor versions kaleido_server_alive was checked against


def kaleido_version() -> str:
    return version("kaleido")


def is_tested_kaleido(installed: str | None = None) -> bool:
    installed = kaleido_version() if installed is None else installed
    return ".".join(installed.split(".")[:2]) in TESTED_KALEIDO


def kaleido_server_alive(kaleido) -> bool:
    """Whether kaleido's sync server (started by ``kaleido.start_sync_server``) is running
    and its background thread alive."""
    server = kaleido._global_server  # noqa: SLF001 (no public liveness check)
    thread = getattr(server, "_thread", None)
    return server.is_running() and (thread is None or thread.is_alive())
