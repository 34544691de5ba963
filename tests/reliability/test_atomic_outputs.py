"""Atomic outputs keep ordinary permissions, and an uncreatable output path is caught before any work."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from rankrl.core.atomic import atomic_write_text, check_creatable, default_mode
from rankrl.core.errors import RankrlError


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_atomic_files_get_the_umask_mode_not_tempfile_private(tmp_path, umask_022):
    target = tmp_path / "run.trec"
    atomic_write_text(target, "q1 Q0 d1 1 1.0 t\n")
    assert stat.S_IMODE(target.stat().st_mode) == 0o644  # mkstemp alone would leave 0600
    assert default_mode() == 0o644 and default_mode(directory=True) == 0o755


def test_rows_folder_gets_the_umask_mode(tmp_path, umask_022):
    import datasets

    from rankrl.data.rows import save_rows

    out = save_rows(datasets.Dataset.from_list([{"qid": "q1"}]), tmp_path / "rows", {"stats": {}})
    assert stat.S_IMODE(out.stat().st_mode) == 0o755  # mkdtemp alone would leave 0700
    assert [p.name for p in tmp_path.iterdir()] == ["rows"]


def test_check_creatable_accepts_new_nested_paths_without_creating_them(tmp_path):
    check_creatable(tmp_path / "a" / "b" / "out")
    assert list(tmp_path.iterdir()) == []  # the probe folder is gone, no parent was made


def test_check_creatable_rejects_a_file_ancestor(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(RankrlError, match="is a file"):
        check_creatable(tmp_path / "file" / "out", "--out")


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs /proc (Linux) for an uncreatable path")
def test_check_creatable_rejects_an_uncreatable_folder():
    with pytest.raises(RankrlError, match=r"--out /proc/rankrl-x/out cannot be created in /proc"):
        check_creatable("/proc/rankrl-x/out", "--out")


def test_overwrite_never_deletes_a_folder_rankrl_did_not_write(tmp_path):
    """`rankrl data build --out . --overwrite` (a typo) must not delete the user's files."""
    import datasets

    from rankrl.data.rows import save_rows

    precious = tmp_path / "thesis"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    with pytest.raises(RankrlError, match="refusing to replace"):
        save_rows(datasets.Dataset.from_list([{"qid": "q1"}]), precious, {}, overwrite=True)
    assert (precious / "thesis.tex").read_text() == "years of work"
    empty = tmp_path / "empty"
    empty.mkdir()
    save_rows(datasets.Dataset.from_list([{"qid": "q1"}]), empty, {}, overwrite=True)  # empty: fine
    save_rows(datasets.Dataset.from_list([{"qid": "q2"}]), empty, {}, overwrite=True)  # our own build: fine
    assert (empty / "build.json").is_file()
