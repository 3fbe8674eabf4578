// One thread: its facts, pending interrupts (with the resume form), current values, runs (with a
// form to start one and watch its stream in any modes) and checkpoint history (with fork).
import { del, events, get, post, UI } from "../api.js";
import { $, badge, busy, duration, emptyRow, h, replace, setBadge, shortId, when } from "../dom.js";
import { historyTimeline } from "../history.js";
import { pendingInterrupts, resumeForm } from "../interrupts.js";
import { jsonTree } from "../json_tree.js";
import { runForm } from "../run_form.js";
import { start } from "../shell.js";
import { streamView } from "../stream_view.js";

const threadId = $("#thread").dataset.threadId;
const base = `/threads/${encodeURIComponent(threadId)}`;
let thread;

function facts(list) {
  return list.flatMap(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]);
}

function assistantOf(current) {
  return current.metadata?.assistant_id || current.metadata?.graph_id;
}

async function showThread() {
  thread = await get(base);
  setBadge($("#thread-status"), thread.status);
  const { graph_id: graph, assistant_id: assistant, ...metadata } = thread.metadata || {};
  replace(
    $("#thread-facts"),
    facts([
      ["Id", h("span", { class: "mono" }, thread.thread_id)],
      ["Graph", graph || h("span", { class: "muted" }, "none yet (no run)")],
      ["Assistant", assistant ? h("a", { href: `${UI}/assistants/${assistant}`, class: "mono" }, assistant) : "—"],
      ["Created", when(thread.created_at)],
      ["Updated", when(thread.updated_at)],
      ["Metadata", Object.keys(metadata).length ? jsonTree(metadata, { open: 0, label: "Metadata" }) : h("span", { class: "muted" }, "{}")],
    ]),
  );
  const chat = Array.isArray(thread.values?.messages) || !graph;
  replace(
    $("#thread-actions"),
    chat ? h("a", { class: "button secondary", href: `${UI}/chat?thread_id=${thread.thread_id}` }, "Open in chat") : null,
    h("button", { type: "button", class: "secondary", onclick: (e) => busy(e.currentTarget, copyThread) }, "Copy thread"),
    h("button", { type: "button", class: "danger", onclick: (e) => busy(e.currentTarget, deleteThread) }, "Delete thread"),
  );
}

async function copyThread() {
  const copy = await post(`${base}/copy`);
  location.href = `${UI}/threads/${copy.thread_id}`;
}

async function deleteThread() {
  if (!confirm("Delete this thread, its runs and its checkpoints?")) return;
  await del(base);
  location.href = `${UI}/threads`;
}

async function showState() {
  const state = await get(`${base}/state`);
  replace($("#state"), jsonTree(state.values ?? {}, { open: 2, label: "Current values" }));
  const interrupts = pendingInterrupts(state);
  $("#interrupts").hidden = !interrupts.length;
  replace($("#interrupt-list"), interrupts.length ? resumeForm(interrupts, resume) : null);
}

/** Resume the interrupted run: a new run on the thread with `command: {resume}`, watched live. */
function resume(value) {
  return streamRun({ assistant_id: assistantOf(thread), command: { resume: value }, stream_mode: ["values", "updates"] });
}

async function showRuns() {
  const runs = await get(`${base}/runs?limit=20`);
  const rows = runs.map((run) => {
    const live = run.status === "pending" || run.status === "running";
    return h(
      "tr",
      {},
      h("td", {}, h("a", { href: `${UI}/threads/${threadId}/runs/${run.run_id}`, class: "mono id", "aria-label": `Run ${run.run_id}` }, shortId(run.run_id))),
      h("td", {}, badge(run.status)),
      h("td", {}, when(run.created_at)),
      h("td", {}, live ? "…" : duration(run.created_at, run.updated_at)),
      h(
        "td",
        {},
        live
          ? h("button", { type: "button", class: "small danger", "aria-label": `Cancel run ${run.run_id}`, onclick: (e) => busy(e.currentTarget, () => cancel(run.run_id)) }, "Cancel")
          : null,
      ),
    );
  });
  replace($("#runs tbody"), rows.length ? rows : emptyRow(5, "No runs yet."));
}

async function cancel(runId) {
  await post(`${base}/runs/${runId}/cancel?action=interrupt`);
  await refresh();
}

/** POST /threads/{id}/runs/stream with `body`, showing each event; refreshes the page after. */
async function streamRun(body) {
  $("#new-run").open = true;
  const view = streamView($("#run-stream"));
  const stream = events("POST", `${base}/runs/stream`, body);
  try {
    await view.consume(stream, (event) => {
      if (event.event === "metadata" && event.data?.run_id) {
        view.status(`Streaming run ${event.data.run_id}…`);
        showRuns().catch(() => {});
      }
    });
  } finally {
    await refresh();
  }
}

async function refresh() {
  await Promise.all([showThread(), showState(), showRuns(), timeline.reload()]);
}

const timeline = historyTimeline({
  base,
  list: $("#history"),
  more: $("#history-more"),
  onFork: async (checkpointId, update, runAfter) => {
    const body = { checkpoint_id: checkpointId };
    if (update.values !== undefined) body.values = update.values;
    body.as_node = update.asNode || (update.values === undefined ? "__copy__" : undefined);
    const forked = await post(`${base}/state`, body);
    if (runAfter) {
      await streamRun({ assistant_id: assistantOf(thread), input: null, checkpoint_id: forked.checkpoint_id, stream_mode: ["values", "updates"] });
    } else {
      await refresh();
    }
  },
});

/**
 * The thread stream's events until the thread is idle again: it stays open across runs, ending
 * each with a `metadata` event `{status: "run_done"}`; after one, the thread is asked whether
 * another run took over (then it goes on) or not (then the stream is closed).
 */
async function* untilIdle(stream) {
  for await (const event of stream) {
    yield event;
    if (event.event === "metadata" && event.data?.status === "run_done") {
      await showRuns();
      if ((await get(base)).status !== "busy") return;
    }
  }
}

/** A run someone else started is in flight: follow the thread's stream, then show where it ended. */
async function follow() {
  $("#new-run").open = true;
  const view = streamView($("#run-stream"));
  view.status("A run is in progress: following the thread's stream…");
  try {
    await view.consume(untilIdle(events("GET", `${base}/stream?stream_mode=values&stream_mode=updates`)));
  } finally {
    await refresh();
  }
}

start(async () => {
  await showThread();
  runForm($("#run-form"), { defaultAssistant: assistantOf(thread), onSubmit: streamRun });
  await Promise.all([showState(), showRuns(), timeline.reload()]);
  if (thread.status === "busy") await follow();
});
