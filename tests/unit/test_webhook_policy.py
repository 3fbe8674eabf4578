"""The webhook host policy (domain/webhooks/policy.py): which URLs are refused and why, and what the
allow-lists open; the message of each refusal is langgraph-api's (`Webhook host blocked: ...`)."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest

from aegra.config_schema import WebhooksConfig, WebhookUrlConfig
from aegra.domain.webhooks.deliverer import with_sent_at
from aegra.domain.webhooks.policy import Refused, WebhookPolicy
from aegra.errors import Invalid


def policy(**config: object) -> WebhookPolicy:
    return WebhookPolicy.from_config(msgspec.convert(config, WebhooksConfig))


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1/", "loopback IP range"),
        ("http://127.255.0.1:9/", "loopback IP range"),
        ("http://[::1]/", "loopback IP range"),
        ("http://[::ffff:10.0.0.1]/", "private IP range"),
        ("http://[64:ff9b::a9fe:a9fe]/", "cloud metadata endpoint"),  # NAT64 of 169.254.169.254
        ("http://[::127.0.0.1]/", "loopback IP range"),  # IPv4-compatible
        ("http://172.16.5.4/", "private IP range"),
        ("http://100.64.1.1/", "private IP range"),
        ("http://100.100.100.200/", "cloud metadata endpoint"),
        ("http://[fd00:ec2::254]/", "cloud metadata endpoint"),
        ("http://[fe80::1]/", "blocked IP range"),
        ("http://224.0.0.1/", "blocked IP range"),
        ("http://[::]/", "blocked IP range"),
        ("http://LOCALHOST./", "localhost address"),
        ("http://app.localhost/", "localhost address"),
        ("http://host.docker.internal/", "localhost address"),
        ("http://instance-data/", "cloud metadata endpoint"),
        ("https://db.ns.svc.cluster.local/", "Kubernetes internal DNS"),
        ("file:///etc/passwd", None),
        ("gopher://example.com/", "scheme 'gopher' not allowed"),
    ],
)
def test_refused_urls_and_why(url: str, reason: str | None) -> None:
    with pytest.raises(Invalid) as refused:
        policy().check(url)
    if reason is None:
        assert str(refused.value) == "Invalid webhook hostname ''"
    else:
        assert str(refused.value) == f"Webhook host blocked: {reason}"


PUBLIC = ["http://93.184.215.14/hook", "https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/", "/my/route"]


@pytest.mark.parametrize("url", PUBLIC)
def test_public_addresses_and_relative_urls_pass(url: str) -> None:
    policy().check(url)


def test_allowed_hosts_open_names_suffixes_and_networks() -> None:
    opened = policy(allowed_hosts=["hooks.internal", "*.corp.example", "10.1.2.0/24", "::1"])
    for url in ("http://hooks.internal/", "http://a.b.corp.example/", "http://10.1.2.9/", "http://[::1]:8000/"):
        opened.check(url)
    for url in ("http://10.1.3.1/", "http://127.0.0.1/", "http://[::ffff:7f00:1]/"):
        with pytest.raises(Invalid):
            opened.check(url)
    # A listed network opens its addresses, never the metadata endpoints' names.
    with pytest.raises(Invalid, match="cloud metadata endpoint"):
        opened.check("http://metadata.google.internal/")


def test_allow_private_opens_loopback_and_private_but_not_link_local() -> None:
    opened = policy(allow_private=True)
    for url in ("http://127.0.0.1/", "http://localhost/", "http://192.168.1.1/", "http://[fd12::1]/"):
        opened.check(url)
    for url, reason in [("http://169.254.169.254/", "cloud metadata endpoint"), ("http://169.254.1.1/", "blocked")]:
        with pytest.raises(Invalid, match=reason):
            opened.check(url)


def test_langgraph_apis_url_policy_keys() -> None:
    url = WebhookUrlConfig(
        allowed_domains=["*.example.com", "hooks.local"], allowed_ports=[443], require_https=True, max_url_length=60
    )
    strict = WebhookPolicy.from_config(WebhooksConfig(url=url))
    strict.check("https://a.example.com/x")
    strict.check("https://hooks.local/x")  # a listed domain is exempt from the address checks
    for url, detail in [
        ("http://a.example.com/x", "Webhook must use https"),
        ("https://a.example.com:8443/x", "Webhook port 8443 not allowed"),
        ("https://example.org/x", "Webhook domain not allowed"),
        ("https://a.example.com/" + "x" * 60, "Webhook URL too long"),
    ]:
        with pytest.raises(Invalid) as refused:
            strict.check(url)
        assert str(refused.value) == detail
    loopback_only = WebhookPolicy.from_config(WebhooksConfig(url=WebhookUrlConfig(disable_loopback=False)))
    loopback_only.check("http://127.0.0.1/")
    with pytest.raises(Invalid, match="private IP range"):
        loopback_only.check("http://10.0.0.1/")


async def test_at_send_time_every_resolved_address_is_checked() -> None:
    """`localhost` resolves to loopback: refused unless allowed; an allowed name is pinned to the
    addresses it resolved to."""
    with pytest.raises(Refused, match="localhost address"):
        await policy().target("http://localhost:9/")
    target = await policy(allowed_hosts=["localhost"]).target("http://localhost:9/hook?q=1")
    assert target is not None and target.host == "localhost" and target.port == 9
    assert set(target.addresses) <= {"127.0.0.1", "::1"} and target.addresses
    assert await policy().target("/relative") is None
    # A number is an address too: 2130706433 is 127.0.0.1.
    with pytest.raises(Refused, match="loopback IP range"):
        await policy().target("http://2130706433/")


def test_each_attempts_body_adds_webhook_sent_at_to_the_stored_payload() -> None:
    payload = msgspec.json.encode({"run_id": "r", "values": {"a": [1, 2]}})
    sent_at = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    body = msgspec.json.decode(with_sent_at(payload, sent_at))
    assert body == {"run_id": "r", "values": {"a": [1, 2]}, "webhook_sent_at": "2026-01-02T03:04:05.678000Z"}
