"""One backdoor experiment from a flat config: data, partition, attackers, defense, run.

This is what ``carbide backdoor run`` and the reproduction call; library users with their own
model and data build a :class:`~carbide.federated.Simulation` directly.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .._validate import check_int, check_real
from ..exceptions import InvalidConfigError
from .attacks import BackdoorAttack, PixelTrigger, parse_attack_data
from .client import LocalTraining
from .defenses import make_defense
from .models import ModelSpec
from .partition import heterogeneity, parse_partition, partition_federated
from .simulation import FLConfig, Simulation

__all__ = [
    "DATASETS",
    "BackdoorRunConfig",
    "FederatedData",
    "attack_data",
    "build_simulation",
    "load_federated_data",
    "record_backdoor_run",
    "run_backdoor",
]

#: Datasets of the backdoor experiments.
DATASETS: tuple[str, ...] = ("femnist", "fashion-mnist", "cifar10")


@dataclass(frozen=True)
class BackdoorRunConfig:
    """A backdoor experiment (the options of ``carbide backdoor run``).

    Args:
        dataset: ``"femnist"`` (natural writers), ``"fashion-mnist"`` or ``"cifar10"``.
        partition: ``"writers"`` (FEMNIST only), ``"iid"``, ``"dirichlet:A"`` or ``"hi:H"``.
        clients: number of clients N (FEMNIST: writers sampled from the 105).
        per_round: clients per round K.
        rounds: FL rounds R.
        local_epochs, batch_size, lr: local SGD.
        attackers: number of malicious clients M (0 = benign run, ASR still measured).
        attack_rounds, poison_placement, poison_fraction, poison_steps, gamma, attack_data,
            target, join: see :class:`~carbide.federated.attacks.BackdoorAttack`.
        defense: ``none``, ``krum[:F]``, ``multikrum[:F]``, ``median``, ``trimmed:B``,
            ``clip:C[:SIGMA]`` or ``foolsgold``.
        backend: ``"local"`` or ``"ray"``; ``ray_address`` joins an existing Ray cluster.
        seed: seeds partition, attacker choice, model and training.
        train_subset: use this many training images (class-balanced draw) of
            Fashion-MNIST/CIFAR-10 (``None`` = all; refused for FEMNIST, whose clients are
            whole writers); ``test_subset`` likewise for the test set (FEMNIST: of the pooled
            test sets of all writers).
    """

    dataset: str = "fashion-mnist"
    partition: str = "hi:0.5"
    clients: int = 30
    per_round: int = 10
    rounds: int = 20
    local_epochs: int = 1
    batch_size: int = 32
    lr: float = 0.05
    attackers: int = 1
    attack_rounds: str = "all"
    poison_placement: str = "spread"
    poison_fraction: float = 0.5
    poison_steps: float = 0.5
    gamma: float = 1.0
    attack_data: str = "own"
    target: int = 0
    join: str = "scheduled"
    defense: str = "none"
    backend: str = "local"
    ray_address: str | None = None
    seed: int = 0
    train_subset: int | None = None
    test_subset: int | None = None

    def __post_init__(self) -> None:
        if self.dataset not in DATASETS:
            raise InvalidConfigError(
                f"unknown dataset {self.dataset!r}; choose one of: {', '.join(DATASETS)}")
        spec = parse_partition(self.partition)
        if (self.dataset == "femnist") != spec.natural:
            raise InvalidConfigError(
                f"partition {self.partition!r} does not fit dataset {self.dataset!r}: FEMNIST "
                f"uses its natural 'writers' partition, the others iid, dirichlet:A or hi:H")
        check_int("clients", self.clients, 1)
        check_int("per_round", self.per_round, 1)
        check_int("attackers", self.attackers, 0)
        if self.per_round > self.clients:
            raise InvalidConfigError(
                f"per_round={self.per_round} exceeds clients={self.clients}; lower --per-round")
        if self.attackers >= self.clients:
            raise InvalidConfigError(
                f"attackers={self.attackers} must be fewer than clients={self.clients} (at "
                f"least one benign client); lower --attackers or raise --clients")
        check_real("lr", self.lr, 0.0, 100.0, lo_open=True)
        for name in ("train_subset", "test_subset"):
            if getattr(self, name) is not None:
                check_int(name, getattr(self, name), 1)
        if self.dataset == "femnist" and self.train_subset is not None:
            raise InvalidConfigError(
                f"train_subset={self.train_subset} does not apply to femnist: its clients are "
                f"whole writers; choose fewer writers with clients instead")
        self.fl_config()
        self.attack()
        self._check_defense()

    def _check_defense(self) -> None:
        """Fail before the run when the defense cannot work with ``per_round`` updates."""
        defense = make_defense(self.defense)
        n = self.per_round
        f = getattr(defense, "f", None)
        if f is not None and n <= 2 * f + 2:
            raise InvalidConfigError(
                f"defense {self.defense!r} assumes f={f} attackers, but Krum needs "
                f"per_round > 2f + 2 = {2 * f + 2} (got per_round={n}); lower f or raise "
                f"--per-round")
        b = getattr(defense, "b", None)
        if b is not None:
            count = b if isinstance(b, int) else int(b * n)
            if n <= 2 * count:
                raise InvalidConfigError(
                    f"defense {self.defense!r} trims {count} updates at each end, but needs "
                    f"per_round > 2 * {count} (got {n}); lower B or raise --per-round")

    def fl_config(self) -> FLConfig:
        return FLConfig(rounds=self.rounds, clients_per_round=self.per_round,
                        local=LocalTraining(epochs=self.local_epochs,
                                            batch_size=self.batch_size, lr=self.lr),
                        seed=self.seed)

    def attack(self) -> BackdoorAttack:
        trigger = PixelTrigger(value=0.0 if self.dataset == "femnist" else 1.0)
        return BackdoorAttack(
            trigger=trigger, target=self.target, num_attackers=self.attackers,
            poison_fraction=self.poison_fraction, poison_steps=self.poison_steps,
            placement=self.poison_placement, rounds=self.attack_rounds, join=self.join,
            gamma=self.gamma, data=self.attack_data)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class FederatedData:
    """Clients' training data, the pooled training set, and the test set of one dataset."""

    clients: dict[str, tuple[torch.Tensor, torch.Tensor]]
    pool: tuple[torch.Tensor, torch.Tensor]
    test: tuple[torch.Tensor, torch.Tensor]
    num_classes: int
    model: ModelSpec
    heterogeneity: dict[str, float]


