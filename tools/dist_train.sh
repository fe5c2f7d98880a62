#!/usr/bin/env bash
# Distributed training, on one or many machines (environment: see tools/torchrun.sh).
#   tools/dist_train.sh CONFIG GPUS [train.py args...]
set -euo pipefail
exec bash "$(dirname "$0")/torchrun.sh" train.py "$2" "$1" "${@:3}"
