#!/usr/bin/env python3
"""Golden log-mel values for tests/test_dsp.c.

An independent float64 numpy implementation of the features that src/dsp
computes, written from librosa's algorithms (librosa.stft with a periodic Hann
window and centred, padded frames; librosa.filters.mel with htk=False,
norm="slaney"; librosa.power_to_db with ref=1, amin=log_floor, top_db=None).
It needs numpy only (no librosa).

Regenerate (from the repository root; the output is deterministic):

    /usr/bin/python3 tools/golden_logmel.py

which writes tests/fixtures/golden_logmel.bin. Commit it with this script.

The signals are made here, rounded to float32 and stored in the file, so the
C test reads exactly the samples the expected values were computed from. Every
signal has a noise floor (uniform, from a small LCG, about 30 dB below the
tones): without it the bands far from a pure tone hold only window side lobes,
over 100 dB below the frame's peak, where a single-precision FFT's rounding
dominates; there a float32 implementation differs from this float64 reference
by up to ~0.25 dB, while with the floor the differences stay near 1e-4 dB.

File layout, all little-endian:
    magic      8 bytes  b"SONOGLM1"
    cases      u32
    per case:
      name     32 bytes, NUL-padded ASCII
      i32      sample_rate, n_fft, hop, n_mels, center (0/1), pad_mode (0 constant, 1 reflect)
      f64      fmin, fmax (Hz, resolved), power, log_floor
      i32      n_samples, frames
      f32      samples[n_samples]
      f32      logmel[n_mels][frames]   (mel band 0 first, frames along a row)
"""

import os
import struct
import sys

import numpy as np

SR = 16000
MAGIC = b"SONOGLM1"
OUTPUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures",
                      "golden_logmel.bin")


# ---- signals ----

