"""Device choice, autocast and seeding, shared by every codec.

torch is imported inside the functions, so options modules can check a device name without
loading it (`codec encode --help` and the service's submit-time checks stay fast).
"""

from __future__ import annotations

import contextlib
import functools
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


PRECISIONS = ("auto", "fp32", "bf16")
PRECISION_HELP = "training arithmetic: auto (bf16 on CUDA and on CPUs with AMX, else fp32), fp32 or bf16"
DECODE_PRECISION_HELP = (
    "decoder arithmetic: auto (bf16 on CUDA and on CPUs with AMX, where it is ~3x faster, else fp32), fp32"
    " or bf16; pixels differ by a few levels at most (within 0.01 dB)"
)


@functools.cache
def cpu_has_amx() -> bool:
    """Intel AMX (bf16 tile matmuls, Sapphire Rapids and newer): bf16 convs run ~2x fp32 there."""
    try:
        with open("/proc/cpuinfo") as f:
            return "amx_bf16" in f.read()
    except OSError:
        return False


def bf16_training(device: torch.device, precision: str = "auto") -> bool:
    import torch

    if precision == "fp32":
        return False
    if precision == "bf16":
        return True
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and cpu_has_amx()


def autocast(device: torch.device, precision: str = "auto") -> contextlib.AbstractContextManager:
    """bf16 autocast where it is fast (CUDA; CPUs with AMX), else a no-op: training, and network
    decoders that ask for it (HNeRV's `--precision`). Entropy coding stays integer, so a file
    decodes anywhere; what a bf16 decoder renders differs from fp32 by a few levels at most."""
    import torch

    if bf16_training(device, precision):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; returns a CPU generator for code that wants its own stream."""
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)
