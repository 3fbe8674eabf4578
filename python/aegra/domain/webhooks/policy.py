"""Which URLs a run's webhook may name, and which addresses a delivery may connect to.

A webhook is a URL that a client chooses and the server fetches: without a policy any client
could make the server POST to its own loopback services, the private network or a cloud
metadata endpoint (server-side request forgery). So, as langgraph-api does:

- when a run or a cron is created, the URL is checked and its host resolved; a refused one
  answers 422 `Webhook host blocked: <reason>` (langgraph-api's messages);
- at each attempt the host is resolved again, every address it resolves to is checked, and the
  connection goes to an address that was checked (a name that resolves elsewhere by then, as in
  DNS rebinding, is not fetched); redirects are followed only to URLs that pass the same checks.

Refused unless configured otherwise: loopback (127/8, ::1, `localhost`), private (RFC 1918,
CGNAT, IPv6 ULA), link-local, cloud metadata, reserved and multicast addresses, Kubernetes
service names. `webhooks.allowed_hosts` lists hosts (names, `*.suffix`, IPs or CIDRs) that may be
loopback or private; `webhooks.allow_private` allows loopback and private addresses everywhere;
`webhooks.url` takes langgraph-api's keys. Unlike langgraph-api, private addresses are refused
by default, and a relative URL (`/path`) is always allowed: it is a call to this server's own
routes, made in-process, that carries no credentials (docs/webhooks.md).
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import re
import socket
from dataclasses import dataclass, field
from typing import NamedTuple
from urllib.parse import SplitResult, urlsplit

from aegra.config_schema import WebhooksConfig
from aegra.errors import Invalid

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _networks(*cidrs: str) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(cidr) for cidr in cidrs)


# Never a webhook's destination, whatever the switches say (an allowed host still may be).
BLOCKED = _networks(
    "0.0.0.0/8", "169.254.0.0/16", "192.0.0.0/24", "192.0.2.0/24", "198.18.0.0/15", "198.51.100.0/24",
    "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4", "::/128", "100::/64", "2001:db8::/32", "fe80::/10",
    "ff00::/8", "64:ff9b:1::/48",
)  # fmt: skip
LOOPBACK = _networks("127.0.0.0/8", "::1/128")
PRIVATE = _networks("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
NAT64 = ipaddress.ip_network("64:ff9b::/96")
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254")
)
METADATA_NAMES = frozenset({"metadata", "metadata.google.internal", "metadata.amazonaws.com", "instance-data"})
LOCALHOST_NAMES = frozenset({"localhost", "localhost.localdomain", "host.docker.internal"})
KUBERNETES_SUFFIX = ".svc.cluster.local"
_CONTROL = re.compile(r"[\x00-\x20\x7f]")  # whitespace and control characters: never in a URL we send


class Refused(Exception):
    """This URL must not be fetched; the message says why, as the 422 of run creation does."""


class _Checked(NamedTuple):
    parts: SplitResult
    host: str
    port: int
    fixed: Target | None  # for an IP: where to connect, with nothing to resolve


class Target(NamedTuple):
    """Where one attempt connects: the URL's parts, and the address its host was checked at."""

    url: SplitResult
    host: str  # lowercased, without a trailing dot
    port: int
    addresses: tuple[str, ...]  # the IPs to connect to, in order (the URL's host stays in `Host` and SNI)


