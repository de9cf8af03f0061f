"""A codec defined only in a test runs through the service's generic path (SubmitJob -> upload ->
watch -> result) with no change to the client or the service: they derive the job kind, its
options and its input checks from the registry."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import CLIP

from codec import api
from codec.client import CodecClient
from codec.errors import InvalidInput
from codec.io.image import write_image
from codec.progress import ProgressEvent
from codec.rpc import jobs_pb2
from tests.toy_codec import register_toy, unregister_toy


@pytest.fixture
def toy_server(make_server):
    register_toy()  # before the server builds its job kinds, as a plugin installed with it would be
    try:
        yield make_server()
    finally:
        unregister_toy()


@pytest.fixture
def photo(tmp_path) -> Path:
    from skimage import data as skdata

    path = tmp_path / "chelsea.png"
    write_image(path, skdata.chelsea()[50:146, 100:228])
    return path


def test_toy_job_goes_through_submit_upload_watch_result(toy_server, photo, tmp_path) -> None:
    client = CodecClient(toy_server.target)
    kinds = {k.kind: k for k in client.list_job_kinds()}
    assert {"hnerv.encode", "toy.encode"} <= set(kinds)
    toy = kinds["toy.encode"]
    assert list(toy.inputs) == ["image"] and [o.name for o in toy.options] == ["bits", "dither", "step_delay"]
    assert toy.options[0].range == "1..8" and toy.options[0].default.int_value == 4

    job_id = client.submit_job("toy.encode", {"bits": 2, "step_delay": 0.02}, photo)
    events: list[ProgressEvent] = []
    job = client.watch_job(job_id, events.append)
    assert job.state == jobs_pb2.JOB_STATE_SUCCEEDED, job.error.message
    quantize = [e for e in events if e.phase == "quantize"]
    assert quantize and quantize[-1].step == quantize[-1].total == 6 and quantize[-1].metrics["rows"] == 96
    assert client.job_options(job) == {"bits": 2, "step_delay": 0.02}
    client.read_result(job_id, tmp_path / "remote.toy")

    local = api.encode(photo, tmp_path / "local.toy", "toy", {"bits": 2})
    assert (tmp_path / "remote.toy").read_bytes() == (tmp_path / "local.toy").read_bytes()
    assert job.result_info["file_bytes"] == local.file_bytes
    assert job.result_info["psnr"] == pytest.approx(local.metrics["psnr"])


def test_toy_options_and_input_kind_are_checked_at_submit(toy_server, photo) -> None:
    client = CodecClient(toy_server.target)
    with pytest.raises(InvalidInput, match="--bits must be in 1..8"):
        client.submit_job("toy.encode", {"bits": 12}, photo)
    with pytest.raises(InvalidInput, match="unknown option"):
        client.submit_job("toy.encode", {"epochs": 3}, photo)
    with pytest.raises(InvalidInput, match="takes image input; the upload is video"):
        client.submit_job("toy.encode", {}, CLIP)
    with pytest.raises(InvalidInput, match="unknown job kind 'nope.encode'"):
        client.submit_job("nope.encode", {}, photo)
    assert client.health() == "SERVING"  # and it kept serving after each refusal


def test_limits_are_per_media_kind(make_server, photo) -> None:
    from conftest import with_limits

    from codec.errors import ResourceLimit
    from service.config import ImageLimits

    register_toy()
    try:
        client = CodecClient(make_server(limits=with_limits(image=ImageLimits(max_pixels=100 * 100))).target)
        with pytest.raises(ResourceLimit, match="128x96 image exceeds the limit of 10000 pixels"):
            client.submit_job("toy.encode", {}, photo)
        # the video limits are another kind's: the same server takes a video job
        assert client.submit_job("hnerv.encode", {"epochs": 1, "size": 0.03}, CLIP)
    finally:
        unregister_toy()
