"""Second probing pass, output folders: a folder that appears under ``rankrl tiny-model`` (item 4), weights written
owner-only (item 5), a full disk (item 9), staging debris of a killed run (item 13) and two writers into one
folder (item 7).

The full-disk cases run twice where possible: on a real full file system (a small tmpfs, mounted when this test
runs as root; skipped otherwise) and by injecting the error a full disk gives at the write call (always).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from reliability_support import assert_clean_error, run_cli, write_local_benchmark

from rankrl.core.atomic import STAGING_OWNER, atomic_write_text, storage_errors
from rankrl.core.errors import RankrlError
from rankrl.rl import tiny_model as tm

ENOSPC_TEXT = "No space left on device"


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


@pytest.fixture
def full_disk(tmp_path) -> Path:
    """A 1 MiB tmpfs at ``tmp_path/disk``, filled up (root only; skipped elsewhere)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True,
                          check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        with contextlib.suppress(OSError), open(mount / "filler", "wb") as handle:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# =========================================================================================== item 4


def test_tiny_model_never_replaces_a_folder_created_during_its_run(tmp_path, monkeypatch):
    """The probe: a folder created at the destination while tiny-model built was replaced (exit 0, file gone)."""
    target = tmp_path / "tm"
    real_build = tm.build_model

    def build_and_meanwhile_someone_writes(*args, **kwargs):
        target.mkdir()
        (target / "notes.txt").write_text("mine")
        return real_build(*args, **kwargs)

    monkeypatch.setattr(tm, "build_model", build_and_meanwhile_someone_writes)
    for overwrite in (False, True):
        with pytest.raises(RankrlError, match="was created by someone else while `rankrl tiny-model` was building"):
            tm.build_tiny_model(target, warmup_steps=0, overwrite=overwrite, log=lambda _m: None)
        assert (target / "notes.txt").read_text() == "mine"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["tm"], "staging or trash folders left behind"
        shutil.rmtree(target)


def test_tiny_model_puts_back_a_foreign_folder_swapped_in_after_the_check(tmp_path, monkeypatch):
    target = tmp_path / "tm"
    tm.build_tiny_model(target, warmup_steps=0, log=lambda _m: None)
    real_check = tm.check_replaceable

    def check_then_swap(directory, overwrite):
        real_check(directory, overwrite)
        if directory == target and (target / tm.INFO_FILE).is_file() and not (tmp_path / "swapped").exists():
            (tmp_path / "swapped").mkdir()
            shutil.rmtree(target)
            target.mkdir()
            (target / "notes.txt").write_text("mine")

    monkeypatch.setattr(tm, "check_replaceable", check_then_swap)
    with pytest.raises(RankrlError, match="created by someone else"):
        tm.build_tiny_model(target, warmup_steps=0, overwrite=True, log=lambda _m: None)
    assert (target / "notes.txt").read_text() == "mine"


def test_tiny_model_overwrite_still_replaces_its_own_folder(tmp_path):
    target = tmp_path / "tm"
    tm.build_tiny_model(target, warmup_steps=0, seed=0, log=lambda _m: None)
    tm.build_tiny_model(target, warmup_steps=0, seed=1, overwrite=True, log=lambda _m: None)
    assert '"seed": 1' in (target / tm.INFO_FILE).read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tm"]


# =========================================================================================== item 5


def test_tiny_model_files_get_the_umask_mode(tmp_path, umask_022):
    target = tmp_path / "tm"
    tm.build_tiny_model(target, warmup_steps=0, log=lambda _m: None)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in target.iterdir()}
    assert modes["model.safetensors"] == 0o644, modes  # safetensors alone writes 0600
    assert set(modes.values()) == {0o644}, modes
    assert stat.S_IMODE(target.stat().st_mode) == 0o755
    assert STAGING_OWNER not in modes


def test_apply_umask_widens_private_files_only_to_the_umask(tmp_path, umask_022):
    from rankrl.core.atomic import apply_umask

    (tmp_path / "sub").mkdir(mode=0o700)
    (tmp_path / "sub" / "w.safetensors").write_bytes(b"x")
    (tmp_path / "sub" / "w.safetensors").chmod(0o600)
    (tmp_path / "link").symlink_to("/etc/hostname")
    apply_umask(tmp_path)
    assert stat.S_IMODE((tmp_path / "sub").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "sub" / "w.safetensors").stat().st_mode) == 0o644
    os.umask(0o077)
    apply_umask(tmp_path)
    assert stat.S_IMODE((tmp_path / "sub" / "w.safetensors").stat().st_mode) == 0o600


