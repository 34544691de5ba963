"""Checkpoint metadata on every save, which checkpoint a re-run resumes from, and damaged checkpoint files."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from rankrl.core.errors import ConfigError, RankrlError
from rankrl.core.metadata import read_metadata, write_metadata
from rankrl.rl.checkpoint import (
    MetadataCallback,
    check_checkpoint_files,
    guard_checkpoint_loading,
    last_complete_checkpoint,
    missing_parts,
    resume_checkpoint,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
EMPTY_SAFETENSORS = (2).to_bytes(8, "little") + b"{}"  # a valid safetensors file holding no tensor


def _checkpoint(root, step, paradigm=None, weights=True, state=True):
    folder = root / f"checkpoint-{step}"
    folder.mkdir(parents=True)
    if state:
        (folder / "trainer_state.json").write_text("{}")
    if weights:
        (folder / "model.safetensors").write_bytes(EMPTY_SAFETENSORS)
    if paradigm:
        write_metadata(folder, {"paradigm": paradigm})
    return folder


def test_resumes_from_the_highest_step(tmp_path):
    assert resume_checkpoint(str(tmp_path / "absent"), None, "setwise") is None
    assert resume_checkpoint(str(tmp_path), None, "setwise") is None
    _checkpoint(tmp_path, 2, "setwise")
    last = _checkpoint(tmp_path, 10, "setwise")
    (tmp_path / "checkpoint-11").write_text("a file, not a checkpoint")
    (tmp_path / "checkpoint-x").mkdir()
    assert resume_checkpoint(str(tmp_path), None, "setwise") == str(last)


def test_explicit_checkpoint_and_refusals(tmp_path):
    first = _checkpoint(tmp_path, 2)
    _checkpoint(tmp_path, 4, "listwise")
    assert resume_checkpoint(str(tmp_path), str(first), "setwise") == str(first)  # no rankrl.json: accepted
    with pytest.raises(ConfigError, match="is not a folder"):
        resume_checkpoint(str(tmp_path), str(tmp_path / "checkpoint-9"), "setwise")
    with pytest.raises(ConfigError, match="trained for paradigm 'listwise', not 'setwise'"):
        resume_checkpoint(str(tmp_path), None, "setwise")
    other = tmp_path / "other"
    _checkpoint(other, 1, "setwise")
    _checkpoint(other, 2, "listwise", state=False)  # incomplete, but it says whose output_dir this is
    with pytest.raises(ConfigError, match="checkpoint-2 was trained for paradigm 'listwise'"):
        resume_checkpoint(str(other), None, "setwise")
    partial = _checkpoint(tmp_path, 6, state=False)
    with pytest.raises(ConfigError, match=r"checkpoint-6 is incomplete \(missing trainer_state.json\)"):
        resume_checkpoint(str(tmp_path), str(partial), "setwise")


def test_a_checkpoint_cut_short_by_a_kill_is_skipped_with_a_warning(tmp_path):
    complete = _checkpoint(tmp_path, 2, "setwise")
    _checkpoint(tmp_path, 3, state=False)  # killed after the weights, before trainer_state.json
    _checkpoint(tmp_path, 4, weights=False, state=False)  # killed before anything was written
    cut = _checkpoint(tmp_path, 5, "setwise")
    (cut / "trainer_state.json").write_text('{"global_step": 5, "log_hi')  # killed while writing the state
    warnings: list[str] = []
    assert resume_checkpoint(str(tmp_path), None, "setwise", warn=warnings.append) == str(complete)
    assert len(warnings) == 1
    for step in (3, 4, 5):
        assert f"checkpoint-{step} (missing" in warnings[0]
    assert "trainer_state.json (cut short)" in warnings[0] and f"resuming from {complete}" in warnings[0]


def test_weights_are_part_of_a_complete_checkpoint(tmp_path):
    folder = _checkpoint(tmp_path, 1, weights=False)
    assert any("model weights" in m for m in missing_parts(folder))
    index = {"metadata": {}, "weight_map": {"a": "model-00001-of-00002.safetensors",
                                           "b": "model-00002-of-00002.safetensors"}}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    (folder / "model-00001-of-00002.safetensors").write_bytes(EMPTY_SAFETENSORS)
    assert missing_parts(folder)  # one shard of two
    (folder / "model-00002-of-00002.safetensors").write_bytes(EMPTY_SAFETENSORS)
    assert missing_parts(folder) == []
    lora = _checkpoint(tmp_path, 2, weights=False)
    (lora / "adapter_model.safetensors").write_bytes(EMPTY_SAFETENSORS)
    deepspeed = _checkpoint(tmp_path, 3, weights=False)
    (deepspeed / "global_step3").mkdir()
    assert missing_parts(lora) == [] and missing_parts(deepspeed) == []


def test_no_complete_checkpoint_starts_over_and_says_so(tmp_path):
    _checkpoint(tmp_path, 1, state=False)
    warnings: list[str] = []
    assert last_complete_checkpoint(tmp_path, warn=warnings.append) is None
    assert "checkpoint-1" in warnings[0] and "starts from step 0" in warnings[0]


# ----------------------------------------------------------------------------------------------- damaged files


def _torch_checkpoint(tmp_path) -> Path:
    import torch

    folder = _checkpoint(tmp_path, 2, "setwise")
    torch.save({"state": {0: {"exp_avg": torch.ones(64)}}, "param_groups": []}, folder / "optimizer.pt")
    torch.save({"last_epoch": 1}, folder / "scheduler.pt")
    (folder / "training_args.bin").write_bytes(b"never loaded on resume")
    return folder


def test_whole_checkpoint_files_pass(tmp_path):
    folder = _torch_checkpoint(tmp_path)
    check_checkpoint_files(folder)
    assert resume_checkpoint(str(tmp_path), None, "setwise") == str(folder)


@pytest.mark.parametrize("name", ["optimizer.pt", "scheduler.pt", "model.safetensors"])
def test_a_truncated_file_is_named_with_what_to_do(tmp_path, name):
    import torch
    from safetensors.torch import save_file

    folder = _torch_checkpoint(tmp_path)
    save_file({"w": torch.zeros(256)}, str(folder / "model.safetensors"))
    path = folder / name
    path.write_bytes(path.read_bytes()[: max(9, path.stat().st_size // 2)])
    with pytest.raises(RankrlError) as err:
        resume_checkpoint(str(tmp_path), None, "setwise")
    message = str(err.value)
    assert str(path) in message and f"Delete the folder {folder}" in message
    assert "--resume_from_checkpoint" in message


def test_a_hostile_pickle_is_refused_without_running_it(tmp_path):
    folder = _torch_checkpoint(tmp_path)
    marker = tmp_path / "code-ran"

    class Plant:
        def __reduce__(self):
            import os

            return (os.mkdir, (str(marker),))

    (folder / "rng_state.pth").write_bytes(pickle.dumps(Plant()))
    with pytest.raises(RankrlError, match=r"rng_state.pth cannot be loaded \(not the zip archive torch.save writes"):
        check_checkpoint_files(folder)
    assert not marker.exists()


def test_a_broken_trainer_state_or_index_is_reported(tmp_path):
    folder = _torch_checkpoint(tmp_path)
    (folder / "model.safetensors.index.json").write_text("{not json")
    with pytest.raises(RankrlError, match="model.safetensors.index.json cannot be loaded"):
        check_checkpoint_files(folder)


class _FakeTrainer:
    def __init__(self):
        self.calls = []

    def _load_optimizer_and_scheduler(self, checkpoint):
        raise ValueError("loaded state dict contains a parameter group that doesn't match the size of optimizer's "
                         "group\nsecond line")

    def _load_rng_state(self, checkpoint):
        self.calls.append(checkpoint)
        return "rng"

    def _load_scaler(self, checkpoint):
        raise RankrlError("already a clean error")

    def training_step(self):
        raise ValueError("not a loading problem")


def test_guard_turns_loading_failures_into_rankrl_errors(tmp_path):
    trainer = _FakeTrainer()
    guard_checkpoint_loading(trainer, None)  # nothing to resume: nothing wrapped
    with pytest.raises(ValueError):
        trainer._load_optimizer_and_scheduler("x")
    guard_checkpoint_loading(trainer, str(tmp_path / "checkpoint-2"))
    with pytest.raises(RankrlError) as err:
        trainer._load_optimizer_and_scheduler(str(tmp_path / "checkpoint-2"))
    message = str(err.value)
    assert "optimizer.pt or scheduler.pt in" in message and "checkpoint-2" in message
    assert "doesn't match the size" in message and "second line" not in message
    assert isinstance(err.value.__cause__, ValueError)
    assert trainer._load_rng_state("c") == "rng" and trainer.calls == ["c"]
    with pytest.raises(RankrlError, match="already a clean error"):
        trainer._load_scaler("c")
    with pytest.raises(ValueError, match="not a loading problem"):  # training itself is not wrapped
        trainer.training_step()


def test_the_guarded_methods_are_the_trainers_loading_methods():
    """The guard wraps transformers' Trainer methods by name: a rename there must fail here, not silently."""
    import inspect

    from transformers import Trainer

    from rankrl.rl.checkpoint import _LOADERS

    for name in _LOADERS:
        assert callable(getattr(Trainer, name, None)), name
        assert "checkpoint" in " ".join(inspect.signature(getattr(Trainer, name)).parameters), name


# ----------------------------------------------------------------------------------------------- metadata callback


def test_callback_writes_metadata_and_card_into_the_checkpoint(tmp_path):
    from transformers import TrainerCallback

    assert issubclass(MetadataCallback, TrainerCallback)
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


def test_importing_the_training_commands_does_not_load_transformers():
    """A recipe typo must be reported in a fraction of a second: rl.train/rl.sft import torch/TRL lazily."""
    code = ("import sys, rl.train, rl.sft, rl.checkpoint; "
            "print(sorted(m for m in ('torch', 'transformers', 'trl') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stderr
