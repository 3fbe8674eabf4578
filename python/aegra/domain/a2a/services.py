"""The A2A methods of one assistant: send and stream a message, get and cancel a task.

Each message is a run through RunService (the thread is the message's `contextId`, created if
new), so the auth handlers of the HTTP API decide here as well: the caller must read the
assistant, and runs, threads and tasks of other users are "not found". Results are built as
A2A 1.0 objects (wire.py writes them as 0.3 for 0.3 callers).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import msgspec

from aegra.auth import RequestAuth
from aegra.domain.a2a import translate
from aegra.domain.a2a.cards import agent_card
from aegra.domain.a2a.tasks import Task, resolve, task_id_of, thread_interrupts
from aegra.domain.a2a.wire import (
    CANCELED,
    COMPLETED,
    FAILED,
    INPUT_REQUIRED,
    ROLE_USER,
    SUBMITTED,
    TERMINAL_STATES,
    WORKING,
    now,
    read_part,
    role,
    timestamp,
)  # fmt: skip
from aegra.domain.assistants.input_schemas import InputSchemas
from aegra.domain.assistants.services import AssistantService
from aegra.domain.jsonrpc import INVALID_PARAMS, RpcError, optional_dict, require_str
from aegra.domain.runs.results import RunResult
from aegra.domain.runs.schemas import CommandBody, RunCreate
from aegra.domain.runs.services import RunService
from aegra.domain.schemas import parse_uuid, selected
from aegra.domain.threads.schemas import StateUpdate
from aegra.domain.threads.services import ThreadService
from aegra.errors import AegraError, Conflict

TASK_NOT_FOUND = -32001
TASK_NOT_CANCELABLE = -32002
UNSUPPORTED_OPERATION = -32004
CONTENT_TYPE_NOT_SUPPORTED = -32005
MAX_HISTORY_LENGTH = 10  # as langgraph-api


@dataclass
class Prepared:
    """A message turned into the run that answers it."""

    assistant_id: str
    thread_id: str
    body: RunCreate
    task_id: str | None  # None: a new task, named after the run
    user_message: dict[str, Any]
    history_length: int | None


def history_length_of(value: Any) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise RpcError(INVALID_PARAMS, "historyLength must be a non-negative integer")
    if value > MAX_HISTORY_LENGTH:
        raise RpcError(INVALID_PARAMS, f"historyLength cannot exceed {MAX_HISTORY_LENGTH}")
    return value


def _last(items: list[Any], count: int | None) -> list[Any]:
    return items if count is None else items[-count:] if count else []


class A2AService:
    def __init__(self, assistants: AssistantService, runs: RunService, threads: ThreadService) -> None:
        self.assistants = assistants
        self.runs = runs
        self.threads = threads
        self.input_schemas = InputSchemas(assistants.graphs)

    async def card(self, assistant_id: str, base_url: str, auth: RequestAuth) -> dict[str, Any]:
        assistant = await self.assistants.get(assistant_id, auth=auth)
        return agent_card(assistant, await self.input_schemas.get(selected(assistant, None)), base_url)

    # -- messages -------------------------------------------------------------------------

    async def _assistant(self, assistant_id: str, auth: RequestAuth) -> Any:
        try:
            return await self.assistants.get(assistant_id, auth=auth)
        except AegraError as exc:
            raise RpcError(
                INVALID_PARAMS, f"Assistant '{assistant_id}' not found", {"status": exc.status_code}
            ) from None

    async def _refuse_without_messages(self, assistant: Any) -> None:
        schema = await self.input_schemas.get(selected(assistant, None))
        properties = (schema or {}).get("properties") or {}
        if "messages" not in properties:
            raise RpcError(
                INVALID_PARAMS,
                f"Assistant '{assistant.assistant_id}' (graph '{assistant.graph_id}') does not support A2A "
                "conversational messages: its input schema has no 'messages' field, so it cannot take text or "
                f"file parts. Send a data part with its input instead. Input fields: {sorted(properties)}",
            )

    async def prepare(self, assistant_id: str, params: dict[str, Any], auth: RequestAuth) -> Prepared:
        configuration = optional_dict(params, "configuration") or {}
        history_length = history_length_of(configuration.get("historyLength"))
        message = params.get("message")
        if not isinstance(message, dict):
            raise RpcError(INVALID_PARAMS, "Missing or invalid 'message' in params")
        message_id = require_str(message, "messageId")
        message_role = role(message.get("role"))
        if message_role is None:
            raise RpcError(INVALID_PARAMS, "'role' must be user or agent (ROLE_USER or ROLE_AGENT)")
        raw_parts = message.get("parts")
        if not isinstance(raw_parts, list) or not raw_parts:
            raise RpcError(INVALID_PARAMS, "Message must contain at least one part")
        try:
            parts = [read_part(p) for p in raw_parts]
        except ValueError as exc:
            raise RpcError(CONTENT_TYPE_NOT_SUPPORTED, str(exc)) from None
        context_id = require_str(message, "contextId", optional=True)
        task_ref = require_str(message, "taskId", optional=True)
        run_context = optional_dict(params, "context")  # langgraph-api's extension: the run's context
        assistant = await self._assistant(assistant_id, auth)
        human = translate.human_message(parts, message_id)
        if human is not None:
            await self._refuse_without_messages(assistant)
            if message_role != ROLE_USER:
                human["role"] = "assistant"
        task = None
        if task_ref is not None:
            task = await resolve(self.runs, self.threads, task_ref, context_id=context_id,
                                 assistant_id=assistant.assistant_id, auth=auth)  # fmt: skip
            if task is None:
                raise RpcError(TASK_NOT_FOUND, f"Task not found: {task_ref}")
            if task.state in TERMINAL_STATES:
                raise RpcError(UNSUPPORTED_OPERATION, "A terminal task cannot accept another message")
            context_id = task.context_id
        elif context_id is not None:
            try:
                context_id = str(parse_uuid(context_id, "contextId"))
            except AegraError as exc:
                raise RpcError(INVALID_PARAMS, exc.detail) from None
        graph_input: dict[str, Any] = {"messages": [human]} if human is not None else {}
        resumes = []
        for data in translate.data_of(parts):
            if not isinstance(data, dict):
                raise RpcError(CONTENT_TYPE_NOT_SUPPORTED, "A data part must hold a JSON object")
            if "resume" in data:
                resumes.append(data["resume"])
            graph_input.update({k: v for k, v in data.items() if k != "resume"})
        command = self._command(message, task, resumes, translate.text_of(parts))
        metadata = {"a2a": {"task_id": task.task_id}} if task is not None else None
        body = RunCreate(
            assistant_id=str(assistant.assistant_id), input=None if command else graph_input, command=command,
            context=run_context, metadata=metadata, if_not_exists="create",
        )  # fmt: skip
        user_message = {key: message[key] for key in ("messageId", "contextId", "taskId") if key in message}
        user_message.update(role=message_role, parts=parts)
        return Prepared(str(assistant.assistant_id), context_id or str(uuid.uuid4()), body,
                        task.task_id if task else None, user_message, history_length)  # fmt: skip

    @staticmethod
    def _command(
        message: dict[str, Any], task: Task | None, resumes: list[Any], text: str | None
    ) -> CommandBody | None:
        """How the message continues an interrupted task: langgraph-api's `command` extension, a
        `{"resume": ...}` data part, or (to a task awaiting input) the message's text."""
        raw = message.get("command")
        if raw is not None:
            if not isinstance(raw, dict):
                raise RpcError(INVALID_PARAMS, "'command' must be an object")
            if task is None:
                raise RpcError(INVALID_PARAMS, "taskId is required when resuming a task with a command")
            return CommandBody(update=raw.get("update"), resume=raw.get("resume"), goto=raw.get("goto"))
        if len(resumes) > 1:
            raise RpcError(INVALID_PARAMS, "Only one resume value is allowed in data parts")
        if resumes:
            if task is None:
                raise RpcError(INVALID_PARAMS, "contextId and taskId are required when resuming a task")
            if task.state != INPUT_REQUIRED:
                raise RpcError(INVALID_PARAMS, "Task is not awaiting input")
            return CommandBody(resume=resumes[0])
        if task is not None and task.state == INPUT_REQUIRED and text is not None:
            return CommandBody(resume=text)
        return None

    async def _start(self, prepared: Prepared, auth: RequestAuth) -> tuple[str, str, str]:
        """Create the run; its id, its thread's id (the context) and the task's id."""
        try:
            run = await self.runs.create(prepared.thread_id, prepared.body, auth=auth)
        except AegraError as exc:
            raise RpcError.from_domain(exc) from None
        context_id = str(run.thread_id)
        return str(run.run_id), context_id, prepared.task_id or task_id_of(context_id, run.run_id)

    def _finished_task(self, prepared: Prepared, task_id: str, context_id: str, value: Any) -> dict[str, Any]:
        task: dict[str, Any] = {"id": task_id, "contextId": context_id}
        if isinstance(value, dict) and "__error__" in value:
            error = value["__error__"] if isinstance(value["__error__"], dict) else {}
            text = f"Error executing assistant: {error.get('error')}: {error.get('message')}"
            message = translate.agent_message([{"text": text}], task_id, context_id)
            task["status"] = {"state": FAILED, "message": message, "timestamp": now()}
        elif isinstance(value, dict) and "__interrupt__" in value:
            task["status"] = {"state": INPUT_REQUIRED, "timestamp": now()}
            task["artifacts"] = [translate.interrupt_artifact(value["__interrupt__"])]
        else:
            task["status"] = {"state": COMPLETED, "timestamp": now()}
            task["artifacts"] = [translate.response_artifact(value, prepared.assistant_id)]
        if prepared.history_length != 0:
            messages = value.get("messages") if isinstance(value, dict) else None
            task["history"] = _last(translate.a2a_messages(messages, task_id, context_id), prepared.history_length)
        return task

    async def send(self, assistant_id: str, params: dict[str, Any], auth: RequestAuth) -> dict[str, Any]:
        prepared = await self.prepare(assistant_id, params, auth)
        run_id, context_id, task_id = await self._start(prepared, auth)
        value = await self.runs.result(None, run_id, auth=auth, just_created=True)
        return await self._outcome(prepared, run_id, task_id, context_id, value, auth)

    async def _outcome(self, prepared: Prepared, run_id: str, task_id: str, context_id: str, value: Any,
                       auth: RequestAuth) -> dict[str, Any]:  # fmt: skip
        """The task after its run ended: a cancelled run leaves no trace in its result, so ask."""
        if isinstance(value, dict) and ("__error__" in value or "__interrupt__" in value):
            return self._finished_task(prepared, task_id, context_id, value)
        if (await self.runs.get(None, run_id, auth=auth)).status == "interrupted":
            message = translate.agent_message([{"text": "Task was canceled"}], task_id, context_id)
            return {"id": task_id, "contextId": context_id,
                    "status": {"state": CANCELED, "message": message, "timestamp": now()}}  # fmt: skip
        return self._finished_task(prepared, task_id, context_id, value)

    async def stream(
        self, assistant_id: str, params: dict[str, Any], auth: RequestAuth
    ) -> AsyncIterator[dict[str, Any]]:
        """A2A 1.0 StreamResponses: the task, `working`, the agent's text as it streams, then the
        artifact and the final status. RpcError before the first item if the message is refused."""
        prepared = await self.prepare(assistant_id, params, auth)
        prepared.body.stream_mode = ["messages", "values"]
        run_id, context_id, task_id = await self._start(prepared, auth)
        return self._stream(prepared, run_id, context_id, task_id, auth)

    async def _stream(self, prepared: Prepared, run_id: str, context_id: str, task_id: str,
                      auth: RequestAuth) -> AsyncIterator[dict[str, Any]]:  # fmt: skip
        user_message = {**prepared.user_message, "taskId": task_id, "contextId": context_id}
        status = {"state": SUBMITTED, "timestamp": now()}
        yield {"task": {"id": task_id, "contextId": context_id, "status": status, "history": [user_message]}}

        def update(state: str, message: dict[str, Any] | None = None) -> dict[str, Any]:
            status: dict[str, Any] = {"state": state, "timestamp": now()}
            if message is not None:
                status["message"] = message
            return {"statusUpdate": {"taskId": task_id, "contextId": context_id, "status": status}}

        yield update(WORKING)
        result = RunResult()
        async for event in self.runs.events(None, run_id, auth=auth, just_created=True):
            result.absorb(event.event, event.data)
            if event.event in ("messages/partial", "messages/complete"):
                said = [m for m in msgspec.json.decode(event.data) if isinstance(m, dict)]
                texts = [part["text"] for m in said if translate.a2a_role(m) is not None
                         for part in translate.content_parts(m.get("content")) if "text" in part]  # fmt: skip
                if any(texts):
                    yield update(WORKING, translate.agent_message([{"text": "".join(texts)}], task_id, context_id))
        value = result.body() if result.seen_any else {}
        task = await self._outcome(prepared, run_id, task_id, context_id, value, auth)
        for artifact in task.get("artifacts", []):
            artifact_event = {"taskId": task_id, "contextId": context_id, "artifact": artifact, "append": False,
                              "lastChunk": True}  # fmt: skip
            yield {"artifactUpdate": artifact_event}
        yield {"statusUpdate": {"taskId": task_id, "contextId": context_id, "status": task["status"]}}

    # -- tasks ----------------------------------------------------------------------------

    async def _cancel_waiting(self, task: Task, auth: RequestAuth) -> None:
        """Cancel a task that waits for input, as langgraph-api does: no run is in flight, so a
        marker run of the task is recorded cancelled (the task's latest run, hence `canceled`),
        and the thread's pending step is ended (`as_node="__end__"`), so the question is gone."""
        a2a = task.run.metadata.get("a2a") if isinstance(task.run.metadata, dict) else None
        metadata = {"a2a": {**(a2a if isinstance(a2a, dict) else {}), "task_id": task.task_id}}
        # Pending for an hour: it is cancelled before anything could start it.
        body = RunCreate(assistant_id=str(task.run.assistant_id), metadata=metadata, after_seconds=3600)
        try:
            marker = await self.runs.create(task.context_id, body, auth=auth)
        except AegraError as exc:
            raise RpcError.from_domain(exc) from None
        marker_id = str(marker.run_id)
        try:
            await self.runs.cancel(task.context_id, marker_id, "interrupt", auth=auth)
            await self.runs.result(task.context_id, marker_id, auth=auth)  # until it is recorded
            await self.threads.state.update(task.context_id, StateUpdate(as_node="__end__"), auth=auth)
        except AegraError as exc:
            with contextlib.suppress(AegraError):
                await self.runs.delete(task.context_id, marker_id, auth=auth)
            raise RpcError.from_domain(exc) from None

    async def _task(self, assistant_id: str, params: dict[str, Any], auth: RequestAuth) -> Task:
        task_ref = require_str(params, "id")
        context_id = require_str(params, "contextId", optional=True)
        assistant = await self._assistant(assistant_id, auth)
        task = await resolve(self.runs, self.threads, task_ref, context_id=context_id,
                             assistant_id=assistant.assistant_id, auth=auth)  # fmt: skip
        if task is None:
            raise RpcError(TASK_NOT_FOUND, f"Task not found: {task_ref}")
        return task

    async def get_task(self, assistant_id: str, params: dict[str, Any], auth: RequestAuth) -> dict[str, Any]:
        history_length = history_length_of(params.get("historyLength"))
        task = await self._task(assistant_id, params, auth)
        status: dict[str, Any] = {"state": task.state, "timestamp": timestamp(task.run.updated_at)}
        out: dict[str, Any] = {"id": task.task_id, "contextId": task.context_id, "status": status}
        values = task.thread.values if task.is_latest else None
        if task.state == COMPLETED:
            status["message"] = translate.agent_message([{"text": "Task completed successfully"}], task.task_id,
                                                        task.context_id)  # fmt: skip
            if values is not None:
                out["artifacts"] = [translate.response_artifact(values, str(task.run.assistant_id))]
        elif task.state == FAILED:
            text = f"Task failed with status: {task.run.status}"
            status["message"] = translate.agent_message([{"text": text}], task.task_id, task.context_id)
        elif task.state == INPUT_REQUIRED:
            out["artifacts"] = [translate.interrupt_artifact(thread_interrupts(task.thread))]
        if history_length != 0:
            messages = values.get("messages") if isinstance(values, dict) else None
            out["history"] = _last(translate.a2a_messages(messages, task.task_id, task.context_id), history_length)
        return out

    async def cancel_task(self, assistant_id: str, params: dict[str, Any], auth: RequestAuth) -> dict[str, Any]:
        task = await self._task(assistant_id, params, auth)
        if task.state == INPUT_REQUIRED:
            await self._cancel_waiting(task, auth)
        elif task.state not in (SUBMITTED, WORKING):
            raise RpcError(TASK_NOT_CANCELABLE, f"Task is not cancelable in its current state ({task.state})")
        else:
            run_id = str(task.run.run_id)
            try:
                await self.runs.cancel(task.context_id, run_id, "interrupt", auth=auth)
            except Conflict:
                raise RpcError(TASK_NOT_CANCELABLE, "Task has already ended") from None
            except AegraError as exc:
                raise RpcError.from_domain(exc) from None
            await self.runs.result(task.context_id, run_id, auth=auth)  # until the run has stopped
        message = translate.agent_message([{"text": "Task was canceled"}], task.task_id, task.context_id)
        status = {"state": CANCELED, "timestamp": now(), "message": message}
        return {"id": task.task_id, "contextId": task.context_id, "status": status}
