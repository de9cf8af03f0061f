"""Codec registry: fixed id <-> codec object. The CLI and the service look codecs up here.

Codecs register themselves (`register`) when their package is imported; `codec.api.load_codecs`
imports the shipped ones and any installed plugins. The registry imports no codec, so codecs,
container and registry form no import cycle. Ids come from `codec.ids` and are never positions.
"""

from __future__ import annotations

from typing import TypeVar

from codec.container import MEDIA_KINDS
from codec.errors import InvalidInput
from codec.ids import CODEC_IDS, EXPERIMENTAL_IDS, codec_name
from codec.interface import Codec
from codec.options import option_fields

C = TypeVar("C", bound=type[Codec])

_BY_ID: dict[int, Codec] = {}


def register(cls: C) -> C:
    """Class decorator: instantiate and register a codec. Its id is `CODEC_IDS[name]` for shipped
    codecs; codecs outside a release (tests, experiments) set `codec_id` in EXPERIMENTAL_IDS."""
    name = cls.name
    if name in CODEC_IDS:
        cls.codec_id = CODEC_IDS[name]
    elif getattr(cls, "codec_id", None) not in EXPERIMENTAL_IDS:
        raise ValueError(f"codec {name!r} has no id in codec.ids and no experimental id (240..254)")
    if cls.media not in MEDIA_KINDS:
        raise ValueError(f"codec {name!r}: media {cls.media!r} is not one of {MEDIA_KINDS}")
    held = _BY_ID.get(cls.codec_id)
    if held is not None and held.name != name:
        raise ValueError(f"codec id {cls.codec_id} is taken by {held.name!r}")
    option_fields(cls.Options), option_fields(cls.DecodeOptions)  # declarations must be complete
    _BY_ID[cls.codec_id] = cls()
    return cls


def unregister(name: str) -> None:
    """Remove a codec (tests that register a codec of their own clean up with this)."""
    for cid, c in list(_BY_ID.items()):
        if c.name == name:
            del _BY_ID[cid]


def all_codecs() -> list[Codec]:
    return [_BY_ID[k] for k in sorted(_BY_ID)]


def _known() -> str:
    return ", ".join(f"{c.name} ({c.media})" for c in all_codecs()) or "none"


def get(key: int | str) -> Codec:
    """The codec for an id (from a file's header) or a name (from the user)."""
    if isinstance(key, str):
        for c in _BY_ID.values():
            if c.name == key:
                return c
        if key in CODEC_IDS:
            raise InvalidInput(f"codec {key!r} is not part of this build (codecs here: {_known()})")
        raise InvalidInput(f"unknown codec {key!r} (codecs here: {_known()})")
    if key in _BY_ID:
        return _BY_ID[key]
    if codec_name(key).startswith(("unknown", "reserved")):
        raise InvalidInput(f"this file names codec id {key}, which no neural-codec version writes")
    raise InvalidInput(f"this is a {codec_name(key)} file, but this build has no {codec_name(key)} codec")


def for_input(kind: str) -> Codec:
    """The codec that encodes an input of this kind by default (lowest id first)."""
    for c in all_codecs():
        if kind in (c.inputs if c.default_for is None else c.default_for):
            return c
    named = [c.name for c in all_codecs() if kind in c.inputs]
    if named:
        raise InvalidInput(
            f"no codec encodes {kind} input by default here; name one with --codec ({', '.join(named)})"
        )
    raise InvalidInput(f"no codec in this build encodes {kind} input (codecs here: {_known()})")
