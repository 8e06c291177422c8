#!/usr/bin/python3
"""PyTorch reference for bench_dream: one DeepDream step, i.e. the gradient of
the L2 objective 0.5 * sum(conv5^2) with respect to the input, through the
seed preset's convolutional part (conv1, conv2, 4x4 max-pool, conv3, conv4,
conv5, each conv 3x3 + leaky ReLU 0.2; dropout is off when dreaming) for one
1x1x128x128 input, computed with torch.autograd, torch.set_num_threads(THREADS).
The weights do not require gradients: a dream needs the input's only.

usage: dream_reference.py MODEL.safetensors INPUT.f32 GRAD_OUT.f32 THREADS REPEATS
Loads sonodream's weights (PyTorch names and layouts), writes the input
gradient (to check the C result), then times REPEATS steps and prints
"torch_step_ms X" (the median).
"""
import sys
import time

import numpy as np
import torch
import torch.nn as nn

from safetensors_np import load_torch_state
import torch.nn.functional as F


class SeedToConv5(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 32, 3, padding=1), nn.Conv2d(32, 32, 3, padding=1)
        self.conv3, self.conv4, self.conv5 = (nn.Conv2d(32, 64, 3, padding=1), nn.Conv2d(64, 64, 3, padding=1),
                                              nn.Conv2d(64, 64, 3, padding=1))

    def forward(self, x):
        x = F.leaky_relu(self.conv1(x), 0.2)
        x = F.leaky_relu(self.conv2(x), 0.2)
        x = F.max_pool2d(x, 4)  # 128 is a multiple of 4: TF "SAME" adds no padding
        x = F.leaky_relu(self.conv3(x), 0.2)
        x = F.leaky_relu(self.conv4(x), 0.2)
        return F.leaky_relu(self.conv5(x), 0.2)


def main():
    model_path, input_path, grad_path, threads, repeats = sys.argv[1:6]
    torch.set_num_threads(int(threads))
    net = SeedToConv5()
    state = {k: v for k, v in load_torch_state(model_path).items() if k.split(".")[0] in
             ("conv1", "conv2", "conv3", "conv4", "conv5")}
    net.load_state_dict(state, strict=True)
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    x0 = torch.from_numpy(np.fromfile(input_path, dtype=np.float32).reshape(1, 1, 128, 128))

    def step():
        x = x0.clone().requires_grad_(True)
        out = net(x)
        objective = 0.5 * (out * out).sum()
        (g,) = torch.autograd.grad(objective, x)
        return g

    step().numpy().astype(np.float32).tofile(grad_path)
    for _ in range(3):
        step()
    times = []
    for _ in range(int(repeats)):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    print("torch_step_ms %.4f" % (1000 * float(np.median(times))))


if __name__ == "__main__":
    main()
