"""Random and undecodable bodies for every method of every registered service, with and without a
token: the right codes (never INTERNAL or UNKNOWN), and the server keeps serving."""

from __future__ import annotations

import random

import grpc
from conftest import TOKEN, raw_call, service_methods

from codec.client import CodecClient

METHODS = service_methods()
BODIES = 12  # per method, per token state


def _bodies(rng: random.Random) -> list[bytes]:
    out = [b"", b"\xff\xff\xff\xff\x0f", b"\x0a\xff\xff\xff\xff\x0f"]  # empty, bad tag, runaway length
    while len(out) < BODIES:
        out.append(rng.randbytes(rng.randint(1, 200)))
    return out


def test_random_bodies_get_sane_codes(auth_server) -> None:
    rng = random.Random(5)
    channel = grpc.insecure_channel(auth_server.target)
    good = (("authorization", f"Bearer {TOKEN}"),)
    seen: dict[str, set[str]] = {}
    for path, cs, ss in METHODS:
        for body in _bodies(rng):
            anon = raw_call(channel, path, cs, ss, (), body)
            assert anon == grpc.StatusCode.UNAUTHENTICATED, (path, body)
            code = raw_call(channel, path, cs, ss, good, body)
            assert code not in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN), (path, body, code)
            seen.setdefault(path, set()).add(code.name)
    channel.close()
    assert any("INVALID_ARGUMENT" in codes for codes in seen.values())
    assert CodecClient(auth_server.target, token=TOKEN).health() == "SERVING"
