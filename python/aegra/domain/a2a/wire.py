"""A2A's two JSON-RPC dialects, read into one shape and written back out.

- A2A 1.0 (`SendMessage`, `SendStreamingMessage`, `GetTask`, `CancelTask`): ProtoJSON of the
  spec's protobuf types, as the current `a2a-sdk` client sends and parses them (`ROLE_USER`,
  `TASK_STATE_COMPLETED`, parts `{"text"}` / `{"data"}` / `{"raw"|"url", "mediaType",
  "filename"}`, stream events wrapped as `{"statusUpdate": ...}`, `{"artifactUpdate": ...}`).
- A2A 0.3 (`message/send`, `message/stream`, `tasks/get`, `tasks/cancel`): the JSON of the 0.3
  schema, which langgraph-api answers and `a2a-sdk` 0.3 (and 1.x's compat transport) speak
  (`kind` fields, lowercase `user`/`completed`/`input-required`, `{"kind": "file", "file":
  {"bytes"|"uri", "mimeType", "name"}}`, stream events unwrapped with `final`).

Everything inside (services.py, translate.py) builds 1.0 objects; `to_v03` rewrites them.
Hand-written rather than through `a2a-sdk`'s protobuf types and converters: importing those
costs ~0.5 s of every server's startup and brings protobuf and google-api-core as runtime
dependencies; the tests check both dialects with the SDK's own clients, which parse strictly.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

V1_METHODS = {"SendMessage": "send", "SendStreamingMessage": "stream", "GetTask": "get", "CancelTask": "cancel"}
V03_METHODS = {"message/send": "send", "message/stream": "stream", "tasks/get": "get", "tasks/cancel": "cancel"}
# Methods of either version that this server does not offer (push notifications, task lists,
# re-subscription, the extended card): UnsupportedOperation rather than "method not found".
UNSUPPORTED_METHODS = frozenset(
    {
        "ListTasks", "SubscribeToTask", "GetExtendedAgentCard", "CreateTaskPushNotificationConfig",
        "GetTaskPushNotificationConfig", "ListTaskPushNotificationConfigs", "DeleteTaskPushNotificationConfig",
        "tasks/resubscribe", "tasks/list", "agent/getAuthenticatedExtendedCard", "tasks/pushNotificationConfig/set",
        "tasks/pushNotificationConfig/get", "tasks/pushNotificationConfig/list", "tasks/pushNotificationConfig/delete",
    }
)  # fmt: skip

ROLE_USER, ROLE_AGENT = "ROLE_USER", "ROLE_AGENT"
SUBMITTED, WORKING, COMPLETED = "TASK_STATE_SUBMITTED", "TASK_STATE_WORKING", "TASK_STATE_COMPLETED"
FAILED, CANCELED, INPUT_REQUIRED = "TASK_STATE_FAILED", "TASK_STATE_CANCELED", "TASK_STATE_INPUT_REQUIRED"
REJECTED, AUTH_REQUIRED = "TASK_STATE_REJECTED", "TASK_STATE_AUTH_REQUIRED"
TERMINAL_STATES = frozenset({COMPLETED, FAILED, CANCELED, REJECTED})
# A stream ends after these (0.3 marks the last event `final`).
FINAL_STATES = TERMINAL_STATES | {INPUT_REQUIRED, AUTH_REQUIRED}

_V03_STATES = {
    SUBMITTED: "submitted", WORKING: "working", COMPLETED: "completed", FAILED: "failed", CANCELED: "canceled",
    INPUT_REQUIRED: "input-required", REJECTED: "rejected", AUTH_REQUIRED: "auth-required",
}  # fmt: skip
_ROLES = {"ROLE_USER": ROLE_USER, "user": ROLE_USER, "ROLE_AGENT": ROLE_AGENT, "agent": ROLE_AGENT}


def now() -> str:
    """A timestamp both dialects read: RFC 3339 in UTC, as protobuf's Timestamp writes it."""
    return timestamp(datetime.now(UTC))


def timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def role(value: Any) -> str | None:
    return _ROLES.get(value) if isinstance(value, str) else None


# -- reading parts ------------------------------------------------------------------------


def read_part(part: Any) -> dict[str, Any]:
    """A part of either dialect as a 1.0 part; ValueError for anything else."""
    if not isinstance(part, dict):
        raise ValueError("Each message part must be an object with 'text', 'data' or a file")
    kinds = [key for key in ("text", "data", "file", "raw", "url") if key in part]
    if len(kinds) != 1:
        raise ValueError(f"Each message part must hold exactly one of text, data or a file; got {kinds or 'none'}")
    kind = kinds[0]
    if kind == "text":
        if not isinstance(part["text"], str):
            raise ValueError("A text part's 'text' must be a string")
        return {"text": part["text"]}
    if kind == "data":
        return {"data": part["data"]}
    file = part["file"] if kind == "file" else part
    if not isinstance(file, dict):
        raise ValueError("A file part's 'file' must be an object")
    content = file.get("bytes") if kind == "file" else file.get("raw")
    url = file.get("uri") if kind == "file" else file.get("url")
    if (content is None) == (url is None):
        raise ValueError("A file part must hold exactly one of its bytes (base64) or a URI")
    media_type = file.get("mimeType") if kind == "file" else file.get("mediaType")
    name = file.get("name") if kind == "file" else file.get("filename")
    for field, value in (("content", content), ("URI", url), ("media type", media_type), ("name", name)):
        if value is not None and not isinstance(value, str):
            raise ValueError(f"A file part's {field} must be a string")
    out: dict[str, Any] = {"raw": content} if content is not None else {"url": url}
    if media_type:
        out["mediaType"] = media_type
    if name:
        out["filename"] = name
    return out


# -- writing 0.3 --------------------------------------------------------------------------


def part_v03(part: dict[str, Any]) -> dict[str, Any]:
    if "text" in part:
        return {"kind": "text", "text": part["text"]}
    if "data" in part:
        data = part["data"]
        return {"kind": "data", "data": data if isinstance(data, dict) else {"value": data}}
    file: dict[str, Any] = {"bytes": part["raw"]} if "raw" in part else {"uri": part["url"]}
    if part.get("mediaType"):
        file["mimeType"] = part["mediaType"]
    if part.get("filename"):
        file["name"] = part["filename"]
    return {"kind": "file", "file": file}


def message_v03(message: dict[str, Any]) -> dict[str, Any]:
    out = {**message, "kind": "message", "role": "user" if message["role"] == ROLE_USER else "agent"}
    out["parts"] = [part_v03(p) for p in message["parts"]]
    return out


def status_v03(status: dict[str, Any]) -> dict[str, Any]:
    out = {**status, "state": _V03_STATES.get(status["state"], "unknown")}
    if "message" in status:
        out["message"] = message_v03(status["message"])
    return out


def artifact_v03(artifact: dict[str, Any]) -> dict[str, Any]:
    return {**artifact, "parts": [part_v03(p) for p in artifact["parts"]]}


def task_v03(task: dict[str, Any]) -> dict[str, Any]:
    out = {**task, "kind": "task", "status": status_v03(task["status"])}
    if "history" in task:
        out["history"] = [message_v03(m) for m in task["history"]]
    if "artifacts" in task:
        out["artifacts"] = [artifact_v03(a) for a in task["artifacts"]]
    return out


def stream_event_v03(event: dict[str, Any]) -> dict[str, Any]:
    """A 1.0 StreamResponse (`{"task"|"statusUpdate"|"artifactUpdate": ...}`) as a 0.3 event."""
    if "task" in event:
        return task_v03(event["task"])
    if "statusUpdate" in event:
        update = event["statusUpdate"]
        final = update["status"]["state"] in FINAL_STATES
        return {**update, "kind": "status-update", "status": status_v03(update["status"]), "final": final}
    update = event["artifactUpdate"]
    return {**update, "kind": "artifact-update", "artifact": artifact_v03(update["artifact"])}
