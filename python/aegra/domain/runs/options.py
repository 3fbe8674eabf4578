"""Run-creation options: which apply to which route, and how they become the run's `kwargs`.

Every option the SDK can send either takes effect or is refused with 422 (as langgraph-api's
`RunCreate` validation does).
Config and context merge as in langgraph-api: the assistant's, then the thread's, then the
request's, with the server's own keys (`thread_id`, `run_id`, `graph_id`, `assistant_id`, and
the caller's `langgraph_auth_user`, `langgraph_auth_user_id`, `langgraph_auth_permissions`) last
so that a request cannot spoof them.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Protocol

import msgspec
from langgraph.version import __version__ as langgraph_version

from aegra import __version__
from aegra.domain.runs.schemas import RunCreate
from aegra.domain.schemas import check_config_and_context, parse_uuid
from aegra.domain.webhooks.policy import WebhookPolicy
from aegra.errors import Invalid

# `multitask_strategy` is accepted on stateless runs, as langgraph-api does (a new thread has nothing to
# multitask with, so it changes nothing), since the SDK sends it for them.
STATEFUL_ONLY = ("checkpoint", "checkpoint_id", "if_not_exists", "interrupt_before", "interrupt_after")
NOT_SUPPORTED = {
    "feedback_keys": "LangSmith feedback is not available on Aegra",
    "langsmith_tracer": "LangSmith tracing options are not available on Aegra",
}


def validate_options(body: RunCreate, *, stateless: bool, webhooks: WebhookPolicy | None = None) -> None:
    """422 for an option that does not apply; `webhooks`: which webhook URLs are allowed (None:
    webhooks are disabled). The webhook's host is resolved and checked later (`check_resolved`)."""
    for name, why in NOT_SUPPORTED.items():
        if getattr(body, name) is not None:
            raise Invalid(f"`{name}`: {why}")
    if body.webhook is not None:
        if webhooks is None:
            raise Invalid("`webhook`: webhooks are disabled on this server (http.disable_webhooks)")
        webhooks.check(body.webhook)
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
    As in langgraph-api, `context` and `config.configurable` mirror each other (a graph written
    for either sees the request's values), and the run's metadata carries the graph it runs
    (the thread's metadata is updated with it before the run reads it).
    """
    request_config = dict(body.config or {})
    request_configurable = dict(request_config.get("configurable") or {})
    context = {**assistant.context, **(body.context or {})}
    if body.context:
        request_configurable = {**body.context, **request_configurable}
    configurable: dict[str, Any] = {
        **(assistant.config.get("configurable") or {}),
        **(thread.config.get("configurable") or {}),
        **request_configurable,
    }
    if not body.context:
        context = {**context, **request_configurable}
    if body.checkpoint is not None:
        configurable.update({k: v for k, v in msgspec.structs.asdict(body.checkpoint).items() if v is not None})
    if body.checkpoint_id is not None:
        configurable["checkpoint_id"] = body.checkpoint_id
    configurable.update(
        thread_id=str(thread.thread_id),
        run_id=str(run_id),
        graph_id=assistant.graph_id,
        assistant_id=str(assistant.assistant_id),
        user_id=configurable.get("user_id") or user.get("langgraph_auth_user_id") or "",
        langgraph_request_id=str(uuid.uuid4()),
        __request_start_time_ms__=int(time.time() * 1000),
        __after_seconds__=body.after_seconds or 0,
        **user,
    )
    metadata = {
        **assistant.metadata,
        **(thread.metadata or {}),
        "graph_id": assistant.graph_id,
        **(request_config.get("metadata") or {}),
        **(body.metadata or {}),
        "assistant_id": str(assistant.assistant_id),
    }
    config = {**assistant.config, **request_config, "configurable": configurable, "metadata": metadata}
    kwargs = {
        "input": body.input,
        "command": _command_dict(body),
        "config": config,
        "context": context,
        "stream_mode": body.stream_modes(),
        "interrupt_before": body.interrupt_before,
        "interrupt_after": body.interrupt_after,
        "webhook": body.webhook,
        "feedback_keys": body.feedback_keys,
        "temporary": stateless and (body.on_completion or "delete") == "delete",
        "subgraphs": body.stream_subgraphs,
        "resumable": body.stream_resumable,
        "checkpoint_during": body.checkpoint_during if body.checkpoint_during is not None else True,
        "durability": _durability(body),
    }
    return kwargs, metadata


def graph_config(kwargs: dict[str, Any], run_id: uuid.UUID, attempt: int) -> dict[str, Any]:
    """The config a run's graph executes with: the stored one, plus what langgraph-api adds when it
    executes a run: `run_metadata`, and on the first attempt the run's id as the root run's id (so
    `events` mode and tracing name the run as the API does)."""
    config = dict(kwargs["config"])
    config["metadata"] = {**(config.get("metadata") or {}), **run_metadata(attempt)}
    if attempt == 1:
        config["run_id"] = run_id
    return config


def run_metadata(attempt: int) -> dict[str, Any]:
    """What langgraph-api adds to a run's `config.metadata` when it executes (so to its checkpoints'
    metadata and to `messages-tuple` metadata): the attempt and where it runs."""
    return {
        "run_attempt": attempt,
        "langgraph_version": langgraph_version,
        "langgraph_api_version": __version__,
        "langgraph_plan": "enterprise",
        "langgraph_host": "self-hosted",
    }


def _command_dict(body: RunCreate) -> dict[str, Any] | None:
    if body.command is None:
        return None
    command = body.command
    return {"update": command.update, "resume": command.resume, "goto": command.goto}
