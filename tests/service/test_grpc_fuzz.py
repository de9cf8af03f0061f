"""Random and undecodable bodies for every method of every registered service, with and without a
token: the right codes (never INTERNAL or UNKNOWN), and the server keeps serving."""

from __future__ import annotations

import random

import grpc
from conftest import TOKEN
from google.protobuf import descriptor_pool

from codec.client import CodecClient
from service.servicers import SERVICES

METHODS = [
    (f"/{svc.full_name}/{m.name}", m.client_streaming, m.server_streaming)
    for svc in (descriptor_pool.Default().FindServiceByName(s.name) for s in SERVICES)
    for m in svc.methods
]
BODIES = 12  # per method, per token state


def _bodies(rng: random.Random) -> list[bytes]:
    out = [b"", b"\xff\xff\xff\xff\x0f", b"\x0a\xff\xff\xff\xff\x0f"]  # empty, bad tag, runaway length
    while len(out) < BODIES:
        out.append(rng.randbytes(rng.randint(1, 200)))
    return out


def _call(channel, path, cs, ss, body: bytes, metadata) -> grpc.StatusCode:
    kind = {(False, False): channel.unary_unary, (False, True): channel.unary_stream,
            (True, False): channel.stream_unary, (True, True): channel.stream_stream}[(cs, ss)]  # fmt: skip
    call = kind(path, request_serializer=None, response_deserializer=None)
    try:
        result = call(iter([body, body]) if cs else body, metadata=metadata, timeout=10)
        if ss:
            for _ in result:  # a health watch streams until cancelled: one answer is enough
                result.cancel()
                break
    except grpc.RpcError as e:
        return e.code()
    return grpc.StatusCode.OK


def test_random_bodies_get_sane_codes(auth_server) -> None:
    rng = random.Random(5)
    channel = grpc.insecure_channel(auth_server.target)
    good = (("authorization", f"Bearer {TOKEN}"),)
    seen: dict[str, set[str]] = {}
    for path, cs, ss in METHODS:
        for body in _bodies(rng):
            anon = _call(channel, path, cs, ss, body, ())
            assert anon == grpc.StatusCode.UNAUTHENTICATED, (path, body)
            code = _call(channel, path, cs, ss, body, good)
            assert code not in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN), (path, body, code)
            seen.setdefault(path, set()).add(code.name)
    channel.close()
    assert any("INVALID_ARGUMENT" in codes for codes in seen.values())
    assert CodecClient(auth_server.target, token=TOKEN).health() == "SERVING"
