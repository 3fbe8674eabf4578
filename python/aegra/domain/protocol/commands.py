"""Protocol commands (`POST /threads/{thread_id}/commands`): `run.start` and `input.respond`.

A command is `{"id": <int>, "method", "params"}`; the answer `{"type": "success", "id", "result",
"meta"}` or `{"type": "error", "id", "error": <code>, "message"}` (langchain-protocol's
`CommandResponse` / `ErrorResponse`). Runs are created as any run is (RunService), on the thread
(created by its first run), marked to execute with the protocol stream.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import msgspec

from aegra.auth import RequestAuth
from aegra.domain.protocol.session import PROTOCOL_MARKER
from aegra.domain.protocol.subscriptions import SESSION_COMMANDS, Subscriptions, error
from aegra.domain.runs.schemas import RunCreate
from aegra.domain.runs.services import RunService
from aegra.domain.threads.services import ThreadService
from aegra.errors import AegraError

MULTITASK = ("reject", "interrupt", "rollback", "enqueue")
INTERRUPT_SETTLE_TIMEOUT_SECONDS = 5.0
INTERRUPT_SETTLE_POLL_SECONDS = 0.05


def parse(raw: bytes | str) -> dict[str, Any]:
    """A command (over HTTP, a request's body; over a WebSocket, a text frame), or the error envelope
    that answers what is not one."""
    try:
        command = msgspec.json.decode(raw)
    except (msgspec.DecodeError, RecursionError):  # RecursionError: nested past what msgspec recurses into
        return error(None, "invalid_argument", "Protocol commands must be valid JSON.")
    if (
        not isinstance(command, dict)
        or type(command.get("id")) is not int
        or not isinstance(command.get("method"), str)
    ):
        return error(
            command.get("id") if isinstance(command, dict) else None,
            "invalid_argument",
            "Protocol commands must include an integer id and string method.",
        )
    return command


async def handle(command: dict[str, Any], thread_id: str, runs: RunService, threads: ThreadService,
                 auth: RequestAuth) -> dict[str, Any]:  # fmt: skip
    command_id, method = command["id"], command["method"]
    given = command.get("params")
    params: dict[str, Any] = given if isinstance(given, dict) else {}
    try:
        if method == "run.start":
            return await _run_start(command_id, params, thread_id, runs, threads, auth)
        if method == "input.respond":
            return await _input_respond(command_id, params, thread_id, runs, threads, auth)
        if method in SESSION_COMMANDS:  # over HTTP no connection holds a subscription (a WebSocket does)
            return await Subscriptions().command(command)
    except AegraError as exc:
        code = {404: "no_such_run", 403: "permission_denied", 401: "permission_denied"}
        return error(command_id, code.get(exc.status_code, "invalid_argument"), exc.detail)
    return error(command_id, "unknown_command", f"Unknown protocol command: {method}")


def _success(command_id: Any, result: dict[str, Any]) -> dict[str, Any]:
    return {"type": "success", "id": command_id, "result": result, "meta": {}}


async def _pending_interrupts(thread_id: str, threads: ThreadService, auth: RequestAuth) -> set[str]:
    """The ids of the interrupts the thread waits on. A client learns of an interrupt from the
    run's stream, which can be before the run's settle has written it on the thread: while the
    thread is busy and shows none, look again until the run has settled (langgraph-api's settle
    barrier, with its timeout and pace)."""
    deadline = time.monotonic() + INTERRUPT_SETTLE_TIMEOUT_SECONDS
    while True:
        try:
            thread = await threads.get(thread_id, auth=auth)
        except AegraError:
            return set()  # a thread the first run.start creates
        ids = {
            item["id"] for items in (thread.interrupts or {}).values() for item in items
            if isinstance(item, dict) and isinstance(item.get("id"), str)
        }  # fmt: skip
        if ids or thread.status != "busy" or time.monotonic() >= deadline:
            return ids
        await asyncio.sleep(INTERRUPT_SETTLE_POLL_SECONDS)


async def _create(thread_id: str, runs: RunService, auth: RequestAuth, params: dict[str, Any],
                  **fields: Any) -> Any:  # fmt: skip
    config = dict(params.get("config") or {}) if isinstance(params.get("config"), dict) else {}
    config["configurable"] = {**(config.get("configurable") or {}), PROTOCOL_MARKER: True}
    strategy = params.get("multitask_strategy")
    body = {
        "assistant_id": params["assistant_id"], "config": config, "metadata": params.get("metadata"),
        "if_not_exists": "create", "stream_subgraphs": True, "stream_resumable": True,
        "multitask_strategy": strategy if strategy in MULTITASK else "enqueue", **fields,
    }  # fmt: skip
    try:
        request = msgspec.convert({k: v for k, v in body.items() if v is not None}, RunCreate)
    except msgspec.ValidationError as exc:
        raise InvalidCommand(str(exc)) from None
    return await runs.create(thread_id, request, auth=auth)


class InvalidCommand(AegraError):
    status_code = 422


async def _run_start(command_id: Any, params: dict[str, Any], thread_id: str, runs: RunService,
                     threads: ThreadService, auth: RequestAuth) -> dict[str, Any]:  # fmt: skip
    if not isinstance(params.get("assistant_id"), str) or not params["assistant_id"]:
        return error(command_id, "invalid_argument", "run.start requires an assistant_id.")
    value = params.get("input")
    # `input` resumes the thread when it waits on an interrupt (langgraph-api's rule).
    if value is not None and await _pending_interrupts(thread_id, threads, auth):
        run = await _create(thread_id, runs, auth, params, command={"resume": value})
    else:
        run = await _create(thread_id, runs, auth, params, input=value)
    return _success(command_id, {"run_id": str(run.run_id)})


async def _input_respond(command_id: Any, params: dict[str, Any], thread_id: str, runs: RunService,
                         threads: ThreadService, auth: RequestAuth) -> dict[str, Any]:  # fmt: skip
    responses = params.get("responses")
    entries: list[Any] = responses if isinstance(responses, list) else [params]
    resume: dict[str, Any] = {}
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("interrupt_id"), str):
            return error(command_id, "invalid_argument", "input.respond requires an interrupt_id.")
        resume[entry["interrupt_id"]] = entry.get("response")
    pending = await _pending_interrupts(thread_id, threads, auth)
    unknown = [interrupt_id for interrupt_id in resume if interrupt_id not in pending]
    if unknown:
        return error(command_id, "no_such_interrupt", f"Unknown or already-consumed interrupt: {unknown[0]}")
    thread = await threads.get(thread_id, auth=auth)
    assistant_id = thread.metadata.get("assistant_id")
    if not assistant_id:
        return error(command_id, "no_such_run", "No interrupted run is bound to this thread.")
    command = {"resume": resume, "update": params.get("update"), "goto": params.get("goto")}
    await _create(thread_id, runs, auth, {**params, "assistant_id": assistant_id},
                  command={k: v for k, v in command.items() if v is not None})  # fmt: skip
    return _success(command_id, {})
