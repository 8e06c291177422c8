#!/usr/bin/python3
"""Accuracy reference: the seed topology trained in PyTorch WITHOUT
augmentation on the same fold split and the same per-band standardisation as
`sonodream train`, Adam lr 1e-3, batch 32, the same epochs, best validation
accuracy reported (the protocol sonodream uses).

usage: train_reference.py FEATURES TRAIN_FOLD VAL_FOLD [EPOCHS [DEVICE [SEED]]]
FEATURES: a sonodream feature file (.safetensors) or an .npz with features,
labels, folds (float16 features are fine). Prints one line per epoch and
"best_val_accuracy X epoch E seconds S".

For choosing sonodream's augmentation defaults, the same augmentations can be
switched on here through the environment (all off by default, which is the
reference): SHIFT (max roll in frames), TMASKS, FMASKS, WIDTH (max mask
width), MIXUP (alpha), PATIENCE (halve the lr after that many epochs without
a better validation accuracy; 0 = constant lr), WD (decoupled weight decay,
AdamW, as sonodream's --weight-decay).
"""
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import safetensors_np


def load(path):
    if path.endswith(".npz"):
        d = np.load(path)
        return d["features"].astype(np.float32), d["labels"], d["folds"]
    out, _ = safetensors_np.load(path)
    return out["features"], out["labels"], out["folds"]


def pool_same(x, k):
    """TensorFlow SAME max-pool, as sonodream's: pad with -inf, split before/after."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % k, (-w) % k
    x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2), value=float("-inf"))
    return F.max_pool2d(x, k)


class Seed(nn.Module):
    def __init__(self, h, w, classes):
        super().__init__()
        self.convs = nn.ModuleList([nn.Conv2d(1, 32, 3, padding=1), nn.Conv2d(32, 32, 3, padding=1),
                                    nn.Conv2d(32, 64, 3, padding=1), nn.Conv2d(64, 64, 3, padding=1),
                                    nn.Conv2d(64, 64, 3, padding=1)])
        ho, wo = -(-(-(-h // 4)) // 4), -(-(-(-w // 4)) // 4)
        self.fc1, self.fc2, self.out = nn.Linear(64 * ho * wo, 256), nn.Linear(256, 128), nn.Linear(128, classes)
        for m in self.modules():  # sonodream's init: Kaiming-uniform for leaky ReLU 0.2, zero bias
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_uniform_(m.weight, a=0.2, nonlinearity="leaky_relu")
                nn.init.zeros_(m.bias)

    def forward(self, x):
        a = lambda t: F.leaky_relu(t, 0.2)
        x = a(self.convs[1](a(self.convs[0](x))))
        x = F.dropout(pool_same(x, 4), 0.25, self.training)
        x = a(self.convs[4](a(self.convs[3](a(self.convs[2](x))))))
        x = F.dropout(pool_same(x, 4), 0.5, self.training)
        x = a(self.fc2(a(self.fc1(x.flatten(1)))))
        return self.out(x)


AUG = {k: float(os.environ.get(k, 0)) for k in ("SHIFT", "TMASKS", "FMASKS", "WIDTH", "MIXUP", "PATIENCE", "WD")}


def augment(x, y):
    """sonodream's augmentations (src/train/augment.c) on a standardised batch."""
    n, _, h, w = x.shape
    x = x.clone()
    if AUG["SHIFT"] > 0:
        s = int(AUG["SHIFT"])
        shifts = torch.randint(-s, s + 1, (n,))
        x = torch.stack([torch.roll(x[i], int(shifts[i]), dims=-1) for i in range(n)])
    width = int(AUG["WIDTH"])
    for axis, count, size in ((-1, int(AUG["TMASKS"]), w), (-2, int(AUG["FMASKS"]), h)):
        for _ in range(count):
            for i in range(n):
                wd = int(torch.randint(0, min(width, size) + 1, ()))
                st = int(torch.randint(0, size - wd + 1, ()))
                if axis == -1:
                    x[i, :, :, st:st + wd] = 0
                else:
                    x[i, :, st:st + wd, :] = 0
    lam = torch.ones(n, device=x.device)
    y2 = y
    if AUG["MIXUP"] > 0:
        perm = torch.randperm(n, device=x.device)
        lam = torch.distributions.Beta(AUG["MIXUP"], AUG["MIXUP"]).sample((n,)).to(x.device)
        x = lam.view(n, 1, 1, 1) * x + (1 - lam.view(n, 1, 1, 1)) * x[perm]
        y2 = y[perm]
    return x, y, y2, lam


def main():
    path, train_fold, val_fold = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    epochs = int(sys.argv[4]) if len(sys.argv) > 4 else 30
    device = sys.argv[5] if len(sys.argv) > 5 else "cpu"
    torch.manual_seed(int(sys.argv[6]) if len(sys.argv) > 6 else 1)
    torch.set_num_threads(2)
    x, y, folds = load(path)
    tr, va = folds == train_fold, folds == val_fold
    mean = x[tr].mean(axis=(0, 2), keepdims=True)
    std = np.sqrt(np.maximum(x[tr].var(axis=(0, 2), keepdims=True), 1e-6))
    to = lambda a: torch.from_numpy(((a - mean) / std)[:, None].astype(np.float32)).to(device)
    xt, yt = to(x[tr]), torch.from_numpy(y[tr].astype(np.int64)).to(device)
    xv, yv = to(x[va]), torch.from_numpy(y[va].astype(np.int64)).to(device)
    net = Seed(x.shape[1], x.shape[2], int(y.max()) + 1).to(device)
    opt = (torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=AUG["WD"]) if AUG["WD"] > 0
           else torch.optim.Adam(net.parameters(), lr=1e-3))
    best, best_epoch, since, start = 0.0, 0, 0, time.perf_counter()
    for epoch in range(1, epochs + 1):
        net.train()
        order = torch.randperm(len(xt), device=device)
        for i in range(0, len(xt), 32):
            idx = order[i:i + 32]
            xb, y1, y2, lam = augment(xt[idx], yt[idx])
            opt.zero_grad()
            out = net(xb)
            loss = (lam * F.cross_entropy(out, y1, reduction="none") +
                    (1 - lam) * F.cross_entropy(out, y2, reduction="none")).mean()
            loss.backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            pred = torch.cat([net(xv[i:i + 256]).argmax(1) for i in range(0, len(xv), 256)])
        acc = (pred == yv).float().mean().item()
        if acc > best:
            best, best_epoch, since = acc, epoch, 0
        elif AUG["PATIENCE"] > 0:
            since += 1
            if since >= AUG["PATIENCE"]:
                for g in opt.param_groups:
                    g["lr"] = max(g["lr"] * 0.5, 1e-5)
                since = 0
        print(f"epoch {epoch} val_accuracy {acc:.4f}", flush=True)
    print(f"best_val_accuracy {best:.4f} epoch {best_epoch} seconds {time.perf_counter() - start:.1f}")


if __name__ == "__main__":
    main()
