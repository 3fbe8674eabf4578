// A collapsible JSON tree on <details>/<summary> (keyboard-usable and announced by screen readers
// as they are). Children are built when a node is first opened, so a large state costs nothing
// until someone looks inside it.
import { h } from "./dom.js";

const isContainer = (value) => value !== null && typeof value === "object";

function scalar(value) {
  if (value === null) return h("span", { class: "j-null" }, "null");
  if (typeof value === "string") return h("span", { class: "j-str" }, JSON.stringify(value));
  if (typeof value === "number") return h("span", { class: "j-num" }, String(value));
  if (typeof value === "boolean") return h("span", { class: "j-bool" }, String(value));
  return h("span", {}, String(value));
}

function summaryOf(value) {
  if (Array.isArray(value)) return `[${value.length}]`;
  if (typeof value.type === "string" && "content" in value) {
    // A LangChain message: who said what reads better than its keys.
    const text = typeof value.content === "string" ? value.content : JSON.stringify(value.content);
    return `${value.type}: ${text.length > 60 ? `${text.slice(0, 59)}…` : text}`;
  }
  const keys = Object.keys(value);
  return `{${keys.length}}${keys.length ? ` ${keys.slice(0, 4).join(", ")}${keys.length > 4 ? ", …" : ""}` : ""}`;
}

function keyLabel(key) {
  return key === undefined ? null : [h("span", { class: "j-key" }, String(key)), ": "];
}

function node(key, value, depth, openDepth) {
  if (!isContainer(value)) return h("li", {}, keyLabel(key), scalar(value));
  const entries = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
  if (!entries.length) return h("li", {}, keyLabel(key), h("span", { class: "j-null" }, Array.isArray(value) ? "[]" : "{}"));
  const details = h("details", {}, h("summary", {}, keyLabel(key), h("span", { class: "j-meta" }, summaryOf(value))));
  let built = false;
  const build = () => {
    if (built) return;
    built = true;
    details.append(h("ul", {}, entries.map(([k, v]) => node(k, v, depth + 1, openDepth))));
  };
  details.addEventListener("toggle", () => details.open && build());
  if (depth < openDepth) {
    details.open = true;
    build();
  }
  return h("li", {}, details);
}

/** The tree of `value`, its first `open` levels unfolded. */
export function jsonTree(value, { open = 1, label } = {}) {
  return h("ul", { class: "json-tree", "aria-label": label }, node(undefined, value, 0, open));
}
