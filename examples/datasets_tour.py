"""A tour of carbide's dataset loaders: load each shared dataset and print what it holds.

Run: CARBIDE_DATA=../shared/data python examples/datasets_tour.py
"""

from __future__ import annotations

from carbide import datasets


def main() -> None:
    cora = datasets.load_planetoid("cora")
    print(f"Cora: {cora.num_nodes} nodes, {cora.num_features} features, "
          f"{int(cora.y.max()) + 1} classes, {int(cora.train_mask.sum())} training nodes")

    fmnist = datasets.load_fashion_mnist("test")
    print(f"Fashion-MNIST test: images {tuple(fmnist.images.shape)}, "
          f"classes {fmnist.classes[:3]}...")

    femnist = datasets.load_femnist()
    sizes = femnist.num_samples("train")
    print(f"FEMNIST: {len(sizes)} writers, {sum(sizes.values())} training images")

    nb201 = datasets.NASBench201.load()
    best = nb201.best("val_acc")
    print(f"NAS-Bench-201: {len(nb201)} cells, best {best['arch_str']} "
          f"at {best['val_acc']:.2f}% validation accuracy")

    pv = datasets.load_pv("system50", freq="1h")
    print(f"PV system 50: {len(pv)} hourly rows {pv.index[0]} .. {pv.index[-1]}, "
          f"NaN counts {pv.attrs['nan_counts']}")

    flow = datasets.load_openfoam_buildings()
    print(f"OpenFOAM: values {tuple(flow.values.shape)}, "
          f"times {flow.times[0]:.2f}..{flow.times[-1]:.2f}")


if __name__ == "__main__":
    main()
