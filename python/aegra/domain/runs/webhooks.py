"""Run webhooks: when a run ends, POST its outcome to the URL it was created with.

As langgraph-api: the body is the run plus `status`, `run_started_at`, `run_ended_at`,
`webhook_sent_at`, the thread's `values` and, on failure, `error`; a URL starting with `/` is a
route of this very server, called in-process. Beyond it: failed deliveries (network errors, 5xx)
are retried with backoff, and delivery never holds up the executor.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from aegra.errors import Invalid
from aegra.serialization import dumps

if TYPE_CHECKING:
    # Imported where used: httpx brings its command line (rich, pygments) along, a tenth of startup.
    import httpx

logger = logging.getLogger(__name__)

ATTEMPTS = 3
FIRST_BACKOFF_SECONDS = 0.5
TIMEOUT_SECONDS = 10.0
LOOPBACK_BASE = "http://aegra.loopback"


def validate_webhook(url: str) -> None:
    if url.startswith("/"):
        return
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise Invalid(f"`webhook` must be an http(s) URL or a path on this server starting with '/', got {url!r}")


class WebhookSender:
    def __init__(self, loopback_app: Any | None = None) -> None:
        self._loopback_app = loopback_app
        self._tasks: set[asyncio.Task[None]] = set()

    def send(self, url: str, payload: dict[str, Any]) -> None:
        """Deliver in the background (keeping a reference so the task is not collected)."""
        task = asyncio.create_task(self._deliver(url, {**payload, "webhook_sent_at": datetime.now(UTC)}))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for deliveries in flight (at shutdown)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _client(self, url: str) -> httpx.AsyncClient:
        import httpx

        if url.startswith("/"):
            transport = httpx.ASGITransport(app=self._loopback_app)  # type: ignore[arg-type]
            return httpx.AsyncClient(transport=transport, base_url=LOOPBACK_BASE, timeout=TIMEOUT_SECONDS)
        return httpx.AsyncClient(timeout=TIMEOUT_SECONDS)

    async def _deliver(self, url: str, payload: dict[str, Any]) -> None:
        import httpx

        body = dumps(payload)
        delay = FIRST_BACKOFF_SECONDS
        async with self._client(url) as client:
            for attempt in range(1, ATTEMPTS + 1):
                try:
                    response = await client.post(url, content=body, headers={"content-type": "application/json"})
                    if response.status_code < 500:
                        if response.status_code >= 400:
                            logger.warning("webhook %s answered %s; not retrying", url, response.status_code)
                        return
                    problem = f"status {response.status_code}"
                except httpx.HTTPError as exc:
                    problem = f"{type(exc).__name__}: {exc}"
                if attempt < ATTEMPTS:
                    logger.info("webhook %s failed (%s); retrying in %.1f s", url, problem, delay)
                    await asyncio.sleep(delay)
                    delay *= 2
                else:
                    logger.warning("webhook %s failed after %d attempts (%s)", url, ATTEMPTS, problem)
