"""The multi-window model's fast form computes the plain branch form's function and gradients."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from iotscope.models import build_model, check_hyperparameters
from iotscope.models import mwcnn1d as mwcnn1d_module
from iotscope.models.mwcnn1d import MWCNN1D, window_heights


def _logits_and_grads(model: MWCNN1D, packets: torch.Tensor, labels: torch.Tensor, branches: bool):
    model.zero_grad(set_to_none=True)
    logits = (model.forward_branches if branches else model)(packets)
    F.cross_entropy(logits, labels).backward()
    return logits.detach(), {name: p.grad.clone() for name, p in model.named_parameters()}


def _assert_forms_agree(model: MWCNN1D, packets: torch.Tensor, rtol: float, atol: float) -> None:
    labels = torch.arange(packets.shape[0]) % 2
    fast_logits, fast_grads = _logits_and_grads(model, packets, labels, branches=False)
    plain_logits, plain_grads = _logits_and_grads(model, packets, labels, branches=True)
    torch.testing.assert_close(fast_logits, plain_logits, rtol=rtol, atol=atol)
    assert fast_grads.keys() == plain_grads.keys()
    for name, grad in plain_grads.items():
        assert grad.abs().max() > 0, f"{name} gets no gradient"
        torch.testing.assert_close(fast_grads[name], grad, rtol=rtol, atol=atol, msg=name)


def test_window_heights() -> None:
    assert window_heights(80) == tuple(range(2, 79, 2))
    assert len(window_heights(80)) == 39
    assert window_heights(9) == (2, 4, 6, 8)
    assert window_heights(3) == (2,)


@pytest.mark.parametrize(
    ("n_packets", "max_height", "activation", "filters"),
    [
        (12, 12, "sigmoid", 5),
        (30, 11, "tanh", 4),
        (41, 40, "relu", 6),
        (64, 50, "sigmoid", 3),
        (9, 3, "tanh", 2),
    ],
)
def test_fast_form_equals_branch_form_in_float64(
    n_packets: int, max_height: int, activation: str, filters: int
) -> None:
    torch.manual_seed(n_packets)
    model = build_model(
        "mwcnn1d", n_packets, filters=filters, max_height=max_height, activation=activation
    )
    model = model.double().eval()
    # Biases away from zero so that relu branches are neither all dead nor all linear.
    for branch in model.branches:
        torch.nn.init.uniform_(branch.bias, -0.5, 0.5)
    packets = torch.randn(7, n_packets, model.n_features, dtype=torch.float64)
    _assert_forms_agree(model, packets, rtol=1e-10, atol=1e-12)


def test_fast_form_equals_branch_form_at_the_selected_size() -> None:
    torch.manual_seed(1)
    model = build_model("mwcnn1d", 298).eval()
    assert len(model.branches) == 39
    packets = torch.randn(2, 298, model.n_features)
    _assert_forms_agree(model, packets, rtol=1e-4, atol=1e-5)


def test_batch_chunks_give_the_same_result(monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(2)
    model = build_model("mwcnn1d", 50, filters=4, max_height=21).double().eval()
    packets = torch.randn(9, 50, model.n_features, dtype=torch.float64)
    labels = torch.arange(9) % 2
    whole = _logits_and_grads(model, packets, labels, branches=False)
    monkeypatch.setattr(mwcnn1d_module, "CHUNK_ELEMENTS", 500)
    assert mwcnn1d_module._samples_per_chunk(49 * 20 * 17) == 1
    chunked = _logits_and_grads(model, packets, labels, branches=False)
    torch.testing.assert_close(chunked[0], whole[0], rtol=1e-12, atol=1e-12)
    for name, grad in whole[1].items():
        torch.testing.assert_close(chunked[1][name], grad, rtol=1e-12, atol=1e-12)


def test_training_mode_dropout_is_the_same_in_both_forms() -> None:
    torch.manual_seed(3)
    model = build_model("mwcnn1d", 30, filters=4, max_height=10).double().train()
    packets = torch.randn(6, 30, model.n_features, dtype=torch.float64)
    torch.manual_seed(7)
    fast = model(packets)
    torch.manual_seed(7)
    plain = model.forward_branches(packets)
    torch.testing.assert_close(fast, plain, rtol=1e-10, atol=1e-12)


def test_an_input_that_needs_a_gradient_gets_the_branch_forms_gradient() -> None:
    torch.manual_seed(4)
    model = build_model("mwcnn1d", 20, filters=3, max_height=9).double().eval()
    packets = torch.randn(3, 20, model.n_features, dtype=torch.float64, requires_grad=True)
    model(packets).sum().backward()
    via_forward = packets.grad.clone()
    packets.grad = None
    model.forward_branches(packets).sum().backward()
    torch.testing.assert_close(via_forward, packets.grad)
    assert via_forward.abs().max() > 0


def test_bf16_autocast_stays_close_and_keeps_fp32_gradients() -> None:
    torch.manual_seed(5)
    model = build_model("mwcnn1d", 60, filters=8, max_height=30).eval()
    packets = torch.randn(5, 60, model.n_features)
    labels = torch.arange(5) % 2
    reference, _ = _logits_and_grads(model, packets, labels, branches=True)
    model.zero_grad(set_to_none=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = model(packets)
        loss = F.cross_entropy(logits, labels)
    loss.backward()
    torch.testing.assert_close(logits.float(), reference, rtol=0.05, atol=0.05)
    for parameter in model.parameters():
        assert parameter.grad.dtype == torch.float32
        assert torch.isfinite(parameter.grad).all()


def test_max_height_may_equal_n_packets_but_not_exceed_it() -> None:
    model = build_model("mwcnn1d", 10, filters=2, max_height=10)
    assert model(torch.randn(2, 10, model.n_features)).shape == (2, 2)
    check_hyperparameters("mwcnn1d", 9, {"max_height": 9})
    with pytest.raises(ValueError, match="max_height=11"):
        check_hyperparameters("mwcnn1d", 10, {"max_height": 11})
