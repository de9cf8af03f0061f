"""Device choice, autocast and seeding, shared by every codec.

torch is imported inside the functions, so options modules can check a device name without
loading it (`codec encode --help` and the service's submit-time checks stay fast).
"""

from __future__ import annotations

import contextlib
import random
import re
from typing import TYPE_CHECKING

import numpy as np

from codec.errors import InvalidInput

if TYPE_CHECKING:
    import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda")
DEVICE_HELP = "auto|cpu|cuda|cuda:N: auto takes CUDA when present"
_DEVICE_RE = re.compile(r"^(auto|cpu|cuda|cuda:\d{1,3})$")


def check_device_name(name: str) -> str:
    """The spelling check alone (no torch): 'auto', 'cpu', 'cuda' or 'cuda:N'."""
    if not isinstance(name, str) or not _DEVICE_RE.match(name):
        raise InvalidInput(f"--device must be one of {', '.join(DEVICE_CHOICES)} or cuda:N, got {name!r}")
    return name


def pick_device(name: str = "auto") -> torch.device:
    """'auto' takes CUDA when present; asking for CUDA on a machine without it is a user error."""
    import torch

    check_device_name(name)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InvalidInput("--device cuda asked for, but no CUDA device is available")
    return torch.device(name)


def autocast(device: torch.device, enabled: bool = True) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA (Ampere and newer); a no-op on CPU, where fp32 is faster and exact."""
    import torch

    if enabled and device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; returns a CPU generator for code that wants its own stream."""
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)
