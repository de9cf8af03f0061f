"""RECOMBINER's options, declared once (CLI flags, gRPC maps, checks). No torch import."""

from __future__ import annotations

from dataclasses import dataclass

from codec.device import DEVICE_HELP, check_device_name
from codec.errors import InvalidInput
from codec.options import option


@dataclass
class EncodeOptions:
    bpp: float | None = option(
        None,
        "target rate: the stored prior whose rate point is the highest at or below it (the lowest if none"
        " is); the rate is then the prior's (fixed by its blocks); default 0.3",
        unit="bits/pixel",
        lo=0.001,
        hi=24,
    )
    prior: str = option("", "this image prior instead (NAME[@vN], kind image-prior), whatever its rate point")
    steps: int = option(3000, "posterior fitting steps (the paper: 30,000)", lo=1, hi=1_000_000)
    finetune_steps: int = option(
        20, "greedy fine-tuning steps after each round of coded blocks (0: none)", lo=0, hi=100_000
    )
    round_blocks: int = option(
        8, "blocks each patch codes per round before fine-tuning (1: after every block; more: faster)",
        lo=1, hi=4096,
    )  # fmt: skip
    samples: int = option(5, "Monte Carlo draws per fitting step", lo=1, hi=64)
    seed: int = option(0, "random seed of the fit and of the sample choices", lo=0, hi=2**31 - 1)
    device: str = option("auto", "where the posterior is fitted: " + DEVICE_HELP)
    time_limit: str = option(
        "",
        "finish the encode within this time, e.g. 10m: the fitting and fine-tuning steps are scaled to fit",
    )

    def check(self) -> None:
        check_device_name(self.device)
        if self.time_limit:
            from codec.durations import parse_duration

            parse_duration(self.time_limit)
        if self.prior and ("/" in self.prior or len(self.prior) > 80):
            raise InvalidInput(
                "--prior takes a model store name, NAME or NAME@vN (codec model list --kind image-prior)"
            )
        if self.prior and self.bpp is not None:
            raise InvalidInput("give either --bpp or --prior, not both")


@dataclass
class DecodeOptions:
    pass


@dataclass
class TrainPriorOptions:
    """`codec train prior`: one rate point's prior (codec/image/recombiner/train.py)."""

    name: str = option("", "store the prior as NAME@vN (the next free version)")
    bpp: float = option(0.5, "the rate point: the KL per patch aimed at, in bits per pixel", lo=0.01, hi=8)
    data: str = option("photos", "photos (the built-in training set, data.py) or a folder of images")
    crops: int = option(16, "training crops", lo=1, hi=100_000)
    crop_size: int = option(256, "side of each training crop, a multiple of 64", lo=64, hi=2048)
    iterations: int = option(20, "empirical-Bayes iterations (the paper: 550)", lo=1, hi=100_000)
    steps: int = option(50, "Adam steps per iteration (the paper: 100)", lo=1, hi=1_000_000)
    first_steps: int = option(100, "Adam steps of the first iteration (the paper: 200)", lo=1, hi=1_000_000)
    block_bits: int = option(16, "KL budget of a coded block, in bits (= its index's bits)", lo=4, hi=20)
    beta_init: float = option(1e-8, "initial KL weight (the paper's; a short schedule may start higher)",
                              lo=0, hi=1, lo_open=True)  # fmt: skip
    beta_factor: float = option(
        1.5, "the KL weight's step per iteration, up or down toward the rate (the paper's 1.5)", lo=1.0, hi=16
    )
    linear_reparam: bool = option(True, "ablation: false codes the INR weights directly (no h @ A)")
    positional: bool = option(True, "ablation: false drops the positional latents")
    hierarchical: bool = option(True, "ablation: false keeps the per-patch level only (no group codes)")
    seed: int = option(0, "random seed (crops, initialisation)", lo=0, hi=2**31 - 1)

    def check(self) -> None:
        if self.crop_size % 64:
            raise InvalidInput("--crop-size must be a multiple of 64 (whole patches)")
        if self.name and ("/" in self.name or "@" in self.name or len(self.name) > 64):
            raise InvalidInput("--name takes a bare NAME: the version is the next free one")
