// What every page shares: signing in and out, and starting the page's own loader.
import { AUTH_ENABLED, getToken, setToken } from "./api.js";
import { showError } from "./dom.js";

function signInDialog(reason) {
  const dialog = document.getElementById("sign-in-dialog");
  if (!dialog || dialog.open) return;
  const why = document.getElementById("sign-in-reason");
  why.hidden = !reason;
  why.textContent = reason || "";
  dialog.showModal();
  document.getElementById("token").focus();
}

function wireAuth() {
  if (!AUTH_ENABLED) return;
  const signIn = document.getElementById("sign-in");
  const signOut = document.getElementById("sign-out");
  signIn.hidden = Boolean(getToken());
  signOut.hidden = !getToken();
  signIn.addEventListener("click", () => signInDialog());
  signOut.addEventListener("click", () => {
    setToken(null);
    location.reload();
  });
  document.getElementById("sign-in-cancel").addEventListener("click", () => {
    document.getElementById("sign-in-dialog").close();
  });
  document.getElementById("sign-in-form").addEventListener("submit", (event) => {
    const token = document.getElementById("token").value.trim();
    if (!token) {
      event.preventDefault();
      return;
    }
    setToken(token);
    location.reload();
  });
  document.addEventListener("aegra:unauthorized", (event) => {
    const { status, detail } = event.detail;
    if (status === 401) signInDialog(getToken() ? `The server refused this token: ${detail}` : detail);
  });
}

/** Run the page's loader once the document is ready (modules run deferred, so it is). */
export function start(load) {
  wireAuth();
  if (AUTH_ENABLED && !getToken()) {
    signInDialog();
    showError("Sign in to see this server's data.");
    return;
  }
  Promise.resolve()
    .then(load)
    .catch((error) => showError(error));
}
