"""Side-by-side peer of benches/movie_pipeline.rs with scikit-image and numpy.

Per frame of DIR/bench_movie_FRAMES.tif (1024 x 1024), read page by page: Gaussian
denoising (sigma 1.5 px), Gaussian background (sigma 64 px) subtracted, Otsu threshold,
label (8-connectivity), regionprops of the largest region (area, centroid, mean
intensity). Then the FFT crystallinity of each 512 x 512 frame of DIR/bench_hrtem.tif:
Hann window, numpy FFT, power spectrum, annulus, azimuthal histogram, Herman's f.

With `binned` as the third argument the background is computed as the Rust pipeline
computes it (on a copy binned 16 x 16, Gaussian sigma 4 binned px, bilinear back to full
size, without the Rust side's three masked re-fits): the stricter peer, since the
full-resolution sigma-64 Gaussian is most of the default peer's time.

Prints wall clock and the process's CPU time (all threads) per frame; scikit-image and
scipy.ndimage run these steps on one thread.

Usage: python movie_vs_skimage.py FRAMES DIR [binned]
(run the Rust bench first: it writes the files)
"""
import json
import sys
import time

import numpy as np
import tifffile
from scipy import ndimage
from skimage import filters, measure, transform

BINNED = False


def background(s):
    if not BINNED:
        return ndimage.gaussian_filter(s, sigma=64.0)
    h, w = s.shape
    b = s.reshape(h // 16, 16, w // 16, 16).mean(axis=(1, 3))
    b = ndimage.gaussian_filter(b, sigma=4.0)
    return transform.resize(b, (h, w), order=1, mode="edge", anti_aliasing=False)


def frame_pipeline(img):
    s = -img.astype(np.float64)  # dark particles made positive, as the Rust pipeline does
    s = filters.gaussian(s, sigma=1.5, preserve_range=True)
    s = s - background(s)
    t = filters.threshold_otsu(s)
    labels = measure.label(s > t, connectivity=2)
    if labels.max() == 0:
        return 0.0
    props = measure.regionprops(labels, intensity_image=img)
    big = max(props, key=lambda p: p.area)
    return big.area, big.centroid, big.intensity_mean


def crystallinity(img, pixel_nm=0.025, spacing_nm=0.2246, rel=0.1):
    h, w = img.shape
    win = np.outer(np.hanning(h + 1)[:-1], np.hanning(w + 1)[:-1])
    p = np.abs(np.fft.fft2((img - img.mean()) * win)) ** 2
    fy = np.fft.fftfreq(h)[:, None] / pixel_nm
    fx = np.fft.fftfreq(w)[None, :] / pixel_nm
    q = np.hypot(fx, fy)
    q0 = 1.0 / spacing_nm
    dq = np.abs(q - q0)
    theta = np.mod(np.arctan2(fy + 0 * fx, fx + 0 * fy), np.pi)
    b = np.minimum((theta / np.pi * 180).astype(int), 179)
    ann = dq <= rel * q0
    bg = (dq > rel * q0) & (dq <= 2 * rel * q0)
    i_ann = np.bincount(b[ann], p[ann], 180)
    n_ann = np.bincount(b[ann], None, 180)
    i_bg = np.bincount(b[bg], p[bg], 180) / np.maximum(np.bincount(b[bg], None, 180), 1)
    i = np.maximum(i_ann - n_ann * i_bg, 0)
    ang = (np.arange(180) + 0.5) / 180 * np.pi
    return np.hypot((i * np.cos(2 * ang)).sum(), (i * np.sin(2 * ang)).sum()) / i.sum()


def main():
    global BINNED
    frames = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    d = sys.argv[2] if len(sys.argv) > 2 else "/tmp/nucleate-bench"
    BINNED = len(sys.argv) > 3 and sys.argv[3] == "binned"
    t, cpu = time.perf_counter(), time.process_time()
    n = 0
    with tifffile.TiffFile(f"{d}/bench_movie_{frames}.tif") as tif:
        for page in tif.pages:
            frame_pipeline(page.asarray())
            n += 1
    movie_s = time.perf_counter() - t
    movie_cpu_s = time.process_time() - cpu
    t = time.perf_counter()
    m = 0
    with tifffile.TiffFile(f"{d}/bench_hrtem.tif") as tif:
        for page in tif.pages:
            crystallinity(page.asarray().astype(np.float64))
            m += 1
    fft_s = time.perf_counter() - t
    print(json.dumps({"background": "binned" if BINNED else "full", "frames": n,
                      "movie_s": round(movie_s, 3),
                      "movie_ms_per_frame": round(1e3 * movie_s / n, 2),
                      "movie_cpu_ms_per_frame": round(1e3 * movie_cpu_s / n, 2),
                      "fft_frames": m, "fft_ms_per_frame": round(1e3 * fft_s / m, 2)}))


if __name__ == "__main__":
    main()
