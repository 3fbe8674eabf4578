// Every byte the console shows comes through here: the server's public HTTP API, called with the
// token the user gave (kept in this tab's sessionStorage), so auth filters apply as for any client.

const html = document.documentElement;
export const ROOT = html.dataset.root || "";
export const UI = html.dataset.ui || "/ui";
export const AUTH_ENABLED = html.dataset.auth === "on";
const TOKEN_KEY = "aegra.console.token";

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

// A bare token is sent as a bearer token; a value that already names its scheme ("Basic x",
// "Bearer x") is sent as typed, for auth handlers that expect another scheme.
function authorization() {
  const token = getToken();
  if (!token) return {};
  return { Authorization: /^[A-Za-z][\w.+-]*\s+\S/.test(token) ? token : `Bearer ${token}` };
}

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
    this.detail = detail;
  }
}

async function errorOf(response) {
  let detail = `${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    if (body && typeof body.detail === "string") detail = body.detail;
  } catch {
    // not JSON: keep the status line
  }
  if (response.status === 401 || response.status === 403) {
    document.dispatchEvent(new CustomEvent("aegra:unauthorized", { detail: { status: response.status, detail } }));
  }
  return new ApiError(response.status, detail);
}

function request(method, path, body, extra = {}) {
  const headers = { ...authorization(), ...(extra.headers || {}) };
  const init = { method, headers, signal: extra.signal };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  return fetch(ROOT + path, init);
}

/** Call the API; resolves to {data, headers}; rejects with ApiError carrying the API's `detail`. */
export async function call(method, path, body, extra) {
  const response = await request(method, path, body, extra);
  if (!response.ok) throw await errorOf(response);
  const text = response.status === 204 ? "" : await response.text();
  return { data: text ? JSON.parse(text) : null, headers: response.headers };
}

export const get = async (path, extra) => (await call("GET", path, undefined, extra)).data;
export const post = async (path, body, extra) => (await call("POST", path, body ?? {}, extra)).data;
export const patch = async (path, body, extra) => (await call("PATCH", path, body, extra)).data;
export const del = async (path, extra) => (await call("DELETE", path, undefined, extra)).data;

/** A page of a search: the items and the offset of the next page (from X-Pagination-Next), if any. */
export async function searchPage(path, body) {
  const { data, headers } = await call("POST", path, body);
  const next = headers.get("x-pagination-next");
  return { items: data, next: next === null ? null : Number(next) };
}

/**
 * Server-sent events of a POST or GET, as {event, data, id} objects (data parsed as JSON).
 * fetch rather than EventSource: EventSource can neither POST a body nor send the Authorization
 * header. The parser follows the SSE spec's field rules (event/data/id lines, a blank line ends
 * an event, lines starting with ':' are comments); written here because no browser API parses
 * SSE from a fetch body and the console takes no third-party JavaScript.
 */
export async function* events(method, path, body, { signal, headers } = {}) {
  const response = await request(method, path, body, { signal, headers: { Accept: "text/event-stream", ...headers } });
  if (!response.ok) throw await errorOf(response);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let event = { event: "message", data: [], id: null };
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      // A trailing "\r" may be the first half of a "\r\n" split across chunks: wait for the next.
      const held = buffer.endsWith("\r") ? "\r" : "";
      const lines = (held ? buffer.slice(0, -1) : buffer).split(/\r\n|\r|\n/);
      buffer = lines.pop() + held;
      for (const line of lines) {
        if (line === "") {
          if (event.data.length) yield finish(event);
          event = { event: "message", data: [], id: null };
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? "" : line.slice(colon + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        if (field === "event") event.event = value;
        else if (field === "data") event.data.push(value);
        else if (field === "id") event.id = value;
      }
    }
    if (event.data.length) yield finish(event);
  } finally {
    reader.cancel().catch(() => {});
  }
}

function finish(event) {
  const text = event.data.join("\n");
  let data;
  try {
    data = JSON.parse(text);
  } catch {
    data = text;
  }
  return { event: event.event, data, id: event.id };
}
