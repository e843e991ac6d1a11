"""The stateless worker function: one invocation = one worker's part of one round.

A function receives a :class:`WorkerTask` (job, round, data shard, memory, ...), pulls the
model's parameters from the store, computes a gradient on its data shard, pushes it, does its
share of the aggregation (:func:`carbide.serverless.aggregation.aggregate`, with the SGD step
on the parameter shards it reduces) and returns a small record; nothing lives in the function
between invocations (SMLT, arXiv 2205.01853, Section III). The same function runs in a warm
process pool, as a Lithops call (localhost or AWS Lambda) or as a Ray task.

Before its function time limit a worker checkpoints its partial gradient to the store and
returns ``status = "checkpointed"``; the driver invokes it again and it resumes from there.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from typing import Any

__all__ = ["WorkerTask", "apply_memory_limit", "run_worker"]

_FIRST_CALL = True  # a fresh process pays the imports once: reported as its cold start


@dataclass(frozen=True)
class WorkerTask:
    """Everything one invocation needs (picklable; the model is a zero-argument factory).

    Attributes:
        url, job: the store and the job's id.
        round: the round number.
        worker: the role: ``0 .. workers - 1``, or ``workers`` for the parameter server.
        workers, scheme, shards: ``n``, the aggregation scheme and ``m``.
        chunk: the data shard this worker trains on (``-1`` for the aggregator).
        memory_mb: the function's memory (threads and address space are capped to it when
            ``enforce_memory``).
        model: zero-argument factory returning the ``nn.Module`` (e.g. a ``ModelSpec``).
        num_params: ``P``.
        lr, momentum: SGD step and momentum, applied by the owner of each reduced shard.
        micro_batches: the shard is processed in this many slices (checkpoint points).
        time_limit_s: the function time limit; the worker checkpoints when less than
            ``checkpoint_margin`` of it is left.
        peer_timeout_s: how long to wait for peers' keys.
        fault: ``None``, or ``"sigkill"`` to SIGKILL itself after pushing half its shards (the
            fault-injection test of a worker dying mid-round).
    """

    url: str
    job: str
    round: int
    worker: int
    workers: int
    scheme: str
    shards: int
    chunk: int
    memory_mb: int
    model: Any
    num_params: int
    lr: float = 0.05
    momentum: float = 0.9
    micro_batches: int = 1
    time_limit_s: float = 900.0
    checkpoint_margin: float = 0.2
    peer_timeout_s: float = 120.0
    enforce_memory: bool = True
    fault: str | None = None

    def with_fault(self, fault: str | None) -> WorkerTask:
        return replace(self, fault=fault)


def apply_memory_limit(memory_mb: int) -> int:
    """Cap this process to ``memory_mb``: threads = its vCPU share, and an address-space soft
    limit of the current size plus ``memory_mb`` (RLIMIT_AS; the interpreter's own mappings
    are not charged, as Lambda does not charge its runtime). Returns the thread count."""
    import resource

    import torch

    from .cost import threads_for_memory

    threads = threads_for_memory(memory_mb)
    torch.set_num_threads(threads)
    with open("/proc/self/statm") as fh:
        vm_bytes = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    soft = vm_bytes + memory_mb * 1024 * 1024
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    return threads


def _sgd_step(store: Any, keys: Any, task: WorkerTask) -> Any:
    """The optimizer step its reducer applies to parameter shard ``k`` with the mean
    gradient: momentum SGD, state (parameters, momentum) read from and written to the store."""
    r = task.round

    def step(k: int, grad: Any) -> None:
        params, mom = store.get_many([keys.params(r, k), keys.momentum(r, k)])
        mom = mom.mul_(task.momentum).add_(grad)
        store.put_many([(keys.params(r + 1, k), params.sub_(mom, alpha=task.lr)),
                        (keys.momentum(r + 1, k), mom)])

    return step


def run_worker(task: WorkerTask) -> dict[str, Any]:
    """Run one invocation; returns ``{"status": "done" | "checkpointed", "loss", "seconds",
    "cold_start_s", "bytes", ...}`` (also written to the store's result key when done)."""
    global _FIRST_CALL
    import torch

    from ..federated.aggregation import flatten, unflatten_
    from ._keys import Keys
    from .aggregation import aggregate, param_shards
    from .store import TensorStore

    cold = 0.0
    if _FIRST_CALL:  # interpreter start + imports of a fresh process: repeated initialization
        import psutil

        cold = max(0.0, time.time() - psutil.Process().create_time())
        _FIRST_CALL = False
    t_start = time.perf_counter()

    threads = apply_memory_limit(task.memory_mb) if task.enforce_memory else None
    keys = Keys(task.job)
    r, i = task.round, task.worker
    out: dict[str, Any] = {"worker": i, "round": r, "cold_start_s": cold, "threads": threads,
                           "pid": os.getpid()}
    with TensorStore(task.url) as store:
        step = _sgd_step(store, keys, task)
        if i == task.workers:  # the parameter server's aggregator
            aggregate(store, keys, task.scheme, r, i, task.workers, task.shards, None,
                      num_params=task.num_params, timeout=task.peer_timeout_s, step=step,
                      pull=False)
            loss = None
        else:
            ps = param_shards(task.scheme, task.shards)
            params = torch.cat(store.get_many([keys.params(r, k) for k in range(ps)]))
            model = task.model()
            unflatten_(params, list(model.parameters()))
            x, y = store.get_many([keys.data(task.chunk, "x"), keys.data(task.chunk, "y")])
            grads = [torch.zeros_like(p) for p in model.parameters()]
            start, loss_sum = 0, 0.0
            partial = keys.partial(r, i)
            if store.exists(partial):  # resumed after a time-limit checkpoint
                state = store.get_json(partial)
                start, loss_sum = int(state["next"]), float(state["loss_sum"])
                flat = store.get(partial + ":grad")
                unflatten_(flat, grads)
            slices = torch.arange(len(y)).tensor_split(task.micro_batches)
            lossf = torch.nn.CrossEntropyLoss(reduction="sum")
            for j in range(start, task.micro_batches):
                idx = slices[j]
                model.zero_grad(set_to_none=True)
                loss = lossf(model(x[idx]), y[idx])
                loss.backward()
                for g, p in zip(grads, model.parameters(), strict=True):
                    g.add_(p.grad)
                loss_sum += float(loss.detach())
                left = task.time_limit_s - (time.perf_counter() - t_start + cold)
                if j + 1 < task.micro_batches and left < task.checkpoint_margin * task.time_limit_s:
                    store.put(partial + ":grad", flatten(grads))
                    store.put_json(partial, {"next": j + 1, "loss_sum": loss_sum})
                    out.update(status="checkpointed", next=j + 1,
                               seconds=time.perf_counter() - t_start,
                               bytes=store.bytes_up + store.bytes_down)
                    return out
            grad = flatten(grads).div_(len(y))
            if task.fault == "sigkill":  # die mid-round: half the shards pushed
                import signal

                from .aggregation import shard_bounds
                bounds = shard_bounds(task.num_params,
                                      task.shards if task.scheme == "hierarchical" else 1)
                half = bounds[: max(1, len(bounds) // 2)]
                store.put_many([(keys.update(r, i, k), grad[a:b]) for k, (a, b) in
                                enumerate(half)])
                os.kill(os.getpid(), signal.SIGKILL)
            aggregate(store, keys, task.scheme, r, i, task.workers, task.shards, grad,
                      num_params=task.num_params, weight=float(len(y)),
                      timeout=task.peer_timeout_s, step=step, pull=False)
            loss = loss_sum / len(y)
            store.delete(partial, partial + ":grad")
        import resource

        out.update(status="done", loss=loss, seconds=time.perf_counter() - t_start,
                   bytes=store.bytes_up + store.bytes_down,
                   # the function's footprint: what its memory size must hold (Linux: KiB)
                   max_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        store.put_json(keys.result(r, i), out)
    return out
