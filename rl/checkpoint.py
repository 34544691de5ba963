"""What goes next to every saved model: ``rankrl.json`` and the model card, in each ``checkpoint-N`` too.

``rankrl.json`` records how the checkpoint was trained (paradigm, template name/version/text, truncation,
rewards and weights, format gate, data source, base model, adapter or full weights) so ``rankrl eval`` never
has to be told. A ``TrainerCallback`` writes it on every save, so an interrupted run's checkpoints are
self-describing as well.
"""

from __future__ import annotations

import json
import re
import shutil
import struct
import zipfile
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

from rankrl.core.atomic import apply_umask
from rankrl.core.errors import ConfigError, RankrlError
from rankrl.core.metadata import read_metadata, write_metadata

# transformers is imported lazily (it costs seconds): a recipe typo must be reported before it loads.
PREFIX_CHECKPOINT_DIR = "checkpoint"
TRAINER_STATE = "trainer_state.json"
_CHECKPOINT_RE = re.compile(rf"^{PREFIX_CHECKPOINT_DIR}-(\d+)$")
# Model weights the Trainer saves into a checkpoint: plain, sharded (an index naming its shards), LoRA adapter,
# or a DeepSpeed ``global_step*`` folder. One of them must be present for a checkpoint to be resumable.
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "adapter_model.safetensors", "adapter_model.bin")
WEIGHT_INDEXES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")
# torch-pickled files the Trainer reads back on resume (training_args.bin is saved but never loaded).
_TORCH_SUFFIXES = (".pt", ".pth", ".bin")
_NOT_LOADED_ON_RESUME = ("training_args.bin",)


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


def _metadata_callback_class() -> type:
    from transformers import TrainerCallback

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
                apply_umask(folder)  # safetensors writes the weights 0600: readable as the umask says instead
            return control

    MetadataCallback.__module__ = __name__
    return MetadataCallback


def __getattr__(name: str) -> Any:
    """``MetadataCallback`` subclasses transformers' ``TrainerCallback``: built on first use (PEP 562), so importing
    this module stays cheap."""
    if name == "MetadataCallback":
        cls = _metadata_callback_class()
        globals()[name] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ----------------------------------------------------------------------------------------------- which checkpoint


def _step(folder: Path) -> int | None:
    match = _CHECKPOINT_RE.match(folder.name)
    return int(match.group(1)) if match and folder.is_dir() else None


def missing_parts(folder: str | Path) -> list[str]:
    """What a ``checkpoint-N`` folder lacks to be resumed from ([] when complete).

    The Trainer writes a checkpoint in place: weights, then optimizer/scheduler/RNG, then ``trainer_state.json``
    last. A folder without a readable ``trainer_state.json`` or without its weights is what ``kill -9`` during a
    save leaves behind.
    """
    folder = Path(folder)
    missing = []
    state = folder / TRAINER_STATE
    if not state.is_file():
        missing.append(TRAINER_STATE)
    else:
        try:
            json.loads(state.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            missing.append(f"{TRAINER_STATE} (cut short)")
    if not _has_weights(folder):
        missing.append("model weights (" + ", ".join(WEIGHT_FILES + WEIGHT_INDEXES[:1]) + " or a DeepSpeed global_step*)")
    return missing


def _has_weights(folder: Path) -> bool:
    if any((folder / name).is_file() for name in WEIGHT_FILES):
        return True
    for name in WEIGHT_INDEXES:
        index = folder / name
        if index.is_file():
            try:
                shards = set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values())
            except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError):
                return False
            return bool(shards) and all((folder / shard).is_file() for shard in shards)
    return any(p.is_dir() for p in folder.glob("global_step*"))


def checkpoint_folders(output_dir: str | Path) -> list[Path]:
    """Every ``checkpoint-N`` folder in ``output_dir``, newest (highest N) first."""
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        return []
    found = [(step, p) for p in output_dir.iterdir() if (step := _step(p)) is not None]
    return [p for _, p in sorted(found, key=lambda item: item[0], reverse=True)]


