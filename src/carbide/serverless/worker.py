"""The stateless worker function: one invocation = one worker's part of one round.

A function receives a :class:`WorkerTask` (job, round, data shard, memory, ...), pulls the
model's parameters from the store, computes a gradient on its data shard, pushes it, does its
share of the aggregation (:func:`carbide.serverless.aggregation.aggregate`, with the SGD step
on the parameter shards it reduces) and returns a small record; nothing lives in the function
between invocations (SMLT, arXiv 2205.01853, Section III). The same function runs in a warm
process pool, as a Lithops call (localhost or AWS Lambda) or as a Ray task.

The function time limit covers the whole invocation (SMLT, Section IV-D): the invocation runs
as steps (pull the model and the data shard; each micro-batch of the gradient; push the update;
the aggregation), and before each step the worker compares what is left of its budget (the time
limit less ``checkpoint_margin`` of it, counted from the process start, so a cold start is
charged) with that step's expected duration (the longest such step seen in this invocation,
else the driver's figure from earlier rounds, :attr:`WorkerTask.hints`). When the step would
pass the budget, or the last step already did, it checkpoints what it has (partial gradient,
pushed update) to the store and returns ``status = "checkpointed"`` naming the phase; waits for
peers stop at the same point. The driver invokes it again and it resumes from there. A fresh
invocation always runs its first step (no fresh invocation could do better).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from typing import Any

__all__ = ["PHASES", "WorkerTask", "apply_memory_limit", "run_worker"]

#: The phases of an invocation, in order (what a checkpoint names).
PHASES: tuple[str, ...] = ("pull", "compute", "push", "aggregate")

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
        hints: expected seconds per step kind (``pull``, ``compute`` = one micro-batch,
            ``push``, ``aggregate``) from earlier rounds; the driver fills it in.
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
    hints: dict[str, float] | None = None
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


class _Budget:
    """An invocation's time budget: ``(1 - margin) * limit`` seconds from the process start
    (``cold`` seconds before this call), spent in named steps."""

    def __init__(self, limit: float, margin: float, cold: float,
                 hints: dict[str, float] | None = None, clock: Any = time.monotonic) -> None:
        self.clock = clock
        self.usable = (1.0 - margin) * limit
        self.deadline = clock() - cold + self.usable
        self.hints = dict(hints or {})
        self.seen: dict[str, float] = {}  # longest step of each kind in this invocation
        self.steps = 0
        self.last: str | None = None

    def run(self, kind: str, fn: Any) -> Any:
        t0 = self.clock()
        out = fn()
        self.seen[kind] = max(self.seen.get(kind, 0.0), self.clock() - t0)
        self.steps += 1
        self.last = kind
        return out

    def expected(self, kind: str) -> float:
        return self.seen.get(kind, self.hints.get(kind, 0.0))

    def stop_before(self, kind: str, *, before: tuple[str, ...] = ()) -> bool:
        """Whether to checkpoint instead of starting a ``kind`` step. Never in a fresh
        invocation, and not when the step (after the ``before`` steps a re-invocation would
        repeat) cannot fit a whole fresh budget either: re-invoking would not help."""
        if self.steps == 0:
            return False
        need = self.expected(kind)
        if self.clock() + need <= self.deadline:
            return False
        fresh = need + sum(self.hints.get(k, self.seen.get(k, 0.0)) for k in before)
        if fresh > self.usable:
            import logging

            logging.getLogger(__name__).warning(
                "a %s step (%.2f s expected) does not fit a fresh %.2f s budget either; "
                "running it anyway", kind, fresh, self.usable)
            return False
        return True

    def phase(self, next_kind: str) -> str:
        """What a checkpoint names: the step that ran over the budget, else the one that would."""
        return self.last if self.last and self.clock() > self.deadline else next_kind

    def wait_deadline(self) -> float | None:
        return None if self.steps == 0 else self.deadline


def _pull(store: Any, keys: Any, task: WorkerTask) -> tuple[Any, Any, Any]:
    """Pull phase: the round's parameters (into a fresh model) and this worker's data shard."""
    import torch

    from ..federated.aggregation import unflatten_
    from .aggregation import param_shards

    r = task.round
    ps = param_shards(task.scheme, task.shards)
    params = torch.cat(store.get_many([keys.params(r, k) for k in range(ps)]))
    model = task.model()
    unflatten_(params, list(model.parameters()))
    x, y = store.get_many([keys.data(task.chunk, "x"), keys.data(task.chunk, "y")])
    return model, x, y


def _slice(model: Any, x: Any, y: Any, grads: list[Any]) -> float:
    """One micro-batch of the compute phase: adds its summed-loss gradient to ``grads``."""
    import torch

    model.zero_grad(set_to_none=True)
    loss = torch.nn.functional.cross_entropy(model(x), y, reduction="sum")
    loss.backward()
    for g, p in zip(grads, model.parameters(), strict=True):
        g.add_(p.grad)
    return float(loss.detach())


def _push(store: Any, keys: Any, task: WorkerTask, grad: Any, weight: float) -> None:
    """Push phase: this worker's update (and its weight) into the store."""
    from .aggregation import push_update

    push_update(store, keys, task.scheme, task.round, task.worker, task.shards, grad,
                num_params=task.num_params, weight=weight)


