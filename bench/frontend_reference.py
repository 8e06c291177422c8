#!/usr/bin/python3
"""PyTorch reference for bench_frontend: the waveform front end of the wave
render (STFT with a periodic Hann window, zero-padded centred frames, power,
mel filterbank, 10 log10(max(., floor)), per-band standardisation) and its
backward pass by torch.autograd through torch.stft.

usage: frontend_reference.py DIR THREADS REPEATS
DIR holds what bench_frontend wrote: meta.txt (n n_fft hop n_mels floor
frames), signal.f32 (n), filterbank.f32 (n_mels, bins), mean.f32, std.f32
(n_mels), weights.f32 (n_mels, frames): the objective is sum(weights * S).
Writes grad_torch.f32 (n) and prints the largest difference to
grad_ours.f32 relative to the gradient's largest magnitude, then times
REPEATS forward+backward passes with torch.set_num_threads(THREADS) and
prints "torch_step_ms X" (the median).
"""
import os
import sys
import time

import numpy as np
import torch


def load(d, name, shape=None):
    x = np.fromfile(os.path.join(d, name), dtype=np.float32)
    return x.reshape(shape) if shape else x


def main():
    d, threads, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(threads)
    n, n_fft, hop, n_mels, floor, frames = open(os.path.join(d, "meta.txt")).read().split()
    n, n_fft, hop, n_mels, frames, floor = int(n), int(n_fft), int(hop), int(n_mels), int(frames), float(floor)
    bins = n_fft // 2 + 1
    signal = torch.from_numpy(load(d, "signal.f32"))
    fb = torch.from_numpy(load(d, "filterbank.f32", (n_mels, bins)))
    mean = torch.from_numpy(load(d, "mean.f32")).unsqueeze(1)
    std = torch.from_numpy(load(d, "std.f32")).unsqueeze(1)
    weights = torch.from_numpy(load(d, "weights.f32", (n_mels, frames)))
    window = torch.hann_window(n_fft, periodic=True)

    def step(x):
        spec = torch.stft(x, n_fft, hop_length=hop, window=window, center=True, pad_mode="constant",
                          return_complex=True)
        power = spec.real ** 2 + spec.imag ** 2          # (bins, frames)
        mel = fb @ power                                   # (n_mels, frames)
        db = 10.0 * torch.log10(torch.clamp(mel, min=floor))
        s = (db - mean) / std
        objective = (weights * s).sum()
        (grad,) = torch.autograd.grad(objective, x)
        return grad

    x = signal.clone().requires_grad_(True)
    grad = step(x).numpy()
    grad.tofile(os.path.join(d, "grad_torch.f32"))
    ours = load(d, "grad_ours.f32")
    scale = np.abs(grad).max()
    print("largest difference to PyTorch's gradient: %.3g of its largest magnitude (%.3g)"
          % (np.abs(ours - grad).max() / scale, scale))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step(x)
        times.append(time.perf_counter() - t0)
    print("torch_step_ms %.4f" % (1000 * float(np.median(times))))


if __name__ == "__main__":
    main()
