"""Round trips of every param type and edge value, and the writer's refusals."""

from __future__ import annotations

import hashlib
import math
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codec.container import (
    MAX_DIM,
    MAX_FRAME_PIXELS,
    MAX_FRAMES,
    MAX_HEADER_BYTES,
    MAX_PARAMS,
    MAX_SECTIONS,
    Container,
    ImageMedia,
    LatentMedia,
    ModelRef,
    Section,
    VectorMedia,
    VideoMedia,
    check_model,
    describe,
    read,
    read_file,
    write,
    write_file,
)
from codec.errors import CorruptData, InvalidInput, ModelMismatch, ResourceLimit
from codec.ids import CODEC_IDS

I64 = st.integers(-(2**63), 2**63 - 1)
KEYS = st.text(alphabet="abcxyz_.-09AZ", min_size=1, max_size=64)
VALUES = st.one_of(
    I64,
    st.floats(allow_nan=False),
    st.text(max_size=50),
    st.binary(max_size=50),
    st.lists(I64, max_size=20),
    st.booleans(),
)
SHA = hashlib.sha256(b"weights").digest()


def box(params=None, sections=None, models=None, **media) -> Container:
    media = {"width": 8, "height": 8, **media}
    return Container(255, params or {}, VideoMedia(**media), sections or [], models or [])


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(KEYS, VALUES, max_size=12))
def test_params_round_trip_with_types(params):
    got = read(write(box(params))).params
    assert got == params
    assert {k: type(v) for k, v in got.items()} == {k: type(v) for k, v in params.items()}


@settings(max_examples=50, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=6))
def test_sections_round_trip_in_order(payloads):
    sections = [Section(f"s{i}", p) for i, p in enumerate(payloads)]
    c = read(write(box(sections=sections)))
    assert c.sections == sections
    for s in sections:
        assert c.section(s.name) == s.data


def test_float_specials_are_bit_exact():
    params = {"inf": math.inf, "ninf": -math.inf, "nan": math.nan, "nz": -0.0}
    got = read(write(box(params))).params
    assert math.isnan(got["nan"]) and got["inf"] == math.inf and got["ninf"] == -math.inf
    assert math.copysign(1.0, got["nz"]) == -1.0


def test_numpy_scalars_and_tuples_are_accepted():
    params = {"n": np.int64(-7), "f": np.float64(0.5), "t": (1, np.int32(2))}
    assert read(write(box(params))).params == {"n": -7, "f": 0.5, "t": [1, 2]}


def test_param_order_does_not_change_bytes():
    assert write(box({"a": 1, "b": "x"})) == write(box({"b": "x", "a": 1}))


