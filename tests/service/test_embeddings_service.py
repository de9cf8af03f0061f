"""EmbeddingService and IndexService against a real server on loopback: the shipped image
embedder, the vector codec over gRPC, the server's collections, and the error codes."""

from __future__ import annotations

import io
import json

import grpc
import numpy as np
import pytest
from PIL import Image

from codec import api
from codec.client import CodecClient, RetryPolicy
from codec.errors import CodecError, InvalidInput, ModelMismatch
from codec.rpc import embeddings_pb2, embeddings_pb2_grpc
from tests.index.test_index import pca_ordered
from tests.vectors.conftest import DATA, pixel_vectors


@pytest.fixture
def client(server) -> CodecClient:
    return CodecClient(server.target, retry=RetryPolicy(attempts=1))


def png(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    return buf.getvalue()


def code_of(call) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value.code()


def test_embed_matches_the_library_at_every_nesting_dim(client):
    from codec.embed.embedder import load_embedder

    with np.load(DATA) as d:
        items = d["test_x"][:5]
    local = load_embedder("fmnist-mrl@v1")
    for dim in (8, 64, 256):
        spec, v = client.embed("fmnist-mrl@v1", dim, images=[png(a) for a in items])
        assert spec == "fmnist-mrl@v1" and v.shape == (5, dim)
        assert np.allclose(v, local.embed_images(items, dim), atol=1e-5)


def test_uploaded_images_embed_as_the_cli_reads_their_files(client, tmp_path):
    """An upload is read as `codec embed` reads the file (codec.io.image): a phone JPEG's EXIF
    rotation is applied in both, so the server and the CLI give the same vector."""
    from codec.embed.embedder import load_embedder, model_input, read_inputs

    with np.load(DATA) as d:
        item = np.ascontiguousarray(np.repeat(d["test_x"][7][:, 4:20, None], 3, axis=2))  # 28x16 RGB
    im = Image.fromarray(item)
    exif = im.getexif()
    exif[0x0112] = 6  # stored sideways: viewers turn it 90 degrees clockwise
    im.save(tmp_path / "phone.jpg", exif=exif.tobytes(), quality=95)
    _, served = client.embed("fmnist-mrl@v1", images=[(tmp_path / "phone.jpg").read_bytes()])
    local = load_embedder("fmnist-mrl@v1").embed_images(read_inputs([tmp_path / "phone.jpg"]))
    assert np.allclose(served, local, atol=1e-5)
    stored = np.asarray(Image.open(tmp_path / "phone.jpg").convert("RGB"))  # EXIF not applied
    sideways = load_embedder("fmnist-mrl@v1").embed_images(model_input(stored)[None])
    assert not np.allclose(served, sideways, atol=1e-2)  # the rotation was applied, not ignored


def test_vector_files_round_trip_over_grpc(client, tmp_path):
    x = pixel_vectors(500)
    data, rate = client.encode_vectors(x, {"bytes_per_vector": 16.0})
    assert rate == len(data) / 500 and rate <= 16
    dec = client.decode_vectors(data)
    (tmp_path / "v.ncv").write_bytes(data)
    api.decode(tmp_path / "v.ncv", tmp_path / "v.npy")  # the same file decodes locally, to the same vectors
    assert np.array_equal(dec, np.load(tmp_path / "v.npy"))
    assert dec.shape == x.shape and float(((dec - x) ** 2).sum(1).mean()) < 0.2


def test_collections_over_grpc(client):
    g = pca_ordered(pixel_vectors(300))
    client.create_collection("fm", "", [16, 196])
    r = client.upsert(
        "fm", [f"i{i}" for i in range(300)], g, ["even" if i % 2 == 0 else "odd" for i in range(300)]
    )
    assert r.points == 300 and r.total == 300
    hits = client.search("fm", g[:4] + 0.01, k=3, mode="full")
    assert [h[0][0] for h in hits] == ["i0", "i1", "i2", "i3"]
    hits = client.search("fm", g[:4], k=3, filter={"label": "odd"})
    assert all(p["label"] == "odd" for hs in hits for _, _, p in hs)
    assert client.get_collection("fm").points == 300
    assert len(client.snapshot("fm")) > 300 * 196 * 4


def test_bad_requests_get_the_right_codes(server, client):
    stub = embeddings_pb2_grpc.EmbeddingServiceStub(grpc.insecure_channel(server.target))
    index = embeddings_pb2_grpc.IndexServiceStub(grpc.insecure_channel(server.target))
    img = png(np.zeros((28, 28), np.uint8))
    E = embeddings_pb2
    cases = [
        (lambda: stub.Embed(E.EmbedRequest(model="nope", images=[img])), grpc.StatusCode.FAILED_PRECONDITION),
        (
            lambda: stub.Embed(E.EmbedRequest(model="fmnist-mrl@v9", images=[img])),
            grpc.StatusCode.FAILED_PRECONDITION,
        ),
        (
            lambda: stub.Embed(E.EmbedRequest(model="fmnist-mrl", dim=12, images=[img])),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (lambda: stub.Embed(E.EmbedRequest(model="fmnist-mrl")), grpc.StatusCode.INVALID_ARGUMENT),
        (
            lambda: stub.Embed(E.EmbedRequest(model="fmnist-mrl", images=[b"junk"])),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (
            lambda: stub.Embed(E.EmbedRequest(model="fmnist-mrl", images=[img] * 5000)),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (
            lambda: stub.DecodeVectors(E.DecodeVectorsRequest(file=b"NCDC" + bytes(60))),
            grpc.StatusCode.DATA_LOSS,
        ),
    ]
    nan = E.Matrix(rows=1, cols=2, data=np.array([np.nan, 1], "<f4").tobytes())
    short = E.Matrix(rows=2, cols=2, data=bytes(12))
    cases += [
        (lambda: stub.EncodeVectors(E.EncodeVectorsRequest(vectors=nan)), grpc.StatusCode.INVALID_ARGUMENT),
        (lambda: stub.EncodeVectors(E.EncodeVectorsRequest(vectors=short)), grpc.StatusCode.INVALID_ARGUMENT),
        (lambda: index.GetCollection(E.CollectionRef(name="nope")), grpc.StatusCode.INVALID_ARGUMENT),
        (
            lambda: index.Search(E.SearchRequest(collection="nope", queries=short)),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
    ]
    for call, code in cases:
        assert code_of(call) == code
    client.create_collection("c", "", [8, 16])
    wrong = E.UpsertRequest(collection="c", ids=["a"], vectors=E.Matrix(rows=1, cols=12, data=bytes(48)))
    assert code_of(lambda: index.Upsert(iter([wrong]))) == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(CodecError, match="must be 16-d vectors"):
        client.search("c", np.ones((1, 12), np.float32))
    assert client.health() == "SERVING"


def test_cli_embed_encode_and_decode_through_the_server(server, tmp_path, capsys):
    from codec.cli import main

    with np.load(DATA) as d:
        items = d["test_x"][:3]
    paths = []
    for i, a in enumerate(items):
        paths.append(tmp_path / f"{i}.png")
        Image.fromarray(a).save(paths[-1])
    args = ["embed", "--model", "fmnist-mrl@v1", "--dim", "16", *map(str, paths), "-o"]
    assert main([*args, str(tmp_path / "l.npy")]) == 0
    assert main([*args, str(tmp_path / "r.npy"), "--server", server.target]) == 0
    assert np.allclose(np.load(tmp_path / "l.npy"), np.load(tmp_path / "r.npy"), atol=1e-5)
    np.save(tmp_path / "g.npy", pixel_vectors(300))
    enc = ["encode", str(tmp_path / "g.npy"), "--codec", "vectors", "--bytes-per-vector", "12"]
    assert main([*enc, "-o", str(tmp_path / "local.ncv")]) == 0
    assert main([*enc, "-o", str(tmp_path / "remote.ncv"), "--server", server.target]) == 0
    assert (tmp_path / "local.ncv").read_bytes() == (tmp_path / "remote.ncv").read_bytes()
    dec = ["decode", str(tmp_path / "remote.ncv"), "-o", str(tmp_path / "d.npy")]
    assert main([*dec, "--server", server.target]) == 0
    assert main(["decode", str(tmp_path / "local.ncv"), "-o", str(tmp_path / "e.npy")]) == 0
    assert np.array_equal(np.load(tmp_path / "d.npy"), np.load(tmp_path / "e.npy"))
    capsys.readouterr()


def test_cli_index_through_the_server(server, tmp_path, capsys):
    from codec.cli import main

    def run(*args: str) -> str:
        code = main([*args, "--server", server.target])
        out, err = capsys.readouterr()
        assert code == 0, err
        return out

    g = pca_ordered(pixel_vectors(200))
    np.save(tmp_path / "g.npy", g)
    np.save(tmp_path / "q.npy", g[:2])
    assert "prefixes 16, 196" in run("index", "create", "fm", "--dims", "16,196")
    out = run("index", "add", "fm", str(tmp_path / "g.npy"), "--label", "x")
    assert "added 200 points to fm (200 in all)" in out
    lines = run("index", "search", "fm", str(tmp_path / "q.npy"), "--k", "2", "--json").splitlines()

    assert [json.loads(x)["hits"][0]["id"] for x in lines] == ["g:0", "g:1"]
    assert "fm" in run("index", "list")
    assert "wrote 200 points" in run("index", "snapshot", "fm", "-o", str(tmp_path / "s.snap"))
    assert "restored fm2: 200 points" in run("index", "restore", str(tmp_path / "s.snap"), "--name", "fm2")
    assert "(199 points left)" in run("index", "delete", "fm", "--id", "g:0")
    # the shipped image embedder, on the server, embeds what is added and searched
    with np.load(DATA) as d:
        items = d["test_x"][:6]
    paths = []
    for i, a in enumerate(items):
        paths.append(str(tmp_path / f"{i}.png"))
        Image.fromarray(a).save(paths[-1])
    assert "prefixes 16, 256 of fmnist-mrl@v1" in run("index", "create", "shop", "--model", "fmnist-mrl@v1")
    assert "added 6 points" in run("index", "add", "shop", *paths)
    out = run("index", "search", "shop", paths[3], "--k", "1", "--json")
    assert json.loads(out)["hits"][0]["id"] == paths[3]
    # `codec index upgrade --server`: v2 queries (embedded there) search the v1 points at once
    assert "queries and new items use fmnist-mrl@v2" in run(
        "index", "upgrade", "shop", "--to", "fmnist-mrl@v2"
    )
    hits = json.loads(run("index", "search", "shop", paths[3], "--k", "3", "--json"))["hits"]
    assert paths[3] in [h["id"] for h in hits] and {h["model"] for h in hits} == {"fmnist-mrl@v1"}
    # a backfill job there reads no client-side path: these sources are outside its sources/ dir
    out = run("index", "backfill", "shop")
    assert "0 re-embedded" in out and "6 without a source" in out, out


def test_upgrade_and_backfill_over_grpc(server, client, tmp_path):
    """A collection filled by v1 answers v2 queries once UpgradeCollection returns; the backfill
    job re-embeds its points from sources under the server's data dir; bad upgrades get clear codes."""
    with np.load(DATA) as d:
        x, y = d["test_x"][:60], d["test_y"][:60]
    sources = tmp_path / "data" / "sources"  # the server reads image sources only under here
    sources.mkdir(parents=True)
    paths = []
    for i, a in enumerate(x[:50]):
        paths.append(sources / f"{i}.png")
        paths[-1].write_bytes(png(a))
    client.create_collection("shop", "fmnist-mrl@v1", [16, 256])
    _, g = client.embed("fmnist-mrl@v1", images=[p.read_bytes() for p in paths])
    client.upsert("shop", [p.name for p in paths], g, [str(v) for v in y[:50]], [str(p) for p in paths])
    with pytest.raises(ModelMismatch, match="no model fmnist-mrl@v9"):  # FAILED_PRECONDITION
        client.upgrade_collection("shop", "fmnist-mrl@v9")
    with pytest.raises(InvalidInput, match=r"lineage: none"):  # INVALID_ARGUMENT, with the lineage
        client.upgrade_collection("shop", "wordnet-mrl@v1")
    c = client.upgrade_collection("shop", "fmnist-mrl@v2")
    assert (c.model, c.space, c.model_dim, c.full_space) == ("fmnist-mrl@v2", "fmnist-mrl@v1", 320, False)
    assert client.get_model("fmnist-mrl@v2").lineage[0].model == "fmnist-mrl@v1"
    _, q = client.embed("fmnist-mrl@v2", images=[png(a) for a in x[50:]])
    hits = client.search("shop", q, k=1, mode="full")
    assert np.mean([h[0][2]["label"] == str(t) for h, t in zip(hits, y[50:], strict=True)]) >= 0.6
    assert all(h[0][2]["model"] == "fmnist-mrl@v1" for h in hits)  # no point was re-embedded
    job = client.submit_job("index.backfill", {"collection": "shop", "batch": 16})
    info = dict(client.watch_job(job, lambda e: None).result_info)
    assert (info["rewritten"], info["unsourced"], info["full_space"]) == (50.0, 0.0, 1.0)
    c = client.get_collection("shop")
    assert c.full_space and c.points == c.points_by_new_model == 50
    hits = client.search("shop", q, k=1, mode="full")
    assert all(h[0][2]["model"] == "fmnist-mrl@v2" for h in hits)
