#!/usr/bin/env python3
"""Tracking speed and memory: `nucleate track` vs freud's order + largest-cluster analysis.

The trajectory: the LAMMPS run of bulk Pt crystallising at 1000 K (4000 atoms, one frame per ps),
replicated 2x2x2 into 32,000 atoms, frames from the nucleation window onwards. nucleate is timed as a
whole process (reading the gzip dump, order, nuclei, metrics, links, writing every output) with
`--threads T`; freud is timed on the compute alone (neighbours, Steinhardt averaged q4/q6 for alpha,
SolidLiquid with its largest solid cluster) with the same thread count, frames already in memory.
Peak memory (max RSS) of `nucleate track` is measured on the last 20 frames (the largest nuclei) and on
all frames: the ratio shows whether memory grows with the length of the trajectory.

Needs freud-analysis and numpy. From the repository root:
    python crates/nucleate-nuclei/benches/track_vs_freud.py [--frames 200] [--threads 2]
        [--source ../shared/reference/trajectories/pt_bulk_1000K.dump.gz]
"""
import argparse
import gzip
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np


def read_dump(path):
    """Frames of a LAMMPS text dump `id type x y z` (orthogonal box) as (box_lo, box_hi, ids, pos)."""
    with gzip.open(path, "rt") as f:
        while True:
            line = f.readline()
            if not line:
                return
            f.readline()
            f.readline()
            n = int(f.readline())
            f.readline()
            lo, hi = [], []
            for _ in range(3):
                a, b = f.readline().split()[:2]
                lo.append(float(a))
                hi.append(float(b))
            f.readline()
            data = np.loadtxt([f.readline() for _ in range(n)])
            order = np.argsort(data[:, 0])
            yield np.array(lo), np.array(hi), data[order, 0].astype(int), data[order, 2:5]


def replicate(lo, hi, ids, pos, m=2):
    length = hi - lo
    out_pos, out_ids = [], []
    k = 0
    for i in range(m):
        for j in range(m):
            for l in range(m):
                out_pos.append(pos + length * np.array([i, j, l]))
                out_ids.append(ids + k * len(ids))
                k += 1
    return lo, lo + m * length, np.concatenate(out_ids), np.concatenate(out_pos)


def write_frames(path, frames):
    with gzip.open(path, "wt", compresslevel=1) as f:
        for step, (lo, hi, ids, pos) in enumerate(frames):
            f.write(f"ITEM: TIMESTEP\n{step}\nITEM: NUMBER OF ATOMS\n{len(ids)}\n")
            f.write("ITEM: BOX BOUNDS pp pp pp\n")
            for d in range(3):
                f.write(f"{lo[d]:.10f} {hi[d]:.10f}\n")
            f.write("ITEM: ATOMS id type x y z\n")
            np.savetxt(f, np.column_stack([ids, np.ones(len(ids)), pos]), fmt="%d %d %.6f %.6f %.6f")


def time_freud(frames, threads):
    import freud
    freud.parallel.set_num_threads(threads)
    ref = np.hypot(0.190940654, 0.574524259)
    total = 0.0
    largest = []
    for lo, hi, ids, pos in frames:
        box = freud.box.Box.from_box(hi - lo)
        pts = box.wrap((pos - (lo + hi) / 2).astype(np.float32))
        t0 = time.perf_counter()
        nl = freud.locality.AABBQuery(box, pts).query(pts, {"r_max": 3.8, "exclude_ii": True}).toNeighborList()
        st = freud.order.Steinhardt(l=[4, 6], average=True)
        st.compute((box, pts), neighbors=nl)
        alpha = np.hypot(st.particle_order[:, 0], st.particle_order[:, 1]) / ref
        sl = freud.order.SolidLiquid(l=6, q_threshold=0.7, solid_threshold=7, normalize_q=True)
        sl.compute((box, pts), neighbors=nl)
        largest.append(sl.largest_cluster_size)
        total += time.perf_counter() - t0
    return total / len(frames), largest


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--first", type=int, default=60, help="first frame of the source run")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--freud-frames", type=int, default=20, help="frames timed with freud")
    ap.add_argument("--source", default="../shared/reference/trajectories/pt_bulk_1000K.dump.gz")
    ap.add_argument("--binary", default=None, help="a built nucleate binary (default: cargo build --release)")
    args = ap.parse_args()
    binary = args.binary
    if binary is None:
        subprocess.run(["cargo", "build", "--quiet", "--release"], check=True)
        binary = "target/release/nucleate"
    frames = []
    for k, frame in enumerate(read_dump(args.source)):
        if k >= args.first:
            frames.append(replicate(*frame))
        if len(frames) == args.frames:
            break
    print(f"{len(frames)} frames of {len(frames[0][2])} atoms, {args.threads} threads")
    with tempfile.TemporaryDirectory() as tmp:
        small, full = os.path.join(tmp, "small.dump.gz"), os.path.join(tmp, "full.dump.gz")
        write_frames(small, frames[-20:])
        write_frames(full, frames)
        # Each measurement in its own child so max RSS is that run's.
        code = ("import sys, resource, subprocess; subprocess.run(sys.argv[1:], check=True); "
                "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
        def measure(path, out):
            t0 = time.perf_counter()
            r = subprocess.run([sys.executable, "-c", code, binary, "track", path, "--types", "Pt",
                                "-o", out, "--threads", str(args.threads), "--quiet"],
                               check=True, capture_output=True, text=True)
            return time.perf_counter() - t0, int(r.stdout.strip().splitlines()[-1])
        t_small, rss_small = measure(small, os.path.join(tmp, "o20"))
        t_full, rss_full = measure(full, os.path.join(tmp, "oall"))
    per_frame = t_full / len(frames)
    t_freud, largest = time_freud(frames[: args.freud_frames], args.threads)
    print(f"nucleate track: {per_frame:.3f} s/frame (whole process, incl. reading and writing)")
    print(f"freud order + largest solid cluster: {t_freud:.3f} s/frame (compute only, frames in memory)")
    print(f"ratio freud/nucleate: {t_freud / per_frame:.2f}x")
    print(f"peak RSS: last 20 frames {rss_small / 1024:.1f} MiB, {len(frames)} frames {rss_full / 1024:.1f} MiB, "
          f"ratio {rss_full / rss_small:.2f}")
    print(f"freud largest solid cluster, first frames: {largest[:5]}")


if __name__ == "__main__":
    main()
