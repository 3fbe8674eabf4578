"""Run webhooks a receiver can trust, on a real server per backend (docs/webhooks.md).

Each delivery is verified here as a receiver would, with the `standardwebhooks` package: signed
with both secrets of a rotation, one `webhook-id` for every attempt, retried after failures and
not after a final 4xx, given up after the last retry, refused at run creation (422) for hosts
that are loopback, private, link-local or metadata endpoints, redirects followed only to allowed
hosts, an endless answer cut short, a relative URL served by the app's own custom route, and every
attempt shown by `GET .../runs/{run_id}/webhooks`.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.support.projects import graphs_project
from tests.support.server import RunningServer, serve_on_backend
from tests.support.webhook_receiver import Reply, webhook_receiver

NEW_SECRET = "whsec_" + "bmV3LXNlY3JldC1vZi10aGUtd2ViaG9vay10ZXN0cw=="
OLD_SECRET = "whsec_" + "b2xkLXNlY3JldC1vZi10aGUtd2ViaG9vay10ZXN0cw=="
OTHER_SECRET = "whsec_" + "YW5vdGhlci1zZWNyZXQtbm9ib2R5LWNvbmZpZ3VyZWQ="
RETRIES = [0.2, 0.2, 0.2, 0.2]  # five attempts in all
USER_HI = {"messages": [{"role": "user", "content": "hi"}]}
# The body langgraph-api sends: the run, its status and times, when it was sent, the thread's values.
BODY_KEYS = {"run_id", "thread_id", "assistant_id", "created_at", "updated_at", "status", "metadata", "kwargs",
             "multitask_strategy", "run_started_at", "run_ended_at", "webhook_sent_at", "values"}  # fmt: skip

CUSTOM_APP = """
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

received = []


async def hook(request):
    received.append({"headers": dict(request.headers), "body": (await request.body()).decode()})
    return JSONResponse({"ok": True})


async def seen(request):
    return JSONResponse(received)


app = Starlette(routes=[Route("/hooks/done", hook, methods=["POST"]), Route("/hooks/seen", seen)])
"""


def webhooks_config(**overrides: Any) -> dict[str, Any]:
    return {
        "signing_secret": [NEW_SECRET, OLD_SECRET],
        "allowed_hosts": ["localhost"],  # the receivers, by that name (so 127.0.0.1 itself stays refused)
        "retry_delays_seconds": RETRIES,
        "retry_jitter": 0,
        "timeout_seconds": 2,
        "poll_seconds": 0.5,
        **overrides,
    }


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    folder: Path = tmp_path_factory.mktemp(f"webhooks-{request.param}")
    (folder / "custom_app.py").write_text(CUSTOM_APP)
    config = graphs_project(folder, webhooks=webhooks_config(), http={"app": "./custom_app.py:app"})
    yield from serve_on_backend(request, folder, config)


@pytest.fixture
def client(server: RunningServer) -> LangGraphClient:
    return get_client(url=server.url)


async def run_with_webhook(client: LangGraphClient, url: str, graph: str = "agent") -> tuple[str, str]:
    thread = await client.threads.create()
    run = await client.runs.create(thread["thread_id"], graph, input=USER_HI if graph == "agent" else {}, webhook=url)
    return thread["thread_id"], run["run_id"]


async def deliveries(client: LangGraphClient, thread_id: str, run_id: str) -> list[dict[str, Any]]:
    return await client.http.get(f"/threads/{thread_id}/runs/{run_id}/webhooks")  # type: ignore[return-value]


async def settled_delivery(client: LangGraphClient, thread_id: str, run_id: str) -> dict[str, Any]:
    """The run's one delivery, once it is delivered or failed."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = await deliveries(client, thread_id, run_id)
        if found and found[0]["status"] in ("delivered", "failed"):
            assert len(found) == 1
            return found[0]
        await asyncio.sleep(0.1)
    raise AssertionError(f"the delivery did not settle: {found}")


