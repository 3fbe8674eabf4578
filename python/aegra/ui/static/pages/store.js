// The store: namespaces as a tree (POST /store/namespaces, one level at a time as branches
// open), the items under the chosen namespace, and semantic search with scores
// (POST /store/items/search with `query`).
import { post } from "../api.js";
import { $, busy, clearError, emptyRow, h, parseJson, replace, showError, when } from "../dom.js";
import { jsonTree } from "../json_tree.js";
import { pager } from "../pager.js";
import { start } from "../shell.js";

const PAGE = 20;
const TREE_LIMIT = 200; // children listed per branch
let selected = []; // the namespace whose items are shown; [] = all
let offset = 0;
const itemsPager = pager((to) => showItems(to), PAGE);

async function children(prefix) {
  const body = { max_depth: prefix.length + 1, limit: TREE_LIMIT };
  if (prefix.length) body.prefix = prefix;
  const { namespaces } = await post("/store/namespaces", body);
  const seen = new Set();
  return namespaces
    .filter((ns) => ns.length === prefix.length + 1)
    .filter((ns) => !seen.has(ns.join("\u0000")) && seen.add(ns.join("\u0000")))
    .sort((a, b) => a[a.length - 1].localeCompare(b[b.length - 1]));
}

function select(namespace, button) {
  selected = namespace;
  document.querySelectorAll(".ns-name[aria-current]").forEach((b) => b.removeAttribute("aria-current"));
  button.setAttribute("aria-current", "true");
  $("#items-ns").textContent = namespace.length ? namespace.join(" / ") : "(all)";
  showItems(0);
}

function branch(namespace) {
  const sub = h("ul", { hidden: true });
  const name = h("button", { type: "button", class: "ns-name", title: namespace.join(" / ") }, namespace[namespace.length - 1]);
  const toggle = h("button", { type: "button", class: "toggle", "aria-expanded": "false", "aria-label": `Show namespaces in ${namespace.join(" / ")}` }, "▸");
  let loaded = false;
  toggle.addEventListener("click", () =>
    busy(toggle, async () => {
      const open = toggle.getAttribute("aria-expanded") !== "true";
      if (open && !loaded) {
        const found = await children(namespace);
        loaded = true;
        replace(sub, found.length ? found.map(branch) : h("li", { class: "muted small" }, "no deeper namespaces"));
      }
      toggle.setAttribute("aria-expanded", String(open));
      toggle.textContent = open ? "▾" : "▸";
      sub.hidden = !open;
    }),
  );
  name.addEventListener("click", () => select(namespace, name));
  return h("li", { dataset: { namespace: namespace.join("/") } }, h("div", { class: "ns" }, toggle, name), sub);
}

async function showTree() {
  const top = await children([]);
  const all = h("button", { type: "button", class: "ns-name", "aria-current": "true" }, "(all)");
  all.addEventListener("click", () => select([], all));
  replace($("#namespaces"), h("li", {}, h("div", { class: "ns" }, h("span", { class: "toggle" }), all)), top.map(branch));
}

function itemRow(item) {
  const value = h("details", {}, h("summary", { class: "mono small" }, JSON.stringify(item.value).slice(0, 90)), h("div", { class: "json-box" }, jsonTree(item.value, { open: 2 })));
  return h(
    "tr",
    {},
    h("td", { class: "mono" }, item.key),
    h("td", { class: "mono small" }, item.namespace.join(" / ")),
    h("td", { class: "score" }, typeof item.score === "number" ? item.score.toFixed(3) : h("span", { class: "muted" }, "—")),
    h("td", { class: "opt" }, when(item.updated_at)),
    h("td", { class: "value" }, value),
  );
}

async function showItems(to) {
  const form = $("#store-search");
  const body = $("#items tbody");
  try {
    clearError();
    const search = { namespace_prefix: selected, limit: PAGE, offset: to };
    const query = form.elements.query.value.trim();
    if (query) search.query = query;
    const filter = parseJson(form.elements.filter.value, "Filter");
    if (filter !== undefined) search.filter = filter;
    // The store API has no "next page" header: a full page means there may be more.
    const { items } = await post("/store/items/search", search);
    offset = to;
    replace(body, items.length ? items.map(itemRow) : emptyRow(5, query ? "Nothing matches." : "No items here."));
    itemsPager.show(offset, items.length, items.length === PAGE ? offset + PAGE : null);
  } catch (error) {
    showError(error);
  }
}

start(async () => {
  $("#items-ns").textContent = "(all)";
  $("#store-search").addEventListener("submit", (event) => {
    event.preventDefault();
    showItems(0);
  });
  await Promise.all([showTree(), showItems(0)]);
});
