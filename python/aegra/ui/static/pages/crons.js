// Crons: soonest first, with their next run time, and a switch to enable or disable each
// (POST /runs/crons/search, PATCH /runs/crons/{id}).
import { patch, UI } from "../api.js";
import { $, busy, h, shortId, when } from "../dom.js";
import { listPage } from "../pager.js";
import { start } from "../shell.js";

function toggle(cron) {
  const button = h("button", { type: "button", class: "small secondary", "aria-pressed": String(cron.enabled), "aria-label": `Enabled: ${cron.schedule}` }, cron.enabled ? "On" : "Off");
  button.addEventListener("click", () =>
    busy(button, async () => {
      const updated = await patch(`/runs/crons/${cron.cron_id}`, { enabled: !cron.enabled });
      Object.assign(cron, updated);
      button.setAttribute("aria-pressed", String(cron.enabled));
      button.textContent = cron.enabled ? "On" : "Off";
      const next = button.closest("tr").querySelector("td.next");
      next.replaceChildren(nextRun(cron));
    }),
  );
  return button;
}

function nextRun(cron) {
  if (!cron.enabled) return h("span", { class: "muted" }, "disabled");
  if (!cron.next_run_date) return h("span", { class: "muted" }, "none (ended)");
  return h("span", {}, when(cron.next_run_date), h("br"), h("span", { class: "small muted" }, new Date(cron.next_run_date).toLocaleString()));
}

function row(cron) {
  return h(
    "tr",
    {},
    // The switch first: on a phone the table scrolls sideways, and the one action stays in view.
    h("td", {}, toggle(cron)),
    h("td", {}, h("code", {}, cron.schedule), cron.timezone ? h("span", { class: "small muted" }, ` ${cron.timezone}`) : null),
    h("td", { class: "next" }, nextRun(cron)),
    h("td", {}, h("a", { href: `${UI}/assistants/${cron.assistant_id}`, class: "mono" }, shortId(cron.assistant_id))),
    h("td", {}, cron.thread_id ? h("a", { href: `${UI}/threads/${cron.thread_id}`, class: "mono" }, shortId(cron.thread_id)) : h("span", { class: "muted" }, "new each time")),
    h("td", {}, cron.end_time ? when(cron.end_time) : h("span", { class: "muted" }, "never")),
  );
}

start(() =>
  listPage({
    defaults: { offset: 0 },
    body: $("#crons tbody"),
    columns: 6,
    path: "/runs/crons/search",
    pageSize: 25,
    query: () => ({ sort_by: "next_run_date", sort_order: "asc" }),
    row,
    empty: "No crons.",
  }).reload(),
);
