"""The `zhllama` subcommands: one module per group, each a thin layer over a library module."""
