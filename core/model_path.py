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
