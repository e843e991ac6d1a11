"""Throughput of NASGEM's pieces: WL features, encoder training and embedding, a search round.

For NAS-Bench-201 cells (<= 8 nodes, the whole 15,625-cell space) and 30-node cells
(``cell:30``): WL subtree features (h = 3) per second, encoder training steps per second
(batch 64, every pair), embeddings per second, and the wall time of one NASGEM round
(predictor fit on 100 evaluated cells + scoring the pool). Prints one table row per space.

Run: OMP_NUM_THREADS=1 python benchmarks/nasgem_embed.py [--cells 2000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from carbide.nas.gem import (
    AccuracyPredictor,
    EncoderConfig,
    candidate_pool,
    train_encoder,
    wl_features,
)
from carbide.nas.spaces import make_space
from carbide.results import markdown_table


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=2000, help="cells per space")
    parser.add_argument("--steps", type=int, default=200, help="encoder steps timed")
    args = parser.parse_args()
    rows = []
    for spec in ("nb201", "cell:30"):
        space = make_space(spec)
        rng = np.random.default_rng(0)
        pool = candidate_pool(space)
        if pool is None:
            pool = [space.sample(rng) for _ in range(args.cells)]
        cells = [pool[i] for i in rng.choice(len(pool), min(args.cells, len(pool)),
                                             replace=False)]
        _, wl_s = timed(lambda cells=cells: wl_features(cells, h=3))
        ops = ("input", "output", *space.ops)
        enc, train_s = timed(lambda cells=cells, ops=ops: train_encoder(
            cells, ops, EncoderConfig(steps=args.steps), show_progress=False))
        emb, embed_s = timed(lambda pool=pool, enc=enc: enc.embed(pool))
        acc = rng.random(100)

        def one_round(emb=emb, acc=acc):
            return AccuracyPredictor(seed=0).fit(emb[:100], acc).predict(emb)

        _, round_s = timed(one_round)
        rows.append({
            "space": spec, "max_nodes": max(c.num_nodes for c in cells),
            "wl_cells_per_s": len(cells) / wl_s,
            "encoder_steps_per_s": args.steps / train_s,
            "embed_cells_per_s": len(pool) / embed_s, "pool": len(pool),
            "round_s (fit 100 + score pool)": round_s,
        })
    print(markdown_table(rows, floatfmt=".4g"))


if __name__ == "__main__":
    main()
