"""The default simulated telescope is hard enough: one packet does not settle a host's class.

The dataset goes through the real data path (simulate -> ingest -> flows -> splits -> load), then
two cheap classifiers are compared on the same held-out hosts:

* a single-packet signature rule: (initial TTL, TCP window, option layout) of a host's first SYN
  looked up in a majority-vote table learned on the training hosts, backing off to
  (initial TTL, option layout) and then to the overall majority for unseen keys;
* gradient boosting on per-host aggregates (mean, std, min, max of each feature) of the first
  n packets, for n = 1, 10 and 50.

The simulator's default difficulty is calibrated so that the rule sits near the majority-class
baseline while the many-packet model is clearly better, better with more packets, and short of
perfect.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from threadpoolctl import threadpool_limits

from iotscope.data.flows import build_flows
from iotscope.data.ingest import ingest_capture
from iotscope.data.load import HostArrays, load_split
from iotscope.data.simulate import simulate_telescope
from iotscope.data.splits import make_splits
from iotscope.features import FEATURE_NAMES

HOSTS = 3000
PACKETS = (1, 10, 50)
_INITIAL_TTL = FEATURE_NAMES.index("initial_ttl")
_WINDOW = FEATURE_NAMES.index("window")
_LAYOUT = FEATURE_NAMES.index("opt_layout")


@pytest.fixture(scope="module")
def paths(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("calibration")
    simulate_telescope(root / "telescope.pcap", root / "labels.csv", hosts=HOSTS, seed=11)
    ingest_capture(root / "telescope.pcap", root / "packets.parquet")
    build_flows([root / "packets.parquet"], root / "labels.csv", root / "flows.parquet", t_max=64)
    make_splits(root / "flows.parquet", root / "splits.parquet", test_fraction=0.3, folds=5)
    return {"flows": root / "flows.parquet", "splits": root / "splits.parquet"}


def _load(paths: dict[str, object], n_packets: int) -> tuple[HostArrays, HostArrays]:
    return load_split(
        paths["flows"],
        paths["splits"],
        evaluation="test",
        n_packets=n_packets,
        normalisation="none",
    )


def _signature(x: np.ndarray) -> list[tuple[int, int, int]]:
    first = x[:, 0]
    columns = (first[:, _INITIAL_TTL], first[:, _WINDOW], first[:, _LAYOUT])
    return list(zip(*(c.astype(int).tolist() for c in columns), strict=True))


def signature_rule(train: HostArrays, test: HostArrays) -> np.ndarray:
    """Predict each test host from its first SYN's signature, by majority over training hosts."""
    tables: list[defaultdict[tuple, Counter]] = [defaultdict(Counter), defaultdict(Counter)]
    for (ttl, window, layout), label in zip(_signature(train.x), train.y.tolist(), strict=True):
        tables[0][ttl, window, layout][label] += 1
        tables[1][ttl, layout][label] += 1
    majority = Counter(train.y.tolist()).most_common(1)[0][0]
    predictions = []
    for ttl, window, layout in _signature(test.x):
        for table, key in ((tables[0], (ttl, window, layout)), (tables[1], (ttl, layout))):
            if key in table:
                predictions.append(table[key].most_common(1)[0][0])
                break
        else:
            predictions.append(majority)
    return np.asarray(predictions)


def host_aggregates(part: HostArrays) -> np.ndarray:
    """Mean, standard deviation, minimum and maximum of each feature over a host's real packets."""
    real = np.arange(part.x.shape[1])[None, :] < part.lengths[:, None]
    mask = real[..., None]
    count = real.sum(axis=1)[:, None]
    mean = np.where(mask, part.x, 0).sum(axis=1) / count
    std = np.sqrt((np.where(mask, part.x - mean[:, None], 0) ** 2).sum(axis=1) / count)
    low = np.where(mask, part.x, np.inf).min(axis=1)
    high = np.where(mask, part.x, -np.inf).max(axis=1)
    return np.concatenate([mean, std, low, high], axis=1)


def many_packet_accuracy(paths: dict[str, object], n_packets: int) -> float:
    train, test = _load(paths, n_packets)
    model = HistGradientBoostingClassifier(max_iter=150, random_state=0)
    with threadpool_limits(1):  # deterministic and fast on a shared machine
        model.fit(host_aggregates(train), train.y)
        return float(np.mean(model.predict(host_aggregates(test)) == test.y))


@pytest.fixture(scope="module")
def accuracies(paths: dict[str, object]) -> dict[str, float]:
    train, test = _load(paths, 1)
    out = {
        "majority": float(np.mean(test.y == Counter(train.y.tolist()).most_common(1)[0][0])),
        "rule": float(np.mean(signature_rule(train, test) == test.y)),
    }
    out |= {f"n{n}": many_packet_accuracy(paths, n) for n in PACKETS}
    return out


def test_first_packet_rule_is_weak(accuracies: dict[str, float]) -> None:
    assert 0.78 <= accuracies["rule"] <= 0.88, accuracies
    assert accuracies["rule"] < accuracies["majority"] + 0.06, accuracies


def test_many_packets_beat_the_rule_clearly(accuracies: dict[str, float]) -> None:
    assert accuracies["n50"] >= accuracies["rule"] + 0.05, accuracies
    assert 0.90 <= accuracies["n50"] <= 0.97, accuracies


def test_accuracy_grows_with_packets_seen(accuracies: dict[str, float]) -> None:
    assert accuracies["n1"] < accuracies["n10"] < accuracies["n50"], accuracies


def test_nothing_is_perfect(accuracies: dict[str, float]) -> None:
    assert max(accuracies.values()) < 0.985, accuracies
