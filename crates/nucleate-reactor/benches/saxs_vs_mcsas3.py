#!/usr/bin/env python3
"""Run mcsas3 and `nucleate saxs` on the same curve, contributions and repetitions; print
both results, the population mean radii and volume fractions side by side (mcsas3's own
volume-weighted histogramming on nucleate's population ranges), and the speed ratio.

    python3 -m venv /work/venv-reactor && /work/venv-reactor/bin/pip install mcsas3
    cargo build --release -p nucleate-cli
    /work/venv-reactor/bin/python crates/nucleate-reactor/benches/saxs_vs_mcsas3.py \
        examples/reactor/saxs-bimodal.csv --nucleate target/release/nucleate

Units. The input is q in 1/nm, I in 1/cm, contrast 1e10 cm^-2 (= 1e-6 1/A^2). mcsas3 reads
radii in the units of 1/q (nm here) and turns its scale factor into volume fractions with a
fixed factor 1e-5 (mc_model_histogrammer.py, `_correctionFactor`) that assumes, as its README
says, q in 1/nm and I in 1/(m sr), with sld in 1e-6 1/A^2. Fed 1/cm it reports volume
fractions 100x too low; so I and sigma are multiplied by 100 (1/cm -> 1/m) before mcsas3 sees
them, which changes neither its fit nor its radii, and sld - sld_solvent = 1 gives the
contrast. nucleate uses phi = A / (0.1 contrast^2) for I in 1/cm, which is sasmodels' sphere
in sasmodels' own units (1/A, A, 1/cm): both then report absolute volume fractions.

Same fit for both: uncertainties floored at 1 % of I (nucleate's default floor, applied to
mcsas3's input here because mcsas3 floors only when it rebins), no rebinning, flat background,
target reduced chi^2 1. mcsas3 gives every McModel the same seed (12345) unless told, so each
repetition gets its own seed here (seed + repetition), as nucleate's repetitions get their own
ChaCha8 streams. Both use one core per repetition and all cores across repetitions. mcsas3's
start-up (pool, kernel load, the initial 300 contributions, storing) is timed separately by a
run of the same repetitions that stops after one step.
"""
import argparse, json, subprocess, sys, tempfile, time
from pathlib import Path

import numpy as np
import pandas as pd

_t0 = time.perf_counter()
import h5py
from mcsas3.mc_analysis import McAnalysis
from mcsas3.mc_data_1d import McData1D
from mcsas3.mc_hat import McHat
from mcsas3.mc_model import McModel

T_IMPORT = time.perf_counter() - _t0  # mcsas3, sasmodels, scipy, h5py


class SeededHat(McHat):
    """McHat whose repetition j draws its radii from seed base_seed + j (at module level so
    that multiprocessing can pickle it)."""

    base_seed = 12345

    def runOnce(self, measData, filename, repetition=0, bufferStdIO=False, resultIndex=1):
        self._model = McModel(**dict(self._modelArgs, seed=self.base_seed + repetition))
        return super().runOnce(measData, filename, repetition, bufferStdIO, resultIndex)


def mcsas3_fit(mds, rmin, rmax, contrib, reps, max_iter, ncores, seed):
    """One mcsas3 run of all repetitions; returns (seconds, output file)."""
    hat = SeededHat(
        modelName="sphere",
        nContrib=contrib,
        modelDType="default",
        fitParameterLimits={"radius": (rmin, rmax)},
        staticParameters={"background": 0, "scale": 1, "sld": 2, "sld_solvent": 1},
        maxIter=max_iter,
        convCrit=1,
        nRep=reps,
        nCores=ncores,
    )
    hat.base_seed = seed
    out = Path(tempfile.mkdtemp()) / "mcsas3.nxs"
    start = time.perf_counter()
    hat.run(mds.measData.copy(), out)
    return time.perf_counter() - start, out


def run_mcsas3(path, rmin, rmax, contrib, reps, max_iter, ncores, ranges, seed, min_rel_sigma):
    t_import = T_IMPORT
    df = pd.read_csv(path, comment="#")
    df.columns = ["Q", "I", "ISigma"]
    df["ISigma"] = np.maximum(df["ISigma"], min_rel_sigma * df["I"].abs())
    # 1/cm -> 1/(m sr), the intensity unit mcsas3's volume fractions assume.
    df["I"] *= 100.0
    df["ISigma"] *= 100.0
    mds = McData1D(df=df, nbins=0)
    t_startup, _ = mcsas3_fit(mds, rmin, rmax, contrib, reps, 1, ncores, seed)
    seconds, out = mcsas3_fit(mds, rmin, rmax, contrib, reps, max_iter, ncores, seed)

    gofs, steps, radii, seeds = [], [], [], []
    with h5py.File(out, "r") as h5:
        entry = h5["analyses/MCResult1"] if "analyses/MCResult1" in h5 else h5
        for j in range(reps):
            opt = entry[f"optimization/repetition{j}"]
            gofs.append(float(np.array(opt["gof"]).ravel()[-1]))
            steps.append(int(np.array(opt["step"]).ravel()[-1]))
            rep = entry[f"model/repetition{j}"]
            seeds.append(int(np.array(rep["seed"]).ravel()[0]))
            radii.append(np.array(rep["parameterSet/data"]).ravel())
    # mcsas3's own volume-weighted histogramming over the same population ranges: per range,
    # the volume fraction ("totalValue") and the mean radius, mean and std over repetitions.
    hist = pd.DataFrame([
        dict(parameter="radius", nBin=20, binScale="linear", presetRangeMin=a, presetRangeMax=b,
             binWeighting="vol", autoRange=False)
        for a, b in ranges
    ])
    modes = McAnalysis(out, mds.measData.copy(), hist, store=False)._averagedModes
    pops = [
        dict(mean_r=(modes.loc[i, ("mean", "valMean")], modes.loc[i, ("mean", "valStd")]),
             volume_fraction=(modes.loc[i, ("totalValue", "valMean")],
                              modes.loc[i, ("totalValue", "valStd")]))
        for i in range(len(ranges))
    ]
    return dict(seconds=seconds, startup=t_startup, imports=t_import, gofs=gofs, steps=steps,
                radii=radii, seeds=seeds, pops=pops)


