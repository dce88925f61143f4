// The zhllama page: documents (upload with progress, list, delete) and chat (streamed, with sources).
// It uses only this server's API; no library, no CDN. Text from the server is always set as text,
// never parsed as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { key: localStorage.getItem("zhllama-api-key") || "", status: null, history: [] };

function headers(extra = {}) {
  return state.key ? { ...extra, Authorization: `Bearer ${state.key}` } : extra;
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: headers(options.headers) });
  if (response.status === 401) {
    $("key-form").hidden = false;
    throw new Error("需要 API key · the server needs its API key (enter it above)");
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error((body.error && body.error.message) || `HTTP ${response.status}`);
  return body;
}

function notice(text) {
  $("notices").append(element("p", "notice", text));
}

// -- status ---------------------------------------------------------------------------------------

async function refreshStatus() {
  const status = await api("/v1/status");
  state.status = status;
  $("notices").replaceChildren();
  const parts = [];
  parts.push(status.model ? `模型 model: ${status.model.id} (${status.model.kind}, ${status.context_window} tokens)` : "没有模型 no model");
  parts.push(status.store ? `文档库 store: ${status.store}, ${status.chunks} chunks` : "没有文档库 no document store");
  $("status-line").textContent = parts.join(" · ");
  if (!status.model) {
    notice("没有加载模型，只能上传和检索文档。No model is loaded: start `zhllama serve` with --model DIR or --gguf FILE to get answers.");
  }
  if (!status.store) {
    notice("没有文档库，只能直接对话。No document store: start `zhllama serve` with --db DIR to upload documents and ask about them.");
  }
  $("upload").disabled = !status.store;
  $("files").disabled = !status.store;
  const mode = $("mode");
  const chosen = mode.value;
  mode.replaceChildren();
  if (status.docqa_model) mode.append(new Option(`文档问答 ${status.docqa_model}`, status.docqa_model));
  if (status.model) mode.append(new Option(`直接对话 ${status.model.id}`, status.model.id));
  if (chosen && [...mode.options].some((o) => o.value === chosen)) mode.value = chosen;
  $("ask").disabled = !status.model;
  $("question").disabled = !status.model;
}

// -- documents ------------------------------------------------------------------------------------

async function refreshDocuments() {
  if (!state.status || !state.status.store) return;
  const listing = await api("/v1/documents");
  const list = $("documents");
  list.replaceChildren();
  for (const doc of listing.data) {
    const item = element("li");
    item.dataset.id = doc.id;
    const label = element("span", "name", doc.name);
    label.title = doc.source;
    const chunks = element("span", "chunks", `${doc.chunks} 段 chunks`);
    const remove = element("button", "delete", "×");
    remove.title = `删除 delete ${doc.name}`;
    remove.addEventListener("click", () => removeDocument(doc));
    item.append(label, chunks, remove);
    list.append(item);
  }
  $("documents-empty").hidden = listing.data.length > 0;
}

async function removeDocument(doc) {
  if (!confirm(`删除 ${doc.name}？ Delete ${doc.name}?`)) return;
  try {
    await api(`/v1/documents/${doc.id}`, { method: "DELETE" });
  } catch (error) {
    notice(error.message);
  }
  await refreshDocuments();
  await refreshStatus();
}

function showProgress(percent, label) {
  $("progress").hidden = false;
  $("progress-bar").value = percent;
  $("progress-label").textContent = label;
}

function upload(files) {
  // XMLHttpRequest, not fetch: it reports upload progress.
  return new Promise((resolve, reject) => {
    const form = new FormData();
    for (const file of files) form.append("files", file, file.name);
    const request = new XMLHttpRequest();
    request.open("POST", "/v1/documents");
    for (const [name, value] of Object.entries(headers())) request.setRequestHeader(name, value);
    request.upload.onprogress = (event) => {
      if (event.lengthComputable) showProgress((event.loaded / event.total) * 30, "上传中 uploading…");
    };
    request.onload = () => {
      let body = {};
      try { body = JSON.parse(request.responseText); } catch { /* not JSON */ }
      if (request.status === 202) resolve(body);
      else reject(new Error((body.error && body.error.message) || `HTTP ${request.status}`));
    };
    request.onerror = () => reject(new Error("上传失败 the upload failed (is the server running?)"));
    request.send(form);
  });
}

