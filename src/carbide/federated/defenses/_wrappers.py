"""Defense aggregators: the :mod:`._rules` functions with their parameters (and, for
FoolsGold, their history), following the
:class:`~carbide.federated.aggregation.Aggregator` contract, plus :func:`make_defense` for
CLI specs such as ``krum:2`` or ``clip:1.0:0.01``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from ..._validate import check_int, check_real
from ...exceptions import InvalidConfigError
from ..aggregation import AggregationResult, Aggregator, FedAvg, check_updates, fedavg
from ._rules import (
    _lowest,
    _rank_share,
    clip_updates,
    coordinate_median,
    foolsgold_weights,
    gaussian_noise,
    krum_scores,
    trimmed_mean,
)

__all__ = [
    "DEFENSES",
    "FoolsGold",
    "Krum",
    "Median",
    "MultiKrum",
    "NormClip",
    "TrimmedMean",
    "make_defense",
]

#: The defense names :func:`make_defense` understands (``none`` = undefended FedAvg).
DEFENSES = ("none", "krum", "multikrum", "median", "trimmed", "clip", "foolsgold")

_SPEC_FORMS = ("none", "krum", "krum:F", "multikrum", "multikrum:F", "multikrum:F:M", "median",
               "trimmed:B (int count or fraction in (0, 0.5))", "clip:C", "clip:C:SIGMA",
               "foolsgold", "foolsgold:KAPPA")


def _prepare(updates: torch.Tensor, weights: torch.Tensor | None,
             client_ids: Sequence[str]) -> int:
    """Validate one round's inputs (finite ``(n, d)`` updates, ``(n,)`` weights, ``n`` ids);
    return ``n``."""
    check_updates(updates, weights)
    n = updates.shape[0]
    if len(client_ids) != n:
        raise InvalidConfigError(f"got {len(client_ids)} client ids for {n} updates")
    return n


def _uniform(updates: torch.Tensor) -> torch.Tensor:
    n = updates.shape[0]
    return torch.full((n,), 1.0 / n, dtype=updates.dtype, device=updates.device)


def _floats(t: torch.Tensor) -> list[float]:
    return [float(x) for x in t.detach().cpu().tolist()]


@dataclass
class Krum:
    """Krum (Blanchard et al., NeurIPS 2017): the global update is the single client update
    with the lowest Krum score; needs ``n > 2f + 2`` clients per round.

    ``client_weights``: 1 for the selected client, 0 for everyone else.

    Args:
        f: the number of Byzantine clients tolerated, an int ``>= 0``.
    """

    f: int
    name: str = field(default="krum", init=False)

    def __post_init__(self) -> None:
        check_int("f", self.f, 0)

    def __call__(self, updates: torch.Tensor, weights: torch.Tensor,
                 client_ids: Sequence[str]) -> AggregationResult:
        _prepare(updates, weights, client_ids)
        scores = krum_scores(updates, self.f)
        i = int(_lowest(scores, 1)[0])
        cw = torch.zeros(updates.shape[0], dtype=updates.dtype, device=updates.device)
        cw[i] = 1.0
        info = {"rule": "krum", "f": self.f, "scores": _floats(scores), "selected": [i],
                "selected_ids": [str(client_ids[i])]}
        return AggregationResult(updates[i].clone(), cw, info)


@dataclass
class MultiKrum:
    """Multi-Krum (Blanchard et al., NeurIPS 2017): the plain mean of the ``m`` updates with
    the lowest Krum scores; needs ``n > 2f + 2``.

    ``client_weights``: ``1/m`` for each selected client, 0 for the rest (sample counts are
    ignored, as in the paper).

    Args:
        f: the number of Byzantine clients tolerated, an int ``>= 0``.
        m: how many updates to average; ``None`` (default) means ``n - f`` each round.
    """

    f: int
    m: int | None = None
    name: str = field(default="multikrum", init=False)

    def __post_init__(self) -> None:
        check_int("f", self.f, 0)
        if self.m is not None:
            check_int("m", self.m, 1)

    def __call__(self, updates: torch.Tensor, weights: torch.Tensor,
                 client_ids: Sequence[str]) -> AggregationResult:
        n = _prepare(updates, weights, client_ids)
        scores = krum_scores(updates, self.f)
        m = n - self.f if self.m is None else self.m
        if m > n:
            raise InvalidConfigError(
                f"Multi-Krum m must be <= n; got m={m}, n={n}: lower m or sample more clients")
        sel = _lowest(scores, m).to(updates.device)
        cw = torch.zeros(n, dtype=updates.dtype, device=updates.device)
        cw[sel] = 1.0 / m
        chosen = [int(i) for i in sel.tolist()]
        info = {"rule": "multikrum", "f": self.f, "m": m, "scores": _floats(scores),
                "selected": chosen, "selected_ids": [str(client_ids[i]) for i in chosen]}
        return AggregationResult(updates[sel].mean(dim=0), cw, info)


_COORDINATE_NOTE = ("coordinate-wise rule: values are rejected per coordinate, not whole "
                    "clients, so client_weights are uniform 1/n")


@dataclass
class Median:
    """Coordinate-wise median (Yin et al., ICML 2018); for even ``n`` the mean of the two
    middle values.

    ``client_weights``: uniform ``1/n`` (no client is rejected as a whole); ``info`` records
    ``median_share``, per client the fraction of coordinates where its value was a middle
    value used in the median.
    """

    name: str = field(default="median", init=False)

    def __call__(self, updates: torch.Tensor, weights: torch.Tensor,
                 client_ids: Sequence[str]) -> AggregationResult:
        n = _prepare(updates, weights, client_ids)
        lo, hi = (n // 2, n // 2 + 1) if n % 2 else (n // 2 - 1, n // 2 + 1)
        info = {"rule": "median", "client_weights": _COORDINATE_NOTE,
                "median_share": _floats(_rank_share(updates, lo, hi))}
        return AggregationResult(coordinate_median(updates), _uniform(updates), info)


@dataclass
class TrimmedMean:
    """Coordinate-wise trimmed mean (Yin et al., ICML 2018): per coordinate drop the ``b``
    largest and ``b`` smallest values and average the rest.

    ``client_weights``: uniform ``1/n`` (no client is rejected as a whole); ``info`` records
    the count ``b`` used and ``trimmed_share``, per client the fraction of its coordinates
    that were dropped.

    Args:
        b: an ``int >= 0`` is a count of values to drop at each end (needs ``n > 2b`` at call
            time); a ``float`` in ``(0, 0.5)`` is a fraction of the round's ``n``, giving
            ``floor(b * n)`` values dropped at each end.
    """

    b: int | float
    name: str = field(default="trimmed", init=False)

    def __post_init__(self) -> None:
        if isinstance(self.b, float):
            if not (math.isfinite(self.b) and 0.0 < self.b < 0.5):
                raise InvalidConfigError(
                    f"trimmed-mean b as a fraction must be in (0, 0.5), got {self.b!r}; "
                    "pass an int for a count")
        elif isinstance(self.b, bool) or not isinstance(self.b, int) or self.b < 0:
            raise InvalidConfigError(
                f"trimmed-mean b must be an int count >= 0 or a float fraction in (0, 0.5), "
                f"got {self.b!r}")

    def count(self, n: int) -> int:
        """How many values are dropped at each end for a round of ``n`` clients."""
        return self.b if isinstance(self.b, int) else math.floor(self.b * n)

    def __call__(self, updates: torch.Tensor, weights: torch.Tensor,
                 client_ids: Sequence[str]) -> AggregationResult:
        n = _prepare(updates, weights, client_ids)
        b = self.count(n)
        update = trimmed_mean(updates, b)  # raises naming n and b unless n > 2b
        kept = _rank_share(updates, b, n - b)
        info = {"rule": "trimmed", "b": b, "client_weights": _COORDINATE_NOTE,
                "trimmed_share": _floats(1.0 - kept)}
        return AggregationResult(update, _uniform(updates), info)


@dataclass
class NormClip:
    """Norm clipping with optional weak differential privacy (Sun et al., "Can You Really
    Backdoor Federated Learning?", 2019).

    Each update is scaled to L2 norm ``<= max_norm``, the clipped updates are averaged with
    FedAvg's sample weights, then Gaussian noise of std ``noise_std`` is added (if ``> 0``)
    from a ``torch.Generator`` seeded with ``seed``; its state is in :meth:`state_dict`.

    ``client_weights``: the sample weights normalised to sum 1 (no client is rejected);
    ``info`` records the norms, clip factors and which clients were clipped.

    Args:
        max_norm: the norm bound, ``> 0``.
        noise_std: Gaussian noise std added to the aggregate, ``>= 0`` (default 0: none).
        seed: seed of the noise generator, int ``>= 0`` (default 0).
    """

    max_norm: float
    noise_std: float = 0.0
    seed: int = 0
    name: str = field(default="clip", init=False)
    _generator: torch.Generator = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.max_norm = check_real("max_norm", self.max_norm, 0.0, math.inf, lo_open=True,
                                   hi_open=True)
        self.noise_std = check_real("noise_std", self.noise_std, 0.0, math.inf, hi_open=True)
        check_int("seed", self.seed, 0)
        self._generator = torch.Generator().manual_seed(self.seed)

    def __call__(self, updates: torch.Tensor, weights: torch.Tensor,
                 client_ids: Sequence[str]) -> AggregationResult:
        _prepare(updates, weights, client_ids)
        clipped, factors = clip_updates(updates, self.max_norm)
        update = fedavg(clipped, weights)
        if self.noise_std > 0:
            update = gaussian_noise(update, self.noise_std, self._generator)
        w = weights.to(updates.dtype)
        info = {"rule": "clip", "max_norm": self.max_norm, "noise_std": self.noise_std,
                "norms": _floats(torch.linalg.vector_norm(updates, dim=1)),
                "clip_factors": _floats(factors),
                "clipped": [int(i) for i in (factors < 1).nonzero().flatten().tolist()]}
        return AggregationResult(update, w / w.sum(), info)

    def state_dict(self) -> dict[str, Any]:
        """The noise generator's state (and the seed it started from)."""
        return {"seed": self.seed, "generator_state": self._generator.get_state()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore the noise generator from :meth:`state_dict`'s output."""
        if not isinstance(state, Mapping) or "generator_state" not in state:
            raise InvalidConfigError("NormClip state must be a mapping with 'generator_state'")
        self._generator.set_state(state["generator_state"])


@dataclass
class FoolsGold:
    """FoolsGold (Fung et al., RAID 2020): weights each round's updates by how dissimilar the
    client's *historical* (summed) update is from every other participant's, so sybils that
    keep pushing the same objective fall to weight ~0.

    Each call first adds the round's updates to the participating clients' histories, then
    computes :func:`~._rules.foolsgold_weights` over those clients' histories (in the order of
    ``client_ids``); the global update is the mean of the round's updates weighted by the
    normalised FoolsGold weights (sample counts are validated but not used, as in the paper).
    If every weight is 0 the update is zero and ``info["all_rejected"]`` is true.

    ``client_weights``: the FoolsGold weights normalised to sum 1 (all 0 if all rejected);
    ``info["fg_weights"]`` holds the raw ones.

    Args:
        kappa: the logit confidence, ``> 0`` (default 1.0).
    """

    kappa: float = 1.0
    name: str = field(default="foolsgold", init=False)
    _history: dict[str, torch.Tensor] = field(default_factory=dict, init=False, repr=False,
                                              compare=False)
    _rounds: int = field(default=0, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.kappa = check_real("kappa", self.kappa, 0.0, math.inf, lo_open=True,
                                hi_open=True)

    def __call__(self, updates: torch.Tensor, weights: torch.Tensor,
                 client_ids: Sequence[str]) -> AggregationResult:
        n = _prepare(updates, weights, client_ids)
        ids = [str(c) for c in client_ids]
        if len(set(ids)) != n:
            dup = sorted({c for c in ids if ids.count(c) > 1})
            raise InvalidConfigError(f"FoolsGold needs distinct client ids, repeated: {dup}")
        d = updates.shape[1]
        for cid in ids:  # validate everything before touching the history
            prev = self._history.get(cid)
            if prev is not None and prev.shape != (d,):
                raise InvalidConfigError(
                    f"client {cid!r} has a history of {prev.numel()} values but its update "
                    f"has {d}; the model size changed, start a new FoolsGold")
        rows = updates.detach()
        for i, cid in enumerate(ids):
            prev = self._history.get(cid)
            self._history[cid] = (rows[i].clone() if prev is None
                                  else prev.to(rows.device, rows.dtype) + rows[i])
        self._rounds += 1
        history = torch.stack([self._history[c] for c in ids])
        raw = foolsgold_weights(history, kappa=self.kappa)
        total = float(raw.sum())
        info: dict[str, Any] = {"rule": "foolsgold", "kappa": self.kappa,
                                "fg_weights": _floats(raw), "all_rejected": total <= 0}
        if total <= 0:
            info["note"] = "every FoolsGold weight is 0 (all histories alike): zero update"
            cw = torch.zeros(n, dtype=updates.dtype, device=updates.device)
            return AggregationResult(torch.zeros_like(updates[0]), cw, info)
        cw = (raw / total).to(device=updates.device, dtype=updates.dtype)
        return AggregationResult(cw @ updates, cw, info)

    def state_dict(self) -> dict[str, Any]:
        """The per-client summed updates (copies) and the number of rounds seen."""
        return {"rounds": self._rounds,
                "history": {c: h.clone() for c, h in self._history.items()}}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore the history from :meth:`state_dict`'s output."""
        hist = state.get("history") if isinstance(state, Mapping) else None
        if not isinstance(hist, Mapping) or not all(
                isinstance(h, torch.Tensor) and h.ndim == 1 for h in hist.values()):
            raise InvalidConfigError(
                "FoolsGold state must be a mapping with 'history': {client_id: 1-D tensor}")
        if len({h.numel() for h in hist.values()}) > 1:
            raise InvalidConfigError("FoolsGold history tensors must all have the same length")
        self._history = {str(c): h.clone() for c, h in hist.items()}
        self._rounds = int(state.get("rounds", 0))


def _number(spec: str, text: str, what: str, *, integer: bool = False) -> int | float:
    try:
        return int(text) if integer else float(text)
    except ValueError:
        kind = "an integer" if integer else "a number"
        raise InvalidConfigError(
            f"defense spec {spec!r}: {what} must be {kind}, got {text!r}") from None


def make_defense(spec: str) -> Aggregator:
    """Build an aggregator from a CLI spec.

    Forms: ``none`` (undefended FedAvg), ``krum`` / ``krum:F`` (default ``F`` = 1),
    ``multikrum`` / ``multikrum:F`` / ``multikrum:F:M`` (default ``F`` = 1, ``M`` = n - F),
    ``median``, ``trimmed:B`` (``B`` an int count, or a fraction in (0, 0.5) when written
    with a decimal point or exponent), ``clip:C`` / ``clip:C:SIGMA`` (norm bound and noise
    std), ``foolsgold`` / ``foolsgold:KAPPA``.

    Raises:
        InvalidConfigError: for an unknown name, wrong arity or out-of-range values.
    """
    if not isinstance(spec, str):
        raise InvalidConfigError(f"defense spec must be a string, got {spec!r}")
    name, *args = spec.strip().lower().split(":")
    arity = {"none": (0, 0), "krum": (0, 1), "multikrum": (0, 2), "median": (0, 0),
             "trimmed": (1, 1), "clip": (1, 2), "foolsgold": (0, 1)}
    if name not in arity or not arity[name][0] <= len(args) <= arity[name][1]:
        raise InvalidConfigError(
            f"unknown defense spec {spec!r}; valid forms: {', '.join(_SPEC_FORMS)}")
    try:
        if name == "none":
            return FedAvg()
        if name == "median":
            return Median()
        if name == "krum":
            return Krum(_number(spec, args[0], "F", integer=True) if args else 1)
        if name == "multikrum":
            f = _number(spec, args[0], "F", integer=True) if args else 1
            m = _number(spec, args[1], "M", integer=True) if len(args) > 1 else None
            return MultiKrum(f, m)
        if name == "trimmed":
            frac = any(ch in args[0] for ch in ".e")
            return TrimmedMean(_number(spec, args[0], "B", integer=not frac))
        if name == "clip":
            sigma = _number(spec, args[1], "SIGMA") if len(args) > 1 else 0.0
            return NormClip(_number(spec, args[0], "C"), sigma)
        return FoolsGold(_number(spec, args[0], "KAPPA") if args else 1.0)
    except InvalidConfigError as e:
        if str(e).startswith("defense spec"):
            raise
        raise InvalidConfigError(f"defense spec {spec!r}: {e}") from None
