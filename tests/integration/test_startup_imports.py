"""What the server imports to start, and that what it leaves for later works when first used.

Each case runs in a fresh interpreter: the app is created and its lifespan started (as a Granian
worker does), the modules loaded by then are listed, then requests go through the app.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.fake_hub import repo_files, seed_cache
from tests.support.projects import write_project
from tests.support.tiny_model import build_onnx_model

# Not needed to answer /ok: LangGraph's runtime (and LangSmith's tracing under it), the SDK (auth),
# httpx (webhooks; it drags rich and pygments along), fastembed and onnxruntime (the store's model),
# croniter (its import runs `file` on the interpreter), psycopg (PostgreSQL's checkpointer only).
DEFERRED = [
    "langgraph.pregel", "langgraph.types", "langsmith", "langgraph_sdk", "httpx", "rich", "pygments",
    "fastembed", "onnxruntime", "croniter", "psycopg",
]  # fmt: skip

SCRIPT = """
import asyncio, json, sys
from aegra.server.app import create_app

app = create_app()

litestar_app = app
while not hasattr(litestar_app, "lifespan"):  # below the ASGI layers around it (server/observed.py)
    litestar_app = litestar_app.app

async def started():
    async with litestar_app.lifespan():
        return sorted(m for m in DEFERRED if m in sys.modules)

loaded_at_startup = asyncio.run(started())
answers = {}
from litestar.testing import TestClient

with TestClient(app) as client:
    answers["ok"] = client.get("/ok").status_code
    for request in REQUESTS:
        response = client.request(request["method"], request["path"], json=request.get("json"))
        answers[request["path"]] = [response.status_code, response.json() if response.content else None]
print(json.dumps({"loaded_at_startup": loaded_at_startup, "answers": answers}))
"""


def start_then_ask(cwd: Path, requests: list[dict[str, object]], **env: str) -> dict[str, object]:
    code = f"DEFERRED = {DEFERRED!r}\nREQUESTS = {requests!r}\n{SCRIPT}"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=300,
        env={**os.environ, "DATABASE_URL": "sqlite:///./app.db", "LOG_LEVEL": "WARNING", **env},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_an_empty_project_starts_without_the_deferred_modules(tmp_path: Path) -> None:
    (tmp_path / "aegra.json").write_text('{"graphs": {}}')
    outcome = start_then_ask(tmp_path, [{"method": "GET", "path": "/info"}])
    assert outcome["loaded_at_startup"] == []
    assert outcome["answers"]["ok"] == 200  # type: ignore[index]


def test_what_startup_left_out_works_when_first_used(tmp_path: Path) -> None:
    # A graph, a webhook, and a store with a fastembed index whose model is cached.
    model = build_onnx_model(tmp_path / "model", dims=384)
    seed_cache(
        tmp_path / "cache", "Qdrant/bge-small-en-v1.5-onnx-Q", repo_files(model, {"model.onnx": "model_optimized.onnx"})
    )
    index = {"embed": "fastembed:BAAI/bge-small-en-v1.5", "dims": 384}
    write_project(tmp_path / "project", {"graphs": {"agent": "./graph.py:graph"}, "store": {"index": index}})
    thread = "8f0e7d3c-1d2b-4c5a-9e8f-0a1b2c3d4e5f"
    requests = [
        {"method": "POST", "path": "/threads", "json": {"thread_id": thread}},
        {"method": "POST", "path": f"/threads/{thread}/runs/wait", "json": {
            "assistant_id": "agent", "input": {"messages": [{"role": "user", "content": "hi"}]},
            "webhook": "/ok",  # delivered through the app itself, with httpx
        }},
        {"method": "GET", "path": f"/threads/{thread}/state"},
        {"method": "GET", "path": "/assistants/agent/schemas"},
        {"method": "PUT", "path": "/store/items", "json": {"namespace": ["n"], "key": "k", "value": {"text": "cats"}}},
        {"method": "POST", "path": "/store/items/search", "json": {"namespace_prefix": ["n"], "query": "cats"}},
    ]  # fmt: skip
    outcome = start_then_ask(
        tmp_path / "project", requests, FASTEMBED_CACHE_PATH=str(tmp_path / "cache"), HF_HUB_OFFLINE="1"
    )
    # The user's graph imports LangGraph (and with it langgraph_sdk and httpx); the model waits.
    assert not {"fastembed", "onnxruntime"} & set(outcome["loaded_at_startup"])  # type: ignore[arg-type]
    answers = outcome["answers"]
    state = answers[f"/threads/{thread}/state"]  # type: ignore[index]
    assert state[0] == 200 and state[1]["values"]["messages"][-1]["content"] == "hello"
    assert answers[f"/threads/{thread}/runs/wait"][0] == 200  # type: ignore[index]
    schemas = answers["/assistants/agent/schemas"]  # type: ignore[index]
    assert schemas[0] == 200 and "messages" in schemas[1]["input_schema"]["properties"]
    assert answers["/store/items"][0] in (200, 204)  # type: ignore[index]
    found = answers["/store/items/search"]  # type: ignore[index]
    assert found[0] == 200 and found[1]["items"][0]["key"] == "k" and found[1]["items"][0]["score"] is not None
