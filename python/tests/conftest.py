"""Shared fixtures: the checkout, the CLI built beside the library, the
shipped model and example clips, and a stereo 22.05 kHz recording made here
(so resampling and downmixing are exercised too)."""
import json
import math
import os
import subprocess
import wave

import numpy as np
import pytest

import sonodream

SOURCE = os.environ.get("SONO_SOURCE_DIR") or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.environ.get("SONO_BINARY") or os.path.join(SOURCE, "build", "sonodream")
MODEL = os.path.join(SOURCE, "models", "us8k-seed.model")
EXAMPLES = sorted(os.path.join(SOURCE, "examples", f) for f in os.listdir(os.path.join(SOURCE, "examples"))
                  if f.endswith(".flac"))


def run_cli(*args, check=True):
    """Run the sonodream program; returns the CompletedProcess (text)."""
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "2"))
    done = subprocess.run([BINARY, *map(str, args)], capture_output=True, text=True, env=env)
    if check and done.returncode != 0:
        raise AssertionError(f"sonodream {' '.join(map(str, args))} failed: {done.stderr}")
    return done


def cli_json(*args):
    return json.loads(run_cli(*args).stdout)


def write_stereo_wav(path, seconds=5.0, rate=22050):
    """A 16-bit stereo WAV: a rising tone left, a pulsed lower tone right,
    and a little deterministic noise (written with the standard library)."""
    n = int(seconds * rate)
    t = np.arange(n) / rate
    rng = np.random.default_rng(5)
    left = 0.3 * np.sin(2 * math.pi * (300 + 400 * t) * t) + 0.02 * rng.standard_normal(n)
    right = 0.25 * np.sin(2 * math.pi * 180 * t) * (np.sin(2 * math.pi * 3 * t) > 0) + 0.02 * rng.standard_normal(n)
    pcm = np.clip(np.stack([left, right], axis=1) * 32767, -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return path


@pytest.fixture(scope="session")
def model():
    return sonodream.load_model(MODEL)


@pytest.fixture(scope="session")
def stereo_wav(tmp_path_factory):
    return write_stereo_wav(tmp_path_factory.mktemp("audio") / "stereo-22050.wav")


@pytest.fixture(scope="session")
def dog():
    return sonodream.read_audio(EXAMPLES[0])
