#!/usr/bin/env python3
"""Side-by-side speed of the per-frame order pipeline: nucleate vs freud 3.

Per frame: neighbours within 3.8 A + q4, q6 + Lechner-Dellago averages + alpha, on periodic Pt
frames of 32,000 and 256,000 atoms, half fcc crystal (0.05 A noise) and half liquid-like (0.45 A
noise on a 4% expanded lattice). Both sides are timed without file reading, best of REPEATS runs,
with the same thread count. The mean alpha of both is printed as a check that they computed the
same thing.

Needs: pip install freud-analysis ase numpy (in any venv); run from the repository root:
    python crates/nucleate-order/benches/order_vs_freud.py [--threads 2] [--repeats 5] [--sizes 32000,256000]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np


def make_frame(n_atoms, seed=7):
    """fcc Pt (a = 3.92 A) in a periodic cubic box; atoms with x >= L/2 are displaced strongly."""
    cells = round((n_atoms / 4) ** (1 / 3))
    a = 3.92
    base = np.array([[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]])
    grid = np.stack(np.meshgrid(*[np.arange(cells)] * 3, indexing="ij"), -1).reshape(-1, 1, 3)
    pos = ((grid + base[None]) * a).reshape(-1, 3)
    length = cells * a
    rng = np.random.default_rng(seed)
    liquid = pos[:, 0] >= length / 2
    pos[~liquid] += rng.normal(0, 0.05, (int((~liquid).sum()), 3))
    centre = length / 2
    pos[liquid] = centre + (pos[liquid] - centre) * 1.0 + rng.normal(0, 0.45, (int(liquid.sum()), 3))
    pos %= length
    return pos, length


def write_extxyz(path, pos, length):
    with open(path, "w") as f:
        f.write(f"{len(pos)}\n")
        f.write(f'Lattice="{length} 0.0 0.0 0.0 {length} 0.0 0.0 0.0 {length}" '
                'Properties=species:S:1:pos:R:3 pbc="T T T"\n')
        for p in pos:
            f.write(f"Pt {p[0]:.10f} {p[1]:.10f} {p[2]:.10f}\n")


def time_freud(pos, length, threads, repeats):
    import freud
    freud.parallel.set_num_threads(threads)
    box = freud.box.Box.cube(length)
    points = box.wrap(pos.astype(np.float32) - length / 2)
    ref = np.hypot(0.190940654, 0.574524259)
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        aq = freud.locality.AABBQuery(box, points)
        nlist = aq.query(points, {"r_max": 3.8, "exclude_ii": True}).toNeighborList()
        st = freud.order.Steinhardt(l=[4, 6], average=True)
        st.compute((box, points), neighbors=nlist)
        q = st.particle_order  # (N, 2): averaged q4, q6
        alpha = np.hypot(q[:, 0], q[:, 1]) / ref
        best = min(best, time.perf_counter() - t0)
    return best, float(alpha.mean())


def time_nucleate(path, threads, repeats):
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    out = subprocess.run(
        ["cargo", "run", "--quiet", "--release", "-p", "nucleate-order", "--example", "bench_order", "--",
         path, str(repeats)],
        check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--sizes", default="32000,256000")
    args = ap.parse_args()
    import freud
    print(f"freud {freud.__version__}, threads {args.threads}, best of {args.repeats}")
    print(f"{'atoms':>8} {'freud_s':>9} {'nucleate_s':>10} {'speedup':>8}  {'alpha freud':>11} {'alpha ours':>11}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in [int(s) for s in args.sizes.split(",")]:
            pos, length = make_frame(n)
            path = os.path.join(tmp, f"bench_{n}.extxyz")
            write_extxyz(path, pos, length)
            t_freud, a_freud = time_freud(pos, length, args.threads, args.repeats)
            ours = time_nucleate(path, args.threads, args.repeats)
            print(f"{len(pos):>8} {t_freud:>9.4f} {ours['total_s']:>10.4f} {t_freud / ours['total_s']:>7.2f}x"
                  f"  {a_freud:>11.6f} {ours['mean_alpha']:>11.6f}")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
