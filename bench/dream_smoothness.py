"""How smooth a model's dreams are: the share of the log-mel change's energy
at high modulation frequencies (fine ripples along time or frequency, the
texture an adversarial gradient draws), for layer dreams of the same clips
by several models with the same request. Smaller is smoother.

usage: build/venv/bin/python bench/dream_smoothness.py MODEL... [--clips A.wav,B.flac] [--layer NAME]

For each clip and model: dream the default request at the layer (the
model's default layer when not given), take the change dream_db - input_db
(n_mels, frames), and its 2-D power spectrum; "high" is every modulation
frequency above a quarter of the Nyquist rate on either axis. The step
normalises every dream to the same mean change per step, so the dreams
have comparable size; the share is of each change's own energy.
"""
import argparse
import glob
import os

import numpy as np

import sonodream


def high_modulation_share(change):
    change = change - change.mean()
    power = np.abs(np.fft.fft2(change)) ** 2
    rows, cols = change.shape
    fr = np.abs(np.fft.fftfreq(rows))[:, None]
    fc = np.abs(np.fft.fftfreq(cols))[None, :]
    high = (fr > 0.125) | (fc > 0.125)
    total = power.sum()
    return float(power[high].sum() / total) if total > 0 else 0.0


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser()
    parser.add_argument("models", nargs="+")
    parser.add_argument("--clips", default=",".join(sorted(glob.glob(os.path.join(root, "examples", "*.flac")))))
    parser.add_argument("--layer", default=None)
    args = parser.parse_args()
    clips = [c for c in args.clips.split(",") if c]
    for path in args.models:
        model = sonodream.load_model(path)
        shares, changes = [], []
        for clip in clips:
            audio, rate = sonodream.read_audio(clip)
            _, _, report = model.dream(audio, rate, layer=args.layer)
            change = report["dream_db"] - report["input_db"]
            shares.append(high_modulation_share(change))
            changes.append(report["mean_change_db"])
        print(f"{path}: layer {report['layer']}, {len(clips)} clips: high-modulation share of the change "
              f"{np.mean(shares):.3f} (per clip {', '.join(f'{s:.3f}' for s in shares)}); "
              f"mean change {np.mean(changes):.2f} dB")


if __name__ == "__main__":
    main()
