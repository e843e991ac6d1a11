"""Measured costs of Citadel's masking and crypto (what ``carbide citadel bench``, the
benchmarks and the reproduction print). Figures are wall-clock seconds on this machine,
single-threaded; nothing here is asserted in tests.

- :func:`mask_encrypt_throughput`: one enclave's encode + mask + AES-GCM seal of a ``d``-value
  update, in GB/s of encoded bytes;
- :func:`round_breakdown`: one round's phases over real updates, in one process
  (encode+mask, encryption, aggregation incl. decryption, decode);
- :func:`scaling`: the same against the number of enclaves ``n`` and the fan-in, with the
  round time modelled for one core per enclave (the deployment Citadel assumes).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..._validate import check_int, int_list
from . import _fixed, _masks
from .aggregate import aggregation_tree, mask_round, normalized_weights, tree_sum

__all__ = ["BenchConfig", "femnist_round_breakdown", "mask_encrypt_throughput", "plain_breakdown",
           "record_bench", "round_breakdown", "run_bench", "scaling"]


def _channel_pair():
    from .channel import SecureChannel

    a, b = _masks.x25519_keys(2)
    return (SecureChannel(a, _masks.public_bytes(b), "bench"),
            SecureChannel(b, _masks.public_bytes(a), "bench"))


def mask_encrypt_throughput(d: int, *, bits: int = 32, scheme: str = "pairwise",
                            peers: int = 1, repeats: int = 3, seed: int = 0) -> dict[str, Any]:
    """Best-of-``repeats`` time of one enclave's encode, mask (``pairwise``: ``peers`` PRG
    expansions; ``admin``: one) and seal of a ``d``-value float32 update.

    ``mask_encrypt_gb_per_s``: encoded bytes over the mask + seal time (the issue's goal;
    encoding apart); ``gb_per_s``: over encode + mask + seal, done one after another;
    ``enclave_gb_per_s``: over what a training enclave runs (encode and mask in one chunked
    pass, :func:`~._masks.encode_masked`, then the seal).

    Runs as an enclave process does: :func:`~._serve.keep_large_buffers` is applied to this
    process first (it changes this process's glibc allocator thresholds)."""
    from ._serve import keep_large_buffers

    check_int("d", d, 1)
    keep_large_buffers()
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(d) * 0.01).astype(np.float32)
    tx, _ = _channel_pair()
    keys = _masks.x25519_keys(peers + 1, seed=seed)
    pubs = {j: _masks.public_bytes(keys[j]) for j in range(1, peers + 1)}
    best = {"encode_s": math.inf, "mask_s": math.inf, "encrypt_s": math.inf}
    enclave_best = math.inf
    for r in range(repeats):
        t0 = time.perf_counter()
        enc, _ = _fixed.encode(x, clip=1.0, bits=bits, weight=0.5)
        t1 = time.perf_counter()
        if scheme == "admin":
            _masks.prg_add(bytes(32), enc)
        else:
            enc += _masks.pairwise_mask(0, keys[0], pubs, d, bits, _masks.round_tag(r))
        t2 = time.perf_counter()
        tx.seal(enc.view(np.uint8))
        t3 = time.perf_counter()
        for k, v in zip(best, (t1 - t0, t2 - t1, t3 - t2), strict=True):
            best[k] = min(best[k], v)
        # what a training enclave runs: encode and mask in one chunked pass, then seal
        streams = ([(bytes(32), False)] if scheme == "admin" else
                   _masks.pairwise_streams(0, keys[0], pubs, _masks.round_tag(r)))
        t4 = time.perf_counter()
        enc, _ = _masks.encode_masked(x, clip=1.0, bits=bits, weight=0.5, streams=streams)
        tx.seal(enc.view(np.uint8))
        enclave_best = min(enclave_best, time.perf_counter() - t4)
    nbytes = d * bits // 8
    total = sum(best.values())
    return {"d": d, "bits": bits, "scheme": scheme, "peers": peers if scheme == "pairwise"
            else 1, "bytes": nbytes, **best, "total_s": total,
            "gb_per_s": nbytes / total / 1e9,
            "mask_encrypt_gb_per_s": nbytes / (best["mask_s"] + best["encrypt_s"]) / 1e9,
            "enclave_s": enclave_best, "enclave_gb_per_s": nbytes / enclave_best / 1e9}


