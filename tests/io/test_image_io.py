"""codec.io.image: every tested format from a real photo, 8-bit RGB conversions, limits and bad input."""

from __future__ import annotations

import struct
import time
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image, ImageFile, ImageOps
from skimage import data

from codec.errors import InvalidInput, ResourceLimit
from codec.io import (
    IMAGE_SUFFIXES,
    MAX_PIXELS,
    is_image_file,
    probe_image,
    read_image,
    read_image_bytes,
    write_image,
)
from codec.io.image import ALPHA_NOTE, GRAY_NOTE, ROUND16_NOTE
from codec.metrics import psnr

CARPHONE = Path(__file__).resolve().parents[2] / "assets" / "carphone.mp4"
# 16-bit test values: exact multiples of 257, the rounding boundary (257k + 128 down, + 129 up), and
# values where keeping the high byte (truncation) is wrong: 255 -> 1 (not 0), 65280 -> 254 (not 255).
V16 = np.array([0, 255, 256, 257, 383, 384, 25700, 25828, 25829, 32767, 32896, 65280, 65534, 65535],
               dtype=np.uint16)
V8 = np.array([0, 1, 1, 1, 1, 1, 100, 100, 101, 127, 128, 254, 255, 255], dtype=np.uint8)


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return np.ascontiguousarray(data.chelsea()[60:161, 150:285])  # 101x135, odd on both axes: the cat's face


