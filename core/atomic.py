"""Atomic file output: write to a temporary name in the same folder, then rename.

A killed process never leaves a half-written result under the final name. Files and folders made this way get
the ordinary permissions of the user's umask (``tempfile`` would make them private to the owner), so results on
a shared cluster stay readable by the people they are for.
"""

from __future__ import annotations

import contextlib
import errno
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


# errno values that mean "the file system cannot take this write", whatever path the library was writing
_STORAGE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS}
# How libraries that do not raise OSError word a full disk: safetensors' Rust writer ("No space left on device
# (os error 28)"), torch.save's zip writer ("PytorchStreamWriter failed writing file ...: file write failed").
_STORAGE_WORDS = ("no space left on device", "os error 28", "storagefull", "disk quota exceeded")
_WRITE_FAILED_WORDS = ("file write failed", "failed writing file", "unexpected pos")


def _free_bytes(path: Path) -> int | None:
    ancestor = path
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    try:
        st = os.statvfs(ancestor)
    except OSError:
        return None
    return st.f_bavail * st.f_frsize


def storage_errno(err: BaseException, path: str | Path) -> int | None:
    """The errno of a failed write when it is the file system's fault (full disk, quota, read-only), else None.

    safetensors raises its own ``SafetensorError`` and torch.save a ``RuntimeError`` whose text alone says the
    write failed; for those the free space of ``path``'s file system decides (under 1 MiB free: a full disk)."""
    if isinstance(err, OSError) and err.errno in _STORAGE_ERRNOS:
        return err.errno
    text = str(err).lower()
    if any(word in text for word in _STORAGE_WORDS):
        return errno.ENOSPC
    if any(word in text for word in _WRITE_FAILED_WORDS):
        free = _free_bytes(Path(path))
        if free is not None and free < 1 << 20:
            return errno.ENOSPC
    return None


@contextlib.contextmanager
def storage_errors(path: str | Path) -> Iterator[None]:
    """Re-raise a full disk (or quota, or read-only file system) met while writing under ``path`` as an ``OSError``
    naming ``path``: the ``rankrl`` dispatcher turns that into ``cannot access PATH: No space left on device`` and
    exit code 2. pyarrow, safetensors and torch report it without a file name or as their own exception types;
    any other error passes through unchanged."""
    try:
        yield
    except OSError as err:
        code = storage_errno(err, path)
        if code is None or err.filename is not None:
            raise
        raise OSError(code, os.strerror(code), str(path)) from err
    except Exception as err:
        code = storage_errno(err, path)
        if code is None:
            raise
        raise OSError(code, os.strerror(code), str(path)) from err


def apply_umask(folder: str | Path, recursive: bool = True) -> None:
    """Give every file and folder under ``folder`` the permissions the umask gives a new one.

    safetensors writes ``model.safetensors`` owner-only (0600) and ``tempfile`` folders are 0700 whatever the
    umask; on a shared cluster a model others cannot read is a failed hand-over. Links are left alone."""
    folder = Path(folder)
    file_mode, dir_mode = default_mode(), default_mode(directory=True)
    entries = folder.rglob("*") if recursive else folder.iterdir()
    for path in entries:
        with contextlib.suppress(FileNotFoundError):
            st = path.lstat()
            if path.is_symlink():
                continue
            want = dir_mode if path.is_dir() else file_mode
            if (st.st_mode & 0o777) != want:
                os.chmod(path, want)


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Open a temporary sibling of ``path`` for writing; rename it to ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with storage_errors(path):  # a full disk: "cannot access PATH: No space left on device"
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


# ----------------------------------------------------------------------------------------------- staging folders

STAGING_OWNER = ".rankrl-staging-owner"
"""Inside a staging folder while it is being written: ``PID HOST``. Removed before the folder is renamed into place."""
_UNOWNED_STALE_SECONDS = 3600


def make_staging(parent: str | Path, name: str, suffix: str = "") -> Path:
    """A new staging folder ``parent/.NAME.XXXX{suffix}`` with the umask's mode, marked with this process's PID so a
    later run can tell debris of a killed run (``clean_stale_staging``) from a folder another run is writing."""
    import socket

    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    with storage_errors(parent / name):
        staging = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=suffix, dir=parent))
        try:
            staging.chmod(default_mode(directory=True))  # mkdtemp makes it private; this is an ordinary output
            (staging / STAGING_OWNER).write_text(f"{os.getpid()} {socket.gethostname()}\n", encoding="utf-8")
        except BaseException:
            import shutil

            shutil.rmtree(staging, ignore_errors=True)
            raise
    return staging


def release_staging(staging: str | Path) -> None:
    """Drop the owner mark: the folder is complete and about to be renamed into place."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(Path(staging) / STAGING_OWNER)


def _owner_alive(folder: Path) -> bool:
    """Whether the process that made staging folder ``folder`` may still be writing it."""
    import socket

    try:
        pid_text, host = (folder / STAGING_OWNER).read_text(encoding="utf-8").split()[:2]
        pid = int(pid_text)
    except FileNotFoundError:  # not marked (an older rankrl, or a kill right after mkdtemp): judge by age
        try:
            return time_since_modified(folder) < _UNOWNED_STALE_SECONDS
        except OSError:
            return False
    except (OSError, ValueError):
        return True  # unreadable mark: leave it alone
    if host != socket.gethostname():
        return True  # another node's process: cannot tell, keep it
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def time_since_modified(path: Path) -> float:
    import time

    return time.time() - path.stat().st_mtime


def clean_stale_staging(parent: str | Path, name: str, suffixes: tuple[str, ...] = ("",)) -> list[Path]:
    """Remove staging folders ``parent/.NAME.*{suffix}`` left by a killed run (their owner process is gone); a
    folder another live process is writing, or one made on another host, is kept. Returns what was removed."""
    import shutil

    parent = Path(parent)
    if not parent.is_dir():
        return []
    removed = []
    for folder in sorted(parent.glob(f".{glob_escape(name)}.*")):
        if not folder.is_dir() or folder.is_symlink() or not any(folder.name.endswith(s) for s in suffixes):
            continue
        if suffixes == ("",) and "." in folder.name[len(name) + 2:]:
            continue  # .NAME.XXXX.old and the like belong to other suffixes
        if _owner_alive(folder):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def glob_escape(text: str) -> str:
    import glob

    return glob.escape(text)
