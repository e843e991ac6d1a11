"""NASGEM in a few lines: a WL-similarity graph encoder, then a predictor-guided search on
NAS-Bench-201, beside regularized evolution at the same budget.

Run: CARBIDE_DATA=../shared/data python examples/nasgem_quickstart.py
"""

from __future__ import annotations

import numpy as np

from carbide.datasets import NASBench201
from carbide.nas import NB201Evaluator, RegularizedEvolution, make_space, run_search
from carbide.nas.gem import (
    NASGEM,
    embedding_similarity_quality,
    onehot_encoding,
    train_encoder,
)


def main() -> None:
    bench = NASBench201.load()
    space = make_space("nb201")
    optimum = NB201Evaluator(bench).optimum()

    # 1. the encoder: cosine similarity of embeddings regresses the WL kernel (no accuracies)
    rng = np.random.default_rng(0)
    cells = [space.sample(rng) for _ in range(700)]
    train, held_out = cells[:500], cells[500:]
    ops = ("input", "output", *space.ops)
    encoder = train_encoder(train, ops, seed=0)
    ours = embedding_similarity_quality(encoder.embed(held_out), held_out)
    base = embedding_similarity_quality(onehot_encoding(held_out, ops, 8), held_out)
    print(f"held-out Spearman vs WL kernel: encoder {ours['spearman']:.3f}, "
          f"one-hot {base['spearman']:.3f}")

    # 2. the search: 150 table queries each
    for strategy in (NASGEM(space, seed=0, encoder=encoder), RegularizedEvolution(space, seed=0)):
        history = run_search(strategy, NB201Evaluator(bench), budget=150)
        best = history.best
        print(f"{strategy.name}: best val acc {best['val_acc']:.2f}% "
              f"(regret {optimum - best['val_acc']:.3f}) at {best['key']}")


if __name__ == "__main__":
    main()
