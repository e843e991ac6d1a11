"""Citadel's per-round overhead on the FEMNIST CNN: plain FedAvg vs admin vs pairwise masks.

FEMNIST rounds with N writers (LEAF CNN, d = 6.6M): the clients' real updates from plain
FedAvg's own round, then each scheme's encode+mask, encryption, aggregation (decryption + tree
sums) and decode on the same updates, all in this one process, on one thread; ``--repeats``
rounds interleaved (plain, then every scheme), medians printed with the load average.

Like with like: both sides run in this process on one core; plain FedAvg aggregates in-process
(no serialization or transport), Citadel's phases are the enclaves' work done one after
another (transport between enclave processes is not in these figures: ``carbide citadel run``
measures it). ``sequential`` = everything on one core; ``modelled`` = one core per enclave
(one enclave's training and masking, the aggregation tree's critical path, the decode).
Methods: admin; pairwise-all (every pair, n - 1 PRG streams per enclave); pairwise (the
default ``neighbors="auto"``: a SecAgg+-style ring of k = smallest even >= log2 n neighbours,
shuffled every round). Goal: pairwise within 1.3x of plain at 32 enclaves. The paper's 1.73x
is SGX's enclave overhead: a different thing (no SGX here).

Run: OMP_NUM_THREADS=1 CARBIDE_DATA=../shared/data python benchmarks/citadel_round.py
     [--enclaves 32] [--hidden 2048] [--fan-in 4] [--repeats 3] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from carbide.federated.secure.bench import femnist_round_breakdown
from carbide.results import markdown_table


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--enclaves", type=int, default=32)
    ap.add_argument("--hidden", type=int, default=None, help="CNN dense width (LEAF: 2048)")
    ap.add_argument("--fan-in", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", default=None, help="also write the rows to this JSON file")
    args = ap.parse_args()
    load0 = Path("/proc/loadavg").read_text().split()[:3]
    rows = femnist_round_breakdown(args.enclaves, hidden=args.hidden, fan_in=args.fan_in,
                                   repeats=args.repeats)
    load1 = Path("/proc/loadavg").read_text().split()[:3]
    plain = rows[0]
    print(f"{args.enclaves} enclaves, d = {plain['d']:,}, {os.cpu_count()} cores (shared), "
          f"one thread, median of {args.repeats} interleaved rounds; load average "
          f"{' '.join(load0)} (start) / {' '.join(load1)} (end)")
    print(markdown_table(rows, ["method", "neighbors", "train_s", "encode_mask_s", "encrypt_s",
                                "aggregate_s", "decode_s", "sequential_round_s",
                                "modelled_round_s", "sequential_x", "modelled_x"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"command": "benchmarks/citadel_round.py " + " ".join(
                f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items()
                if v is not None and k != "json"),
                "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                "loadavg_start": load0, "loadavg_end": load1, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
