"""The model store: versions are never overwritten, every load is hash-checked, hostile archives are
refused before anything becomes visible, and concurrent writers never share a version."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from codec.cli.models import mount
from codec.errors import CodecError, CorruptData, InvalidInput, ModelMismatch, ResourceLimit
from codec.models import Manifest, ModelStore, parse_spec, version_number

ROOT = Path(__file__).resolve().parents[2]
ARCH = {"in": 4, "out": 3, "layers": [4, 3]}
TRAINING = {"command": "codec train-embedder --epochs 2", "data": "carphone", "metrics": {"loss": 0.25}}


def tensors(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"weight": rng.standard_normal((3, 4)).astype(np.float32), "bias": np.arange(3, dtype=np.float32)}


def make_store(tmp_path: Path, name: str = "data", shipped: Path | None = None) -> ModelStore:
    return ModelStore(tmp_path / name, shipped_dir=shipped or tmp_path / "no-shipped")


def save(store: ModelStore, name: str = "emb", seed: int = 0, **kw) -> Manifest:
    return store.save(name, "embedder", tensors(seed), ARCH, TRAINING, **kw)


@pytest.fixture
def store(tmp_path) -> ModelStore:
    return make_store(tmp_path)


def assert_one_line(err: BaseException, *needles: str, forbid: str | None = None) -> None:
    msg = str(err)
    assert "\n" not in msg, msg
    for n in needles:
        assert n in msg, msg
    if forbid:
        assert forbid not in msg, msg


# ---- versions ------------------------------------------------------------------------------------


def test_versions_newest_and_numeric_order(store):
    assert [save(store, seed=i).version for i in range(2)] == ["v1", "v2"]
    assert store.get("emb").manifest.version == "v2"
    assert save(store, seed=9, version="v9").version == "v9"
    assert save(store, seed=10).version == "v10"  # next after the highest number, not after "v9" as text
    assert store.get("emb").manifest.version == "v10"
    assert [m.version for m in store.list()] == ["v1", "v2", "v9", "v10"]
    assert parse_spec("emb@v10") == ("emb", "v10") and version_number("v10") > version_number("v9")
    for bad in ("Emb", "emb@", "emb@v0", "emb@v01", "emb@2", "-emb", "a@b@c", "x" * 65):
        with pytest.raises(InvalidInput):
            store.get(bad)
    with pytest.raises(ModelMismatch, match=r"no model emb@v3 \(emb has v1, v2, v9, v10\)"):
        store.get("emb@v3")
    with pytest.raises(ModelMismatch, match="no model named other .have: emb"):
        store.get("other")


def test_versions_are_never_overwritten(store):
    first = save(store, seed=1)
    with pytest.raises(ModelMismatch) as e:
        save(store, seed=2, version="v1")
    assert_one_line(e.value, "emb@v1", "never reused")
    assert save(store, seed=1, version="v1") == first  # same weights: a no-op returning what is stored
    _, loaded = store.load_tensors("emb@v1")
    assert np.array_equal(loaded["weight"], tensors(1)["weight"])


def test_delete_keeps_the_number_taken(store, tmp_path):
    save(store, seed=1)
    save(store, seed=2)
    archive = store.export("emb@v2", tmp_path)
    store.delete("emb@v2")
    with pytest.raises(ModelMismatch, match="emb has v1"):
        store.get("emb@v2")
    assert save(store, seed=3).version == "v3"  # v2 named other weights; files may still refer to it
    with pytest.raises(ModelMismatch, match="emb@v2 was deleted with other weights"):
        store.save("emb", "embedder", tensors(4), ARCH, TRAINING, version="v2")
    assert store.import_with_status(archive)[1] is True  # the same weights may come back as v2
    assert [m.version for m in store.list()] == ["v1", "v2", "v3"]
    with pytest.raises(InvalidInput, match="exact version"):
        store.delete("emb")


def test_torch_state_dict_round_trip(store):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    lin = torch.nn.Linear(4, 3)
    lineage = [{"relation": "compatible", "model": "base@v1", "dims": [0, 2], "note": "first 2 dims"}]
    m = store.save("lin", "latent-model", lin.state_dict(), ARCH, TRAINING, lineage=lineage, license="MIT")
    manifest, loaded = store.load_tensors("lin", framework="torch")
    assert manifest == m and manifest.lineage[0].dims == (0, 2) and manifest.license == "MIT"
    assert all(torch.equal(loaded[k], v) for k, v in lin.state_dict().items())
    _, arrays = store.load_tensors("lin@v1")
    assert np.array_equal(arrays["weight"], lin.weight.detach().numpy())
    ref = m.ref()
    assert (ref.name, ref.version, ref.sha256) == ("lin", "v1", bytes.fromhex(m.weights.sha256))
    with pytest.raises(InvalidInput, match="lineage"):
        store.save("lin", "latent-model", lin.state_dict(), ARCH, TRAINING, lineage=[{"model": "base"}])
    with pytest.raises(InvalidInput, match="dims"):
        bad = [{"relation": "compatible", "model": "base@v1", "dims": [3, 1]}]
        store.save("lin", "latent-model", lin.state_dict(), ARCH, TRAINING, lineage=bad)


def test_bad_save_arguments(store):
    for kwargs in (
        {"name": "Bad Name"},
        {"kind": "Not A Kind"},
        {"arch": {"x": float("nan")}},
        {"arch": {"x": object()}},
        {"training": {"metrics": {"psnr": "high"}}},
        {"tensors": {}},
        {"tensors": {"w": [1, 2]}},
        {"version": "2"},
    ):
        args = {"name": "emb", "kind": "embedder", "tensors": tensors(), "arch": ARCH, "training": TRAINING}
        with pytest.raises(InvalidInput):
            store.save(**{**args, **kwargs})
    assert store.list() == []


# ---- corruption ----------------------------------------------------------------------------------


def test_flipped_weight_byte_is_refused_on_load(store, tmp_path):
    save(store)
    weights = store.root / "emb" / "v1" / "weights.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0x01
    weights.write_bytes(bytes(data))
    model = store.get("emb@v1")  # cheap checks pass: the size is right
    for load in (model.verify, lambda: store.load_tensors("emb"), lambda: store.export("emb", tmp_path)):
        with pytest.raises(CorruptData) as e:
            load()
        assert_one_line(e.value, "emb@v1", "sha256", forbid=str(tmp_path))
    assert not list(tmp_path.glob("*.ncmodel")) and not list(tmp_path.glob(".*.tmp"))


def _manifest_path(store: ModelStore) -> Path:
    return store.root / "emb" / "v1" / "manifest.json"


@pytest.mark.parametrize(
    "edit, needle",
    [
        (lambda d: "{not json", "not valid JSON"),
        (lambda d: json.dumps([d]), "not a JSON object"),
        (lambda d: json.dumps({k: v for k, v in d.items() if k != "kind"}), "missing field(s) kind"),
        (lambda d: json.dumps({**d, "kind": 5}), "kind"),
        (lambda d: json.dumps({**d, "schema": 2}), "schema 2"),
        (lambda d: json.dumps({**d, "arch": [1]}), "arch"),
        (lambda d: json.dumps({**d, "weights": {**d["weights"], "bytes": "12"}}), "weights.bytes"),
        (lambda d: json.dumps({**d, "weights": {**d["weights"], "file": "../x"}}), "weights.file"),
        (lambda d: json.dumps({**d, "training": {"metrics": {"a": "b"}}}), "metrics"),
        (lambda d: json.dumps({**d, "lineage": [{"relation": "compatible"}]}), "lineage[0]"),
        (lambda d: json.dumps({**d, "created": "yesterday"}), "created"),
        (lambda d: json.dumps({**d, "name": "Bad Name"}), "bad model name"),
        (lambda d: json.dumps({**d, "name": "other"}), "manifest says it is other@v1"),
        (lambda d: json.dumps({**d, "extra": 1}), "unknown field(s) extra"),
        (lambda d: json.dumps(d).replace("0.25", "NaN"), "not valid JSON"),
        (lambda d: "[" * 100_000, "nests too deeply"),
    ],
)
def test_corrupt_manifest(store, tmp_path, edit, needle):
    save(store)
    path = _manifest_path(store)
    path.write_text(edit(json.loads(path.read_text())))
    with pytest.raises(CorruptData) as e:
        store.get("emb@v1")
    assert_one_line(e.value, "emb@v1", needle, forbid=str(tmp_path))
    assert store.list() == []  # listing skips it ...
    assert len(store.problems()) == 1  # ... and says why


def test_missing_files(store, tmp_path):
    save(store)
    (store.root / "emb" / "v1" / "weights.safetensors").unlink()
    with pytest.raises(CorruptData) as e:
        store.get("emb")
    assert_one_line(e.value, "emb@v1", "weights file is missing", forbid=str(tmp_path))
    _manifest_path(store).unlink()
    with pytest.raises(CorruptData, match="emb@v1: manifest.json is missing"):
        store.get("emb")
    store.delete("emb@v1")  # a broken model can still be deleted
    assert save(store).version == "v2"


# ---- export / import -----------------------------------------------------------------------------


def test_export_import_round_trip(tmp_path):
    a, b = make_store(tmp_path, "a"), make_store(tmp_path, "b")
    original = save(a, seed=5, description="tiny test embedder")
    archive = a.export("emb", tmp_path / "out.ncmodel")
    with tarfile.open(archive) as tf:
        assert [(m.name, m.isreg()) for m in tf.getmembers()] == [
            ("manifest.json", True),
            ("weights.safetensors", True),
        ]
    assert a.export("emb@v1", tmp_path).name == "emb-v1.ncmodel"
    assert (tmp_path / "emb-v1.ncmodel").read_bytes() == archive.read_bytes()  # deterministic archives

    assert b.import_with_status(archive) == (original, True)
    assert b.import_with_status(archive) == (original, False)  # same name, version and weights: no-op
    assert b.get("emb@v1").manifest.to_json() == a.get("emb@v1").manifest.to_json()
    assert (b.root / "emb/v1/weights.safetensors").read_bytes() == (
        a.root / "emb/v1/weights.safetensors"
    ).read_bytes()
    _, got = b.load_tensors("emb@v1")
    assert all(np.array_equal(got[k], v) and got[k].dtype == v.dtype for k, v in tensors(5).items())

    c = make_store(tmp_path, "c")
    save(c, seed=6)  # c's emb@v1 is other weights
    with pytest.raises(ModelMismatch) as e:
        c.import_(archive)
    assert_one_line(e.value, "emb@v1", "--as-new-version")
    moved = c.import_(archive, as_new_version=True)
    assert moved.version == "v2" and moved.weights == original.weights
    assert c.import_with_status(archive, as_new_version=True) == (moved, False)  # not a third copy
    assert c.import_(b.root / "emb" / "v1", as_new_version=True) == moved  # a model directory imports too


def _tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]], mode: str = "w") -> Path:
    with tarfile.open(path, mode) as tf:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _reg(name: str) -> tarfile.TarInfo:
    return tarfile.TarInfo(name)


@pytest.fixture
def parts(tmp_path) -> tuple[bytes, bytes]:
    """(manifest.json, weights.safetensors) bytes of a real exported model."""
    src = make_store(tmp_path, "src")
    save(src)
    with tarfile.open(src.export("emb", tmp_path)) as tf:
        return tuple(tf.extractfile(n).read() for n in ("manifest.json", "weights.safetensors"))


def _hostile(tmp_path: Path, parts: tuple[bytes, bytes], kind: str) -> Path:
    manifest, weights = parts
    path = tmp_path / f"{kind}.ncmodel"
    if kind == "traversal":
        return _tar(path, [(_reg("../x"), manifest), (_reg("weights.safetensors"), weights)])
    if kind == "traversal-weights":
        return _tar(path, [(_reg("manifest.json"), manifest), (_reg("../../weights.safetensors"), weights)])
    if kind == "absolute":
        return _tar(path, [(_reg("/tmp/manifest.json"), manifest)])
    if kind == "symlink":
        link = tarfile.TarInfo("weights.safetensors")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        return _tar(path, [(_reg("manifest.json"), manifest), (link, None)])
    if kind == "hardlink":
        link = tarfile.TarInfo("weights.safetensors")
        link.type, link.linkname = tarfile.LNKTYPE, "manifest.json"
        return _tar(path, [(_reg("manifest.json"), manifest), (link, None)])
    if kind == "extra":
        return _tar(
            path,
            [(_reg("manifest.json"), manifest), (_reg("weights.safetensors"), weights), (_reg("x.sh"), b"")],
        )
    if kind == "missing-weights":
        return _tar(path, [(_reg("manifest.json"), manifest)])
    if kind == "wrong-order":
        return _tar(path, [(_reg("weights.safetensors"), weights), (_reg("manifest.json"), manifest)])
    if kind == "hash":
        bad = bytearray(weights)
        bad[-1] ^= 1
        return _tar(path, [(_reg("manifest.json"), manifest), (_reg("weights.safetensors"), bytes(bad))])
    if kind == "not-safetensors":  # consistent hash, but the bytes are no weights file
        junk = b"\xff" * 64
        doc = json.loads(manifest)
        doc["weights"].update(sha256=hashlib.sha256(junk).hexdigest(), bytes=len(junk))
        return _tar(
            path, [(_reg("manifest.json"), json.dumps(doc).encode()), (_reg("weights.safetensors"), junk)]
        )
    if kind == "declared-huge":  # the manifest claims 1 TiB
        doc = json.loads(manifest)
        doc["weights"]["bytes"] = 1 << 40
        return _tar(
            path, [(_reg("manifest.json"), json.dumps(doc).encode()), (_reg("weights.safetensors"), weights)]
        )
    if kind == "header-huge":  # a tar header claiming 10 GiB with no data behind it
        with open(path, "wb") as f:
            info = _reg("manifest.json")
            info.size = len(manifest)
            f.write(info.tobuf(format=tarfile.GNU_FORMAT) + manifest + b"\0" * (-len(manifest) % 512))
            big = _reg("weights.safetensors")
            big.size = 10 << 30
            f.write(big.tobuf(format=tarfile.GNU_FORMAT) + b"\0" * 1024)
        return path
    if kind == "huge-manifest":
        return _tar(path, [(_reg("manifest.json"), b" " * (2 << 20))])
    if kind == "gzip":
        return _tar(path, [(_reg("manifest.json"), manifest), (_reg("weights.safetensors"), weights)], "w:gz")
    if kind == "garbage":
        path.write_bytes(b"definitely not a tar file" * 40)
        return path
    if kind == "truncated":
        good = _tar(
            tmp_path / "good.ncmodel",
            [(_reg("manifest.json"), manifest), (_reg("weights.safetensors"), weights)],
        )
        path.write_bytes(good.read_bytes()[: 512 + len(manifest) + 600])
        return path
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind, error",
    [
        ("traversal", CorruptData),
        ("traversal-weights", CorruptData),
        ("absolute", CorruptData),
        ("symlink", CorruptData),
        ("hardlink", CorruptData),
        ("extra", CorruptData),
        ("missing-weights", CorruptData),
        ("wrong-order", CorruptData),
        ("hash", CorruptData),
        ("not-safetensors", CorruptData),
        ("declared-huge", ResourceLimit),
        ("header-huge", ResourceLimit),
        ("huge-manifest", ResourceLimit),
        ("gzip", CorruptData),
        ("garbage", CorruptData),
        ("truncated", CorruptData),
    ],
)
def test_hostile_archives_are_refused(tmp_path, parts, kind, error):
    archive = _hostile(tmp_path, parts, kind)
    store = make_store(tmp_path, "victim")
    with pytest.raises(error) as e:
        store.import_(archive)
    assert_one_line(e.value, forbid=str(tmp_path))
    assert store.list() == [] and store.problems() == []
    assert not any((store.root / ".staging").iterdir())  # nothing half-written left behind
    assert not (tmp_path / "x").exists() and not (tmp_path / "weights.safetensors").exists()


def test_import_dir_refuses_symlinked_weights(tmp_path, parts):
    model_dir = tmp_path / "m"
    model_dir.mkdir()
    (model_dir / "manifest.json").write_bytes(parts[0])
    (tmp_path / "real.safetensors").write_bytes(parts[1])
    (model_dir / "weights.safetensors").symlink_to(tmp_path / "real.safetensors")
    with pytest.raises(CorruptData, match="links are refused"):
        make_store(tmp_path, "victim").import_(model_dir)


# ---- concurrency ---------------------------------------------------------------------------------

WORKER = """
import json, sys
import numpy as np
from codec.models import ModelStore
data, shipped, archive, seed = sys.argv[1:5]
store = ModelStore(data, shipped_dir=shipped)
rng = np.random.default_rng(int(seed))
out = [store.save("emb", "embedder", {"w": rng.standard_normal(8).astype(np.float32)}, {}, {}).version
       for _ in range(3)]
