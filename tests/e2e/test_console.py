"""The console at /ui in a real browser (Debian's chromium, driven by Playwright), against a real
server on SQLite and on PostgreSQL: what the SDK made shows in the pages, and what is done in the
pages (chat, resume, fork, cancel, cron switches) reaches the server, checked back with the SDK."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from langgraph_sdk import get_sync_client
from langgraph_sdk.client import SyncLangGraphClient

from tests.graphs import TEST_GRAPHS_DIR
from tests.support.browser import PageErrors, chromium, save_screenshots
from tests.support.postgres import database_for
from tests.support.server import RunningServer, granian_server

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

GRAPHS = {
    "agent": "agent.py:graph",
    "tool_agent": "tool_agent.py:graph",
    "interrupting": "interrupting.py:graph",
    "slow": "slow.py:graph",
    "chat_approval": "chat_approval.py:graph",
}
# A deterministic embedding for the store's semantic search: one dimension per word of VOCABULARY.
EMBED_FILE = """
VOCABULARY = ["tea", "coffee", "cat", "garden", "bread", "rain", "music", "code"]


def embed(texts):
    vectors = []
    for text in texts:
        words = text.lower().replace("?", " ").split()
        vectors.append([0.01 + sum(word.startswith(v) for word in words) for v in VOCABULARY])
    return vectors
