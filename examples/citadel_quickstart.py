"""Citadel on your own data: each data owner trains in its own enclave (an isolated OS process),
updates leave it only zero-sum-masked and sealed, a tree of aggregator enclaves adds them and
only the root decodes the sum. Compares the result with plain FedAvg from the same seeds.

Attestation is simulated (an Ed25519 service signs the code hash and the enclave key; no SGX).

Run: OMP_NUM_THREADS=1 CARBIDE_DATA=../shared/data python examples/citadel_quickstart.py
"""

from __future__ import annotations

import torch

from carbide.datasets import load_fashion_mnist
from carbide.federated import FLConfig, LocalTraining, ModelSpec, Simulation, partition_dirichlet
from carbide.federated.secure import CitadelTrainer, secure_aggregate


def main() -> None:
    # 1. the maths alone, on any (n, d) updates: the weighted mean, masked and tree-summed
    updates, counts = torch.randn(4, 1000) * 0.01, torch.tensor([10.0, 20.0, 30.0, 40.0])
    res = secure_aggregate(updates, counts, scheme="pairwise", fan_in=2, clip=1.0)
    print("secure mean vs plain:", float((res.update - (counts / counts.sum()) @ updates)
                                         .abs().max()), "clipped:", res.info["clipped"])

    # 2. a whole training: four data owners, enclaves as OS processes
    train, test = load_fashion_mnist("train"), load_fashion_mnist("test")
    x, y = train.float_images()[:2000], train.labels[:2000]        # any (N, C, H, W) tensors
    parts = partition_dirichlet(y, num_clients=4, alpha=0.5, seed=0)
    owners = {f"owner{i}": (x[torch.from_numpy(p)], y[torch.from_numpy(p)])
              for i, p in enumerate(parts)}
    test_set = (test.float_images()[:1000], test.labels[:1000])
    cfg = FLConfig(rounds=3, local=LocalTraining(lr=0.05), seed=0)
    trainer = CitadelTrainer(ModelSpec("small-cnn"), owners, test_set, cfg, scheme="pairwise",
                             fan_in=2, backend="process")
    try:
        for row in trainer.run():
            print(f"round {row['round']}: test_acc {row['test_acc']:.3f}  "
                  f"{row['round_time_s']:.2f} s  (encode+mask {row['encode_mask_s']:.3f} s, "
                  f"encrypt {row['encrypt_s']:.3f} s)")
    finally:
        trainer.close()
    plain = Simulation(ModelSpec("small-cnn"), owners, test_set,
                       FLConfig(rounds=3, clients_per_round=4, local=LocalTraining(lr=0.05)))
    plain.run(progress=False)
    print("max |secure - plain| state:", float((trainer.state - plain.state).abs().max()))


if __name__ == "__main__":
    main()