async def test_a_delivery_verifies_with_the_old_and_the_new_secret(client: LangGraphClient) -> None:
    with webhook_receiver() as receiver:
        thread_id, run_id = await run_with_webhook(client, receiver.at("localhost"))
        [request] = await asyncio.to_thread(receiver.wait_for, 1)
        delivery = await settled_delivery(client, thread_id, run_id)
    # A receiver holding either secret of the rotation accepts it; one holding another does not.
    for secret in (NEW_SECRET, OLD_SECRET):
        body = request.verify(secret)
        assert body["run_id"] == run_id and body["status"] == "success"
    with pytest.raises(WebhookVerificationError):
        request.verify(OTHER_SECRET)
    signatures = request.headers["webhook-signature"].split(" ")
    assert len(signatures) == 2 and all(s.startswith("v1,") for s in signatures)
    assert request.webhook_id == delivery["webhook_id"] == run_id
    assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 60
    assert set(body) == BODY_KEYS | {"langsmith_session_name"} & set(body)
    assert body["values"]["messages"][-1]["content"] == "You said: hi"
    assert request.headers["content-type"] == "application/json"
    assert delivery["status"] == "delivered" and delivery["url"] == receiver.at("localhost")
    [attempt] = delivery["attempts"]
    assert attempt["attempt"] == 1 and attempt["status_code"] == 200 and attempt["error"] is None


async def test_a_receiver_that_fails_three_times_gets_it_on_the_fourth(client: LangGraphClient) -> None:
    with webhook_receiver(statuses=[500, 503, 429]) as receiver:
        thread_id, run_id = await run_with_webhook(client, receiver.at("localhost"))
        requests = await asyncio.to_thread(receiver.wait_for, 4)
        delivery = await settled_delivery(client, thread_id, run_id)
        await asyncio.sleep(1.0)  # longer than a retry's wait: nothing more comes
        assert len(receiver.received) == 4
    assert {r.webhook_id for r in requests} == {delivery["webhook_id"]}
    for request in requests:
        assert request.verify(NEW_SECRET)["run_id"] == run_id
    # Each attempt is signed anew, at its own time; the spacing is the configured one.
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(requests)]
    assert all(gap >= 0.15 for gap in gaps), gaps
    assert delivery["status"] == "delivered"
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 503, 429, 200]
    assert [a["attempt"] for a in delivery["attempts"]] == [1, 2, 3, 4]


async def test_a_4xx_answer_is_final(client: LangGraphClient) -> None:
    with webhook_receiver(statuses=[400]) as receiver:
        thread_id, run_id = await run_with_webhook(client, receiver.at("localhost"))
        delivery = await settled_delivery(client, thread_id, run_id)
        await asyncio.sleep(1.0)
        assert len(receiver.received) == 1
    assert delivery["status"] == "failed" and [a["status_code"] for a in delivery["attempts"]] == [400]


async def test_delivery_gives_up_after_the_last_retry(client: LangGraphClient) -> None:
    with webhook_receiver(statuses=[502] * 10) as receiver:
        thread_id, run_id = await run_with_webhook(client, receiver.at("localhost"))
        delivery = await settled_delivery(client, thread_id, run_id)
        await asyncio.sleep(1.0)
        assert len(receiver.received) == 1 + len(RETRIES)
    assert delivery["status"] == "failed" and delivery["next_attempt_at"] is None
    assert [a["status_code"] for a in delivery["attempts"]] == [502] * (1 + len(RETRIES))


async def test_a_receiver_that_does_not_answer_is_retried_after_the_timeout(client: LangGraphClient) -> None:
    with webhook_receiver(hold=True) as receiver:
        thread_id, run_id = await run_with_webhook(client, receiver.at("localhost"))
        await asyncio.to_thread(receiver.wait_for, 2, 15)  # the first attempt timed out after 2 s
        receiver.release()
        delivery = await settled_delivery(client, thread_id, run_id)
    first, *_ = delivery["attempts"]
    assert first["status_code"] is None and first["error"] == "no answer within 2 s"
    assert 1900 <= first["duration_ms"] < 3000
    assert delivery["status"] == "delivered"


