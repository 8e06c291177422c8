#!/usr/bin/python3
"""Reference for the prepare benchmark: the same log-mel features as
`sonodream prepare` (16 kHz, 4 s, n_fft 1024, hop 512, centred zero padding,
periodic Hann, 128 Slaney mels, 10*log10(max(p, 1e-10))), in numpy/scipy, on
the same worker count, for every clip of an UrbanSound8K-layout folder.

usage: prepare_reference.py ROOT JOBS [OUT.npy]
Prints "clips N seconds S" on stdout. Needs python3-numpy and python3-scipy.
"""
import csv
import os
import sys
import time
from multiprocessing import Pool

import numpy as np
import scipy.io.wavfile
import scipy.signal

SR, SECONDS, NFFT, HOP, NMELS = 16000, 4.0, 1024, 512, 128


def hz_to_mel(f):
    f = np.asarray(f, dtype=np.float64)
    mel = 3.0 * f / 200.0
    log = f >= 1000.0
    mel = np.where(log, 15.0 + np.log(np.maximum(f, 1e-9) / 1000.0) / (np.log(6.4) / 27.0), mel)
    return mel


def mel_to_hz(m):
    m = np.asarray(m, dtype=np.float64)
    f = 200.0 * m / 3.0
    return np.where(m >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0)), f)


def mel_filterbank():
    fft_freqs = np.linspace(0, SR / 2, 1 + NFFT // 2)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(SR / 2), NMELS + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2:NMELS + 2] - mel_f[:NMELS]))[:, None]
    return weights


FB = mel_filterbank()
WINDOW = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(NFFT) / NFFT)


def features(path):
    rate, x = scipy.io.wavfile.read(path)
    if x.dtype.kind == "i":
        x = x.astype(np.float32) / float(np.iinfo(x.dtype).max + 1)
    elif x.dtype.kind == "u":
        x = (x.astype(np.float32) - 128.0) / 128.0
    if x.ndim == 2:
        x = x.mean(axis=1)
    if rate != SR:
        g = np.gcd(rate, SR)
        x = scipy.signal.resample_poly(x, SR // g, rate // g)
    n = int(round(SECONDS * SR))
    x = np.pad(x[:n], (0, max(0, n - len(x))))
    x = np.pad(x, NFFT // 2)
    frames = 1 + (len(x) - NFFT) // HOP
    idx = np.arange(NFFT)[None, :] + HOP * np.arange(frames)[:, None]
    spec = np.abs(np.fft.rfft(x[idx] * WINDOW, axis=1)) ** 2
    return (10 * np.log10(np.maximum(FB @ spec.T, 1e-10))).astype(np.float32)


def main():
    root, jobs = sys.argv[1], int(sys.argv[2])
    with open(os.path.join(root, "metadata", "UrbanSound8K.csv")) as f:
        rows = list(csv.DictReader(f))
    paths = [os.path.join(root, "audio", "fold" + r["fold"], r["slice_file_name"]) for r in rows]
    start = time.perf_counter()
    with Pool(jobs) as pool:
        out = pool.map(features, paths, chunksize=8)
    seconds = time.perf_counter() - start
    if len(sys.argv) > 3:
        np.save(sys.argv[3], np.stack(out))
    print(f"clips {len(out)} seconds {seconds:.3f}")


if __name__ == "__main__":
    main()
