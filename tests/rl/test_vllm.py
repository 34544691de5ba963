"""GRPO with vLLM rollouts in colocate mode, on CPU with the tiny model (needs vLLM; skipped without it).

Runs with the CPU build of vLLM (``make test-vllm``: vllm-cpu 0.31.0 in its own venv). Server mode needs CUDA
(NCCL weight transfer) and is not exercised here.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rankrl.core.metadata import read_metadata

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.vllm
@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("vllm") is None,
                    reason="vLLM is an optional extra: pip install -e '.[vllm]' (GPU) or `make test-vllm` (CPU)")
def test_colocate_rollouts_train_and_save(warm_tiny_model, tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1")}
    command = [
        sys.executable, "-m", "rankrl.core.cli", "train", "--config", str(REPO_ROOT / "rl" / "recipes" / "tiny.yaml"),
        "--model_name_or_path", str(warm_tiny_model), "--output_dir", str(out), "--max_steps", "2",
        "--save_steps", "2", "--logging_steps", "1", "--synthetic_queries", "8", "--use_vllm", "true",
        "--vllm_mode", "colocate",
        "--vllm_max_model_length", "512", "--vllm_gpu_memory_utilization", "0.5",
    ]
    result = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900,
                            check=False)
    assert result.returncode == 0, result.stderr[-6000:]
    assert "rollouts vLLM colocate" in result.stderr
    meta = read_metadata(out)
    assert meta["training"]["use_vllm"] is True and meta["step"] == 2
    history = json.loads((out / "checkpoint-2" / "trainer_state.json").read_text())["log_history"]
    steps = [h for h in history if "loss" in h]
    assert len(steps) == 2
    # vLLM's sampling log-probabilities were compared with the trainer's: the vLLM path really generated
    assert all("sampling/importance_sampling_ratio/mean" in h for h in steps)
    assert all("rankrl/parse_failure_rate" in h for h in steps)
