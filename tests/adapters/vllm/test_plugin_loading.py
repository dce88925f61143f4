"""The entry point: vLLM loads it in every process, any number of times, and the model sees it."""

import json
import os
import subprocess
import sys
import textwrap

from zhllama.adapters.vllm import ENTRY_POINT, plugin


def test_install_rebinds_the_get_rope_that_model_modules_imported():
    from vllm.model_executor.layers import rotary_embedding
    from vllm.model_executor.models import llama

    plugin.uninstall()  # vLLM loads its general plugins when it builds an engine config
    original = rotary_embedding.get_rope
    try:
        patched = plugin.install()
        assert {"vllm.model_executor.models.llama", "vllm.model_executor.layers.rotary_embedding"} <= set(
            patched
        )
        assert llama.get_rope is rotary_embedding.get_rope is not original
        from vllm.model_executor.layers.rotary_embedding import get_rope  # a module imported later

        assert get_rope is llama.get_rope
    finally:
        plugin.uninstall()
    assert llama.get_rope is rotary_embedding.get_rope is original


def test_install_twice_keeps_one_wrapper_around_vllms_function():
    from vllm.model_executor.layers import rotary_embedding

    plugin.uninstall()
    original = rotary_embedding.get_rope
    try:
        plugin.install()
        first = rotary_embedding.get_rope
        assert plugin.install() == []
        assert rotary_embedding.get_rope is first
        assert getattr(first, plugin.ORIGINAL_ATTRIBUTE) is original
        assert plugin.installed()
    finally:
        plugin.uninstall()
    assert not plugin.installed()


PROBE = textwrap.dedent(
    """
    import json, os
    from vllm import plugins
    from vllm.config import DeviceConfig, VllmConfig, set_current_vllm_config

    os.environ["VLLM_PLUGINS"] = "lora_filesystem_resolver"
    left_out = "ENTRY" not in plugins.load_plugins_by_group(plugins.DEFAULT_PLUGINS_GROUP)
    os.environ["VLLM_PLUGINS"] = "ENTRY"
    plugins.load_general_plugins()
    from vllm.model_executor.models import llama
    from zhllama.adapters.vllm import plugin
    wrapper = llama.get_rope
    plugin.register()
    plugin.register()
    plugins.plugins_loaded = False
    plugins.load_general_plugins()
    with set_current_vllm_config(VllmConfig(device_config=DeviceConfig(device="cpu"))):
        rope = {"rope_type": "zhllama_dynamic_auto", "max_model_len": 1024}
        emb = llama.get_rope(32, 256, rope_parameters=rope)
    print(json.dumps({
        "left_out_when_not_allowed": left_out,
        "wrapped": plugin.installed(),
        "same_wrapper": llama.get_rope is wrapper,
        "wraps_vllms_own": getattr(wrapper, plugin.ORIGINAL_ATTRIBUTE).__module__,
        "embedding": type(emb).__name__,
        "rows": emb.cos_sin_cache.shape[0],
    }))
    """
).replace("ENTRY", ENTRY_POINT)


def test_vllm_loads_the_plugin_through_its_entry_point_in_a_fresh_process_again_and_again():
    env = {**os.environ, "VLLM_LOGGING_LEVEL": "ERROR"}
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=240
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {
        "left_out_when_not_allowed": True,
        "wrapped": True,
        "same_wrapper": True,
        "wraps_vllms_own": "vllm.model_executor.layers.rotary_embedding",
        "embedding": "ZhllamaRotaryEmbedding",
        "rows": 1024,
    }
