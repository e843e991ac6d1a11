"""Training: the networks learn a periodic series, runs are seeded, joint models score per age."""

from __future__ import annotations

import numpy as np
import pytest

from carbide.exceptions import InvalidConfigError

pd = pytest.importorskip("pandas")
torch = pytest.importorskip("torch")

from carbide.forecasting.datasets import make_age_dataset, make_joint_dataset  # noqa: E402
from carbide.forecasting.models import LSTMRegressor, MLPRegressor, build_model  # noqa: E402
from carbide.forecasting.train import (  # noqa: E402
    TrainConfig,
    evaluate,
    evaluate_per_age,
    fit_model,
    predict,
)


def _daily(n=24 * 40, seed=0):
    """A noisy daily cycle (period 24 steps)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    y = np.maximum(0, np.sin(2 * np.pi * t / 24)) + 0.05 * rng.normal(size=n)
    return pd.DataFrame({"p": y}, index=pd.date_range("2021-01-01", periods=n, freq="h"))


def test_models_map_windows_to_one_value():
    x = torch.zeros(5, 6, 3)
    assert LSTMRegressor(3).forward(x).shape == (5,)
    assert MLPRegressor(3, 6).forward(x).shape == (5,)
    assert build_model("lstm", 3, 6).lstm.hidden_size == 32  # the paper's LSTM(32)
    with pytest.raises(InvalidConfigError, match="unknown model 'gru'; choose one of: lstm, mlp"):
        build_model("gru", 3, 6)


@pytest.mark.parametrize("model", ["mlp", "lstm"])
def test_fit_learns_and_is_seeded(model):
    sp = make_age_dataset(_daily(), "p", ["p"], 24, 1).split()
    cfg = TrainConfig(model=model, epochs=8, patience=3, batch_size=64, seed=1)
    fit = fit_model(sp.train, sp.val, cfg)
    assert fit.train_mse < 0.2 and evaluate(fit, sp.test) < 0.2  # scale 1 = the mean's MSE
    assert 1 <= fit.best_epoch <= fit.epochs_run <= 8 and len(fit.history) == fit.epochs_run
    again = fit_model(sp.train, sp.val, cfg)
    assert again.train_mse == fit.train_mse
    pred = predict(fit, sp.test)
    assert pred.shape == sp.test.y.shape
    assert np.mean((pred - sp.test.y) ** 2) / fit.scaler.y_std ** 2 == pytest.approx(
        evaluate(fit, sp.test), rel=1e-4)


def test_joint_model_with_age_input_scores_each_age():
    joint = make_joint_dataset(_daily(), "p", ["p"], 6, [1, 12, 24], age_input=True)
    sp = joint.split()
    fit = fit_model(sp.train, sp.val, TrainConfig(model="mlp", epochs=5, seed=0))
    per_age = evaluate_per_age(fit, sp.test)
    assert set(per_age) == {(1,), (12,), (24,)}
    assert all(0 <= v < 2 for v in per_age.values())
    with pytest.raises(InvalidConfigError, match="trained with age_input=True"):
        predict(fit, sp.test.with_age_input(False))


def test_too_few_samples_and_bad_config():
    ds = make_age_dataset(_daily(60), "p", ["p"], 1, 1)
    sp = ds.split((0.98, 0.01))
    with pytest.raises(InvalidConfigError, match="the validation part has 0 sample"):
        fit_model(sp.train, sp.val)
    with pytest.raises(InvalidConfigError, match="lr must be a number in"):
        TrainConfig(lr=0)
    with pytest.raises(InvalidConfigError, match="epochs must be an integer >= 1"):
        TrainConfig(epochs=0)
