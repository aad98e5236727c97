"""Multi-window 1D-CNN: parallel convolutions of heights 2, 4, ..., each max-pooled over time.

Branch ``h`` computes ``c_i = f(w_h * x[i : i + h] + b_h)`` for every valid start ``i`` (there are
``n_packets - h + 1``) and keeps ``max_i c_i`` per filter; the branches' maxima are concatenated and
go to the dense head. :meth:`MWCNN1D.forward_branches` is exactly that, one convolution per branch.

:meth:`MWCNN1D.forward` computes the same function faster (``benchmarks/mwcnn_forms.py`` measures
it against the fused forms: one zero-masked convolution, grouped convolution, one masked matmul):

* the activations are non-decreasing, so ``max_i f(z_i + b) == f(max_i z_i + b)``: the activation
  and the bias act on ``batch x filters`` maxima instead of ``batch x filters x time`` maps;
* the windows of the tallest height are laid out once per batch chunk (row ``i`` holds packets
  ``i .. i+H-1`` end to end); branch ``h`` is one matrix product of the top-left corner of that
  matrix (its positions, its first ``h`` packets) with its kernel, read in place;
* the gradient of a max over time reaches only the position of the maximum, so the kernel's
  gradient is a weighted sum over the batch of the windows at those positions (gathered tap by
  tap with ``embedding_bag``), not a second pass of the convolution's size. The input gets no
  gradient on this path (it is data); an input that requires one goes through
  :meth:`forward_branches`.

Fusing the branches into one zero-masked convolution or matmul of height ``max_height - 2``
multiplies the work by about 2.2 at the selected values, which costs more than it saves.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from iotscope.features import N_FEATURES
from iotscope.models.head import (
    ACTIVATIONS,
    CheckedModel,
    DenseHead,
    architecture_keys,
    argument_problems,
    keras_init,
)

NAME = "mwcnn1d"
PAPER_HYPERPARAMETERS: dict[str, Any] = {
    "filters": 128,
    "max_height": 80,
    "activation": "sigmoid",
    "dropout": 0.249,
    "batch_size": 1024,
    "optimizer": "adam",
    "learning_rate": 0.00136,
}
"""The study's selected values (its Table 1.1); the constructor's defaults."""
ARCHITECTURE_KEYS: tuple[str, ...] = architecture_keys(PAPER_HYPERPARAMETERS)
_PAPER = PAPER_HYPERPARAMETERS

CHUNK_ELEMENTS = 1 << 24
"""Upper bound on the elements of the windows materialised at once (64 MiB in fp32)."""


def window_heights(max_height: int) -> tuple[int, ...]:
    """The branches' window heights: 2, 4, ... below ``max_height`` (39 of them for 80)."""
    return tuple(range(2, max_height, 2))


def architecture_problems(
    n_packets: int,
    n_features: int,
    *,
    filters: int,
    max_height: int,
    activation: str,
    dropout: float,
) -> list[str]:
    """What makes this architecture impossible at ``n_packets`` packets (empty if nothing)."""
    problems = argument_problems(
        {"filters": (filters, 1), "max_height": (max_height, 3)}, activation, dropout
    )
    if not problems and max_height > n_packets:
        problems.append(
            f"max_height={max_height} is taller than n_packets={n_packets} "
            f"(its tallest window is {window_heights(max_height)[-1]} packets)"
        )
    return problems


def _windows(packets: torch.Tensor, height: int) -> torch.Tensor:
    """View ``(batch, time, features)`` as ``(batch, time - height + 1, height * features)``.

    Row ``i`` holds packets ``i .. i + height - 1`` one after the other; nothing is copied.
    """
    batch, time, features = packets.shape
    return packets.as_strided(
        (batch, time - height + 1, height * features), (time * features, features, 1)
    )


