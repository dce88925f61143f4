"""Checkpoint files: load a local model folder (``load``), convert a folder to GGUF and read a
GGUF's facts back (``gguf``). Importing this package imports neither torch nor transformers."""
