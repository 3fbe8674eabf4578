"""The Litestar application factory.

Run it with Granian: `granian --interface asgi --loop asyncio --factory aegra.server.app:create_app`
(`aegra dev` and `aegra serve` do exactly that). With `http.app` the factory returns the API
wrapped with the user's app (server/custom_app.py); `http.disable_*` leave route groups out;
`http.mount_prefix` moves everything under a path prefix (server/mount_prefix.py).
"""

from __future__ import annotations

from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.logging.config import LoggingConfig
from litestar.middleware.cors import CORSMiddleware
from litestar.types import ControllerRouterHandler

from aegra.auth import Authenticator, load_auth
from aegra.config import Settings, get_settings
from aegra.config_schema import CorsConfig, HttpConfig
from aegra.domain.a2a.controllers import A2AController, AgentCardController
from aegra.domain.assistants.controllers import AssistantController
from aegra.domain.crons.controllers import CronController, ThreadCronController
from aegra.domain.mcp.controllers import McpController
from aegra.domain.protocol.controllers import ProtocolController
from aegra.domain.runs.controllers import StatelessRunController, ThreadRunController, ThreadStreamController
from aegra.domain.store.controllers import StoreController
from aegra.domain.system.controllers import HealthController, MetricsController, SystemController
from aegra.domain.threads.controllers import ThreadController
from aegra.serialization import TYPE_ENCODERS
from aegra.server.auth import AuthMiddleware, get_request_auth
from aegra.server.custom_app import ApiThenCustom, lifespan_of, load_custom_app
from aegra.server.docs_page import docs_assets_router, docs_openapi_config
from aegra.server.errors import EXCEPTION_HANDLERS
from aegra.server.mount_prefix import MountedUnder, validate_mount_prefix
from aegra.server.observed import ObservedHttp
from aegra.server.resources import INJECTABLE, lifespan, provider
from aegra.telemetry import error_log, exposition, logs, metrics, tracing
from aegra.ui import console_route_handlers, console_template_config

# Headers the SDK (and browser UIs) must be able to read across origins.
EXPOSED_HEADERS = ["x-pagination-total", "x-pagination-next", "content-location", "location"]


def create_app(
    settings: Settings | None = None, *, keep_broken_graphs: bool = False
) -> Litestar | ApiThenCustom | MountedUnder | ObservedHttp:
    """`keep_broken_graphs` (`aegra dev`): serve the graphs that load, and answer the error of those
    that do not (see `GraphRegistry.load`), instead of failing startup."""
    settings = settings or get_settings()
    http = settings.config.http or HttpConfig()
    prefix = validate_mount_prefix(http.mount_prefix)
    logs.install_record_factory()
    error_log.drop_granian_duplicates()
    tracing.setup()
    if http.disable_metrics and not exposition.separate_port():
        metrics.stop_counting()  # nothing would serve the counts
    app = _create_app(settings, http, prefix, keep_broken_graphs)
    # Relative webhooks (`/path`) are calls to the app's own routes, custom ones included, below
    # any mount prefix: the app they go to is this one (server/resources.py).
    (app.api if isinstance(app, ApiThenCustom) else app).state["routes_app"] = app
    return ObservedHttp(app if prefix is None else MountedUnder(app, prefix), access_log=settings.access_log)


def _create_app(
    settings: Settings, http: HttpConfig, prefix: str | None, keep_broken_graphs: bool
) -> Litestar | ApiThenCustom:
    # Loaded here, before anything opens: a broken auth file or custom app stops startup.
    auth_config = settings.config.auth
    authenticator = Authenticator(
        load_auth(settings.config, settings.base_dir),
        disable_studio_auth=bool(auth_config and auth_config.disable_studio_auth),
    )
    custom = None if settings.role == "worker" else load_custom_app(settings)
    cors = _cors(settings)
    lifespans = [lifespan] if custom is None else [lifespan, lifespan_of(custom)]
    api = Litestar(
        route_handlers=_route_handlers(http, settings.role),
        dependencies={
            **{name: Provide(provider(name), sync_to_thread=False) for name in INJECTABLE},
            "auth": Provide(get_request_auth, sync_to_thread=False),
        },
        middleware=[lambda app: AuthMiddleware(app, authenticator, protect_metrics=http.metrics_auth)],
        lifespan=lifespans,
        exception_handlers=EXCEPTION_HANDLERS,
        type_encoders=TYPE_ENCODERS,
        cors_config=cors,
        openapi_config=None if http.disable_meta else docs_openapi_config(prefix),
        template_config=None if http.disable_ui else console_template_config(),
        # `auth`: the cron scheduler judges each firing with the same handlers (server/resources.py).
        state=State({"settings": settings, "auth": authenticator.auth, "keep_broken_graphs": keep_broken_graphs}),
        # Unexpected errors are logged once, by server.errors.handle_unexpected.
        logging_config=LoggingConfig(
            root={"level": settings.log_level, "handlers": ["queue_listener"]},
            formatters={"standard": logs.formatter_config(settings.log_format)},
            log_exceptions="never",
        ),
    )
    if custom is None:
        return api
    if http.enable_custom_route_auth:
        custom = AuthMiddleware(custom, authenticator, open_paths=False)
    # Outermost, as for the API: browsers get CORS headers on custom routes too, and on their 401s.
    return ApiThenCustom(api, CORSMiddleware(custom, cors))


def _route_handlers(http: HttpConfig, role: str = "all") -> list[ControllerRouterHandler]:
    observe: list[ControllerRouterHandler] = [] if http.disable_metrics else [MetricsController]
    if role == "worker":  # `aegra worker`: runs only; its port answers health checks and scrapes
        return [HealthController, *observe]
    groups: list[tuple[bool, list[ControllerRouterHandler]]] = [
        (http.disable_meta, [SystemController]),
        (http.disable_assistants, [AssistantController]),
        (http.disable_threads, [ThreadController]),
        (http.disable_runs, [ThreadRunController, StatelessRunController, ThreadStreamController, ProtocolController]),
        (http.disable_runs, [CronController, ThreadCronController]),
        (http.disable_store, [StoreController]),
        (http.disable_mcp, [McpController]),
        (http.disable_a2a, [A2AController, AgentCardController]),
        (http.disable_ui, console_route_handlers()),
    ]
    docs = [] if http.disable_meta else [docs_assets_router()]
    return [
        HealthController,
        *observe,
        *docs,
        *(c for disabled, controllers in groups if not disabled for c in controllers),
    ]


def _cors(settings: Settings) -> CORSConfig:
    http = settings.config.http
    cors = (http.cors if http else None) or CorsConfig()
    return CORSConfig(
        allow_origins=cors.allow_origins,
        allow_methods=cors.allow_methods,  # type: ignore[arg-type]
        allow_headers=cors.allow_headers,
        allow_credentials=cors.allow_credentials,
        allow_origin_regex=cors.allow_origin_regex,
        expose_headers=sorted({*EXPOSED_HEADERS, *cors.expose_headers}),
        max_age=cors.max_age,
    )
