"""``carbide nasgem repro``: the NASGEM reproduction (agreed reconstruction, small scale).

Parts, each against its baselines on real benchmark data:

(a) embedding quality: Spearman/Kendall between embedding cosine and the normalized WL
    kernel on held-out pairs, NASGEM's WL-trained encoder against the flattened adjacency +
    op one-hot encoding, on NAS-Bench-201, the NAS-Bench-101 subset and large (``cell:N``)
    cells;
(b) predictor quality vs training cells (:mod:`.study`): Spearman and Kendall on held-out
    cells of NAS-Bench-201 and NAS-Bench-101 for the MLP on WL embeddings (NASGEM), on one-hot
    and on path encodings, and an end-to-end GCN, over seeds (mean and Student-t 95% CI); the
    encoder setting is chosen first by a small ablation (embedding size, WL iterations,
    training steps) on validation seeds disjoint from the study's;
(c) search regret on NAS-Bench-201 (CIFAR-10) and the NAS-Bench-101 subset: best validation
    accuracy vs queries for NASGEM with embeddings, NASGEM with one-hot features, regularized
    evolution and random search at equal budgets, regret to the table's best;
(d) a short large-cell (20-30 nodes) search with the Fashion-MNIST training evaluator;
(e) the efficiency term: NASGEM on NAS-Bench-201 with ``cost_weight`` 0 and > 0;
(f) NASGEM's best NAS-Bench-201 cells beside DARTS and GDAS as the NAS-Bench-201 paper reports
    them (quoted figures, labelled so), parameters of the cells from the table.

The full plan runs in stages (``plan.stages``): every stage writes ``out/stages/<name>.json``
and a rerun of the same command skips the stages already written, so it can be stopped and
resumed, and several processes can share the work (a stage being run by another live
process is skipped; the run that finds every stage done renders the report).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ...exceptions import CarbideError, InvalidConfigError
from ...results import execute_repro
from .baselines import GCNConfig
from .encoder import EncoderConfig
from .experiment import curve_figure
from .predictor import PredictorConfig
from .search import NASGEMConfig
from .study import METHODS

__all__ = ["FULL_PLAN", "NB201_PAPER", "QUICK_PLAN", "ReproPlan", "render", "run_plan",
           "run_repro"]

PAPER = "Cheng et al., NASGEM, AAAI 2021, arXiv 2007.04452"

#: NAS-Bench-201 (Dong & Yang, ICLR 2020, arXiv 2001.00326), Table 5, CIFAR-10: validation
#: and test accuracy (mean ± std over runs) of the differentiable searches, quoted, not
#: measured here. DARTS (first and second order) converges to the all-skip-connection cell;
#: its parameters are that cell's in the table (the ``arch`` key). The paper's table does not
#: name GDAS's cell, so its size is not given.
NB201_PAPER = (
    {"method": "DARTS-V1", "valid": 39.77, "valid_sd": 0.00, "test": 54.30, "test_sd": 0.00,
     "arch": "111111"},
    {"method": "DARTS-V2", "valid": 39.77, "valid_sd": 0.00, "test": 54.30, "test_sd": 0.00,
     "arch": "111111"},
    {"method": "GDAS", "valid": 89.89, "valid_sd": 0.08, "test": 93.61, "test_sd": 0.09,
     "arch": None},
)

#: the search strategies compared in part (c)
SEARCH_STRATEGIES = ("nasgem", "nasgem-onehot", "rea", "random")


def _ablation_default() -> tuple[EncoderConfig, ...]:
    return (EncoderConfig(), EncoderConfig(emb_dim=64, steps=1500))


@dataclass(frozen=True)
class ReproPlan:
    """Sizes of the reproduction (see :data:`QUICK_PLAN`, :data:`FULL_PLAN`)."""

    embed_spaces: tuple[str, ...] = ("nb201", "nb101", "cell:30")
    embed_train: int = 1000
    embed_heldout: int = 300
    encoder_steps: int = 600
    #: (b) training-set sizes, seeds, held-out cells per benchmark, methods
    predictor_sizes: tuple[int, ...] = (10, 20, 50, 100, 200, 400)
    predictor_seeds: int = 10
    predictor_benchmarks: tuple[str, ...] = ("nb201", "nb101")
    predictor_test_nb201: int = 2000
    predictor_test_nb101: int = 100
    predictor_methods: tuple[str, ...] = METHODS
    #: unlabelled cells the study's encoder trains on (at most the table's size)
    study_encoder_cells: int = 1000
    study_predictor: PredictorConfig = field(default_factory=lambda: PredictorConfig(ensemble=3))
    study_gcn: GCNConfig = field(default_factory=GCNConfig)
    #: (b) encoder settings tried first on NB201 (validation seeds 100.., sizes below); the
    #: best mean Spearman is the study's encoder
    ablation_encoders: tuple[EncoderConfig, ...] = field(default_factory=_ablation_default)
    ablation_sizes: tuple[int, ...] = (50, 200)
    ablation_seeds: int = 1
    nb201_budget: int = 150
    nb101_budget: int = 50
    seeds: int = 5
    search_strategies: tuple[str, ...] = SEARCH_STRATEGIES
    nasgem: NASGEMConfig = field(default_factory=NASGEMConfig)
    large_space: str = "cell:30"
    large_budget: int = 20
    large_seeds: int = 1
    large_strategies: tuple[str, ...] = ("nasgem", "random")
    large_nasgem: NASGEMConfig = field(
        default_factory=lambda: NASGEMConfig(n_init=8, top_k=4, pool_size=3000,
                                             encoder_cells=600))
    large_train: dict[str, Any] = field(default_factory=lambda: {
        "max_steps": 40, "channels": 8, "num_stacks": 1, "batch_size": 64,
        "train_size": 2560, "val_size": 512})
    efficiency_weights: tuple[float, ...] = (0.0, 10.0)
    efficiency_seeds: int = 2
    #: queries of each efficiency-term search (``None``: ``nb201_budget``)
    efficiency_budget: int | None = 100
    #: run in resumable stages under ``out/stages`` (see the module docstring)
    stages: bool = True
    #: measured wall time of this plan (minutes; the full plan under load, see its report)
    expected_minutes: float = 90.0


FULL_PLAN = ReproPlan()
#: Quick: every part of the full run, smaller (see QUICK_LIMITS); about a minute idle.
QUICK_PLAN = ReproPlan(
    embed_train=200, embed_heldout=120, encoder_steps=150,
    predictor_sizes=(10, 50, 200), predictor_seeds=2, predictor_test_nb201=500,
    predictor_test_nb101=100, study_encoder_cells=200,
    study_predictor=PredictorConfig(ensemble=2, epochs=150),
    study_gcn=GCNConfig(epochs=100),
    ablation_encoders=(EncoderConfig(steps=150), EncoderConfig(steps=150, emb_dim=64)),
    ablation_sizes=(50,), ablation_seeds=1,
    nb201_budget=40, nb101_budget=30, seeds=2,
    nasgem=NASGEMConfig(encoder_cells=200, encoder=EncoderConfig(steps=150),
                        predictor=PredictorConfig(ensemble=3, epochs=200)),
    large_space="cell:20", large_budget=6, large_seeds=1,
    large_nasgem=NASGEMConfig(n_init=4, top_k=2, pool_size=1000, encoder_cells=200,
                              encoder=EncoderConfig(steps=150)),
    large_train={"max_steps": 15, "channels": 8, "num_stacks": 1, "batch_size": 64,
                 "train_size": 1024, "val_size": 512},
    efficiency_weights=(0.0, 10.0), efficiency_seeds=1, efficiency_budget=40,
    stages=False, expected_minutes=1.5,
)

#: What the quick plan cannot show at its size (printed in its report).
QUICK_LIMITS = (
    "Quick mode is a smaller run of the same parts: the predictor study at 10, 50 and 200 "
    "cells with 2 seeds (500 held-out NB201 cells, smaller predictors, a 150-step encoder on "
    "200 cells; its intervals are wide), a 2-setting one-seed encoder ablation, 2 search "
    "seeds of 40 NAS-Bench-201 / 30 NAS-Bench-101 queries (a regret difference smaller than "
    "about one sd is not resolved, and late gains are cut off), a 6-query one-seed "
    "large-cell search on 20-node cells with 15-step proxy training (its accuracies only "
    "rank cells), and one 40-query seed per efficiency weight; docs/reports/nasgem has the "
    "full run.")


def _embedding_part(plan: ReproPlan, seed: int, root: Any) -> list[dict[str, Any]]:
    from ..spaces import make_space
    from .experiment import embedding_experiment, load_benchmark

    rows = []
    for spec in plan.embed_spaces:
        bench = load_benchmark(spec, root=root) if spec in ("nb201", "nb101") else None
        space = make_space(spec, bench=bench)
        n_train, n_held = plan.embed_train, plan.embed_heldout
        if spec == "nb101":  # the table has 500 cells; keep the same split ratio
            n_held = min(n_held, 150)
            n_train = min(n_train, 300)
        res = embedding_experiment(space, train_cells=n_train, heldout_cells=n_held,
                                   config=EncoderConfig(steps=plan.encoder_steps), seed=seed)
        rows.append({"space": spec, **{k: v for k, v in res.items() if k != "loss"}})
    return rows


def _pools(root: Any, cache: dict[str, Any], name: str) -> Any:
    from .experiment import load_benchmark
    from .study import benchmark_pool

    if name not in cache:
        cache[name] = benchmark_pool(name, load_benchmark(name, root=root))
    return cache[name]


def _ablation_stage(plan: ReproPlan, index: int, ab_seed: int, pool: Any
                    ) -> list[dict[str, Any]]:
    from .study import predictor_study

    enc = plan.ablation_encoders[index]
    rows = predictor_study(pool, sizes=plan.ablation_sizes, seed=ab_seed,
                           test_size=plan.predictor_test_nb201, methods=("wl",), encoder=enc,
                           encoder_cells=plan.study_encoder_cells,
                           predictor=plan.study_predictor)
    return [{"part": "ablation", "setting": index, "emb_dim": enc.emb_dim, "h": enc.h,
             "layers": enc.layers, "steps": enc.steps, **r} for r in rows]


def _chosen_encoder(plan: ReproPlan, rows: list[dict[str, Any]]) -> int:
    """Index of the ablation setting with the best mean Spearman (ties: the first)."""
    means = []
    for i in range(len(plan.ablation_encoders)):
        sub = [r["spearman"] for r in rows if r["part"] == "ablation" and r["setting"] == i]
        means.append(float(np.mean(sub)) if sub else -np.inf)
    return int(np.argmax(means))


def _study_stage(plan: ReproPlan, bench: str, s: int, pool: Any, encoder: EncoderConfig
                 ) -> list[dict[str, Any]]:
    from .study import predictor_study

    test = plan.predictor_test_nb201 if bench == "nb201" else plan.predictor_test_nb101
    rows = predictor_study(pool, sizes=plan.predictor_sizes, seed=s, test_size=test,
                           methods=plan.predictor_methods, encoder=encoder,
                           encoder_cells=plan.study_encoder_cells,
                           predictor=plan.study_predictor, gcn=plan.study_gcn)
    return [{"part": "predictor", "benchmark": bench, **r} for r in rows]


def _search_part(part: str, spec: str, budget: int, seeds: int, cfg: NASGEMConfig, seed: int,
                 strategies=("nasgem", "rea", "random"), factory=None,
                 space=None, root: Any = None) -> list[dict[str, Any]]:
    """Rows per (strategy, seed) with the run's ``curve`` (best val acc after each query)
    and the table's ``optimum``."""
    from ..evaluators import make_evaluator
    from ..spaces import make_space
    from .experiment import compare_strategies, load_benchmark

    if factory is None:
        bench = load_benchmark(spec, root=root)
        space = make_space(spec, bench=bench)

        def factory(s):
            return make_evaluator(spec, bench)

    result = compare_strategies(space, factory, strategies=strategies, budget=budget,
                                seeds=list(range(seed, seed + seeds)), nasgem=cfg,
                                show_progress=False)
    index = {name: 0 for name in result.curves}
    rows = []
    for row in result.rows:
        curve = result.curves[row["strategy"]][index[row["strategy"]]]
        index[row["strategy"]] += 1
        rows.append({"part": part, **row, "optimum": result.optimum,
                     "curve": [float(v) for v in curve]})
    return rows


