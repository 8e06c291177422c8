"""Audio in and out of the library: decoding, array checks, downmix, resampling."""
import os

import numpy as np

from ._native import Error, check, ffi, lib, malloc_array, new_error


def _path_bytes(path):
    return os.fsencode(os.fspath(path))


def read_audio(path, always_2d=False):
    """Decode a sound file with the library (libsndfile: WAV, FLAC, OGG, MP3...).

    Returns (audio, sample_rate): float32 samples at the file's own rate,
    shape (samples,) for one channel or (samples, channels) for more
    (always (samples, channels) with always_2d=True). Float files are read
    as stored, not normalised.
    """
    samples = ffi.new("float **")
    frames, channels, rate = ffi.new("int64_t *"), ffi.new("int *"), ffi.new("int *")
    err = new_error()
    check(lib.sono_audio_load_recording(_path_bytes(path), samples, frames, channels, rate, err), err)
    audio = malloc_array(samples[0], (frames[0], channels[0]))
    if channels[0] == 1 and not always_2d:
        audio = audio[:, 0]
    return audio, int(rate[0])


_ENCODINGS = {"float": "SONO_WAV_FLOAT32", "pcm16": "SONO_WAV_PCM16", "pcm24": "SONO_WAV_PCM24"}


def write_wav(path, audio, sample_rate, encoding="float"):
    """Write float32 audio ((samples,) or (samples, channels)) as a WAV file,
    through the library: atomically (a temporary file renamed into place),
    RF64 beyond 4 GB. encoding: "float" (32-bit float, exact: what
    `sonodream dream` writes), "pcm16" or "pcm24" (clipped at full scale).
    NaN and infinite samples are refused."""
    recording = as_recording(audio, sample_rate)
    if encoding not in _ENCODINGS:
        raise Error(f"encoding {encoding!r} is not one of {', '.join(_ENCODINGS)}")
    writer, err = ffi.new("sono_audio_writer **"), new_error()
    frames, channels = recording.shape
    check(lib.sono_audio_writer_open(_path_bytes(path), int(sample_rate), channels, frames,
                                     getattr(lib, _ENCODINGS[encoding]), writer, err), err)
    status = lib.sono_audio_writer_write(writer[0], ffi.from_buffer("float[]", recording), frames, err)
    if status != lib.SONO_OK:
        lib.sono_audio_writer_abort(writer[0])
        check(status, err)
    check(lib.sono_audio_writer_commit(writer[0], err), err)


def as_recording(audio, sample_rate):
    """Check an array for the library: float32, (samples,) or (samples,
    channels), at least one sample and one channel; C-contiguous (copied if
    it is not). Returns the (samples, channels) contiguous array."""
    if not isinstance(audio, np.ndarray):
        raise Error(f"audio must be a numpy array of float32 samples, not {type(audio).__name__}")
    if audio.dtype != np.float32:
        raise Error(f"audio must be float32, not {audio.dtype} (convert with audio.astype(np.float32))")
    if audio.ndim == 1:
        audio = audio[:, None]
    if audio.ndim != 2:
        raise Error(f"audio must have shape (samples,) or (samples, channels), not {audio.shape}")
    if audio.shape[0] < 1 or audio.shape[1] < 1:
        raise Error(f"audio of shape {audio.shape} holds no samples")
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)):
        raise Error(f"sample_rate must be an integer number of Hz, not {sample_rate!r}")
    if not 1 <= sample_rate <= 1000000:
        raise Error(f"sample rate {sample_rate} Hz is out of range (1 .. 1000000)")
    return np.ascontiguousarray(audio)


def mono_at(audio, sample_rate, target_rate):
    """(samples, channels) -> mono float32 at target_rate, as the library's
    sono_audio_load does for classify and prepare: channels averaged in
    double, then resampled with libsoxr (sono_audio_resample)."""
    if audio.shape[1] == 1:
        mono = np.ascontiguousarray(audio[:, 0])
    else:
        # Channel by channel in order, as the library sums (bit for bit).
        total = audio[:, 0].astype(np.float64)
        for c in range(1, audio.shape[1]):
            total += audio[:, c]
        mono = (total / audio.shape[1]).astype(np.float32)
    if sample_rate == target_rate:
        return mono
    out, n = ffi.new("float **"), ffi.new("int64_t *")
    err = new_error()
    check(lib.sono_audio_resample(ffi.from_buffer("float[]", mono), len(mono), int(sample_rate), int(target_rate),
                                  out, n, err), err)
    return malloc_array(out[0], (n[0],))
