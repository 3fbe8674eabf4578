"""Who sees what in the console: with an auth handler the pages ask for a token, keep it in the
tab's session storage and send it on every API call, so each user sees only what the API shows
them (SQLite and PostgreSQL). And where the console lives: under `http.mount_prefix`, or nowhere
with `http.disable_ui`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_sync_client

from tests.e2e.test_auth import headers, token, write_project
from tests.support.browser import PageErrors, chromium
from tests.support.postgres import database_for
from tests.support.server import RunningServer, granian_server

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as running:
        yield running


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    folder = tmp_path_factory.mktemp(f"console-auth-{request.param}")
    env = {**write_project(folder), "DATABASE_URL": database_for(request, folder)}
    with granian_server(folder, env) as running:
        yield running


def sign_in(page: Any, value: str) -> None:
    dialog = page.get_by_role("dialog", name="Sign in")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Token").fill(value)
    dialog.get_by_role("button", name="Sign in").click()


def test_each_user_sees_only_their_threads(server: RunningServer, browser: Any) -> None:
    alices = get_sync_client(url=server.url, headers=headers("alice")).threads.create(metadata={"note": "alice's"})
    bobs = get_sync_client(url=server.url, headers=headers("bob")).threads.create(metadata={"note": "bob's"})
    context = browser.new_context()
    page = context.new_page()
    errors = PageErrors(page)
    page.goto(f"{server.url}/ui/threads")
    # No token yet: the page asks for one and shows nothing.
    expect(page.get_by_role("alert")).to_contain_text("Sign in")
    sign_in(page, token("bob"))
    rows = page.locator("#threads tbody tr")
    expect(rows.first).to_contain_text(bobs["thread_id"])
    assert alices["thread_id"] not in page.locator("#threads").inner_text()
    # Alice's thread, asked for by id, is as absent as one that never existed.
    page.goto(f"{server.url}/ui/threads/{alices['thread_id']}")
    expect(page.get_by_role("alert")).to_contain_text("not found")
    # The token lives in this tab's session storage only: no cookie, nothing in local storage.
    assert page.evaluate("sessionStorage.getItem('aegra.console.token')") == token("bob")
    assert page.evaluate("localStorage.length") == 0 and context.cookies() == []

    page.goto(f"{server.url}/ui/threads")
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, token("alice"))
    expect(rows.first).to_contain_text(alices["thread_id"])
    assert bobs["thread_id"] not in page.locator("#threads").inner_text()
    errors.assert_none(allowed=("401", "404"))  # the browser logs the API's refusals itself
    context.close()


def test_a_refused_token_asks_again_with_the_reason(server: RunningServer, browser: Any) -> None:
    page = browser.new_page()
    page.goto(f"{server.url}/ui/assistants")
    sign_in(page, "not-a-valid-token")
    dialog = page.get_by_role("dialog", name="Sign in")
    expect(dialog).to_contain_text("The server refused this token: Invalid token")
    page.close()


def test_the_pages_are_open_but_the_api_is_not(server: RunningServer) -> None:
    """The shells carry no data, so they need no token; every API call behind them does."""
    page = httpx.get(f"{server.url}/ui/threads")
    assert page.status_code == 200 and 'data-auth="on"' in page.text
    assert not [path for path in httpx.get(f"{server.url}/openapi.json").json()["paths"] if "/ui" in path]
    assert httpx.post(f"{server.url}/threads/search", json={}).status_code == 401
    assert httpx.post(f"{server.url}/threads/search", json={}, headers=headers("bob")).status_code == 200


def test_the_console_follows_the_mount_prefix(tmp_path: Path, browser: Any) -> None:
    env = write_project(tmp_path, http={"mount_prefix": "/agents"})
    with granian_server(tmp_path, env) as running:
        thread = get_sync_client(url=f"{running.url}/agents", headers=headers("carol")).threads.create()
        assert httpx.get(f"{running.url}/ui").status_code == 404
        context = browser.new_context()
        context.add_init_script(f"sessionStorage.setItem('aegra.console.token', {token('carol')!r})")
        page = context.new_page()
        errors = PageErrors(page)
        page.goto(f"{running.url}/agents/ui")
        expect(page.locator("#threads tbody tr").first).to_contain_text(thread["thread_id"])
        page.get_by_role("link", name=thread["thread_id"]).click()
        expect(page.locator("#thread-status")).to_have_text("idle")
        assert page.url == f"{running.url}/agents/ui/threads/{thread['thread_id']}"
        errors.assert_none()
        context.close()


def test_disable_ui_leaves_the_console_out(tmp_path: Path) -> None:
    env = write_project(tmp_path, auth=False, http={"disable_ui": True})
    with granian_server(tmp_path, env) as running:
        assert httpx.get(f"{running.url}/ui").status_code == 404
        assert httpx.get(f"{running.url}/ui/threads").status_code == 404
        assert httpx.post(f"{running.url}/threads/search", json={}).status_code == 200
        assert not [path for path in httpx.get(f"{running.url}/openapi.json").json()["paths"] if "/ui" in path]
