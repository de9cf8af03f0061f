"""HNeRV's options: the one declaration the CLI flags, the gRPC map and validation derive from.

Imports nothing heavy (no torch), so `codec encode --help` and the service's submit-time checks
stay fast.
"""

from __future__ import annotations

from dataclasses import dataclass

from codec.device import DECODE_PRECISION_HELP, DEVICE_HELP, PRECISION_HELP, PRECISIONS, check_device_name
from codec.durations import parse_duration
from codec.errors import InvalidInput
from codec.options import option

# Without --size or --bpp, the size is chosen for the clip: the budget that codes to about DEFAULT_BPP
# (the paper's operating point on Big Buck Bunny: 1.5M parameters for 132 frames of 640x1280 is
# ~0.1 bpp), within DEFAULT_SIZE_RANGE per segment. A size, not a rate target, so that --time-limit
# may still lower it.
DEFAULT_BPP = 0.1
DEFAULT_SIZE_RANGE = (0.01, 3.0)  # millions of parameters per segment


@dataclass
class EncodeOptions:
    size: float | None = option(
        None,
        "parameter budget (decoder + embeddings, as in the paper); default: chosen for the clip to code"
        " to about 0.1 bpp (0.01M..3M per segment), without --bpp",
        unit="M params",
        lo=0.001,
        hi=100,
    )
    bpp: float | None = option(
        None, "target rate of the file on disk, instead of --size", unit="bits/pixel", lo=0.0005, hi=24
    )
    epochs: int = option(300, "training epochs (the prune and quant stages add ~10% each)", lo=1, hi=100_000)
    seed: int = option(
        0, "random seed: the same seed, options and device give the same file", lo=0, hi=2**63 - 1
    )
    device: str = option("auto", "where to train: " + DEVICE_HELP)
    segment_frames: int = option(
        0,
        "split the clip into independently decodable segments of this many frames (0: one)",
        unit="frames",
        lo=0,
        hi=10**7,
    )
    batch_size: int = option(2, "frames per training step (the paper uses 2)", lo=1, hi=1024)
    lr: float = option(
        1e-3, "peak learning rate (warm-up then cosine)", lo=0, hi=1, lo_open=True, hi_open=True
    )
    loss: str = option("l2", "training loss: l2, or fusion (0.7 L1 + 0.3 SSIM)", choices=("l2", "fusion"))
    weight_bits: int = option(
        8, "decoder weight bit depth (rate control may lower it)", unit="bits", lo=2, hi=16
    )
    embed_bits: int = option(6, "embedding bit depth", unit="bits", lo=2, hi=16)
    prune: float = option(
        0.1,
        "magnitude-prune ratio with --size (zeros are cheap once coded); --bpp picks its own",
        lo=0,
        hi=0.95,
        hi_open=True,
    )
    checkpoint_every: int = option(
        10, "write a resumable checkpoint every N epochs", unit="epochs", lo=0, hi=10**6
    )
    max_frames: int = option(0, "encode only the first N frames (0: all)", unit="frames", lo=0, hi=10**7)
    time_limit: str = option(
        "",
        "finish the whole encode within this time, e.g. 10m or 2h: the epochs (and, when even a few do"
        " not fit, a smaller --size) are fitted from the step time measured on the clip",
    )
    compile: bool = option(False, "torch.compile the training step (CUDA only)", remote=False)
    precision: str = option("auto", PRECISION_HELP, choices=PRECISIONS)

    def check(self) -> None:
        """The rate is set by at most one of size and bpp (neither: a size chosen for the clip)."""
        check_device_name(self.device)
        if self.size is not None and self.bpp is not None:
            raise InvalidInput("give either --size or --bpp, not both")
        if self.time_limit:
            parse_duration(self.time_limit)


@dataclass
class DecodeOptions:
    frames: str | None = option(None, "decode only frames A..B-1, written A:B (either end may be left out)")
    device: str = option("auto", "where to run the decoder: " + DEVICE_HELP)
    precision: str = option("auto", DECODE_PRECISION_HELP, choices=PRECISIONS)

    def check(self) -> None:
        check_device_name(self.device)
