"""Chat with a loaded model in-process: the Alpaca-2 prompt, safe ids, upstream sampling."""

from collections.abc import Callable
from typing import Any

from zhllama.core.sampling import UPSTREAM, Sampling


def generate_reply(
    model: Any,
    tokenizer: Any,
    messages: list[dict[str, str]],
    *,
    template: str = "alpaca-2",
    sampling: Sampling = UPSTREAM,
    greedy: bool = False,
    seed: int | None = None,
    on_text: Callable[[str], None] | None = None,
) -> str:
    """Generate the assistant's next message for ``messages`` and return its text.

    The prompt ids come from the template's structure (BOS/EOS only where the template puts
    them; typed control strings stay text). ``greedy`` switches sampling off (the repetition
    penalty still applies, as upstream). ``on_text`` receives the reply as it is produced.
    """
    import torch

    from zhllama.core.templates import encode_messages, get_template

    ids = encode_messages(tokenizer, get_template(template), messages, add_generation_prompt=True)
    input_ids = torch.tensor([ids], device=model.device)
    if seed is not None:
        torch.manual_seed(seed)
    streamer = _callback_streamer(tokenizer, on_text) if on_text is not None else None
    settings = sampling.as_dict()
    if greedy:
        settings = {
            "max_new_tokens": sampling.max_new_tokens,
            "repetition_penalty": sampling.repetition_penalty,
        }
    with torch.inference_mode():
        output = model.generate(
            input_ids,
            attention_mask=torch.ones_like(input_ids),
            do_sample=not greedy,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
            streamer=streamer,
            **settings,
        )
    return tokenizer.decode(output[0, input_ids.shape[1] :], skip_special_tokens=True)


def _callback_streamer(tokenizer: Any, on_text: Callable[[str], None]) -> Any:
    """transformers' ``TextStreamer`` (which decodes at word boundaries) sending text to a callback."""
    from transformers import TextStreamer

    class CallbackStreamer(TextStreamer):
        def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
            if text:
                on_text(text)

    return CallbackStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
