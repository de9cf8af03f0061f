"""Image priors in the model store: load one by name or by a file's reference."""

from __future__ import annotations

from codec.errors import InvalidInput
from codec.image.recombiner.coding import KIND, PriorModel, prior_from_tensors
from codec.models import Manifest, ModelStore, StoredModel


def _load(stored: StoredModel) -> tuple[Manifest, PriorModel]:
    m = stored.manifest
    if m.kind != KIND:
        raise InvalidInput(f"{m.spec} is a {m.kind}, not an image prior")
    return m, prior_from_tensors(stored.load("torch"), m.arch)


def load_prior(spec: str, store: ModelStore) -> tuple[Manifest, PriorModel]:
    return _load(store.get(spec))


def load_prior_ref(name: str, version: str, sha256: bytes, store: ModelStore) -> tuple[Manifest, PriorModel]:
    return _load(store.resolve_ref(name, version, sha256))
