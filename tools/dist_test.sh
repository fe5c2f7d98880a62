#!/usr/bin/env bash
# Distributed testing, on one or many machines (environment: see tools/torchrun.sh).
#   tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py args...]
set -euo pipefail
exec bash "$(dirname "$0")/torchrun.sh" test.py "$3" "$1" "$2" "${@:4}"
