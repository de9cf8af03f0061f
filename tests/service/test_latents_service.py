"""LatentService against a real server on loopback with the shipped latent models."""

from __future__ import annotations

import io

import grpc
import numpy as np
import pytest
from PIL import Image

from codec import api
from codec.client import CodecClient, RetryPolicy
from codec.latents.data import DSPRITES, SHAPES3D
from codec.rpc import jobs_pb2, latents_pb2, latents_pb2_grpc
from tests.service.test_embeddings_service import code_of, png


@pytest.fixture
def client(server) -> CodecClient:
    return CodecClient(server.target, retry=RetryPolicy(attempts=1))


@pytest.fixture
def stub(server):
    return latents_pb2_grpc.LatentServiceStub(grpc.insecure_channel(server.target))


def test_encode_decode_edit_traverse_over_grpc_match_the_library(client, tmp_path):
    import torch

    from codec.latents.zoo import load_model
    from codec.models import ModelStore

    images, _ = SHAPES3D.batch(np.random.default_rng(3), 3)
    r = client.encode_latents("shapes3d", [png(a) for a in images], ["a.png", "b.png", "c.png"])
    assert r.model == "shapes3d@v1" and not r.warnings
    local = load_model("shapes3d", ModelStore(tmp_path), torch.device("cpu"))
    codes = local.encode(images)
    assert [list(i.codes) for i in r.items] == codes.tolist()
    (tmp_path / "x.qla").write_bytes(r.file)
    assert api.open(tmp_path / "x.qla").config.count == 3  # a real qlae file

    d = client.decode_latents(r.file, images=True)
    assert [i.name for i in d.items] == ["a.png", "b.png", "c.png"] and d.levels == 10
    got = np.asarray(Image.open(io.BytesIO(d.images[1])))
    assert np.array_equal(got, local.decode(codes)[1])
    assert len(d.dims) == 12

    e = client.edit_latents(r.file, [(2, 7)], items=[0])
    after = np.array([list(i.codes) for i in e.items])
    assert np.argwhere(after != codes).tolist() in ([[0, 2]], [])  # [] when code 2 was 7 already
    assert after[0, 2] == 7

    t = client.traverse_latents("shapes3d", 2, data=r.file, rows=2)
    grid = Image.open(io.BytesIO(t.png))
    assert t.levels == 10 and grid.size[0] > 10 * 64 and grid.size[1] > 2 * 64


def test_decode_to_file_through_the_cli_server_flag(server, tmp_path):
    from codec.cli import main

    images, _ = SHAPES3D.batch(np.random.default_rng(4), 2)
    (tmp_path / "in").mkdir()
    for i, a in enumerate(images):
        Image.fromarray(a).save(tmp_path / "in" / f"p{i}.png")
    qla = tmp_path / "p.qla"
    assert main(["encode", str(tmp_path / "in"), "--codec", "qlae", "-o", str(qla)]) == 0
    assert main(["decode", str(qla), "-o", str(tmp_path / "out"), "--server", server.target]) == 0
    local = tmp_path / "local"
    assert main(["decode", str(qla), "-o", str(local)]) == 0
    for name in ("p0.png", "p1.png"):
        assert (tmp_path / "out" / name).read_bytes() and np.array_equal(
            np.asarray(Image.open(tmp_path / "out" / name)), np.asarray(Image.open(local / name))
        )


def test_bad_requests_get_the_right_codes_and_the_server_keeps_serving(stub):
    img = png(SHAPES3D.batch(np.random.default_rng(5), 1)[0][0])
    enc = latents_pb2.EncodeLatentsRequest
    assert code_of(lambda: stub.Encode(enc(model="shapes3d"))) == grpc.StatusCode.INVALID_ARGUMENT
    assert (
        code_of(lambda: stub.Encode(enc(model="shapes3d", images=[b"not an image"])))
        == grpc.StatusCode.INVALID_ARGUMENT
    )
    assert (
        code_of(lambda: stub.Encode(enc(model="no-such", images=[img])))
        == grpc.StatusCode.FAILED_PRECONDITION
    )
    good = stub.Encode(enc(model="shapes3d", images=[img, img]))
    broken = bytearray(good.file)
    broken[len(broken) // 2] ^= 0xFF  # CRC no longer matches
    dec = latents_pb2.DecodeLatentsRequest
    assert code_of(lambda: stub.Decode(dec(file=bytes(broken)))) == grpc.StatusCode.DATA_LOSS
    assert code_of(lambda: stub.Decode(dec(file=b"NCDC junk"))) == grpc.StatusCode.DATA_LOSS
    edit = latents_pb2.EditLatentsRequest
    out_of_range = [latents_pb2.CodeSet(dim=0, value=10)]
    assert (
        code_of(lambda: stub.Edit(edit(file=good.file, set=out_of_range))) == grpc.StatusCode.INVALID_ARGUMENT
    )
    trav = latents_pb2.TraverseRequest
    assert code_of(lambda: stub.Traverse(trav(model="shapes3d", dim=99))) == grpc.StatusCode.INVALID_ARGUMENT
    assert stub.Decode(dec(file=good.file)).items  # still serving


def test_training_runs_as_a_job_into_the_servers_store(client):
    from tests.latents.test_train import TINY

    job_id = client.submit_job("latents.train", {**TINY, "steps": 5, "name": "tiny-job"})
    job = client.watch_job(job_id, lambda e: None)
    assert job.result_info["steps"] == 5 and 0 <= job.result_info["infoe"] <= 1
    stored = [f"{m.name}@{m.version}" for m in client.list_models("latent-model")]
    assert "tiny-job@v1" in stored
    gray = DSPRITES.batch(np.random.default_rng(0), 1)[0][0, ..., 0]
    assert client.encode_latents("tiny-job", [png(gray)]).model == "tiny-job@v1"
    failed = client.watch_job(client.submit_job("latents.train", {**TINY, "data": "/etc"}), lambda e: None)
    assert failed.state == jobs_pb2.JOB_STATE_FAILED and "only, not a path" in failed.error.message
