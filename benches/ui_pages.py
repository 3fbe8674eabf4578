"""The console's speed: how fast each page's HTML answers, the API call behind the threads list,
and the first paint of /ui in headless chromium.

    AEGRA_CONFIG=tests/graphs/aegra.json DATABASE_URL=sqlite:////tmp/ui.db LOG_LEVEL=WARNING \\
        aegra serve --port 2026 &
    python benches/ui_pages.py --url http://127.0.0.1:2026 --seed 10000

`--seed N` first creates threads until the server has N (the issue's figure is 10,000). Pages are
shells (the data comes from the API afterwards), so their time should not grow with the data;
the threads list's API call is paged (limit 20) and ordered by an index, so neither should it.
The browser part needs Debian's `chromium` and the `playwright` package (the dev extras).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import time
from collections.abc import Callable

import httpx

PAGE_SIZE = 20
SELECT = ["thread_id", "status", "created_at", "updated_at", "metadata"]  # what pages/threads.js asks for

# Set in the page before its scripts run: when the threads table got its first row (read back
# after the load, with the paint entries of the Performance API).
TIMING_SCRIPT = """
window.__filled = null;
new MutationObserver(() => {
  if (window.__filled === null && document.querySelector("#threads tbody a")) window.__filled = performance.now();
}).observe(document, { subtree: true, childList: true });
"""


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def summary(values: list[float]) -> str:
    return f"p50 {statistics.median(values):7.2f} ms   p95 {percentile(values, 0.95):7.2f} ms   (n={len(values)})"


async def seed(url: str, headers: dict[str, str], wanted: int) -> int:
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as http:
        have = (await http.post("/threads/count", json={})).json()
        missing = max(0, wanted - have)
        if missing:
            print(f"seeding {missing} threads (the server has {have}) ...", flush=True)
        semaphore = asyncio.Semaphore(8)

        async def create(n: int) -> None:
            async with semaphore:
                response = await http.post("/threads", json={"metadata": {"bench": "ui_pages", "n": n}})
                response.raise_for_status()

        await asyncio.gather(*(create(n) for n in range(missing)))
        return (await http.post("/threads/count", json={})).json()


def timed(call: Callable[[], httpx.Response], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = call()
        elapsed = (time.perf_counter() - started) * 1000
        response.raise_for_status()
        times.append(elapsed)
    return times


def measure_http(url: str, headers: dict[str, str], repeat: int) -> None:
    with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
        first = http.post("/threads/search", json={"limit": 1}).json()
        thread_id = first[0]["thread_id"] if first else "00000000-0000-0000-0000-000000000000"
        runs = http.get(f"/threads/{thread_id}/runs", params={"limit": 1}).json() if first else []
        run_id = runs[0]["run_id"] if runs else "00000000-0000-0000-0000-000000000000"
        assistants = http.post("/assistants/search", json={"limit": 1}).json()
        assistant_id = assistants[0]["assistant_id"] if assistants else "agent"
        pages = [
            "/ui",
            "/ui/threads",
            f"/ui/threads/{thread_id}",
            f"/ui/threads/{thread_id}/runs/{run_id}",
            "/ui/chat",
            "/ui/assistants",
            f"/ui/assistants/{assistant_id}",
            "/ui/store",
            "/ui/crons",
        ]
        for page in pages:  # warm-up: templates compile on first use
            http.get(page).raise_for_status()
        print(f"\nPage HTML ({repeat} GETs each, one client, keep-alive)")
        for page in pages:
            label = page.replace(thread_id, "{thread}").replace(run_id, "{run}").replace(assistant_id, "{assistant}")
            print(f"  {label:40} {summary(timed(lambda page=page: http.get(page), repeat))}")

        print(f"\nThe API calls behind the threads list ({repeat} each)")
        newest = {"limit": PAGE_SIZE, "select": SELECT, "sort_by": "updated_at", "sort_order": "desc"}
        searches = {
            "offset=0": {**newest, "offset": 0},
            "offset=1000": {**newest, "offset": 1000},
            "status=interrupted": {**newest, "status": "interrupted"},
        }
        for label, body in searches.items():
            calls = timed(lambda body=body: http.post("/threads/search", json=body), repeat)
            print(f"  {'POST /threads/search ' + label:40} {summary(calls)}")


def load_once(browser: object, context: object | None, url: str, token: str | None) -> dict[str, float]:
    """One load of `url`: its paint times and (for /ui) when the threads table filled, in ms from
    navigation start. A new browser context unless `context` is given (then assets are cached)."""
    own = context is None
    context = context or browser.new_context(viewport={"width": 1280, "height": 800})  # type: ignore[attr-defined]
    if token and own:
        context.add_init_script(f"sessionStorage.setItem('aegra.console.token', {token!r})")  # type: ignore[attr-defined]
    page = context.new_page()  # type: ignore[attr-defined]
    page.add_init_script(TIMING_SCRIPT)
    page.goto(url)
    if "/ui" in url:
        page.wait_for_selector("#threads tbody a")
    page.wait_for_timeout(50)
    entries = page.evaluate("performance.getEntriesByType('paint').map(e => [e.name, e.startTime])")
    times = {name: float(start) for name, start in entries}
    filled = page.evaluate("window.__filled")
    if filled is not None:
        times["threads-table-filled"] = float(filled)
    page.close()
    if own:
        context.close()  # type: ignore[attr-defined]
    return times


def measure_browser(url: str, token: str | None, loads: int, chromium: str) -> None:
    """/ui against a floor: the server's /ok (a JSON body, nothing to fetch or run), loaded in
    turns (A B B A) so that both see the same machine; this machine's load moves paint times by
    a factor of two from one minute to the next."""
    from playwright.sync_api import sync_playwright

    keys = ("first-paint", "first-contentful-paint", "threads-table-filled")
    cold: dict[str, dict[str, list[float]]] = {"/ui": {k: [] for k in keys}, "/ok": {k: [] for k in keys}}
    warm: dict[str, list[float]] = {k: [] for k in keys}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium)
        load_once(browser, None, f"{url}/ui", token)  # warm-up of the server and the browser
        for index in range(loads):
            order = ("/ui", "/ok") if index % 2 == 0 else ("/ok", "/ui")
            for path in order:
                for key, value in load_once(browser, None, f"{url}{path}", token).items():
                    cold[path][key].append(value)
        cached = browser.new_context(viewport={"width": 1280, "height": 800})
        if token:
            cached.add_init_script(f"sessionStorage.setItem('aegra.console.token', {token!r})")
        load_once(browser, cached, f"{url}/ui", token)
        for _ in range(loads):
            for key, value in load_once(browser, cached, f"{url}/ui", token).items():
                warm[key].append(value)
        browser.close()
    print(f"\nBrowser: {loads} loads each, a new browser context per load (nothing cached); ms from navigation start")
    for path, bucket in cold.items():
        for key, values in bucket.items():
            if values:
                print(f"  {path + ' ' + key:40} {summary(values)}")
    print(f"\nBrowser: /ui, {loads} loads in one context (scripts and styles cached)")
    for key, values in warm.items():
        if values:
            print(f"  {key:40} {summary(values)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:2026", help="the server's base URL (with its mount prefix)")
    parser.add_argument("--seed", type=int, default=0, help="create threads until the server has this many")
    parser.add_argument("--requests", type=int, default=200, help="GETs per page")
    parser.add_argument("--loads", type=int, default=20, help="browser loads of /ui")
    parser.add_argument("--token", help="a token for a server with auth (sent as a bearer token)")
    parser.add_argument("--no-browser", action="store_true", help="skip the headless chromium part")
    args = parser.parse_args()
    headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
    url = args.url.rstrip("/")
    count = asyncio.run(seed(url, headers, args.seed))
    print(f"{url}: {count} threads; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    measure_http(url, headers, args.requests)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if args.no_browser:
        return
    if chromium is None:
        print("\nBrowser: skipped (no chromium; apt-get install chromium)")
        return
    measure_browser(url, args.token, args.loads, chromium)


if __name__ == "__main__":
    main()
