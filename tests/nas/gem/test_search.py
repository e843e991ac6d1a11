
import numpy as np
import pytest

from carbide.datasets.nasbench import NASBench201
from carbide.exceptions import InvalidConfigError
from carbide.nas.evaluators import Evaluation, Evaluator, NB201Evaluator
from carbide.nas.gem.encoder import EncoderConfig
from carbide.nas.gem.predictor import PredictorConfig
from carbide.nas.gem.search import NASGEM, NASGEMConfig, candidate_pool, network, pool_views
from carbide.nas.search import run_search
from carbide.nas.spaces import NB201Space, make_space

TINY = NASGEMConfig(n_init=8, top_k=4, pool_size=200, encoder_cells=60,
                    encoder=EncoderConfig(steps=30, hidden=16, emb_dim=8),
                    predictor=PredictorConfig(hidden=(16,), ensemble=2, epochs=60))


@pytest.fixture(scope="module")
def table():
    """300 random NAS-Bench-201 keys with a made-up accuracy (more 3x3 convs is better)."""
    rng = np.random.default_rng(0)
    keys = {"".join(map(str, rng.integers(0, 5, 6))) for _ in range(400)}
    records = {}
    for key in sorted(keys)[:300]:
        acc = 60.0 + 5 * key.count("3") + 2 * key.count("2") - 10 * key.count("0")
        records[key] = {"val_acc": [acc, acc + 1], "train_time": [100.0, 100.0],
                        "latency": [0.01, 0.01], "model_size": [0.1 * key.count("3")] * 2}
    return NASBench201(records, source="synthetic")


class ConvCount(Evaluator):
    """A cheap deterministic stand-in for training: accuracy grows with 3x3 convolutions
    and shrinks with cell depth, so there is something to learn."""

    name = "convcount"

    def _evaluate(self, cell):
        convs = sum(op == "conv3x3-bn-relu" for op in cell.ops)
        return Evaluation(val_acc=50.0 + 3 * convs - 0.5 * cell.num_nodes,
                          params=1000.0 * cell.num_edges)


def test_never_two_isomorphic_cells(table):
    """NASGEM-specific beside the shared strategy contract (tests/nas/test_strategy_contract.py):
    it skips cells isomorphic to one it evaluated."""
    space = make_space("nb201", bench=table)
    history = run_search(NASGEM(space, TINY, seed=0), NB201Evaluator(table), budget=24)
    assert history.queries == 24 and history.duplicates == 0
    hashes = [c.hash() for c in history.cells]
    assert len(set(hashes)) == len(hashes)


def test_budget_below_initial_sample_is_refused(table):
    space = make_space("nb201", bench=table)
    with pytest.raises(InvalidConfigError, match="initial population"):
        run_search(NASGEM(space, TINY), NB201Evaluator(table), budget=5)


def test_large_cells_and_efficiency_term():
    space = make_space("cell:24")
    history = run_search(NASGEM(space, TINY, seed=0), ConvCount(), budget=20)
    assert history.queries == 20
    assert max(c.num_nodes for c in history.cells) > 12
    # after the random start NASGEM's picks beat the random ones on average
    acc = history.val_accs
    assert acc[8:].mean() > acc[:8].mean()
    # a heavy cost term steers toward cheap cells (edge count as cost)
    cheap = NASGEMConfig(**{**TINY.__dict__, "cost_weight": 1e6})
    strat = NASGEM(space, cheap, seed=0, cost_fn=lambda c: c.num_edges)
    hist = run_search(strat, ConvCount(), budget=16)
    assert np.mean([c.num_edges for c in hist.cells[8:]]) < np.mean(
        [c.num_edges for c in hist.cells[:8]])


def test_candidate_pool():
    pool = candidate_pool(NB201Space())
    assert len(pool) == 5 ** 6 and pool[0].arch == "000000" and pool[-1].arch == "444444"
    assert candidate_pool(make_space("cell:10")) is None
    pool.pop()  # a caller's list is its own: the shared pool is not changed
    assert len(candidate_pool(NB201Space())) == 5 ** 6


def test_pool_views_are_the_pruned_networks_and_their_hashes():
    cells, views, hashes = pool_views(NB201Space())
    assert len(cells) == len(views) == len(hashes) == 5 ** 6
    for i in (0, 1, 777, 15624):
        assert views[i] == network(cells[i]) and hashes[i] == network(cells[i]).hash()
    assert pool_views(make_space("cell:10")) is None


def test_bad_config():
    with pytest.raises(InvalidConfigError, match="n_init"):
        NASGEMConfig(n_init=1)
    with pytest.raises(InvalidConfigError, match="mutation_share"):
        NASGEMConfig(mutation_share=2.0)
    with pytest.raises(InvalidConfigError, match="NASGEMConfig"):
        NASGEM(NB201Space(), config={"n_init": 3})


def test_onehot_encoding_variant_searches_without_an_encoder(table):
    from dataclasses import replace

    space = make_space("nb201", bench=table)
    strategy = NASGEM(space, replace(TINY, encoding="onehot"), seed=0)
    history = run_search(strategy, NB201Evaluator(table), 20)
    assert history.queries == 20 and strategy.encoder is None
    state = strategy.state_dict()
    assert state["config"]["encoding"] == "onehot"
    with pytest.raises(InvalidConfigError, match="encoding"):
        NASGEMConfig(encoding="graph2vec")
