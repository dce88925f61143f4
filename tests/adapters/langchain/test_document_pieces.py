"""LangChain's document pieces over the docqa store and loaders: the retriever gives docqa's ranking and
citations, the embeddings are docqa's encoders, the loader decodes Chinese files as `qa ingest` does, and
the LCEL RAG example of docs/langchain.md (retriever | prompt | model) runs offline."""

import contextlib
import io
import re
from pathlib import Path

import pytest
import pytest_socket
from langchain_core.documents import Document

from zhllama.adapters.langchain import DocQAEmbeddings, DocQALoader, DocQARetriever, join_documents
from zhllama.docqa.documents import UnreadableFileError
from zhllama.docqa.retrieval import Retriever
from zhllama.docqa.store import Store, StoreNotFoundError

REPO = Path(__file__).resolve().parents[3]


def test_the_retriever_gives_docqas_ranking_with_citations(examples_db):
    retriever = DocQARetriever(db=str(examples_db), k=2)
    documents = retriever.invoke("长城有多长？")
    hits = Retriever(Store(db=examples_db, create=False)).retrieve("长城有多长？", 2)
    assert [d.id for d in documents] == [h.chunk_id for h in hits]
    first = documents[0]
    assert first.page_content == hits[0].text
    assert first.metadata["citation"] == hits[0].citation and first.metadata["source"].endswith("长城.md")
    assert first.metadata["score"] == hits[0].score
    assert len(retriever.invoke("长城", k=1)) == 1
    assert join_documents.invoke(documents) == f"{documents[0].page_content}\n\n{documents[1].page_content}"


def test_a_missing_store_is_an_error_that_says_how_to_build_it(tmp_path):
    with pytest.raises(StoreNotFoundError, match="qa ingest"):
        DocQARetriever(db=str(tmp_path / "nowhere"))


def test_the_embeddings_are_docqas_encoders(examples_db):
    store = Store(db=examples_db, create=False)
    embeddings = DocQAEmbeddings.from_store(store)
    assert embeddings.encoder.name == store.embedding
    vectors = embeddings.embed_documents(["长城", "黄河"])
    assert len(vectors) == 2 and len(vectors[0]) == 64 and isinstance(vectors[0][0], float)
    assert embeddings.embed_query("长城") == vectors[0]  # the placeholder encoder has one role


def test_the_loader_decodes_gbk_big5_utf16_and_reads_html_pdf_docx(tmp_path, examples_dir):
    import docx

    from sample_files import two_page_pdf

    (tmp_path / "big5.txt").write_bytes("臺灣高速鐵路連接臺北與高雄。".encode("big5"))
    (tmp_path / "utf16.txt").write_bytes("长江是中国最长的河流。".encode("utf-16"))
    two_page_pdf(tmp_path / "rivers.pdf")
    word = docx.Document()
    word.add_paragraph("黄河是中国第二长河。")
    word.save(tmp_path / "黄河.docx")
    (tmp_path / "empty.txt").write_bytes(b"")
    loader = DocQALoader([tmp_path, examples_dir])
    documents = loader.load()
    by_name = {Path(d.metadata["source"]).name + str(d.metadata.get("page", "")): d for d in documents}
    assert by_name["茶叶-gbk.txt"].page_content.startswith("乌龙茶是半发酵茶")
    assert by_name["茶叶-gbk.txt"].metadata["encoding"] == "gb18030"
    assert by_name["big5.txt"].page_content == "臺灣高速鐵路連接臺北與高雄。"
    assert by_name["utf16.txt"].page_content == "长江是中国最长的河流。"
    assert by_name["rivers.pdf1"].page_content == "First page about rivers."
    assert by_name["rivers.pdf2"].metadata["page"] == 2
    assert by_name["黄河.docx"].page_content == "黄河是中国第二长河。"
    assert "此段脚本不会被索引" not in by_name["熊猫.html"].page_content
    assert [(Path(path).name, "empty file" in reason) for path, reason in loader.skipped] == [
        ("empty.txt", True)
    ]
    assert all(isinstance(d, Document) for d in documents)


def test_a_file_named_explicitly_that_cannot_be_read_is_an_error_naming_it(tmp_path):
    (tmp_path / "scan.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(UnreadableFileError, match=r"scan\.png: unsupported file type"):
        DocQALoader(tmp_path / "scan.png").load()


def rag_example() -> str:
    """The RAG example of docs/langchain.md, as written there."""
    text = (REPO / "docs" / "langchain.md").read_text(encoding="utf-8")
    section = text.split("## RAG with LCEL", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)


def test_the_lcel_rag_example_in_the_docs_runs_offline(examples_db, tiny_model_dir):
    code = rag_example()
    assert "retriever | join_documents" in code and "| prompt\n    | llm" in code
    for written, here in (
        ('"~/zhqa"', repr(str(examples_db))),
        ('"~/models/chinese-alpaca-2-7b"', repr(str(tiny_model_dir))),
        ("max_new_tokens=256", "max_new_tokens=8"),
    ):
        assert written in code
        code = code.replace(written, here)
    printed = io.StringIO()
    namespace: dict = {}
    pytest_socket.disable_socket(allow_unix_socket=True)
    try:
        with contextlib.redirect_stdout(printed):
            exec(compile(code, "docs/langchain.md", "exec"), namespace)
    finally:
        pytest_socket.enable_socket()
    assert printed.getvalue().strip()
    context = namespace["retriever"].invoke("长城有多长？")
    assert context[0].metadata["source"].endswith("长城.md")
    prompt = namespace["prompt"].invoke(
        {"context": join_documents.invoke(context), "question": "长城有多长？"}
    )
    assert (
        prompt.to_messages()[0].content == f"{join_documents.invoke(context)}\n长城有多长？"
    )  # upstream's stuff-QA
