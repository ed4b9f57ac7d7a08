"""Reference a-CNA structure types from OVITO for the a-CNA tests.

Run once (with ovito and ase installed; tested with OVITO 3.17.2, ASE 3.29):
    python make_cna_reference.py
It writes, next to itself:
  - generated frames `cna_*.extxyz` (thermally perturbed hcp and bcc, a noisy Mackay icosahedron,
    a crystalline nucleus in a liquid-like matrix), seeded so they are reproducible;
  - `<frame>.ovito_cna.csv`: one line per atom, `structure` = OVITO's adaptive CNA type
    (0 other, 1 fcc, 2 hcp, 3 bcc, 4 icosahedral) for every frame listed in FRAMES, including
    the project's shared reference frames under tests/reference/.
"""
import os

import numpy as np
from ase.build import bulk
from ase.cluster import Icosahedron
from ase.io import write
from ovito.io import import_file
from ovito.modifiers import CommonNeighborAnalysisModifier

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", "..", ".."))


def generate():
    rng = np.random.default_rng(2024)
    # hcp with the nearest-neighbour distance of fcc a = 3.92, thermal-like noise 0.1 A
    hcp = bulk("Pt", "hcp", a=3.92 / np.sqrt(2), c=3.92 / np.sqrt(2) * np.sqrt(8 / 3), orthorhombic=True) * (4, 3, 3)
    hcp.positions += rng.normal(0, 0.1, hcp.positions.shape)
    write(os.path.join(HERE, "cna_hcp_thermal.extxyz"), hcp, format="extxyz")
    # bcc Fe, noise 0.08 A
    bcc = bulk("Fe", "bcc", a=2.87, cubic=True) * (5, 5, 5)
    bcc.positions += rng.normal(0, 0.08, bcc.positions.shape)
    write(os.path.join(HERE, "cna_bcc_thermal.extxyz"), bcc, format="extxyz")
    # Mackay icosahedron of 309 atoms, free, noise 0.04 A
    ico = Icosahedron("Pt", noshells=5, latticeconstant=3.92)
    ico.positions += rng.normal(0, 0.04, ico.positions.shape)
    ico.center(vacuum=10.0)
    ico.pbc = False
    write(os.path.join(HERE, "cna_icosahedron_309.extxyz"), ico, format="extxyz")
    # crystalline nucleus (r < 8 A, noise 0.08 A) in a liquid-like matrix (noise 0.5 A)
    fcc = bulk("Pt", "fcc", a=3.92, cubic=True) * (6, 6, 6)
    centre = fcc.cell.diagonal() / 2
    r = np.linalg.norm(fcc.positions - centre, axis=1)
    sigma = np.where(r < 8.0, 0.08, 0.5)
    fcc.positions += rng.normal(0, 1, fcc.positions.shape) * sigma[:, None]
    write(os.path.join(HERE, "cna_nucleus_in_liquid.extxyz"), fcc, format="extxyz")


FRAMES = [
    "tests/reference/frames/fcc_perfect.extxyz",
    "tests/reference/frames/hcp_perfect.extxyz",
    "tests/reference/frames/bcc_perfect.extxyz",
    "tests/reference/frames/fcc_noisy_s1.extxyz",
    "tests/reference/frames/fcc_triclinic_s1.extxyz",
    "tests/reference/frames/icosahedron_147.extxyz",
    "tests/reference/lammps/fcc_perturbed_500.extxyz",
    "tests/reference/lammps/disordered_864.extxyz",
    "tests/reference/lammps/nanoparticle_free.extxyz",
    "cna_hcp_thermal.extxyz",
    "cna_bcc_thermal.extxyz",
    "cna_icosahedron_309.extxyz",
    "cna_nucleus_in_liquid.extxyz",
]


def main():
    generate()
    for rel in FRAMES:
        path = os.path.join(REPO, rel) if rel.startswith("tests/") else os.path.join(HERE, rel)
        pipeline = import_file(path)
        pipeline.modifiers.append(CommonNeighborAnalysisModifier(mode=CommonNeighborAnalysisModifier.Mode.AdaptiveCutoff))
        data = pipeline.compute()
        types = np.asarray(data.particles.structure_types, dtype=int)
        name = os.path.splitext(os.path.basename(rel))[0]
        with open(os.path.join(HERE, name + ".ovito_cna.csv"), "w") as f:
            f.write("structure\n")
            f.writelines(f"{t}\n" for t in types)
        print(name, len(types), np.bincount(types, minlength=5))


if __name__ == "__main__":
    main()
