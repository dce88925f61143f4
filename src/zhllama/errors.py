"""The exceptions zhllama raises: each says what was wrong, what was expected and what to do."""


class ZhllamaError(Exception):
    """Base class of every error zhllama raises on purpose."""


class PluginError(ZhllamaError):
    """A plugin could not be loaded or registered something invalid."""


class TokenizerError(ZhllamaError):
    """A tokenizer file or folder is missing, malformed or of the wrong kind."""


class TemplateError(ZhllamaError):
    """A conversation or template cannot be rendered as asked."""


class ModelLoadError(ZhllamaError):
    """A model folder cannot be loaded (missing files, hub id offline, remote code)."""


class ModelConfigError(ModelLoadError):
    """A model's ``config.json`` is missing, unreadable, not JSON, or not a JSON object."""


class SamplingError(ZhllamaError):
    """A sampling setting (temperature, top_k, top_p, repetition_penalty, max_new_tokens) is out of range."""


class RopeScalingError(ZhllamaError):
    """A RoPE scaling request or a checkpoint's rope settings cannot be honoured as given."""


class DocQAError(ZhllamaError):
    """Document QA cannot ingest, store or retrieve as asked (bad store, model mismatch, lock)."""


class KernelError(ZhllamaError):
    """A kernel or a backend was asked for that cannot run here, or a model cannot be patched."""


class QuantizationError(ZhllamaError):
    """A GGUF file cannot be quantized as asked (unknown type, not an unquantized GGUF, llama.cpp refused)."""
