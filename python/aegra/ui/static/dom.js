// Small DOM helpers. Values from the API only ever become text nodes and attribute values, never
// markup, so nothing a graph or a user stored can run in the console.

/** h("a", {href, class: "x", onclick}, "text", child, [more]) */
export function h(tag, attrs, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") element.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(element.dataset, value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  append(element, children);
  return element;
}

export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    parent.append(child instanceof Node ? child : String(child));
  }
  return parent;
}

export function replace(parent, ...children) {
  parent.replaceChildren();
  return append(parent, children);
}

export const $ = (selector, root = document) => root.querySelector(selector);

const STATUS_CLASSES = {
  success: "ok", idle: "ok", error: "bad", timeout: "bad", interrupted: "warn", busy: "live", running: "live",
  pending: "live",
};

export function badge(status) {
  return h("span", { class: `badge ${STATUS_CLASSES[status] || ""}` }, status);
}

export function setBadge(element, status) {
  element.textContent = status;
  element.className = `badge ${STATUS_CLASSES[status] || ""}`;
}

/** A <time> showing how long ago, with the exact time in its title and datetime. */
export function when(iso) {
  if (!iso) return h("span", { class: "muted" }, "—");
  const date = new Date(iso);
  return h("time", { datetime: date.toISOString(), title: date.toLocaleString() }, relative(date));
}

export function relative(date) {
  const seconds = Math.round((date.getTime() - Date.now()) / 1000);
  const units = [["year", 31536000], ["month", 2592000], ["day", 86400], ["hour", 3600], ["minute", 60]];
  const format = new Intl.RelativeTimeFormat(undefined, { numeric: "auto", style: "short" });
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size) return format.format(Math.round(seconds / size), unit);
  }
  return format.format(seconds, "second");
}

export function duration(fromIso, toIso) {
  const ms = new Date(toIso).getTime() - new Date(fromIso).getTime();
  if (!Number.isFinite(ms) || ms < 0) return "—";
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60000)} min ${Math.round((ms % 60000) / 1000)} s`;
}

// Thread and run ids are UUIDv7: time first, so ids made the same minute share their first
// characters. A shortened id keeps the end, which is random.
const TAIL = 8;

/** The end of an id, marked as cut. */
export function shortId(id) {
  return `…${String(id).slice(-TAIL)}`;
}

/** An id in two parts, so that a narrow screen can hide the head (console.css) and keep the tail. */
export function idParts(id) {
  const text = String(id);
  return [h("span", { class: "id-head" }, text.slice(0, -TAIL)), h("span", { class: "id-tail" }, text.slice(-TAIL))];
}

/** A one-line JSON preview, cut at `max` characters. */
export function preview(value, max = 80) {
  const text = JSON.stringify(value) ?? "";
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Parse a JSON text field; "" gives `fallback`. Throws a readable error naming the field. */
export function parseJson(text, what, fallback = undefined) {
  if (!text.trim()) return fallback;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`${what} is not valid JSON: ${error.message}`);
  }
}

/** Show a message in the page's alert area (role=alert: screen readers announce it). */
export function showError(error) {
  const alert = document.getElementById("alert");
  alert.textContent = error instanceof Error ? error.message : String(error);
  alert.hidden = false;
}

export function clearError() {
  const alert = document.getElementById("alert");
  alert.hidden = true;
  alert.textContent = "";
}

/** Run an async action from a button or form: disable it meanwhile, and show any error. */
export async function busy(control, action) {
  if (control) control.disabled = true;
  clearError();
  try {
    return await action();
  } catch (error) {
    if (error.name !== "AbortError") showError(error);
    return undefined;
  } finally {
    if (control) control.disabled = false;
  }
}

export function emptyRow(columns, text) {
  return h("tr", {}, h("td", { colspan: columns, class: "muted" }, text));
}

/** A random UUID; crypto.randomUUID exists only in secure contexts (not http://<lan-ip>). */
export function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
