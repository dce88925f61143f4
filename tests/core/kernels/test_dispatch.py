"""Dispatch rules: ZHLLAMA_KERNELS=off|reference|auto, per device type and dtype."""

import pytest

from zhllama.core.kernels import KernelError, dispatch, specs


@pytest.fixture
def cuda_machine(monkeypatch):
    """Pretend triton and a C++ compiler are there; tests set Liger's presence themselves."""
    monkeypatch.setattr(dispatch, "triton_available", lambda: True)
    monkeypatch.setattr(dispatch, "compiler_available", lambda: True)
    monkeypatch.delenv(dispatch.ENV, raising=False)
    return monkeypatch


def test_the_four_builtin_kernels_are_registered_through_the_plugin_hook():
    found = specs()
    assert {"rms_norm", "add_rms_norm", "rope", "swiglu"} <= set(found)
    assert all("reference" in spec.implementations for spec in found.values())


def test_auto_on_cuda_prefers_liger_where_it_has_the_op(cuda_machine):
    cuda_machine.setattr(dispatch, "liger_available", lambda: True)
    assert dispatch.choose("rms_norm", "cuda", "bfloat16") == "liger"
    assert dispatch.choose("add_rms_norm", "cuda", "float16") == "liger"
    assert dispatch.choose("swiglu", "cuda", "float32") == "liger"
    # Liger's rope needs cos/sin tables; the patched model passes positions + inv_freq
    assert dispatch.choose("rope", "cuda", "bfloat16") == "triton"


def test_auto_on_cuda_without_liger_uses_our_triton_kernels(cuda_machine):
    cuda_machine.setattr(dispatch, "liger_available", lambda: False)
    assert {dispatch.choose(op, "cuda", "bfloat16") for op in specs()} == {"triton"}


def test_auto_on_cpu_uses_inductor_and_falls_back_without_a_compiler(cuda_machine):
    assert dispatch.choose("rms_norm", "cpu", "float32") == "inductor"
    cuda_machine.setattr(dispatch, "compiler_available", lambda: False)
    assert dispatch.choose("rms_norm", "cpu", "float32") == "reference"


def test_other_devices_and_non_float_dtypes_get_the_reference(cuda_machine):
    assert dispatch.choose("swiglu", "mps", "float16") == "reference"
    assert dispatch.choose("swiglu", "cpu", "int8") == "reference"


@pytest.mark.parametrize(
    ("value", "expected"), [("off", "off"), ("reference", "reference"), ("AUTO", "inductor")]
)
def test_the_environment_variable_sets_the_mode(cuda_machine, value, expected):
    cuda_machine.setenv(dispatch.ENV, value)
    assert dispatch.choose("rms_norm", "cpu", "bfloat16") == expected


def test_an_unknown_mode_names_the_valid_ones(cuda_machine):
    cuda_machine.setenv(dispatch.ENV, "fast")
    with pytest.raises(KernelError, match="off, reference, auto"):
        dispatch.mode()


def test_kernel_loads_the_chosen_implementation(cuda_machine):
    from zhllama.core.kernels import reference

    assert dispatch.kernel("rms_norm", "cpu", "float32", backend="reference") is reference.rms_norm
    with pytest.raises(KernelError, match="unknown kernel"):
        dispatch.kernel("layer_norm", "cpu", "float32")


def test_doctor_shows_the_dispatch_choice(cuda_machine):
    from zhllama.cli import doctor

    text = doctor.format_report(doctor.report())
    assert "kernel dispatch (ZHLLAMA_KERNELS=auto)" in text
    assert "cpu/bfloat16     rms_norm=inductor" in text
