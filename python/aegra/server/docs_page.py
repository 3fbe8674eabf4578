"""The API docs page, `/docs`: Swagger UI served by this server, so it works offline.

Litestar's Swagger plugin loads Swagger UI's script, stylesheet and its own favicon from CDNs by
default: with no network the page stays blank. Here they come from the `swagger-ui-bundle`
package, served under `/docs/assets` (open without authentication, like `/docs`).
"""

from __future__ import annotations

from litestar import Router
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.static_files import create_static_files_router

from aegra import __version__

DOCS_PATH = "/docs"
ASSETS_PATH = f"{DOCS_PATH}/assets"


def docs_openapi_config(mount_prefix: str | None) -> OpenAPIConfig:
    """The OpenAPI config whose Swagger page loads its assets from this server (under `mount_prefix`)."""
    assets = f"{mount_prefix or ''}{ASSETS_PATH}"
    swagger = SwaggerRenderPlugin(
        path="/",
        js_url=f"{assets}/swagger-ui-bundle.js",
        css_url=f"{assets}/swagger-ui.css",
        standalone_preset_js_url=f"{assets}/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/png' href='{assets}/favicon-32x32.png'>",
    )
    return OpenAPIConfig(
        title="Aegra",
        version=__version__,
        description="The LangGraph Platform API, self-hosted.",
        # The UI lives at /docs; /openapi.json (the path clients expect) is SystemController's.
        path=DOCS_PATH,
        render_plugins=[swagger],
    )


def docs_assets_router() -> Router:
    """Swagger UI's files, from the installed `swagger-ui-bundle` package."""
    from swagger_ui_bundle import swagger_ui_path

    return create_static_files_router(path=ASSETS_PATH, directories=[swagger_ui_path], include_in_schema=False)
