"""The package gives the program's results: classify probabilities within
1e-6, features bit for bit (against `sonodream prepare`), dreams bit for bit
(against `sonodream dream`'s float WAV)."""
import json
import math
import os
import shutil

import numpy as np
import pytest

import sonodream
from conftest import EXAMPLES, MODEL, SOURCE, cli_json, run_cli

ROBUST_MODEL = os.path.join(SOURCE, "models", "us8k-robust.model")


def model_metadata():
    return cli_json("info", "--json", MODEL)["metadata"]


def test_model_describes_itself_as_the_cli_does(model):
    layers = cli_json("layers", "--json", MODEL)
    assert model.layers == [(layer["name"], layer["channels"]) for layer in layers["layers"]]
    assert model.default_layer == layers["default_layer"]
    assert (model.n_mels, model.frames) == tuple(layers["input_shape"][1:])
    meta = model_metadata()
    assert model.classes == meta["classes"]
    assert model.feature_config == meta["feature_config"]
    assert model.sample_rate == meta["feature_config"]["sample_rate"]


def test_read_audio_decodes_as_stored(stereo_wav):
    audio, rate = sonodream.read_audio(stereo_wav)
    assert rate == 22050 and audio.shape == (5 * 22050, 2) and audio.dtype == np.float32
    # 16-bit PCM comes back as k / 32768, exactly.
    assert np.array_equal(audio * 32768, np.round(audio * 32768))
    mono, rate = sonodream.read_audio(EXAMPLES[0])
    assert mono.shape == (64000,) and rate == 16000
    assert sonodream.read_audio(EXAMPLES[0], always_2d=True)[0].shape == (64000, 1)


def test_classify_equals_the_cli(model, stereo_wav):
    files = EXAMPLES + [str(stereo_wav)]
    cli = cli_json("classify", "--json", "--top", "10", MODEL, *files)["files"]
    for path, expected in zip(files, cli):
        audio, rate = sonodream.read_audio(path)
        got = model.classify(audio, rate, top=10)
        assert [name for name, _ in got] == [e["class"] for e in expected["top"]], path
        for (name, p), e in zip(got, expected["top"]):
            assert abs(p - e["probability"]) <= 1e-6, (path, name, p, e["probability"])
    # top: the first k of the ranking
    audio, rate = sonodream.read_audio(EXAMPLES[0])
    assert model.classify(audio, rate, top=3) == model.classify(audio, rate, top=None)[:3]
    assert model.classify(audio, rate)[0][0] == "dog_bark"


def test_features_equal_prepare_bit_for_bit(model, stereo_wav, tmp_path):
    # A class-folder dataset of the examples and the stereo 22.05 kHz file,
    # prepared by the program at the model's configuration (the defaults).
    root = tmp_path / "data"
    for path in EXAMPLES + [str(stereo_wav)]:
        name = os.path.basename(path)
        label = name.split("-")[0]
        (root / label).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, root / label / name)
    out = tmp_path / "features.safetensors"
    run_cli("prepare", root, "-o", out, "--jobs", "1")
    data = sonodream.load_features(out)
    assert data["feature_config"] == model.feature_config
    assert data["features"].shape == (5, 128, 126) and data["features"].dtype == np.float32
    assert data["layout"] == "class-folders"
    assert sorted(data["classes"]) == data["classes"] and "stereo" in data["classes"]
    for i, source in enumerate(data["sources"]):
        audio, rate = sonodream.read_audio(source)
        # prepare reads ceil(seconds * rate) frames, then resamples and pads
        # to the model's length: the same here, through Model.features.
        clip = audio[: math.ceil(model.feature_config["seconds"] * rate)]
        features = model.features(clip, rate, standardize=False)
        assert features.shape == (128, 126)
        assert np.array_equal(features, data["features"][i]), source
        assert data["classes"][data["labels"][i]] == os.path.basename(os.path.dirname(source))


def test_standardised_features_are_the_networks_input(model, dog):
    audio, rate = dog
    raw = model.features(audio, rate, standardize=False)
    meta = model_metadata()
    mean = np.array(meta["norm_mean"], dtype=np.float32)[:, None]
    inv_std = (np.float32(1) / np.array(meta["norm_std"], dtype=np.float32))[:, None]
    # x = (dB - mean[band]) / std[band], with the model file's statistics.
    assert np.array_equal(model.features(audio, rate), (raw - mean) * inv_std)


