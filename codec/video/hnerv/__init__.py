"""HNeRV video codec (Chen et al., CVPR 2023): a per-video network overfit to the clip.

codec.py    registry entry (declarations, thin calls)   options.py  encode/decode options
header.py   header params and their checks               config.py   architecture from a budget
model.py    encoder / decoder modules                    train.py    the training loop and stages
encode.py   training + compression into a file           decode.py   file -> frames (no training code)
bitstream.py  what the sections hold
"""

from codec.video.hnerv.codec import HNeRVCodec

__all__ = ["HNeRVCodec"]
