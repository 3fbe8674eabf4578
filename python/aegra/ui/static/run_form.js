// The form that starts a run on a thread: assistant, input and context as JSON, and which of the
// stream modes to watch (every v1 mode can be picked).
import { post } from "./api.js";
import { busy, h, parseJson, replace } from "./dom.js";
import { checkedModes, modeFieldset, STREAM_MODES } from "./stream_view.js";

/** All assistants (first 200), for a <select>; `selected` may be an assistant id or a graph id. */
export async function assistantOptions(select, selected) {
  const assistants = await post("/assistants/search", { limit: 200, sort_by: "name", sort_order: "asc" });
  const pick = assistants.find((a) => a.assistant_id === selected) || assistants.find((a) => a.graph_id === selected);
  replace(
    select,
    assistants.map((a) =>
      h("option", { value: a.assistant_id, selected: a === pick }, a.name === a.graph_id ? a.name : `${a.name} (${a.graph_id})`),
    ),
  );
  return assistants;
}

export function runForm(form, { defaultAssistant, onSubmit }) {
  const submit = h("button", { type: "submit" }, "Start and stream");
  const select = h("select", { id: "run-assistant", name: "assistant" });
  replace(
    form,
    h("div", {}, h("label", { for: "run-assistant" }, "Assistant"), select),
    h("div", {}, h("label", { for: "run-input" }, "Input (JSON)"), h("textarea", { id: "run-input", name: "input", rows: 4, spellcheck: "false", placeholder: '{"messages": [{"role": "user", "content": "Hi"}]}' })),
    h("div", {}, h("label", { for: "run-context" }, "Context (JSON, optional)"), h("textarea", { id: "run-context", name: "context", rows: 2, spellcheck: "false" })),
    modeFieldset(STREAM_MODES, ["values", "updates"]),
    h("label", { class: "inline-check" }, h("input", { type: "checkbox", name: "subgraphs" }), "Include subgraph events"),
    h("div", { class: "actions" }, submit),
  );
  assistantOptions(select, defaultAssistant).catch(() => {});
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(submit, async () => {
      const body = {
        assistant_id: select.value,
        input: parseJson(form.elements.input.value, "Input", null),
        stream_mode: checkedModes(form),
        stream_subgraphs: form.elements.subgraphs.checked,
      };
      const context = parseJson(form.elements.context.value, "Context");
      if (context !== undefined) body.context = context;
      if (!body.stream_mode.length) throw new Error("Pick at least one stream mode.");
      await onSubmit(body);
    });
  });
}
