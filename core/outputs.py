"""Which existing output folders a rankrl command may replace.

``rankrl tiny-model`` and ``rankrl model get`` write whole model folders; a rerun with ``--overwrite`` replaces one,
but only when it is empty or was written by that same command (its marker file is there). A mistyped path (``.``, a
home folder, a real checkpoint) is never deleted. A file at the path is an error either way.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rankrl.core.errors import RankrlError


def check_replaceable(directory: Path, overwrite: bool, *, written_by_us: Callable[[Path], bool], command: str,
                      marker: str) -> None:
    """Raise unless ``directory`` is absent, empty, or (with ``overwrite``) written by ``command`` as
    ``written_by_us`` tells (it looks for ``marker``, named in the message)."""
    if not directory.exists():
        return
    if not directory.is_dir():
        raise RankrlError(f"{directory} is a file, not a folder: choose another output folder")
    if not any(directory.iterdir()):
        return
    if not overwrite:
        raise RankrlError(f"{directory}: folder exists and is not empty (pass --overwrite to replace it)")
    if not written_by_us(directory):
        raise RankrlError(f"refusing to replace {directory}: it is not empty and was not written by `{command}` (no "
                          f"{marker}); choose another folder or remove it yourself")
