"""Citadel's per-round overhead on the FEMNIST CNN: plain FedAvg vs admin vs pairwise masks.

One FEMNIST round with N writers (LEAF CNN, d = 6.6M): the clients' real updates from plain
FedAvg's own round, then each scheme's encode+mask, encryption, aggregation and decode on the
same updates, all in this process. Prints the phase seconds (summed over enclaves), the
round time on one core (sequential) and modelled with one core per enclave, and the ratios
to plain FedAvg (goal: pairwise within 1.3x at 32 enclaves). The paper's 1.73x is SGX's
enclave overhead: a different thing (no SGX here).

Run: OMP_NUM_THREADS=1 CARBIDE_DATA=../shared/data python benchmarks/citadel_round.py
     [--enclaves 32] [--hidden 2048] [--fan-in 4]
"""

from __future__ import annotations

import argparse
import os

from carbide.federated.secure.bench import femnist_round_breakdown
from carbide.results import markdown_table


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--enclaves", type=int, default=32)
    ap.add_argument("--hidden", type=int, default=None, help="CNN dense width (LEAF: 2048)")
    ap.add_argument("--fan-in", type=int, default=4)
    args = ap.parse_args()
    rows = femnist_round_breakdown(args.enclaves, hidden=args.hidden, fan_in=args.fan_in)
    plain = rows[0]
    for r in rows:
        r["sequential_x"] = r["sequential_round_s"] / plain["sequential_round_s"]
        r["modelled_x"] = r["modelled_round_s"] / plain["modelled_round_s"]
    print(f"{args.enclaves} enclaves, d = {plain['d']:,}, {os.cpu_count()} cores (shared), "
          f"one thread")
    print(markdown_table(rows, ["method", "train_s", "encode_mask_s", "encrypt_s",
                                "aggregate_s", "decode_s", "sequential_round_s",
                                "modelled_round_s", "sequential_x", "modelled_x"]))


if __name__ == "__main__":
    main()
