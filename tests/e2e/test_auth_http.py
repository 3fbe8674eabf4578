"""`http.app` (custom routes beside the API, with and without `enable_custom_route_auth`),
`http.disable_*`, and open access (no auth file). SQLite: none of this touches the database's SQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client

from tests.e2e.test_auth import headers, request, write_project
from tests.support.server import RunningServer, granian_server

CUSTOM_APP = """
from typing import Any

from litestar import Litestar, get, post
from litestar.types import Scope

started: list[bool] = []


@get("/custom/hello")
async def hello(scope: Scope) -> dict[str, Any]:
    user = scope.get("user")
    return {"user": getattr(user, "identity", None), "started": bool(started)}


@post("/threads", status_code=200)
async def shadow() -> dict[str, Any]:
    return {"shadowed": True}


app = Litestar([hello, shadow], on_startup=[lambda: started.append(True)])
"""

FASTAPI_APP = """
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request

started: list[bool] = []


@asynccontextmanager
async def lifespan(app: FastAPI):
    started.append(True)
    yield


app = FastAPI(lifespan=lifespan)


@app.get("/custom/hello")
async def hello(request: Request) -> dict[str, Any]:
    user = request.scope.get("user")
    return {"user": getattr(user, "identity", None), "started": bool(started)}


@app.post("/threads")
async def shadow() -> dict[str, Any]:
    return {"shadowed": True}
"""
CUSTOM_APPS = {"litestar": CUSTOM_APP, "fastapi": FASTAPI_APP}


def start(tmp_path: Path, *, auth: bool, http: dict[str, Any] | None = None, framework: str = "litestar") -> Any:
    env = write_project(tmp_path, auth=auth, http=http)
    if http and "app" in http:
        (tmp_path / "custom_app.py").write_text(CUSTOM_APPS[framework])
    return granian_server(tmp_path, env)


@pytest.fixture(params=sorted(CUSTOM_APPS))
def public_custom_routes(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[RunningServer]:
    with start(tmp_path, auth=True, http={"app": "./custom_app.py:app"}, framework=request.param) as server:
        yield server


@pytest.fixture(params=sorted(CUSTOM_APPS))
def protected_custom_routes(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[RunningServer]:
    http = {"app": "./custom_app.py:app", "enable_custom_route_auth": True}
    with start(tmp_path, auth=True, http=http, framework=request.param) as server:
        yield server


def test_custom_routes_are_served_beside_the_api(public_custom_routes: RunningServer) -> None:
    url = public_custom_routes.url
    hello = httpx.get(f"{url}/custom/hello")
    assert hello.status_code == 200
    # Public: no authentication ran; the app's own startup hook did.
    assert hello.json() == {"user": None, "started": True}
    # The API keeps its paths: POST /threads is the API's (and needs a token), not the custom app's.
    assert httpx.post(f"{url}/threads", json={}).status_code == 401
    created = httpx.post(f"{url}/threads", json={}, headers=headers("alice"))
    assert created.status_code == 200 and "thread_id" in created.json()
    paths = httpx.get(f"{url}/openapi.json").json()["paths"]
    assert "/threads" in paths and "/assistants/search" in paths
    assert httpx.get(f"{url}/no/such/route").status_code == 404


def test_custom_route_auth_authenticates_custom_routes(protected_custom_routes: RunningServer) -> None:
    url = protected_custom_routes.url
    refused = httpx.get(f"{url}/custom/hello")
    assert refused.status_code == 401
    assert refused.json() == {"detail": "Missing bearer token"}
    hello = httpx.get(f"{url}/custom/hello", headers={"Origin": "http://ui.example", **headers("alice")})
    assert hello.json() == {"user": "alice", "started": True}
    # `http.cors` (default: any origin) covers custom routes too.
    assert hello.headers["access-control-allow-origin"] == "*"


def test_disabled_route_groups_are_gone(tmp_path: Path) -> None:
    groups = ["assistants", "threads", "runs", "store", "meta"]
    with start(tmp_path, auth=False, http={f"disable_{group}": True for group in groups}) as server:
        url = server.url
        assert httpx.post(f"{url}/assistants/search", json={}).status_code == 404
        assert httpx.post(f"{url}/threads", json={}).status_code == 404
        assert httpx.post(f"{url}/runs/wait", json={"assistant_id": "whoami"}).status_code == 404
        assert httpx.put(f"{url}/store/items", json={"namespace": ["a"], "key": "k", "value": {}}).status_code == 404
        assert httpx.get(f"{url}/info").status_code == 404
        assert httpx.get(f"{url}/openapi.json").status_code == 404
        assert httpx.get(f"{url}/ok").status_code == 200


def test_only_the_disabled_group_goes(tmp_path: Path) -> None:
    with start(tmp_path, auth=False, http={"disable_store": True}) as server:
        assert httpx.post(f"{server.url}/store/items/search", json={}).status_code == 404
        assert httpx.post(f"{server.url}/threads/search", json={}).status_code == 200
        assert "/store/items" not in httpx.get(f"{server.url}/openapi.json").json()["paths"]


async def test_without_an_auth_file_everyone_is_the_anonymous_user(tmp_path: Path) -> None:
    with start(tmp_path, auth=False) as server:
        assert (await request("GET", f"{server.url}/info")).json()["flags"]["auth"] is False
        client = get_client(url=server.url)
        result = await client.runs.wait(None, "whoami", input={})
        assert result["user_id"] == "anonymous"
        assert result["user"]["is_authenticated"] is False
        thread = await client.threads.create()
        assert "owner" not in thread["metadata"]


def test_disable_studio_auth_refuses_studio_requests(tmp_path: Path) -> None:
    env = write_project(tmp_path, disable_studio_auth=True)
    with granian_server(tmp_path, env) as server:
        url = f"{server.url}/threads/search"
        studio = httpx.post(url, json={}, headers={"x-auth-scheme": "langsmith", **headers("alice")})
        assert studio.status_code == 403
        assert "disable_studio_auth" in studio.json()["detail"]
        assert httpx.post(url, json={}, headers=headers("alice")).status_code == 200


def test_a_broken_auth_path_stops_startup_with_a_clear_error(tmp_path: Path) -> None:
    env = write_project(tmp_path, path="./auth.py:missing")
    expected = r"auth\.path \(\./auth\.py:missing\): .*has no attribute 'missing'"
    with pytest.raises(RuntimeError, match=expected), granian_server(tmp_path, env, startup_timeout=30):
        pass
