"""Real ``accelerate launch`` runs of ``rankrl train`` on CPU with DeepSpeed ZeRO-2/3 (2 processes, gloo).

The first launch on a machine JIT-compiles DeepSpeed's ``deepspeed_shm_comm_op`` (about two minutes on two
cores); it is cached in ``TORCH_EXTENSIONS_DIR`` (default here: ~/.cache/rankrl/torch_extensions).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from rankrl.core.metadata import read_metadata

REPO_ROOT = Path(__file__).resolve().parents[2]
ACCELERATE = REPO_ROOT / "rl" / "accelerate"

@pytest.mark.parametrize(("name", "kind"), [("ddp", "MULTI_GPU"), ("zero2", "DEEPSPEED"), ("zero3", "DEEPSPEED")])
def test_accelerate_configs_load_and_defer_precision_to_the_recipe(name, kind):
    import json

    from accelerate.commands.config.config_args import load_config_from_file

    config = load_config_from_file(str(ACCELERATE / f"{name}.yaml"))
    assert config.distributed_type.name == kind and config.num_processes == 8
    if kind == "DEEPSPEED":
        ds = json.loads((REPO_ROOT / config.deepspeed_config["deepspeed_config_file"]).read_text())
        assert ds["zero_optimization"]["stage"] == int(name[-1])
        assert ds["bf16"]["enabled"] == "auto" and ds["train_micro_batch_size_per_gpu"] == "auto"
        assert config.mixed_precision in (None, "no")  # a second precision setting could disagree
        if name == "zero3":
            assert ds["zero_optimization"]["stage3_gather_16bit_weights_on_model_save"] is True


def _launch(config: str, model: Path, out: Path) -> subprocess.CompletedProcess:
    pytest.importorskip("deepspeed", reason="DeepSpeed is an optional extra: pip install -e '.[deepspeed]'")
    env = dict(os.environ)
    env.setdefault("TORCH_EXTENSIONS_DIR", str(Path.home() / ".cache" / "rankrl" / "torch_extensions"))
    env.update({"OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"})
    command = [
        sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(ACCELERATE / config),
        "--num_processes", "2", "-m", "rankrl.core.cli", "train", "--config", str(REPO_ROOT / "rl" / "recipes" / "tiny.yaml"),
        "--model_name_or_path", str(model), "--output_dir", str(out), "--max_steps", "2", "--save_steps", "2",
        "--synthetic_queries", "8",
    ]
    result = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900,
                            check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    return result


def _initial(model: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(model / "model.safetensors")


def _check_run(out: Path, model: Path, expected_tensors: int) -> None:
    from safetensors.torch import load_file

    for folder in (out, out / "checkpoint-2"):
        assert (folder / "model.safetensors").is_file() and (folder / "tokenizer.json").is_file()
        assert read_metadata(folder)["step"] == 2 and read_metadata(folder)["paradigm"] == "pointwise"  # tiny.yaml
    saved, initial = load_file(out / "model.safetensors"), _initial(model)
    assert len(saved) == expected_tensors
    for name, tensor in initial.items():  # every weight is there, whole (not an empty ZeRO-3 partition)
        assert saved[name].shape == tensor.shape and saved[name].numel() > 0, name
    changed = [n for n in initial if not torch.equal(saved[n], initial[n])]
    assert "model.embed_tokens.weight" in changed
    assert any("self_attn.q_proj" in n for n in changed) and any("mlp.down_proj" in n for n in changed)


@pytest.mark.slow
@pytest.mark.deepspeed
def test_zero2_two_processes_on_cpu(warm_tiny_model, tmp_path):
    out = tmp_path / "zero2"
    _launch("zero2.yaml", warm_tiny_model, out)
    _check_run(out, warm_tiny_model, expected_tensors=25)  # ZeRO-2 also writes the tied lm_head copy


@pytest.mark.slow
@pytest.mark.deepspeed
def test_zero3_two_processes_on_cpu_saves_the_gathered_model(warm_tiny_model, tmp_path):
    out = tmp_path / "zero3"
    _launch("zero3.yaml", warm_tiny_model, out)
    _check_run(out, warm_tiny_model, expected_tensors=24)
