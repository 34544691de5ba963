"""Shared fixtures: the real benchmark slices in ../shared/data (skipped with a reason when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO_ROOT / ".." / "shared" / "data").resolve()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path to ../shared/data; skips the test when the folder is not beside the repository (a user's fresh clone)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real benchmark slices not found at {SHARED_DATA} (they sit beside the repo in CI only)")
    return SHARED_DATA
