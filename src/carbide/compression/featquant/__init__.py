"""BiFeat: graph feature quantization for GNN training (arXiv 2207.14696).

Compress a node-feature matrix once (scalar or vector quantization), keep only the codes in
host memory (or a device cache), and per mini-batch gather the sampled nodes' codes and
dequantize them on the compute device. Names load lazily (``import carbide`` stays light).
"""

from __future__ import annotations

from ..._lazy import lazy_exports

_LAZY = {
    "QuantizedFeatures": ".quantized",
    "quantize": ".quantized",
    "METHODS": ".quantized",
    "DenseFeatures": "._dense",
    "MemmapFeatures": ".memmap",
    "QuantizedFeatureStore": ".store",
    "cache_by_degree": ".cache",
    "degree_order": ".cache",
    "SQParams": "._sq",
    "sq_fit": "._sq",
    "sq_encode": "._sq",
    "sq_decode": "._sq",
    "sq_levels": "._sq",
    "vq_fit": "._vq",
    "vq_encode": "._vq",
    "vq_decode": "._vq",
    "CSRGraph": ".sampler",
    "NeighborSampler": ".sampler",
    "NodeBatches": ".sampler",
    "SampledSubgraph": ".sampler",
    "GraphSAGE": ".train",
    "TrainConfig": ".train",
    "TrainResult": ".train",
    "as_feature_source": ".train",
    "train_node_classifier": ".train",
    "layerwise_inference": ".train",
    "power_law_graph": ".synthetic",
    "synthetic_node_task": ".synthetic",
    "NodeClassificationConfig": ".experiment",
    "RunConfig": ".experiment",
    "record_node_classification": ".experiment",
    "ReproPlan": ".repro",
    "run_node_classification": ".experiment",
    "run_repro": ".repro",
    "pack_bits": "._packing",
    "unpack_bits": "._packing",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__)
