"""One Citadel experiment from a flat config: data, enclaves, secure training, plain FedAvg.

What ``carbide citadel run`` and the reproduction call. The data and model come from
:mod:`carbide.federated` (FEMNIST's natural writer split with the LEAF CNN; Fashion-MNIST with
a Dirichlet split and the small CNN); the plain baseline is
:class:`~carbide.federated.Simulation` with FedAvg and the same seeds.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..._validate import check_int, check_real
from ...exceptions import InvalidConfigError
from . import _fixed, _masks

__all__ = ["BACKENDS", "DATASETS", "CitadelRunConfig", "run_citadel"]

#: Datasets of ``carbide citadel run``.
DATASETS: tuple[str, ...] = ("femnist", "fashion-mnist")
#: ``local`` = enclaves as OS processes; ``ray`` = Ray actors; ``inprocess`` = no isolation.
BACKENDS: tuple[str, ...] = ("local", "ray", "inprocess")


@dataclass(frozen=True)
class CitadelRunConfig:
    """A Citadel training compared with plain FedAvg (options of ``carbide citadel run``).

    Args:
        dataset: ``"femnist"`` (natural writer split, LEAF CNN) or ``"fashion-mnist"``
            (Dirichlet(``alpha``) split, small CNN).
        enclaves: training enclaves N (data owners; FEMNIST: writers sampled from 105).
        fan_in: children per aggregator F (>= 2).
        masks: ``"pairwise"`` or ``"admin"``.
        rounds: FL rounds R (every enclave trains every round).
        backend: ``"local"`` (OS processes), ``"ray"`` (actors) or ``"inprocess"``.
        bits: 32 or 64; clip: clip range of update values; neighbors: pairwise mask
            neighbours per enclave on a ring shuffled every round (an even ``k``;
            ``"auto"``, the default: the smallest even ``k >= log2 N``; ``None``: all pairs;
            the privacy trade-off is in :mod:`._masks`).
        local_epochs, batch_size, lr: local SGD. hidden: the CNN's dense width (default:
            LEAF's 2048 for FEMNIST, 64 for Fashion-MNIST).
        alpha: Dirichlet concentration of the Fashion-MNIST split (0.5).
        train_subset, test_subset: Fashion-MNIST images used (class-balanced draws).
        seed: seeds split, model and training (the same for both runs).
    """

    dataset: str = "femnist"
    enclaves: int = 4
    fan_in: int = 2
    masks: str = "pairwise"
    rounds: int = 3
    backend: str = "local"
    bits: int = 32
    clip: float = 1.0
    neighbors: int | str | None = _masks.AUTO
    local_epochs: int = 1
    batch_size: int = 32
    lr: float = 0.05
    hidden: int | None = None
    alpha: float = 0.5
    train_subset: int | None = 6000
    test_subset: int | None = 2000
    seed: int = 0

    def __post_init__(self) -> None:
        if self.dataset not in DATASETS:
            raise InvalidConfigError(f"unknown dataset {self.dataset!r}; choose one of: "
                                     f"{', '.join(DATASETS)}")
        if self.backend not in BACKENDS:
            raise InvalidConfigError(f"unknown backend {self.backend!r}; choose one of: "
                                     f"{', '.join(BACKENDS)}")
        if self.masks not in _masks.SCHEMES:
            raise InvalidConfigError(f"unknown masks {self.masks!r}; choose one of: "
                                     f"{', '.join(_masks.SCHEMES)}")
        check_int("enclaves", self.enclaves, 2)
        check_int("fan_in", self.fan_in, 2)
        check_int("rounds", self.rounds, 1)
        _fixed.check_bits(self.bits)
        _fixed.check_clip(self.clip)
        _masks.check_neighbors(self.neighbors)
        check_real("alpha", self.alpha, 0.0, 1e6, lo_open=True)
        if self.hidden is not None:
            check_int("hidden", self.hidden, 1)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def federated(self):
        """The :class:`~carbide.federated.BackdoorRunConfig` whose data loading we reuse
        (no attackers; all enclaves every round)."""
        from ..experiment import BackdoorRunConfig

        partition = "writers" if self.dataset == "femnist" else f"dirichlet:{self.alpha}"
        return BackdoorRunConfig(
            dataset=self.dataset, partition=partition, clients=self.enclaves,
            per_round=self.enclaves, rounds=self.rounds, local_epochs=self.local_epochs,
            batch_size=self.batch_size, lr=self.lr, attackers=0, seed=self.seed,
            train_subset=self.train_subset if self.dataset != "femnist" else None,
            test_subset=self.test_subset if self.dataset != "femnist" else None)


def run_citadel(cfg: CitadelRunConfig, *, root: str | os.PathLike[str] | None = None,
                data: Any = None, plain: bool = True, control: bool = False
                ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Train with Citadel and (``plain=True``) with plain FedAvg from the same seeds.

    ``control=True`` (with ``plain``) also reruns plain FedAvg with its state perturbed by
    Gaussian noise of std 1e-8 after the first round and reports ``perturbed_plain_diff``: how
    far SGD alone carries a rounding-sized difference over the same rounds (the yardstick for
    ``max_abs_diff_vs_plain`` after several rounds).

    Returns:
        ``(metrics, rows)``: ``metrics`` has ``test_acc``, ``plain_test_acc``,
        ``max_abs_diff_vs_plain`` (largest difference of the final model states),
        ``round_time_s`` and ``plain_round_time_s`` (medians), ``clipped``, ``d`` and the
        median per-round seconds of each phase (``train_s``, ``encode_mask_s``,
        ``encrypt_s``, ``transport_s``, ``aggregate_s``, ``decode_s``; summed over enclaves);
        ``rows`` one per round and run (``run`` = ``"citadel"`` or ``"plain"``).
    """
    from ..experiment import load_federated_data
    from ..simulation import Simulation
    from .trainer import CitadelTrainer

    fed_cfg = cfg.federated()
    data = data if data is not None else load_federated_data(fed_cfg, root)
    model = data.model if cfg.hidden is None else dataclasses.replace(data.model,
                                                                      hidden=cfg.hidden)
    fl = fed_cfg.fl_config()
    backend = {"local": "process"}.get(cfg.backend, cfg.backend)
    trainer = CitadelTrainer(model, data.clients, data.test, fl, scheme=cfg.masks,
                             fan_in=cfg.fan_in, bits=cfg.bits, clip=cfg.clip,
                             neighbors=cfg.neighbors, backend=backend)
    try:
        rows = [{"run": "citadel", **r} for r in trainer.run()]
    finally:
        trainer.close()
    secure_state = trainer.state_vector()
    metrics: dict[str, Any] = {
        "test_acc": rows[-1]["test_acc"],
        "round_time_s": float(np.median([r["round_time_s"] for r in rows])),
        "clipped": int(sum(r["clipped"] for r in rows)) if backend != "inprocess"
        else int(rows[-1]["clipped"]),
        "d": int(secure_state.shape[0]),
        "plain_test_acc": None, "max_abs_diff_vs_plain": None, "plain_round_time_s": None,
    }
    for phase in ("train_s", "encode_mask_s", "encrypt_s", "transport_s", "aggregate_s",
                  "decode_s"):
        vals = [r[phase] for r in rows if phase in r]
        metrics[phase] = float(np.median(vals)) if vals else None
    if plain:
        sim = Simulation(model, data.clients, data.test, fl)
        try:
            prow = sim.run(progress=False)
        finally:
            sim.close()
        rows += [{"run": "plain", "round": r["round"], "test_acc": r["main_acc"],
                  "round_time_s": r["round_time_s"], "train_s": r["client_time_s"],
                  "aggregate_s": r["aggregate_time_s"]} for r in prow]
        metrics["plain_test_acc"] = prow[-1]["main_acc"]
        metrics["plain_round_time_s"] = float(np.median([r["round_time_s"] for r in prow]))
        metrics["max_abs_diff_vs_plain"] = float(np.abs(secure_state - sim.state.numpy()).max())
        metrics["perturbed_plain_diff"] = (
            _perturbed_diff(model, data, fl, sim.state) if control and cfg.rounds > 1 else None)
    return metrics, rows


