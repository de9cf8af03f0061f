"""LatentService calls: QLAE codes for images on the server, edits, traversals."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from codec.client.transport import Connection
from codec.errors import CorruptData, InvalidInput
from codec.rpc import latents_pb2, latents_pb2_grpc


class LatentsApi(Connection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.latents = latents_pb2_grpc.LatentServiceStub(self.channel)

    def encode_latents(
        self, model: str, images: Sequence[bytes], names: Sequence[str] = ()
    ) -> latents_pb2.EncodeLatentsResponse:
        req = latents_pb2.EncodeLatentsRequest(model=model, images=list(images), names=list(names))
        return self._unary(self.latents.Encode, req)

    def decode_latents(self, data: bytes, images: bool = True) -> latents_pb2.DecodeLatentsResponse:
        return self._unary(self.latents.Decode, latents_pb2.DecodeLatentsRequest(file=data, images=images))

    def edit_latents(
        self, data: bytes, sets: Sequence[tuple[int, int]], items: Sequence[int] = ()
    ) -> latents_pb2.EditLatentsResponse:
        req = latents_pb2.EditLatentsRequest(
            file=data, set=[latents_pb2.CodeSet(dim=d, value=v) for d, v in sets], items=list(items)
        )
        return self._unary(self.latents.Edit, req)

    def traverse_latents(
        self, model: str, dim: int, data: bytes = b"", rows: int = 0, seed: int = 0
    ) -> latents_pb2.TraverseResponse:
        req = latents_pb2.TraverseRequest(model=model, dim=dim, file=data, rows=rows, seed=seed)
        return self._unary(self.latents.Traverse, req)

    def decode_to_file(
        self,
        output: str | os.PathLike[str],
        bitstream: str | os.PathLike[str] | bytes | None = None,
        frames: Any = None,
        options: Any = None,
    ) -> int:
        """`codec decode FILE.qla -o out.png|DIR --server`: the images rendered there, written here."""
        from codec.io.atomic import atomic_path

        data = bitstream if isinstance(bitstream, bytes) else Path(bitstream).read_bytes()
        r = self.decode_latents(data, images=True)
        out = Path(output)
        if out.suffix.lower() == ".png":
            if len(r.images) != 1:
                raise InvalidInput(f"{out.name}: the file holds {len(r.images)} images; give a folder")
            targets = [out]
        else:
            names = [item.name for item in r.items]
            if any(Path(n).name != n or n in ("", ".", "..") for n in names):
                raise CorruptData("the server sent an image name that is not a plain file name")
            out.mkdir(parents=True, exist_ok=True)
            targets = [out / str(Path(n).with_suffix(".png")) for n in names]
        for path, png in zip(targets, r.images, strict=False):
            with atomic_path(path, "image") as tmp:
                Path(tmp).write_bytes(png)
        return len(r.images)
