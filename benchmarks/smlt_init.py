"""Repeated initialization: a Lithops localhost call (fresh process) vs a warm pool call.

Each Lithops localhost call starts a new interpreter that imports torch; a warm pool keeps
its processes. Prints per-round time and the cold-start share of each call.

    PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/smlt_init.py
"""

from __future__ import annotations

import torch

from carbide.federated import ModelSpec
from carbide.serverless import (
    Plan,
    ServerlessTrainer,
    TrainerConfig,
    make_engine,
    open_store,
)


def main() -> None:
    spec = ModelSpec("small-cnn", 1, 10, 28)
    x, y = torch.rand(256, 1, 28, 28), torch.randint(0, 10, (256,))
    store, close = open_store()
    try:
        for name in ("lithops", "pool", "ray"):
            eng = make_engine(name, store_url=store.url, workers=2, memory_mb=1769)
            try:
                tr = ServerlessTrainer(store, f"init-{name}", spec, (x, y), eng,
                                       TrainerConfig(batch=32, round_timeout_s=120),
                                       Plan(2, 1769))
                for _ in range(3):
                    r = tr.step()
                    per_call = r.function_s / r.invocations
                    print(f"{name:>8} round {r.round}: {r.seconds:.2f} s, per call "
                          f"{per_call:.2f} s of which cold start {r.cold_start_s:.2f} s")
            finally:
                eng.close()
    finally:
        close()


if __name__ == "__main__":
    main()
