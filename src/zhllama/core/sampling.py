"""The family's sampling defaults, as every upstream script sets them."""

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Sampling:
    """Generation settings; the defaults are upstream's (scripts/inference, gradio and server demos)."""

    temperature: float = 0.2
    top_k: int = 40
    top_p: float = 0.9
    repetition_penalty: float = 1.1
    max_new_tokens: int = 512

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


UPSTREAM = Sampling()
