"""The built-in templates, as data: ``BUILTIN_TEMPLATES`` by name (plugins add more).

Strings checked against the upstream projects:

- Alpaca-2: ymcui/Chinese-LLaMA-Alpaca-2 ``scripts/inference/gradio_demo.py`` and
  ``scripts/openai_server_demo/openai_api_server.py`` (``TEMPLATE_WITH_SYSTEM_PROMPT``,
  ``TEMPLATE_WITHOUT_SYSTEM_PROMPT``, ``DEFAULT_SYSTEM_PROMPT``, multi-turn joined with
  ``</s><s>``, an answer appended as ``" " + answer``), ``scripts/inference/inference_hf.py``;
  the long-answer system prompt from ``scripts/llama-cpp/chat.sh``.
- first-generation Alpaca: ymcui/Chinese-LLaMA-Alpaca ``scripts/inference/inference_hf.py``
  (``prompt_input``).
- Llama-2-chat: Meta's reference ``chat_completion`` layout (``[INST] {q} [/INST] {a} </s>``).
"""

from zhllama.core.templates.model import Template

DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant. 你是一个乐于助人的助手。"
LONG_SYSTEM_PROMPT = DEFAULT_SYSTEM_PROMPT + "请你提供专业、有逻辑、内容真实、有价值的详细回复。"
ALPACA_PREAMBLE = (
    "Below is an instruction that describes a task. "
    "Write a response that appropriately completes the request."
)

_LLAMA2_FIRST_TURN = "[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST]"
_LLAMA2_TURN = "[INST] {user} [/INST]"

ALPACA_2 = Template(
    name="alpaca-2",
    description="Chinese-Alpaca-2 chat, default system prompt",
    first_user_format=_LLAMA2_FIRST_TURN,
    user_format=_LLAMA2_TURN,
    assistant_format=" {assistant}",
    default_system_prompt=DEFAULT_SYSTEM_PROMPT,
)

ALPACA_2_LONG = Template(
    name="alpaca-2-long",
    description="Chinese-Alpaca-2 chat, long-answer system prompt",
    first_user_format=_LLAMA2_FIRST_TURN,
    user_format=_LLAMA2_TURN,
    assistant_format=" {assistant}",
    default_system_prompt=LONG_SYSTEM_PROMPT,
)

ALPACA = Template(
    name="alpaca",
    description="first-generation Chinese-Alpaca instruction prompt",
    first_user_format="{system}\n\n### Instruction:\n\n{user}\n\n### Response:\n\n",
    user_format="### Instruction:\n\n{user}\n\n### Response:\n\n",
    assistant_format="{assistant}",
    default_system_prompt=ALPACA_PREAMBLE,
    turn_tokens=False,
    answer_separator="\n\n",
)

LLAMA_2_CHAT = Template(
    name="llama-2-chat",
    description="Meta Llama-2-chat layout, no default system prompt",
    first_user_format=_LLAMA2_FIRST_TURN,
    user_format=_LLAMA2_TURN,
    assistant_format=" {assistant} ",
    default_system_prompt=None,
)

BUILTIN_TEMPLATES = {template.name: template for template in (ALPACA_2, ALPACA_2_LONG, ALPACA, LLAMA_2_CHAT)}
