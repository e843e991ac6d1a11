"""Neural architecture search core: cells, search spaces, evaluators and search strategies.

Shared by NASGEM (:mod:`carbide.nas.gem`), NASRec and ScaleNAS.

- :class:`Cell` (:mod:`.cell`): an op-labelled DAG with a canonical, isomorphism-invariant
  :meth:`Cell.hash`; :func:`validate_cell` raises
  :class:`~carbide.exceptions.InvalidArchitectureError` naming the broken rule.
- Spaces (:mod:`.spaces`): :class:`NB101Space` (NAS-Bench-101 cells, or large ``cell:N``
  cells), :class:`NB201Space`, :class:`TableSpace` (a benchmark's finite cell set);
  :func:`make_space` builds one by name.
- Evaluators (:mod:`.evaluators`): NAS-Bench-201/101 table look-ups charged a simulated
  training cost, and :class:`TrainingEvaluator` that trains any cell on Fashion-MNIST.
- Strategies (:mod:`.strategies`): ask/tell :class:`RandomSearch` and
  :class:`RegularizedEvolution`; :func:`run_search` (:mod:`.search`) spends a query budget.

Names load lazily, so ``import carbide.nas`` stays light.
"""

from __future__ import annotations

from .._lazy import lazy_exports

_LAZY = {
    "Cell": ".cell",
    "validate_cell": ".cell",
    "SearchSpace": ".spaces",
    "NB101Space": ".spaces",
    "NB201Space": ".spaces",
    "TableSpace": ".spaces",
    "NB101_SPACE_OPS": ".spaces",
    "NB201_SPACE_OPS": ".spaces",
    "default_max_edges": ".spaces",
    "make_space": ".spaces",
    "Evaluation": ".evaluators",
    "Evaluator": ".evaluators",
    "NB101Evaluator": ".evaluators",
    "NB201Evaluator": ".evaluators",
    "TrainConfig": ".evaluators",
    "TrainingEvaluator": ".evaluators",
    "CellNetwork": ".evaluators",
    "make_evaluator": ".evaluators",
    "Strategy": ".strategies",
    "RandomSearch": ".strategies",
    "RegularizedEvolution": ".strategies",
    "make_strategy": ".strategies",
    "SearchHistory": ".search",
    "run_search": ".search",
    "cell": "",
    "spaces": "",
    "evaluators": "",
    "strategies": "",
    "search": "",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__)
