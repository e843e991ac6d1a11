"""Transport throughput: carbide's Broker put path against a raw pipelined XADD loop.

Both send the same float32 payloads to an embedded redis-server on loopback, 4 per pipelined
round trip; the raw loop is the ceiling on this machine. Prints the median of 5 alternating
runs per payload size.

    python benchmarks/elasticbroker_transport.py
"""

from __future__ import annotations

import statistics

from carbide.insitu.experiment import broker_throughput, raw_redis_throughput
from carbide.insitu.server import EmbeddedRedis


def main() -> None:
    print(f"{'payload':>10} {'raw XADD MB/s':>14} {'broker MB/s':>12} {'ratio':>6}")
    with EmbeddedRedis() as server:
        for shape in [(50, 50), (50, 100), (100, 200), (200, 400)]:
            raw, put = [], []
            for _ in range(5):
                raw.append(raw_redis_throughput(server.url, nbytes=shape[0] * shape[1] * 4))
                put.append(broker_throughput(server.url, shape=shape))
            r, p = statistics.median(raw), statistics.median(put)
            kb = shape[0] * shape[1] * 4 / 1e3
            print(f"{kb:>8.0f}kB {r:>14.1f} {p:>12.1f} {p / r:>6.2f}")


if __name__ == "__main__":
    main()
