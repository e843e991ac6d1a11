"""Federated learning: a simulation engine, heterogeneity control, backdoor attacks and
defenses ("Curse or Redemption? How Data Heterogeneity Affects the Robustness of Federated
Learning", Zawad et al., AAAI 2021, arXiv 2102.00655).

- :class:`Simulation` runs FedAvg rounds over any clients' data with any model factory, on the
  in-process backend (default) or Ray (:class:`RayBackend`, ``ray.init(address=...)``).
- :mod:`.partition` splits a dataset IID, by Dirichlet(alpha) or by Heterogeneity Index, and
  measures the heterogeneity of any partition.
- :mod:`.attacks` holds the pixel-trigger backdoor attacker; :mod:`.defenses` the robust
  aggregation rules; :mod:`.aggregation` the flat-update contract they share (reused by
  secure aggregation).

Names load lazily, so ``import carbide.federated`` stays light.
"""

from __future__ import annotations

from .._lazy import lazy_exports

_LAZY = {
    "AggregationResult": ".aggregation",
    "Aggregator": ".aggregation",
    "FedAvg": ".aggregation",
    "fedavg": ".aggregation",
    "flatten": ".aggregation",
    "unflatten_": ".aggregation",
    "check_updates": ".aggregation",
    "all_finite": ".aggregation",
    "ClientResult": ".client",
    "ClientTask": ".client",
    "LocalTraining": ".client",
    "Poison": ".client",
    "run_client": ".client",
    "state_vector": ".client",
    "load_state_vector": ".client",
    "BACKENDS": ".backends",
    "LocalBackend": ".backends",
    "RayBackend": ".backends",
    "make_backend": ".backends",
    "FLConfig": ".simulation",
    "Simulation": ".simulation",
    "MODEL_KINDS": ".models",
    "LeafCNN": ".models",
    "ModelSpec": ".models",
    "SmallLeafCNN": ".models",
    "PartitionSpec": ".partition",
    "parse_partition": ".partition",
    "partition_iid": ".partition",
    "partition_dirichlet": ".partition",
    "partition_hi": ".partition",
    "partition_federated": ".partition",
    "class_counts": ".partition",
    "heterogeneity": ".partition",
    "classes_per_client": ".partition",
    "BackdoorRunConfig": ".experiment",
    "FederatedData": ".experiment",
    "build_simulation": ".experiment",
    "load_federated_data": ".experiment",
    "run_backdoor": ".experiment",
    "attack_data": ".experiment",
    "record_backdoor_run": ".experiment",
    "ReproPlan": ".repro",
    "run_repro": ".repro",
    "run_stages": ".repro",
    "attacks": "",
    "defenses": "",
    "partition": "",
    "aggregation": "",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__)
