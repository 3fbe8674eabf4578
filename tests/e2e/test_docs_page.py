"""`/docs` works offline: Swagger UI's files come from this server, not from a CDN."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.support.projects import write_project
from tests.support.server import granian_server

ASSET_ATTRIBUTES = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")


def test_the_docs_page_loads_every_asset_from_the_server(tmp_path: Path) -> None:
    write_project(tmp_path)
    with granian_server(tmp_path) as server:
        page = httpx.get(f"{server.url}/docs")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assets = ASSET_ATTRIBUTES.findall(page.text)
        external = [url for url in assets if "://" in url or url.startswith("//")]
        assert not external, f"the page loads {external}"
        assert {url.rsplit("/", 1)[-1] for url in assets} >= {
            "swagger-ui-bundle.js",
            "swagger-ui-standalone-preset.js",
            "swagger-ui.css",
        }
        for url in assets:
            answer = httpx.get(f"{server.url}{url}")
            assert answer.status_code == 200 and len(answer.content) > 500, url
        bundle = httpx.get(f"{server.url}/docs/assets/swagger-ui-bundle.js")
        assert "javascript" in bundle.headers["content-type"] and b"SwaggerUIBundle" in bundle.content
        assert httpx.get(f"{server.url}/docs/assets/nope.js").status_code == 404


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs chromium (scripts/test.sh installs it)")
def test_a_browser_with_no_network_renders_the_operations(tmp_path: Path) -> None:
    write_project(tmp_path)
    with granian_server(tmp_path) as server:
        dom = subprocess.run(
            [
                "chromium", "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'profile'}",
                # Offline: every host name but the server's fails to resolve, as with no network.
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                "--virtual-time-budget=15000", "--dump-dom", f"{server.url}/docs",
            ],
            capture_output=True, text=True, timeout=120,
        ).stdout  # fmt: skip
    # Swagger UI ran (it builds these elements from the spec) and accepted the OpenAPI 3.1 document.
    assert 'data-path="/assistants/search"' in dom and 'data-path="/threads/{thread_id}/runs"' in dom, dom[:2000]
    assert "Unable to render this definition" not in dom
