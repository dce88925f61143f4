#!/usr/bin/env bash
# One command on a CUDA machine (no network needed): speculative decoding in vLLM (ngram, a draft
# model) and transformers (prompt lookup, a draft model) against no speculation, with acceptance
# rate and tokens/s, failing if any greedy output changes. Default: the tiny shared model and its
# derived first-layer draft; the seed's case is
#   benchmarks/gpu_speculation.sh --target ~/models/chinese-alpaca-2-7b --draft ~/models/chinese-alpaca-2-1.3b
# (the 1.3B-draft case: six processes each load the 7B model; give it TIMEOUT=1800).
# Uses .venv-vllm as `scripts/bootstrap vllm` built it. Under 10 minutes on one H100 for the default.
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 VLLM_NO_USAGE_STATS=1 DO_NOT_TRACK=1
timeout "${TIMEOUT:-590}" .venv-vllm/bin/python benchmarks/gpu_speculation.py "$@"
