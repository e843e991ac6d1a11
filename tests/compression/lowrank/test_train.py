import pytest
import torch

from carbide.compression.lowrank import (
    ImageTask,
    SVDTrainConfig,
    evaluate,
    load_image_task,
    measure_latency,
    run_svd_training,
    train_epochs,
)
from carbide.compression.lowrank.train import _augment
from carbide.exceptions import InvalidConfigError


def _task(n=96, seed=0):
    """Two classes told apart by the mean brightness of a 28x28 image."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = torch.randn(n, 1, 28, 28, generator=g) * 0.5 + (2.0 * y - 1.0).view(-1, 1, 1, 1)
    return ImageTask("toy", x[: n * 3 // 4], y[: n * 3 // 4], x[n * 3 // 4:], y[n * 3 // 4:])


@pytest.mark.parametrize(("field", "value", "match"), [
    ("energy", 0.0, "energy"), ("energy", 1.0, "energy"), ("strength", -1.0, "strength"),
    ("orth", -0.1, "orth"), ("mode", "rows", "channel, spatial"),
    ("sparsity", "l0", "hoyer, l1, hoyer2, none"), ("model", "vgg", "resnet20, smallcnn"),
    ("dataset", "mnist", "cifar10, fashion-mnist"), ("epochs", (1, 2), "three"),
    ("epochs", (1, -1, 1), "epochs"), ("init", "zeros", "svd, random"),
])
def test_config_rejects_bad_values_with_choices(field, value, match):
    with pytest.raises(InvalidConfigError, match=match):
        SVDTrainConfig(**{field: value})


def test_augment_is_a_seeded_crop_and_flip():
    x = torch.arange(2 * 3 * 32 * 32, dtype=torch.float32).view(2, 3, 32, 32)
    a = _augment(x, torch.Generator().manual_seed(0))
    b = _augment(x, torch.Generator().manual_seed(0))
    assert a.shape == x.shape and torch.equal(a, b)
    # each output is a shifted (maybe mirrored) window of the zero-padded input
    padded = torch.nn.functional.pad(x, (4, 4, 4, 4))
    for i in range(2):
        windows = [padded[i, :, dy:dy + 32, dx:dx + 32] for dy in range(9) for dx in range(9)]
        assert any(torch.equal(a[i], w) or torch.equal(a[i], w.flip(2)) for w in windows)


def test_training_learns_a_toy_task():
    torch.manual_seed(0)
    from carbide.compression.lowrank import SmallBNCNN

    task = _task()
    model = SmallBNCNN(num_classes=2)
    hist = train_epochs(model, task, 3, batch_size=16)
    assert len(hist) == 3 and hist[-1]["loss"] < hist[0]["loss"]
    assert evaluate(model, task.x_test, task.y_test) == 1.0


def test_run_svd_training_end_to_end_on_a_toy_task():
    cfg = SVDTrainConfig(epochs=(1, 1, 1), energy=0.3, batch_size=16, strength=0.05)
    row, deployed = run_svd_training(cfg, task=_task())
    assert row["test_acc"] > 0.9
    assert row["flops_reduction"] > 1.0 and row["params_reduction"] > 1.0
    assert row["latency_speedup"] > 0 and set(row["ranks"]) == {
        "conv1", "conv2", "conv3", "fc1", "fc2"}
    assert all(k <= full for k, full in row["ranks"].values())
    assert deployed(torch.zeros(1, 1, 28, 28)).shape == (1, 2)


def test_wrong_model_for_the_images_is_an_error():
    with pytest.raises(InvalidConfigError, match="resnet20 with cifar10"):
        run_svd_training(SVDTrainConfig(model="resnet20", epochs=(0, 0, 0)), task=_task())


def test_measure_latency_is_positive():
    from carbide.compression.lowrank import SmallBNCNN

    assert 0 < measure_latency(SmallBNCNN(), (1, 28, 28), batch=2, min_run_time=0.05) < 5


@pytest.mark.data
def test_load_fashion_mnist_subset_is_class_balanced(shared_root):
    task = load_image_task("fashion-mnist", root=shared_root, train_subset=1000, seed=1)
    assert task.x_train.shape == (1000, 1, 28, 28) and task.x_test.shape == (10000, 1, 28, 28)
    assert torch.bincount(task.y_train).tolist() == [100] * 10
    assert abs(float(task.x_train.mean())) < 0.2 and not task.augment
    with pytest.raises(InvalidConfigError, match="exceeds"):
        load_image_task("fashion-mnist", root=shared_root, train_subset=10**6)
    small = load_image_task("fashion-mnist", root=shared_root, test_subset=50, seed=1)
    assert small.x_test.shape == (50, 1, 28, 28) and len(small.y_train) == 60000
    assert torch.bincount(small.y_test).tolist() == [5] * 10
    with pytest.raises(InvalidConfigError, match="test_subset=20000 exceeds the 10000 test"):
        load_image_task("fashion-mnist", root=shared_root, test_subset=20000)
