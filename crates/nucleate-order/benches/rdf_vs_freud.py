#!/usr/bin/env python3
"""Side-by-side speed of g(r): nucleate vs freud 3 density.RDF.

A periodic liquid-like Pt frame (fcc a = 3.92 A with 0.45 A noise) of --atoms atoms (default
32,000), r_max 10 A, 200 bins. Both sides timed without file reading, best of --repeats runs, same
thread count (freud.parallel.set_num_threads; RAYON_NUM_THREADS). The sum of g over bins of both is
printed as a check.

Needs: pip install freud-analysis numpy; run from the repository root:
    python crates/nucleate-order/benches/rdf_vs_freud.py [--threads 2] [--repeats 3] [--atoms 32000]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--atoms", type=int, default=32000)
    ap.add_argument("--r-max", type=float, default=10.0)
    ap.add_argument("--bins", type=int, default=200)
    args = ap.parse_args()
    os.environ["RAYON_NUM_THREADS"] = str(args.threads)
    import freud

    freud.parallel.set_num_threads(args.threads)
    cells = round((args.atoms / 4) ** (1 / 3))
    a = 3.92
    base = np.array([[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]])
    grid = np.stack(np.meshgrid(*[np.arange(cells)] * 3, indexing="ij"), -1).reshape(-1, 1, 3)
    pos = ((grid + base[None]) * a).reshape(-1, 3)
    pos += np.random.default_rng(1).normal(0, 0.45, pos.shape)
    L = cells * a
    box = freud.box.Box.cube(L)
    pts = box.wrap(pos.astype(np.float32))
    best = float("inf")
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        rdf = freud.density.RDF(bins=args.bins, r_max=args.r_max)
        rdf.compute(system=(box, pts))
        g = np.asarray(rdf.rdf)
        best = min(best, time.perf_counter() - t0)
    theirs = {"atoms": len(pos), "seconds": best, "check": float(g.sum())}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "liquid.extxyz")
        with open(path, "w") as f:
            f.write(f"{len(pos)}\nLattice=\"{L} 0 0 0 {L} 0 0 0 {L}\" Properties=species:S:1:pos:R:3 pbc=\"T T T\"\n")
            np.savetxt(f, pos, fmt="Pt %.8f %.8f %.8f")
        cmd = ["cargo", "run", "--quiet", "--release", "-p", "nucleate-order", "--example", "bench_structure",
               "--", "rdf", path, str(args.repeats), str(args.r_max), str(args.bins)]
        ours = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    print(json.dumps({"threads": args.threads, "freud": theirs, "nucleate": ours,
                      "speedup": theirs["seconds"] / ours["seconds"]}))


if __name__ == "__main__":
    sys.exit(main())
