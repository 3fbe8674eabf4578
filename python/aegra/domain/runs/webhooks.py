"""Run webhooks: when a run ends, POST its outcome to the URL it was created with.

As langgraph-api: the body is the run plus `status`, `run_started_at`, `run_ended_at`,
`webhook_sent_at`, the thread's `values` and, on failure, `error`; a URL starting with `/` is a
route of this very server, called in-process. Which URLs are allowed is `WebhookPolicy`'s
(server-side request forgery: no loopback, private or link-local hosts unless configured).
Beyond it: failed deliveries (network errors, 5xx) are retried with backoff, and delivery never
holds up the executor.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import msgspec

from aegra.config_schema import AegraConfig
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


class WebhookPolicy(msgspec.Struct, frozen=True):
    """Which webhook URLs a run may name: `webhooks.url` of the config, with langgraph-api's keys.

    Checked when a run (or cron) is created, on the URL as written (422 if refused), and again
    when the webhook is sent, on every address the host resolves to then (a name that resolves to
    a refused address is not fetched). Loopback, link-local, cloud-metadata and reserved addresses
    are refused unless `disable_loopback` is false or the host is listed in `allowed_domains`;
    private ranges (RFC 1918, CGNAT, IPv6 ULA) too, unless `disable_private_ips` is false.
    Relative URLs (`/path`) are calls to this server's own routes, in process, authenticated as any
    request (they carry no credentials): always allowed.
    """

    allowed_domains: tuple[str, ...] = ()  # exact hosts, or `*.example.com`; also exempt from the address checks
    allowed_ports: tuple[int, ...] = ()
    require_https: bool = False
    max_url_length: int = 4096
    disable_loopback: bool = True
    disable_private_ips: bool = True

    def check(self, url: str) -> None:
        """422 (`Invalid`) unless `url` may be a webhook, judged on the URL as written."""
        if len(url) > self.max_url_length:
            raise Invalid(f"`webhook`: URL longer than {self.max_url_length} characters")
        if url.startswith("/"):
            return
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise Invalid(f"`webhook` must be an http(s) URL or a path on this server starting with '/', got {url!r}")
        if self.require_https and parts.scheme != "https":
            raise Invalid("`webhook` must use https (webhooks.url.require_https)")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise Invalid(f"`webhook` has an invalid port: {url!r}") from None
        if self.allowed_ports and port not in self.allowed_ports:
            raise Invalid(f"`webhook` port {port} is not allowed (webhooks.url.allowed_ports)")
        host = parts.hostname.lower()
        if self.allowed_domains and not self.listed(host):
            raise Invalid(f"`webhook` host {host!r} is not allowed (webhooks.url.allowed_domains)")
        if self.listed(host):
            return
        reason = self.refused_name(host)
        if reason is None:
            with contextlib.suppress(ValueError):
                reason = self.refused_address(ipaddress.ip_address(host))
        if reason is not None:
            raise Invalid(f"`webhook` host {host!r} refused: {reason} (see webhooks.url in the config)")

    def listed(self, host: str) -> bool:
        for pattern in self.allowed_domains:
            pattern = pattern.strip().lower()
            if host == pattern or (pattern.startswith("*.") and host.endswith(pattern[1:])):
                return True
        return False

    def refused_name(self, host: str) -> str | None:
        if host in METADATA_HOSTNAMES:
            return "a cloud metadata service"
        if host.endswith(".svc.cluster.local"):
            return "a Kubernetes internal name"
        if self.disable_loopback and (host in LOCALHOST_NAMES or host.endswith(".localhost")):
            return "a loopback name"
        return None

    def refused_address(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if address.is_loopback:
            return "a loopback address" if self.disable_loopback else None
        if address.is_link_local or str(address) in METADATA_ADDRESSES:
            return "a link-local or cloud metadata address"
        if address.is_multicast or address.is_unspecified or address.is_reserved:
            return "a reserved address"
        if address in SHARED_ADDRESS_SPACE or address.is_private:
            # `is_private` also covers documentation and benchmarking ranges: refused the same way.
            return "a private address" if self.disable_private_ips else None
        return None

    async def check_at_send(self, url: str) -> str | None:
        """Why `url` must not be fetched now (its host resolves to a refused address), or None."""
        if url.startswith("/"):
            return None
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if self.listed(host):
            return None
        if reason := self.refused_name(host):
            return reason
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, parts.port or None, type=socket.SOCK_STREAM)
        except OSError as exc:
            return f"its host does not resolve ({exc})"
        for *_, sockaddr in infos:
            if reason := self.refused_address(ipaddress.ip_address(sockaddr[0])):
                return f"{host} resolves to {sockaddr[0]}, {reason}"
        return None


def webhook_policy(config: AegraConfig) -> WebhookPolicy:
    url = config.webhooks.url if config.webhooks else None
    if url is None:
        return WebhookPolicy()
    return WebhookPolicy(
        allowed_domains=tuple(url.allowed_domains),
        allowed_ports=tuple(url.allowed_ports),
        require_https=url.require_https,
        max_url_length=url.max_url_length,
        disable_loopback=url.disable_loopback,
        disable_private_ips=url.disable_private_ips,
    )


LOCALHOST_NAMES = frozenset({"localhost", "localhost.localdomain", "host.docker.internal"})
METADATA_HOSTNAMES = frozenset({"metadata", "metadata.google.internal", "metadata.amazonaws.com", "instance-data"})
METADATA_ADDRESSES = frozenset({"169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254"})
SHARED_ADDRESS_SPACE = ipaddress.ip_network("100.64.0.0/10")  # RFC 6598 (carrier-grade NAT)


class WebhookSender:
    def __init__(self, loopback_app: Any | None = None, policy: WebhookPolicy | None = None) -> None:
        self._loopback_app = loopback_app
        self.policy = policy or WebhookPolicy()
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

        if refused := await self.policy.check_at_send(url):
            logger.warning("webhook %s not sent: %s", url, refused)
            return
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
