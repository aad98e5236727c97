"""Fixtures shared by the whole suite."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
REAL_DATA = SHARED / "data" / "real"


@pytest.fixture(scope="session")
def repo() -> Path:
    """The repository root (holds the Snakefile)."""
    return REPO


@pytest.fixture(scope="session")
def real_data() -> Path:
    """The real captures beside the repository; tests using them skip where they are absent."""
    if not REAL_DATA.is_dir():
        pytest.skip(f"real captures not found at {REAL_DATA} (they live beside the repository)")
    return REAL_DATA
