"""BiFeat when the fp32 features exceed the memory budget: fp32 read from a memory-mapped file
against compressed codes in RAM, epoch time and accuracy side by side.

Usage: python benchmarks/bifeat_memmap.py [--nodes 500000] [--dim 128] [--budget-mb 32]
       [--train-nodes 4096] [--epochs 3] [--dir DIR] [--citeseer-epochs 50]
       [--citeseer-budget-mb 8] [--skip-synthetic] [--skip-citeseer] [--json out.json]

Two parts, each GraphSAGE (fan-outs 15,10,5) trained with sampled mini-batches by
``train_node_classifier``, the features served by one store per setting:

* timing, on a **synthetic** task (``synthetic_node_task``: Chung-Lu power-law graph, 16
  classes, Gaussian class-mean features; labels synthetic too): its fp32 matrix is written to
  a ``.npy`` file (fsynced) under ``--dir`` and served by ``MemmapFeatures(path,
  budget_bytes=budget)``: after every gather, when more than the budget of the file is in the
  page cache (``mincore``), the file is evicted (``madvise(MADV_DONTNEED)`` +
  ``posix_fadvise(POSIX_FADV_DONTNEED)``), and it is evicted before training starts, so the
  fp32 reads come from disk as on a machine whose memory for features is the budget (no
  cgroup is used). Against it: SQ1 and VQ(16,256) codes in RAM (they fit the budget), and,
  as a reference only, fp32 in RAM (which the budget does not allow). Batch 1024 seeds; the
  training nodes are cut to ``--train-nodes`` so an epoch is a few batches; validation and
  test to 5,000 nodes each. Epoch time is the median over ``--epochs`` epochs (evaluation
  excluded), split into sampling, gather and compute.
* accuracy, on CiteSeer (3,327 nodes x 3,703 features, the largest graph in the shared data
  that featquant loads), the standard split, the same memmap-with-budget store against the
  quantized ones; batch 64, ``--citeseer-epochs`` epochs, validation every 5 epochs, the
  best-validation model tested (one seed: ``--seed``).

Prints one table per part and the load average; writes everything to ``--json``. The settings
run one after another, so on a shared machine their compute time moves with the load; the
gather column is the part the feature store sets.

Measured (2026-12-04, this 2-core shared VM, virtio disk, 1 thread, defaults; load average
3.4-4.3 for the synthetic part, 4.0-5.1 for CiteSeer), median epoch s (gather s per epoch):

* synthetic, 500k nodes x 128 (fp32 244 MiB on disk), budget 32 MiB: fp32 memmap 9.31
  (3.38, 27 evictions), SQ1 in RAM 4.61 (0.13), VQ(16,256) in RAM 4.69 (0.18), fp32 in RAM
  4.46 (0.34): compressed in RAM 2.0x faster per epoch than fp32 read from disk;
* CiteSeer (fp32 47 MiB on disk), budget 8 MiB, 50 epochs, seed 0: fp32 memmap 1.11 (0.43,
  test accuracy 0.691), fp32 in RAM 0.55 (0.03, 0.691), SQ1 0.43 (0.01, 0.691), VQ(16,64)
  0.42 (0.01, 0.681).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

from carbide.results import load_average  # noqa: E402  (light: no torch)

#: (name, quantize kwargs or a store kind) per setting.
SYNTHETIC_SETTINGS: tuple[tuple[str, Any], ...] = (
    ("fp32 memmap (budget)", "memmap"),
    ("SQ1 in RAM", {"method": "sq", "bits": 1}),
    ("VQ(16,256) in RAM", {"method": "vq", "width": 16, "codebook": 256}),
    ("fp32 in RAM (reference, over budget)", "dense"),
)
CITESEER_SETTINGS: tuple[tuple[str, Any], ...] = (
    ("fp32 memmap (budget)", "memmap"),
    ("fp32 in RAM (reference, over budget)", "dense"),
    ("SQ1 in RAM", {"method": "sq", "bits": 1}),
    ("VQ(16,64) in RAM", {"method": "vq", "width": 16, "codebook": 64}),
)

_COLS = ("part", "setting", "ram_mb", "ratio", "epoch_s", "sample_s", "gather_s", "compute_s",
         "speedup", "eval_s", "test_acc", "evictions", "loadavg")


def write_npy(path: str, x: Any, chunk_rows: int = 262_144) -> None:
    """Write float32 ``x`` to ``path`` as ``.npy`` in chunks, then fsync it (clean pages can
    be evicted; dirty ones cannot)."""
    import numpy as np

    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=tuple(x.shape))
    for i in range(0, x.shape[0], chunk_rows):
        out[i : i + chunk_rows] = x[i : i + chunk_rows].numpy()
    out.flush()
    del out
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _store(kind: Any, x: Any, path: str, budget: int, seed: int) -> Any:
    from carbide.compression.featquant import DenseFeatures, MemmapFeatures, quantize

    if kind == "dense":
        return DenseFeatures(x)
    if kind == "memmap":
        feats = MemmapFeatures(path, budget_bytes=budget)
        feats.evict()
        left = feats.resident_bytes()
        if left:
            print(f"warning: {left} bytes of {path} stay in memory after eviction (tmpfs?); "
                  f"the fp32 reads do not all come from disk")
        return feats
    return quantize(x, seed=seed, **kind)


def _run(part: str, data: Any, x: Any, path: str, budget: int, settings: Any, cfg: Any,
         seed: int, log: Any) -> list[dict[str, Any]]:
    from carbide.compression.featquant import train_node_classifier

    rows = []
    base = None
    for name, kind in settings:
        t0 = time.perf_counter()
        feats = _store(kind, x, path, budget, seed)
        built = time.perf_counter() - t0
        load = load_average()
        res = train_node_classifier(data, feats, cfg, progress=False)
        hist = res.history
        n = len(hist)
        ram = budget if kind == "memmap" else feats.nbytes  # memmap: its page-cache budget
        row = {
            "part": part, "setting": name, "ram_mb": round(ram / 2**20, 1),
            "feature_file_mb": round(feats.nbytes / 2**20, 1) if kind == "memmap" else None,
            "ratio": round(feats.compression_ratio, 1), "build_s": round(built, 1),
            "epoch_s": round(res.epoch_time_s, 2),
            "sample_s": round(sum(h["sample_s"] for h in hist) / n, 2),
            "gather_s": round(sum(h["gather_s"] for h in hist) / n, 2),
            "compute_s": round(sum(h["compute_s"] for h in hist) / n, 2),
            "eval_s": round(res.timings["eval_s"], 1), "test_acc": round(res.test_acc, 4),
            "val_acc": round(res.val_acc, 4), "best_epoch": res.best_epoch,
            "evictions": getattr(feats, "evictions", None), "loadavg": load,
            "epoch_s_all": [round(h["epoch_s"], 2) for h in hist],
        }
        if kind == "memmap":
            base = row["epoch_s"]
        row["speedup"] = round(base / row["epoch_s"], 2) if base else None
        rows.append(row)
        log(" ".join(f"{row[c]!s:>12s}" for c in _COLS))
        if kind == "memmap":
            feats.close()
        del feats
    return rows


def memmap_benchmark(
    nodes: int = 500_000,
    dim: int = 128,
    *,
    budget_mb: float = 32,
    train_nodes: int = 4096,
    epochs: int = 3,
    citeseer_epochs: int = 50,
    citeseer_budget_mb: float = 8,
    workdir: str | None = None,
    seed: int = 0,
    synthetic: bool = True,
    citeseer: bool = True,
    log: Any = print,
) -> dict[str, Any]:
    """Both parts (see the module docstring); returns ``{"synthetic": rows, "citeseer": rows,
    ...}`` with the setup beside them."""
    import torch

    from carbide.compression.featquant import TrainConfig, synthetic_node_task
    from carbide.datasets import load_planetoid

    torch.set_num_threads(1)
    own = workdir is None
    workdir = workdir or tempfile.mkdtemp(prefix="bifeat_memmap_", dir=".")
    os.makedirs(workdir, exist_ok=True)
    out: dict[str, Any] = {"loadavg_before": load_average(), "workdir": os.path.abspath(workdir),
                           "threads": 1}
    try:
        if synthetic:
            t0 = time.perf_counter()
            data = synthetic_node_task(nodes, dim, seed=seed, train_fraction=train_nodes / nodes,
                                       val_fraction=0.01)
            gen = torch.Generator().manual_seed(seed)
            for mask in ("val_mask", "test_mask"):
                ids = getattr(data, mask).nonzero().reshape(-1)
                small = torch.zeros(nodes, dtype=torch.bool)
                small[ids[torch.randperm(ids.numel(), generator=gen)[:5000]]] = True
                setattr(data, mask, small)
            x = data.x
            path = os.path.join(workdir, "synthetic_x.npy")
            write_npy(path, x)
            log(f"synthetic task: {nodes} nodes, {data.edge_index.shape[1]} directed edges, "
                f"{dim} features (fp32 {x.numel() * 4 / 2**20:.0f} MiB on disk), "
                f"{int(data.train_mask.sum())} training nodes; built in "
                f"{time.perf_counter() - t0:.0f} s; budget {budget_mb:g} MiB")
            cfg = TrainConfig(epochs=epochs, batch_size=1024, seed=seed, eval_every=0)
            out["synthetic_setup"] = {
                "data": "synthetic (synthetic_node_task: power-law graph, synthetic labels)",
                "nodes": nodes, "edges": int(data.edge_index.shape[1]), "dim": dim,
                "train_nodes": int(data.train_mask.sum()), "eval_nodes": 5000,
                "fp32_mb": round(x.numel() * 4 / 2**20, 1), "budget_mb": budget_mb,
                "epochs": epochs, "batch_size": 1024, "fanouts": list(cfg.fanouts)}
            log(" ".join(f"{c:>12s}" for c in _COLS))
            out["synthetic"] = _run("synthetic", data, x, path, int(budget_mb * 2**20),
                                    SYNTHETIC_SETTINGS, cfg, seed, log)
            del data, x
            os.remove(path)
        if citeseer:
            data = load_planetoid("citeseer")
            x = data.x.float().contiguous()
            path = os.path.join(workdir, "citeseer_x.npy")
            write_npy(path, x)
            cfg = TrainConfig(epochs=citeseer_epochs, batch_size=64, seed=seed, eval_every=5)
            out["citeseer_setup"] = {
                "data": "CiteSeer (Planetoid standard split)", "nodes": int(x.shape[0]),
                "dim": int(x.shape[1]), "fp32_mb": round(x.numel() * 4 / 2**20, 1),
                "budget_mb": citeseer_budget_mb, "epochs": citeseer_epochs, "batch_size": 64,
                "eval_every": 5,
                "fanouts": list(cfg.fanouts), "seed": seed}
            log(f"CiteSeer: {x.shape[0]} nodes x {x.shape[1]} features (fp32 "
                f"{x.numel() * 4 / 2**20:.0f} MiB on disk), budget {citeseer_budget_mb:g} MiB, "
                f"{citeseer_epochs} epochs, seed {seed}")
            log(" ".join(f"{c:>12s}" for c in _COLS))
            out["citeseer"] = _run("citeseer", data, x, path, int(citeseer_budget_mb * 2**20),
                                   CITESEER_SETTINGS, cfg, seed, log)
            os.remove(path)
    finally:
        if own:
            shutil.rmtree(workdir, ignore_errors=True)
    out["loadavg_after"] = load_average()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=500_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--budget-mb", type=float, default=32)
    parser.add_argument("--train-nodes", type=int, default=4096)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--citeseer-epochs", type=int, default=50)
    parser.add_argument("--citeseer-budget-mb", type=float, default=8)
    parser.add_argument("--dir", default=None,
                        help="where the .npy files go (on a disk, not tmpfs; default a "
                             "temporary folder here)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-synthetic", action="store_true")
    parser.add_argument("--skip-citeseer", action="store_true")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    args = parser.parse_args()
    print(f"load average {load_average()} (1, 5, 15 min); 1 thread")
    res = memmap_benchmark(args.nodes, args.dim, budget_mb=args.budget_mb,
                           train_nodes=args.train_nodes, epochs=args.epochs,
                           citeseer_epochs=args.citeseer_epochs,
                           citeseer_budget_mb=args.citeseer_budget_mb, workdir=args.dir,
                           seed=args.seed, synthetic=not args.skip_synthetic,
                           citeseer=not args.skip_citeseer,
                           log=lambda s: print(s, flush=True))
    print(f"load average before {res['loadavg_before']}, after {res['loadavg_after']}; "
          f"speedup = fp32-memmap epoch / this epoch")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=1)


if __name__ == "__main__":
    main()
