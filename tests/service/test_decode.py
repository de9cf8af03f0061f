"""Decode streams: a client that goes away mid-stream stops the server's decode, and frees its slot."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import grpc
import numpy as np
import pytest
from conftest import with_limits

from codec import api
from codec.client import CodecClient, RetryPolicy
from codec.rpc import common_pb2, video_pb2, video_pb2_grpc

pytestmark = pytest.mark.slow  # needs the tiny reference bitstream (one real encode per session)

REPEATS = 40  # the endless decoder below: 40 x 8 frames at 20 ms each would take 6+ s to run out


def test_client_gone_mid_decode_stops_the_work(
    make_server, tiny_bitstream: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hnerv = type(api.get_codec("hnerv"))
    real_decode = hnerv.decode_stream
    produced: list[int] = []
    ran_out = threading.Event()
    stopped = threading.Event()

    def endless(self, container, options):
        """The real decoder's frames over and over, slowly: only a stop from outside ends it early."""
        try:
            for _ in range(REPEATS):
                for frame in real_decode(self, container, options):
                    time.sleep(0.02)
                    produced.append(1)
                    yield frame
            ran_out.set()
        finally:
            stopped.set()

    monkeypatch.setattr(hnerv, "decode_stream", endless)
    s = make_server(limits=with_limits(max_concurrent_decodes=1))
    data = tiny_bitstream.read_bytes()
    requests = [
        video_pb2.DecodeRequest(options=video_pb2.DecodeOptions(bitstream_bytes=len(data))),
        video_pb2.DecodeRequest(chunk=common_pb2.Chunk(offset=0, data=data)),
    ]
    channel = grpc.insecure_channel(s.target)  # its own connection, so closing it is a real disconnect
    stream = video_pb2_grpc.VideoServiceStub(channel).Decode(iter(requests))
    assert next(stream).WhichOneof("msg") == "info"
    assert next(stream).frame.index == 0
    channel.close()

    assert stopped.wait(30), "the decoder kept running after its client left"
    assert not ran_out.is_set() and len(produced) < REPEATS * 8
    halted_at = len(produced)
    time.sleep(0.2)
    assert len(produced) == halted_at  # stopped, not just slowed down by backpressure

    cancelled = {"method": "/codec.v1.VideoService/Decode", "code": "CANCELLED"}
    deadline = time.monotonic() + 10
    while not s.server.metrics.registry.get_sample_value("codec_rpc_requests_total", cancelled):
        assert time.monotonic() < deadline, "the abandoned call was not counted as CANCELLED"
        time.sleep(0.02)

    # The server keeps serving, and the slot of the abandoned decode is free again: with one slot
    # and no retries, a leaked slot would answer RESOURCE_EXHAUSTED here.
    monkeypatch.undo()
    assert s.call(lambda: s.server.servicers["codec.v1.VideoService"]._decodes) == 0
    client = CodecClient(s.target, retry=RetryPolicy(attempts=1))
    from codec.video.hnerv.decode import decode_frames

    expected = np.stack(list(decode_frames(data, device="cpu")))
    np.testing.assert_array_equal(np.stack(list(client.decode_frames(bitstream=data))), expected)


def test_crafted_and_oversized_files_are_refused_by_decode(make_server, tiny_bitstream: Path) -> None:
    """The decoder's checks and cost bounds hold on the server too, with its own per-media limits."""
    from codec import container
    from codec.errors import CorruptData, ResourceLimit
    from service.config import VideoLimits

    s = make_server(limits=with_limits(video=VideoLimits(max_frames=4)))
    client = CodecClient(s.target, retry=RetryPolicy(attempts=1))
    c = container.read_file(tiny_bitstream)
    c.params["ks"] = [1, 3, 4, 5, 5]
    with pytest.raises(CorruptData, match="kernel sizes must be odd"):
        list(client.decode_frames(bitstream=container.write(c)))
    with pytest.raises(ResourceLimit, match="output"):  # 8 frames, the server decodes at most 4
        list(client.decode_frames(bitstream=tiny_bitstream))
    c = container.read_file(tiny_bitstream)
    c.media.frames, c.params["segments"] = 10**6, [10**6]
    with pytest.raises(ResourceLimit):
        list(client.decode_frames(bitstream=container.write(c)))
    assert client.health() == "SERVING"
