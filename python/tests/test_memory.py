"""No leaks: calls repeated after a warm-up leave Python's allocations
(tracemalloc) and the process's resident memory (RSS, which also sees the
library's malloc) where they were.

A leak of the arrays the library hands over (read_audio: 256 KB a call, a
dream's output and spectrograms: 450 KB) would grow RSS by hundreds of MB over
these calls; the bounds below leave room only for allocator noise."""
import ctypes
import gc
import os
import tracemalloc

import numpy as np
import pytest

import sonodream
from conftest import EXAMPLES, MODEL, run_cli

PAGE = os.sysconf("SC_PAGE_SIZE")
LIBC = ctypes.CDLL(None)


def rss_bytes():
    """Resident memory after garbage collection, with the heap's free memory
    handed back (malloc_trim), so freed blocks that glibc keeps do not look
    like a leak (a model load frees tens of MB of network buffers)."""
    gc.collect()
    LIBC.malloc_trim(0)
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def growth(call, times, warmup=20):
    """(tracemalloc bytes, RSS bytes) gained over `times` calls after a warm-up."""
    for _ in range(warmup):
        call()
    gc.collect()
    tracemalloc.start()
    try:
        traced_before, rss_before = tracemalloc.get_traced_memory()[0], rss_bytes()
        for _ in range(times):
            call()
        gc.collect()
        traced_after, rss_after = tracemalloc.get_traced_memory()[0], rss_bytes()
    finally:
        tracemalloc.stop()
    return traced_after - traced_before, rss_after - rss_before


@pytest.fixture(scope="module")
def feature_file(tmp_path_factory):
    root = tmp_path_factory.mktemp("leak")
    (root / "data" / "dog").mkdir(parents=True)
    os.symlink(EXAMPLES[0], root / "data" / "dog" / "dog.flac")
    run_cli("prepare", root / "data", "-o", root / "f.safetensors", "--jobs", "1")
    return root / "f.safetensors"


def test_no_leak_over_1000_calls(model, dog, feature_file, tmp_path):
    audio, rate = dog
    stereo44 = np.stack([audio, audio[::-1]], axis=1)[:16000]
    missing = str(tmp_path / "missing.wav")

    def cheap_calls():
        sonodream.read_audio(EXAMPLES[0])
        model.features(stereo44, 44100)  # downmix and resampling too
        data = sonodream.load_features(feature_file)
        # the one clip, read through the library's buffer (owned by the array)
        assert data["features"].shape[0] == 1 and data["classes"] == ["dog"]
        assert np.isfinite(data["features"]).all() and data["features"].std() > 0
        try:
            sonodream.read_audio(missing)
        except sonodream.Error:
            pass

    traced, rss = growth(cheap_calls, 1000)
    assert traced < 64 * 1024, traced
    assert rss < 2 * 1024 * 1024, rss

    traced, rss = growth(lambda: model.classify(audio, rate), 100, warmup=5)
    assert traced < 16 * 1024 and rss < 1024 * 1024, (traced, rss)

    short = audio[:16000]
    traced, rss = growth(lambda: model.dream(short, rate, iterations=1, octaves=1), 10, warmup=3)
    assert traced < 16 * 1024 and rss < 1024 * 1024, (traced, rss)

    traced, rss = growth(lambda: sonodream.load_model(MODEL), 30, warmup=3)  # 4.7 MB of weights each
    assert traced < 16 * 1024 and rss < 2 * 1024 * 1024, (traced, rss)


def test_arrays_outlive_what_made_them(feature_file, model, dog):
    data = sonodream.load_features(feature_file)
    features = data["features"]
    assert not features.flags.writeable  # the file mapped read-only
    first = features[0].copy()
    del data
    gc.collect()
    assert np.array_equal(features[0], first)
    audio, rate = dog
    dreamed, _, report = model.dream(audio[:16000], rate, iterations=1, octaves=1)
    spectrogram = report.pop("output_db")
    del report
    gc.collect()
    assert dreamed.flags.writeable and np.isfinite(spectrogram).all()
