"""Loading user objects named in aegra.json (`auth.path`, `http.app`) as `./file.py:attr` or `module:attr`.

The same importer as graphs (graphs/importing.py), so relative imports, `dependencies` folders
and error messages behave alike; a failure stops startup with the key, the spec and the cause.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from aegra.config import ConfigError
from aegra.config_schema import AegraConfig
from aegra.graphs.errors import GraphLoadError
from aegra.graphs.importing import add_dependencies_to_sys_path, import_target, parse_target

if TYPE_CHECKING:
    from langgraph_sdk import Auth


def import_object(key: str, spec: str, config: AegraConfig, base_dir: Path) -> Any:
    """The object `spec` names; `key` (e.g. `auth.path`) labels errors."""
    try:
        add_dependencies_to_sys_path(config.dependencies or [], base_dir)
        return import_target(parse_target(key, spec, base_dir), [])
    except GraphLoadError as exc:
        # The importer words its messages for graphs: "Graph '<key>' (<spec>): <problem>".
        problem = str(exc).split("): ", 1)[-1]
        raise ConfigError(f"{key} ({spec}): {problem}") from exc


def load_auth(config: AegraConfig, base_dir: Path) -> Auth | None:
    """The `langgraph_sdk.Auth` object of `auth.path`; None when the config has none (open access)."""
    spec = config.auth.path if config.auth else None
    if not spec:
        return None
    auth = import_object("auth.path", spec, config, base_dir)
    from langgraph_sdk import Auth  # the auth file imported it already

    if not isinstance(auth, Auth):
        raise ConfigError(f"auth.path ({spec}): expected a langgraph_sdk.Auth instance, got {type(auth).__name__}")
    if auth._authenticate_handler is None:
        raise ConfigError(
            f"auth.path ({spec}): the Auth object has no @auth.authenticate handler; every request would be refused"
        )
    return auth
