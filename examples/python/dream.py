#!/usr/bin/env python3
"""Dream an example clip with the shipped model, from Python.

    make python
    build/venv/bin/python examples/python/dream.py                  # dog bark, layer conv3
    build/venv/bin/python examples/python/dream.py --cls siren -o dog-siren.wav

Writes the dream as a 32-bit float WAV (the recording's rate, channels and
length) and, when matplotlib is installed, a picture of both spectrograms
beside it (OUT.png).
"""
import argparse
import os
import sys

import sonodream

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKOUT = os.path.dirname(os.path.dirname(HERE))


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("input", nargs="?", default=os.path.join(CHECKOUT, "examples", "dog_bark-100652-3-0-0.flac"))
    p.add_argument("-o", "--output", default="dream.wav")
    p.add_argument("--model", default=os.path.join(CHECKOUT, "models", "us8k-seed.model"))
    p.add_argument("--layer", help="layer to amplify (default: the middle convolution)")
    p.add_argument("--channel", type=int, help="one channel of that layer")
    p.add_argument("--cls", help="a class to dream toward (its logit)")
    p.add_argument("--octaves", type=int, default=4)
    p.add_argument("--iterations", type=int, default=10)
    p.add_argument("--seed", type=int, default=1)
    return p.parse_args()


def show_progress(step, total, objective):
    print(f"\rstep {step}/{total}  objective {objective:.4g}", end="", file=sys.stderr, flush=True)


def plot(report, path):
    """Input and dream spectrograms side by side, 80 dB of colour as the CLI's."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no picture", file=sys.stderr)
        return
    top = float(max(report["input_db"].max(), report["output_db"].max()))
    fig, axes = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
    for ax, key, title in zip(axes, ("input_db", "output_db"), ("input", "dream")):
        image = ax.imshow(report[key], origin="lower", aspect="auto", vmin=top - 80, vmax=top, cmap="magma")
        ax.set_title(title)
        ax.set_xlabel("frame")
    axes[0].set_ylabel("mel band")
    fig.colorbar(image, ax=axes, label="dB")
    fig.savefig(path, dpi=100)
    print(f"wrote {path}")


def main():
    args = parse_args()
    model = sonodream.load_model(args.model)
    audio, rate = sonodream.read_audio(args.input)
    print(f"{args.input}: {audio.shape[0] / rate:.2f} s at {rate} Hz; the model hears "
          + ", ".join(f"{name} {p:.0%}" for name, p in model.classify(audio, rate, top=3)))
    try:
        dream, rate, report = model.dream(audio, rate, layer=args.layer, channel=args.channel, cls=args.cls,
                                          octaves=args.octaves, iterations=args.iterations, seed=args.seed,
                                          progress=show_progress)
    except KeyboardInterrupt:
        print("\ninterrupted: nothing written", file=sys.stderr)
        return 130
    print(file=sys.stderr)
    sonodream.write_wav(args.output, dream, rate)
    what = (f"the logit of class {report['class']}" if report['class'] else
            f"channel {report['channel']} of {report['layer']}" if report['channel'] is not None else
            f"the mean squared activation of {report['layer']}")
    print(f"wrote {args.output}: {what}: {report['objective_before']:.4g} -> {report['objective_after']:.4g}, "
          f"mean change {report['mean_change_db']:.2f} dB")
    print("afterwards the model hears " + ", ".join(f"{name} {p:.0%}" for name, p in model.classify(dream, rate, top=3)))
    plot(report, os.path.splitext(args.output)[0] + ".png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
