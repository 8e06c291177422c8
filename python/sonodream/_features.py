"""Feature files (sonodream prepare's safetensors) as numpy arrays."""
import json
import os

import numpy as np

from ._native import check, ffi, lib, new_error, owned_array, text


def _strings(array, count):
    if array == ffi.NULL:
        return []
    return [text(array[i]) for i in range(count)]


def load_features(path):
    """Read and validate a feature file (`sonodream prepare`'s output).

    Returns a dict: features (N, n_mels, frames) float32 log-mel dB, read-only
    and memory-mapped (files larger than memory work; the mapping lives as
    long as the array), labels (N) and folds (N) int32, classes, fold_names,
    sources (one path per clip), layout and feature_config (a dict).
    """
    out, err = ffi.new("sono_feature_set **"), new_error()
    check(lib.sono_feature_set_read(os.fsencode(os.fspath(path)), out, err), err)
    s = ffi.gc(out[0], lib.sono_feature_set_free)
    config = lib.sono_feature_config_to_json(ffi.addressof(s.config))
    try:
        feature_config = json.loads(text(config))
    finally:
        lib.free(config)
    n = s.count
    return {
        "features": owned_array(s.features, (n, s.n_mels, s.frames), s, readonly=True),
        "labels": np.array(owned_array(s.labels, (n,), s, typestr="<i4")),
        "folds": np.array(owned_array(s.folds, (n,), s, typestr="<i4")),
        "classes": _strings(s.class_names, s.class_count),
        "fold_names": _strings(s.fold_names, s.fold_count),
        "sources": _strings(s.sources, n),
        "layout": text(s.layout) if s.layout != ffi.NULL else None,
        "feature_config": feature_config,
    }
