#!/usr/bin/env bash
# One command on a CUDA machine (no network needed): serve the tiny shared model with vLLM at 4x
# its trained context under each RoPE plan, chat in Chinese through the OpenAI-compatible server,
# and print chat tokens/s and held-out perplexity through vLLM (prompt logprobs) beside
# transformers' on the same windows. Uses .venv-vllm as `scripts/bootstrap vllm` built it (carry it
# to the GPU machine); zhllama's plugin loads from its entry point. Under 8 minutes on one H100.
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 VLLM_NO_USAGE_STATS=1 DO_NOT_TRACK=1
timeout 470 .venv-vllm/bin/python benchmarks/gpu_vllm.py "$@"
