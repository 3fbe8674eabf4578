// Assistants: search by graph and name, a page at a time (POST /assistants/search).
import { UI } from "../api.js";
import { $, h, when } from "../dom.js";
import { listPage } from "../pager.js";
import { start } from "../shell.js";

function query({ graph_id: graph, name }) {
  const search = { sort_by: "name", sort_order: "asc" };
  if (graph.trim()) search.graph_id = graph.trim();
  if (name.trim()) search.name = name.trim();
  return search;
}

function row(assistant) {
  return h(
    "tr",
    {},
    h("td", {}, h("a", { href: `${UI}/assistants/${assistant.assistant_id}` }, assistant.name || assistant.assistant_id)),
    h("td", { class: "mono" }, assistant.graph_id),
    h("td", {}, String(assistant.version)),
    h("td", {}, when(assistant.updated_at)),
    h("td", { class: "wide" }, assistant.description || h("span", { class: "muted" }, "—")),
  );
}

start(() =>
  listPage({
    form: $("#assistant-filters"),
    defaults: { graph_id: "", name: "", offset: 0 },
    body: $("#assistants tbody"),
    columns: 5,
    path: "/assistants/search",
    pageSize: 20,
    query,
    row,
    empty: "No assistants match.",
  }).reload(),
);
