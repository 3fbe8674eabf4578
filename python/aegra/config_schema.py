"""The shape of `aegra.json` / `langgraph.json`, as msgspec Structs.

Only the keys Aegra acts on are typed here. LangGraph's langgraph.json allows many more
(build options, deployment knobs); `IGNORED_LANGGRAPH_KEYS` lists them so that a user's
existing file loads with a warning instead of an error.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

PositiveInt = Annotated[int, msgspec.Meta(gt=0)]
PositiveFloat = Annotated[float, msgspec.Meta(gt=0)]


class GraphSpec(msgspec.Struct, forbid_unknown_fields=False):
    """One `graphs` entry: `"./file.py:attr"`, `"pkg.module:attr"` or `{"path", "description"}`."""

    path: str
    description: str | None = None


class StoreIndexConfig(msgspec.Struct):
    dims: PositiveInt
    embed: str
    fields: list[str] | None = None


class StoreTTLConfig(msgspec.Struct):
    refresh_on_read: bool = True
    default_ttl: PositiveFloat | None = None
    sweep_interval_minutes: PositiveInt | None = None


class StoreConfig(msgspec.Struct):
    index: StoreIndexConfig | None = None
    ttl: StoreTTLConfig | None = None


class CheckpointerTTLConfig(msgspec.Struct):
    strategy: Literal["delete", "keep_latest"] = "delete"
    default_ttl: PositiveFloat | None = None
    sweep_interval_minutes: PositiveInt | None = None
    sweep_limit: PositiveInt = 10000


class CheckpointerConfig(msgspec.Struct):
    ttl: CheckpointerTTLConfig | None = None
    durability: Literal["sync", "async", "exit"] | None = None


class AuthConfig(msgspec.Struct):
    path: str | None = None
    disable_studio_auth: bool = False


class CorsConfig(msgspec.Struct):
    allow_origins: list[str] = msgspec.field(default_factory=lambda: ["*"])
    allow_methods: list[str] = msgspec.field(default_factory=lambda: ["*"])
    allow_headers: list[str] = msgspec.field(default_factory=lambda: ["*"])
    allow_credentials: bool = False
    allow_origin_regex: str | None = None
    expose_headers: list[str] = msgspec.field(default_factory=list)
    max_age: int = 600


class HttpConfig(msgspec.Struct):
    app: str | None = None
    cors: CorsConfig | None = None
    enable_custom_route_auth: bool = False
    disable_assistants: bool = False
    disable_threads: bool = False
    disable_runs: bool = False
    disable_store: bool = False
    disable_meta: bool = False
    disable_webhooks: bool = False
    disable_mcp: bool = False
    disable_a2a: bool = False
    disable_ui: bool = False  # the console at /ui (aegra/ui/)
    # Aegra's own: Prometheus `/metrics` (docs/operations.md), on unless disabled; open like `/ok`
    # unless `metrics_auth` puts it behind the auth handler.
    disable_metrics: bool = False
    metrics_auth: bool = False
    # Aegra's own: an MCP session (Mcp-Session-Id) keeps a thread per tool (docs/mcp-a2a.md).
    mcp_sessions: bool = False
    mount_prefix: str | None = None


class WebhookUrlConfig(msgspec.Struct):
    """`webhooks.url`: langgraph-api's keys for which URLs a run's webhook may name, accepted as
    they are (docs/webhooks.md). Aegra refuses private addresses unless `disable_private_ips` is false."""

    allowed_domains: list[str] = msgspec.field(default_factory=list)  # when given, the only hosts allowed
    allowed_ports: list[PositiveInt] = msgspec.field(default_factory=list)
    require_https: bool = False
    max_url_length: PositiveInt = 4096
    disable_loopback: bool = True
    disable_private_ips: bool = True


NonNegativeFloat = Annotated[float, msgspec.Meta(ge=0)]


class WebhooksConfig(msgspec.Struct):
    """`webhooks`: signing, retries, retention and the host policy of run webhooks (docs/webhooks.md)."""

    # Standard Webhooks secrets (`whsec_` + base64); several at once while rotating. AEGRA_WEBHOOK_SECRET wins.
    signing_secret: str | list[str] | None = None
    unsigned: bool = False  # send without `webhook-signature` even when a secret is set
    # Hosts a webhook may name although they are loopback or private: names, `*.suffix`, IPs or CIDRs.
    allowed_hosts: list[str] = msgspec.field(default_factory=list)
    allow_private: bool = False  # loopback and private (RFC 1918, CGNAT, ULA) addresses allowed
    timeout_seconds: PositiveFloat = 10.0  # one attempt, from resolving the host to the answer's end
    # The waits before each retry, after the attempt before it; one attempt more than there are waits.
    retry_delays_seconds: list[NonNegativeFloat] = msgspec.field(default_factory=lambda: [1.0, 5.0, 30.0, 120.0, 600.0])
    retry_jitter: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.2  # each wait varies by up to this fraction
    retention_hours: PositiveFloat = 168.0  # finished deliveries (and their attempts) kept this long
    poll_seconds: PositiveFloat = 5.0  # how often a process looks for deliveries it was not handed
    url: WebhookUrlConfig | None = None


class AegraConfig(msgspec.Struct):
    """The whole config file. Every key has a default, so `{}` is a valid (empty) config."""

    graphs: dict[str, str | GraphSpec] = msgspec.field(default_factory=dict)
    dependencies: list[str] = msgspec.field(default_factory=list)
    env: dict[str, str] | str | None = None
    store: StoreConfig | None = None
    checkpointer: CheckpointerConfig | None = None
    auth: AuthConfig | None = None
    http: HttpConfig | None = None
    webhooks: WebhooksConfig | None = None

    def graph_specs(self) -> dict[str, GraphSpec]:
        """`graphs` with the string shorthand expanded."""
        return {
            graph_id: spec if isinstance(spec, GraphSpec) else GraphSpec(path=spec)
            for graph_id, spec in self.graphs.items()
        }


# Keys LangGraph's langgraph.json allows that Aegra does not act on (mostly build options).
IGNORED_LANGGRAPH_KEYS = frozenset(
    {
        "$schema",
        "python_version",
        "node_version",
        "api_version",
        "base_image",
        "image_distro",
        "pip_config_file",
        "pip_installer",
        "source",
        "dockerfile_lines",
        "keep_pkg_tools",
        "encryption",
        "priority",
        "ui",
        "ui_config",
    }
)


def unknown_keys(data: Any, struct_type: type[msgspec.Struct], prefix: str = "") -> list[str]:
    """Dotted paths of keys in `data` that `struct_type` (recursively) does not declare."""
    if not isinstance(data, dict):
        return []
    fields = {f.encode_name: f for f in msgspec.structs.fields(struct_type)}
    found: list[str] = []
    for key, value in data.items():
        path = f"{prefix}{key}"
        field = fields.get(key)
        if field is None:
            found.append(path)
            continue
        nested = _struct_in(field.type)
        if nested is not None and nested is not GraphSpec:
            found.extend(unknown_keys(value, nested, f"{path}."))
    return found


def _struct_in(annotation: Any) -> type[msgspec.Struct] | None:
    """The Struct type inside `X | None`, if any."""
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        if isinstance(arg, type) and issubclass(arg, msgspec.Struct):
            return arg
    return None
