"""A minimal safetensors reader for the benchmark and reference scripts (the
Debian machine has no Python safetensors package): tensors as numpy arrays
and the __metadata__ dictionary."""
import json
import struct

import numpy as np

DTYPES = {"F32": np.float32, "F64": np.float64, "I32": np.int32, "I64": np.int64, "U8": np.uint8}


def load(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    tensors = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        b, e = t["data_offsets"]
        tensors[name] = np.frombuffer(data[b:e], dtype=DTYPES[t["dtype"]]).reshape(t["shape"])
    return tensors, header.get("__metadata__", {})


def load_torch_state(path):
    """The float32 tensors of a sonodream model as a PyTorch state dict."""
    import torch
    tensors, _ = load(path)
    return {k: torch.from_numpy(v.copy()) for k, v in tensors.items() if v.dtype == np.float32}