def run_nucleate(binary, path, rmin, rmax, contrib, reps, max_iter, seed, populations):
    out = Path(tempfile.mkdtemp())
    start = time.perf_counter()
    subprocess.run(
        [binary, "saxs", str(path), "-o", str(out), "--r-min-nm", str(rmin), "--r-max-nm", str(rmax),
         "--contributions", str(contrib), "--repetitions", str(reps), "--max-iterations", str(max_iter),
         "--seed", str(seed), "--populations", populations, "--quiet"],
        check=True,
    )
    seconds = time.perf_counter() - start
    return seconds, json.loads((out / "summary.json").read_text())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input")
    ap.add_argument("--nucleate", default="target/release/nucleate")
    ap.add_argument("--r-min-nm", type=float, default=1.0)
    ap.add_argument("--r-max-nm", type=float, default=12.0)
    ap.add_argument("--contributions", type=int, default=300)
    ap.add_argument("--repetitions", type=int, default=4)
    ap.add_argument("--max-iterations", type=int, default=100000)
    ap.add_argument("--cores", type=int, default=0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--min-relative-sigma", type=float, default=0.01)
    ap.add_argument("--populations", default="1:4.5,4.5:12",
                    help="radius ranges FROM:TO (nm) compared, as nucleate's --populations")
    a = ap.parse_args()

    t_ours, summary = run_nucleate(a.nucleate, a.input, a.r_min_nm, a.r_max_nm, a.contributions,
                                   a.repetitions, a.max_iterations, a.seed, a.populations)
    reps = summary["repetitions"]
    print(f"nucleate saxs: {t_ours:.2f} s wall ({a.repetitions} repetitions x {a.contributions} "
          f"contributions), chi^2/(N-2) {summary['chi2_reduced']:.3f} (per repetition "
          f"{['%.3f' % r['chi2_reduced'] for r in reps]}, steps {[r['iterations'] for r in reps]})")
    ranges = [(p["r_from_nm"], p["r_to_nm"]) for p in summary["populations"]]
    mc = run_mcsas3(a.input, a.r_min_nm, a.r_max_nm, a.contributions, a.repetitions,
                    a.max_iterations, a.cores, ranges, a.seed, a.min_relative_sigma)
    print(f"mcsas3:        {mc['seconds']:.2f} s wall, of which start-up ~{mc['startup']:.2f} s "
          f"(a 1-step run of the same repetitions; imports {mc['imports']:.2f} s not counted), "
          f"chi^2/N per repetition {['%.3f' % g for g in mc['gofs']]}, steps {mc['steps']}, "
          f"seeds {mc['seeds']}")
    print("volume fractions absolute for both (I in 1/cm, contrast 1e10 cm^-2; mcsas3 fed 1/m)")
    print("population (nm) | mean r nucleate | mean r mcsas3 | vol. frac. nucleate | vol. frac. mcsas3 | ratio")
    for p, m in zip(summary["populations"], mc["pops"]):
        ours, theirs = p["volume_fraction"], m["volume_fraction"]
        print(f"{p['r_from_nm']:6.2f}-{p['r_to_nm']:<6.2f} | {p['mean_r_nm'][0]:.3f} +- {p['mean_r_nm'][1]:.3f} | "
              f"{m['mean_r'][0]:.3f} +- {m['mean_r'][1]:.3f} | {ours[0]:.5f} +- {ours[1]:.1e} | "
              f"{theirs[0]:.5f} +- {theirs[1]:.1e} | {ours[0] / theirs[0]:.3f}")
    if len(mc["pops"]) >= 2:
        ours = [p["volume_fraction"][0] for p in summary["populations"]]
        theirs = [m["volume_fraction"][0] for m in mc["pops"]]
        print(f"volume-fraction ratio first/second population: nucleate {ours[0] / ours[1]:.3f}, "
              f"mcsas3 {theirs[0] / theirs[1]:.3f}")
    print(f"speed ratio (mcsas3 / nucleate): {mc['seconds'] / t_ours:.1f}x total, "
          f"{(mc['seconds'] - mc['startup']) / t_ours:.1f}x without mcsas3's start-up")


if __name__ == "__main__":
    sys.exit(main())
