"""The model store: versioned safetensors weights + JSON manifests, in two roots searched together.

Layout (both roots):

    <root>/<name>/<version>/manifest.json        schema: codec/models/manifest.py
    <root>/<name>/<version>/weights.safetensors  SHA-256 in the manifest
    <root>/<name>/.deleted-<version>             tombstone (writable root): sha256 hex of the deleted weights
    <root>/.lock                                 flock held by every write (writable root)
    <root>/.staging/<random>/                    writes in progress (writable root)

Roots: the shipped models `<repo>/assets/models/` (or `$CODEC_SHIPPED_MODELS`; read-only here, may be
missing) and the writable `<data dir>/models/`. When both hold NAME@vN the shipped copy wins for `get`.

Rules, and why:
- A version is never overwritten or reused for other weights: a file encoded against NAME@v2 names it
  by (name, version, sha256), and decoding with other weights silently makes garbage. Deleting leaves a
  tombstone so the number is not handed out again (re-importing the same weights restores it).
- A write stages a complete model directory inside the root, checks it, then renames it into place
  while holding the root's flock: readers take no lock and see a model entirely or not at all, and
  concurrent writers (threads or processes) never share a version.
- `get` checks the manifest and the weights' size (cheap); the SHA-256 is checked whenever the weights
  are read (`StoredModel.load`, `load_tensors`, `export`), on the very bytes that get parsed.
- Error messages name the model (`NAME@vN`), never a filesystem path: they may reach remote clients.
- Weights are safetensors only: loading never runs code, unlike pickle.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import io
import json
import os
import shutil
import stat
import tarfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO

import codec
from codec.datadir import resolve_data_dir
from codec.errors import CorruptData, InvalidInput, ModelMismatch, ResourceLimit
from codec.models.manifest import (
    MANIFEST_FILE,
    MAX_MANIFEST_BYTES,
    NAME_RE,
    VERSION_RE,
    WEIGHTS_FILE,
    Lineage,
    Manifest,
    check_name,
    lineage_from,
    now_iso,
    parse_spec,
    version_number,
)

SHIPPED_ENV = "CODEC_SHIPPED_MODELS"
ARCHIVE_SUFFIX = ".ncmodel"
MAX_WEIGHTS_BYTES = 4 << 30  # largest weights file accepted (import, save, load); USTAR holds up to 8 GiB
MAX_TENSORS = 100_000
_CHUNK = 1 << 20
_TAR_FORMAT = tarfile.USTAR_FORMAT  # plain headers: no PAX/GNU extensions needed for two short names
_STALE_STAGING_S = 24 * 3600.0
_MAX_LISTED = 20  # names shown in a "no such model" message


def shipped_models_dir() -> Path:
    """`$CODEC_SHIPPED_MODELS`, else `<repo>/assets/models` next to the package (may not exist)."""
    env = os.environ.get(SHIPPED_ENV)
    if env:
        return Path(env).expanduser().resolve()
    return Path(codec.__file__).resolve().parents[1] / "assets" / "models"


@dataclass(frozen=True)
class StoredModel:
    """A model found in a root: its checked manifest and where it lives (`path` is for this process)."""

    manifest: Manifest
    path: Path
    shipped: bool
    max_bytes: int = MAX_WEIGHTS_BYTES

    @property
    def spec(self) -> str:
        return self.manifest.spec

    @property
    def weights_path(self) -> Path:
        return self.path / WEIGHTS_FILE

    def read_weights(self) -> bytes:
        """The weights file's bytes, after checking their size and SHA-256 against the manifest."""
        w = self.manifest.weights
        if w.bytes > self.max_bytes:
            raise ResourceLimit(f"model {self.spec}: weights are {w.bytes} bytes (limit {self.max_bytes})")
        try:
            with open(self.weights_path, "rb") as f:
                data = f.read(w.bytes + 1)
        except FileNotFoundError:
            raise CorruptData(f"model {self.spec}: weights file is missing; re-import it") from None
        except OSError as e:
            raise CorruptData(f"model {self.spec}: cannot read weights ({e.strerror})") from None
        if len(data) != w.bytes:
            raise CorruptData(f"model {self.spec}: weights changed size since they were stored; re-import it")
        if hashlib.sha256(data).hexdigest() != w.sha256:
            raise CorruptData(
                f"model {self.spec}: weights do not match the manifest's sha256 "
                f"({w.sha256[:16]}...); the file is corrupt or was edited, re-import the model"
            )
        return data

    def verify(self) -> None:
        """Raise CorruptData unless the weights on disk are exactly the ones the manifest names."""
        self.read_weights()

    def load(self, framework: str = "numpy") -> dict[str, Any]:
        """Tensors by name: numpy arrays, or CPU torch tensors with framework='torch'."""
        return _deserialize(self.read_weights(), framework, self.spec)


