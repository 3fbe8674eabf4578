// A thread's checkpoint history as a timeline, newest first (POST /threads/{id}/history, paged
// with `before`), each checkpoint with its values and a form to fork the thread from it.
import { post } from "./api.js";
import { busy, h, parseJson, replace, when } from "./dom.js";
import { jsonTree } from "./json_tree.js";

const PAGE = 10;
let forms = 0;

function forkForm(checkpointId, onFork) {
  forms += 1;
  const valuesId = `fork-values-${forms}`;
  const nodeId = `fork-node-${forms}`;
  const runId = `fork-run-${forms}`;
  const submit = h("button", { type: "submit" }, "Fork");
  const form = h(
    "form",
    { class: "stack", "aria-label": `Fork from checkpoint ${checkpointId}` },
    h("p", { class: "muted small" }, "A fork is a new checkpoint after this one, with your update applied (or none: a plain copy). Runs continue from it; the later checkpoints stay in the history."),
    h("div", {}, h("label", { for: valuesId }, "State update (JSON, optional)"), h("textarea", { id: valuesId, rows: 3, spellcheck: "false", placeholder: '{"key": "new value"}' })),
    h("div", {}, h("label", { for: nodeId }, "As node (optional)"), h("input", { id: nodeId, spellcheck: "false", autocomplete: "off" })),
    h("label", { class: "inline-check" }, h("input", { type: "checkbox", id: runId, checked: true }), "Run the graph from the fork"),
    h("div", { class: "actions" }, submit),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(submit, async () => {
      const values = parseJson(form.querySelector(`#${valuesId}`).value, "The state update");
      const asNode = form.querySelector(`#${nodeId}`).value.trim() || undefined;
      await onFork(checkpointId, { values, asNode }, form.querySelector(`#${runId}`).checked);
    });
  });
  return form;
}

function item(snapshot, onFork) {
  const checkpointId = snapshot.checkpoint?.checkpoint_id || snapshot.checkpoint_id;
  const metadata = snapshot.metadata || {};
  const interrupts = (snapshot.tasks || []).reduce((n, task) => n + (task.interrupts?.length || 0), 0);
  const valuesBox = h("div", { class: "json-box" });
  const values = h("details", {}, h("summary", {}, "Values"), valuesBox);
  values.addEventListener("toggle", () => values.open && !valuesBox.firstChild && valuesBox.append(jsonTree(snapshot.values ?? {}, { open: 1 })));
  return h(
    "li",
    { dataset: { checkpointId } },
    h(
      "div",
      { class: "cp-head" },
      h("strong", {}, `Step ${metadata.step ?? "?"}`),
      h("span", { class: "badge" }, metadata.source || "checkpoint"),
      when(snapshot.created_at),
      h("span", { class: "mono small muted" }, checkpointId),
    ),
    h(
      "div",
      { class: "small" },
      snapshot.next?.length ? `Next: ${snapshot.next.join(", ")}` : "Next: nothing (the run ended here)",
      interrupts ? ` · ${interrupts} interrupt${interrupts > 1 ? "s" : ""} waiting` : "",
    ),
    values,
    h("details", {}, h("summary", {}, "Fork from here"), forkForm(checkpointId, onFork)),
  );
}

export function historyTimeline({ base, list, more, onFork }) {
  let last = null;

  async function page(before) {
    const body = { limit: PAGE };
    if (before) body.before = before;
    const snapshots = await post(`${base}/history`, body);
    const items = snapshots.map((snapshot) => item(snapshot, onFork));
    if (before) list.append(...items);
    else replace(list, items.length ? items : h("li", { class: "muted" }, "No checkpoints yet."));
    last = snapshots.length ? snapshots[snapshots.length - 1].checkpoint?.checkpoint_id : null;
    more.hidden = snapshots.length < PAGE;
  }

  more.addEventListener("click", () => busy(more, () => page(last)));
  return { reload: () => page(null) };
}
