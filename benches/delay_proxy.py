"""A TCP proxy that delays every byte by a fixed time each way: PostgreSQL at a network's distance.

    python benches/delay_proxy.py --to 127.0.0.1:5432 --port 6543 --delay-ms 0.5
    python benches/runs_ab.py --a /tmp/base --b . --postgres postgresql://postgres@127.0.0.1:6543

On one machine a round trip to PostgreSQL takes ~0.1 ms; across a data centre 0.3-1 ms. What a
server does per round trip (waiting, or holding a lock across one) only shows at such distances:
0.5 ms each way adds 1 ms to every round trip. Data keeps its order in each direction, and the
delay is added once per chunk read (the kernel's buffering merges writes as it would on a wire).
The proxy's own CPU is not the server's: benchmarks that count the server's CPU are unaffected.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    """Copy `reader` to `writer`, each chunk `delay` seconds after it arrived, in order."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def send() -> None:
        while True:
            due, chunk = await queue.get()
            if not chunk:
                break
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(chunk)
            await writer.drain()

    sender = asyncio.create_task(send())
    try:
        while chunk := await reader.read(65536):
            queue.put_nowait((loop.time() + delay, chunk))
        queue.put_nowait((0.0, b""))
        await sender
    finally:
        sender.cancel()
        with contextlib.suppress(Exception):
            writer.close()


async def serve(port: int, host: str, target_port: int, delay: float) -> None:
    async def connect(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(host, target_port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(pipe(client_reader, server_writer, delay), pipe(server_reader, client_writer, delay),
                             return_exceptions=True)  # fmt: skip

    server = await asyncio.start_server(connect, "127.0.0.1", port)
    print(f"delaying 127.0.0.1:{port} -> {host}:{target_port} by {delay * 1000:g} ms each way", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--to", required=True, metavar="HOST:PORT", help="where PostgreSQL listens")
    parser.add_argument("--port", type=int, required=True, help="the port to listen on (127.0.0.1)")
    parser.add_argument("--delay-ms", type=float, default=0.5, help="added to each direction")
    args = parser.parse_args()
    host, _, port = args.to.rpartition(":")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port, host, int(port), args.delay_ms / 1000))


if __name__ == "__main__":
    main()
