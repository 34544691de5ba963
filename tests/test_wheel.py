"""The wheel installs one top-level package, ``rankrl`` (the folders are ``rankrl.<folder>``): a user's own
``data/`` or ``eval/`` package can never be shadowed by, or shadow, rankrl's."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_wheel_holds_only_rankrl_and_its_dist_info(tmp_path):
    source = tmp_path / "src"  # a copy, so the build leaves nothing in the working tree
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".venv", ".git", "build", "*.egg-info", "outputs",
                                                              "__pycache__", ".pytest_cache", "runs", "rows"))
    out = tmp_path / "wheels"
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           str(source), "-w", str(out)], capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (wheel,) = out.glob("rankrl-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names}
    assert top == {"rankrl", f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.dist-info"}
    for package in ("core", "data", "eval", "prompts", "rewards", "rl"):
        assert f"rankrl/{package}/__init__.py" in names, package
    assert "rankrl/prompts/templates/setwise.json" in names  # package data travels with it
    assert not any(n.startswith("rankrl/__init__.py") for n in names)  # an implicit namespace package
