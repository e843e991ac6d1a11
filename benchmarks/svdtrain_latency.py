"""CPU inference latency of low-rank ResNet-20s against the dense one: does latency follow FLOPs?

Rank profiles (labelled in the output):

- ``report-E<e>``: the per-layer ranks of the Hoyer models (lambda_s=0.5, E=0.02/0.05/0.1)
  recorded in ``docs/reports/svdtrain-resnet20-lambda0.5/results.json``, applied to a
  randomly initialised ResNet-20 (the top-``r`` ranks of its exact SVD);
- ``synthetic-E<e>``: ranks set by the energy threshold ``E`` on the same random net.

Latency does not depend on the weights' values, so random weights suffice (batch norms get
random statistics so that folding them is not trivial). For each profile:

- ``before``: :func:`compact` (every layer whose pair saves weights as a pair, batch norms
  separate, contiguous NCHW) against the eager dense model, the way the reports measured it;
- ``after``: :func:`deploy` (pair only where the measured per-layer latency at the target batch
  pays by 5 %, else the merged dense layer; batch norms folded; channels_last) against the
  dense model through the same :func:`deploy` (batch norms folded, channels_last), so the
  speedup is the low-rank structure's alone. ``vs_eager`` is the same deployed model against
  the eager dense model.
- ``after-flops``: as ``after`` with the per-layer choice by FLOPs (margin 5 %).

FLOPs reduction is the deployed model's (layers kept dense count dense FLOPs); ``rank_flops``
is the reduction every SVD layer would give as a pair. Timing: one thread; per round every
model is timed by :func:`fastest_call` (fastest of 8 blocks, interleaved, in CPU time of the
timing thread so that preemption by other processes is not counted); the figure is the median
over ``--rounds`` rounds, printed with the load average. A stage (one batch size) runs
in well under a minute; results go to ``--out`` (JSON) and the per-layer latency cache to
``--cache``, so stages can be run one by one and the table rebuilt with ``--table``.

Run: OMP_NUM_THREADS=1 python benchmarks/svdtrain_latency.py --batch 32 --out b32.json
     OMP_NUM_THREADS=1 python benchmarks/svdtrain_latency.py --batch 1 --out b1.json
     python benchmarks/svdtrain_latency.py --table b32.json b1.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from carbide.compression.lowrank import (
    LatencyCache,
    compact,
    count_flops,
    decompose,
    deploy,
    energy_rank,
    fastest_call,
    resnet20,
    svd_layers,
)
from carbide.results import markdown_table

REPORT = (Path(__file__).resolve().parent.parent / "docs" / "reports"
          / "svdtrain-resnet20-lambda0.5" / "results.json")
SHAPE = (3, 32, 32)


def _random_resnet(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = resnet20()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    return model.eval()


def profiles() -> dict[str, dict[str, int]]:
    """Profile name -> layer -> rank."""
    out: dict[str, dict[str, int]] = {}
    rows = json.loads(REPORT.read_text())["rows"]
    for r in rows:
        if r["method"] == "svd-hoyer":
            out[f"report-E{r['energy']:g}"] = {k: int(v) for k, v in r["ranks"].items()}
    svd = _random_resnet()
    decompose(svd, init="svd")
    for e in (0.2, 0.35):
        out[f"synthetic-E{e:g}"] = {n: energy_rank(m.s, e) for n, m in svd_layers(svd).items()}
    return out


def svd_model(ranks: dict[str, int]) -> torch.nn.Module:
    model = _random_resnet()
    decompose(model, init="svd")
    for name, layer in svd_layers(model).items():
        layer.keep_ranks_(torch.arange(ranks[name]))  # exact SVD: sorted by |s|
    return model.eval()


def _load() -> str:
    with open("/proc/loadavg") as fh:
        return fh.read().split()[0]


def run_stage(batch: int, rounds: int, cache_path: str | None, names: list[str] | None
              ) -> list[dict]:
    cache = LatencyCache(cache_path)
    dense = _random_resnet()
    f0 = count_flops(dense, SHAPE)
    models = {"dense-eager": dense,
              "dense-deployed": deploy(dense, SHAPE, batch=batch, factorize="always")}
    meta = {}
    t = time.perf_counter()
    for name, ranks in profiles().items():
        if names and name not in names:
            continue
        svd = svd_model(ranks)
        rank_flops = f0 / count_flops(compact(svd, dense_if_cheaper=False), SHAPE)
        variants = {
            "before": compact(svd),
            "after": deploy(svd, SHAPE, batch=batch, factorize="latency", cache=cache),
            "after-flops": deploy(svd, SHAPE, batch=batch, factorize="flops"),
        }
        x = torch.randn(4, *SHAPE)
        with torch.no_grad():
            ref = svd(x)
            for v, m in variants.items():
                err = float((m(x) - ref).abs().max())
                if err > 1e-4:
                    raise RuntimeError(f"{name} {v}: differs from the SVD model by {err:g}")
                models[f"{name}|{v}"] = m
                meta[f"{name}|{v}"] = {"rank_flops": rank_flops,
                                       "flops_reduction": f0 / count_flops(m, SHAPE),
                                       "max_abs_err": err}
    setup_s = time.perf_counter() - t
    x = torch.randn(batch, *SHAPE)
    times: dict[str, list[float]] = {k: [] for k in models}
    load = [_load()]
    for _ in range(rounds):
        got = fastest_call(list(models.values()), x, blocks=8, block_time=0.01)
        for k, s in zip(models, got, strict=True):
            times[k].append(s)
    load.append(_load())
    med = {k: statistics.median(v) for k, v in times.items()}
    rows = []
    for key, info in meta.items():
        name, variant = key.split("|")
        base = med["dense-eager"] if variant == "before" else med["dense-deployed"]
        speed = base / med[key]
        rows.append({"profile": name, "variant": variant, "batch": batch,
                     "rank_flops": round(info["rank_flops"], 3),
                     "flops_reduction": round(info["flops_reduction"], 3),
                     "latency_ms": round(med[key] * 1e3, 3),
                     "dense_ms": round(base * 1e3, 3),
                     "speedup": round(speed, 3),
                     "speedup/flops": round(speed / info["flops_reduction"], 3),
                     "vs_eager": round(med["dense-eager"] / med[key], 3),
                     "max_abs_err": info["max_abs_err"],
                     "load": "-".join(load), "rounds": rounds})
    print(f"batch {batch}: dense eager {med['dense-eager'] * 1e3:.3f} ms, dense deployed "
          f"{med['dense-deployed'] * 1e3:.3f} ms; setup {setup_s:.1f} s; load {load}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profiles", default="", help="comma-separated subset of profiles")
    parser.add_argument("--cache", default=None, help="per-layer latency cache (JSON)")
    parser.add_argument("--out", default=None, help="write this stage's rows (JSON)")
    parser.add_argument("--table", nargs="*", help="print the table of earlier stages' JSON")
    args = parser.parse_args()
    if args.table:
        rows = [r for f in args.table for r in json.loads(Path(f).read_text())]
    else:
        torch.set_num_threads(1)
        rows = run_stage(args.batch, args.rounds, args.cache,
                         [p for p in args.profiles.split(",") if p])
        if args.out:
            Path(args.out).write_text(json.dumps(rows, indent=1) + "\n")
    cols = ("profile", "variant", "batch", "rank_flops", "flops_reduction", "speedup",
            "speedup/flops", "vs_eager", "latency_ms", "dense_ms", "load")
    print(markdown_table([{c: r[c] for c in cols} for r in rows]))


if __name__ == "__main__":
    main()
