#!/usr/bin/env bash
# GRPO on a SLURM cluster: N training nodes + 1 vLLM node (the last node of the allocation serves rollouts).
#
#   sbatch --nodes 3 rl/accelerate/slurm.sh                       # 2 training nodes + 1 vLLM node
#   RECIPE=rl/recipes/listwise-qwen2.5-7b.yaml sbatch --nodes 5 rl/accelerate/slurm.sh --max_steps 500
#
# Extra arguments are passed to `rankrl train` (they override the recipe). Environment knobs:
#   RECIPE          recipe file (default: the Rank-R1 7B recipe)
#   ACCEL_CONFIG    accelerate config for the training nodes (default: rl/accelerate/zero3.yaml)
#   GPUS_PER_NODE   GPUs per node (default 8)
#   VLLM_TP         tensor-parallel size of the vLLM server; must divide the model's attention heads (default 1)
#   VLLM_PORT       vLLM HTTP port (default 8000); VLLM_GROUP_PORT: weight-sync NCCL port (default 51216)
#   VLLM_MEM        vLLM gpu memory utilization on the dedicated node (default 0.9)
# The server is started the way TRL 1.16 expects (`trl vllm-serve` is deprecated and only wraps this): vLLM's dev
# mode endpoints plus the NCCL weight-transfer engine, through which the trainer pushes new weights (CUDA only).
# Launch from the repository root (the accelerate configs refer to rl/accelerate/*.json by relative path).
#SBATCH --job-name=rankrl-grpo
#SBATCH --nodes=3
#SBATCH --ntasks-per-node=1
#SBATCH --gres=gpu:8
#SBATCH --cpus-per-task=64
#SBATCH --exclusive
#SBATCH --output=logs/%x-%j.out
set -euo pipefail

RECIPE=${RECIPE:-rl/recipes/rank-r1-setwise-qwen2.5-7b.yaml}
ACCEL_CONFIG=${ACCEL_CONFIG:-rl/accelerate/zero3.yaml}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
VLLM_TP=${VLLM_TP:-1}
VLLM_PORT=${VLLM_PORT:-8000}
VLLM_GROUP_PORT=${VLLM_GROUP_PORT:-51216}
VLLM_MEM=${VLLM_MEM:-0.9}
MAIN_PORT=${MAIN_PORT:-29500}

mapfile -t NODES < <(scontrol show hostnames "$SLURM_JOB_NODELIST")
if (( ${#NODES[@]} < 2 )); then
  echo "slurm.sh: needs at least 2 nodes (N training nodes + 1 vLLM node), got ${#NODES[@]}" >&2
  exit 2
fi
VLLM_NODE=${NODES[-1]}
TRAIN_NODES=("${NODES[@]:0:${#NODES[@]}-1}")
NUM_TRAIN_NODES=${#TRAIN_NODES[@]}
MAIN_NODE=${TRAIN_NODES[0]}
TRAIN_LIST=$(IFS=,; echo "${TRAIN_NODES[*]}")

# The served model and context must be the recipe's: read them from the YAML (flags given here win).
read -r MODEL MAX_LEN < <(python - "$RECIPE" "$@" <<'EOF'
import sys, yaml
values = yaml.safe_load(open(sys.argv[1]))
args = sys.argv[2:]
for key in ("model_name_or_path", "vllm_max_model_length"):
    if f"--{key}" in args:
        values[key] = args[args.index(f"--{key}") + 1]
print(values["model_name_or_path"], values.get("vllm_max_model_length") or "")
EOF
)
echo "slurm.sh: model $MODEL; vLLM on $VLLM_NODE (TP $VLLM_TP); training on $TRAIN_LIST ($((NUM_TRAIN_NODES * GPUS_PER_NODE)) processes)"

# 1. vLLM server on the last node.
srun --nodes=1 --ntasks=1 --nodelist="$VLLM_NODE" \
  env VLLM_SERVER_DEV_MODE=1 vllm serve "$MODEL" \
    --host 0.0.0.0 --port "$VLLM_PORT" \
    --tensor-parallel-size "$VLLM_TP" \
    --gpu-memory-utilization "$VLLM_MEM" \
    ${MAX_LEN:+--max-model-len "$MAX_LEN"} \
    --weight-transfer-config '{"backend": "nccl"}' \
    --logprobs-mode processed_logprobs --max-logprobs -1 &
VLLM_PID=$!
trap 'kill $VLLM_PID 2>/dev/null || true' EXIT

until curl -sf "http://$VLLM_NODE:$VLLM_PORT/health" > /dev/null; do
  if ! kill -0 "$VLLM_PID" 2>/dev/null; then echo "slurm.sh: the vLLM server exited" >&2; exit 1; fi
  sleep 15
done
echo "slurm.sh: vLLM server is up"

# 2. Training on the other nodes, one accelerate launcher per node.
srun --nodes="$NUM_TRAIN_NODES" --ntasks="$NUM_TRAIN_NODES" --nodelist="$TRAIN_LIST" bash -c '
  accelerate launch --config_file "$0" \
    --num_machines "$1" --num_processes "$(( $1 * $2 ))" --machine_rank "$SLURM_NODEID" \
    --main_process_ip "$3" --main_process_port "$4" --rdzv_backend c10d \
    -m rankrl.core.cli train --config "$5" \
    --use_vllm true --vllm_mode server --vllm_server_base_url "http://$6:$7" --vllm_group_port "$8" \
    "${@:9}"
' "$ACCEL_CONFIG" "$NUM_TRAIN_NODES" "$GPUS_PER_NODE" "$MAIN_NODE" "$MAIN_PORT" "$RECIPE" \
  "$VLLM_NODE" "$VLLM_PORT" "$VLLM_GROUP_PORT" "$@"
