"""The federated simulation: server, clients, rounds, sampling, aggregation, metrics.

One round of :class:`Simulation` (FedAvg, McMahan et al. 2017):

1. the server samples ``clients_per_round`` clients (seeded per round);
2. if an attack is configured and active this round, the attackers among them (all of them,
   with ``join="scheduled"``) poison their local training; with ``rounds="ood:F"`` the
   attackers decide per round from how far out of distribution their data is for the global
   model they receive, its mean cross-entropy on their clean data
   (:func:`~carbide.federated.attacks.ood_attack_now`; the score is in the round's row as
   ``ood_distance``);
3. the backend runs the clients' local training and returns their updates;
4. updates holding NaN/Inf are rejected and logged; the rest go to the aggregator (FedAvg or a
   defense), whose result the server adds to the global model (times ``server_lr``);
5. the global model is evaluated on the clean test set (main-task accuracy) and on triggered
   test images of other classes (attack success rate).

Every random choice derives from ``(seed, round, client)``, so a run is reproducible, resumes
exactly from :meth:`Simulation.state_dict`, and gives the same result on every backend.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from .._eval import accuracy
from .._validate import check_int, check_real
from ..exceptions import InvalidConfigError
from .aggregation import Aggregator, FedAvg, all_finite
from .attacks import (
    BackdoorAttack,
    attack_success_rate,
    ood_attack_now,
    parse_rounds,
)
from .backends import LocalBackend, RayBackend, make_backend
from .client import ClientTask, LocalTraining, Poison, load_state_vector, state_vector

__all__ = ["FLConfig", "Simulation"]

_log = logging.getLogger(__name__)

#: ``ood:F`` compares a round's score with the median of this many preceding rounds' scores
#: (a recent baseline: the loss falls as training goes on, so all earlier rounds would be a
#: baseline the late rounds never exceed).
_OOD_RECENT = 3


@dataclass(frozen=True)
class FLConfig:
    """Server-side settings of a simulation.

    Args:
        rounds: number of rounds (20).
        clients_per_round: clients sampled per round, ``K`` (10).
        local: the clients' local training (:class:`~carbide.federated.LocalTraining`).
        server_lr: the server's step on the aggregated update (1.0 = plain FedAvg).
        seed: seeds the model's initialization, client sampling and local shuffling (0).
        eval_every: evaluate every this many rounds, and always after the last (1).
    """

    rounds: int = 20
    clients_per_round: int = 10
    local: LocalTraining = field(default_factory=LocalTraining)
    server_lr: float = 1.0
    seed: int = 0
    eval_every: int = 1

    def __post_init__(self) -> None:
        check_int("rounds", self.rounds, 1)
        check_int("clients_per_round", self.clients_per_round, 1)
        check_real("server_lr", self.server_lr, 0.0, 1e3, lo_open=True)
        check_int("seed", self.seed, 0)
        check_int("eval_every", self.eval_every, 1)


def _task_seed(seed: int, round_index: int, client_index: int) -> int:
    return int(np.random.SeedSequence([seed, round_index, client_index]).generate_state(1)[0])


class Simulation:
    """A federated training run with optional backdoor attackers and a defense.

    Args:
        model: zero-argument model factory (e.g. :class:`~carbide.federated.ModelSpec`),
            picklable for the Ray backend.
        clients: client id -> ``(x (n, C, H, W) float32, y (n,) int64)``; every client needs
            at least one sample.
        test: ``(x, y)`` of the clean test set.
        config: the :class:`FLConfig`.
        aggregator: FedAvg (default) or a defense from :mod:`carbide.federated.defenses`.
        attack: the :class:`~carbide.federated.attacks.BackdoorAttack`, or ``None``.
        attackers: ids of the malicious clients (must be clients; ``len`` should equal
            ``attack.num_attackers``).
        backend: ``"local"`` (default), ``"ray"``, or a backend object with ``map``/``close``.

    Example:
        >>> sim = Simulation(ModelSpec(), clients, (x_test, y_test),  # doctest: +SKIP
        ...                  FLConfig(rounds=5))
        >>> rows = sim.run()  # doctest: +SKIP
    """

    def __init__(
        self,
        model: Callable[[], nn.Module],
        clients: Mapping[str, tuple[torch.Tensor, torch.Tensor]],
        test: tuple[torch.Tensor, torch.Tensor],
        config: FLConfig | None = None,
        *,
        aggregator: Aggregator | None = None,
        attack: BackdoorAttack | None = None,
        attackers: Sequence[str] = (),
        backend: str | LocalBackend | RayBackend = "local",
    ) -> None:
        self.config = config or FLConfig()
        if not clients:
            raise InvalidConfigError("no clients: give at least one client id -> (x, y)")
        for cid, (x, y) in clients.items():
            if len(y) == 0:
                raise InvalidConfigError(
                    f"client {cid!r} has no samples; drop it or repartition the data")
            if len(x) != len(y):
                raise InvalidConfigError(
                    f"client {cid!r} has {len(x)} inputs but {len(y)} labels")
        self.clients = dict(clients)
        self.client_ids = list(self.clients)
        if self.config.clients_per_round > len(self.client_ids):
            raise InvalidConfigError(
                f"clients_per_round={self.config.clients_per_round} exceeds the "
                f"{len(self.client_ids)} clients; lower it or add clients")
        unknown = [a for a in attackers if a not in self.clients]
        if unknown:
            raise InvalidConfigError(f"attackers {unknown} are not clients")
        if attackers and attack is None:
            raise InvalidConfigError("attackers given but no attack: pass attack=BackdoorAttack()")
        self.attack = attack
        self.attackers = list(dict.fromkeys(attackers))
        if attack is not None and attack.join == "scheduled" and (
                len(self.attackers) > self.config.clients_per_round):
            raise InvalidConfigError(
                f"{len(self.attackers)} scheduled attackers cannot fit in "
                f"{self.config.clients_per_round} clients per round; lower the number of "
                f"attackers or raise clients_per_round")
        self._ood = attack is not None and parse_rounds(attack.rounds)[0] == "ood"
        if self._ood and attack.join != "scheduled":
            raise InvalidConfigError(
                f"attack rounds {attack.rounds!r} need join='scheduled': the attackers choose "
                f"their rounds, so they must be able to join them")
        self.test = test
        self.model_fn = model
        self.aggregator = aggregator if aggregator is not None else FedAvg()
        self.backend = make_backend(backend) if isinstance(backend, str) else backend
        torch.manual_seed(self.config.seed)
        self.model = model()
        self.state = state_vector(self.model)
        self.round = 0
        self.history: list[dict[str, Any]] = []

    # -- one round ----------------------------------------------------------------------------

    def sample(self, round_index: int) -> tuple[list[str], bool]:
        """The clients of round ``round_index`` and whether the attack is active in it."""
        chosen, active, _ = self._sample(round_index)
        return chosen, active

    def _sample(self, round_index: int) -> tuple[list[str], bool, float | None]:
        rng = np.random.default_rng([self.config.seed, round_index, 7])
        k = self.config.clients_per_round
        active = bool(self.attack is not None and self.attackers
                      and self.attack.active(round_index, self.config.rounds))
        distance = None
        if self._ood and self.attackers:
            # how far out of distribution the attackers' data is for the global model they
            # receive (observable by them): its mean loss on their own clean data
            distance = self._attacker_loss()
            benign = [c for c in self.client_ids if c not in self.attackers]
            rest = sorted(rng.choice(len(benign), size=k - len(self.attackers), replace=False))
            past = self.history[:round_index]
            active = active and ood_attack_now(
                round_index, self.config.rounds, parse_rounds(self.attack.rounds)[1], distance,
                [h["ood_distance"] for h in past][-_OOD_RECENT:],
                sum(bool(h["attack_active"]) for h in past))
            if active:
                return list(self.attackers) + [benign[i] for i in rest], True, distance
            rng = np.random.default_rng([self.config.seed, round_index, 7])
        if active and self.attack.join == "scheduled":
            benign = [c for c in self.client_ids if c not in self.attackers]
            rest = rng.choice(len(benign), size=k - len(self.attackers), replace=False)
            chosen = list(self.attackers) + [benign[i] for i in sorted(rest)]
        else:
            chosen = [self.client_ids[i]
                      for i in sorted(rng.choice(len(self.client_ids), size=k, replace=False))]
        return chosen, active, distance

    def _attacker_loss(self) -> float:
        load_state_vector(self.model, self.state)
        self.model.eval()
        x = torch.cat([self.clients[a][0] for a in self.attackers])
        y = torch.cat([self.clients[a][1] for a in self.attackers])
        with torch.no_grad():
            return float(nn.functional.cross_entropy(self.model(x), y))

    def _poison(self) -> Poison:
        a = self.attack
        return Poison(a.trigger, a.target, a.poison_fraction, a.poison_steps, a.placement,
                      a.gamma)

    def step(self) -> dict[str, Any]:
        """Run one round; returns its metrics row (also appended to :attr:`history`)."""
        r = self.round
        t0 = time.perf_counter()
        chosen, active, distance = self._sample(r)
        index = {c: i for i, c in enumerate(self.client_ids)}
        tasks = [
            ClientTask(c, self.model_fn, self.state, *self.clients[c], self.config.local,
                       _task_seed(self.config.seed, r, index[c]),
                       self._poison() if active and c in self.attackers else None)
            for c in chosen
        ]
        results = self.backend.map(tasks)
        t_agg = time.perf_counter()
        finite = [all_finite(res.update) for res in results]
        good = [res for res, ok in zip(results, finite, strict=True) if ok]
        bad = [res.client_id for res, ok in zip(results, finite, strict=True) if not ok]
        if bad:
            _log.warning("round %d: rejected non-finite updates from clients %s", r, bad)
        row: dict[str, Any] = {"round": r + 1, "clients": len(chosen), "attack_active": active,
                               "attackers": sum(res.malicious for res in results),
                               "rejected_nonfinite": bad}
        if distance is not None:
            row["ood_distance"] = distance
        if good:
            updates = torch.stack([res.update for res in good])
            weights = torch.tensor([float(res.num_samples) for res in good])
            agg = self.aggregator(updates, weights, [res.client_id for res in good])
            self.state = self.state + self.config.server_lr * agg.update
            mal = torch.tensor([res.malicious for res in good])
            w = agg.client_weights
            row.update(
                train_loss=float(np.mean([res.loss for res in good])),
                attacker_weight=float(w[mal].sum()) if mal.any() else None,
                benign_rejected=int((~agg.accepted & ~mal).sum()),
                attackers_rejected=int((~agg.accepted & mal).sum()),
            )
        else:
            _log.warning("round %d: no finite update; the global model is unchanged", r)
            row.update(train_loss=None, attacker_weight=None, benign_rejected=0,
                       attackers_rejected=0)
        t_end = time.perf_counter()
        row.update(round_time_s=t_end - t0, train_time_s=t_agg - t0,
                   client_time_s=sum(res.seconds for res in results),
                   aggregate_time_s=t_end - t_agg)
        self.round += 1
        if self.round % self.config.eval_every == 0 or self.round == self.config.rounds:
            row.update(self.evaluate())
            row["eval_time_s"] = time.perf_counter() - t_end
        self.history.append(row)
        return row

    def evaluate(self) -> dict[str, float]:
        """``main_acc`` on the clean test set and (with an attack) ``asr``."""
        load_state_vector(self.model, self.state)
        x, y = self.test
        out = {"main_acc": accuracy(self.model, x, y)}
        if self.attack is not None:
            out["asr"] = attack_success_rate(self.model, x, y, self.attack.trigger,
                                             self.attack.target)
        return out

    def run(self, rounds: int | None = None, *, progress: bool = True) -> list[dict[str, Any]]:
        """Run until ``rounds`` rounds in all have been run (default ``config.rounds``);
        returns :attr:`history`."""
        from ..results import progress as progress_bar

        total = self.config.rounds if rounds is None else check_int("rounds", rounds, 1)
        with progress_bar(transient=True) as bar:
            task = bar.add_task("FL rounds", total=total, completed=self.round,
                                visible=progress)
            while self.round < total:
                self.step()
                bar.advance(task)
        return self.history

    def close(self) -> None:
        """Release the backend (shuts down a Ray instance this simulation started)."""
        self.backend.close()

    # -- checkpointing ------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Round, global state, history and the aggregator's state (for stateful defenses)."""
        agg_state = getattr(self.aggregator, "state_dict", None)
        return {"round": self.round, "state": self.state.clone(),
                "history": [dict(r) for r in self.history],
                "aggregator": agg_state() if agg_state else None}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Resume from :meth:`state_dict` (same clients, config and aggregator kind)."""
        vec = state["state"]
        if vec.shape != self.state.shape:
            raise InvalidConfigError(
                f"checkpoint state has shape {tuple(vec.shape)}, this model "
                f"{tuple(self.state.shape)}: not the same model")
        self.round = int(state["round"])
        self.state = vec.clone()
        self.history = [dict(r) for r in state["history"]]
        if state.get("aggregator") is not None:
            self.aggregator.load_state_dict(state["aggregator"])
