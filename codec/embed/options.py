"""Training options for embedders, declared once: `codec train embedder` flags, the
`embedder.train` job's options and their checks all come from here. No torch import."""

from __future__ import annotations

from dataclasses import dataclass

from codec.device import DEVICE_HELP, check_device_name
from codec.errors import InvalidInput
from codec.options import option


def nesting_dims(full: int, smallest: int = 8) -> list[int]:
    """Powers of two from `smallest` up to `full`, and `full` itself."""
    out, m = [], smallest
    while m < full:
        out.append(m)
        m *= 2
    return [*out, full]


def parse_dims(text: str, flag: str) -> list[int]:
    """'8,16,256' -> [8, 16, 256]; InvalidInput naming `flag` if it is not comma-separated integers."""
    try:
        return [int(d) for d in text.split(",") if d.strip()]
    except ValueError:
        raise InvalidInput(f"{flag} takes comma-separated integers, got {text[:60]!r}") from None


def check_dims(dims: list[int], full: int) -> list[int]:
    dims = sorted(set(int(d) for d in dims))
    if not dims or dims[0] < 1 or dims[-1] != full:
        raise InvalidInput(f"nesting dims must be positive and end at the full size {full}, got {dims}")
    return dims


@dataclass
class TrainEmbedderOptions:
    data: str = option(
        "fashion-mnist",
        "fashion-mnist, wordnet, a folder of class subfolders of images, or a LABEL<TAB>TEXT file",
    )
    name: str = option("", "store the model as NAME@vN (the next free version)")
    epochs: int = option(8, "passes over the training split", lo=1, hi=10_000)
    dim: int = option(256, "full embedding size", lo=8, hi=4096)
    dims: str = option("", "nesting dims, comma-separated (default: powers of two from 8 up to --dim)")
    efficient: bool = option(False, "MRL-E: one classifier shared by every prefix, instead of one per dim")
    batch_size: int = option(256, "items per step", lo=1, hi=65536)
    lr: float = option(3e-3, "peak learning rate (one-cycle)", lo=0, hi=1, lo_open=True)
    width: int = option(32, "image CNN width (channels of its first stage)", lo=4, hi=512)
    limit: int = option(0, "train on at most this many items, a fixed random subset (0: all)", lo=0, hi=10**9)
    seed: int = option(0, "random seed", lo=0, hi=2**31 - 1)
    device: str = option("auto", "where to train: " + DEVICE_HELP)
    compatible_with: str = option(
        "",
        "train a new version whose first dims search this model's vectors (NAME@vN); the compatible"
        " part is that model's full size, at each of its nesting dims",
    )
    method: str = option("bt2", "with --compatible-with: bt2 (basis transformation, extra dims) or bct",
                         choices=("bt2", "bct"))  # fmt: skip
    extra_dims: int = option(64, "BT²: dims added after the compatible part", lo=1, hi=4096)
    compat_dims: str = option(
        "",
        "train compatibility at these of the old model's nesting dims only, comma-separated"
        " (default: all of them, so adaptive search keeps working across versions)",
    )
    reference: str = option(
        "",
        "BT²: an independently trained new model (NAME@vN) the new features stay close to"
        " (default: train one first, with these options and no compatibility)",
    )

    def check(self) -> None:
        check_device_name(self.device)
        self.nesting()
        if self.compatible_with:
            from codec.models.manifest import parse_spec

            if parse_spec(self.compatible_with)[1] is None:
                raise InvalidInput(f"--compatible-with takes NAME@vN, got {self.compatible_with!r:.80}")
        elif self.reference:
            raise InvalidInput("--reference is for --compatible-with --method bt2")

    def nesting(self) -> list[int]:
        if not self.dims:
            return nesting_dims(self.dim)
        return check_dims(parse_dims(self.dims, "--dims"), self.dim)
