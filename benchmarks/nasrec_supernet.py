"""NASRec supernet training speed on CPU: index run vs masked run-everything.

Both train the same supernet on the same sampled subnets (single-operator any-connection
sampling, batch 512, Adagrad) on MovieLens-100k-shaped batches; the index run computes only
the chosen operators and inputs with prefix-sliced weight views, the masked run computes every
operator of every block at max width on zero-padded inputs and multiplies the unchosen ones by
zero. Prints steps per second of each and the ratio (the issue's goal: >= 3x). Timings depend
on the machine's load; run it on an idle machine for the record.

    PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/nasrec_supernet.py [--space full]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch.nn import functional as F  # noqa: N812

from carbide.nas.rec import RecSupernet, make_rec_space

# MovieLens-100k's stem: 7 sparse fields, 1 multi-hot field, 2 dense fields
VOCAB, BAGS, DENSE = (944, 1648, 62, 3, 22, 383, 74), (21,), 2


def _batch(batch_size: int, gen: torch.Generator) -> dict[str, torch.Tensor]:
    return {"sparse": torch.stack([torch.randint(0, v, (batch_size,), generator=gen)
                                   for v in VOCAB], 1),
            "dense": torch.randn(batch_size, DENSE, generator=gen),
            "multi_hot": torch.randint(0, BAGS[0], (batch_size, 1, 6), generator=gen),
            "label": torch.randint(0, 2, (batch_size,), generator=gen).float()}


def steps_per_second(space, masked: bool, steps: int, batch_size: int) -> float:
    net = RecSupernet(space, VOCAB, BAGS, DENSE, seed=0).train()
    opt = torch.optim.Adagrad(net.parameters(), lr=0.12)
    gen = torch.Generator().manual_seed(0)
    rng = np.random.default_rng(0)
    archs = [space.sample_arch(rng) for _ in range(steps + 2)]
    batches = [_batch(batch_size, gen) for _ in range(4)]
    start = None
    for step, arch in enumerate(archs):
        if step == 2:  # two warm-up steps
            start = time.perf_counter()
        batch = batches[step % len(batches)]
        logits = net.forward_masked(batch, arch) if masked else net(batch, arch)
        loss = F.binary_cross_entropy_with_logits(logits, batch["label"])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", choices=["small", "full"], default="full")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--paper-widths", action="store_true",
                        help="dense up to 1024, 16-64 tokens (default: the CPU-scaled widths)")
    args = parser.parse_args()
    kw = {} if args.paper_widths else {"dense_dims": (16, 32, 64, 128, 256),
                                       "sparse_dims": (4, 8, 12, 16), "merger_tokens": 4}
    space = make_rec_space(args.space, **kw)
    index = steps_per_second(space, False, args.steps, args.batch_size)
    masked = steps_per_second(space, True, args.steps, args.batch_size)
    print(f"NASRec-{args.space} supernet, batch {args.batch_size}, {args.steps} steps, "
          f"threads {torch.get_num_threads()}")
    print(f"  index run:              {index:7.2f} steps/s")
    print(f"  masked run-everything:  {masked:7.2f} steps/s")
    print(f"  speed-up:               {index / masked:7.2f}x")


if __name__ == "__main__":
    main()
