"""Shared pytest settings: no test reaches the network."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_physionet_download(monkeypatch: pytest.MonkeyPatch) -> None:
    """`ehrlib data` tries to download the PhysioNet 2012 files when it cannot find them; in tests the
    download goes to a closed local port (refused at once, a warning only) unless a test sets its own URL."""
    monkeypatch.setenv("EHRLIB_PHYSIONET2012_URL", "http://127.0.0.1:9/")
