"""Serverless training with hierarchical aggregation and adaptive resource scheduling under a
deadline and a budget (SMLT: Ali, Pi, Yan, Zhao, Zhang, Shen, Tang, "SMLT: A Serverless
Framework for Scalable and Adaptive Machine Learning Design and Training", IPDPS 2022,
arXiv 2205.01853).

- :class:`TensorStore` / :func:`open_store`: Redis (embedded redis-server by default, or a
  ``redis://`` URL) holding parameters, update shards and metadata as binary tensors; key
  names in :class:`Keys`.
- :func:`aggregate` / :func:`run_round` / :class:`StoreAggregator`: the ``hierarchical``
  (scatter-reduce), ``download_all`` and ``parameter_server`` schemes, all exact means, with
  bytes moved counted against :func:`expected_bytes`.
- :func:`run_worker` (the stateless function), :func:`make_engine` (warm pool, Lithops
  localhost / AWS Lambda, Ray), :class:`ServerlessTrainer` (rounds, re-runs of dead workers,
  time-limit checkpoints, resume after the driver dies, re-planning).
- :class:`TimeModel`, :func:`lambda_cost`: Lambda pricing and the calibrated (modelled) time.
- :class:`Scheduler`: Optuna BO over (workers, memory) under deadline and budget.
- :func:`run_ddp`: the DDP-over-gloo VM baseline. :func:`load_workload`: CIFAR-10 with a
  ResNet-18-style CNN, FEMNIST with the LEAF CNN.
- :func:`run_bench`, :func:`run_train`: what ``carbide smlt bench`` / ``train`` run.

Names load lazily: ``import carbide.serverless`` imports no torch, redis or lithops.
"""

from __future__ import annotations

from .._lazy import lazy_exports

_LAZY = {
    "Keys": "._keys",
    "SCHEMES": ".aggregation",
    "RoundResult": ".aggregation",
    "StoreAggregator": ".aggregation",
    "aggregate": ".aggregation",
    "exact_mean": ".aggregation",
    "expected_bytes": ".aggregation",
    "run_round": ".aggregation",
    "shard_bounds": ".aggregation",
    "GB_SECOND_PRICE": ".cost",
    "REQUEST_PRICE": ".cost",
    "EpochEstimate": ".cost",
    "TimeModel": ".cost",
    "compute_cost": ".cost",
    "lambda_cost": ".cost",
    "threads_for_memory": ".cost",
    "vcpus": ".cost",
    "vm_cost": ".cost",
    "run_ddp": ".ddp",
    "BenchConfig": ".experiment",
    "SMLTConfig": ".experiment",
    "calibrate": ".experiment",
    "parse_duration": ".experiment",
    "parse_range": ".experiment",
    "run_bench": ".experiment",
    "run_train": ".experiment",
    "write_bench": ".experiment",
    "write_train": ".experiment",
    "run_repro": ".repro",
    "ENGINES": ".runtime",
    "make_engine": ".runtime",
    "InfeasiblePlanError": ".scheduler",
    "PlanChoice": ".scheduler",
    "Scheduler": ".scheduler",
    "fixed_plan": ".scheduler",
    "StoreTimeoutError": ".store",
    "StoreUnavailableError": ".store",
    "TensorStore": ".store",
    "open_store": ".store",
    "Plan": ".trainer",
    "RoundRecord": ".trainer",
    "ServerlessTrainer": ".trainer",
    "TrainerConfig": ".trainer",
    "WorkerTask": ".worker",
    "run_worker": ".worker",
    "ResNetSpec": ".workloads",
    "Workload": ".workloads",
    "load_workload": ".workloads",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__)
