import numpy as np
import pytest

from carbide.exceptions import CarbideError, InvalidConfigError
from carbide.nas.gem.predictor import (
    AccuracyPredictor,
    PredictorConfig,
    efficiency_score,
    rank_correlation,
)


def synthetic(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6))
    y = 90 + 2 * np.tanh(x[:, 0]) - x[:, 1] ** 2 + 0.5 * x[:, 2]
    return x, y


def test_predictor_ranks_unseen_points():
    x, y = synthetic(300, 0)
    pred = AccuracyPredictor(PredictorConfig(ensemble=3, epochs=200), seed=0).fit(x[:150], y[:150])
    corr = rank_correlation(pred.predict(x[150:]), y[150:])
    assert corr["spearman"] > 0.8 and corr["kendall"] > 0.6
    mean, std = pred.predict(x[150:], return_std=True)
    assert mean.shape == std.shape == (150,) and (std >= 0).all() and std.max() > 0
    # seeded: same seed, same predictions
    again = AccuracyPredictor(PredictorConfig(ensemble=3, epochs=200), seed=0).fit(x[:150], y[:150])
    np.testing.assert_array_equal(again.predict(x[:5]), pred.predict(x[:5]))


def test_efficiency_score_trades_accuracy_for_cost():
    pred = np.array([90.0, 91.0, 92.0])
    cost = np.array([1.0, 2.0, 5.0])
    np.testing.assert_array_equal(efficiency_score(pred, cost, 0.0), pred)
    np.testing.assert_allclose(efficiency_score(pred, cost, 4.0), [90.0, 90.0, 88.0])
    assert np.argmax(efficiency_score(pred, cost, 4.0)) == 0
    with pytest.raises(InvalidConfigError, match="cost"):
        efficiency_score(pred, None, 1.0)
    with pytest.raises(InvalidConfigError, match="cost_weight"):
        efficiency_score(pred, cost, -1.0)


def test_rank_correlation_and_errors():
    assert rank_correlation([1, 2, 3], [10, 20, 30]) == {"spearman": 1.0, "kendall": 1.0}
    assert rank_correlation([1, 2, 3], [3, 2, 1])["kendall"] == -1.0
    with pytest.raises(CarbideError, match="not fitted"):
        AccuracyPredictor().predict(np.zeros((2, 3)))
    with pytest.raises(InvalidConfigError, match="N >= 2"):
        AccuracyPredictor().fit(np.zeros((1, 3)), [1.0])
    with pytest.raises(InvalidConfigError, match="hidden"):
        PredictorConfig(hidden=())