def _warn(message: str) -> None:
    import sys

    print(f"rankrl: warning: {message}", file=sys.stderr, flush=True)


def last_complete_checkpoint(output_dir: str | Path, warn: Any = _warn) -> str | None:
    """The highest-step complete ``checkpoint-N`` in ``output_dir``; incomplete newer ones are skipped with a
    warning naming them (transformers' ``get_last_checkpoint`` would pick a half-written folder)."""
    skipped = []
    for folder in checkpoint_folders(output_dir):
        missing = missing_parts(folder)
        if not missing:
            if skipped:
                warn(f"skipping incomplete checkpoint(s) {'; '.join(skipped)} (a save cut short, e.g. by kill -9); "
                     f"resuming from {folder}")
            return str(folder)
        skipped.append(f"{folder} (missing {', '.join(missing)})")
    if skipped:
        warn(f"no complete checkpoint in {output_dir}: skipping {'; '.join(skipped)}; training starts from step 0")
    return None


def resume_checkpoint(output_dir: str, explicit: str | None, paradigm_name: str, warn: Any = _warn) -> str | None:
    """The checkpoint to resume from: ``explicit`` if given, else the last complete ``checkpoint-N`` in
    ``output_dir``; its files are checked (``check_checkpoint_files``) before any model is loaded.

    A checkpoint trained for another paradigm is refused (resuming it would silently mix two tasks).
    """
    if explicit is None:
        # Any checkpoint of another paradigm (complete or not) means output_dir holds another run.
        for folder in checkpoint_folders(output_dir):
            _check_paradigm(folder, paradigm_name)
        checkpoint = last_complete_checkpoint(output_dir, warn)
        if checkpoint is None:
            return None
    else:
        checkpoint = explicit
        if not Path(checkpoint).is_dir():
            raise ConfigError(f"resume_from_checkpoint {checkpoint} is not a folder")
        missing = missing_parts(checkpoint)
        if missing:
            raise ConfigError(f"resume_from_checkpoint {checkpoint} is incomplete (missing {', '.join(missing)}): "
                              "pass an earlier checkpoint")
        _check_paradigm(checkpoint, paradigm_name)
    check_checkpoint_files(checkpoint)
    return checkpoint


def _check_paradigm(checkpoint: str | Path, paradigm_name: str) -> None:
    meta = read_metadata(checkpoint)
    if meta is not None and meta.get("paradigm") != paradigm_name:
        raise ConfigError(
            f"{checkpoint} was trained for paradigm {meta.get('paradigm')!r}, not {paradigm_name!r}: use another "
            "output_dir to start a new run"
        )


# ----------------------------------------------------------------------------------------------- damaged files


def damaged_checkpoint(checkpoint: str | Path, file: str | Path | None, reason: str) -> RankrlError:
    """The error for a checkpoint that cannot be loaded, with what to do about it."""
    what = f"{file}" if file is not None else f"a file in {checkpoint}"
    return RankrlError(
        f"cannot resume from {checkpoint}: {what} cannot be loaded ({reason}). A full disk or a kill during the "
        f"save leaves damaged files; a changed model or optimizer setting leaves files that do not fit. Delete the folder {checkpoint} to resume from the previous checkpoint, or "
        f"pass --resume_from_checkpoint with another checkpoint folder"
    )