"""


class Console:
    def __init__(self, server: RunningServer, backend: str, browser: Any, shots: Path) -> None:
        self.server = server
        self.backend = backend
        self.browser = browser
        self.shots = shots
        self.client: SyncLangGraphClient = get_sync_client(url=server.url)

    def page(self, path: str, **context: Any) -> tuple[Any, PageErrors]:
        page = self.browser.new_context(**{"viewport": {"width": 1280, "height": 800}, **context}).new_page()
        errors = PageErrors(page)
        page.goto(f"{self.server.url}{path}")
        return page, errors


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as running:
        yield running


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def console(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, browser: Any
) -> Iterator[Console]:
    folder = tmp_path_factory.mktemp(f"console-{request.param}")
    config: dict[str, Any] = {"graphs": {name: str(TEST_GRAPHS_DIR / path) for name, path in GRAPHS.items()}}
    if request.param == "sqlite":  # semantic search on PostgreSQL needs pgvector: tests/e2e/test_store_semantic.py
        (folder / "embed.py").write_text(EMBED_FILE)
        config["store"] = {"index": {"embed": "./embed.py:embed", "dims": 8, "fields": ["text"]}}
    (folder / "aegra.json").write_text(json.dumps(config))
    env = {"AEGRA_CONFIG": str(folder / "aegra.json"), "DATABASE_URL": database_for(request, folder)}
    with granian_server(folder, env) as server:
        yield Console(server, request.param, browser, tmp_path_factory.mktemp(f"console-screenshots-{request.param}"))


def assistant_id(client: SyncLangGraphClient, graph_id: str) -> str:
    return client.assistants.search(graph_id=graph_id)[0]["assistant_id"]


# -- threads ------------------------------------------------------------------------------


def test_the_threads_page_finds_a_thread_made_by_the_sdk_and_pages(console: Console) -> None:
    batch = uuid.uuid4().hex
    made = [console.client.threads.create(metadata={"batch": batch, "n": n}) for n in range(23)]
    wanted = made[7]["thread_id"]
    page, errors = console.page("/ui")
    # By keyboard: the first Tab reaches the skip link; Enter in a filter searches.
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("Skip to content")
    page.get_by_label("Metadata (JSON)").fill(json.dumps({"batch": batch, "n": 7}))
    page.get_by_label("Metadata (JSON)").press("Enter")
    rows = page.locator("#threads tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(wanted)

    # The whole batch, newest first, 20 to a page; the filter is in the URL.
    page.get_by_label("Metadata (JSON)").fill(json.dumps({"batch": batch}))
    page.get_by_role("button", name="Search").click()
    expect(rows).to_have_count(20)
    expect(rows.first).to_contain_text(made[-1]["thread_id"])
    page.get_by_role("button", name="Next").click()
    expect(rows).to_have_count(3)
    expect(rows.last).to_contain_text(made[0]["thread_id"])
    assert "offset=20" in page.url and batch in page.url
    expect(page.get_by_role("button", name="Next")).to_be_disabled()

    page.get_by_role("link", name=made[1]["thread_id"]).click()
    expect(page.locator("#thread-status")).to_have_text("idle")
    expect(page.locator("#thread-facts")).to_contain_text(made[1]["thread_id"])
    errors.assert_none()


def test_ids_made_the_same_minute_are_told_apart_by_their_end(console: Console) -> None:
    """Thread and run ids are UUIDv7 (time first): where the console shortens one, it keeps the
    random end, never the shared beginning."""
    batch = uuid.uuid4().hex
    made = [console.client.threads.create(metadata={"batch": batch}) for _ in range(2)]
    query = urlencode({"metadata": json.dumps({"batch": batch})})
    page, errors = console.page(f"/ui/threads?{query}", viewport={"width": 390, "height": 844})
    links = page.locator("#threads tbody a.id")
    expect(links).to_have_count(2)
    # On a phone the head is hidden; what shows is the end (innerText leaves out what is hidden).
    shown = links.evaluate_all("els => els.map(e => e.innerText)")
    assert sorted(shown) == sorted(made_thread["thread_id"][-8:] for made_thread in made), shown
    expect(page.get_by_role("link", name=made[0]["thread_id"])).to_be_visible()

    thread = made[0]["thread_id"]
    for _ in range(2):
        console.client.runs.wait(thread, "slow", input={"seconds": 0})
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{console.server.url}/ui/threads/{thread}")
    expect(page.locator("#runs tbody a.id")).to_have_count(2)
    texts = page.locator("#runs tbody a.id").all_inner_texts()
    assert sorted(texts) == sorted(f"…{run['run_id'][-8:]}" for run in console.client.runs.list(thread)), texts
    errors.assert_none()


def test_a_bad_filter_is_shown_not_sent(console: Console) -> None:
    page, errors = console.page("/ui/threads")
    page.get_by_label("Metadata (JSON)").fill("{not json")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("alert")).to_contain_text("Metadata is not valid JSON")
    page.goto(f"{console.server.url}/ui/threads/{uuid.uuid4()}")
    expect(page.get_by_role("alert")).to_contain_text("not found")
    errors.assert_none(allowed=("404",))  # the browser logs the API's 404 itself


def test_what_a_thread_holds_is_shown_as_text_never_run(console: Console) -> None:
    markup = "<img src=x onerror=window.pwned=1>"
    thread = console.client.threads.create(metadata={"note": markup})
    page, errors = console.page(f"/ui/threads?thread={thread['thread_id']}")
    expect(page.locator("#threads tbody")).to_contain_text(markup)
    page.get_by_role("link", name=thread["thread_id"]).click()
    page.locator("#thread-facts summary").click()
    expect(page.locator("#thread-facts")).to_contain_text(markup)
    assert page.evaluate("window.pwned") is None and page.locator("main img").count() == 0
    errors.assert_none()


def test_an_interrupt_is_resumed_from_the_thread_page(console: Console) -> None:
    thread = console.client.threads.create()
    console.client.runs.wait(thread["thread_id"], "interrupting", input={"request": "deploy"})
    page, errors = console.page(f"/ui/threads/{thread['thread_id']}")
    expect(page.locator("#thread-status")).to_have_text("interrupted")
    waiting = page.get_by_role("region", name="Waiting for input")
    expect(waiting).to_contain_text("Approve deploy?")
    waiting.get_by_label("Resume with (JSON)").fill('"approved"')
    waiting.get_by_role("button", name="Resume").click()
    expect(page.locator("#thread-status")).to_have_text("idle")
    expect(page.locator("#state")).to_contain_text('"deploy: approved"')
    expect(waiting).to_be_hidden()
    assert console.client.threads.get_state(thread["thread_id"])["values"]["result"] == "deploy: approved"
    errors.assert_none()


def test_a_run_started_from_the_page_streams_the_modes_picked(console: Console) -> None:
    thread = console.client.threads.create()
    page, errors = console.page(f"/ui/threads/{thread['thread_id']}")
    page.get_by_text("Start a run and watch its stream").click()
    form = page.locator("#run-form")
    expect(form.get_by_label("Assistant").locator("option", has_text="slow")).to_have_count(1)
    form.get_by_label("Assistant").select_option(label="slow")
    form.get_by_label("Input (JSON)").fill('{"seconds": 0.2}')
    for mode in ("values", "updates"):
        form.get_by_label(mode, exact=True).uncheck()
    for mode in ("custom", "debug", "tasks"):
        form.get_by_label(mode, exact=True).check()
    form.get_by_role("button", name="Start and stream").click()
    expect(page.locator(".stream-status")).to_contain_text("Done")
    names = set(page.locator("#run-stream li[data-event]").evaluate_all("els => els.map(e => e.dataset.event)"))
    assert {"metadata", "custom", "debug", "tasks"} <= names and not names & {"values", "updates"}, names
    # An event opens to its data.
    page.locator("#run-stream li[data-event=custom] summary").first.click()
    expect(page.locator("#run-stream li[data-event=custom]").first).to_contain_text("of: 4")
    expect(page.locator("#runs tbody tr")).to_have_count(1)
    expect(page.locator("#runs tbody tr").first).to_contain_text("success")
    errors.assert_none()


def test_a_running_run_is_watched_live_and_cancelled(console: Console) -> None:
    thread = console.client.threads.create()
    run = console.client.runs.create(thread["thread_id"], "slow", input={"seconds": 30}, stream_mode=["custom"])
    page, errors = console.page(f"/ui/threads/{thread['thread_id']}/runs/{run['run_id']}")
    expect(page.locator("#run-status")).to_have_text(re.compile("pending|running"))
    # Progress arrives while it runs.
    expect(page.locator("#run-stream li[data-event=custom]").nth(2)).to_be_attached()
    page.get_by_role("button", name="Cancel", exact=True).click()
    expect(page.locator("#run-status")).to_have_text("interrupted", timeout=15_000)
    assert console.client.runs.get(thread["thread_id"], run["run_id"])["status"] == "interrupted"
    errors.assert_none()


def test_a_finished_runs_stream_is_replayed_from_its_page(console: Console) -> None:
    thread = console.client.threads.create()
    run = console.client.runs.create(thread["thread_id"], "slow", input={"seconds": 0.2}, stream_mode=["custom"])
    console.client.runs.join(thread["thread_id"], run["run_id"])
    page, errors = console.page(f"/ui/threads/{thread['thread_id']}/runs/{run['run_id']}")
    expect(page.locator("#run-status")).to_have_text("success")
    # The join asks from the first event kept (a bare join would get nothing from an ended run).
    page.get_by_role("button", name="Watch", exact=True).click()
    expect(page.locator("#run-stream .stream-status")).to_contain_text("Done")
    expect(page.locator("#run-stream li[data-event=custom]")).to_have_count(4)
    errors.assert_none()


def test_a_busy_thread_is_followed_until_its_run_ends(console: Console) -> None:
    thread = console.client.threads.create()
    console.client.runs.create(thread["thread_id"], "slow", input={"seconds": 3})
    page, errors = console.page(f"/ui/threads/{thread['thread_id']}")
    expect(page.locator("#thread-status")).to_have_text("busy")
    # Without a reload, the page follows the thread's stream and shows where the run ended.
    expect(page.locator("#run-stream .stream-status")).to_contain_text("Done", timeout=15_000)
    expect(page.locator("#thread-status")).to_have_text("idle")
    expect(page.locator("#state")).to_contain_text("steps_done")
    errors.assert_none()


def test_a_fork_from_a_past_checkpoint_runs_again_from_there(console: Console) -> None:
    thread = console.client.threads.create()
    console.client.runs.wait(thread["thread_id"], "agent", input={"messages": [{"role": "user", "content": "one"}]})
    page, errors = console.page(f"/ui/threads/{thread['thread_id']}")
    first = page.locator("#history > li").filter(has_text="Next: chat")
    expect(first).to_have_count(1)
    first.get_by_text("Fork from here").click()
    first.get_by_label("State update (JSON, optional)").fill('{"messages": [{"role": "user", "content": "two"}]}')
    first.get_by_label("As node (optional)").fill("__start__")
    first.get_by_role("button", name="Fork").click()
    expect(page.locator("#runs tbody tr")).to_have_count(2)
    expect(page.locator("#state")).to_contain_text("You said: two")
    history = console.client.threads.get_history(thread["thread_id"], limit=20)
    contents = [m["content"] for m in history[0]["values"]["messages"]]
    assert contents == ["one", "two", "You said: two"], contents
    # A copy is a new thread with the same state.
    page.get_by_role("button", name="Copy thread").click()
    expect(page).not_to_have_url(re.compile(thread["thread_id"]))
    expect(page.locator("#state")).to_contain_text("You said: two")
    copy_id = page.url.rsplit("/", 1)[1]
    assert [m["content"] for m in console.client.threads.get_state(copy_id)["values"]["messages"]] == contents
    errors.assert_none()


# -- chat -----------------------------------------------------------------------------------

# Records every text an AI message shows, so a test can tell that the reply grew token by token.
RECORD_AI_TEXTS = """
window.aiTexts = [];
new MutationObserver(() => {
  for (const el of document.querySelectorAll("li[data-role=ai] .text")) window.aiTexts.push(el.textContent);
}).observe(document, { subtree: true, childList: true, characterData: true });
"""


def open_chat(console: Console, graph_id: str, init_script: str | None = None) -> tuple[Any, PageErrors]:
    """The chat page on a new conversation with `graph_id`'s assistant, once it may send."""
    page, errors = console.page(f"/ui/chat?assistant_id={graph_id}")
    if init_script:
        page.add_init_script(init_script)
        page.reload()
    expect(page.get_by_label("Assistant")).to_have_value(assistant_id(console.client, graph_id))
    expect(page.get_by_role("button", name="Send")).to_be_enabled()  # the graph is known to chat
    return page, errors


