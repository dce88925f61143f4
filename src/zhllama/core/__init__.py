"""The model-family knowledge: tokenizer, templates, RoPE scaling, kernels. Imports no adapter."""