def run_worker(task: WorkerTask) -> dict[str, Any]:
    """Run one invocation; returns ``{"status": "done" | "checkpointed", "loss", "seconds",
    "cold_start_s", "bytes", "phase_s", ...}`` (also written to the store's result key when
    done). A checkpointed record names its ``phase`` and whether the invocation made
    ``progress`` (saved work a re-invocation will not repeat)."""
    global _FIRST_CALL
    import torch  # noqa: F401  (first: a fresh process's torch import is part of its cold start)

    from ._keys import Keys
    from .aggregation import aggregate
    from .store import TensorStore

    cold = 0.0
    if _FIRST_CALL:  # interpreter start + imports of a fresh process: repeated initialization
        import psutil

        cold = max(0.0, time.time() - psutil.Process().create_time())
        _FIRST_CALL = False
    t_start = time.perf_counter()
    budget = _Budget(task.time_limit_s, task.checkpoint_margin, cold, task.hints)

    threads = apply_memory_limit(task.memory_mb) if task.enforce_memory else None
    keys = Keys(task.job)
    r, i = task.round, task.worker
    out: dict[str, Any] = {"worker": i, "round": r, "cold_start_s": cold, "threads": threads,
                           "pid": os.getpid()}
    with TensorStore(task.url) as store:
        step = _sgd_step(store, keys, task)
        if i == task.workers:  # the parameter server's aggregator
            budget.run("aggregate", lambda: aggregate(
                store, keys, task.scheme, r, i, task.workers, task.shards, None,
                num_params=task.num_params, timeout=task.peer_timeout_s, step=step,
                pull=False))
            loss = None
        else:
            res = _train(store, keys, task, budget, step, out)
            if res is not None:  # checkpointed
                out.update(seconds=time.perf_counter() - t_start, phase_s=budget.seen,
                           bytes=store.bytes_up + store.bytes_down)
                return out
            loss = out.pop("_loss")
        import resource

        out.update(status="done", loss=loss, seconds=time.perf_counter() - t_start,
                   bytes=store.bytes_up + store.bytes_down, phase_s=budget.seen,
                   # the function's footprint: what its memory size must hold (Linux: KiB)
                   max_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        store.put_json(keys.result(r, i), out)
    return out


def _train(store: Any, keys: Any, task: WorkerTask, budget: _Budget, step: Any,
           out: dict[str, Any]) -> str | None:
    """A worker's pull / compute / push / aggregate, resumable from its checkpoint; returns
    the phase it checkpointed in, or ``None`` when done (``out["_loss"]`` set)."""
    import torch

    from ..federated.aggregation import flatten, unflatten_
    from .aggregation import aggregate
    from .store import TimeLimitReached

    r, i = task.round, task.worker
    partial = keys.partial(r, i)
    state = store.get_json(partial) or {"phase": "compute", "next": 0, "loss_sum": 0.0}
    entry = (state["phase"], state["next"])

    def checkpoint(next_kind: str, grad: Any = None) -> str:
        if grad is not None:
            store.put(partial + ":grad", grad)
        store.put_json(partial, state)
        phase = budget.phase(next_kind)
        out.update(status="checkpointed", phase=phase, next=state["next"],
                   resume_phase=state["phase"],
                   progress=(state["phase"], state["next"]) != entry)
        return phase

    grad = None
    if state["phase"] == "compute":
        model, x, y = budget.run("pull", lambda: _pull(store, keys, task))
        grads = [torch.zeros_like(p) for p in model.parameters()]
        if state["next"]:  # resumed after a time-limit checkpoint in the compute phase
            unflatten_(store.get(partial + ":grad"), grads)
        slices = torch.arange(len(y)).tensor_split(task.micro_batches)
        for j in range(state["next"], task.micro_batches):
            if budget.stop_before("compute", before=("pull",)):
                return checkpoint("compute", flatten(grads) if state["next"] else None)
            idx = slices[j]
            loss = budget.run("compute", lambda idx=idx: _slice(model, x[idx], y[idx], grads))
            state = {**state, "next": j + 1, "loss_sum": state["loss_sum"] + loss}
        grad = flatten(grads).div_(len(y))
        state = {**state, "phase": "push", "samples": len(y)}
        if budget.stop_before("push"):
            return checkpoint("push", grad)
    if state["phase"] == "push":
        if grad is None:  # resumed: the mean gradient was saved by the checkpoint
            grad = store.get(partial + ":grad")
        if task.fault == "sigkill":  # die mid-round: half the shards pushed
            import signal

            from .aggregation import shard_bounds
            bounds = shard_bounds(task.num_params,
                                  task.shards if task.scheme == "hierarchical" else 1)
            half = bounds[: max(1, len(bounds) // 2)]
            store.put_many([(keys.update(r, i, k), grad[a:b]) for k, (a, b) in
                            enumerate(half)])
            os.kill(os.getpid(), signal.SIGKILL)
        budget.run("push", lambda: _push(store, keys, task, grad, float(state["samples"])))
        state = {**state, "phase": "aggregate"}
        if budget.stop_before("aggregate"):
            return checkpoint("aggregate")
    try:
        budget.run("aggregate", lambda: aggregate(
            store, keys, task.scheme, r, i, task.workers, task.shards, None,
            num_params=task.num_params, timeout=task.peer_timeout_s, step=step, pull=False,
            pushed=True, deadline=budget.wait_deadline()))
    except TimeLimitReached:  # still waiting for peers at the checkpoint point
        budget.last = "aggregate"
        return checkpoint("aggregate")
    out["_loss"] = state["loss_sum"] / state["samples"]
    store.delete(partial, partial + ":grad")
    return None
