"""Structure-aware fuzzing of every registered codec's decoder, in-process, one harness for all.

    python -m codec.fuzz --seconds 45 --seeds tests [--json out.json]

Seeds are valid files of each codec (found under `--seeds` by the codec's suffix: a codec's golden
files). Each case mutates one the way an attacker would and writes it back with
`container.write`, which recomputes every CRC, so the mutation reaches the codec's own checks:

- header params: each declared parameter set to boundary values, other types, other lengths;
  unknown parameters added, declared ones removed;
- media facts: every field set to boundary values within the container's limits;
- model references added, removed or altered;
- sections: bit flips, overwritten runs, truncation, extension, zeroing, dropping, swapping;
- several of the above at once; and plain corruption (bytes flipped without fixing the CRCs,
  truncation, random files), which the container must catch.

Each case opens the file and decodes it completely (`codec.api`), under small decode limits, a
per-case time limit (SIGALRM) and, when asked, a memory rlimit on the process. A case passes when it
decodes or fails with a CodecError. It fails when an exception reaches the codec boundary's
catch-all (DecodeFailure, OutOfMemory), escapes it, or the case runs over its time. Cases are
numbered and seeded by their number, so a run can stop and continue where it stopped.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import resource
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from codec import api, container
from codec.container import Container, ModelRef, Section
from codec.errors import CodecError, DecodeFailure, InvalidInput, OutOfMemory
from codec.interface import Codec, HeaderParam
from codec.limits import DecodeLimits

# Small enough that every accepted case decodes in milliseconds; big enough for the seeds.
FUZZ_LIMITS = DecodeLimits(max_memory_bytes=256 << 20, max_work=5e9, max_items=4096, max_pixels=1 << 24)
CASE_SECONDS = 10.0
INTS = (0, 1, 2, 3, -1, -2, 7, 8, 15, 16, 17, 255, 256, 4096, 65535, 65536, 2**24, 2**31 - 1, 2**31,
        2**32, 2**53, 2**63 - 1, -(2**31), -(2**63))  # fmt: skip
U32_MAX = 2**32 - 1


class CaseTimeout(BaseException):
    """A case ran past its time (BaseException: the codec boundary must not swallow it)."""


@dataclass
class Tally:
    """What a run found, per codec; `failures` keeps a few examples of each failing outcome."""

    cases: int = 0
    seconds: float = 0.0
    outcomes: Counter = field(default_factory=Counter)
    mutations: Counter = field(default_factory=Counter)
    failures: list[dict] = field(default_factory=list)
    slowest_s: float = 0.0

    FAILING = ("catch-all", "out-of-memory", "escaped", "timeout")

    @property
    def failed(self) -> int:
        return sum(n for k, n in self.outcomes.items() if k.split(":")[0] in self.FAILING)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["outcomes"], d["mutations"], d["failed"] = dict(self.outcomes), dict(self.mutations), self.failed
        return d


def _param_values(p: HeaderParam, current: Any, rng: random.Random) -> list[Any]:
    """Values for one declared parameter: at and beyond its bounds, other types, other lengths."""
    lo = int(p.lo) if p.lo is not None else 0
    hi = int(p.hi) if p.hi is not None else 2**31
    ints = [lo - 1, lo, lo + 1, hi - 1, hi, hi + 1, *rng.sample(INTS, 4)]
    others: list[Any] = [True, False, 0.5, float("nan"), "x", b"\x00", [], [1], None]
    if p.type is list:
        items = list(current) if isinstance(current, list) else [1]
        n = len(items)
        variants = [items[:-1], items + items[-1:], items * 64, [*items[:-1], rng.choice(ints)],
                    [rng.choice(ints)] * n, [i + 1 for i in items], [i * 2 for i in items]]  # fmt: skip
        if items:
            k = rng.randrange(n)
            variants.append([*items[:k], rng.choice(ints), *items[k + 1 :]])
        return variants + [rng.choice(ints), [True] * n]
    if p.type is int:
        base = current if isinstance(current, int) and not isinstance(current, bool) else lo
        return ints + [base - 1, base + 1, base * 2, base * 1000, rng.randint(lo, hi)] + others
    if p.type is float:
        return [float(v) for v in ints[:6]] + [float("inf"), -0.0, 1e308] + others
    if p.type is bool:
        return [1, 0, 2, "true"] + others
    return others + ["", "y" * 1000]


def _set_media(c: Container, rng: random.Random) -> str:
    name = rng.choice([f.name for f in fields(c.media)])
    value = getattr(c.media, name)
    if isinstance(value, str):
        setattr(c.media, name, rng.choice(["rgb24", "gray", "yuv420p", "float16", "x"]))
    else:
        setattr(
            c.media, name, rng.choice([1, 2, 15, 16, 17, value - 1, value + 1, value * 2, 1000, 65535, 2**20])
        )
    return f"media.{name}"


def _mutate_section(c: Container, rng: random.Random) -> str:
    if not c.sections:
        c.sections.append(Section("x", rng.randbytes(16)))
        return "section.add"
    k = rng.randrange(len(c.sections))
    sec = c.sections[k]
    data = bytearray(sec.data)
    op = rng.choice(["flip", "run", "truncate", "extend", "zero", "drop", "swap", "random", "empty"])
    if op == "flip" and data:
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    elif op == "run" and data:
        at = rng.randrange(len(data))
        data[at : at + rng.randint(1, 32)] = rng.randbytes(rng.randint(1, 32))
    elif op == "truncate":
        data = data[: rng.randrange(len(data) + 1)]
    elif op == "extend":
        data += rng.randbytes(rng.randint(1, 256))
    elif op == "zero":
        data = bytearray(len(data))
    elif op == "drop":
        del c.sections[k]
        return "section.drop"
    elif op == "swap" and len(c.sections) > 1:
        j = rng.randrange(len(c.sections))
        c.sections[k], c.sections[j] = (
            Section(sec.name, c.sections[j].data),
            Section(c.sections[j].name, sec.data),
        )
        return "section.swap"
    elif op == "random":
        data = bytearray(rng.randbytes(max(1, len(data))))
    elif op == "empty":
        data = bytearray()
    c.sections[k] = Section(sec.name, bytes(data))
    return f"section.{op}"


def _mutate_header(c: Container, codec: Codec, rng: random.Random) -> str:
    r = rng.random()
    if r < 0.55 and codec.header:
        p = rng.choice(codec.header)
        c.params[p.name] = rng.choice(_param_values(p, c.params.get(p.name), rng))
        return f"param.{p.name}"
    if r < 0.65 and c.params:
        del c.params[rng.choice(sorted(c.params))]
        return "param.drop"
    if r < 0.7:
        c.params[f"extra{rng.randrange(3)}"] = rng.choice(INTS)
        return "param.extra"
    if r < 0.9:
        return _set_media(c, rng)
    if c.models and rng.random() < 0.5:
        c.models.pop(rng.randrange(len(c.models)))
        return "model.drop"
    c.models.append(ModelRef("fuzz-model", "v1", rng.randbytes(32), f"role{len(c.models)}"))
    return "model.add"


def mutate(seed: bytes, codec: Codec, rng: random.Random) -> tuple[str, bytes]:
    """(what was done, the case's bytes) for one case built from a valid file."""
    r = rng.random()
    if r < 0.06:  # plain corruption: the CRCs are left as they are
        data = bytearray(seed)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        return "raw.flip", bytes(data)
    if r < 0.09:
        return "raw.truncate", seed[: rng.randrange(len(seed))]
    if r < 0.1:
        return "raw.random", rng.randbytes(rng.randint(0, 512))
    for _ in range(20):  # a mutation the writer cannot express (a value beyond its field) is redrawn
        c = container.read(seed)
        what = []
        for _ in range(rng.choice([1, 1, 1, 2, 3])):
            what.append(_mutate_header(c, codec, rng) if rng.random() < 0.6 else _mutate_section(c, rng))
        try:
            return "+".join(what), container.write(c)
        except InvalidInput:
            continue
    return "raw.random", rng.randbytes(64)


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    def on_alarm(*_: Any) -> None:
        raise CaseTimeout()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def decode_options(codec: Codec) -> dict[str, Any]:
    return {"device": "cpu"} if "device" in codec.DecodeOptions.__dataclass_fields__ else {}


def run_case(
    data: bytes, codec: Codec, limits: DecodeLimits = FUZZ_LIMITS, seconds: float = CASE_SECONDS
) -> str:
    """The outcome of opening and fully decoding `data`: 'decoded', a CodecError's name, or a failure."""
    try:
        with time_limit(seconds):
            f = api.open(data, limits=limits)
            for _ in api.decode_stream(f, decode_options(f.codec)):
                pass
        return "decoded"
    except CaseTimeout:
        return "timeout"
    except OutOfMemory:
        return "out-of-memory"
    except DecodeFailure as e:
        cause = e.__cause__
        return f"catch-all:{type(cause).__name__ if cause else '?'}"
    except CodecError as e:
        return type(e).__name__
    except Exception as e:  # noqa: BLE001 - the point: anything else escaped the codec boundary
        return f"escaped:{type(e).__name__}"


def find_seeds(roots: list[Path], codecs: list[Codec]) -> dict[str, list[bytes]]:
    """Valid files of each codec under `roots`, by suffix, checked to open cleanly."""
    seeds: dict[str, list[bytes]] = {c.name: [] for c in codecs}
    for c in codecs:
        for root in roots:
            for path in sorted(root.rglob(f"*{c.suffix}")):
                data = path.read_bytes()
                if run_case(data, c) == "decoded":
                    seeds[c.name].append(data)
    return seeds


def fuzz(
    seeds: dict[str, list[bytes]],
    seconds: float,
    max_cases: int | None = None,
    start: int = 0,
    seed: int = 0,
    tallies: dict[str, Tally] | None = None,
    on_case: Callable[[int], None] | None = None,
) -> tuple[dict[str, Tally], int]:
    """Cases `start`, `start+1`, ... round-robin over the codecs with seeds, until `seconds` pass or
    `max_cases` run; returns the tallies and the next case number (to resume from)."""
    codecs = [api.get_codec(name) for name, files in seeds.items() if files]
    tallies = tallies if tallies is not None else {}
    for c in codecs:
        tallies.setdefault(c.name, Tally())
    deadline = time.monotonic() + seconds
    n = start
    while codecs and time.monotonic() < deadline and (max_cases is None or n - start < max_cases):
        rng = random.Random(seed * 1_000_003 + n)
        codec = codecs[n % len(codecs)]
        what, data = mutate(rng.choice(seeds[codec.name]), codec, rng)
        t0 = time.perf_counter()
        outcome = run_case(data, codec)
        dt = time.perf_counter() - t0
        t = tallies[codec.name]
        t.cases += 1
        t.seconds += dt
        t.slowest_s = max(t.slowest_s, dt)
        t.outcomes[outcome] += 1
        t.mutations[what.split("+")[0].split(".")[0]] += 1
        if outcome.split(":")[0] in Tally.FAILING and len(t.failures) < 20:
            t.failures.append({"case": n, "mutation": what, "outcome": outcome, "bytes": data.hex()[:4096]})
        n += 1
        if on_case is not None:
            on_case(n)
    return tallies, n


def limit_memory(headroom_bytes: int) -> int:
    """An address-space rlimit of what the process maps now plus `headroom_bytes`: a decode that
    allocates past its stated cost fails with MemoryError instead of taking the machine."""
    with open("/proc/self/status") as f:
        vm = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
    limit = vm + headroom_bytes
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    return limit


def peak_rss_bytes() -> int:
    """This process's own resident high-water mark. Linux's ru_maxrss also carries the parent's
    RSS at fork time into an exec'd child (a fuzz run started by a 2.5 GB pytest reported 2.5 GB),
    so VmHWM of /proc/self/status, which belongs to this process's own memory map, comes first."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=45.0)
    ap.add_argument("--cases", type=int, default=None)
    ap.add_argument("--seeds", type=Path, action="append", default=None, help="folders to find seed files in")
    ap.add_argument("--memory-headroom-gib", type=float, default=1.5)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument(
        "--register", action="append", default=[], metavar="MODULE:FUNCTION",
        help="call this to register more codecs first (codecs defined outside the package, e.g. in tests)",
    )  # fmt: skip
    args = ap.parse_args(argv)
    import importlib

    import torch

    torch.set_num_threads(1)  # one case at a time: threads only add overhead on tiny decodes
    api.load_codecs()
    for spec in args.register:
        module, _, func = spec.partition(":")
        getattr(importlib.import_module(module), func)()
    codecs = api.load_codecs()
    seeds = find_seeds(args.seeds or [Path("tests")], codecs)
    limit = limit_memory(int(args.memory_headroom_gib * (1 << 30)))
    tallies, n = fuzz(seeds, args.seconds, args.cases)
    report = {
        "codecs": {name: t.to_dict() for name, t in tallies.items()},
        "without_seeds": sorted(name for name, files in seeds.items() if not files),
        "seed_files": {name: len(files) for name, files in seeds.items()},
        "cases": n,
        "failed": sum(t.failed for t in tallies.values()),
        "peak_rss_bytes": peak_rss_bytes(),
        "address_space_limit_bytes": limit,
    }
    text = json.dumps(report, indent=2, default=str)
    if args.json:
        args.json.write_text(text + "\n")
    for name, t in tallies.items():
        rate = t.cases / max(t.seconds, 1e-9)
        print(f"{name}: {t.cases} cases ({rate:.0f}/s), {t.failed} failed, outcomes {dict(t.outcomes)}")
    if report["without_seeds"]:
        print(f"no seed file for: {', '.join(report['without_seeds'])}")
    return 1 if report["failed"] or report["without_seeds"] else 0


if __name__ == "__main__":
    sys.exit(main())
