"""Model paths: tell a local folder that is missing from a Hugging Face Hub id before anything asks the Hub.

Shared by training and evaluation (both take ``--model``-like paths), so it lives in ``rankrl.core``.
"""

from __future__ import annotations

import os
from pathlib import Path

from rankrl.core.errors import RankrlError


def looks_like_local_path(value: str | Path) -> bool:
    """Whether ``value`` can only mean a local folder: absolute, starting with ``.`` or ``~``, ending with a
    separator, or not a valid Hugging Face Hub repository id (``name`` or ``org/name``: one slash at most, no
    ``..``). ``org/name`` itself stays ambiguous and is treated as a hub id."""
    text = str(value)
    if not text or text.startswith((".", "~")) or os.path.isabs(text) or text.endswith(("/", os.sep)):
        return True
    if os.altsep and os.altsep in text:
        return True
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(text)
    except HFValidationError:
        return True
    return False


def missing_local_model(value: str | Path) -> bool:
    """``value`` is meant as a local folder (``looks_like_local_path``) and there is nothing there: fail at once
    instead of asking the Hub (which retries for tens of seconds) or blaming a missing rankrl.json."""
    return not Path(str(value)).expanduser().exists() and looks_like_local_path(value)


def check_model_path(value: str | Path | None, flag: str = "--model") -> None:
    if value is not None and missing_local_model(value):
        raise RankrlError(f"model folder not found: {value} ({flag})")
    if value is not None:
        refuse_pickled_weights(value, flag)


SAFE_WEIGHTS = ("model.safetensors", "model.safetensors.index.json", "adapter_model.safetensors")
PICKLED_WEIGHTS = ("pytorch_model.bin", "pytorch_model.bin.index.json", "adapter_model.bin")


def refuse_pickled_weights(value: str | Path, flag: str = "--model") -> None:
    """A local model folder whose weights exist only as PyTorch pickles (``pytorch_model.bin``) is refused before
    anything loads it: unpickling can run code, and rankrl reads weights as safetensors only. (transformers
    would refuse a hostile pickle too, with ``weights_only=True``, but its message suggests ``weights_only=False``:
    the one thing not to do with a file from elsewhere.)"""
    folder = Path(str(value)).expanduser()
    if not folder.is_dir() or any((folder / name).is_file() for name in SAFE_WEIGHTS):
        return
    pickled = [name for name in PICKLED_WEIGHTS if (folder / name).is_file()]
    if pickled:
        raise RankrlError(
            f"{folder} ({flag}) holds its weights only as {', '.join(pickled)}: a Python pickle, which can run code "
            f"when loaded. rankrl loads safetensors weights only. If the folder comes from a source you trust, "
            f"convert it to model.safetensors where it was made (save_pretrained writes safetensors); otherwise do "
            f"not load it"
        )
