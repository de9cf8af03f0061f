"""What a codec is: one small class that declares everything the CLI, client and service need.

A codec subclasses `Codec` and sets, in one place, its name (its fixed id comes from `codec.ids`),
media kind, file suffix, the input kinds it accepts, its options dataclasses (encode and decode,
see `codec.options`), its header parameters with types and ranges, and the options that set its
rate. Then it implements `encode`, `decode` (to a file), `decode_stream` (items one by one, for the
service) and optionally `check_config` (cross-field header rules) and `info`. It registers with
`codec.registry.register`; nothing outside the registry branches on a codec's name.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from codec.container import Container
from codec.errors import CorruptData
from codec.limits import DecodeCost
from codec.progress import CancelToken, ProgressCallback, null_progress

METRIC_UNITS = {"psnr": "dB", "seconds": "s"}  # how a metric is printed after its value


def format_metric(name: str, value: float) -> str:
    unit = METRIC_UNITS.get(name)
    text = f"{int(value)}" if float(value).is_integer() and abs(value) < 1e15 else f"{value:.4g}"
    return text + (f" {unit}" if unit else "")


@dataclass(frozen=True)
class HeaderParam:
    """One header parameter: its type and allowed values, checked before a decoder builds anything.

    `type` is int, float, str, bytes, bool or list (of ints). `lo`/`hi` bound a number or every
    item of a list; `length` bounds a list's, string's or bytes' length."""

    name: str
    type: type
    lo: float | None = None
    hi: float | None = None
    length: tuple[int, int] | None = None
    help: str = ""


def _type_ok(p: HeaderParam, v: Any) -> bool:
    if p.type is int:
        return type(v) is int  # a bool is not an int here: crafted files try exactly that
    if p.type is list:
        return isinstance(v, list) and all(type(x) is int for x in v)
    return type(v) is p.type


def check_header_params(codec: str, spec: Sequence[HeaderParam], params: Mapping[str, Any]) -> dict[str, Any]:
    """Every declared param present with its type and range, nothing else; CorruptData otherwise."""
    known = {p.name: p for p in spec}
    extra = sorted(set(params) - set(known))
    if extra:
        raise CorruptData(f"{codec} header has unexpected parameter(s) {', '.join(extra)}")
    for p in spec:
        if p.name not in params:
            raise CorruptData(f"{codec} header lacks parameter '{p.name}'")
        v = params[p.name]
        if not _type_ok(p, v):
            raise CorruptData(f"{codec} header parameter '{p.name}' must be {p.type.__name__}, got {v!r:.40}")
        if p.length is not None and not p.length[0] <= len(v) <= p.length[1]:
            lo, hi = p.length
            raise CorruptData(f"{codec} header parameter '{p.name}' has length {len(v)}, outside {lo}..{hi}")
        items = v if p.type is list else [v] if p.type in (int, float) else []
        for x in items:
            if (p.lo is not None and x < p.lo) or (p.hi is not None and x > p.hi):
                lo, hi = ("" if b is None else f"{b:g}" for b in (p.lo, p.hi))
                raise CorruptData(f"{codec} header parameter '{p.name}' = {x!r} is outside {lo}..{hi}")
    return dict(params)


@dataclass
class EncodeReport:
    """What an encode wrote, measured from the file on disk, plus the codec's own numbers."""

    codec: str
    path: str
    file_bytes: int
    rate: float  # in `rate_unit`, from the file's bytes
    rate_unit: str
    seconds: float
    metrics: dict[str, float] = field(default_factory=dict)  # psnr, accuracy, ... as the codec reports
    details: dict[str, Any] = field(default_factory=dict)  # everything else worth keeping (JSON-safe)
    warnings: list[str] = field(default_factory=list)  # e.g. a degenerate input the codec coded anyway

    def summary(self) -> str:
        shown = ", ".join(f"{k} {format_metric(k, v)}" for k, v in self.metrics.items())
        return (
            f"wrote {self.path}: {self.file_bytes} bytes, {self.rate:.4f} {self.rate_unit}"
            + (f", {shown}" if shown else "")
            + f" ({self.seconds:.1f} s)"
        )

    def result_info(self) -> dict[str, float]:
        """Numbers a job record keeps (gRPC `Job.result_info`)."""
        return {
            "file_bytes": float(self.file_bytes),
            "rate": self.rate,
            "seconds": self.seconds,
            **self.metrics,
        }

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=str)


