"""A trained model: classes, layers, features, classify, dream."""
import contextlib
import json
import os
import threading
from typing import NamedTuple

import numpy as np

from ._audio import _path_bytes, as_recording, mono_at
from ._native import Error, Progress, check, ffi, lib, malloc_array, new_error, text

# The library's (dream.h): windows per network call, as every client loads
# its models (the dream is then the CLI's bit for bit); the noise level of
# `sonodream dream --noise`; the largest seed (2^53 - 1: exact in JSON).
MAX_BATCH = lib.SONO_DREAM_MAX_BATCH
NOISE_LEVEL_DB = lib.SONO_DREAM_NOISE_LEVEL_DB
SEED_MAX = lib.SONO_DREAM_SEED_MAX

# Report keys the library holds as integers. JSON keeps no C types (a whole
# double reads back as an int, a large seed may read back as a float), so the
# report is given these as ints and every other number as a float.
_INT_KEYS = frozenset(("channel", "settle_steps", "octaves", "iterations", "jitter", "shift_bands", "seed",
                       "griffin_lim_iterations", "hop_divisor", "sample_rate", "channels", "samples", "frames",
                       "segments", "windows"))


class Layer(NamedTuple):
    name: str
    channels: int


def _library_json(pointer, what):
    """The library's malloc'd JSON text, parsed and freed."""
    if pointer == ffi.NULL:
        raise Error(f"{what}: out of memory", "out of memory")
    try:
        return json.loads(text(pointer))
    finally:
        lib.free(pointer)


def _typed(key, value):
    if isinstance(value, list):
        return [_typed(key, v) for v in value] if key == "objective_per_step" else value
    if value is None or isinstance(value, (bool, str)):
        return value
    return int(value) if key in _INT_KEYS else float(value)


def _int_option(name, value, low, high):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise Error(f"dream: option {name} must be an integer, not {value!r}")
    if not low <= value <= high:
        raise Error(f"dream: option {name} must be in {low}..{high} (got {value})")
    return int(value)


