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
    ("optimizer", "rmsprop", "adam, sgd"), ("schedule", "step", "constant, cosine, onecycle"),
    ("weight_decay", -1e-4, "weight_decay"), ("finetune_lr", 0.0, "finetune_lr"),
    ("precision", "fp16", "fp32, bf16"), ("one_cycle", True, "not \"constant\""),
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


@pytest.mark.parametrize("one_cycle", [False, True])
def test_train_svd_stages_one_cycle_spans_both_stages(tmp_path, one_cycle):
    torch.manual_seed(0)
    from carbide.compression.lowrank import SmallBNCNN, train_svd_stages

    cfg = SVDTrainConfig(epochs=(1, 1, 0), batch_size=16, strength=0.05, optimizer="sgd",
                         lr=0.1, schedule="onecycle", one_cycle=one_cycle, precision="bf16")
    train_svd_stages(SmallBNCNN(num_classes=2), _task(), cfg, checkpoint_dir=tmp_path)
    lr1, lr2 = (torch.load(tmp_path / name, weights_only=True)["history"][-1]["lr"]
                for name in ("stage1.pt", "stage2-hoyer.pt"))
    if one_cycle:  # stage 1 ends mid-cycle, near the peak; stage 2 at the cycle's end
        assert lr1 > 0.05 and lr2 < 0.1 * lr1
    else:  # each stage a cycle of its own, of the same length
        assert lr1 == pytest.approx(lr2) and lr1 < 0.05


def test_stage_cycles_place_two_stages_in_one_cycle():
    from carbide.compression.lowrank import stage_cycles

    assert stage_cycles(30, 20, True) == ((0, 50), (30, 50))
    assert stage_cycles(30, 20, False) == (None, None)


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


class _Interrupt(Exception):
    pass


def _bomb(after: int):
    """A regularizer that adds nothing and raises on its ``after``-th call (a killed run)."""
    calls = {"n": 0}

    def reg(model):
        calls["n"] += 1
        if calls["n"] == after:
            raise _Interrupt
        return torch.zeros(()), {}
    return reg


SGD = {"batch_size": 16, "optimizer": "sgd", "schedule": "onecycle", "lr": 0.05,
       "weight_decay": 5e-4}


def _fresh():
    from carbide.compression.lowrank import SmallBNCNN

    torch.manual_seed(0)
    return SmallBNCNN(num_classes=2)


def test_an_interrupted_run_resumes_from_its_checkpoint_to_the_same_model(tmp_path):
    task = _task()
    whole = _fresh()
    expected = train_epochs(whole, task, 3, **SGD)
    killed = _fresh()
    with pytest.raises(_Interrupt):  # 72 images / 16: 5 steps an epoch; dies in epoch 2
        train_epochs(killed, task, 3, regularizer=_bomb(6), checkpoint=tmp_path / "c.pt", **SGD)
    resumed = _fresh()
    hist = train_epochs(resumed, task, 3, checkpoint=tmp_path / "c.pt", **SGD)
    assert [h["loss"] for h in hist] == [h["loss"] for h in expected]
    for a, b in zip(whole.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    again = _fresh()  # a finished checkpoint trains nothing and restores the model
    assert train_epochs(again, task, 3, checkpoint=tmp_path / "c.pt", **SGD) == hist
    assert torch.equal(again.state_dict()["conv1.weight"], whole.state_dict()["conv1.weight"])


def test_a_checkpoint_of_other_settings_is_refused(tmp_path):
    task = _task()
    train_epochs(_fresh(), task, 1, checkpoint=tmp_path / "c.pt", **SGD)
    with pytest.raises(InvalidConfigError, match="another training"):
        train_epochs(_fresh(), task, 1, checkpoint=tmp_path / "c.pt", **{**SGD, "lr": 0.1})


@pytest.mark.parametrize(("kw", "match"), [({"optimizer": "lbfgs"}, "adam, sgd"),
                                           ({"schedule": "linear"}, "onecycle")])
def test_train_epochs_rejects_unknown_optimizer_or_schedule(kw, match):
    with pytest.raises(InvalidConfigError, match=match):
        train_epochs(_fresh(), _task(), 1, **kw)


@pytest.mark.parametrize("schedule", ["cosine", "onecycle"])
def test_schedules_end_near_zero_and_sgd_learns(schedule):
    task = _task()
    model = _fresh()
    hist = train_epochs(model, task, 3, **{**SGD, "schedule": schedule})
    assert hist[-1]["loss"] < hist[0]["loss"]
    assert all(h["seconds"] > 0 for h in hist)
    assert evaluate(model, task.x_test, task.y_test) == 1.0


@pytest.mark.parametrize("schedule", ["cosine", "onecycle"])
def test_two_calls_over_one_cycle_follow_the_whole_cycles_rates(schedule):
    task = _task()
    whole = train_epochs(_fresh(), task, 4, **{**SGD, "schedule": schedule})
    model = _fresh()
    first = train_epochs(model, task, 2, cycle=(0, 4), **{**SGD, "schedule": schedule})
    second = train_epochs(model, task, 2, cycle=(2, 4), **{**SGD, "schedule": schedule})
    assert [h["lr"] for h in first + second] == pytest.approx([h["lr"] for h in whole])
    # a stage of its own ends its schedule: its last rate is not the cycle's middle
    alone = train_epochs(_fresh(), task, 2, **{**SGD, "schedule": schedule})
    assert alone[-1]["lr"] != pytest.approx(first[-1]["lr"])


@pytest.mark.parametrize(("kw", "match"), [
    ({"cycle": (3, 4)}, "do not fit"), ({"cycle": (-1, 4)}, "cycle"),
    ({"cycle": (0, 4), "schedule": "constant"}, "cosine"), ({"precision": "fp16"}, "bf16"),
])
def test_bad_cycle_or_precision_is_refused(kw, match):
    with pytest.raises(InvalidConfigError, match=match):
        train_epochs(_fresh(), _task(), 2, **{**SGD, **kw})


def test_bf16_autocast_trains_other_numbers_and_keeps_float32_weights(tmp_path):
    task = _task()
    fp32 = train_epochs(_fresh(), task, 2, **SGD)
    model = _fresh()
    bf16 = train_epochs(model, task, 2, precision="bf16", checkpoint=tmp_path / "c.pt", **SGD)
    assert bf16[-1]["loss"] < bf16[0]["loss"]
    assert [h["loss"] for h in bf16] != [h["loss"] for h in fp32]
    assert all(p.dtype == torch.float32 for p in model.parameters())
    # the precision is part of a checkpoint's settings
    with pytest.raises(InvalidConfigError, match="another training"):
        train_epochs(_fresh(), task, 2, checkpoint=tmp_path / "c.pt", **SGD)


def test_a_later_part_of_a_cycle_ignores_gradients_left_by_the_earlier_part():
    import copy

    task = _task()
    model = _fresh()
    train_epochs(model, task, 1, cycle=(0, 2), **SGD)
    assert any(p.grad is not None for p in model.parameters())  # the last step's gradients
    clean = copy.deepcopy(model)  # a Parameter's deepcopy leaves its gradient behind
    assert all(p.grad is None for p in clean.parameters())
    a = train_epochs(model, task, 1, cycle=(1, 2), **SGD)
    b = train_epochs(clean, task, 1, cycle=(1, 2), **SGD)
    assert a == [{**h, "seconds": a[0]["seconds"]} for h in b]
    for x, y in zip(model.state_dict().values(), clean.state_dict().values(), strict=True):
        assert torch.equal(x, y)
