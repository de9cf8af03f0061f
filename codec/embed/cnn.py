"""The image embedder's network: a small CNN for 28x28 gray images (Fashion-MNIST's size).

Three conv stages (width, 2x, 4x channels; batch norm, ReLU, 2x2 pooling) and a linear layer to
the full embedding size. Small enough to train in minutes on a CPU and to ship in assets/models.
"""

from __future__ import annotations

import torch
from torch import nn

SIZE = 28  # input side, pixels


class ImageEncoder(nn.Module):
    def __init__(self, dim: int, width: int = 32) -> None:
        super().__init__()

        def stage(cin: int, cout: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            )  # fmt: skip

        self.features = nn.Sequential(stage(1, width), stage(width, 2 * width), stage(2 * width, 4 * width))
        self.proj = nn.Linear(4 * width * 3 * 3, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 28, 28) uint8 or float in [0, 1] -> (B, dim) embeddings (not normalised)."""
        if x.dtype == torch.uint8:
            x = x.float() / 255.0
        x = (x - 0.286) / 0.353  # Fashion-MNIST's pixel mean and std
        return self.proj(self.features(x[:, None]).flatten(1))
