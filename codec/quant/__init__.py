"""Quantization and pruning shared by the neural codecs."""

from codec.quant.prune import magnitude_masks, prune_ratio_of
from codec.quant.quantize import QuantTensor, code_range, dequantize, fake_quantize, quantize

__all__ = [
    "QuantTensor",
    "code_range",
    "quantize",
    "dequantize",
    "fake_quantize",
    "magnitude_masks",
    "prune_ratio_of",
]
