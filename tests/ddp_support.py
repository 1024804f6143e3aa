"""One training job for the DDP tests: an MLP head (no dropout, no norm) on sklearn's digits.

Run under torchrun (``python -m torch.distributed.run --nproc-per-node N ddp_support.py OUT``) or
alone; rank 0 writes the trained weights and the history to ``OUT`` (a .safetensors path).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

N_TRAIN = 1280  # 40 global batches of 32: every rank's share of every batch is 16 examples


def train(out: Path, *, epochs: int = 3, early_stopping: int | None = None, lr: float = 0.01) -> None:
    import numpy as np
    import torch
    from safetensors.torch import save_file
    from sklearn.datasets import load_digits
    from torch import nn

    from zoo.default_plugins.heads import MLPOptions, build_mlp
    from zoo.distributed import init_distributed, shutdown
    from zoo.runner.model import TransferModel, head_state
    from zoo.runner.recipe import TrainingSpec
    from zoo.runner.train import train_head_on_features

    torch.set_num_threads(1)
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    order = np.random.default_rng(0).permutation(len(y))
    tr, va = order[:N_TRAIN], order[N_TRAIN:]
    ctx, device = init_distributed("cpu")
    torch.manual_seed(0)
    model = TransferModel(nn.Identity(), build_mlp(64, 10, MLPOptions(hidden=32, dropout=0.0)))
    spec = TrainingSpec(epochs=epochs, batch_size=32, lr=lr, early_stopping=early_stopping, warmup_ratio=0.1)
    res = train_head_on_features(model, spec, train=(x[tr], y[tr]), validation=(x[va], y[va]), device=device,
                                 seed=5, progress=False, dist=ctx)
    if ctx.is_writer:
        save_file(head_state(model), str(out))
        out.with_suffix(".json").write_text(json.dumps({"world_size": ctx.world_size, "backend": ctx.backend,
                                                        "history": list(res.history), "steps": res.steps,
                                                        "stopped_early": res.stopped_early}))
    shutdown(ctx)


if __name__ == "__main__":
    extra = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
    train(Path(sys.argv[1]), **extra)