class ModelStore:
    """The writable store in `<data dir>/models/` plus the read-only shipped models."""

    def __init__(
        self,
        data_dir: str | os.PathLike[str] | None = None,
        shipped_dir: str | os.PathLike[str] | None = None,
        max_weights_bytes: int = MAX_WEIGHTS_BYTES,
    ) -> None:
        self.root = resolve_data_dir(data_dir) / "models"
        self.shipped_root = Path(shipped_dir).resolve() if shipped_dir is not None else shipped_models_dir()
        self.max_weights_bytes = max_weights_bytes

    # ---- reading -------------------------------------------------------------------------------

    def stored(self, kind: str | None = None) -> list[StoredModel]:
        """Every readable model (shipped first where both roots hold one), by name then version."""
        out = []
        for name in self._names():
            for version in self._versions(name):
                model = self._first_readable(name, version)
                if model is not None and (kind is None or model.manifest.kind == kind):
                    out.append(model)
        return out

    def list(self, kind: str | None = None) -> list[Manifest]:
        return [m.manifest for m in self.stored(kind)]

    def problems(self) -> list[str]:
        """One line per model directory that cannot be read (what `list` skips)."""
        out = []
        for name in self._names():
            for version in self._versions(name):
                for path, shipped in self._dirs(name, version):
                    try:
                        self._open(path, name, version, shipped)
                    except CorruptData as e:
                        out.append(str(e))
        return out

    def get(self, spec: str) -> StoredModel:
        """NAME (newest version) or NAME@vN; ModelMismatch naming what exists if there is no such model."""
        name, version = parse_spec(spec)
        versions = self._versions(name)
        if not versions:
            raise ModelMismatch(f"no model named {name} ({self._have_names()})")
        if version is None:
            version = versions[-1]
        elif version not in versions:
            raise ModelMismatch(f"no model {name}@{version} ({name} has {', '.join(versions)})")
        errors = []
        for path, shipped in self._dirs(name, version):  # shipped first; a broken copy yields to a good one
            try:
                return self._open(path, name, version, shipped)
            except CorruptData as e:
                errors.append(e)
        raise errors[0]

    def load_tensors(self, spec: str, framework: str = "numpy") -> tuple[Manifest, dict[str, Any]]:
        model = self.get(spec)
        return model.manifest, model.load(framework)

    def resolve_ref(self, name: str, version: str, sha256: bytes | str) -> StoredModel:
        """The model a container's ModelRef names, exactly; else ModelMismatch saying what to import."""
        want = _sha_bytes(sha256)
        need = f"this file needs model {name}@{version} (sha256 {want.hex()[:16]}...)"
        hint = "; import it with `codec model import`"
        if not (NAME_RE.fullmatch(str(name)) and VERSION_RE.fullmatch(str(version))):
            raise ModelMismatch(
                f"this file needs model {name!r}@{version!r}, which is not a valid model name"
            )
        others = []
        for path, shipped in self._dirs(name, version):
            model = self._open(path, name, version, shipped)
            if model.manifest.sha256 == want:
                return model
            others.append(model.manifest.weights.sha256[:16])
        if others:
            raise ModelMismatch(
                f"{need}, but the store's {name}@{version} has other weights (sha256 {others[0]}...){hint}"
            )
        if version in self._tombstones(name):
            need += f"; {name}@{version} was deleted from this store"
        same = [m.spec for m in self.stored() if m.manifest.sha256 == want]
        if same:
            hint = f"; the same weights are stored as {same[0]}, but a file must name its model exactly{hint}"
        raise ModelMismatch(need + hint)

    # ---- writing -------------------------------------------------------------------------------

    def save(
        self,
        name: str,
        kind: str,
        tensors: Mapping[str, Any],
        arch: Mapping[str, Any],
        training: Mapping[str, Any],
        lineage: Sequence[Lineage | Mapping[str, Any]] = (),
        version: str | None = None,
        *,
        license: str | None = None,
        source: str | None = None,
        description: str | None = None,
    ) -> Manifest:
        """Store new weights as the next free version (or `version`, which must be free).

        Saving identical weights under an explicit existing version is a no-op returning that model.
        """
        check_name(name)
        doc: dict[str, Any] = {
            "schema": 1,
            "name": name,
            "version": version or "v1",
            "kind": kind,
            "arch": _plain_json(arch, "arch"),
            "training": _plain_json(training, "training"),
            "lineage": [rel.to_dict() for rel in lineage_from(list(lineage))],
            "created": now_iso(),
        }
        for key, value in (("license", license), ("source", source), ("description", description)):
            if value is not None:
                doc[key] = value
        data = _serialize(tensors)
        size, limit = len(data), self.max_weights_bytes
        if size > limit:
            raise ResourceLimit(f"model {name}: weights are {size} bytes (limit {limit})")
        doc["weights"] = {"file": WEIGHTS_FILE, "sha256": hashlib.sha256(data).hexdigest(), "bytes": size}
        try:
            manifest = Manifest.from_dict(doc, f"model {name}")
        except CorruptData as e:
            raise InvalidInput(str(e)) from None
        with self._staging() as stage:
            _write_file(stage / WEIGHTS_FILE, data)
            with self._lock():
                if version is None:
                    manifest = replace(manifest, version=self._next_version(name))
                return self._commit(stage, manifest, as_new_version=False)[0]

    def import_(self, path: str | os.PathLike[str], as_new_version: bool = False) -> Manifest:
        """Add a model from an `.ncmodel` archive or a model directory; see `import_with_status`."""
        return self.import_with_status(path, as_new_version)[0]

    def import_with_status(
        self, path: str | os.PathLike[str], as_new_version: bool = False
    ) -> tuple[Manifest, bool]:
        """(manifest, added). NAME@vN already stored with the same weights: a no-op (added False).
        With other weights: ModelMismatch, unless `as_new_version` stores them as the next free version.
        Everything is checked (members, sizes, SHA-256, safetensors header) before the model is visible.
        """
        path = Path(path)
        with self._staging() as stage:
            if path.is_dir() and not path.is_symlink():
                manifest = self._stage_dir(path, stage)
            else:
                manifest = self._stage_archive(path, stage)
            _check_safetensors(stage / WEIGHTS_FILE, manifest.spec)
            with self._lock():
                return self._commit(stage, manifest, as_new_version)

    def export(self, spec: str, dest: str | os.PathLike[str]) -> Path:
        """Write NAME-vN.ncmodel (into `dest` if it is a directory); the weights are re-hashed on the way."""
        model = self.get(spec)
        dest = Path(dest)
        if dest.is_dir():
            dest = dest / f"{model.manifest.name}-{model.manifest.version}{ARCHIVE_SUFFIX}"
        tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.tmp")
        w = model.manifest.weights
        try:
            with open(model.weights_path, "rb") as src:
                reader = _HashingReader(src)
                manifest = model.manifest.to_json()
                with open(tmp, "wb") as out, tarfile.open(fileobj=out, mode="w", format=_TAR_FORMAT) as tf:
                    tf.addfile(_member(MANIFEST_FILE, len(manifest)), io.BytesIO(manifest))
                    tf.addfile(_member(WEIGHTS_FILE, w.bytes), reader)
                    if src.read(1) or reader.hexdigest() != w.sha256:
                        raise CorruptData(
                            f"model {model.spec}: weights do not match the manifest's sha256; "
                            "re-import the model"
                        )
            os.replace(tmp, dest)
        except FileNotFoundError as e:
            if e.filename == str(model.weights_path):
                raise CorruptData(f"model {model.spec}: weights file is missing") from None
            raise InvalidInput(f"cannot write {dest.name}: {e.strerror}") from None
        except OSError as e:  # includes tarfile's "unexpected end of data" on a truncated weights file
            raise InvalidInput(f"cannot export {model.spec} to {dest.name}: {e.strerror or e}") from None
        finally:
            tmp.unlink(missing_ok=True)
        return dest

    def delete(self, spec: str) -> None:
        """Remove NAME@vN from the writable store (never a shipped model); its number stays taken."""
        with self._lock():
            target = self.check_deletable(spec)
            name, version = target.parent.name, target.name
            try:
                sha = self._open(target, name, version, False).manifest.weights.sha256
            except CorruptData:
                sha = ""  # an unreadable model can still be deleted; its number stays taken
            gone = self.root / ".staging" / f"deleted-{uuid.uuid4().hex}"
            gone.parent.mkdir(parents=True, exist_ok=True)
            os.rename(target, gone)
            _write_file(self.root / name / f".deleted-{version}", (sha + "\n").encode())
            _fsync_dir(self.root / name)
            shutil.rmtree(gone, ignore_errors=True)

    def check_deletable(self, spec: str) -> Path:
        """The directory `delete(spec)` would remove; InvalidInput/ModelMismatch saying why not."""
        name, version = parse_spec(spec)
        if version is None:
            raise InvalidInput(f"delete needs an exact version: {name}@vN")
        target = self.root / name / version
        if not target.is_dir():
            if (self.shipped_root / name / version).is_dir():
                raise InvalidInput(f"model {name}@{version} is shipped (read-only) and cannot be deleted")
            versions = self._versions(name)
            have = f"{name} has {', '.join(versions)}" if versions else self._have_names()
            raise ModelMismatch(f"no model {name}@{version} ({have})")
        return target

    # ---- internals -----------------------------------------------------------------------------

    def _roots(self) -> list[tuple[Path, bool]]:
        return [(self.shipped_root, True), (self.root, False)]

    def _names(self) -> list[str]:
        names: set[str] = set()
        for root, _ in self._roots():
            names.update(e.name for e in _scandir(root) if NAME_RE.fullmatch(e.name) and e.is_dir())
        return sorted(names)

    def _versions(self, name: str) -> list[str]:
        """Versions of `name` present in any root (readable or not), numerically ordered."""
        found: set[str] = set()
        for root, _ in self._roots():
            found.update(e.name for e in _scandir(root / name) if VERSION_RE.fullmatch(e.name) and e.is_dir())
        return sorted(found, key=version_number)

    def _dirs(self, name: str, version: str) -> list[tuple[Path, bool]]:
        return [
            (root / name / version, shipped)
            for root, shipped in self._roots()
            if (root / name / version).is_dir()
        ]

    def _have_names(self) -> str:
        names = self._names()
        if not names:
            return "the model store is empty"
        more = f", ... ({len(names)} in all)" if len(names) > _MAX_LISTED else ""
        return "have: " + ", ".join(names[:_MAX_LISTED]) + more

    def _first_readable(self, name: str, version: str) -> StoredModel | None:
        for path, shipped in self._dirs(name, version):
            with contextlib.suppress(CorruptData):
                return self._open(path, name, version, shipped)
        return None

    def _open(self, path: Path, name: str, version: str, shipped: bool) -> StoredModel:
        spec = f"{name}@{version}"
        try:
            with open(path / MANIFEST_FILE, "rb") as f:
                data = f.read(MAX_MANIFEST_BYTES + 1)
        except FileNotFoundError:
            raise CorruptData(f"model {spec}: manifest.json is missing") from None
        except OSError as e:
            raise CorruptData(f"model {spec}: cannot read manifest ({e.strerror})") from None
        manifest = Manifest.from_json(data, f"model {spec}")
        if (manifest.name, manifest.version) != (name, version):
            raise CorruptData(f"model {spec}: manifest says it is {manifest.spec}")
        try:
            st = os.stat(path / WEIGHTS_FILE)
        except FileNotFoundError:
            raise CorruptData(f"model {spec}: weights file is missing; delete and re-import it") from None
        except OSError as e:
            raise CorruptData(f"model {spec}: cannot read weights ({e.strerror})") from None
        if not stat.S_ISREG(st.st_mode) or st.st_size != manifest.weights.bytes:
            raise CorruptData(
                f"model {spec}: weights file is {st.st_size} bytes, manifest says {manifest.weights.bytes}"
            )
        return StoredModel(manifest, path, shipped, self.max_weights_bytes)

    def _next_version(self, name: str) -> str:
        """One past every number ever used for `name`: present in any root, or deleted (tombstones)."""
        used = [version_number(v) for v in self._versions(name)] + [
            version_number(v) for v in self._tombstones(name)
        ]
        return f"v{max(used, default=0) + 1}"

    def _tombstones(self, name: str) -> dict[str, str]:
        out = {}
        for e in _scandir(self.root / name):
            version = e.name.removeprefix(".deleted-")
            if e.name.startswith(".deleted-") and VERSION_RE.fullmatch(version):
                try:
                    out[version] = Path(e.path).read_text().strip()
                except OSError:
                    out[version] = ""
        return out

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        """The root's exclusive flock (blocking): writers are short, and flock dies with its process."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise InvalidInput(f"model store is not writable ({e.strerror})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def _staging(self) -> Iterator[Path]:
        """A fresh directory on the store's filesystem (so the final rename is atomic); removed on exit."""
        base = self.root / ".staging"
        path = base / uuid.uuid4().hex
        try:
            path.mkdir(parents=True)
        except OSError as e:
            raise InvalidInput(f"model store is not writable ({e.strerror})") from None
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)

    def _sweep_staging(self) -> None:
        """Drop what crashed writers left behind (old enough that nobody is still writing it)."""
        cutoff = time.time() - _STALE_STAGING_S
        for e in _scandir(self.root / ".staging"):
            with contextlib.suppress(OSError):
                if e.stat(follow_symlinks=False).st_mtime < cutoff:
                    shutil.rmtree(e.path, ignore_errors=True)

    def _commit(self, stage: Path, manifest: Manifest, as_new_version: bool) -> tuple[Manifest, bool]:
        """Under the lock: make the staged weights visible as `manifest`, never overwriting a version."""
        name, version, sha = manifest.name, manifest.version, manifest.weights.sha256
        self._sweep_staging()
        clash, how = self._stored_sha(name, version)
        if clash is not None and clash != sha and as_new_version:
            for v in self._versions(name):  # already imported under another number: nothing to do
                model = self._first_readable(name, v)
                if model is not None and model.manifest.weights.sha256 == sha:
                    return model.manifest, False
            manifest = replace(manifest, version=self._next_version(name))
            clash = None
        if clash == sha:
            model = self._first_readable(name, version)
            if model is not None:
                return model.manifest, False
        elif clash is not None:
            have = f"sha256 {clash[:16]}..." if clash else "unknown weights"
            raise ModelMismatch(
                f"model {name}@{version} {how} with other weights ({have}; these are {sha[:16]}...) and "
                "versions are never reused; import with --as-new-version to store these as the next version"
            )
        _write_file(stage / MANIFEST_FILE, manifest.to_json())
        target = self.root / manifest.name / manifest.version
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(stage, target)
        except OSError as e:
            if e.errno in (errno.EEXIST, errno.ENOTEMPTY):  # only if someone wrote without the lock
                raise ModelMismatch(f"model {manifest.spec} appeared while importing; retry") from None
            raise
        _fsync_dir(target.parent)
        (target.parent / f".deleted-{manifest.version}").unlink(missing_ok=True)
        return manifest, True

    def _stored_sha(self, name: str, version: str) -> tuple[str | None, str]:
        """(sha256 hex, how) of NAME@vN: ('', 'is stored unreadably'), (sha, 'was deleted'), or (None, '')."""
        dirs = self._dirs(name, version)
        for path, shipped in dirs:
            with contextlib.suppress(CorruptData):
                return self._open(path, name, version, shipped).manifest.weights.sha256, "exists"
        if dirs:
            return "", "exists (unreadable)"
        return self._tombstones(name).get(version), "was deleted"

    def _stage_archive(self, path: Path, stage: Path) -> Manifest:
        what = "model archive"
        try:
            with open(path, "rb") as f, tarfile.open(fileobj=f, mode="r:") as tf:
                m = tf.next()
                _check_member(m, MANIFEST_FILE, MAX_MANIFEST_BYTES, what)
                manifest = Manifest.from_json(_read_member(tf, m), what)
                what = f"model archive of {manifest.spec}"
                self._check_declared(manifest, what)
                m = tf.next()
                _check_member(m, WEIGHTS_FILE, self.max_weights_bytes, what)
                if m.size != manifest.weights.bytes:
                    declared = manifest.weights.bytes
                    raise CorruptData(f"{what}: weights are {m.size} bytes, manifest says {declared}")
                src = tf.extractfile(m)
                assert src is not None  # a regular member always has a file object
                _copy_checked(src, stage / WEIGHTS_FILE, manifest, what)
                if tf.next() is not None:
                    raise CorruptData(f"{what}: has members other than {MANIFEST_FILE} and {WEIGHTS_FILE}")
        except (tarfile.TarError, EOFError) as e:
            raise CorruptData(f"{what}: not a valid .ncmodel archive (an uncompressed tar): {e}") from None
        except OSError as e:
            raise InvalidInput(f"cannot read {what}: {e.strerror}") from None
        return manifest

    def _stage_dir(self, path: Path, stage: Path) -> Manifest:
        what = "model directory"
        files = {}
        for fname in (MANIFEST_FILE, WEIGHTS_FILE):
            try:
                st = os.lstat(path / fname)
            except OSError:
                raise InvalidInput(f"{what} has no {fname}") from None
            if not stat.S_ISREG(st.st_mode):
                raise CorruptData(f"{what}: {fname} is not a regular file (links are refused)")
            files[fname] = st.st_size
        if files[MANIFEST_FILE] > MAX_MANIFEST_BYTES:
            raise ResourceLimit(f"{what}: manifest is larger than {MAX_MANIFEST_BYTES} bytes")
        try:
            with open(path / MANIFEST_FILE, "rb", opener=_nofollow) as f:
                manifest = Manifest.from_json(f.read(MAX_MANIFEST_BYTES + 1), what)
            what = f"model directory of {manifest.spec}"
            self._check_declared(manifest, what)
            with open(path / WEIGHTS_FILE, "rb", opener=_nofollow) as src:
                _copy_checked(src, stage / WEIGHTS_FILE, manifest, what)
        except OSError as e:
            raise InvalidInput(f"cannot read {what}: {e.strerror}") from None
        return manifest

    def _check_declared(self, manifest: Manifest, what: str) -> None:
        if manifest.weights.bytes > self.max_weights_bytes:
            raise ResourceLimit(
                f"{what}: weights are {manifest.weights.bytes} bytes (limit {self.max_weights_bytes})"
            )


