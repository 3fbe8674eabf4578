"""The thread streaming protocol over SSE and over the WebSocket, alternated: langgraph-sdk's
`threads.stream(transport=...)` starts a run and reads every event until the run's end.

    python benches/protocol_transports.py --url http://127.0.0.1:2026 --assistant steps \
        --input '{"steps": 50, "seconds": 0}' --rounds 4 --runs 10

Each round runs SSE, WS, WS, SSE (this machine's speed drifts: benches/README.md), each `--runs`
runs one after the other on fresh threads; it prints the median time from `run.start` to the
run's final lifecycle event per transport and round, the events per run, and the spread of the
rounds' WS/SSE ratios. The server needs the graph (tests/graphs/steps.py is one with many events).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

from langgraph_sdk import get_client

TERMINAL = ("completed", "failed", "interrupted")


async def one_run(url: str, assistant: str, given: Any, transport: str) -> tuple[float, int]:
    client = get_client(url=url)
    async with client.threads.stream(assistant_id=assistant, transport=transport) as thread:  # type: ignore[arg-type]
        started = time.perf_counter()
        await thread.run.start(input=given)
        count = 0
        async for event in thread.events:
            if "method" not in event:
                continue
            count += 1
            data = event["params"].get("data") or {}
            if (
                event["method"] == "lifecycle"
                and not event["params"].get("namespace")
                and data.get("event") in TERMINAL
            ):
                return time.perf_counter() - started, count
    raise RuntimeError("the stream ended before the run did")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--assistant", default="steps")
    parser.add_argument("--input", default='{"steps": 50, "seconds": 0}')
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    given = json.loads(args.input)
    await one_run(args.url, args.assistant, given, "websocket")  # warm up (graph import, connections)
    ratios = []
    for number in range(1, args.rounds + 1):
        medians: dict[str, list[float]] = {"sse": [], "websocket": []}
        for transport in ("sse", "websocket", "websocket", "sse"):
            times, counts = [], []
            for _ in range(args.runs):
                seconds, count = await one_run(args.url, args.assistant, given, transport)
                times.append(seconds)
                counts.append(count)
            medians[transport].append(statistics.median(times))
            print(f"round {number} {transport:9} median {statistics.median(times) * 1000:7.1f} ms/run, "
                  f"{statistics.median(counts):.0f} events/run")  # fmt: skip
        ratio = statistics.mean(medians["websocket"]) / statistics.mean(medians["sse"])
        ratios.append(ratio)
        print(f"round {number} WS/SSE {ratio:.3f}")
    print(f"WS/SSE over {len(ratios)} rounds: mean {statistics.mean(ratios):.3f}, "
          f"min {min(ratios):.3f}, max {max(ratios):.3f}")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
