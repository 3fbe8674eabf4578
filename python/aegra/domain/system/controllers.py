"""Health and server facts: `/ok` and `/info` (langgraph-api's `/ok` and `/info`), and Aegra's
Prometheus `/metrics` (docs/operations.md)."""

from __future__ import annotations

import logging
from typing import Any

import langgraph.version
from litestar import Controller, Request, Response, get

from aegra import __version__, vec
from aegra.config import Settings
from aegra.db.engine import Database
from aegra.domain.runs import pending_gauge
from aegra.domain.system import openapi
from aegra.telemetry import exposition

logger = logging.getLogger(__name__)


class HealthController(Controller):
    """Stays when `http.disable_meta` removes the rest (load balancers need it)."""

    tags = ["System"]

    @get("/ok", summary="Liveness; `?check_db=1` (or `true`) is readiness: 503 when the database cannot answer")
    async def ok(self, db: Database, check_db: str = "0") -> Response[dict[str, Any]]:
        check = CHECK_DB_VALUES.get(check_db.lower())
        if check is None:
            return Response({"detail": "check_db must be 0, 1, false or true"}, status_code=422)
        if not check:
            return Response({"ok": True, "services": {"database": "skipped"}})
        try:
            await db.ping()
        except Exception as exc:
            logger.warning("health check: database unreachable: %s", exc)
            # 503: not ready (load balancers take the instance out, and put it back when it answers).
            return Response({"ok": False, "services": {"database": "unhealthy"}}, status_code=503)
        return Response({"ok": True, "services": {"database": "healthy"}})


# langgraph-api takes `check_db=1`; Kubernetes probes are often written with `true`.
CHECK_DB_VALUES = {"0": False, "false": False, "1": True, "true": True}


class MetricsController(Controller):
    """`/metrics` in Prometheus' text format, over every worker of this server (telemetry/exposition.py)."""

    @get("/metrics", include_in_schema=False)
    async def metrics(self, db: Database) -> Response[bytes]:
        try:
            await pending_gauge.count_now(db)
        except Exception as exc:  # the rest of the figures are worth having without the database
            logger.warning("metrics: runs pending not counted: %s", exc)
        body, content_type = exposition.latest()
        return Response(body, media_type=content_type)


class SystemController(Controller):
    tags = ["System"]

    @get("/info", summary="Server version and feature flags")
    async def info(self, settings: Settings) -> dict[str, Any]:
        auth, http = settings.config.auth, settings.config.http
        return {
            "version": __version__,
            "langgraph_py_version": langgraph.version.__version__,
            "flags": {
                "assistants": True,
                "crons": not (http and http.disable_runs),  # cron routes go with the runs routes
                "langsmith": False,
                "auth": bool(auth and auth.path),
            },
            "host": {"kind": "self-hosted", "database": settings.database.backend},
            "vector_core": vec.build_info(),
        }

    @get("/openapi.json", include_in_schema=False, sync_to_thread=False)
    def openapi(self, request: Request[Any, Any, Any]) -> dict[str, Any]:
        state = request.app.state
        if state.get("openapi_document") is None:  # built once: the routes do not change
            state.openapi_document = openapi.complete(request.app.openapi_schema.to_schema())
        return state.openapi_document