def _comparison(rows: list[dict[str, Any]], part: str) -> Any:
    """The :class:`ComparisonResult` of one search part, rebuilt from its rows."""
    from .experiment import ComparisonResult

    mine = [r for r in rows if r["part"] == part]
    curves: dict[str, list[list[float]]] = {}
    for r in mine:
        curves.setdefault(r["strategy"], []).append(r["curve"])
    return ComparisonResult(
        rows=[{k: v for k, v in r.items() if k not in ("part", "curve", "optimum")}
              for r in mine],
        curves={k: np.array(v, dtype=float) for k, v in curves.items()},
        optimum=mine[0]["optimum"] if mine else None)


def _large_part(plan: ReproPlan, seed: int, root: Any, strategy: str) -> list[dict[str, Any]]:
    from ..evaluators import TrainingEvaluator
    from ..spaces import make_space

    space = make_space(plan.large_space)
    shared: dict[str, Any] = {}

    def factory(s):
        if "data" not in shared:
            shared["data"] = TrainingEvaluator(root=root, **plan.large_train).data()
        return TrainingEvaluator(data=shared["data"], **plan.large_train)

    return _search_part("search_large", plan.large_space, plan.large_budget,
                        plan.large_seeds, plan.large_nasgem, seed,
                        strategies=(strategy,), factory=factory, space=space)


