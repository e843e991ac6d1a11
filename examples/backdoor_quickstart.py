"""Federated learning with a backdoor attacker and a defense, on your own data and model.

Splits Fashion-MNIST by Heterogeneity Index, lets one client poison the last local steps of
every round, aggregates with FoolsGold, and prints main-task accuracy and attack success rate.

Run: CARBIDE_DATA=../shared/data python examples/backdoor_quickstart.py
"""

from __future__ import annotations

import torch

from carbide.datasets import load_fashion_mnist
from carbide.federated import FLConfig, LocalTraining, ModelSpec, Simulation, partition_hi
from carbide.federated.attacks import BackdoorAttack, PixelTrigger
from carbide.federated.defenses import FoolsGold


def main() -> None:
    train, test = load_fashion_mnist("train"), load_fashion_mnist("test")
    x, y = train.float_images()[:6000], train.labels[:6000]      # any (N, C, H, W) tensors
    parts = partition_hi(y, num_clients=20, hi=0.6, seed=0)      # 4 classes per client
    clients = {f"c{i}": (x[torch.from_numpy(p)], y[torch.from_numpy(p)])
               for i, p in enumerate(parts)}
    attack = BackdoorAttack(trigger=PixelTrigger("checker", size=4), target=0,
                            placement="last", rounds="late:0.5")
    sim = Simulation(ModelSpec("small-cnn", 1, 10, 28),           # or any model factory
                     clients, (test.float_images()[:2000], test.labels[:2000]),
                     FLConfig(rounds=10, clients_per_round=8, local=LocalTraining(lr=0.1)),
                     aggregator=FoolsGold(), attack=attack, attackers=["c3"])
    for row in sim.run():
        print(f"round {row['round']:2d}: main_acc {row['main_acc']:.3f}  asr {row['asr']:.3f}  "
              f"attacker weight {row['attacker_weight']}")


if __name__ == "__main__":
    main()
