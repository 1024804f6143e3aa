"""Data-parallel fine-tuning with ``torchrun`` and ``DistributedDataParallel``.

``zoo run RECIPE --nproc N`` re-executes itself as ``python -m torch.distributed.run --standalone
--nproc-per-node N -m zoo run RECIPE`` (the same as ``torchrun ... -m zoo run RECIPE``); across
machines, start ``torchrun`` on each with ``--nnodes``, ``--node-rank`` and a rendezvous address
(README, "Several processes and machines"). In each process:

* :func:`init_distributed` reads ``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` (through
  :func:`zoo.config.settings`) and joins the process group over **gloo** on CPU and **NCCL** on
  GPU (one GPU per local rank);
* :class:`DistributedBatchSampler` draws the same global batches on every rank, from the seed and
  the epoch (``set_epoch``), and gives each rank its share of each one: the global batches are
  exactly those of a single process with the full batch size;
* :func:`wrap` puts the training forward pass inside ``DistributedDataParallel``, which averages
  the gradients; :func:`share_loss` scales each rank's summed loss so that the average is the
  mean over the global batch, whatever the shares' sizes;
* :func:`agree` makes a decision (early stopping) collectively: every rank stops if any does;
* rank 0 alone writes the run directory and the record, which states the world size.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

from .errors import DistributedError

__all__ = ["DistContext", "DistributedBatchSampler", "context_from_env", "init_distributed", "shutdown", "wrap",
           "share_loss", "agree", "all_sum", "barrier", "launch_command", "SINGLE"]


@dataclass(frozen=True)
class DistContext:
    """This process's place in the job. ``world_size == 1`` is an ordinary single-process run."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @property
    def is_writer(self) -> bool:
        """Only rank 0 writes files (run directory, record, weights)."""
        return self.rank == 0

    def to_record(self) -> dict[str, Any]:
        return {"world_size": self.world_size, "backend": self.backend, "launcher": "torchrun" if self.active else None}


SINGLE = DistContext()


def context_from_env(environ: dict[str, str] | None = None) -> DistContext:
    """The context ``torchrun`` describes in the environment (without joining a process group)."""
    from .config import settings

    s = settings(environ)
    if s.rank >= s.world_size:
        raise DistributedError(f"RANK={s.rank} is not below WORLD_SIZE={s.world_size}; start the job with torchrun.")
    return DistContext(s.rank, s.world_size, s.local_rank)


def init_distributed(device: str) -> tuple[DistContext, str]:
    """Join the process group when started by ``torchrun``; returns (context, this rank's device).

    gloo on CPU, NCCL on CUDA (device ``cuda:LOCAL_RANK``). A single process returns
    (:data:`SINGLE`, ``device``) and joins nothing.

    Raises:
        DistributedError: the environment asks for several processes but the group cannot form
            (NCCL without CUDA, more local ranks than GPUs).
    """
    ctx = context_from_env()
    if not ctx.active:
        return SINGLE, device
    import torch
    import torch.distributed as dist

    backend = "gloo"
    if device.startswith("cuda"):
        if not torch.cuda.is_available() or ctx.local_rank >= torch.cuda.device_count():
            raise DistributedError(f"rank {ctx.rank} needs GPU {ctx.local_rank}, but this machine has "
                                   f"{torch.cuda.device_count()}; start at most that many processes per node "
                                   f"(--nproc-per-node) or set device = \"cpu\".")
        device = f"cuda:{ctx.local_rank}"
        torch.cuda.set_device(ctx.local_rank)
        backend = "nccl"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return DistContext(ctx.rank, ctx.world_size, ctx.local_rank, backend), device


def shutdown(ctx: DistContext) -> None:
    if ctx.active:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


def barrier(ctx: DistContext) -> None:
    if ctx.active:
        import torch.distributed as dist

        dist.barrier()


