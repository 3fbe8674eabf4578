// Threads: search by status, metadata and id, newest first, a page at a time (POST /threads/search).
import { UI } from "../api.js";
import { $, badge, h, idParts, parseJson, preview, when } from "../dom.js";
import { listPage } from "../pager.js";
import { start } from "../shell.js";

// Values can be large; the list needs none of them.
const SELECT = ["thread_id", "status", "created_at", "updated_at", "metadata"];

function query({ status, metadata, thread }) {
  const search = { select: SELECT, sort_by: "updated_at", sort_order: "desc" };
  if (status) search.status = status;
  const filter = parseJson(metadata, "Metadata");
  if (filter !== undefined) search.metadata = filter;
  if (thread.trim()) search.ids = [thread.trim()];
  return search;
}

function row(thread) {
  const { graph_id: graph, assistant_id: _, ...rest } = thread.metadata || {};
  return h(
    "tr",
    {},
    h("td", {}, h("a", { href: `${UI}/threads/${thread.thread_id}`, class: "mono id", "aria-label": `Thread ${thread.thread_id}` }, idParts(thread.thread_id))),
    h("td", {}, badge(thread.status)),
    h("td", {}, graph || h("span", { class: "muted" }, "—")),
    h("td", {}, when(thread.updated_at)),
    h("td", { class: "wide mono small" }, preview(rest, 100)),
  );
}

start(() =>
  listPage({
    form: $("#thread-filters"),
    defaults: { status: "", metadata: "", thread: "", offset: 0 },
    body: $("#threads tbody"),
    columns: 5,
    path: "/threads/search",
    pageSize: 20,
    query,
    row,
    empty: "No threads match.",
  }).reload(),
);
