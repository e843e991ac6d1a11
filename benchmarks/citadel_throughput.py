"""Citadel mask + encrypt throughput per core against model size d (goal: >= 0.8 GB/s), and
the masking cost against the number of enclaves and the fan-in.

mask_encrypt_gb_per_s: encoded bytes / (mask + seal time); gb_per_s: / (encode + mask + seal);
enclave_gb_per_s: / what a training enclave runs (encode+mask in one chunked pass, then seal).

Run: OMP_NUM_THREADS=1 python benchmarks/citadel_throughput.py [--ds 10000,...] [--peers 1]
"""

from __future__ import annotations

import argparse
import os

from carbide.federated.secure.bench import mask_encrypt_throughput, scaling
from carbide.results import markdown_table


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ds", default="10000,100000,1000000,10000000")
    ap.add_argument("--peers", type=int, default=1, help="pairwise peers per enclave")
    ap.add_argument("--ns", default="2,4,8,16,32,64")
    ap.add_argument("--fan-ins", default="2,4,8,16")
    ap.add_argument("--scaling-d", type=int, default=100_000)
    args = ap.parse_args()
    mask_encrypt_throughput(1000)  # warm-up
    rows = [mask_encrypt_throughput(int(d), scheme=s, peers=args.peers)
            for s in ("admin", "pairwise") for d in args.ds.split(",")]
    print(f"one thread, {os.cpu_count()} cores (shared)")
    print(markdown_table(rows, ["scheme", "peers", "d", "bytes", "encode_s", "mask_s",
                                "encrypt_s", "gb_per_s", "mask_encrypt_gb_per_s",
                                "enclave_gb_per_s"]))
    ns = tuple(int(n) for n in args.ns.split(","))
    fans = tuple(int(f) for f in args.fan_ins.split(","))
    sc = scaling(ns, fans, args.scaling_d, scheme="pairwise")
    print(markdown_table(sc, ["n", "fan_in", "depth", "encode_mask_s", "encrypt_s",
                              "aggregate_s", "per_enclave_s", "modelled_round_s"]))


if __name__ == "__main__":
    main()
