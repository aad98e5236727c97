"""2D-CNN: the packets-by-features matrix read as a one-channel image."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from iotscope.features import N_FEATURES
from iotscope.models.head import (
    ACTIVATIONS,
    CheckedModel,
    DenseHead,
    architecture_keys,
    argument_problems,
    keras_init,
    ordinal,
)

NAME = "cnn2d"
PAPER_HYPERPARAMETERS: dict[str, Any] = {
    "layers": 2,
    "filters": 32,
    "kernel_size": 3,
    "activation": "sigmoid",
    "pool": 2,
    "dropout": 0.291,
    "batch_size": 1024,
    "optimizer": "rmsprop",
    "learning_rate": 0.00143,
}
"""The study's selected values (its Table 1.1); the constructor's defaults."""
ARCHITECTURE_KEYS: tuple[str, ...] = architecture_keys(PAPER_HYPERPARAMETERS)
_PAPER = PAPER_HYPERPARAMETERS


def architecture_problems(
    n_packets: int,
    n_features: int,
    *,
    layers: int,
    filters: int,
    kernel_size: int,
    activation: str,
    pool: int,
    dropout: float,
) -> list[str]:
    """What makes this architecture impossible at ``n_packets`` packets (empty if nothing)."""
    problems = argument_problems(
        {
            "layers": (layers, 1),
            "filters": (filters, 1),
            "kernel_size": (kernel_size, 1),
            "pool": (pool, 1),
        },
        activation,
        dropout,
    )
    if problems:
        return problems
    rows, cols = n_packets, n_features
    for layer in range(2, layers + 1):
        if min(rows, cols) < kernel_size:
            return [
                f"kernel_size={kernel_size} is larger than the {rows}x{cols} map reaching the "
                f"{ordinal(layer)} of layers={layers} convolutions (n_packets={n_packets}, "
                f"n_features={n_features}; each 'valid' convolution after the first shrinks both "
                f"axes by kernel_size-1={kernel_size - 1})"
            ]
        rows, cols = rows - (kernel_size - 1), cols - (kernel_size - 1)
    if min(rows, cols) < pool:
        return [
            f"pool={pool} leaves nothing of the {rows}x{cols} map left after layers={layers} "
            f"convolutions of kernel_size={kernel_size} (n_packets={n_packets}, "
            f"n_features={n_features})"
        ]
    return []


class CNN2D(CheckedModel):
    """Conv2d(k x k, 'same') + (layers-1) x Conv2d(k x k, 'valid') -> MaxPool2d(pool) -> dense head.

    Input: ``(batch, n_packets, n_features)``; output: ``(batch, 2)`` logits. 'same' pads as Keras
    does: an even kernel gets one more zero row and column at the end than at the start.
    """

    def __init__(
        self,
        n_packets: int,
        n_features: int = N_FEATURES,
        *,
        layers: int = _PAPER["layers"],
        filters: int = _PAPER["filters"],
        kernel_size: int = _PAPER["kernel_size"],
        activation: str = _PAPER["activation"],
        pool: int = _PAPER["pool"],
        dropout: float = _PAPER["dropout"],
    ) -> None:
        super().__init__(
            NAME,
            n_packets,
            n_features,
            architecture_problems,
            {
                "layers": layers,
                "filters": filters,
                "kernel_size": kernel_size,
                "activation": activation,
                "pool": pool,
                "dropout": dropout,
            },
        )
        before, after = (kernel_size - 1) // 2, kernel_size // 2
        self.same_padding = nn.ZeroPad2d((before, after, before, after))
        self.convs = nn.ModuleList(
            nn.Conv2d(1 if i == 0 else filters, filters, kernel_size) for i in range(layers)
        )
        shrink = kernel_size - 1
        self.conv_shapes = [
            (n_packets - i * shrink, n_features - i * shrink) for i in range(layers)
        ]
        rows, cols = self.conv_shapes[-1]
        self.pool = nn.MaxPool2d(pool)
        self.head = DenseHead(filters * (rows // pool) * (cols // pool), dropout)
        keras_init(self)

    def forward(self, packets: torch.Tensor) -> torch.Tensor:
        activation = ACTIVATIONS[self.activation]
        maps = self.same_padding(packets.unsqueeze(1))
        for conv in self.convs:
            maps = activation(conv(maps))
        return self.head(self.pool(maps))

    def flops_per_sample(self) -> int:
        """FLOPs of one sample's forward pass (2 per multiply-add of the convolutions and head)."""
        convs = sum(
            2 * rows * cols * conv.out_channels * conv.in_channels * conv.kernel_size[0] ** 2
            for conv, (rows, cols) in zip(self.convs, self.conv_shapes, strict=True)
        )
        return convs + self.head.flops()
