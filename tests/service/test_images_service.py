"""ImageService against a real server on loopback, with RECOMBINER registered and a tiny prior in
the server's model store (no prior ships yet)."""

from __future__ import annotations

import io

import grpc
import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from codec import api
from codec.rpc import images_pb2, images_pb2_grpc
from codec.rpc.options import to_proto_map
from tests.service.test_embeddings_service import code_of, png


@pytest.fixture
def recombiner_server(make_server, tmp_path):
    from codec.image.recombiner.coding import KIND, prior_tensors
    from codec.image.recombiner.data import training_crops
    from codec.image.recombiner.train import TrainPriorConfig, train_prior
    from codec.models import ModelStore

    data = tmp_path / "server"
    crops, _ = training_crops(1, size=64, seed=2)
    model = train_prior(
        crops, TrainPriorConfig(iterations=1, steps=3, first_steps=3, block_bits=8, beta_init=1e-3)
    ).model
    arch = {"type": "recombiner-prior", "block_bits": 8, "bpp": 1.0}
    ModelStore(data).save("tiny-prior", KIND, prior_tensors(model), arch, {"command": "test", "seconds": 0})
    yield make_server(data_dir=data), data


def test_encode_and_decode_over_grpc_match_the_library(recombiner_server, tmp_path):
    server, data = recombiner_server
    stub = images_pb2_grpc.ImageServiceStub(grpc.insecure_channel(server.target))
    req = images_pb2.EncodeImageRequest(image=png(skdata.astronaut()[0:64, 0:96]))
    to_proto_map({"steps": 5, "samples": 1, "finetune_steps": 0}, req.options)
    r = stub.Encode(req)
    assert r.codec == "recombiner" and r.bpp > 0 and "psnr" in r.metrics
    (tmp_path / "x.rcb").write_bytes(r.file)
    from codec.datadir import use_data_dir

    with use_data_dir(data):
        api.decode(api.open(tmp_path / "x.rcb"), tmp_path / "x.png")
    d = stub.Decode(images_pb2.DecodeImageRequest(file=r.file))
    assert (d.width, d.height) == (96, 64)
    assert np.array_equal(
        np.asarray(Image.open(io.BytesIO(d.png))), np.asarray(Image.open(tmp_path / "x.png"))
    )

    bad = bytearray(r.file)
    bad[-1] ^= 0xFF
    assert (
        code_of(lambda: stub.Decode(images_pb2.DecodeImageRequest(file=bytes(bad))))
        == grpc.StatusCode.DATA_LOSS
    )
    assert (
        code_of(lambda: stub.Encode(images_pb2.EncodeImageRequest(image=b"nope")))
        == grpc.StatusCode.INVALID_ARGUMENT
    )
    unknown = images_pb2.EncodeImageRequest(image=png(skdata.astronaut()[0:64, 0:64]))
    to_proto_map({"prior": "no-such-prior"}, unknown.options)
    assert code_of(lambda: stub.Encode(unknown)) == grpc.StatusCode.FAILED_PRECONDITION
    assert stub.Decode(images_pb2.DecodeImageRequest(file=r.file)).png  # still serving
