"""SMLT applied: the aggregation benchmark and deadline/budget-driven training.

- :func:`run_bench` (``carbide smlt bench``): one aggregation round of every scheme at ``n``
  workers and ``P`` parameters through the store, with the exact-mean error against float64,
  bytes per worker and round time.
- :func:`run_train` (``carbide smlt train``): calibrate the time model on this machine, plan
  (workers, memory) with the BO scheduler under the deadline and the budget (refusing an
  infeasible goal before training), train with stateless functions until the target accuracy,
  re-planning every ``replan_every`` rounds from the observed throughput.
"""

from __future__ import annotations

import math
import os
import re
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from .._validate import check_int, check_real
from ..exceptions import InvalidConfigError
from .aggregation import SCHEMES, check_scheme, expected_bytes, shard_bounds
from .cost import check_memory

__all__ = ["BenchConfig", "Calibration", "SMLTConfig", "calibrate", "measure_initialization",
           "parse_duration", "parse_range", "run_bench", "run_train", "write_bench",
           "write_train"]


def parse_duration(text: str | float | int) -> float:
    """Seconds from ``"30m"``, ``"1h30m"``, ``"90s"``, ``"2h"`` or a number of seconds."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return check_real("duration", float(text), 0, math.inf, lo_open=True)
    s = str(text).strip().lower()
    parts = re.fullmatch(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s?)?", s)
    if not s or parts is None or not any(parts.groups()):
        raise InvalidConfigError(
            f"duration must look like 30m, 1h30m, 90s or a number of seconds, got {text!r}")
    h, m, sec = (float(g) if g else 0.0 for g in parts.groups())
    total = h * 3600 + m * 60 + sec
    if total <= 0:
        raise InvalidConfigError(f"duration must be positive, got {text!r}")
    return total


@dataclass(frozen=True)
class BenchConfig:
    """One aggregation round per scheme.

    Args:
        workers: ``n`` (>= 1).
        params: ``P`` values per update (float32).
        shards: ``m`` for ``hierarchical`` (default ``n``); must not exceed ``P``.
        schemes: which schemes to run.
        repeats: rounds per scheme; the round time is their median.
        seed: update values' seed.
    """

    workers: int = 8
    params: int = 1_000_000
    shards: int | None = None
    schemes: tuple[str, ...] = SCHEMES
    repeats: int = 3
    seed: int = 0

    def __post_init__(self) -> None:
        check_int("workers", self.workers, 1)
        check_int("params", self.params, 1)
        shard_bounds(self.params, self.shards or min(self.workers, self.params))
        for s in self.schemes:
            check_scheme(s)
        check_int("repeats", self.repeats, 1)
        check_int("seed", self.seed, 0)


def run_bench(cfg: BenchConfig, url: str | None = None) -> tuple[dict[str, Any], list[dict]]:
    """Run :class:`BenchConfig`; returns ``(metrics, rows)`` with ``S_max_abs_err``,
    ``S_bytes_per_worker``, ``S_round_s`` (and ``S_expected_bytes_per_worker``) per scheme."""
    import statistics

    import torch

    from .aggregation import run_round
    from .store import open_store

    store, close = open_store(url)
    try:
        g = torch.Generator().manual_seed(cfg.seed)
        updates = torch.randn(cfg.workers, cfg.params, generator=g)
        ref = updates.double().mean(0)
        m = cfg.shards or min(cfg.workers, cfg.params)
        metrics: dict[str, Any] = {"workers": cfg.workers, "params": cfg.params, "shards": m}
        rows = []
        for scheme in cfg.schemes:
            times, res = [], None
            for rep in range(cfg.repeats):
                res = run_round(store.url, scheme, updates, shards=m, job=f"bench-{scheme}",
                                round_=rep)
                times.append(res.seconds)
            err = max(float((r.double() - ref).abs().max()) for r in res.means)
            want = expected_bytes(scheme, cfg.workers, cfg.params, m)
            row = {"scheme": scheme, "workers": cfg.workers, "params": cfg.params, "shards": m,
                   "max_abs_err": err, "bytes_per_worker": res.bytes_per_worker,
                   "expected_bytes_per_worker": want["worker"],
                   "max_function_bytes": max(res.bytes_per_role),
                   "round_s": statistics.median(times)}
            rows.append(row)
            metrics.update({f"{scheme}_max_abs_err": err,
                            f"{scheme}_bytes_per_worker": res.bytes_per_worker,
                            f"{scheme}_expected_bytes_per_worker": want["worker"],
                            f"{scheme}_round_s": row["round_s"]})
        return metrics, rows
    finally:
        close()


@dataclass(frozen=True)
class SMLTConfig:
    """``carbide smlt train``: reach ``target_acc`` by the deadline within the budget.

    Args:
        dataset: ``"cifar10"`` (ResNet-18-style CNN) or ``"femnist"`` (LEAF CNN).
        target_acc: test accuracy to reach, in (0, 1].
        deadline_s: wall-clock limit of the run (seconds; the CLI takes ``30m``, ``1h``).
        budget: dollars (function time billed at Lambda prices).
        backend: ``"lithops"`` (localhost by default), ``"ray"`` or ``"pool"`` (warm
            processes).
        scheme: aggregation scheme.
        objective: the scheduler's ``"cost"`` or ``"time"``.
        max_workers: the most functions this machine may run at once (the scheduler's range).
        memory_range: MB range the scheduler may choose from.
        batch, lr, momentum: SGD per worker.
        train_samples, test_samples: subset sizes (this is a CPU machine).
        eval_every, replan_every: rounds between evaluations / re-plans (``K``).
        max_rounds: a hard stop.
        epochs_hint: the prior of epochs to the target before any accuracy is seen.
        trials: BO evaluations per plan.
        width, hidden: model sizes (ResNet width; FEMNIST dense units).
        store_url: ``None`` = embedded redis-server; else ``redis://``.
        seed: seed of data order, weights and the sampler.
    """

    dataset: str = "cifar10"
    target_acc: float = 0.3
    deadline_s: float = 1800.0
    budget: float = 2.0
    backend: str = "pool"
    scheme: str = "hierarchical"
    objective: str = "cost"
    max_workers: int = 4
    memory_range: tuple[int, int] = (512, 3538)
    batch: int = 32
    lr: float = 0.05
    momentum: float = 0.9
    train_samples: int = 2048
    test_samples: int = 500
    eval_every: int = 4
    replan_every: int = 8
    max_rounds: int = 400
    epochs_hint: float = 3.0
    trials: int = 20
    width: int = 16
    hidden: int = 256
    store_url: str | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        from .runtime import ENGINES
        from .workloads import DATASETS

        if self.dataset not in DATASETS:
            raise InvalidConfigError(f"unknown dataset {self.dataset!r}; choose one of: "
                                     f"{', '.join(DATASETS)}")
        check_real("target_acc", self.target_acc, 0, 1, lo_open=True)
        check_real("deadline_s", self.deadline_s, 0, math.inf, lo_open=True)
        check_real("budget", self.budget, 0, math.inf, lo_open=True)
        if self.backend not in ENGINES or self.backend == "thread":
            raise InvalidConfigError(f"unknown backend {self.backend!r}; choose one of: "
                                     "lithops, ray, pool")
        check_scheme(self.scheme)
        check_int("max_workers", self.max_workers, 1)
        lo, hi = self.memory_range
        check_memory(lo)
        if check_memory(hi) < lo:
            raise InvalidConfigError(f"memory_range must be (min, max), got {self.memory_range}")
        for name in ("batch", "train_samples", "test_samples", "eval_every", "replan_every",
                     "max_rounds", "trials", "width", "hidden"):
            check_int(name, getattr(self, name), 1)
        check_real("epochs_hint", self.epochs_hint, 0, math.inf, lo_open=True)
        check_int("seed", self.seed, 0)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Calibration:
    """Measured constants of this machine (the time model's inputs)."""

    sample_s: float
    memory_mb: int
    invoke_s: float
    bandwidth: float
    store_bandwidth: float
    cold_start_s: float
    facts: dict[str, Any] = field(default_factory=dict)


def _sample_seconds(model: Any, x: Any, y: Any, batch: int, threads: int) -> float:
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        net = model()
        lossf = torch.nn.CrossEntropyLoss()
        best = math.inf
        for _ in range(3):
            t0 = time.perf_counter()
            net.zero_grad()
            lossf(net(x[:batch]), y[:batch]).backward()
            best = min(best, time.perf_counter() - t0)
        return best / batch
    finally:
        torch.set_num_threads(old)


def calibrate(model: Any, train: tuple[Any, Any], url: str, *, batch: int, memory_mb: int,
              num_params: int, round_record: Any | None = None) -> Calibration:
    """Measure compute speed per sample (threads capped by ``memory_mb``), the store's
    bandwidth (a 2- and a 4-worker hierarchical round of ``num_params``) and, from a measured
    training round, the invocation latency (round time minus its compute and communication)."""
    import torch

    from .aggregation import run_round
    from .cost import threads_for_memory

    x, y = train
    threads = threads_for_memory(memory_mb)
    # seconds per sample on one vCPU: measured at the threads this memory size gets
    per_vcpu = _sample_seconds(model, x, y, batch, threads) * threads
    facts = {}
    bws = []
    for n in (2, 4):
        res = run_round(url, "hierarchical", torch.randn(n, num_params), job=f"cal{n}")
        bws.append((res.bytes_per_worker, sum(res.bytes_per_role), res.seconds))
        facts[f"round_{n}_s"] = res.seconds
    bandwidth = bws[0][0] / bws[0][2]
    store_bandwidth = bws[1][1] / bws[1][2]
    invoke_s, cold = 0.01, 0.0
    if round_record is not None:
        from .cost import vcpus

        compute = batch * per_vcpu / vcpus(memory_mb)
        comm = round_record.bytes_per_worker / bandwidth
        invoke_s = max(0.005, round_record.seconds - compute - comm)
        cold = round_record.cold_start_s
        facts["round_s"] = round_record.seconds
    return Calibration(per_vcpu, memory_mb, invoke_s, bandwidth, store_bandwidth, cold, facts)


def run_train(cfg: SMLTConfig, root: str | os.PathLike[str] | None = None
              ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Train ``cfg.dataset`` to ``cfg.target_acc`` under ``cfg.deadline_s`` and ``cfg.budget``.

    Returns:
        ``(metrics, rows)``: one row per round (plan, time, cost, loss, accuracy when
        evaluated); metrics: ``reached``, ``stop`` (``"target"``, ``"max_rounds"``, or
        ``"deadline: ..."`` / ``"budget: ..."`` when the next round's modelled time or cost
        would pass what is left, checked before every round, or ``"infeasible: ..."`` when a
        re-plan finds no plan for the epochs still needed), ``final_acc``, ``rounds``,
        ``epochs``, ``seconds``, ``cost``, ``replans``, the initial plan and its modelled
        time/cost.

    Raises:
        InfeasiblePlanError: before any training round, when no plan meets the deadline and
            the budget (the error names the best plan found).
    """
    from .cost import TimeModel
    from .runtime import make_engine
    from .scheduler import InfeasiblePlanError, Scheduler
    from .store import open_store
    from .trainer import ServerlessTrainer, TrainerConfig
    from .workloads import load_workload

    wl = load_workload(cfg.dataset, root, train_samples=cfg.train_samples,
                       test_samples=cfg.test_samples, width=cfg.width, hidden=cfg.hidden,
                       seed=cfg.seed)
    store, close = open_store(cfg.store_url)
    engine = None
    try:
        from ..federated.aggregation import flatten

        num_params = int(flatten(wl.model().parameters()).numel())
        mem0 = cfg.memory_range[0]
        t_start = time.perf_counter()  # the deadline is the whole run's, calibration included
        cal = calibrate(wl.model, wl.train, store.url, batch=cfg.batch, memory_mb=mem0,
                        num_params=num_params)
        model = TimeModel(num_params, len(wl.train[1]), cfg.batch, cal.invoke_s, cal.sample_s,
                          cal.bandwidth, cal.store_bandwidth, cal.cold_start_s)
        sched = Scheduler(model, scheme=cfg.scheme, objective=cfg.objective,
                          deadline_s=cfg.deadline_s, budget=cfg.budget,
                          workers=(1, cfg.max_workers), memory=cfg.memory_range,
                          trials=cfg.trials, seed=cfg.seed, sampler="tpe")
        # the first plan gets the whole deadline, so an infeasible goal is refused naming the
        # best plan; the calibration and planning time then count against what is left
        first = sched.plan(cfg.epochs_hint)  # raises before any function starts
        t_setup = time.perf_counter()
        sched.spend(t_setup - t_start)
        procs = cfg.max_workers + (cfg.scheme == "parameter_server")
        engine = make_engine(cfg.backend, store_url=store.url, workers=procs,
                             memory_mb=cfg.memory_range[1])
        trainer = ServerlessTrainer(
            store, f"train-{cfg.dataset}", wl.model, wl.train, engine,
            TrainerConfig(scheme=cfg.scheme, batch=cfg.batch, lr=cfg.lr,
                          momentum=cfg.momentum, shuffle=wl.shuffle, seed=cfg.seed),
            first.plan)
        sched.spend(time.perf_counter() - t_setup)  # engine start-up, data upload
        rows: list[dict[str, Any]] = []
        accs: list[tuple[float, float]] = []  # (epoch, accuracy)
        acc, reached, stop = 0.0, False, "max_rounds"
        epochs = 0.0
        for r in range(cfg.max_rounds):
            why = sched.stop_reason(trainer.plan)  # before the round's money is spent
            if why is not None:
                stop = why
                break
            rec = trainer.step()
            sched.observe(trainer.plan, rec.seconds, rec.cost)
            epochs += rec.workers * cfg.batch / len(wl.train[1])
            row = {**rec.to_dict(), "epoch": epochs, "acc": None}
            if (r + 1) % cfg.eval_every == 0:
                t_eval = time.perf_counter()
                acc = trainer.evaluate(*wl.test)
                sched.spend(time.perf_counter() - t_eval)
                accs.append((epochs, acc))
                row["acc"] = acc
            rows.append(row)
            if acc >= cfg.target_acc:
                reached, stop = True, "target"
                break
            if (r + 1) % cfg.replan_every == 0:
                try:
                    trainer.set_plan(sched.plan(_epochs_left(accs, cfg)).plan)
                except InfeasiblePlanError as exc:  # what is left cannot reach the target
                    stop = f"infeasible: {exc}"
                    break
        metrics = {
            "reached": reached, "stop": stop, "final_acc": acc, "rounds": len(rows),
            "epochs": epochs, "seconds": time.perf_counter() - t_start,
            "cost": sum(r["cost"] for r in rows), "replans": sched.replans,
            "initial_workers": first.plan.workers, "initial_memory_mb": first.plan.memory_mb,
            "initial_modelled_s": first.seconds, "initial_modelled_cost": first.cost,
            "calibration": asdict(cal), "num_params": num_params,
        }
        return metrics, rows
    finally:
        if engine is not None:
            engine.close()
        close()


def _epochs_left(accs: list[tuple[float, float]], cfg: SMLTConfig) -> float:
    """Epochs still needed, extrapolating the last two evaluations linearly (the training
    state the scheduler re-plans on); the prior ``epochs_hint`` until there are two."""
    if len(accs) < 2:
        return cfg.epochs_hint
    (e0, a0), (e1, a1) = accs[-2], accs[-1]
    slope = (a1 - a0) / max(e1 - e0, 1e-9)
    if slope <= 0:
        return cfg.epochs_hint
    return min(max((cfg.target_acc - a1) / slope, 0.1), 100.0)


def write_bench(out: str | os.PathLike[str], cfg: BenchConfig, url: str | None = None
                ) -> dict[str, Any]:
    """:func:`run_bench` written as the results contract into ``out``."""
    from ..results import Report, RunRecorder

    rec = RunRecorder(out, system="smlt", config=asdict(cfg))
    metrics, rows = run_bench(cfg, url)
    report = (Report(f"SMLT aggregation bench: n = {cfg.workers}, P = {cfg.params:,}, "
                     f"m = {metrics['shards']}")
              .paragraph("One round per scheme through an embedded Redis (measured; threads "
                         "as workers). Bytes are payload bytes per worker per round; the "
                         "expected column is the scheme's formula (hierarchical 3P + P/n at "
                         "m = n, download-all (n + 1) P, parameter server 2P per worker).")
              .table(rows, ["scheme", "max_abs_err", "bytes_per_worker",
                            "expected_bytes_per_worker", "max_function_bytes", "round_s"]))
    return rec.finish(metrics=metrics, rows=rows, report=report)


def write_train(out: str | os.PathLike[str], cfg: SMLTConfig,
                root: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """:func:`run_train` written as the results contract into ``out`` (nothing is written
    when the goal is refused as infeasible)."""
    from ..results import Report, RunRecorder

    rec = RunRecorder(out, system="smlt", config=cfg.to_dict())
    metrics, rows = run_train(cfg, root)
    cal = metrics["calibration"]
    report = (Report(f"SMLT train: {cfg.dataset} to {cfg.target_acc:.0%} by "
                     f"{cfg.deadline_s:.0f} s for ${cfg.budget:.2f}")
              .paragraph(
                  f"Backend {cfg.backend}, scheme {cfg.scheme}, objective {cfg.objective}. "
                  f"Initial plan {metrics['initial_workers']} workers x "
                  f"{metrics['initial_memory_mb']} MB (modelled "
                  f"{metrics['initial_modelled_s']:.0f} s, "
                  f"${metrics['initial_modelled_cost']:.4f} for {cfg.epochs_hint:g} epochs); "
                  f"{metrics['replans']} plans in all. Outcome: "
                  f"{'target reached' if metrics['reached'] else 'stopped: ' + metrics['stop']}"
                  f", accuracy {metrics['final_acc']:.3f} after {metrics['rounds']} rounds "
                  f"({metrics['epochs']:.2f} epochs), {metrics['seconds']:.1f} s measured, "
                  f"${metrics['cost']:.5f} (measured function seconds at Lambda prices). "
                  f"Calibration: {cal['sample_s'] * 1e3:.2f} ms/sample/vCPU, "
                  f"{cal['bandwidth'] / 1e6:.1f} MB/s per function.")
              .table(rows, ["round", "workers", "memory_mb", "seconds", "loss", "acc", "cost",
                            "bytes_per_worker", "reruns"]))
    return rec.finish(metrics=metrics, rows=rows, report=report)


#: Fresh-interpreter imports timed by :func:`measure_initialization` (what a cold function pays
#: before its first line of work).
IMPORTS: tuple[tuple[str, str], ...] = (
    ("interpreter only", "pass"),
    ("lean: import carbide.serverless (no torch)", "import carbide.serverless"),
    ("import torch", "import torch"),
    ("the worker's imports (torch, redis, carbide worker)",
     "import torch, redis, psutil, carbide.serverless.worker, carbide.serverless.store, "
     "carbide.serverless.aggregation, carbide.federated.models"),
)


def measure_initialization(url: str, model: Any, train: tuple[Any, Any], *, workers: int = 2,
                           memory_mb: int = 1769, rounds: int = 3, batch: int = 32,
                           engines: tuple[str, ...] = ("lithops", "pool"),
                           pool_engine: Any | None = None, pool_context: str = "spawn",
                           import_repeats: int = 3) -> list[dict[str, Any]]:
    """SMLT's "repeated initialization", measured: training rounds of ``workers`` functions on
    each engine, interleaved round by round (Lithops localhost starts a fresh process per
    call, which imports torch again; the warm pool's processes imported it once), and the
    import costs of a fresh interpreter (``import_repeats`` interleaved runs of each of
    :data:`IMPORTS`).

    Returns:
        rows: ``{"kind": "init", "engine", "rounds", "round_s", "function_s_per_call",
        "cold_start_s", "cold_fraction", "executor_init_s"}`` (medians over the rounds;
        ``cold_start_s`` = process start to the worker's first line, torch imported, per
        call) and ``{"kind": "import", "what", "seconds", "repeats"}`` (medians).
    """
    import statistics
    import subprocess
    import sys

    from .runtime import make_engine
    from .store import TensorStore
    from .trainer import Plan, ServerlessTrainer, TrainerConfig

    check_int("rounds", rounds, 1)
    check_int("import_repeats", import_repeats, 0)
    store = TensorStore(url)
    made: dict[str, Any] = {}
    init_s: dict[str, float] = {}
    per_round: dict[str, list[Any]] = {name: [] for name in engines}
    try:
        trainers = {}
        for name in engines:
            t0 = time.perf_counter()
            if name == "pool" and pool_engine is not None:
                eng = pool_engine
                init_s[name] = float(getattr(eng, "warmup_s", math.nan))
            else:
                eng = made[name] = make_engine(name, store_url=url, workers=workers,
                                               memory_mb=memory_mb, context=pool_context)
                init_s[name] = time.perf_counter() - t0
            trainers[name] = ServerlessTrainer(
                store, f"init-{name}", model, train, eng,
                TrainerConfig(batch=batch, round_timeout_s=300), Plan(workers, memory_mb))
        for _ in range(rounds):  # interleaved: every engine sees the same machine load
            for name in engines:
                per_round[name].append(trainers[name].step())
        for name in engines:
            store.delete_pattern(trainers[name].keys.pattern())
    finally:
        for eng in made.values():
            eng.close()
        store.close()
    rows: list[dict[str, Any]] = []
    for name in engines:
        recs = per_round[name]
        calls = [r.function_s / r.invocations for r in recs]
        rows.append({
            "kind": "init", "engine": name, "rounds": rounds, "workers": workers,
            "round_s": statistics.median(r.seconds for r in recs),
            "function_s_per_call": statistics.median(calls),
            "cold_start_s": statistics.median(r.cold_start_s for r in recs),
            "cold_fraction": statistics.median(r.cold_start_s / c if c else 0.0
                                               for r, c in zip(recs, calls, strict=True)),
            "executor_init_s": init_s[name]})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    times: dict[str, list[float]] = {what: [] for what, _ in IMPORTS}
    for _ in range(import_repeats):
        for what, code in IMPORTS:
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True, env=env,
                           capture_output=True)
            times[what].append(time.perf_counter() - t0)
    if import_repeats:
        rows += [{"kind": "import", "what": what, "seconds": statistics.median(ts),
                  "repeats": import_repeats} for what, ts in times.items()]
    return rows


def parse_range(option: str, text: str) -> tuple[int, int]:
    """``"512:3538"`` -> ``(512, 3538)``; anything else names ``option`` and the form."""
    lo, sep, hi = str(text).partition(":")
    try:
        if not sep:
            raise ValueError
        return int(lo), int(hi)
    except ValueError:
        raise InvalidConfigError(f"{option} takes MIN:MAX in MB such as 512:3538, got "
                                 f"{text!r}") from None