def _efficiency_part(plan: ReproPlan, seed: int, root: Any, weight: float
                     ) -> list[dict[str, Any]]:
    from ..evaluators import make_evaluator
    from ..search import run_search
    from ..spaces import make_space
    from .experiment import load_benchmark
    from .search import NASGEM

    bench = load_benchmark("nb201", root=root)
    space = make_space("nb201")
    rows = []
    cfg = replace(plan.nasgem, cost_weight=weight)
    for s in range(seed, seed + plan.efficiency_seeds):
        history = run_search(NASGEM(space, cfg, seed=s), make_evaluator("nb201", bench),
                             plan.efficiency_budget or plan.nb201_budget)
        params = np.array([r["params"] for r in history.records]) / 1e6
        best = history.best
        rows.append({
            "cost_weight": weight, "seed": s, "best_val_acc": best["val_acc"],
            "best_params_M": best["params"] / 1e6,
            "queried_params_M": float(params[cfg.n_init:].mean()),
        })
    return rows


def _at(result: Any, name: str, q: int) -> dict[str, float]:
    """Mean and sample sd over seeds of the best val acc (and regret) after ``q`` queries."""
    from ...results import seed_summary

    curve = result.curves[name][:, q - 1]
    best = seed_summary(curve)
    out = {"best_mean": best.mean, "best_sd": best.std}
    if result.optimum is not None:
        reg = seed_summary(result.optimum - curve)
        out["regret_mean"] = reg.mean
        out["regret_sd"] = reg.std
    return out


def _reference_stage(rows: list[dict[str, Any]], root: Any) -> list[dict[str, Any]]:
    """Part (f): table entries of the NB201 cells NASGEM found (both encodings), the
    all-skip cell DARTS collapses to and the table's best cell."""
    from ...datasets.nasbench import nb201_key_to_arch_str
    from .experiment import load_benchmark

    bench = load_benchmark("nb201", root=root)
    found: dict[str, list[str]] = {}
    for r in rows:
        if r.get("part") == "search_nb201" and r["strategy"].startswith("nasgem"):
            found.setdefault(str(r["best_arch"]), []).append(f"{r['strategy']}:{r['seed']}")
    out = []
    cells = [(k, "found by " + ", ".join(v)) for k, v in sorted(found.items())]
    cells += [("111111", "all skip_connect (the cell DARTS collapses to)"),
              (str(bench.best()["arch"]), "table best (validation)")]
    for key, what in cells:
        q = bench.query(key)
        out.append({"part": "reference", "arch": key, "arch_str": nb201_key_to_arch_str(key),
                    "what": what, "val_acc": q["val_acc"], "params_M": q["model_size"]})
    return out


class _Stages:
    """Stage files under ``where`` (``None``: run everything in memory, no files)."""

    def __init__(self, where: Path | None, plan: ReproPlan, seed: int) -> None:
        from ...results import bind_plan_folder, to_jsonable

        self.where = where
        self.pending: list[str] = []
        if where is None:
            return
        key = json.loads(json.dumps(to_jsonable({"plan": plan, "seed": seed})))
        key["plan"].pop("expected_minutes", None)
        bind_plan_folder(where, key)

    def run(self, name: str, fn: Any) -> list[dict[str, Any]] | None:
        """Rows of stage ``name``: read back, or computed and written; ``None`` when another
        live process holds the stage."""
        if self.where is None:
            t0 = time.perf_counter()
            rows = fn()
            return [*rows, {"part": "stage", "stage": name, "seconds": time.perf_counter() - t0}]
        from ..._io import atomic_write
        from ...results import to_jsonable

        path = self.where / f"{name.replace(':', '-')}.json"
        if path.exists():
            return json.loads(path.read_text())["rows"]
        lock = path.with_suffix(".lock")
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                pid = int(lock.read_text() or 0)
                os.kill(pid, 0)
                self.pending.append(name)
                return None  # another process runs it
            except (ProcessLookupError, ValueError):
                lock.unlink(missing_ok=True)  # a stale lock of a stopped run
                return self.run(name, fn)
        with os.fdopen(fd, "w") as fh:
            fh.write(str(os.getpid()))
        try:
            t0 = time.perf_counter()
            rows = to_jsonable(fn())
            rows.append({"part": "stage", "stage": name, "seconds": time.perf_counter() - t0,
                         "load_avg": os.getloadavg()[0]})
            with atomic_write(path) as fh:
                fh.write(json.dumps({"stage": name, "rows": rows}, allow_nan=False) + "\n")
        finally:
            lock.unlink(missing_ok=True)
        return rows


