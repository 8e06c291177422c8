#!/usr/bin/python3
"""PyTorch reference for bench_nn: the seed preset (five 3x3 conv + leaky ReLU
0.2, two 4x4 max-pools, two dropouts, dense 256, 128, classes) on input
1x128x128, batch 32, Adam, torch.set_num_threads(THREADS).

usage: nn_reference.py MODEL.safetensors INPUT.f32 LOGITS_OUT.f32 THREADS STEPS
Loads sonodream's weights (PyTorch names and layouts), writes the inference
logits for the input (to check the C result), then times training steps and
inference and prints "train_sps X infer_sps Y".
"""
import sys
import time

import numpy as np
import torch
import torch.nn as nn

from safetensors_np import load_torch_state


class Seed(nn.Module):
    def __init__(self, classes):
        super().__init__()
        act = lambda: nn.LeakyReLU(0.2)
        self.conv1, self.conv2 = nn.Conv2d(1, 32, 3, padding=1), nn.Conv2d(32, 32, 3, padding=1)
        self.conv3, self.conv4, self.conv5 = (nn.Conv2d(32, 64, 3, padding=1), nn.Conv2d(64, 64, 3, padding=1),
                                              nn.Conv2d(64, 64, 3, padding=1))
        self.fc1, self.fc2, self.logits = nn.Linear(64 * 8 * 8, 256), nn.Linear(256, 128), nn.Linear(128, classes)
        self.body = nn.Sequential(self.conv1, act(), self.conv2, act(), nn.MaxPool2d(4), nn.Dropout(0.25),
                                  self.conv3, act(), self.conv4, act(), self.conv5, act(), nn.MaxPool2d(4),
                                  nn.Dropout(0.5), nn.Flatten(), self.fc1, act(), self.fc2, act(), self.logits)

    def forward(self, x):
        return self.body(x)


def main():
    model_path, input_path, logits_path, threads, steps = sys.argv[1:6]
    threads, steps = int(threads), int(steps)
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    x = torch.from_numpy(np.fromfile(input_path, dtype=np.float32).reshape(32, 1, 128, 128))
    y = torch.arange(32) % 10
    net = Seed(10)
    missing = net.load_state_dict(load_torch_state(model_path), strict=False)
    assert not [k for k in missing.missing_keys if not k.startswith("body.")], missing
    net.eval()
    with torch.no_grad():
        net(x).numpy().astype(np.float32).tofile(logits_path)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    net.train()

    def train_step():
        opt.zero_grad(set_to_none=False)
        loss_fn(net(x), y).backward()
        opt.step()

    for _ in range(2):
        train_step()
    start = time.perf_counter()
    for _ in range(steps):
        train_step()
    train_sps = 32 * steps / (time.perf_counter() - start)
    net.eval()
    with torch.no_grad():
        for _ in range(2):
            net(x)
        start = time.perf_counter()
        for _ in range(steps):
            net(x)
        infer_sps = 32 * steps / (time.perf_counter() - start)
    print(f"train_sps {train_sps:.2f} infer_sps {infer_sps:.2f}")


if __name__ == "__main__":
    main()
