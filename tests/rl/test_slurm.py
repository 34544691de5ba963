"""``rl/accelerate/slurm.sh``: the commands it runs, checked with stand-ins for srun/scontrol/vllm/accelerate."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "rl" / "accelerate" / "slurm.sh"

STUBS = {
    "scontrol": 'printf "gpu-a\\ngpu-b\\ngpu-c\\n"\n',
    # srun: drop its own --options, run the command as task 0 of the step
    "srun": 'while [[ "$1" == --* ]]; do echo "srun-option $1" >> "$LOG"; shift; done\n'
            'SLURM_NODEID=0 "$@"\n',
    "vllm": 'echo "vllm VLLM_SERVER_DEV_MODE=$VLLM_SERVER_DEV_MODE $*" >> "$LOG"\n',
    "curl": 'echo "curl $*" >> "$LOG"\n',
    "accelerate": 'echo "accelerate $*" >> "$LOG"\n',
}


def _run(tmp_path: Path, *args: str, **env: str) -> tuple[subprocess.CompletedProcess, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in STUBS.items():
        stub = bin_dir / name
        stub.write_text("#!/usr/bin/env bash\n" + body)
        stub.chmod(0o755)
    log = tmp_path / "log.txt"
    full_env = {**os.environ, "PATH": f"{bin_dir}:{Path(sys.executable).parent}:{os.environ['PATH']}",
                "LOG": str(log), "SLURM_JOB_NODELIST": "gpu-[a-c]", **env}
    result = subprocess.run(["bash", str(SCRIPT), *args], cwd=REPO_ROOT, env=full_env, capture_output=True,
                            text=True, timeout=60, check=False)
    return result, log.read_text() if log.exists() else ""


def test_script_is_valid_bash():
    assert subprocess.run(["bash", "-n", str(SCRIPT)], check=False).returncode == 0


def test_last_node_serves_vllm_and_the_others_train(tmp_path):
    result, log = _run(tmp_path, "--max_steps", "7")
    assert result.returncode == 0, result.stderr
    vllm = next(line for line in log.splitlines() if line.startswith("vllm "))
    assert vllm.startswith("vllm VLLM_SERVER_DEV_MODE=1 serve Qwen/Qwen2.5-7B-Instruct --host 0.0.0.0 --port 8000")
    # Rank-R1 generated with transformers (its recipe has no vllm_max_model_length): vLLM picks its own length
    assert "--max-model-len" not in vllm and '--weight-transfer-config {"backend": "nccl"}' in vllm
    assert "--logprobs-mode processed_logprobs --max-logprobs -1" in vllm
    assert "srun-option --nodelist=gpu-c" in log and "srun-option --nodelist=gpu-a,gpu-b" in log
    assert "curl -sf http://gpu-c:8000/health" in log
    launch = next(line for line in log.splitlines() if line.startswith("accelerate "))
    assert "--config_file rl/accelerate/zero3.yaml --num_machines 2 --num_processes 16 --machine_rank 0" in launch
    assert "--main_process_ip gpu-a" in launch
    assert launch.endswith(
        "-m rankrl.core.cli train --config rl/recipes/rank-r1-setwise-qwen2.5-7b.yaml --use_vllm true --vllm_mode server "
        "--vllm_server_base_url http://gpu-c:8000 --vllm_group_port 51216 --max_steps 7"
    )


def test_recipe_and_sizes_come_from_the_environment(tmp_path):
    result, log = _run(tmp_path, "--model_name_or_path", "/models/mine", RECIPE="rl/recipes/listwise-qwen2.5-7b.yaml",
                       GPUS_PER_NODE="4", VLLM_TP="2")
    assert result.returncode == 0, result.stderr
    assert "serve /models/mine" in log and "--tensor-parallel-size 2" in log
    assert "--max-model-len 6144" in log  # the recipe's vllm_max_model_length
    assert "--num_processes 8" in log and "--config rl/recipes/listwise-qwen2.5-7b.yaml" in log


def test_one_node_is_refused(tmp_path):
    bin_dir = tmp_path / "one"
    bin_dir.mkdir()
    (bin_dir / "scontrol").write_text("#!/usr/bin/env bash\necho gpu-a\n")
    (bin_dir / "scontrol").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "SLURM_JOB_NODELIST": "gpu-a"}
    result = subprocess.run(["bash", str(SCRIPT)], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                            check=False)
    assert result.returncode == 2 and "needs at least 2 nodes" in result.stderr
