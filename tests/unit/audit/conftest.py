"""Every audit test starts with the engine's text caches empty, as a fresh container does, so a
test exercises the scanning it names and not a template another test left behind."""

from __future__ import annotations

import pytest
from sheetbrain.engine import copies, regions


@pytest.fixture(autouse=True)
def _empty_caches() -> None:
    copies._TEMPLATES.clear()
    regions._STRUCTURES.clear()
