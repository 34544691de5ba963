"""Fixtures for the training tests: a warmed-up tiny model (built once) and a runner for ``rankrl train``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
RECIPES = REPO_ROOT / "rl" / "recipes"


@pytest.fixture(scope="session")
def warm_tiny_model(tmp_path_factory) -> Path:
    """The tiny model after the default format warm-up (all paradigms): completions end with EOS at varied
    lengths, as GRPO needs. About 20-40 s on a shared CPU; built once per session."""
    import torch

    torch.set_num_threads(1)
    from rankrl.rl.tiny_model import build_tiny_model

    folder = tmp_path_factory.mktemp("tiny-warm") / "model"
    build_tiny_model(folder, seed=0, warmup_steps=150, log=lambda *_: None)
    return folder


@pytest.fixture(scope="session")
def recipes_dir() -> Path:
    return RECIPES


@pytest.fixture(scope="session")
def tiny_args():
    """Builds the flags of a short CPU run of the tiny recipe: ``tiny_args(model, output_dir, *extra)``."""

    def make(model: Path, output_dir: Path, *extra: str) -> list[str]:
        if "--paradigm" in extra and "--template" not in extra:
            # tiny.yaml names the pointwise-binary template; another paradigm takes its own default template
            extra = (*extra, "--template", extra[extra.index("--paradigm") + 1])
        return [
            "--config", str(RECIPES / "tiny.yaml"),
            "--model_name_or_path", str(model),
            "--output_dir", str(output_dir),
            "--max_steps", "2",
            "--save_steps", "2",
            "--synthetic_queries", "8",
            # smoke-test sizes (the recipe itself is sized for the quickstart's 200 learning steps); later flags win
            "--num_generations", "4", "--per_device_train_batch_size", "8", "--max_completion_length", "48",
            "--logging_steps", "1", "--disable_tqdm", "true",
            *extra,
        ]

    return make


@pytest.fixture(scope="session")
def log_history():
    """``log_history(folder)``: the Trainer's logged records saved in a checkpoint folder."""

    def read(folder: Path) -> list[dict]:
        return json.loads((Path(folder) / "trainer_state.json").read_text())["log_history"]

    return read
