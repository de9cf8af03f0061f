"""Image priors in the model store: load one by name or by a file's reference."""

from __future__ import annotations

from codec.errors import InvalidInput
from codec.image.recombiner.coding import KIND, PriorModel, prior_from_tensors
from codec.models import Manifest, ModelStore, StoredModel
from codec.models.cache import BuiltModels


def _build(stored: StoredModel) -> tuple[Manifest, PriorModel]:
    m = stored.manifest
    if m.kind != KIND:
        raise InvalidInput(f"{m.spec} is a {m.kind}, not an image prior")
    return m, prior_from_tensors(stored.load("torch"), m.arch)


_BUILT: BuiltModels[tuple[Manifest, PriorModel]] = BuiltModels()


def _load(stored: StoredModel) -> tuple[Manifest, PriorModel]:
    """Built once per prior and weights (codec.models.cache); the network is used read-only."""
    return _BUILT.get(stored, _build)


DEFAULT_BPP = 0.3


def load_prior(spec: str, store: ModelStore) -> tuple[Manifest, PriorModel]:
    return _load(store.get(spec))


def choose_prior(bpp: float | None, store: ModelStore) -> str:
    """The newest version of each stored prior, by rate point: the highest at or below `bpp`
    (DEFAULT_BPP when None), else the lowest there is. NAME@vN."""
    target = DEFAULT_BPP if bpp is None else bpp
    newest: dict[str, StoredModel] = {}
    for s in store.stored(KIND):
        newest[s.manifest.name] = s  # stored() lists versions in order
    points = sorted((float(s.manifest.arch.get("bpp", 0)), s.spec) for s in newest.values())
    if not points:
        raise InvalidInput(
            "no image prior in the model store: train one with `codec train prior` or import one"
        )
    below = [p for p in points if p[0] <= target]
    return (below[-1] if below else points[0])[1]


def load_prior_ref(name: str, version: str, sha256: bytes, store: ModelStore) -> tuple[Manifest, PriorModel]:
    return _load(store.resolve_ref(name, version, sha256))