async function ingest(event) {
  event.preventDefault();
  const files = [...$("files").files];
  if (!files.length) return;
  $("upload").disabled = true;
  $("ingest-report").replaceChildren();
  try {
    let job = await upload(files);
    while (job.status === "queued" || job.status === "running") {
      const done = job.files_total ? job.files_done / job.files_total : 0;
      showProgress(30 + done * 70, `正在导入 ingesting ${job.files_done}/${job.files_total}`);
      await new Promise((wake) => setTimeout(wake, 400));
      job = await api(`/v1/documents/jobs/${job.id}`);
    }
    if (job.status === "failed") throw new Error(job.error);
    showProgress(100, `完成 done: ${job.files_done}/${job.files_total}`);
    for (const file of job.files) {
      const reason = file.reason ? ` (${file.reason})` : "";
      $("ingest-report").append(element("li", file.action, `${file.name}: ${file.action}, ${file.chunks} chunks${reason}`));
    }
    $("files").value = "";
  } catch (error) {
    showProgress(0, "");
    $("ingest-report").append(element("li", "error", error.message));
  } finally {
    $("upload").disabled = false;
    await refreshStatus();
    await refreshDocuments();
  }
}

// -- chat -----------------------------------------------------------------------------------------

function renderSources(container, sources) {
  const box = element("div", "sources");
  box.append(element("h3", "", sources.length ? "来源 Sources" : "来源 Sources: none (no passage matched)"));
  for (const source of sources) {
    const details = element("details", "source");
    const page = source.page !== null && source.page !== undefined ? ` p. ${source.page}` : "";
    const summary = element(
      "summary", "", `[${source.rank}] ${source.name} · ${source.start}–${source.end}${page} · ${source.score.toFixed(3)}`);
    summary.title = source.file;
    details.append(summary, element("blockquote", "", source.text));
    box.append(details);
  }
  container.append(box);
}

async function* events(response) {
  // Server-sent events: "data: {...}" lines separated by blank lines.
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      for (const line of block.split("\n")) {
        if (!line.startsWith("data:")) continue;
        const data = line.slice(5).trim();
        if (data === "[DONE]") return;
        yield JSON.parse(data);
      }
    }
  }
}

async function ask(event) {
  event.preventDefault();
  const question = $("question").value.trim();
  const model = $("mode").value;
  if (!question || !model) return;
  $("question").value = "";
  $("ask").disabled = true;
  $("messages").append(element("li", "user", question));
  const answer = element("li", "assistant pending");
  const text = element("div", "text");
  answer.append(text);
  $("messages").append(answer);
  const messages = [...state.history, { role: "user", content: question }];
  let reply = "";
  try {
    const response = await fetch("/v1/chat/completions", {
      method: "POST",
      headers: headers({ "Content-Type": "application/json" }),
      body: JSON.stringify({
        model, messages, stream: true, stream_options: { include_usage: true }, sources_in_text: false,
      }),
    });
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      if (response.status === 401) $("key-form").hidden = false;
      throw new Error((body.error && body.error.message) || `HTTP ${response.status}`);
    }
    for await (const chunk of events(response)) {
      if (chunk.error) throw new Error(chunk.error.message);
      for (const choice of chunk.choices || []) {
        if (choice.delta && choice.delta.content) {
          reply += choice.delta.content;
          text.textContent = reply;
        }
      }
      if (chunk.sources) renderSources(answer, chunk.sources);
      if (chunk.usage) {
        answer.append(element("div", "usage", `${chunk.usage.prompt_tokens} + ${chunk.usage.completion_tokens} tokens`));
      }
    }
    state.history = [...messages, { role: "assistant", content: reply }];
  } catch (error) {
    answer.append(element("div", "error", error.message));
  } finally {
    answer.classList.remove("pending");
    $("ask").disabled = !(state.status && state.status.model);
  }
}

// -- start ----------------------------------------------------------------------------------------

async function start() {
  try {
    await refreshStatus();
    $("key-form").hidden = true;
    await refreshDocuments();
  } catch (error) {
    $("status-line").textContent = error.message;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    state.key = $("api-key").value.trim();
    localStorage.setItem("zhllama-api-key", state.key);
    start();
  });
  $("upload-form").addEventListener("submit", ingest);
  $("ask-form").addEventListener("submit", ask);
  $("question").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("ask-form").requestSubmit();
    }
  });
  $("new-chat").addEventListener("click", () => {
    state.history = [];
    $("messages").replaceChildren();
  });
  $("mode").addEventListener("change", () => {
    state.history = [];
  });
  start();
});
