#!/usr/bin/env bash
# torchrun for the distributed tools (dist_train.sh, dist_test.sh), on one or many machines.
#   tools/torchrun.sh TOOL NPROC [tool args...]      e.g. tools/torchrun.sh train.py 8 CONFIG
# Environment: NNODES (1), NODE_RANK (0), MASTER_ADDR (127.0.0.1), PORT (29500),
# PYTHON (the interpreter; default ./.venv/bin/python when present, else python3).
# NPROC is the number of processes on this machine; without CUDA each process runs on
# the CPU with the gloo backend.
set -euo pipefail
TOOL=$1
NPROC=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# The interpreter: $PYTHON, else the repository's ./.venv (tools/setup_env.sh), else python3.
if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x "$ROOT/.venv/bin/python" ]]; then
        PYTHON="$ROOT/.venv/bin/python"
    else
        PYTHON=python3
    fi
fi

PYTHONPATH="$ROOT:${PYTHONPATH:-}" \
exec "$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$NPROC" \
    --master_port="$PORT" \
    "$ROOT/tools/$TOOL" "${@:3}" --launcher pytorch
