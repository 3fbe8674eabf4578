"""The console's pages (Jinja shells) and its static files, as Litestar route handlers."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any

from litestar import Request, get
from litestar.contrib.jinja import JinjaTemplateEngine
from litestar.datastructures import CacheControlHeader
from litestar.handlers import HTTPRouteHandler
from litestar.response import Template
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig
from litestar.types import ControllerRouterHandler

from aegra import __version__
from aegra.config import Settings

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
UI_PATH = "/ui"

# The pages run no inline script or style and talk to this origin only: a value that slipped
# past the scripts' text-only rendering still could not run, nor send a token elsewhere.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Shells are tiny and the data comes from the API: never serve a stale shell after an upgrade.
    "Cache-Control": "no-cache",
}

# The header's navigation: (section, label); a section's pages live under /ui/<section>.
NAV = [
    ("threads", "Threads"),
    ("chat", "Chat"),
    ("assistants", "Assistants"),
    ("store", "Store"),
    ("crons", "Crons"),
]


@cache
def asset_version() -> str:
    """A digest of the static files, part of their URL (/ui/static/<version>/...): browsers may
    cache them for good, and an upgrade changes every URL. In the path rather than a query
    string, so that the scripts' relative `import`s carry it too."""
    digest = hashlib.sha256(__version__.encode())
    for path in sorted(STATIC_DIR.rglob("*")):
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _page(request: Request[Any, Any, Any], template: str, section: str, title: str, **context: Any) -> Template:
    settings: Settings = request.app.state.settings
    root = request.scope.get("root_path", "")
    auth = settings.config.auth
    return Template(
        template_name=template,
        context={
            "root": root,
            "ui": f"{root}{UI_PATH}",
            "static": f"{root}{UI_PATH}/static/{asset_version()}",
            "auth_enabled": bool(auth and auth.path),
            "nav": NAV,
            "section": section,
            "title": title,
            "script": template.removesuffix(".html.j2"),  # static/pages/<script>.js fills the page
            **context,
        },
        headers=PAGE_HEADERS,
    )


# Each page: its paths (below /ui), its template (pages/<name>.js fills it), the navigation
# section it belongs to, and its title. Path parameters reach the template by their names.
PAGES = [
    (["/", "/threads"], "threads.html.j2", "threads", "Threads"),
    (["/threads/{thread_id:str}"], "thread.html.j2", "threads", "Thread"),
    (["/threads/{thread_id:str}/runs/{run_id:str}"], "run.html.j2", "threads", "Run"),
    (["/chat"], "chat.html.j2", "chat", "Chat"),
    (["/assistants"], "assistants.html.j2", "assistants", "Assistants"),
    (["/assistants/{assistant_id:str}"], "assistant.html.j2", "assistants", "Assistant"),
    (["/store"], "store.html.j2", "store", "Store"),
    (["/crons"], "crons.html.j2", "crons", "Crons"),
]


def _page_handler(paths: list[str], template: str, section: str, title: str) -> HTTPRouteHandler:
    def page(request: Request[Any, Any, Any]) -> Template:
        return _page(request, template, section, title, **request.path_params)

    name = f"console-{template.removesuffix('.html.j2')}"
    return get([f"{UI_PATH}{path}".rstrip("/") or "/" for path in paths], name=name, sync_to_thread=False,
               include_in_schema=False)(page)  # fmt: skip


def console_route_handlers() -> list[ControllerRouterHandler]:
    static = create_static_files_router(
        path=f"{UI_PATH}/static/{asset_version()}",
        directories=[STATIC_DIR],
        name="console-static",
        cache_control=CacheControlHeader(max_age=31536000, public=True, immutable=True),
        include_in_schema=False,
    )
    return [*(_page_handler(*page) for page in PAGES), static]


def console_template_config() -> TemplateConfig[JinjaTemplateEngine]:
    return TemplateConfig(directory=HERE / "templates", engine=JinjaTemplateEngine)
