"""The load of ``test_live_load.py``, in a process of its own: paced HTTP/1.1 POSTs over
keep-alive connections on one uvloop event loop.

Usage: python load_client.py PORT RATE SECONDS CONNECTIONS OUT.json

Connection ``k`` sends its ``n``-th webhook (``wamid.<k * 10,000,000 + n>``) at ``start + n /
(RATE / CONNECTIONS)``; a request is written whole and its response read before the next.
OUT.json gets the acknowledged numbers, every latency in seconds, and the wall time. An
earlier version ran 16 ``http.client`` threads inside the test process: the clients, not the
receiver, were then what limited the rate.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

from live_support import cloud_body


async def _connection(
    port: int, k: int, start: float, per_second: float, seconds: float, out: dict[str, list[float]]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    n = 0
    while (due := start + n / per_second) - start < seconds:
        pause = due - time.perf_counter()
        if pause > 0:
            await asyncio.sleep(pause)
        number = k * 10_000_000 + n
        body = cloud_body(number, contact=f"55119{number % 5000:08d}", at=int(time.time()))
        head = (
            f"POST /cloud HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        sent = time.perf_counter()
        writer.write(head.encode() + body)
        status_line, _, headers = (await reader.readuntil(b"\r\n\r\n")).partition(b"\r\n")
        length = 0
        for line in headers.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        await reader.readexactly(length)
        out["latencies"].append(time.perf_counter() - sent)
        if status_line.split(b" ")[1] == b"200":
            out["acked"].append(number)
        n += 1
    writer.close()
    await writer.wait_closed()


async def _main(port: int, rate: float, seconds: float, connections: int, path: Path) -> None:
    out: dict[str, list[float]] = {"latencies": [], "acked": []}
    start = time.perf_counter() + 0.5
    await asyncio.gather(
        *(_connection(port, k, start, rate / connections, seconds, out) for k in range(connections))
    )
    out["elapsed"] = [time.perf_counter() - start]
    path.write_text(json.dumps(out), encoding="utf-8")


if __name__ == "__main__":
    port, rate, seconds, connections, path = sys.argv[1:]
    uvloop.run(_main(int(port), float(rate), float(seconds), int(connections), Path(path)))
