#!/usr/bin/env python3
"""Run mcsas3 and `nucleate saxs` on the same curve, contributions and repetitions; print
both results, the population mean radii and volume fractions side by side (mcsas3's own
volume-weighted histogramming on nucleate's population ranges), and the speed ratio.

    python3 -m venv /work/venv-reactor && /work/venv-reactor/bin/pip install mcsas3
    cargo build --release -p nucleate-cli
    /work/venv-reactor/bin/python crates/nucleate-reactor/benches/saxs_vs_mcsas3.py \
        examples/reactor/saxs-bimodal.csv --nucleate target/release/nucleate

q is taken as given (1/nm) and radii are in nm for both programs: the sphere model depends
on q r only, so sasmodels' nominal Angstrom units do not change the fitted radii. Both use
one core per repetition and all cores across repetitions.
"""
import argparse, json, subprocess, sys, tempfile, time
from pathlib import Path

import numpy as np
import pandas as pd


def run_mcsas3(path, rmin, rmax, contrib, reps, max_iter, ncores, ranges):
    from mcsas3.mc_analysis import McAnalysis
    from mcsas3.mc_data_1d import McData1D
    from mcsas3.mc_hat import McHat

    df = pd.read_csv(path, comment="#")
    df.columns = ["Q", "I", "ISigma"]
    mds = McData1D(df=df, nbins=0)
    mh = McHat(
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
    out = Path(tempfile.mkdtemp()) / "mcsas3.nxs"
    start = time.perf_counter()
    mh.run(mds.measData.copy(), out)
    seconds = time.perf_counter() - start
    import h5py

    gofs, radii = [], []
    with h5py.File(out, "r") as h5:
        # Collect every repetition's final goodness of fit and contribution radii, wherever
        # the file layout of this mcsas3 version puts them.
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                if name.endswith("optimization/gof") or (name.split("/")[-1] == "gof" and "repetition" in name):
                    gofs.append(float(np.array(obj).ravel()[-1]))
                elif name.endswith("parameterSet/radius") or name.endswith("parameterSet/radius/data"):
                    radii.append(np.array(obj).ravel())
        h5.visititems(visit)
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
    return seconds, gofs, radii, pops


def run_nucleate(binary, path, rmin, rmax, contrib, reps, max_iter, seed):
    out = Path(tempfile.mkdtemp())
    start = time.perf_counter()
    subprocess.run(
        [binary, "saxs", str(path), "-o", str(out), "--r-min-nm", str(rmin), "--r-max-nm", str(rmax),
         "--contributions", str(contrib), "--repetitions", str(reps), "--max-iterations", str(max_iter),
         "--seed", str(seed), "--quiet"],
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
    ap.add_argument("--split-nm", type=float, default=4.5, help="radius separating two populations")
    a = ap.parse_args()

    t_ours, summary = run_nucleate(a.nucleate, a.input, a.r_min_nm, a.r_max_nm, a.contributions,
                                   a.repetitions, a.max_iterations, 1)
    print(f"nucleate saxs: {t_ours:.2f} s wall, reduced chi^2 {summary['chi2_reduced']:.3f}")
    for p in summary["populations"]:
        print(f"  {p['r_from_nm']:.2f}-{p['r_to_nm']:.2f} nm: mean r {p['mean_r_nm'][0]:.3f} +- "
              f"{p['mean_r_nm'][1]:.3f} nm, volume fraction {p['volume_fraction'][0]:.4g}")
    ranges = [(p["r_from_nm"], p["r_to_nm"]) for p in summary["populations"]]
    t_mc, gofs, radii, pops = run_mcsas3(a.input, a.r_min_nm, a.r_max_nm, a.contributions,
                                         a.repetitions, a.max_iterations, a.cores, ranges)
    print(f"mcsas3:        {t_mc:.2f} s wall, gof per repetition {['%.3f' % g for g in gofs]}")
    for r in radii:
        lo, hi = r[r < a.split_nm], r[r >= a.split_nm]
        print(f"  contribution mean r: below {a.split_nm} nm {lo.mean() if lo.size else float('nan'):.3f} nm "
              f"({lo.size} contributions), above {hi.mean() if hi.size else float('nan'):.3f} nm ({hi.size})")
    # Side by side on the same ranges. Volume fractions are absolute only if the intensity
    # is on an absolute scale; mcsas3 assumes a contrast of 1e-6 1/A^2 (sld 2 vs 1) and
    # sasmodels' units, so compare their ratios between populations rather than their values.
    print("population (nm) | mean r nucleate | mean r mcsas3 | vol. frac. nucleate | vol. frac. mcsas3")
    for p, m in zip(summary["populations"], pops):
        print(f"{p['r_from_nm']:6.2f}-{p['r_to_nm']:<6.2f} | {p['mean_r_nm'][0]:.3f} +- {p['mean_r_nm'][1]:.3f} | "
              f"{m['mean_r'][0]:.3f} +- {m['mean_r'][1]:.3f} | {p['volume_fraction'][0]:.4g} +- "
              f"{p['volume_fraction'][1]:.2g} | {m['volume_fraction'][0]:.4g} +- {m['volume_fraction'][1]:.2g}")
    if len(pops) >= 2:
        ours = [p["volume_fraction"][0] for p in summary["populations"]]
        theirs = [m["volume_fraction"][0] for m in pops]
        print(f"volume-fraction ratio first/second population: nucleate {ours[0] / ours[1]:.3f}, "
              f"mcsas3 {theirs[0] / theirs[1]:.3f}")
    print(f"speed ratio (mcsas3 / nucleate): {t_mc / t_ours:.1f}x")


if __name__ == "__main__":
    sys.exit(main())
