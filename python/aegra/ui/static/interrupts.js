// Pending interrupts and the form that resumes them: `Command(resume=...)`, given as JSON.
import { busy, h, parseJson } from "./dom.js";
import { jsonTree } from "./json_tree.js";

/**
 * A form for `interrupts` ([{id, value}]). On submit, `resume(value)` is called with the resume
 * value: the one JSON value when one interrupt waits, else {interrupt_id: value} for each.
 */
export function resumeForm(interrupts, resume) {
  const fields = interrupts.map((interrupt, index) => {
    const id = `resume-${index}`;
    return h(
      "div",
      { class: "interrupt" },
      h("div", { class: "json-box" }, jsonTree(interrupt.value, { open: 3, label: "What the graph asks" })),
      h("label", { for: id }, interrupts.length > 1 ? `Answer ${index + 1} (JSON)` : "Resume with (JSON)"),
      h("textarea", { id, name: "resume", rows: 3, required: true, spellcheck: "false", placeholder: '"yes", 42 or {"approved": true}', "data-interrupt-id": interrupt.id }),
    );
  });
  const submit = h("button", { type: "submit" }, "Resume");
  const form = h("form", { class: "resume-form stack", "aria-label": "Resume the run" }, fields, h("div", { class: "actions" }, submit));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(submit, async () => {
      const boxes = [...form.querySelectorAll("textarea[name=resume]")];
      const values = boxes.map((box, i) => parseJson(box.value, boxes.length > 1 ? `Answer ${i + 1}` : "The resume value"));
      const value = boxes.length === 1 ? values[0] : Object.fromEntries(boxes.map((box, i) => [box.dataset.interruptId, values[i]]));
      await resume(value);
    });
  });
  return form;
}

/** The interrupts of a thread state (`GET /threads/{id}/state`): top-level, else its tasks'. */
export function pendingInterrupts(state) {
  if (state?.interrupts?.length) return state.interrupts;
  return (state?.tasks || []).flatMap((task) => task.interrupts || []);
}
