"""``train(config)`` and ``sft(config)``: the library under ``rankrl train`` and ``rankrl sft``.

A training configuration is the triple the commands build — rankrl's ``ScriptArguments`` (or
``SFTScriptArguments``), TRL's ``GRPOConfig`` (``SFTConfig``) and TRL's ``ModelConfig`` — plus the recipe it was
read from. ``TrainConfig.from_recipe(path, overrides)`` builds it as the command line does, with the same parser
(recipe < overrides; a misspelt key is an error naming it; no flags are built), or construct the three
dataclasses yourself. ``train``/``sft`` return a ``TrainResult``: the output folder, the final step, the
``rankrl.json`` metadata and the trainer's log history.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rankrl.core.errors import ConfigError


@dataclass
class TrainConfig:
    """``rankrl train``'s configuration: ``script`` (``rl.config.ScriptArguments``: data source, groups, prompts,
    rewards), ``args`` (``trl.GRPOConfig``), ``model`` (``trl.ModelConfig``) and the recipe they came from."""

    script: Any
    args: Any
    model: Any
    recipe: Any = None

    @classmethod
    def from_recipe(cls, recipe: str | Path | None = None, overrides: Mapping[str, Any] | None = None,
                    *, num_processes: int | None = None) -> TrainConfig:
        """Recipe YAML + ``overrides`` (field -> value, as flags would set them), parsed by the same code as
        ``rankrl train``. ``num_processes``: check the batch layout for that many processes (check only)."""
        from rankrl.rl.config import parse_args

        return cls(*parse_args([], recipe_path=recipe, overrides=overrides, num_processes=num_processes))


@dataclass
class SFTRunConfig:
    """``rankrl sft``'s configuration: ``rl.sft.SFTScriptArguments``, ``trl.SFTConfig``, ``trl.ModelConfig``."""

    script: Any
    args: Any
    model: Any
    recipe: Any = None

    @classmethod
    def from_recipe(cls, recipe: str | Path | None = None,
                    overrides: Mapping[str, Any] | None = None) -> SFTRunConfig:
        from rankrl.rl.config import parse_args
        from rankrl.rl.sft import SFTScriptArguments

        return cls(*parse_args([], script_type=SFTScriptArguments, config_type="SFTConfig", prog="rankrl sft",
                               recipe_path=recipe, overrides=overrides))


@dataclass
class TrainResult:
    """What a training run produced."""

    output_dir: Path
    step: int | None
    """The final global step (None for a dry run)."""
    paradigm: str
    rows: int
    """Training rows (GRPO) or traces (SFT) used."""
    rewards: list[dict[str, Any]] = field(default_factory=list)
    """The reward specs with their weights (GRPO)."""
    dry_run: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)
    """What ``rankrl.json`` in ``output_dir`` holds."""
    log_history: list[dict[str, Any]] = field(default_factory=list)
    """The trainer's log entries (loss, rewards per step, ...)."""

    def finish(self, meta: dict[str, Any], trainer: Any = None) -> TrainResult:
        """Fill in the step, metadata and log history from the trainer (or, for a run already finished, from
        ``output_dir``)."""
        from rankrl.core.metadata import read_metadata

        saved = read_metadata(self.output_dir) if self.output_dir.is_dir() else None
        self.metadata = dict(saved or meta)
        if trainer is not None:
            self.step = int(trainer.state.global_step)
            self.log_history = [dict(h) for h in trainer.state.log_history]
        else:
            self.step = self.metadata.get("step")
            self.log_history = _log_history(self.output_dir)
        return self


def _log_history(output_dir: Path) -> list[dict[str, Any]]:
    """The log history of the newest ``trainer_state.json`` in ``output_dir`` (or its checkpoints)."""
    candidates = [output_dir / "trainer_state.json"] + sorted(
        output_dir.glob("checkpoint-*/trainer_state.json"), key=lambda p: int(p.parent.name.split("-")[-1]))
    for path in reversed(candidates):
        if path.is_file():
            state = json.loads(path.read_text(encoding="utf-8"))
            return [h for h in state.get("log_history", []) if isinstance(h, dict)]
    return []


def train(config: TrainConfig) -> TrainResult:
    """GRPO training (see ``rankrl train``): checks, rows, rewards, ``GRPOTrainer``, save; resumes an interrupted
    run in ``output_dir``."""
    import importlib

    if not isinstance(config, TrainConfig):
        raise ConfigError(f"train needs a TrainConfig, got {type(config).__name__} (TrainConfig.from_recipe(...))")
    return importlib.import_module("rankrl.rl.train").run(config)


def sft(config: SFTRunConfig) -> TrainResult:
    """Supervised fine-tuning on reasoning traces (see ``rankrl sft``)."""
    import importlib

    if not isinstance(config, SFTRunConfig):
        raise ConfigError(f"sft needs an SFTRunConfig, got {type(config).__name__} (SFTRunConfig.from_recipe(...))")
    return importlib.import_module("rankrl.rl.sft").run(config)


__all__ = ["SFTRunConfig", "TrainConfig", "TrainResult", "sft", "train"]
