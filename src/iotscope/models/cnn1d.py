"""1D-CNN: stacked convolutions along time whose kernels span every feature of a packet."""

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

NAME = "cnn1d"
PAPER_HYPERPARAMETERS: dict[str, Any] = {
    "layers": 3,
    "filters": 32,
    "kernel_height": 64,
    "activation": "tanh",
    "pool": 3,
    "dropout": 0.243,
    "batch_size": 512,
    "optimizer": "adam",
    "learning_rate": 0.00122,
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
    kernel_height: int,
    activation: str,
    pool: int,
    dropout: float,
) -> list[str]:
    """What makes this architecture impossible at ``n_packets`` packets (empty if nothing)."""
    problems = argument_problems(
        {
            "layers": (layers, 1),
            "filters": (filters, 1),
            "kernel_height": (kernel_height, 1),
            "pool": (pool, 1),
        },
        activation,
        dropout,
    )
    if problems:
        return problems
    length = n_packets
    for layer in range(1, layers + 1):
        if length < kernel_height:
            return [
                f"kernel_height={kernel_height} is taller than the {length} time steps reaching "
                f"the {ordinal(layer)} of layers={layers} convolutions (n_packets={n_packets}; "
                f"each 'valid' convolution removes kernel_height-1={kernel_height - 1})"
            ]
        length -= kernel_height - 1
    if length < pool:
        return [
            f"pool={pool} leaves nothing of the {length} time steps left after layers={layers} "
            f"convolutions of kernel_height={kernel_height} (n_packets={n_packets})"
        ]
    return []


class CNN1D(CheckedModel):
    """``layers`` x Conv1d(kernel_height x all features, 'valid') -> MaxPool1d(pool) -> dense head.

    Input: ``(batch, n_packets, n_features)``; output: ``(batch, 2)`` logits.
    """

    def __init__(
        self,
        n_packets: int,
        n_features: int = N_FEATURES,
        *,
        layers: int = _PAPER["layers"],
        filters: int = _PAPER["filters"],
        kernel_height: int = _PAPER["kernel_height"],
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
                "kernel_height": kernel_height,
                "activation": activation,
                "pool": pool,
                "dropout": dropout,
            },
        )
        self.convs = nn.ModuleList(
            nn.Conv1d(n_features if i == 0 else filters, filters, kernel_height)
            for i in range(layers)
        )
        self.conv_lengths = [n_packets - (i + 1) * (kernel_height - 1) for i in range(layers)]
        self.pool = nn.MaxPool1d(pool)
        self.head = DenseHead(filters * (self.conv_lengths[-1] // pool), dropout)
        keras_init(self)

    def forward(self, packets: torch.Tensor) -> torch.Tensor:
        activation = ACTIVATIONS[self.activation]
        maps = packets.transpose(1, 2)
        for conv in self.convs:
            maps = activation(conv(maps))
        return self.head(self.pool(maps))

    def flops_per_sample(self) -> int:
        """FLOPs of one sample's forward pass (2 per multiply-add of the convolutions and head)."""
        convs = sum(
            2 * length * conv.out_channels * conv.in_channels * conv.kernel_size[0]
            for conv, length in zip(self.convs, self.conv_lengths, strict=True)
        )
        return convs + self.head.flops()
