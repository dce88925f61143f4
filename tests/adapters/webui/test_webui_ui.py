"""ui(): the params as gradio controls (real gradio), each writing its param on change."""

import gradio as gr


def test_ui_builds_one_control_per_param_showing_its_value(ext):
    with gr.Blocks():
        ext.ui()
    from zhllama.adapters.webui.ui import build_ui

    with gr.Blocks() as demo:
        controls = build_ui(ext.params)
    assert set(controls) == {
        "system_prompt",
        "custom_system_prompt",
        "history_budget",
        "sampling_defaults",
        "long_context",
        "target_context",
    }
    assert controls["system_prompt"].value == "default"
    assert controls["target_context"].value == 16384
    assert len(demo.fns) == len(controls)  # one change handler each


def test_a_change_handler_writes_the_param(ext):
    from zhllama.adapters.webui.ui import build_ui

    with gr.Blocks() as demo:
        build_ui(ext.params)
    handlers = {fn.fn.__name__: fn.fn for fn in demo.fns.values()}
    handlers["set_system_prompt"]("long-answer")
    handlers["set_long_context"](True)
    handlers["set_target_context"](32768.0)
    assert ext.params["system_prompt"] == "long-answer"
    assert ext.params["long_context"] is True
    assert ext.params["target_context"] == 32768
