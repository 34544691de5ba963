"""An advisory lock on an output folder: one writer at a time for ``rankrl eval --out`` and ``train``/``sft``
``output_dir``.

Two evaluations into one folder duplicated cache lines and moved each other's completions aside; two trainings
overwrote each other's checkpoints and doubled ``samples.jsonl``. The second writer now stops at once, with exit
code 2 and a message naming the holder::

    rankrl eval: error: OUT is in use by another rankrl process (PID 4242 on node7, `rankrl eval ...`, since
    2026-12-02T06:00:00Z); wait for it to finish, or write to another folder

The lock is ``flock(2)`` on ``OUT/.rankrl.lock``, a file holding the holder's PID, host, command and start time,
removed when the holder finishes. The kernel releases the lock when the holder exits in any way, ``kill -9``
included, so there is no stale lock to clean up (the file a killed holder leaves is reused by the next one). It is advisory: it stops rankrl processes, not other
programs. On NFS, Linux maps ``flock`` onto NFS byte-range locks, so it holds across nodes of a cluster with
NFSv4 (with NFSv3 only when the lock daemon runs).

Written by hand on purpose: ``filelock`` (already installed through Hugging Face) records no owner, and the
message must name the PID.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from rankrl.core.atomic import default_mode, storage_errors
from rankrl.core.errors import RankrlError

LOCK_FILE = ".rankrl.lock"


class FolderInUse(RankrlError):
    """Another process holds the folder's lock."""

    def __init__(self, folder: Path, holder: dict):
        self.folder, self.holder = folder, holder
        pid = holder.get("pid", "unknown")
        where = f" on {holder['host']}" if holder.get("host") else ""
        command = f", `{holder['command']}`" if holder.get("command") else ""
        since = f", since {holder['started']}" if holder.get("started") else ""
        super().__init__(f"{folder} is in use by another rankrl process (PID {pid}{where}{command}{since}); wait "
                         f"for it to finish, or write to another folder")


def _holder(path: Path) -> dict:
    """What the current holder wrote into the lock file ({} if it has not written yet or the file is damaged)."""
    for _ in range(20):  # the holder writes right after locking: give it a moment
        with contextlib.suppress(OSError, ValueError):
            text = path.read_text(encoding="utf-8")
            if text.strip():
                value = json.loads(text)
                if isinstance(value, dict):
                    return value
        time.sleep(0.05)
    return {}


@contextlib.contextmanager
def folder_lock(folder: str | Path, command: str | None = None) -> Iterator[Path]:
    """Hold the lock on ``folder`` (created if missing) for the duration of the block; ``FolderInUse`` (exit 2)
    when another process holds it. ``command``: how the holder is described to a second writer.

    The lock file is removed when the block ends (a killed holder leaves it; the next writer reuses it). A writer
    that locked a file the holder had just removed notices that the path now names another file, and retries."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_FILE
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    while True:
        fd = os.open(path, flags, default_mode())
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise FolderInUse(folder, _holder(path)) from None
        try:
            same = os.stat(path, follow_symlinks=False).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # locked a file its holder removed on release: lock the one now at the path
    try:
        record = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": command or " ".join(["rankrl", *sys.argv[1:]]),
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        with storage_errors(folder):  # a full disk: "cannot access OUT: No space left on device"
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(record) + "\n").encode("utf-8"), 0)
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)  # while still locked: no other writer can hold this file
        os.close(fd)  # closing the descriptor releases the lock
