#!/usr/bin/env python3
"""Side-by-side speed of adaptive CNA: nucleate vs OVITO's CommonNeighborAnalysisModifier.

A periodic fcc Pt crystal (a = 3.92 A, 0.05 A noise) of --atoms atoms (default 256,000). Both
sides are timed without file reading, best of --repeats runs, with the same thread count
(OVITO: OVITO_THREAD_COUNT; nucleate: RAYON_NUM_THREADS). The structure counts of both are printed
as a check that they computed the same thing.

Needs: pip install ovito numpy (in any venv); run from the repository root:
    python crates/nucleate-order/benches/cna_vs_ovito.py [--threads 2] [--repeats 3] [--atoms 256000]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np


def make_frame(path, n_atoms, seed=3):
    cells = round((n_atoms / 4) ** (1 / 3))
    a = 3.92
    base = np.array([[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]])
    grid = np.stack(np.meshgrid(*[np.arange(cells)] * 3, indexing="ij"), -1).reshape(-1, 1, 3)
    pos = ((grid + base[None]) * a).reshape(-1, 3)
    pos += np.random.default_rng(seed).normal(0, 0.05, pos.shape)
    L = cells * a
    with open(path, "w") as f:
        f.write(f"{len(pos)}\nLattice=\"{L} 0 0 0 {L} 0 0 0 {L}\" Properties=species:S:1:pos:R:3 pbc=\"T T T\"\n")
        np.savetxt(f, pos, fmt="Pt %.8f %.8f %.8f")
    return len(pos)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--atoms", type=int, default=256000)
    args = ap.parse_args()
    os.environ["OVITO_THREAD_COUNT"] = str(args.threads)
    os.environ["RAYON_NUM_THREADS"] = str(args.threads)
    from ovito.io import import_file
    from ovito.modifiers import CommonNeighborAnalysisModifier

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "fcc.extxyz")
        n = make_frame(path, args.atoms)
        pipeline = import_file(path)
        data = pipeline.compute()
        best = float("inf")
        for _ in range(args.repeats):
            mod = CommonNeighborAnalysisModifier(mode=CommonNeighborAnalysisModifier.Mode.AdaptiveCutoff)
            t0 = time.perf_counter()
            out = data.clone()
            out.apply(mod)
            types = np.asarray(out.particles.structure_types)
            best = min(best, time.perf_counter() - t0)
        ovito = {"atoms": n, "seconds": best, "counts": np.bincount(types, minlength=5).tolist()}
        cmd = ["cargo", "run", "--quiet", "--release", "-p", "nucleate-order", "--example", "bench_structure",
               "--", "cna", path, str(args.repeats)]
        ours = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    print(json.dumps({"threads": args.threads, "ovito": ovito, "nucleate": ours,
                      "speedup": ovito["seconds"] / ours["seconds"]}))


if __name__ == "__main__":
    sys.exit(main())
