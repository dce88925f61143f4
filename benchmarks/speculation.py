"""Speculative decoding on the tiny model, per runtime: acceptance rate and tokens/s, with and without.

Two kinds of proposals, each on the prompts it suits:

- prompt lookup (``lookup=N``) on the document-QA answer path: upstream's stuff QA prompt
  (``{context}\\n{question}`` in the Alpaca-2 template) over CMRC 2018 paragraphs, whose answers
  can quote the context;
- the derived self-speculative draft (the tiny model's first layer with its embeddings and head,
  ``derive_draft``) on continuation prompts.

transformers runs assisted generation; llama.cpp runs llama-cpp-python's ``draft_model`` (its
``LlamaPromptLookupDecoding``, zhllama's ``GgufDraft``). Every speculative reply is checked to be
the plain greedy reply token for token. Acceptance is accepted / proposed tokens: transformers'
candidate generators are wrapped to count them; for llama.cpp each proposal is compared with the
greedy sequence. Speeds are the best of ``--repeat`` runs, greedy, without repetition penalty.

    benchmarks/speculation.py [--threads 2] [--tokens 64] [--questions 8]
"""

import argparse
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ASSETS = Path(os.environ.get("ZHLLAMA_ASSETS", REPO.parent / "shared" / "assets")).resolve()
MODEL = ASSETS / "models" / "tiny-zh-llama"
CONTINUATIONS = (
    "续写下面的文字：话说天下大势，分久必合，合久必分。",
    "续写下面的文字：那孙悟空",
    "续写下面的文字：宋江道",
    "续写下面的文字：黛玉",
)


def qa_prompts(count: int) -> list[str]:
    """Upstream's stuff QA prompt over the first ``count`` CMRC trial paragraphs with a question each."""
    from zhllama.core.prompts import STUFF_QA

    data = json.loads((ASSETS / "qa" / "cmrc2018" / "cmrc2018_trial.squad.json").read_text(encoding="utf-8"))
    paragraphs = [p for article in data["data"] for p in article["paragraphs"]]
    # 150 characters of context keep prompt and answer within the tiny model's 256-token window
    return [
        STUFF_QA.fill(context=p["context"][:150], question=p["qas"][0]["question"])
        for p in paragraphs[:count]
    ]


@dataclass
class Counts:
    """Proposed and accepted draft tokens."""

    proposed: int = 0
    accepted: int = 0


class TransformersCounter(Counts):
    """Counts proposed and accepted tokens of transformers' candidate generators while active."""

    def __init__(self) -> None:
        from transformers.generation import candidate_generator as module

        super().__init__()
        self.classes = (module.AssistedCandidateGenerator, module.PromptLookupCandidateGenerator)
        self.saved = []

    def __enter__(self) -> "TransformersCounter":
        counter = self
        for cls in self.classes:
            get, update = cls.get_candidates, cls.update_candidate_strategy

            def get_candidates(self, input_ids, *args, _get=get, **kwargs):
                candidates, logits = _get(self, input_ids, *args, **kwargs)
                counter.proposed += candidates.shape[1] - input_ids.shape[1]
                return candidates, logits

            def update_candidate_strategy(self, input_ids, scores, num_matches, _update=update):
                counter.accepted += int(num_matches)
                return _update(self, input_ids, scores, num_matches)

            self.saved.append((cls, get, update))
            cls.get_candidates, cls.update_candidate_strategy = get_candidates, update_candidate_strategy
        return self

    def __exit__(self, *exc) -> None:
        for cls, get, update in self.saved:
            cls.get_candidates, cls.update_candidate_strategy = get, update


class LlamaCppCounter(Counts):
    """Wraps a ``Llama``'s draft model to record each proposal against the greedy sequence."""

    def __init__(self, llama, reference: list[int]) -> None:
        super().__init__()
        self.llama, self.reference = llama, reference
        self.inner = llama.draft_model

    def __call__(self, input_ids, **kwargs):
        proposal = self.inner(input_ids, **kwargs)
        start = len(input_ids)
        self.proposed += len(proposal)
        for offset, token in enumerate(proposal):
            if start + offset >= len(self.reference) or self.reference[start + offset] != int(token):
                break
            self.accepted += 1
        return proposal

    def __enter__(self) -> "LlamaCppCounter":
        self.llama.draft_model = self
        return self

    def __exit__(self, *exc) -> None:
        self.llama.draft_model = self.inner