def check_checkpoint_files(checkpoint: str | Path) -> None:
    """Cheap integrity checks of what resuming will load, before the model is: JSON parses, each safetensors
    file is as long as its header says, each torch file is a whole zip archive (its central directory sits at
    the end, so any truncation shows). Reads headers and directories only, never the tensors."""
    checkpoint = Path(checkpoint)
    files = [p for p in sorted(checkpoint.rglob("*")) if p.is_file()]
    for path in files:
        name = path.name
        if name.endswith(".json") and (name == TRAINER_STATE or name.endswith(".index.json")):
            try:
                json.loads(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, ValueError) as err:
                raise damaged_checkpoint(checkpoint, path, f"not valid JSON: {err}") from None
        elif name.endswith(".safetensors"):
            reason = _safetensors_problem(path)
            if reason:
                raise damaged_checkpoint(checkpoint, path, reason)
        elif name.endswith(_TORCH_SUFFIXES) and name not in _NOT_LOADED_ON_RESUME:
            reason = _torch_file_problem(path)
            if reason:
                raise damaged_checkpoint(checkpoint, path, reason)


def _safetensors_problem(path: Path) -> str | None:
    """Why ``path`` is not a whole safetensors file (8-byte header length, JSON header, then the data)."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            head = handle.read(8)
            if len(head) < 8:
                return f"{size} bytes, shorter than a safetensors header"
            (length,) = struct.unpack("<Q", head)
            if length > size - 8:
                return f"header of {length} bytes does not fit in {size} bytes: the file was cut short"
            header = json.loads(handle.read(length).decode("utf-8"))
    except OSError as err:
        return f"cannot read it: {err.strerror or err}"
    except (UnicodeDecodeError, ValueError) as err:
        return f"unreadable safetensors header: {err}"
    if not isinstance(header, dict):
        return "unreadable safetensors header"
    ends = [int(v["data_offsets"][1]) for k, v in header.items()
            if k != "__metadata__" and isinstance(v, dict) and len(v.get("data_offsets", ())) == 2]
    need = 8 + length + max(ends, default=0)
    if size < need:
        return f"{size} bytes where its header needs {need}: the file was cut short"
    return None


def _torch_file_problem(path: Path) -> str | None:
    """Why ``path`` cannot be a file ``torch.save`` wrote: torch's format is a zip archive whose central directory
    sits at the end, so a truncated file lacks it. Nothing is unpickled here (a file that is not a zip archive,
    e.g. a planted pickle, is refused unread)."""
    try:
        with open(path, "rb") as handle:
            magic = handle.read(4)
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                archive.infolist()
            return None
    except (OSError, zipfile.BadZipFile, ValueError, EOFError) as err:
        return f"broken zip archive: {err}"
    if magic == b"PK\x03\x04":
        return f"a zip archive cut short ({path.stat().st_size} bytes, no central directory at its end)"
    return "not the zip archive torch.save writes: damaged, or not written by the Trainer"


def _first_line(err: BaseException, limit: int = 300) -> str:
    text = str(err).strip()
    first = text.splitlines()[0] if text else type(err).__name__
    return first if len(first) <= limit else first[: limit - 1] + "…"


_LOADERS = {
    "_load_from_checkpoint": "the model weights",
    "_load_optimizer_and_scheduler": "optimizer.pt or scheduler.pt",
    "_load_scaler": "scaler.pt",
    "_load_rng_state": "rng_state*.pth",
}


def guard_checkpoint_loading(trainer: Any, checkpoint: str | None) -> None:
    """Turn a failure of the Trainer's own checkpoint loading (a file damaged inside, an optimizer state that does
    not fit the model) into a ``RankrlError`` naming the files and what to do, instead of a traceback. Only the
    loading methods are wrapped, on this instance: errors during training itself are untouched."""
    if not checkpoint:
        return
    for method_name, files in _LOADERS.items():
        method = getattr(trainer, method_name, None)
        if method is None:
            continue

        def guarded(*args: Any, _method: Any = method, _files: str = files, **kwargs: Any) -> Any:
            try:
                return _method(*args, **kwargs)
            except RankrlError:
                raise
            except Exception as err:
                raise damaged_checkpoint(checkpoint, f"{_files} in {checkpoint}",
                                         f"{type(err).__name__}: {_first_line(err)}") from err

        setattr(trainer, method_name, guarded)
