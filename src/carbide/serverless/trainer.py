"""The driver: runs rounds of stateless workers, re-runs the missing ones, checkpoints in the
store, resumes after its own death, and re-plans (workers, memory) on the way.

One round = ``n`` worker functions (+ the aggregator for ``parameter_server``) invoked at
once; each trains on one data shard and takes part in the aggregation, and the reducers write
the next round's parameters. The round is committed (``meta.round = r + 1``) only when every
role has written its result key, so the store's last committed round is always a consistent
checkpoint: a killed driver restarted with ``resume=True`` continues from there.

Faults (SMLT, arXiv 2205.01853, Section IV-D): a worker whose result is still missing
``round_timeout_s`` after it was invoked is invoked again (its keys of the round are simply
overwritten: same data shard, same parameters, same gradient), so the round completes with the
exact mean. A worker that checkpointed before its function time limit (in any phase: pull,
compute, push or aggregation, see :mod:`carbide.serverless.worker`) is invoked again and resumes
from its checkpoint; the tasks carry the longest step of each kind seen in the previous round,
so a worker can tell before a step whether it fits what is left of its time limit.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from .._validate import check_int, check_real
from ..exceptions import CarbideError, InvalidConfigError
from ._keys import Keys
from .aggregation import check_scheme, param_shards, shard_bounds
from .cost import check_memory, lambda_cost
from .worker import WorkerTask

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from .store import TensorStore

__all__ = ["Plan", "RoundRecord", "ServerlessTrainer", "TrainerConfig"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Plan:
    """A resource plan: ``workers`` functions of ``memory_mb`` each."""

    workers: int
    memory_mb: int

    def __post_init__(self) -> None:
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or \
                self.workers < 1:
            raise InvalidConfigError(f"workers must be an integer >= 1, got {self.workers!r}")
        check_memory(self.memory_mb)


@dataclass(frozen=True)
class TrainerConfig:
    """How the driver trains.

    Args:
        scheme: aggregation scheme (default ``hierarchical``).
        shards: ``m`` (default: the number of workers of each round).
        batch: samples per worker per round (one data shard).
        lr, momentum: SGD.
        micro_batches: slices per shard (the points where a worker can checkpoint).
        time_limit_s: the function time limit (Lambda: 900 s).
        round_timeout_s: a worker whose update is missing this long after its invocation is
            dead and invoked again (one that pushed but has no result after 3x this, too).
        shuffle: shuffle the training samples (seeded) before cutting them into data shards
            of ``batch``; ``False`` keeps their order (FEMNIST: one writer per shard).
        max_attempts: invocations per role per round before the round fails (re-runs of a
            dead function, and time-limit checkpoints that saved no progress; checkpoints
            that saved progress are not counted).
        seed: data shuffling seed.
    """

    scheme: str = "hierarchical"
    shards: int | None = None
    batch: int = 32
    lr: float = 0.05
    momentum: float = 0.9
    micro_batches: int = 1
    time_limit_s: float = 900.0
    round_timeout_s: float = 60.0
    max_attempts: int = 4
    shuffle: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        check_scheme(self.scheme)
        if self.shards is not None:
            check_int("shards", self.shards, 1)
        check_int("batch", self.batch, 1)
        check_real("lr", self.lr, 0, 10, lo_open=True)
        check_real("momentum", self.momentum, 0, 1, hi_open=True)
        check_int("micro_batches", self.micro_batches, 1)
        check_real("time_limit_s", self.time_limit_s, 0, 900, lo_open=True)
        check_real("round_timeout_s", self.round_timeout_s, 0, 3600, lo_open=True)
        check_int("max_attempts", self.max_attempts, 1)
        check_int("seed", self.seed, 0)


@dataclass
class RoundRecord:
    """What one round did and cost (cost: measured function seconds billed at Lambda prices)."""

    round: int
    workers: int
    memory_mb: int
    scheme: str
    seconds: float
    loss: float
    function_s: float
    cold_start_s: float
    bytes_per_worker: float
    cost: float
    invocations: int
    reruns: int
    checkpoints: int
    max_rss_mb: float = 0.0
    checkpoint_phases: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ServerlessTrainer:
    """Train ``model`` on ``train`` data with stateless functions exchanging through ``store``.

    Args:
        store: the driver's store client.
        job: the job id (all keys live under ``smlt:<job>:``).
        model: zero-argument picklable factory of the ``nn.Module`` (e.g.
            :class:`carbide.federated.ModelSpec`).
        train: ``(x, y)``: float32 ``(N, ...)`` inputs, int64 ``(N,)`` labels.
        engine: a runtime from :func:`~carbide.serverless.runtime.make_engine`.
        config: :class:`TrainerConfig`.
        plan: the initial :class:`Plan`.
        resume: continue from the store's last committed round if the job exists there.
    """

    def __init__(self, store: TensorStore, job: str, model: Callable[[], Any],
                 train: tuple[torch.Tensor, torch.Tensor], engine: Any,
                 config: TrainerConfig | None = None, plan: Plan | None = None, *,
                 resume: bool = False) -> None:
        import torch

        from ..federated.aggregation import flatten

        self.store, self.keys, self.model, self.engine = store, Keys(job), model, engine
        self.config = config or TrainerConfig()
        self.plan = plan or Plan(2, 1769)
        self.history: list[RoundRecord] = []
        self.hints: dict[str, float] = {}  # longest step of each kind in the last round
        x, y = train
        if len(x) != len(y) or len(y) < self.config.batch:
            raise InvalidConfigError(
                f"train needs as many inputs as labels and at least batch={self.config.batch} "
                f"samples, got {len(x)} inputs and {len(y)} labels")
        self.num_params = int(flatten(model().parameters()).numel())
        self.num_chunks = len(y) // self.config.batch
        meta = store.get_json(self.keys.meta) if resume else None
        if meta is not None:
            self.round, self.cursor = int(meta["round"]), int(meta["cursor"])
            self.shards = int(meta["shards"])
            self.plan = Plan(int(meta["workers"]), int(meta["memory_mb"]))
            log.info("resuming job %s at round %d", job, self.round)
            self.resumed = True
            return
        self.resumed = False
        for pattern in (self.keys.pattern(),):
            store.delete_pattern(pattern)
        g = torch.Generator().manual_seed(self.config.seed)
        order = torch.randperm(len(y), generator=g) if self.config.shuffle else \
            torch.arange(len(y))
        b = self.config.batch
        store.put_many([item for c in range(self.num_chunks) for item in (
            (self.keys.data(c, "x"), x[order[c * b:(c + 1) * b]].float().contiguous()),
            (self.keys.data(c, "y"), y[order[c * b:(c + 1) * b]].long().contiguous()))])
        self.round, self.cursor = 0, 0
        self.shards = self._shards_for(self.plan)
        with torch.random.fork_rng():  # the initial weights follow the seed
            torch.manual_seed(self.config.seed)
            p0 = flatten(model().parameters())
        self._write_state(0, p0, torch.zeros_like(p0), self.shards)
        self._commit()

    # -- state in the store ------------------------------------------------------------------
    def _shards_for(self, plan: Plan) -> int:
        m = self.config.shards or plan.workers
        shard_bounds(self.num_params, m)  # shards > parameters is an error
        return param_shards(self.config.scheme, m)

    def _write_state(self, r: int, params: torch.Tensor, mom: torch.Tensor, shards: int) -> None:
        bounds = shard_bounds(self.num_params, shards)
        self.store.put_many([it for k, (a, b) in enumerate(bounds) for it in (
            (self.keys.params(r, k), params[a:b].clone()),
            (self.keys.momentum(r, k), mom[a:b].clone()))])

    def _read_state(self, r: int, shards: int) -> tuple[torch.Tensor, torch.Tensor]:
        import torch

        p = self.store.get_many([self.keys.params(r, k) for k in range(shards)])
        m = self.store.get_many([self.keys.momentum(r, k) for k in range(shards)])
        return torch.cat(p), torch.cat(m)

    def _commit(self) -> None:
        self.store.put_json(self.keys.meta, {
            "round": self.round, "cursor": self.cursor, "shards": self.shards,
            "workers": self.plan.workers, "memory_mb": self.plan.memory_mb,
            "scheme": self.config.scheme, "num_params": self.num_params})

    def parameters(self) -> torch.Tensor:
        """The current (last committed) parameters, float32 ``(P,)``."""
        return self._read_state(self.round, self.shards)[0]

    def current_model(self) -> Any:
        from ..federated.aggregation import unflatten_

        model = self.model()
        unflatten_(self.parameters(), list(model.parameters()))
        return model

    def set_plan(self, plan: Plan) -> None:
        """Use ``plan`` from the next round on (re-sharding the parameters if ``m`` changes)."""
        shards = self._shards_for(plan)
        if shards != self.shards:
            params, mom = self._read_state(self.round, self.shards)
            for pattern in (f"{self.keys.prefix}params:{self.round}:*",
                            f"{self.keys.prefix}mom:{self.round}:*"):
                self.store.delete_pattern(pattern)
            self._write_state(self.round, params, mom, shards)
            self.shards = shards
        self.plan = plan
        self._commit()

    # -- one round ---------------------------------------------------------------------------
    def _tasks(self) -> list[WorkerTask]:
        n, c, r = self.plan.workers, self.config, self.round
        m = c.shards or n
        base = dict(url=self.store.url, job=self.keys.job, round=r, workers=n, scheme=c.scheme,
                    shards=m, memory_mb=self.plan.memory_mb, model=self.model,
                    num_params=self.num_params, lr=c.lr, momentum=c.momentum,
                    micro_batches=c.micro_batches, time_limit_s=c.time_limit_s,
                    peer_timeout_s=c.round_timeout_s * (c.max_attempts + 1),
                    hints=dict(self.hints) or None)
        tasks = [WorkerTask(worker=i, chunk=(self.cursor + i) % self.num_chunks, **base)
                 for i in range(n)]
        if c.scheme == "parameter_server":
            tasks.append(WorkerTask(worker=n, chunk=-1, **base))
        return tasks

    def step(self, faults: dict[int, str] | None = None) -> RoundRecord:
        """Run one round with the current plan; ``faults`` maps a worker to an injected fault
        (``"sigkill"``) for its first invocation.

        Raises:
            StoreUnavailableError: the store stayed unreachable through its retries; the
                message names the last round committed there (what a resume starts from).
        """
        from .store import StoreUnavailableError

        try:
            return self._step(faults)
        except StoreUnavailableError as exc:
            raise StoreUnavailableError(
                f"{exc}. Saved in the store: job {self.keys.job!r} committed through round "
                f"{self.round} (parameters of round {self.round}); once the store is back, "
                "restart with resume=True to continue from there") from exc

    def _step(self, faults: dict[int, str] | None) -> RoundRecord:
        tasks = self._tasks()
        c, r = self.config, self.round
        first = [t.with_fault((faults or {}).get(t.worker)) for t in tasks]
        t0 = time.perf_counter()
        handles = dict(enumerate(self.engine.submit(first)))
        invoked = dict.fromkeys(handles, time.monotonic())
        attempts = dict.fromkeys(handles, 1)
        results: dict[int, dict[str, Any]] = {}
        billed = 0.0
        invocations, reruns, checkpoints = len(tasks), 0, 0
        phases: dict[str, int] = {}
        seen: dict[str, float] = {}
        while len(results) < len(tasks):
            pending = [i for i in handles if i not in results]
            got = self.engine.wait([handles[i] for i in pending], timeout=0.05)
            now = time.monotonic()
            for j, res in got.items():
                i = pending[j]
                billed += float(res["seconds"]) + float(res.get("cold_start_s") or 0.0)
                for kind, sec in (res.get("phase_s") or {}).items():
                    seen[kind] = max(seen.get(kind, 0.0), float(sec))
                if res["status"] == "done":
                    results[i] = res
                    continue
                # checkpointed before the time limit: invoke it again; one that saved no
                # progress counts as a failed attempt (else a limit too short for one step
                # would re-invoke it forever)
                checkpoints += 1
                phases[res["phase"]] = phases.get(res["phase"], 0) + 1
                self._reinvoke(i, tasks, handles, invoked, attempts, now,
                               count=not res.get("progress", True), why=res)
                invocations += 1
            for i in pending:
                if i in results or i in {pending[j] for j in got}:
                    continue
                late = now - invoked[i]
                if late > c.round_timeout_s:
                    if self.store.exists(self.keys.result(r, i)):  # done, reply lost
                        results[i] = self.store.get_json(self.keys.result(r, i))
                        continue
                    # A worker that has pushed its update may only be waiting for a peer:
                    # it is re-run only when it is very late; one that has not pushed is dead.
                    pushed = i < self.plan.workers and self.store.exists(self.keys.weight(r, i))
                    if (pushed or i == self.plan.workers) and late < 3 * c.round_timeout_s:
                        continue
                    log.warning("round %d: no result from role %d after %.1f s; invoking it "
                                "again", r, i, late)
                    billed += c.round_timeout_s  # a dead function is billed until detected
                    reruns += 1
                    invocations += 1
                    self._reinvoke(i, tasks, handles, invoked, attempts, now)
        seconds = time.perf_counter() - t0
        n = self.plan.workers
        losses = [float(results[i]["loss"]) for i in range(n)]
        rec = RoundRecord(
            round=r, workers=n, memory_mb=self.plan.memory_mb, scheme=c.scheme,
            seconds=seconds, loss=sum(losses) / n, function_s=billed,
            cold_start_s=sum(float(results[i].get("cold_start_s") or 0) for i in results)
            / len(results),
            bytes_per_worker=sum(float(results[i]["bytes"]) for i in range(n)) / n,
            cost=lambda_cost(billed, self.plan.memory_mb, invocations),
            invocations=invocations, reruns=reruns, checkpoints=checkpoints,
            max_rss_mb=max(float(res.get("max_rss_mb") or 0.0) for res in results.values()),
            checkpoint_phases=phases)
        self.hints = seen
        self.round += 1
        self.cursor = (self.cursor + n) % self.num_chunks
        self._commit()
        for pattern in self.keys.round_patterns(r):
            self.store.delete_pattern(pattern)
        self.history.append(rec)
        return rec

    def _reinvoke(self, i: int, tasks: Sequence[WorkerTask], handles: dict[int, Any],
                  invoked: dict[int, float], attempts: dict[int, int], now: float, *,
                  count: bool = True, why: dict[str, Any] | None = None) -> None:
        if count and attempts[i] >= self.config.max_attempts:
            if why is not None:
                raise CarbideError(
                    f"round {self.round}: role {i} checkpointed in its {why['phase']} phase "
                    f"without progress {attempts[i]} times: time_limit_s="
                    f"{self.config.time_limit_s:g} is too short for one step (steps took "
                    f"{why.get('phase_s')}); raise time_limit_s or use more micro_batches. "
                    f"The store keeps the last committed round {self.round} (resume with "
                    "resume=True)")
            raise CarbideError(
                f"round {self.round}: role {i} failed {attempts[i]} invocations; the store "
                f"keeps the last committed round {self.round} (resume with resume=True)")
        attempts[i] += count
        handles[i] = self.engine.submit([tasks[i]])[0]
        invoked[i] = now

    def state_dict(self) -> dict[str, Any]:
        return {"round": self.round, "cursor": self.cursor, "shards": self.shards,
                "plan": asdict(self.plan)}

    def evaluate(self, x: torch.Tensor, y: torch.Tensor) -> float:
        """Top-1 accuracy of the current parameters on ``(x, y)``."""
        from .._eval import accuracy

        return accuracy(self.current_model(), x, y)