def round_breakdown(updates: Any, weights: Any = None, *, scheme: str = "pairwise",
                    fan_in: int = 4, bits: int = 32, clip: float = 1.0,
                    neighbors: int | str | None = None, seed: int = 0) -> dict[str, float]:
    """One secure round's phases over ``updates`` ``(n, d)``, all enclaves in this process.

    Returns seconds summed over enclaves: ``encode_mask_s``, ``encrypt_s``, ``aggregate_s``
    (decryption at the aggregators + tree sums), ``decode_s``; and ``per_enclave_s`` (the
    critical path of one training enclave: its share of encode+mask and encryption),
    ``tree_s`` (the aggregation critical path: one node per level, ``depth`` levels).
    Like :func:`mask_encrypt_throughput`, it first applies the enclave processes' allocator
    setting (:func:`~._serve.keep_large_buffers`) to this process.
    """
    import torch  # noqa: F401  mask_round's input check imports it: not in the timing

    from ..aggregation import check_updates  # noqa: F401
    from ._serve import keep_large_buffers

    keep_large_buffers()

    t0 = time.perf_counter()
    mr = mask_round(updates, weights, scheme=scheme, bits=bits, clip=clip, seed=seed,
                    neighbors=neighbors, keep_encoded=False)
    t1 = time.perf_counter()
    n = mr.masked.shape[0]
    tx, rx = _channel_pair()
    sealed = [tx.seal(row.view(np.uint8)) for row in mr.masked]
    t2 = time.perf_counter()
    dtype = mr.masked.dtype
    opened = [np.frombuffer(rx.open(s), dtype=dtype) for s in sealed]
    total, _ = tree_sum(opened, fan_in)
    t3 = time.perf_counter()
    _fixed.decode(total, clip=clip, bits=bits)
    t4 = time.perf_counter()
    tree = aggregation_tree(n, fan_in)
    depth = len(tree)
    agg = t3 - t2
    # the tree has n + nodes - 1 child edges, each one decrypt + add; along the critical path
    # every level's node handles at most fan_in children, one level after another
    per_child = agg / (n + sum(len(level) for level in tree) - 1)
    return {"n": n, "d": int(mr.masked.shape[1]), "scheme": scheme, "fan_in": fan_in,
            "encode_mask_s": t1 - t0, "encrypt_s": t2 - t1, "aggregate_s": agg,
            "decode_s": t4 - t3, "per_enclave_s": (t2 - t0) / n,
            "tree_s": per_child * min(fan_in, n) * depth, "depth": depth}


def scaling(ns: Sequence[int], fan_ins: Sequence[int], d: int, *, scheme: str = "pairwise",
            bits: int = 32, neighbors: int | str | None = None, seed: int = 0
            ) -> list[dict[str, Any]]:
    """:func:`round_breakdown` over random updates for every ``n`` (at the first fan-in)
    and every fan-in (at the largest ``n``); adds ``modelled_round_s`` = per-enclave
    critical path + aggregation critical path + decode (one core per enclave).
    ``neighbors`` (pairwise): ``None`` (default here: all pairs, the O(n d) worst case), an
    even ``k`` or ``"auto"``; each row's ``neighbors`` is the ring degree used (``None``: all
    pairs)."""
    rows = []
    rng = np.random.default_rng(seed)
    settings = [(n, fan_ins[0]) for n in ns] + [(max(ns), f) for f in fan_ins[1:]]
    for n, f in settings:
        u = (rng.standard_normal((n, d)) * 0.01).astype(np.float32)
        nb = _masks.resolve_neighbors(n, neighbors)
        r = round_breakdown(u, None, scheme=scheme, fan_in=f, bits=bits, neighbors=nb,
                            seed=seed)
        r["modelled_round_s"] = r["per_enclave_s"] + r["tree_s"] + r["decode_s"]
        r["neighbors"] = nb
        rows.append(r)
    return rows


