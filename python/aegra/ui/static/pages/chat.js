// Chat with a graph whose state has `messages`: each message starts a run on the thread
// (POST /threads/{id}/runs/stream, modes messages-tuple + values); tokens show as they stream,
// and a run that stops at an interrupt shows the resume form instead of the composer.
import { events, get, post, UI } from "../api.js";
import { $, busy, h, replace, showError, uuid } from "../dom.js";
import { pendingInterrupts, resumeForm } from "../interrupts.js";
import { transcript } from "../messages.js";
import { assistantOptions } from "../run_form.js";
import { start } from "../shell.js";

const params = new URLSearchParams(location.search);
let threadId = params.get("thread_id");
let runId = null;
let controller = null;
const chat = transcript($("#transcript"));
const composer = $("#composer");
const select = $("#assistant");
const chatGraphs = new Map(); // assistant id -> whether its state has `messages`

function showThreadId() {
  const label = $("#chat-thread");
  replace(label, threadId ? h("a", { href: `${UI}/threads/${threadId}`, class: "mono" }, threadId) : "new");
}

async function checkAssistant() {
  const id = select.value;
  if (!id) return;
  if (!chatGraphs.has(id)) {
    const schemas = await get(`/assistants/${encodeURIComponent(id)}/schemas`);
    const properties = schemas.state_schema?.properties || schemas.input_schema?.properties || {};
    chatGraphs.set(id, "messages" in properties);
  }
  const ok = chatGraphs.get(id);
  const note = $("#chat-note");
  note.hidden = ok;
  note.textContent = ok ? "" : "This assistant's graph has no `messages` in its state, so it cannot chat. Pick another, or start a run from a thread page.";
  $("#send").disabled = !ok;
}

function setStreaming(streaming) {
  // Screen readers announce the transcript (a polite live region) once the reply is complete,
  // not at every token.
  $("#transcript").setAttribute("aria-busy", String(streaming));
  $("#send").disabled = streaming;
  $("#stop").hidden = !streaming;
  select.disabled = streaming || Boolean(threadId);
}

function showInterrupts(interrupts) {
  const box = $("#chat-interrupt");
  composer.hidden = interrupts.length > 0;
  if (!interrupts.length) {
    box.replaceChildren();
    return;
  }
  replace(
    box,
    h("section", { "aria-labelledby": "chat-interrupt-title", class: "stack" }, h("h2", { id: "chat-interrupt-title" }, "The graph is waiting for you"), resumeForm(interrupts, (value) => stream({ command: { resume: value } }))),
  );
  box.querySelector("textarea")?.focus();
}

/** One run on the thread, streamed into the transcript. */
async function stream(payload) {
  if (!threadId) {
    threadId = (await post("/threads", {})).thread_id;
    history.replaceState(null, "", `?thread_id=${threadId}`);
    showThreadId();
  }
  showInterrupts([]);
  setStreaming(true);
  controller = new AbortController();
  let interrupts = [];
  const body = { assistant_id: select.value, stream_mode: ["messages-tuple", "values"], ...payload };
  try {
    for await (const event of events("POST", `/threads/${threadId}/runs/stream`, body, { signal: controller.signal })) {
      // Follow the conversation as it grows, unless the reader has scrolled up to read.
      const following = innerHeight + scrollY >= document.documentElement.scrollHeight - 80;
      if (event.event === "metadata") runId = event.data?.run_id;
      else if (event.event === "messages") {
        const [message] = event.data;
        if (message?.type?.endsWith("Chunk")) chat.chunk(message);
        else if (message) chat.put(message);
      } else if (event.event === "values") {
        if (Array.isArray(event.data?.messages)) chat.sync(event.data.messages);
        interrupts = event.data?.__interrupt__ || [];
      } else if (event.event === "error") {
        showError(`The run failed: ${event.data?.message || event.data?.error || JSON.stringify(event.data)}`);
      }
      if (following) scrollTo(0, document.documentElement.scrollHeight);
    }
  } catch (error) {
    if (error.name !== "AbortError") throw error;
  } finally {
    chat.settle();
    setStreaming(false);
    controller = null;
    runId = null;
  }
  showInterrupts(interrupts);
}

async function stop() {
  const run = runId;
  controller?.abort();
  if (run) await post(`/threads/${threadId}/runs/${run}/cancel?action=interrupt`);
}

async function loadThread() {
  const thread = await get(`/threads/${encodeURIComponent(threadId)}`);
  const state = await get(`/threads/${encodeURIComponent(threadId)}/state`);
  chat.sync(state.values?.messages || []);
  showInterrupts(pendingInterrupts(state));
  return thread.metadata?.assistant_id || thread.metadata?.graph_id;
}

start(async () => {
  // Listeners first: a message typed while the page loads must not submit the form natively.
  const message = $("#message");
  composer.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = message.value.trim();
    if (!text || controller || $("#send").disabled) return; // still loading, or a run streams
    const human = { id: uuid(), type: "human", content: text };
    chat.put(human);
    message.value = "";
    busy(null, () => stream({ input: { messages: [human] } }));
  });
  message.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      composer.requestSubmit();
    }
  });
  $("#stop").addEventListener("click", () => busy(null, stop));
  $("#new-chat").addEventListener("click", () => {
    location.href = `${UI}/chat${select.value ? `?assistant_id=${select.value}` : ""}`;
  });
  select.addEventListener("change", () => busy(null, checkAssistant));

  showThreadId();
  const wanted = threadId ? await loadThread() : params.get("assistant_id");
  await assistantOptions(select, wanted);
  select.disabled = Boolean(threadId);
  await checkAssistant();
});
