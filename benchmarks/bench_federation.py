"""Seconds and bytes per federated round for ten simulated agents, plaintext versus CKKS.

Ten agents, each with an IID tenth of the NSL-KDD 20 % training file (../shared/datasets or
SWARMGUARD_DATASETS), train the default federated model (``lstm``; override with
``--detector``) for three rounds, once with plaintext FedAvg and once with CKKS-encrypted
aggregation, in one process (agents one after the other, so seconds are the sum of all agents'
local work plus the coordinator's). Prints per round: seconds, of which protection (encrypt, add,
decrypt), bytes up and down, and the overhead ratios CKKS / plaintext. Then a crypto-only line
for a 300,000-weight vector: ciphertexts, bytes, encrypt / add / decrypt seconds.
Run: .venv/bin/python benchmarks/bench_federation.py [--detector lstm] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

from _paths import datasets_dir
from swarmguard.acquire.datasets import load_dataset
from swarmguard.federate.crypto.ckks import (
    add_encrypted,
    decrypt_vector,
    encrypt_vector,
    generate_keys,
    load_context,
)
from swarmguard.federate.experiment import build_sites
from swarmguard.federate.simulation import FederationConfig, run_federation


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--detector", default="lstm")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=10)
    args = parser.parse_args()
    rows = load_dataset(datasets_dir() / "nsl-kdd" / "KDDTrain+_20Percent.txt")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cpus, python {platform.python_version()}"
    )
    print(f"data: NSL-KDD 20 %, {rows.num_rows} rows over {args.clients} agents (iid)")
    warm = FederationConfig(detector=args.detector, clients=args.clients, rounds=1)
    run_federation(build_sites(rows, warm), warm)  # warm-up (imports, thread pools), discarded
    results = {}
    for protect in ("none", "ckks"):
        cfg = FederationConfig(
            detector=args.detector, clients=args.clients, rounds=args.rounds, protect=protect
        )
        sites = build_sites(rows, cfg)
        res = run_federation(sites, cfg)
        results[protect] = res
        per = res.bytes_per_round()
        prot = float(np.mean([r.protect_seconds for r in res.rounds]))
        print(
            f"{args.detector} {protect:>4}: {res.num_parameters} weights, "
            f"{res.seconds_per_round():.2f} s/round (protection {prot:.3f} s), "
            f"{per['up'] / 1e6:.2f} MB up, {per['down'] / 1e6:.2f} MB down per round"
        )
    plain, ckks = results["none"], results["ckks"]
    train_s = float(np.mean([r.train_seconds for r in plain.rounds]))
    prot_plain = float(np.mean([r.protect_seconds for r in plain.rounds]))
    prot_ckks = float(np.mean([r.protect_seconds for r in ckks.rounds]))
    print(
        f"same local training ({train_s:.2f} s/round): CKKS round / plaintext round "
        f"x{(train_s + prot_ckks) / (train_s + prot_plain):.2f}"
    )
    print(
        f"CKKS / plaintext: time x{ckks.seconds_per_round() / plain.seconds_per_round():.2f}, "
        f"bytes up x{ckks.bytes_per_round()['up'] / plain.bytes_per_round()['up']:.2f}, "
        f"bytes down x{ckks.bytes_per_round()['down'] / plain.bytes_per_round()['down']:.2f}"
    )
    keys = generate_keys()
    agent, coordinator = load_context(keys.secret), load_context(keys.public)
    vec = np.random.default_rng(0).normal(0, 0.1, 300_000)
    t0 = time.perf_counter()
    encs = [encrypt_vector(agent, vec) for _ in range(args.clients)]
    t1 = time.perf_counter()
    total = add_encrypted(coordinator, encs)
    t2 = time.perf_counter()
    out = decrypt_vector(agent, total)
    t3 = time.perf_counter()
    err = float(np.abs(out - args.clients * vec).max())
    print(
        f"300,000 weights: {len(total.chunks)} ciphertexts, {encs[0].nbytes / 1e6:.1f} MB per "
        f"agent (plaintext {vec.nbytes / 1e6:.1f} MB); encrypt {(t1 - t0) / args.clients:.2f} s "
        f"per agent, add {args.clients} {t2 - t1:.2f} s, decrypt {t3 - t2:.2f} s, "
        f"max error {err:.1e}"
    )


if __name__ == "__main__":
    main()
