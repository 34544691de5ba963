"""benchmarks/data_build.py runs end to end at a small size: its three builds agree and it prints its table."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "data_build.py"


@pytest.mark.slow
def test_data_build_benchmark_runs_and_checks_the_builds_agree():
    done = subprocess.run([sys.executable, str(SCRIPT), "--queries", "60", "--negatives", "20"],
                          capture_output=True, text=True, check=False, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "60 setwise rows of 20 passages" in done.stdout and "the three datasets are equal" in done.stdout
    rows = [line for line in done.stdout.splitlines() if re.match(r"\| (streamed|listed)", line)]
    assert [r.split("|")[1].strip() for r in rows] == ["streamed", "listed", "streamed-2proc"]
    assert re.search(r"listed / streamed, memory above the fixed part: \d+\.\d\dx", done.stdout)
