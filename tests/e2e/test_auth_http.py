"""`http.app` (Litestar, FastAPI and Starlette custom routes beside the API, with and without
`enable_custom_route_auth`), `http.cors`, `http.disable_*`, `auth.disable_studio_auth`, and open
access (no auth file). SQLite: none of this touches the database's SQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client

from tests.e2e.test_auth import as_user, headers, request, write_project
from tests.support.auth_files import PROBE_AUTH_FILE
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

STARLETTE_APP = """
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

started: list[bool] = []


@asynccontextmanager
async def lifespan(app):
    started.append(True)
    yield


async def hello(request):
    # `request.user` is the authenticated user (only there with enable_custom_route_auth).
    user = request.user.identity if "user" in request.scope else None
    return JSONResponse({"user": user, "started": bool(started)})


async def shadow(request):
    return JSONResponse({"shadowed": True})


app = Starlette(routes=[Route("/custom/hello", hello), Route("/threads", shadow, methods=["POST"])], lifespan=lifespan)
"""
CUSTOM_APPS = {"litestar": CUSTOM_APP, "fastapi": FASTAPI_APP, "starlette": STARLETTE_APP}


def start(
    tmp_path: Path, *, auth: bool, http: dict[str, Any] | None = None, framework: str = "litestar", **project: Any
) -> Any:
    env = write_project(tmp_path, auth=auth, http=http, **project)
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


def test_custom_route_auth_gives_the_handler_a_request_and_its_parameters(tmp_path: Path) -> None:
    # The probe handler reads every parameter, `request.path_params` included, before naming the user.
    http = {"app": "./custom_app.py:app", "enable_custom_route_auth": True}
    with start(tmp_path, auth=True, http=http, framework="starlette", auth_file=PROBE_AUTH_FILE) as server:
        hello = httpx.get(f"{server.url}/custom/hello", params={"q": "1"}, headers=as_user("alice"))
        assert hello.json() == {"user": "alice", "started": True}
        assert httpx.get(f"{server.url}/custom/hello").status_code == 401


def test_disabled_route_groups_are_gone(tmp_path: Path) -> None:
    groups = ["assistants", "threads", "runs", "store", "meta", "mcp", "a2a"]
    with start(tmp_path, auth=False, http={f"disable_{group}": True for group in groups}) as server:
        url = server.url
        assert httpx.post(f"{url}/assistants/search", json={}).status_code == 404
        assert httpx.post(f"{url}/threads", json={}).status_code == 404
        assert httpx.post(f"{url}/runs/wait", json={"assistant_id": "whoami"}).status_code == 404
        assert httpx.put(f"{url}/store/items", json={"namespace": ["a"], "key": "k", "value": {}}).status_code == 404
        assert httpx.get(f"{url}/info").status_code == 404
        assert httpx.get(f"{url}/openapi.json").status_code == 404
        ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
        assert httpx.post(f"{url}/mcp", json=ping, headers={"accept": "*/*"}).status_code == 404
        assert httpx.get(f"{url}/a2a/whoami/.well-known/agent-card.json").status_code == 404
        assert httpx.get(f"{url}/ok").status_code == 200


def test_only_the_disabled_group_goes(tmp_path: Path) -> None:
    with start(tmp_path, auth=False, http={"disable_store": True, "disable_webhooks": True}) as server:
        assert httpx.post(f"{server.url}/store/items/search", json={}).status_code == 404
        assert httpx.post(f"{server.url}/threads/search", json={}).status_code == 200
        assert httpx.get(f"{server.url}/a2a/whoami/.well-known/agent-card.json").json()["name"] == "whoami"
        assert "/store/items" not in httpx.get(f"{server.url}/openapi.json").json()["paths"]
        run = {"assistant_id": "whoami", "webhook": "http://hooks.example/done"}
        refused = httpx.post(f"{server.url}/runs/wait", json=run)
        assert refused.status_code == 422 and "disable_webhooks" in refused.json()["detail"]


def test_cors_config_applies_to_the_api_and_its_401s(tmp_path: Path) -> None:
    cors = {"allow_origins": ["http://ui.example"], "allow_credentials": True, "expose_headers": ["x-request-id"]}
    with start(tmp_path, auth=True, http={"cors": cors}) as server:
        url = f"{server.url}/threads/search"
        preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
        allowed = httpx.options(url, headers={"Origin": "http://ui.example", **preflight})
        assert allowed.status_code in (200, 204)
        assert allowed.headers["access-control-allow-origin"] == "http://ui.example"
        assert allowed.headers["access-control-allow-credentials"] == "true"
        other = httpx.options(url, headers={"Origin": "http://evil.example", **preflight})
        assert "access-control-allow-origin" not in other.headers
        # A browser must be able to read the 401 (to send the user to log in) and the answer.
        refused = httpx.post(url, json={}, headers={"Origin": "http://ui.example"})
        assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == "http://ui.example"
        found = httpx.post(url, json={}, headers={"Origin": "http://ui.example", **headers("alice")})
        assert found.status_code == 200
        assert "x-request-id" in found.headers["access-control-expose-headers"]


async def test_without_an_auth_file_everyone_is_the_anonymous_user(tmp_path: Path) -> None:
    with start(tmp_path, auth=False) as server:
        assert (await request("GET", f"{server.url}/info")).json()["flags"]["auth"] is False
        client = get_client(url=server.url)
        result = await client.runs.wait(None, "whoami", input={})
        # As langgraph-api shows an unauthenticated caller to graphs: no user, an empty id.
        assert result["user_id"] == ""
        assert result["user"] is None
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