# =========================================================================================== item 9


def test_full_disk_while_saving_tiny_model_is_reported_with_the_path(tmp_path, monkeypatch):
    """safetensors' error on a full disk (its own exception type, no errno) becomes an OSError naming the folder."""
    class FullDiskModel:
        def __init__(self, model):
            self._model = model

        def __getattr__(self, name):
            return getattr(self._model, name)

        def save_pretrained(self, folder, **_kw):
            raise RuntimeError("Error while serializing: I/O error: No space left on device (os error 28)")

    real_build = tm.build_model
    monkeypatch.setattr(tm, "build_model", lambda *a, **k: FullDiskModel(real_build(*a, **k)))
    target = tmp_path / "tm"
    with pytest.raises(OSError) as info:
        tm.build_tiny_model(target, warmup_steps=0, log=lambda _m: None)
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(target)
    assert list(tmp_path.iterdir()) == []  # staging removed


def test_full_disk_during_an_atomic_write_names_the_file(tmp_path, monkeypatch):
    from rankrl.core import atomic

    def no_space(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(atomic.os, "fsync", no_space)
    with pytest.raises(OSError) as info:
        atomic_write_text(tmp_path / "run.trec", "x")
    assert info.value.filename == str(tmp_path / "run.trec") and info.value.errno == errno.ENOSPC
    assert list(tmp_path.iterdir()) == []


def test_storage_errors_leaves_other_errors_alone(tmp_path):
    with pytest.raises(ValueError, match="unrelated"), storage_errors(tmp_path):
        raise ValueError("unrelated")
    with pytest.raises(OSError) as info, storage_errors(tmp_path / "x"):
        raise OSError(errno.EACCES, "Permission denied")
    assert info.value.filename is None  # not a storage failure: not re-labelled


def test_cli_reports_a_full_disk_in_tiny_model(full_disk, rankrl):
    result = rankrl.run(["tiny-model", full_disk / "tm", "--warmup-steps", "0"], cwd=full_disk.parent, timeout=300)
    assert_clean_error(result, f"cannot access {full_disk / 'tm'}: {ENOSPC_TEXT}")
    assert sorted(p.name for p in full_disk.iterdir()) == ["filler"]


def test_cli_reports_a_full_disk_in_data_build(full_disk, rankrl, tmp_path):
    bench = write_local_benchmark(tmp_path / "bench")
    result = rankrl.run(["data", "build", "--data-source", f"benchmark:local:{bench}", "--paradigm", "setwise",
                         "--group-size", "4", "--out", full_disk / "rows", "--no-progress"], cwd=tmp_path, timeout=300)
    assert_clean_error(result, f"cannot access {full_disk / 'rows'}: {ENOSPC_TEXT}")
    assert sorted(p.name for p in full_disk.iterdir()) == ["filler"]


@pytest.mark.slow
def test_cli_reports_a_full_disk_in_eval(full_disk, rankrl, tiny_model, tmp_path):
    bench = write_local_benchmark(tmp_path / "bench")
    out = full_disk / "eval"
    result = rankrl.run(["eval", "--model", tiny_model, "--benchmark", f"local:{bench}", "--out", out, "--top-k", "6",
                         "--max-new-tokens", "8", "--device", "cpu", "--no-progress"], cwd=tmp_path, timeout=600)
    assert_clean_error(result, f"cannot access {out}", ENOSPC_TEXT)


@pytest.mark.slow
def test_cli_reports_a_full_disk_in_train(full_disk, tiny_model, tmp_path):
    from reliability_support import train_args

    out = full_disk / "train"
    args = [*train_args(tiny_model, out)]
    args[args.index("--max_steps") + 1] = "1"
    result = run_cli(args, cwd=tmp_path, timeout=600)
    assert_clean_error(result, f"cannot access {out}", ENOSPC_TEXT)


# =========================================================================================== item 13: staging debris


def test_tiny_model_rerun_removes_staging_left_by_a_killed_run(tmp_path):
    dead = tmp_path / ".tm.dead1234"
    dead.mkdir()
    (dead / "model.safetensors").write_bytes(b"half")
    (dead / STAGING_OWNER).write_text(f"{_dead_pid()} {os.uname().nodename}\n")
    live = tmp_path / ".tm.live5678"
    live.mkdir()
    (live / STAGING_OWNER).write_text(f"{os.getppid()} {os.uname().nodename}\n")  # a running process
    other = tmp_path / ".tm.mine.old"  # not a staging folder of this name pattern
    other.mkdir()
    said = []
    tm.build_tiny_model(tmp_path / "tm", warmup_steps=0, log=said.append)
    assert not dead.exists() and live.is_dir() and other.is_dir()
    assert any(f"removed {dead}" in line for line in said), said


def test_data_build_rerun_removes_staging_left_by_a_killed_build(rankrl, tmp_path):
    bench = write_local_benchmark(tmp_path / "bench")
    dead = tmp_path / ".rows.k1ll3d00.tmp"
    dead.mkdir()
    (dead / "data-00000-of-00001.arrow").write_bytes(b"half")
    (dead / STAGING_OWNER).write_text(f"{_dead_pid()} {os.uname().nodename}\n")
    result = rankrl.run(["data", "build", "--data-source", f"benchmark:local:{bench}", "--paradigm", "setwise",
                         "--group-size", "4", "--out", tmp_path / "rows", "--no-progress"], cwd=tmp_path, timeout=300)
    assert result.returncode == 0, str(result)
    assert not dead.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bench", "rows"]
    assert STAGING_OWNER not in {p.name for p in (tmp_path / "rows").iterdir()}


# =========================================================================================== item 7: one writer per folder


_HOLDER = ("import sys, time\nfrom rankrl.core.lock import folder_lock\n"
           "with folder_lock(sys.argv[1], 'rankrl eval --out X (holder)'):\n"
           "    print('locked', flush=True)\n    time.sleep(600)\n")


def test_second_writer_is_refused_naming_the_holder_and_a_killed_holder_frees_the_folder(tmp_path):
    import signal

    from rankrl.core.lock import LOCK_FILE, FolderInUse, folder_lock

    out = tmp_path / "out"
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(FolderInUse, match=rf"{out} is in use by another rankrl process \(PID {holder.pid} on "
                                              r".*`rankrl eval --out X \(holder\)`"), folder_lock(out):
            pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert (out / LOCK_FILE).exists()  # a killed holder leaves the file, not the lock
    with folder_lock(out, "second"):
        assert json_pid(out / LOCK_FILE) == os.getpid()
    assert not (out / LOCK_FILE).exists()  # removed by a holder that finishes


def json_pid(path: Path) -> int:
    import json

    return json.loads(path.read_text())["pid"]


@pytest.mark.slow
def test_second_eval_into_a_held_out_folder_exits_2(rankrl, tiny_model, tmp_path):
    from rankrl.core.lock import folder_lock

    bench = write_local_benchmark(tmp_path / "bench")
    out = tmp_path / "out"
    with folder_lock(out, "rankrl eval (the first run)"):
        result = rankrl.run(["eval", "--model", tiny_model, "--benchmark", f"local:{bench}", "--out", out,
                             "--top-k", "6", "--max-new-tokens", "8", "--device", "cpu", "--no-progress"],
                            cwd=tmp_path, timeout=600)
        assert sorted(p.name for p in out.iterdir()) == [".rankrl.lock"], "the second writer wrote into --out"
    assert_clean_error(result, f"{out} is in use by another rankrl process (PID {os.getpid()}",
                       "rankrl eval (the first run)")


# =========================================================================================== item 13: --num-proc workers


def _children(pid: int) -> set[int]:
    found = set()
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat_file.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="reads /proc (Linux)")
def test_data_build_workers_die_with_a_killed_main_process(tiny_model, tmp_path):
    """kill -9 of `rankrl data build --num-proc 2` (the main process only, as an OOM kill does) used to leave its
    workers running (~256 MB each); now the kernel kills them with it."""
    import signal
    import time

    from reliability_support import cli_command, cli_env

    bench = write_local_benchmark(tmp_path / "bench", qids=tuple(f"q{i}" for i in range(400)), ndocs=8)
    proc = subprocess.Popen(cli_command(["data", "build", "--data-source", f"benchmark:local:{bench}",
                                         "--paradigm", "setwise", "--group-size", "4", "--out", tmp_path / "rows",
                                         "--tokenizer", tiny_model, "--max-prompt-tokens", "200",
                                         "--num-proc", "2", "--no-progress"]),
                            cwd=tmp_path, env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: set[int] = set()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        workers = {c for c in _children(proc.pid) if "spawn_main" in Path(f"/proc/{c}/cmdline").read_text()
                   .replace("\0", " ")} if _alive(proc.pid) else set()
        if len(workers) >= 2:
            break
        time.sleep(0.1)
    assert len(workers) >= 2, f"no workers seen (exit {proc.poll()})"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.2)
    left = [w for w in workers if _alive(w)]
    for w in left:
        os.kill(w, signal.SIGKILL)
    assert left == [], "workers outlived the killed data build"
