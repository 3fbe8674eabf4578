"""A webhook receiver for benchmarks: answers every POST with 200 at once, keeping connections alive.

    python benches/webhook_sink.py --port 9123     # then runs' webhook: http://127.0.0.1:9123/hook

It runs in a process of its own, so that its CPU is neither the server's nor the load generator's;
it verifies nothing (a receiver's work is not what the benchmarks measure). It prints how many
webhooks it received when it stops (SIGTERM or Ctrl-C).
"""

from __future__ import annotations

import argparse
import asyncio
import signal

RESPONSE = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"


async def serve(port: int) -> None:
    received = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal received
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                await reader.readexactly(length)
                received += 1
                writer.write(RESPONSE)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    async with server:
        print(f"listening on http://127.0.0.1:{port}/hook", flush=True)
        await stop.wait()
    print(f"received {received} webhooks", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    asyncio.run(serve(parser.parse_args().port))


if __name__ == "__main__":
    main()
