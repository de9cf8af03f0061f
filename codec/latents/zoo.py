"""A stored latent model, loaded: its network, codebook values and per-dim code tables.

The tables are integer CDFs built from the code counts the training run stored with the weights
(`code_counts`, each count at least 1), so every code a model can emit stays codable and every
machine builds the same tables.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from codec.entropy import CdfTables
from codec.errors import InvalidInput, ModelMismatch
from codec.latents.model import LatentAE, to_images, to_tensor
from codec.models import Manifest, ModelStore, StoredModel
from codec.models.cache import BuiltModels

KIND = "latent-model"


@dataclass
class LatentModel:
    manifest: Manifest
    net: LatentAE
    tables: CdfTables
    device: torch.device

    @property
    def dims(self) -> int:
        return int(self.net.n)

    @property
    def levels(self) -> int:
        return int(self.manifest.arch["levels"])

    @property
    def channels(self) -> int:
        return int(self.manifest.arch["channels"])

    @property
    def size(self) -> int:
        return int(self.manifest.arch["size"])

    def values(self) -> np.ndarray:
        """(dims, levels) codebook values: what code k of dim j stands for."""
        return self.net.quantizer.values.detach().cpu().numpy().astype(np.float64)

    @torch.no_grad()
    def encode(self, images: np.ndarray) -> np.ndarray:
        """(B, H, W, C) uint8 at the model's size -> (B, dims) int64 codes."""
        out = [
            self.net.encode(to_tensor(images[i : i + 256], self.device)).cpu()
            for i in range(0, len(images), 256)
        ]
        return torch.cat(out).numpy().astype(np.int64)

    @torch.no_grad()
    def decode(self, codes: np.ndarray) -> np.ndarray:
        """(B, dims) codes -> (B, H, W, C) uint8."""
        idx = torch.from_numpy(np.asarray(codes, dtype=np.int64)).to(self.device)
        return to_images(self.net.decode_indices(idx))


_BUILT: BuiltModels[LatentModel] = BuiltModels()


def _load(stored: StoredModel, device: torch.device) -> LatentModel:
    """Built once per (model, weights, device) (codec.models.cache)."""
    return _BUILT.get(stored, lambda s: _build(s, device), str(device))


def _build(stored: StoredModel, device: torch.device) -> LatentModel:
    m = stored.manifest
    if m.kind != KIND or m.arch.get("latent") != "qlae":
        raise InvalidInput(f"{m.spec} is a {m.kind} ({m.arch.get('latent', '?')}), not a QLAE latent model")
    tensors = stored.load("torch")
    counts = tensors.pop("code_counts", None)
    if counts is None:
        raise ModelMismatch(f"{m.spec} has no code tables (code_counts)")
    net = LatentAE(m.arch)
    net.load_state_dict(tensors)
    net.to(device).eval()
    c = counts.numpy().astype(np.int64)
    tables = CdfTables.from_counts(list(c), [0] * len(c))
    return LatentModel(m, net, tables, device)


def load_model(spec: str, store: ModelStore, device: torch.device) -> LatentModel:
    return _load(store.get(spec), device)


def load_ref(name: str, version: str, sha256: bytes, store: ModelStore, device: torch.device) -> LatentModel:
    return _load(store.resolve_ref(name, version, sha256), device)
