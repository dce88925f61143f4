"""What every Transformers load in webui gets: the exact tokenizer for the family, webui's own otherwise.

The whole route, in the real webui, is checked by test_webui_in_the_app.py; these pin the rules.
"""

import shutil

from zhllama.adapters.webui import loading
from zhllama.core.tokenizer.model_file import load_processor


def test_a_family_folder_gets_the_sentencepiece_exact_tokenizer(tiny_model_dir):
    tokenizer = loading.exact_tokenizer(tiny_model_dir)
    sp = load_processor(tiny_model_dir / "tokenizer.model")
    prompt = "[INST] 这件事情不可能是真的 [/INST]"
    ids = tokenizer.encode(prompt)  # BOS added, as webui's encode asks
    assert ids == [1, *sp.encode(prompt)] and ids[1] == 518  # ▁[ after <s>, not transformers' [ (29961)


def test_other_models_keep_webuis_tokenizer(tmp_path, assets):
    shutil.copy(assets / "tokenizers" / "llama-2" / "tokenizer.model", tmp_path / "tokenizer.model")
    assert loading.exact_tokenizer(tmp_path) is None  # Llama-2's 32,000 pieces: not the family
    assert loading.exact_tokenizer(tmp_path / "nowhere") is None  # a GGUF file or a folder without one


def test_the_wrapped_loader_hands_webui_the_exact_tokenizer(tiny_model_dir):
    seen = []
    loader = loading.wrap_loader(lambda name: "model", lambda name: tiny_model_dir, {}, seen.append)
    model, tokenizer = loader("tiny-zh-llama")  # webui's load_model takes a tuple's tokenizer as is
    assert model == "model" and type(tokenizer).__name__ == "ChineseLlamaTokenizer"
    assert seen[0].tokenizer is tokenizer and seen[0].applied is None


def test_setup_gives_the_startup_model_the_exact_tokenizer(ext, webui, tiny_model_dir):
    """webui loads --model before extensions' setup(): setup() hands that model what a later load gets."""
    webui.shared.args.model_dir = str(tiny_model_dir.parent)
    webui.shared.model, webui.shared.model_name, webui.shared.args.loader = (
        object(),
        tiny_model_dir.name,
        "Transformers",
    )
    webui.shared.tokenizer = "webui's AutoTokenizer"
    ext.setup()
    assert type(webui.shared.tokenizer).__name__ == "ChineseLlamaTokenizer"


def test_a_startup_model_of_another_loader_is_left_alone(ext, webui, tiny_model_dir):
    webui.shared.args.model_dir = str(tiny_model_dir.parent)
    webui.shared.model, webui.shared.model_name, webui.shared.args.loader = (
        object(),
        tiny_model_dir.name,
        "llama.cpp",
    )
    webui.shared.tokenizer = "llama.cpp's"
    ext.setup()
    assert webui.shared.tokenizer == "llama.cpp's"
