"""LatentService: QLAE codes for images with the server's latent models, edits and traversals.

Every call runs on the I/O executor inside the server's data dir (its model store). Models are
built once per NAME@vN and kept (codec.latents.zoo). Files come back as bytes: a qlae file is a
few bytes per image.
"""

from __future__ import annotations

import numpy as np

from codec import api, container
from codec.container import LatentMedia
from codec.errors import InvalidInput, ResourceLimit
from codec.rpc import latents_pb2, latents_pb2_grpc
from service.errors import rpc_errors
from service.inputs import decode_limits, image_from_bytes, png_bytes
from service.servicers.base import DataDirServicer

DEFAULT_ROWS = 4


def _items(names: list[str], codes: np.ndarray) -> list[latents_pb2.LatentItem]:
    return [
        latents_pb2.LatentItem(name=n, codes=[int(x) for x in row])
        for n, row in zip(names, codes, strict=True)
    ]


class LatentServicer(DataDirServicer, latents_pb2_grpc.LatentServiceServicer):
    def _model(self, spec: str):
        from codec.device import pick_device
        from codec.latents.options import check_model_spec
        from codec.latents.zoo import load_model
        from codec.models import ModelStore

        check_model_spec(spec)
        return load_model(spec, ModelStore(self.data_dir), pick_device("cpu"))  # built once (zoo's cache)

    def _open(self, data: bytes):
        if len(data) > self.limits.max_bitstream_bytes:
            raise ResourceLimit(
                f"a {len(data)}-byte file exceeds the limit of {self.limits.max_bitstream_bytes}"
            )
        f = api.open(data, limits=lambda media: decode_limits(self.limits, media))
        if not isinstance(f.container.media, LatentMedia):
            raise InvalidInput(f"LatentService takes qlae files, not {f.codec.name} files")
        return f

    def _read_images(self, blobs: list[bytes]) -> list[np.ndarray]:
        if not blobs:
            raise InvalidInput("nothing to encode: the batch is empty")
        if len(blobs) > self.limits.latents.max_items:
            limit = self.limits.latents.max_items
            raise ResourceLimit(f"{len(blobs)} images exceed the limit of {limit} per file")
        return [image_from_bytes(d, self.limits.image.max_pixels, f"image {i}") for i, d in enumerate(blobs)]

    def _encode(self, req: latents_pb2.EncodeLatentsRequest) -> latents_pb2.EncodeLatentsResponse:
        from codec.latents.encode import encode_arrays

        model = self._model(req.model or "shapes3d")
        rgbs = self._read_images(list(req.images))
        names = list(req.names)
        if names and len(names) != len(rgbs):
            raise InvalidInput(f"{len(names)} names for {len(rgbs)} images")
        if names and len(set(names)) != len(names):
            raise InvalidInput("image names must be unique")
        shown = names or [f"image {i}" for i in range(len(rgbs))]
        c, codes, _, warnings = encode_arrays(rgbs, shown, model, bool(names))
        data = container.write(c)
        bits = 8.0 * len(c.section("codes")) / len(rgbs)
        return latents_pb2.EncodeLatentsResponse(
            file=data,
            model=model.manifest.spec,
            items=_items(shown, codes),
            warnings=warnings,
            payload_bits=bits,
        )

    @rpc_errors
    async def Encode(self, request, context) -> latents_pb2.EncodeLatentsResponse:
        return await self.run(self._encode, request)

    def _decode(self, req: latents_pb2.DecodeLatentsRequest) -> latents_pb2.DecodeLatentsResponse:
        from codec.latents.decode import decode_batches, open_codes
        from codec.latents.edit import dim_meanings
        from codec.latents.images import to_rgb

        f = self._open(req.file)
        d = open_codes(f.container, f.config)
        images = [png_bytes(to_rgb(x)) for batch in decode_batches(d) for x in batch] if req.images else []
        dims = [latents_pb2.DimMeaning(dim=m.dim, factor=m.factor, nmi=m.nmi) for m in dim_meanings(d.model)]
        return latents_pb2.DecodeLatentsResponse(
            model=d.model.manifest.spec,
            levels=d.model.levels,
            items=_items(d.names, d.codes),
            images=images,
            dims=dims,
        )

    @rpc_errors
    async def Decode(self, request, context) -> latents_pb2.DecodeLatentsResponse:
        return await self.run(self._decode, request)

    def _edit(self, req: latents_pb2.EditLatentsRequest) -> latents_pb2.EditLatentsResponse:
        from codec.latents.decode import open_codes
        from codec.latents.edit import edit

        if not req.set:
            raise InvalidInput("give at least one code to set (dim, value)")
        f = self._open(req.file)
        c = edit(f.container, f.config, [(s.dim, s.value) for s in req.set], list(req.items) or None)
        data = container.write(c)
        g = self._open(data)  # the edited file, read back as a client will
        d = open_codes(g.container, g.config)
        return latents_pb2.EditLatentsResponse(file=data, items=_items(d.names, d.codes))

    @rpc_errors
    async def Edit(self, request, context) -> latents_pb2.EditLatentsResponse:
        return await self.run(self._edit, request)

    def _traverse(self, req: latents_pb2.TraverseRequest) -> latents_pb2.TraverseResponse:
        from codec.latents.decode import open_codes
        from codec.latents.edit import base_codes, dim_meanings, traverse_grid

        model = self._model(req.model or "shapes3d")
        decoded = None
        if req.file:
            f = self._open(req.file)
            decoded = open_codes(f.container, f.config)
            if decoded.model.manifest.sha256 != model.manifest.sha256:
                raise InvalidInput(
                    f"the file was encoded with {decoded.model.manifest.spec}, not {model.manifest.spec}"
                )
        grid = traverse_grid(model, req.dim, base_codes(model, req.rows or DEFAULT_ROWS, req.seed, decoded))
        factor = dim_meanings(model)[req.dim].factor
        return latents_pb2.TraverseResponse(
            png=png_bytes(grid), model=model.manifest.spec, factor=factor, levels=model.levels
        )

    @rpc_errors
    async def Traverse(self, request, context) -> latents_pb2.TraverseResponse:
        return await self.run(self._traverse, request)
