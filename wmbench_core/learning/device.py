"""Device selection and seeding."""

from __future__ import annotations

import random

import numpy as np

VALID_DEVICES = ("auto", "cpu", "cuda", "mps")


def resolve_device(device: str = "auto") -> str:
    """``auto`` -> ``cuda`` if available, else ``mps``, else ``cpu``. Also accepts ``cuda:1``."""
    import torch

    if device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    base = device.split(":")[0]
    if base not in VALID_DEVICES:
        raise ValueError(f"unknown device {device!r}; valid: {', '.join(VALID_DEVICES)}")
    if base == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but torch sees no CUDA GPU; valid here: auto, cpu")
    index = device.partition(":")[2]
    if base == "cuda" and index and not (index.isdigit() and int(index) < torch.cuda.device_count()):
        n = torch.cuda.device_count()
        raise ValueError(f"unknown device {device!r}: torch sees {n} CUDA GPU(s); valid: cuda, cuda:0 .. cuda:{n - 1}")
    if base == "mps" and not torch.backends.mps.is_available():
        raise ValueError("device 'mps' requested but it is not available; valid here: auto, cpu")
    return device


def seed_everything(seed: int) -> np.random.Generator:
    """Seed python, numpy and torch; return a numpy Generator for the caller's own sampling."""
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return np.random.default_rng(seed)
