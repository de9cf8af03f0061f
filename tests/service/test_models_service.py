"""ModelService: the server lists and describes the models of its store (shipped + data dir)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from codec.client import CodecClient
from codec.errors import ModelMismatch
from codec.models import ModelStore


def test_list_and_get_models(make_server, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("CODEC_SHIPPED_MODELS", str(tmp_path / "no-shipped-models"))
    data_dir = tmp_path / "data"
    store = ModelStore(data_dir)
    tensors = {"w": np.arange(12, dtype=np.float32).reshape(3, 4), "b": np.zeros(3, dtype=np.float32)}
    arch = {"layers": [4, 3]}
    training = {"command": "codec train test", "data": "none", "metrics": {"loss": 0.5}}
    v1 = store.save("tiny-net", "test", tensors, arch, training)
    v2 = store.save("tiny-net", "test", {**tensors, "b": np.ones(3, dtype=np.float32)}, arch, training)
    assert (v1.version, v2.version) == ("v1", "v2")

    client = CodecClient(make_server(data_dir=data_dir).target)
    models = client.list_models()
    assert [(m.name, m.version, m.kind, m.shipped) for m in models] == [
        ("tiny-net", "v1", "test", False),
        ("tiny-net", "v2", "test", False),
    ]
    assert client.list_models(kind="embedder") == []
    newest = client.get_model("tiny-net")
    assert newest.version == "v2" and newest.sha256 == v2.weights.sha256
    assert json.loads(newest.manifest_json)["arch"] == arch
    assert client.get_model("tiny-net@v1").sha256 == v1.weights.sha256
    with pytest.raises(ModelMismatch, match="tiny-net@v7"):
        client.get_model("tiny-net@v7")
