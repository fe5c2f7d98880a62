#!/usr/bin/env bash
# Create (or check) the project's isolated environment in ./.venv.
#
# Steps: venv -> torch -> build tools -> mmcv 2.1.0 with ops (from source) ->
# the other requirements -> this package in editable mode.
# Idempotent: when the environment is complete and the requirement files have
# not changed since the last successful run, it finishes in seconds.
#
# Environment variables:
#   VENV            where the environment lives (default: ./.venv)
#   PYTHON          interpreter used to create it (default: python3)
#   TORCH_SPEC      pip requirement for torch (default: torch==2.13.0, the CPU build
#                   here). GPU users: install the torch build for their CUDA first,
#                   e.g. TORCH_SPEC="torch==2.6.0" PIP_INDEX_URL=<the CUDA wheel index>.
#   MAX_JOBS        parallel compile jobs for mmcv's ops (default: number of cores)
#   MMCV_WITH_OPS   build mmcv's C++ ops (default: 1)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0}"
MMCV_SPEC="mmcv==2.1.0"
export MAX_JOBS="${MAX_JOBS:-$(nproc 2>/dev/null || echo 2)}"
export MMCV_WITH_OPS="${MMCV_WITH_OPS:-1}"
STAMP="$VENV/.mmseg_refiner_setup"

step() { echo "[setup] $*"; }
fail() {
    echo "[setup] FAILED at step: $1" >&2
    echo "[setup] what to do: $2" >&2
    exit 1
}

requirements_hash() {
    cat "$ROOT/requirements/"*.txt "$ROOT/setup.py" | sha256sum | cut -d' ' -f1
}

environment_ready() {
    [ -x "$VENV/bin/python" ] || return 1
    [ -f "$STAMP" ] || return 1
    [ "$(cat "$STAMP")" = "$(requirements_hash)" ] || return 1
    "$VENV/bin/python" - <<'EOF' >/dev/null 2>&1 || return 1
import mmcv.ops, mmdet, mmseg, mmengine, torch, mmseg_refiner  # noqa: F401
EOF
}

if environment_ready; then
    step "environment in $VENV is ready (nothing to do)"
    exit 0
fi

PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)

step "1/6 virtual environment in $VENV"
if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV" || fail "venv" \
        "install the venv module for $PYTHON (Debian: apt-get install python3-venv) and re-run"
fi

step "2/6 torch ($TORCH_SPEC)"
if ! "$VENV/bin/python" -c "import torch" >/dev/null 2>&1; then
    "${PIP[@]}" install "$TORCH_SPEC" || fail "torch" \
        "check that pip can reach the package index; set TORCH_SPEC to a torch build for your platform"
fi

step "3/6 build tools"
"${PIP[@]}" install -q -r "$ROOT/requirements/build.txt" || fail "build tools" \
    "check that pip can reach the package index"

step "4/6 $MMCV_SPEC with ops (first build compiles ~77 units: about 11 minutes on 2 cores)"
if ! "$VENV/bin/python" -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '2.1.0'" >/dev/null 2>&1; then
    "${PIP[@]}" install --no-build-isolation "$MMCV_SPEC" || fail "mmcv" \
        "mmcv compiles C++ ops: it needs gcc/g++ and the Python headers (Debian: apt-get install build-essential python3-dev); see the pip log above"
fi

step "5/6 runtime and test requirements"
"${PIP[@]}" install -q -r "$ROOT/requirements/runtime.txt" -r "$ROOT/requirements/tests.txt" \
    || fail "requirements" "see pip's message above; requirements/*.txt pin the versions known to work"

step "6/6 mmseg_refiner (editable)"
"${PIP[@]}" install -q --no-build-isolation --no-deps -e "$ROOT" || fail "editable install" \
    "see pip's message above"

"$VENV/bin/python" - <<'EOF' || fail "import check" "the environment is incomplete; delete $VENV and re-run"
import mmcv.ops, mmdet, mmseg, mmengine, torch, mmseg_refiner
print(f"[setup] torch {torch.__version__}, mmcv {mmcv.__version__}, mmengine {mmengine.__version__}, "
      f"mmdet {mmdet.__version__}, mmseg {mmseg.__version__}")
EOF
requirements_hash > "$STAMP"
step "done"
