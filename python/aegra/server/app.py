"""The Litestar application factory.

Run it with Granian: `granian --interface asgi --factory aegra.server.app:create_app`
(`aegra dev` and `aegra serve` do exactly that).
"""

from __future__ import annotations

from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.logging.config import LoggingConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin

from aegra import __version__
from aegra.config import Settings, get_settings
from aegra.config_schema import CorsConfig
from aegra.domain.assistants.controllers import AssistantController
from aegra.domain.runs.controllers import StatelessRunController, ThreadRunController, ThreadStreamController
from aegra.domain.store.controllers import StoreController
from aegra.domain.system.controllers import SystemController
from aegra.domain.threads.controllers import ThreadController
from aegra.serialization import TYPE_ENCODERS
from aegra.server.errors import EXCEPTION_HANDLERS
from aegra.server.resources import get_assistants, get_resources, get_runs, get_store_api, get_threads, lifespan

# Headers the SDK (and browser UIs) must be able to read across origins.
EXPOSED_HEADERS = ["x-pagination-total", "x-pagination-next", "content-location", "location"]


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()
    return Litestar(
        route_handlers=[
            SystemController,
            AssistantController,
            ThreadController,
            ThreadRunController,
            StatelessRunController,
            ThreadStreamController,
            StoreController,
        ],
        dependencies={
            "resources": Provide(get_resources, sync_to_thread=False),
            "assistants": Provide(get_assistants, sync_to_thread=False),
            "threads": Provide(get_threads, sync_to_thread=False),
            "runs": Provide(get_runs, sync_to_thread=False),
            "store": Provide(get_store_api, sync_to_thread=False),
        },
        lifespan=[lifespan],
        exception_handlers=EXCEPTION_HANDLERS,
        type_encoders=TYPE_ENCODERS,
        cors_config=_cors(settings),
        openapi_config=OpenAPIConfig(
            title="Aegra",
            version=__version__,
            description="The LangGraph Platform API, self-hosted.",
            # The UI lives at /docs; /openapi.json (the path clients expect) is SystemController's.
            path="/docs",
            render_plugins=[SwaggerRenderPlugin(path="/")],
        ),
        state=State({"settings": settings}),
        # Unexpected errors are logged once, by server.errors.handle_unexpected.
        logging_config=LoggingConfig(
            root={"level": settings.log_level, "handlers": ["queue_listener"]}, log_exceptions="never"
        ),
    )


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