def test_media_limits_round_trip_at_the_edges():
    for media in (
        {"width": MAX_DIM, "height": MAX_FRAME_PIXELS // MAX_DIM, "frames": MAX_FRAMES},
        {
            "width": 1,
            "height": MAX_DIM,
            "fps_num": 2**32 - 1,
            "fps_den": 2**32 - 1,
            "pad_h": 65535,
            "pad_w": 65535,
        },
    ):
        assert read(write(box(**media))).media == VideoMedia(**{"width": 8, "height": 8, **media})


def test_model_ref_round_trip_and_check():
    c = read(write(box(models=[ModelRef("hnerv-base", "2.1", SHA)])))
    assert c.models == [ModelRef("hnerv-base", "2.1", SHA)] and c.model("model").spec == "hnerv-base@2.1"
    check_model(c, "hnerv-base", "2.1", SHA)
    check_model(c, "hnerv-base", "2.1", SHA.hex())  # hex accepted too
    with pytest.raises(
        ModelMismatch, match=r"encoded with model hnerv-base@2\.1 .* loaded model is other@2\.1"
    ):
        check_model(c, "other", "2.1", SHA)
    with pytest.raises(ModelMismatch, match="same name and version, different weights"):
        check_model(c, "hnerv-base", "2.1", bytes(32))
    with pytest.raises(ModelMismatch, match="names no 'model' model"):
        check_model(read(write(box())), "hnerv-base", "2.1", SHA)
    with pytest.raises(InvalidInput, match="sha256"):
        check_model(c, "hnerv-base", "2.1", b"short")


def test_section_lookup_names_what_exists():
    c = box(sections=[Section("a", b"1"), Section("b", b"")])
    with pytest.raises(CorruptData, match=r"missing section 'z' \(file has: a, b\)"):
        c.section("z")


def test_expected_codec():
    data = write(box())
    assert read(data, expected_codec=255).codec_id == 255
    with pytest.raises(InvalidInput, match="this is a raw-test file, expected hnerv"):
        read(data, expected_codec=CODEC_IDS["hnerv"])


def test_describe_reports_bpp_and_sizes():
    c = box(sections=[Section("x", b"12345")], frames=2)
    data = write(c)
    info = describe(read(data), len(data))
    assert info["rate"] == len(data) * 8 / (8 * 8 * 2) and info["rate_unit"] == "bpp"
    assert info["sections"] == [{"name": "x", "bytes": 5, "crc32": "0xcbf53a1c"}]
    assert info["header_bytes"] == len(data) - 5


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: box(width=0), "width 0 is outside"),
        (lambda: box(width=MAX_DIM + 1), "width 65537 is outside"),
        (lambda: box(height=-1), "'height' = -1 is out of range for u32"),
        (lambda: box(width=MAX_DIM, height=MAX_DIM), "more than 268435456 pixels"),
        (lambda: box(frames=MAX_FRAMES + 1), "frame count"),
        (lambda: box(fps_den=0), "fps_den"),
        (lambda: box(pad_h=65536), "'pad_h' = 65536 is out of range for u16"),
        (lambda: box(width=8.0), "'width' must be an integer, got float"),
        (lambda: box(frames=True), "got bool"),
        (lambda: box(pix_fmt="rgb 24"), "pix_fmt"),
        (lambda: Container(70000, {}, VideoMedia(1, 1)), "'codec_id' = 70000 is out of range for u16"),
        (lambda: box({"bad key": 1}), "param key 'bad key'"),
        (lambda: box({"k" * 65: 1}), "param key"),
        (lambda: box({"": 1}), "param key"),
        (lambda: box({"x": 2**63}), "'x' = 9223372036854775808 is out of range for i64"),
        (lambda: box({"x": [1, 2**64]}), r"'x\[1\]'"),
        (lambda: box({"x": [1.5]}), r"'x\[0\]' must be an integer"),
        (lambda: box({"x": None}), "unsupported type NoneType"),
        (lambda: box({"x": {"a": 1}}), "unsupported type dict"),
        (lambda: box({"x": "\ud800"}), "UTF-8"),
        (lambda: box({f"k{i}": i for i in range(MAX_PARAMS + 1)}), "257 params"),
        (lambda: box({"big": b"x" * MAX_HEADER_BYTES}), "put large data in a section"),
        (lambda: box(sections=[Section(f"s{i}", b"") for i in range(MAX_SECTIONS + 1)]), "4097 sections"),
        (lambda: box(sections=[Section("a", b""), Section("a", b"")]), "section 'a' appears twice"),
        (lambda: box(sections=[Section("a/b", b"")]), "section name 'a/b'"),
        (lambda: box(sections=[Section("a", "text")]), "'a' must be bytes, got str"),
        (lambda: box(sections=[("a", b"")]), "Section objects"),
        (lambda: box(models=[ModelRef("m", "1", b"\x00" * 31)]), "'sha256' must be exactly 32 bytes"),
        (lambda: box(models=[ModelRef("m" * 65, "1", SHA)]), "model name 'mmm"),
        (lambda: box(models=[ModelRef("m", "v 1", SHA)]), "model version 'v 1'"),
        (
            lambda: box(models=[ModelRef("a", "1", SHA), ModelRef("b", "1", SHA)]),
            "role 'model' appears twice",
        ),
        (lambda: box(models=[ModelRef("a", "1", SHA, "bad role")]), "model role 'bad role'"),
        (lambda: box(models=[ModelRef("m", "1", SHA, f"r{i}") for i in range(9)]), "9 model references"),
        (lambda: Container(255, {}, ImageMedia(8, 8, channels=5)), "channel count 5"),
        (lambda: Container(255, {}, VectorMedia(0, 8)), "vector count 0"),
        (lambda: Container(255, {}, VectorMedia(10, 2**16 + 1)), "vector dimension"),
        (lambda: Container(255, {}, LatentMedia(2**32 + 1, 8)), "item count"),
        (lambda: Container(255, None, VideoMedia(1, 1)), "params must be a dict"),
        (lambda: Container(255, {}, (1, 1)), "media dataclass"),
    ],
)
def test_write_rejects_out_of_range_with_invalid_input(make, message):
    with pytest.raises(InvalidInput, match=message):
        write(make())


def test_read_rejects_non_bytes():
    with pytest.raises(InvalidInput, match="needs bytes"):
        read("NCDC")