def test_chat_streams_the_answer_token_by_token(console: Console) -> None:
    page, errors = open_chat(console, "agent", RECORD_AI_TEXTS)
    page.get_by_role("textbox", name="Message").fill("hello console")
    page.get_by_role("textbox", name="Message").press("Enter")
    answer = page.locator("li[data-role=ai]")
    expect(answer).to_have_text(re.compile("You said: hello console"))
    expect(page.locator("li[data-role=human]")).to_have_text(re.compile("hello console"))
    seen = page.evaluate("window.aiTexts")
    final = "You said: hello console"
    assert any(text and final.startswith(text) and text != final for text in seen), seen
    # The chat made a thread; a reload shows the same conversation from the thread's state.
    thread_id = page.url.split("thread_id=")[1]
    assert [m["content"] for m in console.client.threads.get_state(thread_id)["values"]["messages"]] == [
        "hello console",
        "You said: hello console",
    ]
    page.reload()
    expect(page.locator("li[data-role]")).to_have_count(2)
    errors.assert_none()


def test_chat_shows_tool_calls_and_their_results(console: Console) -> None:
    page, errors = open_chat(console, "tool_agent")
    page.get_by_role("textbox", name="Message").fill("Paris")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("li[data-role=ai]").last).to_have_text(re.compile("The weather: sunny in Paris"))
    expect(page.get_by_label("Tool call")).to_have_text('→ get_weather({"city":"Paris"})')
    expect(page.locator("li[data-role=tool]")).to_have_text(re.compile("get_weather.*sunny in Paris", re.S))
    errors.assert_none()