def _balanced_subset(labels: torch.Tensor, n: int | None, seed: int) -> torch.Tensor:
    """Indices of a class-balanced random draw of ``n`` samples (all when ``None``)."""
    if n is None or n >= len(labels):
        return torch.arange(len(labels))
    rng = np.random.default_rng([seed, 11])
    y = labels.numpy()
    classes = np.unique(y)
    per, extra = divmod(n, len(classes))
    picks = [rng.permutation(np.flatnonzero(y == c))[:per + (i < extra)]
             for i, c in enumerate(classes)]
    return torch.from_numpy(np.sort(np.concatenate(picks)))


@functools.lru_cache(maxsize=2)
def _femnist(root: str) -> Any:
    """FEMNIST parsed once per process and data root: its 40 LEAF JSON shards take about 8 s
    to verify and parse, and a staged study runs dozens of FEMNIST trainings in one process.
    The tensors are only read (clients index them, triggers stamp copies)."""
    from .. import datasets

    return datasets.load_femnist(root)


def load_federated_data(cfg: BackdoorRunConfig,
                        root: str | os.PathLike[str] | None = None) -> FederatedData:
    """Load ``cfg.dataset`` from the data root and split it into ``cfg.clients`` clients."""
    from .. import datasets

    if cfg.dataset == "femnist":
        fed = _femnist(str(datasets.data_root(root)))
        ids = partition_federated(fed, cfg.clients, seed=cfg.seed)
        clients = {c: fed.train[c] for c in ids}
        xs = [fed.test[c][0] for c in fed.clients]
        ys = [fed.test[c][1] for c in fed.clients]
        keep_test = _balanced_subset(torch.cat(ys), cfg.test_subset, cfg.seed + 1)
        test = (torch.cat(xs)[keep_test], torch.cat(ys)[keep_test])
        pool = (torch.cat([x for x, _ in clients.values()]),
                torch.cat([y for _, y in clients.values()]))
        num_classes = fed.num_classes
        model = ModelSpec("leaf-cnn", 1, num_classes, 28)
    else:
        load = (datasets.load_fashion_mnist if cfg.dataset == "fashion-mnist"
                else datasets.load_cifar10)
        train, test_set = load("train", root), load("test", root)
        keep = _balanced_subset(train.labels, cfg.train_subset, cfg.seed)
        keep_test = _balanced_subset(test_set.labels, cfg.test_subset, cfg.seed + 1)
        x, y = train.float_images()[keep], train.labels[keep]
        test = (test_set.float_images()[keep_test], test_set.labels[keep_test])
        parts = parse_partition(cfg.partition).split(y, cfg.clients, cfg.seed)
        clients = {f"client{i:03d}": (x[torch.from_numpy(p)], y[torch.from_numpy(p)])
                   for i, p in enumerate(parts)}
        pool = (x, y)
        num_classes = len(train.classes)
        model = ModelSpec("small-cnn", x.shape[1], num_classes, x.shape[-1])
    counts = np.stack([np.bincount(y.numpy(), minlength=num_classes)
                       for _, y in clients.values()])
    return FederatedData(clients, pool, test, num_classes, model, heterogeneity(counts))


def attack_data(spec: str, pool: tuple[torch.Tensor, torch.Tensor], n: int, seed: int
                ) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The clean data an attacker trains on, for attack data distribution ``spec``: ``None``
    for ``"own"`` (keep its partition), else ``n`` samples drawn without replacement from the
    pool (``"iid"``) or from the pool's samples of the listed classes (``"classes:a,b"``)."""
    kind, classes = parse_attack_data(spec)
    if kind == "own":
        return None
    x, y = pool
    if kind == "iid":
        candidates = np.arange(len(y))
    else:
        missing = [c for c in classes if not bool((y == c).any())]
        if missing:
            raise InvalidConfigError(
                f"attack data classes {missing} have no training samples; the classes present "
                f"are {sorted(set(y.tolist()))}")
        candidates = np.flatnonzero(np.isin(y.numpy(), classes))
    rng = np.random.default_rng([seed, 13])
    pick = rng.choice(candidates, size=min(n, len(candidates)), replace=False)
    idx = torch.from_numpy(np.sort(pick))
    return x[idx], y[idx]


