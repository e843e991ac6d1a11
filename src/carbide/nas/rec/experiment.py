"""NASRec applied to a CTR table: train the supernet, search, retrain the best, compare.

:func:`run_nasrec` is what ``carbide nasrec search`` runs: load the data
(:func:`load_ctr`), train a :class:`RecSupernet` over the chosen space with single-operator
any-connection sampling and the warm-up, search it with regularized evolution or random search
(:mod:`carbide.nas.strategies` through :func:`carbide.nas.search.run_search`, subnets scored
with inherited weights after last-layer fine-tuning, duplicates free), retrain the best subnet
from scratch (:meth:`RecSubnet.reset_parameters`) and the hand-designed baselines with the same
recipe, and report test logloss and AUC. :func:`train_arch` trains one architecture JSON from
scratch (``carbide nasrec train``); :func:`rank_correlation` measures how well supernet scores
rank subnets against their stand-alone test logloss.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..._validate import check_int, check_real
from ...exceptions import InvalidConfigError
from .data import TabularCTR
from .space import RecArch, RecSpace, make_rec_space
from .train import (
    SupernetEvaluator,
    TrainConfig,
    count_flops,
    evaluate_model,
    train_model,
    train_supernet,
)

__all__ = ["NASRecConfig", "load_ctr", "rank_correlation", "run_nasrec", "search_to_dir",
           "train_arch",
           "train_to_dir", "trained_supernet"]

_STRATEGIES = ("rea", "random")


@dataclass(frozen=True)
class NASRecConfig:
    """One NASRec search (see :func:`run_nasrec`).

    Attributes:
        data: ``"movielens-100k"``, ``"criteo:PATH"``, ``"avazu:PATH"`` or ``"csv:PATH"``.
        label: the click column (csv only; fixed for the others).
        sparse, dense: csv column roles (``None``: typed automatically).
        max_rows: read at most this many rows (criteo/avazu/csv), or subsample MovieLens.
        max_table_size: embedding-table cap; bigger vocabularies are hashed.
        space: ``"small"`` or ``"full"``.
        dense_dims, sparse_dims, merger_tokens: width overrides of the space (``None``: the
            paper's; CPU runs scale them down).
        interactions: allow the d2s/fm balancing interactions.
        budget: subnets scored by the search.
        strategy: ``"rea"`` (regularized evolution) or ``"random"``.
        population, sample_size: REA's ``P`` and ``S``.
        supernet_epochs, epochs: training epochs of the supernet and of stand-alone models.
        lr, batch_size: Adagrad learning rate and batch size (paper: 0.12, 512).
        warmup_frac: fraction of supernet steps in the full-supernet warm-up.
        finetune_steps, finetune_rows, val_rows: scoring (see :class:`SupernetEvaluator`).
        baselines: hand-designed models to train beside (names of ``BASELINES``).
        seed: seeds the supernet, the search and the retraining.
    """

    data: str = "movielens-100k"
    label: str | None = None
    sparse: tuple[str, ...] | None = None
    dense: tuple[str, ...] | None = None
    max_rows: int | None = None
    max_table_size: int = 1_000_000
    space: str = "small"
    dense_dims: tuple[int, ...] | None = (16, 32, 64, 128, 256)
    sparse_dims: tuple[int, ...] | None = (4, 8, 12, 16)
    merger_tokens: int = 4
    interactions: bool = True
    budget: int = 64
    strategy: str = "rea"
    population: int = 16
    sample_size: int = 4
    supernet_epochs: int = 1
    epochs: int = 1
    lr: float = 0.12
    batch_size: int = 512
    warmup_frac: float = 0.25
    finetune_steps: int = 50
    finetune_rows: int = 4096
    val_rows: int | None = 5000
    baselines: tuple[str, ...] = ("lr", "fm", "deepfm", "dlrm", "dcnv2")
    seed: int = 0

    def __post_init__(self) -> None:
        from .baselines import BASELINES

        if self.space not in ("small", "full"):
            raise InvalidConfigError(f"space must be 'small' or 'full', got {self.space!r}")
        if self.strategy not in _STRATEGIES:
            raise InvalidConfigError(
                f"strategy must be one of {list(_STRATEGIES)}, got {self.strategy!r}"
            )
        for name in ("budget", "population", "sample_size", "supernet_epochs", "epochs",
                     "batch_size", "merger_tokens"):
            check_int(name, getattr(self, name), 1)
        check_int("finetune_steps", self.finetune_steps, 0)
        check_int("finetune_rows", self.finetune_rows, 1)
        check_int("seed", self.seed, 0)
        check_real("lr", self.lr, 0.0, 10.0, lo_open=True)
        check_real("warmup_frac", self.warmup_frac, 0.0, 1.0)
        if self.strategy == "rea" and self.budget < self.population:
            raise InvalidConfigError(
                f"budget {self.budget} is below REA's population {self.population}; raise the "
                f"budget or lower --population"
            )
        bad = [b for b in self.baselines if b not in BASELINES]
        if bad:
            raise InvalidConfigError(f"unknown baseline(s) {bad}; choose from {list(BASELINES)}")
        if self.max_rows is not None:
            check_int("max_rows", self.max_rows, 10)
        check_int("max_table_size", self.max_table_size, 2)
        kind = self.data.split(":", 1)[0]
        if kind not in ("movielens-100k", "criteo", "avazu", "csv"):
            raise InvalidConfigError(
                f"data must be movielens-100k, criteo:PATH, avazu:PATH or csv:PATH, got "
                f"{self.data!r}"
            )
        if kind == "csv" and not self.label:
            raise InvalidConfigError("a csv needs --label naming its click column")

    def make_space(self) -> RecSpace:
        overrides: dict[str, Any] = {"interactions": self.interactions,
                                     "merger_tokens": self.merger_tokens}
        if self.dense_dims is not None:
            overrides["dense_dims"] = tuple(self.dense_dims)
        if self.sparse_dims is not None:
            overrides["sparse_dims"] = tuple(self.sparse_dims)
        return make_rec_space(self.space, **overrides)

    def train_config(self, epochs: int | None = None, seed: int | None = None) -> TrainConfig:
        return TrainConfig(epochs=epochs or self.epochs, batch_size=self.batch_size, lr=self.lr,
                           seed=self.seed if seed is None else seed)


def load_ctr(spec: str, *, label: str | None = None, sparse=None, dense=None,
             max_rows: int | None = None, max_table_size: int = 1_000_000,
             root=None) -> TabularCTR:
    """Load a CTR table by spec (see :attr:`NASRecConfig.data`)."""
    kind, _, path = spec.partition(":")
    if kind == "movielens-100k":
        from ...datasets import MOVIELENS_CTR_FIELDS as F  # noqa: N811
        from ...datasets import load_movielens_ctr

        data = TabularCTR.from_dataframe(load_movielens_ctr(root), sparse=F["sparse"],
                                         dense=F["dense"], multi_hot=F["multi_hot"],
                                         label=F["label"], max_table_size=max_table_size)
        return data.subsample(max_rows) if max_rows else data
    if not path:
        raise InvalidConfigError(f"data {spec!r} needs a path: {kind}:PATH")
    if kind == "criteo":
        return TabularCTR.from_criteo(path, max_rows=max_rows, max_table_size=max_table_size)
    if kind == "avazu":
        return TabularCTR.from_avazu(path, max_rows=max_rows, max_table_size=max_table_size)
    if kind == "csv":
        if not label:
            raise InvalidConfigError("a csv needs label= (the click column)")
        return TabularCTR.from_csv(path, label=label, sparse=sparse, dense=dense,
                                   max_rows=max_rows, max_table_size=max_table_size)
    raise InvalidConfigError(f"unknown data kind {kind!r}; use movielens-100k, criteo:, "
                             f"avazu: or csv:")


def _standalone(model, data: TabularCTR, config: TrainConfig) -> dict[str, Any]:
    history = train_model(model, data, config)
    scores = evaluate_model(model, data, "test")
    flops, params = count_flops(model, data)
    return {"test_logloss": scores["logloss"], "test_auc": scores["auc"], "flops": flops,
            "params": params, "train_s": history["train_s"]}


def train_arch(arch: RecArch | str | os.PathLike[str] | dict, data: TabularCTR,
               config: NASRecConfig, *, seed: int | None = None) -> dict[str, Any]:
    """Train one architecture from scratch (a RecArch, JSON text/dict, or a path to
    ``best_arch.json``). Returns test logloss/AUC, FLOPs, params."""
    from .supernet import RecSupernet, export_subnet

    space = config.make_space()
    arch = _as_arch(arch)
    space.validate_arch(arch)
    seed = config.seed if seed is None else seed
    shell = RecSupernet(space, data.vocab_sizes, data.bag_sizes, data.num_dense, seed=seed)
    model = export_subnet(shell, arch).reset_parameters(seed)
    del shell
    return _standalone(model, data, config.train_config(seed=seed))


def _as_arch(arch: Any) -> RecArch:
    if isinstance(arch, RecArch):
        return arch
    if isinstance(arch, dict):
        return RecArch.from_dict(arch.get("arch", arch))
    text = str(arch)
    if os.path.exists(text):
        with open(text, encoding="utf-8") as fh:
            data = json.load(fh)
        return RecArch.from_dict(data.get("arch", data) if isinstance(data, dict) else data)
    return RecArch.from_json(text)


def trained_supernet(data: TabularCTR, config: NASRecConfig, space: RecSpace | None = None,
                     *, seed: int | None = None):
    """A :class:`RecSupernet` trained on ``data`` (returns ``(supernet, history)``)."""
    from .supernet import RecSupernet

    space = space or config.make_space()
    seed = config.seed if seed is None else seed
    net = RecSupernet(space, data.vocab_sizes, data.bag_sizes, data.num_dense, seed=seed)
    tc = config.train_config(epochs=config.supernet_epochs, seed=seed)
    steps = int(np.ceil(len(data.splits["train"]) / tc.batch_size)) * tc.epochs
    history = train_supernet(net, data, tc, warmup_steps=int(round(config.warmup_frac * steps)),
                             seed=seed)
    return net, history


def run_nasrec(config: NASRecConfig, *, data: TabularCTR | None = None, root=None,
               progress: bool = False) -> dict[str, Any]:
    """Train the supernet, search, retrain the best and the baselines (see the module doc).

    Returns:
        ``{"metrics": {...}, "best_arch": dict, "history": SearchHistory, "rows": [...],
        "supernet": {...}}``; metrics hold ``test_logloss``, ``test_auc`` (the searched
        model retrained from scratch), ``flops``, ``params``, ``search_best_val_logloss``,
        ``duplicates`` and ``baseline_<name>_test_logloss`` / ``_test_auc`` per baseline.
    """
    from ..search import run_search
    from ..strategies import RandomSearch, RegularizedEvolution
    from .baselines import build_baseline

    if data is None:
        data = load_ctr(config.data, label=config.label, sparse=config.sparse,
                        dense=config.dense, max_rows=config.max_rows,
                        max_table_size=config.max_table_size, root=root)
    space = config.make_space()
    net, sn_hist = trained_supernet(data, config, space)
    evaluator = SupernetEvaluator(net, data, finetune_steps=config.finetune_steps,
                                  finetune_rows=config.finetune_rows, val_rows=config.val_rows,
                                  batch_size=config.batch_size, seed=config.seed)
    if config.strategy == "rea":
        strategy = RegularizedEvolution(space, population=config.population,
                                        sample_size=config.sample_size, seed=config.seed)
    else:
        strategy = RandomSearch(space, seed=config.seed)
    history = run_search(strategy, evaluator, config.budget, progress=progress)
    best = history.best
    arch = space.to_arch(best["cell"])
    searched = train_arch(arch, data, config)
    metrics: dict[str, Any] = {
        "test_logloss": searched["test_logloss"], "test_auc": searched["test_auc"],
        "flops": searched["flops"], "params": searched["params"],
        "search_best_val_logloss": -float(best["val_acc"]),
        "duplicates": history.duplicates, "supernet_train_s": sn_hist["train_s"],
        "supernet_full_steps": sn_hist["full_steps"],
    }
    rows = [{"model": f"nasrec-{config.space}", **searched}]
    for name in config.baselines:
        res = _standalone(build_baseline(name, data, seed=config.seed), data,
                          config.train_config())
        metrics[f"baseline_{name}_test_logloss"] = res["test_logloss"]
        metrics[f"baseline_{name}_test_auc"] = res["test_auc"]
        rows.append({"model": name, **res})
    return {"metrics": metrics, "best_arch": arch.to_dict(), "history": history, "rows": rows,
            "space": space.config(),
            "supernet": {k: sn_hist[k] for k in ("steps", "train_s", "full_steps")},
            "config": asdict(config)}


def rank_correlation(data: TabularCTR, config: NASRecConfig, *, num_subnets: int = 30,
                     interactions: bool = True, seed: int = 0) -> dict[str, Any]:
    """Kendall tau and Spearman rho between supernet scores and stand-alone test logloss.

    ``num_subnets`` random architectures of the space (with or without the balancing
    interactions) are scored by a supernet trained on ``data`` with and without last-layer
    fine-tuning, and trained stand-alone from scratch with ``config``'s recipe.

    Returns:
        ``{"kendall_ft", "spearman_ft", "kendall_noft", "spearman_noft", "subnets": [...]}``
        (correlations between validation logloss by inheritance and stand-alone test logloss).
    """
    from scipy.stats import kendalltau, spearmanr

    check_int("num_subnets", num_subnets, 3)
    cfg = NASRecConfig(**{**asdict(config), "interactions": interactions, "seed": seed})
    space = cfg.make_space()
    net, _ = trained_supernet(data, cfg, space)
    ft = SupernetEvaluator(net, data, finetune_steps=cfg.finetune_steps,
                           finetune_rows=cfg.finetune_rows, val_rows=cfg.val_rows, seed=seed)
    noft = SupernetEvaluator(net, data, finetune_steps=0, finetune_rows=cfg.finetune_rows,
                             val_rows=cfg.val_rows, seed=seed)
    rng = np.random.default_rng(seed + 1000)
    subnets, seen = [], set()
    while len(subnets) < num_subnets:
        arch = space.sample_arch(rng)
        if arch.to_json() in seen:
            continue
        seen.add(arch.to_json())
        alone = train_arch(arch, data, cfg, seed=seed)
        subnets.append({"arch": arch.to_json(),
                        "score_ft": ft.score_arch(arch)["val_logloss"],
                        "score_noft": noft.score_arch(arch)["val_logloss"],
                        "standalone_test_logloss": alone["test_logloss"]})
    truth = [s["standalone_test_logloss"] for s in subnets]
    out: dict[str, Any] = {"subnets": subnets, "interactions": interactions}
    for key in ("ft", "noft"):
        scores = [s[f"score_{key}"] for s in subnets]
        out[f"kendall_{key}"] = float(kendalltau(scores, truth).statistic)
        out[f"spearman_{key}"] = float(spearmanr(scores, truth).statistic)
    return out


def search_to_dir(config: NASRecConfig, out: str | os.PathLike[str], *, root=None,
                  progress: bool = False) -> dict[str, Any]:
    """:func:`run_nasrec`, written to ``out``: ``best_arch.json`` (the space and the
    architecture), ``results.json`` (metrics ``test_logloss``, ``test_auc``,
    ``baseline_<name>_test_logloss``, ...; rows = models and the search records) and
    ``report.md`` with the search curve."""
    from pathlib import Path

    from ..._io import atomic_write
    from ...results import Report, RunRecorder, subplots

    recorder = RunRecorder(out, system="nasrec", config=asdict(config))
    result = run_nasrec(config, root=root, progress=progress)
    with atomic_write(Path(out) / "best_arch.json") as fh:
        fh.write(json.dumps({"space": result["space"], "arch": result["best_arch"]},
                            indent=2) + "\n")
    records = result["history"].records
    fig, ax = subplots()
    ax.plot([r["query"] for r in records], [-r["best_so_far"] for r in records])
    ax.set_xlabel("subnets scored")
    ax.set_ylabel("best validation logloss (inherited weights)")
    m = result["metrics"]
    report = (Report(f"NASRec-{config.space.capitalize()} search on {config.data}")
              .paragraph(f"{config.strategy} over {config.budget} subnets scored with weights "
                         f"inherited from the supernet after last-layer fine-tuning; the best "
                         f"retrained from scratch ({config.epochs} epoch(s), Adagrad lr "
                         f"{config.lr}, batch {config.batch_size}).")
              .table(result["rows"], ["model", "test_logloss", "test_auc", "flops", "params",
                                      "train_s"])
              .figure(fig, "search_curve.png", "best validation logloss so far"))
    rows = [{"kind": "model", **r} for r in result["rows"]]
    rows += [{"kind": "search", **{k: r[k] for k in ("query", "val_acc", "best_so_far",
                                                     "cost_s", "params")}} for r in records]
    recorder.finish(metrics=m, rows=rows, report=report)
    return {**result, "out": str(out)}


def train_to_dir(arch_path: str | os.PathLike[str], config: NASRecConfig,
                 out: str | os.PathLike[str], *, root=None) -> dict[str, Any]:
    """Train the architecture of ``arch_path`` (a ``best_arch.json``; its ``space`` is used
    when present) from scratch and write ``results.json``/``report.md`` to ``out``."""
    from ...results import Report, RunRecorder
    from .space import space_from_config

    with open(arch_path, encoding="utf-8") as fh:
        try:
            saved = json.load(fh)
        except json.JSONDecodeError as exc:
            raise InvalidConfigError(f"{arch_path} is not JSON: {exc}") from None
    if isinstance(saved, dict) and "space" in saved:
        space = space_from_config(saved["space"])
        config = NASRecConfig(**{**asdict(config), "space": space.name.removeprefix("nasrec-"),
                                 "dense_dims": space.dense_dims,
                                 "sparse_dims": space.sparse_dims,
                                 "merger_tokens": space.merger_tokens,
                                 "interactions": space.interactions})
    recorder = RunRecorder(out, system="nasrec", config={"arch": str(arch_path),
                                                         **asdict(config)})
    data = load_ctr(config.data, label=config.label, sparse=config.sparse, dense=config.dense,
                    max_rows=config.max_rows,
                        max_table_size=config.max_table_size, root=root)
    res = train_arch(saved, data, config)
    report = (Report(f"NASRec architecture {arch_path} trained from scratch on {config.data}")
              .table([res], ["test_logloss", "test_auc", "flops", "params", "train_s"]))
    recorder.finish(metrics=res, rows=[res], report=report)
    return res
