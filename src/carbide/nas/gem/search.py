"""NASGEM bootstrap search as an ask/tell strategy.

NASGEM (Cheng et al., AAAI 2021, arXiv 2007.04452): embed cells with an encoder trained to
preserve WL-kernel similarity, fit an accuracy predictor on the embeddings of the cells
evaluated so far, score a large number of candidate cells with it, evaluate only the best,
add them to the training set and repeat. The agreed reconstruction (no official code exists):

1. Encoder pre-training (unsupervised, no accuracy): ``encoder_cells`` cells sampled from the
   space train a :class:`~carbide.nas.gem.encoder.GINEncoder` on WL similarity (skipped when
   an encoder is passed in).
2. ``n_init`` cells drawn uniformly at random are evaluated.
3. Each round: fit an :class:`~carbide.nas.gem.predictor.AccuracyPredictor` on
   ``(embedding, val_acc)`` of every evaluated cell; score the candidate pool; queue the
   ``top_k`` best-scoring cells not isomorphic to any evaluated or queued cell (a query on an
   isomorphic cell trains the same network again). Cells are embedded and compared as the
   network they compute (:func:`network`: pruned of nodes off every input-output path).
   The pool is the whole space when it is finite (NAS-Bench-201's 15,625 keys, a table's
   cells) and otherwise ``pool_size`` fresh samples, a share ``mutation_share`` of them
   one-move mutations of the best cells so far (large spaces such as 30-node cells are too
   big for blind samples to land near good cells).
4. Repeat until the caller's budget is spent (``run_search`` stops asking).

Score: ``predicted val_acc - cost_weight * normalized cost`` (:func:`efficiency_score`); the
cost is ``cost_fn(cell)`` when given, else a second predictor fitted on the evaluated cells'
``params``. ``cost_weight = 0`` (default) searches for accuracy alone.

The strategy follows the ask/tell contract of :mod:`carbide.nas.strategies`: ``ask()`` returns
the next cell to evaluate (from an internal queue filled a batch at a time), ``tell(cell,
evaluation)`` records the result, ``state_dict()``/``load_state_dict()`` resume a search.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..._validate import check_int, check_real
from ...exceptions import InvalidConfigError
from ..cell import Cell
from ..strategies import Strategy
from .encoder import EncoderConfig, GINEncoder, train_encoder
from .predictor import AccuracyPredictor, PredictorConfig, efficiency_score

__all__ = ["ENCODINGS", "NASGEM", "NASGEMConfig", "candidate_pool", "network", "pool_views"]

_NB201_ALL = 5 ** 6
#: Predictor inputs of :class:`NASGEM` (``NASGEMConfig.encoding``).
ENCODINGS = ("wl", "onehot")


@dataclass(frozen=True)
class NASGEMConfig:
    """NASGEM search settings (defaults tuned on NAS-Bench-201 at 150 queries).

    Attributes:
        n_init: cells evaluated at random before the first predictor (default 20).
        top_k: cells evaluated per round (default 10).
        pool_size: candidates scored per round in spaces too large to enumerate (5000).
        mutation_share: share of that pool made of mutations of the best cells (0.5).
        encoder_cells: unlabelled cells the encoder is pre-trained on (default 1000).
        encoder: :class:`EncoderConfig` of the encoder.
        predictor: :class:`PredictorConfig` of the accuracy (and cost) predictor.
        cost_weight: lambda of the efficiency term, in accuracy units (default 0).
        encoding: the predictor's input: ``"wl"`` (default; NASGEM's WL-trained embedding)
            or ``"onehot"`` (the flattened adjacency + op one-hot encoding, the ablation
            that tests the embedding's worth in the search; no encoder is trained).
    """

    n_init: int = 20
    top_k: int = 10
    pool_size: int = 5000
    mutation_share: float = 0.5
    encoder_cells: int = 1000
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    predictor: PredictorConfig = field(default_factory=PredictorConfig)
    cost_weight: float = 0.0
    encoding: str = "wl"

    def __post_init__(self) -> None:
        if self.encoding not in ENCODINGS:
            raise InvalidConfigError(
                f"encoding must be one of {list(ENCODINGS)}, got {self.encoding!r}"
            )
        check_int("n_init", self.n_init, 2)
        check_int("top_k", self.top_k, 1)
        check_int("pool_size", self.pool_size, 1)
        check_real("mutation_share", self.mutation_share, 0.0, 1.0)
        check_int("encoder_cells", self.encoder_cells, 2)
        check_real("cost_weight", self.cost_weight, 0.0, float("inf"))
        if isinstance(self.encoder, dict):
            object.__setattr__(self, "encoder", EncoderConfig(**self.encoder))
        if isinstance(self.predictor, dict):
            pred = dict(self.predictor)
            if "hidden" in pred:
                pred["hidden"] = tuple(pred["hidden"])
            object.__setattr__(self, "predictor", PredictorConfig(**pred))


def candidate_pool(space: Any) -> list | None:
    """Every cell of a finite space (NAS-Bench-201's 15,625 keys, a table's cells), or
    ``None`` when the space is too large to enumerate."""
    from ..spaces import NB201Space

    if isinstance(space, NB201Space):
        return list(_nb201_pool()[0])
    cells = getattr(space, "cells", None)
    return list(cells) if cells is not None else None


def pool_views(space: Any) -> tuple[list, list, list[str]] | None:
    """:func:`candidate_pool` with each cell's :func:`network` view and its hash, or
    ``None`` when the space is too large to enumerate."""
    from ..spaces import NB201Space

    if isinstance(space, NB201Space):
        cells, views, hashes = _nb201_pool()
        return list(cells), list(views), list(hashes)
    pool = candidate_pool(space)
    if pool is None:
        return None
    views = [network(c) for c in pool]
    return pool, views, [v.hash() for v in views]


@functools.lru_cache(maxsize=1)
def _nb201_pool() -> tuple[tuple[Cell, ...], tuple[Cell, ...], tuple[str, ...]]:
    """The 15,625 NAS-Bench-201 cells, their network views and hashes, built once per process
    (about 40 s of pruning on one core; every search and study over NB201 used to redo it).
    Cells are immutable (read-only adjacency), so sharing them is safe."""
    from ..spaces import NB201Space

    cells = tuple(NB201Space.to_cell("".join(str((i // 5 ** p) % 5) for p in reversed(range(6))))
                  for i in range(_NB201_ALL))
    views = tuple(network(c) for c in cells)
    return cells, views, tuple(v.hash() for v in views)


def network(cell: Cell) -> Cell:
    """The network a cell computes: the cell pruned of nodes off every input-output path
    (NAS-Bench-101's rule; the subset table stores unpruned matrices). NASGEM embeds and
    de-duplicates this view, since dangling nodes change neither the network nor its
    accuracy; a cell with no path is kept as is."""
    from ...exceptions import InvalidArchitectureError

    try:
        return cell.prune()
    except InvalidArchitectureError:
        return cell


def _key(cell: Cell) -> str:
    return network(cell).hash()


def _val_acc(evaluation: Any) -> float:
    value = evaluation if isinstance(evaluation, (int, float)) else evaluation.val_acc
    return float(value)


class NASGEM(Strategy):
    """The NASGEM bootstrap search (agreed reconstruction; see the module docstring).

    Args:
        space: a search space (:func:`carbide.nas.spaces.make_space`).
        config: :class:`NASGEMConfig` (defaults when ``None``).
        seed: seeds sampling, the encoder and the predictors (default 0).
        encoder: a trained :class:`GINEncoder` to use instead of pre-training one (it must
            know every op of the space).
        cost_fn: ``cell -> cost`` for the efficiency term (default: predicted ``params``).

    Example:
        >>> from carbide.nas import make_space, run_search                  # doctest: +SKIP
        >>> strategy = NASGEM(make_space("nb201"), seed=0)                  # doctest: +SKIP
        >>> history = run_search(strategy, evaluator, budget=150)           # doctest: +SKIP
    """

    name = "nasgem"

    def __init__(
        self,
        space: Any,
        config: NASGEMConfig | None = None,
        *,
        seed: int = 0,
        encoder: GINEncoder | None = None,
        cost_fn: Callable[[Any], float] | None = None,
    ) -> None:
        super().__init__(space, seed)
        self.config = config or NASGEMConfig()
        if not isinstance(self.config, NASGEMConfig):
            raise InvalidConfigError(
                f"config must be a NASGEMConfig, got {type(self.config).__name__}"
            )
        self.cost_fn = cost_fn
        self.encoder = encoder
        self._queue: list[Any] = []
        self._cells: list[Any] = []  # told cells, in order
        self._acc: list[float] = []
        self._params: list[float | None] = []
        self._seen: set[str] = set()  # hashes of told and queued cells
        self._told_hash: set[str] = set()
        self._pool: list | None = None
        self._pool_emb: np.ndarray | None = None
        self._pool_hash: list[str] | None = None
        self.rounds = 0

    @property
    def min_budget(self) -> int:  # type: ignore[override]
        """The initial random sample (``n_init``) comes before any prediction."""
        return self.config.n_init

    def __repr__(self) -> str:
        c = self.config
        return (f"NASGEM(space={self.space!r}, n_init={c.n_init}, top_k={c.top_k}, "
                f"seed={self.seed})")

    # ------------------------------------------------------------------ ask / tell

    def ask(self) -> Cell:
        """The next cell to evaluate (from the queue; refilled a batch at a time)."""
        if not self._queue:
            self._refill()
        self.asked += 1
        return self._queue.pop(0)

    def tell(self, cell: Cell, evaluation: Any) -> None:
        """Record the evaluation of ``cell`` (an :class:`~carbide.nas.evaluators.Evaluation`
        with ``val_acc`` and optionally ``params``, or a plain accuracy)."""
        super().tell(cell, evaluation)
        h = _key(cell)
        if h in self._told_hash:  # a repeat answered from the evaluator's cache
            return
        self._told_hash.add(h)
        self._cells.append(cell)
        self._acc.append(_val_acc(evaluation))
        params = getattr(evaluation, "params", None)
        self._params.append(None if params is None else float(params))
        self._seen.add(h)

    @property
    def num_told(self) -> int:
        return len(self._cells)

    # ------------------------------------------------------------------ internals

    def _vocabulary(self) -> tuple[str, ...]:
        ops = ("input", "output", *getattr(self.space, "ops", ()))
        return tuple(dict.fromkeys(ops))

    def _embed(self, views: list) -> np.ndarray:
        """Predictor inputs of network views: encoder embeddings or one-hot features."""
        if self.config.encoding == "onehot":
            from .encoder import onehot_encoding

            if not hasattr(self, "_width"):
                finite = pool_views(self.space)
                self._width = (max(v.num_nodes for v in finite[1]) if finite is not None
                               else int(self.space.max_nodes))
            return onehot_encoding(views, self._vocabulary(), self._width)
        return self.encoder.embed(views)

    def _ensure_encoder(self) -> None:
        if self.encoder is not None or self.config.encoding != "wl":
            return
        cfg = self.config
        rng = np.random.default_rng([self.seed, 1])  # own stream: resume does not depend on it
        pool = candidate_pool(self.space)
        if pool is not None:
            idx = rng.choice(len(pool), size=min(cfg.encoder_cells, len(pool)), replace=False)
            cells = [pool[i] for i in idx]
        else:
            cells = [self.space.sample(rng) for _ in range(cfg.encoder_cells)]
        cells = [network(c) for c in cells]
        ops = ("input", "output", *getattr(self.space, "ops", ()))
        ops = tuple(dict.fromkeys((*ops, *(op for c in cells for op in c.ops))))
        self.encoder = train_encoder(cells, ops, cfg.encoder, seed=self.seed)

    def _random_unseen(self, count: int) -> list[Any]:
        out: list[Any] = []
        for _ in range(100 * count):
            if len(out) == count:
                break
            cell = self.space.sample(self.rng)
            h = _key(cell)
            if h not in self._seen:
                self._seen.add(h)
                out.append(cell)
        return out

    def _candidates(self) -> tuple[list[Any], np.ndarray, list[str]]:
        if self._pool is None:
            finite = pool_views(self.space)
            if finite is not None:
                self._pool, views, self._pool_hash = finite
                self._pool_emb = self._embed(views)
        if self._pool is not None:
            return self._pool, self._pool_emb, self._pool_hash
        cfg = self.config
        n_mut = int(round(cfg.pool_size * cfg.mutation_share))
        order = np.argsort(-np.asarray(self._acc))[:5]
        cells = []
        for i in range(n_mut):
            parent = self._cells[int(order[i % len(order)])]
            cells.append(self.space.mutate(parent, self.rng))
        cells += [self.space.sample(self.rng) for _ in range(cfg.pool_size - n_mut)]
        views = [network(c) for c in cells]
        return cells, self._embed(views), [v.hash() for v in views]

    def _refill(self) -> None:
        cfg = self.config
        if self.num_told < cfg.n_init:
            # the initial random sample, queued as one batch
            self._queue.extend(self._random_unseen(cfg.n_init - self.num_told - len(self._queue)))
            if self._queue:
                return
        self._ensure_encoder()
        cells, emb, hashes = self._candidates()
        told_emb = self._embed([network(c) for c in self._cells])
        seed = self.seed * 7919 + self.rounds
        predictor = AccuracyPredictor(cfg.predictor, seed=seed).fit(told_emb, self._acc)
        predicted = predictor.predict(emb)
        cost = None
        if cfg.cost_weight > 0:
            cost = self._costs(cells, emb, told_emb, seed)
        score = efficiency_score(predicted, cost, cfg.cost_weight)
        picked: list[Any] = []
        for i in np.argsort(-score, kind="stable"):
            if hashes[i] in self._seen:
                continue
            self._seen.add(hashes[i])
            picked.append(cells[i])
            if len(picked) == cfg.top_k:
                break
        if not picked:  # the pool is exhausted: fall back to random cells
            picked = self._random_unseen(cfg.top_k)
        if not picked:
            raise InvalidConfigError(
                f"NASGEM: no unevaluated cell left in {self.space!r} after {self.num_told} "
                f"queries; lower the budget"
            )
        self._queue.extend(picked)
        self.rounds += 1

    def _costs(self, cells: list, emb: np.ndarray, told_emb: np.ndarray, seed: int) -> np.ndarray:
        if self.cost_fn is not None:
            return np.array([float(self.cost_fn(c)) for c in cells])
        if any(p is None for p in self._params):
            raise InvalidConfigError(
                "cost_weight > 0 needs a cost_fn or evaluations that report params"
            )
        cost_model = AccuracyPredictor(self.config.predictor, seed=seed + 1)
        return cost_model.fit(told_emb, np.log1p(np.asarray(self._params, float))).predict(emb)

    # ------------------------------------------------------------------ resume

    def state_dict(self) -> dict[str, Any]:
        """JSON-able snapshot: the base strategy state, config, evaluated cells and results,
        the queue and the encoder's weights."""
        state = super().state_dict()
        state.update(
            config=asdict(self.config),
            cells=[c.to_dict() for c in self._cells],
            acc=list(self._acc),
            params=list(self._params),
            queue=[c.to_dict() for c in self._queue],
            rounds=self.rounds,
            encoder=None if self.encoder is None else self.encoder.state_dict(),
        )
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict` into a NASGEM built on the same space."""
        super().load_state_dict(state)
        self.config = NASGEMConfig(**state["config"])
        self._cells = [Cell.from_dict(c) for c in state["cells"]]
        self._acc = [float(a) for a in state["acc"]]
        self._params = list(state["params"])
        self._queue = [Cell.from_dict(c) for c in state["queue"]]
        self._told_hash = {_key(c) for c in self._cells}
        self._seen = self._told_hash | {_key(c) for c in self._queue}
        self.rounds = int(state["rounds"])
        enc = state.get("encoder")
        self.encoder = None if enc is None else GINEncoder.from_state_dict(enc)
        self._pool = self._pool_emb = self._pool_hash = None
