"""Reference g(r) from freud 3.4 `density.RDF` for the g(r) tests.

Run once (freud-analysis 3.4, ase, numpy):  python make_rdf_reference.py
Writes, next to itself, for each case: the frame `rdf_<case>.extxyz` and `rdf_<case>.freud.csv`
with columns `r_a` (freud's bin centres) and `g_<A>_<B>` (and `g_total` for a binary frame), and
`rdf_<case>.f64.csv`, the same g(r) in double precision from ASE's neighbour list and numpy
(freud accumulates and normalises in single precision: it agrees with the double-precision
values to ~1e-5 relative, not better).

freud works in single precision: a pair distance within ~1e-6 A of a bin edge may fall in the
neighbouring bin there and in double precision here. Each case is therefore drawn with
successive seeds until no pair distance lies within 1e-5 A of an edge, and the freud result is
checked against a float64 histogram before it is written.
"""
import os

import freud
import numpy as np
from ase import Atoms
from ase.build import bulk
from ase.io import write
from ase.neighborlist import neighbor_list

HERE = os.path.dirname(os.path.abspath(__file__))


def fcc_thermal(rng):
    a = bulk("Pt", "fcc", a=3.92, cubic=True) * (3, 3, 3)
    a.positions += rng.normal(0, 0.12, a.positions.shape)
    return a, 5.8, 116


def binary_liquid(rng):
    n = 216
    box = 14.0
    symbols = ["Pd"] * 160 + ["O"] * 56
    pos = rng.uniform(0, box, (n, 3))
    return Atoms(symbols, positions=pos, cell=[box] * 3, pbc=True), 6.5, 100


def fcc_triclinic(rng):
    a = bulk("Pt", "fcc", a=3.92) * (6, 6, 6)  # primitive rhombohedral cell
    rcell, q = a.cell.standard_form()
    a.positions = a.positions @ q.T
    a.cell = rcell
    a.positions += rng.normal(0, 0.1, a.positions.shape)
    return a, 6.0, 120


def freud_box(atoms):
    c = np.asarray(atoms.cell)
    assert abs(c[0, 1]) < 1e-12 and abs(c[0, 2]) < 1e-12 and abs(c[1, 2]) < 1e-12
    lx, ly, lz = c[0, 0], c[1, 1], c[2, 2]
    return freud.box.Box(lx, ly, lz, c[1, 0] / ly, c[2, 0] / lz, c[2, 1] / lz)


def numpy_rdf(atoms, sel_a, sel_b, r_max, bins):
    i, j, d = neighbor_list("ijd", atoms, r_max)
    keep = sel_a[i] & sel_b[j] & (d < r_max)
    h, _ = np.histogram(d[keep], bins=bins, range=(0, r_max))
    edges = np.linspace(0, r_max, bins + 1)
    shell = 4 / 3 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
    return h / (sel_a.sum() * sel_b.sum() / atoms.get_volume() * shell), d


def freud_rdf(atoms, sel_a, sel_b, r_max, bins):
    box = freud_box(atoms)
    pts = box.wrap(atoms.positions.astype(np.float32))
    rdf = freud.density.RDF(bins=bins, r_max=r_max)
    if sel_a is sel_b:
        rdf.compute(system=(box, pts[sel_b]))
    else:
        rdf.compute(system=(box, pts[sel_b]), query_points=pts[sel_a])
    return np.asarray(rdf.bin_centers), np.asarray(rdf.rdf, dtype=np.float64)


def main():
    for case, make in [("fcc_thermal", fcc_thermal), ("binary_liquid", binary_liquid), ("fcc_triclinic", fcc_triclinic)]:
        for seed in range(1000):
            atoms, r_max, bins = make(np.random.default_rng(seed))
            # the positions exactly as the extXYZ file will hold them
            atoms.positions = np.round(atoms.positions, 8)
            _, d = numpy_rdf(atoms, np.ones(len(atoms), bool), np.ones(len(atoms), bool), r_max, bins)
            edge_gap = np.abs(d * bins / r_max - np.round(d * bins / r_max)) * r_max / bins
            if edge_gap.min() > 1e-5:
                break
        else:
            raise SystemExit(f"{case}: no seed without a distance at a bin edge")
        species = list(dict.fromkeys(atoms.get_chemical_symbols()))
        sym = np.array(atoms.get_chemical_symbols())
        every = np.ones(len(atoms), bool)
        cols = []
        if len(species) > 1:
            cols.append(("g_total", every, every))
        for k, a in enumerate(species):
            for b in species[k:]:
                sa, sb = sym == a, sym == b
                cols.append((f"g_{a}_{b}", sa, sa if a == b else sb))
        table = {}
        table64 = {}
        for name, sa, sb in cols:
            r, g = freud_rdf(atoms, sa, sb, r_max, bins)
            g64, _ = numpy_rdf(atoms, sa, sb, r_max, bins)
            assert np.allclose(g, g64, rtol=1e-5, atol=1e-6), (case, name, np.abs(g - g64).max())
            table["r_a"] = r
            table[name] = g
            table64["r_a"] = (np.arange(bins) + 0.5) * r_max / bins
            table64[name] = g64
        write(os.path.join(HERE, f"rdf_{case}.extxyz"), atoms, format="extxyz")
        with open(os.path.join(HERE, f"rdf_{case}.freud.csv"), "w") as f:
            f.write(f"# freud {freud.__version__} density.RDF(bins={bins}, r_max={r_max}); seed {seed}\n")
            f.write(",".join(table) + "\n")
            for k in range(bins):
                f.write(",".join(f"{table[c][k]:.9g}" for c in table) + "\n")
        with open(os.path.join(HERE, f"rdf_{case}.f64.csv"), "w") as f:
            f.write(f"# numpy float64 histogram of ASE neighbour_list distances (bins={bins}, r_max={r_max})\n")
            f.write(",".join(table64) + "\n")
            for k in range(bins):
                f.write(",".join(f"{table64[c][k]:.17g}" for c in table64) + "\n")
        print(case, "seed", seed, "atoms", len(atoms), "edge gap", edge_gap.min())


if __name__ == "__main__":
    main()