def build_simulation(cfg: BackdoorRunConfig, data: FederatedData | None = None, *,
                     root: str | os.PathLike[str] | None = None
                     ) -> tuple[Simulation, dict[str, Any]]:
    """The :class:`Simulation` of ``cfg`` and facts about it (attacker ids, heterogeneity)."""
    data = data if data is not None else load_federated_data(cfg, root)
    attack = cfg.attack()
    if attack.target >= data.num_classes:
        raise InvalidConfigError(
            f"target {attack.target} is not a class of {cfg.dataset} (0..{data.num_classes - 1})")
    ids = list(data.clients)
    rng = np.random.default_rng([cfg.seed, 17])
    attackers = [ids[i] for i in sorted(rng.choice(len(ids), size=cfg.attackers,
                                                    replace=False))]
    clients = dict(data.clients)
    for i, a in enumerate(attackers):
        drawn = attack_data(cfg.attack_data, data.pool, len(clients[a][1]), cfg.seed * 1000 + i)
        if drawn is not None:
            clients[a] = drawn
    backend: Any = cfg.backend
    if cfg.backend == "ray" and cfg.ray_address:
        from .backends import RayBackend

        backend = RayBackend(cfg.ray_address)
    sim = Simulation(data.model, clients, data.test, cfg.fl_config(),
                     aggregator=make_defense(cfg.defense),
                     attack=attack,  # with no attackers the trigger still probes the model
                     attackers=attackers, backend=backend)
    info = {"attacker_ids": attackers, "heterogeneity": data.heterogeneity,
            "num_classes": data.num_classes,
            "train_samples": int(sum(len(y) for _, y in clients.values())),
            "test_samples": len(data.test[1])}
    return sim, info


def run_backdoor(cfg: BackdoorRunConfig, *, data: FederatedData | None = None,
                 root: str | os.PathLike[str] | None = None, progress: bool = True
                 ) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    """Run one experiment; returns ``(metrics, per-round rows, info)``.

    ``metrics``: ``main_acc`` and ``asr`` after the last round, ``rounds``, ``round_time_s``
    (median seconds of a round's training and aggregation, evaluation excluded),
    ``asr_max`` and ``asr_mean_last5`` (the last five evaluated rounds).
    """
    sim, info = build_simulation(cfg, data, root=root)
    try:
        rows = sim.run(progress=progress)
    finally:
        sim.close()
    evald = [r for r in rows if "asr" in r]
    last = evald[-5:]
    metrics = {
        "main_acc": rows[-1]["main_acc"],
        "asr": rows[-1]["asr"],
        "rounds": len(rows),
        "round_time_s": float(np.median([r["round_time_s"] for r in rows])),
        "asr_max": max(r["asr"] for r in evald),
        "asr_mean_last5": float(np.mean([r["asr"] for r in last])),
        "hi_measured": info["heterogeneity"]["hi_measured"],
    }
    return metrics, rows, info


def record_backdoor_run(cfg: BackdoorRunConfig, out: str | os.PathLike[str], *,
                        root: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Run ``cfg`` (:func:`run_backdoor`) and write the results contract into ``out``.

    ``results.json`` holds the metrics plus the measured heterogeneity and the attacker ids,
    one row per round; ``report.md`` the per-round table and ``rounds.png`` (accuracy and ASR
    per round). Returns the results dict.
    """
    from ..results import Report, RunRecorder, subplots

    recorder = RunRecorder(out, system="backdoor", config=cfg.to_dict())
    metrics, rows, info = run_backdoor(cfg, root=root)
    metrics = {**metrics, "heterogeneity": info["heterogeneity"],
               "attacker_ids": info["attacker_ids"]}
    fig, ax = subplots(figsize=(6, 3.5))
    ax.plot([r["round"] for r in rows], [r["main_acc"] for r in rows], label="main accuracy")
    ax.plot([r["round"] for r in rows], [r["asr"] for r in rows], label="ASR")
    ax.set_xlabel("round")
    ax.set_ylim(-0.02, 1.02)
    ax.legend()
    cols = ["round", "clients", "attackers", "attack_active", "train_loss", "main_acc", "asr",
            "attacker_weight", "benign_rejected", "attackers_rejected", "round_time_s"]
    report = (Report(f"Backdoor run: {cfg.dataset}, {cfg.partition}, {cfg.attackers} "
                     f"attackers, defense {cfg.defense}")
              .paragraph(f"Measured heterogeneity: {info['heterogeneity']}. Attackers: "
                         f"{info['attacker_ids']}.")
              .table(rows, cols).figure(fig, "rounds.png", "accuracy and ASR per round"))
    return recorder.finish(metrics=metrics, rows=rows, report=report)