@dataclass
class DecodeReport:
    items: int  # frames, images, vectors ... written
    unit: str  # what an item is, for messages ("frames")
    path: str


class Codec:
    """Base class of every codec; subclasses fill in the declarations and the four operations."""

    name: ClassVar[str]
    codec_id: ClassVar[int]  # from codec.ids (set by the registry for shipped codecs)
    media: ClassVar[str]  # a container media kind: video, image, vectors, latents
    suffix: ClassVar[str]  # of the files it writes, e.g. ".hnerv"
    inputs: ClassVar[tuple[str, ...]]  # input kinds it encodes (codec.io.detect.input_kind)
    # input kinds `codec encode IN` picks it for unnamed (None: all of `inputs`); a codec that only
    # suits some inputs of a kind (QLAE: images like its model's data) sets ()
    default_for: ClassVar[tuple[str, ...] | None] = None
    description: ClassVar[str] = ""
    input_help: ClassVar[str] = ""  # what `codec encode` takes, for --help
    output_help: ClassVar[str] = ""  # what `codec decode -o` may be, for --help
    item_unit: ClassVar[str] = "items"  # what decode counts ("frames")
    Options: ClassVar[type]  # encode options dataclass (codec.options)
    DecodeOptions: ClassVar[type]
    header: ClassVar[tuple[HeaderParam, ...]] = ()
    rate_options: ClassVar[tuple[str, ...]] = ()  # encode options that set the rate (`codec eval` sweeps)
    default_rates: ClassVar[dict[str, tuple[float, ...]]] = {}  # rate option -> points `codec eval` sweeps

    def check_header(self, c: Container) -> Any:
        """Declared params checked, then `check_config`: what the decoder builds from, or CorruptData."""
        params = check_header_params(self.name, self.header, c.params)
        return self.check_config(c, params)

    def check_config(self, c: Container, params: dict[str, Any]) -> Any:
        """Rules across fields (shapes consistent with the media, odd kernels...); the default
        accepts the params. Raise CorruptData for a file no encoder of this codec would write."""
        return params

    def decode_cost(self, c: Container, config: Any) -> DecodeCost:
        """What decoding `c` takes, from the header alone (`config` is what check_header returned).

        Checked against the decode limits before anything is allocated; every codec states its own
        bound (docs/SECURITY.md). This default charges 16 bytes of memory and 16 operations per
        payload byte, which suits codecs whose decode is a single pass over their sections."""
        payload = sum(s.length for s in c.sections)
        return DecodeCost(memory_bytes=16 * payload, work=16.0 * payload, items=1)

    def encode(
        self,
        src: Path,
        dst: Path,
        options: Any,
        progress: ProgressCallback = null_progress,
        cancel: CancelToken | None = None,
        work_dir: Path | None = None,
        resume: bool = False,
    ) -> EncodeReport:
        raise NotImplementedError

    def decode(
        self,
        c: Container,
        dst: Path,
        options: Any,
        progress: ProgressCallback = null_progress,
        cancel: CancelToken | None = None,
    ) -> DecodeReport:
        raise NotImplementedError

    def decode_stream(self, c: Container, options: Any) -> Iterator[Any]:
        """Decoded items one at a time (frames, images, vector blocks), for streaming over gRPC."""
        raise NotImplementedError

    def info(self, c: Container) -> dict[str, Any]:
        """Codec-specific fields `codec info` shows beside the header's."""
        return {}
