"""The model manifest: what a stored model is, checked strictly on every load.

`manifest.json` (schema 1) next to `weights.safetensors`:

    {
      "schema": 1,
      "name": "bt2-embedder",                  # 1-64 of [a-z0-9_.-], first a letter or digit
      "version": "v2",                         # v1, v2, ... (no leading zeros); never overwritten
      "kind": "embedder",                      # short identifier: embedder, image-prior, latent-model...
      "arch": {...},                           # JSON object: enough config to rebuild the module (opaque)
      "training": {"command": "...", "data": "...", "metrics": {"psnr": 31.2}, "seconds": 812.5, ...},
      "weights": {"file": "weights.safetensors", "sha256": "<64 hex>", "bytes": 123456},
      "lineage": [{"relation": "compatible", "model": "bt2-embedder@v1", "dims": [0, 64]}],
      "created": "2025-01-31T12:00:00+00:00",  # ISO 8601
      "license": "MIT", "source": "...", "description": "..."   # optional strings
    }

Unknown top-level keys are refused: a typo (`"lineagee"`) must not silently drop information, and a
future schema that adds fields bumps `schema`. Free-form data goes into `arch` or `training`, which
the store never interprets beyond "a JSON object" (plus `training.metrics` being name -> number and
`training.seconds` a non-negative number, so tools can compare runs).

Lineage entries are `{"relation", "model", "dims"?, "note"?}`: `model` is an exact `NAME@vN`, and
`dims` is a half-open range `[start, stop)` of output dimensions on which this model agrees with
that one ("compatible with NAME@v1 on dims 0..k" is `{"relation": "compatible", "dims": [0, k]}`).

A model's identity for containers is (name, version, SHA-256 of the weights file bytes): editing the
description does not change it, different weights always do.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from codec.errors import CorruptData, InvalidInput

if TYPE_CHECKING:
    from codec.container.types import ModelRef

SCHEMA = 1
MANIFEST_FILE = "manifest.json"
WEIGHTS_FILE = "weights.safetensors"
MAX_MANIFEST_BYTES = 1 << 20  # a manifest is metadata; anything bigger is hostile or a mistake
MAX_TEXT = 4096  # license/source/description/command strings

NAME_RE = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
VERSION_RE = re.compile(r"v[1-9][0-9]{0,8}")
IDENT_RE = re.compile(r"[a-z][a-z0-9_-]{0,31}")  # kind, lineage relation
SHA_RE = re.compile(r"[0-9a-f]{64}")

_REQUIRED = ("schema", "name", "version", "kind", "arch", "training", "weights", "lineage", "created")
_OPTIONAL = ("license", "source", "description")
_LINEAGE_KEYS = {"relation", "model", "dims", "note"}


def check_name(name: object) -> str:
    """`name` if it is a valid model name, else InvalidInput (it may come from a user)."""
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise InvalidInput(f"bad model name {name!r}: 1-64 characters of a-z 0-9 _ . -, starting a-z or 0-9")
    return name


def check_version(version: object) -> str:
    if not isinstance(version, str) or not VERSION_RE.fullmatch(version):
        raise InvalidInput(f"bad model version {version!r}: expected v1, v2, ...")
    return version


def version_number(version: str) -> int:
    """v10 -> 10, so versions sort numerically (v10 after v9)."""
    return int(check_version(version)[1:])


def parse_spec(spec: str) -> tuple[str, str | None]:
    """'NAME' -> (NAME, None); 'NAME@v2' -> (NAME, 'v2'); anything else is InvalidInput."""
    if not isinstance(spec, str):
        raise InvalidInput(f"bad model spec {spec!r}: expected NAME or NAME@vN")
    name, sep, version = spec.partition("@")
    check_name(name)
    if not sep:
        return name, None
    return name, check_version(version)


@dataclass(frozen=True)
class Weights:
    file: str
    sha256: str  # hex
    bytes: int


@dataclass(frozen=True)
class Lineage:
    relation: str
    model: str  # NAME@vN
    dims: tuple[int, int] | None = None  # half-open [start, stop)
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"relation": self.relation, "model": self.model}
        if self.dims is not None:
            d["dims"] = list(self.dims)
        if self.note is not None:
            d["note"] = self.note
        return d


@dataclass(frozen=True)
class Manifest:
    name: str
    version: str
    kind: str
    arch: dict[str, Any]
    training: dict[str, Any]
    weights: Weights
    lineage: tuple[Lineage, ...] = ()
    created: str = ""
    license: str | None = None
    source: str | None = None
    description: str | None = None
    schema: int = SCHEMA

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def sha256(self) -> bytes:
        return bytes.fromhex(self.weights.sha256)

    def ref(self) -> ModelRef:
        """The container ModelRef naming exactly these weights."""
        from codec.container.types import ModelRef

        return ModelRef(self.name, self.version, self.sha256)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "schema": self.schema,
            "name": self.name,
            "version": self.version,
            "kind": self.kind,
            "arch": self.arch,
            "training": self.training,
            "weights": {
                "file": self.weights.file,
                "sha256": self.weights.sha256,
                "bytes": self.weights.bytes,
            },
            "lineage": [rel.to_dict() for rel in self.lineage],
            "created": self.created,
        }
        for key in _OPTIONAL:
            if getattr(self, key) is not None:
                d[key] = getattr(self, key)
        return d

    def to_json(self) -> bytes:
        """Canonical bytes (sorted keys, UTF-8): the same manifest always writes the same file."""
        return (json.dumps(self.to_dict(), indent=2, sort_keys=True, allow_nan=False) + "\n").encode()

    @classmethod
    def from_dict(cls, d: object, what: str = "model") -> Manifest:
        """Validate a decoded manifest; CorruptData naming `what` (a model spec, never a path)."""
        return _parse(d, what)

    @classmethod
    def from_json(cls, data: bytes, what: str = "model") -> Manifest:
        if len(data) > MAX_MANIFEST_BYTES:
            raise CorruptData(f"{what}: manifest is {len(data)} bytes (limit {MAX_MANIFEST_BYTES})")
        try:
            d = json.loads(data.decode("utf-8"), parse_constant=_refuse_constant)
        except (UnicodeDecodeError, ValueError) as e:
            raise CorruptData(f"{what}: manifest is not valid JSON ({_short(e)})") from None
        except RecursionError:
            raise CorruptData(f"{what}: manifest nests too deeply") from None
        return _parse(d, what)


def now_iso() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def _refuse_constant(token: str) -> None:
    raise ValueError(f"{token} is not JSON")


def _short(e: Exception) -> str:
    return str(e).splitlines()[0][:200] if str(e) else type(e).__name__


def _is_json_value(v: object, depth: int = 0) -> bool:
    """Plain JSON data (no NaN/inf, bounded depth) so a manifest always re-serializes."""
    if depth > 32:
        return False
    if v is None or isinstance(v, bool | str | int):
        return True
    if isinstance(v, float):
        return math.isfinite(v)
    if isinstance(v, list | tuple):
        return all(_is_json_value(x, depth + 1) for x in v)
    if isinstance(v, dict):
        return all(isinstance(k, str) and _is_json_value(x, depth + 1) for k, x in v.items())
    return False


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _parse(d: object, what: str) -> Manifest:
    def bad(msg: str) -> CorruptData:
        return CorruptData(f"{what}: bad manifest: {msg}")

    if not isinstance(d, dict):
        raise bad("not a JSON object")
    missing = [k for k in _REQUIRED if k not in d]
    if missing:
        raise bad(f"missing field(s) {', '.join(missing)}")
    unknown = sorted(set(d) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise bad(f"unknown field(s) {', '.join(unknown)} (schema {SCHEMA})")
    if d["schema"] != SCHEMA or isinstance(d["schema"], bool):
        raise bad(f"schema {d['schema']!r} is not supported (this build reads schema {SCHEMA})")
    for key, check in (("name", check_name), ("version", check_version)):
        try:
            check(d[key])
        except InvalidInput as e:
            raise bad(str(e)) from None
    if not isinstance(d["kind"], str) or not IDENT_RE.fullmatch(d["kind"]):
        raise bad(f"kind {d['kind']!r} must be a short identifier like 'embedder'")
    for key in ("arch", "training"):
        if not isinstance(d[key], dict) or not _is_json_value(d[key]):
            raise bad(f"{key} must be a JSON object")
    training = d["training"]
    metrics = training.get("metrics", {})
    if not isinstance(metrics, dict) or not all(_is_number(v) for v in metrics.values()):
        raise bad("training.metrics must map names to numbers")
    if "seconds" in training and not (_is_number(training["seconds"]) and training["seconds"] >= 0):
        raise bad("training.seconds must be a non-negative number")
    for key in ("command", "data"):
        if key in training and not isinstance(training[key], str | list | dict):
            raise bad(f"training.{key} must be a string, list or object")
    weights = _parse_weights(d["weights"], bad)
    lineage = _parse_lineage(d["lineage"], bad)
    created = d["created"]
    try:
        if not isinstance(created, str):
            raise ValueError
        datetime.fromisoformat(created)
    except ValueError:
        raise bad(f"created {created!r} is not an ISO 8601 time") from None
    optional: dict[str, str] = {}
    for key in _OPTIONAL:
        if key in d:
            if not isinstance(d[key], str) or len(d[key]) > MAX_TEXT:
                raise bad(f"{key} must be a string of at most {MAX_TEXT} characters")
            optional[key] = d[key]
    return Manifest(
        name=d["name"],
        version=d["version"],
        kind=d["kind"],
        arch=d["arch"],
        training=training,
        weights=weights,
        lineage=lineage,
        created=created,
        **optional,
    )


def _parse_weights(w: object, bad) -> Weights:
    if not isinstance(w, dict) or set(w) != {"file", "sha256", "bytes"}:
        raise bad("weights must be an object with exactly file, sha256, bytes")
    if w["file"] != WEIGHTS_FILE:
        raise bad(f"weights.file must be {WEIGHTS_FILE!r}")
    if not isinstance(w["sha256"], str) or not SHA_RE.fullmatch(w["sha256"]):
        raise bad("weights.sha256 must be 64 lowercase hex digits")
    if not isinstance(w["bytes"], int) or isinstance(w["bytes"], bool) or w["bytes"] < 0:
        raise bad("weights.bytes must be a non-negative integer")
    return Weights(w["file"], w["sha256"], w["bytes"])


def _parse_lineage(items: object, bad) -> tuple[Lineage, ...]:
    if not isinstance(items, list) or len(items) > 64:
        raise bad("lineage must be a list (at most 64 entries)")
    out = []
    for i, rel in enumerate(items):
        if not isinstance(rel, dict) or not {"relation", "model"} <= set(rel) <= _LINEAGE_KEYS:
            raise bad(f"lineage[{i}] must be an object with relation, model and optionally dims, note")
        if not isinstance(rel["relation"], str) or not IDENT_RE.fullmatch(rel["relation"]):
            raise bad(f"lineage[{i}].relation must be a short identifier like 'compatible'")
        try:
            name, version = parse_spec(rel["model"])
        except InvalidInput:
            version = None
        if version is None:
            raise bad(f"lineage[{i}].model must be NAME@vN, got {rel['model']!r}")
        dims = rel.get("dims")
        if dims is not None:
            ok = (
                isinstance(dims, list)
                and len(dims) == 2
                and all(isinstance(x, int) and not isinstance(x, bool) for x in dims)
                and 0 <= dims[0] < dims[1]
            )
            if not ok:
                raise bad(f"lineage[{i}].dims must be [start, stop) with 0 <= start < stop")
            dims = (dims[0], dims[1])
        note = rel.get("note")
        if note is not None and (not isinstance(note, str) or len(note) > MAX_TEXT):
            raise bad(f"lineage[{i}].note must be a string")
        out.append(Lineage(rel["relation"], rel["model"], dims, note))
    return tuple(out)


def lineage_from(items: object) -> tuple[Lineage, ...]:
    """Lineage given by a caller (dicts or Lineage objects); InvalidInput if malformed."""
    if isinstance(items, tuple | list):
        items = [rel.to_dict() if isinstance(rel, Lineage) else rel for rel in items]
    return _parse_lineage(items, lambda msg: InvalidInput(f"bad lineage: {msg}"))
