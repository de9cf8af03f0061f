"""Model store: versioned weights (safetensors) + JSON manifests for priors, embedders, latent models.

Format and rules: `codec/models/manifest.py`, `codec/models/store.py`, docs/MODELS.md. Typical use:

    store = ModelStore(data_dir)
    m = store.save("bt2-embedder", "embedder", model.state_dict(), arch, training)   # -> v1, v2, ...
    manifest, tensors = store.load_tensors("bt2-embedder@v2", framework="torch")
    model = store.resolve_ref(ref.name, ref.version, ref.sha256)  # a decoder, from a file's ModelRef
"""

from codec.models.manifest import SCHEMA, Lineage, Manifest, Weights, parse_spec, version_number
from codec.models.store import (
    ARCHIVE_SUFFIX,
    MAX_WEIGHTS_BYTES,
    SHIPPED_ENV,
    ModelStore,
    StoredModel,
    default_store,
    shipped_models_dir,
)

__all__ = [
    "ARCHIVE_SUFFIX",
    "MAX_WEIGHTS_BYTES",
    "SCHEMA",
    "SHIPPED_ENV",
    "Lineage",
    "Manifest",
    "ModelStore",
    "StoredModel",
    "Weights",
    "default_store",
    "parse_spec",
    "shipped_models_dir",
    "version_number",
]
