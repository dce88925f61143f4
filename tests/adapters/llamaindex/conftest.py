"""The LlamaIndex adapter over the tiny model (three backends) and a small docqa store of CMRC paragraphs."""

import json
from pathlib import Path

import pytest

N_PARAGRAPHS = 12


@pytest.fixture(scope="session")
def cmrc(assets: Path) -> dict:
    """The first paragraphs of the CMRC 2018 trial set and their questions."""
    data = json.loads((assets / "qa" / "cmrc2018" / "cmrc2018_trial.squad.json").read_text(encoding="utf-8"))
    paragraphs, questions = [], []
    for article in data["data"]:
        for para in article["paragraphs"]:
            if len(paragraphs) == N_PARAGRAPHS:
                return {"paragraphs": paragraphs, "questions": questions}
            paragraphs.append(para["context"])
            questions += [(qa["question"], len(paragraphs) - 1) for qa in para["qas"]]
    return {"paragraphs": paragraphs, "questions": questions}


@pytest.fixture(scope="session")
def docqa_store(cmrc: dict, tokenizer_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """A store built exactly as `zhllama qa ingest DOCS --db DB` builds it (default settings)."""
    from zhllama.docqa.ingest import ingest
    from zhllama.docqa.splitting import SplitSettings, token_counter
    from zhllama.docqa.store import Store

    root = tmp_path_factory.mktemp("docqa")
    docs = root / "docs"
    docs.mkdir()
    for i, text in enumerate(cmrc["paragraphs"]):
        (docs / f"{i:03d}.txt").write_text(text, encoding="utf-8")
    count, tokenizer_id = token_counter(tokenizer_dir)
    ingest([docs], Store(db=root / "db"), count, SplitSettings(tokenizer_id=tokenizer_id))
    return Store(db=root / "db", create=False)
