"""Backdoor defenses as robust aggregation rules over flat update vectors.

The defenses studied in "Curse or Redemption? How Data Heterogeneity Affects the Robustness of
Federated Learning" (Zawad et al., AAAI 2021, arXiv 2102.00655): Krum and Multi-Krum
(Blanchard et al., 2017), coordinate-wise median and trimmed mean (Yin et al., 2018), norm
clipping with weak differential privacy (Sun et al., 2019) and FoolsGold (Fung et al., 2020).

Pure functions (``krum``, ``coordinate_median``, ``foolsgold_weights`` ...) work on tensors;
the classes (``Krum``, ``Median``, ``FoolsGold`` ...) follow the
:class:`~carbide.federated.aggregation.Aggregator` contract and return an
:class:`~carbide.federated.aggregation.AggregationResult`. :func:`make_defense` builds one
from a CLI spec such as ``krum:2``, ``trimmed:0.1`` or ``clip:1.0:0.01``.

Importing this subpackage imports torch.
"""

from __future__ import annotations

from ._rules import (
    clip_updates,
    coordinate_median,
    foolsgold_weights,
    gaussian_noise,
    krum,
    krum_scores,
    multi_krum,
    trimmed_mean,
)
from ._wrappers import (
    DEFENSES,
    FoolsGold,
    Krum,
    Median,
    MultiKrum,
    NormClip,
    TrimmedMean,
    make_defense,
)

__all__ = [
    "DEFENSES",
    "FoolsGold",
    "Krum",
    "Median",
    "MultiKrum",
    "NormClip",
    "TrimmedMean",
    "clip_updates",
    "coordinate_median",
    "foolsgold_weights",
    "gaussian_noise",
    "krum",
    "krum_scores",
    "make_defense",
    "multi_krum",
    "trimmed_mean",
]
