"""The ingest progress line: drawn on a terminal with files, chunks, rate and ETA; silent otherwise."""

import io

from zhllama.cli.progress import IngestProgressLine, progress_line
from zhllama.docqa.ingest import IngestProgress


def test_the_line_shows_files_chunks_rate_and_an_eta_from_the_bytes_read():
    progress = IngestProgress(files_total=10, bytes_total=1000, files_done=3, bytes_done=250, chunks=840)
    assert progress_line(progress, elapsed=2.0) == (
        "ingesting  25% | files 3/10 | 840 chunks, 420/s | ETA 0:00:06"
    )
    assert progress_line(IngestProgress(4, 0, 4, 0, 0), elapsed=0.0).startswith("ingesting 100% | files 4/4")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_sees_the_line_redrawn_and_erased_and_a_pipe_sees_nothing():
    terminal, pipe = Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        with IngestProgressLine(stream) as show:
            show(IngestProgress(2, 100, 1, 50, 7))
    drawn = terminal.getvalue()
    assert drawn.startswith("\ringesting  50% | files 1/2 | 7 chunks")
    assert drawn.endswith("\r" + " " * len(drawn.split("\r")[1]) + "\r")
    assert pipe.getvalue() == ""


def test_qa_ingest_into_a_pipe_prints_the_report_and_no_progress(tmp_path, run_cli):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("长江是中国最长的河流。", encoding="utf-8")
    result = run_cli("qa", "ingest", str(docs), "--db", str(tmp_path / "db"))
    assert "\r" not in result.stderr + result.stdout and "ETA" not in result.stderr
    assert "1 added" in result.stdout
