// A live view of a run's SSE stream: one row per event as it arrives, its data as a JSON tree.
import { h, replace } from "./dom.js";
import { jsonTree } from "./json_tree.js";

export const STREAM_MODES = ["values", "updates", "messages-tuple", "messages", "custom", "events", "debug", "tasks", "checkpoints"];
const MAX_ROWS = 2000; // the `events` mode can send thousands; the newest rows are what matter

/** A fieldset of stream-mode checkboxes named `stream_mode`. */
export function modeFieldset(modes, checked, legend = "Stream modes") {
  return h(
    "fieldset",
    { class: "modes" },
    h("legend", {}, legend),
    modes.map((mode) =>
      h("label", {}, h("input", { type: "checkbox", name: "stream_mode", value: mode, checked: checked.includes(mode) }), ` ${mode}`),
    ),
  );
}

export function checkedModes(form) {
  return [...form.querySelectorAll("input[name=stream_mode]:checked")].map((box) => box.value);
}

/** Fills `container` with a status line and an event log; `consume(events)` shows them as they come. */
export function streamView(container) {
  const status = h("p", { class: "stream-status", role: "status" }, "");
  const log = h("ol", { class: "events", "aria-label": "Stream events" });
  replace(container, status, log);
  let count = 0;
  let started = 0;

  function add(event) {
    count += 1;
    const offset = `+${Math.round(performance.now() - started)} ms`;
    const body = h("div", { class: "event-body" });
    const details = h(
      "details",
      {},
      h("summary", {}, h("span", { class: "ev-n" }, `#${count}`), " ", h("strong", { class: "ev-name" }, event.event), " ", h("span", { class: "muted" }, offset)),
      body,
    );
    details.addEventListener("toggle", () => details.open && !body.firstChild && body.append(jsonTree(event.data, { open: 2 })));
    log.append(h("li", { dataset: { event: event.event } }, details));
    if (log.childElementCount > MAX_ROWS) log.firstElementChild.remove();
  }

  return {
    status(text) {
      status.textContent = text;
    },
    /** Show each event of the async iterator `events`; resolves to the events, in order. */
    async consume(events, onEvent) {
      started = performance.now();
      const seen = [];
      status.textContent = "Streaming…";
      try {
        for await (const event of events) {
          seen.push(event);
          add(event);
          onEvent?.(event);
        }
        status.textContent = `Done: ${count} events in ${Math.round(performance.now() - started)} ms.`;
      } catch (error) {
        status.textContent = error.name === "AbortError" ? `Stopped after ${count} events.` : `Stream failed: ${error.message}`;
        if (error.name !== "AbortError") throw error;
      }
      return seen;
    },
  };
}
