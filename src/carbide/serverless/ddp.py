"""The VM baseline: torch DistributedDataParallel over gloo on this machine.

``procs`` ranks (one thread each) train the same model on the same data shards as the
serverless workers (rank ``i`` takes shard ``(round * procs + i) mod shards`` of ``batch``
samples), with the same SGD; the run is billed at an on-demand VM price
(:data:`~carbide.serverless.cost.VM_PRICE_PER_HOUR` for :data:`~carbide.serverless.cost.VM_TYPE`)
for its wall time.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from typing import Any

from .._validate import check_int
from .cost import VM_PRICE_PER_HOUR, VM_TYPE, vm_cost

__all__ = ["run_ddp"]


def _rank(rank: int, procs: int, port: int, model: Any, x: Any, y: Any, batch: int,
          rounds: int, lr: float, momentum: float, seed: int, out: str,
          shuffle: bool = True) -> None:
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP

    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=procs)
    try:
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            net = model()
        ddp = DDP(net)
        opt = torch.optim.SGD(ddp.parameters(), lr=lr, momentum=momentum)
        order = (torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
                 if shuffle else torch.arange(len(y)))
        chunks = len(y) // batch
        lossf = torch.nn.CrossEntropyLoss()
        dist.barrier()
        t0 = time.perf_counter()
        losses = []
        for r in range(rounds):
            c = (r * procs + rank) % chunks
            idx = order[c * batch:(c + 1) * batch]
            opt.zero_grad(set_to_none=True)
            loss = lossf(ddp(x[idx]), y[idx])
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        dist.barrier()
        seconds = time.perf_counter() - t0
        if rank == 0:
            with open(out, "w") as fh:
                json.dump({"seconds": seconds, "loss": losses[-1]}, fh)
    finally:
        dist.destroy_process_group()


def run_ddp(model: Any, train: tuple[Any, Any], *, procs: int = 2, batch: int = 32,
            rounds: int = 10, lr: float = 0.05, momentum: float = 0.9, seed: int = 0,
            price_per_hour: float = VM_PRICE_PER_HOUR, shuffle: bool = True,
            start_method: str = "fork") -> dict[str, Any]:
    """Train ``rounds`` synchronous steps with ``procs`` gloo ranks (``shuffle`` as in
    :class:`~carbide.serverless.trainer.TrainerConfig`: ``False`` keeps FEMNIST's writer
    order, one writer per shard). ``start_method``: ``"fork"`` (default: the ranks inherit
    this process's imports, as DataLoader workers do, so start-up is not 8 torch imports on a
    small machine) or ``"spawn"``.

    Returns:
        ``{"procs", "rounds", "round_s", "seconds", "startup_s", "loss", "cost",
        "vm_type", "price_per_hour"}``: ``round_s`` is the mean step time after a barrier
        (process start-up excluded, reported as ``startup_s``); ``cost`` bills the whole wall
        time, start-up included, at ``price_per_hour``.
    """
    import torch.multiprocessing as mp

    from .._validate import check_real
    from ..insitu.server import free_port

    check_int("procs", procs, 1)
    check_int("rounds", rounds, 1)
    check_real("price_per_hour", price_per_hour, 0, 1e6)
    if start_method not in ("fork", "spawn", "forkserver"):
        from ..exceptions import InvalidConfigError

        raise InvalidConfigError(f"unknown start method {start_method!r}; choose one of: "
                                 "fork, spawn, forkserver")
    x, y = train
    with tempfile.TemporaryDirectory(prefix="carbide-ddp-") as tmp:
        out = os.path.join(tmp, "rank0.json")
        t0 = time.perf_counter()
        mp.start_processes(_rank, args=(procs, free_port(), model, x, y, batch, rounds, lr,
                                        momentum, seed, out, shuffle), nprocs=procs,
                           join=True, start_method=start_method)
        wall = time.perf_counter() - t0
        with open(out) as fh:
            res = json.load(fh)
    return {"procs": procs, "rounds": rounds, "round_s": res["seconds"] / rounds,
            "seconds": wall, "startup_s": wall - res["seconds"], "loss": res["loss"],
            "cost": vm_cost(wall, price_per_hour), "vm_type": VM_TYPE,
            "price_per_hour": price_per_hour}
