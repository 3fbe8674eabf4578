"""`http.mount_prefix`: the whole API under a prefix, health checks still at the root."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from langgraph_sdk import get_client

from aegra.config import ConfigError
from aegra.server.mount_prefix import validate_mount_prefix
from tests.support.projects import write_project
from tests.support.server import granian_server

CUSTOM_APP = """
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

async def hello(request):
    return JSONResponse({"hello": request.url.path, "root_path": request.scope.get("root_path")})

app = Starlette(routes=[Route("/hello", hello)])
"""


async def test_the_api_and_custom_routes_move_under_the_prefix(tmp_path: Path) -> None:
    (tmp_path / "custom.py").write_text(CUSTOM_APP)
    config = {"graphs": {"agent": "./graph.py:graph"}, "http": {"mount_prefix": "/agents/", "app": "./custom.py:app"}}
    write_project(tmp_path, config)
    with granian_server(tmp_path) as server:
        http = httpx.AsyncClient(base_url=server.url)
        client = get_client(url=f"{server.url}/agents")
        thread = await client.threads.create()
        result = await client.runs.wait(thread["thread_id"], "agent", input={"messages": []})
        assert isinstance(result, dict)
        parts = [part async for part in client.runs.stream(thread["thread_id"], "agent", input={"messages": []})]
        assert parts[0].event == "metadata"
        # Locations stay relative to the mount point, as in langgraph-api: the SDK joins them to its
        # base URL (which has the prefix) when it reconnects.
        created = await http.post(f"/agents/threads/{thread['thread_id']}/runs", json={"assistant_id": "agent"})
        assert created.status_code == 200
        assert created.headers["content-location"].startswith("/threads/")

        assert (await http.get("/agents/openapi.json")).status_code == 200
        # The docs page loads Swagger UI from under the prefix too.
        docs = (await http.get("/agents/docs")).text
        assert 'src="/agents/docs/assets/swagger-ui-bundle.js"' in docs
        assert (await http.get("/agents/docs/assets/swagger-ui-bundle.js")).status_code == 200
        assert (await http.get("/agents/hello")).json() == {"hello": "/agents/hello", "root_path": "/agents"}
        # Health checks stay at the root; nothing else does.
        assert (await http.get("/ok")).json()["ok"] is True
        outside = await http.post("/threads", json={})
        assert outside.status_code == 404 and outside.json() == {"detail": "Not Found"}
        assert (await http.get("/agentsx/ok")).status_code == 404
        await http.aclose()


@pytest.mark.parametrize("prefix", ["agents", "/noauth", "/noauth/x"])
def test_a_prefix_that_cannot_work_is_a_config_error(prefix: str) -> None:
    with pytest.raises(ConfigError, match="mount_prefix"):
        validate_mount_prefix(prefix)


def test_a_prefix_loses_its_trailing_slash() -> None:
    assert validate_mount_prefix("/agents/") == "/agents"
    assert validate_mount_prefix("/") is None and validate_mount_prefix(None) is None