def test_chat_stops_at_an_interrupt_and_resumes_from_the_form(console: Console) -> None:
    page, errors = open_chat(console, "chat_approval")
    page.get_by_role("textbox", name="Message").fill("ship it")
    page.get_by_role("textbox", name="Message").press("Enter")
    waiting = page.get_by_role("region", name="The graph is waiting for you")
    expect(waiting).to_contain_text("May I answer 'ship it'?")
    expect(page.get_by_role("textbox", name="Message")).to_be_hidden()
    waiting.get_by_label("Resume with (JSON)").fill('"yes"')
    waiting.get_by_role("button", name="Resume").click()
    expect(page.locator("li[data-role=ai]")).to_have_text(re.compile(r"Approved \(yes\): You said: ship it"))
    expect(page.get_by_role("textbox", name="Message")).to_be_visible()
    errors.assert_none()


def test_chat_says_when_a_graph_cannot_chat(console: Console) -> None:
    page, errors = console.page("/ui/chat?assistant_id=slow")
    expect(page.locator("#chat-note")).to_contain_text("no `messages` in its state")
    expect(page.get_by_role("button", name="Send")).to_be_disabled()
    errors.assert_none()


# -- assistants, store, crons ------------------------------------------------------------


def test_an_assistant_page_draws_its_graph(console: Console) -> None:
    page, errors = console.page("/ui/assistants?graph_id=tool_agent")
    page.get_by_role("link", name="tool_agent", exact=True).click()
    graph = page.get_by_role("img", name="The graph of tool_agent")
    expect(graph).to_be_visible()
    labels = graph.locator(".g-node text").all_text_contents()
    assert sorted(labels) == ["agent", "end", "start", "tools"], labels
    expect(graph.locator("path.g-edge")).to_have_count(4)
    expect(graph.locator("path.g-edge.conditional")).to_have_count(2)
    # Layered top to bottom: start above agent above tools.
    y = {text: graph.locator(".g-node", has_text=text).bounding_box()["y"] for text in ("start", "agent", "tools")}
    assert y["start"] < y["agent"] < y["tools"], y
    expect(page.locator("#versions tbody tr")).to_have_count(1)
    expect(page.locator("#schemas")).to_contain_text("state_schema")
    errors.assert_none()


