"""A real browser for the console's tests: Debian's chromium driven by Playwright's Python package.

Playwright's own browser download cannot run here, so it drives the system's `chromium`
(`apt-get install chromium`; scripts/test.sh installs it). Screenshots go to pytest's temp
folder (`console-screenshots/`), at a desktop and a phone size, light and dark.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
SCHEMES = ("light", "dark")


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless chromium, or a skip saying what to install."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (in the dev extras)")
    path = chromium_path()
    if path is None:
        pytest.skip("chromium is not installed (apt-get install chromium; scripts/test.sh does it)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path)
        try:
            yield browser
        finally:
            browser.close()


class PageErrors:
    """Uncaught script errors and console errors of a page: a console page must have none."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))
        page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))

    def assert_none(self, allowed: tuple[str, ...] = ()) -> None:
        left = [error for error in self.errors if not any(part in error for part in allowed)]
        assert not left, left


def save_screenshots(browser: Any, pages: dict[str, tuple[str, str]], folder: Path) -> list[Path]:
    """Each of `pages` ({name: (url, selector that shows once it is filled)}) at every size and
    colour scheme; the PNGs written. A page that logs a script error fails the test."""
    from playwright.sync_api import expect  # a dev dependency, imported where it is needed

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for size_name, viewport in SIZES.items():
        for scheme in SCHEMES:
            context = browser.new_context(viewport=viewport, color_scheme=scheme)
            page = context.new_page()
            errors = PageErrors(page)
            for name, (url, ready) in pages.items():
                page.goto(url)
                page.wait_for_selector(ready)
                # Every part of a page says "Loading…" until its data is in.
                expect(page.locator("main")).not_to_contain_text("Loading…")
                path = folder / f"{name}-{size_name}-{scheme}.png"
                page.screenshot(path=str(path), full_page=True)
                written.append(path)
            errors.assert_none()
            context.close()
    return written
