"""``carbide bifeat repro``: BiFeat's headline claim at small scale, on Cora and CiteSeer.

Paper: Ma et al., "BiFeat: Supercharge GNN Training via Graph Feature Quantization",
arXiv 2207.14696. Claims: compression ratio > 30 with marginal accuracy loss; 2-3.2x faster
training where feature transfer dominates; the loss depends on graph density (neighbour
aggregation averages quantization noise away, so sparser graphs lose more).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from ...results import Claim, Report, RunRecorder, subplots, track
from .experiment import RunConfig, run_node_classification

__all__ = ["run_repro"]

# (method, kwargs) of the accuracy table; VQ settings chosen so that codes + codebooks of a
# 1433/3703-feature Planetoid graph land near and above 30x (codebooks dominate small graphs).
_SETTINGS: tuple[dict[str, Any], ...] = (
    {"method": "none"},
    {"method": "sq", "bits": 8},
    {"method": "sq", "bits": 4},
    {"method": "sq", "bits": 2},
    {"method": "sq", "bits": 1},
    {"method": "sq", "bits": 1, "paper_sq": True},
    {"method": "vq", "width": 16, "codebook": 64},
    {"method": "vq", "width": 32, "codebook": 64},
    {"method": "vq", "width": 64, "codebook": 128},
    {"method": "vq", "width": 128, "codebook": 16},
)
_QUICK_SETTINGS = (0, 1, 3, 4, 5, 7, 9)
# the density study needs lossy settings: VQ(128,16) is the one that loses points at full
# density, so its loss can grow or not as neighbourhoods shrink
_DENSITY_SETTINGS: tuple[dict[str, Any], ...] = (
    {"method": "none"},
    {"method": "sq", "bits": 2},
    {"method": "sq", "bits": 1},
    {"method": "vq", "width": 32, "codebook": 64},
    {"method": "vq", "width": 128, "codebook": 16},
)
_DENSITY = (0.0, 0.25, 0.5, 0.75, 0.9)
_QUICK_DENSITY = (0.0, 0.5, 0.9)


def _mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def _summarize(rows: list[dict[str, Any]], keys: tuple[str, ...]) -> list[dict[str, Any]]:
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[tuple(r[k] for k in keys)].append(r)
    out = []
    for key, rs in groups.items():
        acc, std = _mean_std([r["test_acc"] for r in rs])
        out.append({**dict(zip(keys, key, strict=True)), "test_acc_mean": acc,
                    "test_acc_std": std, "seeds": len(rs),
                    "compression_ratio": statistics.fmean(r["compression_ratio"] for r in rs),
                    "feature_bytes": statistics.fmean(r["feature_bytes"] for r in rs),
                    "epoch_time_s": statistics.median(r["epoch_time_s"] for r in rs)})
    return out


def _epoch(table: list[dict[str, Any]], dataset: str, setting: str) -> float:
    return next(t["epoch_time_s"] for t in table
                if t["dataset"] == dataset and t["setting"] == setting)


def run_repro(out: str | Path, *, quick: bool = False, seed: int = 0,
              root: Any = None) -> dict[str, Any]:
    """Run the accuracy table and the density study; write results, report and plots to ``out``.

    Quick mode: fewer settings, epochs and density points (minutes on a laptop); three seeds
    either way (``seed``, ``seed+1``, ``seed+2``).
    """
    epochs = 30 if quick else 60
    seeds = [seed, seed + 1, seed + 2]
    settings = [_SETTINGS[i] for i in _QUICK_SETTINGS] if quick else list(_SETTINGS)
    density = _QUICK_DENSITY if quick else _DENSITY
    config = {"quick": quick, "seed": seed, "epochs": epochs, "seeds": seeds,
              "settings": settings, "density": list(density),
              "density_settings": list(_DENSITY_SETTINGS), "fanouts": [15, 10, 5],
              "batch_size": 64, "model": "GraphSAGE(3 layers, 128 hidden, mean)"}
    recorder = RunRecorder(out, system="bifeat", config=config)

    jobs = [RunConfig(dataset=d, epochs=epochs, seed=s, **kw)
            for d in ("cora", "citeseer") for kw in settings for s in seeds]
    jobs += [RunConfig(dataset="cora", epochs=epochs, seed=s, drop_edges=p,
                       normalize_features=True, **kw)
             for p in density for kw in _DENSITY_SETTINGS for s in seeds]
    rows = [run_node_classification(job, root, progress=False)
            for job in track(jobs, "BiFeat runs")]
    acc_rows = [r for r in rows if not r["normalize_features"]]
    den_rows = [r for r in rows if r["normalize_features"]]
    table = _summarize(acc_rows, ("dataset", "setting"))
    dens = _summarize(den_rows, ("setting", "drop_edges"))

    base = {t["dataset"]: t["test_acc_mean"] for t in table if t["setting"] == "fp32"}
    for t in table:
        t["acc_loss_pts"] = 100 * (base[t["dataset"]] - t["test_acc_mean"])
    dbase = {t["drop_edges"]: t["test_acc_mean"] for t in dens if t["setting"] == "fp32"}
    for t in dens:
        t["acc_loss_pts"] = 100 * (dbase[t["drop_edges"]] - t["test_acc_mean"])

    # headline: the smallest loss on Cora among settings at >= 30x
    cora30 = [t for t in table if t["dataset"] == "cora" and t["compression_ratio"] >= 30]
    best = min(cora30, key=lambda t: t["acc_loss_pts"])
    citeseer30 = [t for t in table if t["dataset"] == "citeseer"
                  and t["compression_ratio"] >= 30]
    best_cs = min(citeseer30, key=lambda t: t["acc_loss_pts"]) if citeseer30 else None
    lossy = [t for t in dens if t["setting"] != "fp32"]
    by_setting: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for t in lossy:
        by_setting[t["setting"]].append(t)
    growth = {s: sorted(ts, key=lambda t: t["drop_edges"]) for s, ts in by_setting.items()}
    growth_pts = {s: ts[-1]["acc_loss_pts"] - ts[0]["acc_loss_pts"] for s, ts in growth.items()}

    metrics = {
        "cora_fp32_test_acc": base["cora"],
        "citeseer_fp32_test_acc": base["citeseer"],
        "cora_best_30x_setting": best["setting"],
        "cora_best_30x_ratio": best["compression_ratio"],
        "cora_best_30x_test_acc": best["test_acc_mean"],
        "cora_best_30x_loss_pts": best["acc_loss_pts"],
        "citeseer_best_30x_setting": best_cs["setting"] if best_cs else None,
        "citeseer_best_30x_loss_pts": best_cs["acc_loss_pts"] if best_cs else None,
        "density_loss_growth_pts": growth_pts,
        "runs": len(rows),
    }

    fig, axes = subplots(1, 2, figsize=(11, 4))
    for ax, ds in zip(axes, ("cora", "citeseer"), strict=True):
        pts = [t for t in table if t["dataset"] == ds]
        for t in pts:
            ax.errorbar(t["compression_ratio"], 100 * t["test_acc_mean"],
                        yerr=100 * t["test_acc_std"], fmt="o", capsize=3)
            ax.annotate(t["setting"], (t["compression_ratio"], 100 * t["test_acc_mean"]),
                        textcoords="offset points", xytext=(4, 4), fontsize=7)
        ax.set_xscale("log")
        ax.axvline(30, color="grey", ls=":", lw=1)
        ax.set_xlabel("compression ratio (fp32 bytes / stored bytes)")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(f"{ds}: accuracy vs compression ({len(seeds)} seeds)")
    recorder.save_figure(fig, "accuracy_vs_ratio.png")

    fig, ax = subplots()
    for s, ts in growth.items():
        ax.plot([100 * t["drop_edges"] for t in ts], [t["acc_loss_pts"] for t in ts], "o-",
                label=s)
    ax.axhline(0, color="grey", lw=1)
    ax.set_xlabel("edges dropped (%)")
    ax.set_ylabel("accuracy loss vs fp32 (points)")
    ax.set_title("Cora (row-normalized features): quantization loss vs density")
    ax.legend()
    recorder.save_figure(fig, "loss_vs_density.png")

    report = Report("BiFeat: graph feature quantization (arXiv 2207.14696)")
    report.paragraph(
        f"GraphSAGE (3 layers, 128 hidden, mean aggregation) trained with sampled mini-batches "
        f"(fan-outs 15,10,5 from the seeds outward, i.e. the paper's 5,10,15 listed from the "
        f"input layer; batch 64; Adam 3e-3; {epochs} epochs; best-validation model tested) on "
        f"the Planetoid public splits, features gathered and dequantized per batch from the "
        f"compressed store. Mean ± std over seeds {seeds}. Mode: {'quick' if quick else 'full'}."
    )
    report.heading("The paper's claims beside ours")
    report.claims([
        Claim("compression ratio > 30 with marginal accuracy loss",
              "> 30x, marginal loss (MAG240M, ogbn-papers100M, ...)",
              f"{best['setting']} at {best['compression_ratio']:.1f}x on Cora: "
              f"{100 * best['test_acc_mean']:.1f}% vs fp32 {100 * base['cora']:.1f}% "
              f"({best['acc_loss_pts']:+.2f} pts loss)",
              "Cora, 3 seeds", best["acc_loss_pts"] <= 1.5),
        Claim("quantization loss grows as the graph gets sparser",
              "accuracy loss depends on density (neighbour averaging hides noise)",
              ", ".join(f"{s}: {g:+.2f} pts from 0% to {100 * density[-1]:.0f}% edges dropped"
                        for s, g in growth_pts.items()),
              "Cora, row-normalized features",
              all(g > 0 for g in growth_pts.values())),
        Claim("2-3.2x faster training", "feature transfer dominates mini-batch time (GPU)",
              f"Cora epoch (CPU, median): fp32 {_epoch(table, 'cora', 'fp32'):.3f} s, SQ1 "
              f"{_epoch(table, 'cora', 'SQ1'):.3f} s; large-graph epochs: "
              f"benchmarks/featquant_epoch.py",
              "CPU only: no PCIe transfer to save", None),
    ])
    report.heading("Accuracy and compression")
    report.table(
        [{k: t[k] for k in ("dataset", "setting", "compression_ratio", "feature_bytes",
                            "test_acc_mean", "test_acc_std", "acc_loss_pts", "epoch_time_s")}
         for t in table], floatfmt=".4g")
    report.image("accuracy_vs_ratio.png", "accuracy vs compression ratio")
    paper = {t["dataset"]: t for t in table if t["setting"] == "SQ1-paper"}
    sq1 = {t["dataset"]: t for t in table if t["setting"] == "SQ1"}
    if "cora" in paper and "cora" in sq1:
        report.paragraph(
            f"Planetoid features are binary bag-of-words (about 99% zeros). carbide's SQ gives "
            f"exact zeros their own code and spends no sign bit on non-negative data, so SQ1 "
            f"stores them losslessly: {100 * sq1['cora']['test_acc_mean']:.1f}% on Cora against "
            f"{100 * base['cora']:.1f}% with fp32. The paper's scheme (SQ1-paper: a sign bit, "
            f"zeros sent to the negative side, decoded to +/- (mean|x| + 0.1) as in the "
            f"authors' code) is an affine map of the same bits, yet GraphSAGE reached only "
            f"{100 * paper['cora']['test_acc_mean']:.1f}% on it under the same budget: the "
            f"constant -m on every absent word swamps the few +m entries. This is the case the "
            f"issue asked carbide to handle better than the authors' code. VQ codebooks "
            f"dominate the bytes of graphs this small, so the VQ settings here use few centres."
        )
    report.heading("Density: accuracy loss vs edges dropped")
    report.table(sorted(
        [{k: t[k] for k in ("setting", "drop_edges", "test_acc_mean", "test_acc_std",
                            "acc_loss_pts")} for t in dens],
        key=lambda t: (t["setting"], t["drop_edges"])), floatfmt=".4g")
    report.image("loss_vs_density.png", "accuracy loss vs density")
    report.paragraph(
        "Row-normalized features (the usual Planetoid preprocessing) make the values "
        "non-binary, so SQ is lossy here; each density point drops the same fraction of "
        "undirected edges for every setting (seeded per run)."
    )
    return recorder.finish(metrics=metrics, rows=rows, report=report)
