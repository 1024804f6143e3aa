"""A test plugin with a tiny non-text architecture: an MLP over feature vectors (modality "vector").

It implements :class:`zoo.contracts.Backbone` and nothing else the runner could special-case:
``preprocess`` turns rows into a tensor, ``forward_features`` pools nothing (the MLP's output is
the feature), ``group_matcher`` lists a stem (with a batch norm, to check that frozen norms keep
their statistics) and three blocks. Its weights are a real safetensors file placed in the test's
Hub cache through `zoo hub import`'s code path, with the sha256 in a plugin-registered entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from zoo.contracts import LayerGroup
from zoo.hookspecs import hookimpl

IN_FEATURES, WIDTH, BLOCKS = 64, 32, 3
REPO, REVISION = "zoo-tests/tiny-mlp-vec", "1234567890abcdef1234567890abcdef12345678"


class TinyMLP(nn.Module):
    """``x / 16`` -> stem (Linear, BatchNorm1d, GELU) -> 3 x (Linear, LayerNorm, GELU)."""

    modality = "vector"

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Linear(IN_FEATURES, WIDTH), nn.BatchNorm1d(WIDTH), nn.GELU())
        self.blocks = nn.ModuleList(nn.Sequential(nn.Linear(WIDTH, WIDTH), nn.LayerNorm(WIDTH), nn.GELU())
                                    for _ in range(BLOCKS))

    @property
    def embedding_dim(self) -> int:
        return WIDTH

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def preprocess(self, inputs: Any) -> torch.Tensor:
        import numpy as np

        return torch.as_tensor(np.array(inputs, dtype=np.float32), device=self.device) / 16.0

    def forward_features(self, batch: torch.Tensor) -> torch.Tensor:
        h = self.stem(batch)
        for block in self.blocks:
            h = block(h)
        return h

    def preprocessing(self) -> dict[str, Any]:
        return {"scale": 1 / 16, "in_features": IN_FEATURES, "dtype": "float32"}

    def group_matcher(self) -> list[LayerGroup]:
        names = [n for n, _ in self.named_parameters()]
        groups = [LayerGroup("stem", tuple(n for n in names if n.startswith("stem.")))]
        groups += [LayerGroup(f"block{i}", tuple(n for n in names if n.startswith(f"blocks.{i}.")))
                   for i in range(BLOCKS)]
        return groups


def write_weights(directory: Path) -> Path:
    """A trained-looking snapshot: seeded weights and non-trivial batch-norm statistics."""
    from safetensors.torch import save_file

    torch.manual_seed(1234)
    model = TinyMLP()
    with torch.no_grad():
        model.stem[1].running_mean.uniform_(-0.5, 0.5)
        model.stem[1].running_var.uniform_(0.5, 2.0)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "model.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    return path


def build_tiny_mlp(entry: Any, resolved: Any, *, device: str = "cpu") -> TinyMLP:
    from safetensors.torch import load_file

    model = TinyMLP()
    model.load_state_dict(load_file(str(Path(resolved.snapshot_dir) / "model.safetensors")))
    return model.to(device).eval()


build_tiny_mlp.modality = "vector"  # type: ignore[attr-defined]
build_tiny_mlp.capabilities = frozenset()  # type: ignore[attr-defined]


@dataclass(frozen=True)
class WideHeadOptions:
    """Options of the test head ``wide``: a hidden layer whose width has a default."""

    hidden: int = field(default=8, metadata={"help": "hidden width"})


def build_wide(in_features: int, num_classes: int, options: WideHeadOptions | None = None) -> nn.Module:
    """Linear, GELU, Linear with a hidden width from the options."""
    opts = options or WideHeadOptions()
    return nn.Sequential(nn.Linear(in_features, opts.hidden), nn.GELU(), nn.Linear(opts.hidden, num_classes))


class VectorPlugin:
    """Registers the architecture, a backbone entry for ``weights_sha256`` and the ``wide`` head."""

    def __init__(self, weights_sha256: str, head_options: type = WideHeadOptions):
        self.sha, self.head_options = weights_sha256, head_options

    @hookimpl
    def register_architectures(self, register):
        register("tiny-mlp", build_tiny_mlp, summary="A 4-group MLP over 64-value vectors (tests only).")

    @hookimpl
    def register_backbones(self, register):
        register({"name": "tiny-mlp-vec", "architecture": "tiny-mlp", "repo_id": REPO, "revision": REVISION,
                  "integrity": "verified", "files": {"model.safetensors": self.sha}, "modality": "vector",
                  "license": "mit", "num_params": sum(p.numel() for p in TinyMLP().parameters()),
                  "embedding_dim": WIDTH, "description": "tiny MLP for the engine tests"})

    @hookimpl
    def register_heads(self, register):
        register("wide", build_wide, options=self.head_options)
