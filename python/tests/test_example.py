"""write_wav round trips through the library's decoder, and
examples/python/dream.py runs and writes what it says."""
import os
import subprocess
import sys

import numpy as np
import pytest

import sonodream
from conftest import EXAMPLES, SOURCE


def test_write_wav_round_trips(stereo_wav, tmp_path):
    audio, rate = sonodream.read_audio(stereo_wav)
    # Values between 16-bit levels: only a float file keeps them.
    noisy = audio + np.float32(1e-6) * (np.arange(len(audio)) % 3).astype(np.float32)[:, None]
    assert not np.array_equal(noisy * 32768, np.round(noisy * 32768))
    sonodream.write_wav(tmp_path / "float.wav", noisy, rate)
    back, back_rate = sonodream.read_audio(tmp_path / "float.wav")
    assert back_rate == rate and np.array_equal(back, noisy)
    sonodream.write_wav(tmp_path / "pcm16.wav", audio, rate, encoding="pcm16")
    assert np.array_equal(sonodream.read_audio(tmp_path / "pcm16.wav")[0], audio)  # 16-bit in, 16-bit out
    mono = audio[:, 0].copy()
    sonodream.write_wav(tmp_path / "mono.wav", mono, rate)
    assert np.array_equal(sonodream.read_audio(tmp_path / "mono.wav")[0], mono)


def test_write_wav_refuses_bad_samples_and_leaves_nothing(tmp_path):
    bad = np.zeros(1000, dtype=np.float32)
    bad[500] = np.nan
    with pytest.raises(sonodream.Error, match="NaN"):
        sonodream.write_wav(tmp_path / "nan.wav", bad, 16000)
    assert os.listdir(tmp_path) == []
    with pytest.raises(sonodream.Error, match="no-such-folder"):
        sonodream.write_wav(tmp_path / "no-such-folder" / "x.wav", np.zeros(10, np.float32), 16000)
    with pytest.raises(sonodream.Error, match="encoding 'mp3'"):
        sonodream.write_wav(tmp_path / "x.wav", np.zeros(10, np.float32), 16000, encoding="mp3")


def test_the_example_dreams_and_writes_the_wav(tmp_path):
    out = tmp_path / "dream.wav"
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "2"))
    done = subprocess.run([sys.executable, os.path.join(SOURCE, "examples", "python", "dream.py"), EXAMPLES[1],
                           "-o", str(out), "--cls", "siren", "--octaves", "1", "--iterations", "2"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"wrote {out}: the logit of class siren" in done.stdout
    dream, rate = sonodream.read_audio(out)
    audio, audio_rate = sonodream.read_audio(EXAMPLES[1])
    assert rate == audio_rate and dream.shape == audio.shape and not np.array_equal(dream, audio)


def test_the_readme_example_runs_as_written(tmp_path):
    with open(os.path.join(SOURCE, "README.md")) as f:
        readme = f.read()
    section = readme[readme.index("### From Python"):]
    code = section[section.index("```python\n") + len("```python\n"):section.index("```\n", 10)]
    assert len(code.strip().splitlines()) == 5 and "model.dream(" in code
    for folder in ("models", "examples"):
        os.symlink(os.path.join(SOURCE, folder), tmp_path / folder)
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "2"))
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    dream, rate = sonodream.read_audio(tmp_path / "dog-siren.wav")
    assert rate == 16000 and dream.shape == (64000,)
    model = sonodream.load_model(os.path.join(SOURCE, "models", "us8k-seed.model"))
    assert model.classify(dream, rate, top=1)[0][0] == "siren"