def _samples_per_chunk(elements_per_sample: int) -> int:
    return max(1, CHUNK_ELEMENTS // elements_per_sample)


def _compute_dtype(tensor: torch.Tensor) -> torch.dtype:
    device = tensor.device.type
    if torch.is_autocast_enabled(device):
        return torch.get_autocast_dtype(device)
    return tensor.dtype


class _WindowMaxima(torch.autograd.Function):
    """Per branch and filter, the maximum over time of the convolution (without bias).

    ``forward(packets, *kernels)``: ``packets`` is contiguous ``(batch, time, features)``; kernel
    ``k`` has shape ``(height_k * features, filters)`` with row ``tap * features + feature``, the
    heights ascending. Returns ``(batch, sum of filters)``, the branches side by side. No gradient
    for ``packets``.
    """

    @staticmethod
    def forward(ctx: Any, packets: torch.Tensor, *kernels: torch.Tensor) -> torch.Tensor:
        batch, time, features = packets.shape
        heights = [kernel.shape[0] // features for kernel in kernels]
        tallest, shortest = heights[-1], heights[0]
        # The windows of the tallest height, zero rows appended so that there are as many rows
        # as the shortest height has positions: branch h reads the top-left corner of this.
        padded = F.pad(packets, (0, 0, 0, tallest - shortest))
        dtype = _compute_dtype(packets)
        rows = _samples_per_chunk((time - shortest + 1) * tallest * features)
        cast = [kernel.to(dtype) for kernel in kernels]
        maxima: list[list[torch.Tensor]] = [[] for _ in kernels]
        positions: list[list[torch.Tensor]] = [[] for _ in kernels]
        for start in range(0, batch, rows):
            windows = _windows(padded[start : start + rows], tallest).to(dtype, copy=True)
            for i, (height, kernel) in enumerate(zip(heights, cast, strict=True)):
                corner = windows[:, : time - height + 1, : height * features]
                peak = torch.bmm(corner, kernel.expand(corner.shape[0], *kernel.shape)).max(dim=1)
                maxima[i].append(peak.values)
                positions[i].append(peak.indices)
        position_tensors = [torch.cat(p) for p in positions]
        ctx.save_for_backward(packets, *position_tensors)
        ctx.kernel_dtypes = [kernel.dtype for kernel in kernels]
        ctx.kernel_heights = heights
        return torch.cat([torch.cat(m) for m in maxima], dim=1)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        # d max_i (w . window_i) / dw = window at the maximum: for each tap, a weighted sum over
        # the batch of the packets at (position of the maximum + tap), one embedding bag per tap.
        packets, *positions = ctx.saved_tensors
        batch, time, features = packets.shape
        rows = packets.reshape(batch * time, features)
        starts = torch.arange(batch, device=packets.device)[None, :] * time
        grad = grad.to(packets.dtype)
        kernel_grads = []
        first = 0
        for height, dtype, position in zip(
            ctx.kernel_heights, ctx.kernel_dtypes, positions, strict=True
        ):
            filters = position.shape[1]
            weights = grad[:, first : first + filters].T.contiguous()
            first += filters
            at_maxima = position.T + starts
            taps = [
                F.embedding_bag(at_maxima + tap, rows, per_sample_weights=weights, mode="sum")
                for tap in range(height)
            ]
            kernel_grads.append(torch.stack(taps, dim=1).reshape(filters, -1).T.to(dtype))
        return (None, *kernel_grads)


class MWCNN1D(CheckedModel):
    """One Conv1d branch per window height in 2, 4, ... below ``max_height``, max over time each,
    concatenated -> dense head.

    Input: ``(batch, n_packets, n_features)``; output: ``(batch, 2)`` logits.
    """

    def __init__(
        self,
        n_packets: int,
        n_features: int = N_FEATURES,
        *,
        filters: int = _PAPER["filters"],
        max_height: int = _PAPER["max_height"],
        activation: str = _PAPER["activation"],
        dropout: float = _PAPER["dropout"],
    ) -> None:
        super().__init__(
            NAME,
            n_packets,
            n_features,
            architecture_problems,
            {
                "filters": filters,
                "max_height": max_height,
                "activation": activation,
                "dropout": dropout,
            },
        )
        self.heights = window_heights(max_height)
        self.branches = nn.ModuleList(nn.Conv1d(n_features, filters, h) for h in self.heights)
        self.head = DenseHead(filters * len(self.heights), dropout)
        keras_init(self)

    def forward(self, packets: torch.Tensor) -> torch.Tensor:
        if packets.requires_grad:
            return self.forward_branches(packets)
        kernels = [
            branch.weight.permute(2, 1, 0).reshape(-1, branch.out_channels)
            for branch in self.branches
        ]
        maxima = _WindowMaxima.apply(packets.contiguous(), *kernels)
        biases = torch.cat([branch.bias for branch in self.branches])
        return self.head(ACTIVATIONS[self.activation](maxima + biases))

    def forward_branches(self, packets: torch.Tensor) -> torch.Tensor:
        """The plain form: each branch's convolution, activation, then max over time."""
        activation = ACTIVATIONS[self.activation]
        maps = packets.transpose(1, 2)
        maxima = [activation(branch(maps)).max(dim=2).values for branch in self.branches]
        return self.head(torch.cat(maxima, dim=1))

    def flops_per_sample(self) -> int:
        """FLOPs of one sample's forward pass in the plain form: 2 per multiply-add of the
        branches' convolutions and the head."""
        convs = sum(
            2 * (self.n_packets - h + 1) * branch.out_channels * self.n_features * h
            for h, branch in zip(self.heights, self.branches, strict=True)
        )
        return convs + self.head.flops()
