"""The framework versions the compat modules were checked with: a new Streamlit or
kaleido minor version fails here, loudly, until each internal they touch is checked
against it and the version is added."""
from __future__ import annotations

import re
from pathlib import Path

from pages.ui import compat as ui_compat
from reta_core import compat as core_compat

REPO = Path(__file__).resolve().parents[1]


def test_installed_streamlit_is_a_checked_version():
    assert ui_compat.is_tested_version(), (
        f"Streamlit {ui_compat.streamlit_version()} is not one pages/ui/compat.py was checked with "
        f"({', '.join(ui_compat.TESTED_STREAMLIT)}): check run_token, leave_pages_folder_mode and the "
        "test helpers against it, then add it to TESTED_STREAMLIT and requirements.txt")
    assert not ui_compat.is_tested_version("1.40.0") and ui_compat.is_tested_version(
        ui_compat.TESTED_STREAMLIT[0] + ".9")


def test_installed_kaleido_is_a_checked_version():
    assert core_compat.is_tested_kaleido(), (
        f"kaleido {core_compat.kaleido_version()} is not one reta_core/compat.py was checked with "
        f"({', '.join(core_compat.TESTED_KALEIDO)})")


def test_requirements_bound_the_frameworks_to_the_checked_minor_versions():
    text = (REPO / "requirements.txt").read_text()
    for name, versions in (("streamlit", ui_compat.TESTED_STREAMLIT), ("kaleido", core_compat.TESTED_KALEIDO)):
        spec = re.search(rf"^{name}([^\n#]*)", text, re.M).group(1).replace(" ", "")
        low, high = min(versions), max(versions)
        major, minor = map(int, high.split("."))
        assert spec == f">={low},<{major}.{minor + 1}", f"requirements.txt: {name}{spec}"


def test_the_internals_still_work():
    """Each compat function runs against the installed versions (outside a script run:
    no run token, and the pages-folder flag is off after switching it off)."""
    assert ui_compat.run_token() is None
    ui_compat.leave_pages_folder_mode()
    assert ui_compat.leave_pages_folder_mode() is False
    import kaleido

    assert core_compat.kaleido_server_alive(kaleido) in (True, False)
