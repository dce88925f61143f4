#!/usr/bin/env bash
# One command on a CUDA machine (no network needed): check every Triton kernel against the
# reference, run the GPU-marked tests, then print ours vs transformers eager vs Liger-Kernel.
# Uses the repo's .venv as it is (it must hold a CUDA torch; Liger is optional). Under 8 minutes
# on one H100.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
unset TRITON_INTERPRET
timeout 420 "$PY" benchmarks/gpu_kernels.py
timeout 60 "$PY" -m pytest -q -m gpu tests/core/kernels