def run(backend, prompts: list[str], tokens: int, repeat: int) -> tuple[list, float]:
    """Replies (text, tokens) and the best tokens/s over ``repeat`` passes over ``prompts``."""
    from zhllama.core.sampling import Sampling

    sampling = Sampling(repetition_penalty=1.0, max_new_tokens=tokens)
    best, replies = 0.0, []
    for _ in range(repeat):
        replies, generated, started = [], 0, time.perf_counter()
        for prompt in prompts:
            reply = backend.complete([{"role": "user", "content": prompt}], sampling=sampling, greedy=True)
            replies.append((reply.text, reply.completion_tokens))
            generated += reply.completion_tokens
        best = max(best, generated / (time.perf_counter() - started))
    return replies, best


def greedy_sequences(backend, prompts: list[str], tokens: int) -> list[list[int]]:
    """Prompt plus greedy reply ids of each prompt, from llama.cpp."""
    llama, sequences = backend.llama, []
    for prompt in prompts:
        ids = backend.prompt_ids([{"role": "user", "content": prompt}])
        out = list(ids)
        for token in llama.generate(ids, temp=0.0, top_k=1, min_p=0.0, repeat_penalty=1.0, reset=True):
            if token == llama.token_eos() or len(out) - len(ids) >= tokens:
                break
            out.append(int(token))
        sequences.append(out)
    return sequences


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--questions", type=int, default=8)
    parser.add_argument("--lookup", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()

    import torch
    from transformers.utils import logging as transformers_logging

    from zhllama.backends import LlamaCppBackend, TransformersBackend
    from zhllama.checkpoints.draft import derive_draft
    from zhllama.checkpoints.gguf import export_gguf

    transformers_logging.disable_progress_bar()
    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="zhllama-speculation-"))
    draft_dir = derive_draft(MODEL, work / "draft", layers=1)
    target_gguf = export_gguf(MODEL, work / "tiny.f32.gguf")
    draft_gguf = export_gguf(draft_dir, work / "draft.f32.gguf")
    cases = {
        "prompt lookup, QA answers": qa_prompts(args.questions),
        "derived draft, continuations": list(CONTINUATIONS),
    }
    rows = []

    plain_hf = TransformersBackend.from_pretrained(MODEL)
    draft_model = TransformersBackend.from_pretrained(draft_dir).model
    for case, prompts in cases.items():
        options = {"lookup": args.lookup} if case.startswith("prompt") else {"draft_model": draft_model}
        speculating = TransformersBackend(plain_hf.model, plain_hf.tokenizer, **options)
        expected, plain_tps = run(plain_hf, prompts, args.tokens, args.repeat)
        with TransformersCounter() as counter:
            got, spec_tps = run(speculating, prompts, args.tokens, args.repeat)
        rows.append(("transformers", case, counter, plain_tps, spec_tps, got == expected))

    plain_cpp = LlamaCppBackend.from_gguf(target_gguf, n_threads=args.threads)
    for case, prompts in cases.items():
        options = {"lookup": args.lookup} if case.startswith("prompt") else {"draft": draft_gguf}
        speculating = LlamaCppBackend.from_gguf(target_gguf, n_threads=args.threads, **options)
        expected, plain_tps = run(plain_cpp, prompts, args.tokens, args.repeat)
        counters = []
        for sequence, prompt in zip(greedy_sequences(plain_cpp, prompts, args.tokens), prompts, strict=True):
            with LlamaCppCounter(speculating.llama, sequence) as counter:
                run(speculating, [prompt], args.tokens, 1)
            counters.append(counter)
        got, spec_tps = run(speculating, prompts, args.tokens, args.repeat)
        total = Counts(sum(c.proposed for c in counters), sum(c.accepted for c in counters))
        rows.append(("llama.cpp", case, total, plain_tps, spec_tps, got == expected))

    print("| runtime | case | acceptance | tok/s without | tok/s with | speed-up | same greedy text |")
    print("|---|---|---|---|---|---|---|")
    for runtime, case, counter, plain_tps, spec_tps, same in rows:
        acceptance = counter.accepted / counter.proposed if counter.proposed else float("nan")
        print(
            f"| {runtime} | {case} | {acceptance:.0%} ({counter.accepted}/{counter.proposed}) | "
            f"{plain_tps:.1f} | {spec_tps:.1f} | {spec_tps / plain_tps:.2f}x | {'yes' if same else 'NO'} |"
        )


if __name__ == "__main__":
    main()