@dataclass(frozen=True)
class WebhookPolicy:
    allow_loopback: bool = False
    allow_private: bool = False
    allowed_names: frozenset[str] = frozenset()  # exact hosts, checked no further
    allowed_suffixes: tuple[str, ...] = ()  # from `*.example.com`: `.example.com`
    allowed_networks: tuple[IPNetwork, ...] = ()  # addresses allowed although loopback or private
    only_domains: tuple[str, ...] = ()  # webhooks.url.allowed_domains: when given, no other host
    allowed_ports: frozenset[int] = frozenset()
    require_https: bool = False
    max_url_length: int = 4096
    _verdicts: dict[str, _Checked | None] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_config(cls, config: WebhooksConfig | None) -> WebhookPolicy:
        config = config or WebhooksConfig()
        url = config.url
        entries = [*config.allowed_hosts, *(url.allowed_domains if url else ())]
        names, suffixes, networks = set(), [], []
        for entry in (e.strip().lower().rstrip(".") for e in entries):
            if entry.startswith("*."):
                suffixes.append(entry[1:])
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                names.add(entry)
        return cls(
            allow_loopback=config.allow_private or bool(url and not url.disable_loopback),
            allow_private=config.allow_private or bool(url and not url.disable_private_ips),
            allowed_names=frozenset(names),
            allowed_suffixes=tuple(suffixes),
            allowed_networks=tuple(networks),
            only_domains=tuple(d.strip().lower() for d in url.allowed_domains) if url else (),
            allowed_ports=frozenset(url.allowed_ports) if url else frozenset(),
            require_https=bool(url and url.require_https),
            max_url_length=url.max_url_length if url else 4096,
        )

    # -- at run creation ---------------------------------------------------------------------

    def check(self, url: str) -> None:
        """422 (`Invalid`) when `url` may not be a webhook, judged on the URL as written."""
        try:
            self._checked(url)
        except Refused as refused:
            raise Invalid(str(refused)) from None

    async def check_resolved(self, url: str) -> None:
        """`check`, and its host resolved: 422 when it resolves to a refused address (or not at all)."""
        try:
            await self.target(url)
        except Refused as refused:
            raise Invalid(str(refused)) from None

    # -- at each attempt ---------------------------------------------------------------------

    async def target(self, url: str) -> Target | None:
        """Where an attempt may connect for `url` (None: a relative URL, served in-process), or
        `Refused`. Resolves the host unless it is an IP or an allowed host."""
        checked = self._checked(url)
        if checked is None or checked.fixed is not None:
            return None if checked is None else checked.fixed
        parts, host, port = checked.parts, checked.host, checked.port
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            raise Refused("Webhook host blocked: DNS resolution failed") from None
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
        if not addresses:
            raise Refused("Webhook host blocked: DNS resolution failed")
        if not self._host_allowed(host):
            for address in addresses:
                self._check_address(address)
        return Target(parts, host, port, tuple(dict.fromkeys(str(address) for address in addresses)))

    def _checked(self, url: str) -> _Checked | None:
        """`_check_url`'s verdict, remembered: a receiver's URL comes back with every run, and
        parsing and judging it again cost more than a send."""
        try:
            return self._verdicts[url]
        except KeyError:
            pass
        checked = self._check_url(url)  # a refusal raises, and is not remembered
        if len(self._verdicts) >= 1024:
            self._verdicts.clear()
        self._verdicts[url] = checked
        return checked

    def _check_url(self, url: str) -> _Checked | None:
        """Every check that needs no resolution (None: a relative URL)."""
        parts = self._checked_url(url)
        if parts is None:
            return None
        host = _host(parts)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        literal = _ip(host)
        fixed = Target(parts, host, port, (str(literal),)) if literal is not None else None
        return _Checked(parts, host, port, fixed)

    def _checked_url(self, url: str) -> SplitResult | None:
        """The URL's parts once every check that needs no resolution passed (None: relative)."""
        if len(url) > self.max_url_length:
            raise Refused("Webhook URL too long")
        if url.startswith("/") and not url.startswith("//"):
            return None
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if self.require_https and scheme != "https":
            raise Refused("Webhook must use https")
        try:
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError:
            raise Refused(f"Invalid webhook port in {url!r}") from None
        if self.allowed_ports and port not in self.allowed_ports:
            raise Refused(f"Webhook port {port} not allowed")
        host = _host(parts)
        if not host or _CONTROL.search(url):
            raise Refused(f"Invalid webhook hostname '{host}'")
        if self.only_domains and not _listed(host, self.only_domains):
            raise Refused("Webhook domain not allowed")
        if scheme not in ("http", "https"):
            raise Refused(f"Webhook host blocked: scheme '{scheme}' not allowed")
        if self._host_allowed(host):
            return parts
        if host in LOCALHOST_NAMES or host.endswith(".localhost"):
            if not self.allow_loopback:
                raise Refused("Webhook host blocked: localhost address")
        elif host in METADATA_NAMES:
            raise Refused("Webhook host blocked: cloud metadata endpoint")
        elif host.endswith(KUBERNETES_SUFFIX):
            raise Refused("Webhook host blocked: Kubernetes internal DNS")
        literal = _ip(host)
        if literal is not None:
            self._check_address(literal)
        return parts

    def _host_allowed(self, host: str) -> bool:
        if host in self.allowed_names or any(host.endswith(suffix) for suffix in self.allowed_suffixes):
            return True
        literal = _ip(host)
        return literal is not None and any(literal in network for network in self.allowed_networks)

    def _check_address(self, address: IPAddress) -> None:
        if any(address in network for network in self.allowed_networks if network.version == address.version):
            return
        reason = self._refusal(address)
        if reason is not None:
            raise Refused(f"Webhook host blocked: {reason}")

    def _refusal(self, address: IPAddress) -> str | None:
        if isinstance(address, ipaddress.IPv6Address):
            embedded = _embedded_ipv4(address)
            if embedded is not None:
                return self._refusal(embedded)
        if address in METADATA_ADDRESSES:
            return "cloud metadata endpoint"
        if _within(address, BLOCKED):
            return "blocked IP range"
        if _within(address, LOOPBACK):
            return None if self.allow_loopback else "loopback IP range"
        if _within(address, PRIVATE):
            return None if self.allow_private else "private IP range"
        return None


def _host(parts: SplitResult) -> str:
    return (parts.hostname or "").rstrip(".")


@functools.lru_cache(maxsize=1024)
def _ip(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _listed(host: str, patterns: tuple[str, ...]) -> bool:
    return any(host == p or (p.startswith("*.") and host.endswith(p[1:])) for p in patterns)


def _within(address: IPAddress, networks: tuple[IPNetwork, ...]) -> bool:
    return any(address in network for network in networks if network.version == address.version)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address inside an IPv4-mapped (::ffff:a.b.c.d), NAT64 (64:ff9b::a.b.c.d) or
    IPv4-compatible (::a.b.c.d) IPv6 address: a connection to it reaches that IPv4 host."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in NAT64 or (address in IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(address.packed[-4:])
    return None