@pytest.fixture(scope="module")
def gray_photo() -> np.ndarray:
    return np.ascontiguousarray(data.camera()[100:197, 200:331])


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png(width: int, height: int, bit_depth: int, colour_type: int, rows: bytes) -> bytes:
    """A PNG written by hand: Pillow cannot write 16-bit colour, and bombs need a lying header."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(rows))
            + _chunk(b"IEND", b""))


def _png16(path: Path, samples: np.ndarray) -> None:
    """(H, W, C) uint16 samples, C = 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA), as a 16-bit PNG."""
    h, w, c = samples.shape
    big_endian = samples.astype(">u2")
    rows = b"".join(b"\x00" + big_endian[y].tobytes() for y in range(h))
    path.write_bytes(_png(w, h, 16, {1: 0, 2: 4, 3: 2, 4: 6}[c], rows))


def _one_line_naming(exc: pytest.ExceptionInfo, path: Path) -> None:
    message = str(exc.value)
    assert "\n" not in message and path.name in message, message


# --- formats -----------------------------------------------------------------------------------------

LOSSLESS = [("png", {}), ("tiff", {}), ("tiff", {"compression": "tiff_deflate"}), ("ppm", {}), ("bmp", {}),
            ("webp", {"lossless": True})]
LOSSY = [("jpg", {"quality": 95}, 34.0), ("webp", {"quality": 90}, 33.0), ("avif", {"quality": 90}, 33.0)]
FORMAT_NAMES = {"png": "PNG", "tiff": "TIFF", "ppm": "PPM", "bmp": "BMP", "webp": "WEBP", "jpg": "JPEG",
                "avif": "AVIF"}


@pytest.mark.parametrize(("suffix", "options"), LOSSLESS)
def test_lossless_formats_read_back_exactly(tmp_path, photo, suffix, options):
    path = tmp_path / f"photo.{suffix}"
    Image.fromarray(photo).save(path, **options)
    rgb, info = read_image(path)
    assert rgb.dtype == np.uint8 and rgb.shape == photo.shape and rgb.flags.c_contiguous
    assert np.array_equal(rgb, photo)
    assert (info.width, info.height, info.format, info.mode, info.bits) == (135, 101, FORMAT_NAMES[suffix],
                                                                           "RGB", 8)
    assert info.notes == () and info.frames == 1


@pytest.mark.parametrize(("suffix", "options", "min_psnr"), LOSSY)
def test_lossy_formats_read_back_close(tmp_path, photo, suffix, options, min_psnr):
    path = tmp_path / f"photo.{suffix}"
    Image.fromarray(photo).save(path, **options)
    rgb, info = read_image(path)
    assert rgb.dtype == np.uint8 and rgb.shape == photo.shape
    assert psnr(rgb, photo).mean > min_psnr
    assert info.format == FORMAT_NAMES[suffix] and info.notes == ()


def test_pgm_and_gray_png_are_expanded_to_three_channels(tmp_path, gray_photo):
    for name in ("gray.pgm", "gray.png", "gray.tif"):
        Image.fromarray(gray_photo).save(tmp_path / name)
        rgb, info = read_image(tmp_path / name)
        assert rgb.shape == (*gray_photo.shape, 3)
        assert all(np.array_equal(rgb[:, :, c], gray_photo) for c in range(3))
        assert info.mode == "L" and GRAY_NOTE in info.notes


def test_bilevel_is_black_and_white(tmp_path, gray_photo):
    Image.fromarray(gray_photo).convert("1", dither=Image.Dither.NONE).save(tmp_path / "bw.png")
    rgb, info = read_image(tmp_path / "bw.png")
    assert set(np.unique(rgb)) == {0, 255} and info.mode == "1" and info.bits == 1
    assert np.array_equal(rgb[:, :, 0] == 255, gray_photo >= 128)


def test_alpha_is_dropped_not_composited(tmp_path, photo):
    alpha = np.linspace(0, 255, photo.shape[1], dtype=np.uint8)[None, :].repeat(photo.shape[0], 0)
    Image.fromarray(np.dstack([photo, alpha])).save(tmp_path / "rgba.png")
    rgb, info = read_image(tmp_path / "rgba.png")
    assert np.array_equal(rgb, photo)  # colours as stored, even where fully transparent
    assert info.mode == "RGBA" and ALPHA_NOTE in info.notes
    Image.fromarray(np.dstack([photo[:, :, 1], alpha])).save(tmp_path / "la.png")
    rgb, info = read_image(tmp_path / "la.png")
    assert np.array_equal(rgb[:, :, 2], photo[:, :, 1])
    assert info.mode == "LA" and {ALPHA_NOTE, GRAY_NOTE} <= set(info.notes)


def test_palette_images_are_converted(tmp_path, photo):
    pal = Image.fromarray(photo).quantize(64)
    pal.save(tmp_path / "pal.png")
    rgb, info = read_image(tmp_path / "pal.png")
    assert np.array_equal(rgb, np.asarray(pal.convert("RGB")))
    assert info.mode == "P" and any("palette" in n for n in info.notes)
    pal.save(tmp_path / "pal_t.png", transparency=0)
    _, info = read_image(tmp_path / "pal_t.png")
    assert any("transparency dropped" in n for n in info.notes)


def test_cmyk_jpeg_is_converted(tmp_path, photo):
    Image.fromarray(photo).convert("CMYK").save(tmp_path / "cmyk.jpg", quality=95)
    rgb, info = read_image(tmp_path / "cmyk.jpg")
    assert rgb.shape == photo.shape and info.mode == "CMYK" and any("CMYK" in n for n in info.notes)
    assert psnr(rgb, photo).mean > 30


# --- 16 bits -----------------------------------------------------------------------------------------


def test_16bit_gray_png_and_tiff_are_rounded(tmp_path):
    for name in ("g16.png", "g16.tif"):
        Image.fromarray(V16[None, :]).save(tmp_path / name)
        rgb, info = read_image(tmp_path / name)
        assert info.mode.startswith("I;16") and info.bits == 16
        assert np.array_equal(rgb[0, :, 0], V8) and np.array_equal(rgb[0, :, 2], V8)
        assert info.notes == (ROUND16_NOTE, GRAY_NOTE)


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_16bit_png_of_every_colour_type_is_rounded(tmp_path, channels):
    samples = np.stack([np.roll(V16, c) for c in range(channels)], axis=-1)[None]  # (1, 14, C)
    _png16(tmp_path / "x16.png", samples)
    rgb, info = read_image(tmp_path / "x16.png")
    gray = channels < 3  # the second channel of gray+alpha is the alpha
    expected = np.stack([np.roll(V8, 0 if gray else c) for c in range(3)], axis=-1)[None]
    assert np.array_equal(rgb, expected)
    assert info.bits == 16 and ROUND16_NOTE in info.notes
    assert (ALPHA_NOTE in info.notes) == (channels in (2, 4))


def test_16bit_rgb_tiff_is_rounded_and_matches_a_formula(tmp_path):
    rng = np.random.default_rng(0)
    samples = rng.integers(0, 65536, size=(37, 29, 3), dtype=np.uint16)
    samples[0, : len(V16), 0] = V16
    for name, options in (("raw.tif", {}), ("deflate.tif", {"compression": "zlib", "predictor": True})):
        tifffile.imwrite(tmp_path / name, samples, photometric="rgb", **options)
        rgb, info = read_image(tmp_path / name)
        assert np.array_equal(rgb, np.rint(samples / 257.0).astype(np.uint8))  # round(v * 255 / 65535)
        assert np.array_equal(rgb[0, : len(V16), 0], V8)
        assert info.bits == 16 and info.notes == (ROUND16_NOTE,)


def test_16bit_tiff_ffmpeg_misreads_falls_back_to_pillow_and_says_so(tmp_path):
    samples = np.random.default_rng(1).integers(0, 65536, size=(40, 40, 3), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "tiled.tif", samples, photometric="rgb", tile=(16, 16))
    rgb, info = read_image(tmp_path / "tiled.tif")
    assert np.array_equal(rgb, (samples >> 8).astype(np.uint8))  # Pillow's high bytes, not garbage
    assert ROUND16_NOTE not in info.notes and any("truncated to their high byte" in n for n in info.notes)


# --- orientation, frames -----------------------------------------------------------------------------


def _with_orientation(photo: np.ndarray, orientation: int) -> tuple[Image.Image, bytes]:
    im = Image.fromarray(photo)
    exif = im.getexif()
    exif[0x0112] = orientation
    return im, exif.tobytes()


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_matches_pillows_exif_transpose(tmp_path, photo, orientation):
    im, exif = _with_orientation(photo, orientation)
    im.save(tmp_path / "o.png", exif=exif)
    rgb, info = read_image(tmp_path / "o.png")
    with Image.open(tmp_path / "o.png") as ref:
        assert np.array_equal(rgb, np.asarray(ImageOps.exif_transpose(ref).convert("RGB")))
    assert (info.height, info.width) == rgb.shape[:2]
    assert probe_image(tmp_path / "o.png") == info
    assert any(n.startswith("EXIF orientation") for n in info.notes) == (orientation != 1)


def test_jpeg_with_orientation_6_is_rotated_clockwise(tmp_path, photo):
    im, exif = _with_orientation(photo, 6)
    im.save(tmp_path / "o6.jpg", exif=exif, quality=95)
    rgb, info = read_image(tmp_path / "o6.jpg")
    assert rgb.shape == (135, 101, 3) and (info.width, info.height) == (101, 135)
    upright = np.ascontiguousarray(np.rot90(photo, -1))  # the stored top row becomes the right column
    assert psnr(rgb, upright).mean > 34
    assert "EXIF orientation 6 applied: pixels rotated 90 degrees clockwise" in info.notes


def test_multi_frame_files_give_the_first_frame(tmp_path, photo):
    frames = [Image.fromarray(np.roll(photo, 10 * k, axis=1)) for k in range(3)]
    frames[0].save(tmp_path / "pages.tif", save_all=True, append_images=frames[1:])
    rgb, info = read_image(tmp_path / "pages.tif")
    assert np.array_equal(rgb, photo) and info.frames == 3 and "first of 3 frames read" in info.notes
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    rgb, info = read_image(tmp_path / "anim.gif")
    assert rgb.shape == photo.shape and info.format == "GIF" and info.frames == 3


# --- limits and bad input ----------------------------------------------------------------------------


@pytest.fixture
def no_decoding(monkeypatch):
    """Fail the test if Pillow starts to decode pixels (load_prepare allocates the image)."""

    def refuse(self):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load_prepare", refuse)


@pytest.mark.filterwarnings("error")  # Pillow's DecompressionBombWarning must not escape either
@pytest.mark.parametrize("size", [(100_000, 100_000), (12_000, 12_000), (10_000, 9_000)])
def test_decompression_bomb_is_refused_from_the_header(tmp_path, no_decoding, size):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png(*size, 8, 2, b"\x00" * 64))  # a few bytes declaring gigapixels
    limit = MAX_PIXELS if size[0] * size[1] > MAX_PIXELS else 10**6  # the last one is under the default
    started = time.perf_counter()
    with pytest.raises(ResourceLimit) as exc:
        read_image(bomb, max_pixels=limit)
    assert time.perf_counter() - started < 1.0
    _one_line_naming(exc, bomb)


def test_probe_reads_the_header_only(tmp_path, photo, no_decoding):
    Image.fromarray(photo).save(tmp_path / "p.png")
    truncated = tmp_path / "cut.png"
    truncated.write_bytes((tmp_path / "p.png").read_bytes()[:200])  # header and a little pixel data
    info = probe_image(truncated)
    assert (info.width, info.height, info.format, info.mode) == (135, 101, "PNG", "RGB")
    assert info.pixels == 135 * 101


def test_pixel_limit_applies_to_real_images(tmp_path, photo):
    Image.fromarray(photo).save(tmp_path / "p.png")
    with pytest.raises(ResourceLimit, match="135x101 is 13635 pixels, over the limit of 10000"):
        read_image(tmp_path / "p.png", max_pixels=10_000)
    assert read_image(tmp_path / "p.png", max_pixels=13_635)[0].shape == photo.shape


@pytest.mark.parametrize("suffix", ["png", "jpg", "webp", "avif", "tif"])
def test_truncated_files_are_invalid_input(tmp_path, photo, suffix):
    whole = tmp_path / f"whole.{suffix}"
    Image.fromarray(photo).save(whole)
    cut = tmp_path / f"cut.{suffix}"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(InvalidInput) as exc:
        read_image(cut)
    _one_line_naming(exc, cut)


def test_garbage_directories_and_missing_files_are_invalid_input(tmp_path):
    rng = np.random.default_rng(2)
    cases = {"random.png": rng.bytes(4000), "random": rng.bytes(4000), "empty.jpg": b"",
             "text.png": b"hello, not an image\n" * 20,
             "png_magic_only.png": b"\x89PNG\r\n\x1a\n" + b"\x00" * 30}
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
    for path in [*(tmp_path / n for n in cases), tmp_path, tmp_path / "missing.png"]:
        with pytest.raises(InvalidInput) as exc:
            read_image(path)
        _one_line_naming(exc, path)
        if path.exists():
            with pytest.raises(InvalidInput):
                probe_image(path)


def test_uploaded_bytes_read_as_the_file_does(tmp_path, photo):
    """A service upload (read_image_bytes) gets the CLI's pixels: EXIF turned upright, 16-bit colour
    rounded through FFmpeg, the pixel limit from the header, and errors that name no path."""
    im, exif = _with_orientation(photo, 6)
    im.save(tmp_path / "o6.jpg", exif=exif, quality=95)
    samples = np.stack([np.roll(V16, c) for c in range(3)], axis=-1)[None]
    _png16(tmp_path / "x16.png", samples)
    Image.fromarray(V16[None, :]).save(tmp_path / "g16.png")  # Pillow's own convert clips it to 255
    for f in (tmp_path / "o6.jpg", tmp_path / "x16.png", tmp_path / "g16.png"):
        rgb, info = read_image(f)
        got, got_info = read_image_bytes(f.read_bytes())
        assert np.array_equal(got, rgb) and got_info == info
    assert read_image_bytes((tmp_path / "o6.jpg").read_bytes())[0].shape == (135, 101, 3)
    bomb = _png(10_000, 9_000, 8, 2, b"\x00" * 64)
    with pytest.raises(ResourceLimit, match=r"^image 3: 10000x9000 is 90000000 pixels, over the limit"):
        read_image_bytes(bomb, 10**6, what="image 3")
    for junk in (b"", b"junk", (tmp_path / "o6.jpg").read_bytes()[:300]):
        with pytest.raises(InvalidInput) as exc:
            read_image_bytes(junk, what="the upload")
        assert str(exc.value).startswith("the upload: ") and str(tmp_path) not in str(exc.value)


# --- writing and sniffing ----------------------------------------------------------------------------


def test_write_image_round_trips_exactly_and_atomically(tmp_path, photo, gray_photo):
    out = tmp_path / "sub" / "out.png"
    write_image(out, photo)
    assert np.array_equal(read_image(out)[0], photo)
    write_image(out, gray_photo)  # replaces the file
    rgb, info = read_image(out)
    assert np.array_equal(rgb[:, :, 1], gray_photo) and info.mode == "L"
    assert sorted(p.name for p in out.parent.iterdir()) == ["out.png"]  # no temporary left behind


def test_write_image_refuses_bad_arrays_and_paths(tmp_path, photo):
    for bad in (photo.astype(np.float32), photo[:, :, :2], photo[None], np.zeros((0, 4, 3), np.uint8)):
        with pytest.raises(InvalidInput, match="uint8"):
            write_image(tmp_path / "x.png", bad)
    with pytest.raises(InvalidInput, match=r"\.png"):
        write_image(tmp_path / "x.jpg", photo)
    (tmp_path / "taken.png").mkdir()
    with pytest.raises(InvalidInput, match="cannot write"):
        write_image(tmp_path / "taken.png", photo)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken.png"]


def test_is_image_file_by_suffix_then_by_content(tmp_path, photo):
    assert {".png", ".jpg", ".jpeg", ".webp", ".avif", ".tif", ".tiff", ".ppm", ".pgm"} <= IMAGE_SUFFIXES
    assert is_image_file(tmp_path / "not_yet_written.JPG")  # the suffix is enough
    Image.fromarray(photo).save(tmp_path / "photo_no_suffix", format="JPEG")
    Image.fromarray(photo).save(tmp_path / "photo.data", format="WEBP")
    (tmp_path / "noise.bin").write_bytes(np.random.default_rng(3).bytes(3000))
    assert is_image_file(tmp_path / "photo_no_suffix") and is_image_file(tmp_path / "photo.data")
    assert not is_image_file(tmp_path / "noise.bin")
    assert not is_image_file(CARPHONE)  # a video
    assert not is_image_file(tmp_path) and not is_image_file(tmp_path / "missing")


def test_pillow_warnings_about_bombs_do_not_leak_from_sniffing(tmp_path):
    (tmp_path / "big").write_bytes(_png(10_000, 9_000, 8, 2, b"\x00" * 64))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert is_image_file(tmp_path / "big")
