"""BiFeat in a few lines: quantize Cora's features to 1 bit, train GraphSAGE from the codes.

Run: CARBIDE_DATA=../shared/data python examples/bifeat_quickstart.py
"""

from __future__ import annotations

from carbide.compression.featquant import TrainConfig, quantize, train_node_classifier
from carbide.datasets import load_planetoid


def main() -> None:
    data = load_planetoid("cora")
    features = quantize(data.x, "sq", bits=1)  # or quantize(data.x, "vq", width=32, codebook=64)
    print(features)
    result = train_node_classifier(data, features, TrainConfig(epochs=30, batch_size=64))
    print(f"test accuracy {result.test_acc:.3f} from {features.nbytes / 1024:.0f} KiB of "
          f"features ({features.compression_ratio:.1f}x smaller than fp32)")


if __name__ == "__main__":
    main()
