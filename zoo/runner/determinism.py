"""Seeding and deterministic settings, applied once per run and recorded.

On CPU, the same recipe and seed give bit-identical results across processes when the thread
count is the same: ``torch.use_deterministic_algorithms(True)`` makes every op pick a
deterministic kernel (or raise), and the intra-op thread count is fixed because it changes how
reductions are split. On CUDA, cuBLAS additionally needs ``CUBLAS_WORKSPACE_CONFIG=:4096:8``
set before the first cuBLAS call; :func:`set_determinism` sets it for CUDA runs.
"""

from __future__ import annotations

import os
import random
import sys
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["DeterminismSettings", "set_determinism", "seed_everything"]

CUBLAS_WORKSPACE = ":4096:8"


@dataclass(frozen=True)
class DeterminismSettings:
    """What was set, for the run record."""

    seed: int
    deterministic_algorithms: bool
    threads: int
    interop_threads: int
    cudnn_benchmark: bool
    cublas_workspace_config: str | None
    note: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def seed_everything(seed: int) -> None:
    """Seed Python's, numpy's and torch's generators (all devices)."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def deterministic_algorithms() -> None:
    """``torch.use_deterministic_algorithms(True)``, without importing TorchInductor.

    The public call imports ``torch._inductor.config`` only to set its ``deterministic`` flag, and
    that import costs about 2 s (TorchDynamo with it), more than everything else a cached probe
    run does. When nothing has imported TorchInductor yet, its flag is set the way it reads it at
    import (``TORCHINDUCTOR_DETERMINISTIC=1``, so a later ``torch.compile`` is deterministic too)
    and the ATen switch directly; otherwise, and on a torch without that switch, the public call.
    """
    import torch

    switch = getattr(torch._C, "_set_deterministic_algorithms", None)
    if "torch._inductor.config" in sys.modules or switch is None:
        torch.use_deterministic_algorithms(True)
        return
    os.environ["TORCHINDUCTOR_DETERMINISTIC"] = "1"  # written, never read, here
    switch(True, warn_only=False)


def set_determinism(seed: int, *, device: str = "cpu", threads: int | None = None) -> DeterminismSettings:
    """Seed everything, turn on deterministic algorithms and fix the thread count.

    ``threads=None`` keeps torch's current intra-op thread count (and records it).
    """
    import torch

    cublas = None
    if str(device).startswith("cuda"):
        # must be in the environment before cuBLAS initializes; written, never read, here
        os.environ["CUBLAS_WORKSPACE_CONFIG"] = CUBLAS_WORKSPACE
        cublas = CUBLAS_WORKSPACE
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
    if threads is not None and threads != torch.get_num_threads():
        torch.set_num_threads(threads)
    deterministic_algorithms()
    seed_everything(seed)
    return DeterminismSettings(
        seed=seed,
        deterministic_algorithms=True,
        threads=torch.get_num_threads(),
        interop_threads=torch.get_num_interop_threads(),
        cudnn_benchmark=bool(torch.backends.cudnn.benchmark),
        cublas_workspace_config=cublas,
        note=("bit-identical across processes on the same hardware, torch build and thread count; "
              "a different thread count or CPU instruction set can change the last bits of float results"),
    )
