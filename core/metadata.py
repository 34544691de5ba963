"""``rankrl.json``: how a checkpoint was trained, so evaluation never has to be told.

Written next to every saved checkpoint (and the final model); read by ``rankrl eval``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rankrl.core.atomic import atomic_write_text
from rankrl.core.errors import RankrlError

METADATA_FILE = "rankrl.json"
SCHEMA_VERSION = 1


def write_metadata(directory: str | Path, meta: dict[str, Any]) -> Path:
    """Write ``rankrl.json`` atomically. ``meta`` holds at least ``paradigm`` and ``template`` ({name, version})."""
    path = Path(directory) / METADATA_FILE
    atomic_write_text(path, json.dumps({"schema": SCHEMA_VERSION, **meta}, indent=2, sort_keys=True) + "\n")
    return path


def read_metadata(directory: str | Path) -> dict[str, Any] | None:
    """Return the checkpoint's metadata, or None when the folder has no ``rankrl.json``."""
    path = Path(directory) / METADATA_FILE
    if not path.is_file():
        return None
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise RankrlError(f"{path}: not a readable rankrl.json ({err})") from err
    if not isinstance(meta, dict) or "paradigm" not in meta:
        raise RankrlError(f"{path}: rankrl.json has no 'paradigm' field")
    return meta
