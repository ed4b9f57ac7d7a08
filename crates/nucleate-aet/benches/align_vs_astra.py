#!/usr/bin/env python3
"""Side by side on a misaligned simulated tilt series: `nucleate aet reconstruct --align`
against ASTRA SIRT (CPU, slice by slice, positivity) after a centre-of-mass alignment.

1. A FePt fcc cluster is simulated with `nucleate aet simulate` (Poisson + read noise).
2. Each projection is shifted in Python (Fourier shift of a zero-padded copy) by a constant
   tilt-axis offset across the axis plus random drift both ways; the series is written as an
   MRC stack with `mrcfile` (pixel size in the header) and an IMOD .rawtlt angle file.
3. ASTRA: centre of mass of every projection; across the axis the projections are moved so
   that the centre of mass lies at n/2 (after the fit c + a cos + b sin that separates the
   axis offset from the drift), along the axis onto the mean; then 2D SIRT, 50 iterations,
   for each row (the tilt axis is y), slices spread over all cores.
4. nucleate: `nucleate aet reconstruct SERIES.mrc --angles SERIES.rawtlt --align`.

Printed: R1 of each (sum |b - Ax| / sum |b| against its own aligned projections), wall time,
the rms error of the shifts each found (after removing the object translation they cannot
tell apart), and the machine load.

Setup (outside the repository):
    python3 -m venv /work/venv-aet
    /work/venv-aet/bin/pip install astra-toolbox mrcfile numpy
Run (from the repository root, after `cargo build --release -p nucleate-cli`):
    /work/venv-aet/bin/python crates/nucleate-aet/benches/align_vs_astra.py \
        --nucleate $CARGO_TARGET_DIR/release/nucleate
"""

import argparse
import json
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time

import numpy as np


def fcc_cluster(radius_a, centre_a, seed):
    """A spherical fcc FePt cluster (lattice 3.87 A), species drawn 50/50."""
    rng = np.random.default_rng(seed)
    a = 3.87
    basis = np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    m = int(np.ceil(radius_a / a)) + 1
    pts = []
    for i in range(-m, m + 1):
        for j in range(-m, m + 1):
            for k in range(-m, m + 1):
                for b in basis:
                    p = (np.array([i, j, k]) + b) * a
                    if np.linalg.norm(p) <= radius_a:
                        pts.append(p)
    pts = np.array(pts) + np.asarray(centre_a)
    species = np.where(rng.random(len(pts)) < 0.5, "Fe", "Pt")
    return pts, species


def write_extxyz(path, pts, species):
    with open(path, "w") as f:
        f.write(f"{len(pts)}\nProperties=species:S:1:pos:R:3 pbc=\"F F F\"\n")
        for s, p in zip(species, pts):
            f.write(f"{s} {p[0]:.5f} {p[1]:.5f} {p[2]:.5f}\n")


def read_tiff_stack(path):
    """Float32 pages of a TIFF written by nucleate (uncompressed strips)."""
    import struct

    data = open(path, "rb").read()
    assert data[:2] == b"II", "little-endian TIFF expected"
    off = struct.unpack_from("<I", data, 4)[0]
    pages = []
    while off:
        count = struct.unpack_from("<H", data, off)[0]
        tags = {}
        for t in range(count):
            tag, typ, cnt, val = struct.unpack_from("<HHII", data, off + 2 + 12 * t)
            if typ == 3 and cnt == 1:
                val &= 0xFFFF
            tags[tag] = (typ, cnt, val)
        w, h = tags[256][2], tags[257][2]

        def arr(tag):
            typ, cnt, val = tags[tag]
            if cnt == 1:
                return [val]
            fmt = "<%d%s" % (cnt, "H" if typ == 3 else "I")
            return list(struct.unpack_from(fmt, data, val))

        buf = b"".join(data[o:o + c] for o, c in zip(arr(273), arr(279)))
        pages.append(np.frombuffer(buf, dtype="<f4").reshape(h, w))
        off = struct.unpack_from("<I", data, off + 2 + 12 * count)[0]
    return np.array(pages)


def fourier_shift(img, du, dv):
    """Shift an image by (du columns, dv rows), zero-padded to twice its size."""
    n = img.shape[0]
    m = 2 * n
    pad = np.zeros((m, m))
    pad[:n, :n] = img
    ky = np.fft.fftfreq(m)[:, None]
    kx = np.fft.fftfreq(m)[None, :]
    f = np.fft.fft2(pad) * np.exp(-2j * np.pi * (kx * du + ky * dv))
    return np.real(np.fft.ifft2(f))[:n, :n]


