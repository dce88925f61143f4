"""The web page in a real browser: Debian's chromium, headless, driven by Playwright (no browser download).

`scripts/test` installs chromium on a fresh machine (apt-get); Playwright only drives it through
``executable_path``.
"""

import shutil
import struct
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1280, "height": 900}


def chromium() -> str:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).is_file():
        pytest.fail("chromium is not installed: scripts/test installs it (apt-get install chromium)")
    return path


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium(), args=CHROMIUM_FLAGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN")
    page = context.new_page()
    requests_elsewhere = []
    page.on(
        "request",
        lambda r: None if r.url.startswith("http://127.0.0.1") else requests_elsewhere.append(r.url),
    )
    yield page
    context.close()
    assert not requests_elsewhere, f"the page must work offline, but it fetched {requests_elsewhere}"


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_upload_then_ask_and_watch_the_answer_stream_in_with_its_sources(
    page, served, examples_dir, tmp_path
):
    page.goto(served.url)
    expect(page.locator("#key-form")).to_be_visible()  # the API needs the key; the page asks for it
    page.fill("#api-key", served.api_key)
    page.click("#key-form button")
    expect(page.locator("#status-line")).to_contain_text("tiny-zh-llama")
    expect(page.locator("#key-form")).to_be_hidden()

    page.set_input_files("#files", [examples_dir / "臺灣高鐵.txt", examples_dir / "长城.md"])
    page.click("#upload")
    expect(page.locator("#progress")).to_be_visible()
    expect(page.locator("#progress-label")).to_contain_text("完成 done: 2/2", timeout=60_000)
    assert page.locator("#progress-bar").get_attribute("value") == "100"
    expect(page.locator("#documents li", has_text="臺灣高鐵.txt")).to_have_count(1)

    page.evaluate(
        """() => {
            window.textUpdates = 0;
            const watch = {subtree: true, childList: true, characterData: true};
            new MutationObserver(() => { window.textUpdates += 1; })
                .observe(document.getElementById("messages"), watch);
        }"""
    )
    expect(page.locator("#mode")).to_have_value("zhllama-docqa")
    page.fill("#question", "台湾高铁全长多少公里？")  # Simplified, about a Traditional document
    page.press("#question", "Enter")
    answer = page.locator("#messages > li.assistant").last
    expect(answer.locator(".sources details")).not_to_have_count(0, timeout=120_000)
    expect(answer).not_to_have_class("assistant pending")
    assert answer.locator(".text").inner_text().strip(), "the tiny model answers badly, but it answers"
    assert page.evaluate("window.textUpdates") > 3, "the answer arrived in one piece, not streamed"
    first = answer.locator(".sources details").first
    expect(first.locator("summary")).to_contain_text("[1] 臺灣高鐵.txt")
    first.locator("summary").click()
    expect(first.locator("blockquote")).to_contain_text("三百五十公里")
    expect(answer.locator(".usage")).to_contain_text("tokens")

    shot = tmp_path / "page.png"
    page.screenshot(path=str(shot), full_page=True)
    width, height = png_size(shot)
    assert width == VIEWPORT["width"] and height >= VIEWPORT["height"] and shot.stat().st_size > 20_000


def test_the_page_says_when_there_are_no_documents_or_no_model(page, served_gguf, served_search_only):
    page.goto(served_gguf.url)
    expect(page.locator("#documents-empty")).to_be_visible()
    expect(page.locator("#documents-empty")).to_contain_text("No documents yet")
    page.goto(served_search_only.url)
    expect(page.locator("#notices")).to_contain_text("No model is loaded")
    expect(page.locator("#ask")).to_be_disabled()
    expect(page.locator("#upload")).to_be_enabled()