def test_the_store_page_lists_namespaces_items_and_search_scores(console: Console) -> None:
    space = uuid.uuid4().hex[:8]
    console.client.store.put_item([space, "notes"], "tea", {"text": "green tea in the garden"})
    console.client.store.put_item([space, "notes"], "code", {"text": "code review at noon"})
    console.client.store.put_item([space, "prefs"], "music", {"text": "music while coding"})
    page, errors = console.page("/ui/store")
    tree = page.locator("#namespaces")
    tree.get_by_role("button", name=f"Show namespaces in {space}").click()
    expect(tree.get_by_role("button", name="notes", exact=True)).to_be_visible()
    tree.get_by_role("button", name="notes", exact=True).click()
    items = page.locator("#items tbody tr")
    expect(items).to_have_count(2)
    expect(page.locator("#items-ns")).to_have_text(f"{space} / notes")
    if console.backend == "sqlite":  # the server with a store index
        tree.get_by_role("button", name=space, exact=True).click()
        page.get_by_label("Semantic search").fill("tea?")
        page.get_by_role("button", name="Search").click()
        expect(items.first.locator("td").first).to_have_text("tea")
        scores = [float(s) for s in items.locator("td.score").all_text_contents()]
        assert len(scores) == 3 and scores == sorted(scores, reverse=True) and scores[0] > scores[-1], scores
    page.get_by_label("Filter (JSON)").fill('{"text": "music while coding"}')
    page.get_by_label("Semantic search").fill("")
    tree.get_by_role("button", name=space, exact=True).click()
    expect(items).to_have_count(1)
    expect(items.first).to_contain_text("music")
    errors.assert_none()


def test_a_cron_is_disabled_and_enabled_from_its_switch(console: Console) -> None:
    cron = console.client.crons.create("agent", schedule="17 3 * * *", input={"messages": []})
    page, errors = console.page("/ui/crons")
    row = page.locator("#crons tbody tr", has=page.locator("code", has_text="17 3 * * *"))
    expect(row).to_contain_text("in ")  # the next run, relative
    switch = row.get_by_role("button", name="Enabled: 17 3 * * *")
    expect(switch).to_have_attribute("aria-pressed", "true")
    switch.click()
    expect(switch).to_have_attribute("aria-pressed", "false")
    expect(row).to_contain_text("disabled")
    assert httpx.get(f"{console.server.url}/runs/crons/{cron['cron_id']}").json()["enabled"] is False
    switch.click()
    expect(switch).to_have_attribute("aria-pressed", "true")
    assert httpx.get(f"{console.server.url}/runs/crons/{cron['cron_id']}").json()["enabled"] is True
    console.client.crons.delete(cron["cron_id"])
    errors.assert_none()


# -- every page, at every size and colour scheme --------------------------------------------


def test_every_page_renders_at_desktop_and_phone_size_light_and_dark(console: Console) -> None:
    """Screenshots for people to look at (pytest's temp folder, `console-screenshots-*`); the test
    itself checks that each page filled in and raised no script error."""
    if console.backend != "sqlite":
        pytest.skip("the pages are the same on both backends; screenshots once")
    client = console.client
    chat = client.threads.create(metadata={"purpose": "screenshot"})
    client.runs.wait(chat["thread_id"], "tool_agent", input={"messages": [{"role": "user", "content": "Paris"}]})
    waiting = client.threads.create(metadata={"purpose": "screenshot"})
    client.runs.wait(waiting["thread_id"], "interrupting", input={"request": "release 1.2"})
    run = client.runs.list(chat["thread_id"])[0]
    client.store.put_item(["users", "ana"], "tea", {"text": "green tea in the garden"})
    client.crons.create("agent", schedule="*/10 * * * *", input={"messages": []})
    ui = f"{console.server.url}/ui"
    pages = {
        "threads": (f"{ui}/threads", "#threads tbody a"),
        "thread": (f"{ui}/threads/{waiting['thread_id']}", "#interrupt-list form"),
        "run": (f"{ui}/threads/{chat['thread_id']}/runs/{run['run_id']}", "#run-kwargs ul"),
        "chat": (f"{ui}/chat?thread_id={chat['thread_id']}", "li[data-role=tool]"),
        "assistants": (f"{ui}/assistants", "#assistants tbody a"),
        "assistant": (f"{ui}/assistants/{assistant_id(client, 'tool_agent')}", ".graph-svg"),
        "store": (f"{ui}/store", "#items tbody td.score"),
        "crons": (f"{ui}/crons", "#crons tbody button"),
    }
    written = save_screenshots(console.browser, pages, console.shots)
    assert len(written) == len(pages) * 4 and all(path.stat().st_size > 5000 for path in written)
    for cron in client.crons.search(limit=100):
        client.crons.delete(cron["cron_id"])
