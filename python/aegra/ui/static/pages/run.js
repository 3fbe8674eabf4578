// One run: status and timing, its request, a live view of its stream (joined with
// GET .../stream, in the modes picked among the run's own), and cancel.
import { events, get, post, UI } from "../api.js";
import { $, busy, duration, h, replace, setBadge, when } from "../dom.js";
import { jsonTree } from "../json_tree.js";
import { start } from "../shell.js";
import { checkedModes, modeFieldset, streamView } from "../stream_view.js";

const { threadId, runId } = $("#run").dataset;
const base = `/threads/${encodeURIComponent(threadId)}/runs/${encodeURIComponent(runId)}`;
const LIVE = new Set(["pending", "running"]);
let watching = null; // the AbortController of the stream being watched

async function showRun() {
  const run = await get(base);
  setBadge($("#run-status"), run.status);
  const live = LIVE.has(run.status);
  const facts = [
    ["Id", h("span", { class: "mono" }, run.run_id)],
    ["Thread", h("a", { href: `${UI}/threads/${run.thread_id}`, class: "mono" }, run.thread_id)],
    ["Assistant", h("a", { href: `${UI}/assistants/${run.assistant_id}`, class: "mono" }, run.assistant_id)],
    ["Created", when(run.created_at)],
    [live ? "Running for" : "Took", live ? duration(run.created_at, new Date().toISOString()) : duration(run.created_at, run.updated_at)],
    ["Multitask strategy", run.multitask_strategy || "—"],
  ];
  replace($("#run-facts"), facts.flatMap(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]));
  replace(
    $("#run-actions"),
    live ? h("button", { type: "button", class: "danger", onclick: (e) => busy(e.currentTarget, () => cancel("interrupt")) }, "Cancel") : null,
    live ? h("button", { type: "button", class: "danger", onclick: (e) => busy(e.currentTarget, () => cancel("rollback")) }, "Cancel and roll back") : null,
  );
  const { input, command, config, context, stream_mode: modes } = run.kwargs || {};
  replace($("#run-kwargs"), jsonTree({ input, command, context, config, stream_mode: modes, metadata: run.metadata }, { open: 1 }));
  return run;
}

async function cancel(action) {
  await post(`${base}/cancel?action=${action}`);
  await showRun();
}

async function watch(modes) {
  watching?.abort();
  watching = new AbortController();
  const query = modes.map((mode) => `stream_mode=${encodeURIComponent(mode)}`).join("&");
  const view = streamView($("#run-stream"));
  try {
    // Last-Event-ID 0: from the first event the server still keeps (a join without it, as
    // langgraph-api's, would show only what the run sends from now on, and nothing once it ended).
    const replay = { signal: watching.signal, headers: { "Last-Event-ID": "0" } };
    await view.consume(events("GET", `${base}/stream${query ? `?${query}` : ""}`, undefined, replay));
  } finally {
    await showRun();
  }
}

start(async () => {
  const run = await showRun();
  const modes = run.kwargs?.stream_mode?.length ? run.kwargs.stream_mode : ["values"];
  const form = $("#join-form");
  const submit = h("button", { type: "submit" }, "Watch");
  const stop = h("button", { type: "button", class: "secondary", onclick: () => watching?.abort() }, "Stop watching");
  replace(
    form,
    h("p", { class: "muted small" }, "A run streams the modes it was started with; pick which of them to watch. Events already sent are replayed first, while the server keeps them (up to two minutes after the run ends)."),
    modeFieldset(modes, modes, "Modes to watch"),
    h("div", { class: "actions" }, submit, stop),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(submit, () => watch(checkedModes(form)));
  });
  if (LIVE.has(run.status)) busy(submit, () => watch(modes));
  else $("#run-stream").append(h("p", { class: "muted" }, `This run has ended (${run.status}). Watch replays what the server still keeps of its stream, if anything.`));
});
