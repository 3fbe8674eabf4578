"""`client.store`: put, get, delete, search, list namespaces."""

from __future__ import annotations

from typing import Any

from tests.compat.pair import Pair, Side
from tests.compat.test_threads import mark


async def test_store(pair: Pair) -> None:
    async def scenario(s: Side) -> dict[str, Any]:
        st = s.sdk.store
        m = mark(s)
        ns = ["compat", m]
        await st.put_item(ns, "a", {"n": 1, "tag": "x"})
        await st.put_item([*ns, "deep"], "b", {"n": 2, "tag": "y"})
        await st.put_item(ns, "c", {"n": 3, "tag": "x"}, ttl=60)
        await st.put_item(ns, "d", {"n": 4}, index=False)

        def keys(found: Any) -> Any:
            """Search results in key order (the order is compared on its own, `store.search_items.order`)."""
            return {**found, "items": sorted(found["items"], key=lambda i: i["key"])} if "items" in found else found

        order = await st.search_items(ns)
        return {
            "store.search_items.order": [item["key"] for item in order.get("items", [])],
            "store.put_item": await s.request(
                "PUT", "/store/items", json={"namespace": ns, "key": "e", "value": {"n": 5}}
            ),
            "store.get_item": await st.get_item(ns, "a"),
            "store.get_item.refresh": await st.get_item(ns, "c", refresh_ttl=True),
            "store.get_item.missing": await s.request(
                "GET", "/store/items", params={"namespace": ".".join(ns), "key": "zz"}
            ),
            "store.get_item.no_key": await s.request("GET", "/store/items", params={"namespace": "compat"}),
            "store.search_items": keys(await st.search_items(ns)),
            "store.search_items.filter": keys(await st.search_items(["compat", m], filter={"tag": "x"})),
            "store.search_items.page": keys(await st.search_items(ns, limit=2, offset=1)),
            "store.search_items.op_filter": keys(await st.search_items(ns, filter={"n": {"$gt": 2}})),
            "store.list_namespaces": await st.list_namespaces(prefix=["compat", m]),
            "store.list_namespaces.depth": await st.list_namespaces(prefix=["compat", m], max_depth=2),
            "store.list_namespaces.suffix": await st.list_namespaces(prefix=["compat", m], suffix=["deep"]),
            "store.delete_item": await st.delete_item(ns, "a"),
            "store.get_item.deleted": await s.request(
                "GET", "/store/items", params={"namespace": ".".join(ns), "key": "a"}
            ),
            "store.put_item.bad_namespace": await s.request(
                "PUT", "/store/items", json={"namespace": ["a.b"], "key": "k", "value": {}}
            ),
            "store.put_item.empty_label": await s.request(
                "PUT", "/store/items", json={"namespace": ["a", ""], "key": "k", "value": {}}
            ),
            "store.put_item.value_not_object": await s.request(
                "PUT", "/store/items", json={"namespace": ["a"], "key": "k", "value": 3}
            ),
            "store.search_items.bad_limit": await s.request("POST", "/store/items/search", json={"limit": -1}),
        }

    await pair.run(scenario)
