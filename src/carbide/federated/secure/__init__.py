"""Citadel: secure collaborative training in (simulated) enclaves with zero-sum masking and
hierarchical aggregation (Zhang et al., "Citadel: Protecting Data Privacy and Model
Confidentiality for Collaborative Learning", SoCC '21, arXiv 2105.01281).

- :func:`secure_aggregate` / :func:`masked_updates`: the maths on the flat ``(n, d)`` update
  contract of :mod:`carbide.federated` (fixed point mod ``2^bits``, ``admin`` or ``pairwise``
  zero-sum masks, a tree of aggregators);
- :class:`SecureChannel`, :class:`AttestationService`: X25519 + HKDF + AES-GCM channels with
  sequence numbers, and **simulated** attestation (an Ed25519 service signs code hash and
  enclave key; no SGX hardware is involved);
- :class:`EnclaveCluster`: enclaves as isolated OS processes (or Ray actors) exchanging only
  encrypted bytes;
- :class:`CitadelTrainer`: whole trainings on FEMNIST / Fashion-MNIST, compared with FedAvg.

Names load lazily; nothing heavy is imported by ``import carbide.federated.secure``.
"""

from __future__ import annotations

from ..._lazy import lazy_exports

_LAZY = {
    "SecureAggregator": ".aggregate",
    "aggregation_tree": ".aggregate",
    "masked_updates": ".aggregate",
    "secure_aggregate": ".aggregate",
    "tree_sum": ".aggregate",
    "decode": "._fixed",
    "encode": "._fixed",
    "fixed_scale": "._fixed",
    "admin_masks": "._masks",
    "pairwise_masks": "._masks",
    "SCHEMES": "._masks",
    "AttestationError": ".channel",
    "AttestationService": ".channel",
    "ChannelError": ".channel",
    "Quote": ".channel",
    "SecureChannel": ".channel",
    "code_hash": ".channel",
    "verify_quote": ".channel",
    "AGGREGATOR_CODE": ".runtime",
    "TRAIN_CODE": ".runtime",
    "Enclave": ".runtime",
    "EnclaveBackend": ".runtime",
    "EnclaveCluster": ".runtime",
    "EnclaveCode": ".runtime",
    "EnclaveFailure": ".runtime",
    "ProcessBackend": ".runtime",
    "RayEnclaveBackend": ".runtime",
    "CitadelTrainer": ".trainer",
    "byte_chi2_pvalue": ".leakage",
    "label_inference": ".leakage",
    "leakage_tests": ".leakage",
    "BenchConfig": ".bench",
    "record_bench": ".bench",
    "mask_encrypt_throughput": ".bench",
    "round_breakdown": ".bench",
    "run_bench": ".bench",
    "CitadelRunConfig": ".experiment",
    "record_citadel": ".experiment",
    "run_citadel": ".experiment",
    "run_repro": ".repro",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__)
