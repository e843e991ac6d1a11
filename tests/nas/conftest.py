"""The strategies every shared contract test runs against (``strategy`` fixture).

A new strategy joins the contract by adding one entry to ``_STRATEGIES``: a name and a
``(space, seed) -> Strategy`` factory.
"""

from __future__ import annotations

import pytest

from carbide.nas.evaluators import Evaluation, Evaluator


def _random(space, seed):
    from carbide.nas import RandomSearch

    return RandomSearch(space, seed=seed)


def _rea(space, seed):
    from carbide.nas import RegularizedEvolution

    return RegularizedEvolution(space, population=10, sample_size=3, seed=seed)


def _nasgem(space, seed):
    from carbide.nas.gem import NASGEM, EncoderConfig, NASGEMConfig, PredictorConfig

    cfg = NASGEMConfig(n_init=8, top_k=4, pool_size=200, encoder_cells=60,
                       encoder=EncoderConfig(steps=30, hidden=16, emb_dim=8),
                       predictor=PredictorConfig(hidden=(16,), ensemble=2, epochs=60))
    return NASGEM(space, cfg, seed=seed)


_STRATEGIES = {"random": _random, "rea": _rea, "nasgem": _nasgem}


@pytest.fixture(params=sorted(_STRATEGIES))
def strategy(request):
    """``(space, seed) -> Strategy`` for each strategy of the shared contract."""
    return _STRATEGIES[request.param]


class SyntheticEvaluator(Evaluator):
    """A deterministic, table-free evaluator over NB201 keys (accuracy = digit sum)."""

    name = "synthetic"

    def _evaluate(self, cell):
        return Evaluation(val_acc=float(sum(int(d) for d in cell.arch)), cost_s=1.0)

    def optimum(self):
        return 24.0


@pytest.fixture(scope="session")
def space():
    """``() -> space``: NAS-Bench-201 cells restricted to a 300-cell synthetic table (NASGEM
    scores its whole candidate pool every round; the full 15,625-cell space would make the
    contract slow without testing more)."""
    import numpy as np

    from carbide.datasets import NASBench201
    from carbide.nas import make_space

    rng = np.random.default_rng(0)
    keys = sorted({"".join(map(str, rng.integers(0, 5, 6))) for _ in range(400)})[:300]
    bench = NASBench201({k: {"val_acc": [50.0, 51.0], "train_time": [1.0, 1.0],
                             "latency": [0.01, 0.01], "model_size": [0.1, 0.1]} for k in keys},
                        source="synthetic")
    return lambda: make_space("nb201", bench=bench)


@pytest.fixture
def synthetic():
    """A factory of fresh :class:`SyntheticEvaluator` objects."""
    return SyntheticEvaluator
