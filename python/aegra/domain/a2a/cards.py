"""The agent card of an assistant, as langgraph-api publishes it (one agent per assistant), with
both protocol interfaces it serves listed, and the 0.3 top-level fields for 0.3 clients."""

from __future__ import annotations

from typing import Any

from aegra import __version__

MODES = ["application/json", "text/plain"]


def agent_card(assistant: Any, input_schema: dict[str, Any] | None, base_url: str) -> dict[str, Any]:
    assistant_id = str(assistant.assistant_id)
    description = assistant.description or f"{assistant.name} assistant"
    properties = (input_schema or {}).get("properties") or {}
    url = f"{base_url.rstrip('/')}/a2a/{assistant_id}"
    skill = {
        "id": f"{assistant_id}-main",
        "name": f"{assistant.name} Capabilities",
        "description": description,
        "tags": ["assistant", "langgraph"],
        "examples": [],
        "inputModes": MODES,
        "outputModes": MODES,
        "metadata": {
            "inputSchema": {
                "required": (input_schema or {}).get("required") or [],
                "properties": sorted(properties),
                "supportsA2A": "messages" in properties,
            }
        },
    }
    return {
        "name": assistant.name,
        "description": description,
        # A2A 1.0 clients pick an interface here; 1.0 is preferred, 0.3 is served at the same URL.
        "supportedInterfaces": [
            {"url": url, "protocolBinding": "JSONRPC", "protocolVersion": "1.0"},
            {"url": url, "protocolBinding": "JSONRPC", "protocolVersion": "0.3"},
        ],
        # What A2A 0.3 clients read.
        "url": url,
        "protocolVersion": "0.3.0",
        "preferredTransport": "JSONRPC",
        "capabilities": {"streaming": True, "pushNotifications": False, "stateTransitionHistory": False},
        "defaultInputModes": MODES,
        "defaultOutputModes": MODES,
        "skills": [skill],
        "version": __version__,
    }
