"""The GPU allocator: one job per GPU slot at a time, under real concurrency, with fake GPU ids."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from iotscope.gpu import GpuUnavailable, acquire_device, parse_gpu_ids

# Each worker takes a slot, records when it held which GPU, holds it briefly and exits.
WORKER = textwrap.dedent(
    """
    import json, sys, time
    from iotscope.gpu import acquire_device
    lock_dir, record, hold, per_gpu = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
    lease = acquire_device(lock_dir=lock_dir, jobs_per_gpu=per_gpu, timeout=60, log=lambda m: None)
    start = time.time()
    time.sleep(hold)
    end = time.time()
    with open(record, "a") as f:
        f.write(json.dumps({"gpu": lease.gpu_id, "visible": lease.visible_devices,
                            "start": start, "end": end}) + "\\n")
    lease.release()
    """
)

HOLDER = textwrap.dedent(
    """
    import sys, time
    from iotscope.gpu import acquire_device
    lease = acquire_device(lock_dir=sys.argv[1], timeout=10, log=lambda m: None)
    print(lease.gpu_id, flush=True)
    time.sleep(600)
    """
)


def _env(ids: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    env["IOTSCOPE_GPU_IDS"] = ids
    return env


@pytest.fixture
def no_visible_devices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)


def _run_workers(tmp_path: Path, *, workers: int, ids: str, jobs_per_gpu: int) -> list[dict]:
    record = tmp_path / "intervals.jsonl"
    lock_dir = tmp_path / "locks"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(lock_dir), str(record), "0.4", str(jobs_per_gpu)],
            env=_env(ids),
        )
        for _ in range(workers)
    ]
    for proc in procs:
        assert proc.wait(timeout=120) == 0
    return [json.loads(line) for line in record.read_text().splitlines()]


def _max_overlap(intervals: list[dict]) -> int:
    """Most intervals open at one instant."""
    events = sorted([(i["start"], 1) for i in intervals] + [(i["end"], -1) for i in intervals])
    open_now = peak = 0
    for _, step in events:
        open_now += step
        peak = max(peak, open_now)
    return peak


def test_concurrent_jobs_never_share_a_gpu(tmp_path: Path) -> None:
    intervals = _run_workers(tmp_path, workers=10, ids="0,1,2,3", jobs_per_gpu=1)
    assert len(intervals) == 10
    assert {i["gpu"] for i in intervals} <= {0, 1, 2, 3}
    assert all(i["visible"] == str(i["gpu"]) for i in intervals)
    by_gpu: dict[int, list[dict]] = {}
    for interval in intervals:
        by_gpu.setdefault(interval["gpu"], []).append(interval)
    for gpu, held in by_gpu.items():
        assert _max_overlap(held) == 1, f"GPU {gpu} was held by two jobs at once"
    # Ten jobs on four GPUs: all four were used and some jobs had to wait for a free one.
    assert len(by_gpu) == 4
    assert _max_overlap(intervals) <= 4


def test_jobs_per_gpu_allows_that_many_per_gpu(tmp_path: Path) -> None:
    intervals = _run_workers(tmp_path, workers=6, ids="0,1", jobs_per_gpu=2)
    for gpu in (0, 1):
        assert _max_overlap([i for i in intervals if i["gpu"] == gpu]) <= 2
    assert _max_overlap(intervals) <= 4


def test_killed_holder_frees_its_gpu(tmp_path: Path, no_visible_devices: None) -> None:
    lock_dir = tmp_path / "locks"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(lock_dir)],
        env=_env("0"),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "0"
        with pytest.raises(GpuUnavailable, match="stayed taken"):
            acquire_device(lock_dir=lock_dir, gpu_ids=[0], timeout=0.3, log=lambda m: None)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    start = time.monotonic()
    with acquire_device(lock_dir=lock_dir, gpu_ids=[0], timeout=5, log=lambda m: None) as lease:
        assert lease.gpu_id == 0
        assert lease.held
        assert os.environ["CUDA_VISIBLE_DEVICES"] == "0"
    assert time.monotonic() - start < 5
    assert "CUDA_VISIBLE_DEVICES" not in os.environ


def test_preset_visible_devices_are_respected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    messages: list[str] = []
    lease = acquire_device(lock_dir=tmp_path, gpu_ids=[0, 1], log=messages.append)
    assert lease.device == "cuda"
    assert lease.gpu_id is None and not lease.held
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "3"
    assert list(tmp_path.iterdir()) == []
    assert len(messages) == 1 and "CUDA_VISIBLE_DEVICES=3" in messages[0]


def test_no_gpu_means_cpu_with_one_log_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_visible_devices: None
) -> None:
    monkeypatch.setenv("IOTSCOPE_GPU_IDS", "")
    messages: list[str] = []
    lease = acquire_device(lock_dir=tmp_path, log=messages.append)
    assert lease.device == "cpu"
    assert messages == ["no GPU found: training on the CPU"]
    assert "CUDA_VISIBLE_DEVICES" not in os.environ


def test_slots_spread_over_gpus_before_sharing_one(
    tmp_path: Path, no_visible_devices: None
) -> None:
    leases = []
    try:
        for _ in range(4):
            leases.append(
                acquire_device(
                    lock_dir=tmp_path, gpu_ids=[5, 7], jobs_per_gpu=2, log=lambda m: None
                )
            )
            # Pretend to be the next job: a fresh process would not inherit the variable.
            os.environ.pop("CUDA_VISIBLE_DEVICES")
        assert [lease.gpu_id for lease in leases] == [5, 7, 5, 7]
        with pytest.raises(GpuUnavailable, match="all 4 GPU slots"):
            acquire_device(lock_dir=tmp_path, gpu_ids=[5, 7], jobs_per_gpu=2, timeout=0.1)
    finally:
        for lease in leases:
            lease.release()


def test_gpu_ids_are_parsed_strictly() -> None:
    assert parse_gpu_ids("0, 1,2,3") == [0, 1, 2, 3]
    assert parse_gpu_ids("") == []
    with pytest.raises(ValueError, match="IOTSCOPE_GPU_IDS='0,x'"):
        parse_gpu_ids("0,x")
    with pytest.raises(ValueError, match="repeat"):
        parse_gpu_ids("1,1")
