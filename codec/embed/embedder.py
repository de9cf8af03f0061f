"""A stored embedder, loaded from the model store, that embeds images or texts at a requested dim.

An embedding at dim m is the first m dims of the full one, L2-renormalised (`mrl.prefix`). A dim
outside the model's nesting list is refused unless `allow_any_dim` (MRL interpolates between
nesting dims reasonably, but only the listed ones were trained for).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch

from codec.embed.prefix import prefix
from codec.errors import InvalidInput, ModelMismatch

MAX_BATCH = 100_000  # items in one embed call


@dataclass
class Embedder:
    spec: str  # NAME@vN
    kind: str  # "image" or "text"
    dim: int
    dims: list[int]
    encoder: torch.nn.Module
    device: torch.device

    def check_dim(self, dim: int, allow_any: bool = False) -> int:
        if dim == 0:
            return self.dim
        if not 1 <= dim <= self.dim:
            raise InvalidInput(f"--dim {dim} is outside 1..{self.dim} for {self.spec}")
        if dim not in self.dims and not allow_any:
            raise InvalidInput(
                f"--dim {dim} is not a nesting dim of {self.spec} ({', '.join(map(str, self.dims))});"
                " --allow-any-dim takes it anyway"
            )
        return dim

    def embed_images(self, images: np.ndarray, dim: int = 0, allow_any: bool = False) -> np.ndarray:
        """(N, 28, 28) uint8 gray images -> (N, dim) unit vectors."""
        if self.kind != "image":
            raise InvalidInput(f"{self.spec} embeds texts, not images")
        dim = self.check_dim(dim, allow_any)
        x = torch.from_numpy(np.array(images, dtype=np.uint8))  # a writable copy
        return prefix(self._run(x), dim)

    def embed_texts(self, texts: list[str], dim: int = 0, allow_any: bool = False) -> np.ndarray:
        if self.kind != "text":
            raise InvalidInput(f"{self.spec} embeds images, not texts")
        dim = self.check_dim(dim, allow_any)
        from codec.embed.train import text_features

        feats = text_features(texts, None, lambda e: None, "embed")
        return prefix(self._run(feats), dim)

    def _run(self, x: torch.Tensor, batch: int = 1024) -> np.ndarray:
        if len(x) == 0:
            raise InvalidInput("nothing to embed: the batch is empty")
        if len(x) > MAX_BATCH:
            raise InvalidInput(f"{len(x)} items exceed the batch limit of {MAX_BATCH}")
        out = []
        with torch.no_grad():
            for i in range(0, len(x), batch):
                out.append(self.encoder(x[i : i + batch].to(self.device)).float().cpu().numpy())
        return np.concatenate(out)


def load_embedder(spec: str, store=None, device: str = "cpu") -> Embedder:
    """NAME or NAME@vN from the store, rebuilt from its manifest; ModelMismatch if it is not one."""
    from codec.device import pick_device
    from codec.embed.train import build_encoder
    from codec.models import default_store

    store = store or default_store()
    manifest, tensors = store.load_tensors(spec, framework="torch")
    if manifest.kind != "embedder":
        raise ModelMismatch(f"{manifest.spec} is a {manifest.kind}, not an embedder")
    arch = manifest.arch
    try:
        encoder = build_encoder(arch)
        encoder.load_state_dict({k[8:]: v for k, v in tensors.items() if k.startswith("encoder.")})
    except (KeyError, RuntimeError, TypeError, ValueError) as e:
        raise ModelMismatch(f"{manifest.spec}: weights do not fit its arch ({type(e).__name__})") from None
    _fold_parametrizations(encoder)
    dev = pick_device(device)
    return Embedder(
        manifest.spec,
        arch["input"],
        int(arch["dim"]),
        [int(d) for d in arch["dims"]],
        encoder.to(dev).eval(),
        dev,
    )


def _fold_parametrizations(module: torch.nn.Module) -> None:
    """Replace parametrized weights (BT²'s orthogonal maps) by their values: embedding then costs
    a plain matmul instead of a matrix exponential per call."""
    from torch.nn.utils import parametrize

    for m in module.modules():
        if parametrize.is_parametrized(m):
            for name in list(m.parametrizations):
                parametrize.remove_parametrizations(m, name, leave_parametrized=True)


def read_inputs(paths: list[str | os.PathLike[str]]) -> np.ndarray:
    """Image files -> (N, 28, 28) uint8 gray, read as every codec reads images (codec.io.image:
    upright, 16-bit rounded, pixel limit from the header), resized as the image embedder was trained."""
    from codec.io.image import read_image

    return np.stack([model_input(read_image(p)[0]) for p in paths])


def model_input(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> (28, 28) uint8 gray: what the image embedders were trained on (Pillow's
    luma and bilinear resize; a gray image read as three equal channels gets its own values back)."""
    from PIL import Image

    return np.asarray(Image.fromarray(rgb).convert("L").resize((28, 28), Image.BILINEAR), dtype=np.uint8)