def lcg_uniform(count, seed):
    """Uniform values in [-1, 1) from a 64-bit LCG (Knuth's MMIX constants), top 24 bits."""
    out = np.empty(count)
    state = seed & 0xFFFFFFFFFFFFFFFF
    for i in range(count):
        state = (state * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFFFFFF
        out[i] = (state >> 40) / float(1 << 24) * 2.0 - 1.0
    return out


def seconds_axis(n):
    return np.arange(n) / SR


def sine_440(n):
    return 0.5 * np.sin(2 * np.pi * 440.0 * seconds_axis(n)) + 0.03 * lcg_uniform(n, 1)


def linear_chirp(n, f0=100.0, f1=7000.0):
    """Instantaneous frequency rising linearly from f0 to f1 over the n samples."""
    t = seconds_axis(n)
    duration = n / SR
    phase = 2 * np.pi * (f0 * t + 0.5 * (f1 - f0) / duration * t * t)
    return 0.5 * np.sin(phase) + 0.03 * lcg_uniform(n, 2)


def mixture(n):
    t = seconds_axis(n)
    tones = [(220.0, 0.3), (1250.0, 0.2), (3300.0, 0.1), (5100.0, 0.05)]
    y = sum(a * np.sin(2 * np.pi * f * t + f / 1000.0) for f, a in tones)
    return y + 0.05 * lcg_uniform(n, 3)


# ---- features (float64), after librosa ----

def hz_to_mel(hz):
    """Slaney: 3 * hz / 200 below 1 kHz, then 27 mel per factor 6.4 (librosa htk=False)."""
    hz = np.asarray(hz, dtype=np.float64)
    linear = hz * 3.0 / 200.0
    with np.errstate(divide="ignore"):
        logarithmic = 15.0 + np.log(np.maximum(hz, 1e-300) / 1000.0) * 27.0 / np.log(6.4)
    return np.where(hz >= 1000.0, logarithmic, linear)


def mel_to_hz(mel):
    mel = np.asarray(mel, dtype=np.float64)
    linear = mel * 200.0 / 3.0
    logarithmic = 1000.0 * np.exp((mel - 15.0) * np.log(6.4) / 27.0)
    return np.where(mel >= 15.0, logarithmic, linear)


def mel_filterbank(sr, n_fft, n_mels, fmin, fmax):
    """librosa.filters.mel(norm="slaney"): triangles between mel-spaced edges, area-normalised."""
    fft_freqs = np.linspace(0.0, sr / 2.0, 1 + n_fft // 2)
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - fft_freqs[None, :]
    weights = np.zeros((n_mels, 1 + n_fft // 2))
    for i in range(n_mels):
        lower = -ramps[i] / widths[i]
        upper = ramps[i + 2] / widths[i + 1]
        weights[i] = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (edges[2:n_mels + 2] - edges[:n_mels]))[:, None]
    return weights


def periodic_hann(n):
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)


def stft_power(y, n_fft, hop, center, pad_mode, power):
    """|rfft(window * frame)|^power, (frames, bins); centred frames padded by n_fft // 2."""
    if center:
        y = np.pad(y, n_fft // 2, mode=pad_mode)
    frames = 1 + (len(y) - n_fft) // hop
    index = np.arange(n_fft)[None, :] + hop * np.arange(frames)[:, None]
    spectrum = np.fft.rfft(y[index] * periodic_hann(n_fft)[None, :], axis=1)
    return np.abs(spectrum) ** power


def log_mel(y, case):
    fmax = case["fmax"] if case["fmax"] > 0 else case["sample_rate"] / 2.0
    power = stft_power(y, case["n_fft"], case["hop"], case["center"], case["pad_mode"], case["power"])
    fb = mel_filterbank(case["sample_rate"], case["n_fft"], case["n_mels"], case["fmin"], fmax)
    mel = fb @ power.T  # (n_mels, frames)
    return 10.0 * np.log10(np.maximum(mel, case["log_floor"])), fmax


# ---- cases ----

def default_case(name, signal):
    return dict(name=name, signal=signal, sample_rate=SR, n_fft=1024, hop=512, n_mels=128,
                center=True, pad_mode="constant", fmin=0.0, fmax=0.0, power=2.0, log_floor=1e-10)


def cases():
    one_second = SR
    yield default_case("sine440", sine_440(one_second))
    yield default_case("chirp_100_7000", linear_chirp(one_second))
    yield default_case("mixture", mixture(one_second))
    yield dict(default_case("mixture_mels40_reflect", mixture(one_second)),
               n_mels=40, fmin=50.0, fmax=6000.0, pad_mode="reflect")
    # Shorter than the padding: numpy reflects again and again.
    yield dict(default_case("short300_reflect", linear_chirp(300, 200.0, 3000.0)), pad_mode="reflect")
    # 25 ms / 10 ms frames: an FFT size that is not a power of two.
    yield dict(default_case("chirp_nfft400_hop160", linear_chirp(one_second)), n_fft=400, hop=160, n_mels=64)


def pack_case(case):
    samples = case["signal"].astype("<f4")
    values, fmax = log_mel(samples.astype(np.float64), case)
    n_mels, frames = values.shape
    name = case["name"].encode("ascii")
    assert len(name) < 32
    header = struct.pack("<32s6i4d2i", name, case["sample_rate"], case["n_fft"], case["hop"], n_mels,
                         1 if case["center"] else 0, 1 if case["pad_mode"] == "reflect" else 0,
                         case["fmin"], fmax, case["power"], case["log_floor"], len(samples), frames)
    return header + samples.tobytes() + values.astype("<f4").tobytes()


def main():
    all_cases = list(cases())
    blob = MAGIC + struct.pack("<I", len(all_cases)) + b"".join(pack_case(c) for c in all_cases)
    with open(OUTPUT, "wb") as f:
        f.write(blob)
    print(f"wrote {os.path.normpath(OUTPUT)}: {len(all_cases)} cases, {len(blob)} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
