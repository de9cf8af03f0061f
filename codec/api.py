"""The library API: encode, decode and open any codec's files. The CLI and the service call these.

    import codec
    report = codec.encode("clip.mp4", "clip.hnerv", options={"size": 0.1})
    codec.decode("clip.hnerv", "clip.mkv")
    codec.open("clip.hnerv").describe()

The codec is picked from the input (`codec.io.detect`) or named; a file's decoder from the codec
id in its header. Codecs come from `load_codecs`: the shipped ones and installed plugins.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from codec import container, registry
from codec.container import Container, Media
from codec.errors import CodecError, DecodeFailure, InvalidInput, OutOfMemory
from codec.interface import Codec, DecodeReport, EncodeReport
from codec.limits import DecodeCost, DecodeLimits, check_decode_cost
from codec.options import options_of
from codec.progress import CancelToken, ProgressCallback, null_progress, with_eta

# packages that register a codec when imported
BUILTIN_CODECS = (
    "codec.video.hnerv",
    "codec.image.recombiner.codec",
    "codec.vectors.codec",
    "codec.latents.codec",
)
# modules that register a job kind (codec.tasks) when imported
BUILTIN_TASKS = (
    "codec.embed.task",
    "codec.index.backfill",
    "codec.latents.task",
    "codec.image.recombiner.task",
)
PLUGIN_GROUP = "neural_codec.codecs"  # entry points of installed third-party codecs

_loaded = False
log = logging.getLogger("codec.api")


def load_codecs() -> list[Codec]:
    """Import the shipped codecs and the installed plugins once; returns every registered codec."""
    global _loaded
    if not _loaded:
        for module in (*BUILTIN_CODECS, *BUILTIN_TASKS):
            importlib.import_module(module)
        for ep in importlib.metadata.entry_points(group=PLUGIN_GROUP):
            ep.load()
        _loaded = True
    return registry.all_codecs()


def get_codec(name: str) -> Codec:
    load_codecs()
    return registry.get(name)


def codec_for_input(
    path: str | os.PathLike[str], name: str | None = None, output: str | os.PathLike[str] | None = None
) -> Codec:
    """The named codec (checked to accept this input); else the one whose suffix the output has,
    when it takes this input (`-o photo.qla` means QLAE); else the default for the input's kind."""
    from codec.io.detect import input_kind

    load_codecs()
    kind = input_kind(path)
    if name is None:
        suffix = Path(output).suffix.lower() if output is not None else ""
        by_suffix = [c for c in registry.all_codecs() if suffix and c.suffix == suffix and kind in c.inputs]
        return by_suffix[0] if by_suffix else registry.for_input(kind)
    c = registry.get(name)
    if kind not in c.inputs:
        raise InvalidInput(f"codec {c.name} encodes {'/'.join(c.inputs)} input; {Path(path).name} is {kind}")
    return c


def default_output(src: str | os.PathLike[str], c: Codec) -> Path:
    p = Path(src)
    return p.with_name(p.stem + c.suffix) if p.suffix else p.with_name(p.name + c.suffix)


def encode(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str] | None = None,
    codec: str | None = None,
    options: Any = None,
    progress: ProgressCallback = null_progress,
    cancel: CancelToken | None = None,
    work_dir: str | os.PathLike[str] | None = None,
    resume: bool = False,
) -> EncodeReport:
    """Encode `src` into a file; options are the codec's Options object, a mapping or None."""
    c = codec_for_input(src, codec, dst)
    opts = options_of(c.Options, options)
    out = Path(dst) if dst is not None else default_output(src, c)
    work = None if work_dir is None else Path(work_dir)
    return c.encode(Path(src), out, opts, with_eta(progress), cancel, work, resume)


@dataclass
class OpenedFile:
    """A file's header, checked by its codec; sections load when used."""

    path: Path | None  # None for a file given as bytes
    size: int
    container: Container
    codec: Codec
    config: Any  # what the codec's header check returned
    cost: DecodeCost  # what decoding it takes, from the header

    def describe(self) -> dict[str, Any]:
        d = container.describe(self.container, self.size)
        d["codec"] = self.codec.name  # also for codecs outside codec.ids (experimental ids)
        with codec_boundary(self.codec.name, "describing"):
            d["codec_info"] = self.codec.info(self.container)
        d["decode_cost"] = asdict(self.cost)
        return d


@contextlib.contextmanager
def codec_boundary(codec: str, action: str) -> Iterator[None]:
    """Whatever a codec raises that is not a CodecError leaves as one: MemoryError as OutOfMemory,
    anything else as DecodeFailure (corrupt data). One line for the user; the original goes to the
    debug log. A safety net: the fuzzer treats every exception caught here as a bug to fix."""
    try:
        yield
    except CodecError:
        raise
    except MemoryError as e:
        log.debug("%s: out of memory while %s", codec, action, exc_info=True)
        raise OutOfMemory(f"out of memory while {action} this {codec} file") from e
    except Exception as e:
        log.debug("%s: %s failed", codec, action, exc_info=True)
        raise DecodeFailure(f"this {codec} file is corrupt: {action} failed ({type(e).__name__})") from e


def open(
    src: str | os.PathLike[str] | bytes,
    verify: bool = True,
    limits: DecodeLimits | Callable[[Media], DecodeLimits] | None = None,
    check_cost: bool = True,
) -> OpenedFile:
    """Read a file's header (from a path, or bytes in memory), find its codec, check its header
    (declared types and ranges, then the codec's cross-field rules) and what decoding it would cost
    against `limits` (or the limits for its media, when a function; default:
    DecodeLimits.from_env()). CorruptData or ResourceLimit before anything is allocated; a path's
    sections load from the file when used. `check_cost=False` only describes (`codec info`): the
    cost is computed but not held against the limits."""
    load_codecs()
    if isinstance(src, bytes | bytearray | memoryview):
        c, path, size = container.read(src), None, len(src)
    else:
        path = Path(src)
        c = container.read_file(path, verify=verify)
        size = path.stat().st_size
    cod = registry.get(c.codec_id)
    if limits is None:
        limits = DecodeLimits.from_env()
    elif callable(limits):
        limits = limits(c.media)
    with codec_boundary(cod.name, "reading the header of"):
        config = cod.check_header(c)
        cost = cod.decode_cost(c, config)
    if check_cost:
        check_decode_cost(cod.name, cost, limits)
    return OpenedFile(path, size, c, cod, config, cost)


def _opened(src: str | os.PathLike[str] | bytes | OpenedFile) -> OpenedFile:
    return src if isinstance(src, OpenedFile) else open(src)


def decode(
    src: str | os.PathLike[str] | bytes | OpenedFile,
    dst: str | os.PathLike[str],
    options: Mapping[str, Any] | Any = None,
    progress: ProgressCallback = null_progress,
    cancel: CancelToken | None = None,
) -> DecodeReport:
    """Decode a file with the codec its header names; options are that codec's DecodeOptions."""
    f = _opened(src)
    opts = options_of(f.codec.DecodeOptions, options)
    with codec_boundary(f.codec.name, "decoding"):
        return f.codec.decode(f.container, Path(dst), opts, with_eta(progress), cancel)


def decode_stream(
    src: str | os.PathLike[str] | bytes | OpenedFile, options: Mapping[str, Any] | Any = None
) -> Iterator[Any]:
    """The decoded items one at a time (frames for video), for callers that stream them on."""
    f = _opened(src)
    opts = options_of(f.codec.DecodeOptions, options)

    def items() -> Iterator[Any]:
        with codec_boundary(f.codec.name, "decoding"):
            yield from f.codec.decode_stream(f.container, opts)

    return items()
