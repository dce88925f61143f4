"""On a CUDA machine: every Triton kernel compiled for the GPU matches the reference
(the same check as benchmarks/gpu_kernels.sh)."""

import pytest
import torch


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (benchmarks/gpu_kernels.sh)")
def test_triton_kernels_on_cuda_match_the_reference():
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parents[3] / "benchmarks" / "gpu_kernels.py"
    spec = importlib.util.spec_from_file_location("gpu_kernels", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_kernels"] = module
    spec.loader.exec_module(module)
    assert module.check_all() == []
