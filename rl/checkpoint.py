"""What goes next to every saved model: ``rankrl.json`` and the model card, in each ``checkpoint-N`` too.

``rankrl.json`` records how the checkpoint was trained (paradigm, template name/version/text, truncation,
rewards and weights, format gate, data source, base model, adapter or full weights) so ``rankrl eval`` never
has to be told. A ``TrainerCallback`` writes it on every save, so an interrupted run's checkpoints are
self-describing as well.
"""

from __future__ import annotations

import shutil
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

from transformers import TrainerCallback
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, get_last_checkpoint

from data.errors import ConfigError
from rl.metadata import read_metadata, write_metadata


def _version(package: str) -> str | None:
    try:
        return importlib_metadata.version(package)
    except importlib_metadata.PackageNotFoundError:
        return None


def training_metadata(
    paradigm: Any, script: Any, args: Any, model_args: Any, reward_specs: list[dict], rows_info: dict
) -> dict[str, Any]:
    """The ``rankrl.json`` content (without the step, added per checkpoint)."""
    return {
        **paradigm.metadata(),
        "rewards": [dict(spec) for spec in reward_specs],
        "format_gate": script.format_gate,
        "data": rows_info,
        "base_model": model_args.model_name_or_path,
        "adapter": bool(model_args.use_peft),
        "lora": (
            {"r": model_args.lora_r, "alpha": model_args.lora_alpha, "dropout": model_args.lora_dropout,
             "target_modules": model_args.lora_target_modules}
            if model_args.use_peft else None
        ),
        "training": {
            "trainer": "GRPO",
            "num_generations": args.num_generations,
            "max_completion_length": args.max_completion_length,
            "learning_rate": args.learning_rate,
            "loss_type": args.loss_type,
            "beta": args.beta,
            "scale_rewards": args.scale_rewards,
            "temperature": args.temperature,
            "zero_variance": script.zero_variance,
            "use_vllm": args.use_vllm,
        },
        "versions": {p: _version(p) for p in ("rankrl", "trl", "transformers", "torch", "peft")},
    }


class MetadataCallback(TrainerCallback):
    """Writes ``rankrl.json`` (with the step) and copies the model card into every checkpoint folder."""

    def __init__(self, meta: dict[str, Any]):
        self.meta = meta

    def on_save(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return control
        folder = Path(args.output_dir) / f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}"
        if folder.is_dir():
            write_metadata(folder, {**self.meta, "step": state.global_step})
            card = Path(args.output_dir) / "README.md"
            if card.is_file() and not (folder / "README.md").exists():
                shutil.copyfile(card, folder / "README.md")
        return control


def resume_checkpoint(output_dir: str, explicit: str | None, paradigm_name: str) -> str | None:
    """The checkpoint to resume from: ``explicit`` if given, else the last ``checkpoint-N`` in ``output_dir``.

    A checkpoint trained for another paradigm is refused (resuming it would silently mix two tasks).
    """
    checkpoint = explicit
    if checkpoint is None and Path(output_dir).is_dir():
        checkpoint = get_last_checkpoint(output_dir)
    if checkpoint is None:
        return None
    if not Path(checkpoint).is_dir():
        raise ConfigError(f"resume_from_checkpoint {checkpoint} is not a folder")
    meta = read_metadata(checkpoint)
    if meta is not None and meta.get("paradigm") != paradigm_name:
        raise ConfigError(
            f"{checkpoint} was trained for paradigm {meta.get('paradigm')!r}, not {paradigm_name!r}: use another "
            "output_dir to start a new run"
        )
    return checkpoint
