// Offset paging for the list pages: Previous / Next buttons and "1–20" in #range; the page's
// filters and offset live in the URL's query string, so Back, Forward and links keep them.
import { searchPage } from "./api.js";
import { clearError, emptyRow, replace, showError } from "./dom.js";

export function queryState(defaults) {
  const params = new URLSearchParams(location.search);
  const state = { ...defaults };
  for (const key of Object.keys(defaults)) {
    if (params.has(key)) state[key] = typeof defaults[key] === "number" ? Number(params.get(key)) || 0 : params.get(key);
  }
  return state;
}

export function pushState(state, defaults) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(state)) {
    if (value !== defaults[key] && value !== "" && value !== null) params.set(key, String(value));
  }
  const query = params.toString();
  history.pushState(null, "", query ? `?${query}` : location.pathname);
}

/** Wire #prev/#next: `go(offset)` loads that page. `show(offset, count, next)` updates them. */
export function pager(go, pageSize) {
  const prev = document.getElementById("prev");
  const next = document.getElementById("next");
  const range = document.getElementById("range");
  let current = 0;
  let nextOffset = null;
  prev.addEventListener("click", () => go(Math.max(0, current - pageSize)));
  next.addEventListener("click", () => nextOffset !== null && go(nextOffset));
  return {
    show(offset, count, following) {
      current = offset;
      nextOffset = following;
      prev.disabled = offset === 0;
      next.disabled = following === null;
      range.textContent = count ? `${offset + 1}–${offset + count}${following === null ? "" : " of more"}` : "";
    },
  };
}

/**
 * A search page: `form` (optional) holds the filters named in `defaults`; `query(state)` turns
 * them into the search body (it may throw on bad input); `row(item)` draws one <tr> in `body`.
 */
export function listPage({ form, defaults, body, columns, path, pageSize, query, row, empty }) {
  const names = Object.keys(defaults).filter((name) => name !== "offset");
  let state = queryState(defaults);
  const pages = pager((offset) => load({ ...state, offset }, true), pageSize);

  async function load(next, push) {
    try {
      clearError();
      const page = await searchPage(path, { limit: pageSize, offset: next.offset, ...query(next) });
      state = next;
      if (push) pushState(state, defaults);
      replace(body, page.items.length ? page.items.map(row) : emptyRow(columns, empty));
      pages.show(next.offset, page.items.length, page.next);
    } catch (error) {
      replace(body, emptyRow(columns, "—"));
      showError(error);
    }
  }

  const fill = (values) => names.forEach((name) => (form.elements[name].value = values[name]));
  if (form) {
    fill(state);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      load({ ...Object.fromEntries(names.map((name) => [name, form.elements[name].value])), offset: 0 }, true);
    });
  }
  window.addEventListener("popstate", () => {
    const back = queryState(defaults);
    if (form) fill(back);
    load(back, false);
  });
  return { reload: () => load(state, false) };
}
