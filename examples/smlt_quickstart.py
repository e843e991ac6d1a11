"""SMLT quickstart: train your own model with stateless workers through a Redis store.

Bring any zero-argument picklable model factory and (x, y) tensors; the workers are warm
local processes here (``make_engine("lithops", ...)`` runs them as Lithops calls, which
target AWS Lambda by configuration). Then ask the BO scheduler for a plan under a deadline
and a budget (modelled from the measured round).

    PYTHONPATH=src OMP_NUM_THREADS=1 python examples/smlt_quickstart.py
"""

from __future__ import annotations

import torch

from carbide.federated import ModelSpec
from carbide.serverless import (
    InfeasiblePlanError,
    Plan,
    Scheduler,
    ServerlessTrainer,
    TimeModel,
    TrainerConfig,
    make_engine,
    open_store,
)


def main() -> None:
    # your data and model: 10-class 28x28 images, the small CNN of carbide.federated
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(512, 1, 28, 28, generator=g), torch.randint(0, 10, (512,), generator=g)
    model = ModelSpec("small-cnn", 1, 10, 28)

    store, close = open_store()  # embedded redis-server; or open_store("redis://host:6379")
    engine = make_engine("pool", store_url=store.url, workers=2, memory_mb=1769)
    try:
        trainer = ServerlessTrainer(store, "quickstart", model, (x, y), engine,
                                    TrainerConfig(scheme="hierarchical", batch=32),
                                    Plan(workers=2, memory_mb=1769))
        for _ in range(4):
            r = trainer.step()
            print(f"round {r.round}: loss {r.loss:.3f}, {r.seconds:.2f} s, "
                  f"{r.bytes_per_worker / 1e3:.0f} kB/worker, ${r.cost:.7f}")
        # plan 5 epochs of the full run at up to 200 functions (modelled, not measured)
        tm = TimeModel(trainer.num_params, len(y), 32, invoke_s=0.05, sample_s=1e-3,
                       bandwidth=5e7, store_bandwidth=None)
        try:
            best = Scheduler(tm, deadline_s=60, budget=0.05, sampler="tpe", trials=20).plan(5)
            print("modelled plan:", best)
        except InfeasiblePlanError as exc:
            print("refused:", exc)
    finally:
        engine.close()
        close()


if __name__ == "__main__":
    main()
