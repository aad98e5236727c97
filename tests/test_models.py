"""The model registry, the study's hyperparameters, shapes, FLOPs and rejected combinations."""

from __future__ import annotations

import inspect
import itertools
import math
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from iotscope.features import N_FEATURES
from iotscope.models import (
    MODELS,
    PAPER_HYPERPARAMETERS,
    TRAINING_KEYS,
    InvalidHyperparameters,
    build_model,
    check_hyperparameters,
    hyperparameter_keys,
    with_defaults,
)

PAPER = Path(__file__).resolve().parents[1].parent / "shared" / "seed" / "paper.txt"

# Table 1.1 of the study, transcribed: rows of the table -> our keys, per model.
TABLE_1_1 = {
    "cnn2d": {
        "batch_size": 1024,
        "filters": 32,
        "kernel_size": 3,
        "activation": "sigmoid",
        "pool": 2,
        "dropout": 0.291,
        "optimizer": "rmsprop",
        "learning_rate": 0.00143,
        "layers": 2,
    },
    "cnn1d": {
        "batch_size": 512,
        "filters": 32,
        "kernel_height": 64,
        "activation": "tanh",
        "pool": 3,
        "dropout": 0.243,
        "optimizer": "adam",
        "learning_rate": 0.00122,
        "layers": 3,
    },
    "mwcnn1d": {
        "batch_size": 1024,
        "filters": 128,
        "max_height": 80,
        "activation": "sigmoid",
        "dropout": 0.249,
        "optimizer": "adam",
        "learning_rate": 0.00136,
    },
}
ROW_KEYS = {
    "Batch Size": "batch_size",
    "Number of Kernels": "filters",
    "Kernel Size": "kernel_size",
    "Kernel Height": "kernel_height",
    "Max Height": "max_height",
    "Activation Function": "activation",
    "Pool Size": "pool",
    "Dropout Rate": "dropout",
    "Optimizer": "optimizer",
    "Learning Rate": "learning_rate",
    "CNN Layers": "layers",
}


def _table_value(cell: str) -> object:
    cell = cell.strip()
    if match := re.fullmatch(r"\((\d+),\1\)", cell):
        return int(match.group(1))
    for kind in (int, float):
        try:
            return kind(cell)
        except ValueError:
            pass
    return cell.lower()


def test_registry_names_one_source_file_per_model() -> None:
    assert set(MODELS) == {"cnn2d", "cnn1d", "mwcnn1d"}
    for name, model in MODELS.items():
        assert model.__module__ == f"iotscope.models.{name}"
    assert set(PAPER_HYPERPARAMETERS) == set(MODELS)


def test_paper_hyperparameters_are_table_1_1() -> None:
    assert PAPER_HYPERPARAMETERS == TABLE_1_1


@pytest.mark.skipif(not PAPER.exists(), reason=f"{PAPER} is not present")
def test_paper_hyperparameters_match_the_paper_text() -> None:
    rows = {}
    for line in PAPER.read_text(encoding="utf-8").splitlines():
        cells = line.split("\t")
        if len(cells) == 5 and cells[0] in ROW_KEYS:
            rows.setdefault(ROW_KEYS[cells[0]], cells[2:])
    assert set(rows) == set(ROW_KEYS.values())
    for column, name in enumerate(("cnn2d", "cnn1d", "mwcnn1d")):
        selected = {key: _table_value(cells[column]) for key, cells in rows.items()}
        expected = {key: value for key, value in selected.items() if value != "x"}
        assert PAPER_HYPERPARAMETERS[name] == expected


@pytest.mark.parametrize("name", sorted(MODELS))
def test_constructor_defaults_are_the_selected_values(name: str) -> None:
    parameters = inspect.signature(MODELS[name]).parameters
    architecture = [key for key in hyperparameter_keys(name) if key not in TRAINING_KEYS]
    assert set(architecture) | {"n_packets", "n_features"} == set(parameters)
    for key in architecture:
        assert parameters[key].default == PAPER_HYPERPARAMETERS[name][key], key
    assert parameters["n_features"].default == N_FEATURES
    model = MODELS[name](298)
    assert model.hyperparameters == {key: PAPER_HYPERPARAMETERS[name][key] for key in architecture}


