"""Atomic file output: write to a temporary name in the same folder, then rename.

A killed process never leaves a half-written result under the final name. Files and folders made this way get
the ordinary permissions of the user's umask (``tempfile`` would make them private to the owner), so results on
a shared cluster stay readable by the people they are for.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from rankrl.core.errors import RankrlError


def _umask() -> int:
    """The process umask, read without changing it where Linux allows (``os.umask`` can only set it)."""
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def default_mode(directory: bool = False) -> int:
    """Permissions ``open()``/``mkdir()`` would give a new file or folder under the current umask."""
    return (0o777 if directory else 0o666) & ~_umask()


def _fsync_dir(directory: Path) -> None:
    """Make a rename in ``directory`` durable (power loss, not just a killed process); best effort."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def check_creatable(path: str | Path, what: str = "output") -> None:
    """Fail early, before any work, when ``path`` (a file or folder to be written later) cannot be created.

    Finds the nearest existing ancestor and creates and removes a probe folder in it; nothing stays behind.
    """
    path = Path(path)
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise RankrlError(f"{what} {path} cannot be created: {ancestor} is a file, not a folder")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".rankrl-probe-", dir=ancestor))
    except OSError as err:
        raise RankrlError(f"{what} {path} cannot be created in {ancestor}: {err.strerror or err}") from err


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Open a temporary sibling of ``path`` for writing; rename it to ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding) as handle:
            os.fchmod(handle.fileno(), default_mode())
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    with atomic_open(path, "w") as handle:
        handle.write(text)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_open(path, "wb") as handle:
        handle.write(data)
