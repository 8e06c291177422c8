"""Textures and styles judged by statistics the objective never saw, and by
an independent listener.

usage: build/venv/bin/python bench/texture_stats.py MODEL LISTENER FOLD_DIR [--clips N] [--pairs N]

Texture statistics (McDermott & Simoncelli 2011, "Sound texture perception
via statistics of the auditory periphery"), computed here with numpy and
scipy, not with the network: 30 bands equally spaced on the ERB scale from
50 Hz to 7.8 kHz (half-cosine filters in the frequency domain, as their
toolbox), each band's Hilbert envelope compressed by ^0.3 and taken at
400 Hz; per band the envelope's mean, coefficient of variation, skewness
and kurtosis, and the correlations between the bands' envelopes. (Their
modulation-band statistics are left out.) The distance between two sounds
is the mean over the five groups of the RMS difference of the group,
each group divided by its RMS spread over 24 clips of the fold.

For each of N clips of FOLD_DIR (stationary classes: air conditioner,
children playing, drilling, engine idling, jackhammer, street music), the
texture is made from the clip's first half (`Model.texture`, the defaults,
as long as that half); then the distance of
  - the texture to the first half (what it was made from),
  - the start alone (noise with the example's colour: where the texture
    begins; shows what the network's ascent adds),
  - the second half (the floor: another excerpt of the same sound),
  - the first halves of the other clips (the ceiling: unrelated sounds).

Styles: PAIRS content/style pairs of different classes from the fold
(`Model.style`, the defaults): the listener's P(style's class) before and
after, the share where it rose, the statistics' distance of content,
output and style (the output should be closer to the style than the
content is, by at least half the way), and the onset-envelope correlation
of output and content (content kept).
"""
import argparse
import glob
import os

import numpy as np
from scipy import signal, stats

import sonodream

STATIONARY = {0, 2, 4, 5, 7, 9}


def erb_space(low, high, n):
    erb = lambda f: 21.4 * np.log10(1 + 0.00437 * f)
    inv = lambda e: (10 ** (e / 21.4) - 1) / 0.00437
    return inv(np.linspace(erb(low), erb(high), n + 2))