def border_median_subtract(stack):
    n = stack.shape[1]
    w = max(2, n // 16)
    mask = np.zeros((n, n), bool)
    mask[:w, :] = mask[-w:, :] = mask[:, :w] = mask[:, -w:] = True
    out = stack.copy()
    for k in range(len(out)):
        out[k] -= np.median(out[k][mask])
    return out, mask


def com_align(stack, angles_deg):
    """Centre-of-mass alignment (the usual pre-alignment for SIRT): shifts (du, dv)."""
    stack, mask = border_median_subtract(stack)
    n = stack.shape[1]
    coms = []
    for img in stack:
        sigma = 1.4826 * np.median(np.abs(img[mask] - np.median(img[mask])))
        w = np.clip(img - 2 * sigma, 0, None)
        s = w.sum()
        ys, xs = np.mgrid[0:n, 0:n]
        coms.append(((w * xs).sum() / s, (w * ys).sum() / s))
    coms = np.array(coms)
    t = np.radians(angles_deg)
    a = np.stack([np.ones_like(t), np.cos(t), np.sin(t)], axis=1)
    coef, *_ = np.linalg.lstsq(a, coms[:, 0], rcond=None)
    shifts = np.stack([n / 2 - coms[:, 0], coms[:, 1].mean() - coms[:, 1]], axis=1)
    aligned = np.array([fourier_shift(img, du, dv) for img, (du, dv) in zip(stack, shifts)])
    return aligned, shifts, coef[0] - n / 2


_WORK = {}


def _astra_init(sino_all, angles_rad, iterations):
    _WORK["sino"] = sino_all
    _WORK["angles"] = angles_rad
    _WORK["iterations"] = iterations


def _astra_rows(rows):
    import astra

    sino_all = _WORK["sino"]
    na, n = sino_all.shape[0], sino_all.shape[2]
    vol_geom = astra.create_vol_geom(n, n)
    proj_geom = astra.create_proj_geom("parallel", 1.0, n, _WORK["angles"])
    proj_id = astra.create_projector("linear", proj_geom, vol_geom)
    out = {}
    for y in rows:
        sino = np.ascontiguousarray(sino_all[:, y, :], dtype=np.float32)
        sid = astra.data2d.create("-sino", proj_geom, sino)
        vid = astra.data2d.create("-vol", vol_geom, 0.0)
        cfg = astra.astra_dict("SIRT")
        cfg["ProjectorId"] = proj_id
        cfg["ProjectionDataId"] = sid
        cfg["ReconstructionDataId"] = vid
        cfg["option"] = {"MinConstraint": 0.0}
        alg = astra.algorithm.create(cfg)
        astra.algorithm.run(alg, _WORK["iterations"])
        rec = astra.data2d.get(vid)
        fp_id, fp = astra.create_sino(rec, proj_id)
        out[y] = fp
        astra.algorithm.delete(alg)
        astra.data2d.delete([sid, vid, fp_id])
    astra.projector.delete(proj_id)
    return out


def astra_sirt(aligned, angles_deg, iterations, workers):
    """SIRT slice by slice; returns the re-projections [angle][row][column]."""
    n = aligned.shape[1]
    rows = list(range(n))
    chunks = [rows[i::workers] for i in range(workers)]
    # ASTRA's parallel geometry turns the other way round to ours: negate the angles (R1 does
    # not depend on it, the volume's handedness does).
    angles = -np.radians(angles_deg)
    with mp.get_context("fork").Pool(workers, _astra_init, (aligned, angles, iterations)) as pool:
        parts = pool.map(_astra_rows, chunks)
    calc = np.zeros_like(aligned)
    for part in parts:
        for y, fp in part.items():
            calc[:, y, :] = fp
    return calc


def gauge_free_rms(found, true_disp, angles_deg):
    """Rms of found + true after removing alpha cos + beta sin across and a constant along."""
    t = np.radians(angles_deg)
    e = found + true_disp
    a = np.stack([np.cos(t), np.sin(t)], axis=1)
    coef, *_ = np.linalg.lstsq(a, e[:, 0], rcond=None)
    ru = e[:, 0] - a @ coef
    rv = e[:, 1] - e[:, 1].mean()
    return float(np.sqrt(np.mean(ru**2 + rv**2)))


def load():
    return open("/proc/loadavg").read().split()[:3]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nucleate", default="target/release/nucleate")
    ap.add_argument("--size", type=int, default=96)
    ap.add_argument("--pixel-a", type=float, default=0.35)
    ap.add_argument("--radius-a", type=float, default=9.0)
    ap.add_argument("--angles", default="-65:65:2.6")
    ap.add_argument("--axis-offset-px", type=float, default=9.0)
    ap.add_argument("--drift-px", type=float, default=4.0, help="drift uniform in +-this")
    ap.add_argument("--sirt-iterations", type=int, default=50)
    ap.add_argument("--nucleate-args", default="", help="extra arguments for reconstruct")
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--keep", help="keep the files in this folder")
    args = ap.parse_args()

    import mrcfile

    work = args.keep or tempfile.mkdtemp(prefix="align_vs_astra_")
    os.makedirs(work, exist_ok=True)
    n, px = args.size, args.pixel_a
    centre = n * px / 2
    pts, species = fcc_cluster(args.radius_a, [centre + 0.1, centre - 0.2, centre + 0.15], args.seed)
    model = os.path.join(work, "model.extxyz")
    write_extxyz(model, pts, species)
    sim = os.path.join(work, "sim")
    subprocess.run([args.nucleate, "aet", "simulate", model, "-o", sim, "--angles", args.angles,
                    "--size", str(n), "--pixel-a", str(px), "--seed", str(args.seed), "--quiet"],
                   check=True)
    clean = read_tiff_stack(os.path.join(sim, "tilts.tif")).astype(np.float64)
    angles = np.loadtxt(os.path.join(sim, "angles.csv"), delimiter=",", skiprows=1)[:, 1]
    na = len(angles)
    rng = np.random.default_rng(args.seed + 1)
    drift = rng.uniform(-args.drift_px, args.drift_px, size=(na, 2))
    disp = drift.copy()
    disp[:, 0] += args.axis_offset_px
    mis = np.array([fourier_shift(img, d[0], d[1]) for img, d in zip(clean, disp)])
    series = os.path.join(work, "misaligned.mrc")
    with mrcfile.new(series, overwrite=True) as m:
        m.set_data(mis.astype(np.float32))
        m.voxel_size = px
    tlt = os.path.join(work, "misaligned.rawtlt")
    np.savetxt(tlt, angles, fmt="%.2f")
    print(f"series: {na} projections of {n} x {n} px, {len(pts)} atoms, axis offset "
          f"{args.axis_offset_px} px, drift +-{args.drift_px} px; files in {work}")

    # ASTRA after centre-of-mass alignment.
    with mrcfile.open(series, permissive=True) as m:
        data = np.array(m.data, dtype=np.float64)
    load_astra = load()
    t0 = time.perf_counter()
    aligned, shifts, axis = com_align(data, angles)
    calc = astra_sirt(aligned, angles, args.sirt_iterations, args.workers)
    t_astra = time.perf_counter() - t0
    r1_astra = float(np.abs(aligned - calc).sum() / np.abs(aligned).sum())
    rms_astra = gauge_free_rms(shifts, disp, angles)

    # nucleate: alignment and reconstruction in one command.
    out = os.path.join(work, "nucleate")
    cmd = [args.nucleate, "aet", "reconstruct", series, "--angles", tlt, "--align",
           "--subtract-background", "median", "-o", out, "--quiet"] + args.nucleate_args.split()
    load_nuc = load()
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    t_nuc = time.perf_counter() - t0
    summary = json.load(open(os.path.join(out, "summary.json")))
    found = np.array(summary["alignment"]["shifts_px"])
    rms_nuc = gauge_free_rms(found, disp, angles)
    r1_rounds = [round(r["r1"], 4) for r in summary["alignment"]["rounds"]]

    print(f"{'':28s}{'R1':>8s}{'time (s)':>10s}{'shift rms (px)':>16s}  load (1/5/15 min)")
    print(f"{'ASTRA SIRT %d it + COM' % args.sirt_iterations:28s}{r1_astra:8.4f}{t_astra:10.1f}"
          f"{rms_astra:16.3f}  {' '.join(load_astra)}")
    print(f"{'nucleate --align':28s}{summary['r1']:8.4f}{t_nuc:10.1f}{rms_nuc:16.3f}  "
          f"{' '.join(load_nuc)}")
    print(f"nucleate: {summary['method']} {summary['iterations']} iterations; alignment R1 by "
          f"round {r1_rounds}; axis offset found {summary['alignment']['axis_offset_px']:.2f} px "
          f"(COM fit of ASTRA's side: {axis:.2f}); speed-up {t_astra / t_nuc:.1f}x")


if __name__ == "__main__":
    sys.exit(main())