def _float_option(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise Error(f"dream: option {name} must be a number, not {value!r}")
    return float(value)


def _set_render(req, value):
    render = ffi.new("sono_dream_render *")
    if not isinstance(value, str) or not lib.sono_dream_render_parse(value.encode(), render):
        raise Error(f"dream: render {value!r} is not a render (wave, mask or griffin-lim)")
    req.render = render[0]


def _set_stereo(req, value):
    modes = {"joint": lib.SONO_STEREO_JOINT, "per-channel": lib.SONO_STEREO_PER_CHANNEL}
    if value not in modes:
        raise Error(f"dream: stereo {value!r} is not joint or per-channel")
    req.stereo = modes[value]


def _set_seed(req, value):
    req.ascent.seed = req.griffin_lim.seed = _int_option("seed", value, 0, SEED_MAX)


INT_MAX = 2**31 - 1

# The CLI's dream options (--octave-scale is octave_scale, and so on), each
# with how it is written into the request.
_OPTIONS = {
    "octaves": lambda r, v: setattr(r.ascent, "octaves", _int_option("octaves", v, -INT_MAX, INT_MAX)),
    "octave_scale": lambda r, v: setattr(r.ascent, "octave_scale", _float_option("octave_scale", v)),
    "iterations": lambda r, v: setattr(r.ascent, "iterations", _int_option("iterations", v, -INT_MAX, INT_MAX)),
    "step": lambda r, v: setattr(r.ascent, "step", _float_option("step", v)),
    "step_final": lambda r, v: setattr(r.ascent, "step_final", _float_option("step_final", v)),
    "jitter": lambda r, v: setattr(r.ascent, "jitter", _int_option("jitter", v, 0, 1 << 20)),
    "smooth": lambda r, v: setattr(r.ascent, "smooth", _float_option("smooth", v)),
    "headroom": lambda r, v: setattr(r.ascent, "headroom_db", _float_option("headroom", v)),
    "overlap": lambda r, v: setattr(r.ascent, "overlap", _float_option("overlap", v)),
    "shift_bands": lambda r, v: setattr(r.ascent, "band_shift", _int_option("shift_bands", v, 0, 16)),
    "gain_jitter": lambda r, v: setattr(r.ascent, "gain_db", _float_option("gain_jitter", v)),
    "noise_jitter": lambda r, v: setattr(r.ascent, "noise_db", _float_option("noise_jitter", v)),
    "seed": _set_seed,
    "render": _set_render,
    "stereo": _set_stereo,
    "rate": lambda r, v: setattr(r, "out_rate", _int_option("rate", v, 1000, 384000)),
    "mono": lambda r, v: setattr(r, "mono", 1 if v else 0),
    "ceiling": lambda r, v: setattr(r, "ceiling", _float_option("ceiling", v)),
    "segment": lambda r, v: setattr(r, "segment_seconds", _float_option("segment", v)),
    "settle": lambda r, v: setattr(r, "settle_steps", _int_option("settle", v, -INT_MAX, INT_MAX)),
    "griffin_lim": lambda r, v: setattr(r.griffin_lim, "griffin_lim_iterations",
                                        _int_option("griffin_lim", v, 0, 100000)),
    "hop_divisor": lambda r, v: setattr(r.griffin_lim, "hop_divisor", _int_option("hop_divisor", v, 1, 64)),
}


class Model:
    """A trained classifier (a model file or checkpoint).

    Attributes: path, classes (names), layers (Layer(name, channels) in
    order), default_layer (the layer dream uses when none is named),
    feature_config (dict: how the model's log-mel features are made),
    sample_rate (the features' rate), n_mels, frames (the network's window).

    Each Model owns its classifier: models are independent, and several may
    be used from several threads at once. One model runs one classify or
    dream at a time (a lock serialises them; features() needs none).
    """

    def __init__(self, path):
        self.path = os.fspath(path)
        out, err = ffi.new("sono_classifier **"), new_error()
        check(lib.sono_classifier_load(os.fsencode(self.path), MAX_BATCH, out, ffi.NULL, err), err)
        self._c = ffi.gc(out[0], lib.sono_classifier_free)
        logmel = ffi.new("sono_logmel **")
        check(lib.sono_logmel_new(ffi.addressof(self._c.features), logmel, err), err)
        self._logmel = ffi.gc(logmel[0], lib.sono_logmel_free)
        self._lock = threading.Lock()
        c = self._c
        described = _library_json(lib.sono_dream_model_to_json(c), self.path)
        self.classes = described["classes"]
        self.layers = [Layer(layer["name"], layer["channels"]) for layer in described["layers"]]
        self.default_layer = described["default_layer"]
        self.feature_config = described["features"]
        self.sample_rate = described["sample_rate"]
        self.n_mels = int(c.features.n_mels)
        self.frames = lib.sono_feature_frames(ffi.addressof(c.features),
                                              lib.sono_feature_clip_samples(ffi.addressof(c.features)))

    def __repr__(self):
        return f"<sonodream.Model {self.path!r}: {len(self.classes)} classes, {len(self.layers)} layers>"

    def close(self):
        """Free the model now (otherwise when it is garbage)."""
        with self._lock:
            if self._c is not None:
                ffi.release(self._c)
                ffi.release(self._logmel)
                self._c = self._logmel = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def _classifier(self):
        if self._c is None:
            raise Error(f"{self.path}: the model was closed")
        return self._c

    # ---- features and classification ----

    def _mono(self, audio, sample_rate):
        return mono_at(as_recording(audio, sample_rate), sample_rate, self.sample_rate)

    def features(self, audio, sample_rate, standardize=True):
        """The model's log-mel spectrogram of `audio` (float32, (samples,) or
        (samples, channels)): (n_mels, frames) float32, standardised per mel
        band as the network sees it, or in dB with standardize=False.

        Channels are averaged and other rates resampled to the model's with
        libsoxr, as `sonodream classify` and `prepare` decode files; the whole
        recording is used (prepare also crops or pads clips to the model's
        length first)."""
        c = self._classifier()
        mono = self._mono(audio, sample_rate)
        frames = lib.sono_feature_frames(ffi.addressof(c.features), len(mono))
        if frames < 1:
            raise Error(f"audio of {len(mono)} samples at {self.sample_rate} Hz is shorter than one frame")
        out = np.empty((self.n_mels, frames), dtype=np.float32)
        err = new_error()
        check(lib.sono_logmel_compute(self._logmel, ffi.from_buffer("float[]", mono), len(mono),
                                      ffi.from_buffer("float[]", out), err), err)
        if standardize:
            lib.sono_classifier_standardize(c, ffi.from_buffer("float[]", out), frames)
        return out

    def probabilities(self, audio, sample_rate):
        """Every class's probability (float32, in the order of .classes), as
        `sonodream classify` computes them: a recording longer than the
        model's window is classified window by window (half a window apart)
        and the probabilities averaged."""
        mono = self._mono(audio, sample_rate)
        probs = np.empty(len(self.classes), dtype=np.float32)
        err = new_error()
        with self._lock:
            check(lib.sono_classifier_classify_samples(self._classifier(), ffi.from_buffer("float[]", mono),
                                                       len(mono), ffi.from_buffer("float[]", probs), ffi.NULL,
                                                       err), err)
        return probs

    def classify(self, audio, sample_rate, top=5):
        """The `top` most probable classes, best first: [(class, probability)].
        top=None: all of them."""
        if top is not None and (isinstance(top, bool) or not isinstance(top, (int, np.integer)) or top < 1):
            raise Error(f"top must be a positive integer or None, not {top!r}")
        probs = self.probabilities(audio, sample_rate)
        order = sorted(range(len(probs)), key=lambda k: -probs[k])  # stable: ties keep class order
        return [(self.classes[k], float(probs[k])) for k in order[:top]]

    # ---- dream ----

    def noise(self, seconds, seed=1, level_db=NOISE_LEVEL_DB):
        """White noise at the model's rate whose log-mel averages level_db:
        the start of `sonodream dream --noise SECONDS --seed SEED`.
        Returns (audio, sample_rate)."""
        out, n, err = ffi.new("float **"), ffi.new("int64_t *"), new_error()
        check(lib.sono_dream_noise(ffi.addressof(self._classifier().features), float(seconds), float(level_db),
                                   _int_option("seed", seed, 0, SEED_MAX), out, n, err), err)
        return malloc_array(out[0], (n[0],)), self.sample_rate

    def _layer_index(self, layer):
        if isinstance(layer, (int, np.integer)) and not isinstance(layer, bool):
            if not 0 <= layer < len(self.layers):
                raise Error(f"{self.path}: layer index {layer} must be in 0..{len(self.layers) - 1}")
            return int(layer)
        index = lib.sono_net_find_layer(self._c.net, str(layer).encode())
        if index < 0:
            names = ", ".join(layer.name for layer in self.layers)
            raise Error(f"{self.path} has no layer '{layer}'; layers: {names}")
        return index

    def _set_objective(self, opts, layer, channel, cls):
        if cls is not None:
            if layer is not None or channel is not None:
                raise Error("dream: cls dreams at the logits; it cannot be combined with layer or channel")
            k = lib.sono_classifier_find_class(self._c, str(cls).encode())
            if k < 0:
                raise Error(f"{self.path} has no class '{cls}'; classes: {', '.join(self.classes)}")
            opts.objective, opts.class_index = lib.SONO_DREAM_CLASS, k
            return
        opts.layer = lib.sono_dream_default_layer(self._c.net) if layer is None else self._layer_index(layer)
        if channel is not None:
            opts.objective = lib.SONO_DREAM_CHANNEL
            opts.channel = _int_option("channel", channel, 0, INT_MAX)

    def _request(self, layer, channel, cls, spectrograms, options, defaults=None):
        req = ffi.new("sono_dream_request *")
        (defaults or lib.sono_dream_request_defaults)(req)
        if defaults is None:
            self._set_objective(req.ascent, layer, channel, cls)
        for name, value in options.items():
            if name not in _OPTIONS:
                raise Error(f"dream: unknown option '{name}' (options: {', '.join(_OPTIONS)})")
            _OPTIONS[name](req, value)
        req.keep_spectrograms = 1 if spectrograms else 0
        return req

    def dream(self, audio, sample_rate, layer=None, channel=None, cls=None, *, progress=None,
              spectrograms=True, ensemble=(), guide=None, guide_same_row=True, **options):
        """DeepDream on a recording, through the library's one dream call
        (sono_dream_recording), with the options of `sonodream dream`.

        audio: float32 (samples,) or (samples, channels) at sample_rate.
        Objective: layer (name or index; default: the middle convolution),
        channel (of that layer), or cls (a class name: its logit).
        options (defaults as the CLI's): octaves, octave_scale, iterations,
        step, step_final, jitter, smooth, headroom (dB; pass 20 to dream from
        Model.noise, as `dream --noise` does), overlap, seed, render ("wave", "mask",
        "griffin-lim"), stereo ("joint", "per-channel"), rate, mono, ceiling,
        segment (seconds), settle (mask render's steps on the samples),
        griffin_lim (iterations), hop_divisor, shift_bands, gain_jitter,
        noise_jitter (the transformation-robust steps).
        ensemble: further Models that dream with this one (the ascent climbs
        the mean of their objectives; classes and layers match by name).
        guide: another recording, (audio, sample_rate) or a file path: the
        dream grows its features at `layer` (`dream --guide`; not with
        channel, cls or ensemble); guide_same_row (default) matches them only
        on the same row of the layer (False: `--guide-any-row`).
        progress(step, total, objective) is called after every step; a true
        return stops the dream (Interrupted). Ctrl-C stops it too and raises
        KeyboardInterrupt. The GIL is released while the library works.

        Returns (dreamed_audio, sample_rate, report): the dream at the
        recording's rate (or `rate`), channels (one with mono) and length, in
        the input's shape; report is a dict of what was done (the CLI's
        OUT.json), with the spectrograms in dB (n_mels, frames) when
        spectrograms=True.
        """
        req = self._request(layer, channel, cls, spectrograms, options)
        members = list(ensemble)
        if any(not isinstance(m, Model) or m is self for m in members):
            raise Error("dream: ensemble takes other Model objects")
        if guide is not None and (channel is not None or cls is not None):
            raise Error("dream: a guide dreams at a layer; it cannot be combined with channel or cls")
        if guide is not None:
            req.ascent.objective = lib.SONO_DREAM_GUIDE
            req.ascent.guide_same_row = 1 if guide_same_row else 0

        def hear(locks):
            if guide is not None:
                req.ascent.guide = locks.enter_context(self._heard("guide", guide, req.ascent.layer))

        dreamed, rate, report = self._run(audio, sample_rate, req, progress, members, hear)
        report["guide"] = guide if isinstance(guide, (str, os.PathLike)) else None if guide is None else "(array)"
        return dreamed, rate, report

    def texture(self, example, sample_rate, seconds=None, *, layers=None, progress=None, spectrograms=True,
                **options):
        """A new sound with the texture of `example` (`sonodream texture`):
        from noise with the example's colour on each of its channels, every
        window of the output takes the example's Gram matrices at `layers`
        (names, or {name: weight}; default every convolution, weight 1).
        seconds: the length (default the example's). options as dream's,
        with texture defaults (one octave of 40 steps shrinking from 2 to
        0.2 levels, no blur, no band shift, headroom 20 dB).
        Returns (audio, sample_rate, report) at the example's rate and
        channels, in the example's shape."""
        one_dimensional = np.ndim(example) == 1
        example = as_recording(example, sample_rate)
        req = self._request(None, None, None, spectrograms, options, lib.sono_dream_texture_defaults)
        if seconds is None:
            seconds = example.shape[0] / int(sample_rate)
        out, err = ffi.new("sono_recording *"), new_error()
        with self._recording(example, sample_rate) as rec:
            check(lib.sono_dream_texture_start(rec, float(seconds), req.ascent.seed, out, err), err)
        start = malloc_array(out.samples, (out.frames, out.channels))
        if one_dimensional:
            start = start[:, 0]

        def hear(locks):
            req.ascent.gram = locks.enter_context(self._heard("example", (example, sample_rate), layers))

        return self._run(start, sample_rate, req, progress, (), hear)

    def style(self, content, sample_rate, style, style_rate, *, style_weight=None, layers=None, progress=None,
              spectrograms=True, **options):
        """`content` in the texture of `style` (`sonodream style`): from the
        content, the style's Gram matrices at `layers` are climbed, held to
        the content by a pull of 1/style_weight per dB^2 of mean squared
        change (default weight: the library's SONO_DREAM_STYLE_WEIGHT).
        options as dream's, with texture defaults and the recording's
        headroom. Returns (audio, sample_rate, report) like dream."""
        req = self._request(None, None, None, spectrograms, options, lib.sono_dream_style_defaults)
        if style_weight is not None:
            if not (isinstance(style_weight, (int, float)) and 0 < style_weight <= 1e6):
                raise Error("style: style_weight must be a number in (0, 1e6]")
            req.ascent.content_weight = 1.0 / style_weight
        heard_style = (as_recording(style, style_rate), style_rate)

        def hear(locks):
            req.ascent.gram = locks.enter_context(self._heard("example", heard_style, layers))

        return self._run(content, sample_rate, req, progress, (), hear)

    def _run(self, audio, sample_rate, req, progress, members, hear):
        """sono_dream_recording on audio with req, the models locked; hear(locks)
        installs what the objective listens to (freed on leaving)."""
        c = self._classifier()
        recording = as_recording(audio, sample_rate)
        member_array = ffi.new("sono_classifier *[]", [m._classifier() for m in members] or [ffi.NULL])
        req.ascent.ensemble, req.ascent.ensemble_count = member_array, len(members)
        out, result, err = ffi.new("sono_recording *"), ffi.new("sono_dream_result *"), new_error()
        with Progress(progress) as call, self._recording(recording, sample_rate) as source:
            handle = ffi.new_handle(call)  # alive until the call returns
            req.ascent.progress, req.ascent.progress_user = lib.sonopy_progress, handle
            with contextlib.ExitStack() as locks:
                for model in sorted([self] + list(members), key=id):  # one order: no deadlock between threads
                    locks.enter_context(model._lock)
                hear(locks)
                status = lib.sono_dream_recording(c, source, req, out, result, err)
                try:
                    call.raise_pending()
                    check(status, err)
                except BaseException:
                    lib.sono_recording_free(out)
                    lib.sono_dream_result_free(result)
                    raise
                # While what was heard lives: the report names its layers.
                report = self._report(req, result, members)
        dreamed = malloc_array(out.samples, (out.frames, out.channels))
        if np.ndim(audio) == 1 and out.channels == 1:
            dreamed = dreamed[:, 0]
        return dreamed, int(out.sample_rate), report

    @contextlib.contextmanager
    def _recording(self, audio, sample_rate):
        """A sono_recording over a (samples, channels) float32 array."""
        audio = as_recording(audio, sample_rate)
        samples = ffi.from_buffer("float[]", audio)
        yield ffi.new("sono_recording *", {"samples": ffi.cast("float *", samples), "frames": audio.shape[0],
                                           "channels": audio.shape[1], "sample_rate": int(sample_rate)})

    def _texture_layers(self, layers):
        if layers is None:
            return ffi.NULL, ffi.NULL, 0
        pairs = sorted(((self._layer_index(name), float(w)) for name, w in
                        (layers.items() if isinstance(layers, dict) else ((name, 1.0) for name in layers))))
        return (ffi.new("int[]", [i for i, _ in pairs]), ffi.new("double[]", [w for _, w in pairs]), len(pairs))

    @contextlib.contextmanager
    def _heard(self, kind, source, where):
        """A guide (where: its layer) or an example's Gram matrices (where:
        layers), from (audio, sample_rate) or a file path, as the net hears
        it (the caller holds the model's lock); freed on leaving."""
        guide = kind == "guide"
        out, err = ffi.new("sono_dream_guide **" if guide else "sono_dream_gram **"), new_error()
        args = (where,) if guide else self._texture_layers(where)
        if isinstance(source, (str, os.PathLike)):
            load = lib.sono_dream_guide_load if guide else lib.sono_dream_gram_load
            check(load(self._c, _path_bytes(source), *args, out, err), err)
        else:
            if not isinstance(source, tuple) or len(source) != 2:
                raise Error(f"dream: {kind} is (audio, sample_rate) or a file path")
            make = lib.sono_dream_guide_from_recording if guide else lib.sono_dream_gram_from_recording
            with self._recording(*source) as rec:
                check(make(self._c, rec, *args, out, err), err)
        try:
            yield out[0]
        finally:
            (lib.sono_dream_guide_free if guide else lib.sono_dream_gram_free)(out[0])

    def _report(self, req, r, members=()):
        """The result as a dict with the CLI's OUT.json keys (the library's
        report of the dream); takes over the result's arrays."""
        report = _library_json(lib.sono_dream_result_to_json(self._c, req, r), self.path)
        report = {key: _typed(key, value) for key, value in report.items()}
        report["ensemble"] = [m.path for m in members]
        lib.free(r.objective)
        r.objective = ffi.NULL
        for key in ("input_db", "dream_db", "output_db"):
            pointer = getattr(r, key)
            if pointer != ffi.NULL:
                report[key] = malloc_array(pointer, (r.n_mels, r.spec_frames))
                setattr(r, key, ffi.NULL)
        lib.sono_dream_result_free(r)
        return report


def load_model(path):
    """Load a model file (or checkpoint): a Model."""
    return Model(path)
