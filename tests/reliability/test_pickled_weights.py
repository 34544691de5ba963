"""Second probing pass: a hostile ``pytorch_model.bin`` in a model folder (item 15).

Before the fix ``rankrl eval`` refused it only inside transformers (``torch.load(weights_only=True)``) with a
traceback whose hint was torch's own "re-run with ``weights_only=False``": the unsafe option. Now the folder is
refused before anything opens the file, with a rankrl message that names the file and never suggests that.
"""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import pytest
from reliability_support import assert_clean_error, train_args, tree, write_local_benchmark

from rankrl.core.errors import RankrlError
from rankrl.core.model_path import check_model_path


class _Plant:
    """Unpickling this runs ``os.mkdir(marker)``."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        import os

        return (os.mkdir, (self.marker,))


def _hostile_folder(tiny_model: Path, root: Path) -> tuple[Path, Path]:
    folder = root / "hostile-model"
    shutil.copytree(tiny_model, folder)
    (folder / "model.safetensors").unlink()
    marker = root / "code-ran"
    (folder / "pytorch_model.bin").write_bytes(pickle.dumps(_Plant(marker)))
    return folder, marker


def test_pickled_only_folder_is_refused_before_loading(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    marker = tmp_path / "code-ran"
    (folder / "pytorch_model.bin").write_bytes(pickle.dumps(_Plant(marker)))
    with pytest.raises(RankrlError, match=r"holds its weights only as pytorch_model.bin: a Python pickle") as info:
        check_model_path(folder, "--model")
    assert "weights_only" not in str(info.value)
    assert not marker.exists()
    (folder / "model.safetensors").write_bytes(b"")  # safetensors next to it: those are what loads
    check_model_path(folder, "--model")


@pytest.mark.slow
def test_eval_refuses_a_hostile_pytorch_model_bin(rankrl, tiny_model, tmp_path):
    folder, marker = _hostile_folder(tiny_model, tmp_path)
    bench = write_local_benchmark(tmp_path / "bench")
    before = tree(tmp_path)
    result = rankrl.run(["eval", "--model", folder, "--benchmark", f"local:{bench}", "--out", tmp_path / "out",
                         "--top-k", "6", "--max-new-tokens", "8", "--device", "cpu", "--no-progress"],
                        cwd=tmp_path, timeout=600)
    assert_clean_error(result, f"{folder} (model) holds its weights only as pytorch_model.bin", "safetensors")
    assert "weights_only" not in result.stderr
    assert not marker.exists()
    assert tree(tmp_path) == before


@pytest.mark.slow
def test_train_refuses_a_hostile_pytorch_model_bin(rankrl, tiny_model, tmp_path):
    folder, marker = _hostile_folder(tiny_model, tmp_path)
    result = rankrl.run(train_args(folder, tmp_path / "out"), cwd=tmp_path, timeout=600)
    assert_clean_error(result, "holds its weights only as pytorch_model.bin", "model_name_or_path")
    assert "weights_only" not in result.stderr
    assert not marker.exists()
