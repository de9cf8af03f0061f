"""ImageService: still images through the registered image codec, unary, within the server's limits.

Encodes and decodes run on the I/O executor inside the server's data dir (its model store), with
the upload's pixels checked from the image header before decoding, and files opened under the
server's decode limits. The codec is whichever is registered for image input (or the one named);
no codec name is branched on here.
"""

from __future__ import annotations

import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from codec import api, registry
from codec.container import ImageMedia
from codec.errors import InvalidInput, ResourceLimit
from codec.rpc import images_pb2, images_pb2_grpc
from codec.rpc.options import from_proto_map
from service.config import Limits
from service.errors import rpc_errors
from service.inputs import decode_limits, image_from_bytes, png_bytes
from service.servicers.base import DataDirServicer


class ImageServicer(DataDirServicer, images_pb2_grpc.ImageServiceServicer):
    def __init__(self, limits: Limits, executor: ThreadPoolExecutor, data_dir: Path, tmp_dir: Path) -> None:
        super().__init__(limits, executor, data_dir)
        self.tmp_dir = tmp_dir

    def _encode(self, req: images_pb2.EncodeImageRequest) -> images_pb2.EncodeImageResponse:
        from PIL import Image

        if len(req.image) > self.limits.max_bitstream_bytes:
            raise ResourceLimit(
                f"a {len(req.image)}-byte image exceeds the limit of {self.limits.max_bitstream_bytes}"
            )
        rgb = image_from_bytes(req.image, self.limits.image.max_pixels)
        api.load_codecs()
        c = registry.get(req.codec) if req.codec else registry.for_input("image")
        if "image" not in c.inputs:
            raise InvalidInput(f"codec {c.name} does not encode images")
        options = from_proto_map(req.options)
        if "device" in options:
            raise InvalidInput("device is the server's choice")
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.tmp_dir) as tmp:
            src, dst = Path(tmp) / "in.png", Path(tmp) / f"out{c.suffix}"
            Image.fromarray(rgb).save(src)
            r = api.encode(src, dst, c.name, options)
            metrics = {k: float(v) for k, v in r.metrics.items()}
            return images_pb2.EncodeImageResponse(
                file=dst.read_bytes(), codec=c.name, bpp=r.rate, metrics=metrics, warnings=list(r.warnings)
            )

    @rpc_errors
    async def Encode(self, request, context) -> images_pb2.EncodeImageResponse:
        return await self.run(self._encode, request)

    def _decode(self, req: images_pb2.DecodeImageRequest) -> images_pb2.DecodeImageResponse:
        if len(req.file) > self.limits.max_bitstream_bytes:
            raise ResourceLimit(
                f"a {len(req.file)}-byte file exceeds the limit of {self.limits.max_bitstream_bytes}"
            )
        f = api.open(req.file, limits=lambda media: decode_limits(self.limits, media))
        if not isinstance(f.container.media, ImageMedia):
            raise InvalidInput(f"ImageService decodes image files, not {f.codec.name} files")
        img = next(iter(api.decode_stream(f)))
        return images_pb2.DecodeImageResponse(png=png_bytes(img), width=img.shape[1], height=img.shape[0])

    @rpc_errors
    async def Decode(self, request, context) -> images_pb2.DecodeImageResponse:
        return await self.run(self._decode, request)