def texture_statistics(x, rate, bands=30):
    """Per band envelope mean, CV, skew, kurtosis; cross-band correlations."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 2:
        x = x.mean(axis=1)
    n = len(x)
    spectrum = np.fft.rfft(x)
    freqs = np.fft.rfftfreq(n, 1 / rate)
    edges = erb_space(50, min(7800, rate / 2 - 100), bands)
    env = []
    erb = lambda f: 21.4 * np.log10(1 + 0.00437 * f)
    for b in range(bands):
        lo, mid, hi = edges[b], edges[b + 1], edges[b + 2]
        e, elo, ehi = erb(np.maximum(freqs, 1e-9)), erb(lo), erb(hi)
        inside = (freqs > lo) & (freqs < hi)
        gain = np.zeros_like(freqs)
        gain[inside] = np.cos((e[inside] - (elo + ehi) / 2) / (ehi - elo) * np.pi)
        band = np.fft.irfft(spectrum * gain, n)
        envelope = np.abs(signal.hilbert(band)) ** 0.3
        env.append(signal.resample_poly(envelope, 400, rate))
    env = np.array(env)
    mean = env.mean(axis=1) + 1e-12
    groups = {
        "mean": np.log(mean),
        "cv": env.std(axis=1) / mean,
        "skew": stats.skew(env, axis=1),
        "kurtosis": np.log(stats.kurtosis(env, axis=1, fisher=False)),
        "correlation": np.corrcoef(env)[np.triu_indices(bands, 1)],
    }
    return {k: np.nan_to_num(v) for k, v in groups.items()}


def distance(a, b, spread):
    return float(np.mean([np.sqrt(np.mean((a[k] - b[k]) ** 2)) / spread[k] for k in a]))


def spread_of(all_stats):
    return {k: float(np.sqrt(np.mean(np.var([s[k] for s in all_stats], axis=0)))) + 1e-12 for k in all_stats[0]}


def onset_envelope(x, rate):
    x = x.mean(axis=1) if x.ndim == 2 else x
    f, t, z = signal.stft(x, rate, nperseg=1024, noverlap=768)
    flux = np.maximum(np.diff(np.log(np.abs(z) + 1e-6), axis=1), 0).sum(axis=0)
    return flux


def label(path):
    return int(os.path.basename(path).split("-")[1])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("listener")
    p.add_argument("fold")
    p.add_argument("--clips", type=int, default=12)
    p.add_argument("--pairs", type=int, default=20)
    p.add_argument("--style-weight", type=float, default=None)
    a = p.parse_args()
    model, listener = sonodream.load_model(a.model), sonodream.load_model(a.listener)
    files = sorted(glob.glob(os.path.join(a.fold, "*.wav")))
    clips = []
    for path in files:
        audio, rate = sonodream.read_audio(path)
        if label(path) in STATIONARY and len(audio) >= 4 * rate - 1:
            clips.append((path, audio, rate))
    clips = clips[:: max(1, len(clips) // max(1, a.clips))][: a.clips]

    rows = []
    for path, audio, rate in clips:
        half = len(audio) // 2
        first, second = audio[:half], audio[half:2 * half]
        texture, _, rep = model.texture(first, rate, spectrograms=False)
        start, _, _ = model.texture(first, rate, iterations=1, step=1e-6, step_final=0, settle=0,
                                    spectrograms=False)
        rows.append(dict(path=path, rate=rate, first=first, second=second, texture=texture, start=start,
                         gram=(rep["objective_before"], rep["objective_after"])))
    for r in rows:
        for key in ("first", "second", "texture", "start"):
            r[key + "_stats"] = texture_statistics(r[key], r["rate"])
    # Each group's spread over a fixed sample of the fold: distances from
    # different runs are comparable.
    spread = spread_of([texture_statistics(*sonodream.read_audio(f)) for f in files[:: max(1, len(files) // 24)]])
    texture_d, start_d, floor_d, ceiling_d = [], [], [], []
    for i, r in enumerate(rows):
        texture_d.append(distance(r["texture_stats"], r["first_stats"], spread))
        start_d.append(distance(r["start_stats"], r["first_stats"], spread))
        floor_d.append(distance(r["second_stats"], r["first_stats"], spread))
        ceiling_d.append(np.mean([distance(o["first_stats"], r["first_stats"], spread)
                                  for j, o in enumerate(rows) if j != i]))
        print(f"{os.path.basename(r['path'])}: Gram {r['gram'][0]:.3f} -> {r['gram'][1]:.3f}; distance texture "
              f"{texture_d[-1]:.3f}, start {start_d[-1]:.3f}, floor {floor_d[-1]:.3f}, ceiling {ceiling_d[-1]:.3f}")
    within = sum(t <= 2 * f for t, f in zip(texture_d, floor_d))
    if rows:
        print(f"textures ({len(rows)} clips): distance to the example {np.mean(texture_d):.3f} (start alone "
          f"{np.mean(start_d):.3f}); floor {np.mean(floor_d):.3f}, ceiling {np.mean(ceiling_d):.3f}; "
          f"within 2x the floor: {within}/{len(rows)}; closer than the start: "
          f"{sum(t < s for t, s in zip(texture_d, start_d))}/{len(rows)}")

    # Styles: pairs of different classes.
    rng = np.random.default_rng(3)
    by_file = [(path, *sonodream.read_audio(path)) for path in files[:: max(1, len(files) // (4 * a.pairs))]]
    rose, half_way, onsets, before_p, after_p = 0, 0, [], [], []
    count = 0
    for k in range(a.pairs):
        ci, si = rng.choice(len(by_file), 2, replace=False)
        (cpath, content, crate), (spath, style, srate) = by_file[ci], by_file[si]
        if label(cpath) == label(spath) or len(style) < 4 * srate - 1 or len(content) < srate:
            continue
        target = listener.classes[label(spath)]
        styled, _, _ = model.style(content, crate, style, srate, style_weight=a.style_weight, spectrograms=False)
        p0 = dict(listener.classify(content, crate, top=None))[target]
        p1 = dict(listener.classify(styled, crate, top=None))[target]
        rose += p1 > p0
        before_p.append(p0), after_p.append(p1)
        sc, so, ss = (texture_statistics(v, r) for v, r in ((content, crate), (styled, crate), (style, srate)))
        d_content, d_output = distance(sc, ss, spread), distance(so, ss, spread)
        half_way += d_output <= 0.5 * d_content
        oc, oo = onset_envelope(content, crate), onset_envelope(styled, crate)
        onsets.append(float(np.corrcoef(oc, oo)[0, 1]))
        count += 1
        print(f"style {os.path.basename(cpath)} <- {os.path.basename(spath)} ({target}): listener P {p0:.3f} -> "
              f"{p1:.3f}; statistics' distance to the style {d_content:.3f} -> {d_output:.3f}; onsets r "
              f"{onsets[-1]:.3f}")
    print(f"styles ({count} pairs): listener P(style's class) {np.mean(before_p):.3f} -> {np.mean(after_p):.3f}, "
          f"rose on {rose}/{count}; at least half the way to the style's statistics: {half_way}/{count}; "
          f"onset envelope correlation with the content {np.mean(onsets):.3f} (min {np.min(onsets):.3f})")


if __name__ == "__main__":
    main()
