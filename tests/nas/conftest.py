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


@pytest.fixture
def synthetic():
    """A factory of fresh :class:`SyntheticEvaluator` objects."""
    return SyntheticEvaluator