@dataclass(frozen=True)
class BenchConfig:
    """What ``carbide citadel bench`` measures.

    Args:
        ds: model sizes for the throughput (values per update).
        ns: enclave counts for the scaling; fan_ins: fan-ins (at the largest n).
        scaling_d: model size of the scaling runs.
        bits: 32 or 64. peers: pairwise peers in the throughput run.
    """

    ds: tuple[int, ...] = (10_000, 100_000, 1_000_000, 10_000_000)
    ns: tuple[int, ...] = (2, 4, 8, 16, 32, 64)
    fan_ins: tuple[int, ...] = (2, 4, 8, 16)
    scaling_d: int = 100_000
    bits: int = 32
    peers: int = 1

    def __post_init__(self) -> None:
        for name, meaning in (("ds", "sizes such as 10000,100000"), ("ns", "counts such as 2,4,8"),
                              ("fan_ins", "fan-ins such as 2,4")):
            value = getattr(self, name)
            if isinstance(value, str):  # "2,4,8" as a user types it
                object.__setattr__(self, name, int_list(name, value, meaning))
            else:
                object.__setattr__(self, name, tuple(value))
        for d in self.ds:
            check_int("d", d, 1)
        for n in self.ns:
            check_int("n", n, 2)
        for f in self.fan_ins:
            check_int("fan_in", f, 2)
        _fixed.check_bits(self.bits)


def run_bench(cfg: BenchConfig) -> list[dict[str, Any]]:
    """Throughput rows (``kind="throughput"``, both schemes) and scaling rows
    (``kind="scaling"``, both schemes)."""
    rows: list[dict[str, Any]] = []
    for scheme in _masks.SCHEMES:
        for d in cfg.ds:
            rows.append({"kind": "throughput", **mask_encrypt_throughput(
                d, bits=cfg.bits, scheme=scheme, peers=cfg.peers)})
        for r in scaling(cfg.ns, cfg.fan_ins, cfg.scaling_d, scheme=scheme, bits=cfg.bits):
            rows.append({"kind": "scaling", **r})
    return rows


def plain_breakdown(updates: Any, weights: Any = None) -> dict[str, float]:
    """Plain FedAvg's aggregation of the same updates (the weighted mean), seconds."""
    x = np.asarray(updates, dtype=np.float32)
    t0 = time.perf_counter()
    w = normalized_weights(x.shape[0], weights).astype(np.float32)
    _ = w @ x
    return {"aggregate_s": time.perf_counter() - t0}


