"""Time equivalent forms of the multi-window 1D-CNN: one training step (forward + backward).

Every form computes the same function with the same parameters as ``MWCNN1D.forward_branches``
(the plain form: one convolution per window height, activation, max over time); the script checks
that, then prints milliseconds per sample and the speed-up over the plain form, in fp32 and under
bf16 autocast. The fused forms use one kernel of the tallest height whose taps past a branch's own
height are zero (built from the branches' real taps, so masked taps get no gradient), on the input
right-padded with zeros; positions a shorter branch may not reach are set to -inf before the max.

    python benchmarks/mwcnn_forms.py          # the selected model at n = 298, batch 1024
    python benchmarks/mwcnn_forms.py --batch 32 --threads 1 --clock cpu   # on a busy machine
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from iotscope.features import N_FEATURES
from iotscope.models import build_model
from iotscope.models.head import ACTIVATIONS
from iotscope.models.mwcnn1d import MWCNN1D

Form = Callable[[MWCNN1D, torch.Tensor], torch.Tensor]


def _fused_kernel(model: MWCNN1D) -> tuple[torch.Tensor, torch.Tensor]:
    """All branches' kernels zero-padded to the tallest height, and the concatenated biases."""
    tallest = model.heights[-1]
    kernel = torch.cat([F.pad(b.weight, (0, tallest - b.kernel_size[0])) for b in model.branches])
    return kernel, torch.cat([branch.bias for branch in model.branches])


def _reach_mask(model: MWCNN1D, positions: int, device: torch.device) -> torch.Tensor:
    """0 where branch h may start a window (position <= n_packets - h), -inf elsewhere."""
    limits = torch.tensor(
        [model.n_packets - branch.kernel_size[0] for branch in model.branches], device=device
    ).repeat_interleave(model.branches[0].out_channels)
    reach = torch.arange(positions, device=device)[None, :] <= limits[:, None]
    return torch.zeros(reach.shape, device=device).masked_fill(~reach, float("-inf"))


def _head(model: MWCNN1D, peaks: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    return model.head(ACTIVATIONS[model.activation](peaks + bias))


def fused_conv(model: MWCNN1D, packets: torch.Tensor) -> torch.Tensor:
    """One zero-masked Conv1d over every branch's filters."""
    kernel, bias = _fused_kernel(model)
    padded = F.pad(packets.transpose(1, 2), (0, model.heights[-1] - model.heights[0]))
    maps = F.conv1d(padded, kernel)
    maps = maps + _reach_mask(model, maps.shape[2], maps.device)
    return _head(model, maps.max(dim=2).values, bias)


def grouped_conv(model: MWCNN1D, packets: torch.Tensor) -> torch.Tensor:
    """The same zero-masked kernels as a grouped Conv1d, one group per branch."""
    kernel, bias = _fused_kernel(model)
    padded = F.pad(packets.transpose(1, 2), (0, model.heights[-1] - model.heights[0]))
    maps = F.conv1d(padded.repeat(1, len(model.heights), 1), kernel, groups=len(model.heights))
    maps = maps + _reach_mask(model, maps.shape[2], maps.device)
    return _head(model, maps.max(dim=2).values, bias)


def fused_matmul(model: MWCNN1D, packets: torch.Tensor) -> torch.Tensor:
    """Unfold the windows of the tallest height, one matmul with the zero-masked kernels."""
    kernel, bias = _fused_kernel(model)
    tallest, features = model.heights[-1], packets.shape[2]
    padded = F.pad(packets, (0, 0, 0, tallest - model.heights[0]))
    windows = (
        padded.unfold(1, tallest, 1)
        .transpose(2, 3)
        .reshape(packets.shape[0], -1, tallest * features)
    )
    maps = windows @ kernel.permute(2, 1, 0).reshape(tallest * features, -1)
    maps = maps + _reach_mask(model, maps.shape[1], maps.device).T
    return _head(model, maps.max(dim=1).values, bias)


def branch_matmul(model: MWCNN1D, packets: torch.Tensor) -> torch.Tensor:
    """Per branch, unfolded windows times the kernel; max before the activation; plain autograd."""
    peaks = []
    for branch in model.branches:
        height = branch.kernel_size[0]
        windows = packets.unfold(1, height, 1).transpose(2, 3).flatten(2)
        kernel = branch.weight.permute(2, 1, 0).reshape(-1, branch.out_channels)
        peaks.append((windows @ kernel).max(dim=1).values)
    bias = torch.cat([branch.bias for branch in model.branches])
    return _head(model, torch.cat(peaks, dim=1), bias)


FORMS: dict[str, Form] = {
    "branches": MWCNN1D.forward_branches,
    "fused_conv": fused_conv,
    "grouped_conv": grouped_conv,
    "fused_matmul": fused_matmul,
    "branch_matmul": branch_matmul,
    "model": MWCNN1D.forward,
}


CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}