class DistributedBatchSampler:
    """Per-rank batches of indices into ``n`` examples; the global batches are one process's.

    Each epoch's order is the epoch-th permutation drawn from a generator seeded with ``seed``
    (:meth:`set_epoch`; the sequence a single-process loop draws epoch after epoch), cut
    into global batches of ``batch_size``; with ``lengths`` (texts), the permutation is cut into
    chunks of ``bucket_batches`` batches, each sorted by length, and the batches shuffled, so a
    batch holds texts of similar length. Rank *r* of *W* gets ``batch[r::W]`` of each global batch.
    A last global batch smaller than *W* is dropped when *W* > 1 (every rank must take a step).
    """

    def __init__(self, n: int, batch_size: int, *, seed: int, rank: int = 0, world_size: int = 1,
                 lengths: Sequence[int] | None = None, bucket_batches: int = 50):
        if batch_size < world_size:
            raise DistributedError(f"batch_size {batch_size} is smaller than the {world_size} processes; each "
                                   f"process takes a share of every batch, so use batch_size >= {world_size}.")
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.rank, self.world_size = rank, world_size
        self.lengths, self.bucket_batches = lengths, bucket_batches
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def global_batches(self) -> list[Any]:
        import numpy as np
        import torch

        # one generator seeded with the run seed draws every epoch in turn (as a single process's
        # training loop always has): epoch e replays the draws of epochs 0..e-1 first, so every
        # rank computes the same batches and results match runs made before DDP existed
        gen = torch.Generator().manual_seed(self.seed)
        for _ in range(self.epoch + 1):
            order = torch.randperm(self.n, generator=gen)
            if self.lengths is None:
                batches = list(order.split(self.batch_size))
                continue
            batches = []
            for part in order.split(self.batch_size * self.bucket_batches):
                part_lengths = torch.from_numpy(np.asarray(self.lengths)[part.numpy()])
                batches.extend(part[torch.argsort(part_lengths, stable=True)].split(self.batch_size))
            shuffle = torch.randperm(len(batches), generator=gen)
            batches = [batches[i] for i in shuffle.tolist()]
        if self.world_size > 1:
            batches = [b for b in batches if len(b) >= self.world_size]
        return batches

    def __iter__(self) -> Iterator[tuple[Any, int]]:
        """(this rank's indices, the global batch size) per step."""
        for batch in self.global_batches():
            yield batch[self.rank::self.world_size], len(batch)

    def __len__(self) -> int:
        full, rest = divmod(self.n, self.batch_size)
        return full + (1 if rest and (self.world_size == 1 or rest >= self.world_size) else 0)


class _Forward:
    """Builds an ``nn.Module`` whose forward is a closure over the model (for DDP's gradient hooks)."""

    @staticmethod
    def module(model: Any, forward: Callable[[Any], Any]) -> Any:
        from torch import nn

        class Forward(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.model = model

            def forward(self, idx: Any) -> Any:
                return forward(idx)

        return Forward()


def wrap(model: Any, forward: Callable[[Any], Any], ctx: DistContext, *, device: str,
         find_unused_parameters: bool = False) -> Callable[[Any], Any]:
    """``forward`` run through ``DistributedDataParallel`` over ``model`` (or ``forward`` itself alone).

    DDP broadcasts rank 0's parameters and buffers when it is built and averages the gradients of
    the trainable parameters over the ranks in every backward pass.
    """
    if not ctx.active:
        return forward
    from torch.nn.parallel import DistributedDataParallel

    ids = [int(device.split(":")[1])] if device.startswith("cuda:") else None
    return DistributedDataParallel(_Forward.module(model, forward), device_ids=ids,
                                   find_unused_parameters=find_unused_parameters)


def share_loss(summed: Any, global_batch: int, ctx: DistContext) -> Any:
    """This rank's part of the global mean loss: DDP's average over ranks gives ``sum / global_batch``."""
    return summed * (ctx.world_size / global_batch)


def agree(flag: bool, ctx: DistContext) -> bool:
    """True on every rank when ``flag`` is true on any rank (a collective decision)."""
    if not ctx.active:
        return flag
    import torch
    import torch.distributed as dist

    device = f"cuda:{ctx.local_rank}" if ctx.backend == "nccl" else "cpu"
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def all_sum(value: float, ctx: DistContext) -> float:
    """The sum of ``value`` over the ranks (every rank gets it)."""
    if not ctx.active:
        return value
    import torch
    import torch.distributed as dist

    device = f"cuda:{ctx.local_rank}" if ctx.backend == "nccl" else "cpu"
    t = torch.tensor([float(value)], dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return float(t.item())


def launch_command(argv: Sequence[str], nproc: int, *, python: str | None = None) -> list[str]:
    """The torchrun command that runs ``zoo ARGV`` in ``nproc`` processes on this machine."""
    if nproc < 1:
        raise DistributedError(f"--nproc must be at least 1, got {nproc}.")
    return [python or sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes=1",
            f"--nproc-per-node={nproc}", "-m", "zoo", *argv]