def _perturbed_diff(model: Any, data: Any, fl: Any, reference: Any) -> float:
    """Max |state| difference between plain FedAvg and plain FedAvg whose state got N(0, 1e-8)
    noise after round 1, after all rounds."""
    import torch

    from ..simulation import Simulation

    sim = Simulation(model, data.clients, data.test, fl)
    try:
        sim.step()
        g = torch.Generator().manual_seed(12345)
        sim.state = sim.state + torch.randn(sim.state.shape, generator=g) * 1e-8
        sim.run(progress=False)
    finally:
        sim.close()
    return float((sim.state - reference).abs().max())


def record_citadel(cfg: CitadelRunConfig, out: str | os.PathLike[str], *,
                   root: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """:func:`run_citadel`, written to ``out`` in the results contract (``results.json``,
    ``report.md``); returns the results dict."""
    from ...results import Report, RunRecorder

    recorder = RunRecorder(out, system="citadel", config=cfg.to_dict())
    metrics, rows = run_citadel(cfg, root=root)
    cols = ["run", "round", "test_acc", "round_time_s", "train_s", "encode_mask_s",
            "encrypt_s", "transport_s", "aggregate_s", "decode_s", "participants", "clipped"]
    report = (Report(f"Citadel run: {cfg.dataset}, {cfg.enclaves} enclaves, fan-in "
                     f"{cfg.fan_in}, {cfg.masks} masks, backend {cfg.backend}")
              .paragraph("Attestation is **simulated** (an Ed25519 service signs code hash and "
                         "enclave key; no SGX). Enclaves are isolated OS processes (or Ray "
                         "actors): no memory encryption. Phase times are seconds summed over "
                         "enclaves, measured on a shared 2-core machine.")
              .table([metrics], list(metrics))
              .table(rows, cols))
    return recorder.finish(metrics=metrics, rows=rows, report=report)
