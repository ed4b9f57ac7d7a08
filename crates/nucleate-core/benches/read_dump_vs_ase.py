"""Reading a 32,000-atom x 50-frame LAMMPS text dump: ASE against nucleate.

Usage (ASE in a virtual environment outside the repository):
    cargo build --release -p nucleate-core --example read_dump
    /path/to/venv/bin/python crates/nucleate-core/benches/read_dump_vs_ase.py [--dir DIR]

The dump is generated once (fcc Pt positions with thermal noise, `id type x y z`, LAMMPS'
default `%g` floats, atoms shuffled in every frame as LAMMPS writes them without
`dump_modify sort`) and reused. Each reader is timed `--repeat` times; the best time counts.
"""

import argparse
import os
import subprocess
import sys
import time

import numpy as np

N_CELLS = 20  # 4 * 20^3 = 32,000 atoms
N_FRAMES = 50
A = 3.92


def generate(path):
    rng = np.random.default_rng(2024)
    base = np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    cells = np.stack(np.meshgrid(*[np.arange(N_CELLS)] * 3, indexing="ij"), -1).reshape(-1, 3)
    pos0 = ((cells[:, None, :] + base[None]) * A).reshape(-1, 3)
    n = len(pos0)
    L = N_CELLS * A
    tmp = path + ".part"
    with open(tmp, "w") as f:
        for k in range(N_FRAMES):
            pos = pos0 + rng.normal(0, 0.1, pos0.shape)
            order = rng.permutation(n)
            f.write(f"ITEM: TIMESTEP\n{k * 500}\nITEM: NUMBER OF ATOMS\n{n}\n")
            f.write("ITEM: BOX BOUNDS pp pp pp\n" + f"0 {L:.16e}\n" * 3)
            f.write("ITEM: ATOMS id type x y z\n")
            ids = order + 1
            lines = "\n".join(
                f"{i} 1 {x:g} {y:g} {z:g}" for i, (x, y, z) in zip(ids, pos[order])
            )
            f.write(lines + "\n")
    os.replace(tmp, path)


def time_ase(path):
    from ase.io import read

    t0 = time.perf_counter()
    frames = read(path, index=":", format="lammps-dump-text")
    dt = time.perf_counter() - t0
    assert len(frames) == N_FRAMES and len(frames[-1]) == 4 * N_CELLS**3
    return dt


def time_nucleate(exe, path):
    t0 = time.perf_counter()
    out = subprocess.run([exe, path], check=True, capture_output=True, text=True).stdout
    dt = time.perf_counter() - t0
    words = out.split()
    assert int(words[1]) == N_FRAMES, out
    assert int(words[3]) == N_FRAMES * 4 * N_CELLS**3, out
    return dt, float(words[5])


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.abspath(os.path.join(here, "..", "..", ".."))
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target"))
    p = argparse.ArgumentParser()
    p.add_argument("--dir", default="/tmp")
    p.add_argument("--exe", default=os.path.join(target, "release", "examples", "read_dump"))
    p.add_argument("--repeat", type=int, default=2)
    args = p.parse_args()
    path = os.path.join(args.dir, "nucleate_bench_32000x50.dump")
    if not os.path.exists(path):
        print(f"generating {path} ...", file=sys.stderr)
        generate(path)
    size_mb = os.path.getsize(path) / 1e6
    ase_t = min(time_ase(path) for _ in range(args.repeat))
    runs = [time_nucleate(args.exe, path) for _ in range(args.repeat)]
    nuc_t = min(r[0] for r in runs)
    nuc_inner = min(r[1] for r in runs)
    print(f"file: {size_mb:.0f} MB, {N_FRAMES} frames x {4 * N_CELLS**3} atoms")
    print(f"ASE lammps-dump-text: {ase_t:.2f} s")
    print(f"nucleate (process incl. start-up): {nuc_t:.3f} s (reading alone {nuc_inner:.3f} s)")
    print(f"speed-up: {ase_t / nuc_t:.1f}x")


if __name__ == "__main__":
    main()