async def test_an_endless_answer_is_read_only_up_to_a_limit(client: LangGraphClient) -> None:
    """The receiver announces megabytes and sends a few kilobytes, then stalls: the attempt reads
    what it needs (the status, the start of the body) and ends long before its timeout."""
    with webhook_receiver(statuses=[Reply(200, body=b"x" * 4096, endless=True)]) as receiver:
        thread_id, run_id = await run_with_webhook(client, receiver.at("localhost"))
        delivery = await settled_delivery(client, thread_id, run_id)
    [attempt] = delivery["attempts"]
    assert delivery["status"] == "delivered" and attempt["duration_ms"] < 1000
    assert attempt["response"] == "x" * 200


async def test_a_failed_runs_webhook_carries_the_error(client: LangGraphClient) -> None:
    with webhook_receiver() as receiver:
        await run_with_webhook(client, receiver.at("localhost"), graph="failing")
        [request] = await asyncio.to_thread(receiver.wait_for, 1)
    body = request.verify(OLD_SECRET)
    assert body["status"] == "error"
    assert body["error"] == {"error": "ValueError", "message": "deliberate failure"}


async def test_a_stateless_runs_webhook_outlives_its_deleted_thread(client: LangGraphClient) -> None:
    with webhook_receiver(statuses=[503]) as receiver:
        run = await client.runs.create(None, "agent", input=USER_HI, webhook=receiver.at("localhost"))
        requests = await asyncio.to_thread(receiver.wait_for, 2)
    assert [r.verify(NEW_SECRET)["run_id"] for r in requests] == [run["run_id"]] * 2


def _hostname_resolving_to_loopback() -> str | None:
    """This machine's name, when it resolves to a loopback address (Debian's /etc/hosts does that)."""
    name = socket.gethostname()
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(name, 80, type=socket.SOCK_STREAM)}
    except OSError:
        return None
    return name if addresses and all(a.startswith("127.") or a == "::1" for a in addresses) else None


REFUSED = [
    ("http://localhost.localdomain:8123/hook", "Webhook host blocked: localhost address"),
    ("http://127.0.0.1:8123/hook", "Webhook host blocked: loopback IP range"),
    ("http://[::1]:8123/hook", "Webhook host blocked: loopback IP range"),
    ("http://[::ffff:127.0.0.1]/hook", "Webhook host blocked: loopback IP range"),
    ("http://2130706434/hook", "Webhook host blocked: loopback IP range"),  # 127.0.0.2, as a number
    ("http://10.1.2.3/hook", "Webhook host blocked: private IP range"),
    ("http://192.168.0.10/hook", "Webhook host blocked: private IP range"),
    ("http://[fd12::1]/hook", "Webhook host blocked: private IP range"),
    ("http://169.254.169.254/latest/meta-data/", "Webhook host blocked: cloud metadata endpoint"),
    ("http://metadata.google.internal/computeMetadata/v1/", "Webhook host blocked: cloud metadata endpoint"),
    ("http://169.254.1.1/hook", "Webhook host blocked: blocked IP range"),
    ("http://0.0.0.0:8123/hook", "Webhook host blocked: blocked IP range"),
    ("http://api.default.svc.cluster.local/hook", "Webhook host blocked: Kubernetes internal DNS"),
    ("http://no-such-host.invalid/hook", "Webhook host blocked: DNS resolution failed"),
    ("ftp://example.com/hook", "Webhook host blocked: scheme 'ftp' not allowed"),
    ("not a url", "Invalid webhook hostname ''"),
]


@pytest.mark.parametrize(("url", "detail"), REFUSED)
async def test_refused_hosts_answer_422_at_run_creation(server: RunningServer, client: LangGraphClient, url: str,
                                                        detail: str) -> None:  # fmt: skip
    thread = await client.threads.create()
    async with httpx.AsyncClient(base_url=server.url) as http:
        for path in (f"/threads/{thread['thread_id']}/runs", f"/threads/{thread['thread_id']}/runs/wait", "/runs"):
            response = await http.post(path, json={"assistant_id": "agent", "input": USER_HI, "webhook": url})
            assert (response.status_code, response.json()) == (422, {"detail": detail}), path
        assert (await http.get(f"/threads/{thread['thread_id']}/runs")).json() == [], "no run was stored"


