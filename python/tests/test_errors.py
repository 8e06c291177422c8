"""Failures raise sonodream.Error with the library's message (the one the
program prints after 'sonodream: '), and bad arguments are refused before
they reach the library."""
import logging
import threading

import numpy as np
import pytest

import sonodream
from conftest import EXAMPLES, MODEL, run_cli


def cli_message(*args):
    """What the program prints for a failure, less its 'sonodream: ' prefix."""
    done = run_cli(*args, check=False)
    assert done.returncode != 0
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith("sonodream: ")
    return line[len("sonodream: "):]


def test_missing_files(tmp_path):
    missing = str(tmp_path / "missing.wav")
    with pytest.raises(sonodream.Error) as e:
        sonodream.read_audio(missing)
    assert str(e.value) == cli_message("classify", MODEL, missing)
    assert missing in str(e.value) and e.value.status == "I/O error"
    with pytest.raises(sonodream.Error, match="missing.model"):
        sonodream.load_model(tmp_path / "missing.model")
    with pytest.raises(sonodream.Error, match="missing.safetensors"):
        sonodream.load_features(tmp_path / "missing.safetensors")


def test_corrupt_files(tmp_path):
    with open(MODEL, "rb") as f:
        head = f.read(1000)
    truncated = tmp_path / "truncated.model"
    truncated.write_bytes(head)
    with pytest.raises(sonodream.Error) as e:
        sonodream.load_model(truncated)
    assert str(e.value) == cli_message("classify", truncated, EXAMPLES[0])
    assert e.value.status == "bad format"
    not_audio = tmp_path / "text.wav"
    not_audio.write_text("hello\n")
    with pytest.raises(sonodream.Error) as e:
        sonodream.read_audio(not_audio)
    assert str(e.value) == cli_message("classify", MODEL, not_audio)
    # A model is not a feature file.
    with pytest.raises(sonodream.Error, match="us8k-seed.model"):
        sonodream.load_features(MODEL)


def test_bad_layer_class_and_channel(model, dog):
    audio, rate = dog
    with pytest.raises(sonodream.Error, match="has no layer 'conv9'; layers: conv1, conv2, pool1"):
        model.dream(audio, rate, layer="conv9")
    with pytest.raises(sonodream.Error, match="has no class 'cat'; classes: air_conditioner, car_horn"):
        model.dream(audio, rate, cls="cat")
    with pytest.raises(sonodream.Error, match="cannot be combined"):
        model.dream(audio, rate, layer="conv3", cls="siren")
    # Out of range: the library's own message.
    with pytest.raises(sonodream.Error, match="channel 64 is past layer conv4's 64 channels"):
        model.dream(audio, rate, layer="conv4", channel=64, iterations=1, octaves=1)
    with pytest.raises(sonodream.Error, match="octaves must be in 1"):
        model.dream(audio, rate, octaves=0)
    with pytest.raises(sonodream.Error, match="not a render"):
        model.dream(audio, rate, render="fast")
    with pytest.raises(sonodream.Error, match="unknown option 'iteration'"):
        model.dream(audio, rate, iteration=3)
    with pytest.raises(sonodream.Error, match="option seed must be in 0"):
        model.dream(audio, rate, seed=-1)


def test_bad_guides(model, dog, tmp_path):
    audio, rate = dog
    with pytest.raises(sonodream.Error, match="shorter than the model can hear"):
        model.dream(audio, rate, guide=(audio[:rate // 4], rate))
    missing = str(tmp_path / "missing.wav")
    with pytest.raises(sonodream.Error, match=missing):
        model.dream(audio, rate, guide=missing)
    with pytest.raises(sonodream.Error, match="cannot be combined"):
        model.dream(audio, rate, cls="siren", guide=(audio, rate))
    with pytest.raises(sonodream.Error, match=r"\(audio, sample_rate\) or a file path"):
        model.dream(audio, rate, guide=audio)


@pytest.mark.parametrize("audio,message", [
    (np.zeros(16000, dtype=np.float64), "must be float32, not float64"),
    (np.zeros(16000, dtype=np.int16), "must be float32, not int16"),
    (np.zeros((2, 3, 16000), dtype=np.float32), r"shape \(samples,\) or \(samples, channels\)"),
    (np.zeros(0, dtype=np.float32), "holds no samples"),
    (np.zeros((16000, 0), dtype=np.float32), "holds no samples"),
    ([0.0] * 16000, "must be a numpy array"),
])
def test_wrong_arrays(model, audio, message):
    for call in (model.classify, model.features, model.dream):
        with pytest.raises(sonodream.Error, match=message):
            call(audio, 16000)


def test_wrong_rates_and_arguments(model, dog):
    audio, _ = dog
    with pytest.raises(sonodream.Error, match="sample rate 0 Hz is out of range"):
        model.classify(audio, 0)
    with pytest.raises(sonodream.Error, match="sample_rate must be an integer"):
        model.classify(audio, 16000.5)
    with pytest.raises(sonodream.Error, match="top must be a positive integer"):
        model.classify(audio, 16000, top=0)


def test_non_contiguous_arrays_are_accepted(model, stereo_wav):
    audio, rate = sonodream.read_audio(stereo_wav)
    left_view = audio[:, 0]  # strided
    assert not left_view.flags.c_contiguous
    assert np.array_equal(model.features(left_view, rate), model.features(left_view.copy(), rate))


def test_a_closed_model_refuses_work(dog):
    audio, rate = dog
    with sonodream.load_model(MODEL) as m:
        assert m.classify(audio, rate, top=1)[0][0] == "dog_bark"
    with pytest.raises(sonodream.Error, match="closed"):
        m.classify(audio, rate)


def test_library_log_goes_to_python_logging(caplog):
    from sonodream._native import ffi, lib
    caplog.set_level(logging.DEBUG, logger="sonodream")
    lib.sono_log(lib.SONO_LOG_WARN, b"%s", ffi.new("char[]", b"hello from C"))
    thread = threading.Thread(target=lib.sono_log, args=(lib.SONO_LOG_INFO, b"%s %d",
                                                         ffi.new("char[]", b"from a thread"), ffi.cast("int", 7)))
    thread.start()
    thread.join()
    records = [(r.name, r.levelno, r.getMessage()) for r in caplog.records]
    assert ("sonodream", logging.WARNING, "hello from C") in records
    assert ("sonodream", logging.INFO, "from a thread 7") in records


def test_bad_textures(model, dog):
    audio, rate = dog
    with pytest.raises(sonodream.Error, match="shorter than the model can hear"):
        model.texture(audio[:rate // 4], rate)
    with pytest.raises(sonodream.Error, match="silent"):
        model.style(audio, rate, np.zeros_like(audio), rate)
    with pytest.raises(sonodream.Error, match="has no layer 'conv9'"):
        model.texture(audio, rate, layers=["conv9"])
    with pytest.raises(sonodream.Error, match="no positions"):
        model.texture(audio, rate, layers=["fc1"])
    with pytest.raises(sonodream.Error, match="style_weight must be"):
        model.style(audio, rate, audio, rate, style_weight=0)