manifest, added = store.import_with_status(archive)
print(json.dumps({"saved": out, "imported": manifest.spec, "added": added}))
"""


def test_concurrent_saves_and_imports_from_processes(tmp_path):
    src = make_store(tmp_path, "src")
    save(src, name="shared")
    archive = src.export("shared", tmp_path)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    data, shipped = str(tmp_path / "data"), str(tmp_path / "no-shipped")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, data, shipped, str(archive), str(i)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        results.append(json.loads(out))
    saved = sorted((v for r in results for v in r["saved"]), key=version_number)
    assert saved == [f"v{i}" for i in range(1, 13)]  # distinct versions, none lost
    assert sorted(r["added"] for r in results) == [
        False,
        False,
        False,
        True,
    ]  # one import won, the rest no-ops
    store = make_store(tmp_path)
    assert len(store.list()) == 13 and store.problems() == []
    for m in store.stored():
        m.verify()
    assert not any((store.root / ".staging").iterdir())


def test_concurrent_saves_from_threads(store):
    versions: list[str] = []
    errors: list[BaseException] = []

    def work(seed: int) -> None:
        try:
            versions.append(save(store, name="t", seed=seed).version)
        except BaseException as e:  # surfaced below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(versions, key=version_number) == [f"v{i}" for i in range(1, 9)]


# ---- shipped root, resolve_ref -------------------------------------------------------------------


@pytest.fixture
def shipped(tmp_path, monkeypatch) -> Path:
    """A shipped root (via $CODEC_SHIPPED_MODELS) holding prior@v1."""
    maker = make_store(tmp_path, "maker")
    maker.save("prior", "image-prior", tensors(7), {"channels": 3}, {"seconds": 12.5})
    root = tmp_path / "shipped"
    shutil.copytree(maker.root / "prior", root / "prior")
    monkeypatch.setenv("CODEC_SHIPPED_MODELS", str(root))
    return root


def test_shipped_models_are_read_only(tmp_path, shipped):
    store = ModelStore(tmp_path / "data")  # shipped root from the environment
    assert store.shipped_root == shipped.resolve()
    (model,) = store.stored()
    assert model.shipped and model.spec == "prior@v1"
    model.verify()
    with pytest.raises(InvalidInput, match="shipped"):
        store.delete("prior@v1")
    archive = store.export("prior", tmp_path)
    assert store.import_with_status(archive)[1] is False  # already shipped
    new = store.save("prior", "image-prior", tensors(8), {"channels": 3}, {})
    assert new.version == "v2" and (store.root / "prior" / "v2").is_dir()  # the user store continues the line
    assert not (shipped / "prior" / "v2").exists()
    assert [m.spec for m in store.list(kind="image-prior")] == ["prior@v1", "prior@v2"]


def test_resolve_ref(store):
    m1, m2 = save(store, seed=1), save(store, seed=2)
    assert store.resolve_ref("emb", "v2", m2.sha256).manifest == m2
    assert store.resolve_ref("emb", "v1", m1.weights.sha256).manifest == m1  # hex works too
    with pytest.raises(ModelMismatch) as e:
        store.resolve_ref("emb", "v2", m1.sha256)
    assert_one_line(
        e.value, f"this file needs model emb@v2 (sha256 {m1.weights.sha256[:16]}", "codec model import"
    )
    with pytest.raises(ModelMismatch) as e:
        store.resolve_ref("emb", "v7", m1.sha256)
    assert_one_line(e.value, "needs model emb@v7", "same weights are stored as emb@v1", "codec model import")
    with pytest.raises(ModelMismatch, match="needs model bt2@v3"):
        store.resolve_ref("bt2", "v3", bytes(32))
    with pytest.raises(InvalidInput):
        store.resolve_ref("emb", "v1", b"short")


# ---- CLI -----------------------------------------------------------------------------------------


def cli(args: list[str], input: str | None = None):
    app = typer.Typer()
    mount(app)

    @app.callback()
    def _root() -> None:
        """Throwaway root app: the real one is codec.cli."""

    return CliRunner().invoke(app, args, input=input)


def assert_cli_error(result, *needles: str) -> None:
    assert isinstance(result.exception, CodecError), result.output  # codec.cli.main: one line, exit 2
    assert_one_line(result.exception, *needles)


def test_cli_happy_path(tmp_path, shipped):
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    save(ModelStore(a), seed=1)
    save(ModelStore(a), seed=2)
    r = cli(["model", "list", "--data-dir", a])
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert [ln.split()[0] for ln in lines] == ["emb@v1", "emb@v2", "prior@v1"] and "(shipped)" in lines[2]
    r = cli(["model", "list", "--json", "--kind", "embedder", "--data-dir", a])
    assert [(d["name"], d["version"], d["shipped"]) for d in json.loads(r.stdout)] == [
        ("emb", "v1", False),
        ("emb", "v2", False),
    ]
    r = cli(["model", "show", "emb", "--verify", "--data-dir", a])
    assert r.exit_code == 0 and "model: emb@v2" in r.stdout and "(verified)" in r.stdout
    r = cli(["model", "show", "emb@v1", "--json", "--data-dir", a])
    assert json.loads(r.stdout)["weights"] == ModelStore(a).get("emb@v1").manifest.to_dict()["weights"]
    out = tmp_path / "emb.ncmodel"
    r = cli(["model", "export", "emb@v1", "-o", str(out), "--data-dir", a])
    assert r.exit_code == 0 and out.is_file(), r.output
    r = cli(["model", "import", str(out), "--data-dir", b])
    assert r.exit_code == 0 and r.stdout.startswith("imported emb@v1"), r.output
    r = cli(["model", "import", str(out), "--data-dir", b])
    assert r.stdout.startswith("already present: emb@v1")
    r = cli(["model", "delete", "emb@v1", "--data-dir", b], input="n\n")
    assert r.exit_code != 0 and ModelStore(b).get("emb@v1")  # not confirmed: kept
    r = cli(["model", "delete", "emb@v1", "--data-dir", b], input="y\n")
    assert r.exit_code == 0 and "deleted emb@v1" in r.stdout
    r = cli(["model", "delete", "emb@v2", "--yes", "--data-dir", a])
    assert r.exit_code == 0 and [m.spec for m in ModelStore(a).list(kind="embedder")] == ["emb@v1"]


def test_cli_errors_are_one_line(tmp_path, shipped):
    d = str(tmp_path / "d")
    save(ModelStore(d))
    assert_cli_error(cli(["model", "show", "nope", "--data-dir", d]), "no model named nope", "emb", "prior")
    assert_cli_error(cli(["model", "show", "emb@v5", "--data-dir", d]), "no model emb@v5 (emb has v1)")
    assert_cli_error(cli(["model", "delete", "prior@v1", "--yes", "--data-dir", d]), "shipped")
    assert_cli_error(cli(["model", "delete", "emb", "--yes", "--data-dir", d]), "exact version")
    junk = tmp_path / "junk.ncmodel"
    junk.write_bytes(b"\0junk" * 100)
    assert_cli_error(cli(["model", "import", str(junk), "--data-dir", d]), "junk.ncmodel: model archive")
    (Path(d) / "models/emb/v1/manifest.json").write_text("{")
    r = cli(["model", "list", "--data-dir", d])
    assert r.exit_code == 0 and "warning: model emb@v1: manifest is not valid JSON" in r.stderr
    assert_cli_error(cli(["model", "export", "emb", "-o", str(tmp_path / "x"), "--data-dir", d]), "emb@v1")