@pytest.mark.parametrize(
    ("name", "n_packets"), list(itertools.product(sorted(MODELS), (200, 250, 298)))
)
def test_selected_models_map_hosts_to_two_logits(name: str, n_packets: int) -> None:
    torch.manual_seed(0)
    model = build_model(name, n_packets, **PAPER_HYPERPARAMETERS[name]).eval()
    logits = model(torch.randn(2, n_packets, N_FEATURES))
    assert logits.shape == (2, 2)
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize(
    ("name", "n_packets", "hyperparameters"),
    [
        ("cnn1d", 20, {"layers": 2, "kernel_height": 4, "pool": 2, "filters": 4}),
        ("cnn1d", 192, {}),
        ("cnn2d", 5, {"layers": 3, "kernel_size": 2, "pool": 3, "filters": 4}),
        ("cnn2d", 40, {"layers": 1, "kernel_size": 2, "activation": "relu"}),
        ("mwcnn1d", 7, {"max_height": 7, "filters": 3, "activation": "tanh"}),
        ("mwcnn1d", 40, {"max_height": 40, "filters": 8, "activation": "relu"}),
    ],
)
def test_small_models_have_the_head_their_shapes_imply(
    name: str, n_packets: int, hyperparameters: dict
) -> None:
    model = build_model(name, n_packets, **hyperparameters)
    packets = torch.randn(2, n_packets, N_FEATURES)
    assert model(packets).shape == (2, 2)
    encoder_out = {}
    model.head.register_forward_hook(lambda _m, inputs, _o: encoder_out.update(x=inputs[0]))
    model(packets)
    assert encoder_out["x"][0].numel() == model.head.in_features


def test_the_head_is_the_studys_dense_head() -> None:
    head = build_model("cnn1d", 298).head.layers
    kinds = [type(layer) for layer in head]
    assert kinds == [
        nn.Flatten,
        nn.Dropout,
        nn.Linear,
        nn.ReLU,
        nn.Linear,
        nn.ReLU,
        nn.Dropout,
        nn.Linear,
    ]
    assert [
        (layer.in_features, layer.out_features) for layer in head if isinstance(layer, nn.Linear)
    ][1:] == [(64, 32), (32, 2)]
    assert [layer.p for layer in head if isinstance(layer, nn.Dropout)] == [0.243, 0.243]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_weights_start_as_in_keras(name: str) -> None:
    model = build_model(name, 298)
    for layer in model.modules():
        if isinstance(layer, nn.Linear | nn.Conv1d | nn.Conv2d):
            fan_out, fan_in = layer.weight.shape[:2]
            receptive = layer.weight[0, 0].numel()
            limit = math.sqrt(6 / ((fan_in + fan_out) * receptive))
            assert layer.weight.abs().max() <= limit
            assert layer.weight.abs().max() > 0.9 * limit
            assert torch.count_nonzero(layer.bias) == 0


@pytest.mark.parametrize(("name", "n_packets"), [("cnn1d", 298), ("cnn2d", 210), ("mwcnn1d", 200)])
def test_flops_per_sample_match_torchs_flop_counter(name: str, n_packets: int) -> None:
    model = build_model(name, n_packets)
    forward = model.forward_branches if name == "mwcnn1d" else model
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        forward(torch.randn(1, n_packets, N_FEATURES))
    assert model.flops_per_sample() == counter.get_total_flops()


def test_with_defaults_fills_in_the_selected_values() -> None:
    merged = with_defaults("cnn2d", {"filters": 64})
    assert merged == {**PAPER_HYPERPARAMETERS["cnn2d"], "filters": 64}
    assert PAPER_HYPERPARAMETERS["cnn2d"]["filters"] == 32


def test_build_model_accepts_training_keys_and_ignores_them() -> None:
    model = build_model("mwcnn1d", 100, **PAPER_HYPERPARAMETERS["mwcnn1d"])
    assert model.hyperparameters["max_height"] == 80
    assert len(model.branches) == 39


def _rejection(name: str, n_packets: int, hyperparameters: dict, **kwargs) -> str:
    with pytest.raises(InvalidHyperparameters) as caught:
        check_hyperparameters(name, n_packets, hyperparameters, **kwargs)
    return str(caught.value)


def test_unknown_model_lists_the_models() -> None:
    message = _rejection("lstm", 298, {})
    assert "'lstm'" in message
    assert all(name in message for name in MODELS)
    with pytest.raises(InvalidHyperparameters, match="lstm"):
        build_model("lstm", 298)


def test_unknown_key_names_it_and_the_models_keys() -> None:
    message = _rejection("cnn1d", 298, {"kernel_size": 3, "filters": 32})
    assert "'kernel_size'" in message
    assert "cnn1d" in message
    assert all(key in message for key in hyperparameter_keys("cnn1d"))


