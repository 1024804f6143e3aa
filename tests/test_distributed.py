"""Data-parallel training: the distributed batch sampler, and DDP over gloo against one process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from zoo.distributed import DistributedBatchSampler, context_from_env, launch_command
from zoo.errors import ConfigError, DistributedError

HERE = Path(__file__).resolve().parent
TOLERANCE = 1e-5
"""Largest absolute difference allowed between a weight trained by 2 processes and by 1.

Both see the same global batches and DDP averages the two half-batch gradients; what differs is
the order of float32 additions (two partial sums, then their mean), which after 120 AdamW steps
left differences of about 1.5e-7 on weights of magnitude up to 0.6 when measured."""


def test_shares_partition_the_global_batches_of_one_process():
    lengths = [(i * 37) % 50 for i in range(103)]
    for kw in ({}, {"lengths": lengths}):
        one = DistributedBatchSampler(103, 8, seed=1, **kw)
        ranks = [DistributedBatchSampler(103, 8, seed=1, rank=r, world_size=3, **kw) for r in range(3)]
        for epoch in (0, 1):
            for s in (one, *ranks):
                s.set_epoch(epoch)
            single = [(b.tolist(), g) for b, g in one]
            shares = [list(s) for s in ranks]
            assert all(len(s) == len(ranks[0]) == len(shares[0]) for s in shares)
            for step, (batch, size) in enumerate(single[: len(shares[0])]):
                parts = [shares[r][step][0].tolist() for r in range(3)]
                assert sorted(sum(parts, [])) == sorted(batch) and all(shares[r][step][1] == size for r in range(3))
            # 103 = 12 batches of 8 and one of 7: the last one is kept, since 7 >= 3 processes
            assert len(single) == len(one) == 13 == len(shares[0])
        assert one.global_batches()[0].tolist() != DistributedBatchSampler(103, 8, seed=1, **kw).global_batches()[0].tolist()
    small = DistributedBatchSampler(17, 8, seed=0, rank=0, world_size=2)
    assert len(small) == 2 == len(list(small))  # the last batch of 1 cannot be shared by 2: dropped
    with pytest.raises(DistributedError, match="batch_size 2 is smaller than the 4 processes"):
        DistributedBatchSampler(10, 2, seed=0, world_size=4)


def test_epochs_are_the_draws_of_one_generator_seeded_once():
    """Epoch e holds the e-th permutation of one generator seeded with the run seed: the batches a
    single-process loop drew before DDP existed (so earlier fine-tuning results reproduce)."""
    gen = torch.Generator().manual_seed(5)
    s = DistributedBatchSampler(50, 8, seed=5)
    for epoch in range(3):
        s.set_epoch(epoch)
        expected = [b.tolist() for b in torch.randperm(50, generator=gen).split(8)]
        assert [b.tolist() for b, _ in s] == expected


def test_sampler_length_buckets_keep_similar_lengths_together():
    lengths = list(range(400))
    s = DistributedBatchSampler(400, 10, seed=0, lengths=lengths, bucket_batches=40)
    spreads = [int(b.max() - b.min()) for b, _ in s]
    assert max(spreads) < 40  # sorted within one chunk of all 400: neighbours by length


def test_context_from_torchrun_environment():
    ctx = context_from_env({"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1"})
    assert (ctx.rank, ctx.world_size, ctx.local_rank, ctx.active, ctx.is_writer) == (1, 2, 1, True, False)
    assert not context_from_env({}).active
    with pytest.raises(ConfigError, match="WORLD_SIZE='two'"):
        context_from_env({"WORLD_SIZE": "two"})
    with pytest.raises(DistributedError, match="RANK=2 is not below WORLD_SIZE=2"):
        context_from_env({"RANK": "2", "WORLD_SIZE": "2"})
    cmd = launch_command(["run", "r.toml"], 2, python="py")
    assert cmd == ["py", "-m", "torch.distributed.run", "--standalone", "--nnodes=1", "--nproc-per-node=2",
                   "-m", "zoo", "run", "r.toml"]


def _train(out: Path, nproc: int | None, **options) -> tuple[dict[str, torch.Tensor], dict]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE.parent), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(var, None)
    cmd = [sys.executable, str(HERE / "ddp_support.py"), str(out), json.dumps(options)]
    if nproc is not None:
        cmd = [*launch_command([], nproc)[:6], *cmd[1:]]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-4000:]
    from safetensors.torch import load_file

    return load_file(str(out)), json.loads(out.with_suffix(".json").read_text())


def test_two_processes_with_half_batches_train_the_weights_of_one_with_full_batches(tmp_path):
    options = {"epochs": 4, "early_stopping": 1, "lr": 0.05}
    one, info1 = _train(tmp_path / "one.safetensors", None, **options)
    two, info2 = _train(tmp_path / "two.safetensors", 2, **options)
    assert (info1["world_size"], info2["world_size"], info2["backend"]) == (1, 2, "gloo")
    assert info1["steps"] == info2["steps"] == 40 * len(info1["history"])
    assert len(info1["history"]) == len(info2["history"]) and info1["stopped_early"] == info2["stopped_early"]
    for key in one:
        diff = (one[key] - two[key]).abs().max().item()
        assert diff <= TOLERANCE, (key, diff)
    assert info1["history"][-1]["val_accuracy"] > 0.85  # it did learn the digits
    for h1, h2 in zip(info1["history"], info2["history"]):  # the loss logged is the global mean
        assert h1["train_loss"] == pytest.approx(h2["train_loss"], abs=1e-5)
        assert h1["val_accuracy"] == pytest.approx(h2["val_accuracy"], abs=1e-6)


@pytest.mark.slow
def test_zoo_run_nproc_2_writes_one_run_that_states_the_world_size(tmp_path, shared_data, warm_cache):
    from safetensors.torch import load_file
    from test_runner import write_recipe

    # 160 training examples: 5 global batches of 32, each shared 16 + 16 by the two processes
    recipe = write_recipe(tmp_path, shared_data, max_train=160, max_test=40, epochs=2)
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(HERE.parent), os.environ.get("PYTHONPATH", "")])}
    dirs = {}
    for nproc in (1, 2):
        out = tmp_path / f"out{nproc}"
        res = subprocess.run([sys.executable, "-m", "zoo", "run", str(recipe), "-o", str(out), "--nproc", str(nproc),
                              "--quiet"], capture_output=True, text=True, env=env, timeout=900, cwd=tmp_path)
        assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-4000:]
        runs = [p for p in out.iterdir()]
        assert len(runs) == 1 and (runs[0] / "record.json").is_file(), runs  # rank 0 alone wrote
        dirs[nproc] = runs[0]
        if nproc == 2:
            assert res.stdout.count("run ") == 1  # one report, from rank 0
    rec = {n: json.loads((d / "record.json").read_text()) for n, d in dirs.items()}
    assert rec[2]["distributed"] == {"world_size": 2, "backend": "gloo", "launcher": "torchrun"}
    assert rec[1]["distributed"]["world_size"] == 1
    heads = {n: load_file(str(d / "head.safetensors")) for n, d in dirs.items()}
    for key in heads[1]:
        assert (heads[1][key] - heads[2][key]).abs().max().item() <= TOLERANCE, key
    assert rec[1]["training"]["steps"] == rec[2]["training"]["steps"] == 10
