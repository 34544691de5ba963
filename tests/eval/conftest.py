"""Fixtures for the evaluation tests: DL19 from ../shared/data, a tiny model built with ``rankrl tiny-model``."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def dl19(shared_data):
    """The real DL19 benchmark (43 judged queries, BM25 top-100 with passage texts)."""
    from rankrl.data.benchmarks import load_benchmark

    return load_benchmark("trec-dl-2019", shared_data)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A random tiny Qwen3-style model with a chat template, built offline by ``rankrl tiny-model``.

    No warm-up (it takes a minute on a shared CPU), so it writes no rankrl.json and its completions rarely parse:
    what the evaluation tests need is real batched generation, token counts and the parse-failure fallbacks.
    """
    import torch

    torch.set_num_threads(1)
    from rankrl.core.cli import main

    folder = tmp_path_factory.mktemp("tiny") / "model"
    assert main(["tiny-model", str(folder), "--warmup-steps", "0", "--seed", "0"]) == 0
    assert (folder / "config.json").is_file()
    return folder


@pytest.fixture(scope="session")
def tiny_checkpoints(tiny_model, tmp_path_factory) -> dict[str, Path]:
    """One copy of the tiny model per paradigm, each with the rankrl.json a trained checkpoint carries."""
    from rankrl import prompts
    from rankrl.core.metadata import write_metadata

    base = tmp_path_factory.mktemp("checkpoints")
    out = {}
    for name in prompts.PARADIGMS:
        folder = base / name
        shutil.copytree(tiny_model, folder)
        write_metadata(folder, prompts.get_paradigm(name).metadata())
        out[name] = folder
    return out
