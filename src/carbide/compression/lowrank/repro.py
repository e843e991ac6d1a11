"""``carbide svdtrain repro``: SVD training's headline claim at small scale.

Paper: Yang et al., "Learning Low-rank Deep Neural Networks via Singular Vector Orthogonality
Regularization and Singular Value Sparsification", CVPR Workshops 2020 (arXiv 2004.09031).
Claim: training in SVD form with orthogonality + sparsity regularizers, then pruning by energy,
reaches a higher FLOPs reduction at the same accuracy than post-hoc factorization and filter
pruning; on CIFAR-10 ResNet-20, about 2.2x fewer FLOPs at baseline accuracy (channel-wise).

One run of the plan:

1. stage 1 (orthogonality only) once, shared by every regularizer variant;
2. stage 2 per variant: Hoyer, L1 and no sparsity regularizer;
3. per variant and energy ``E``: prune, fine-tune, compact, count FLOPs;
4. a dense model trained for the same epochs (stages 1 + 2), then, at the FLOPs of every Hoyer
   point: post-hoc truncated SVD and L1 filter pruning, each fine-tuned for the same epochs as
   stage 3; the dense model fine-tuned unpruned for those epochs is the accuracy reference;
5. CPU latency (one thread) of every deployed model against the original, both through
   :func:`~carbide.compression.lowrank.deploy` (per-layer pair or merged layer by measured
   latency, batch norms folded, channels_last); ``deployed_flops_reduction`` is the FLOPs
   reduction of what then runs.

:func:`run_plan` trains and measures (rows; the last row, method ``original``, holds the
untrained model's FLOPs, latency and the stage timings); :func:`render` makes the metrics,
claim table and plots from the rows alone; :func:`run_repro` is both, through
:func:`carbide.results.execute_repro`.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...results import Claim, Report, execute_repro, seed_everything, subplots

__all__ = ["FULL_PLAN", "PARTS", "QUICK_PLAN", "ReproPlan", "render", "run_plan", "run_repro"]

#: Accuracy tolerance of "at the same accuracy": within 0.5 points.
TOL = 0.005


@dataclass(frozen=True)
class ReproPlan:
    """The settings of one reproduction run (see the module docstring).

    ``expected_minutes`` is the plan's wall time on an idle 2-core machine (0: not measured,
    as in plans read back from runs older than the field).
    """

    model: str
    dataset: str
    epochs: tuple[int, int, int]
    energies: tuple[float, ...]
    strengths: tuple[tuple[str, float], ...]  # (sparsity, lambda_s) per variant
    train_subset: int | None = None
    test_subset: int | None = None  # None: every test image (tiny test plans use fewer)
    mode: str = "channel"
    orth: float = 1.0
    batch_size: int = 128
    latency_batch: int = 32
    latency_time: float = 1.0  # seconds of timing per model and round
    latency_rounds: int = 3
    optimizer: str = "adam"
    lr: float = 1e-3
    schedule: str = "constant"  # of stages 1 and 2 and of the dense model's two cycles
    weight_decay: float = 0.0
    finetune_lr: float | None = None  # stage 3 and baselines, cosine to 0; None: lr
    checkpoints: bool = False  # resumable: checkpoint every model under out/checkpoints
    expected_minutes: float = 0.0
    precision: str = "fp32"  # "bf16": autocast mixed precision while training (train_epochs)
    one_cycle: bool = False  # stages 1 + 2 (and the dense model's two parts) share one cycle


#: Quick mode: the small CNN on 5,000 Fashion-MNIST images (scored on 2,000 test images), 2+2+1
#: epochs, Hoyer against no
#: regularizer at two energies, the two post-hoc baselines at each Hoyer point; short latency
#: timing. A real run of every claim, at a size where the accuracy differences are within
#: about a point. lambda_s is 0.3 (0.1 in the full run) because stage 2 is 80 steps long.
QUICK_PLAN = ReproPlan(
    model="smallcnn", dataset="fashion-mnist", epochs=(2, 2, 1),
    energies=(0.05, 0.1),
    strengths=(("hoyer", 0.3), ("none", 0.0)),
    train_subset=5_000, test_subset=2_000, latency_time=0.2, latency_rounds=2,
    expected_minutes=2.0,
)

#: The converged ResNet-20 / CIFAR-10 run (issue 21): all 50,000 training images, SGD with
#: Nesterov momentum, weight decay 5e-4, one OneCycle peaking at 0.1 over stages 1 + 2 (30
#: epochs orthogonality only, then 30 with the sparsity regularizer while the rate anneals; the
#: dense model gets the same 60-epoch cycle), 3 fine-tune epochs from 0.01 on a cosine after
#: pruning; bf16 autocast while training (1.6-1.7x faster steps on this CPU, one thread).
#: Hoyer against no regularizer; truncated SVD and L1 filter pruning at each Hoyer point. It
#: checkpoints every model after every epoch under out/checkpoints and a rerun of the same
#: command resumes; :func:`run_plan`'s ``only`` trains the dense model, each SVD variant (after
#: stage 1) and the baselines in separate processes. expected_minutes: the training of one
#: process, one thread, summed from the epoch times of the 2026-12-07 run (two or three
#: processes on 2 cores).
#: History: 30 epochs (15 + 15) gave a dense reference of 86.9% (one cycle, bf16) and 86.8%
#: (two cycles, float32), under the issue's 88%; 60 epochs give 88.4%. lambda_s = 0.03
#: (2026-12-04) left so sparse a spectrum that even E = 0.02 cut the FLOPs x23.7 at 44.6-46.3%
#: after fine-tuning, so lambda_s is 0.005. With it and 30 epochs, E = 0.01, 0.02 and 0.05 cut
#: the FLOPs x1.94, x2.64 and x3.88 (0.1, the older plan's largest, cuts more than either).
#: At 60 epochs the spectra are sparser (E = 0.01 cut x2.81 at 84.1%), so E = 0.005 joined.
FULL_PLAN = ReproPlan(
    model="resnet20", dataset="cifar10", epochs=(30, 30, 3),
    energies=(0.005, 0.01, 0.02, 0.05),
    strengths=(("hoyer", 0.005), ("none", 0.0)),
    optimizer="sgd", lr=0.1, schedule="onecycle", weight_decay=5e-4, finetune_lr=0.01,
    checkpoints=True, expected_minutes=250.0, precision="bf16", one_cycle=True,
)


def run_repro(out: str | os.PathLike[str], *, quick: bool = False, seed: int = 0,
              plan: ReproPlan | None = None, root: Any = None) -> dict[str, Any]:
    """Run the reproduction and write results, report and plots to ``out``.

    Quick mode: :data:`QUICK_PLAN` (small CNN, Fashion-MNIST). Otherwise :data:`FULL_PLAN`
    (ResNet-20, CIFAR-10, shortened schedule). ``plan`` overrides both (tests use a tiny one).
    """
    plan = plan or (QUICK_PLAN if quick else FULL_PLAN)
    run = (functools.partial(run_plan, checkpoint_dir=Path(out) / "checkpoints")
           if plan.checkpoints else run_plan)
    return execute_repro(out, system="svdtrain", plan=plan, quick=quick, seed=seed, root=root,
                         run_plan=run, render=render)


def _checkpoint_dir(where: str | os.PathLike[str], plan: ReproPlan, seed: int) -> Path:
    """Create ``where`` bound to the plan fields every checkpoint depends on, and the seed
    (``plan.json``), or check an existing one. The other fields (energies, strengths, epochs,
    fine-tune rate) are in the checkpoint names or keys, so changing them reuses what still
    applies (the dense model, stage 1) and trains the rest."""
    from ...results import bind_plan_folder

    shared = ("model", "dataset", "train_subset", "mode", "orth", "batch_size", "optimizer",
              "lr", "schedule", "weight_decay", "precision", "one_cycle")
    return bind_plan_folder(where, {"plan": {k: getattr(plan, k) for k in shared},
                                    "seed": seed}, what="checkpoints")


def _row(method: str, setting: str, acc: float, figures: dict[str, float], **extra: Any
         ) -> dict[str, Any]:
    return {"method": method, "setting": setting, "test_acc": acc,
            "flops_reduction": figures["flops_reduction"],
            "params_reduction": figures["params_reduction"],
            "latency_speedup": figures.get("latency_speedup"),
            "latency_ms": figures.get("latency_ms"), "flops": figures["flops"],
            "params": figures["params"],
            **({"_model": figures["_model"]} if "_model" in figures else {}), **extra}


#: Parts of a plan that :func:`run_plan` can train alone (``only``).
PARTS: tuple[str, ...] = ("dense", "svd", "baselines")


def run_plan(plan: ReproPlan, *, seed: int = 0, root: Any = None, log=print,
             checkpoint_dir: str | os.PathLike[str] | None = None,
             only: str | None = None) -> list[dict[str, Any]]:
    """Run ``plan``; one row per model: ``method``, ``setting``, ``test_acc``,
    ``flops_reduction``, ``params_reduction``, ``latency_speedup`` (and ranks for SVD rows).

    The last row (method ``original``) is the untrained original model: its ``flops``,
    ``params``, ``latency_ms`` and the ``timings`` (seconds; ``*_train_s`` per trained model,
    summed over every resumed invocation).

    Args:
        checkpoint_dir: every trained model is checkpointed there after each epoch
            (``<stage>.pt``) and a rerun resumes where the last one stopped, so a plan longer
            than one session runs in pieces. The folder is bound to the seed and the plan
            fields every checkpoint depends on (see :func:`_checkpoint_dir`).
        only: train one part of the plan into ``checkpoint_dir`` and return its rows without
            latency (no ``original`` row), so that parts run side by side in separate
            processes: ``"dense"`` (the dense model and its reference), ``"svd"`` (stage 1,
            then stage 2 and the fine-tunes of each variant in ``plan.strengths``) or
            ``"baselines"`` (truncated SVD and filter pruning at every Hoyer point; it loads,
            or else trains, the dense and Hoyer models first). Two processes must not train
            the same model at once: give each its own part and variants (a plan with fewer
            ``strengths`` shares the folder), and start a variant only after stage 1 is done.
            A last run with ``only=None`` finds everything trained and measures latency.
    """
    from ...exceptions import InvalidConfigError
    from ._decompose import compact, decompose
    from .baselines import prune_filters_to_flops, truncate_svd_to_flops
    from .export import LatencyCache, deploy
    from .flops import count_flops, count_params
    from .models import build_model
    from .regularizers import SVDRegularizer
    from .train import (
        compare_latency,
        compression_figures,
        evaluate,
        load_image_task,
        prune_and_finetune,
        stage_cycles,
        train_epochs,
    )

    if only is not None and only not in PARTS:
        raise InvalidConfigError(f"unknown part only={only!r}; choose one of: "
                                 f"{', '.join(PARTS)}, or None for the whole plan")
    if only is not None and checkpoint_dir is None:
        raise InvalidConfigError(f"only={only!r} trains into checkpoints that a later run "
                                 "reads: give checkpoint_dir")
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    where = None if checkpoint_dir is None else _checkpoint_dir(checkpoint_dir, plan, seed)

    def ckpt(name: str):
        return None if where is None else where / f"{name}.pt"

    task = load_image_task(plan.dataset, root=root, train_subset=plan.train_subset,
                           test_subset=plan.test_subset, seed=seed)
    shape = task.input_shape
    a, b, c = plan.epochs
    seed_everything(seed)
    original = build_model(plan.model, task.num_classes)
    recipe = {"batch_size": plan.batch_size, "optimizer": plan.optimizer,
              "weight_decay": plan.weight_decay, "precision": plan.precision}
    stages = {**recipe, "lr": plan.lr, "schedule": plan.schedule}
    finetune = {**recipe, "lr": plan.finetune_lr or plan.lr, "schedule": "cosine"}
    span1, span2 = stage_cycles(a, b, plan.one_cycle)  # stages 1, 2 (dense: its two parts)

    rows: list[dict[str, Any]] = []
    deployed_models: list[Any] = []  # timed together at the end (compare_latency)

    def figures(deployed):
        deployed_models.append(deployed)
        return {**compression_figures(original, deployed, shape, latency=False),
                "_model": len(deployed_models) - 1}

    def train(model, epochs, name, **kw):
        hist = train_epochs(model, task, epochs, checkpoint=ckpt(name), description=name, **kw)
        timings[f"{name}_train_s"] = sum(h["seconds"] for h in hist)
        return hist

    dense_row = dense = None
    if only != "svd":
        # dense model, the same schedule as stages 1 + 2, then fine-tuned like stage 3
        dense = copy.deepcopy(original)
        train(dense, a, "dense-1", seed=seed, cycle=span1, **stages)
        train(dense, b, "dense-2", seed=seed + 1, cycle=span2, **stages)
        log(f"dense: test_acc {evaluate(dense, task.x_test, task.y_test):.4f}")
        reference = copy.deepcopy(dense)
        train(reference, c, "dense-finetune", seed=seed + 2, **finetune)
        ref_acc = evaluate(reference, task.x_test, task.y_test)
        dense_row = _row("dense", "unpruned", ref_acc, figures(reference))
        log(f"dense reference: acc {ref_acc:.4f}")
        if only == "dense":
            return [dense_row]

    # stage 1 once, shared by the regularizer variants
    stage1 = copy.deepcopy(original)
    decompose(stage1, mode=plan.mode, init="random", seed=seed)
    train(stage1, a, "stage1", regularizer=SVDRegularizer("none", 0.0, plan.orth), seed=seed,
          cycle=span1, **stages)
    log(f"stage 1: test_acc {evaluate(stage1, task.x_test, task.y_test):.4f}")
    variants = [(sp, st) for sp, st in plan.strengths if only != "baselines" or sp == "hoyer"]
    for sparsity, strength in variants:
        model = copy.deepcopy(stage1)
        train(model, b, f"stage2-{sparsity}-{strength:g}", seed=seed + 1, cycle=span2,
              regularizer=SVDRegularizer(sparsity, strength, plan.orth), **stages)
        acc_unpruned = evaluate(model, task.x_test, task.y_test)
        for energy in plan.energies:
            pruned, ranks = prune_and_finetune(
                model, task, energy=energy, epochs=c, orth=plan.orth, seed=seed,
                lr=finetune["lr"], **recipe,
                checkpoint=ckpt(f"stage3-{sparsity}-{strength:g}-E{energy:g}"))
            acc = evaluate(pruned, task.x_test, task.y_test)
            row = _row(f"svd-{sparsity}", f"lambda_s={strength:g}, E={energy:g}", acc,
                       figures(compact(pruned)), energy=energy, strength=strength,
                       acc_before_prune=acc_unpruned,
                       ranks={k: v[0] for k, v in ranks.items()},
                       full_ranks={k: v[1] for k, v in ranks.items()})
            rows.append(row)
            log(f"svd-{sparsity} E={energy:g}: acc {acc:.4f}, "
                f"FLOPs x{row['flops_reduction']:.2f}")
    if only == "svd":
        return rows
    rows.append(dense_row)
    f0 = rows[-1]["flops"]
    for target in [r for r in rows if r["method"] == "svd-hoyer"]:
        budget = f0 / target["flops_reduction"]
        for method in ("truncated-svd", "filter-l1"):
            try:
                if method == "truncated-svd":
                    model, knob = truncate_svd_to_flops(dense, shape, budget, mode=plan.mode)
                    setting = f"E={knob:.3g}"
                else:
                    model, knob = prune_filters_to_flops(dense, shape, budget)
                    setting = f"filters removed={knob:.3f}"
            except InvalidConfigError as exc:  # an unreachable target is a result: reported
                rows.append({"method": method, "setting": "unreachable",
                             "matched_to": target["setting"], "test_acc": None,
                             "flops_reduction": None, "note": str(exc)})
                continue
            train(model, c, f"{method}-for-hoyer-{target['strength']:g}-E{target['energy']:g}",
                  seed=seed + 2, **finetune)
            acc = evaluate(model, task.x_test, task.y_test)
            deployed = compact(model) if method == "truncated-svd" else model
            rows.append(_row(method, setting, acc, figures(deployed),
                             matched_to=target["setting"]))
            log(f"{method} at x{target['flops_reduction']:.2f}: acc {acc:.4f}")
    if only == "baselines":
        return rows
    t = time.perf_counter()
    # latency of the inference deployments (export.deploy: a layer stays a pair only where its
    # measured latency at this batch pays, batch norms folded, channels_last), the original
    # deployed the same way, so that the speedup is the pruning's alone
    cache = LatencyCache()
    inference = [deploy(m, shape, batch=plan.latency_batch, cache=cache)
                 for m in deployed_models]
    t0, times = compare_latency(deploy(original, shape, batch=plan.latency_batch), inference,
                                shape, batch=plan.latency_batch,
                                min_run_time=plan.latency_time, rounds=plan.latency_rounds)
    for r in rows:
        if "_model" in r:
            i = r.pop("_model")
            t1 = times[i]
            r.update(latency_ms=t1 * 1e3, latency_speedup=t0 / t1,
                     deployed_flops_reduction=f0 / count_flops(inference[i], shape))
    timings["latency_s"] = time.perf_counter() - t
    timings["train_s"] = sum(v for k, v in timings.items() if k.endswith("_train_s"))
    timings["total_s"] = time.perf_counter() - t_start  # this invocation (resumed runs: less)
    rows.append({"method": "original", "setting": "untrained", "test_acc": None,
                 "flops": f0, "params": count_params(original), "latency_ms": t0 * 1e3,
                 "timings": timings})
    return rows


# ---------------------------------------------------------------- rendering (rows -> report)


def _claim_check(rows: list[dict[str, Any]], tol: float = TOL) -> dict[str, Any]:
    """Hoyer vs no regularizer: at the accuracy of the no-regularizer run's best point, the
    largest Hoyer FLOPs reduction within ``tol`` of it (``None`` when no Hoyer point is)."""
    none = [r for r in rows if r["method"] == "svd-none"]
    hoyer = [r for r in rows if r["method"] == "svd-hoyer"]
    ref = max(none, key=lambda r: (r["test_acc"], r["flops_reduction"]))
    ok = [r for r in hoyer if r["test_acc"] >= ref["test_acc"] - tol]
    best = max(ok, key=lambda r: r["flops_reduction"]) if ok else None
    return {"none_acc": ref["test_acc"], "none_flops_reduction": ref["flops_reduction"],
            "none_setting": ref["setting"],
            "hoyer_acc": best["test_acc"] if best else None,
            "hoyer_flops_reduction": best["flops_reduction"] if best else None,
            "hoyer_setting": best["setting"] if best else None,
            "holds": bool(best and best["flops_reduction"] > ref["flops_reduction"])}


def _best_at_reference(rows: list[dict[str, Any]], method: str, ref_acc: float,
                       tol: float = TOL) -> dict[str, Any] | None:
    ok = [r for r in rows if r["method"] == method and r["test_acc"] is not None
          and r["test_acc"] >= ref_acc - tol]
    return max(ok, key=lambda r: r["flops_reduction"]) if ok else None


def _accuracy_figure(rows: list[dict[str, Any]], ref_acc: float):
    fig, ax = subplots(figsize=(6.5, 4.2))
    styles = {"svd-hoyer": "o-", "svd-l1": "s-", "svd-hoyer2": "D-", "svd-none": "^-",
              "truncated-svd": "x--", "filter-l1": "v--"}
    for method, style in styles.items():
        pts = sorted((r["flops_reduction"], r["test_acc"]) for r in rows
                     if r["method"] == method and r["test_acc"] is not None)
        if pts:
            ax.plot([p[0] for p in pts], [100 * p[1] for p in pts], style, label=method)
    ax.axhline(100 * ref_acc, color="grey", lw=0.8, ls=":", label="dense reference")
    ax.set_xlabel("FLOPs reduction (x)")
    ax.set_ylabel("test accuracy (%)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def _ranks_figure(svd: list[dict[str, Any]]):
    layers = list(svd[0]["full_ranks"])
    fig, ax = subplots(figsize=(max(6.0, 0.35 * len(layers)), 4.0))
    width = 0.8 / (len(svd) + 1)
    xs = range(len(layers))
    ax.bar([x - 0.4 for x in xs], [svd[0]["full_ranks"][k] for k in layers], width,
           label="full rank", color="lightgrey", align="edge")
    for i, r in enumerate(svd, start=1):
        ax.bar([x - 0.4 + i * width for x in xs], [r["ranks"][k] for k in layers], width,
               label=f"{r['method']} ({r['setting']})", align="edge")
    ax.set_xticks(list(xs))
    ax.set_xticklabels(layers, rotation=90, fontsize=7)
    ax.set_ylabel("rank kept")
    ax.legend(fontsize=7)
    return fig


def _recipe(plan: ReproPlan) -> str:
    opt = "Adam" if plan.optimizer == "adam" else "SGD (Nesterov momentum 0.9)"
    wd = f", weight decay {plan.weight_decay:g}" if plan.weight_decay else ""
    cycles = ("one cycle over stages 1 + 2; the dense model gets the same cycle"
              if plan.one_cycle else "one cycle per stage; the dense model gets the same two "
              "cycles")
    precision = ("; bf16 autocast mixed precision while training (float32 weights, float32 "
                 "evaluation)" if plan.precision == "bf16" else "")
    return (f"{opt}, learning rate {plan.lr:g} ({plan.schedule}, {cycles}){wd}, fine-tuning "
            f"from {plan.finetune_lr or plan.lr:g} on a cosine{precision}")


def _x(value: float | None) -> str:
    return "no point" if value is None else f"{value:.2f}x"


#: Issue 21's goal for the deployed low-rank net: a CPU latency speedup of at least this share
#: of its FLOPs reduction.
LATENCY_SHARE = 0.7


def _latency_claim(row: dict[str, Any], *, at_ref: bool) -> Claim:
    """Whether the deployed Hoyer model's CPU latency follows its FLOPs (``row``: the Hoyer
    point at the reference accuracy, else the most accurate Hoyer point)."""
    speedup, flops = row.get("latency_speedup"), row["flops_reduction"]
    share = speedup / flops if speedup is not None else None
    where = ("the Hoyer point at the reference accuracy" if at_ref else
             "the most accurate Hoyer point (none is within 0.5 pt of the reference)")
    deployed = row.get("deployed_flops_reduction")
    ours = ("not measured" if share is None else
            f"{share:.2f}: latency x{speedup:.2f} / FLOPs x{flops:.2f} ({row['setting']}; "
            f"deployed FLOPs {'not measured' if deployed is None else f'x{deployed:.2f}'})")
    return Claim(f"CPU latency speedup >= {LATENCY_SHARE} x the FLOPs reduction (issue 21 goal)",
                 "(not a paper figure)", ours,
                 f"{where}; one thread, batch of the latency column",
                 holds=None if share is None else share >= LATENCY_SHARE,
                 figures={"latency_speedup": speedup, "flops_reduction": flops})


def render(rows: list[dict[str, Any]], plan: ReproPlan) -> tuple[dict[str, Any], Report]:
    """Metrics, claim table, tables and plots of a finished run, from its rows alone."""
    original = next((r for r in rows if r["method"] == "original"), None)
    rows = [r for r in rows if r["method"] != "original"]
    dense = next(r for r in rows if r["method"] == "dense")
    ref_acc = dense["test_acc"]
    quick = dataclasses.replace(plan, expected_minutes=QUICK_PLAN.expected_minutes) == QUICK_PLAN
    check = _claim_check(rows)
    best = {m: _best_at_reference(rows, m, ref_acc)
            for m in ("svd-hoyer", "svd-l1", "svd-none", "truncated-svd", "filter-l1")}
    hoyer = best["svd-hoyer"]
    hoyer_x = hoyer["flops_reduction"] if hoyer else None
    top = max((r for r in rows if r["method"] == "svd-hoyer"), key=lambda r: r["test_acc"])
    hoyer_best_acc = top["test_acc"]

    metrics: dict[str, Any] = {
        "reference_acc": ref_acc,
        "hoyer_vs_none_holds": check["holds"],
        "hoyer_flops_reduction_at_none_acc": check["hoyer_flops_reduction"],
        "none_flops_reduction": check["none_flops_reduction"],
    }
    if original is not None:
        metrics["duration_train_s"] = original["timings"].get(
            "train_s", original["timings"]["total_s"])
    for m, r in best.items():
        key = m.replace("-", "_")
        metrics[f"{key}_flops_reduction_at_ref"] = r["flops_reduction"] if r else None
        metrics[f"{key}_acc_at_ref"] = r["test_acc"] if r else None
    if hoyer is not None:
        metrics["hoyer_latency_speedup_at_ref"] = hoyer["latency_speedup"]
        metrics["hoyer_deployed_flops_reduction_at_ref"] = hoyer.get("deployed_flops_reduction")

    def fmt(r: dict[str, Any] | None) -> str:
        if r is None:
            return (f"no point within 0.5 pt of the reference (best Hoyer "
                    f"{100 * top['test_acc']:.2f}% at x{top['flops_reduction']:.2f}, "
                    f"{100 * (ref_acc - top['test_acc']):.2f} pt under)")
        return f"{r['flops_reduction']:.2f}x at {100 * r['test_acc']:.2f}% ({r['setting']})"

    def versus(base: str) -> Claim:
        b = best[base]
        theirs = b["flops_reduction"] if b else None
        name = "post-hoc truncated SVD" if base == "truncated-svd" else "L1 filter pruning"
        if hoyer is None:  # no Hoyer point at the reference: compare at matched FLOPs instead
            match = next((r for r in rows if r["method"] == base
                          and r.get("matched_to") == top["setting"]), None)
            acc = match["test_acc"] if match else None
            return Claim(
                f"more accurate than {name} at the same FLOPs", "yes (implied)",
                f"Hoyer {100 * top['test_acc']:.2f}% vs {base} "
                f"{'not measured' if acc is None else f'{100 * acc:.2f}%'} at "
                f"x{top['flops_reduction']:.2f}",
                "at the most accurate Hoyer point's FLOPs (no Hoyer point is within 0.5 pt of "
                "the reference, so 'FLOPs at the same accuracy' has no figure)",
                holds=None if acc is None else top["test_acc"] > acc,
                figures={"hoyer_acc": top["test_acc"], f"{base.replace('-', '_')}_acc": acc})
        return Claim(
            f"higher FLOPs reduction than {name} at the same accuracy", "yes",
            f"Hoyer {_x(hoyer_x)} vs {base} {_x(theirs)}",
            "largest reduction within 0.5 pt of the dense reference",
            holds=None if hoyer_x is None or theirs is None else hoyer_x > theirs,
            figures={"hoyer_flops_reduction": hoyer_x,
                     f"{base.replace('-', '_')}_flops_reduction": theirs})

    title = f"SVD training ({plan.model}, {plan.dataset}{', quick' if quick else ''})"
    report = Report(title)
    report.paragraph(
        f"Yang et al., CVPR-W 2020 (arXiv 2004.09031). Schedule: {plan.epochs[0]} epochs "
        f"orthogonality only, {plan.epochs[1]} with the sparsity regularizer, prune by energy "
        f"E in {list(plan.energies)}, {plan.epochs[2]} fine-tune epochs; {_recipe(plan)}, batch "
        f"{plan.batch_size}, {plan.mode}-wise, lambda_o = {plan.orth}, "
        f"{'all' if plan.train_subset is None else plan.train_subset} training images, "
        f"{'all' if plan.test_subset is None else plan.test_subset} test images. "
        f"Baselines at the FLOPs of each Hoyer point: post-hoc truncated SVD and L1 filter "
        f"pruning of a dense model trained for the same {plan.epochs[0] + plan.epochs[1]} "
        f"epochs, each fine-tuned {plan.epochs[2]} epochs. The dense reference is that model "
        f"fine-tuned unpruned for the same epochs: {100 * ref_acc:.2f}%. Latency: median CPU "
        f"time of a batch of {plan.latency_batch}, one thread, torch.utils.benchmark, of each "
        f"model and of the original deployed alike for inference (a layer stays factorized "
        f"only where its measured latency pays, else its factors are merged; batch norms "
        f"folded; channels_last); 'deployed_flops_reduction' is the FLOPs reduction of what "
        f"then runs, 'flops_reduction' that of the kept ranks.")
    report.claims([
        Claim("FLOPs reduction at baseline accuracy (ResNet-20, CIFAR-10, channel-wise Hoyer)",
              "about 2.2x", fmt(hoyer),
              "shortened schedule, see above" + ("; quick mode: a small CNN on Fashion-MNIST, "
                                                  "not comparable" if quick else ""),
              holds=None if quick else hoyer_x is not None and hoyer_x >= 2.2,
              figures={} if quick else (
                  {"hoyer_flops_reduction": hoyer_x} if hoyer_x is not None
                  else {"hoyer_best_acc": hoyer_best_acc, "reference_acc": ref_acc})),
        Claim("Hoyer beats no sparsity regularizer at equal accuracy (within 0.5 pt)",
              "yes", f"Hoyer {_x(check['hoyer_flops_reduction'])} vs none "
              f"{_x(check['none_flops_reduction'])} at {100 * check['none_acc']:.2f}%"
              + ("" if check["hoyer_flops_reduction"] is not None else
                 f" (best Hoyer accuracy {100 * hoyer_best_acc:.2f}%)"),
              "at the no-regularizer run's best accuracy", holds=check["holds"],
              figures={"none_flops_reduction": check["none_flops_reduction"],
                       "hoyer_best_acc": hoyer_best_acc}),
        versus("truncated-svd"),
        versus("filter-l1"),
        _latency_claim(hoyer or top, at_ref=hoyer is not None),
    ])
    if quick:
        report.paragraph(
            "What the quick mode cannot show: the paper's ResNet-20 figure (a small CNN on "
            "5,000 Fashion-MNIST images is not comparable), the L1 regularizer variant, and "
            "differences of less than about a point of accuracy or a few hundredths of FLOPs "
            "reduction (one seed, 80 steps of the sparsity regularizer); the full run is "
            "docs/reports/svdtrain.")
    report.heading("Accuracy at matched FLOPs")
    matched = []
    for h in [r for r in rows if r["method"] == "svd-hoyer"]:
        entry = {"FLOPs reduction": h["flops_reduction"], "svd-hoyer": h["test_acc"]}
        for r in rows:
            if r.get("matched_to") == h["setting"]:
                entry[r["method"]] = r["test_acc"]
        matched.append(entry)
    report.table(matched, ["FLOPs reduction", "svd-hoyer", "truncated-svd", "filter-l1"])
    report.paragraph("Baselines are pruned to at least the Hoyer point's FLOPs reduction "
                     "(bisection on the energy / the filter fraction), then fine-tuned.")
    report.heading("All points")
    table = [{k: r.get(k) for k in ("method", "setting", "test_acc", "flops_reduction",
                                    "params_reduction", "deployed_flops_reduction",
                                    "latency_speedup", "latency_ms")}
             for r in rows]
    report.table(table)
    report.figure(_accuracy_figure(rows, ref_acc), "accuracy_vs_flops.png",
                  "Test accuracy against FLOPs reduction.")
    svd = [r for r in rows if r["method"].startswith("svd-") and r["energy"] == max(
        x["energy"] for x in rows if x["method"] == r["method"])]
    if svd:
        report.heading("Ranks kept per layer")
        report.paragraph("At the largest energy of each SVD variant.")
        report.figure(_ranks_figure(svd), "ranks.png",
                      "Rank kept per layer against the full rank.")
    if original is not None:
        report.heading("Time")
        report.table([{"part": k, "seconds": v} for k, v in original["timings"].items()])
        report.paragraph(f"Original model: {original['flops'] / 2e6:.2f} M multiply-adds per "
                         f"image, CPU latency {original['latency_ms']:.2f} ms per batch.")
    else:
        report.paragraph(f"Original model: {dense['flops'] / 2e6:.2f} M multiply-adds per "
                         f"image (stage timings were not recorded in this run's rows).")
    return metrics, report