@pytest.mark.parametrize(
    ("name", "n_packets", "hyperparameters", "fragments"),
    [
        ("cnn1d", 100, {}, ["kernel_height=64", "37 time steps", "2nd of layers=3"]),
        ("cnn1d", 191, {}, ["pool=3", "2 time steps", "kernel_height=64"]),
        ("cnn2d", 298, {"layers": 3, "kernel_size": 10}, ["kernel_size=10", "289x8", "3rd"]),
        ("cnn2d", 298, {"layers": 3, "kernel_size": 9}, ["pool=2", "282x1"]),
        ("mwcnn1d", 79, {}, ["max_height=80", "n_packets=79"]),
        ("mwcnn1d", 298, {"max_height": 2}, ["max_height=2", "at least 3"]),
        ("cnn1d", 298, {"activation": "gelu"}, ["activation='gelu'", "relu, sigmoid, tanh"]),
        ("cnn2d", 298, {"optimizer": "adamw"}, ["optimizer='adamw'", "sgd, adam, rmsprop"]),
        ("mwcnn1d", 298, {"dropout": 1.5}, ["dropout=1.5", "[0, 1)"]),
        ("mwcnn1d", 298, {"dropout": "high"}, ["dropout='high'"]),
        ("cnn1d", 298, {"layers": "3"}, ["layers='3'", "integer"]),
        ("cnn1d", 298, {"filters": 0}, ["filters=0", "at least 1"]),
        ("cnn2d", 298, {"kernel_size": True}, ["kernel_size=True"]),
        (
            "cnn1d",
            298,
            {"batch_size": 0, "learning_rate": -1},
            ["batch_size=0", "learning_rate=-1"],
        ),
        ("cnn2d", 0, {}, ["n_packets=0"]),
    ],
)
def test_impossible_hyperparameters_are_rejected_by_name(
    name: str, n_packets: int, hyperparameters: dict, fragments: list[str]
) -> None:
    message = _rejection(name, n_packets, hyperparameters)
    for fragment in fragments:
        assert fragment in message


def test_rejection_comes_before_torch_sees_a_shape() -> None:
    with pytest.raises(InvalidHyperparameters, match="kernel_height=64"):
        build_model("cnn1d", 100)
    with pytest.raises(InvalidHyperparameters, match="kernel_height=64"):
        MODELS["cnn1d"](100)
    with pytest.raises(InvalidHyperparameters, match="n_features=5"):
        build_model("cnn2d", 298, n_features=5, layers=4, kernel_size=2, pool=3)


def _torch_accepts_cnn1d(n_packets: int, layers: int, height: int, pool: int) -> bool:
    maps = torch.zeros(1, 1, n_packets)
    try:
        for _ in range(layers):
            maps = F.conv1d(maps, torch.zeros(1, 1, height))
        maps = F.max_pool1d(maps, pool)
    except RuntimeError:
        return False
    return maps.numel() > 0


def _torch_accepts_cnn2d(
    n_packets: int, n_features: int, layers: int, size: int, pool: int
) -> bool:
    maps = torch.zeros(1, 1, n_packets, n_features)
    kernel = torch.zeros(1, 1, size, size)
    try:
        maps = F.conv2d(maps, kernel, padding="same")
        for _ in range(layers - 1):
            maps = F.conv2d(maps, kernel)
        maps = F.max_pool2d(maps, pool)
    except RuntimeError:
        return False
    return maps.numel() > 0


def _accepted(name: str, n_packets: int, hyperparameters: dict, **kwargs) -> bool:
    try:
        check_hyperparameters(name, n_packets, hyperparameters, **kwargs)
    except InvalidHyperparameters:
        return False
    return True


def test_cnn1d_check_agrees_with_torch_over_the_search_space() -> None:
    for n_packets, layers, height, pool in itertools.product(
        (50, 130, 192, 200), range(1, 5), (2, 4, 8, 16, 32, 64), (2, 3)
    ):
        hyperparameters = {"layers": layers, "kernel_height": height, "pool": pool}
        assert _accepted("cnn1d", n_packets, hyperparameters) == _torch_accepts_cnn1d(
            n_packets, layers, height, pool
        ), (n_packets, hyperparameters)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")
def test_cnn2d_check_agrees_with_torch_over_small_maps() -> None:
    for n_packets, n_features, layers, size, pool in itertools.product(
        (4, 200), (3, 5, 17), range(1, 5), (2, 3, 5), (2, 3)
    ):
        hyperparameters = {"layers": layers, "kernel_size": size, "pool": pool}
        accepted = _accepted("cnn2d", n_packets, hyperparameters, n_features=n_features)
        expected = _torch_accepts_cnn2d(n_packets, n_features, layers, size, pool)
        assert accepted == expected, (n_packets, n_features, hyperparameters)


@pytest.mark.parametrize("size", [2, 3])
def test_cnn2d_pads_its_first_convolution_as_keras_same(size: int) -> None:
    model = build_model("cnn2d", 6, n_features=5, layers=1, filters=1, kernel_size=size, pool=1)
    conv = model.convs[0]
    torch.nn.init.ones_(conv.weight)
    packets = torch.arange(30.0).reshape(1, 6, 5)
    maps = conv(model.same_padding(packets.unsqueeze(1)))[0, 0]
    assert maps.shape == (6, 5)
    start = (size - 1) // 2  # Keras puts the smaller half of the padding first
    assert maps[0, 0] == packets[0, : size - start, : size - start].sum()
    assert maps[-1, -1] == packets[0, -1 - start :, -1 - start :].sum()