def time_step(
    form: Form,
    model: MWCNN1D,
    packets: torch.Tensor,
    labels: torch.Tensor,
    bf16: bool,
    clock: Callable[[], float],
) -> float:
    """Seconds of one forward + backward pass."""
    model.zero_grad(set_to_none=True)
    start = clock()
    with torch.autocast(packets.device.type, dtype=torch.bfloat16, enabled=bf16):
        loss = F.cross_entropy(form(model, packets), labels)
    loss.backward()
    if packets.device.type == "cuda":
        torch.cuda.synchronize()
    return clock() - start


def check_equal(model: MWCNN1D, packets: torch.Tensor, labels: torch.Tensor) -> None:
    """Fail unless every form's logits and gradients match the plain form's on a few samples."""
    sample, target = packets[:8], labels[:8]
    reference = None
    for name, form in FORMS.items():
        model.zero_grad(set_to_none=True)
        logits = form(model, sample)
        F.cross_entropy(logits, target).backward()
        grads = torch.cat([p.grad.flatten() for p in model.parameters()])
        if reference is None:
            reference = (logits.detach(), grads)
            continue
        logit_error = (logits - reference[0]).abs().max().item()
        grad_error = ((grads - reference[1]).abs().max() / reference[1].abs().max()).item()
        print(
            f"  {name:14s} max |logit diff| {logit_error:.1e}, max rel. grad diff {grad_error:.1e}"
        )
        if logit_error > 1e-4 or grad_error > 1e-4:
            raise SystemExit(f"form {name} does not compute the plain form's function")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--packets", type=int, default=298)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--filters", type=int, default=128)
    parser.add_argument("--max-height", type=int, default=80)
    parser.add_argument(
        "--repeats", type=int, default=3, help="timed steps per form, after one warm-up"
    )
    parser.add_argument(
        "--clock",
        choices=list(CLOCKS),
        default="wall",
        help="wall time, or the process's CPU time (fairer on a shared machine with --threads 1)",
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's)"
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--forms", nargs="+", choices=list(FORMS), default=list(FORMS))
    parser.add_argument(
        "--precisions", nargs="+", choices=["fp32", "bf16"], default=["fp32", "bf16"]
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device(args.device)
    model = build_model("mwcnn1d", args.packets, filters=args.filters, max_height=args.max_height)
    model = model.to(device).eval()
    packets = torch.randn(args.batch, args.packets, N_FEATURES, device=device)
    labels = torch.randint(0, 2, (args.batch,), device=device)
    print(
        f"mwcnn1d forms: n_packets={args.packets} batch={args.batch} filters={args.filters} "
        f"max_height={args.max_height} ({len(model.heights)} branches), device={device} "
        f"({platform.processor() or platform.machine()}), torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, "
        f"{model.flops_per_sample() / 1e9:.2f} GFLOP per sample forward"
    )
    print("equivalence with the plain form (fp32, 8 samples):")
    check_equal(model, packets, labels)
    forms = {name: FORMS[name] for name in args.forms}
    clock = CLOCKS[args.clock]
    for precision in args.precisions:
        bf16 = precision == "bf16"
        times: dict[str, list[float]] = {name: [] for name in forms}
        for form in forms.values():  # warm-up
            time_step(form, model, packets, labels, bf16, clock)
        for _ in range(args.repeats):  # round robin, so that a busy spell hits every form alike
            for name, form in forms.items():
                times[name].append(time_step(form, model, packets, labels, bf16, clock))
        results = {name: min(seconds) for name, seconds in times.items()}
        base = results.get("branches")
        print(
            f"{precision}: {args.clock} ms per sample (best of {args.repeats}), "
            "speed-up over branches"
        )
        for name, seconds in results.items():
            ratio = f"{base / seconds:5.2f}x" if base else "  n/a"
            print(f"  {name:14s} {1e3 * seconds / args.batch:8.2f}  {ratio}")


if __name__ == "__main__":
    main()
