"""sonodream: DeepDream for sounds, from Python (numpy in, numpy out).

A thin cffi binding over libsonodream, the library behind the `sonodream`
program: the same decoding, features, classification and dream, bit for bit.

    import sonodream
    model = sonodream.load_model("models/us8k-seed.model")
    audio, rate = sonodream.read_audio("examples/dog_bark-100652-3-0-0.flac")
    print(model.classify(audio, rate, top=3))
    dream, rate, report = model.dream(audio, rate, cls="siren", seed=1)
    sonodream.write_wav("dog-siren.wav", dream, rate)

Audio is float32, (samples,) or (samples, channels). Errors raise
sonodream.Error with the library's message. The library's log messages go to
the `sonodream` logger of Python's logging (the library has one log hook for
the whole process).
"""
from ._audio import read_audio, write_wav
from ._features import load_features
from ._model import Layer, Model, load_model
from ._native import Error, Interrupted

__version__ = "0.1.0"
__all__ = ["Error", "Interrupted", "Layer", "Model", "load_model", "load_features", "read_audio", "write_wav"]