def femnist_round_breakdown(n: int, *, hidden: int | None = None, seed: int = 0,
                            root: Any = None, fan_in: int = 4, data: Any = None,
                            repeats: int = 1) -> list[dict[str, Any]]:
    """FEMNIST rounds (LEAF CNN, ``n`` writers), all in this process: the clients' updates
    from plain FedAvg's own round, then each scheme's phases on the same updates;
    ``repeats`` rounds, interleaved (plain, then every scheme, round after round), each phase
    reported as its median over the rounds (``repeats`` in the rows).

    Rows (``kind="breakdown"``, ``method`` = plain / admin / pairwise-all (every pair) /
    pairwise (the default ``neighbors="auto"``, ``k`` in ``neighbors``)) with the phase seconds
    summed over enclaves, ``sequential_round_s`` (everything on one core: plain FedAvg's
    in-process round against the same work plus Citadel's) and ``modelled_round_s`` (one core
    per enclave: one enclave's training and masking, the aggregation critical path, the
    decode). ``data``: the :class:`~carbide.federated.FederatedData` of ``n`` FEMNIST
    writers, if already loaded."""
    import dataclasses

    from ..aggregation import FedAvg
    from ..experiment import load_federated_data
    from ..simulation import Simulation
    from .experiment import CitadelRunConfig

    check_int("repeats", repeats, 1)
    cfg = CitadelRunConfig(dataset="femnist", enclaves=n, rounds=1, seed=seed, hidden=hidden)
    fed = cfg.federated()
    data = data if data is not None else load_federated_data(fed, root)
    model = data.model if cfg.hidden is None else dataclasses.replace(data.model,
                                                                      hidden=cfg.hidden)
    seen: dict[str, Any] = {}

    def recording(updates, weights, ids):
        seen["u"], seen["w"] = updates.clone(), weights.clone()
        return FedAvg()(updates, weights, ids)

    recording.name = "fedavg"  # type: ignore[attr-defined]
    sim = Simulation(model, data.clients, data.test, fed.fl_config(), aggregator=recording)
    k = _masks.resolve_neighbors(n, _masks.AUTO)
    methods = [("admin", "admin", None), ("pairwise-all", "pairwise", None)]
    if k is not None:
        methods.append(("pairwise", "pairwise", _masks.AUTO))
    phases = ["train_s", "encode_mask_s", "encrypt_s", "transport_s", "aggregate_s",
              "decode_s", "sequential_round_s", "modelled_round_s"]
    runs: dict[str, list[dict[str, float]]] = {m: [] for m in ["plain"] + [x[0] for x in methods]}
    d = 0
    try:
        for _ in range(repeats):
            row = sim.step()
            u, w = seen["u"].numpy(), seen["w"].numpy()
            n, d = u.shape
            train_sum = float(row["client_time_s"])
            train_each = train_sum / n  # one enclave's local training, one core
            plain_agg = plain_breakdown(u, w)["aggregate_s"]
            runs["plain"].append({"train_s": train_sum, "encode_mask_s": 0.0, "encrypt_s": 0.0,
                                  "transport_s": 0.0, "aggregate_s": plain_agg, "decode_s": 0.0,
                                  "sequential_round_s": train_sum + plain_agg,
                                  "modelled_round_s": train_each + plain_agg})
            for method, scheme, nb in methods:
                b = round_breakdown(u, w, scheme=scheme, fan_in=fan_in, seed=seed,
                                    neighbors=nb)
                runs[method].append({
                    "train_s": train_sum, "encode_mask_s": b["encode_mask_s"],
                    "encrypt_s": b["encrypt_s"], "transport_s": 0.0,
                    "aggregate_s": b["aggregate_s"], "decode_s": b["decode_s"],
                    "sequential_round_s": train_sum + b["encode_mask_s"] + b["encrypt_s"] +
                    b["aggregate_s"] + b["decode_s"],
                    "modelled_round_s": train_each + b["per_enclave_s"] + b["tree_s"] +
                    b["decode_s"]})
    finally:
        sim.close()
    nbs = {"plain": None, "admin": None, "pairwise-all": n - 1, "pairwise": k}
    rows = []
    for method, rs in runs.items():
        rows.append({"kind": "breakdown", "method": method, "n": n, "d": d,
                     "neighbors": nbs[method], "repeats": repeats,
                     **{p: float(np.median([r[p] for r in rs])) for p in phases}})
    plain = rows[0]
    for r in rows:
        r["sequential_x"] = r["sequential_round_s"] / plain["sequential_round_s"]
        r["modelled_x"] = r["modelled_round_s"] / plain["modelled_round_s"]
    return rows


def record_bench(cfg: BenchConfig, out: str) -> dict[str, Any]:
    """:func:`run_bench`, written to ``out`` (results contract); metrics: the best
    mask+encrypt GB/s per scheme and the modelled round time at the largest ``n``."""
    from ...results import Report, RunRecorder

    recorder = RunRecorder(out, system="citadel", config=cfg)
    rows = run_bench(cfg)
    metrics: dict[str, Any] = {}
    for scheme in _masks.SCHEMES:
        tp = [r for r in rows if r["kind"] == "throughput" and r["scheme"] == scheme]
        sc = [r for r in rows if r["kind"] == "scaling" and r["scheme"] == scheme]
        metrics[f"{scheme}_mask_encrypt_gb_per_s_max_d"] = tp[-1]["mask_encrypt_gb_per_s"]
        metrics[f"{scheme}_gb_per_s_max_d"] = tp[-1]["gb_per_s"]
        metrics[f"{scheme}_modelled_round_s_max_n"] = sc[len(cfg.ns) - 1]["modelled_round_s"]
    report = (Report("Citadel bench: masking + encryption throughput and scaling")
              .paragraph("One core, wall-clock, on a shared machine (figures inflated by load). "
                         "modelled_round_s assumes one core per enclave.")
              .table([metrics], list(metrics))
              .table([r for r in rows if r["kind"] == "throughput"],
                     ["scheme", "d", "bytes", "encode_s", "mask_s", "encrypt_s", "gb_per_s",
                      "mask_encrypt_gb_per_s"])
              .table([r for r in rows if r["kind"] == "scaling"],
                     ["scheme", "n", "fan_in", "depth", "encode_mask_s", "encrypt_s",
                      "aggregate_s", "decode_s", "per_enclave_s", "modelled_round_s"]))
    return recorder.finish(metrics=metrics, rows=rows, report=report)
