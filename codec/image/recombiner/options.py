"""RECOMBINER's options, declared once (CLI flags, gRPC maps, checks). No torch import."""

from __future__ import annotations

from dataclasses import dataclass

from codec.device import DEVICE_HELP, check_device_name
from codec.errors import InvalidInput
from codec.options import option


@dataclass
class EncodeOptions:
    prior: str = option(
        "", "the image prior (NAME[@vN] in the model store, kind image-prior): its rate point"
    )
    steps: int = option(3000, "posterior fitting steps (the paper: 30,000)", lo=1, hi=1_000_000)
    finetune_steps: int = option(
        20, "greedy fine-tuning steps after each round of coded blocks (0: none)", lo=0, hi=100_000
    )
    samples: int = option(5, "Monte Carlo draws per fitting step", lo=1, hi=64)
    seed: int = option(0, "random seed of the fit and of the sample choices", lo=0, hi=2**31 - 1)
    device: str = option("auto", "where the posterior is fitted: " + DEVICE_HELP)

    def check(self) -> None:
        check_device_name(self.device)
        if not self.prior or "/" in self.prior or len(self.prior) > 80:
            raise InvalidInput(
                "--prior takes a model store name, NAME or NAME@vN (codec model list --kind image-prior)"
            )


@dataclass
class DecodeOptions:
    pass
