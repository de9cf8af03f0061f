"""QLAE's options, declared once: `codec encode --codec qlae` flags, `codec train latents` flags,
the `latents.train` job and the gRPC maps all come from here. No torch import."""

from __future__ import annotations

from dataclasses import dataclass

from codec.device import DEVICE_HELP, PRECISION_HELP, PRECISIONS
from codec.errors import InvalidInput
from codec.options import option

DEFAULT_STEPS = 4500  # about 5 minutes on 2 CPU cores (bf16 on AMX) at width 8, batch 64 (docs/LATENTS.md)


def check_model_spec(spec: str, flag: str = "--model") -> None:
    if not spec or "/" in spec or len(spec) > 80:
        raise InvalidInput(f"{flag} takes a model store name, NAME or NAME@vN")


@dataclass
class EncodeOptions:
    model: str = option(
        "shapes3d", "the latent model (NAME[@vN] in the model store): shapes3d or dsprites ship"
    )
    device: str = option("auto", "where the encoder network runs: " + DEVICE_HELP)

    def check(self) -> None:
        check_model_spec(self.model)


@dataclass
class DecodeOptions:
    device: str = option("auto", "where the decoder network runs: " + DEVICE_HELP)


@dataclass
class TrainLatentsOptions:
    data: str = option("shapes3d", "shapes3d, dsprites (procedural, known factors) or a folder of images")
    name: str = option("", "store the model as NAME@vN (the next free version); empty: train and score only")
    latent: str = option(
        "qlae",
        "qlae (per-dim scalar codebooks), or a baseline: ae, vae (beta-VAE), vqvae (one global codebook)",
        choices=("qlae", "ae", "vae", "vqvae"),
    )  # fmt: skip
    steps: int = option(DEFAULT_STEPS, "optimizer steps (the training budget)", lo=1, hi=10_000_000)
    batch_size: int = option(64, "images per step", lo=1, hi=4096)
    latents: int = option(0, "latent dims (0: twice the number of factors, as in the paper; 12 for a folder)",
                          lo=0, hi=256)  # fmt: skip
    levels: int = option(10, "values in each dim's codebook (qlae)", lo=2, hi=256)
    width: int = option(
        8, "network width (channels of the first conv; the paper's small net is 64)", lo=2, hi=128
    )
    lr: float = option(1e-3, "AdamW learning rate", lo=0, hi=1, lo_open=True)
    weight_decay: float = option(
        0.1, "AdamW weight decay (codebooks, biases and norms excluded)", lo=0, hi=10
    )
    beta: float = option(4.0, "vae: the KL weight against the summed reconstruction", lo=0, hi=1000)
    clip: float = option(1.0, "gradient norm clipping", lo=0, hi=1e6, lo_open=True)
    eval_samples: int = option(10_000, "held-out samples the metrics are computed on", lo=100, hi=1_000_000)
    seed: int = option(0, "random seed (weights and the training stream)", lo=0, hi=2**31 - 1)
    device: str = option("auto", "where to train: " + DEVICE_HELP)
    precision: str = option("auto", PRECISION_HELP, choices=PRECISIONS)

    def check(self) -> None:
        if self.name:
            check_model_spec(self.name, "--name")
            if "@" in self.name:
                raise InvalidInput("--name takes a bare NAME: the version is the next free one")