def test_read_file(tmp_path):
    c = box({"a": 1}, [Section("x", b"payload")])
    path = tmp_path / "f.ncdc"
    path.write_bytes(write(c))
    assert read_file(path) == c
    with pytest.raises(InvalidInput, match="this is a raw-test file, expected hnerv"):
        read_file(path, expected_codec=1)
    with pytest.raises(InvalidInput, match="no such file"):
        read_file(tmp_path / "missing.ncdc")
    with pytest.raises(InvalidInput, match="not a regular file"):
        read_file(tmp_path)
    path.write_bytes(write(c) + b"junk")
    with pytest.raises(CorruptData, match="4 bytes of trailing garbage"):
        read_file(path)
    path.write_bytes(write(c)[:-1])
    with pytest.raises(CorruptData, match="truncated file: section 'x' needs 7 bytes, only 6 remain"):
        read_file(path)


def test_read_file_checks_sizes_before_reading_everything(tmp_path, monkeypatch):
    path = tmp_path / "big.ncdc"
    with path.open("wb") as f:
        f.write(write(box(sections=[Section("x", b"abc")])))
        f.truncate(100 << 20)  # sparse: 100 MiB of trailing zeros
    tracemalloc.start()
    try:
        with pytest.raises(CorruptData, match="trailing garbage"):
            read_file(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20
    monkeypatch.setattr("codec.container.format.MAX_FILE_BYTES", 1000)
    with pytest.raises(ResourceLimit, match="over the 1000-byte limit"):
        read_file(path)


@pytest.mark.parametrize(
    "media, rate",
    [
        (ImageMedia(640, 480, channels=3), lambda n: n * 8 / (640 * 480)),
        (VectorMedia(10_000_000, 768, "float32"), lambda n: n / 10_000_000),
        (LatentMedia(50_000, 10), lambda n: n / 50_000),
        (VideoMedia(1920, 1080, frames=600, fps_num=30), lambda n: n * 8 / (1920 * 1080 * 600)),
    ],
)
def test_every_media_kind_round_trips_with_its_rate_unit(media, rate):
    c = Container(255, {"k": 1}, media, [Section("x", b"abc")])
    data = write(c)
    back = read(data)
    assert back == c and type(back.media) is type(media)
    info = describe(back, len(data))
    assert info["media_kind"] == media.KIND and info["media"] == vars(media)
    assert info["rate"] == pytest.approx(rate(len(data))) and info["rate_unit"] == media.RATE_UNIT


def test_several_model_references_keep_their_roles():
    refs = [
        ModelRef("bt2-text", "v2", SHA, "embedder"),
        ModelRef("mrl-text", "v1", bytes(32), "old-embedder"),
    ]
    c = read(write(box(models=refs)))
    assert c.models == refs
    assert c.model("old-embedder").spec == "mrl-text@v1"
    with pytest.raises(CorruptData, match="missing model reference 'prior'"):
        c.model("prior")
    check_model(c, "mrl-text", "v1", bytes(32), role="old-embedder")
    with pytest.raises(ModelMismatch, match="encoded with model bt2-text@v2"):
        check_model(c, "bt2-text", "v1", SHA, role="embedder")


def test_read_file_loads_sections_one_at_a_time(tmp_path):
    """A 64 MiB file is read section by section: the header and one section, never the whole file."""
    big = [Section(f"s{i}", np.random.default_rng(i).bytes(16 << 20)) for i in range(4)]
    path = tmp_path / "big.ncdc"
    write_file(path, box(sections=big))
    tracemalloc.start()
    try:
        c = read_file(path)  # verifies every CRC in 1 MiB chunks
        opened = tracemalloc.get_traced_memory()[1]
        assert c.section("s2") == big[2].data
        one = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert opened < 4 << 20 and one < 40 << 20
    assert [s.length for s in c.sections] == [16 << 20] * 4


def test_a_section_damaged_after_opening_is_caught_when_loaded(tmp_path):
    path = tmp_path / "f.ncdc"
    write_file(path, box(sections=[Section("a", b"hello"), Section("b", b"world")]))
    c = read_file(path)
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    assert c.section("a") == b"hello"
    with pytest.raises(CorruptData, match="CRC mismatch in section 'b'"):
        c.section("b")
    with pytest.raises(CorruptData, match="CRC mismatch in section 'b'"):
        read_file(path)


def test_write_file_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "f.ncdc"
    write_file(path, box({"v": 1}))
    with pytest.raises(InvalidInput):
        write_file(path, box({"bad key": 1}))  # refused before anything is written
    assert read_file(path).params == {"v": 1}
    assert not list(tmp_path.glob("*.part"))
