#!/usr/bin/env python3
"""Side by side on one simulated tilt series: nucleate's reconstruction and three other
tools (GENFIRE 1.1.11, ASTRA SIRT on the CPU, svmbir), every volume traced by
`nucleate aet trace` and scored against the truth model by nucleate's own scoring
(`score_against_truth`: truth atoms with a traced partner within 1 A, false positives,
species accuracy, RMS error).

The realistic case: the ~2.4 nm FePt particle of benches/aet_roundtrip.rs (facets at 12 A),
51 projections over +-65 degrees, Fe 129 / Pt 600 counts per atom per projection, Poisson
and read noise 3, pixel 0.35 A, 128^3 voxels.

Run (the Python of a venv with GENFIRE, numpy<2, pyfftw, astra-toolbox, svmbir, tifffile):

    /work/venv-genfire/bin/python crates/nucleate-aet/benches/aet_vs_peers.py \
        --nucleate target/release/nucleate --work /tmp/aet-peers

Without --nucleate / --helper the script builds both with cargo (release). The helper is
the aet_roundtrip bench binary's helper modes (particle, truth-volume, score, correlate, r1).

Geometry: every tool is first run on a single off-centre atom (--check-geometry runs only
that) and its volume converted to nucleate's frame ([z][y][x], tilt axis y through pixel
n/2, aet.md); the script stops if a peak lands more than 0.5 voxel from the atom.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import tifffile

REPO = Path(__file__).resolve().parents[3]


def sh(cmd, **kw):
    """Run a command, echo it, fail loudly."""
    print("+", " ".join(str(c) for c in cmd), file=sys.stderr, flush=True)
    return subprocess.run([str(c) for c in cmd], check=True, **kw)


def cargo_executable(args, name):
    """Build with cargo and return the path of the executable `name`."""
    out = subprocess.run(
        ["cargo", *args, "--message-format=json"],
        cwd=REPO, check=True, stdout=subprocess.PIPE, text=True,
    ).stdout
    for line in out.splitlines():
        msg = json.loads(line)
        if msg.get("reason") == "compiler-artifact" and msg.get("executable") \
                and msg["target"]["name"] == name:
            return msg["executable"]
    raise SystemExit(f"cargo built no executable named {name}")


def uptime():
    return open("/proc/loadavg").read().split()[0]


class Nucleate:
    def __init__(self, exe, helper):
        self.exe = exe
        self.helper = helper

    def run(self, *args, **kw):
        return sh([self.exe, *args], **kw)

    def help(self, *args):
        return subprocess.run([self.helper, *args], check=True, stdout=subprocess.PIPE,
                              text=True).stdout

    def score(self, truth, model):
        return json.loads(self.help("score", truth, model))

    def correlate(self, a, b):
        return float(self.help("correlate", a, b))

    def r1(self, vol, tilts, angles, pixel):
        return float(self.help("r1", vol, tilts, angles, str(pixel)))


# ---------------------------------------------------------------- series and volumes

def read_series(d):
    tilts = tifffile.imread(d / "tilts.tif").astype(np.float64)  # [k][row=y][col=x]
    ang = np.loadtxt(d / "angles.csv", delimiter=",", skiprows=1)[:, 1]
    return tilts, ang


def write_volume(path, vol_zyx):
    """A float32 TIFF of n pages ([z][y][x]), as nucleate reads volumes."""
    tifffile.imwrite(path, np.ascontiguousarray(vol_zyx, dtype=np.float32))


def shift_index(v, axis):
    """Mirror an axis about pixel n/2 (index i -> n - i, wrapping n/2... for even n the
    mirror of 0 is 0)."""
    return np.roll(np.flip(v, axis=axis), 1, axis=axis)


# ---------------------------------------------------------------- the other tools

class _RaggedShapeNumpy:
    def __getattr__(self, name):
        return getattr(np, name)

    @staticmethod
    def shape(a):
        if isinstance(a, list) and len(a) == 3 and all(isinstance(x, list) for x in a):
            return (3, len(a[0]), len(a[0][0]))
        return np.shape(a)


def run_genfire(tilts, ang, iterations=100, oversampling=3):
    """GENFIRE 1.1.11 at its defaults (FFT gridding, interpolation cutoff 0.5, resolution
    extension/suppression, positivity, default support, R_free)."""
    import genfire.reconstruct as gr
    # GENFIRE 1.1.11 takes np.shape of a ragged list (the R_free shells), which NumPy >= 1.24
    # refuses (and its other dependencies need NumPy >= 1.25): give it the shape it means,
    # (3, 1, shells), and leave every other NumPy call alone.
    if not isinstance(gr.np, _RaggedShapeNumpy):
        gr.np = _RaggedShapeNumpy()
    # GENFIRE's projection array is [d0][d1][k] and its tilt (theta) axis is d1: d0 = x,
    # d1 = y (nucleate's axis).
    proj = np.ascontiguousarray(np.transpose(tilts, (2, 1, 0)))
    eul = np.zeros((len(ang), 3))
    eul[:, 1] = GENFIRE_SIGN * ang
    rec = gr.GenfireReconstructor(
        projections=proj, eulerAngles=eul, numIterations=iterations,
        oversamplingRatio=oversampling, resultsFilename="", verbose=False)
    res = rec.reconstruct()
    v = np.asarray(res["reconstruction"])  # [x][y][z]
    v = np.transpose(v, (2, 1, 0))  # -> [z][y][x]
    if GENFIRE_FLIP_Z:
        v = shift_index(v, 0)
    return v, res


def astra_slices(tilts, ang, iterations):
    """ASTRA SIRT (CPU, 2D: one slice per row, the tilt axis being y), positivity on."""
    import astra
    n = tilts.shape[2]
    th = np.deg2rad(ASTRA_SIGN * ang)
    # Vector geometry: ray direction, detector centre, detector pixel vector. The detector
    # centre is moved half a pixel so that detector pixel n/2 is the axis (aet.md).
    vec = np.zeros((len(th), 6))
    vec[:, 0] = np.sin(th)
    vec[:, 1] = -np.cos(th)
    vec[:, 4] = np.cos(th)
    vec[:, 5] = np.sin(th)
    vec[:, 2] = -0.5 * vec[:, 4]
    vec[:, 3] = -0.5 * vec[:, 5]
    pg = astra.create_proj_geom("parallel_vec", n, vec)
    # Volume window moved half a pixel so that pixel n/2 is the origin.
    vg = astra.create_vol_geom(n, n, -n / 2 - 0.5, n / 2 - 0.5, -n / 2 - 0.5, n / 2 - 0.5)
    out = np.zeros((tilts.shape[1], n, n))  # [y][row][col]
    for y in range(tilts.shape[1]):
        sino = np.ascontiguousarray(tilts[:, y, :])
        sid = astra.data2d.create("-sino", pg, sino)
        rid = astra.data2d.create("-vol", vg, 0.0)
        cfg = astra.astra_dict("SIRT")
        cfg["ProjectorId"] = astra.create_projector("linear", pg, vg)
        cfg["ProjectionDataId"] = sid
        cfg["ReconstructionDataId"] = rid
        cfg["option"] = {"MinConstraint": 0.0}
        aid = astra.algorithm.create(cfg)
        astra.algorithm.run(aid, iterations)
        out[y] = astra.data2d.get(rid)
        astra.algorithm.delete(aid)
        astra.projector.delete(cfg["ProjectorId"])
        astra.data2d.delete([sid, rid])
    return out


def run_astra(tilts, ang, iterations=100):
    out = astra_slices(tilts, ang, iterations)  # [y][row][col]
    v = ASTRA_LAYOUT(out)
    return v


def run_svmbir(tilts, ang, threads=2, **kw):
    """svmbir (q-GGMRF prior, positivity), parallel beam; slices along the tilt axis."""
    import svmbir
    n = tilts.shape[1]
    # svmbir's axis and image centre are the middle of the detector, (channels - 1) / 2:
    # one zero column more puts them at pixel n/2 (aet.md) on the odd (n + 1)-grid.
    sino = np.zeros((tilts.shape[0], n, n + 1))
    sino[:, :, :n] = tilts  # views, slices (y), channels (x)
    r = svmbir.recon(sino, np.deg2rad(SVMBIR_SIGN * ang), num_rows=n + 1, num_cols=n + 1,
                     num_threads=threads, verbose=0,
                     svmbir_lib_path=os.environ.get("SVMBIR_LIB", "/tmp/svmbir-cache"), **kw)
    return SVMBIR_LAYOUT(np.asarray(r), n)


# Conventions, settled with the single-atom check (see check_geometry).
GENFIRE_SIGN = -1.0  # GENFIRE rotates the other way
GENFIRE_FLIP_Z = False
ASTRA_SIGN = 1.0
ASTRA_LAYOUT = lambda out: np.flip(np.transpose(out, (1, 0, 2)), 0)  # noqa: E731
SVMBIR_SIGN = 1.0
# svmbir's image [y][row][col]: row = x, col = the mirror of z about the centre (n/2).
SVMBIR_LAYOUT = lambda r, n: np.transpose(r[:, :n, n:0:-1], (2, 0, 1))  # noqa: E731


# ---------------------------------------------------------------- geometry check

def peak_xyz(v):
    """Centroid (voxels, x y z) of the positive part within 2 voxels of the maximum."""
    z, y, x = np.unravel_index(np.argmax(v), v.shape)
    sl = tuple(slice(max(c - 2, 0), c + 3) for c in (z, y, x))
    w = np.clip(v[sl], 0, None)
    g = np.meshgrid(*[np.arange(s.start, s.stop) for s in sl], indexing="ij")
    c = [float((w * gi).sum() / w.sum()) for gi in g]
    return np.array([c[2], c[1], c[0]])


def check_geometry(nu, work, tools):
    n, pixel = 64, 0.35
    pos_px = np.array([40.3, 22.6, 15.2])  # x y z, off centre in every axis
    model = work / "one_atom.extxyz"
    box = n * pixel
    p = pos_px * pixel
    model.write_text(
        f'1\nLattice="{box} 0.0 0.0 0.0 {box} 0.0 0.0 0.0 {box}" '
        f'Properties=species:S:1:pos:R:3 pbc="F F F"\nPt {p[0]:.6f} {p[1]:.6f} {p[2]:.6f}\n')
    d = work / "one_atom_series"
    nu.run("aet", "simulate", model, "-o", d, "--angles", "-65:65:2.6", "--size", n,
           "--pixel-a", pixel, "--counts", "Fe=1,Pt=1000000", "--read-noise", 0, "--seed", 1,
           "--quiet")
    tilts, ang = read_series(d)
    nu.run("aet", "reconstruct", d / "tilts.tif", "--angles", d / "angles.csv", "--pixel-a",
           pixel, "-o", work / "one_atom_nucleate", "--iterations", 30, "--quiet")
    vols = {"nucleate": tifffile.imread(work / "one_atom_nucleate" / "volume.tif")}
    if "genfire" in tools:
        vols["GENFIRE"] = run_genfire(tilts, ang, iterations=20, oversampling=2)[0]
    if "astra" in tools:
        vols["ASTRA SIRT"] = run_astra(tilts, ang, iterations=50)
    if "svmbir" in tools:
        vols["svmbir"] = run_svmbir(tilts, ang)
    ok = True
    ref = peak_xyz(vols["nucleate"])
    for name, v in vols.items():
        c = peak_xyz(v)
        err = c - pos_px
        print(f"geometry {name:11s}: peak at x y z = {c.round(2)} (atom {pos_px}), "
              f"error {err.round(2)} voxels, {(c - ref).round(2)} from nucleate's", flush=True)
        # The peak centroid is biased by the voxel grid the same way for every tool: each
        # must land within 0.5 voxel of the atom and 0.2 voxel of nucleate's peak (a mirror
        # or a half-pixel shift of the axis fails).
        ok &= bool(np.all(np.abs(err) < 0.5) and np.all(np.abs(c - ref) < 0.2))
    if not ok:
        raise SystemExit("geometry check failed: a tool's volume is not in nucleate's frame")


# ---------------------------------------------------------------- the comparison

def slug(name):
    return "".join(c if c.isalnum() else "_" for c in name).strip("_")


def trace_and_score(nu, name, vol_path, truth, work, pixel, extra=()):
    out = work / f"trace_{slug(name)}"
    nu.run("aet", "trace", vol_path, "--pixel-a", pixel, "-o", out, "--quiet", *extra)
    return nu.score(truth, out / "atoms.extxyz"), out / "atoms.extxyz"


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nucleate", help="nucleate executable (built with cargo if absent)")
    ap.add_argument("--helper", help="aet_roundtrip bench executable (built if absent)")
    ap.add_argument("--work", default="/tmp/aet-peers", help="working folder")
    ap.add_argument("--tools", default="genfire,astra,svmbir")
    ap.add_argument("--check-geometry", action="store_true", help="only the single-atom check")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--size", type=int, default=128)
    args = ap.parse_args()
    tools = args.tools.split(",") if args.tools else []
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    exe = args.nucleate or cargo_executable(["build", "--release", "-p", "nucleate-cli"],
                                            "nucleate")
    helper = args.helper or cargo_executable(
        ["bench", "--no-run", "-p", "nucleate-aet", "--bench", "aet_roundtrip"], "aet_roundtrip")
    nu = Nucleate(exe, helper)
    check_geometry(nu, work, tools)
    if args.check_geometry:
        return

    n, pixel = args.size, 0.35
    truth = work / "truth.extxyz"
    subprocess.run([helper, "particle", truth], check=True,
                   env={**os.environ, "AET_SIZE": str(n)})
    series = work / "series"
    nu.run("aet", "simulate", truth, "-o", series, "--angles", "-65:65:2.6", "--size", n,
           "--pixel-a", pixel, "--counts", "Fe=129,Pt=600", "--b-factor", "Fe=24,Pt=28",
           "--read-noise", 3, "--seed", 11, "--quiet")
    tilts_path, angles_path = series / "tilts.tif", series / "angles.csv"
    tilts, ang = read_series(series)
    truth_vol = work / "truth_volume.tif"
    nu.help("truth-volume", truth, truth_vol, str(n), str(pixel))

    rows = []  # (method, seconds, load, r1, corr, scores, scores_refined)
    timing = {}

    def add(name, vol_path, seconds, load, refine=False, extra=()):
        r1 = nu.r1(vol_path, tilts_path, angles_path, pixel)
        corr = nu.correlate(vol_path, truth_vol)
        sc, atoms = trace_and_score(nu, name, vol_path, truth, work, pixel, extra)
        rows.append((name, seconds, load, r1, corr, sc))
        if refine:
            out = work / f"refine_{slug(name)}"
            nu.run("aet", "refine", atoms, tilts_path, "--angles", angles_path, "--pixel-a",
                   pixel, "-o", out, "--quiet", "--threads", args.threads)
            rows.append((name + " + refine", None, None, None, None,
                         nu.score(truth, out / "atoms.extxyz")))

    # nucleate's default: ordered-subsets SART, 10 passes.
    rec0 = work / "rec_nucleate_sart"
    load = uptime()
    t0 = time.perf_counter()
    nu.run("aet", "reconstruct", tilts_path, "--angles", angles_path, "--pixel-a", pixel,
           "-o", rec0, "--method", "sart", "--iterations", 10, "--threads", args.threads,
           "--quiet")
    add("nucleate SART (10 it., default)", rec0 / "volume.tif", time.perf_counter() - t0, load,
        refine=True)
    # nucleate's penalised reconstruction (MBIR: OS-SART passes with a Huber penalty).
    recm = work / "rec_nucleate_mbir"
    load = uptime()
    t0 = time.perf_counter()
    nu.run("aet", "reconstruct", tilts_path, "--angles", angles_path, "--pixel-a", pixel,
           "-o", recm, "--method", "mbir", "--threads", args.threads, "--quiet")
    timing["nucleate MBIR"] = (time.perf_counter() - t0, load)
    add("nucleate MBIR (30 it.)", recm / "volume.tif", *timing["nucleate MBIR"], refine=True)
    # nucleate at GENFIRE's defaults (100 iterations, oversampling 3), 2 threads.
    rec = work / "rec_nucleate_os3"
    load = uptime()
    t0 = time.perf_counter()
    nu.run("aet", "reconstruct", tilts_path, "--angles", angles_path, "--pixel-a", pixel,
           "-o", rec, "--method", "genfire", "--iterations", 100, "--oversampling", 3,
           "--threads", args.threads, "--quiet")
    timing["nucleate"] = (time.perf_counter() - t0, load)
    add("nucleate GENFIRE-style (os 3)", rec / "volume.tif", *timing["nucleate"], refine=True)
    add("nucleate GENFIRE-style (os 3), x3 spline in tracing", rec / "volume.tif", None, None,
        extra=("--upsample", "3"))
    # nucleate's CLI default (oversampling 2).
    rec2 = work / "rec_nucleate_default"
    load = uptime()
    t0 = time.perf_counter()
    nu.run("aet", "reconstruct", tilts_path, "--angles", angles_path, "--pixel-a", pixel,
           "-o", rec2, "--method", "genfire", "--threads", args.threads, "--quiet")
    add("nucleate GENFIRE-style (os 2)", rec2 / "volume.tif", time.perf_counter() - t0, load,
        refine=True)
    rec3 = work / "rec_nucleate_sirt"
    load = uptime()
    t0 = time.perf_counter()
    nu.run("aet", "reconstruct", tilts_path, "--angles", angles_path, "--pixel-a", pixel,
           "-o", rec3, "--method", "sirt", "--iterations", 100, "--threads", args.threads,
           "--quiet")
    add("nucleate SIRT (100 it.)", rec3 / "volume.tif", time.perf_counter() - t0, load,
        refine=True)

    if "genfire" in tools:
        load = uptime()
        t0 = time.perf_counter()
        v, res = run_genfire(tilts, ang)
        timing["GENFIRE"] = (time.perf_counter() - t0, load)
        p = work / "rec_genfire.tif"
        write_volume(p, v)
        add("GENFIRE 1.1.11", p, *timing["GENFIRE"], refine=True)
    if "astra" in tools:
        load = uptime()
        t0 = time.perf_counter()
        v = run_astra(tilts, ang, iterations=100)
        sec = time.perf_counter() - t0
        p = work / "rec_astra.tif"
        write_volume(p, v)
        add("ASTRA SIRT (CPU, 100 it.)", p, sec, load, refine=True)
    if "svmbir" in tools:
        load = uptime()
        t0 = time.perf_counter()
        v = run_svmbir(tilts, ang, threads=args.threads)
        sec = time.perf_counter() - t0
        p = work / "rec_svmbir.tif"
        write_volume(p, v)
        add("svmbir (defaults)", p, sec, load, refine=True)

    print("\n| method | s (load) | R1 | corr. truth vol. | found <1 A (Fe/Pt) | false pos. "
          "| species acc. | RMS (A) |")
    print("|---|---|---|---|---|---|---|---|")
    for name, sec, load, r1, corr, sc in rows:
        a = {s["species"]: s for s in sc}
        t = f"{sec:.1f} ({load})" if sec is not None else "-"
        r1s = f"{r1:.3f}" if r1 is not None else "-"
        cs = f"{corr:.3f}" if corr is not None else "-"
        print(f"| {name} | {t} | {r1s} | {cs} | {a['all']['found_fraction']:.3f} "
              f"({a['Fe']['found_fraction']:.3f}/{a['Pt']['found_fraction']:.3f}) | "
              f"{a['all']['false_positive_fraction']:.3f} | {a['all']['species_accuracy']:.3f} | "
              f"{a['all']['rms_error_a']:.3f} |")
    if "GENFIRE" in timing:
        g = timing["GENFIRE"][0]
        for key, label in (("nucleate", "nucleate GENFIRE-style at GENFIRE's defaults"),
                           ("nucleate MBIR", "nucleate MBIR")):
            m = timing[key][0]
            print(f"\n{label}: {m:.1f} s, GENFIRE {g:.1f} s, ratio {g / m:.1f}x")
    (work / "rows.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
