"""Checkpoint metadata on every save, and which checkpoint a re-run resumes from."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from data.errors import ConfigError
from rl.checkpoint import MetadataCallback, resume_checkpoint
from rl.metadata import read_metadata, write_metadata


def _checkpoint(root, step, paradigm=None):
    folder = root / f"checkpoint-{step}"
    folder.mkdir(parents=True)
    (folder / "trainer_state.json").write_text("{}")
    if paradigm:
        write_metadata(folder, {"paradigm": paradigm})
    return folder


def test_resumes_from_the_highest_step(tmp_path):
    assert resume_checkpoint(str(tmp_path / "absent"), None, "setwise") is None
    assert resume_checkpoint(str(tmp_path), None, "setwise") is None
    _checkpoint(tmp_path, 2, "setwise")
    last = _checkpoint(tmp_path, 10, "setwise")
    assert resume_checkpoint(str(tmp_path), None, "setwise") == str(last)


def test_explicit_checkpoint_and_refusals(tmp_path):
    first = _checkpoint(tmp_path, 2)
    _checkpoint(tmp_path, 4, "listwise")
    assert resume_checkpoint(str(tmp_path), str(first), "setwise") == str(first)  # no rankrl.json: accepted
    with pytest.raises(ConfigError, match="is not a folder"):
        resume_checkpoint(str(tmp_path), str(tmp_path / "checkpoint-9"), "setwise")
    with pytest.raises(ConfigError, match="trained for paradigm 'listwise', not 'setwise'"):
        resume_checkpoint(str(tmp_path), None, "setwise")


def test_callback_writes_metadata_and_card_into_the_checkpoint(tmp_path):
    folder = _checkpoint(tmp_path, 3)
    (tmp_path / "README.md").write_text("card")
    callback = MetadataCallback({"paradigm": "groupwise", "rewards": [{"name": "format", "weight": 1.0}]})
    args = SimpleNamespace(output_dir=str(tmp_path))
    callback.on_save(args, SimpleNamespace(is_world_process_zero=False, global_step=3), None)
    assert read_metadata(folder) is None
    callback.on_save(args, SimpleNamespace(is_world_process_zero=True, global_step=3), None)
    meta = read_metadata(folder)
    assert meta["paradigm"] == "groupwise" and meta["step"] == 3 and meta["rewards"][0]["name"] == "format"
    assert (folder / "README.md").read_text() == "card"
