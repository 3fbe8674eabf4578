"""A probe `Auth` file: each request chooses, through headers, what the handlers do.

`Authorization: User <name>` names the user. Headers then pick the rest:
- `x-shape: str | dict | object`: what `@auth.authenticate` returns (default `dict`; only the
  dict carries `seen`, the parameters the handler received, and the choices below);
- `x-deny: <status>`: the handler raises `Auth.exceptions.HTTPException` with that status;
- `x-verdict: true | false | none`: what every `@auth.on` handler returns;
- `x-filter: <json>`: the filter every `@auth.on` handler returns (when no verdict is given);
- `x-assistant-read: false`: the `assistants.read` handler alone refuses;
- `x-search-metadata: <json>`: searching, the handlers replace `value["metadata"]` with the
  request's metadata and these keys (narrowing the search by changing it, not by a filter).
Creating or updating, every handler stamps its name into `value["metadata"]["handled_by"]`, showing
which one ran.
"""

from __future__ import annotations

PROBE_AUTH_FILE = """
import json
from dataclasses import dataclass, field

from langgraph_sdk import Auth

auth = Auth()


@dataclass
class User:
    identity: str
    permissions: list[str] = field(default_factory=list)


@auth.authenticate
async def authenticate(request, path, method, path_params, query_params, headers, authorization):
    if b"x-deny" in headers:
        raise Auth.exceptions.HTTPException(
            status_code=int(headers[b"x-deny"]), detail="denied by the probe", headers={"x-reason": "probe"}
        )
    identity = (authorization or "").removeprefix("User ")
    if not identity:
        raise Auth.exceptions.HTTPException(status_code=401, detail="Who are you?")
    shape = headers.get(b"x-shape", b"dict").decode()
    if shape == "str":
        return identity
    if shape == "object":
        return User(identity, ["from-object"])
    seen = {
        "path": path,
        "method": method,
        "path_params": path_params,
        "query_params": query_params,
        "header": headers.get(b"x-probe", b"").decode(),
        "request_path": request.url.path,
        "request_path_params": request.path_params,
    }
    names = ("verdict", "filter", "assistant-read", "search-metadata")
    choices = {name: headers[b"x-" + name.encode()].decode() for name in names if b"x-" + name.encode() in headers}
    return {"identity": identity, "permissions": ["from-dict"], "seen": seen, **choices}


def decide(ctx: Auth.types.AuthContext, value: dict, handler: str):
    if ctx.action in ("create", "update") and isinstance(value.get("metadata"), dict):
        value["metadata"]["handled_by"] = handler
    if ctx.action == "search" and "search-metadata" in ctx.user:
        value["metadata"] = {**(value.get("metadata") or {}), **json.loads(ctx.user["search-metadata"])}
    verdict = ctx.user.get("verdict")
    if verdict is not None:
        return {"true": True, "false": False, "none": None}[verdict]
    return json.loads(ctx.user["filter"]) if "filter" in ctx.user else None


@auth.on
async def everything(ctx: Auth.types.AuthContext, value: dict):
    return decide(ctx, value, "global")


@auth.on.threads
async def threads(ctx: Auth.types.AuthContext, value: dict):
    return decide(ctx, value, "threads")


@auth.on.threads.create
async def create_thread(ctx: Auth.types.AuthContext, value: dict):
    return decide(ctx, value, "threads.create")


@auth.on.assistants.read
async def read_assistant(ctx: Auth.types.AuthContext, value: dict):
    if ctx.user.get("assistant-read") == "false":
        return False
    return decide(ctx, value, "assistants.read")
"""