def run_plan(plan: ReproPlan, *, seed: int = 0, root: str | os.PathLike[str] | None = None,
             stage_dir: str | os.PathLike[str] | None = None) -> list[dict[str, Any]]:
    """Measure parts (a)-(f) of the module docstring; one row per measurement.

    Rows carry ``part``: ``embedding``, ``ablation``, ``predictor`` (per benchmark, method,
    training size and seed), ``search_nb201``, ``search_nb101``, ``search_large`` (per
    strategy and seed, with the ``curve`` of best val acc per query), ``efficiency``,
    ``reference``, one ``stage`` row per stage (its seconds) and one ``run`` row (first seed).

    Args:
        plan: the sizes (:data:`QUICK_PLAN`, :data:`FULL_PLAN` or a smaller one).
        seed: first seed (strategy seeds are ``seed .. seed + seeds - 1``, study seeds
            ``seed .. seed + predictor_seeds - 1``, ablation seeds from ``seed + 100``).
        root: data root of the benchmark tables and Fashion-MNIST (default ``$CARBIDE_DATA``).
        stage_dir: write each stage to ``stage_dir/<stage>.json`` and skip the stages already
            there (resume; see the module docstring). ``None``: all in memory.

    Raises:
        CarbideError: with ``stage_dir``, some stages are still being run by another process
            (rerun when it has finished to render).
    """
    from ...results import progress

    if not isinstance(plan, ReproPlan):
        raise InvalidConfigError(f"plan must be a ReproPlan, got {type(plan).__name__}")
    stages = _Stages(None if stage_dir is None else Path(stage_dir), plan, seed)
    pools: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []

    def take(name: str, fn: Any) -> None:
        got = stages.run(name, fn)
        if got is not None:
            rows.extend(got)

    ab_seeds = list(range(seed + 100, seed + 100 + plan.ablation_seeds))
    n_stages = (2 + len(plan.ablation_encoders) * len(ab_seeds)
                + len(plan.predictor_benchmarks) * plan.predictor_seeds
                + 2 * len(plan.search_strategies) + len(plan.large_strategies)
                + len(plan.efficiency_weights) + 1)
    with progress() as bar:
        task = bar.add_task("nasgem repro stages", total=n_stages)

        def step(name: str, fn: Any) -> None:
            take(name, fn)
            bar.advance(task)

        step("embedding", lambda: [{"part": "embedding", **r}
                                   for r in _embedding_part(plan, seed, root)])
        for i in range(len(plan.ablation_encoders)):
            for s in ab_seeds:
                step(f"ablation:{i}:{s}", lambda i=i, s=s: _ablation_stage(
                    plan, i, s, _pools(root, pools, "nb201")))
        ablation_done = (sum(r["part"] == "stage" and r["stage"].startswith("ablation:")
                             for r in rows) == len(plan.ablation_encoders) * len(ab_seeds))
        chosen = plan.ablation_encoders[_chosen_encoder(plan, rows)]
        for bench in plan.predictor_benchmarks:
            for s in range(seed, seed + plan.predictor_seeds):
                if ablation_done:
                    step(f"predictor:{bench}:{s}", lambda b=bench, s=s: _study_stage(
                        plan, b, s, _pools(root, pools, b), chosen))
                else:
                    stages.pending.append(f"predictor:{bench}:{s}")
                    bar.advance(task)
        for spec, budget in (("nb201", plan.nb201_budget), ("nb101", plan.nb101_budget)):
            for name in plan.search_strategies:
                step(f"search_{spec}:{name}", lambda spec=spec, budget=budget, name=name:
                     _search_part(f"search_{spec}", spec, budget, plan.seeds, plan.nasgem, seed,
                                  strategies=(name,), root=root))
        for name in plan.large_strategies:
            step(f"search_large:{name}", lambda name=name: _large_part(plan, seed, root, name))
        for w in plan.efficiency_weights:
            step(f"efficiency:{w:g}", lambda w=w: [
                {"part": "efficiency", **r} for r in _efficiency_part(plan, seed, root, w)])
        if any(p.startswith("search_nb201:") for p in stages.pending):
            stages.pending.append("reference")
        else:
            step("reference", lambda: _reference_stage(rows, root))
    if stages.pending:
        raise CarbideError(
            f"stages still running in another process: {', '.join(stages.pending)}; rerun the "
            f"same command when they finish to render the report")
    return [*rows, {"part": "run", "seed": seed}]