async def test_a_name_that_resolves_to_loopback_is_refused(client: LangGraphClient) -> None:
    name = _hostname_resolving_to_loopback()
    if name is None:
        pytest.skip("this machine's name does not resolve to a loopback address")
    with pytest.raises(httpx.HTTPStatusError) as refused:
        await client.runs.create(None, "agent", input=USER_HI, webhook=f"http://{name}:8123/hook")
    assert refused.value.response.status_code == 422
    assert refused.value.response.json() == {"detail": "Webhook host blocked: loopback IP range"}


async def test_redirects_are_followed_only_to_allowed_hosts(client: LangGraphClient) -> None:
    with webhook_receiver() as final:
        moved = [
            Reply(307, {"location": final.at("localhost")}),
            Reply(308, {"location": "http://169.254.169.254/steal"}),
        ]
        with webhook_receiver(statuses=moved) as receiver:
            followed = await run_with_webhook(client, receiver.at("localhost"))
            [request] = await asyncio.to_thread(final.wait_for, 1)
            assert request.verify(NEW_SECRET)["run_id"] == followed[1]
            refused = await run_with_webhook(client, receiver.at("localhost"))
            delivery = await settled_delivery(client, *refused)
    [attempt] = delivery["attempts"]
    assert delivery["status"] == "failed" and attempt["status_code"] is None
    assert (
        attempt["error"] == "Webhook host blocked: cloud metadata endpoint (redirected to http://169.254.169.254/steal)"
    )
    assert (await settled_delivery(client, *followed))["status"] == "delivered"


async def test_a_relative_webhook_goes_to_the_apps_own_route(server: RunningServer, client: LangGraphClient) -> None:
    thread_id, run_id = await run_with_webhook(client, "/hooks/done")
    delivery = await settled_delivery(client, thread_id, run_id)
    assert delivery["status"] == "delivered"
    async with httpx.AsyncClient(base_url=server.url) as http:
        seen = [r for r in (await http.get("/hooks/seen")).json() if run_id in r["body"]]
    [received] = seen
    body = Webhook(OLD_SECRET).verify(received["body"], received["headers"])
    assert body["run_id"] == run_id and received["headers"]["webhook-id"] == delivery["webhook_id"]


async def test_a_run_without_a_webhook_has_no_deliveries(server: RunningServer, client: LangGraphClient) -> None:
    thread = await client.threads.create()
    run = await client.runs.wait(thread["thread_id"], "agent", input=USER_HI)
    assert run
    [listed] = await client.runs.list(thread["thread_id"])
    assert await deliveries(client, thread["thread_id"], listed["run_id"]) == []
    async with httpx.AsyncClient(base_url=server.url) as http:
        unknown = await http.get(f"/runs/{'0' * 8}-0000-0000-0000-{'0' * 12}/webhooks")
        assert unknown.status_code == 404 and "not found" in unknown.json()["detail"]
        malformed = await http.get("/runs/not-a-uuid/webhooks")
        assert malformed.status_code == 422


async def test_a_kept_stateless_runs_deliveries_are_shown_by_run_id(server: RunningServer,
                                                                    client: LangGraphClient) -> None:  # fmt: skip
    with webhook_receiver() as receiver:
        webhook = receiver.at("localhost")
        run = await client.runs.create(None, "agent", input=USER_HI, webhook=webhook, on_completion="keep")
        await asyncio.to_thread(receiver.wait_for, 1)
    async with httpx.AsyncClient(base_url=server.url) as http:
        for _ in range(100):
            found = (await http.get(f"/runs/{run['run_id']}/webhooks")).json()
            if found and found[0]["status"] == "delivered":
                break
            await asyncio.sleep(0.1)
    assert found[0]["run_id"] == run["run_id"] and found[0]["status"] == "delivered"