def default_store(data_dir: str | os.PathLike[str] | None = None) -> ModelStore:
    return ModelStore(data_dir)


# ---- helpers -------------------------------------------------------------------------------------


class _HashingReader:
    """File wrapper that hashes what tarfile reads from it, so export re-checks the bytes it writes."""

    def __init__(self, f: BinaryIO) -> None:
        self._f = f
        self._h = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self._f.read(n)
        self._h.update(data)
        return data

    def hexdigest(self) -> str:
        return self._h.hexdigest()


def _member(name: str, size: int) -> tarfile.TarInfo:
    """A plain regular member with fixed metadata, so the same model always exports the same bytes."""
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime, info.type = size, 0o644, 0, tarfile.REGTYPE
    return info


def _check_member(m: tarfile.TarInfo | None, name: str, limit: int, what: str) -> None:
    if m is None:
        raise CorruptData(f"{what}: missing {name}")
    if m.name != name:
        raise CorruptData(f"{what}: unexpected member {m.name[:80]!r} (expected {name})")
    if m.type not in (tarfile.REGTYPE, tarfile.AREGTYPE):
        raise CorruptData(f"{what}: {name} is not a regular file (links and special members are refused)")
    if m.size > limit:
        raise ResourceLimit(f"{what}: {name} is {m.size} bytes (limit {limit})")


