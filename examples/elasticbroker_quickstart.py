"""Stream your own simulation's snapshots to online DMD, on one laptop.

A toy "simulation" (a travelling wave with two frequencies, on a 64 x 32 grid) puts one
snapshot per step through the Broker into an embedded Redis server; a DMDConsumer analyses
sliding windows of the stream and prints the frequencies it finds. Under MPI, pass
``MPI.COMM_WORLD`` as ``comm`` and run the script with ``mpiexec -n P``: every rank puts its
own slab, and the ranks of a region are stitched back together by the consumer.

Run: python examples/elasticbroker_quickstart.py
"""

from __future__ import annotations

import numpy as np

from carbide.insitu import Broker, DMDConsumer, EmbeddedRedis


def snapshot(step: int) -> np.ndarray:
    """The field at ``step``: waves of 0.02 and 0.05 cycles/step travelling along x."""
    x, y = np.meshgrid(np.linspace(0, 2 * np.pi, 64), np.linspace(0, np.pi, 32))
    return (np.sin(x - 2 * np.pi * 0.02 * step) * np.sin(y)
            + 0.4 * np.cos(2 * x - 2 * np.pi * 0.05 * step))


def main() -> None:
    with EmbeddedRedis() as server:
        broker = Broker("wave", comm=None, endpoints=server.url, stride=2)  # keep every 2nd point
        for step in range(200):
            broker.put(step, snapshot(step))
        stats = broker.finalize()
        print(f"put {stats.puts} snapshots, {stats.put_latency_mean_s * 1e6:.0f} us per put, "
              f"{stats.throughput_mb_s:.1f} MB/s")
        consumer = DMDConsumer(server.url, "wave", regions=[0], window=80, stride=40, rank=4)
        for w in consumer.run():
            freqs = sorted({round(abs(f), 4) for f in w.dmd["frequencies"] if abs(f) > 1e-6})
            print(f"window {w.window} (steps {w.steps[0]}-{w.steps[-1]}): frequencies {freqs}, "
                  f"reconstruction error {w.dmd['error']:.2e}")
        consumer.close()


if __name__ == "__main__":
    main()
