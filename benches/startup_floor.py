"""The floor under `aegra serve`'s startup: Granian serving a bare app, started as Aegra starts it.

    python benches/startup.py --cmd floor-litestar='python {repo}/benches/startup_floor.py --port {port}' \
        --cmd floor-asgi='python {repo}/benches/startup_floor.py --port {port} --asgi'

`--asgi`: a plain ASGI function (Python and Granian alone); default: a Litestar app with one
route, which imports Litestar (and so advanced-alchemy, SQLAlchemy and numpy, installed with
Aegra: Litestar's pagination module imports advanced-alchemy whenever it is installed).
"""

from __future__ import annotations

import argparse
from typing import Any


async def bare_ok(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b'{"ok":true}'})


def litestar_ok() -> Any:
    from litestar import Litestar, get

    @get("/ok", sync_to_thread=False)
    def ok() -> dict[str, bool]:
        return {"ok": True}

    return Litestar([ok])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--asgi", action="store_true", help="a plain ASGI function instead of Litestar")
    args = parser.parse_args()
    from granian.constants import Interfaces, Loops
    from granian.server import Server

    server = Server("floor:app", address="127.0.0.1", port=args.port, interface=Interfaces.ASGI, loop=Loops.asyncio)
    server.serve(target_loader=(lambda: bare_ok) if args.asgi else litestar_ok, wrap_loader=False)


if __name__ == "__main__":
    main()
