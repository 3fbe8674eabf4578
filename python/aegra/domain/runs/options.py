"""Run-creation options: which apply to which route, and how they become the run's `kwargs`.

Every option the SDK can send either takes effect or is refused with 422 (as langgraph-api's
`RunCreate` validation does).
Config and context merge as in langgraph-api: the assistant's, then the thread's, then the
request's, with the server's own keys (`thread_id`, `run_id`, `graph_id`, `assistant_id`, and
the caller's `langgraph_auth_user`, `langgraph_auth_user_id`, `langgraph_auth_permissions`) last
so that a request cannot spoof them.
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol

import msgspec

from aegra.domain.runs.schemas import RunCreate
from aegra.domain.runs.webhooks import validate_webhook
from aegra.domain.schemas import check_config_and_context, parse_uuid
from aegra.errors import Invalid

STATEFUL_ONLY = ("checkpoint", "checkpoint_id", "multitask_strategy", "if_not_exists", "interrupt_before",
                 "interrupt_after")  # fmt: skip
NOT_SUPPORTED = {
    "feedback_keys": "LangSmith feedback is not available on Aegra",
    "langsmith_tracer": "LangSmith tracing options are not available on Aegra",
}


def validate_options(body: RunCreate, *, stateless: bool, webhooks_enabled: bool = True) -> None:
    for name, why in NOT_SUPPORTED.items():
        if getattr(body, name) is not None:
            raise Invalid(f"`{name}`: {why}")
    if body.webhook is not None:
        if not webhooks_enabled:
            raise Invalid("`webhook`: webhooks are disabled on this server (http.disable_webhooks)")
        validate_webhook(body.webhook)
    if stateless:
        for name in STATEFUL_ONLY:
            if getattr(body, name) is not None:
                raise Invalid(f"`{name}` applies only to runs on a thread (/threads/{{thread_id}}/runs)")
    elif body.on_completion is not None:
        raise Invalid("`on_completion` applies only to stateless runs (/runs)")
    if body.command is not None and body.input not in (None, {}, []):
        raise Invalid("Cannot specify both `input` and `command`")
    if body.checkpoint_id is not None:
        parse_uuid(body.checkpoint_id, "checkpoint_id")
    if body.checkpoint is not None and body.checkpoint.checkpoint_id is not None:
        parse_uuid(body.checkpoint.checkpoint_id, "checkpoint.checkpoint_id")
    check_config_and_context(body.config, body.context)


def _durability(body: RunCreate) -> str:
    if body.durability is not None:
        return body.durability
    # The deprecated flag: false meant "checkpoint only at the end".
    return "exit" if body.checkpoint_during is False else "async"


class RunAssistant(Protocol):
    """What a run's kwargs take from its assistant (AssistantService.for_run)."""

    @property
    def assistant_id(self) -> uuid.UUID: ...

    @property
    def graph_id(self) -> str: ...

    @property
    def config(self) -> dict[str, Any]: ...

    @property
    def context(self) -> dict[str, Any]: ...

    @property
    def metadata(self) -> dict[str, Any]: ...


class RunThread(Protocol):
    """What a run's kwargs take from its thread: a thread row, or the new thread a run creates."""

    @property
    def thread_id(self) -> uuid.UUID: ...

    @property
    def metadata(self) -> dict[str, Any]: ...

    @property
    def config(self) -> dict[str, Any]: ...


def build_kwargs(body: RunCreate, assistant: RunAssistant, thread: RunThread, run_id: uuid.UUID, *,
                 stateless: bool, user: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:  # fmt: skip
    """The run's stored `kwargs` (everything execution needs) and its metadata.

    `user`: the `langgraph_auth_*` keys the graph sees (`RequestAuth.configurable()`).
    """
    request_config = dict(body.config or {})
    configurable: dict[str, Any] = {
        **(assistant.config.get("configurable") or {}),
        **(thread.config.get("configurable") or {}),
        **(request_config.get("configurable") or {}),
    }
    if body.checkpoint is not None:
        configurable.update({k: v for k, v in msgspec.structs.asdict(body.checkpoint).items() if v is not None})
    if body.checkpoint_id is not None:
        configurable["checkpoint_id"] = body.checkpoint_id
    configurable.update(
        thread_id=str(thread.thread_id),
        run_id=str(run_id),
        graph_id=assistant.graph_id,
        assistant_id=str(assistant.assistant_id),
        **user,
    )
    metadata = {
        **assistant.metadata,
        **(thread.metadata or {}),
        **(request_config.get("metadata") or {}),
        **(body.metadata or {}),
        "assistant_id": str(assistant.assistant_id),
    }
    config = {**assistant.config, **request_config, "configurable": configurable, "metadata": metadata}
    context = {**assistant.context, **(body.context or {})}
    kwargs = {
        "input": body.input,
        "command": _command_dict(body),
        "config": config,
        "context": context,
        "stream_mode": body.stream_modes(),
        "subgraphs": body.stream_subgraphs,
        "resumable": body.stream_resumable,
        "interrupt_before": body.interrupt_before,
        "interrupt_after": body.interrupt_after,
        "durability": _durability(body),
        "webhook": body.webhook,
        "temporary": stateless and (body.on_completion or "delete") == "delete",
    }
    return kwargs, metadata


def _command_dict(body: RunCreate) -> dict[str, Any] | None:
    if body.command is None:
        return None
    command = body.command
    return {"update": command.update, "resume": command.resume, "goto": command.goto}