def run_repro(out: str | os.PathLike[str], *, quick: bool = False, seed: int = 0,
              plan: ReproPlan | None = None,
              root: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Run the NASGEM reproduction and write ``results.json``, ``report.md`` and plots.

    With ``plan.stages`` (the full plan) every stage is kept under ``out/stages`` and a rerun
    resumes (see the module docstring).

    Args:
        out: output folder.
        quick: :data:`QUICK_PLAN` (about a minute on 2 cores) instead of :data:`FULL_PLAN`.
        seed: first seed (strategy seeds are ``seed .. seed + seeds - 1``).
        plan: overrides both plans (tests use a tiny one).
        root: data root (default ``$CARBIDE_DATA``).

    Returns:
        The results dict (also in ``out/results.json``).
    """
    import functools

    plan = plan or (QUICK_PLAN if quick else FULL_PLAN)
    run = (functools.partial(run_plan, stage_dir=Path(out) / "stages") if plan.stages
           else run_plan)
    return execute_repro(out, system="nasgem", plan=plan, quick=quick, seed=seed, root=root,
                         run_plan=run, render=render)


def _embedding_figure(embed_rows: list[dict[str, Any]]) -> Any:
    from ...results import subplots

    fig, ax = subplots(figsize=(6.5, 3.6))
    xs = np.arange(len(embed_rows))
    ax.bar(xs - 0.2, [r["spearman"] for r in embed_rows], 0.4, label="NASGEM encoder")
    ax.bar(xs + 0.2, [r["onehot_spearman"] for r in embed_rows], 0.4, label="one-hot")
    ax.set_xticks(xs, [r["space"] for r in embed_rows])
    ax.set_ylabel("Spearman (cosine vs WL kernel)")
    ax.set_title("(a) embedding quality on held-out pairs")
    ax.legend()
    return fig


_METHOD_LABEL = {"wl": "WL embedding (NASGEM)", "onehot": "one-hot adjacency + ops",
                 "path": "path encoding (BANANAS)", "gcn": "GCN (end to end)"}


def _predictor_summary(pred_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (benchmark, method, training size): mean and Student-t 95% CI over seeds of the
    Spearman and Kendall correlations (:func:`carbide.results.seed_summary`)."""
    from ...results import seed_summary

    keys = sorted({(r["benchmark"], r["method"], r["train_size"]) for r in pred_rows},
                  key=lambda k: (k[0] != "nb201", METHODS.index(k[1]), k[2]))
    out = []
    for bench, method, n in keys:
        sub = [r for r in pred_rows
               if (r["benchmark"], r["method"], r["train_size"]) == (bench, method, n)]
        sp = seed_summary(r["spearman"] for r in sub)
        kt = seed_summary(r["kendall"] for r in sub)
        out.append({"benchmark": bench, "method": method, "train_size": n, "seeds": sp.n,
                    "spearman_mean": sp.mean, "spearman_ci_low": sp.ci95_low,
                    "spearman_ci_high": sp.ci95_high, "kendall_mean": kt.mean,
                    "kendall_ci_low": kt.ci95_low, "kendall_ci_high": kt.ci95_high})
    return out


def _ci(row: dict[str, Any], key: str) -> str:
    lo, hi = row[f"{key}_ci_low"], row[f"{key}_ci_high"]
    if lo is None or not np.isfinite(lo):
        return f"{row[f'{key}_mean']:.3f} (1 seed)"
    return f"{row[f'{key}_mean']:.3f} [{lo:.3f}, {hi:.3f}]"


def _predictor_figure(summary: list[dict[str, Any]], bench: str) -> Any:
    from ...results import subplots

    fig, axes = subplots(1, 2, figsize=(10.0, 3.8))
    for ax, key in zip(axes, ("spearman", "kendall"), strict=True):
        for method in METHODS:
            s = [r for r in summary if r["benchmark"] == bench and r["method"] == method]
            if not s:
                continue
            mean = np.array([r[f"{key}_mean"] for r in s])
            lo = np.array([r[f"{key}_ci_low"] if r[f"{key}_ci_low"] is not None else np.nan
                           for r in s])
            hi = np.array([r[f"{key}_ci_high"] if r[f"{key}_ci_high"] is not None else np.nan
                           for r in s])
            err = np.nan_to_num(np.stack([mean - lo, hi - mean]))
            ax.errorbar([r["train_size"] for r in s], mean, yerr=err, marker="o", capsize=3,
                        label=_METHOD_LABEL[method])
        ax.set_xscale("log")
        ax.set_xlabel("predictor training cells")
        ax.set_ylabel(f"{key.capitalize()} on held-out cells")
        ax.grid(alpha=0.3)
    axes[0].set_title(f"(b) {bench}: predictor rank correlation (mean, 95% CI)")
    axes[0].legend(fontsize=8)
    return fig


def _regret_figure(result: Any, title: str) -> Any:
    """Regret (table best - best found) vs queries: mean over seeds, 95% CI band."""
    from ...results import seed_summary, subplots

    fig, ax = subplots(figsize=(6.0, 4.0))
    for name, curve in result.curves.items():
        reg = result.optimum - curve
        q = np.arange(1, reg.shape[1] + 1)
        summ = [seed_summary(reg[:, j]) for j in range(reg.shape[1])]
        mean = np.array([x.mean for x in summ])
        ax.plot(q, mean, label=f"{name} (n={reg.shape[0]})")
        if reg.shape[0] > 1:
            ax.fill_between(q, [max(x.ci95_low, 1e-3) for x in summ],
                            [x.ci95_high for x in summ], alpha=0.2)
    ax.set_yscale("symlog", linthresh=0.05)
    ax.set_xlabel("queries")
    ax.set_ylabel("regret: table best - best found (val acc points)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


def _label(plan: ReproPlan) -> str:
    """quick / full / reduced plan, whatever time the plan was expected to take."""
    for name, known in (("quick", QUICK_PLAN), ("full", FULL_PLAN)):
        if replace(plan, expected_minutes=known.expected_minutes) == known:
            return name
    return "reduced plan"


def _stage_seconds(rows: list[dict[str, Any]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for r in rows:
        if r["part"] == "stage":
            key = r["stage"].split(":")[0] + "_s"
            out[key] = out.get(key, 0.0) + float(r["seconds"])
    return out


def render(rows: list[dict[str, Any]], plan: ReproPlan) -> tuple[dict[str, Any], Any]:
    """Metrics, claim table and figures from :func:`run_plan`'s rows alone."""
    from ...results import Claim, Report, seed_summary

    embed_rows = [{k: v for k, v in r.items() if k != "part"}
                  for r in rows if r["part"] == "embedding"]
    pred_rows = [r for r in rows if r["part"] == "predictor"]
    ab_rows = [r for r in rows if r["part"] == "ablation"]
    eff_rows = [{k: v for k, v in r.items() if k != "part"}
                for r in rows if r["part"] == "efficiency"]
    ref_rows = [{k: v for k, v in r.items() if k != "part"}
                for r in rows if r["part"] == "reference"]
    (run,) = [r for r in rows if r["part"] == "run"]
    seed = int(run["seed"])
    timings = _stage_seconds(rows)
    loads = [r["load_avg"] for r in rows if r["part"] == "stage" and "load_avg" in r]
    nb201, nb101, large = (_comparison(rows, f"search_{p}") for p in ("nb201", "nb101", "large"))
    label = _label(plan)
    summary = _predictor_summary(pred_rows)
    chosen = _chosen_encoder(plan, rows)
    enc = plan.ablation_encoders[chosen]
    n_top = max(plan.predictor_sizes)

    # ------------------------------------------------------------------ metrics
    b = plan.nb201_budget
    at = {name: _at(nb201, name, b) for name in nb201.curves}
    at101 = {name: _at(nb101, name, plan.nb101_budget) for name in nb101.curves}
    embed = {r["space"]: r for r in embed_rows}
    first = embed_rows[0]
    holds_201 = (at["nasgem"]["regret_mean"] < at["random"]["regret_mean"]
                 and at["nasgem"]["regret_mean"] <= at["rea"]["regret_mean"])
    metrics: dict[str, Any] = {
        "nb201_budget": b, "nb201_seeds": plan.seeds, "nb201_optimum": nb201.optimum,
        "nb101_optimum": nb101.optimum,
        "embed_spearman": first["spearman"], "embed_kendall": first["kendall"],
        "embed_onehot_spearman": first["onehot_spearman"],
        "embed_onehot_kendall": first["onehot_kendall"],
        "nb201_bar_holds": holds_201, "study_encoder": {
            "setting": chosen, "emb_dim": enc.emb_dim, "h": enc.h, "layers": enc.layers,
            "steps": enc.steps},
        "timings": timings, "load_avg_median": float(np.median(loads)) if loads else None,
    }
    for r in summary:
        key = f"predictor_{r['benchmark']}_{r['method']}_{r['train_size']}"
        metrics[f"{key}_spearman"] = r["spearman_mean"]
        metrics[f"{key}_kendall"] = r["kendall_mean"]
    for tag, res, budget in (("nb201", nb201, b), ("nb101", nb101, plan.nb101_budget)):
        for name in res.curves:
            v = _at(res, name, budget)
            k = name.replace("-", "_")
            metrics[f"{tag}_regret_{k}"] = v["regret_mean"]
            metrics[f"{tag}_regret_{k}_sd"] = v["regret_sd"]
            metrics[f"{tag}_best_val_acc_{k}"] = v["best_mean"]
    for r in embed_rows:
        key = r["space"].replace(":", "")
        metrics[f"embed_{key}_spearman"] = r["spearman"]
        metrics[f"embed_{key}_onehot_spearman"] = r["onehot_spearman"]
    eff_summary = []
    for weight in plan.efficiency_weights:
        sub = [r for r in eff_rows if r["cost_weight"] == weight]
        eff_summary.append({
            "cost_weight": weight, "seeds": len(sub),
            "best_val_acc_mean": float(np.mean([r["best_val_acc"] for r in sub])),
            "best_params_M_mean": float(np.mean([r["best_params_M"] for r in sub])),
            "queried_params_M_mean": float(np.mean([r["queried_params_M"] for r in sub])),
        })
        key = f"{weight:g}".replace(".", "_")
        metrics[f"efficiency_{key}_best_val_acc"] = eff_summary[-1]["best_val_acc_mean"]
        metrics[f"efficiency_{key}_best_params_M"] = eff_summary[-1]["best_params_M_mean"]
    large_sum = {row["strategy"]: row for row in large.summary()}
    for name, row in large_sum.items():
        metrics[f"large_best_val_acc_{name}"] = row["best_val_acc_mean"]

    # ------------------------------------------------------------- predictor verdicts
    by = {(r["benchmark"], r["method"], r["train_size"]): r for r in summary}
    verdicts = []  # per (benchmark, size): is WL best, and is its CI above the runner-up's
    for bench in plan.predictor_benchmarks:
        for n in plan.predictor_sizes:
            if (bench, "wl", n) not in by:
                continue
            others = [by[(bench, m, n)] for m in plan.predictor_methods
                      if m != "wl" and (bench, m, n) in by]
            best_other = max(others, key=lambda r: r["spearman_mean"]) if others else None
            wl = by[(bench, "wl", n)]
            verdicts.append({
                "benchmark": bench, "train_size": n, "wl_spearman": _ci(wl, "spearman"),
                "best_other": None if best_other is None else best_other["method"],
                "best_other_spearman": None if best_other is None
                else _ci(best_other, "spearman"),
                "wl_best": best_other is None
                or wl["spearman_mean"] > best_other["spearman_mean"],
                "wl_ci_above": best_other is not None and wl["spearman_ci_low"] is not None
                and best_other["spearman_ci_high"] is not None
                and wl["spearman_ci_low"] > best_other["spearman_ci_high"]})
    top = [v for v in verdicts if v["train_size"] == n_top]
    holds_pred = bool(top) and all(v["wl_best"] for v in top)
    wins = [f"{v['benchmark']}@{v['train_size']}" for v in verdicts if v["wl_best"]]
    metrics["predictor_wl_best_at"] = wins
    metrics["predictor_thesis_holds_at_max"] = holds_pred

    # ------------------------------------------------------------------ report
    def pm(v: dict[str, float], key: str = "regret") -> str:
        sd = v[key + "_sd"]
        if not np.isfinite(sd):
            return f"{v[key + '_mean']:.3f} (1 seed)"
        return f"{v[key + '_mean']:.3f} ± {sd:.3f}"

    def regret_table(res: Any, budget: int) -> list[dict[str, Any]]:
        out = []
        for name, curve in res.curves.items():
            row = {"strategy": name}
            for q in sorted({q for q in (10, 25, 50, 100, budget) if q <= budget}):
                reg = seed_summary(res.optimum - curve[:, q - 1])
                row[f"regret@{q}"] = (f"{reg.mean:.3f} (1 seed)" if reg.n < 2 else
                                      f"{reg.mean:.3f} [{reg.ci95_low:.3f}, "
                                      f"{reg.ci95_high:.3f}]")
            out.append(row)
        return out

    enc_big = embed.get(plan.embed_spaces[-1], first)
    table_400 = [{"benchmark": bench, "method": _METHOD_LABEL[m],
                  "spearman": _ci(by[(bench, m, n_top)], "spearman"),
                  "kendall": _ci(by[(bench, m, n_top)], "kendall")}
                 for bench in plan.predictor_benchmarks for m in plan.predictor_methods
                 if (bench, m, n_top) in by]
    nasgem_best = [r for r in ref_rows if r["what"].startswith("found")]
    best_ref = max(nasgem_best, key=lambda r: r["val_acc"]) if nasgem_best else None
    skip = next((r for r in ref_rows if r["arch"] == "111111"), None)
    gdas = next(r for r in NB201_PAPER if r["method"] == "GDAS")
    claims = [
        Claim("continuous encodings lose graph similarity; the WL-trained embedding keeps it",
              "qualitative (motivation; encoder trained to regress the WL kernel)",
              "Spearman cosine-vs-WL on held-out pairs: "
              + "; ".join(f"{r['space']} {r['spearman']:.3f} vs one-hot "
                          f"{r['onehot_spearman']:.3f}" for r in embed_rows),
              "held-out cells, h=3 in-neighbour WL", all(
                  r["spearman"] > r["onehot_spearman"] for r in embed_rows),
              figures={f"{r['space']} {k}": r[k] for r in embed_rows
                       for k in ("spearman", "onehot_spearman")}),
        Claim("graph embeddings make a better performance predictor than continuous "
              f"encodings (here: best Spearman of the four at {n_top} training cells on "
              "every benchmark)",
              "the thesis of the paper (no predictor figure given)",
              "; ".join(f"{v['benchmark']}: WL {v['wl_spearman']} vs best other "
                        f"{v['best_other']} {v['best_other_spearman']}" for v in top)
              + ". WL best at: " + (", ".join(wins) or "no size"),
              f"MLP ensemble on each encoding, GCN end to end; {plan.predictor_seeds} seeds, "
              "mean [95% CI]", holds_pred,
              figures={f"{v['benchmark']} wl": by[(v['benchmark'], 'wl', n_top)]
                       ["spearman_mean"] for v in top}),
        Claim("predictor-guided search is sample-efficient (issue bar: NB201 regret at "
              f"{b} queries below random, at most REA)",
              "GEMNet beats differentiable-search cells; NB101 ablation",
              ", ".join(f"{k} {pm(v)}" for k, v in at.items()),
              f"NB201 CIFAR-10 val acc (seed mean), {plan.seeds} seeds", holds_201,
              figures={f"{k} regret": v["regret_mean"] for k, v in at.items()}),
        Claim("the embedding is what makes the search efficient (NASGEM with embeddings "
              "beats NASGEM with one-hot features)", "implied by the thesis",
              f"NB201 regret@{b}: {pm(at['nasgem'])} vs one-hot {pm(at['nasgem-onehot'])}; "
              f"NB101 regret@{plan.nb101_budget}: {pm(at101['nasgem'])} vs one-hot "
              f"{pm(at101['nasgem-onehot'])}",
              f"{plan.seeds} seeds", at["nasgem"]["regret_mean"]
              < at["nasgem-onehot"]["regret_mean"]
              and at101["nasgem"]["regret_mean"] < at101["nasgem-onehot"]["regret_mean"],
              figures={"nb201 nasgem": at["nasgem"]["regret_mean"],
                       "nb201 onehot": at["nasgem-onehot"]["regret_mean"]})
        if "nasgem-onehot" in at and "nasgem-onehot" in at101 else
        Claim("NASGEM with embeddings vs one-hot features", "implied by the thesis",
              "not measured", "", None, figures={"nasgem-onehot": None}),
        Claim("NASGEM finds better NB201 cells than differentiable search (DARTS collapses "
              "to skip connections)",
              f"NB201 paper, Table 5 (quoted): DARTS-V1/V2 CIFAR-10 valid 39.77 / test 54.30; "
              f"GDAS valid {gdas['valid']} ± {gdas['valid_sd']} / test {gdas['test']} ± "
              f"{gdas['test_sd']}",
              "not measured" if best_ref is None else
              f"NASGEM best {best_ref['arch']}: valid {best_ref['val_acc']:.2f}% at "
              f"{best_ref['params_M']:.3f} M params (all-skip cell: "
              f"{skip['val_acc']:.2f}%, {skip['params_M']:.3f} M)",
              "validation column (our table has no test accuracy); paper figures quoted",
              None if best_ref is None else best_ref["val_acc"] > gdas["valid"],
              figures={"nasgem best": None if best_ref is None else best_ref["val_acc"]}),
        Claim("NASGEM searches large cells (e.g. 30 nodes) cheaply",
              "30-node cells", f"{plan.large_space}: encoder Spearman "
              f"{enc_big['spearman']:.3f} vs one-hot {enc_big['onehot_spearman']:.3f}; search "
              + ", ".join(f"{k} best {v['best_val_acc_mean']:.2f}%"
                          for k, v in large_sum.items()),
              f"{plan.large_budget} queries x {plan.large_seeds} seed(s), "
              f"{plan.large_train['max_steps']}-step Fashion-MNIST proxy training", None),
        Claim("GEMNet: higher accuracy with up to 62% fewer parameters and up to 20.7% fewer "
              "MACs than differentiable-search networks", "ImageNet/CIFAR-10 GEMNets",
              "not reproduced (needs full training of searched networks on ImageNet/CIFAR); "
              "the efficiency term on NB201: "
              + "; ".join(f"lambda={r['cost_weight']:g}: best {r['best_val_acc_mean']:.2f}% "
                          f"at {r['best_params_M_mean']:.3f} M params" for r in eff_summary),
              "GEMNets out of scope on a 2-core CPU; (e) and (f) below", None),
    ]
    report = Report(f"NASGEM reproduction ({label}, seed {seed})")
    report.paragraph(
        f"{PAPER}. No official code exists: everything here is the agreed reconstruction "
        "(carbide.nas.gem): WL subtree kernel (in-neighbour refinement) as the similarity "
        "target, a GIN encoder trained so that embedding cosine regresses the normalized "
        "kernel (MSE over all pairs of a batch, unlabelled cells only), an MLP-ensemble "
        "accuracy predictor on the embeddings, and the bootstrap search "
        f"(n_init={plan.nasgem.n_init} random cells, then rounds of top-{plan.nasgem.top_k} "
        "by predicted accuracy over the whole finite space or a sampled pool). Table "
        "queries answer with the seed-mean validation accuracy (the tables hold no test "
        "accuracy; NB201's is the cifar10-valid validation column of the NB201 paper); "
        "regret is to the table's best. Measured on a shared 2-core CPU under load "
        f"(median 1-min load average over the stages: "
        f"{'not recorded' if not loads else f'{np.median(loads):.1f}'}); the stage "
        "timings below are wall times under that load.")
    report.heading("Claims")
    report.claims(claims)
    if label == "quick":
        report.paragraph(QUICK_LIMITS)
    report.heading("(a) Embedding quality")
    report.table([{k: r[k] for k in ("space", "max_nodes", "train_cells", "heldout_cells",
                                     "pairs", "spearman", "kendall", "onehot_spearman",
                                     "onehot_kendall", "train_s")} for r in embed_rows])
    report.figure(_embedding_figure(embed_rows), "embedding.png", "embedding quality")

    report.heading("(b) Predictor quality vs training cells")
    report.paragraph(
        "Per seed: a fixed held-out set (NB201 "
        f"{plan.predictor_test_nb201} of 15,625 cells; NB101 {plan.predictor_test_nb101} of "
        "the 500-cell table, so its intervals are wider), nested random training sets of "
        f"{', '.join(map(str, plan.predictor_sizes))} cells; Spearman and Kendall between "
        "prediction and table accuracy on the held-out cells. wl/onehot/path: the same MLP "
        f"ensemble (hidden {plan.study_predictor.hidden}, {plan.study_predictor.ensemble} "
        f"members, {plan.study_predictor.epochs} Adam steps) on each encoding; gcn: a "
        f"{plan.study_gcn.layers}-layer bidirectional GCN (width {plan.study_gcn.hidden}, "
        f"{plan.study_gcn.ensemble} net(s), {plan.study_gcn.epochs} steps) trained end to end "
        f"(Wen et al., ECCV 2020). The WL encoder trains on {plan.study_encoder_cells} "
        "unlabelled cells of the table (all 500 on NB101; no accuracy seen). Mean [Student-t "
        f"95% CI] over {plan.predictor_seeds} seeds.")
    report.heading(f"Spearman and Kendall at {n_top} training cells", level=3)
    report.table(table_400)
    report.heading("Is the WL embedding the best predictor input? (per size)", level=3)
    report.paragraph("wl_best: its mean Spearman is the highest of the four; wl_ci_above: its "
                     "95% CI lies above the runner-up's (a resolved win).")
    report.table(verdicts)
    for bench in plan.predictor_benchmarks:
        report.figure(_predictor_figure(summary, bench), f"predictor_{bench}.png",
                      f"{bench}: predictor Spearman and Kendall vs training cells")
    report.heading("All points", level=3)
    report.table(summary)
    report.heading("Encoder setting (ablation on NB201, validation seeds)", level=3)
    ab_summary = []
    for i, e in enumerate(plan.ablation_encoders):
        sub = [r for r in ab_rows if r["setting"] == i]
        row = {"setting": i, "emb_dim": e.emb_dim, "h": e.h, "layers": e.layers,
               "steps": e.steps}
        for n in plan.ablation_sizes:
            vals = [r["spearman"] for r in sub if r["train_size"] == n]
            row[f"spearman@{n}"] = float(np.mean(vals)) if vals else None
        row["mean"] = float(np.mean([r["spearman"] for r in sub])) if sub else None
        row["final_loss"] = (float(np.mean([r["encoder_loss"] for r in sub
                                            if r["train_size"] == plan.ablation_sizes[0]]))
                             if sub else None)
        row["chosen"] = i == chosen
        ab_summary.append(row)
    report.paragraph(
        f"Each setting trains the encoder on NB201 cells with seeds {seed + 100}.."
        f"{seed + 99 + plan.ablation_seeds} (disjoint from the study's seeds) and scores the "
        f"MLP on its embeddings at {', '.join(map(str, plan.ablation_sizes))} cells. The "
        f"study uses the best mean: setting {chosen} (emb_dim {enc.emb_dim}, h {enc.h}, "
        f"{enc.layers} GIN layers, {enc.steps} steps).")
    report.table(ab_summary)

    report.heading("(c) Search regret")
    report.paragraph(
        f"NAS-Bench-201 CIFAR-10, table best {nb201.optimum:.3f}%: regret = table best - best "
        f"validation accuracy found after q queries, mean [95% CI] over {plan.seeds} seeds. "
        "nasgem-onehot is NASGEM with the predictor on one-hot features instead of the "
        "embedding (same search, no encoder). Strategies share their first random cells "
        "per seed.")
    report.table(regret_table(nb201, b))
    report.table(nb201.summary())
    report.figure(_regret_figure(nb201, "(c) NAS-Bench-201 CIFAR-10 regret"),
                  "regret_nb201.png", "NB201 regret vs queries")
    report.figure(curve_figure(nb201, "(c) NAS-Bench-201 CIFAR-10"), "search_nb201.png",
                  "NB201 best val acc vs queries")
    report.paragraph(f"NAS-Bench-101 subset (500 cells), table best {nb101.optimum:.3f}%.")
    report.table(regret_table(nb101, plan.nb101_budget))
    report.table(nb101.summary())
    report.figure(_regret_figure(nb101, "(c) NAS-Bench-101 subset regret"),
                  "regret_nb101.png", "NB101 subset regret vs queries")
    report.figure(curve_figure(nb101, "(c) NAS-Bench-101 subset"), "search_nb101.png",
                  "NB101 subset best val acc vs queries")
    report.heading(f"(d) Large cells ({plan.large_space}) with the training evaluator")
    report.paragraph(
        f"Each query builds a network from the cell and trains it "
        f"{plan.large_train['max_steps']} SGD steps on {plan.large_train['train_size']} "
        f"Fashion-MNIST images (val {plan.large_train['val_size']}); a proxy, so accuracies "
        "are low in absolute terms and only their order matters.")
    report.table(large.summary())
    report.table(large.rows)
    report.figure(curve_figure(large, f"(d) {plan.large_space}, Fashion-MNIST training"),
                  "search_large.png", "large-cell search")
    report.heading("(e) Efficiency term (NAS-Bench-201)")
    report.paragraph(
        "NASGEM ranks candidates by predicted accuracy minus cost_weight x min-max "
        "normalized predicted parameters (a second predictor on the evaluated cells' "
        f"parameter counts), {plan.efficiency_budget or plan.nb201_budget} queries, "
        f"{plan.efficiency_seeds} seed(s). "
        "queried_params_M: mean size of the cells NASGEM chose after its random start.")
    report.table(eff_summary)
    report.table(eff_rows)
    report.heading("(f) NASGEM's NB201 cells beside differentiable search")
    report.paragraph(
        "Quoted, not measured here: NAS-Bench-201 (Dong & Yang, ICLR 2020, arXiv 2001.00326), "
        "Table 5, CIFAR-10 columns (mean ± std over the paper's runs; the same figures "
        "appear in later papers that quote that table). DARTS-V1/V2 converge to the cell of "
        "skip connections only, whose table entry gives its size; the table does not name "
        "GDAS's cell, so its size is not given. Measured here: the table entries of the "
        "cells NASGEM's searches (c) ended with. Our table holds the validation column only "
        "(its all-skip cell reads 39.77%, the paper's DARTS figure), so test accuracy of our "
        "cells is not measured.")
    paper_rows = []
    for r in NB201_PAPER:
        size = next((x["params_M"] for x in ref_rows if x["arch"] == r["arch"]), None)
        paper_rows.append({"method": f"{r['method']} (paper)", "cell": r["arch"] or "not given",
                           "valid": f"{r['valid']:.2f} ± {r['valid_sd']:.2f}",
                           "test": f"{r['test']:.2f} ± {r['test_sd']:.2f}", "params_M": size})
    for r in ref_rows:
        paper_rows.append({"method": f"this run: {r['what']}", "cell": r["arch"],
                           "valid": f"{r['val_acc']:.2f}", "test": "not measured",
                           "params_M": r["params_M"]})
    report.table(paper_rows)
    if best_ref is not None and skip is not None:
        report.paragraph(
            f"NASGEM's best cell {best_ref['arch']} ({best_ref['arch_str']}) has "
            f"{best_ref['params_M'] / skip['params_M']:.1f}x the parameters of DARTS's "
            "collapsed all-skip cell, which has almost none in its cells (only the fixed "
            "stem, reduction blocks and classifier): on NB201 NASGEM does not have fewer "
            "parameters than DARTS, it has far higher accuracy "
            f"({best_ref['val_acc']:.2f}% vs 39.77% validation). Against GDAS it is "
            f"{best_ref['val_acc'] - gdas['valid']:+.2f} points on validation; GDAS's size is "
            "not in the table. The efficiency term (e) is the lever for smaller cells.")
    report.heading("Per-seed rows")
    report.table(nb201.rows + nb101.rows)
    report.heading("Timings (s, summed over stages, wall time under load)")
    report.table([{k: round(v, 1) for k, v in timings.items()}])
    curves = {f"nb201_{k}": v.mean(0) for k, v in nb201.curves.items()}
    curves.update({f"nb101_{k}": v.mean(0) for k, v in nb101.curves.items()})
    metrics["curves_mean_best_val_acc"] = curves
    return metrics, report
