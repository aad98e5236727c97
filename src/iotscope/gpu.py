"""Pin each training job to one GPU of the machine, without colliding with its neighbours.

Snakemake's ``--resources gpu=N`` caps how many GPU jobs run at once but never says *which* GPU a
job gets. :func:`acquire_device` does: every GPU id has ``jobs_per_gpu`` lock files in a node-local
directory; a job takes the first free one with a non-blocking ``flock``, keeps the file descriptor
open for as long as it trains (the kernel drops the lock on any exit, ``SIGKILL`` included, so a
crashed job never leaves a stale lock), and sets ``CUDA_VISIBLE_DEVICES`` to that id before torch
touches CUDA. The job then sees exactly one GPU, as ``cuda:0``.

A ``CUDA_VISIBLE_DEVICES`` that is already set (SLURM sets it for a job that asked for a GPU) is
respected as is, without locks. A machine without GPUs trains on the CPU.

This module imports torch only where it must discover GPUs, so that taking a lock stays cheap.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

LOCK_DIR_ENV = "IOTSCOPE_GPU_LOCK_DIR"
GPU_IDS_ENV = "IOTSCOPE_GPU_IDS"
VISIBLE_ENV = "CUDA_VISIBLE_DEVICES"


class GpuUnavailable(TimeoutError):
    """Every GPU slot stayed taken for longer than the job was willing to wait."""


def default_lock_dir() -> Path:
    """Node-local directory for the lock files: ``$IOTSCOPE_GPU_LOCK_DIR``, else one in the tmp dir.

    The directory is per user so that its files are always writable; jobs of one workflow run as
    one user.
    """
    configured = os.environ.get(LOCK_DIR_ENV)
    if configured:
        return Path(configured)
    return Path(tempfile.gettempdir()) / f"iotscope-gpu-locks-{os.getuid()}"


def parse_gpu_ids(text: str, *, source: str = GPU_IDS_ENV) -> list[int]:
    """Parse ``"0,1,2,3"`` into ``[0, 1, 2, 3]``; an empty string means no GPU."""
    ids: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if not part.isdigit():
            raise ValueError(
                f"{source}={text!r}: GPU ids must be non-negative integers, got {part!r}"
            )
        ids.append(int(part))
    if len(set(ids)) != len(ids):
        raise ValueError(f"{source}={text!r}: GPU ids must not repeat")
    return ids


def discover_gpu_ids() -> list[int]:
    """The machine's GPU ids, found without initialising CUDA in this process.

    ``$IOTSCOPE_GPU_IDS`` overrides discovery. Otherwise ``nvidia-smi -L`` lists them; where it is
    missing but torch was built with CUDA, a child process asks torch (CUDA initialised there, not
    here, so that ``CUDA_VISIBLE_DEVICES`` set afterwards still takes effect in this process).
    """
    configured = os.environ.get(GPU_IDS_ENV)
    if configured is not None:
        return parse_gpu_ids(configured)
    smi = shutil.which("nvidia-smi")
    if smi is not None:
        try:
            listing = subprocess.run(
                [smi, "-L"], capture_output=True, text=True, timeout=30, check=True
            ).stdout
        except (subprocess.SubprocessError, OSError):
            listing = ""
        ids = [int(m.group(1)) for m in re.finditer(r"^GPU (\d+):", listing, flags=re.MULTILINE)]
        if ids:
            return ids
    import torch

    if torch.version.cuda is None and getattr(torch.version, "hip", None) is None:
        return []
    count = subprocess.run(
        [sys.executable, "-c", "import torch; print(torch.cuda.device_count())"],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout.strip()
    return list(range(int(count))) if count.isdigit() else []


@dataclass
class DeviceLease:
    """The device a job trains on, and the lock that reserves it while the lease is held.

    ``device`` is a torch device string: ``"cuda"`` (the one GPU left visible) or ``"cpu"``.
    ``gpu_id`` is the physical id that was locked, or ``None`` where no lock was taken.
    """

    device: str
    gpu_id: int | None = None
    visible_devices: str | None = None
    lock_path: Path | None = None
    description: str = ""
    _fd: int | None = field(default=None, repr=False)
    _previous_visible: str | None = field(default=None, repr=False)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        """Give the GPU back (also happens on any process exit) and restore the environment."""
        if self._fd is None:
            return
        os.close(self._fd)
        self._fd = None
        if self._previous_visible is None:
            os.environ.pop(VISIBLE_ENV, None)
        else:
            os.environ[VISIBLE_ENV] = self._previous_visible

    def __enter__(self) -> DeviceLease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _slot_paths(
    lock_dir: Path, gpu_ids: Sequence[int], jobs_per_gpu: int
) -> list[tuple[int, Path]]:
    """Lock files in the order they are tried: slot 0 of every GPU first, so jobs spread out."""
    return [
        (gpu, lock_dir / f"gpu{gpu}.slot{slot}.lock")
        for slot in range(jobs_per_gpu)
        for gpu in gpu_ids
    ]


def _try_lock(path: Path) -> int | None:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    os.ftruncate(fd, 0)
    os.write(fd, f"pid {os.getpid()} on {socket.gethostname()} since {time.time():.3f}\n".encode())
    return fd


def acquire_device(
    *,
    lock_dir: str | os.PathLike | None = None,
    gpu_ids: Sequence[int] | None = None,
    jobs_per_gpu: int = 1,
    timeout: float = 3600.0,
    poll_interval: float = 0.05,
    max_poll_interval: float = 2.0,
    log: Callable[[str], object] = logger.info,
) -> DeviceLease:
    """Reserve one GPU for this process (or fall back to the CPU) and return the lease.

    Call it before anything initialises CUDA. The lease holds an open, ``flock``-ed file; keep it
    for the job's lifetime (it works as a context manager). When every slot is taken, it polls with
    a growing interval and raises :class:`GpuUnavailable` after ``timeout`` seconds.
    """
    if jobs_per_gpu < 1:
        raise ValueError(f"jobs_per_gpu must be at least 1, got {jobs_per_gpu}")
    preset = os.environ.get(VISIBLE_ENV)
    if preset is not None:
        if preset.strip() in ("", "-1"):
            log(f"{VISIBLE_ENV}={preset!r} hides every GPU: training on the CPU")
            return DeviceLease(device="cpu", visible_devices=preset, description="cpu")
        log(f"{VISIBLE_ENV}={preset} was set by the environment: using it as is, without a lock")
        return DeviceLease(
            device="cuda", visible_devices=preset, description=f"{VISIBLE_ENV}={preset}"
        )
    ids = list(gpu_ids) if gpu_ids is not None else discover_gpu_ids()
    if not ids:
        log("no GPU found: training on the CPU")
        return DeviceLease(device="cpu", description="cpu")

    directory = Path(lock_dir) if lock_dir is not None else default_lock_dir()
    directory.mkdir(parents=True, exist_ok=True)
    slots = _slot_paths(directory, ids, jobs_per_gpu)
    deadline = time.monotonic() + timeout
    interval = poll_interval
    while True:
        for gpu, path in slots:
            fd = _try_lock(path)
            if fd is not None:
                os.environ[VISIBLE_ENV] = str(gpu)
                log(f"locked GPU {gpu} ({path}); {VISIBLE_ENV}={gpu}")
                return DeviceLease(
                    device="cuda",
                    gpu_id=gpu,
                    visible_devices=str(gpu),
                    lock_path=path,
                    description=f"GPU {gpu}",
                    _fd=fd,
                    _previous_visible=preset,
                )
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise GpuUnavailable(
                f"all {len(slots)} GPU slots (ids {ids}, {jobs_per_gpu} per GPU) in {directory} "
                f"stayed taken for {timeout:g} s; raise the timeout or lower the number of "
                "concurrent GPU jobs"
            )
        time.sleep(min(interval, remaining))
        interval = min(interval * 1.5, max_poll_interval)
