"""The family's sampling defaults, as every upstream script sets them."""

import math
from dataclasses import asdict, dataclass

from zhllama.errors import SamplingError


@dataclass(frozen=True)
class Sampling:
    """Generation settings; the defaults are upstream's (scripts/inference, gradio and server demos)."""

    temperature: float = 0.2
    top_k: int = 40
    top_p: float = 0.9
    repetition_penalty: float = 1.1
    max_new_tokens: int = 512

    def __post_init__(self) -> None:
        checks = (
            ("temperature", self.temperature, lambda v: v >= 0, "a number >= 0 (0: greedy)"),
            ("top_k", self.top_k, lambda v: v >= 0 and v == int(v), "a whole number >= 0 (0: off)"),
            ("top_p", self.top_p, lambda v: 0 < v <= 1, "a number in (0, 1]"),
            ("repetition_penalty", self.repetition_penalty, lambda v: v > 0, "a number > 0 (1: off)"),
            ("max_new_tokens", self.max_new_tokens, lambda v: v >= 1 and v == int(v), "a whole number >= 1"),
        )
        for name, value, fits, expected in checks:
            number = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
            if not number or not fits(value):
                raise SamplingError(f"`{name}` must be {expected}, got {value!r}")

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


UPSTREAM = Sampling()