def _read_member(tf: tarfile.TarFile, m: tarfile.TarInfo) -> bytes:
    src = tf.extractfile(m)
    assert src is not None
    data = src.read(m.size)
    if len(data) != m.size:
        raise CorruptData(f"model archive: {m.name} is truncated")
    return data


def _copy_checked(src: BinaryIO, dest: Path, manifest: Manifest, what: str) -> None:
    """Copy at most the declared size, hashing on the way; CorruptData unless size and SHA-256 match."""
    want = manifest.weights
    h = hashlib.sha256()
    n = 0
    with open(dest, "wb") as out:
        while n <= want.bytes:
            chunk = src.read(min(_CHUNK, want.bytes + 1 - n))
            if not chunk:
                break
            h.update(chunk)
            out.write(chunk)
            n += len(chunk)
        out.flush()
        os.fsync(out.fileno())
    if n != want.bytes:
        size = f"more than {want.bytes}" if n > want.bytes else str(n)
        raise CorruptData(f"{what}: weights are {size} bytes, manifest says {want.bytes}")
    if h.hexdigest() != want.sha256:
        raise CorruptData(
            f"{what}: weights do not match the manifest's sha256 ({want.sha256[:16]}...); refused"
        )


def _check_safetensors(path: Path, spec: str) -> None:
    """The staged weights parse as safetensors (header, offsets): a hash alone vouches for nothing."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="numpy") as f:
            if len(list(f.keys())) > MAX_TENSORS:
                raise CorruptData(f"model {spec}: more than {MAX_TENSORS} tensors")
    except CorruptData:
        raise
    except Exception as e:  # SafetensorError and friends: not a weights file
        raise CorruptData(f"model {spec}: weights are not a safetensors file ({_first_line(e)})") from None


def _serialize(tensors: Mapping[str, Any]) -> bytes:
    """safetensors bytes of a name -> numpy array / torch tensor dict (torch path keeps bfloat16)."""
    if not isinstance(tensors, Mapping) or not tensors:
        raise InvalidInput("tensors must be a non-empty dict of name -> array")
    if len(tensors) > MAX_TENSORS:
        raise InvalidInput(f"too many tensors ({len(tensors)}, limit {MAX_TENSORS})")
    for key in tensors:
        if not isinstance(key, str) or not key or len(key) > 1024:
            raise InvalidInput(f"bad tensor name {key!r}")
    try:
        if any(type(v).__module__.startswith("torch") for v in tensors.values()):
            import torch
            from safetensors.torch import save

            return save(
                {
                    k: (v if isinstance(v, torch.Tensor) else torch.from_numpy(_np(v)))
                    .detach()
                    .to("cpu")
                    .contiguous()
                    .clone()
                    for k, v in tensors.items()
                }
            )
        from safetensors.numpy import save

        return save({k: _np(v) for k, v in tensors.items()})
    except InvalidInput:
        raise
    except Exception as e:  # unsupported dtype, object arrays, ...
        raise InvalidInput(f"cannot store tensors: {_first_line(e)}") from None


def _np(v: Any):
    import numpy as np

    if not isinstance(v, np.ndarray):
        raise InvalidInput(f"tensors must be numpy arrays or torch tensors, got {type(v).__name__}")
    return np.ascontiguousarray(v)


def _deserialize(data: bytes, framework: str, spec: str) -> dict[str, Any]:
    if framework not in ("numpy", "torch"):
        raise InvalidInput(f"framework must be numpy or torch, got {framework!r}")
    try:
        if framework == "torch":
            from safetensors.torch import load
        else:
            from safetensors.numpy import load
        return load(data)
    except Exception as e:
        raise CorruptData(f"model {spec}: weights are not a safetensors file ({_first_line(e)})") from None


def _plain_json(value: Mapping[str, Any], what: str) -> dict[str, Any]:
    """A JSON round trip, so what is saved is exactly what a later load returns (tuples -> lists)."""
    try:
        out = json.loads(json.dumps(dict(value), allow_nan=False))
    except (TypeError, ValueError) as e:
        raise InvalidInput(f"{what} must be plain JSON data: {_first_line(e)}") from None
    return out


def _sha_bytes(sha256: bytes | str) -> bytes:
    try:
        raw = bytes.fromhex(sha256) if isinstance(sha256, str) else bytes(sha256)
    except (ValueError, TypeError):
        raise InvalidInput("sha256 must be 32 bytes or 64 hex digits") from None
    if len(raw) != 32:
        raise InvalidInput(f"sha256 must be 32 bytes or 64 hex digits, got {len(raw)} bytes")
    return raw


def _scandir(path: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(path) as it:
            return list(it)
    except OSError:  # missing root, not a directory, unreadable: nothing there
        return []


def _write_file(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _nofollow(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_NOFOLLOW)


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0][:200] if text else type(e).__name__
