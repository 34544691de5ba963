"""Fixtures for the reliability battery (helpers live in ``reliability_support.py``, importable from here on)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests use importlib mode: make the helpers importable

from reliability_support import ForkServer, run_cli, train_args, write_local_benchmark


@pytest.fixture
def bench(tmp_path) -> Path:
    """A valid local benchmark in ``tmp_path/bench``."""
    return write_local_benchmark(tmp_path / "bench")


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A tiny model built by the real ``rankrl tiny-model`` (setwise warm-up, so GRPO sees varied rewards).

    150 warm-up steps on one thread take ~10-20 s; the warm-up is what gives completions that sometimes parse,
    which the resume test needs for non-zero gradients (a random model's rewards are all equal).
    """
    folder = tmp_path_factory.mktemp("reliability-tiny") / "model"
    result = run_cli(["tiny-model", folder, "--warmup-steps", "150", "--paradigm", "setwise", "--threads", "1",
                      "--seed", "0"], cwd=folder.parent, timeout=600)
    assert result.returncode == 0, str(result)
    assert (folder / "rankrl.json").is_file(), "tiny-model --paradigm setwise writes rankrl.json"
    return folder


@pytest.fixture(scope="session")
def uninterrupted(tiny_model, tmp_path_factory) -> Path:
    """A complete ``rankrl train`` run (tiny recipe, 4 steps, a checkpoint per step): the reference the resumed
    run is compared with, and the output folder the untrusted-data tests inspect."""
    root = tmp_path_factory.mktemp("train-reference")
    result = run_cli(train_args(tiny_model, root / "out"), cwd=root, timeout=600)
    assert result.returncode == 0, str(result)
    return root / "out"


@pytest.fixture(scope="session")
def rankrl(tmp_path_factory):
    """Runs ``rankrl`` commands as child processes of an interpreter that imported the stack once."""
    server = ForkServer(tmp_path_factory.mktemp("fork-server") / "server.log")
    yield server
    server.close()
