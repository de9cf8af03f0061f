"""The vector codec's options: the one declaration CLI flags, the gRPC map and validation use."""

from __future__ import annotations

from dataclasses import dataclass

from codec.errors import InvalidInput
from codec.options import option


@dataclass
class EncodeOptions:
    bytes_per_vector: float = option(
        16.0,
        "size of the file on disk divided by the number of vectors (header, tables and any stored"
        " rotation included)",
        unit="bytes/vector",
        lo=0.01,
        hi=1 << 20,
    )
    model: str = option(
        "",
        "the embedder that made the vectors (NAME[@vN] in the model store): its Matryoshka prefix"
        " replaces the PCA rotation, and the file names it; empty: any float vectors",
    )
    max_dims: int = option(
        0, "keep at most this many leading dimensions (0: chosen by rate control)", lo=0, hi=1 << 16
    )
    objective: str = option(
        "recall",
        "what rate control maximises within the budget: recall (each sampled vector's exact top-10"
        " neighbours found again among the decoded sample) or mse (squared error)",
        choices=("recall", "mse"),
    )
    normalize: str = option(
        "auto",
        "renormalise decoded vectors to unit length: auto (when every input vector has unit length), yes, no",
        choices=("auto", "yes", "no"),
    )

    def check(self) -> None:
        if self.model and ("/" in self.model or len(self.model) > 80):
            raise InvalidInput("--model takes a model store name, NAME or NAME@vN")


@dataclass
class DecodeOptions:
    pass
