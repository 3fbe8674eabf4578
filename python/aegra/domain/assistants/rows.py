"""Assistant rows as the API's `Assistant` and `AssistantVersion`, and the config/context rule."""

from __future__ import annotations

from typing import Any

from aegra.db.models import Assistant as AssistantRow
from aegra.db.models import AssistantVersion as VersionRow
from aegra.domain.assistants import schemas
from aegra.domain.schemas import JSONObject, check_config_and_context


def to_schema(row: AssistantRow) -> schemas.Assistant:
    return schemas.Assistant(
        assistant_id=row.assistant_id,
        graph_id=row.graph_id,
        config=row.config,
        context=row.context,
        created_at=row.created_at,
        updated_at=row.updated_at,
        metadata=row.metadata_,
        version=row.version,
        name=row.name,
        description=row.description,
    )


def version_to_schema(row: VersionRow) -> schemas.AssistantVersion:
    return schemas.AssistantVersion(
        assistant_id=row.assistant_id,
        version=row.version,
        graph_id=row.graph_id,
        config=row.config,
        context=row.context,
        metadata=row.metadata_,
        created_at=row.created_at,
        name=row.name,
        description=row.description,
    )


def sync_config_and_context(config: JSONObject | None, context: JSONObject | None) -> tuple[JSONObject, JSONObject]:
    """Make `config.configurable` and `context` carry the same values, whichever was given."""
    check_config_and_context(config, context)
    config = dict(config or {})
    if config.get("configurable"):
        return config, dict(config["configurable"])
    if context:
        config["configurable"] = dict(context)
    return config, dict(context or {})


def select_fields(assistant: schemas.Assistant, select: list[str] | None) -> dict[str, Any]:
    fields = {name: getattr(assistant, name) for name in assistant.__struct_fields__}
    return fields if not select else {name: fields[name] for name in select}