DREAMS = [
    # (input, CLI options, Python keyword arguments)
    (0, ["--layer", "conv4", "--seed", "7"], dict(layer="conv4", seed=7)),
    ("stereo", ["--class", "siren", "--seed", "3"], dict(cls="siren", seed=3)),
    (2, ["--layer", "conv5", "--channel", "17", "--render", "mask"], dict(layer="conv5", channel=17, render="mask")),
    # An ensemble (with the robust model shipped beside it) and the
    # transformation-robust steps.
    (1, ["--class", "dog_bark", "--ensemble", ROBUST_MODEL, "--shift-bands", "2", "--gain-jitter", "2", "--noise-jitter", "1"],
     dict(cls="dog_bark", ensemble=ROBUST_MODEL, shift_bands=2, gain_jitter=2, noise_jitter=1)),
    # Toward another recording, matched on the same rows (a file read by the library).
    (0, ["--layer", "conv4", "--guide", EXAMPLES[2], "--guide-any-row", "--render", "wave"],
     dict(layer="conv4", guide=EXAMPLES[2], guide_same_row=False, render="wave")),
    (1, ["--guide", EXAMPLES[0]], dict(guide=EXAMPLES[0])),
]


@pytest.mark.parametrize("which,cli_options,kwargs", DREAMS)
def test_dream_equals_the_cli_bit_for_bit(model, stereo_wav, tmp_path, which, cli_options, kwargs):
    source = str(stereo_wav) if which == "stereo" else EXAMPLES[which]
    out = tmp_path / "dream.wav"
    run_cli("dream", MODEL, source, "-o", out, "-q", "--iterations", "2", "--octaves", "1", *cli_options)
    expected, expected_rate = sonodream.read_audio(out)
    with open(tmp_path / "dream.json") as f:
        expected_report = json.load(f)
    audio, rate = sonodream.read_audio(source)
    if "ensemble" in kwargs:
        kwargs = dict(kwargs, ensemble=[sonodream.load_model(kwargs["ensemble"])])
    steps = []
    dreamed, dreamed_rate, report = model.dream(audio, rate, iterations=2, octaves=1,
                                                progress=lambda s, t, o: steps.append((s, t, o)), **kwargs)
    assert dreamed_rate == expected_rate == rate
    assert dreamed.shape == expected.shape == audio.shape
    assert dreamed.dtype == np.float32
    assert np.array_equal(dreamed, expected)
    assert not np.array_equal(dreamed, audio)
    for key in ("objective", "layer", "channel", "class", "render", "stereo", "octaves", "iterations", "seed",
                "sample_rate", "channels", "samples", "frames", "segments", "windows", "settle_steps", "headroom_db", "smooth", "step",
                "shift_bands", "gain_jitter_db", "noise_jitter_db", "ensemble", "guide", "guide_same_row"):
        assert report[key] == expected_report[key], key
    for key in ("objective_before", "objective_after", "mean_change_db", "consistency_db"):
        assert math.isclose(report[key], expected_report[key], rel_tol=1e-12, abs_tol=1e-15), key
    assert np.allclose(report["objective_per_step"], expected_report["objective_per_step"], rtol=1e-12)
    # 1 octave x 2 iterations, then the mask render's settle steps on the samples.
    total = 2 + expected_report["settle_steps"]
    assert expected_report["settle_steps"] == (5 if report["render"] == "mask" else 0)
    assert [s[:2] for s in steps] == [(k, total) for k in range(1, total + 1)]
    assert [s[2] for s in steps] == report["objective_per_step"]
    assert report["input_db"].shape == report["output_db"].shape == (128, report["frames"])


def test_texture_and_style_equal_the_cli_bit_for_bit(model, tmp_path):
    example, content = EXAMPLES[0], EXAMPLES[1]
    out = tmp_path / "texture.wav"
    run_cli("texture", MODEL, example, "-o", out, "-q", "--seconds", "5", "--iterations", "3",
            "--texture-layers", "conv1,conv3:0.5", "--seed", "4")
    expected, expected_rate = sonodream.read_audio(out)
    audio, rate = sonodream.read_audio(example)
    textured, textured_rate, report = model.texture(audio, rate, 5, layers={"conv3": 0.5, "conv1": 1},
                                                    iterations=3, seed=4)
    assert textured_rate == expected_rate == rate
    assert textured.shape == expected.shape == (5 * rate,) + audio.shape[1:]
    assert np.array_equal(textured, expected)
    with open(tmp_path / "texture.json") as f:
        expected_report = json.load(f)
    for key in ("objective", "texture_layers", "content_weight", "step", "step_final", "octaves", "headroom_db"):
        assert report[key] == expected_report[key], key
    assert expected_report["objective"] == "texture"
    assert expected_report["texture_layers"] == [{"layer": "conv1", "weight": 1}, {"layer": "conv3", "weight": 0.5}]

    out = tmp_path / "style.wav"
    run_cli("style", MODEL, content, example, "-o", out, "-q", "--iterations", "3", "--style-weight", "4")
    expected, _ = sonodream.read_audio(out)
    audio, rate = sonodream.read_audio(content)
    styled, _, report = model.style(audio, rate, *sonodream.read_audio(example), style_weight=4, iterations=3)
    assert np.array_equal(styled, expected)
    assert report["content_weight"] == 0.25 and not np.array_equal(styled, audio)
