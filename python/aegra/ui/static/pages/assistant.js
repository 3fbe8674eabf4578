// One assistant: facts, a drawing of its graph, its config and context, versions, schemas.
import { get, post, UI } from "../api.js";
import { $, busy, emptyRow, h, preview, replace, showError, when } from "../dom.js";
import { drawGraph } from "../graph_svg.js";
import { jsonTree } from "../json_tree.js";
import { start } from "../shell.js";

const assistantId = $("#assistant").dataset.assistantId;
const base = `/assistants/${encodeURIComponent(assistantId)}`;

async function showAssistant() {
  const assistant = await get(base);
  $("#assistant-name").textContent = assistant.name || "Assistant";
  document.title = `${assistant.name} · Aegra console`;
  const facts = [
    ["Id", h("span", { class: "mono" }, assistant.assistant_id)],
    ["Graph", h("span", { class: "mono" }, assistant.graph_id)],
    ["Version", String(assistant.version)],
    ["Description", assistant.description || h("span", { class: "muted" }, "—")],
    ["Updated", when(assistant.updated_at)],
    ["Metadata", jsonTree(assistant.metadata || {}, { open: 0, label: "Metadata" })],
  ];
  replace($("#assistant-facts"), facts.flatMap(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]));
  replace(
    $("#assistant-actions"),
    h("a", { class: "button secondary", href: `${UI}/chat?assistant_id=${assistant.assistant_id}` }, "Chat with it"),
    h("a", { class: "button secondary", href: `${UI}/threads?metadata=${encodeURIComponent(JSON.stringify({ assistant_id: assistant.assistant_id }))}` }, "Its threads"),
  );
  replace($("#config"), jsonTree(assistant.config || {}, { open: 2, label: "Config" }));
  replace($("#context"), jsonTree(assistant.context || {}, { open: 2, label: "Context" }));
  return assistant;
}

async function showGraph(name, xray = false) {
  const figure = $("#graph");
  try {
    const graph = await get(`${base}/graph${xray ? "?xray=true" : ""}`);
    const conditional = graph.edges.some((edge) => edge.conditional);
    const toggle = h("input", { type: "checkbox", id: "xray", checked: xray });
    toggle.addEventListener("change", () => busy(toggle, () => showGraph(name, toggle.checked)));
    replace(
      figure,
      drawGraph(graph, `The graph of ${name}`),
      h(
        "figcaption",
        {},
        `${graph.nodes.length} nodes, ${graph.edges.length} edges${conditional ? "; dashed edges are conditional" : ""}. `,
        h("label", { class: "inline-check" }, toggle, "Show the nodes inside subgraphs"),
      ),
    );
  } catch (error) {
    replace(figure, h("p", { class: "muted" }, `No drawing: ${error.message}`));
  }
}

async function showVersions(current) {
  const versions = await post(`${base}/versions`, { limit: 50 });
  const rows = versions.map((version) =>
    h(
      "tr",
      {},
      h("td", {}, String(version.version), version.version === current ? [" ", h("span", { class: "badge ok" }, "active")] : null),
      h("td", {}, when(version.created_at)),
      h("td", { class: "wide mono small" }, preview({ config: version.config, context: version.context }, 120)),
      h(
        "td",
        {},
        version.version === current
          ? null
          : h("button", { type: "button", class: "small secondary", onclick: (e) => busy(e.currentTarget, () => makeActive(version.version)) }, "Make active"),
      ),
    ),
  );
  replace($("#versions tbody"), rows.length ? rows : emptyRow(4, "No versions."));
}

async function makeActive(version) {
  await post(`${base}/latest`, { version });
  const assistant = await showAssistant();
  await showVersions(assistant.version);
}

async function showSchemas() {
  try {
    const schemas = await get(`${base}/schemas`);
    replace($("#schemas"), jsonTree(schemas, { open: 1, label: "Schemas" }));
  } catch (error) {
    replace($("#schemas"), h("p", { class: "muted" }, error.message));
  }
}

start(async () => {
  const assistant = await showAssistant();
  await Promise.all([showGraph(assistant.name), showVersions(assistant.version).catch(showError), showSchemas()]);
});
